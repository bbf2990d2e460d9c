// The protocol-neutral packet engine (docs/engine.md): two native threads per engine move packets
// between a device (tun/tap, or a pipe/pty byte stream) and a transport (a TCP stream or a UDP
// socket that may serve many peers), in batches, off the JS event loop. What a protocol puts on
// the wire is its Transform: VTun's framing and codec (vtun_transform.*), WireGuard's transport
// data messages (wg_transform.*).
//
//   tx thread: poll(stop, wake, device) -> transform.CollectOutgoing (control messages, queued
//     work) -> device.Read (a batch) -> transform.Seal per packet -> transport.Send (the batch).
//   rx thread: transport.Receive (a batch of datagrams, or of frames cut from the stream by the
//     transform's Framer) -> transform.Open per message -> device.Write (the delivered packets)
//     -> for a light round, the answers the kernel made during that write, read, sealed and sent
//     as a tx round of its own (Engine::RxTurnaround, under the tx side's lock).
//   At light load the rx thread also watches the device while it waits for the transport, and
//   runs the tx rounds itself (the single loop, Engine::LoopWait); the tx thread then only handles
//   JS's messages, and takes the device over under load.
//
// Only the tx side writes to the transport (the send thread, which sends the tx thread's sealed
// batches in order while it reads and seals the next round; TUND_NO_SEND_THREAD=1: the tx thread
// itself; the rx thread's rounds, which never wait for the peer), so frames never
// interleave on a stream and the rx thread never blocks behind a full socket: the rx thread and
// JS hand work to the tx thread and wake it (Core::WakeTx). Upward, the engine has one event queue to JS (control and handshake
// messages, peer events, the end), bounded for what a peer can cause, drops counted.
//
// Pure C++ (no N-API): the JS layer (engine_napi.*) owns an Engine and implements EventSink.
#pragma once

#include <poll.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <new>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../mono_clock.h"
#include "endpoint.h"

namespace tund {
namespace engine {

// End reasons (the strings JS sees). Transforms may use their own (VTun: peer_closed, codec_error).
constexpr const char* kEndEof = "eof";
constexpr const char* kEndDeviceError = "device_error";
constexpr const char* kEndNetworkError = "network_error";
constexpr const char* kEndStopped = "stopped";

// What a step of the lone-packet path (docs/engine.md, "Latency") answers when the thing at hand
// is not a lone packet's: the round's machinery takes it.
constexpr int kNotAlone = -2;

// A view of one packet or wire message. Who owns the bytes is said where a Message is made.
struct Message {
  uint8_t* data = nullptr;
  size_t len = 0;
  // tx: where to send it (nullptr: the transport's connected peer); rx: where it came from
  // (nullptr on a stream). Must outlive the send / the Open call.
  const Endpoint* peer = nullptr;
  bool truncated = false;  // rx: the datagram was larger than the slot (dropped by the engine)
};

// `count` buffers of `bytes` each, allocated once, zeroed. calloc, not a vector: a large block
// comes as fresh zero pages that only become resident when used, so 64 GRO slots of 64 KiB cost
// memory only when a burst fills them.
class Slots {
 public:
  Slots(size_t count, size_t bytes)
      : count_(count), bytes_(bytes), mem_(static_cast<uint8_t*>(std::calloc(count ? count : 1, bytes ? bytes : 1))) {
    if (!mem_) throw std::bad_alloc();
  }
  uint8_t* operator[](size_t i) { return mem_.get() + i * bytes_; }
  size_t Count() const { return count_; }
  size_t Bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  size_t count_, bytes_;
  std::unique_ptr<uint8_t, Free> mem_;
};

// Engine-wide counters (per-peer ones belong to the transform). Relaxed atomics: read by JS.
// Grouped by the thread that writes them, each group on cache lines of its own: under load the tx,
// send and rx threads run on different cores, and a locked add to a line another core just wrote
// has to fetch it from there first.
struct Counters {
  // The rounds that read the device and seal (the tx thread; at light load the rx thread's
  // single-loop rounds, under the same lock).
  alignas(64) std::atomic<uint64_t> txBytes{0};  // packet bytes read from the device
  std::atomic<uint64_t> txPackets{0};
  // Super-packets read from the tun and cut (docs/engine.md, offloads).
  std::atomic<uint64_t> tunSuperReads{0};
  // Rounds that read at least one device packet (then sent at once). txPackets / txBatches is the
  // mean batch; a lone packet after idle is a batch of one (docs/engine.md, "Latency": nothing
  // waits for more).
  std::atomic<uint64_t> txBatches{0};
  // Rounds the tx thread sent itself because the device was drained and the send thread idle
  // (docs/engine.md, "Latency"): a lone packet never waits for a cross-thread hand-off.
  std::atomic<uint64_t> inlineSends{0};
  // Of those, the rounds cut from super-packets (a bulk TCP flow): on two cores one more thread
  // costs a stream more than the overlap gains (docs/engine.md, "Both cores").
  std::atomic<uint64_t> cutInlineSends{0};

