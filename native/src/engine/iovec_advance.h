// The bookkeeping after a partial sendmsg/writev on a stream: the call wrote some bytes of an
// iovec array, the rest goes in the next call. Pure C++ (no N-API, no syscalls), shared by the
// TCP transport (transport.cc) and the WireGuard-over-TCP connections (peer_streams.cc); the
// fuzz target iov_advance checks it against a model of the bytes still to send.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

namespace tund {
namespace engine {

// iov[first..cnt) was handed to the kernel and `sent` bytes of it were written (at most their
// sum, as sendmsg guarantees). Steps past the iovecs written whole, trims the one written in part
// (in place: its base and length), and steps past empty iovecs after it, so that a batch with
// nothing left gives `cnt`. Returns the index of the first iovec still to send.
inline int AdvanceIovecs(struct iovec* iov, int cnt, int first, size_t sent) {
  while (first < cnt && sent >= iov[first].iov_len) sent -= iov[first++].iov_len;
  if (first < cnt && sent > 0) {
    iov[first].iov_base = static_cast<uint8_t*>(iov[first].iov_base) + sent;
    iov[first].iov_len -= sent;
  }
  while (first < cnt && iov[first].iov_len == 0) first++;
  return first;
}

}  // namespace engine
}  // namespace tund
