// Devices of the engine (engine.h): a tun/tap, where one read or write is one packet, and a byte
// stream (VTun's pipe and tty types: a socketpair or a pty master).
//
// Beyond vtund, for a tun/tap: a write that fails with EIO while the interface is not up (our
// own `up` commands have not run yet) drops the packet (deviceDownDrops) instead of ending the
// session; a full queue (EAGAIN) waits 20 ms once, then drops the packet as the kernel would.
// Any other write error ends the engine (device_error).
//
// Offloads (issue 14, docs/engine.md): on a tun opened with IFF_VNET_HDR every read and write
// carries a virtio_net_hdr. Start asks the kernel for TSO/USO super-packets and partial checksums
// (TUNSETOFFLOAD; TUND_NO_TUN_OFFLOAD=1 asks for nothing); Read then cuts super-packets into
// MTU-size packets (one slot each, what does not fit the batch waits for the next Read) and
// completes partial checksums, so transforms see ordinary packets. Write coalesces the packets of
// one TCP flow in a batch into super-packets, and those of one UDP flow where the tun took USO
// (offload.h's Coalescer; TUND_NO_TUN_GRO=1 writes them one by one, TUND_NO_TUN_UDP_GRO=1 leaves
// UDP alone), falling back to single packets for good (of that protocol) if the kernel refuses one.
// Packets a transform authenticated (WireGuard) are merged without verifying their checksums first
// (SetAuthenticatedWrites; TUND_NO_WG_CHECKSUM_TRUST=1 verifies them).
#include <errno.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "../errors.h"
#include "engine.h"
#include "offload.h"
#include "sys.h"

namespace tund {
namespace engine {

namespace {

constexpr ssize_t kNothingNow = -1;
constexpr ssize_t kReadError = -2;

// One read (a scatter read: for a tun with virtio_net_hdr, header and packet where each is
// wanted): bytes (0: end of file), kNothingNow, or kReadError (errno set).
ssize_t ReadOnce(int fd, const struct iovec* iov, int iovCount) {
  for (;;) {
    ssize_t n = sys::Readv(fd, iov, iovCount);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return kNothingNow;
    return kReadError;
  }
}

class DeviceBase : public Device {
 public:
  explicit DeviceBase(int fd) : fd_(fd) {}
  int Fd() const override { return fd_; }

  int Read(Core& core, Slots& slots, size_t first, size_t headroom, size_t cap, Message* pkts, int max,
           bool hangup) override {
    int got = 0;
    while (got < max) {
      uint8_t* dst = slots[first + static_cast<size_t>(got)] + headroom;
      const struct iovec iov = {dst, cap};
      ssize_t n = ReadOnce(fd_, &iov, 1);
      if (n == kReadError) {
        core.End(kEndDeviceError, std::string("device read: ") + ErrnoText(errno));
        return -1;
      }
      if (n == 0 && Stream()) {
        core.End(kEndDeviceError, "device closed (end of file)");
        return -1;
      }
      if (n <= 0) break;  // nothing more now (a packet socket's 0 too)
      pkts[got] = Message{};
      pkts[got].data = dst;
      pkts[got].len = static_cast<size_t>(n);
      got++;
    }
    if (got == 0 && hangup) {
      // readable by hang-up only, nothing to read: the device is gone (no busy loop)
      core.End(kEndDeviceError, "device hung up");
      return -1;
    }
    return got;
  }

 protected:
  int fd_;
};

class PacketDevice : public DeviceBase {
 public:
  using DeviceBase::DeviceBase;
  bool Stream() const override { return false; }
  bool Pending() const override { return segNext_ < seg_.Count(); }
  bool TakeCut() override { return std::exchange(cut_, false); }

