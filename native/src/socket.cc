// TCP sockets owned by the addon, for the session set-up (connect, listen, accept, the handshake)
// and the file locks of core/lock.ts. The sockets are plain non-blocking, close-on-exec fds: the
// handshake reads and writes them from JS through FdWatcher, and once it is done the same fd goes
// to the packet pump, so no Node stream ever buffers bytes that belong to the link.
//  - socketConnect(addr, port) -> fd      connect() started (non-blocking); watch it for writable,
//                                          then socketError() says how it ended
//  - socketListen(addr, port, backlog)    bound and listening (SO_REUSEADDR; "::" is dual-stack)
//  - socketAccept(fd)                     {fd, address, port}, or null when nobody waits
//  - socketRecv(fd, max)                  a Buffer of 1..max bytes, an empty one at end of stream,
//                                          or null when nothing is there yet (EAGAIN)
//  - socketSend(fd, data)                 bytes written (0 when the send buffer is full)
//  - socketShutdown(fd)                   shutdown(SHUT_WR): our side is done sending (FIN)
//  - socketError(fd)                      SO_ERROR as an errno name, or null
//  - socketNames(fd)                      {localAddress, localPort, remoteAddress, remotePort}
//  - socketSendFd(fd, data, passFd)       one sendmsg of data with passFd attached (SCM_RIGHTS):
//                                          `tund serve` hands a connection to a session process
//  - socketRecvFd(fd, max)                one recvmsg: {data, fd} (fd close-on-exec, null when none
//                                          came), or null when nothing is there yet
//  - lockFile(fd, lock)                   flock(LOCK_EX | LOCK_NB) / LOCK_UN: true when done,
//                                          false when another open file holds the lock
//  - FdWatcher(fd, callback)              a libuv poll handle on the JS event loop: callback(
//                                          readable, writable, error) while started
// Failed system calls throw the Error of errors.h (code, errno, syscall).
#include <napi.h>
#include <uv.h>

#include "engine/endpoint.h"
#include "errors.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

#include <initializer_list>
#include <string>

namespace tund {
namespace {

Napi::Value Fail(Napi::Env env, int err, const char* syscall) {
  ThrowErrno(env, err, syscall);
  return env.Undefined();
}

bool ArgsOk(const Napi::CallbackInfo& info, const char* usage, std::initializer_list<napi_valuetype> types) {
  size_t i = 0;
  for (napi_valuetype t : types) {
    if (info.Length() <= i || info[i].Type() != t) {
      Napi::TypeError::New(info.Env(), usage).ThrowAsJavaScriptException();
      return false;
    }
    i++;
  }
  return true;
}

// A non-blocking, close-on-exec TCP socket of the family of addr (Endpoint::Parse, the addon's one
// address parser), with *at filled in; -1 with the JS exception thrown when it cannot be made.
int StreamSocketFor(Napi::Env env, const Napi::CallbackInfo& info, Endpoint* at) {
  if (!Endpoint::Parse(info[0].As<Napi::String>().Utf8Value(), info[1].As<Napi::Number>().Int32Value(), at)) {
    ThrowErrno(env, EINVAL, "inet_pton");
    return -1;
  }
  int fd = socket(at->Family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) ThrowErrno(env, errno, "socket");
  return fd;
}

Napi::Value SocketConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsOk(info, "socketConnect(addr: string, port: number, mark?: number)", {napi_string, napi_number})) return env.Undefined();
  Endpoint peer;
  int fd = StreamSocketFor(env, info, &peer);
  if (fd < 0) return env.Undefined();
  // SO_MARK before connect: policy routing by mark picks the route of the SYN too
  uint32_t mark = info.Length() > 2 && info[2].IsNumber() ? info[2].As<Napi::Number>().Uint32Value() : 0;
  if (mark != 0 && setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) {
    int err = errno;
    close(fd);
    return Fail(env, err, "setsockopt SO_MARK");
  }
  if (connect(fd, peer.Sockaddr(), peer.len) < 0 && errno != EINPROGRESS) {
    int err = errno;
    close(fd);
    return Fail(env, err, "connect");
  }
  return Napi::Number::New(env, fd);
}

