// A UDP GRO read (UDP_GRO on the socket): one receive entry may carry a train of datagrams from
// one sender, coalesced by the kernel, with the size of its segments in a cmsg. Shared by the
// transport's receive and the engine's compact lone path (Engine::CompactRx).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "engine.h"

#ifndef UDP_GRO
#define UDP_GRO 104
#endif
#ifndef SOL_UDP
#define SOL_UDP 17
#endif

namespace tund {
namespace engine {

// The control space a receive entry needs for the UDP_GRO cmsg.
constexpr size_t kGroCmsgSpace = CMSG_SPACE(sizeof(int));

// The segment size of a GRO train (its cmsg), or 0 when the entry is one datagram.
inline size_t GroSegment(const struct msghdr& h) {
  for (struct cmsghdr* cm = CMSG_FIRSTHDR(const_cast<struct msghdr*>(&h)); cm != nullptr;
       cm = CMSG_NXTHDR(const_cast<struct msghdr*>(&h), cm)) {
    if (cm->cmsg_level == SOL_UDP && cm->cmsg_type == UDP_GRO && cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int v;
      std::memcpy(&v, CMSG_DATA(cm), sizeof v);
      return v > 0 ? static_cast<size_t>(v) : 0;
    }
  }
  return 0;
}

// An entry of `len` bytes: its datagrams' size (the last may be shorter) and count, counted as
// received (rxWireBytes, rxFrames; udpGroReads for a train).
struct Datagrams {
  size_t seg;
  uint64_t count;
};
inline Datagrams CountDatagrams(const struct msghdr& h, size_t len, bool gro, Counters& c) {
  size_t seg = gro ? GroSegment(h) : 0;
  if (seg == 0 || seg >= len) seg = len;
  const uint64_t count = len == 0 ? 1 : (len + seg - 1) / seg;
  c.rxWireBytes.fetch_add(len, std::memory_order_relaxed);
  c.rxFrames.fetch_add(count, std::memory_order_relaxed);
  if (count > 1) c.udpGroReads.fetch_add(1, std::memory_order_relaxed);
  return Datagrams{seg, count};
}

// each(offset, length) for every datagram of an entry of `len` bytes (an empty one too).
template <class Each>
void ForEachDatagram(size_t len, size_t seg, Each each) {
  size_t off = 0;
  do {
    const size_t part = std::min(seg, len - off);
    each(off, part);
    off += part;
  } while (off < len);
}

}  // namespace engine
}  // namespace tund
