// What the targets of the packet engine (native/src/engine/) share: a Core without threads (the
// target calls the transport and the transform itself, as the engine's rx thread would), an
// RxContext that collects what a transform delivers, and the engine's own TCP transport over a
// socket pair whose reads the target decides.
#pragma once

#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "../../../native/src/engine/engine.h"
#include "fuzz_common.h"

namespace fuzz {

// The engine's shared state with no threads. Its stop fd is readable from the start: a
// transport that would wait for more bytes returns -1 at once and keeps its state for the next
// call, so the target decides when bytes arrive.
class TestCore : public tund::engine::Core {
 public:
  explicit TestCore(tund::engine::Transform* transform = nullptr) {
    transform_ = transform;
    stopFd_ = eventfd(1, EFD_CLOEXEC);
    FUZZ_CHECK(stopFd_ >= 0, "eventfd failed");
  }
  ~TestCore() { close(stopFd_); }
  TestCore(const TestCore&) = delete;
  TestCore& operator=(const TestCore&) = delete;

  // What the transform queued for the tx thread (cookie replies), taken out.
  std::deque<tund::engine::Outgoing> TakeOutgoing() {
    std::deque<tund::engine::Outgoing> out;
    out.swap(outgoing_);
    return out;
  }
  // The reason of the "ended" event, "" while running.
  std::string EndReason() {
    for (auto& e : events_->TakeAll()) {
      if (e.type == "ended") ended_reason_ = e.reason;
      else kept_.push_back(std::move(e));
    }
    return ended_reason_;
  }
  // The other events (after EndReason or TakeEvents moved them out of the queue).
  std::deque<tund::engine::Event> TakeEvents() {
    EndReason();
    std::deque<tund::engine::Event> out;
    out.swap(kept_);
    return out;
  }

 private:
  std::string ended_reason_;
  std::deque<tund::engine::Event> kept_;
};

// Collects the packets a transform delivers while it opens one message, and checks that a
// packet delivered in place lies inside that message.
class CollectRx : public tund::engine::RxContext {
 public:
  CollectRx(TestCore& core, size_t maxDelivered, bool awaitingPeer = false)
      : core_(core), maxDelivered_(maxDelivered), awaiting_(awaitingPeer) {}

  // (and the time the engine would stamp on the receive it came with)
  void Opening(const tund::engine::Message& msg) {
    msg_ = msg;
    roundMs_ = tund::MonotonicMs();
  }
  void Deliver(uint8_t* p, size_t len) override {
    FUZZ_CHECK(p >= msg_.data && p + len <= msg_.data + msg_.len, "a packet of %zu bytes delivered in place outside the message", len);
    packets.emplace_back(p, p + len);
  }
  void DeliverCopy(const uint8_t* p, size_t len) override {
    FUZZ_CHECK(len <= maxDelivered_, "a copied packet of %zu bytes (at most %zu)", len, maxDelivered_);
    packets.emplace_back(p, p + len);
  }
  bool AwaitingPeer() const override { return awaiting_; }
  bool PinPeer(const tund::engine::Message& msg) override {
    FUZZ_CHECK(awaiting_, "PinPeer while not awaiting a peer");
    awaiting_ = false;
    pins++;
    return true;
  }
  tund::engine::Core& core() override { return core_; }

  std::vector<std::vector<uint8_t>> packets;
  int pins = 0;

