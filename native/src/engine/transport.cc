// Transports of the engine (engine.h).
//
// TCP: one stream. Send writes a whole batch with one sendmsg (the frames coalesced, as if
// Nagle were on, without its delay: TCP_NODELAY is set). Receive reads large chunks and lets the
// transform's Framer cut them into frames; the frames point into the stream buffer until the
// next Receive.
//
// UDP: sendmmsg/recvmmsg, one message per datagram, each with its own destination/source, so
// one socket serves a connected peer (VTun), a peer found by its first valid datagram (VTun's
// nat_hack: connect() then), or any number of peers (WireGuard). A connected socket only takes
// datagrams from its peer: anything queued before connect() from elsewhere is dropped
// (foreignDrops). ICMP errors and unroutable destinations drop the datagram (txDropped).
//
// UDP offloads (issue 14, docs/engine.md), each with its switch:
//   - GSO (TUND_NO_UDP_GSO=1 turns it off): consecutive messages to one destination with one size
//     (the last of a run may be shorter) go as one super-datagram with a UDP_SEGMENT cmsg; the
//     kernel cuts it into the same datagrams as before. Several runs still go in one sendmmsg.
//     When the kernel or the device refuses (EIO, EINVAL), GSO is off for good on this socket
//     and the rest goes datagram by datagram.
//   - GRO (TUND_NO_UDP_GRO=1): UDP_GRO on the socket; one read may return many datagrams of one
//     source and one size, the cmsg says the size, Receive cuts them apart again.
//   - socket buffers (TUND_NO_SOCKET_BUFFERS=1): SO_RCVBUF/SO_SNDBUF of 4 MiB (forced when
//     privileged), so that a burst is not dropped while the threads are busy.
// For the vpn-ws hub, a transport with many TCP connections gives each message a connection id in
// the same way UDP messages carry an endpoint.
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "../errors.h"
#include "engine.h"
#include "iovec_advance.h"
#include "offload.h"
#include "sys.h"
#include "udp_gro.h"

namespace tund {
namespace engine {

namespace {

constexpr size_t kTcpRxBuf = 256 * 1024;
constexpr int kIovMax = 1024;

#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
constexpr size_t kGsoMaxSegments = 64;      // the kernel's UDP_MAX_SEGMENTS
constexpr size_t kGsoMaxBytes = 65000;      // below 65535 - IP and UDP headers
constexpr size_t kGroSlotBytes = 65536;     // one coalesced read
constexpr int kSocketBuffer = 4 << 20;
constexpr size_t kCmsgSpace = kGroCmsgSpace;  // (UDP_SEGMENT's is smaller)

// A socket buffer of `bytes`: forced past rmem_max/wmem_max when privileged, else what the
// limits allow.
void GrowBuffer(int fd, int forceOpt, int opt, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, forceOpt, &bytes, sizeof bytes) == 0) return;
  setsockopt(fd, SOL_SOCKET, opt, &bytes, sizeof bytes);
}

// Best effort for the last messages: a few short waits, never long.
void SendBestEffort(int fd, const Message& m, const sockaddr* to, socklen_t toLen, Core& core) {
  for (int tries = 0; tries < 20; tries++) {
    ssize_t n = sendto(fd, m.data, m.len, MSG_NOSIGNAL | MSG_DONTWAIT, to, toLen);
    if (n == static_cast<ssize_t>(m.len)) {
      core.c.txFrames.fetch_add(1, std::memory_order_relaxed);
      core.c.txWireBytes.fetch_add(m.len, std::memory_order_relaxed);
      return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      struct pollfd p = {fd, POLLOUT, 0};
      poll(&p, 1, 50);
      continue;
    }
    return;  // errors (or a partial write of a small message on a writable stream): give up
  }
}

class TcpTransport : public Transport {
 public:
  TcpTransport(int fd, Framer* framer, std::vector<uint8_t> initial, std::unique_ptr<StreamLayer> layer)
      : fd_(fd), framer_(framer), layer_(std::move(layer)), buf_(kTcpRxBuf) {
    have_ = std::min(initial.size(), buf_.size());
    // (an empty vector's data() may be null, and memcpy from null is undefined even for 0 bytes:
    // found by the vtun_tcp_split fuzz target under UBSan)
    if (have_) std::memcpy(buf_.data(), initial.data(), have_);
  }
  int Fd() const override { return fd_; }
  bool IsStream() const override { return true; }