Napi::Value SocketListen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsOk(info, "socketListen(addr: string, port: number, backlog: number)", {napi_string, napi_number, napi_number})) {
    return env.Undefined();
  }
  Endpoint local;
  int fd = StreamSocketFor(env, info, &local);
  if (fd < 0) return env.Undefined();
  int one = 1, zero = 0;
  // a restarted server must not wait for the old connections' TIME_WAIT (every TCP server does this)
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (local.Family() == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  const char* failed = nullptr;
  if (bind(fd, local.Sockaddr(), local.len) < 0) failed = "bind";
  else if (listen(fd, info[2].As<Napi::Number>().Int32Value()) < 0) failed = "listen";
  if (failed != nullptr) {
    int err = errno;
    close(fd);
    return Fail(env, err, failed);
  }
  return Napi::Number::New(env, fd);
}

// Sets addrKey/portKey of out to the address (an IPv4 peer of a dual-stack socket as plain IPv4)
// and port of what accept/getsockname/getpeername filled in, or to null for no address.
Napi::Object Names(Napi::Env env, const sockaddr_storage& ss, socklen_t len, const char* addrKey, const char* portKey, Napi::Object out) {
  Endpoint e = Endpoint::From(ss, len);
  if (!e.Empty()) {
    out.Set(addrKey, Napi::String::New(env, e.Address()));
    out.Set(portKey, Napi::Number::New(env, e.Port()));
  } else {
    out.Set(addrKey, env.Null());
    out.Set(portKey, env.Null());
  }
  return out;
}

Napi::Value SocketAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsOk(info, "socketAccept(fd: number)", {napi_number})) return env.Undefined();
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  for (;;) {
    int fd = accept4(info[0].As<Napi::Number>().Int32Value(), reinterpret_cast<sockaddr*>(&ss), &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Napi::Object out = Napi::Object::New(env);
      out.Set("fd", Napi::Number::New(env, fd));
      return Names(env, ss, len, "address", "port", out);
    }
    if (errno == EINTR) continue;
    // the peer gave up between poll and accept: nothing to take now
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ECONNABORTED) return env.Null();
    return Fail(env, errno, "accept4");
  }
}

// The arguments of socketRecv and socketRecvFd, (fd, max) with max in 1..kRecvMax; false after a throw.
constexpr int64_t kRecvMax = 65536;
bool RecvArgs(const Napi::CallbackInfo& info, const std::string& name, int* fd, size_t* max) {
  if (!ArgsOk(info, (name + "(fd: number, max: number)").c_str(), {napi_number, napi_number})) return false;
  *fd = info[0].As<Napi::Number>().Int32Value();
  int64_t m = info[1].As<Napi::Number>().Int64Value();
  if (m < 1 || m > kRecvMax) {
    Napi::RangeError::New(info.Env(), name + ": max must be 1..65536").ThrowAsJavaScriptException();
    return false;
  }
  *max = static_cast<size_t>(m);
  return true;
}

Napi::Value SocketRecv(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  size_t max;
  if (!RecvArgs(info, "socketRecv", &fd, &max)) return env.Undefined();
  uint8_t buf[kRecvMax];
  for (;;) {
    ssize_t n = recv(fd, buf, max, 0);
    if (n >= 0) return Napi::Buffer<uint8_t>::Copy(env, buf, static_cast<size_t>(n));
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    return Fail(env, errno, "recv");
  }
}

// One sendmsg (never SIGPIPE): bytes sent, 0 when the send buffer is full.
Napi::Value SendMessage(Napi::Env env, int fd, const msghdr& mh) {
  for (;;) {
    ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
    if (n >= 0) return Napi::Number::New(env, static_cast<double>(n));
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, 0);
    return Fail(env, errno, "sendmsg");
  }
}

