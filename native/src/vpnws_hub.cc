// See vpnws_hub.h.
#include "vpnws_hub.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <unordered_map>

#include "engine/endpoint.h"
#include "errors.h"
#include "http_upgrade.h"
#include "mono_clock.h"
#include "ws_frame.h"

namespace tund {
namespace vpnws {

namespace {

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

constexpr int kMaxReadsPerEvent = 64;
constexpr size_t kReadAhead = 16384;
constexpr uint64_t kAgeEveryMs = 10000;

enum class IoResult { Ok, Again, WantWrite, Closed, Failed };

}  // namespace

class Hub::Impl {
 public:
  explicit Impl(HubOptions o) : o_(std::move(o)), sw_(o_.switchOptions), encoder_(ws::Role::Server, nullptr) {}

  ~Impl() { Stop(); }

  bool Start(std::function<void()> notify, std::string* error) {
    notify_ = std::move(notify);
    // Stop() closes these only after a started loop: a failed start closes the half that opened
    auto fail = [&](int err, const char* what) {
      *error = std::string(what) + ": " + ErrnoText(err);
      if (ep_ >= 0) close(ep_);
      if (stopFd_ >= 0) close(stopFd_);
      ep_ = stopFd_ = -1;
      return false;
    };
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (ep_ < 0) return fail(errno, "epoll");
    stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stopFd_ < 0) return fail(errno, "eventfd");
    Watch(stopFd_, EPOLLIN);
    Watch(o_.listenFd, EPOLLIN);
    if (o_.tapFd >= 0) {
      l2::PortOptions po;
      po.kind = l2::PortKind::Tap;
      po.bridge = true;  // the host (and a Linux bridge behind it) may carry many MACs
      tapPort_ = sw_.AddPort(po);
      Watch(o_.tapFd, EPOLLIN);
    }
    running_ = true;
    thread_ = std::thread([this] { Loop(); });
    return true;
  }

  void Stop() {
    if (!thread_.joinable()) return;
    uint64_t one = 1;
    if (write(stopFd_, &one, sizeof one) < 0) {
      // the counter is full: a stop is pending already
    }
    thread_.join();
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& kv : conns_) {
      kv.second->tls.reset();
      close(kv.first);
    }
    conns_.clear();
    graveyard_.clear();
    byPort_.clear();
    if (ep_ >= 0) close(ep_);
    if (stopFd_ >= 0) close(stopFd_);
    ep_ = stopFd_ = -1;
    running_ = false;
  }

