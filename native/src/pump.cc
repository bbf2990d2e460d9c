// The VTun packet pump (docs/vtun-protocol.md §6-§11): two native threads per session move packets between
// a device fd (tun/tap, or a pipe/pty for VTun's pipe/tty types) and the transport socket.
//
//   device -> net (tx thread): read packets until EAGAIN (up to batchSize), run each through the
//     module chain (compression -> encryption), prefix the 2-byte frame header; TCP: all frames of
//     a batch go out in one coalesced send(); UDP: one datagram per frame with sendmmsg().
//   start() also sets TCP_NODELAY and SO_KEEPALIVE on a TCP socket, as vtund does.
//   net -> device (rx thread): TCP: large reads, split into frames (starting with initialRx);
//     UDP: recvmmsg(), one frame per datagram. Decryption -> decompression -> write to the device.
//
// Only the tx thread writes to the socket: the rx thread and JS queue control frames (ECHO_REP,
// ECHO_REQ, CONN_CLOSE) as atomic counters and wake the tx thread through an eventfd, so frames
// are never interleaved on a TCP stream and the rx thread never blocks behind a full socket
// (two peers blocked in send() while their readers wait for a lock would deadlock).
//
// Ending: the first terminal condition emits one 'ended' event (ThreadSafeFunction) and makes
// both threads exit; for peer_closed/device_error/codec_error the tx thread sends one CONN_CLOSE
// first, as vtund does. stop() joins the threads, closes netFd (never the device fd), sends
// nothing itself (a CONN_CLOSE queued with sendControl() just before stop() is still flushed),
// emits 'stopped' unless the pump had already ended, and releases the ThreadSafeFunction.
//
// Robustness beyond vtund: a write to a tun/tap that fails with EIO while the interface is not
// up (our own `up` commands have not run yet, docs/vtun-protocol.md §6.5) drops the packet (counted in
// deviceDownDrops) instead of ending the session; and a 1-byte packet for a tun/tap (vtund's
// resync carrier, docs/vtun-protocol.md §10.5.4) is dropped (badFrames). Any other device write error ends it.
//
// Also exported here: VtunCodec (the same module chain, synchronous, for tests and tools) and
// vtunKey (the VTun key derivation, docs/vtun-protocol.md §10.1).
#include <napi.h>

#include "errors.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/md5.h>
#include <poll.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "vtun_codec.h"

namespace tund {
namespace {

using vtun::CodecConfig;
using vtun::Compression;
using vtun::DecodeResult;
using vtun::VtunDecoder;
using vtun::VtunEncoder;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Reads {compression, cipher, key} (the PumpOptions / VtunCodec options). Throws on error.
bool ParseCodecConfig(Napi::Env env, Napi::Object o, CodecConfig* cfg) {
  cfg->compression = Compression::None;
  Napi::Value comp = o.Get("compression");
  if (comp.IsObject()) {
    Napi::Object c = comp.As<Napi::Object>();
    std::string kind = c.Get("kind").IsString() ? c.Get("kind").As<Napi::String>().Utf8Value() : "";
    if (kind == "zlib") cfg->compression = Compression::Zlib;
    else if (kind == "lzo") cfg->compression = Compression::Lzo;
    else if (kind != "none") {
      Napi::TypeError::New(env, "compression.kind must be 'none', 'zlib' or 'lzo'").ThrowAsJavaScriptException();
      return false;
    }
    if (cfg->compression != Compression::None) {
      Napi::Value lv = c.Get("level");
      cfg->level = lv.IsNumber() ? lv.As<Napi::Number>().Int32Value() : 1;
    }
  } else if (!comp.IsUndefined() && !comp.IsNull()) {
    Napi::TypeError::New(env, "compression must be {kind, level}").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Value ci = o.Get("cipher");
  cfg->cipher = ci.IsNumber() ? ci.As<Napi::Number>().Int32Value() : 0;
  Napi::Value k = o.Get("key");
  cfg->key.clear();
  if (k.IsBuffer()) {
    auto b = k.As<Napi::Buffer<uint8_t>>();
    cfg->key.assign(reinterpret_cast<const char*>(b.Data()), b.Length());
  }
  std::string problem = vtun::ValidateConfig(*cfg);
  if (!problem.empty()) {
    Napi::RangeError::New(env, problem).ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

inline void PutHeader(uint8_t* p, uint16_t h) {
  p[0] = static_cast<uint8_t>(h >> 8);
  p[1] = static_cast<uint8_t>(h);
}
inline uint16_t GetHeader(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

// ---------------------------------------------------------------------------------------------
// VtunCodec: the synchronous module chain.

class VtunCodecWrap : public Napi::ObjectWrap<VtunCodecWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "VtunCodec",
                       {InstanceMethod("encode", &VtunCodecWrap::Encode), InstanceMethod("decode", &VtunCodecWrap::Decode)});
  }
  explicit VtunCodecWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VtunCodecWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "new VtunCodec({compression, cipher, key})").ThrowAsJavaScriptException();
      return;
    }
    CodecConfig cfg;
    if (!ParseCodecConfig(env, info[0].As<Napi::Object>(), &cfg)) return;
    auto sync = std::make_shared<vtun::ResyncSignal>();
    enc_ = std::make_unique<VtunEncoder>(cfg, sync);
    dec_ = std::make_unique<VtunDecoder>(cfg, sync);
    out_.resize(vtun::kMaxEncoded + 64);
    in_.resize(vtun::kMaxFramePayload + 64);
  }

