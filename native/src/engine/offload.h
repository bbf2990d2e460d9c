// Packet surgery for the offloads of a tun opened with IFF_VNET_HDR (docs/engine.md, "Offloads"):
// the virtio_net_hdr in front of every read and write, Internet checksums, cutting the kernel's
// TSO/USO super-packets into ordinary packets (Segmenter), and coalescing ordinary packets of one
// TCP flow into a super-packet for the kernel (Coalescer, the device's GRO). Pure C++ on bytes,
// no I/O: the packet device (device.cc) does the reads and writes, the addon's test surface
// (offloadSegment/offloadCoalesce) lets unit tests feed crafted packets.
//
// What goes on the wire does not change: the transforms only ever see packets of at most the
// MTU, exactly as the kernel would have cut them (lengths, IPv4 IDs, TCP sequence numbers and
// flags, checksums).
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tund {
namespace engine {

// An environment switch that turns an optimisation off: set and neither "" nor "0".
bool SwitchedOff(const char* name);

namespace offload {

// linux/if_tun.h: Debian 12's headers lack the USO flags; this kernel has them.
constexpr unsigned kTunFCsum = 0x01, kTunFTso4 = 0x02, kTunFTso6 = 0x04, kTunFTsoEcn = 0x08, kTunFUso4 = 0x20,
                   kTunFUso6 = 0x40;

// struct virtio_net_hdr (10 bytes, host byte order as tun uses it by default).
constexpr size_t kVnetHdrLen = 10;
constexpr uint8_t kNeedsCsum = 1;
constexpr uint8_t kGsoNone = 0, kGsoTcpV4 = 1, kGsoTcpV6 = 4, kGsoUdpL4 = 5, kGsoEcn = 0x80;

struct VnetHdr {
  uint8_t flags = 0, gsoType = kGsoNone;
  uint16_t hdrLen = 0, gsoSize = 0, csumStart = 0, csumOffset = 0;
};
VnetHdr ReadVnetHdr(const uint8_t* p);
void WriteVnetHdr(uint8_t* p, const VnetHdr& h);

// The one's complement sum of RFC 1071 over bytes (native order; `acc` carries on), and its fold.
uint64_t Sum(const uint8_t* p, size_t len, uint64_t acc = 0);
uint16_t Fold(uint64_t acc);

// Completes a checksum the kernel left partial (VIRTIO_NET_HDR_F_NEEDS_CSUM): the field at
// start + offset holds the pseudo-header's sum; the sum from start to the end goes there.
bool CompleteChecksum(uint8_t* pkt, size_t len, size_t start, size_t offset);

// True when pkt is an IPv4/IPv6 TCP or UDP packet whose L4 checksum verifies (a UDP checksum of
// zero over IPv4 means none, and verifies).
bool L4ChecksumValid(const uint8_t* pkt, size_t len);

// Cuts one super-packet (TCP TSO over IPv4/IPv6, UDP USO) into packets of the header's gso_size.
class Segmenter {
 public:
  // false with *error: not something this can cut (the caller drops it).
  bool Load(const uint8_t* pkt, size_t len, const VnetHdr& h, const char** error);
  size_t Count() const { return count_; }
  // Writes packet i (< Count()) to dst; its length, or 0 when cap is too small.
  size_t Cut(size_t i, uint8_t* dst, size_t cap) const;

 private:
  const uint8_t* pkt_ = nullptr;
  size_t len_ = 0, l4_ = 0, hdr_ = 0, mss_ = 0, count_ = 0;
  bool v6_ = false, tcp_ = false;
};

// Plans the device writes of one batch of packets: packets of one TCP flow that follow each other
// (next sequence number, same size, plain ACK/PSH segments, headers equal but for lengths and
// checksums, checksums valid) become one super-packet with a TSO header (NEEDS_CSUM, the TCP
// checksum field holding the pseudo-header's sum; see SetTrustChecksums); with SetUdp(true), datagrams of one UDP flow
// that follow each other (same size, only the last shorter, checksums valid) become one USO
// super-packet (VIRTIO_NET_HDR_GSO_UDP_L4, the UDP length and checksum fields covering the
// whole); everything else is written as it is with an empty header. Writes keep the order of
// their first packets, so a flow's packets stay in order.
class Coalescer {
 public:
  static constexpr size_t kMaxSegments = 64;
  static constexpr size_t kMaxHead = 120;  // IPv6 + TCP with options

  struct Write {
    uint8_t vnet[kVnetHdrLen];
    uint8_t head[kMaxHead];  // the first packet's headers, edited (a coalesced write)
    size_t headLen = 0;
    iovec iov[2 + kMaxSegments];
    int iovCount = 0;
    uint32_t members[kMaxSegments];  // indices of the packets in it
    size_t count = 0, bytes = 0;     // packets and their bytes as they came
    bool udp = false;                // a USO super-packet (when coalesced)
    bool coalesced() const { return count > 1; }
  };

  // UDP coalescing: only where the kernel takes USO super-packets (the tun accepted
  // TUN_F_USO4/6: Linux 6.2 and later).
  void SetUdp(bool on) { udp_ = on; }
  bool Udp() const { return udp_; }
  // The packets were authenticated on their way in (WireGuard's AEAD): their L4 checksums are
  // what their sender made, so they are coalesced without verifying them first. Kernel WireGuard
  // does the same (it marks such packets CHECKSUM_UNNECESSARY); a peer that sends a bad checksum
  // could as well have sent any other bytes with a good one.
  void SetTrustChecksums(bool on) { trustChecksums_ = on; }

  // Plans writes for pkts[0..n) (they must stay valid and unchanged until written).
  void Plan(uint8_t* const* data, const size_t* lens, size_t n);
  size_t Size() const { return used_; }
  const Write& operator[](size_t i) const { return writes_[i]; }

 private:
  struct Flow {
    size_t write;     // its write in writes_
    const uint8_t* first;
    size_t l4, hdr;   // offsets of the TCP header and the payload in the first packet
    size_t total;     // bytes of the super-packet so far (IP header included)
    size_t gso;       // payload per segment
    uint32_t nextSeq;
    bool v6, udp, open, psh;
  };
  Write& NewWrite();
  void Single(uint8_t* p, size_t len, uint32_t index);
  void Finish(const Flow& f);

  std::vector<Write> writes_;
  size_t used_ = 0;
  std::vector<Flow> flows_;
  bool udp_ = false;
  bool trustChecksums_ = false;
};

}  // namespace offload
}  // namespace engine
}  // namespace tund
