// The vpn-ws hub (docs/vpn-ws.md): many WebSocket clients and, optionally, the hub's own TAP
// device on one layer-2 switch (l2switch.h), served by one native thread with epoll. Pure C++
// (no N-API): vpnws_napi.cc is its JS face.
//
// Why its own thread and not the engine (engine/engine.h): the engine moves packets between one
// device and one transport on a tx/rx thread pair; a hub has a listening socket, any number of
// connections (each with its TLS session, HTTP head and frame reader) and a switch between them.
// One event loop owns all of that, so the switch needs no lock and a frame is forwarded in the
// same pass that read it.
//
//  - accept: non-blocking, close-on-exec; a TLS session when the hub has a certificate (with
//    ClientCA, the TLS layer refuses clients without a good certificate); the HTTP head must be
//    complete within handshakeTimeoutMs and within http::Limits; Path and the upgrade are checked
//    (http::ReadUpgrade, http::Authorize), refusals answered with their status and closed.
//  - per frame: FrameReader (server role: masked frames only, maxMessage), Switch::Forward, and
//    the frame goes into each destination's bounded queue (frames and bytes); a full queue drops
//    it (counted): a slow client never holds up the others. The TAP is written directly
//    (non-blocking; a full TAP queue drops too).
//  - pings answered, close frames answered, protocol errors closed with their code; a client
//    whose MAC a newer connection claims is closed (1008).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "l2switch.h"
#include "tls.h"

namespace tund {
namespace vpnws {

struct HubOptions {
  int listenFd = -1;  // listening, non-blocking TCP socket (the caller's: close it after Stop)
  int tapFd = -1;     // the hub's own TAP (not owned), or -1
  std::string path;   // "" = any path
  std::unique_ptr<tls::Context> tls;  // server context, or null (plain, e.g. behind nginx)
  l2::SwitchOptions switchOptions;
  size_t maxMessage = 1518;
  size_t queueFrames = 512;       // per client
  size_t queueBytes = 1 << 20;    // per client
  int handshakeTimeoutMs = 10000;
  size_t maxClients = 4096;
};

struct HubClient {
  uint32_t id = 0;        // the switch port
  std::string remote;     // "198.18.0.2:40000"
  std::vector<std::string> macs;
  bool bridge = false;
  std::string tlsSubject;
  std::string user;       // basic-auth user the client sent (nginx checked it), or ""
  std::string path;
  int64_t connectedMs = 0;  // wall clock, ms since the epoch
  l2::PortCounters counters;
  uint64_t rxWireBytes = 0, txWireBytes = 0;
  size_t queued = 0;
};

struct HubStats {
  uint64_t accepted = 0, refused = 0, closed = 0, tlsFailures = 0;
  uint64_t tapRxFrames = 0, tapTxFrames = 0, tapTxDropped = 0;
  uint64_t switchDrops = 0;
  size_t clients = 0;
  bool running = false;
};

// What the hub tells JS (log lines): "connected", "closed", "refused", "ended".
struct HubEvent {
  std::string type;
  uint32_t id = 0;
  std::string remote;
  std::string message;
};

class Hub {
 public:
  explicit Hub(HubOptions options);
  ~Hub();
  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // `notify` is called from the hub's thread whenever events were queued (TakeEvents drains).
  bool Start(std::function<void()> notify, std::string* error);
  void Stop();
  std::vector<HubClient> Clients();
  HubStats Stats();
  std::deque<HubEvent> TakeEvents();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpnws
}  // namespace tund
