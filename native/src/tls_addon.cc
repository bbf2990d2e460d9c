// Thin N-API bindings of the TLS wrapper (tls.*), for tests and the control plane, and reads and
// writes on a non-blocking fd for tests (the TCP sockets themselves come from socket.cc). The data
// path uses tls::Session directly on the native thread that owns the socket.
//
//   new TlsContext({role: "client", serverName, verify?, caFile?, certFile?, keyFile?})
//   new TlsContext({role: "server", certFile, keyFile, clientCaFile?})
//   new TlsSession(context, fd)  .handshake() -> status  .read(max) -> {status, data?}
//     .write(buf) -> {status, written}  .shutdown() -> status  .pending()  .error()
//     .peerSubject()  .peerIssuer()  .protocol()  .cipher()
//   status: "ok" | "want_read" | "want_write" | "closed" | "error"
//   fdRead(fd, max) -> Buffer | null   fdWrite(fd, buf) -> n
#include <napi.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "errors.h"
#include "napi_args.h"
#include "engine/endpoint.h"
#include "tls.h"

namespace tund {
namespace {

class TlsContextWrap : public Napi::ObjectWrap<TlsContextWrap> {
 public:
  static Napi::FunctionReference* constructor;

  static Napi::Function Define(Napi::Env env) {
    Napi::Function f = DefineClass(env, "TlsContext", {});
    constructor = new Napi::FunctionReference(Napi::Persistent(f));
    return f;
  }

  explicit TlsContextWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TlsContextWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      ThrowTypeError(env, "new TlsContext({role, ...})");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    std::string role = StringOpt(o, "role");
    std::string error;
    if (role == "client") {
      tls::ClientConfig c;
      c.serverName = StringOpt(o, "serverName");
      c.verify = !(o.Has("verify") && o.Get("verify").IsBoolean() && !o.Get("verify").As<Napi::Boolean>().Value());
      c.caFile = StringOpt(o, "caFile");
      c.certFile = StringOpt(o, "certFile");
      c.keyFile = StringOpt(o, "keyFile");
      context_ = tls::Context::NewClient(c, &error);
    } else if (role == "server") {
      tls::ServerConfig c;
      c.certFile = StringOpt(o, "certFile");
      c.keyFile = StringOpt(o, "keyFile");
      c.clientCaFile = StringOpt(o, "clientCaFile");
      context_ = tls::Context::NewServer(c, &error);
    } else {
      ThrowTypeError(env, "role must be \"client\" or \"server\"");
      return;
    }
    if (!context_) Napi::Error::New(env, error).ThrowAsJavaScriptException();
  }

  const tls::Context* Get() const { return context_.get(); }

 private:
  std::unique_ptr<tls::Context> context_;
};

Napi::FunctionReference* TlsContextWrap::constructor = nullptr;

class TlsSessionWrap : public Napi::ObjectWrap<TlsSessionWrap> {
 public:
  static Napi::FunctionReference* constructor;
  static Napi::Function Define(Napi::Env env) {
    Napi::Function f = DefineSession(env);
    constructor = new Napi::FunctionReference(Napi::Persistent(f));
    return f;
  }
  // The session leaves JS for the engine (the wrap has none afterwards).
  std::unique_ptr<tls::Session> Take() { return std::move(session_); }

  static Napi::Function DefineSession(Napi::Env env) {
    return DefineClass(env, "TlsSession",
                       {InstanceMethod("handshake", &TlsSessionWrap::Handshake), InstanceMethod("read", &TlsSessionWrap::Read),
                        InstanceMethod("write", &TlsSessionWrap::Write), InstanceMethod("shutdown", &TlsSessionWrap::Shutdown),
                        InstanceMethod("pending", &TlsSessionWrap::Pending), InstanceMethod("error", &TlsSessionWrap::Error),
                        InstanceMethod("peerSubject", &TlsSessionWrap::PeerSubject),
                        InstanceMethod("peerIssuer", &TlsSessionWrap::PeerIssuer),
                        InstanceMethod("protocol", &TlsSessionWrap::Protocol), InstanceMethod("cipher", &TlsSessionWrap::Cipher)});
  }

