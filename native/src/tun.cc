// TUN/TAP device: the /dev/net/tun ioctls (open, persist, owner, group, flags), fd helpers, and
// non-blocking batch read/write of packets. Every failure is thrown as a JS Error with `code`
// (errno name such as "EPERM"), `errno` (number) and `syscall` (such as "TUNSETIFF").
#include <napi.h>

#include "errors.h"

#include <cerrno>
#include <cstring>
#include <string>

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tund {
namespace {

void ThrowType(Napi::Env env, const char* message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
}

bool ArgFd(const Napi::CallbackInfo& info, size_t index, int* fd) {
  if (info.Length() <= index || !info[index].IsNumber()) {
    ThrowType(info.Env(), "expected a file descriptor (number)");
    return false;
  }
  *fd = info[index].As<Napi::Number>().Int32Value();
  if (*fd < 0) {
    ThrowErrno(info.Env(), EBADF, "fd", "invalid file descriptor");
    return false;
  }
  return true;
}

bool FlagOf(const Napi::Object& flags, const char* key) {
  if (!flags.Has(key)) return false;
  Napi::Value v = flags.Get(key);
  return v.IsBoolean() && v.As<Napi::Boolean>().Value();
}

bool SetNonBlockingFd(int fd, bool on) {
  int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return false;
  int wanted = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (wanted == flags) return true;
  return fcntl(fd, F_SETFL, wanted) == 0;
}

// tunOpen(name, {tap, multiQueue, vnetHdr}) -> {fd, name}
Napi::Value TunOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowType(env, "tunOpen: expected a name (string, may be empty)");
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  Napi::Object flags = info.Length() >= 2 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  if (name.size() >= IFNAMSIZ) {
    ThrowErrno(env, EINVAL, "TUNSETIFF", "interface name \"" + name + "\" is longer than 15 characters");
    return env.Undefined();
  }

  int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    ThrowErrno(env, err, "open", "cannot open /dev/net/tun");
    return env.Undefined();
  }

  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  ifr.ifr_flags = IFF_NO_PI | (FlagOf(flags, "tap") ? IFF_TAP : IFF_TUN);
  if (FlagOf(flags, "multiQueue")) ifr.ifr_flags |= IFF_MULTI_QUEUE;
  if (FlagOf(flags, "vnetHdr")) ifr.ifr_flags |= IFF_VNET_HDR;
  std::memcpy(ifr.ifr_name, name.data(), name.size());

  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int err = errno;
    close(fd);
    std::string what = name.empty() ? std::string("cannot create a TUN/TAP device")
                                     : "cannot create or attach TUN/TAP device \"" + name + "\"";
    ThrowErrno(env, err, "TUNSETIFF", what);
    return env.Undefined();
  }
  if (!SetNonBlockingFd(fd, true)) {
    int err = errno;
    close(fd);
    ThrowErrno(env, err, "fcntl", "cannot make the device fd non-blocking");
    return env.Undefined();
  }

  Napi::Object result = Napi::Object::New(env);
  result.Set("fd", Napi::Number::New(env, fd));
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  result.Set("name", Napi::String::New(env, ifr.ifr_name));
  return result;
}

Napi::Value IoctlInt(const Napi::CallbackInfo& info, unsigned long request, const char* syscall, const char* what) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  if (info.Length() < 2 || !(info[1].IsNumber() || info[1].IsBoolean())) {
    ThrowType(env, "expected a value (number or boolean)");
    return env.Undefined();
  }
  unsigned long value = info[1].IsBoolean() ? (info[1].As<Napi::Boolean>().Value() ? 1 : 0)
                                            : static_cast<unsigned long>(info[1].As<Napi::Number>().Int64Value());
  if (ioctl(fd, request, value) < 0) {
    int err = errno;
    ThrowErrno(env, err, syscall, what);
  }
  return env.Undefined();
}

Napi::Value TunSetPersist(const Napi::CallbackInfo& info) {
  return IoctlInt(info, TUNSETPERSIST, "TUNSETPERSIST", "cannot change the persist flag");
}

Napi::Value TunSetOwner(const Napi::CallbackInfo& info) {
  return IoctlInt(info, TUNSETOWNER, "TUNSETOWNER", "cannot set the device owner");
}

