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
// Extension points (issue 14, docs/engine.md): UDP_SEGMENT on Send when consecutive messages go
// to one destination with one size (one sendmsg per run, fallback to sendmmsg on EIO), UDP_GRO
// on Receive (a cmsg gives the segment size; split into messages); large socket buffers. For the
// vpn-ws hub, a transport with many TCP connections gives each message a connection id in the
// same way UDP messages carry an endpoint.
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "../errors.h"
#include "engine.h"

namespace tund {
namespace engine {

namespace {

constexpr size_t kTcpRxBuf = 256 * 1024;
constexpr int kIovMax = 1024;

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
  TcpTransport(int fd, Framer* framer, std::vector<uint8_t> initial) : fd_(fd), framer_(framer), buf_(kTcpRxBuf) {
    have_ = std::min(initial.size(), buf_.size());
    std::memcpy(buf_.data(), initial.data(), have_);
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

  void SendFinal(Core& core, Message* msgs, size_t n) override {
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
      ssize_t r = read(fd_, buf_.data() + have_, buf_.size() - have_);
      if (r > 0) {
        have_ += static_cast<size_t>(r);
        core.c.rxWireBytes.fetch_add(static_cast<uint64_t>(r), std::memory_order_relaxed);
        continue;
      }
      if (r == 0) {
        core.End(kEndEof, "connection closed by the peer (TCP EOF)");
        return -1;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!core.WaitFd(fd_, POLLIN)) return -1;
        continue;
      }
      int err = errno;
      if (err == ECONNRESET) core.End(kEndEof, "connection reset by the peer");
      else core.End(kEndNetworkError, std::string("recv: ") + ErrnoText(err));
      return -1;
    }
  }

 private:
  void Compact() {
    if (off_ == 0) return;
    std::memmove(buf_.data(), buf_.data() + off_, have_ - off_);
    have_ -= off_;
    off_ = 0;
  }

  // Writes all of iov[0..cnt) (poll on EAGAIN). false = stop or ended.
  bool WriteAll(Core& core, struct iovec* iov, int cnt) {
    int first = 0;
    while (first < cnt) {
      struct msghdr mh;
      std::memset(&mh, 0, sizeof mh);
      mh.msg_iov = iov + first;
      mh.msg_iovlen = static_cast<size_t>(cnt - first);
      ssize_t n = sendmsg(fd_, &mh, MSG_NOSIGNAL);
      if (n >= 0) {
        core.c.txWireBytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        size_t left = static_cast<size_t>(n);
        while (first < cnt && left >= iov[first].iov_len) left -= iov[first++].iov_len;
        if (first < cnt && left > 0) {
          iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + left;
          iov[first].iov_len -= left;
        }
        // skip empty iovecs so that a finished batch ends the loop
        while (first < cnt && iov[first].iov_len == 0) first++;
        continue;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!core.WaitFd(fd_, POLLOUT)) return false;
        continue;
      }
      int err = errno;
      if (err == EPIPE || err == ECONNRESET) core.End(kEndEof, std::string("send: ") + ErrnoText(err));
      else core.End(kEndNetworkError, std::string("send: ") + ErrnoText(err));
      return false;
    }
    return true;
  }

  int fd_;
  Framer* framer_;
  std::vector<uint8_t> buf_;
  size_t have_ = 0, off_ = 0, skip_ = 0;
};

