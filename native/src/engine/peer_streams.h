// WireGuard over TCP or WebSocket between tund peers (docs/engine.md, "Stream transports"): a
// Transport that carries a WireGuard interface's messages over any number of connections, each
// one the stream analogue of a UDP source address.
//
//   - Framing (tcp): every message is one WireGuard message (the bytes a UDP datagram would
//     carry) after a 2-byte big-endian length (1..65535), as DNS over TCP does. A zero length, or
//     one larger than the transform's receive slot, is a broken stream: the connection is closed.
//   - Framing (websocket): every message is one binary WebSocket message (RFC 6455, ws_frame.h),
//     over plain TCP or TLS (wss). A dialed connection comes in upgraded already (vpnws_dial.h
//     did the TLS handshake and the HTTP upgrade on a worker thread; AddDialed); an accepted one
//     is upgraded here, on the rx thread: the TLS handshake when the options hold a server
//     context, then the HTTP request (http_upgrade.h: 404 for another path, 400 for what is no
//     upgrade), then the 101. Pings are answered, a close is answered and ends the connection, a
//     protocol violation sends its close code and ends it.
//   - A connection is named by its remote address and port (getpeername): received messages carry
//     it as their source endpoint, and a message sent to that endpoint goes out on it. So the
//     WireGuard transform's roaming (the peer's endpoint follows its latest authenticated message)
//     picks the connection replies go out on, unchanged.
//   - JS owns the connection policy (dialing with back-off, accepting): it hands connected fds in
//     with Add. A closed connection goes up as a "connection_closed" event with its endpoint.
//   - Pre-authentication: a connection that no peer's endpoint names (the `named` callback) is
//     pending. At most maxPending are (Add refuses the rest), and one stays pending at most
//     pendingDeadlineMs before it is closed (also a connection that a peer left for a newer one).
//   - A slow connection cannot hold the tx thread for ever: a write that waits longer than
//     sendTimeoutMs closes that connection.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../tls.h"
#include "engine.h"

namespace tund {
namespace engine {

namespace peerstream {
constexpr size_t kPrefixBytes = 2;
constexpr size_t kMaxMessage = 65535;
// Cuts one length-prefixed message off p[0..have): More, Frame (len = prefix + message) or Skip
// (a broken stream: zero or over `maxMessage`; len = 0, the caller closes the connection).
Split Next(const uint8_t* p, size_t have, size_t maxMessage);
// Writes the prefix of a message of `len` bytes (1..kMaxMessage) into out[0..2).
void Prefix(size_t len, uint8_t out[kPrefixBytes]);
}  // namespace peerstream

struct PeerStreamOptions {
  size_t maxMessage = 65535;          // the largest message a connection may carry
  size_t maxPending = 64;             // connections no peer names, at most
  int64_t pendingDeadlineMs = 10000;  // ... and for how long each
  int sendTimeoutMs = 5000;           // a write stuck this long closes the connection
  int maxConnections = 1024;          // all connections, at most
  // websocket framing instead of the 2-byte length
  bool webSocket = false;
  std::string wsPath;                            // accepted upgrades: this path only ("" = any)
  std::shared_ptr<const tls::Context> tlsServer;  // accepted connections: TLS first (wss)
};

struct PeerStreamCounters {
  std::atomic<uint64_t> accepted{0};   // connections taken by Add
  std::atomic<uint64_t> refused{0};    // ... refused (too many pending or in all)
  std::atomic<uint64_t> closed{0};     // closed: by the peer, broken framing, deadline, send timeout
  std::atomic<uint64_t> expired{0};    // ... of them: pending past the deadline
  std::atomic<uint64_t> open{0};       // now
};

class PeerStreamsTransport : public Transport {
 public:
  // named(ep): some peer's endpoint is ep (called on the rx and the JS thread).
  PeerStreamsTransport(const PeerStreamOptions& o, std::function<bool(const Endpoint&)> named);
  ~PeerStreamsTransport() override;

  // JS thread: takes a connected TCP socket (the transport owns it from now on, also when it is
  // refused: then it is closed and false returned with *why).
  // (websocket: an accepted connection, which the rx thread upgrades.)
  bool Add(int fd, std::string* why);
  // websocket, JS thread: a connection this side dialed and upgraded (its TLS session, or null for
  // ws://, and the bytes received after the 101), named by `name` (Empty: its peer address; a
  // connection through an HTTP proxy is named by the peer's endpoint). Owned from now on, also
  // when refused.
  bool AddDialed(int fd, std::unique_ptr<tls::Session> tls, std::vector<uint8_t> initial, const Endpoint& name, std::string* why);
  const PeerStreamCounters& Counters() const { return pc_; }
  // false when the eventfd could not be made (errno set).
  bool Ok() const { return wakeFd_ >= 0; }

  int Fd() const override { return wakeFd_; }
  bool IsStream() const override { return false; }  // many peers, each message with its endpoint
  bool Send(Core& core, Message* msgs, size_t n) override;
  void SendFinal(Core& core, Message* msgs, size_t n) override { Send(core, msgs, n); }
  int Receive(Core& core, Message* out, int max) override;

 private:
  struct Conn;
  bool Admit(const std::shared_ptr<Conn>& c, std::string* why);
  std::shared_ptr<Conn> Find(const Endpoint& ep);
  bool SendRun(Core& core, Conn& c, Message* msgs, size_t n);
  bool SendFrames(Core& core, Conn& c, Message* msgs, size_t n);
  bool WriteAll(Core& core, Conn& c, const uint8_t* p, size_t len, int waitMs, std::string* why);
  void WriteControl(Core& core, Conn& c, const std::function<void(std::vector<uint8_t>*)>& build);  // rx thread
  void MarkDead(Conn& c, const std::string& why);
  int TakeLengthPrefixed(Core& core, Conn& c, Message* out, int max);  // rx thread
  int TakeFrames(Core& core, Conn& c, Message* out, int max);          // rx thread
  void ReadBytes(Core& core, Conn& c);                                 // rx thread
  void Upgrade(Core& core, Conn& c);                                   // rx thread
  void Close(Core& core, const std::shared_ptr<Conn>& c);  // rx thread
  void Sweep(Core& core, int64_t now);                     // rx thread

  PeerStreamOptions o_;
  std::function<bool(const Endpoint&)> named_;
  int wakeFd_ = -1;
  PeerStreamCounters pc_;
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace engine
}  // namespace tund
