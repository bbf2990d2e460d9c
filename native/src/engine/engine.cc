// The engine's threads and shared state: see engine.h.
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "../errors.h"
#include "offload.h"
#include "shared_stamp.h"
#include "sys.h"
#include "udp_gro.h"

namespace tund {
namespace engine {

namespace {

constexpr int kRxBatchMin = 64;
// The largest round the tx thread sends itself (Tx::Flush): beyond it, the wake-up a hand-off
// costs is spread over enough packets, and sending them on this thread would delay the next read.
constexpr int kInlineMaxPackets = 8;
// The rx thread's turnarounds that found nothing, in a row, before it looks only now and then.
constexpr int kRxMissLimit = 4;
constexpr unsigned kRxRetryEvery = 16;
// The single loop hands the device back to the rx thread after this long without a heavy round.
constexpr int64_t kQuietMs = 50;

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

// This thread, as Core::loopThread_ names it (a read of the thread register, no call).
const void* ThisThread() { return __builtin_thread_pointer(); }

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
  struct pollfd p = {fd, events, 0};
  return WaitAny(&p, 1, timeoutMs) == 1;
}

int Core::WaitAny(struct pollfd* fds, size_t n, int timeoutMs) const {
  // the rx thread's wait for a received message, in the single loop: it watches the device too
  if (loopThread_.load(std::memory_order_relaxed) == ThisThread() && n == 1 && fds[0].events == POLLIN && timeoutMs < 0)
    return static_cast<Engine*>(const_cast<Core*>(this))->LoopWait(fds[0]);  // (only an Engine sets it)
  // (the transports wait on one fd whenever they find it empty: no heap allocation for that)
  constexpr size_t kOnStack = 8;
  struct pollfd small[kOnStack];
  std::vector<struct pollfd> large;
  struct pollfd* p = small;
  if (n + 1 > kOnStack) {
    large.resize(n + 1);
    p = large.data();
  }
  std::copy(fds, fds + n, p);
  p[n] = {stopFd_, POLLIN, 0};
  for (;;) {
    int r = sys::Poll(p, n + 1, timeoutMs);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || p[n].revents) return -1;
    if (r == 0) return 0;
    for (size_t i = 0; i < n; i++) fds[i].revents = p[i].revents;
    return 1;
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

// The lone-packet path's compact form (docs/engine.md, "The lone-packet path"). After an idle
// spell what a lone packet costs is mostly the code it runs, line by line cold: LoneTx and LoneRx
// go through the device's and the transport's general reads and writes. Once only the peer can
// send to the socket (Transport::OnlyPeer), to a tun with virtio_net_hdr, CompactTx and
// CompactRx make the same system calls themselves, on buffers that start on one page with
// everything they use, under the same rules and counters. What is not one plain packet goes the
// general way: a super-packet to the device's cuts (AdoptSuper), a burst, a GRO train, a control
// or bad frame to the round's Open (over a stream: its bytes to the transport's buffer, Adopt),
// a send a stream did not take whole to the round's flush, a failed write or send to the
// device's or transport's own.
struct Engine::LonePage {
  static constexpr size_t kWhole = 65536;  // a super-packet, a GRO train
  struct mmsghdr msgs[2];
  struct iovec rxIov[2];
  struct iovec txIov[2];
  alignas(8) uint8_t ctl[2][kGroCmsgSpace];
  uint8_t txHdr[offload::kVnetHdrLen];
  uint8_t zeroHdr[offload::kVnetHdrLen];
  int sock, dev;
  size_t vnetLen, maxPacket, rxSlotBytes;
  bool gro;
  Framer* framer;  // a stream's (its frames are cut from what a read brings), or none
  uint8_t* tx;  // the packet's place, after the headroom
  uint8_t* rx[2];

  static std::unique_ptr<LonePage, LonePageFree> Make(Engine& e) {
    const size_t head = (sizeof(LonePage) + 63) & ~size_t{63};
    const size_t txBytes = (e.transform_->Headroom() + kWhole + e.transform_->Tailroom() + 63) & ~size_t{63};
    const size_t total = (head + txBytes + 2 * kWhole + 4095) & ~size_t{4095};
    void* mem = aligned_alloc(4096, total);  // (only the pages a packet touches become resident)
    if (mem == nullptr) return nullptr;
    LonePage* p = new (mem) LonePage();
    uint8_t* base = static_cast<uint8_t*>(mem);
    p->sock = e.transport_->Fd();
    p->dev = e.device_->Fd();
    p->vnetLen = e.device_->VnetHeaderLen();
    p->maxPacket = e.transform_->MaxPacket();
    p->rxSlotBytes = e.transform_->RxSlotBytes();
    p->gro = e.transport_->Gro();
    p->framer = e.transport_->IsStream() ? e.transform_->StreamFramer() : nullptr;
    p->tx = base + head + e.transform_->Headroom();
    p->txIov[0] = {p->txHdr, p->vnetLen};
    p->txIov[1] = {p->tx, kWhole};
    for (int i = 0; i < 2; i++) {
      p->rx[i] = base + head + txBytes + static_cast<size_t>(i) * kWhole;
      p->rxIov[i] = {p->rx[i], kWhole};
      p->msgs[i].msg_hdr.msg_iov = &p->rxIov[i];
      p->msgs[i].msg_hdr.msg_iovlen = 1;
      if (p->gro) p->msgs[i].msg_hdr.msg_control = p->ctl[i];
    }
    return std::unique_ptr<LonePage, LonePageFree>(p);
  }
};

void Engine::LonePageFree::operator()(LonePage* p) const {
  p->~LonePage();
  free(p);
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
  netFd_ = transport_->Fd();
  for (int fd : {device_->Fd(), netFd_}) {
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return fail(errno, "fcntl");
  }
  events_->SetSink(sink);
  transport_->Start(*this);
  // authenticated packets are coalesced without verifying their checksums (kernel WireGuard
  // trusts them likewise); TUND_NO_WG_CHECKSUM_TRUST=1 verifies them as any other
  device_->SetAuthenticatedWrites(transform_->Authenticated() && !SwitchedOff("TUND_NO_WG_CHECKSUM_TRUST"));
  device_->Start(*this);
  transform_->Start(*this);
  // The send thread (TUND_NO_SEND_THREAD=1 turns it off): not with shaping, which counts what
  // each round sealed as it goes.
  pipelined_ = o_.txBytesPerSecond == 0 && !SwitchedOff("TUND_NO_SEND_THREAD");
  // ... which a small round that drained the device skips while it is idle
  // (TUND_NO_INLINE_SEND=1: every round goes through it)
  const bool sendInline = !SwitchedOff("TUND_NO_INLINE_SEND");
  // The rx thread's own rounds after a device write (RxTurnaround; TUND_NO_RX_SEND=1 turns them
  // off). Not on a byte-stream device (pipe, pty: the answer comes from another process, never
  // inside our write), not with shaping (the tx thread meters the reads), and only through a
  // transport that can send without waiting for the peer (Transport::CanTrySend); a stream also
  // needs the send thread, which takes over what a full socket did not take.
  const bool rxMaySend = !device_->Stream() && o_.txBytesPerSecond == 0 && transport_->CanTrySend() &&
                         (pipelined_ || !transport_->IsStream());
  rxSends_ = rxMaySend && !SwitchedOff("TUND_NO_RX_SEND");
  // The single loop (LoopWait; TUND_NO_SINGLE_LOOP=1 turns it off), where the rx thread may send:
  // it starts single unless a hold keeps the device unread for a while.
  singleLoop_ = rxMaySend && !SwitchedOff("TUND_NO_SINGLE_LOOP");
  single_.store(singleLoop_ && o_.holdMs <= 0);
  // The lone-packet path (LoneTx/LoneRx; TUND_NO_LONE_PATH=1 turns it off), inside the single
  // loop, for a transform whose Seal it may call outside a round. (A hold keeps the loop split
  // until it is over: lastBusyMs_ below.)
  lone_ = singleLoop_ && transform_->SealsAlone() && !SwitchedOff("TUND_NO_LONE_PATH");
  // Its compact form (CompactTx/CompactRx; TUND_NO_COMPACT_LONE_PATH=1 turns it off): to a tun
  // with virtio_net_hdr, once only the peer can send (LoneRx asks).
  if (lone_ && device_->VnetHeaderLen() > 0 && !SwitchedOff("TUND_NO_COMPACT_LONE_PATH"))
    page_ = LonePage::Make(*this);
  txs_ = std::make_unique<TxSide>(*this, o_.batch, transform_->Headroom() + transform_->MaxPacket() + transform_->Tailroom(),
                                  transform_->TxSlotBytes(), pipelined_, sendInline);
  startMs_ = MonotonicMs();
  lastBusyMs_.store(startMs_ + std::max<int64_t>(o_.holdMs, 0));
  WakeTx();  // a first round sends what JS queued before start()
  try {
    tx_ = std::thread([this] { TxLoop(); });
    rx_ = std::thread([this] { RxLoop(); });
  } catch (const std::exception& e) {
    // a thread that did start is told to exit and joined: nothing is left running; then what
    // Start set on the device (the tun's offloads) is taken back, as Stop does
    stopping_ = true;
    Signal(stopFd_);
    if (tx_.joinable()) tx_.join();
    device_->Stop();
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

// The tx side's batches of wire messages: owned slots for what the transform builds, views for
// what it sealed in place. Sent when full and at the end of each round: by the tx thread itself,
// or, with the send thread (docs/engine.md, "Both cores"), handed to it in order while the tx
// thread reads and seals the next round.
struct Engine::TxBatch {
  TxBatch(size_t slots, size_t slotBytes) : slots(slots, slotBytes), msgs(slots), to(slots) {}
  Slots slots;
  std::vector<Message> msgs;
  std::vector<Endpoint> to;
  size_t n = 0;
  size_t first = 0;       // messages before it are sent (the rx thread's round, cut short by a full stream)
  int parity = 0;         // which set of device packet slots its in-place messages point into
  bool outgoing = false;  // it may point into what AddOutgoing/CollectOutgoing keep for one round
};

class Engine::Tx : public TxContext {
 public:
  Tx(Engine& e, size_t slots, size_t slotBytes, bool pipelined, bool sendInline)
      : e_(e), pipelined_(pipelined), inline_(sendInline), cutInline_(!SwitchedOff("TUND_NO_CUT_INLINE")) {
    for (int i = 0; i < (pipelined ? kBatches : 1); i++) {
      batches_.push_back(std::make_unique<TxBatch>(slots, slotBytes));
      if (i > 0) e_.sendFree_.push_back(batches_.back().get());
    }
    cur_ = batches_[0].get();
  }
  Message* Add() override {
    if (cur_->n == cur_->msgs.size() && !Flush()) return nullptr;
    added_++;
    Message* m = &cur_->msgs[cur_->n];
    *m = Message{};
    m->data = cur_->slots[cur_->n];
    cur_->n++;
    return m;
  }
  size_t SlotBytes() const override { return cur_->slots.Bytes(); }
  void SetDestination(Message* m, const Endpoint& to) override {
    size_t i = static_cast<size_t>(m - cur_->msgs.data());
    cur_->to[i] = to;
    m->peer = &cur_->to[i];
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

  // A new round, whose device packets go into slot set `parity`. With the send thread, waits until
  // no batch still in flight points into what this round reuses: that slot set, and what
  // AddOutgoing and the transform's CollectOutgoing kept for the last round that added messages
  // (JS's messages, WireGuard's staged packets). false: the engine ended or stops.
  bool BeginRound(int& parity) {
    roundMs_ = MonotonicMs();
    if (!pipelined_) return true;
    if (e_.SendIdle()) {
      // nothing in flight points into either slot set or into what any round kept
      parity_ = parity;
      outgoing_ = true;
      collected_ = added_;
      return !e_.sendFailed_.load(std::memory_order_relaxed);
    }
    std::unique_lock<std::mutex> lock(e_.sendMu_);
    // the set the last round used when nothing points into it any more (that round went out on
    // this thread): its packets are still in the caches; else the other one
    if (e_.inflight_[parity] != 0) parity ^= 1;
    e_.sendCv_.wait(lock, [&] { return e_.sendFailed_ || (e_.inflight_[parity] == 0 && e_.outgoingInflight_ == 0); });
    parity_ = parity;
    outgoing_ = true;  // until EndCollect knows better
    collected_ = added_;
    return !e_.sendFailed_;
  }
  // After AddOutgoing/CollectOutgoing: the round's batches point into what they keep only if they
  // added messages.
  void EndCollect() { outgoing_ = added_ != collected_; }
  // Sends (or hands on) what is queued; false when the engine ended or stops. `light`: the round
  // ends, it was small (kInlineMaxPackets) and the device had nothing more to read. Such a round
  // (a lone packet, light traffic) is sent on this thread when the send thread is idle: a
  // hand-off would cost a cross-thread wake-up per packet, twice per round trip (docs/engine.md,
  // "Latency"), and this thread has nothing else to do until the device has more. Larger rounds
  // of small packets are handed on, so that under load the next round is read and sealed while
  // this one goes out. `cut`: the round's packets were cut from super-packets (a bulk TCP flow);
  // such a round goes out here too when the send thread is idle: a stream gains less from the
  // overlap than a third busy thread costs it on two cores (docs/engine.md, "Both cores").
  bool Flush(bool light = false, bool cut = false) {
    if (cur_->n == 0) return !e_.Ended();
    std::unique_lock<std::mutex> lock(e_.sendMu_, std::defer_lock);
    if (pipelined_) {
      lock.lock();
      if (e_.sendFailed_) return false;
    }
    // (an empty queue: the send thread is idle, every earlier batch is out, nothing reorders; it
    // only takes what the tx side queues, under txMu_, so it stays idle while this thread sends)
    if (!pipelined_ || ((light || (cut && cutInline_)) && inline_ && e_.sendQueue_.empty())) {
      if (lock.owns_lock()) lock.unlock();
      size_t n = cur_->n;
      cur_->n = 0;
      if (pipelined_) {
        e_.c.inlineSends.fetch_add(1, std::memory_order_relaxed);
        if (!light) e_.c.cutInlineSends.fetch_add(1, std::memory_order_relaxed);
      }
      return e_.transport_->Send(e_, cur_->msgs.data(), n);
    }
    return HandOn(lock);
  }
  // The rx thread's round (Engine::RxTurnaround: the send queue was empty, so nothing reorders):
  // what it added goes out on the rx thread without waiting for the peer; what a full stream did
  // not take goes to the send thread, ahead of anything the tx thread queues later.
  bool FlushFromRx() {
    if (cur_->n == 0) return !e_.Ended();
    if (pipelined_) {
      if (e_.sendFailed_.load(std::memory_order_relaxed)) return false;
      if (!e_.SendIdle()) {
        // a round that filled a batch (Add) handed that one on: this one follows it, in order
        std::unique_lock<std::mutex> lock(e_.sendMu_);
        if (e_.sendFailed_) return false;
        if (!e_.sendQueue_.empty()) return HandOn(lock);
      }
    }
    int sent = e_.transport_->TrySend(e_, cur_->msgs.data(), cur_->n);
    if (sent < 0) return false;
    if (static_cast<size_t>(sent) >= cur_->n) {
      cur_->n = 0;
      return true;
    }
    std::unique_lock<std::mutex> lock(e_.sendMu_);
    if (e_.sendFailed_) return false;
    cur_->first = static_cast<size_t>(sent);
    return HandOn(lock);
  }
  // Queues the current batch for the send thread (sendMu_ held) and takes a free one.
  bool HandOn(std::unique_lock<std::mutex>& lock) {
    cur_->parity = parity_;
    cur_->outgoing = outgoing_;
    e_.inflight_[parity_]++;
    if (outgoing_) e_.outgoingInflight_++;
    e_.sendQueue_.push_back(cur_);
    e_.sendPending_.fetch_add(1, std::memory_order_relaxed);
    e_.sendCv_.notify_all();
    e_.sendCv_.wait(lock, [&] { return e_.sendFailed_ || !e_.sendFree_.empty(); });
    if (e_.sendFailed_) return false;
    cur_ = e_.sendFree_.front();
    e_.sendFree_.pop_front();
    cur_->n = 0;
    cur_->first = 0;
    return true;
  }
  // After the loop (the send thread joined): the last messages, best effort, on this thread.
  void FlushFinal() {
    if (cur_->n > 0) e_.transport_->SendFinal(e_, cur_->msgs.data(), cur_->n);
    cur_->n = 0;
  }
  // Bytes of the messages added since index `from` (for shaping, which has no send thread).
  size_t Mark() const { return cur_->n; }
  int64_t BytesSince(size_t from) const {
    int64_t b = 0;
    for (size_t i = from; i < cur_->n; i++) b += static_cast<int64_t>(cur_->msgs[i].len);
    return b;
  }

 private:
  static constexpr int kBatches = 4;
  Engine& e_;
  const bool pipelined_, inline_, cutInline_;
  std::vector<std::unique_ptr<TxBatch>> batches_;
  TxBatch* cur_ = nullptr;
  std::deque<Outgoing> sending_;
  int parity_ = 0;
  bool outgoing_ = false;
  uint64_t added_ = 0, collected_ = 0;
};

// What a tx round uses, shared by the tx thread's rounds and the rx thread's (under txMu_): the
// device packet slots (with the send thread, two sets: one being sent while the next round reads
// into the other), their descriptions, the batches.
struct Engine::TxSide {
  TxSide(Engine& e, int batch, size_t pktBytes, size_t txSlotBytes, bool pipelined, bool sendInline)
      : pktSlotSets{Slots(static_cast<size_t>(batch), pktBytes), Slots(pipelined ? static_cast<size_t>(batch) : 0, pktBytes)},
        pkts(static_cast<size_t>(batch)),
        // room for a whole device batch plus the control messages of one round
        tx(e, static_cast<size_t>(batch) + 16, txSlotBytes, pipelined, sendInline) {}
  Slots pktSlotSets[2];
  std::vector<Message> pkts;
  Tx tx;
  int parity = 0;
  bool done = false;  // the tx thread left its loop: no more rounds
  // The last round that read the device was not light: a bulk flow is leaving (its packets are
  // the tx thread's to read in full batches, pipelined with the send thread; a turnaround would
  // take them one round of the rx thread's at a time).
  bool heavy = false;
};

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

// The send thread: sends the batches the tx thread hands on, in order.
void Engine::SendLoop() {
  NameThread("tund-send");
  std::unique_lock<std::mutex> lock(sendMu_);
  for (;;) {
    sendCv_.wait(lock, [&] { return !sendQueue_.empty() || sendStop_; });
    if (sendQueue_.empty()) break;
    TxBatch* b = sendQueue_.front();
    lock.unlock();
    const bool ok = transport_->Send(*this, b->msgs.data() + b->first, b->n - b->first);
    lock.lock();
    if (!ok) sendFailed_ = true;  // (before the count drops: whoever sees it idle sees this too)
    sendQueue_.pop_front();
    // (release: the batch's slots are free to reuse for whoever sees the count drop, SendIdle)
    sendPending_.fetch_sub(1, std::memory_order_release);
    inflight_[b->parity]--;
    if (b->outgoing) outgoingInflight_--;
    sendFree_.push_back(b);
    sendCv_.notify_all();
    if (!ok) break;
  }
}

// Seals pkts[from, from + r) of the round just read (under txMu_). Returns r.
int Engine::SealRead(TxSide& s, int from, int r, bool shaping) {
  c.txPackets.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
  uint64_t bytes = 0;
  for (int i = from; i < from + r; i++) {
    bytes += s.pkts[i].len;
    size_t mark = s.tx.Mark();
    transform_->Seal(s.pkts[i], s.tx);
    if (shaping) shapeBytes_ += s.tx.BytesSince(mark);
  }
  c.txBytes.fetch_add(bytes, std::memory_order_relaxed);
  return r;
}

// A tx round's start (txMu_ held): the next set of packet slots, then what JS queued (`outgoing`:
// the wake-up that came with it was drained) and the transform's own messages. false: the engine
// ended or stops.
bool Engine::BeginTxRound(TxSide& s, bool outgoing) {
  if (!s.tx.BeginRound(s.parity)) return false;
  if (outgoing) s.tx.AddOutgoing();
  transform_->CollectOutgoing(s.tx);
  s.tx.EndCollect();
  return true;
}

// The round's device packets (txMu_ held): reads and seals until the device has nothing more now,
// `limit` packets are in, or (shaping) the window is full. Returns the count; `cut`: whether any
// of them was cut from a super-packet.
int Engine::ReadDevice(TxSide& s, int limit, bool hangup, bool shaping, bool* cut) {
  Slots& pktSlots = s.pktSlotSets[s.parity];
  int got = 0;
  while (got < limit && !Ended()) {
    // with shaping on, one packet at a time: stop reading as soon as the window is full
    int max = shaping ? 1 : limit - got;
    int r = device_->Read(*this, pktSlots, static_cast<size_t>(got), transform_->Headroom(), transform_->MaxPacket(),
                          s.pkts.data() + got, max, hangup && got == 0);
    if (r <= 0) break;
    got += SealRead(s, got, r, shaping);
    if (shaping && HoldMs(MonotonicMs()) > 0) break;
    if (r < max) break;  // the device has nothing more right now
  }
  if (got > 0) c.txBatches.fetch_add(1, std::memory_order_relaxed);
  const bool wasCut = device_->TakeCut();  // cleared on every round, whoever reads
  if (cut) *cut = wasCut;
  return got;
}

void Engine::TxLoop() {
  NameThread("tund-tx");
  const int batch = o_.batch;
  TxSide& s = *txs_;
  Tx& tx = s.tx;
  std::thread sender;
  if (pipelined_) {
    try {
      sender = std::thread([this] { SendLoop(); });
    } catch (const std::exception& e) {
      End(kEndDeviceError, std::string("cannot start the send thread: ") + e.what());
    }
  }
  const int devFd = device_->Fd();
  struct pollfd p[3];
  while (!Ended()) {
    int hold = HoldMs(MonotonicMs());
    // the device is this thread's unless the single loop has it (the rx thread then watches it:
    // this thread would only be woken for what that one reads and sends)
    const bool mine = !single_.load(std::memory_order_acquire);
    bool pending = false;
    if (hold <= 0 && mine) {
      // the rest of a cut super-packet is read at once, without waiting for the fd
      std::lock_guard<std::mutex> round(txMu_);
      pending = device_->Pending();
    }
    p[0] = {stopFd_, POLLIN, 0};
    p[1] = {wakeFd_, POLLIN, 0};
    p[2] = {devFd, POLLIN, 0};
    int n = sys::Poll(p, hold > 0 || !mine ? 2 : 3, hold > 0 ? hold : pending ? 0 : -1);
    if (n < 0 && errno != EINTR) {
      End(kEndDeviceError, std::string("poll: ") + ErrnoText(errno));
      break;
    }
    if (n < 0) continue;
    if (p[0].revents) break;
    // the rx thread took the device over while this thread waited on it: nothing to do here
    if (!p[1].revents && p[2].revents && single_.load(std::memory_order_acquire)) continue;
    // (the rx thread may have read what woke us, and sent it: this round then reads nothing)
    std::lock_guard<std::mutex> round(txMu_);
    // what JS queued comes with a wake-up (QueueOutgoing pushes, then wakes): no lock per round
    if (p[1].revents) Drain(wakeFd_);
    if (!BeginTxRound(s, p[1].revents != 0)) break;
    bool light = true;  // a small round that drained the device (see Tx::Flush)
    bool cut = false;   // the round's packets were cut from super-packets
    if (hold <= 0 && !single_.load(std::memory_order_relaxed) && ((n > 0 && p[2].revents) || device_->Pending())) {
      if (p[2].revents & (POLLERR | POLLNVAL)) {
        End(kEndDeviceError, "device fd error");
        break;
      }
      const int got = ReadDevice(s, batch, (p[2].revents & POLLHUP) != 0, o_.txBytesPerSecond > 0, &cut);
      light = got <= kInlineMaxPackets && got < batch && !device_->Pending();
      s.heavy = !light;
      if (!light) MarkBusy(tx.RoundMs());
    }
    if (!tx.Flush(light, cut)) break;
  }
  std::lock_guard<std::mutex> last(txMu_);
  s.done = true;  // the rx thread's rounds end here too: nobody would send what they hand on
  if (sender.joinable()) {
    {
      std::lock_guard<std::mutex> lock(sendMu_);
      sendStop_ = true;
    }
    sendCv_.notify_all();
    sender.join();
  }
  transform_->CollectFinal(tx);
  tx.FlushFinal();
}

// The rx thread, about to write a light round to the device (at most kInlineMaxPackets packets).
// The kernel answers some packets inside that write (an echo request's reply, a TCP segment's ACK:
// the softirq runs on this CPU before the write returns) and queues the answer on the device,
// which wakes the tx thread. A thread wake-up is the dearest step of a lone packet's way
// (docs/engine.md, "Latency"), so this thread reads and sends the answer itself, as vtund's single
// loop does (RxTurnaround). It takes the tx side before the write, so that the tx thread, woken
// during the write, waits for the answer to be out instead of racing for it (and then finds the
// device empty: CPU, but no latency). It never waits: it takes the tx side only when it is free
// (no round running, nothing queued for the send thread, so nothing reorders), and sends only
// through a transport that can send without waiting for the peer (rxSends_). Returns the lock,
// owning txMu_ or not.
std::unique_lock<std::mutex> Engine::RxTakeTx() {
  std::unique_lock<std::mutex> round(txMu_, std::try_to_lock);
  if (!round.owns_lock()) return round;  // the tx thread is in a round: the answer is its
  bool free = !txs_->done && !txs_->heavy && !Ended() && !(o_.holdMs > 0 && MonotonicMs() - startMs_ < o_.holdMs);
  // (the send thread only takes what the tx side queues, under txMu_: idle, it stays idle)
  if (free && pipelined_) free = SendIdle() && !sendFailed_.load(std::memory_order_relaxed);
  if (!free) round.unlock();
  return round;
}

// Whether a light round is worth a turnaround (rx thread). Where the writes bring no answer (the
// side that receives the replies, a one-way flow), every turnaround would only add a read that
// finds the device empty: after kRxMissLimit such in a row, only every kRxRetryEvery-th light
// round looks again.
bool Engine::RxExpectsAnswers() {
  if (rxMisses_ < kRxMissLimit) return true;
  return ++rxSkipped_ % kRxRetryEvery == 0;
}

// After the write (RxTakeTx's lock held): a tx round of at most `wrote` packets.
void Engine::RxTurnaround(size_t wrote) {
  TxSide& s = *txs_;
  if (!BeginTxRound(s, false)) return;
  // At most one packet per packet written (one answer each, at most): no read that finds the
  // device empty before the send; that one is made by whoever watches the device (the tx thread,
  // woken by the same answers, or in the single loop this thread's next wait, which finds the
  // device readable only if more came).
  const int got = ReadDevice(s, static_cast<int>(std::min(wrote, static_cast<size_t>(o_.batch))), false, false);
  if (got > 0) {
    c.rxThreadSends.fetch_add(1, std::memory_order_relaxed);
    rxMisses_ = 0;
  } else if (rxMisses_ < kRxMissLimit) {
    rxMisses_++;
  }
  if (device_->Pending()) {
    // the rest of a cut super-packet: the tx thread's, and so is the bulk flow it belongs to
    s.heavy = true;
    ToSplit(s.tx.RoundMs());
    WakeTx();  // (also when it was the tx thread's already)
  }
  s.tx.FlushFromRx();
}

// ---------------------------------------------------------------------------------------------
// The single loop (docs/engine.md, "Latency"). vtund serves both directions from one select()
// loop, so a lone packet meets no thread wake-up but its own; with a thread per direction, every
// packet the kernel queued on the tun also woke the tx thread, which then competed for the core the
// other end needed next. At light load the rx thread therefore watches the device too, in its wait
// for the transport (Core::WaitAny hands that wait here), and runs the tx round itself when the
// device has packets; the tx thread then watches only its wake-up fd (JS's messages, the signal to
// take the device back). Under load (a heavy round either way, or a tx side that is not free) the
// device goes back to the tx thread at once, with its full, pipelined rounds; after kQuietMs without
// a heavy round the rx thread takes it again. poll is level-triggered: a device the old owner left
// readable wakes the new one at its next wait, so nothing is lost in a hand-over.

// The rx thread's wait for `want` (POLLIN on the transport's fd), watching the device too while
// single_. 1: `want` is ready (revents set); -1: stop or ended.
int Engine::LoopWait(struct pollfd& want) {
  const int devFd = device_->Fd();
  for (;;) {
    const bool serve = single_.load(std::memory_order_relaxed);
    struct pollfd p[3] = {{want.fd, want.events, 0}, {serve ? devFd : -1, POLLIN, 0}, {stopFd_, POLLIN, 0}};
    int r = sys::Poll(p, 3, -1);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 || p[2].revents) return -1;
    if (p[1].revents) {
      loopThread_.store(nullptr, std::memory_order_relaxed);  // (what the round waits for, it waits for plainly)
      // (a lone packet skips the round; a burst, an error or a hang-up is the round's)
      const bool compact = compact_.load(std::memory_order_relaxed);
      if (!lone_ || p[1].revents != POLLIN || (compact ? CompactTx(false) : LoneTx(false)) == 0) RxDeviceRound(p[1].revents);
      loopThread_.store(ThisThread(), std::memory_order_relaxed);
      if (Ended()) return -1;
    } else {
      loneStreak_ = 0;
    }
    if (p[0].revents) {
      if (lone_ && serve && p[0].revents == POLLIN && want.fd == netFd_) {
        loopThread_.store(nullptr, std::memory_order_relaxed);
        const int served = compact_.load(std::memory_order_relaxed) ? CompactRx() : LoneRx();
        loopThread_.store(ThisThread(), std::memory_order_relaxed);
        if (served < 0 || Ended()) return -1;
        if (served > 0) continue;
      }
      want.revents = p[0].revents;
      return 1;
    }
  }
}

// The device is readable while single_ (rx thread): a tx round here, sent from here (FlushFromRx:
// never waiting for the peer). A heavy round, or a tx side that is not free (its round running,
// batches queued for the send thread, a bulk flow), hands the device to the tx thread.
void Engine::RxDeviceRound(short revents) {
  std::unique_lock<std::mutex> round = RxTakeTx();
  if (!round.owns_lock()) {
    ToSplit(MonotonicMs());
    return;
  }
  if (revents & (POLLERR | POLLNVAL)) {
    End(kEndDeviceError, "device fd error");
    return;
  }
  TxSide& s = *txs_;
  if (!BeginTxRound(s, false)) return;
  const int got = ReadDevice(s, o_.batch, (revents & POLLHUP) != 0, false);
  if (got > 0) c.singleLoopRounds.fetch_add(1, std::memory_order_relaxed);
  const bool light = got <= kInlineMaxPackets && got < o_.batch && !device_->Pending();
  if (!light) {
    s.heavy = true;
    ToSplit(s.tx.RoundMs());
  }
  s.tx.FlushFromRx();
}

// A heavy round at `now` (either thread: under load both come here every round).
void Engine::MarkBusy(int64_t now) { StoreIfChanged(lastBusyMs_, now); }

// Under load (rx thread): the device goes to the tx thread, woken to watch it.
void Engine::ToSplit(int64_t now) {
  MarkBusy(now);
  if (!single_.load(std::memory_order_relaxed)) return;
  single_.store(false, std::memory_order_release);
  c.loopSwitches.fetch_add(1, std::memory_order_relaxed);
  WakeTx();
}

// After a receive round of `received` messages that delivered `delivered` packets (rx thread,
// single loop on; `tx`: RxTakeTx's lock for a turnaround, or none yet). A heavy round hands the
// device to the tx thread; a light one after a quiet spell takes it back, when the tx side is
// free (the tx thread, which may still be waiting on the device, sees single_ when it wakes and
// leaves the device alone).
void Engine::RxAfterReceive(size_t received, size_t delivered, int64_t now, std::unique_lock<std::mutex>& tx) {
  const size_t light = static_cast<size_t>(kInlineMaxPackets);
  if (received > light || delivered > light) {
    ToSplit(now);
    return;
  }
  if (single_.load(std::memory_order_relaxed) || now - lastBusyMs_.load(std::memory_order_relaxed) < kQuietMs) return;
  // (the tx side's lock makes sure no round of the tx thread's runs or is still being sent)
  std::unique_lock<std::mutex> own;
  if (!tx.owns_lock()) {
    own = RxTakeTx();
    if (!own.owns_lock()) return;
  }
  single_.store(true, std::memory_order_release);
  c.loopSwitches.fetch_add(1, std::memory_order_relaxed);
}

// The rx side's batch of packets for the device.
class Engine::Rx : public RxContext {
 public:
  Rx(Engine& e, size_t slots, size_t slotBytes) : e_(e), copies_(slots, slotBytes), pkts_(slots) {}
  // A receive returned: the time its messages are opened at.
  void Stamp(int64_t now = MonotonicMs()) { roundMs_ = now; }
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
  size_t Queued() const { return n_; }

 private:
  Engine& e_;
  Slots copies_;
  std::vector<Message> pkts_;
  size_t n_ = 0;
};

// The lone-packet path (docs/engine.md, "Latency"). In the single loop, a packet after an idle
// spell would run the whole round machinery (the round's contexts and checks, a batch read that
// ends in a read finding the device empty, the batch send's plan), and after idle every line of
// code and page of data it touches is cold. So a lone packet goes a shorter way, under the same
// rules: the tx side's lock, held only when free (no round running, nothing queued for the send
// thread, no bulk flow), the transform's own framing (SealLone, OpenLone: VTun's data frames;
// what they leave goes through Seal and Open), the same counters. Whatever is not a
// lone packet goes to the round: control messages to collect, a super-packet, a burst, a GRO
// train, an error.

// A lone path's device read of len bytes (0: nothing, or dropped): a turnaround's hit or miss,
// and a packet's counters. false: nothing to send.
inline bool Engine::CountLoneRead(size_t len, bool turnaround) {
  if (turnaround) {
    if (len > 0) {
      c.rxThreadSends.fetch_add(1, std::memory_order_relaxed);
      rxMisses_ = 0;
    } else if (rxMisses_ < kRxMissLimit) {
      rxMisses_++;
    }
  }
  if (len == 0) return false;
  c.txPackets.fetch_add(1, std::memory_order_relaxed);
  c.txBytes.fetch_add(static_cast<uint64_t>(len), std::memory_order_relaxed);
  c.txBatches.fetch_add(1, std::memory_order_relaxed);
  if (!turnaround) c.singleLoopRounds.fetch_add(1, std::memory_order_relaxed);
  c.loneTx.fetch_add(1, std::memory_order_relaxed);
  return true;
}

// A lone device packet (rx thread, single loop; `turnaround`: right after a lone write, for the
// answer the kernel made inside it). 1: served (sent, or the device had nothing); 0: the round's
// (nothing was read, or a super-packet was, which the round cuts); -1: ended.
int Engine::LoneTx(bool turnaround) {
  // a burst (the device readable at every wait): the round reads it whole, and hands a heavy one
  // to the tx thread
  if (!turnaround && ++loneStreak_ > kInlineMaxPackets) return 0;
  std::unique_lock<std::mutex> round(txMu_, std::try_to_lock);
  if (!round.owns_lock()) return 0;
  TxSide& s = *txs_;
  if (s.done || s.heavy || Ended() || transform_->OutgoingPending() || transport_->AwaitingPeer()) return 0;
  if (pipelined_ && (!SendIdle() || sendFailed_.load(std::memory_order_relaxed))) return 0;
  // (into the first packet slot of the set the last round used: nothing in flight points into
  // it, and the round's flush hands on what a full stream did not take as that set's)
  uint8_t* const slot = s.pktSlotSets[s.parity][0] + transform_->Headroom();
  const long len = device_->ReadLone(*this, slot, transform_->MaxPacket());
  if (len == kNotAlone) {
    if (!turnaround || !device_->Pending()) return 0;
    // a super-packet in a turnaround (whose device may not be readable again): its cuts, and the
    // bulk flow it belongs to, are the tx thread's (as in RxTurnaround)
    s.heavy = true;
    ToSplit(MonotonicMs());
    return 1;
  }
  if (len < 0) return -1;
  if (!CountLoneRead(static_cast<size_t>(len), turnaround)) return 1;
  Message pkt;
  pkt.data = slot;
  pkt.len = static_cast<size_t>(len);
  Message wire;
  // (a stream's send may stop at a full buffer: the round's flush hands the rest on)
  if (!transport_->IsStream() && transform_->SealLone(pkt, loneScratch_.data(), &wire, *this))
    return wire.len == 0 || transport_->Send(*this, &wire, 1) ? 1 : -1;
  transform_->Seal(pkt, s.tx);
  return s.tx.FlushFromRx() ? 1 : -1;
}

// A lone received message (rx thread, single loop: the transport is readable). 1: served (or
// nothing was there); 0: Receive's (kNotAlone, or the rest of a read waits in the transport);
// -1: ended.
int Engine::LoneRx() {
  Message m;
  const int n = transport_->ReceiveOne(*this, &m);
  if (n == kNotAlone) return 0;
  if (n <= 0) return n < 0 ? -1 : 1;
  c.loneRx.fetch_add(1, std::memory_order_relaxed);
  const int64_t now = MonotonicMs();
  Message pkt;
  size_t wrote = 0;
  if (!m.truncated && transform_->OpenLone(m, now, &pkt)) {
    c.rxBatches.fetch_add(1, std::memory_order_relaxed);
    if (!device_->Write(*this, &pkt, 1)) return -1;
    wrote = 1;
  } else {
    // anything else (a control message, a codec's frame, a bad one) as the round opens it
    Rx& rx = *rxContext_;
    rx.Stamp(now);
    if (m.truncated) c.badFrames.fetch_add(1, std::memory_order_relaxed);
    else transform_->Open(m, rx);
    wrote = rx.Queued();
    if (wrote > static_cast<size_t>(kInlineMaxPackets)) ToSplit(now);
    // what was opened before an end is still written (the peer sent it before closing)
    if (!rx.Flush()) return -1;
  }
  if (Ended()) return -1;
  if (transport_->Buffered()) return 0;
  if (page_ && !compact_.load(std::memory_order_relaxed) && transport_->OnlyPeer())
    compact_.store(true, std::memory_order_relaxed);
  // the answer the kernel made inside that write (see RxTakeTx)
  if (wrote > 0 && wrote <= static_cast<size_t>(kInlineMaxPackets) && rxSends_ && RxExpectsAnswers() && LoneTx(true) < 0)
    return -1;
  return 1;
}

// LoneTx's compact form: the same rules, the tun read and the send made here. (What is not a
// plain packet read whole is CompactTxOdd's, out of the way: after an idle spell the code of a
// lone packet's path costs by the line, docs/engine.md "The path after idle".)
int Engine::CompactTx(bool turnaround) {
  if (!turnaround && ++loneStreak_ > kInlineMaxPackets) return 0;
  std::unique_lock<std::mutex> round(txMu_, std::try_to_lock);
  if (!round.owns_lock()) return 0;
  TxSide& s = *txs_;
  if (s.done || s.heavy || Ended() || transform_->OutgoingPending() || transport_->AwaitingPeer() || device_->Pending())
    return 0;
  if (pipelined_ && (!SendIdle() || sendFailed_.load(std::memory_order_relaxed))) return 0;
  LonePage& p = *page_;
  const ssize_t n = sys::Readv(p.dev, p.txIov, 2);
  // (a plain packet: virtio_net_hdr's flags and gso_type both zero)
  size_t len = n > static_cast<ssize_t>(p.vnetLen) ? static_cast<size_t>(n) - p.vnetLen : 0;
  if (__builtin_expect(len == 0 || len > p.maxPacket || (p.txHdr[0] | p.txHdr[1]) != 0, 0)) {
    const int odd = CompactTxOdd(n, turnaround, &len);
    if (odd != 1) return odd == 2 ? 1 : odd;
  }
  if (!CountLoneRead(static_cast<size_t>(len), turnaround)) return 1;
  Message pkt;
  pkt.data = p.tx;
  pkt.len = len;
  Message wire;
  if (__builtin_expect(!transform_->SealLone(pkt, loneScratch_.data(), &wire, *this), 0)) {
    transform_->Seal(pkt, s.tx);
    return s.tx.FlushFromRx() ? 1 : -1;
  }
  if (wire.len == 0) return 1;
  struct iovec iov = {wire.data, wire.len};
  struct msghdr mh = {};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  const ssize_t sent = sys::Sendmsg(p.sock, &mh, MSG_NOSIGNAL);
  if (__builtin_expect(sent < 0 || static_cast<size_t>(sent) < wire.len, 0)) return CompactSendRest(wire, sent);
  c.txFrames.fetch_add(1, std::memory_order_relaxed);
  c.txWireBytes.fetch_add(static_cast<uint64_t>(sent), std::memory_order_relaxed);
  return 1;
}

// A CompactTx send that failed (sent < 0) or that a stream did not take whole: the rest goes the
// general way, which knows what to do (txMu_ held, nothing queued for the send thread). Over a
// stream, the round's flush hands what is left to the send thread, in order: what it points into
// (the page's packet buffer, or loneScratch_) is not written again until that thread is done
// (CompactTx waits for SendIdle).
int Engine::CompactSendRest(Message wire, ssize_t sent) {
  if (page_->framer == nullptr) return transport_->Send(*this, &wire, 1) ? 1 : -1;
  if (sent > 0) {
    c.txWireBytes.fetch_add(static_cast<uint64_t>(sent), std::memory_order_relaxed);
    wire.data += sent;
    wire.len -= static_cast<size_t>(sent);
  }
  Tx& tx = txs_->tx;
  Message* m = tx.Add();
  if (m == nullptr) return Ended() ? -1 : 1;
  *m = wire;
  return tx.FlushFromRx() ? 1 : -1;
}

// A CompactTx read of n bytes that was not a plain packet read whole (txMu_ held). 1: *len is
// the packet to send (0: nothing, or dropped and counted); 2: served (a super-packet handed to
// the device's cuts in a turnaround: the tx thread's now); 0: the round's (such a super-packet
// outside a turnaround); -1: ended.
int Engine::CompactTxOdd(ssize_t n, bool turnaround, size_t* len) {
  LonePage& p = *page_;
  *len = 0;
  while (n < 0 && errno == EINTR) n = sys::Readv(p.dev, p.txIov, 2);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return 1;
    End(kEndDeviceError, std::string("device read: ") + ErrnoText(errno));
    return -1;
  }
  if (n <= static_cast<ssize_t>(p.vnetLen)) {
    // (a header and nothing after it)
    if (n > 0) c.txDropped.fetch_add(1, std::memory_order_relaxed);
    return 1;
  }
  const size_t got = static_cast<size_t>(n) - p.vnetLen;
  const offload::VnetHdr h = offload::ReadVnetHdr(p.txHdr);
  if ((h.gsoType & ~offload::kGsoEcn) != offload::kGsoNone) {
    // a super-packet: its cuts, and the bulk flow it belongs to, are the round's
    if (!device_->AdoptSuper(*this, p.txHdr, p.tx, got)) return 1;
    if (!turnaround) return 0;
    txs_->heavy = true;
    ToSplit(MonotonicMs());
    return 2;
  }
  if (got > p.maxPacket || ((h.flags & offload::kNeedsCsum) && !offload::CompleteChecksum(p.tx, got, h.csumStart, h.csumOffset))) {
    c.txDropped.fetch_add(1, std::memory_order_relaxed);
    return 1;
  }
  *len = got;
  return 1;
}

// A message of wireLen bytes that CompactRx opened to pkt: counted, and written to the tun.
// false: ended or stop.
inline bool Engine::CompactWrite(size_t wireLen, const Message& pkt) {
  c.rxWireBytes.fetch_add(wireLen, std::memory_order_relaxed);
  c.rxFrames.fetch_add(1, std::memory_order_relaxed);
  c.loneRx.fetch_add(1, std::memory_order_relaxed);
  c.rxBatches.fetch_add(1, std::memory_order_relaxed);
  LonePage& p = *page_;
  struct iovec iov[2] = {{p.zeroHdr, p.vnetLen}, {pkt.data, pkt.len}};
  if (sys::Writev(p.dev, iov, 2) >= 0) {
    c.rxPackets.fetch_add(1, std::memory_order_relaxed);
    c.rxBytes.fetch_add(pkt.len, std::memory_order_relaxed);
    return true;
  }
  return device_->Write(*this, &pkt, 1);  // (which knows what to do: wait, drop, end)
}

// LoneRx's compact form: one read of at most two datagrams, a plain one written at once (over a
// stream: one read, CompactStreamRx).
int Engine::CompactRx() {
  LonePage& p = *page_;
  if (p.framer != nullptr) return CompactStreamRx();
  for (int i = 0; i < 2; i++) {
    p.msgs[i].msg_hdr.msg_controllen = p.gro ? kGroCmsgSpace : 0;
    p.msgs[i].msg_hdr.msg_flags = 0;
  }
  int r;
  do r = sys::Recvmmsg(p.sock, p.msgs, 2, MSG_DONTWAIT);
  while (r < 0 && errno == EINTR);
  if (r < 0) return errno == EAGAIN || errno == EWOULDBLOCK ? 1 : transport_->ReceiveFailed(*this, r);
  const int64_t now = MonotonicMs();
  const struct msghdr& h = p.msgs[0].msg_hdr;
  size_t wrote = 0;
  Message m;
  m.data = p.rx[0];
  m.len = p.msgs[0].msg_len;
  Message pkt;
  if (r == 1 && h.msg_controllen == 0 && !(h.msg_flags & MSG_TRUNC) && transform_->OpenLone(m, now, &pkt)) {
    if (!CompactWrite(m.len, pkt)) return -1;
    wrote = 1;
  } else {
    // anything else (a control message, a codec's frame, a bad one, a GRO train) as the round
    // opens it; after two datagrams (a burst) Receive reads on in batches
    if (!CompactRxRest(r, now, &wrote) || Ended()) return -1;
    if (r > 1) return 0;
  }
  if (Ended()) return -1;
  // the answer the kernel made inside that write (see RxTakeTx)
  if (wrote > 0 && wrote <= static_cast<size_t>(kInlineMaxPackets) && rxSends_ && RxExpectsAnswers() && CompactTx(true) < 0)
    return -1;
  return 1;
}

// CompactRx over a stream: when nothing is buffered, one read, and a read that is exactly one
// whole data frame is written at once (the common case at light load: the peer's frame came in
// one segment). Anything else goes to the transport's buffer for Receive (0), as its own read
// would have left it: more than one frame, a part of one, a control or bad frame.
int Engine::CompactStreamRx() {
  LonePage& p = *page_;
  if (transport_->Buffered()) return 0;
  ssize_t r;
  do r = sys::Read(p.sock, p.rx[0], LonePage::kWhole);
  while (r < 0 && errno == EINTR);
  if (r <= 0) return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) ? 1 : transport_->ReceiveFailed(*this, r);
  const size_t got = static_cast<size_t>(r);
  const Split s = p.framer->Next(p.rx[0], got);
  Message m;
  m.data = p.rx[0];
  m.len = got;
  Message pkt;
  if (s.kind != Split::Frame || s.len != got || !transform_->OpenLone(m, MonotonicMs(), &pkt)) {
    transport_->Adopt(*this, p.rx[0], got, got < LonePage::kWhole);
    return 0;
  }
  if (!CompactWrite(got, pkt) || Ended()) return -1;
  if (rxSends_ && RxExpectsAnswers() && CompactTx(true) < 0) return -1;
  return 1;
}

// What CompactRx read that is not one plain data frame: each datagram (a GRO train's one by one)
// opened as a round opens it, and written (*wrote: how many packets). false: ended or stop.
bool Engine::CompactRxRest(int read, int64_t now, size_t* wrote) {
  LonePage& p = *page_;
  Rx& rx = *rxContext_;
  rx.Stamp(now);
  if (read == 1) c.loneRx.fetch_add(1, std::memory_order_relaxed);
  for (int i = 0; i < read && !Ended(); i++) {
    const struct msghdr& h = p.msgs[i].msg_hdr;
    const size_t len = p.msgs[i].msg_len;
    const bool truncated = (h.msg_flags & MSG_TRUNC) != 0;
    const Datagrams d = CountDatagrams(h, len, p.gro, c);
    ForEachDatagram(len, d.seg, [&](size_t off, size_t part) {
      Message m;
      m.data = p.rx[i] + off;
      m.len = part;
      // (larger than a datagram may be: as the transport's receive marks it)
      if (truncated || part > p.rxSlotBytes) c.badFrames.fetch_add(1, std::memory_order_relaxed);
      else transform_->Open(m, rx);
    });
  }
  *wrote = rx.Queued();
  if (*wrote > static_cast<size_t>(kInlineMaxPackets)) ToSplit(now);
  // what was opened before an end is still written (the peer sent it before closing)
  return rx.Flush();
}

void Engine::RxLoop() {
  NameThread("tund-rx");
  // Deliveries per device write round: what one GRO read of the socket brings (up to 64
  // datagrams), so that the device can coalesce a whole 64 KiB super-packet (docs/engine.md).
  const int batch = std::max(o_.batch, kRxBatchMin);
  std::vector<Message> msgs(static_cast<size_t>(batch));
  Rx rx(*this, static_cast<size_t>(batch), transform_->MaxDelivered());
  rxContext_ = &rx;
  if (lone_) loneScratch_.assign(transform_->TxSlotBytes(), 0);
  for (;;) {
    // (its wait for the transport watches the device too)
    loopThread_.store(singleLoop_ ? ThisThread() : nullptr, std::memory_order_relaxed);
    int n = transport_->Receive(*this, msgs.data(), batch);
    loopThread_.store(nullptr, std::memory_order_relaxed);
    if (n < 0) break;
    rx.Stamp();
    for (int i = 0; i < n && !Ended(); i++) {
      Message& m = msgs[i];
      if (m.truncated) {
        c.badFrames.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      transform_->Open(m, rx);
    }
    // A light round: the answers it brings are sent from here (RxTakeTx).
    const size_t queued = rx.Queued();
    std::unique_lock<std::mutex> tx;
    if (rxSends_ && queued > 0 && queued <= static_cast<size_t>(kInlineMaxPackets) && RxExpectsAnswers()) tx = RxTakeTx();
    if (singleLoop_) RxAfterReceive(static_cast<size_t>(n), queued, rx.RoundMs(), tx);
    // what was opened before an end is still written (the peer sent it before closing)
    const bool written = rx.Flush();
    if (tx.owns_lock() && written && !Ended()) RxTurnaround(queued);
    if (tx.owns_lock()) tx.unlock();
    if (!written || Ended()) break;
  }
}

}  // namespace engine
}  // namespace tund