  // The sends (the send thread, or the thread that sends a round itself).
  alignas(64) std::atomic<uint64_t> txFrames{0};  // wire messages (frames, datagrams) out
  std::atomic<uint64_t> txWireBytes{0};
  std::atomic<uint64_t> udpGsoSends{0};           // sends that carried several datagrams (UDP GSO)
  std::atomic<uint64_t> txDropped{0};             // not sent: no peer yet, ICMP errors on send

  // The receive side (the rx thread).
  alignas(64) std::atomic<uint64_t> rxBytes{0};  // packet bytes written to the device
  std::atomic<uint64_t> rxPackets{0};
  std::atomic<uint64_t> rxFrames{0};              // wire messages (frames, datagrams) in
  std::atomic<uint64_t> rxWireBytes{0};
  std::atomic<uint64_t> badFrames{0};             // dropped as malformed / undecryptable
  std::atomic<uint64_t> deviceDownDrops{0};       // not written: device down (EIO) or queue full
  std::atomic<uint64_t> foreignDrops{0};          // datagrams on a connected socket from elsewhere
  // Coalesced super-packets written to the tun, reads that brought several datagrams (UDP GRO).
  std::atomic<uint64_t> tunSuperWrites{0}, udpGroReads{0};
  // Rounds that wrote at least one device packet.
  std::atomic<uint64_t> rxBatches{0};
  // Rounds the rx thread read, sealed and sent itself right after it wrote to the device: the
  // replies the kernel made while it wrote (an echo reply, a TCP ACK) leave without waking the tx
  // thread (docs/engine.md, "Latency").
  std::atomic<uint64_t> rxThreadSends{0};
  // The single loop (docs/engine.md, "Latency"): tx rounds the rx thread ran because its wait
  // found the device readable (at light load it serves both directions), and the hand-overs of
  // the device between it and the tx thread (to the tx thread under load, back after a quiet spell).
  std::atomic<uint64_t> singleLoopRounds{0}, loopSwitches{0};
  // The lone-packet path (docs/engine.md, "Latency"): packets the single loop read, sealed and
  // sent without a round (its own or a turnaround), and datagrams it received without one (data
  // and control frames alike).
  std::atomic<uint64_t> loneTx{0}, loneRx{0};

  // Any thread, rarely.
  alignas(64) std::atomic<uint64_t> eventDrops{0};  // upward messages dropped: JS queue full
};

// What goes up to JS. `type` is the event name ("ended", "message", or a transform's own).
struct Event {
  std::string type;
  std::string reason, message;  // "ended"
  uint32_t peer = 0;            // transform events about a peer
  uint32_t index = 0;           // ... and a keypair's local index
  std::vector<uint8_t> data;    // "message": the wire bytes
  Endpoint from;                // "message": its source
};

// Implemented by the JS layer: called (from any thread) when the queue went from empty to not
// empty; the JS thread then drains it with EventQueue::TakeAll.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void Notify() = 0;
};

class EventQueue {
 public:
  explicit EventQueue(size_t limit) : limit_(limit) {}
  void SetSink(EventSink* sink) { sink_.store(sink); }
  // Bounded events (what a peer can cause) are dropped past the limit; the end never is.
  bool Push(Event&& e, bool bounded, std::atomic<uint64_t>* drops);
  std::deque<Event> TakeAll();
  size_t Size();
  size_t Limit() const { return limit_; }
  // The sink calls this right before it drains (a later Push notifies again).
  void Rearm() { notified_.store(false); }