  void Start(Core& core) override {
    // We coalesce ourselves: no Nagle delay; keep-alive as vtund. Errors are ignored (an AF_UNIX
    // stand-in in tests has neither).
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(fd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    if (have_) core.c.rxWireBytes.fetch_add(have_, std::memory_order_relaxed);
  }

  bool Send(Core& core, Message* msgs, size_t n) override {
    if (layer_) return SendThroughLayer(core, msgs, n);
    size_t i = 0;
    while (i < n) {
      int cnt = static_cast<int>(std::min(n - i, static_cast<size_t>(kIovMax)));
      struct iovec iov[kIovMax];
      for (int k = 0; k < cnt; k++) iov[k] = {msgs[i + static_cast<size_t>(k)].data, msgs[i + static_cast<size_t>(k)].len};
      if (!WriteAll(core, iov, cnt)) return false;
      core.c.txFrames.fetch_add(static_cast<uint64_t>(cnt), std::memory_order_relaxed);
      i += static_cast<size_t>(cnt);
    }
    return true;
  }

  // Without a layer: a plain sendmsg stops where the socket is full, and the rest of the batch
  // can go on from there on the send thread. (Through TLS, a record the layer began must be
  // finished with the same bytes by the same caller: no rx-thread sends there.)
  bool CanTrySend() const override { return !layer_; }

  int TrySend(Core& core, Message* msgs, size_t n) override {
    size_t i = 0;
    while (i < n) {
      int cnt = static_cast<int>(std::min(n - i, static_cast<size_t>(kIovMax)));
      struct iovec iov[kIovMax];
      for (int k = 0; k < cnt; k++) iov[k] = {msgs[i + static_cast<size_t>(k)].data, msgs[i + static_cast<size_t>(k)].len};
      int first = WriteSome(core, iov, cnt);
      if (first < 0) return -1;
      core.c.txFrames.fetch_add(static_cast<uint64_t>(first), std::memory_order_relaxed);
      if (first < cnt) {
        // the socket is full: the rest of this message (and those after it) goes on elsewhere
        Message& m = msgs[i + static_cast<size_t>(first)];
        const size_t sentOfIt = m.len - iov[first].iov_len;
        m.data += sentOfIt;
        m.len -= sentOfIt;
        return static_cast<int>(i) + first;
      }
      i += static_cast<size_t>(cnt);
    }
    return static_cast<int>(n);
  }

  void SendFinal(Core& core, Message* msgs, size_t n) override {
    if (layer_) {
      // (a TLS record cannot be cut short like a plain write: what the layer takes, it sends whole)
      SendThroughLayer(core, msgs, n);
      return;
    }
    for (size_t i = 0; i < n; i++) SendBestEffort(fd_, msgs[i], nullptr, 0, core);
  }

  int Receive(Core& core, Message* out, int max) override {
    Compact();
    for (;;) {
      int n = 0;
      while (n < max) {
        if (skip_ > 0) {
          size_t d = std::min(skip_, have_ - off_);
          off_ += d;
          skip_ -= d;
          if (skip_ > 0) break;
        }
        if (have_ == off_) break;
        Split s = framer_->Next(buf_.data() + off_, have_ - off_);
        if (s.kind == Split::More) break;
        core.c.rxFrames.fetch_add(1, std::memory_order_relaxed);
        if (s.kind == Split::Skip) {
          // a bad frame: read and discard it, keep going
          core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
          skip_ = s.len;
          continue;
        }
        out[n] = Message{};
        out[n].data = buf_.data() + off_;
        out[n].len = s.len;
        off_ += s.len;
        n++;
      }
      if (n > 0) return n;
      if (core.Ended()) return -1;
      Compact();
      if (have_ == buf_.size()) {
        core.End(kEndNetworkError, "a frame larger than the receive buffer");
        return -1;
      }
      if (layer_) {
        if (!ReadThroughLayer(core)) return -1;
        continue;
      }
      if (drained_) {
        // the last read emptied the socket: wait for more rather than make a read that finds
        // nothing (a lone frame's round costs one system call less). (The wait may serve a
        // lone frame itself, Engine::LoneRx, or leave a read's bytes in the buffer: re-checked.)
        drained_ = false;
        if (!core.WaitFd(fd_, POLLIN)) return -1;
        continue;
      }
      const int got = ReadSome(core);
      if (got < 0) return -1;
      if (got == 0 && !core.WaitFd(fd_, POLLIN)) return -1;
    }
  }

  // One frame without waiting, for the lone-packet path: when nothing is buffered, one read, and
  // that read is exactly one whole frame (the common case at light load: the peer's frame went in
  // one segment). Anything else stays in the buffer for Receive (Buffered): more than one frame, a
  // part of one, a bad one. Not through a layer (TLS records need not match frames).
  int ReceiveOne(Core& core, Message* out) override {
    if (layer_ || Buffered()) return kNotAlone;
    have_ = off_ = 0;
    const int got = ReadSome(core);
    if (got <= 0) return got;
    const Split s = framer_->Next(buf_.data(), have_);
    if (s.kind != Split::Frame || s.len != have_) return kNotAlone;
    core.c.rxFrames.fetch_add(1, std::memory_order_relaxed);
    *out = Message{};
    out->data = buf_.data();
    out->len = s.len;
    off_ = have_;
    return 1;
  }
  bool Buffered() const override { return off_ < have_ || skip_ > 0; }
  bool OnlyPeer() const override { return layer_ == nullptr; }
  int ReceiveFailed(Core& core, ssize_t r) override { return ReadEnded(core, r); }
  // A read of n bytes the compact lone path made (nothing was buffered) that was not one whole
  // frame: Receive takes them from the buffer as if it had read them. (n is at most that path's
  // 64 KiB buffer, a quarter of this one.)
  void Adopt(Core& core, const uint8_t* data, size_t n, bool drained) override {
    have_ = off_ = 0;
    std::memcpy(buf_.data(), data, n);
    have_ = n;
    core.c.rxWireBytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
    drained_ = drained;
  }

 private:
  void Compact() {
    if (off_ == 0) return;
    // (nearly always every byte was taken: no call into libc for nothing, one page fewer on a
    // lone frame's path after an idle spell)
    if (off_ < have_) std::memmove(buf_.data(), buf_.data() + off_, have_ - off_);
    have_ -= off_;
    off_ = 0;
  }

  // One read into the buffer's free end (which Receive made room for). 1: bytes came (drained_:
  // they were all the socket had); 0: none now (EAGAIN); -1: ended (EOF, an error).
  int ReadSome(Core& core) {
    for (;;) {
      const size_t room = buf_.size() - have_;
      const ssize_t r = sys::Read(fd_, buf_.data() + have_, room);
      if (r > 0) {
        have_ += static_cast<size_t>(r);
        core.c.rxWireBytes.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
        // (a read stops short of what it asked for only when the socket had no more)
        drained_ = static_cast<size_t>(r) < room;
        return 1;
      }
      if (r < 0 && errno == EINTR) continue;
      if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return 0;
      return ReadEnded(core, r);
    }
  }

  // A read that returned r: 0 (the peer's FIN) or -1 with an error in errno. Ends the engine; -1.
  int ReadEnded(Core& core, ssize_t r) {
    if (r == 0) {
      core.End(kEndEof, "connection closed by the peer (TCP EOF)");
      return -1;
    }
    const int err = errno;
    if (err == ECONNRESET) core.End(kEndEof, "connection reset by the peer");
    else core.End(kEndNetworkError, std::string("recv: ") + ErrnoText(err));
    return -1;
  }

  // Writes all of iov[0..cnt) (poll on EAGAIN). false = stop or ended.
  bool WriteAll(Core& core, struct iovec* iov, int cnt) {
    int first = 0;
    for (;;) {
      first = WriteSome(core, iov, cnt, first);
      if (first < 0) return false;
      if (first == cnt) return true;
      if (!core.WaitFd(fd_, POLLOUT)) return false;
    }
  }

  // Writes iov[first..cnt) until done or the socket is full (EAGAIN), never waiting. Returns the
  // index of the first iovec not written whole (trimmed in place to what is left), cnt when all
  // went, -1 when the engine ended.
  int WriteSome(Core& core, struct iovec* iov, int cnt, int first = 0) {
    while (first < cnt) {
      struct msghdr mh;
      std::memset(&mh, 0, sizeof mh);
      mh.msg_iov = iov + first;
      mh.msg_iovlen = static_cast<size_t>(cnt - first);
      ssize_t n = sys::Sendmsg(fd_, &mh, MSG_NOSIGNAL);
      if (n >= 0) {
        core.c.txWireBytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        first = AdvanceIovecs(iov, cnt, first, static_cast<size_t>(n));
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return first;
      int err = errno;
      if (err == EPIPE || err == ECONNRESET) core.End(kEndEof, std::string("send: ") + ErrnoText(err));
      else core.End(kEndNetworkError, std::string("send: ") + ErrnoText(err));
      return -1;
    }
    return cnt;
  }

  // Waits as the layer asked, or ends the engine on Closed/Failed. false = ended or stop.
  bool AfterLayer(Core& core, StreamLayer::Result r, const std::string& err) {
    switch (r) {
      case StreamLayer::Ok:
        return true;
      case StreamLayer::WantRead:
        return core.WaitFd(fd_, POLLIN);
      case StreamLayer::WantWrite:
        return core.WaitFd(fd_, POLLOUT);
      case StreamLayer::Closed:
        core.End(kEndEof, "connection closed by the peer");
        return false;
      case StreamLayer::Failed:
        core.End(kEndNetworkError, err);
        return false;
    }
    return false;
  }

  // One read through the layer into the buffer. false = ended or stop.
  bool ReadThroughLayer(Core& core) {
    for (;;) {
      size_t n = 0;
      std::string err;
      StreamLayer::Result r = layer_->Read(buf_.data() + have_, buf_.size() - have_, &n, &err);
      if (r == StreamLayer::Ok) {
        have_ += n;
        core.c.rxWireBytes.fetch_add(n, std::memory_order_relaxed);
        return true;
      }
      if (!AfterLayer(core, r, err)) return false;
    }
  }

  // The batch as one buffer through the layer (TLS records per batch, not per frame).
  bool SendThroughLayer(Core& core, Message* msgs, size_t n) {
    out_.clear();
    for (size_t i = 0; i < n; i++) out_.insert(out_.end(), msgs[i].data, msgs[i].data + msgs[i].len);
    size_t off = 0;
    while (off < out_.size()) {
      size_t w = 0;
      std::string err;
      StreamLayer::Result r = layer_->Write(out_.data() + off, out_.size() - off, &w, &err);
      if (r == StreamLayer::Ok) {
        off += w;
        core.c.txWireBytes.fetch_add(w, std::memory_order_relaxed);
        continue;
      }
      if (!AfterLayer(core, r, err)) return false;
    }
    core.c.txFrames.fetch_add(n, std::memory_order_relaxed);
    return true;
  }

  int fd_;
  Framer* framer_;
  std::unique_ptr<StreamLayer> layer_;
  std::vector<uint8_t> out_;  // tx thread: a batch on its way through the layer
  std::vector<uint8_t> buf_;
  size_t have_ = 0, off_ = 0, skip_ = 0;
  bool drained_ = false;  // rx thread: the last read took all the socket had
};

class UdpTransport : public Transport {
 public:
  UdpTransport(int fd, size_t rxSlotBytes, int batch, bool multiPeer)
      : fd_(fd),
        multiPeer_(multiPeer),
        gso_(!SwitchedOff("TUND_NO_UDP_GSO")),
        gro_(!SwitchedOff("TUND_NO_UDP_GRO")),
        rxSlotBytes_(rxSlotBytes),
        batch_(static_cast<size_t>(batch)),
        txIov_(static_cast<size_t>(batch) + 16),
        txMsgs_(static_cast<size_t>(batch) + 16),
        txTo_(static_cast<size_t>(batch) + 16),
        txCtl_((static_cast<size_t>(batch) + 16) * kCmsgSpace) {}
  int Fd() const override { return fd_; }
  bool IsStream() const override { return false; }

  void Start(Core&) override {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) family_ = ss.ss_family;
    len = sizeof ss;
    if (getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) == 0) {
      connected_.store(true);
      peer_ = Endpoint::From(ss, len);  // Empty for an AF_UNIX stand-in (nobody else can send)
    }
    awaiting_.store(!multiPeer_ && !connected_);
    const bool inet = family_ == AF_INET || family_ == AF_INET6;
    if (!inet) gso_ = gro_ = false;  // (an AF_UNIX stand-in in tests)
    if (inet && !SwitchedOff("TUND_NO_SOCKET_BUFFERS")) {
      GrowBuffer(fd_, SO_RCVBUFFORCE, SO_RCVBUF, kSocketBuffer);
      GrowBuffer(fd_, SO_SNDBUFFORCE, SO_SNDBUF, kSocketBuffer);
    }
    if (gro_) {
      int one = 1;
      gro_ = setsockopt(fd_, SOL_UDP, UDP_GRO, &one, sizeof one) == 0;
    }
    // A GRO read needs room for a coalesced train (64 KiB), but lone small datagrams come one per
    // slot: as many slots as without GRO, or small packets would take more recvmmsg calls each
    // than with GRO off (issue 14's 64-byte regression). Slots are calloc'ed: the pages of the
    // large ones are only resident once a burst has filled them.
    size_t slots = batch_;
    size_t bytes = gro_ ? std::max(rxSlotBytes_, kGroSlotBytes) : rxSlotBytes_;
    rxSlots_ = std::make_unique<Slots>(slots, bytes);
    rxIov_.resize(slots);
    rxMsgs_.resize(slots);
    rxNames_.resize(slots);
    rxFrom_.resize(slots);
    rxCtl_.assign(slots * kCmsgSpace, 0);
    rxOut_.resize(gro_ ? slots * kGsoMaxSegments : slots);
    // every receive entry points at its slot, name and control space once, for the socket's life
    for (size_t i = 0; i < slots; i++) {
      rxIov_[i] = {(*rxSlots_)[i], rxSlots_->Bytes()};
      std::memset(&rxMsgs_[i], 0, sizeof rxMsgs_[i]);
      rxMsgs_[i].msg_hdr.msg_iov = &rxIov_[i];
      rxMsgs_[i].msg_hdr.msg_iovlen = 1;
      rxMsgs_[i].msg_hdr.msg_name = &rxNames_[i];
      if (gro_) rxMsgs_[i].msg_hdr.msg_control = rxCtl_.data() + i * kCmsgSpace;
    }
    rxDirty_ = slots;
  }

