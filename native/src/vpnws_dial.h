// The client's way into a vpn-ws tunnel (docs/vpn-ws.md), as one blocking call for a worker
// thread: TCP connect (to the hub, or to an HTTP proxy and CONNECT through it), the TLS handshake
// for wss:// (SNI, verification), the WebSocket upgrade with the vpn-ws headers, and the bytes
// that came after the 101. What it returns is handed to the engine (engine/ws_transform.h) as is.
// Every wait is bounded by the deadline and ends early when the cancel fd becomes readable.
// Pure C++ (no N-API).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "http_upgrade.h"
#include "tls.h"

namespace tund {
namespace vpnws {

struct DialRequest {
  std::string address;  // an IP literal: the hub, or the proxy with proxyAuthority set
  int port = 0;
  uint32_t fwMark = 0;  // SO_MARK of the socket, before it connects (0: none)
  // TCP_USER_TIMEOUT of the connection (0: the kernel's): data unacknowledged this long ends it,
  // which is how a client notices a path that drops everything silently while it sends
  uint32_t userTimeoutMs = 0;
  std::string proxyAuthority;  // non-empty: CONNECT to this host:port first
  std::string proxyUser, proxyPassword;
  bool tls = false;
  tls::ClientConfig tlsConfig;
  http::ClientRequest upgrade;  // key filled in by Dial
  int timeoutMs = 10000;
  int cancelFd = -1;  // readable = give up
};

struct Dialed {
  int fd = -1;  // connected, non-blocking, close-on-exec; the caller's on success
  std::unique_ptr<tls::Session> tls;
  std::vector<uint8_t> initial;  // received after the upgrade's head: WebSocket data
  http::Response response;
  std::string tlsProtocol, tlsCipher, peerSubject;
  // On failure: which step ("connect", "proxy", "tls", "upgrade", "cancelled", "timeout") and why.
  std::string failedStep;
  std::string error;
  int errnoValue = 0;
};

// true with *out filled; false with out->failedStep and out->error (no fd left open).
bool Dial(const DialRequest& request, Dialed* out);

}  // namespace vpnws
}  // namespace tund