 private:
  size_t limit_;
  std::atomic<EventSink*> sink_{nullptr};
  std::mutex mu_;
  std::deque<Event> q_;
  std::atomic<bool> notified_{false};
};

// A message JS asked to send as it is (a handshake message, a cookie reply) to an endpoint
// (empty: the connected peer).
struct Outgoing {
  std::vector<uint8_t> data;
  Endpoint to;
};

class Transform;

// What devices, transports and transforms share with the engine.
class Core {
 public:
  Counters c;

  // The first terminal condition wins: one "ended" event (unless stop() came first), the
  // transform's OnEnd, both threads told to exit. Any thread.
  void End(const char* reason, const std::string& message);
  bool Ended() const { return ended_.load(std::memory_order_relaxed); }
  bool StopRequested() const;
  // Waits until fd is ready for `events`; false on stop (or on timeout when timeoutMs >= 0).
  bool WaitFd(int fd, short events, int timeoutMs = -1) const;
  // The same for several fds (their revents filled in): 1 when one is ready, 0 on timeout, -1 on
  // stop.
  int WaitAny(struct pollfd* fds, size_t n, int timeoutMs) const;
  // Wakes the tx thread (work queued for it). Any thread.
  void WakeTx();
  EventQueue& Events() { return *events_; }
  const std::shared_ptr<EventQueue>& EventsPtr() const { return events_; }
  // Queues a message for the tx thread and wakes it (any thread); false when kMaxOutgoing are
  // already waiting (counted in txDropped).
  bool QueueOutgoing(Outgoing&& m);
  static constexpr size_t kMaxOutgoing = 4096;