Napi::Value SocketSend(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBuffer()) {
    Napi::TypeError::New(env, "socketSend(fd: number, data: Buffer)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
  iovec iov{data.Data(), data.Length()};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  return SendMessage(env, info[0].As<Napi::Number>().Int32Value(), mh);
}

Napi::Value SocketSendFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsBuffer() || !info[2].IsNumber()) {
    Napi::TypeError::New(env, "socketSendFd(fd: number, data: Buffer, passFd: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
  int pass = info[2].As<Napi::Number>().Int32Value();
  if (data.Length() == 0) {
    Napi::RangeError::New(env, "socketSendFd: data must not be empty (the fd travels with a byte)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  iovec iov{data.Data(), data.Length()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = control;
  mh.msg_controllen = sizeof control;
  cmsghdr* cm = CMSG_FIRSTHDR(&mh);
  cm->cmsg_level = SOL_SOCKET;
  cm->cmsg_type = SCM_RIGHTS;
  cm->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(cm), &pass, sizeof(int));
  return SendMessage(env, fd, mh);
}

Napi::Value SocketRecvFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  size_t max;
  if (!RecvArgs(info, "socketRecvFd", &fd, &max)) return env.Undefined();
  uint8_t buf[kRecvMax];
  iovec iov{buf, max};
  // room for a few fds: a sender that attaches more than one gets them all closed but the first
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))];
  msghdr mh{};
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  ssize_t n;
  for (;;) {
    mh.msg_control = control;
    mh.msg_controllen = sizeof control;
    n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return env.Null();
    return Fail(env, errno, "recvmsg");
  }
  int received = -1;
  for (cmsghdr* cm = CMSG_FIRSTHDR(&mh); cm != nullptr; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t count = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; i++) {
      int got;
      memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      if (received < 0) received = got;
      else close(got);
    }
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("data", Napi::Buffer<uint8_t>::Copy(env, buf, static_cast<size_t>(n)));
  result.Set("fd", received >= 0 ? Napi::Value(Napi::Number::New(env, received)) : env.Null());
  return result;
}

Napi::Value SocketShutdown(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsOk(info, "socketShutdown(fd: number)", {napi_number})) return env.Undefined();
  if (shutdown(info[0].As<Napi::Number>().Int32Value(), SHUT_WR) < 0 && errno != ENOTCONN) return Fail(env, errno, "shutdown");
  return env.Undefined();
}

Napi::Value SocketError(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsOk(info, "socketError(fd: number)", {napi_number})) return env.Undefined();
  int err = 0;
  socklen_t len = sizeof err;
  if (getsockopt(info[0].As<Napi::Number>().Int32Value(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) return Fail(env, errno, "getsockopt");
  return err == 0 ? env.Null() : Napi::String::New(env, ErrnoName(err));
}

Napi::Value SocketNames(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsOk(info, "socketNames(fd: number)", {napi_number})) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  sockaddr_storage local, remote;
  socklen_t localLen = sizeof local, remoteLen = sizeof remote;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &localLen) < 0) return Fail(env, errno, "getsockname");
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&remote), &remoteLen) < 0) {
    if (errno != ENOTCONN) return Fail(env, errno, "getpeername");
    remote.ss_family = AF_UNSPEC;  // not connected: no remote address
    remoteLen = 0;
  }
  Napi::Object out = Napi::Object::New(env);
  Names(env, local, localLen, "localAddress", "localPort", out);
  return Names(env, remote, remoteLen, "remoteAddress", "remotePort", out);
}

Napi::Value LockFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!ArgsOk(info, "lockFile(fd: number, lock: boolean)", {napi_number, napi_boolean})) return env.Undefined();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int op = info[1].As<Napi::Boolean>().Value() ? LOCK_EX | LOCK_NB : LOCK_UN;
  for (;;) {
    if (flock(fd, op) == 0) return Napi::Boolean::New(env, true);
    if (errno == EINTR) continue;
    if (errno == EWOULDBLOCK) return Napi::Boolean::New(env, false);
    return Fail(env, errno, "flock");
  }
}