 private:
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!enc_) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "encode(packet: Buffer)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto b = info[0].As<Napi::Buffer<uint8_t>>();
    std::string err;
    int n = enc_->Encode(b.Data(), b.Length(), out_.data(), &err);
    if (n < 0) {
      Napi::RangeError::New(env, "VtunCodec.encode: " + err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Buffer<uint8_t>::Copy(env, out_.data(), static_cast<size_t>(n));
  }
  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!dec_) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "decode(payload: Buffer)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto b = info[0].As<Napi::Buffer<uint8_t>>();
    if (b.Length() == 0 || b.Length() > vtun::kMaxFramePayload) return env.Null();  // the pump drops these too
    std::memcpy(in_.data(), b.Data(), b.Length());
    const uint8_t* p = nullptr;
    size_t n = 0;
    std::string err;
    DecodeResult r = dec_->Decode(in_.data(), b.Length(), &p, &n, &err);
    if (r == DecodeResult::Error) {
      Napi::Error::New(env, "VtunCodec.decode: " + err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (r == DecodeResult::Drop) return env.Null();
    return Napi::Buffer<uint8_t>::Copy(env, p, n);
  }

  std::unique_ptr<VtunEncoder> enc_;
  std::unique_ptr<VtunDecoder> dec_;
  std::vector<uint8_t> out_;
  std::vector<uint8_t> in_;
};

// vtunKey(password, 16|32): MD5(password), or MD5(first floor(len/2) bytes) || MD5(the rest).
Napi::Value VtunKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "vtunKey(password: Buffer, bytes: 16 | 32)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto pw = info[0].As<Napi::Buffer<uint8_t>>();
  int bytes = info[1].As<Napi::Number>().Int32Value();
  if (bytes != 16 && bytes != 32) {
    Napi::RangeError::New(env, "vtunKey: bytes must be 16 or 32").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(bytes));
  if (bytes == 16) {
    MD5(pw.Data(), pw.Length(), out.Data());
  } else {
    size_t half = pw.Length() / 2;
    MD5(pw.Data(), half, out.Data());
    MD5(pw.Data() + half, pw.Length() - half, out.Data() + 16);
  }
  return out;
}

// socketPair('stream' | 'dgram' | 'seqpacket'): an AF_UNIX socketpair (close-on-exec), e.g. for
// VTun's `pipe` type or as a stand-in device/transport in tests.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "stream";
  int type = kind == "stream" ? SOCK_STREAM : kind == "dgram" ? SOCK_DGRAM : kind == "seqpacket" ? SOCK_SEQPACKET : -1;
  if (type < 0) {
    Napi::TypeError::New(env, "socketPair('stream' | 'dgram' | 'seqpacket')").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) {
    ThrowErrno(env, errno, "socketpair");
    return env.Undefined();
  }
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Number::New(env, sv[0]));
  a.Set(1u, Napi::Number::New(env, sv[1]));
  return a;
}

// ---------------------------------------------------------------------------------------------
// The pump

enum class EndReason { PeerClosed, Eof, DeviceError, NetworkError, CodecError, Stopped };

const char* ReasonName(EndReason r) {
  switch (r) {
    case EndReason::PeerClosed: return "peer_closed";
    case EndReason::Eof: return "eof";
    case EndReason::DeviceError: return "device_error";
    case EndReason::NetworkError: return "network_error";
    case EndReason::CodecError: return "codec_error";
    case EndReason::Stopped: return "stopped";
  }
  return "stopped";
}

struct EventData {
  std::string reason;
  std::string message;
};

struct Counters {
  std::atomic<uint64_t> rxBytes{0}, txBytes{0}, rxPackets{0}, txPackets{0}, rxFrames{0}, txFrames{0};
  std::atomic<uint64_t> rxWireBytes{0}, txWireBytes{0}, badFrames{0}, echoReqRx{0}, echoRepRx{0};
  std::atomic<uint64_t> deviceDownDrops{0}, txDropped{0}, echoReqTx{0};
};

constexpr size_t kFrameSlot = vtun::kMaxEncoded + 2 + 64;  // header + payload, rounded up
constexpr size_t kTcpRxBuf = 256 * 1024;
constexpr size_t kUdpRxSlot = 4096 + 64;  // larger than any valid datagram, so oversize is visible