  void Start(Core&) override {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(fd_, TUNGETIFF, &ifr) == 0) {
      ifname_.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
      vnet_ = (ifr.ifr_flags & IFF_VNET_HDR) != 0;
    }
    if (!vnet_) return;
    int hdrLen = static_cast<int>(offload::kVnetHdrLen);
    ioctl(fd_, TUNSETVNETHDRSZ, &hdrLen);
    const bool tun = (ifr.ifr_flags & IFF_TUN) != 0;
    unsigned flags = 0;
    if (tun && !SwitchedOff("TUND_NO_TUN_OFFLOAD")) {
      using namespace offload;
      // the newest set first; a kernel without USO refuses it whole
      for (unsigned want : {kTunFCsum | kTunFTso4 | kTunFTso6 | kTunFUso4 | kTunFUso6, kTunFCsum | kTunFTso4 | kTunFTso6}) {
        if (ioctl(fd_, TUNSETOFFLOAD, static_cast<unsigned long>(want)) == 0) {
          flags = want;
          break;
        }
      }
    }
    if (flags == 0) ioctl(fd_, TUNSETOFFLOAD, 0UL);
    offloads_ = flags != 0;
    gro_ = tun && !SwitchedOff("TUND_NO_TUN_GRO");
    // a kernel that sends USO super-packets (6.2 and later) also takes them
    coalescer_.SetUdp(gro_ && (flags & offload::kTunFUso4) && !SwitchedOff("TUND_NO_TUN_UDP_GRO"));
    readBuf_.assign(offload::kVnetHdrLen + 65536, 0);
  }

  void Stop() override {
    // a persistent device outlives us: the next reader may not speak virtio_net_hdr
    if (offloads_) ioctl(fd_, TUNSETOFFLOAD, 0UL);
    offloads_ = false;
  }