 private:
  TestCore& core_;
  size_t maxDelivered_;
  bool awaiting_;
  tund::engine::Message msg_;
};

// The engine's TCP transport (MakeTcpTransport) reading from an AF_UNIX SOCK_SEQPACKET pair:
// every Feed is exactly one read() of the transport (a record is never merged or split), so the
// target chooses how the stream is cut into reads.
class StreamFeeder {
 public:
  StreamFeeder(TestCore& core, tund::engine::Framer* framer) : core_(core), framer_(framer), compact_(65536) {
    FUZZ_CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds_) == 0, "socketpair failed");
    fcntl(fds_[0], F_SETFL, fcntl(fds_[0], F_GETFL) | O_NONBLOCK);
    transport_ = tund::engine::MakeTcpTransport(fds_[0], framer, {});
    transport_->Start(core_);
  }
  ~StreamFeeder() {
    close(fds_[0]);
    if (fds_[1] >= 0) close(fds_[1]);
  }
  StreamFeeder(const StreamFeeder&) = delete;
  StreamFeeder& operator=(const StreamFeeder&) = delete;

  // The next read returns these n > 0 bytes.
  void Feed(const uint8_t* p, size_t n) {
    FUZZ_CHECK(n > 0 && write(fds_[1], p, n) == static_cast<ssize_t>(n), "write of %zu bytes to the socket pair", n);
  }
  // The peer closes: the next read is EOF.
  void Close() {
    close(fds_[1]);
    fds_[1] = -1;
  }
  // The transport's Receive: messages cut from what was fed, or -1 when it needs more (or ended).
  // (After a read that took less than it asked for, the transport waits before it reads again: a
  // byte stream had nothing more then. Here every wait is a stop, and a record of the socket pair
  // is one read, so the first -1 may come with records still unread: one more call reads them.)
  int Receive(tund::engine::Message* out, int max) {
    const int n = transport_->Receive(core_, out, max);
    return n >= 0 || !core_.EndReason().empty() ? n : transport_->Receive(core_, out, max);
  }
  // The lone-packet path's read (Engine::LoneRx): one whole frame, 0 (nothing now), -1 (ended) or
  // kNotAlone (Receive's: what it read stays buffered).
  int ReceiveOne(tund::engine::Message* out) { return transport_->ReceiveOne(core_, out); }
  // The compact lone path's read over a stream (Engine::CompactStreamRx, which reads the socket
  // itself): when nothing is buffered, one read into a buffer of its own; exactly one whole frame
  // is taken there (1, counted as the engine counts it), anything else goes to the transport
  // (Adopt) for Receive (kNotAlone). 0: nothing now; -1: ended.
  int CompactOne(tund::engine::Message* out) {
    if (transport_->Buffered()) return tund::engine::kNotAlone;
    const ssize_t r = read(fds_[0], compact_.data(), compact_.size());
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
    if (r <= 0) return transport_->ReceiveFailed(core_, r);
    const size_t got = static_cast<size_t>(r);
    const tund::engine::Split s = framer_->Next(compact_.data(), got);
    if (s.kind != tund::engine::Split::Frame || s.len != got) {
      transport_->Adopt(core_, compact_.data(), got, got < compact_.size());
      return tund::engine::kNotAlone;
    }
    core_.c.rxWireBytes.fetch_add(got, std::memory_order_relaxed);
    core_.c.rxFrames.fetch_add(1, std::memory_order_relaxed);
    *out = tund::engine::Message{};
    out->data = compact_.data();
    out->len = got;
    return 1;
  }

 private:
  TestCore& core_;
  tund::engine::Framer* framer_;
  std::vector<uint8_t> compact_;  // CompactOne's buffer (the engine's LonePage::rx[0])
  int fds_[2] = {-1, -1};
  std::unique_ptr<tund::engine::Transport> transport_;
};

// The read plan of the stream targets: `count` bytes, each one read's size (0: all the rest, else
// 1..600), used in turn.
inline std::vector<size_t> ReadPlan(const uint8_t* p, size_t count) {
  std::vector<size_t> plan;
  for (size_t i = 0; i < count; i++) plan.push_back(p[i] == 0 ? 0 : 1 + (p[i] * 37u) % 600);
  return plan;
}

// Feeds `total` bytes to `feeder` in the reads of `plan` (all at once when it is empty), calling
// after(fed) after each read; stops early when it returns false. Returns the bytes fed.
template <typename After>
size_t FeedByPlan(StreamFeeder& feeder, const uint8_t* stream, size_t total, const std::vector<size_t>& plan, After after) {
  size_t fed = 0, step = 0;
  while (fed < total) {
    size_t want = plan.empty() ? 0 : plan[step++ % plan.size()];
    size_t n = want == 0 ? total - fed : std::min(want, total - fed);
    feeder.Feed(stream + fed, n);
    fed += n;
    if (!after(fed)) break;
  }
  return fed;
}

}  // namespace fuzz
