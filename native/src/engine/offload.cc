// Offload packet surgery: see offload.h.
#include "offload.h"

#include <arpa/inet.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace tund {
namespace engine {

bool SwitchedOff(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && v[0] != '\0' && std::strcmp(v, "0") != 0;
}

namespace offload {

namespace {

constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;
constexpr uint8_t kTcpFin = 0x01, kTcpSyn = 0x02, kTcpRst = 0x04, kTcpPsh = 0x08, kTcpAck = 0x10, kTcpUrg = 0x20,
                  kTcpEce = 0x40, kTcpCwr = 0x80;

inline uint16_t Get16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
inline void Put16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline uint32_t Get32(const uint8_t* p) {
  return (static_cast<uint32_t>(p[0]) << 24) | (static_cast<uint32_t>(p[1]) << 16) | (static_cast<uint32_t>(p[2]) << 8) | p[3];
}
inline void Put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline uint64_t AddCarry(uint64_t acc, uint64_t v) {
  acc += v;
  return acc + (acc < v ? 1 : 0);
}

// A 16-bit value in network order, summed the way Sum sums bytes.
inline uint64_t AddNet16(uint64_t acc, uint16_t v) {
  uint8_t b[2];
  Put16(b, v);
  return Sum(b, 2, acc);
}

// Stores a checksum computed by Fold (native order) at p.
inline void PutSum(uint8_t* p, uint16_t folded) { std::memcpy(p, &folded, 2); }

// The pseudo-header's sum (RFC 793 / RFC 8200 8.1) of an IPv4/IPv6 packet for an L4 length.
uint64_t PseudoSum(const uint8_t* ip, bool v6, uint8_t proto, size_t l4len) {
  uint64_t acc = v6 ? Sum(ip + 8, 32) : Sum(ip + 12, 8);
  acc = AddNet16(acc, proto);
  if (l4len > 0xffff) acc = AddNet16(acc, static_cast<uint16_t>(l4len >> 16));
  return AddNet16(acc, static_cast<uint16_t>(l4len));
}

void Ipv4HeaderChecksum(uint8_t* ip, size_t ihl) {
  ip[10] = ip[11] = 0;
  PutSum(ip + 10, static_cast<uint16_t>(~Fold(Sum(ip, ihl))));
}

}  // namespace

VnetHdr ReadVnetHdr(const uint8_t* p) {
  VnetHdr h;
  h.flags = p[0];
  h.gsoType = p[1];
  std::memcpy(&h.hdrLen, p + 2, 2);
  std::memcpy(&h.gsoSize, p + 4, 2);
  std::memcpy(&h.csumStart, p + 6, 2);
  std::memcpy(&h.csumOffset, p + 8, 2);
  return h;
}

void WriteVnetHdr(uint8_t* p, const VnetHdr& h) {
  p[0] = h.flags;
  p[1] = h.gsoType;
  std::memcpy(p + 2, &h.hdrLen, 2);
  std::memcpy(p + 4, &h.gsoSize, 2);
  std::memcpy(p + 6, &h.csumStart, 2);
  std::memcpy(p + 8, &h.csumOffset, 2);
}

uint64_t Sum(const uint8_t* p, size_t len, uint64_t acc) {
  // 32-bit words into 64-bit sums: no carry to propagate (2^32 words would be needed to overflow
  // one), independent additions the CPU runs side by side. Sums of 32-bit words fold to the same
  // 16-bit one's complement sum as sums of 16-bit words (2^16 = 1 modulo 2^16 - 1).
#if defined(__SSE2__)
  // 32 bytes a step (x86-64 always has SSE2): eight 32-bit words widened to 64-bit lanes and added
  // in two registers, a third of the instructions of the scalar loop below
  // (TUND_NO_SIMD_CHECKSUM=1: the scalar loop only)
  static const bool simd = !SwitchedOff("TUND_NO_SIMD_CHECKSUM");
  if (simd && len >= 32) {
    const __m128i zero = _mm_setzero_si128();
    __m128i a0 = zero, a1 = zero;
    while (len >= 32) {
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
      const __m128i w = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16));
      a0 = _mm_add_epi64(a0, _mm_unpacklo_epi32(v, zero));
      a1 = _mm_add_epi64(a1, _mm_unpackhi_epi32(v, zero));
      a0 = _mm_add_epi64(a0, _mm_unpacklo_epi32(w, zero));
      a1 = _mm_add_epi64(a1, _mm_unpackhi_epi32(w, zero));
      p += 32;
      len -= 32;
    }
    uint64_t lanes[2];
    _mm_storeu_si128(reinterpret_cast<__m128i*>(lanes), _mm_add_epi64(a0, a1));
    acc = AddCarry(AddCarry(acc, lanes[0]), lanes[1]);
  }
#endif
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  while (len >= 16) {
    uint32_t w[4];
    std::memcpy(w, p, 16);
    s0 += w[0];
    s1 += w[1];
    s2 += w[2];
    s3 += w[3];
    p += 16;
    len -= 16;
  }
  acc = AddCarry(AddCarry(acc, s0 + s1), s2 + s3);
  while (len >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    acc = AddCarry(acc, v);
    p += 8;
    len -= 8;
  }
  while (len >= 2) {
    uint16_t v;
    std::memcpy(&v, p, 2);
    acc = AddCarry(acc, v);
    p += 2;
    len -= 2;
  }
  if (len) {
    uint8_t b[2] = {p[0], 0};  // an odd byte is the high-order byte of a word padded with zero
    uint16_t v;
    std::memcpy(&v, b, 2);
    acc = AddCarry(acc, v);
  }
  return acc;
}

