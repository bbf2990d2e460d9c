// TLS as the engine's StreamLayer (engine.h): a finished tls::Session (handshake and HTTP upgrade
// done by the control plane) carries the engine's stream. OpenSSL does not allow SSL_read and
// SSL_write on one SSL at once, so one mutex covers every call; calls never block (the socket is
// non-blocking) and the engine waits for the fd outside the lock.
#pragma once

#include <memory>

#include "../tls.h"
#include "engine.h"

namespace tund {
namespace engine {

std::unique_ptr<StreamLayer> MakeTlsLayer(std::unique_ptr<tls::Session> session);

}  // namespace engine
}  // namespace tund
