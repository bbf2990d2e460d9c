// The engine's threads and shared state: see engine.h.
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

#include "../errors.h"

namespace tund {
namespace engine {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

namespace {

constexpr int kRxBatchMin = 64;

void Signal(int fd) {
  if (fd < 0) return;
  uint64_t one = 1;
  ssize_t r = write(fd, &one, sizeof one);
  (void)r;
}

// A thread's name as `top -H` and /proc/PID/task/*/comm show it (at most 15 characters).
void NameThread(const char* name) { pthread_setname_np(pthread_self(), name); }

void Drain(int fd) {
  uint64_t v;
  ssize_t r = read(fd, &v, sizeof v);
  (void)r;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// EventQueue

bool EventQueue::Push(Event&& e, bool bounded, std::atomic<uint64_t>* drops) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (bounded && q_.size() >= limit_) {
      if (drops) drops->fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    q_.push_back(std::move(e));
  }
  EventSink* sink = sink_.load();
  if (sink && !notified_.exchange(true)) sink->Notify();
  return true;
}

size_t EventQueue::Size() {
  std::lock_guard<std::mutex> lock(mu_);
  return q_.size();
}

std::deque<Event> EventQueue::TakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  std::deque<Event> out;
  out.swap(q_);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Core

void Core::End(const char* reason, const std::string& message) {
  if (ended_.exchange(true)) return;
  if (!stopping_.load()) {
    if (transform_) transform_->OnEnd(reason);
    if (!eventSent_.exchange(true)) {
      Event e;
      e.type = "ended";
      e.reason = reason;
      e.message = message;
      events_->Push(std::move(e), false, nullptr);
    }
  }
  Signal(stopFd_);
}

bool Core::StopRequested() const {
  struct pollfd p = {stopFd_, POLLIN, 0};
  return poll(&p, 1, 0) > 0;
}

bool Core::WaitFd(int fd, short events, int timeoutMs) const {
  struct pollfd p[2] = {{fd, events, 0}, {stopFd_, POLLIN, 0}};
  for (;;) {
    int r = poll(p, 2, timeoutMs);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    if (p[1].revents) return false;
    return true;
  }
}

void Core::WakeTx() { Signal(wakeFd_); }

bool Core::QueueOutgoing(Outgoing&& m) {
  {
    std::lock_guard<std::mutex> lock(outMu_);
    if (outgoing_.size() >= kMaxOutgoing) {
      c.txDropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    outgoing_.push_back(std::move(m));
  }
  WakeTx();
  return true;
}

// ---------------------------------------------------------------------------------------------
// Engine

Engine::Engine(std::unique_ptr<Device> device, std::unique_ptr<Transport> transport, Transform* transform,
               EngineOptions options)
    : device_(std::move(device)), transport_(std::move(transport)), o_(options) {
  transform_ = transform;
  if (o_.batch < 1) o_.batch = 1;
  if (o_.batch > 1024) o_.batch = 1024;
}

Engine::~Engine() {
  events_->SetSink(nullptr);  // the JS side is going away: nothing more goes up
  Stop(false);
}

bool Engine::Start(EventSink* sink, std::string* error) {
  if (stopped_) {
    *error = "stopped: an engine runs once (make a new one)";
    return false;
  }
  if (started_) {
    *error = "already started";
    return false;
  }
  auto fail = [&](int err, const char* what) {
    *error = std::string(what) + ": " + ErrnoText(err);
    if (stopFd_ >= 0) close(stopFd_);
    if (wakeFd_ >= 0) close(wakeFd_);
    stopFd_ = wakeFd_ = -1;
    return false;
  };
  stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stopFd_ < 0) return fail(errno, "eventfd");
  wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wakeFd_ < 0) return fail(errno, "eventfd");
  for (int fd : {device_->Fd(), transport_->Fd()}) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return fail(errno, "fcntl");
  }
  events_->SetSink(sink);
  transport_->Start(*this);
  device_->Start(*this);
  transform_->Start(*this);
  startMs_ = NowMs();
  WakeTx();  // a first round sends what JS queued before start()
  try {
    tx_ = std::thread([this] { TxLoop(); });
    rx_ = std::thread([this] { RxLoop(); });
  } catch (const std::exception& e) {
    // a thread that did start is told to exit and joined: nothing is left running
    stopping_ = true;
    Signal(stopFd_);
    if (tx_.joinable()) tx_.join();
    *error = std::string("cannot start the engine's threads: ") + e.what();
    close(stopFd_);
    close(wakeFd_);
    stopFd_ = wakeFd_ = -1;
    stopped_ = true;
    return false;
  }
  started_ = true;
  return true;
}

void Engine::Stop(bool emit) {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;  // never started: nothing runs, nothing to close
  stopping_ = true;
  Signal(stopFd_);
  if (tx_.joinable()) tx_.join();
  if (rx_.joinable()) rx_.join();
  device_->Stop();
  close(transport_->Fd());
  close(stopFd_);
  close(wakeFd_);
  stopFd_ = wakeFd_ = -1;
  ended_ = true;
  if (!eventSent_.exchange(true) && emit) {
    Event e;
    e.type = "ended";
    e.reason = kEndStopped;
    e.message = "stop() was called";
    events_->Push(std::move(e), false, nullptr);
  }
}

// Remaining ms before data may flow (hold after start, shaping window); 0 = read the device now.
int Engine::HoldMs(int64_t now) {
  if (o_.holdMs > 0 && now - startMs_ < o_.holdMs) return static_cast<int>(o_.holdMs - (now - startMs_));
  if (o_.txBytesPerSecond > 0) {
    if (now - shapeStartMs_ >= 1000) {
      shapeStartMs_ = now;
      shapeBytes_ = 0;
    }
    if (shapeBytes_ > o_.txBytesPerSecond) return static_cast<int>(1000 - (now - shapeStartMs_)) + 1;
  }
  return 0;
}

// The tx side's batch of wire messages: owned slots for what the transform builds, views for
// what it sealed in place. Sent when full and at the end of each round.
class Engine::Tx : public TxContext {
 public:
  Tx(Engine& e, size_t slots, size_t slotBytes) : e_(e), slots_(slots, slotBytes), msgs_(slots), to_(slots) {}
  Message* Add() override {
    if (n_ == msgs_.size() && !Flush()) return nullptr;
    Message* m = &msgs_[n_];
    *m = Message{};
    m->data = slots_[n_];
    n_++;
    return m;
  }
  size_t SlotBytes() const override { return slots_.Bytes(); }
  void SetDestination(Message* m, const Endpoint& to) override {
    size_t i = static_cast<size_t>(m - msgs_.data());
    to_[i] = to;
    m->peer = &to_[i];
  }
  // The messages JS queued (Core::QueueOutgoing): kept until the next round, sent as views.
  void AddOutgoing() {
    {
      std::lock_guard<std::mutex> lock(e_.outMu_);
      sending_.clear();
      sending_.swap(e_.outgoing_);
    }
    for (Outgoing& o : sending_) {
      Message* m = Add();
      if (!m) return;
      m->data = o.data.data();
      m->len = o.data.size();
      if (!o.to.Empty()) SetDestination(m, o.to);
    }
  }
  bool AwaitingPeer() const override { return e_.transport_->AwaitingPeer(); }
  Core& core() override { return e_; }
  // Sends what is queued; false when the engine ended or stops.
  bool Flush() {
    size_t n = n_;
    n_ = 0;
    if (n == 0) return !e_.Ended();
    return e_.transport_->Send(e_, msgs_.data(), n);
  }
  void FlushFinal() {
    if (n_ > 0) e_.transport_->SendFinal(e_, msgs_.data(), n_);
    n_ = 0;
  }
  // Bytes of the messages added since index `from` (for shaping).
  size_t Mark() const { return n_; }
  int64_t BytesSince(size_t from) const {
    int64_t b = 0;
    for (size_t i = from; i < n_; i++) b += static_cast<int64_t>(msgs_[i].len);
    return b;
  }

