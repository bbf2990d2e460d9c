// WireGuard messages over many TCP connections (peer_streams.h).
//
// Threads: JS adds connections (Add: under mu_, then the eventfd wakes the rx thread); the rx
// thread owns the list it polls (adopts new ones, reads, cuts messages, closes and forgets);
// the tx thread looks a connection up by endpoint under mu_ and writes without the lock. A
// connection object is shared: its fd is closed when the last holder lets go, so a write on the
// tx thread never meets a reused fd. Closing from the tx thread is shutdown() (the rx thread then
// sees the end and forgets it).
#include "peer_streams.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "../errors.h"
#include "../fast_random.h"
#include "../http_upgrade.h"
#include "../ws_frame.h"
#include "tls_layer.h"
#include "iovec_advance.h"

namespace tund {
namespace engine {

namespace peerstream {

Split Next(const uint8_t* p, size_t have, size_t maxMessage) {
  Split s;
  if (have < kPrefixBytes) return s;
  size_t len = (static_cast<size_t>(p[0]) << 8) | p[1];
  if (len == 0 || len > maxMessage) {
    s.kind = Split::Skip;
    return s;
  }
  if (have < kPrefixBytes + len) return s;
  s.kind = Split::Frame;
  s.len = kPrefixBytes + len;
  return s;
}

void Prefix(size_t len, uint8_t out[kPrefixBytes]) {
  out[0] = static_cast<uint8_t>(len >> 8);
  out[1] = static_cast<uint8_t>(len);
}

}  // namespace peerstream

namespace {
constexpr int kSweepMs = 1000;
constexpr int kIovMax = 1024;
// Until a TCP connection takes this long without an acknowledgment, it counts as alive (a peer
// that vanished without a reset is noticed in this time once something is sent).
constexpr unsigned kUserTimeoutMs = 30000;
// websocket: bytes read ahead per connection beyond one largest message
constexpr size_t kWsReadAhead = 16384;
// websocket: TLS records read per connection per round (the rest waits for the next round)
constexpr int kMaxTlsReads = 16;
}  // namespace

struct PeerStreamsTransport::Conn {
  int fd = -1;
  Endpoint remote;
  std::vector<uint8_t> buf;  // rx thread
  size_t have = 0, off = 0;
  int64_t pendingSinceMs = 0;  // rx thread: since when no peer names it (0: one does)
  std::atomic<bool> dead{false};
  std::string why;  // set once by whoever marks it dead first (under mu_)
  std::mutex sendMu;  // one writer at a time (the tx thread; SendFinal after it)
  // websocket
  std::atomic<bool> open{true};                // false while an accepted one upgrades (rx thread)
  std::unique_ptr<tls::Session> handshaking;   // rx thread: TLS before the upgrade
  std::unique_ptr<StreamLayer> layer;          // TLS once it is up: every byte goes through it
  std::vector<uint8_t> head;                   // rx thread: the HTTP request so far
  std::unique_ptr<ws::FrameReader> reader;     // rx thread
  std::unique_ptr<FastRandom> rng;             // a client's masking keys (under sendMu)
  std::unique_ptr<ws::Encoder> encoder;        // under sendMu
  std::vector<uint8_t> out;                    // under sendMu: the frames of a run
  short events = POLLIN;                       // rx thread: what to poll for
  bool moreToRead = false;                     // rx thread: TLS may hold plaintext (reader was full)
  ~Conn() {
    layer.reset();
    handshaking.reset();
    if (fd >= 0) close(fd);
  }
};

struct PeerStreamsTransport::State {
  std::mutex mu;
  std::vector<std::shared_ptr<Conn>> conns;  // every open connection (lookup by endpoint)
  std::vector<std::shared_ptr<Conn>> fresh;  // added, not yet polled by the rx thread
  std::vector<std::shared_ptr<Conn>> polled; // rx thread: what it polls
  std::vector<struct pollfd> fds;            // rx thread
  std::vector<uint8_t> prefixes;             // tx thread
  int64_t lastSweepMs = 0;                   // rx thread
  size_t next = 0;                           // rx thread: where the next round starts (fairness)
};

PeerStreamsTransport::PeerStreamsTransport(const PeerStreamOptions& o, std::function<bool(const Endpoint&)> named)
    : o_(o), named_(std::move(named)), s_(std::make_unique<State>()) {
  wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

PeerStreamsTransport::~PeerStreamsTransport() = default;  // the engine closes wakeFd_ at Stop

bool PeerStreamsTransport::Add(int fd, std::string* why) {
  auto c = std::make_shared<Conn>();
  c->fd = fd;
  if (o_.webSocket) {
    c->open.store(false);
    if (o_.tlsServer) {
      std::string error;
      c->handshaking = tls::Session::New(*o_.tlsServer, fd, &error);
      if (!c->handshaking) {
        *why = "tls: " + error;
        pc_.refused.fetch_add(1, std::memory_order_relaxed);
        return false;
      }
    }
  } else {
    c->buf.resize(peerstream::kPrefixBytes + o_.maxMessage);
  }
  return Admit(c, why);
}

bool PeerStreamsTransport::AddDialed(int fd, std::unique_ptr<tls::Session> tls, std::vector<uint8_t> initial, const Endpoint& name,
                                     std::string* why) {
  auto c = std::make_shared<Conn>();
  c->fd = fd;
  c->remote = name;
  if (!o_.webSocket) {
    *why = "not a websocket transport";
    pc_.refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  if (tls) c->layer = MakeTlsLayer(std::move(tls));
  c->moreToRead = c->layer != nullptr;  // the TLS session may hold records read with the 101
  c->reader = std::make_unique<ws::FrameReader>(ws::Role::Client, o_.maxMessage, kWsReadAhead);
  c->reader->Append(initial.data(), initial.size());
  c->rng = std::make_unique<FastRandom>();
  c->encoder = std::make_unique<ws::Encoder>(ws::Role::Client, c->rng.get());
  return Admit(c, why);
}

bool PeerStreamsTransport::Admit(const std::shared_ptr<Conn>& c, std::string* why) {
  const int fd = c->fd;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (c->remote.Empty() && getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) {
    *why = std::string("getpeername: ") + ErrnoText(errno);
    pc_.refused.fetch_add(1, std::memory_order_relaxed);
    return false;  // (c closes fd)
  }
  if (c->remote.Empty()) c->remote = Endpoint::From(ss, len);
  if (c->remote.Empty()) {
    *why = "not a TCP/IP socket";
    pc_.refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  // (named_ takes the transform's locks: never called under mu_, which the tx thread takes while
  // the transform may hold its own)
  const bool isNamed = named_(c->remote);
  std::vector<Endpoint> open;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    for (const auto& k : s_->conns) {
      if (!k->dead.load()) open.push_back(k->remote);
    }
  }
  size_t pending = 0;
  for (const auto& ep : open) pending += named_(ep) ? 0 : 1;
  if (open.size() >= static_cast<size_t>(o_.maxConnections) || (!isNamed && pending >= o_.maxPending)) {
    *why = open.size() >= static_cast<size_t>(o_.maxConnections)
               ? "too many connections (" + std::to_string(o_.maxConnections) + ")"
               : "too many connections without an authenticated peer (" + std::to_string(o_.maxPending) + ")";
    pc_.refused.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    unsigned timeout = kUserTimeoutMs;
    setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &timeout, sizeof timeout);
    c->pendingSinceMs = isNamed ? 0 : MonotonicMs();
    s_->conns.push_back(c);
    s_->fresh.push_back(c);
  }
  pc_.accepted.fetch_add(1, std::memory_order_relaxed);
  pc_.open.fetch_add(1, std::memory_order_relaxed);
  uint64_t one = 1;
  ssize_t w = write(wakeFd_, &one, sizeof one);
  (void)w;
  return true;
}

std::shared_ptr<PeerStreamsTransport::Conn> PeerStreamsTransport::Find(const Endpoint& ep) {
  std::lock_guard<std::mutex> lock(s_->mu);
  // the newest first: a redial from the same address and port replaces the old one
  for (auto it = s_->conns.rbegin(); it != s_->conns.rend(); ++it) {
    if (!(*it)->dead.load() && (*it)->open.load() && (*it)->remote.SameAs(ep)) return *it;
  }
  return nullptr;
}

bool PeerStreamsTransport::Send(Core& core, Message* msgs, size_t n) {
  size_t i = 0;
  while (i < n) {
    // a run of messages to one destination
    size_t j = i + 1;
    while (j < n && msgs[j].peer && msgs[i].peer && msgs[j].peer->SameAs(*msgs[i].peer)) j++;
    std::shared_ptr<Conn> c = msgs[i].peer ? Find(*msgs[i].peer) : nullptr;
    if (!c) {
      // no connection to that endpoint (not dialed yet, or just lost): as a datagram to nowhere
      core.c.txDropped.fetch_add(j - i, std::memory_order_relaxed);
    } else if (!SendRun(core, *c, msgs + i, j - i)) {
      if (core.StopRequested() || core.Ended()) return false;
    }
    i = j;
  }
  return true;
}

// Writes the run with its prefixes; a connection that fails or stays full too long is shut down
// (the rx thread closes it). false when the run was not sent.
bool PeerStreamsTransport::SendRun(Core& core, Conn& c, Message* msgs, size_t n) {
  if (o_.webSocket) return SendFrames(core, c, msgs, n);
  std::lock_guard<std::mutex> lock(c.sendMu);
  std::vector<uint8_t>& prefixes = s_->prefixes;
  size_t k = 0;
  while (k < n) {
    size_t cnt = std::min(n - k, static_cast<size_t>(kIovMax / 2));
    prefixes.resize(cnt * peerstream::kPrefixBytes);
    struct iovec iov[kIovMax];
    int iovcnt = 0;
    for (size_t m = 0; m < cnt; m++) {
      Message& msg = msgs[k + m];
      uint8_t* pre = prefixes.data() + m * peerstream::kPrefixBytes;
      if (msg.len == 0 || msg.len > peerstream::kMaxMessage) continue;  // (never from WgTransform)
      peerstream::Prefix(msg.len, pre);
      iov[iovcnt++] = {pre, peerstream::kPrefixBytes};
      iov[iovcnt++] = {msg.data, msg.len};
    }
    int first = 0;
    while (first < iovcnt) {
      struct msghdr mh;
      std::memset(&mh, 0, sizeof mh);
      mh.msg_iov = iov + first;
      mh.msg_iovlen = static_cast<size_t>(iovcnt - first);
      ssize_t w = sendmsg(c.fd, &mh, MSG_NOSIGNAL);
      if (w >= 0) {
        core.c.txWireBytes.fetch_add(static_cast<uint64_t>(w), std::memory_order_relaxed);
        first = AdvanceIovecs(iov, iovcnt, first, static_cast<size_t>(w));
        continue;
      }
      if (errno == EINTR) continue;
      std::string why;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (core.WaitFd(c.fd, POLLOUT, o_.sendTimeoutMs)) continue;
        if (core.StopRequested()) return false;
        why = "send: no progress for " + std::to_string(o_.sendTimeoutMs) + " ms";
      } else {
        why = std::string("send: ") + ErrnoText(errno);
      }
      // a frame may be cut in half: the stream is unusable, the connection goes
      {
        std::lock_guard<std::mutex> l(s_->mu);
        if (!c.dead.exchange(true)) c.why = why;
      }
      shutdown(c.fd, SHUT_RDWR);
      core.c.txDropped.fetch_add(n - k, std::memory_order_relaxed);
      return false;
    }
    core.c.txFrames.fetch_add(cnt, std::memory_order_relaxed);
    k += cnt;
  }
  return true;
}

// ---- websocket

void PeerStreamsTransport::MarkDead(Conn& c, const std::string& why) {
  std::lock_guard<std::mutex> lock(s_->mu);
  if (!c.dead.exchange(true)) c.why = why;
}

// Writes p[0..len) whole, through TLS when the connection has it. A full socket is waited for up
// to waitMs (0: not at all, for the rx thread, which must not stall the others). The caller holds
// c.sendMu. false with *why: the stream may be cut in the middle of a frame, unusable.
bool PeerStreamsTransport::WriteAll(Core& core, Conn& c, const uint8_t* p, size_t len, int waitMs, std::string* why) {
  while (len > 0) {
    size_t n = 0;
    short wait = 0;
    if (c.layer) {
      std::string error;
      switch (c.layer->Write(p, len, &n, &error)) {
        case StreamLayer::Ok:
          break;
        case StreamLayer::WantWrite:
          wait = POLLOUT;
          break;
        case StreamLayer::WantRead:
          wait = POLLIN;
          break;
        case StreamLayer::Closed:
          *why = "tls: closed by the peer";
          return false;
        case StreamLayer::Failed:
          *why = error;
          return false;
      }
    } else {
      ssize_t w = send(c.fd, p, len, MSG_NOSIGNAL);
      if (w >= 0) {
        n = static_cast<size_t>(w);
      } else if (errno == EINTR) {
        continue;
      } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
        wait = POLLOUT;
      } else {
        *why = std::string("send: ") + ErrnoText(errno);
        return false;
      }
    }
    if (wait) {
      if (waitMs > 0 && core.WaitFd(c.fd, wait, waitMs)) continue;
      *why = core.StopRequested() ? "stopped" : "send: no progress for " + std::to_string(waitMs) + " ms";
      return false;
    }
    core.c.txWireBytes.fetch_add(n, std::memory_order_relaxed);
    p += n;
    len -= n;
  }
  return true;
}

// One binary message per WireGuard message, the run in one write (one TLS record or a few).
bool PeerStreamsTransport::SendFrames(Core& core, Conn& c, Message* msgs, size_t n) {
  std::lock_guard<std::mutex> lock(c.sendMu);
  size_t total = 0;
  for (size_t k = 0; k < n; k++) total += c.encoder->HeaderSizeFor(msgs[k].len) + msgs[k].len;
  c.out.resize(total);
  size_t at = 0, frames = 0;
  for (size_t k = 0; k < n; k++) {
    if (msgs[k].len == 0 || msgs[k].len > o_.maxMessage) continue;  // (never from WgTransform)
    at += c.encoder->Frame(c.out.data() + at, msgs[k].data, msgs[k].len, ws::Opcode::Binary);
    frames++;
  }
  std::string why;
  if (!WriteAll(core, c, c.out.data(), at, o_.sendTimeoutMs, &why)) {
    MarkDead(c, why);
    shutdown(c.fd, SHUT_RDWR);
    core.c.txDropped.fetch_add(n, std::memory_order_relaxed);
    return false;
  }
  core.c.txFrames.fetch_add(frames, std::memory_order_relaxed);
  return true;
}

// A control frame or an HTTP answer from the rx thread: never waits (a peer that does not read
// loses its pongs), never waits for the tx thread either (then the frame is left out).
// `build` runs under the lock: a client's encoder draws its masking keys from the tx thread's rng.
void PeerStreamsTransport::WriteControl(Core& core, Conn& c, const std::function<void(std::vector<uint8_t>*)>& build) {
  std::unique_lock<std::mutex> lock(c.sendMu, std::try_to_lock);
  if (!lock.owns_lock()) return;
  std::vector<uint8_t> bytes;
  build(&bytes);
  std::string why;
  if (!WriteAll(core, c, bytes.data(), bytes.size(), 0, &why)) MarkDead(c, why);
}

// The upgrade of an accepted connection: TLS, then the HTTP request, then the 101 (or a refusal).
void PeerStreamsTransport::Upgrade(Core& core, Conn& c) {
  if (c.handshaking) {
    tls::Status st = c.handshaking->Handshake();
    if (st == tls::Status::WantRead || st == tls::Status::WantWrite) {
      c.events = st == tls::Status::WantRead ? POLLIN : POLLOUT;
      return;
    }
    if (st != tls::Status::Ok) {
      const std::string& e = c.handshaking->Error();
      MarkDead(c, "tls: handshake failed: " + (e.empty() ? std::string("connection closed") : e));
      return;
    }
    c.layer = MakeTlsLayer(std::move(c.handshaking));
    c.events = POLLIN;
  }
  for (int reads = 0; reads < kMaxTlsReads; reads++) {
    uint8_t buf[4096];
    size_t got = 0;
    if (c.layer) {
      std::string error;
      StreamLayer::Result r = c.layer->Read(buf, sizeof buf, &got, &error);
      if (r == StreamLayer::WantRead || r == StreamLayer::WantWrite) {
        c.events = r == StreamLayer::WantRead ? POLLIN : POLLIN | POLLOUT;
        return;
      }
      if (r != StreamLayer::Ok) {
        MarkDead(c, r == StreamLayer::Closed ? "closed by the peer before its upgrade" : error);
        return;
      }
    } else {
      ssize_t r = read(c.fd, buf, sizeof buf);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      if (r <= 0) {
        MarkDead(c, r == 0 ? "closed by the peer before its upgrade" : std::string("recv: ") + ErrnoText(errno));
        return;
      }
      got = static_cast<size_t>(r);
    }
    core.c.rxWireBytes.fetch_add(got, std::memory_order_relaxed);
    c.head.insert(c.head.end(), buf, buf + got);
    http::RequestResult rr = http::ParseRequest(c.head.data(), c.head.size());
    if (rr.status == http::ParseStatus::NeedMore) continue;
    http::Upgrade up;
    http::Refusal refusal = rr.refusal;
    http::AcceptPolicy policy;
    policy.path = o_.wsPath;
    if (rr.status == http::ParseStatus::Error || !http::ReadUpgrade(rr.request, &up, &refusal) || !http::Authorize(up, policy, &refusal)) {
      std::string text = http::BuildRefusal(refusal);
      WriteControl(core, c, [&](std::vector<uint8_t>* b) { b->assign(text.begin(), text.end()); });
      MarkDead(c, "refused the WebSocket upgrade: HTTP " + std::to_string(refusal.status) + " " + refusal.reason +
                      (refusal.detail.empty() ? "" : " (" + refusal.detail + ")"));
      return;
    }
    std::string resp = http::BuildUpgradeResponse(up.key);
    c.reader = std::make_unique<ws::FrameReader>(ws::Role::Server, o_.maxMessage, kWsReadAhead);
    c.reader->Append(c.head.data() + rr.request.consumed, c.head.size() - rr.request.consumed);
    std::vector<uint8_t>().swap(c.head);
    c.encoder = std::make_unique<ws::Encoder>(ws::Role::Server, nullptr);
    WriteControl(core, c, [&](std::vector<uint8_t>* b) { b->assign(resp.begin(), resp.end()); });
    c.moreToRead = c.layer != nullptr;
    c.open.store(true);
    return;
  }
  c.moreToRead = c.layer != nullptr;
}

// Bytes into the frame reader: one read from a plain socket (poll says when there is more), TLS
// records until the socket is drained or the reader is full (then moreToRead: TLS may hold
// plaintext that poll cannot see).
void PeerStreamsTransport::ReadBytes(Core& core, Conn& c) {
  c.moreToRead = false;
  c.events = POLLIN;
  for (int reads = 0; reads < kMaxTlsReads; reads++) {
    size_t room = c.reader->Writable();
    if (room == 0) {
      c.moreToRead = c.layer != nullptr;
      return;
    }
    uint8_t* at = c.reader->WritePtr();
    size_t got = 0;
    if (c.layer) {
      std::string error;
      StreamLayer::Result r = c.layer->Read(at, room, &got, &error);
      if (r == StreamLayer::WantRead) return;
      if (r == StreamLayer::WantWrite) {
        c.events = POLLIN | POLLOUT;
        return;
      }
      if (r != StreamLayer::Ok) {
        MarkDead(c, r == StreamLayer::Closed ? "closed by the peer (TLS end of stream)" : error);
        return;
      }
    } else {
      ssize_t r = read(c.fd, at, room);
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) return;
      if (r <= 0) {
        MarkDead(c, r == 0 ? "closed by the peer (TCP EOF)" : std::string("recv: ") + ErrnoText(errno));
        return;
      }
      got = static_cast<size_t>(r);
    }
    c.reader->Commit(got);
    core.c.rxWireBytes.fetch_add(got, std::memory_order_relaxed);
    if (!c.layer) return;
  }
  c.moreToRead = true;
}