 protected:
  std::mutex outMu_;
  std::deque<Outgoing> outgoing_;
  std::shared_ptr<EventQueue> events_ = std::make_shared<EventQueue>(1024);
  Transform* transform_ = nullptr;
  int stopFd_ = -1, wakeFd_ = -1;
  std::atomic<bool> ended_{false}, stopping_{false}, eventSent_{false};
  // The thread whose wait for a received message is the single loop (Engine::RxLoop, while it
  // waits in Receive and single_ may be on), as its thread pointer; nullptr otherwise. Not a
  // thread_local: an addon's thread-locals are reached through __tls_get_addr, pages more on a
  // lone packet's path after an idle spell (docs/engine.md, "The path after idle").
  std::atomic<const void*> loopThread_{nullptr};
};

// ---------------------------------------------------------------------------------------------
// The device: a tun/tap (one read = one packet) or a byte stream (pipe, pty).

class Device {
 public:
  virtual ~Device() = default;
  virtual int Fd() const = 0;
  virtual bool Stream() const = 0;
  virtual void Start(Core&) {}
  // Before Start: every packet Write gets was authenticated by the transform (WireGuard), so its
  // checksums need not be verified again (a tun's coalescing: offload.h, SetTrustChecksums).
  virtual void SetAuthenticatedWrites(bool) {}
  // After the threads are joined (the fd is still open): undo what Start changed on the device.
  virtual void Stop() {}
  // Packets are waiting inside the device object (the rest of a cut super-packet): Read has more
  // to give even when the fd is not readable.
  virtual bool Pending() const { return false; }
  // Whether Read returned packets cut from a super-packet since the last call (which clears it).
  virtual bool TakeCut() { return false; }
  // Reads up to `max` packets: packet i into slots[first + i] + headroom, at most `cap` bytes,
  // described in pkts[i]. Returns the count (0: nothing ready; with `hangup`, 0 ends the engine
  // with "device hung up"), or -1 when the engine ended.
  virtual int Read(Core& core, Slots& slots, size_t first, size_t headroom, size_t cap, Message* pkts, int max,
                   bool hangup) = 0;
  // The lone-packet path's read (Engine::LoneTx): one packet into dst, at most cap bytes. Its
  // length; 0: nothing now (or a packet dropped as Read drops it); -1: ended; kNotAlone: the
  // round's (a super-packet, cut by the next Read; a device without this read).
  virtual long ReadLone(Core&, uint8_t* dst, size_t cap) { return kNotAlone; }
  // The compact lone path (Engine::CompactTx) reads the tun itself: the virtio_net_hdr's length
  // (0: no such header, no compact path), and a super-packet it read, handed over to be cut
  // (Pending) as Read would have. false: dropped (counted).
  virtual size_t VnetHeaderLen() const { return 0; }
  virtual bool AdoptSuper(Core&, const uint8_t* vnetHdr, const uint8_t* pkt, size_t len) { return false; }
  // Writes packets in order (whole; a stream device writes all bytes). false: ended or stop.
  virtual bool Write(Core& core, const Message* pkts, size_t n) = 0;
};

std::unique_ptr<Device> MakePacketDevice(int fd);
std::unique_ptr<Device> MakeStreamDevice(int fd);

// ---------------------------------------------------------------------------------------------
// The transport: a TCP stream (frames cut by the transform's Framer) or a UDP socket.

// Cuts a byte stream into frames.
struct Split {
  enum Kind { More, Frame, Skip } kind = More;
  size_t len = 0;  // Frame: the frame's bytes (header included); Skip: bytes to discard (a bad frame)
};
class Framer {
 public:
  virtual ~Framer() = default;
  virtual Split Next(const uint8_t* p, size_t have) = 0;
};

class Transport {
 public:
  virtual ~Transport() = default;
  virtual int Fd() const = 0;
  virtual bool IsStream() const = 0;
  virtual void Start(Core&) {}
  // Sends msgs in order; failures the protocol survives are counted. false: ended or stop.
  virtual bool Send(Core& core, Message* msgs, size_t n) = 0;
  // After the tx loop: sends what it can without waiting long (VTun's closing CONN_CLOSE).
  virtual void SendFinal(Core& core, Message* msgs, size_t n) = 0;
  // Waits for the next messages (at most max). Returns the count, or -1 (ended or stop).
  // The messages stay valid until the next call.
  virtual int Receive(Core& core, Message* out, int max) = 0;
  // The rx thread may send a small round itself (docs/engine.md, "Latency") only through a
  // transport whose sends never wait for the peer: an rx thread waiting for a peer whose rx thread
  // waits for it would stop both ends. A datagram socket qualifies (a full buffer drains by
  // itself); a stream only where TrySend can stop at a full buffer and leave the rest to the send
  // thread.
  virtual bool CanTrySend() const { return false; }
  // Sends msgs in order until all are out or a stream's buffer is full, never waiting for the
  // peer. Returns how many went out whole; the next one, when a full stream cut it short, has its
  // data/len advanced past what went out (the send thread goes on from there). -1: ended or stop.
  virtual int TrySend(Core& core, Message* msgs, size_t n) { return Send(core, msgs, n) ? static_cast<int>(n) : -1; }
  // A single-peer UDP socket that is not connected yet (VTun's nat_hack) awaits its peer: it
  // receives one datagram at a time until Pin connects it to the first one the transform
  // accepted. Pin: false with the engine ended on failure.
  virtual bool AwaitingPeer() const { return false; }
  virtual bool Pin(Core&, const Endpoint&) { return true; }
  // The lone-packet path (Engine::LoneRx): one message, read without waiting, into *out (valid
  // until the next read). 1: a message (the rest of its read, a GRO train, waits for Receive:
  // Buffered()); 0: nothing for the engine now; -1: ended or stop; kNotAlone: Receive's to take
  // (something is buffered, or this transport has no such read).
  virtual int ReceiveOne(Core&, Message*) { return kNotAlone; }
  // The compact lone path (Engine::CompactRx) reads the socket itself once only the peer can have
  // sent what is in it: a datagram socket's connected peer once the socket has been emptied (no
  // source to check), a stream without a layer. Whether the socket gives GRO trains (a cmsg per
  // read); a read that failed (r: -1 with errno, or a stream's 0, its end), as Receive would have
  // ended on it (-1); and a stream's bytes that were not one whole frame, handed over for Receive
  // (drained: the read emptied the socket).
  virtual bool OnlyPeer() const { return false; }
  virtual bool Gro() const { return false; }
  virtual int ReceiveFailed(Core&, ssize_t r) { return -1; }
  virtual void Adopt(Core&, const uint8_t* data, size_t n, bool drained) {}
  virtual bool Buffered() const { return false; }
};

// A byte layer between a TCP stream transport and its socket (TLS for vpn-ws's wss://). Both
// engine threads call it (Read on rx, Write on tx), so it serializes access to its state itself
// and never blocks: the transport waits for the fd outside of it.
class StreamLayer {
 public:
  enum Result { Ok, WantRead, WantWrite, Closed, Failed };
  virtual ~StreamLayer() = default;
  // Ok with *n > 0 bytes of plaintext; Closed at the end of the stream; Failed with *error.
  virtual Result Read(uint8_t* buf, size_t len, size_t* n, std::string* error) = 0;
  // Ok with *n > 0 bytes taken (maybe fewer than len); after WantRead/WantWrite, call again with
  // the same bytes.
  virtual Result Write(const uint8_t* buf, size_t len, size_t* n, std::string* error) = 0;
};

// The stream starts with `initial` (bytes read before the engine took over). With a `layer`,
// every byte goes through it (the transport owns it) instead of straight to the socket.
std::unique_ptr<Transport> MakeTcpTransport(int fd, Framer* framer, std::vector<uint8_t> initial,
                                            std::unique_ptr<StreamLayer> layer = nullptr);
// rxSlotBytes: receive buffer per datagram (a larger datagram is dropped as truncated).
// A connect()ed socket has one peer: datagrams from elsewhere (queued before connect) are dropped
// and counted. An unconnected one serves any number of peers (multiPeer), or awaits one (Pin).
std::unique_ptr<Transport> MakeUdpTransport(int fd, size_t rxSlotBytes, int batch, bool multiPeer);

// ---------------------------------------------------------------------------------------------
// The protocol's part.

// Where Seal and CollectOutgoing put wire messages (tx thread).
class TxContext {
 public:
  virtual ~TxContext() = default;
  // A message to fill: data points at a buffer of SlotBytes() owned by the batch; the transform
  // may instead point data at memory that stays valid until the batch is sent (the packet's own
  // slot, when it sealed in place). Flushes the batch first when it is full. nullptr: ended.
  virtual Message* Add() = 0;
  virtual size_t SlotBytes() const = 0;
  // Sets m's destination (a copy: `to` may change after the call).
  virtual void SetDestination(Message* m, const Endpoint& to) = 0;
  // An unconnected single-peer socket waits for its peer: nothing can be sent yet.
  virtual bool AwaitingPeer() const = 0;
  virtual Core& core() = 0;
  // MonotonicMs() as of the start of this round: one clock read per round, not per packet (a
  // round is at most one batch, well under a millisecond of work).
  int64_t RoundMs() const { return roundMs_; }

