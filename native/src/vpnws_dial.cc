// See vpnws_dial.h.
#include "vpnws_dial.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "engine/endpoint.h"
#include "errors.h"
#include "mono_clock.h"
#include "fast_random.h"

namespace tund {
namespace vpnws {

namespace {

class Dialer {
 public:
  Dialer(const DialRequest& r, Dialed* out) : r_(r), out_(out), deadline_(MonotonicMs() + r.timeoutMs) {}

  bool Run() {
    if (!Connect()) return false;
    if (!r_.proxyAuthority.empty() && !Proxy()) return false;
    if (r_.tls && !Tls()) return false;
    return Upgrade();
  }

  void CloseOnFailure() {
    out_->tls.reset();
    if (out_->fd >= 0) close(out_->fd);
    out_->fd = -1;
  }

 private:
  bool Fail(const char* step, const std::string& error, int err = 0) {
    out_->failedStep = step;
    out_->error = error;
    out_->errnoValue = err;
    return false;
  }

  // Waits for `events` on the socket within the deadline. false: timeout or cancel (recorded).
  bool Wait(short events, const char* step) {
    for (;;) {
      int64_t left = deadline_ - MonotonicMs();
      if (left <= 0) return Fail("timeout", std::string("timed out during ") + step, ETIMEDOUT);
      struct pollfd p[2] = {{out_->fd, events, 0}, {r_.cancelFd, POLLIN, 0}};
      int n = poll(p, r_.cancelFd >= 0 ? 2 : 1, static_cast<int>(left));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Fail(step, std::string("poll: ") + ErrnoText(errno), errno);
      if (r_.cancelFd >= 0 && p[1].revents) return Fail("cancelled", "cancelled", ECANCELED);
      if (n > 0) return true;
    }
  }