// Whole messages out of the reader; control frames answered. A message that was reassembled from
// fragments lives in the reader's one assembly buffer: it ends this connection's part of the round.
int PeerStreamsTransport::TakeFrames(Core& core, Conn& c, Message* out, int max) {
  if (!c.open.load() || !c.reader) return 0;
  int n = 0;
  while (n < max && !c.dead.load()) {
    ws::Event ev = c.reader->Next();
    switch (ev.type) {
      case ws::EventType::None:
        return n;
      case ws::EventType::Message:
        core.c.rxFrames.fetch_add(1, std::memory_order_relaxed);
        if (ev.opcode != ws::Opcode::Binary || ev.len == 0) {
          core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
          WriteControl(core, c, [&](std::vector<uint8_t>* b) { c.encoder->AppendClose(b, ws::kCloseUnsupportedData, "one WireGuard message per binary message"); });
          MarkDead(c, ev.len == 0 ? "an empty WebSocket message" : "a text WebSocket message");
          return n;
        }
        out[n] = Message{};
        out[n].data = ev.data;
        out[n].len = ev.len;
        out[n].peer = &c.remote;
        n++;
        if (ev.reassembled) return n;
        break;
      case ws::EventType::Ping:
        WriteControl(core, c, [&](std::vector<uint8_t>* b) { c.encoder->AppendFrame(b, ev.data, ev.len, ws::Opcode::Pong); });
        break;
      case ws::EventType::Pong:
        break;
      case ws::EventType::Close:
        WriteControl(core, c, [&](std::vector<uint8_t>* b) { c.encoder->AppendClose(b, ev.code == ws::kCloseNoStatus ? 0 : ev.code, ""); });
        MarkDead(c, "closed by the peer (WebSocket close " + std::to_string(ev.code) + ")");
        return n;
      case ws::EventType::Error:
        core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
        WriteControl(core, c, [&](std::vector<uint8_t>* b) { c.encoder->AppendClose(b, ev.code, ev.error ? ev.error : ""); });
        MarkDead(c, std::string("websocket: ") + (ev.error ? ev.error : "protocol error"));
        return n;
    }
  }
  return n;
}