  bool AwaitingPeer() const override { return awaiting_.load(std::memory_order_acquire); }
  // A full socket buffer drains by itself (no peer holds it): Send never waits for the peer.
  bool CanTrySend() const override { return true; }

  bool Pin(Core& core, const Endpoint& peer) override {
    if (peer.Empty()) return true;
    Endpoint to;
    if (!peer.ForFamily(family_, &to) || connect(fd_, to.Sockaddr(), to.len) < 0) {
      core.End(kEndNetworkError, std::string("connect (nat_hack): ") + ErrnoText(errno));
      return false;
    }
    peer_ = peer;
    connected_.store(true);
    awaiting_.store(false, std::memory_order_release);
    core.WakeTx();
    return true;
  }

  bool Send(Core& core, Message* msgs, size_t n) override {
    // One datagram to the connected peer (a lone packet, docs/engine.md "Latency"): one sendmsg,
    // no entries to plan. What fails takes the general way below, which knows what to do.
    if (n == 1 && (msgs[0].peer == nullptr || msgs[0].peer->Empty()) && connected_.load(std::memory_order_acquire)) {
      struct iovec iov = {msgs[0].data, msgs[0].len};
      struct msghdr h = {};
      h.msg_iov = &iov;
      h.msg_iovlen = 1;
      const ssize_t sent = sys::Sendmsg(fd_, &h, MSG_NOSIGNAL);
      if (sent >= 0) {
        core.c.txFrames.fetch_add(1, std::memory_order_relaxed);
        core.c.txWireBytes.fetch_add(static_cast<uint64_t>(sent), std::memory_order_relaxed);
        return true;
      }
    }
    // entries: one per datagram, or per GSO run of datagrams (txIov_ holds every message's iovec
    // in order; an entry points at its run of them)
    unsigned count = 0, iovs = 0;
    uint64_t datagrams = 0;
    size_t runSize = 0, runBytes = 0;
    bool runOpen = false;  // the last entry may take more datagrams
    for (size_t i = 0; i < n; i++) {
      const Endpoint* to = Destination(msgs[i]);
      if (to == nullptr) {
        // nowhere to send it: no peer yet (nat_hack), or an endpoint this socket cannot reach
        core.c.txDropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      datagrams++;
      const size_t len = msgs[i].len;
      txIov_[iovs] = {msgs[i].data, len};
      if (runOpen && len > 0 && len <= runSize && runBytes + len <= kGsoMaxBytes &&
          txMsgs_[count - 1].msg_hdr.msg_iovlen < kGsoMaxSegments && SameDestination(txTo_[count - 1], to)) {
        struct msghdr& h = txMsgs_[count - 1].msg_hdr;
        h.msg_iovlen++;
        runBytes += len;
        runOpen = len == runSize;  // a shorter datagram ends the run
        iovs++;
        continue;
      }
      std::memset(&txMsgs_[count], 0, sizeof txMsgs_[count]);
      struct msghdr& h = txMsgs_[count].msg_hdr;
      if (to->Empty()) {
        txTo_[count] = Endpoint{};
      } else {
        txTo_[count] = *to;
        h.msg_name = &txTo_[count].addr;
        h.msg_namelen = txTo_[count].len;
      }
      h.msg_iov = &txIov_[iovs];
      h.msg_iovlen = 1;
      runSize = runBytes = len;
      runOpen = gso_ && len > 0 && len < gsoBelow_;
      count++;
      iovs++;
    }
    core.c.txFrames.fetch_add(datagrams, std::memory_order_relaxed);
    // the UDP_SEGMENT cmsg on every entry that carries more than one datagram
    for (unsigned i = 0; i < count; i++) {
      struct msghdr& h = txMsgs_[i].msg_hdr;
      if (h.msg_iovlen < 2) continue;
      uint8_t* ctl = txCtl_.data() + i * kCmsgSpace;
      std::memset(ctl, 0, kCmsgSpace);
      h.msg_control = ctl;
      h.msg_controllen = kCmsgSpace;
      struct cmsghdr* cm = CMSG_FIRSTHDR(&h);
      cm->cmsg_level = SOL_UDP;
      cm->cmsg_type = UDP_SEGMENT;
      cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
      uint16_t seg = static_cast<uint16_t>(h.msg_iov[0].iov_len);
      std::memcpy(CMSG_DATA(cm), &seg, sizeof seg);
      h.msg_controllen = CMSG_SPACE(sizeof(uint16_t));
    }
    return SendEntries(core, txMsgs_.data(), count);
  }

  void SendFinal(Core& core, Message* msgs, size_t n) override {
    for (size_t i = 0; i < n; i++) {
      const Endpoint* to = Destination(msgs[i]);
      if (to == nullptr) continue;
      SendBestEffort(fd_, msgs[i], to->Empty() ? nullptr : to->Sockaddr(), to->len, core);
    }
  }

  int Receive(Core& core, Message* out, int max) override {
    for (;;) {
      if (rxNext_ < rxHave_) {
        // the rest of what the last read brought (a coalesced read splits into many)
        int n = static_cast<int>(std::min(rxHave_ - rxNext_, static_cast<size_t>(max)));
        std::copy(rxOut_.begin() + static_cast<long>(rxNext_), rxOut_.begin() + static_cast<long>(rxNext_) + n, out);
        rxNext_ += static_cast<size_t>(n);
        return n;
      }
      // a socket awaiting its peer takes one datagram at a time: the first valid one decides
      unsigned want = AwaitingPeer() ? 1u : static_cast<unsigned>(rxMsgs_.size());
      ResetEntries(rxDirty_);
      if (drained_) {
        // the last read emptied the socket: wait for more rather than make a read that finds
        // nothing (a lone datagram's round then costs one system call less). (The wait may serve
        // lone datagrams itself, Engine::LoneRx, and leave the rest of a read buffered.)
        drained_ = false;
        if (core.Ended() || !core.WaitFd(fd_, POLLIN)) return -1;
        continue;
      }
      rxDirty_ = 1;  // (a failed read may have written the first)
      int r = sys::Recvmmsg(fd_, rxMsgs_.data(), want, MSG_DONTWAIT);
      if (r > 1) rxDirty_ = static_cast<size_t>(r);
      // (recvmmsg stops short of `want` only when the socket is empty, or on an error that the
      // next call reports: either way the wait comes first)
      drained_ = r >= 0 && static_cast<unsigned>(r) < want;
      if (drained_) MarkEmptied();
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          MarkEmptied();
          if (core.Ended() || !core.WaitFd(fd_, POLLIN)) return -1;
          continue;
        }
        return ReadFailed(core);
      }
      const size_t given = TakeRead(core, r, out, static_cast<size_t>(std::max(max, 0)));
      if (given > 0) return static_cast<int>(given);
      if (core.Ended()) return -1;
    }
  }