  bool Connect() {
    Endpoint to;
    if (!Endpoint::Parse(r_.address, r_.port, &to)) return Fail("connect", "not an IP address: " + r_.address, EINVAL);
    out_->fd = socket(to.Family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (out_->fd < 0) return Fail("connect", std::string("socket: ") + ErrnoText(errno), errno);
    if (r_.fwMark != 0 && setsockopt(out_->fd, SOL_SOCKET, SO_MARK, &r_.fwMark, sizeof r_.fwMark) < 0) {
      return Fail("connect", std::string("setsockopt SO_MARK: ") + ErrnoText(errno), errno);
    }
    if (r_.userTimeoutMs != 0 &&
        setsockopt(out_->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &r_.userTimeoutMs, sizeof r_.userTimeoutMs) < 0) {
      return Fail("connect", std::string("setsockopt TCP_USER_TIMEOUT: ") + ErrnoText(errno), errno);
    }
    if (connect(out_->fd, to.Sockaddr(), to.len) == 0) return true;
    if (errno != EINPROGRESS) return Fail("connect", ErrnoText(errno), errno);
    if (!Wait(POLLOUT, "connect")) return false;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(out_->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return Fail("connect", ErrnoText(err), err);
    return true;
  }

  // Sends all of `data` (through TLS once it is up).
  bool SendAll(const std::string& data, const char* step) {
    size_t off = 0;
    while (off < data.size()) {
      if (out_->tls) {
        size_t n = 0;
        tls::Status st = out_->tls->Write(reinterpret_cast<const uint8_t*>(data.data()) + off, data.size() - off, &n);
        if (st == tls::Status::Ok) {
          off += n;
          continue;
        }
        if (st == tls::Status::WantRead || st == tls::Status::WantWrite) {
          if (!Wait(st == tls::Status::WantRead ? POLLIN : POLLOUT, step)) return false;
          continue;
        }
        return Fail(step, st == tls::Status::Closed ? "connection closed" : "tls: " + out_->tls->Error());
      }
      ssize_t n = send(out_->fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
      if (n > 0) {
        off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        if (!Wait(POLLOUT, step)) return false;
        continue;
      }
      return Fail(step, std::string("send: ") + ErrnoText(errno), errno);
    }
    return true;
  }

  // Reads an HTTP response head; bytes past it stay in buf_ (from `consumed`).
  bool ReadHead(const char* step, http::Response* response) {
    buf_.clear();
    for (;;) {
      uint8_t chunk[4096];
      size_t got = 0;
      if (out_->tls) {
        tls::Status st = out_->tls->Read(chunk, sizeof chunk, &got);
        if (st == tls::Status::WantRead || st == tls::Status::WantWrite) {
          if (!Wait(st == tls::Status::WantRead ? POLLIN : POLLOUT, step)) return false;
          continue;
        }
        if (st == tls::Status::Closed) return Fail(step, "connection closed before an HTTP response");
        if (st != tls::Status::Ok) return Fail(step, "tls: " + out_->tls->Error());
      } else {
        ssize_t n = recv(out_->fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
          if (!Wait(POLLIN, step)) return false;
          continue;
        }
        if (n < 0) return Fail(step, std::string("recv: ") + ErrnoText(errno), errno);
        if (n == 0) return Fail(step, "connection closed before an HTTP response");
        got = static_cast<size_t>(n);
      }
      buf_.insert(buf_.end(), chunk, chunk + got);
      http::ResponseResult r = http::ParseResponse(buf_.data(), buf_.size());
      if (r.status == http::ParseStatus::Error) return Fail(step, "bad HTTP response: " + r.error);
      if (r.status == http::ParseStatus::Ok) {
        *response = r.response;
        return true;
      }
    }
  }

  bool Proxy() {
    std::string error;
    std::string req = http::BuildConnectRequest(r_.proxyAuthority, r_.proxyUser, r_.proxyPassword, &error);
    if (req.empty()) return Fail("proxy", error);
    if (!SendAll(req, "proxy")) return false;
    http::Response resp;
    if (!ReadHead("proxy", &resp)) return false;
    std::string problem = http::CheckConnectResponse(resp);
    if (!problem.empty()) return Fail("proxy", "the proxy refused CONNECT " + r_.proxyAuthority + ": " + problem);
    if (buf_.size() > resp.consumed) return Fail("proxy", "the proxy sent data before the tunnel was used");
    return true;
  }

  bool Tls() {
    std::string error;
    ctx_ = tls::Context::NewClient(r_.tlsConfig, &error);
    if (!ctx_) return Fail("tls", error);
    out_->tls = tls::Session::New(*ctx_, out_->fd, &error);
    if (!out_->tls) return Fail("tls", error);
    for (;;) {
      tls::Status st = out_->tls->Handshake();
      if (st == tls::Status::Ok) break;
      if (st == tls::Status::WantRead || st == tls::Status::WantWrite) {
        if (!Wait(st == tls::Status::WantRead ? POLLIN : POLLOUT, "the TLS handshake")) return false;
        continue;
      }
      return Fail("tls", out_->tls->Error().empty() ? "the server closed the connection during the TLS handshake"
                                                    : out_->tls->Error());
    }
    out_->tlsProtocol = out_->tls->Protocol();
    out_->tlsCipher = out_->tls->Cipher();
    out_->peerSubject = out_->tls->PeerSubject();
    return true;
  }

  bool Upgrade() {
    http::ClientRequest req = r_.upgrade;
    FastRandom rng;
    req.key = http::NewWebSocketKey(rng);
    std::string error;
    std::string text = http::BuildClientRequest(req, &error);
    if (text.empty()) return Fail("upgrade", error);
    if (!SendAll(text, "upgrade")) return false;
    if (!ReadHead("upgrade", &out_->response)) return false;
    std::string problem = http::CheckUpgradeResponse(out_->response, req.key);
    if (!problem.empty()) return Fail("upgrade", problem);
    out_->initial.assign(buf_.begin() + static_cast<std::ptrdiff_t>(out_->response.consumed), buf_.end());
    return true;
  }

  const DialRequest& r_;
  Dialed* out_;
  int64_t deadline_;
  std::unique_ptr<tls::Context> ctx_;
  std::vector<uint8_t> buf_;
};

}  // namespace

bool Dial(const DialRequest& request, Dialed* out) {
  Dialer d(request, out);
  bool ok = false;
  try {
    ok = d.Run();
  } catch (const std::exception& e) {  // FastRandom without getrandom
    out->failedStep = "upgrade";
    out->error = e.what();
  }
  if (!ok) d.CloseOnFailure();
  return ok;
}

}  // namespace vpnws
}  // namespace tund