int PeerStreamsTransport::TakeLengthPrefixed(Core& core, Conn& c, Message* out, int max) {
  int n = 0;
  while (n < max && !c.dead.load()) {
    Split sp = peerstream::Next(c.buf.data() + c.off, c.have - c.off, o_.maxMessage);
    if (sp.kind == Split::More) break;
    core.c.rxFrames.fetch_add(1, std::memory_order_relaxed);
    if (sp.kind == Split::Skip) {
      core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
      MarkDead(c, "a message length of 0 or over " + std::to_string(o_.maxMessage) + " bytes");
      break;
    }
    out[n] = Message{};
    out[n].data = c.buf.data() + c.off + peerstream::kPrefixBytes;
    out[n].len = sp.len - peerstream::kPrefixBytes;
    out[n].peer = &c.remote;
    c.off += sp.len;
    n++;
  }
  return n;
}

void PeerStreamsTransport::Close(Core& core, const std::shared_ptr<Conn>& c) {
  std::string why;
  {
    std::lock_guard<std::mutex> lock(s_->mu);
    auto& all = s_->conns;
    all.erase(std::remove(all.begin(), all.end(), c), all.end());
    why = c->why;
  }
  shutdown(c->fd, SHUT_RDWR);
  pc_.closed.fetch_add(1, std::memory_order_relaxed);
  pc_.open.fetch_sub(1, std::memory_order_relaxed);
  Event e;
  e.type = "connection_closed";
  e.from = c->remote;
  e.message = why.empty() ? "closed" : why;
  core.Events().Push(std::move(e), true, &core.c.eventDrops);
}

