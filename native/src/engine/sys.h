// The packet path's system calls, made through syscall(2) rather than libc's wrappers.
//
// In a process with threads each of those wrappers is a cancellation point: around the call it
// runs two helpers that sit on another page of libc, and the wrappers themselves are spread over
// pages of their own. After an idle spell every page a lone packet's round touches costs a page
// walk (docs/engine.md, "The path after idle"); through syscall(2) the whole path needs one page
// of libc for all its calls. The engine's threads are never cancelled, so the cancellation
// points gave nothing; errno and the results are what the wrappers give.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

namespace tund {
namespace engine {
namespace sys {

// (every argument goes as a long: syscall(2) reads them so, as the kernel does)
inline int Poll(struct pollfd* fds, nfds_t n, int timeoutMs) {
  return static_cast<int>(syscall(SYS_poll, reinterpret_cast<long>(fds), static_cast<long>(n), static_cast<long>(timeoutMs)));
}
inline ssize_t Read(int fd, void* buf, size_t len) {
  return syscall(SYS_read, static_cast<long>(fd), reinterpret_cast<long>(buf), static_cast<long>(len));
}
inline ssize_t Readv(int fd, const struct iovec* iov, int n) {
  return syscall(SYS_readv, static_cast<long>(fd), reinterpret_cast<long>(iov), static_cast<long>(n));
}
inline ssize_t Writev(int fd, const struct iovec* iov, int n) {
  return syscall(SYS_writev, static_cast<long>(fd), reinterpret_cast<long>(iov), static_cast<long>(n));
}
inline ssize_t Sendmsg(int fd, const struct msghdr* msg, int flags) {
  return syscall(SYS_sendmsg, static_cast<long>(fd), reinterpret_cast<long>(msg), static_cast<long>(flags));
}
inline int Recvmmsg(int fd, struct mmsghdr* msgs, unsigned n, int flags) {
  return static_cast<int>(syscall(SYS_recvmmsg, static_cast<long>(fd), reinterpret_cast<long>(msgs), static_cast<long>(n),
                                  static_cast<long>(flags), 0L));
}
inline int Sendmmsg(int fd, struct mmsghdr* msgs, unsigned n, int flags) {
  return static_cast<int>(
      syscall(SYS_sendmmsg, static_cast<long>(fd), reinterpret_cast<long>(msgs), static_cast<long>(n), static_cast<long>(flags)));
}

}  // namespace sys
}  // namespace engine
}  // namespace tund