class Pump : public Napi::ObjectWrap<Pump> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Pump",
                       {InstanceMethod("start", &Pump::Start), InstanceMethod("stop", &Pump::Stop),
                        InstanceMethod("sendControl", &Pump::SendControl), InstanceMethod("stats", &Pump::Stats)});
  }

  explicit Pump(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Pump>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "new Pump(options, onEvent)").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    auto num = [&](const char* k, int def) {
      Napi::Value v = o.Get(k);
      return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : def;
    };
    auto str = [&](const char* k) {
      Napi::Value v = o.Get(k);
      return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
    };
    devFd_ = num("deviceFd", -1);
    netFd_ = num("netFd", -1);
    if (devFd_ < 0 || netFd_ < 0) {
      Napi::TypeError::New(env, "Pump: deviceFd and netFd must be file descriptors").ThrowAsJavaScriptException();
      return;
    }
    std::string kind = str("deviceKind");
    if (kind != "" && kind != "packet" && kind != "stream") {
      Napi::TypeError::New(env, "Pump: deviceKind must be 'packet' or 'stream'").ThrowAsJavaScriptException();
      return;
    }
    stream_ = kind == "stream";
    std::string transport = str("transport");
    if (transport != "tcp" && transport != "udp") {
      Napi::TypeError::New(env, "Pump: transport must be 'tcp' or 'udp'").ThrowAsJavaScriptException();
      return;
    }
    tcp_ = transport == "tcp";
    Napi::Value nh = o.Get("natHack");
    natHack_ = !tcp_ && nh.IsBoolean() && nh.As<Napi::Boolean>().Value();
    sendDelayMs_ = num("sendDelayMs", 0);
    speedKbps_ = num("speedKbps", 0);
    batch_ = num("batchSize", 32);
    if (batch_ < 1) batch_ = 1;
    if (batch_ > 1024) batch_ = 1024;
    Napi::Value irx = o.Get("initialRx");
    if (irx.IsBuffer()) {
      auto b = irx.As<Napi::Buffer<uint8_t>>();
      if (b.Length() > kTcpRxBuf / 2) {
        Napi::RangeError::New(env, "Pump: initialRx too large").ThrowAsJavaScriptException();
        return;
      }
      initialRx_.assign(b.Data(), b.Data() + b.Length());
    }
    if (!ParseCodecConfig(env, o, &codec_)) return;
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
    valid_ = true;
  }

  ~Pump() override { Shutdown(false); }

 private:
  // ---- JS methods
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!valid_) return env.Undefined();
    if (started_) {
      Napi::Error::New(env, "Pump: already started").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    stopFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    wakeFd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stopFd_ < 0 || wakeFd_ < 0) {
      int err = errno;
      if (stopFd_ >= 0) close(stopFd_);
      if (wakeFd_ >= 0) close(wakeFd_);
      stopFd_ = wakeFd_ = -1;
      ThrowErrno(env, err, "eventfd");
      return env.Undefined();
    }
    for (int fd : {devFd_, netFd_}) {
      int fl = fcntl(fd, F_GETFL);
      if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        int err = errno;
        close(stopFd_);
        close(wakeFd_);
        stopFd_ = wakeFd_ = -1;
        ThrowErrno(env, err, "fcntl");
        return env.Undefined();
      }
    }
    if (tcp_) {
      // As vtund after authentication (docs/vtun-protocol.md §3): no Nagle delay (we coalesce ourselves), keep-alive.
      // Errors are ignored (e.g. an AF_UNIX stand-in in tests).
      int one = 1;
      setsockopt(netFd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      setsockopt(netFd_, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);
    }
    if (!stream_) {
      struct ifreq ifr;
      memset(&ifr, 0, sizeof ifr);
      if (ioctl(devFd_, TUNGETIFF, &ifr) == 0) {
        ifname_.assign(ifr.ifr_name, strnlen(ifr.ifr_name, IFNAMSIZ));
        ctlSock_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
      }
    }
    auto sync = std::make_shared<vtun::ResyncSignal>();
    enc_ = std::make_unique<VtunEncoder>(codec_, sync);
    dec_ = std::make_unique<VtunDecoder>(codec_, sync);
    tsfn_ = Napi::ThreadSafeFunction::New(env, callback_.Value(), "tund-pump", 0, 1);
    udpConnected_ = tcp_ || !natHack_;
    if (!natHack_) {
      pendingEchoReq_ = 1;  // docs/vtun-protocol.md §7.5
      Wake();
    }
    startMs_ = NowMs();
    started_ = true;
    txThread_ = std::thread([this] { tcp_ ? TxTcp() : TxUdp(); TxExit(); });
    rxThread_ = std::thread([this] { tcp_ ? RxTcp() : RxUdp(); });
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    Shutdown(true);
    return info.Env().Undefined();
  }

  Napi::Value SendControl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string kind = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (kind != "echo_req" && kind != "conn_close") {
      Napi::TypeError::New(env, "sendControl('echo_req' | 'conn_close')").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!started_ || stopped_ || ended_) return env.Undefined();
    if (kind == "echo_req") pendingEchoReq_++;
    else pendingClose_ = 1;
    Wake();
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    auto set = [&](const char* k, const std::atomic<uint64_t>& v) {
      o.Set(k, Napi::Number::New(env, static_cast<double>(v.load(std::memory_order_relaxed))));
    };
    set("rxBytes", c_.rxBytes);
    set("txBytes", c_.txBytes);
    set("rxPackets", c_.rxPackets);
    set("txPackets", c_.txPackets);
    set("rxFrames", c_.rxFrames);
    set("txFrames", c_.txFrames);
    set("rxWireBytes", c_.rxWireBytes);
    set("txWireBytes", c_.txWireBytes);
    set("badFrames", c_.badFrames);
    set("echoRequestsReceived", c_.echoReqRx);
    set("echoRepliesReceived", c_.echoRepRx);
    set("echoRequestsSent", c_.echoReqTx);
    set("deviceDownDrops", c_.deviceDownDrops);
    set("txDropped", c_.txDropped);
    int64_t last = lastRxMs_.load(std::memory_order_relaxed);
    o.Set("msSinceRx", Napi::Number::New(env, last < 0 ? -1.0 : static_cast<double>(NowMs() - last)));
    o.Set("running", Napi::Boolean::New(env, started_ && !stopped_ && !ended_));
    return o;
  }

  // ---- lifecycle
  void Shutdown(bool emit) {
    if (!started_ || stopped_) {
      stopped_ = true;
      return;
    }
    stopped_ = true;
    stopping_ = true;
    Signal(stopFd_);
    if (txThread_.joinable()) txThread_.join();
    if (rxThread_.joinable()) rxThread_.join();
    close(netFd_);
    netFd_ = -1;
    close(stopFd_);
    close(wakeFd_);
    stopFd_ = wakeFd_ = -1;
    if (ctlSock_ >= 0) close(ctlSock_);
    ctlSock_ = -1;
    ended_ = true;
    if (emit && !eventSent_.exchange(true)) {
      auto* d = new EventData{"stopped", "stop() was called"};
      if (tsfn_.BlockingCall(d, CallJs) != napi_ok) delete d;
    }
    tsfn_.Release();
  }

  static void CallJs(Napi::Env env, Napi::Function fn, EventData* d) {
    if (env != nullptr && fn != nullptr) {
      Napi::Object ev = Napi::Object::New(env);
      ev.Set("type", "ended");
      ev.Set("reason", d->reason);
      ev.Set("message", d->message);
      fn.Call({ev});
    }
    delete d;
  }

  // First terminal condition wins: one event, both threads told to exit.
  void End(EndReason reason, const std::string& message) {
    if (ended_.exchange(true)) return;
    if (reason == EndReason::PeerClosed || reason == EndReason::DeviceError || reason == EndReason::CodecError) {
      pendingClose_ = 1;
    }
    if (!stopping_ && !eventSent_.exchange(true)) {
      auto* d = new EventData{ReasonName(reason), message};
      if (tsfn_.BlockingCall(d, CallJs) != napi_ok) delete d;
    }
    Signal(stopFd_);
  }

  static void Signal(int fd) {
    if (fd < 0) return;
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
  }
  void Wake() { Signal(wakeFd_); }
  static void Drain(int fd) {
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
  }
  bool StopRequested() const {
    struct pollfd p = {stopFd_, POLLIN, 0};
    return poll(&p, 1, 0) > 0;
  }

  // Waits until fd is ready for `events` or stop; returns false on stop (or timeout if given).
  bool WaitFd(int fd, short events, int timeoutMs = -1) {
    struct pollfd p[2] = {{fd, events, 0}, {stopFd_, POLLIN, 0}};
    for (;;) {
      int r = poll(p, 2, timeoutMs);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) return false;
      if (p[1].revents) return false;
      return true;
    }
  }

  // ---- tx side

  // Remaining ms before data may flow (send delay, shaping window); 0 = device may be read now.
  int DeviceHoldMs() {
    int64_t now = NowMs();
    if (sendDelayMs_ > 0 && now - startMs_ < sendDelayMs_) return static_cast<int>(sendDelayMs_ - (now - startMs_));
    if (speedKbps_ > 0) {
      int64_t limit = static_cast<int64_t>(speedKbps_) * 1024 / 8 + 400;
      if (now - shapeStartMs_ >= 1000) {
        shapeStartMs_ = now;
        shapeBytes_ = 0;
      }
      if (shapeBytes_ > limit) return static_cast<int>(1000 - (now - shapeStartMs_)) + 1;
    }
    return 0;
  }

  // Appends the pending control frames at p (room for 3 headers); returns how many bytes.
  size_t TakeControls(uint8_t* p, bool includeClose) {
    size_t n = 0;
    int rep = pendingEchoRep_.exchange(0);
    int req = pendingEchoReq_.exchange(0);
    // Several queued requests/replies collapse into one each: they carry no data.
    if (req > 0) {
      PutHeader(p + n, vtun::kEchoReq);
      n += 2;
      c_.echoReqTx++;
    }
    if (rep > 0) {
      PutHeader(p + n, vtun::kEchoRep);
      n += 2;
    }
    if (includeClose && pendingClose_.exchange(0)) {
      PutHeader(p + n, vtun::kConnClose);
      n += 2;
    }
    return n;
  }

  // Reads one packet/chunk from the device into dst (cap bytes). >0 length, 0 nothing more now,
  // -1 the session ended.
  ssize_t ReadDevice(uint8_t* dst, size_t cap) {
    for (;;) {
      ssize_t n = read(devFd_, dst, cap);
      if (n > 0) return n;
      if (n == 0) {
        if (stream_) {
          End(EndReason::DeviceError, "device closed (end of file)");
          return -1;
        }
        return 0;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
      int err = errno;
      End(EndReason::DeviceError, std::string("device read: ") + strerror(err));
      return -1;
    }
  }

  // Encodes a packet read into `pkt` (or already in place at dst+2 when identity) to dst:
  // returns the frame length (header included) or -1 (session ended).
  int BuildFrame(const uint8_t* pkt, size_t len, uint8_t* dst) {
    int n;
    if (enc_->Identity()) {
      if (pkt != dst + 2) memcpy(dst + 2, pkt, len);
      n = static_cast<int>(len);
    } else {
      std::string err;
      n = enc_->Encode(pkt, len, dst + 2, &err);
      if (n < 0) {
        End(EndReason::CodecError, "encode: " + err);
        return -1;
      }
    }
    PutHeader(dst, static_cast<uint16_t>(n));
    c_.txPackets.fetch_add(1, std::memory_order_relaxed);
    c_.txBytes.fetch_add(len, std::memory_order_relaxed);
    return n + 2;
  }

  // TCP: writes all of buf (poll on EAGAIN). false = stop or ended.
  bool WriteAllTcp(const uint8_t* buf, size_t len) {
    size_t off = 0;
    while (off < len) {
      ssize_t n = send(netFd_, buf + off, len - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        c_.txWireBytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!WaitFd(netFd_, POLLOUT)) return false;
        continue;
      }
      int err = n < 0 ? errno : EPIPE;
      if (err == EPIPE || err == ECONNRESET) End(EndReason::Eof, std::string("send: ") + strerror(err));
      else End(EndReason::NetworkError, std::string("send: ") + strerror(err));
      return false;
    }
    return true;
  }

  void TxTcp() {
    const size_t cap = static_cast<size_t>(batch_) * kFrameSlot + 16;
    std::vector<uint8_t> wbuf(cap);
    std::vector<uint8_t> pkt(vtun::kMaxPacket);
    const size_t readCap = vtun::kMaxPacket;
    struct pollfd p[3];
    while (!ended_) {
      int hold = DeviceHoldMs();
      p[0] = {stopFd_, POLLIN, 0};
      p[1] = {wakeFd_, POLLIN, 0};
      p[2] = {devFd_, POLLIN, 0};
      int n = poll(p, hold > 0 ? 2 : 3, hold > 0 ? hold : -1);
      if (n < 0 && errno != EINTR) {
        End(EndReason::DeviceError, std::string("poll: ") + strerror(errno));
        return;
      }
      if (p[0].revents) return;
      if (p[1].revents) Drain(wakeFd_);
      size_t pos = TakeControls(wbuf.data(), true);
      c_.txFrames.fetch_add(pos / 2, std::memory_order_relaxed);
      if (hold <= 0 && n > 0 && p[2].revents) {
        if (p[2].revents & (POLLERR | POLLNVAL)) {
          End(EndReason::DeviceError, "device fd error");
          return;
        }
        for (int i = 0; i < batch_; i++) {
          uint8_t* dst = wbuf.data() + pos;
          uint8_t* into = enc_->Identity() ? dst + 2 : pkt.data();
          ssize_t len = ReadDevice(into, readCap);
          if (len < 0) return;
          if (len == 0) {
            if (i == 0 && (p[2].revents & POLLHUP)) {
              // readable by hang-up only, nothing to read: the device is gone (no busy loop)
              End(EndReason::DeviceError, "device hung up");
              return;
            }
            break;
          }
          int f = BuildFrame(into, static_cast<size_t>(len), dst);
          if (f < 0) return;
          pos += static_cast<size_t>(f);
          c_.txFrames.fetch_add(1, std::memory_order_relaxed);
          shapeBytes_ += f;
          if (speedKbps_ > 0 && DeviceHoldMs() > 0) break;
        }
      }
      if (pos > 0 && !WriteAllTcp(wbuf.data(), pos)) return;
    }
  }

  // UDP: sends msgs[0..count) (one datagram each); false = stop or ended.
  bool SendAllUdp(struct mmsghdr* msgs, unsigned count) {
    unsigned off = 0;
    while (off < count) {
      int n = sendmmsg(netFd_, msgs + off, count - off, MSG_NOSIGNAL);
      if (n > 0) {
        for (int i = 0; i < n; i++) c_.txWireBytes.fetch_add(msgs[off + i].msg_len, std::memory_order_relaxed);
        off += static_cast<unsigned>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) {
        if (!WaitFd(netFd_, POLLOUT, errno == ENOBUFS ? 5 : -1) && StopRequested()) return false;
        continue;
      }
      int err = n < 0 ? errno : EIO;
      if (err == ECONNREFUSED || err == EHOSTUNREACH || err == ENETUNREACH || err == EMSGSIZE) {
        // ICMP feedback for earlier datagrams, or this one cannot go: drop it, like a lost datagram.
        c_.txDropped.fetch_add(1, std::memory_order_relaxed);
        off++;
        continue;
      }
      End(EndReason::NetworkError, std::string("sendmmsg: ") + strerror(err));
      return false;
    }
    return true;
  }

  void TxUdp() {
    const unsigned slots = static_cast<unsigned>(batch_) + 3;
    std::vector<uint8_t> bufs(static_cast<size_t>(slots) * kFrameSlot);
    std::vector<uint8_t> pkt(vtun::kMaxPacket);
    std::vector<struct iovec> iov(slots);
    std::vector<struct mmsghdr> msgs(slots);
    uint8_t ctl[8];
    struct pollfd p[3];
    while (!ended_) {
      int hold = DeviceHoldMs();
      p[0] = {stopFd_, POLLIN, 0};
      p[1] = {wakeFd_, POLLIN, 0};
      p[2] = {devFd_, POLLIN, 0};
      int n = poll(p, hold > 0 ? 2 : 3, hold > 0 ? hold : -1);
      if (n < 0 && errno != EINTR) {
        End(EndReason::DeviceError, std::string("poll: ") + strerror(errno));
        return;
      }
      if (p[0].revents) return;
      if (p[1].revents) Drain(wakeFd_);
      unsigned count = 0;
      auto add = [&](uint8_t* base, size_t len) {
        iov[count].iov_base = base;
        iov[count].iov_len = len;
        memset(&msgs[count], 0, sizeof msgs[count]);
        msgs[count].msg_hdr.msg_iov = &iov[count];
        msgs[count].msg_hdr.msg_iovlen = 1;
        count++;
      };
      size_t nctl = TakeControls(ctl, true);
      for (size_t i = 0; i < nctl; i += 2) add(ctl + i, 2);
      if (hold <= 0 && n > 0 && p[2].revents) {
        if (p[2].revents & (POLLERR | POLLNVAL)) {
          End(EndReason::DeviceError, "device fd error");
          return;
        }
        for (int i = 0; i < batch_; i++) {
          uint8_t* dst = bufs.data() + static_cast<size_t>(count) * kFrameSlot;
          uint8_t* into = enc_->Identity() ? dst + 2 : pkt.data();
          ssize_t len = ReadDevice(into, vtun::kMaxPacket);
          if (len < 0) return;
          if (len == 0) {
            if (i == 0 && (p[2].revents & POLLHUP)) {
              // readable by hang-up only, nothing to read: the device is gone (no busy loop)
              End(EndReason::DeviceError, "device hung up");
              return;
            }
            break;
          }
          int f = BuildFrame(into, static_cast<size_t>(len), dst);
          if (f < 0) return;
          add(dst, static_cast<size_t>(f));
          shapeBytes_ += f;
          if (speedKbps_ > 0 && DeviceHoldMs() > 0) break;
        }
      }
      if (count == 0) continue;
      if (!udpConnected_.load()) {
        // nat_hack: nowhere to send until the peer's first datagram shows its address (5.4).
        c_.txDropped.fetch_add(count, std::memory_order_relaxed);
        continue;
      }
      c_.txFrames.fetch_add(count, std::memory_order_relaxed);
      if (!SendAllUdp(msgs.data(), count)) return;
    }
  }

  // After the tx loop: flush a CONN_CLOSE (ours after peer_closed/device/codec errors, or one JS
  // queued just before stop()), best effort, without blocking for long.
  void TxExit() {
    if (!pendingClose_.exchange(0)) return;
    if (!tcp_ && !udpConnected_.load()) return;
    uint8_t h[2];
    PutHeader(h, vtun::kConnClose);
    for (int tries = 0; tries < 20; tries++) {
      ssize_t n = send(netFd_, h, 2, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n == 2) {
        c_.txFrames++;
        c_.txWireBytes += 2;
        return;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        struct pollfd p = {netFd_, POLLOUT, 0};
        poll(&p, 1, 50);
        continue;
      }
      return;  // a partial TCP write of 2 bytes cannot happen on a writable socket; errors: give up
    }
  }

  // ---- rx side

  // Writes one decoded packet (or stream chunk) to the device. false = the session ended/stop.
  bool WriteDevice(const uint8_t* p, size_t len) {
    size_t off = 0;
    int eagain = 0;
    while (off < len) {
      ssize_t n = write(devFd_, p + off, len - off);
      if (n > 0) {
        off += static_cast<size_t>(n);
        if (!stream_) break;  // a packet device takes the packet whole
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (stream_) {
          if (!WaitFd(devFd_, POLLOUT)) return false;
          continue;
        }
        // tun/tap queue full: wait a little, then drop the packet as the kernel would.
        if (eagain++ < 1 && WaitFd(devFd_, POLLOUT, 20)) continue;
        if (StopRequested()) return false;
        c_.deviceDownDrops.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      int err = n < 0 ? errno : EIO;
      if (err == EIO && !stream_ && !InterfaceUp()) {
        c_.deviceDownDrops.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
      End(EndReason::DeviceError, std::string("device write: ") + strerror(err));
      return false;
    }
    c_.rxPackets.fetch_add(1, std::memory_order_relaxed);
    c_.rxBytes.fetch_add(len, std::memory_order_relaxed);
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

  // Handles a control header (docs/vtun-protocol.md §7.7: exact flag values; other combinations are ignored);
  // false = the session ended.
  bool HandleControl(uint16_t h) {
    switch (h & 0xf000) {
      case vtun::kConnClose:
        End(EndReason::PeerClosed, "connection closed by the peer (CONN_CLOSE)");
        return false;
      case vtun::kEchoReq:
        c_.echoReqRx.fetch_add(1, std::memory_order_relaxed);
        pendingEchoRep_++;
        Wake();
        break;
      case vtun::kEchoRep:
        c_.echoRepRx.fetch_add(1, std::memory_order_relaxed);
        break;
      case vtun::kBadFrame:
        c_.badFrames.fetch_add(1, std::memory_order_relaxed);
        break;
      default:
        break;
    }
    return true;
  }

  // Runs a data frame's payload up the chain and to the device; false = ended/stop.
  bool HandleData(uint8_t* payload, size_t len) {
    const uint8_t* out = payload;
    size_t n = len;
    if (!dec_->Identity()) {
      std::string err;
      DecodeResult r = dec_->Decode(payload, len, &out, &n, &err);
      if (r == DecodeResult::Error) {
        End(EndReason::CodecError, err);
        return false;
      }
      if (r == DecodeResult::Drop) {
        c_.badFrames.fetch_add(1, std::memory_order_relaxed);
        return true;
      }
    }
    if (n == 1 && !stream_) {
      // vtund's resynchronisation carrier (docs/vtun-protocol.md §10.5.4): a dummy 1-byte packet sent only to carry
      // an "rsyn" tag. No tun/tap accepts it (EINVAL would end the session): drop it.
      c_.badFrames.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    return WriteDevice(out, n);
  }

  void RxTcp() {
    std::vector<uint8_t> buf(kTcpRxBuf);
    size_t have = initialRx_.size(), off = 0, skip = 0;
    if (have) {
      memcpy(buf.data(), initialRx_.data(), have);
      c_.rxWireBytes.fetch_add(have, std::memory_order_relaxed);
    }
    for (;;) {
      // Split what we have into frames.
      for (;;) {
        if (skip > 0) {
          size_t d = std::min(skip, have - off);
          off += d;
          skip -= d;
          if (skip > 0) break;
        }
        if (have - off < 2) break;
        uint16_t h = GetHeader(buf.data() + off);
        if (h & 0xf000) {
          off += 2;
          c_.rxFrames.fetch_add(1, std::memory_order_relaxed);
          lastRxMs_.store(NowMs(), std::memory_order_relaxed);
          if (!HandleControl(h)) return;
          continue;
        }
        size_t len = h & vtun::kFsizeMask;
        if (len == 0 || len > vtun::kMaxFramePayload) {
          // `00 00` (never sent by vtund) or oversized: read and discard, keep going (6.2).
          off += 2;
          skip = len;
          c_.rxFrames.fetch_add(1, std::memory_order_relaxed);
          c_.badFrames.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if (have - off < 2 + len) break;
        uint8_t* payload = buf.data() + off + 2;
        off += 2 + len;
        c_.rxFrames.fetch_add(1, std::memory_order_relaxed);
        lastRxMs_.store(NowMs(), std::memory_order_relaxed);
        if (!HandleData(payload, len)) return;
      }
      if (off > 0) {
        memmove(buf.data(), buf.data() + off, have - off);
        have -= off;
        off = 0;
      }
      if (ended_) return;
      ssize_t n = read(netFd_, buf.data() + have, buf.size() - have);
      if (n > 0) {
        have += static_cast<size_t>(n);
        c_.rxWireBytes.fetch_add(static_cast<uint64_t>(n), std::memory_order_relaxed);
        continue;
      }
      if (n == 0) {
        End(EndReason::Eof, "connection closed by the peer (TCP EOF)");
        return;
      }
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!WaitFd(netFd_, POLLIN)) return;
        continue;
      }
      int err = errno;
      if (err == ECONNRESET) End(EndReason::Eof, "connection reset by the peer");
      else End(EndReason::NetworkError, std::string("recv: ") + strerror(err));
      return;
    }
  }

  void RxUdp() {
    const unsigned slots = static_cast<unsigned>(batch_);
    std::vector<uint8_t> bufs(static_cast<size_t>(slots) * kUdpRxSlot);
    std::vector<struct iovec> iov(slots);
    std::vector<struct mmsghdr> msgs(slots);
    std::vector<struct sockaddr_storage> names(slots);
    for (;;) {
      for (unsigned i = 0; i < slots; i++) {
        iov[i].iov_base = bufs.data() + static_cast<size_t>(i) * kUdpRxSlot;
        iov[i].iov_len = kUdpRxSlot;
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &names[i];
        msgs[i].msg_hdr.msg_namelen = sizeof names[i];
      }
      bool connected = udpConnected_.load();
      // Until nat_hack has connected, take one datagram at a time: its source decides.
      int n = recvmmsg(netFd_, msgs.data(), connected ? slots : 1, MSG_DONTWAIT, nullptr);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          if (ended_ || !WaitFd(netFd_, POLLIN)) return;
          continue;
        }
        int err = errno;
        End(EndReason::NetworkError, std::string("recvmmsg: ") + strerror(err));
        return;
      }
      if (!connected && n > 0) {
        if (connect(netFd_, reinterpret_cast<sockaddr*>(&names[0]), msgs[0].msg_hdr.msg_namelen) < 0) {
          int err = errno;
          End(EndReason::NetworkError, std::string("connect (nat_hack): ") + strerror(err));
          return;
        }
        udpConnected_ = true;
        Wake();
      }
      int64_t now = NowMs();
      for (int i = 0; i < n; i++) {
        uint8_t* d = static_cast<uint8_t*>(iov[i].iov_base);
        size_t len = msgs[i].msg_len;
        c_.rxWireBytes.fetch_add(len, std::memory_order_relaxed);
        c_.rxFrames.fetch_add(1, std::memory_order_relaxed);
        if (len < 2 || (msgs[i].msg_hdr.msg_flags & MSG_TRUNC)) {
          c_.badFrames.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        lastRxMs_.store(now, std::memory_order_relaxed);
        uint16_t h = GetHeader(d);
        if (h & 0xf000) {
          if (!HandleControl(h)) return;
          continue;
        }
        size_t flen = h & vtun::kFsizeMask;
        if (flen == 0 || flen > vtun::kMaxFramePayload || flen != len - 2) {
          c_.badFrames.fetch_add(1, std::memory_order_relaxed);
          continue;
        }
        if (!HandleData(d + 2, flen)) return;
      }
      if (ended_) return;
    }
  }

  // ---- state
  bool valid_ = false;
  int devFd_ = -1, netFd_ = -1;
  bool stream_ = false, tcp_ = true, natHack_ = false;
  int sendDelayMs_ = 0, speedKbps_ = 0, batch_ = 32;
  std::vector<uint8_t> initialRx_;
  CodecConfig codec_;
  Napi::FunctionReference callback_;
  Napi::ThreadSafeFunction tsfn_;
  std::unique_ptr<VtunEncoder> enc_;
  std::unique_ptr<VtunDecoder> dec_;
  int stopFd_ = -1, wakeFd_ = -1, ctlSock_ = -1;
  std::string ifname_;
  std::thread txThread_, rxThread_;
  bool started_ = false, stopped_ = false;
  std::atomic<bool> stopping_{false}, ended_{false}, eventSent_{false}, udpConnected_{false};
  std::atomic<int> pendingEchoReq_{0}, pendingEchoRep_{0}, pendingClose_{0};
  std::atomic<int64_t> lastRxMs_{-1};
  int64_t startMs_ = 0;
  int64_t shapeStartMs_ = 0;  // tx thread only
  int64_t shapeBytes_ = 0;    // tx thread only
  Counters c_;
};

}  // namespace

Napi::Object InitPump(Napi::Env env, Napi::Object exports) {
  exports.Set("Pump", Pump::Define(env));
  exports.Set("VtunCodec", VtunCodecWrap::Define(env));
  exports.Set("vtunKey", Napi::Function::New(env, VtunKey, "vtunKey"));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  return exports;
}

}  // namespace tund