void PeerStreamsTransport::Sweep(Core& core, int64_t now) {
  for (auto& c : s_->polled) {
    if (c->dead.load()) continue;
    if (named_(c->remote)) {
      c->pendingSinceMs = 0;
      continue;
    }
    if (c->pendingSinceMs == 0) c->pendingSinceMs = now;
    if (now - c->pendingSinceMs >= o_.pendingDeadlineMs) {
      std::lock_guard<std::mutex> lock(s_->mu);
      if (!c->dead.exchange(true)) c->why = "no authenticated peer on it within " + std::to_string(o_.pendingDeadlineMs) + " ms";
      pc_.expired.fetch_add(1, std::memory_order_relaxed);
    }
  }
  (void)core;
}

int PeerStreamsTransport::Receive(Core& core, Message* out, int max) {
  State& s = *s_;
  for (;;) {
    // what the last round handed out is done with: compact, forget the dead, adopt the new
    for (auto& c : s.polled) {
      if (c->off == 0) continue;
      std::memmove(c->buf.data(), c->buf.data() + c->off, c->have - c->off);
      c->have -= c->off;
      c->off = 0;
    }
    {
      std::vector<std::shared_ptr<Conn>> dead;
      for (auto& c : s.polled) {
        if (c->dead.load()) dead.push_back(c);
      }
      for (auto& c : dead) {
        s.polled.erase(std::remove(s.polled.begin(), s.polled.end(), c), s.polled.end());
        Close(core, c);
      }
      std::lock_guard<std::mutex> lock(s.mu);
      for (auto& c : s.fresh) s.polled.push_back(c);
      s.fresh.clear();
    }
    if (core.Ended()) return -1;
    const int64_t now = MonotonicMs();
    if (now - s.lastSweepMs >= kSweepMs) {
      s.lastSweepMs = now;
      Sweep(core, now);
    }

    // messages already in the buffers, round robin over the connections
    int n = 0;
    const size_t count = s.polled.size();
    for (size_t k = 0; k < count && n < max; k++) {
      Conn& c = *s.polled[(s.next + k) % count];
      if (c.dead.load()) continue;
      n += o_.webSocket ? TakeFrames(core, c, out + n, max - n) : TakeLengthPrefixed(core, c, out + n, max - n);
    }
    if (count) s.next = (s.next + 1) % count;
    if (n > 0) return n;

    // wait for bytes (or a new connection, or the sweep); TLS may hold bytes poll cannot see
    bool buffered = false;
    s.fds.clear();
    s.fds.push_back({wakeFd_, POLLIN, 0});
    for (auto& c : s.polled) {
      buffered = buffered || (c->moreToRead && !c->dead.load());
      s.fds.push_back({c->fd, static_cast<short>(c->dead.load() ? 0 : c->events), 0});
    }
    int r = core.WaitAny(s.fds.data(), s.fds.size(), buffered ? 0 : kSweepMs);
    if (r < 0) return -1;
    if (r == 0 && !buffered) continue;
    if (s.fds[0].revents) {
      uint64_t v;
      ssize_t rd = read(wakeFd_, &v, sizeof v);
      (void)rd;
    }
    for (size_t k = 0; k < s.polled.size(); k++) {
      Conn& c = *s.polled[k];
      if (!s.fds[k + 1].revents && !c.moreToRead) continue;
      if (c.dead.load()) continue;
      if (o_.webSocket) {
        if (!c.open.load()) Upgrade(core, c);
        else ReadBytes(core, c);
        continue;
      }
      ssize_t got = read(c.fd, c.buf.data() + c.have, c.buf.size() - c.have);
      if (got > 0) {
        c.have += static_cast<size_t>(got);
        core.c.rxWireBytes.fetch_add(static_cast<uint64_t>(got), std::memory_order_relaxed);
        continue;
      }
      if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      MarkDead(c, got == 0 ? "closed by the peer (TCP EOF)" : std::string("recv: ") + ErrnoText(errno));
    }
  }
}

}  // namespace engine
}  // namespace tund