  // One datagram without waiting, for the lone-packet path. The read asks for two: a second one
  // means a burst, whose datagrams wait for Receive (Buffered), which reads the rest in batches
  // (and so does a GRO train).
  int ReceiveOne(Core& core, Message* out) override {
    if (rxNext_ < rxHave_ || AwaitingPeer()) return kNotAlone;
    for (;;) {
      const unsigned want = std::min<unsigned>(2, static_cast<unsigned>(rxMsgs_.size()));
      ResetEntries(std::max<size_t>(rxDirty_, want));
      int r = sys::Recvmmsg(fd_, rxMsgs_.data(), want, MSG_DONTWAIT);
      rxDirty_ = r > 1 ? static_cast<size_t>(r) : 1;
      // (Receive reads next, without waiting first, unless this read emptied the socket)
      drained_ = r >= 0 && static_cast<unsigned>(r) < want;
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          MarkEmptied();
          return 0;
        }
        return ReadFailed(core);
      }
      const struct msghdr& h = rxMsgs_[0].msg_hdr;
      if (r == 1 && onlyPeer_ && h.msg_controllen == 0 && !(h.msg_flags & MSG_TRUNC)) {
        // one whole datagram (no GRO train: that comes with its cmsg), and only the peer can
        // have sent it: nothing of TakeRead's to do but count it
        const size_t len = rxMsgs_[0].msg_len;
        core.c.rxWireBytes.fetch_add(len, std::memory_order_relaxed);
        core.c.rxFrames.fetch_add(1, std::memory_order_relaxed);
        *out = Message{};
        out->data = (*rxSlots_)[0];
        out->len = len;
        out->peer = &peer_;
        out->truncated = len > rxSlotBytes_;
        rxHave_ = rxNext_ = 0;
        return 1;
      }
      if (drained_) MarkEmptied();
      return TakeRead(core, r, out, 1) > 0 ? 1 : 0;
    }
  }
  bool Buffered() const override { return rxNext_ < rxHave_; }
  bool OnlyPeer() const override { return onlyPeer_ && rxNext_ == rxHave_; }
  bool Gro() const override { return gro_; }
  int ReceiveFailed(Core& core, ssize_t) override { return ReadFailed(core); }

 private:
  // Where m goes (an empty Endpoint: the connected peer), or nullptr when it cannot go.
  const Endpoint* Destination(const Message& m) {
    if (m.peer == nullptr || m.peer->Empty()) return connected_.load(std::memory_order_acquire) ? &kConnected : nullptr;
    if (!m.peer->ForFamily(family_, &scratchTo_)) return nullptr;
    return &scratchTo_;
  }
  static bool SameDestination(const Endpoint& a, const Endpoint* b) {
    if (a.Empty() || b->Empty()) return a.Empty() && b->Empty();
    return a.len == b->len && std::memcmp(&a.addr, &b->addr, a.len) == 0;
  }
  // Only the entries the last read filled have lengths and flags to reset (the kernel writes
  // nothing else): a lone datagram's round does not rewrite all 64 (4 KiB, cold after an idle
  // spell: measurable in a ping's round trip, docs/engine.md "Latency").
  void ResetEntries(size_t n) {
    for (size_t i = 0; i < n; i++) {
      rxMsgs_[i].msg_hdr.msg_namelen = sizeof rxNames_[i];
      rxMsgs_[i].msg_hdr.msg_controllen = gro_ ? kCmsgSpace : 0;
      rxMsgs_[i].msg_hdr.msg_flags = 0;
    }
  }
  // The datagrams of a read of `r` entries: the first `room` go to out (a lone datagram touches
  // no page of rxOut_, docs/engine.md "The path after idle"), the rest of a large read waits in
  // rxOut_. Returns how many went to out.
  size_t TakeRead(Core& core, int r, Message* out, size_t room) {
    rxHave_ = rxNext_ = 0;
    size_t given = 0;
    for (int i = 0; i < r; i++) {
      const struct msghdr& h = rxMsgs_[i].msg_hdr;
      const size_t len = rxMsgs_[i].msg_len;
      const Datagrams d = CountDatagrams(h, len, gro_, core.c);
      rxFrom_[i] = Endpoint::From(rxNames_[i], h.msg_namelen);
      if (!peer_.Empty() && !rxFrom_[i].Empty() && !rxFrom_[i].SameAs(peer_)) {
        core.c.foreignDrops.fetch_add(d.count, std::memory_order_relaxed);
        continue;
      }
      uint8_t* base = (*rxSlots_)[static_cast<size_t>(i)];
      const bool truncated = (h.msg_flags & MSG_TRUNC) != 0;
      ForEachDatagram(len, d.seg, [&](size_t off, size_t part) {
        Message& m = given < room ? out[given++] : rxOut_[rxHave_++];
        m = Message{};
        m.data = base + off;
        m.len = part;
        m.peer = &rxFrom_[i];
        m.truncated = truncated || m.len > rxSlotBytes_;  // (larger than a datagram may be)
      });
    }
    return given;
  }
  // A read found the socket empty. Once that happened on a connected socket, everything in it
  // came after connect(), and the kernel gives a connected socket only its peer's datagrams: the
  // ones from elsewhere (foreignDrops) can only be those queued before.
  void MarkEmptied() {
    if (!onlyPeer_ && connected_.load(std::memory_order_relaxed)) onlyPeer_ = true;
  }
  int ReadFailed(Core& core) {
    int err = errno;
    core.End(kEndNetworkError, std::string("recvmmsg: ") + ErrnoText(err));
    return -1;
  }

  // Sends msgs[0..count) (entries of one or more datagrams). false: ended or stop.
  bool SendEntries(Core& core, struct mmsghdr* msgs, unsigned count) {
    unsigned off = 0;
    while (off < count) {
      int r = sys::Sendmmsg(fd_, msgs + off, count - off, MSG_NOSIGNAL);
      if (r > 0) {
        for (int i = 0; i < r; i++) {
          const struct mmsghdr& m = msgs[off + static_cast<unsigned>(i)];
          core.c.txWireBytes.fetch_add(m.msg_len, std::memory_order_relaxed);
          if (m.msg_hdr.msg_iovlen > 1) core.c.udpGsoSends.fetch_add(1, std::memory_order_relaxed);
        }
        off += static_cast<unsigned>(r);
        continue;
      }
      int err = r < 0 ? errno : EIO;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        if (!core.WaitFd(fd_, POLLOUT, err == ENOBUFS ? 5 : -1) && core.StopRequested()) return false;
        continue;
      }
      const struct msghdr& h = msgs[off].msg_hdr;
      if (h.msg_iovlen > 1 && (err == EIO || err == EINVAL || err == EMSGSIZE)) {
        // segmentation refused. EIO/EINVAL: by the kernel or the device, GSO is off for good.
        // EMSGSIZE: datagrams of this size need IP fragments, which GSO cannot make: no more
        // GSO for this size and above. This entry's datagrams go one by one.
        if (err == EMSGSIZE) gsoBelow_ = std::min(gsoBelow_, h.msg_iov[0].iov_len);
        else gso_ = false;
        if (!SendOneByOne(core, h)) return false;
        off++;
        continue;
      }
      if (Droppable(err)) {
        // ICMP feedback for earlier datagrams, or this one cannot go: drop it, like a lost datagram
        core.c.txDropped.fetch_add(h.msg_iovlen, std::memory_order_relaxed);
        off++;
        continue;
      }
      core.End(kEndNetworkError, std::string("sendmmsg: ") + ErrnoText(err));
      return false;
    }
    return true;
  }

  // The datagrams of one GSO entry, each on its own.
  bool SendOneByOne(Core& core, const struct msghdr& h) {
    flat_.resize(h.msg_iovlen);
    for (size_t k = 0; k < h.msg_iovlen; k++) {
      std::memset(&flat_[k], 0, sizeof flat_[k]);
      flat_[k].msg_hdr.msg_name = h.msg_name;
      flat_[k].msg_hdr.msg_namelen = h.msg_namelen;
      flat_[k].msg_hdr.msg_iov = h.msg_iov + k;
      flat_[k].msg_hdr.msg_iovlen = 1;
    }
    std::vector<struct mmsghdr> mine;
    mine.swap(flat_);  // (SendEntries does not come back here: single datagrams)
    bool ok = SendEntries(core, mine.data(), static_cast<unsigned>(mine.size()));
    mine.swap(flat_);
    return ok;
  }

  bool Droppable(int err) const {
    if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EMSGSIZE) return true;
    // a socket serving many peers must not end for one unreachable or refused destination
    return multiPeer_ && (err == EPERM || err == EACCES || err == EADDRNOTAVAIL || err == EAFNOSUPPORT || err == EINVAL ||
                          err == EHOSTDOWN || err == ENETDOWN);
  }

  static const Endpoint kConnected;
  int fd_;
  bool multiPeer_;
  bool gso_, gro_;  // gso_: tx thread (after Start); gro_: fixed at Start
  size_t gsoBelow_ = SIZE_MAX;  // tx thread: GSO only for datagrams smaller than this (EMSGSIZE)
  std::vector<struct mmsghdr> flat_;  // tx thread: SendOneByOne's messages
  size_t rxSlotBytes_, batch_;
  int family_ = AF_UNSPEC;
  std::atomic<bool> connected_{false};  // set by Start or (rx thread) Pin; read by tx
  std::atomic<bool> awaiting_{false};
  Endpoint peer_;  // written by the rx thread before awaiting_ turns false; read by rx only
  std::unique_ptr<Slots> rxSlots_;
  std::vector<struct iovec> rxIov_;
  std::vector<struct mmsghdr> rxMsgs_;
  std::vector<sockaddr_storage> rxNames_;
  std::vector<Endpoint> rxFrom_;
  std::vector<uint8_t> rxCtl_;
  size_t rxDirty_ = 0;          // receive entries [0, rxDirty_) need their lengths and flags reset
  bool drained_ = false;        // the last read took all the socket had
  bool onlyPeer_ = false;       // rx thread: connected, and emptied since (MarkEmptied)
  std::vector<Message> rxOut_;  // what the last read brought, split into datagrams
  size_t rxHave_ = 0, rxNext_ = 0;
  std::vector<struct iovec> txIov_;
  std::vector<struct mmsghdr> txMsgs_;
  std::vector<Endpoint> txTo_;
  std::vector<uint8_t> txCtl_;
  Endpoint scratchTo_;  // tx thread
};

const Endpoint UdpTransport::kConnected{};

}  // namespace

std::unique_ptr<Transport> MakeTcpTransport(int fd, Framer* framer, std::vector<uint8_t> initial,
                                            std::unique_ptr<StreamLayer> layer) {
  return std::make_unique<TcpTransport>(fd, framer, std::move(initial), std::move(layer));
}

std::unique_ptr<Transport> MakeUdpTransport(int fd, size_t rxSlotBytes, int batch, bool multiPeer) {
  return std::make_unique<UdpTransport>(fd, rxSlotBytes, batch, multiPeer);
}

}  // namespace engine
}  // namespace tund
