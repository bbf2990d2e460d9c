// Small helpers for the VTun session set-up (not the packet path):
//  - blowfishEcb(key, data, encrypt): Blowfish-ECB over whole 8-byte blocks (the VTun challenge
//    response, docs/vtun-protocol.md §4.6). Node's crypto does not offer Blowfish (OpenSSL legacy provider), but
//    the low-level BF_* functions exported by Node's own OpenSSL do.
//  - socketAcceptsConnections(fd): getsockopt(SO_ACCEPTCONN), to tell a listening socket passed
//    by systemd (Accept=no) from a connected one (Accept=yes).
//  - udpSocketBind(addr, port): an IPv4 or IPv6 UDP socket with SO_REUSEPORT (never SO_REUSEADDR)
//    bound to addr:port (the VTun UDP port exchange binds to the TCP socket's own address and
//    port); returns the fd.
//  - udpSocketConnect(fd, addr, port): connect() it to the peer and discard what strangers had
//    queued on it before.
//  - udpSocketListen(addr, port): a UDP socket bound to addr:port alone (no SO_REUSEPORT: a port
//    in use is EADDRINUSE), for a WireGuard interface's one socket.
//  - socketSetMark(fd, mark): SO_MARK (WireGuard's FwMark; 0 clears it).
#include <napi.h>

#include "blowfish_ecb.h"
#include "engine/endpoint.h"
#include "errors.h"
#include <openssl/blowfish.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

namespace tund {
namespace {

// Throws (errors.h) and gives the value a binding returns right after.
Napi::Value FailErrno(Napi::Env env, int err, const char* syscall) {
  ThrowErrno(env, err, syscall);
  return env.Undefined();
}

Napi::Value BlowfishEcbBinding(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsBuffer() || !info[1].IsBuffer() || !info[2].IsBoolean()) {
    Napi::TypeError::New(env, "blowfishEcb(key: Buffer, data: Buffer, encrypt: boolean)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto key = info[0].As<Napi::Buffer<uint8_t>>();
  auto data = info[1].As<Napi::Buffer<uint8_t>>();
  bool encrypt = info[2].As<Napi::Boolean>().Value();
  if (key.Length() < 1 || key.Length() > 56 || data.Length() % 8 != 0) {
    Napi::RangeError::New(env, "blowfishEcb: key must be 1..56 bytes and data a multiple of 8 bytes").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  BF_KEY bf;
  BF_set_key(&bf, static_cast<int>(key.Length()), key.Data());
  auto out = Napi::Buffer<uint8_t>::Copy(env, data.Data(), data.Length());
  BlowfishEcb(bf, out.Data(), out.Length(), encrypt);
  memset(&bf, 0, sizeof bf);
  return out;
}

Napi::Value SocketAcceptsConnections(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  int val = 0;
  socklen_t len = sizeof val;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0) return FailErrno(env, errno, "getsockopt");
  return Napi::Boolean::New(env, val != 0);
}

// A UDP socket bound to info[0]:info[1] (addr, port); with reusePort, SO_REUSEPORT first.
Napi::Value BindUdp(const Napi::CallbackInfo& info, bool reusePort) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "(addr: string, port: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::string addr = info[0].As<Napi::String>().Utf8Value();
  int port = info[1].As<Napi::Number>().Int32Value();
  Endpoint local;
  if (port < 0 || port > 65535 || !Endpoint::Parse(addr, port, &local)) return FailErrno(env, EINVAL, "inet_pton");
  int fd = socket(local.Family(), SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return FailErrno(env, errno, "socket");
  int one = 1;
  if ((reusePort && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) ||
      bind(fd, local.Sockaddr(), local.len) < 0) {
    int err = errno;
    close(fd);
    return FailErrno(env, err, "bind");
  }
  return Napi::Number::New(env, fd);
}

// Several links of one server share the address and port of its TCP listener. SO_REUSEPORT,
// not SO_REUSEADDR: the kernel lets only sockets of the same user join, so another local user
// cannot bind beside us and receive datagrams meant for an unconnected socket.
Napi::Value UdpSocketBind(const Napi::CallbackInfo& info) { return BindUdp(info, true); }

// A WireGuard interface's one socket: a port in use is an error, not a shared port.
Napi::Value UdpSocketListen(const Napi::CallbackInfo& info) { return BindUdp(info, false); }

Napi::Value SocketSetMark(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "socketSetMark(fd: number, mark: number)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int fd = info[0].As<Napi::Number>().Int32Value();
  uint32_t mark = info[1].As<Napi::Number>().Uint32Value();
  if (setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof mark) < 0) return FailErrno(env, errno, "setsockopt(SO_MARK)");
  return env.Undefined();
}

// Discards the datagrams queued on fd (before it was connected) whose source is not `peer`, up
// to the first one from the peer. The engine drops any later stranger's datagram by its source.
void DrainForeign(int fd, const Endpoint& peer) {
  uint8_t byte;
  for (int i = 0; i < 4096; i++) {
    sockaddr_storage ss;
    socklen_t len = sizeof ss;
    ssize_t n = recvfrom(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT | MSG_TRUNC, reinterpret_cast<sockaddr*>(&ss), &len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return;  // nothing queued (or an ICMP error: left for the engine)
    if (Endpoint::From(ss, len).SameAs(peer)) return;
    recv(fd, &byte, 1, MSG_DONTWAIT | MSG_TRUNC);
  }
}

Napi::Value UdpSocketConnect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  std::string addr = info[1].As<Napi::String>().Utf8Value();
  int port = info[2].As<Napi::Number>().Int32Value();
  Endpoint peer;
  if (!Endpoint::Parse(addr, port, &peer)) return FailErrno(env, EINVAL, "inet_pton");
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int family = getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) == 0 ? ss.ss_family : peer.Family();
  Endpoint to;
  if (!peer.ForFamily(family, &to)) return FailErrno(env, EAFNOSUPPORT, "connect");
  if (connect(fd, to.Sockaddr(), to.len) < 0) return FailErrno(env, errno, "connect");
  DrainForeign(fd, peer);
  return env.Undefined();
}

}  // namespace

Napi::Object InitAuth(Napi::Env env, Napi::Object exports) {
  exports.Set("blowfishEcb", Napi::Function::New(env, BlowfishEcbBinding, "blowfishEcb"));
  exports.Set("socketAcceptsConnections", Napi::Function::New(env, SocketAcceptsConnections, "socketAcceptsConnections"));
  exports.Set("udpSocketBind", Napi::Function::New(env, UdpSocketBind, "udpSocketBind"));
  exports.Set("udpSocketConnect", Napi::Function::New(env, UdpSocketConnect, "udpSocketConnect"));
  exports.Set("udpSocketListen", Napi::Function::New(env, UdpSocketListen, "udpSocketListen"));
  exports.Set("socketSetMark", Napi::Function::New(env, SocketSetMark, "socketSetMark"));
  return exports;
}

}  // namespace tund