  std::vector<HubClient> Clients() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<HubClient> out;
    for (auto& kv : byPort_) {
      Conn* c = kv.second;
      HubClient h = c->info;
      l2::PortInfo pi;
      if (sw_.Info(c->port, &pi)) h.counters = pi.counters;
      h.macs.clear();
      for (l2::Mac m : sw_.MacsOf(c->port)) h.macs.push_back(l2::MacToString(m));
      h.queued = c->out.size();
      h.rxWireBytes = c->rxWire;
      h.txWireBytes = c->txWire;
      out.push_back(std::move(h));
    }
    return out;
  }

  HubStats Stats() {
    std::lock_guard<std::mutex> lock(mu_);
    HubStats s = stats_;
    s.clients = byPort_.size();
    s.running = running_ && !ended_;
    s.switchDrops = 0;
    for (size_t i = 1; i < static_cast<size_t>(l2::Drop::kCount); i++) s.switchDrops += sw_.Dropped(static_cast<l2::Drop>(i));
    return s;
  }

  std::deque<HubEvent> TakeEvents() {
    std::lock_guard<std::mutex> lock(evMu_);
    std::deque<HubEvent> out;
    out.swap(events_);
    return out;
  }

 private:
  struct Conn {
    int fd = -1;
    std::unique_ptr<tls::Session> tls;
    enum State { TlsHandshake, Head, Open, Closing } state = Head;
    int64_t deadline = 0;
    std::vector<uint8_t> head;
    std::unique_ptr<ws::FrameReader> reader;
    std::deque<std::vector<uint8_t>> out;
    size_t outOff = 0, outBytes = 0;
    bool closeWhenFlushed = false;
    bool wantOut = false;
    bool tlsWantsWrite = false;
    bool dead = false;  // closed; freed at the end of the batch (callers may still hold it)
    l2::PortId port = l2::kNoPort;
    HubClient info;
    uint64_t rxWire = 0, txWire = 0;
  };

  void Watch(int fd, uint32_t events) {
    struct epoll_event ev = {};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
  }

  void Interest(Conn* c) {
    bool want = !c->out.empty() || c->tlsWantsWrite;
    if (want == c->wantOut) return;
    c->wantOut = want;
    struct epoll_event ev = {};
    ev.events = EPOLLIN | (want ? static_cast<uint32_t>(EPOLLOUT) : 0u);
    ev.data.fd = c->fd;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c->fd, &ev);
  }

  void Event(const char* type, const Conn* c, const std::string& message) {
    {
      std::lock_guard<std::mutex> lock(evMu_);
      if (events_.size() >= 1024) return;  // JS is behind: what peers cause is bounded
      HubEvent e;
      e.type = type;
      e.id = c ? c->port : 0;
      e.remote = c ? c->info.remote : "";
      e.message = message;
      events_.push_back(std::move(e));
    }
    if (notify_) notify_();
  }

  void Loop() {
    struct epoll_event evs[64];
    int64_t lastAge = MonotonicMs();
    for (;;) {
      int n = epoll_wait(ep_, evs, 64, 1000);
      if (n < 0 && errno != EINTR) {
        EndWith(std::string("epoll_wait: ") + ErrnoText(errno));
        return;
      }
      std::lock_guard<std::mutex> lock(mu_);
      for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        uint32_t e = evs[i].events;
        if (fd == stopFd_) return;
        if (fd == o_.listenFd) {
          AcceptAll();
          continue;
        }
        if (fd == o_.tapFd) {
          if (e & (EPOLLERR | EPOLLHUP)) {
            EndWith("the TAP device failed");
            return;
          }
          ReadTap();
          continue;
        }
        auto it = conns_.find(fd);
        if (it == conns_.end()) continue;
        Conn* c = it->second.get();
        if (e & EPOLLOUT) {
          if (!Flush(c)) continue;
        }
        if (c->dead) continue;
        if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) Readable(c);
      }
      int64_t now = MonotonicMs();
      // handshakes that take too long
      std::vector<Conn*> late;
      for (auto& kv : conns_) {
        Conn* c = kv.second.get();
        if (c->state != Conn::Open && c->state != Conn::Closing && now > c->deadline) late.push_back(c);
        else if (c->state == Conn::Closing && now > c->deadline) late.push_back(c);
      }
      for (Conn* c : late) Close(c, c->state == Conn::Closing ? "did not finish closing" : "no upgrade in time");
      graveyard_.clear();
      if (static_cast<uint64_t>(now - lastAge) >= kAgeEveryMs) {
        sw_.Age(static_cast<uint64_t>(now));
        lastAge = now;
      }
    }
  }

  void EndWith(const std::string& why) {
    ended_ = true;
    Event("ended", nullptr, why);
  }

  void AcceptAll() {
    for (int i = 0; i < 64; i++) {
      sockaddr_storage ss;
      socklen_t len = sizeof ss;
      int fd = accept4(o_.listenFd, reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) return;  // EAGAIN, or a connection gone before we took it
      stats_.accepted++;
      if (conns_.size() >= o_.maxClients) {
        stats_.refused++;
        close(fd);
        continue;
      }
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
      auto c = std::make_unique<Conn>();
      c->fd = fd;
      c->info.remote = Endpoint::From(ss, len).ToString();
      c->deadline = MonotonicMs() + o_.handshakeTimeoutMs;
      if (o_.tls) {
        std::string err;
        c->tls = tls::Session::New(*o_.tls, fd, &err);
        if (!c->tls) {
          stats_.tlsFailures++;
          close(fd);
          continue;
        }
        c->state = Conn::TlsHandshake;
      }
      Watch(fd, EPOLLIN);
      Conn* raw = c.get();
      conns_[fd] = std::move(c);
      if (raw->tls) Handshake(raw);
    }
  }

  void Handshake(Conn* c) {
    tls::Status st = c->tls->Handshake();
    c->tlsWantsWrite = st == tls::Status::WantWrite;
    if (st == tls::Status::WantRead || st == tls::Status::WantWrite) {
      Interest(c);
      return;
    }
    if (st != tls::Status::Ok) {
      stats_.tlsFailures++;
      stats_.refused++;
      Event("refused", c, "TLS handshake failed: " + (c->tls->Error().empty() ? std::string("connection closed") : c->tls->Error()));
      Close(c, nullptr);
      return;
    }
    c->info.tlsSubject = c->tls->PeerSubject();
    c->state = Conn::Head;
    Interest(c);
    ReadHead(c);
  }

  IoResult ReadSome(Conn* c, uint8_t* buf, size_t len, size_t* n) {
    if (c->tls) {
      tls::Status st = c->tls->Read(buf, len, n);
      switch (st) {
        case tls::Status::Ok:
          return IoResult::Ok;
        case tls::Status::WantRead:
          return IoResult::Again;
        case tls::Status::WantWrite:
          return IoResult::WantWrite;
        case tls::Status::Closed:
          return IoResult::Closed;
        case tls::Status::Error:
          return IoResult::Failed;
      }
    }
    ssize_t r = recv(c->fd, buf, len, 0);
    if (r > 0) {
      *n = static_cast<size_t>(r);
      return IoResult::Ok;
    }
    if (r == 0) return IoResult::Closed;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return IoResult::Again;
    return IoResult::Failed;
  }

  void Readable(Conn* c) {
    if (c->dead) return;
    switch (c->state) {
      case Conn::TlsHandshake:
        Handshake(c);
        return;
      case Conn::Head:
        ReadHead(c);
        return;
      case Conn::Open:
        ReadFrames(c);
        return;
      case Conn::Closing: {
        // read and drop until the peer closes
        uint8_t buf[4096];
        size_t n = 0;
        IoResult r = ReadSome(c, buf, sizeof buf, &n);
        if (r == IoResult::Closed || r == IoResult::Failed) Close(c, nullptr);
        return;
      }
    }
  }

  void ReadHead(Conn* c) {
    for (int i = 0; i < kMaxReadsPerEvent; i++) {
      uint8_t buf[4096];
      size_t n = 0;
      IoResult r = ReadSome(c, buf, sizeof buf, &n);
      if (r == IoResult::Again) return;
      if (r == IoResult::WantWrite) {
        c->tlsWantsWrite = true;
        Interest(c);
        return;
      }
      if (r != IoResult::Ok) {
        Close(c, nullptr);  // gone before asking for anything (a probe, a health check)
        return;
      }
      c->head.insert(c->head.end(), buf, buf + n);
      http::RequestResult rr = http::ParseRequest(c->head.data(), c->head.size());
      if (rr.status == http::ParseStatus::NeedMore) continue;
      if (rr.status == http::ParseStatus::Error) {
        Refuse(c, rr.refusal);
        return;
      }
      http::Upgrade up;
      http::Refusal refusal;
      http::AcceptPolicy policy;
      policy.path = o_.path;
      if (!http::ReadUpgrade(rr.request, &up, &refusal) || !http::Authorize(up, policy, &refusal)) {
        Refuse(c, refusal);
        return;
      }
      Upgraded(c, up, rr.request.consumed);
      return;
    }
  }

  void Refuse(Conn* c, const http::Refusal& refusal) {
    stats_.refused++;
    Event("refused", c, "HTTP " + std::to_string(refusal.status) + " " + refusal.reason + (refusal.detail.empty() ? "" : ": " + refusal.detail));
    std::string text = http::BuildRefusal(refusal);
    c->out.emplace_back(text.begin(), text.end());
    c->outBytes += text.size();
    c->closeWhenFlushed = true;
    c->state = Conn::Closing;
    c->deadline = MonotonicMs() + 2000;
    Flush(c);
  }

  void Upgraded(Conn* c, const http::Upgrade& up, size_t consumed) {
    std::string resp = http::BuildUpgradeResponse(up.key);
    c->out.emplace_back(resp.begin(), resp.end());
    c->outBytes += resp.size();
    l2::PortOptions po;
    po.bridge = up.bridge;
    c->port = sw_.AddPort(po);
    c->info.id = c->port;
    c->info.bridge = up.bridge;
    c->info.user = up.hasCredentials ? up.user : "";
    c->info.path = up.path;
    c->info.connectedMs = WallMs();
    byPort_[c->port] = c;
    c->reader = std::make_unique<ws::FrameReader>(ws::Role::Server, o_.maxMessage, kReadAhead);
    c->state = Conn::Open;
    std::string macNote = up.mac.empty() ? "mac from its first frame" : "mac=" + up.mac;
    Event("connected", c, macNote + (up.bridge ? " bridge" : "") + (c->info.tlsSubject.empty() ? "" : " subject=" + c->info.tlsSubject) +
                              (c->info.user.empty() ? "" : " user=" + c->info.user) + " path=" + up.path);
    if (!up.mac.empty()) {
      l2::Mac m = 0;
      if (l2::ParseMac(up.mac, &m)) {
        l2::Claim claim = sw_.SetPortMac(c->port, m);
        if (claim.displaced != l2::kNoPort && claim.displaced != tapPort_) {
          auto it = byPort_.find(claim.displaced);
          if (it != byPort_.end()) CloseWith(it->second, ws::kClosePolicyViolation, "its MAC was claimed by a newer connection");
        }
      }
    }
    if (!Flush(c)) return;
    // WebSocket bytes that came with the head
    if (c->head.size() > consumed) {
      c->reader->Append(c->head.data() + consumed, c->head.size() - consumed);
      c->rxWire += c->head.size() - consumed;
      if (!Process(c)) return;
    }
    c->head.clear();
    c->head.shrink_to_fit();
    // TLS may hold decrypted bytes already: read on
    ReadFrames(c);
  }

  void ReadFrames(Conn* c) {
    for (int i = 0; i < kMaxReadsPerEvent && c->state == Conn::Open; i++) {
      size_t room = c->reader->Writable();
      if (room == 0) {
        CloseWith(c, ws::kCloseTooBig, "frame too large");
        return;
      }
      size_t n = 0;
      IoResult r = ReadSome(c, c->reader->WritePtr(), room, &n);
      if (r == IoResult::Again) return;
      if (r == IoResult::WantWrite) {
        c->tlsWantsWrite = true;
        Interest(c);
        return;
      }
      if (r == IoResult::Closed) {
        Close(c, "connection closed by the client");
        return;
      }
      if (r == IoResult::Failed) {
        Close(c, c->tls ? "tls: " + c->tls->Error() : std::string("recv: ") + ErrnoText(errno));
        return;
      }
      c->reader->Commit(n);
      c->rxWire += n;
      if (!Process(c)) return;
    }
  }

  // The reader's events; false when the connection went away.
  bool Process(Conn* c) {
    for (;;) {
      ws::Event ev = c->reader->Next();
      switch (ev.type) {
        case ws::EventType::None:
          return true;
        case ws::EventType::Message:
          if (ev.opcode == ws::Opcode::Binary) Switch(c->port, ev.data, ev.len);
          break;
        case ws::EventType::Ping:
          Send(c, ev.data, ev.len, ws::Opcode::Pong, true);
          break;
        case ws::EventType::Pong:
          break;
        case ws::EventType::Close: {
          uint16_t code = ev.code == ws::kCloseNoStatus ? ws::kCloseNormal : ev.code;
          CloseWith(c, code, "closed by the client (" + std::to_string(ev.code) + ")");
          return false;
        }
        case ws::EventType::Error:
          CloseWith(c, ev.code, std::string("protocol error: ") + (ev.error ? ev.error : "?"));
          return false;
      }
      if (c->dead || c->state != Conn::Open) return false;
    }
  }

  // One frame into the switch, out to its destinations.
  void Switch(l2::PortId from, const uint8_t* frame, size_t len) {
    l2::Decision d = sw_.Forward(from, frame, len, static_cast<uint64_t>(MonotonicMs()));
    if (d.drop != l2::Drop::None) return;
    for (size_t i = 0; i < d.count; i++) {
      l2::PortId to = d.ports[i];
      if (to == tapPort_ && tapPort_ != l2::kNoPort) {
        ssize_t w = write(o_.tapFd, frame, len);
        if (w == static_cast<ssize_t>(len)) stats_.tapTxFrames++;
        else {
          stats_.tapTxDropped++;
          sw_.NoteTxDropped(to, len);
        }
        continue;
      }
      auto it = byPort_.find(to);
      if (it == byPort_.end() || !Send(it->second, frame, len, ws::Opcode::Binary, false)) sw_.NoteTxDropped(to, len);
    }
  }

  void ReadTap() {
    uint8_t buf[65536 + 64];
    for (int i = 0; i < kMaxReadsPerEvent; i++) {
      ssize_t n = read(o_.tapFd, buf, sizeof buf);
      if (n <= 0) return;  // EAGAIN (or EIO while down)
      stats_.tapRxFrames++;
      Switch(tapPort_, buf, static_cast<size_t>(n));
    }
  }

  // Queues a frame (bounded unless `control`) and tries to send; false when it was dropped.
  bool Send(Conn* c, const uint8_t* payload, size_t len, ws::Opcode op, bool control) {
    if (c->dead || c->state != Conn::Open) return false;
    if (!control && (c->out.size() >= o_.queueFrames || c->outBytes + len > o_.queueBytes)) return false;
    std::vector<uint8_t> frame;
    frame.reserve(len + ws::kMaxHeader);
    encoder_.AppendFrame(&frame, payload, len, op);
    c->outBytes += frame.size();
    c->out.push_back(std::move(frame));
    if (c->out.size() == 1) Flush(c);
    else Interest(c);
    return true;
  }

  // Sends a close frame, closes once it is out (or after a short while).
  void CloseWith(Conn* c, uint16_t code, const std::string& why) {
    if (c->dead || c->state == Conn::Closing) return;
    std::vector<uint8_t> frame;
    encoder_.AppendClose(&frame, code, "");
    c->outBytes += frame.size();
    c->out.push_back(std::move(frame));
    c->closeWhenFlushed = true;
    LeaveSwitch(c);
    c->state = Conn::Closing;
    c->deadline = MonotonicMs() + 2000;
    Event("closed", c, why);
    Flush(c);
  }

  // Writes what is queued; false when the connection went away.
  bool Flush(Conn* c) {
    if (c->dead) return false;
    if (c->tls && c->state == Conn::TlsHandshake) {
      Handshake(c);
      return !c->dead;
    }
    c->tlsWantsWrite = false;
    while (!c->out.empty()) {
      std::vector<uint8_t>& f = c->out.front();
      const uint8_t* p = f.data() + c->outOff;
      size_t left = f.size() - c->outOff;
      size_t n = 0;
      bool again = false;
      if (c->tls) {
        tls::Status st = c->tls->Write(p, left, &n);
        if (st == tls::Status::WantRead || st == tls::Status::WantWrite) again = true;
        else if (st != tls::Status::Ok) {
          Close(c, "tls: " + c->tls->Error());
          return false;
        }
      } else {
        ssize_t w = send(c->fd, p, left, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w >= 0) n = static_cast<size_t>(w);
        else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) again = true;
        else {
          Close(c, std::string("send: ") + ErrnoText(errno));
          return false;
        }
      }
      if (again) {
        c->tlsWantsWrite = c->tls != nullptr;
        break;
      }
      c->txWire += n;
      c->outOff += n;
      if (c->outOff == f.size()) {
        c->outBytes -= f.size();
        c->out.pop_front();
        c->outOff = 0;
      }
    }
    if (c->out.empty() && c->closeWhenFlushed) {
      Close(c, nullptr);
      return false;
    }
    Interest(c);
    return true;
  }

  void LeaveSwitch(Conn* c) {
    if (c->port == l2::kNoPort) return;
    sw_.RemovePort(c->port);
    byPort_.erase(c->port);
  }

  void Close(Conn* c, const char* why) { Close(c, why ? std::string(why) : std::string()); }
  void Close(Conn* c, const std::string& why) {
    if (c->dead) return;
    bool wasOpen = c->state == Conn::Open;
    LeaveSwitch(c);
    if (wasOpen) Event("closed", c, why.empty() ? "closed" : why);
    stats_.closed++;
    epoll_ctl(ep_, EPOLL_CTL_DEL, c->fd, nullptr);
    int fd = c->fd;
    c->tls.reset();
    close(fd);
    c->dead = true;
    c->state = Conn::Closing;
    auto it = conns_.find(fd);
    if (it != conns_.end()) {
      graveyard_.push_back(std::move(it->second));
      conns_.erase(it);
    }
  }

  HubOptions o_;
  l2::Switch sw_;
  ws::Encoder encoder_;
  l2::PortId tapPort_ = l2::kNoPort;
  int ep_ = -1, stopFd_ = -1;
  std::thread thread_;
  std::function<void()> notify_;
  std::mutex mu_;  // the loop holds it while it handles a batch; Clients/Stats read under it
  std::unordered_map<int, std::unique_ptr<Conn>> conns_;
  std::unordered_map<l2::PortId, Conn*> byPort_;
  std::vector<std::unique_ptr<Conn>> graveyard_;
  HubStats stats_;
  bool running_ = false;
  std::atomic<bool> ended_{false};
  std::mutex evMu_;
  std::deque<HubEvent> events_;
};

Hub::Hub(HubOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Hub::~Hub() = default;
bool Hub::Start(std::function<void()> notify, std::string* error) { return impl_->Start(std::move(notify), error); }
void Hub::Stop() { impl_->Stop(); }
std::vector<HubClient> Hub::Clients() { return impl_->Clients(); }
HubStats Hub::Stats() { return impl_->Stats(); }
std::deque<HubEvent> Hub::TakeEvents() { return impl_->TakeEvents(); }

}  // namespace vpnws
}  // namespace tund