Napi::Value TunSetGroup(const Napi::CallbackInfo& info) {
  return IoctlInt(info, TUNSETGROUP, "TUNSETGROUP", "cannot set the device group");
}

// tunGetFlags(fd) -> {tap, multiQueue, vnetHdr, noPi, name}
Napi::Value TunGetFlags(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
    int err = errno;
    ThrowErrno(env, err, "TUNGETIFF", "cannot read the device flags");
    return env.Undefined();
  }
  Napi::Object result = Napi::Object::New(env);
  result.Set("tap", Napi::Boolean::New(env, (ifr.ifr_flags & IFF_TAP) != 0));
  result.Set("multiQueue", Napi::Boolean::New(env, (ifr.ifr_flags & IFF_MULTI_QUEUE) != 0));
  result.Set("vnetHdr", Napi::Boolean::New(env, (ifr.ifr_flags & IFF_VNET_HDR) != 0));
  result.Set("noPi", Napi::Boolean::New(env, (ifr.ifr_flags & IFF_NO_PI) != 0));
  ifr.ifr_name[IFNAMSIZ - 1] = '\0';
  result.Set("name", Napi::String::New(env, ifr.ifr_name));
  return result;
}

Napi::Value SetNonBlocking(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  bool on = info.Length() < 2 || info[1].ToBoolean().Value();
  if (!SetNonBlockingFd(fd, on)) {
    int err = errno;
    ThrowErrno(env, err, "fcntl", "cannot change O_NONBLOCK");
  }
  return env.Undefined();
}

Napi::Value CloseFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  // Linux releases the descriptor even when close() reports EINTR: never retry.
  if (close(fd) < 0 && errno != EINTR) {
    int err = errno;
    ThrowErrno(env, err, "close", "cannot close fd " + std::to_string(fd));
  }
  return env.Undefined();
}

Napi::Value DupFd(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  if (!ArgFd(info, 0, &fd)) return env.Undefined();
  int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) {
    int err = errno;
    ThrowErrno(env, err, "fcntl", "cannot duplicate fd " + std::to_string(fd));
    return env.Undefined();
  }
  return Napi::Number::New(env, copy);
}

bool ArgBuffers(const Napi::CallbackInfo& info, size_t index, Napi::Array* out) {
  if (info.Length() <= index || !info[index].IsArray()) {
    ThrowType(info.Env(), "expected an array of Buffers");
    return false;
  }
  *out = info[index].As<Napi::Array>();
  return true;
}

bool ArgOffset(const Napi::CallbackInfo& info, size_t index, uint32_t length, uint32_t* offset) {
  *offset = 0;
  if (info.Length() > index && !info[index].IsUndefined()) {
    if (!info[index].IsNumber()) {
      ThrowType(info.Env(), "expected an offset (number)");
      return false;
    }
    int64_t v = info[index].As<Napi::Number>().Int64Value();
    if (v < 0 || v > static_cast<int64_t>(length)) {
      Napi::RangeError::New(info.Env(), "offset out of range").ThrowAsJavaScriptException();
      return false;
    }
    *offset = static_cast<uint32_t>(v);
  }
  return true;
}

// readBatch(fd, bufs, sizes, offset) -> n. Reads until EAGAIN or the batch is full.
Napi::Value ReadBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  Napi::Array bufs;
  if (!ArgFd(info, 0, &fd) || !ArgBuffers(info, 1, &bufs)) return env.Undefined();
  if (info.Length() < 3 || !info[2].IsTypedArray() ||
      info[2].As<Napi::TypedArray>().TypedArrayType() != napi_int32_array) {
    ThrowType(env, "readBatch: expected sizes as an Int32Array");
    return env.Undefined();
  }
  Napi::Int32Array sizes = info[2].As<Napi::Int32Array>();
  uint32_t count = bufs.Length();
  uint32_t offset;
  if (!ArgOffset(info, 3, count, &offset)) return env.Undefined();
  if (sizes.ElementLength() < count) {
    Napi::RangeError::New(env, "readBatch: sizes is shorter than bufs").ThrowAsJavaScriptException();
    return env.Undefined();
  }

  uint32_t done = 0;
  for (uint32_t i = offset; i < count; i++) {
    Napi::Value v = bufs.Get(i);
    if (!v.IsBuffer()) {
      ThrowType(env, "readBatch: every element of bufs must be a Buffer");
      return env.Undefined();
    }
    Napi::Buffer<uint8_t> buf = v.As<Napi::Buffer<uint8_t>>();
    ssize_t n;
    do {
      n = read(fd, buf.Data(), buf.Length());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (done > 0) break;  // report what we have; the error comes back on the next call
      ThrowErrno(env, err, "read", "cannot read from the device");
      return env.Undefined();
    }
    sizes[i] = static_cast<int32_t>(n);
    done++;
  }
  return Napi::Number::New(env, done);
}