uint16_t Fold(uint64_t acc) {
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffffffu) + (acc >> 32);
  acc = (acc & 0xffffu) + (acc >> 16);
  acc = (acc & 0xffffu) + (acc >> 16);
  return static_cast<uint16_t>(acc);
}

bool CompleteChecksum(uint8_t* pkt, size_t len, size_t start, size_t offset) {
  if (start >= len || start + offset + 2 > len) return false;
  uint16_t v = static_cast<uint16_t>(~Fold(Sum(pkt + start, len - start)));
  if (v == 0) v = 0xffff;  // (what the kernel stores for zero: UDP's "no checksum" stays distinct)
  PutSum(pkt + start + offset, v);
  return true;
}

bool L4ChecksumValid(const uint8_t* pkt, size_t len) {
  if (len < 20) return false;
  const bool v6 = (pkt[0] >> 4) == 6;
  size_t l4;
  uint8_t proto;
  if (v6) {
    if (len < 40) return false;
    l4 = 40;
    proto = pkt[6];
  } else if ((pkt[0] >> 4) == 4) {
    l4 = static_cast<size_t>(pkt[0] & 15) * 4;
    proto = pkt[9];
    if (l4 < 20 || Get16(pkt + 2) != len) return false;
  } else {
    return false;
  }
  if (proto != kProtoTcp && proto != kProtoUdp) return false;
  if (len < l4 + (proto == kProtoTcp ? 20 : 8)) return false;
  if (proto == kProtoUdp && !v6 && Get16(pkt + l4 + 6) == 0) return true;
  return Fold(Sum(pkt + l4, len - l4, PseudoSum(pkt, v6, proto, len - l4))) == 0xffff;
}

// ---------------------------------------------------------------------------------------------
// Segmenter