 protected:
  int64_t roundMs_ = 0;
};

// Where Open puts packets for the device (rx thread).
class RxContext {
 public:
  virtual ~RxContext() = default;
  // A packet inside the message being opened (valid until the batch is written).
  virtual void Deliver(uint8_t* p, size_t len) = 0;
  // A packet in a transient buffer: copied (len <= the transform's MaxDelivered()).
  virtual void DeliverCopy(const uint8_t* p, size_t len) = 0;
  // An unconnected single-peer socket waits for its peer (VTun nat_hack): PinPeer connects it
  // to the source of `msg` (a message the transform found valid) before the transform acts on
  // it. false: the engine ended.
  virtual bool AwaitingPeer() const = 0;
  virtual bool PinPeer(const Message& msg) = 0;
  virtual Core& core() = 0;
  // MonotonicMs() as of the receive this message came with (see TxContext::RoundMs).
  int64_t RoundMs() const { return roundMs_; }

 protected:
  int64_t roundMs_ = 0;
};

class Transform {
 public:
  virtual ~Transform() = default;
  // Buffer geometry: room before and after each device packet (to seal in place), largest
  // device packet, owned tx message size, receive slot size, largest copied delivery.
  virtual size_t Headroom() const { return 0; }
  virtual size_t Tailroom() const { return 0; }
  virtual size_t MaxPacket() const = 0;
  virtual size_t TxSlotBytes() const = 0;
  virtual size_t RxSlotBytes() const = 0;
  virtual size_t MaxDelivered() const = 0;
  // The stream framing (needed for a TCP transport).
  virtual Framer* StreamFramer() { return nullptr; }