// A uv_poll_t on the JS event loop. While started it keeps the loop (and its JS object) alive;
// the callback runs on the loop thread: callback(readable, writable, error | null).
class FdWatcher : public Napi::ObjectWrap<FdWatcher> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "FdWatcher",
                       {InstanceMethod("start", &FdWatcher::Start), InstanceMethod("stop", &FdWatcher::Stop),
                        InstanceMethod("close", &FdWatcher::Close)});
  }

  explicit FdWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FdWatcher>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "new FdWatcher(fd: number, callback: (readable, writable, error) => void)").ThrowAsJavaScriptException();
      return;
    }
    uv_loop_t* loop = nullptr;
    if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
      Napi::Error::New(env, "FdWatcher: no event loop").ThrowAsJavaScriptException();
      return;
    }
    handle_ = new uv_poll_t;
    int r = uv_poll_init_socket(loop, handle_, info[0].As<Napi::Number>().Int32Value());
    if (r != 0) {
      delete handle_;
      handle_ = nullptr;
      ThrowErrno(env, -r, "uv_poll_init");
      return;
    }
    handle_->data = this;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
  }

  ~FdWatcher() override { CloseHandle(); }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (handle_ == nullptr) {
      Napi::Error::New(env, "FdWatcher: closed").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    bool readable = info.Length() > 0 && info[0].ToBoolean().Value();
    bool writable = info.Length() > 1 && info[1].ToBoolean().Value();
    if (!readable && !writable) return Stop(info);
    int events = (readable ? UV_READABLE : 0) | (writable ? UV_WRITABLE : 0) | UV_DISCONNECT;
    int r = uv_poll_start(handle_, events, OnPoll);
    if (r != 0) {
      ThrowErrno(env, -r, "uv_poll_start");
      return env.Undefined();
    }
    if (!active_) {
      Ref();  // the handle points at us: stay alive while it may call back
      active_ = true;
    }
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    StopHandle();
    return info.Env().Undefined();
  }

  Napi::Value Close(const Napi::CallbackInfo& info) {
    StopHandle();
    CloseHandle();
    return info.Env().Undefined();
  }

  void StopHandle() {
    if (handle_ != nullptr) uv_poll_stop(handle_);
    if (active_) {
      active_ = false;
      Unref();
    }
  }

  // uv_close frees the handle later, on the loop; the fd itself is left to its owner.
  void CloseHandle() {
    if (handle_ == nullptr) return;
    uv_poll_t* h = handle_;
    handle_ = nullptr;
    h->data = nullptr;
    uv_close(reinterpret_cast<uv_handle_t*>(h), [](uv_handle_t* closed) { delete reinterpret_cast<uv_poll_t*>(closed); });
  }

  static void OnPoll(uv_poll_t* handle, int status, int events) {
    auto* self = static_cast<FdWatcher*>(handle->data);
    if (self == nullptr) return;
    Napi::Env env = self->Env();
    Napi::HandleScope scope(env);
    Napi::Value error = status < 0 ? Napi::String::New(env, uv_err_name(status)).As<Napi::Value>() : env.Null();
    bool hangup = (events & UV_DISCONNECT) != 0;
    // a hang-up is reported as readable: the next recv says EOF (or the error)
    self->callback_.MakeCallback(env.Global(), {Napi::Boolean::New(env, status < 0 || hangup || (events & UV_READABLE) != 0),
                                                Napi::Boolean::New(env, status < 0 || (events & UV_WRITABLE) != 0), error});
    if (env.IsExceptionPending()) {
      Napi::Error e = env.GetAndClearPendingException();
      napi_fatal_exception(env, e.Value());
    }
  }

  uv_poll_t* handle_ = nullptr;
  bool active_ = false;
  Napi::FunctionReference callback_;
};

}  // namespace

Napi::Object InitSocket(Napi::Env env, Napi::Object exports) {
  exports.Set("socketConnect", Napi::Function::New(env, SocketConnect, "socketConnect"));
  exports.Set("socketListen", Napi::Function::New(env, SocketListen, "socketListen"));
  exports.Set("socketAccept", Napi::Function::New(env, SocketAccept, "socketAccept"));
  exports.Set("socketRecv", Napi::Function::New(env, SocketRecv, "socketRecv"));
  exports.Set("socketSend", Napi::Function::New(env, SocketSend, "socketSend"));
  exports.Set("socketShutdown", Napi::Function::New(env, SocketShutdown, "socketShutdown"));
  exports.Set("socketError", Napi::Function::New(env, SocketError, "socketError"));
  exports.Set("socketNames", Napi::Function::New(env, SocketNames, "socketNames"));
  exports.Set("socketSendFd", Napi::Function::New(env, SocketSendFd, "socketSendFd"));
  exports.Set("socketRecvFd", Napi::Function::New(env, SocketRecvFd, "socketRecvFd"));
  exports.Set("lockFile", Napi::Function::New(env, LockFile, "lockFile"));
  exports.Set("FdWatcher", FdWatcher::Define(env));
  return exports;
}

}  // namespace tund