bool Segmenter::Load(const uint8_t* pkt, size_t len, const VnetHdr& h, const char** error) {
  const uint8_t type = h.gsoType & static_cast<uint8_t>(~kGsoEcn);
  if (type != kGsoTcpV4 && type != kGsoTcpV6 && type != kGsoUdpL4) {
    *error = "unsupported gso_type";
    return false;
  }
  if (len < 20) {
    *error = "short packet";
    return false;
  }
  v6_ = (pkt[0] >> 4) == 6;
  if (!v6_ && (pkt[0] >> 4) != 4) {
    *error = "not IPv4 or IPv6";
    return false;
  }
  size_t iphl = v6_ ? 40 : static_cast<size_t>(pkt[0] & 15) * 4;
  if (iphl < 20 || len < iphl) {
    *error = "bad IP header";
    return false;
  }
  // the L4 header starts where the checksum does (IPv6 extension headers included)
  l4_ = (h.flags & kNeedsCsum) && h.csumStart >= iphl ? h.csumStart : iphl;
  tcp_ = type != kGsoUdpL4;
  if (tcp_) {
    if (len < l4_ + 20 || (pkt[l4_ + 12] >> 4) < 5) {
      *error = "bad TCP header";
      return false;
    }
    hdr_ = l4_ + static_cast<size_t>(pkt[l4_ + 12] >> 4) * 4;
  } else {
    hdr_ = l4_ + 8;
  }
  if (len < hdr_) {
    *error = "truncated headers";
    return false;
  }
  if (h.gsoSize == 0) {
    *error = "gso_size 0";
    return false;
  }
  pkt_ = pkt;
  len_ = len;
  mss_ = h.gsoSize;
  size_t payload = len - hdr_;
  count_ = payload == 0 ? 1 : (payload + mss_ - 1) / mss_;
  return true;
}