  // JS thread, before the threads start.
  virtual void Start(Core&) {}
  // Every packet Open delivers to the device passed an authenticity check (an AEAD tag), so
  // nobody but the authenticated peer chose its bytes (WireGuard: yes; VTun: no).
  virtual bool Authenticated() const { return false; }
  // Once, on the thread that ended the engine (not after stop()).
  virtual void OnEnd(const char* reason) {}

  // tx thread: messages to send now (control frames, queued work), before any device packet.
  virtual void CollectOutgoing(TxContext&) {}
  // tx thread: one device packet (pkt.data, with Headroom()/Tailroom() free around it).
  virtual void Seal(Message& pkt, TxContext& tx) = 0;
  // The lone-packet path (docs/engine.md, "Latency") skips the round: it may seal a lone packet
  // only for a transform whose Seal adds at most one message and reads no TxContext::RoundMs,
  // and only while CollectOutgoing would add nothing (OutgoingPending false).
  virtual bool SealsAlone() const { return false; }
  virtual bool OutgoingPending() const { return true; }
  // The lone path's Seal without a TxContext, for a plain data packet: the wire message in *wire
  // (in the packet's headroom, or in scratch, TxSlotBytes() long). false: Seal's to do.
  virtual bool SealLone(Message& pkt, uint8_t* scratch, Message* wire, Core& core) { return false; }
  // The lone path's Open without an RxContext, for a plain data message: the packet to write in
  // *pkt (inside msg), at `nowMs`. false: Open's to do (control, a codec, anything else; nothing
  // was changed).
  virtual bool OpenLone(Message& msg, int64_t nowMs, Message* pkt) { return false; }
  // tx thread, after the loop: last messages, sent best effort.
  virtual void CollectFinal(TxContext&) {}

  // rx thread: one received message (may be decrypted in place).
  virtual void Open(Message& msg, RxContext& rx) = 0;
};

// ---------------------------------------------------------------------------------------------

struct EngineOptions {
  int batch = 32;                 // packets per device read batch / datagrams per recvmmsg
  int64_t holdMs = 0;             // do not read the device for this long after start
  int64_t txBytesPerSecond = 0;   // shaping of sealed data messages (1-second windows); 0 = off
};

class Engine : public Core {
 public:
  // The engine owns device and transport objects (not the device fd); the transform outlives it.
  Engine(std::unique_ptr<Device> device, std::unique_ptr<Transport> transport, Transform* transform,
         EngineOptions options);
  ~Engine();

  // Starts the threads. false with *error on failure (nothing left running).
  bool Start(EventSink* sink, std::string* error);
  // Joins the threads and closes the transport's fd; queues "ended" (reason "stopped") unless
  // the engine had ended already or emit is false. Idempotent. After Stop, Start fails.
  void Stop(bool emit = true);
  bool Started() const { return started_; }
  bool Stopped() const { return stopped_; }
  bool Running() const { return started_ && !stopped_ && !Ended(); }
  // The lone-packet path runs in its compact form (Engine::CompactTx, CompactRx).
  bool LoneCompact() const { return compact_.load(std::memory_order_relaxed); }

  Transport& transport() { return *transport_; }
  Device& device() { return *device_; }

 private:
  class Tx;
  class Rx;
  struct TxBatch;
  struct TxSide;
  void TxLoop();
  void SendLoop();
  void RxLoop();
  int HoldMs(int64_t now);
  int SealRead(TxSide& s, int from, int r, bool shaping);
  bool BeginTxRound(TxSide& s, bool outgoing);
  int ReadDevice(TxSide& s, int limit, bool hangup, bool shaping, bool* cut = nullptr);
  bool RxExpectsAnswers();
  std::unique_lock<std::mutex> RxTakeTx();
  void RxTurnaround(size_t wrote);
  friend class Core;  // (Core::WaitAny hands the rx thread's receive wait to LoopWait)
  int LoopWait(struct pollfd& want);
  void RxDeviceRound(short revents);
  int LoneTx(bool turnaround);
  int LoneRx();
  struct LonePage;
  struct LonePageFree {
    void operator()(LonePage* p) const;
  };
  bool CountLoneRead(size_t len, bool turnaround);
  int CompactTx(bool turnaround);
  int CompactTxOdd(ssize_t n, bool turnaround, size_t* len);
  int CompactSendRest(Message wire, ssize_t sent);
  int CompactStreamRx();
  bool CompactWrite(size_t wireLen, const Message& pkt);
  int CompactRx();
  bool CompactRxRest(int read, int64_t now, size_t* wrote);
  void RxAfterReceive(size_t received, size_t delivered, int64_t now, std::unique_lock<std::mutex>& tx);
  void ToSplit(int64_t now);
  void MarkBusy(int64_t now);

