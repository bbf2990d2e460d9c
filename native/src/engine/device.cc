// Devices of the engine (engine.h): a tun/tap, where one read or write is one packet, and a byte
// stream (VTun's pipe and tty types: a socketpair or a pty master).
//
// Beyond vtund, for a tun/tap: a write that fails with EIO while the interface is not up (our
// own `up` commands have not run yet) drops the packet (deviceDownDrops) instead of ending the
// session; a full queue (EAGAIN) waits 20 ms once, then drops the packet as the kernel would.
// Any other write error ends the engine (device_error).
//
// Extension point (issue 14): a tun opened with IFF_VNET_HDR reads TSO/USO super-packets with a
// virtio_net_hdr in front; Read then cuts them into MTU-size packets (one slot each) and Write
// coalesces packets of one flow into super-packets (GRO) before writing them. See docs/engine.md.
#include <errno.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "../errors.h"
#include "engine.h"

namespace tund {
namespace engine {

namespace {

constexpr ssize_t kNothingNow = -1;
constexpr ssize_t kReadError = -2;

// One read: bytes (0: end of file), kNothingNow, or kReadError (errno set).
ssize_t ReadOnce(int fd, uint8_t* dst, size_t cap) {
  for (;;) {
    ssize_t n = read(fd, dst, cap);
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
      ssize_t n = ReadOnce(fd_, dst, cap);
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
  ~PacketDevice() override {
    if (ctlSock_ >= 0) close(ctlSock_);
  }
  bool Stream() const override { return false; }

  void Start(Core&) override {
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    if (ioctl(fd_, TUNGETIFF, &ifr) == 0) {
      ifname_.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
      ctlSock_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    }
  }

  bool Write(Core& core, const Message* pkts, size_t n) override {
    for (size_t i = 0; i < n; i++) {
      if (!WriteOne(core, pkts[i].data, pkts[i].len)) return false;
    }
    return true;
  }

 private:
  bool WriteOne(Core& core, const uint8_t* p, size_t len) {
    for (int eagain = 0;;) {
      ssize_t n = write(fd_, p, len);
      if (n >= 0) break;  // a packet device takes the packet whole
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // queue full: wait a little, then drop the packet as the kernel would
        if (eagain++ < 1 && core.WaitFd(fd_, POLLOUT, 20)) continue;
        if (core.StopRequested()) return false;
        core.c.deviceDownDrops.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      int err = errno;
      if (err == EIO && !InterfaceUp()) {
        core.c.deviceDownDrops.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      core.End(kEndDeviceError, std::string("device write: ") + ErrnoText(err));
      return false;
    }
    core.c.rxPackets.fetch_add(1, std::memory_order_relaxed);
    core.c.rxBytes.fetch_add(len, std::memory_order_relaxed);
    return true;
  }

  bool InterfaceUp() {
    if (ctlSock_ < 0 || ifname_.empty()) return true;  // unknown: treat EIO as fatal
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    memcpy(ifr.ifr_name, ifname_.data(), std::min(ifname_.size(), static_cast<size_t>(IFNAMSIZ - 1)));
    if (ioctl(ctlSock_, SIOCGIFFLAGS, &ifr) < 0) return true;
    return (ifr.ifr_flags & IFF_UP) != 0;
  }

  std::string ifname_;
  int ctlSock_ = -1;
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