size_t Segmenter::Cut(size_t i, uint8_t* dst, size_t cap) const {
  const size_t off = hdr_ + i * mss_;
  const size_t plen = std::min(mss_, len_ - std::min(len_, off));
  const size_t total = hdr_ + plen;
  if (i >= count_ || total > cap) return 0;
  std::memcpy(dst, pkt_, hdr_);
  std::memcpy(dst + hdr_, pkt_ + off, plen);
  if (v6_) {
    Put16(dst + 4, static_cast<uint16_t>(total - 40));
  } else {
    Put16(dst + 2, static_cast<uint16_t>(total));
    Put16(dst + 4, static_cast<uint16_t>(Get16(pkt_ + 4) + i));
    Ipv4HeaderChecksum(dst, static_cast<size_t>(dst[0] & 15) * 4);
  }
  uint8_t* l4 = dst + l4_;
  const size_t l4len = total - l4_;
  if (tcp_) {
    Put32(l4 + 4, Get32(pkt_ + l4_ + 4) + static_cast<uint32_t>(i * mss_));
    if (i + 1 < count_) l4[13] &= static_cast<uint8_t>(~(kTcpFin | kTcpPsh));
    if (i > 0) l4[13] &= static_cast<uint8_t>(~kTcpCwr);
    l4[16] = l4[17] = 0;
    PutSum(l4 + 16, static_cast<uint16_t>(~Fold(Sum(l4, l4len, PseudoSum(dst, v6_, kProtoTcp, l4len)))));
  } else {
    Put16(l4 + 4, static_cast<uint16_t>(l4len));
    l4[6] = l4[7] = 0;
    uint16_t c = static_cast<uint16_t>(~Fold(Sum(l4, l4len, PseudoSum(dst, v6_, kProtoUdp, l4len))));
    PutSum(l4 + 6, c == 0 ? 0xffff : c);
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Coalescer

namespace {

// What coalescing needs of a packet: a plain IPv4 (no options, not a fragment) or IPv6 (no
// extension headers) TCP segment with data, ACK set, nothing but PSH besides; or (when `udp`) such
// a UDP datagram with data whose length field is right.
struct TcpView {
  bool ok = false, v6 = false, udp = false;
  size_t l4 = 0, hdr = 0, payload = 0;
  uint32_t seq = 0;
  uint8_t flags = 0;
};

TcpView ViewTcp(const uint8_t* p, size_t len, bool udp) {
  TcpView v;
  if (len < 28) return v;
  uint8_t proto;
  if ((p[0] >> 4) == 4) {
    if ((p[0] & 15) != 5 || Get16(p + 2) != len) return v;
    if ((Get16(p + 6) & 0x3fff) != 0) return v;  // MF or a fragment offset
    proto = p[9];
    v.l4 = 20;
  } else if ((p[0] >> 4) == 6) {
    if (len < 48 || Get16(p + 4) + 40u != len) return v;
    proto = p[6];
    v.v6 = true;
    v.l4 = 40;
  } else {
    return v;
  }
  if (proto == kProtoUdp && udp) {
    v.udp = true;
    v.hdr = v.l4 + 8;
    v.payload = len - v.hdr;
    v.ok = v.payload > 0 && Get16(p + v.l4 + 4) == len - v.l4;
    return v;
  }
  if (proto != kProtoTcp || len < v.l4 + 20) return v;
  size_t thl = static_cast<size_t>(p[v.l4 + 12] >> 4) * 4;
  if (thl < 20 || v.l4 + thl > len || v.l4 + thl > Coalescer::kMaxHead) return v;
  v.hdr = v.l4 + thl;
  v.payload = len - v.hdr;
  v.flags = p[v.l4 + 13];
  v.seq = Get32(p + v.l4 + 4);
  const uint8_t other = kTcpFin | kTcpSyn | kTcpRst | kTcpUrg | kTcpEce | kTcpCwr;
  v.ok = v.payload > 0 && (v.flags & kTcpAck) && !(v.flags & other);
  return v;
}

// Same flow and same headers but for what coalescing rewrites (lengths, IPv4 ID and checksum,
// sequence number, PSH, TCP checksum; the window is the first packet's, as the kernel's GRO).
bool SameHeaders(const uint8_t* a, const uint8_t* b, const TcpView& va, const TcpView& vb) {
  if (va.v6 != vb.v6 || va.udp != vb.udp || va.hdr != vb.hdr) return false;
  if (va.v6) {
    if (std::memcmp(a, b, 4) != 0 || a[7] != b[7] || std::memcmp(a + 8, b + 8, 32) != 0) return false;
  } else {
    if (a[1] != b[1] || (a[6] & 0x40) != (b[6] & 0x40) || a[8] != b[8] || std::memcmp(a + 12, b + 12, 8) != 0) return false;
  }
  const uint8_t* ta = a + va.l4;
  const uint8_t* tb = b + vb.l4;
  if (va.udp) return std::memcmp(ta, tb, 4) == 0;  // ports
  return std::memcmp(ta, tb, 4) == 0 && std::memcmp(ta + 8, tb + 8, 4) == 0 &&  // ports, ack
         std::memcmp(ta + 20, tb + 20, va.hdr - va.l4 - 20) == 0;              // options
}

}  // namespace

Coalescer::Write& Coalescer::NewWrite() {
  if (used_ == writes_.size()) writes_.emplace_back();
  Write& w = writes_[used_++];
  std::memset(w.vnet, 0, sizeof w.vnet);
  w.headLen = 0;
  w.iovCount = 0;
  w.count = w.bytes = 0;
  w.udp = false;
  return w;
}

void Coalescer::Single(uint8_t* p, size_t len, uint32_t index) {
  Write& w = NewWrite();
  w.iov[0] = {w.vnet, kVnetHdrLen};
  w.iov[1] = {p, len};
  w.iovCount = 2;
  w.members[0] = index;
  w.count = 1;
  w.bytes = len;
}

void Coalescer::Plan(uint8_t* const* data, const size_t* lens, size_t n) {
  used_ = 0;
  flows_.clear();
  if (writes_.capacity() < n) writes_.reserve(n);
  for (size_t i = 0; i < n; i++) {
    uint8_t* p = data[i];
    const size_t len = lens[i];
    TcpView v = ViewTcp(p, len, udp_);
    if (!v.ok || (!trustChecksums_ && !L4ChecksumValid(p, len))) {
      // not coalescable (or a bad checksum the kernel must see and drop)
      Single(p, len, static_cast<uint32_t>(i));
      continue;
    }
    // the most recent open flow this packet continues (few flows per batch: a short scan)
    Flow* f = nullptr;
    for (size_t k = flows_.size(); k-- > 0 && flows_.size() - k <= 8;) {
      Flow& c = flows_[k];
      if (!c.open) continue;
      TcpView cv;
      cv.v6 = c.v6;
      cv.udp = c.udp;
      cv.l4 = c.l4;
      cv.hdr = c.hdr;
      if (!SameHeaders(c.first, p, cv, v)) continue;
      f = &c;
      break;
    }
    if (f != nullptr) {
      Write& w = writes_[f->write];
      const bool fits = (v.udp || v.seq == f->nextSeq) && v.payload <= f->gso &&
                        f->total + v.payload <= 0xffff && w.count < kMaxSegments;
      if (fits) {
        w.iov[w.iovCount++] = {p + v.hdr, v.payload};
        w.members[w.count++] = static_cast<uint32_t>(i);
        w.bytes += len;
        f->total += v.payload;
        f->nextSeq += static_cast<uint32_t>(v.payload);
        if (v.flags & kTcpPsh) f->psh = true;
        // a shorter segment or PSH ends the super-packet (only the last may be short)
        if (v.payload < f->gso || f->psh) f->open = false;
        continue;
      }
      f->open = false;  // the flow goes on in a new write, after this one
    }
    Single(p, len, static_cast<uint32_t>(i));
    Flow nf;
    nf.write = used_ - 1;
    nf.first = p;
    nf.l4 = v.l4;
    nf.hdr = v.hdr;
    nf.total = len;
    nf.gso = v.payload;
    nf.nextSeq = v.seq + static_cast<uint32_t>(v.payload);
    nf.v6 = v.v6;
    nf.udp = v.udp;
    nf.psh = !v.udp && (v.flags & kTcpPsh) != 0;
    nf.open = !nf.psh;
    flows_.push_back(nf);
  }
  for (const Flow& f : flows_) {
    if (writes_[f.write].count > 1) Finish(f);
  }
}

// Turns a write of several segments into one super-packet: the first packet's headers copied and
// edited (lengths, IPv4 header checksum, PSH, the TCP or UDP checksum as the pseudo-header's sum
// for the kernel to complete), then the payloads.
void Coalescer::Finish(const Flow& f) {
  Write& w = writes_[f.write];
  std::memcpy(w.head, f.first, f.hdr);
  w.headLen = f.hdr;
  w.udp = f.udp;
  uint8_t* ip = w.head;
  uint8_t* l4 = w.head + f.l4;
  if (f.v6) {
    Put16(ip + 4, static_cast<uint16_t>(f.total - 40));
  } else {
    Put16(ip + 2, static_cast<uint16_t>(f.total));
    Ipv4HeaderChecksum(ip, 20);
  }
  // the kernel cuts a USO super-packet at gso_size and gives each datagram its own length
  const size_t csumOffset = f.udp ? 6 : 16;
  if (f.udp) Put16(l4 + 4, static_cast<uint16_t>(f.total - f.l4));
  if (f.psh) l4[13] |= kTcpPsh;
  l4[csumOffset] = l4[csumOffset + 1] = 0;
  PutSum(l4 + csumOffset, Fold(PseudoSum(ip, f.v6, f.udp ? kProtoUdp : kProtoTcp, f.total - f.l4)));
  VnetHdr h;
  h.flags = kNeedsCsum;
  h.gsoType = f.udp ? kGsoUdpL4 : f.v6 ? kGsoTcpV6 : kGsoTcpV4;
  h.hdrLen = static_cast<uint16_t>(f.hdr);
  h.gsoSize = static_cast<uint16_t>(f.gso);
  h.csumStart = static_cast<uint16_t>(f.l4);
  h.csumOffset = static_cast<uint16_t>(csumOffset);
  WriteVnetHdr(w.vnet, h);
  // iov: header, the edited headers, the first packet's payload, then the others' payloads
  const uint8_t* firstPayload = f.first + f.hdr;
  for (int k = w.iovCount; k-- > 2;) w.iov[k + 1] = w.iov[k];
  w.iov[1] = {w.head, f.hdr};
  w.iov[2] = {const_cast<uint8_t*>(firstPayload), f.gso};
  w.iovCount++;
}

}  // namespace offload
}  // namespace engine
}  // namespace tund