 private:
  Engine& e_;
  Slots slots_;
  std::vector<Message> msgs_;
  std::vector<Endpoint> to_;
  std::deque<Outgoing> sending_;
  size_t n_ = 0;
};

void Engine::TxLoop() {
  NameThread("tund-tx");
  const int batch = o_.batch;
  const size_t headroom = transform_->Headroom();
  const size_t cap = transform_->MaxPacket();
  Slots pktSlots(static_cast<size_t>(batch), headroom + cap + transform_->Tailroom());
  std::vector<Message> pkts(static_cast<size_t>(batch));
  // room for a whole device batch plus the control messages of one round
  Tx tx(*this, static_cast<size_t>(batch) + 16, transform_->TxSlotBytes());
  const int devFd = device_->Fd();
  struct pollfd p[3];
  while (!Ended()) {
    int hold = HoldMs(NowMs());
    // the rest of a cut super-packet is read at once, without waiting for the fd
    const bool pending = hold <= 0 && device_->Pending();
    p[0] = {stopFd_, POLLIN, 0};
    p[1] = {wakeFd_, POLLIN, 0};
    p[2] = {devFd, POLLIN, 0};
    int n = poll(p, hold > 0 ? 2 : 3, hold > 0 ? hold : pending ? 0 : -1);
    if (n < 0 && errno != EINTR) {
      End(kEndDeviceError, std::string("poll: ") + ErrnoText(errno));
      break;
    }
    if (n < 0) continue;
    if (p[0].revents) break;
    // what JS queued comes with a wake-up (QueueOutgoing pushes, then wakes): no lock per round
    if (p[1].revents) {
      Drain(wakeFd_);
      tx.AddOutgoing();
    }
    transform_->CollectOutgoing(tx);
    if (hold <= 0 && ((n > 0 && p[2].revents) || pending)) {
      if (p[2].revents & (POLLERR | POLLNVAL)) {
        End(kEndDeviceError, "device fd error");
        break;
      }
      // With shaping on, one packet at a time: stop reading as soon as the window is full.
      const bool shaping = o_.txBytesPerSecond > 0;
      int got = 0;
      while (got < batch && !Ended()) {
        int max = shaping ? 1 : batch - got;
        int r = device_->Read(*this, pktSlots, static_cast<size_t>(got), headroom, cap, pkts.data() + got, max,
                              got == 0 && (p[2].revents & POLLHUP));
        if (r <= 0) break;
        for (int i = got; i < got + r; i++) {
          c.txPackets.fetch_add(1, std::memory_order_relaxed);
          c.txBytes.fetch_add(pkts[i].len, std::memory_order_relaxed);
          size_t mark = tx.Mark();
          transform_->Seal(pkts[i], tx);
          if (shaping) shapeBytes_ += tx.BytesSince(mark);
        }
        got += r;
        if (shaping && HoldMs(NowMs()) > 0) break;
        if (r < max) break;  // the device has nothing more right now
      }
      if (got > 0) c.txBatches.fetch_add(1, std::memory_order_relaxed);
    }
    if (!tx.Flush()) break;
  }
  transform_->CollectFinal(tx);
  tx.FlushFinal();
}

// The rx side's batch of packets for the device.
class Engine::Rx : public RxContext {
 public:
  Rx(Engine& e, size_t slots, size_t slotBytes) : e_(e), copies_(slots, slotBytes), pkts_(slots) {}
  void Deliver(uint8_t* p, size_t len) override {
    if (n_ == pkts_.size() && !Flush()) return;
    pkts_[n_] = Message{};
    pkts_[n_].data = p;
    pkts_[n_].len = len;
    n_++;
  }
  void DeliverCopy(const uint8_t* p, size_t len) override {
    if (len > copies_.Bytes()) {
      e_.c.badFrames.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (n_ == pkts_.size() && !Flush()) return;
    std::memcpy(copies_[n_], p, len);
    pkts_[n_] = Message{};
    pkts_[n_].data = copies_[n_];
    pkts_[n_].len = len;
    n_++;
  }
  bool AwaitingPeer() const override { return e_.transport_->AwaitingPeer(); }
  bool PinPeer(const Message& msg) override {
    if (!e_.transport_->AwaitingPeer() || msg.peer == nullptr) return !e_.Ended();
    return e_.transport_->Pin(e_, *msg.peer);
  }
  Core& core() override { return e_; }
  bool Flush() {
    size_t n = n_;
    n_ = 0;
    if (n == 0) return true;
    e_.c.rxBatches.fetch_add(1, std::memory_order_relaxed);
    return e_.device_->Write(e_, pkts_.data(), n);
  }

 private:
  Engine& e_;
  Slots copies_;
  std::vector<Message> pkts_;
  size_t n_ = 0;
};

void Engine::RxLoop() {
  NameThread("tund-rx");
  // Deliveries per device write round: what one GRO read of the socket brings (up to 64
  // datagrams), so that the device can coalesce a whole 64 KiB super-packet (docs/engine.md).
  const int batch = std::max(o_.batch, kRxBatchMin);
  std::vector<Message> msgs(static_cast<size_t>(batch));
  Rx rx(*this, static_cast<size_t>(batch), transform_->MaxDelivered());
  for (;;) {
    int n = transport_->Receive(*this, msgs.data(), batch);
    if (n < 0) break;
    for (int i = 0; i < n && !Ended(); i++) {
      Message& m = msgs[i];
      if (m.truncated) {
        c.badFrames.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      transform_->Open(m, rx);
    }
    // what was opened before an end is still written (the peer sent it before closing)
    if (!rx.Flush() || Ended()) break;
  }
}

}  // namespace engine
}  // namespace tund