  int Read(Core& core, Slots& slots, size_t first, size_t headroom, size_t cap, Message* pkts, int max,
           bool hangup) override {
    if (!vnet_) return DeviceBase::Read(core, slots, first, headroom, cap, pkts, max, hangup);
    int got = 0;
    bool readAny = false;
    while (got < max) {
      uint8_t* dst = slots[first + static_cast<size_t>(got)] + headroom;
      if (Pending()) {
        size_t n = seg_.Cut(segNext_++, dst, cap);
        if (n == 0) {
          core.c.txDropped.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        pkts[got] = Message{};
        pkts[got].data = dst;
        pkts[got].len = n;
        got++;
        cut_ = true;
        continue;
      }
      const long n = ReadPacket(core, dst, cap);
      if (n == kReadFailed) return -1;
      if (n == kEmpty) break;
      readAny = true;
      if (n <= 0) continue;  // dropped, or a super-packet to cut
      pkts[got] = Message{};
      pkts[got].data = dst;
      pkts[got].len = static_cast<size_t>(n);
      got++;
    }
    if (got == 0 && !readAny && hangup) {
      core.End(kEndDeviceError, "device hung up");
      return -1;
    }
    return got;
  }

  long ReadLone(Core& core, uint8_t* dst, size_t cap) override {
    if (!vnet_ || Pending()) return kNotAlone;
    const long n = ReadPacket(core, dst, cap);
    if (n > 0) return n;
    if (n == kReadFailed) return -1;
    return n == kSuper ? kNotAlone : 0;
  }

  size_t VnetHeaderLen() const override { return vnet_ ? offload::kVnetHdrLen : 0; }
  bool AdoptSuper(Core& core, const uint8_t* vnetHdr, const uint8_t* pkt, size_t len) override {
    len = std::min(len, readBuf_.size() - offload::kVnetHdrLen);
    std::memcpy(readBuf_.data() + offload::kVnetHdrLen, pkt, len);
    return LoadSuper(core, offload::ReadVnetHdr(vnetHdr), len);
  }

  void SetAuthenticatedWrites(bool on) override { coalescer_.SetTrustChecksums(on); }

  bool Write(Core& core, const Message* pkts, size_t n) override {
    if (!vnet_) {
      for (size_t i = 0; i < n; i++) {
        struct iovec iov = {pkts[i].data, pkts[i].len};
        if (!WriteOne(core, &iov, 1, 1, pkts[i].len)) return false;
      }
      return true;
    }
    // (a lone packet, the light-traffic case, has nothing to merge with: no plan, nor the
    // checksum pass the plan makes over a TCP segment)
    if (!gro_ || n == 1) return WriteSingles(core, pkts, 0, n);
    data_.resize(n);
    lens_.resize(n);
    for (size_t i = 0; i < n; i++) {
      data_[i] = pkts[i].data;
      lens_[i] = pkts[i].len;
    }
    coalescer_.Plan(data_.data(), lens_.data(), n);
    for (size_t k = 0; k < coalescer_.Size(); k++) {
      const offload::Coalescer::Write& w = coalescer_[k];
      if (!w.coalesced()) {
        if (!WriteOne(core, w.iov, w.iovCount, 1, w.bytes)) return false;
        continue;
      }
      int r = WriteOne(core, w.iov, w.iovCount, w.count, w.bytes, true);
      if (r == kRefused) {
        // the kernel does not take such super-packets: its members one by one, and never again
        if (w.udp) coalescer_.SetUdp(false);
        else gro_ = false;
        for (size_t m = 0; m < w.count; m++) {
          if (!WriteSingles(core, pkts, w.members[m], 1)) return false;
        }
        continue;
      }
      if (!r) return false;
      core.c.tunSuperWrites.fetch_add(1, std::memory_order_relaxed);
    }
    return true;
  }

 private:
  static constexpr int kRefused = 2;
  // ReadPacket's answers besides a packet's length
  static constexpr long kDropped = 0, kEmpty = -1, kReadFailed = -2, kSuper = -3;

  // One read of the tun (IFF_VNET_HDR): the packet lands in its slot, dst, at most cap bytes (no
  // copy for a plain packet, and of readBuf_ only the header's first bytes on a lone packet's
  // path: docs/engine.md, "The path after idle"). What is longer than kReadInSlot (a super-packet,
  // a jumbo packet) goes on in readBuf_, after room for the slot's part. Returns the packet's
  // length; kDropped (counted); kSuper: a super-packet, loaded to be cut (Pending); kEmpty:
  // nothing now; kReadFailed: ended.
  long ReadPacket(Core& core, uint8_t* dst, size_t cap) {
    const size_t inSlot = std::min(cap, kReadInSlot);
    uint8_t* const whole = readBuf_.data() + offload::kVnetHdrLen;
    const struct iovec iov[3] = {{readBuf_.data(), offload::kVnetHdrLen},
                                 {dst, inSlot},
                                 {whole + inSlot, readBuf_.size() - offload::kVnetHdrLen - inSlot}};
    ssize_t n = ReadOnce(fd_, iov, 3);
    if (n == kReadError) {
      core.End(kEndDeviceError, std::string("device read: ") + ErrnoText(errno));
      return kReadFailed;
    }
    if (n <= 0) return kEmpty;
    if (static_cast<size_t>(n) <= offload::kVnetHdrLen) return kDropped;
    const offload::VnetHdr h = offload::ReadVnetHdr(readBuf_.data());
    const size_t len = static_cast<size_t>(n) - offload::kVnetHdrLen;
    if ((h.gsoType & ~offload::kGsoEcn) != offload::kGsoNone) {
      // the cuts go into the slots from this one on: the super-packet whole in readBuf_ first
      std::memcpy(whole, dst, std::min(len, inSlot));
      return LoadSuper(core, h, len) ? kSuper : kDropped;
    }
    if (len > cap) {
      core.c.txDropped.fetch_add(1, std::memory_order_relaxed);
      return kDropped;
    }
    if (len > inSlot) std::memcpy(dst + inSlot, whole + inSlot, len - inSlot);  // the rest of it
    if ((h.flags & offload::kNeedsCsum) && !offload::CompleteChecksum(dst, len, h.csumStart, h.csumOffset)) {
      core.c.txDropped.fetch_add(1, std::memory_order_relaxed);
      return kDropped;
    }
    return static_cast<long>(len);
  }

  // The super-packet of len bytes in readBuf_ (after its header's room), loaded to be cut
  // (Pending). false: dropped (counted).
  bool LoadSuper(Core& core, const offload::VnetHdr& h, size_t len) {
    const char* err = nullptr;
    segNext_ = 0;
    if (!seg_.Load(readBuf_.data() + offload::kVnetHdrLen, len, h, &err)) {
      core.c.txDropped.fetch_add(1, std::memory_order_relaxed);
      seg_ = offload::Segmenter();
      return false;
    }
    core.c.tunSuperReads.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  bool WriteSingles(Core& core, const Message* pkts, size_t from, size_t n) {
    uint8_t none[offload::kVnetHdrLen] = {0};
    for (size_t i = from; i < from + n; i++) {
      struct iovec iov[2] = {{none, sizeof none}, {pkts[i].data, pkts[i].len}};
      if (!WriteOne(core, iov, 2, 1, pkts[i].len)) return false;
    }
    return true;
  }

  // Writes one packet (or super-packet of `packets` packets, `bytes` as they came). 1: written or
  // dropped as the kernel would; 0: ended or stop; kRefused: EINVAL on a super-packet (refusable).
  int WriteOne(Core& core, const struct iovec* iov, int iovCount, size_t packets, size_t bytes, bool refusable = false) {
    for (int eagain = 0;;) {
      ssize_t n = sys::Writev(fd_, iov, iovCount);
      if (n >= 0) break;  // a packet device takes the packet whole
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // queue full: wait a little, then drop the packet as the kernel would
        if (eagain++ < 1 && core.WaitFd(fd_, POLLOUT, 20)) continue;
        if (core.StopRequested()) return 0;
        core.c.deviceDownDrops.fetch_add(packets, std::memory_order_relaxed);
        return 1;
      }
      int err = errno;
      if (err == EIO && !InterfaceUp()) {
        core.c.deviceDownDrops.fetch_add(packets, std::memory_order_relaxed);
        return 1;
      }
      if (refusable && err == EINVAL) return kRefused;
      core.End(kEndDeviceError, std::string("device write: ") + ErrnoText(err));
      return 0;
    }
    core.c.rxPackets.fetch_add(packets, std::memory_order_relaxed);
    core.c.rxBytes.fetch_add(bytes, std::memory_order_relaxed);
    return 1;
  }

  // Only asked on EIO, while the interface is not up yet: a socket for the one ioctl, closed at
  // once. (One kept open for the device's life lived as long as the engine object, which only the
  // garbage collector ends: a client that reconnected N times held N of them.)
  bool InterfaceUp() {
    if (ifname_.empty()) return true;  // unknown: treat EIO as fatal
    int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sock < 0) return true;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname_.data(), std::min(ifname_.size(), static_cast<size_t>(IFNAMSIZ - 1)));
    int rc = ioctl(sock, SIOCGIFFLAGS, &ifr);
    close(sock);
    if (rc < 0) return true;
    return (ifr.ifr_flags & IFF_UP) != 0;
  }