// writeBatch(fd, bufs, offset) -> n. Stops at EAGAIN.
Napi::Value WriteBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd;
  Napi::Array bufs;
  if (!ArgFd(info, 0, &fd) || !ArgBuffers(info, 1, &bufs)) return env.Undefined();
  uint32_t count = bufs.Length();
  uint32_t offset;
  if (!ArgOffset(info, 2, count, &offset)) return env.Undefined();

  uint32_t done = 0;
  for (uint32_t i = offset; i < count; i++) {
    Napi::Value v = bufs.Get(i);
    if (!v.IsBuffer()) {
      ThrowType(env, "writeBatch: every element of bufs must be a Buffer");
      return env.Undefined();
    }
    Napi::Buffer<uint8_t> buf = v.As<Napi::Buffer<uint8_t>>();
    ssize_t n;
    do {
      n = write(fd, buf.Data(), buf.Length());
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
      int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK) break;
      if (done > 0) break;
      ThrowErrno(env, err, "write", "cannot write to the device");
      return env.Undefined();
    }
    done++;
  }
  return Napi::Number::New(env, done);
}

// interfaceMtu(name) -> mtu (SIOCGIFMTU)
Napi::Value InterfaceMtu(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) {
    ThrowType(env, "interfaceMtu: expected an interface name");
    return env.Undefined();
  }
  std::string name = info[0].As<Napi::String>().Utf8Value();
  if (name.empty() || name.size() >= IFNAMSIZ) {
    ThrowErrno(env, EINVAL, "SIOCGIFMTU", "invalid interface name \"" + name + "\"");
    return env.Undefined();
  }
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) {
    int err = errno;
    ThrowErrno(env, err, "socket", "cannot open a socket to query the MTU");
    return env.Undefined();
  }
  struct ifreq ifr;
  std::memset(&ifr, 0, sizeof ifr);
  std::memcpy(ifr.ifr_name, name.data(), name.size());
  int rc = ioctl(sock, SIOCGIFMTU, &ifr);
  int err = errno;
  close(sock);
  if (rc < 0) {
    ThrowErrno(env, err, "SIOCGIFMTU", "cannot read the MTU of \"" + name + "\"");
    return env.Undefined();
  }
  return Napi::Number::New(env, ifr.ifr_mtu);
}

}  // namespace

Napi::Object InitTun(Napi::Env env, Napi::Object exports) {
  exports.Set("tunOpen", Napi::Function::New(env, TunOpen, "tunOpen"));
  exports.Set("tunSetPersist", Napi::Function::New(env, TunSetPersist, "tunSetPersist"));
  exports.Set("tunSetOwner", Napi::Function::New(env, TunSetOwner, "tunSetOwner"));
  exports.Set("tunSetGroup", Napi::Function::New(env, TunSetGroup, "tunSetGroup"));
  exports.Set("tunGetFlags", Napi::Function::New(env, TunGetFlags, "tunGetFlags"));
  exports.Set("setNonBlocking", Napi::Function::New(env, SetNonBlocking, "setNonBlocking"));
  exports.Set("closeFd", Napi::Function::New(env, CloseFd, "closeFd"));
  exports.Set("dupFd", Napi::Function::New(env, DupFd, "dupFd"));
  exports.Set("readBatch", Napi::Function::New(env, ReadBatch, "readBatch"));
  exports.Set("writeBatch", Napi::Function::New(env, WriteBatch, "writeBatch"));
  exports.Set("interfaceMtu", Napi::Function::New(env, InterfaceMtu, "interfaceMtu"));
  return exports;
}

}  // namespace tund