  std::unique_ptr<Device> device_;
  std::unique_ptr<Transport> transport_;
  EngineOptions o_;
  std::thread tx_, rx_;
  bool started_ = false, stopped_ = false;
  int64_t startMs_ = 0;
  int64_t shapeStartMs_ = 0, shapeBytes_ = 0;  // tx thread only
  // What a tx round uses (packet slots, batches, the device's read state, the transform's Seal):
  // the tx thread holds txMu_ for each of its rounds; the rx thread only try-locks it for a round
  // of its own (after a device write, RxTurnaround; in the single loop, RxDeviceRound), so Seal
  // never runs on two threads at once and rounds never interleave (a flow's packets keep their
  // order).
  std::mutex txMu_;
  std::unique_ptr<TxSide> txs_;
  bool pipelined_ = false;  // the send thread runs (fixed at Start)
  bool rxSends_ = false;    // the rx thread may send replies itself (fixed at Start)
  // The single loop (TUND_NO_SINGLE_LOOP=1 turns it off; where rxSends_ could be, fixed at Start):
  // while single_, the rx thread's wait for the transport also watches the device and runs the tx
  // rounds it finds there (LoopWait), and the tx thread leaves the device alone. Only the rx thread
  // changes single_ (to false under load, at once; back after kQuietMs without a heavy round).
  bool singleLoop_ = false;
  std::atomic<bool> single_{false};
  // The lone-packet path (TUND_NO_LONE_PATH=1 turns it off; fixed at Start): while single_, a
  // lone packet is served by LoneTx/LoneRx without the round's machinery (docs/engine.md,
  // "Latency"). loneStreak_ (rx thread): lone packets served in a row while the device stayed
  // readable; past kInlineMaxPackets it is a burst, which the round reads whole.
  bool lone_ = false;
  int loneStreak_ = 0;
  int netFd_ = -1;  // the transport's (fixed at Start)
  std::vector<uint8_t> loneScratch_;  // rx thread: a packet LoneTx sealed out of place (a codec)
  Rx* rxContext_ = nullptr;  // RxLoop's, for LoneRx (rx thread)
  std::unique_ptr<LonePage, LonePageFree> page_;  // the compact lone path's (rx thread), or none
  // page_ serves (CompactTx/CompactRx in place of LoneTx/LoneRx): set by the rx thread once the
  // transport says only the peer can send (a connected socket that has been emptied once)
  std::atomic<bool> compact_{false};
  std::atomic<int64_t> lastBusyMs_{0};  // the last round either thread found heavy
  int rxMisses_ = 0;        // rx thread: turnarounds in a row that found nothing to send
  unsigned rxSkipped_ = 0;  // rx thread: light rounds since then
  // The tx thread hands sealed batches to the send thread (docs/engine.md, "Both cores").
  std::mutex sendMu_;
  std::condition_variable sendCv_;
  std::deque<TxBatch*> sendQueue_, sendFree_;
  int inflight_[2] = {0, 0};    // batches queued or being sent, per set of device packet slots
  int outgoingInflight_ = 0;    // ... of them, those of rounds that added JS's or control messages
  // sendQueue_'s length (batches queued or being sent) and whether a send failed: written under
  // sendMu_, read without it by the holder of txMu_ (SendIdle), the only one who queues.
  std::atomic<int> sendPending_{0};
  std::atomic<bool> sendFailed_{false};
  bool sendStop_ = false;
  // For the holder of txMu_: nothing is queued or being sent, and so it stays until the holder
  // queues a batch itself. A lone packet's round checks this instead of taking sendMu_ three
  // times (a lock and its cache lines more on the path after an idle spell, docs/engine.md).
  bool SendIdle() const { return sendPending_.load(std::memory_order_acquire) == 0; }
};

}  // namespace engine
}  // namespace tund