  std::string ifname_;
  bool vnet_ = false, offloads_ = false, gro_ = false;
  // A read's bytes that go into the packet's slot (Read): a 1500-byte MTU's packets whole.
  static constexpr size_t kReadInSlot = 2048;
  std::vector<uint8_t> readBuf_;  // tx thread: one read's header, and up to 64 KiB
  offload::Segmenter seg_;        // tx thread: the super-packet being cut
  size_t segNext_ = 0;
  bool cut_ = false;              // tx side: Read returned cut packets (TakeCut)
  offload::Coalescer coalescer_;  // rx thread
  std::vector<uint8_t*> data_;
  std::vector<size_t> lens_;
};

class StreamDevice : public DeviceBase {
 public:
  using DeviceBase::DeviceBase;
  bool Stream() const override { return true; }

  bool Write(Core& core, const Message* pkts, size_t n) override {
    for (size_t i = 0; i < n; i++) {
      size_t off = 0;
      while (off < pkts[i].len) {
        ssize_t w = write(fd_, pkts[i].data + off, pkts[i].len - off);
        if (w > 0) {
          off += static_cast<size_t>(w);
          continue;
        }
        if (w < 0 && errno == EINTR) continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          if (!core.WaitFd(fd_, POLLOUT)) return false;
          continue;
        }
        core.End(kEndDeviceError, std::string("device write: ") + ErrnoText(w < 0 ? errno : EIO));
        return false;
      }
      core.c.rxPackets.fetch_add(1, std::memory_order_relaxed);
      core.c.rxBytes.fetch_add(pkts[i].len, std::memory_order_relaxed);
    }
    return true;
  }
};

}  // namespace

std::unique_ptr<Device> MakePacketDevice(int fd) { return std::make_unique<PacketDevice>(fd); }
std::unique_ptr<Device> MakeStreamDevice(int fd) { return std::make_unique<StreamDevice>(fd); }

}  // namespace engine
}  // namespace tund