class UdpTransport : public Transport {
 public:
  UdpTransport(int fd, size_t rxSlotBytes, int batch, bool multiPeer)
      : fd_(fd),
        multiPeer_(multiPeer),
        rxSlots_(static_cast<size_t>(batch), rxSlotBytes),
        rxIov_(static_cast<size_t>(batch)),
        rxMsgs_(static_cast<size_t>(batch)),
        rxNames_(static_cast<size_t>(batch)),
        rxFrom_(static_cast<size_t>(batch)),
        txIov_(static_cast<size_t>(batch) + 16),
        txMsgs_(static_cast<size_t>(batch) + 16),
        txTo_(static_cast<size_t>(batch) + 16) {}
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
  }

  bool AwaitingPeer() const override { return awaiting_.load(std::memory_order_acquire); }

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
    unsigned count = 0;
    for (size_t i = 0; i < n; i++) {
      if (!Address(msgs[i], count)) {
        // nowhere to send it: no peer yet (nat_hack), or an endpoint this socket cannot reach
        core.c.txDropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      txIov_[count] = {msgs[i].data, msgs[i].len};
      txMsgs_[count].msg_hdr.msg_iov = &txIov_[count];
      txMsgs_[count].msg_hdr.msg_iovlen = 1;
      count++;
    }
    core.c.txFrames.fetch_add(count, std::memory_order_relaxed);
    unsigned off = 0;
    while (off < count) {
      int r = sendmmsg(fd_, txMsgs_.data() + off, count - off, MSG_NOSIGNAL);
      if (r > 0) {
        for (int i = 0; i < r; i++) core.c.txWireBytes.fetch_add(txMsgs_[off + static_cast<unsigned>(i)].msg_len, std::memory_order_relaxed);
        off += static_cast<unsigned>(r);
        continue;
      }
      int err = r < 0 ? errno : EIO;
      if (err == EINTR) continue;
      if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS) {
        if (!core.WaitFd(fd_, POLLOUT, err == ENOBUFS ? 5 : -1) && core.StopRequested()) return false;
        continue;
      }
      if (Droppable(err)) {
        // ICMP feedback for earlier datagrams, or this one cannot go: drop it, like a lost datagram
        core.c.txDropped.fetch_add(1, std::memory_order_relaxed);
        off++;
        continue;
      }
      core.End(kEndNetworkError, std::string("sendmmsg: ") + ErrnoText(err));
      return false;
    }
    return true;
  }

  void SendFinal(Core& core, Message* msgs, size_t n) override {
    for (size_t i = 0; i < n; i++) {
      if (!Address(msgs[i], 0)) continue;
      const auto& h = txMsgs_[0].msg_hdr;
      SendBestEffort(fd_, msgs[i], static_cast<const sockaddr*>(h.msg_name), h.msg_namelen, core);
    }
  }

  int Receive(Core& core, Message* out, int max) override {
    for (;;) {
      // a socket awaiting its peer takes one datagram at a time: the first valid one decides
      unsigned want = AwaitingPeer() ? 1u : static_cast<unsigned>(std::min(max, static_cast<int>(rxMsgs_.size())));
      for (unsigned i = 0; i < want; i++) {
        rxIov_[i] = {rxSlots_[i], rxSlots_.Bytes()};
        std::memset(&rxMsgs_[i], 0, sizeof rxMsgs_[i]);
        rxMsgs_[i].msg_hdr.msg_iov = &rxIov_[i];
        rxMsgs_[i].msg_hdr.msg_iovlen = 1;
        rxMsgs_[i].msg_hdr.msg_name = &rxNames_[i];
        rxMsgs_[i].msg_hdr.msg_namelen = sizeof rxNames_[i];
      }
      int r = recvmmsg(fd_, rxMsgs_.data(), want, MSG_DONTWAIT, nullptr);
      if (r < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          if (core.Ended() || !core.WaitFd(fd_, POLLIN)) return -1;
          continue;
        }
        int err = errno;
        core.End(kEndNetworkError, std::string("recvmmsg: ") + ErrnoText(err));
        return -1;
      }
      int n = 0;
      for (int i = 0; i < r; i++) {
        size_t len = rxMsgs_[i].msg_len;
        core.c.rxWireBytes.fetch_add(len, std::memory_order_relaxed);
        core.c.rxFrames.fetch_add(1, std::memory_order_relaxed);
        rxFrom_[i] = Endpoint::From(rxNames_[i], rxMsgs_[i].msg_hdr.msg_namelen);
        if (!peer_.Empty() && !rxFrom_[i].Empty() && !rxFrom_[i].SameAs(peer_)) {
          core.c.foreignDrops.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        out[n] = Message{};
        out[n].data = rxSlots_[static_cast<size_t>(i)];
        out[n].len = len;
        out[n].peer = &rxFrom_[i];
        out[n].truncated = (rxMsgs_[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        n++;
      }
      if (n > 0) return n;
      if (core.Ended()) return -1;
    }
  }

 private:
  // Fills txMsgs_[slot]'s destination for m; false when it has none this socket can use.
  bool Address(const Message& m, unsigned slot) {
    struct msghdr& h = txMsgs_[slot].msg_hdr;
    std::memset(&txMsgs_[slot], 0, sizeof txMsgs_[slot]);
    if (m.peer == nullptr || m.peer->Empty()) return connected_.load(std::memory_order_acquire);
    if (!m.peer->ForFamily(family_, &txTo_[slot])) return false;
    h.msg_name = &txTo_[slot].addr;
    h.msg_namelen = txTo_[slot].len;
    return true;
  }

  bool Droppable(int err) const {
    if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EMSGSIZE) return true;
    // a socket serving many peers must not end for one unreachable or refused destination
    return multiPeer_ && (err == EPERM || err == EACCES || err == EADDRNOTAVAIL || err == EAFNOSUPPORT || err == EINVAL ||
                          err == EHOSTDOWN || err == ENETDOWN);
  }

  int fd_;
  bool multiPeer_;
  int family_ = AF_UNSPEC;
  std::atomic<bool> connected_{false};  // set by Start or (rx thread) Pin; read by tx
  std::atomic<bool> awaiting_{false};
  Endpoint peer_;  // written by the rx thread before awaiting_ turns false; read by rx only
  Slots rxSlots_;
  std::vector<struct iovec> rxIov_;
  std::vector<struct mmsghdr> rxMsgs_;
  std::vector<sockaddr_storage> rxNames_;
  std::vector<Endpoint> rxFrom_;
  std::vector<struct iovec> txIov_;
  std::vector<struct mmsghdr> txMsgs_;
  std::vector<Endpoint> txTo_;
};

}  // namespace

std::unique_ptr<Transport> MakeTcpTransport(int fd, Framer* framer, std::vector<uint8_t> initial) {
  return std::make_unique<TcpTransport>(fd, framer, std::move(initial));
}

std::unique_ptr<Transport> MakeUdpTransport(int fd, size_t rxSlotBytes, int batch, bool multiPeer) {
  return std::make_unique<UdpTransport>(fd, rxSlotBytes, batch, multiPeer);
}

}  // namespace engine
}  // namespace tund