  explicit TlsSessionWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TlsSessionWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsNumber() ||
        !info[0].As<Napi::Object>().InstanceOf(TlsContextWrap::constructor->Value())) {
      ThrowTypeError(env, "new TlsSession(context: TlsContext, fd: number)");
      return;
    }
    TlsContextWrap* ctx = TlsContextWrap::Unwrap(info[0].As<Napi::Object>());
    if (!ctx->Get()) {
      ThrowTypeError(env, "the TlsContext was not built");
      return;
    }
    contextRef_ = Napi::Persistent(info[0].As<Napi::Object>());  // the context outlives the session
    std::string error;
    session_ = tls::Session::New(*ctx->Get(), info[1].As<Napi::Number>().Int32Value(), &error);
    if (!session_) Napi::Error::New(env, error).ThrowAsJavaScriptException();
  }

 private:
  Napi::Value Status(Napi::Env env, tls::Status s) { return Napi::String::New(env, tls::StatusName(s)); }

  Napi::Value Handshake(const Napi::CallbackInfo& info) {
    if (!session_) return ThrowTypeError(info.Env(), "no session");
    return Status(info.Env(), session_->Handshake());
  }

  Napi::Value Read(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!session_) return ThrowTypeError(env, "no session");
    size_t max = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 65536;
    if (max == 0 || max > (1 << 20)) max = 65536;
    std::unique_ptr<uint8_t[]> buf(new uint8_t[max]);
    size_t n = 0;
    tls::Status s = session_->Read(buf.get(), max, &n);
    Napi::Object o = Napi::Object::New(env);
    o.Set("status", tls::StatusName(s));
    if (s == tls::Status::Ok) o.Set("data", Napi::Buffer<uint8_t>::Copy(env, buf.get(), n));
    return o;
  }

  Napi::Value Write(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!session_) return ThrowTypeError(env, "no session");
    if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowTypeError(env, "write(buf: Buffer)");
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    size_t n = 0;
    tls::Status s = session_->Write(buf.Data(), buf.Length(), &n);
    Napi::Object o = Napi::Object::New(env);
    o.Set("status", tls::StatusName(s));
    o.Set("written", static_cast<double>(n));
    return o;
  }

  Napi::Value Shutdown(const Napi::CallbackInfo& info) {
    if (!session_) return ThrowTypeError(info.Env(), "no session");
    return Status(info.Env(), session_->Shutdown());
  }

  Napi::Value Pending(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), session_ ? static_cast<double>(session_->Pending()) : 0);
  }
  Napi::Value Error(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), session_ ? session_->Error() : ""); }
  Napi::Value PeerSubject(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), session_ ? session_->PeerSubject() : "");
  }
  Napi::Value PeerIssuer(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), session_ ? session_->PeerIssuer() : "");
  }
  Napi::Value Protocol(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), session_ ? session_->Protocol() : ""); }
  Napi::Value Cipher(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), session_ ? session_->Cipher() : ""); }

  Napi::ObjectReference contextRef_;
  std::unique_ptr<tls::Session> session_;
};

// fdRead(fd, max) -> Buffer (empty: nothing ready) | null (end of stream)
Napi::Value FdRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowTypeError(env, "fdRead(fd: number, max?: number)");
  size_t max = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 65536;
  if (max == 0 || max > (1 << 20)) max = 65536;
  std::unique_ptr<uint8_t[]> buf(new uint8_t[max]);
  ssize_t n = read(info[0].As<Napi::Number>().Int32Value(), buf.get(), max);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Buffer<uint8_t>::New(env, 0);
    ThrowErrno(env, errno, "read");
    return env.Undefined();
  }
  if (n == 0) return env.Null();
  return Napi::Buffer<uint8_t>::Copy(env, buf.get(), static_cast<size_t>(n));
}

// fdWrite(fd, buf) -> bytes written (0 when the socket is full)
Napi::Value FdWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsBuffer()) return ThrowTypeError(env, "fdWrite(fd: number, buf: Buffer)");
  auto buf = info[1].As<Napi::Buffer<uint8_t>>();
  ssize_t n = send(info[0].As<Napi::Number>().Int32Value(), buf.Data(), buf.Length(), MSG_NOSIGNAL);
  if (n < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Number::New(env, 0);
    ThrowErrno(env, errno, "send");
    return env.Undefined();
  }
  return Napi::Number::New(env, static_cast<double>(n));
}

Napi::FunctionReference* TlsSessionWrap::constructor = nullptr;

}  // namespace

std::unique_ptr<tls::Session> TakeTlsSession(Napi::Value v) {
  if (!v.IsObject() || !TlsSessionWrap::constructor || !v.As<Napi::Object>().InstanceOf(TlsSessionWrap::constructor->Value())) {
    return nullptr;
  }
  return TlsSessionWrap::Unwrap(v.As<Napi::Object>())->Take();
}

Napi::Object InitTls(Napi::Env env, Napi::Object exports) {
  exports.Set("TlsContext", TlsContextWrap::Define(env));
  exports.Set("TlsSession", TlsSessionWrap::Define(env));
  exports.Set("fdRead", Napi::Function::New(env, FdRead, "fdRead"));
  exports.Set("fdWrite", Napi::Function::New(env, FdWrite, "fdWrite"));
  return exports;
}

}  // namespace tund
