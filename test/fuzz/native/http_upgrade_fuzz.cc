// http_upgrade: the HTTP/1.1 heads of a vpn-ws tunnel (native/src/http_upgrade.cc): what a hub
// reads from a client (ParseRequest, ReadUpgrade, Authorize) and what a client reads from a hub
// or an HTTP proxy (ParseResponse, CheckUpgradeResponse, CheckConnectResponse), and the builders
// of both sides. Input: byte 0 % 3 picks the mode, the rest is its data.
//   0 request:  the bytes as a client sent them (byte 0 / 3: bit 0 asks for Path = /vpn, bit 1
//               for basic auth). A head is parsed the same from exactly its own
//               bytes, one byte less is NeedMore, and NeedMore never comes past the size limit;
//               an accepted upgrade has a path, a nonce of 1-64 bytes and a MAC that is empty or a
//               canonical unicast address; our answer to it (the 101, or the refusal of the
//               parser, of ReadUpgrade or of Authorize) parses back as the response it is, and the
//               101 passes the client's check for that key.
//   1 response: the bytes as a hub or a proxy answered. A head is parsed the same from exactly its
//               own bytes; an answer that passes CheckUpgradeResponse is a 101 with the right
//               Sec-WebSocket-Accept; one that passes CheckConnectResponse is a 2xx.
//   2 build:    fields cut at NUL bytes (path, host, MAC, user, password, user agent, key bytes,
//               CONNECT authority; bit 0 of the first field's first byte: bridge). A request
//               BuildClientRequest accepts parses back, whole, to the same fields (a well-formed
//               MAC, lower-cased); a CONNECT request BuildConnectRequest accepts parses back too.
#include <string>
#include <vector>

#include "../../../native/src/http_upgrade.h"
#include "../../../native/src/l2switch.h"
#include "fuzz_common.h"

using namespace tund;
using namespace tund::http;

namespace {

const uint8_t* Bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

bool SameHeaders(const std::vector<Header>& a, const std::vector<Header>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (a[i].name != b[i].name || a[i].value != b[i].value) return false;
  }
  return true;
}

// A response we send parses back whole, as what it is.
void AnswerParses(const std::string& answer, int status) {
  ResponseResult back = ParseResponse(Bytes(answer), answer.size());
  FUZZ_CHECK(back.status == ParseStatus::Ok, "our answer (HTTP %d) does not parse: %s", status, back.error.c_str());
  FUZZ_CHECK(back.response.status == status, "our answer says HTTP %d, sent as %d", back.response.status, status);
  const std::string* length = FindHeader(back.response.headers, "Content-Length");
  size_t body = length ? std::stoul(*length) : 0;
  FUZZ_CHECK(back.response.consumed + body == answer.size(), "our answer: head %zu + body %zu of %zu bytes", back.response.consumed,
             body, answer.size());
}

void Refused(const Refusal& refusal) {
  FUZZ_CHECK(refusal.status >= 400 && refusal.status <= 499, "a refusal with HTTP %d", refusal.status);
  AnswerParses(BuildRefusal(refusal), refusal.status);
}

void FuzzRequest(const uint8_t* p, size_t n, uint8_t policyBits) {
  Limits limits;
  RequestResult r = ParseRequest(p, n, limits);
  if (r.status == ParseStatus::NeedMore) {
    FUZZ_CHECK(n < limits.maxBytes, "NeedMore after %zu bytes (limit %zu)", n, limits.maxBytes);
    return;
  }
  if (r.status == ParseStatus::Error) {
    Refused(r.refusal);
    return;
  }
  const Request& req = r.request;
  FUZZ_CHECK(req.consumed >= 4 && req.consumed <= n && req.consumed <= limits.maxBytes, "a head of %zu bytes of %zu", req.consumed, n);
  RequestResult exact = ParseRequest(p, req.consumed, limits);
  FUZZ_CHECK(exact.status == ParseStatus::Ok && exact.request.consumed == req.consumed && exact.request.target == req.target &&
                 SameHeaders(exact.request.headers, req.headers),
             "the head parses differently from its own %zu bytes", req.consumed);
  FUZZ_CHECK(ParseRequest(p, req.consumed - 1, limits).status == ParseStatus::NeedMore, "the head without its last byte is not NeedMore");

  Upgrade u;
  Refusal refusal;
  if (!ReadUpgrade(req, &u, &refusal)) {
    Refused(refusal);
    return;
  }
  FUZZ_CHECK(!u.path.empty() && u.path[0] == '/', "an upgrade to \"%s\"", u.path.c_str());
  std::string nonce;
  FUZZ_CHECK(Base64Decode(u.key, &nonce) && !nonce.empty() && nonce.size() <= 64, "a key of %zu bytes", nonce.size());
  if (!u.mac.empty()) {
    l2::Mac m;
    FUZZ_CHECK(l2::ParseMac(u.mac, &m) && l2::IsUnicastAddress(m) && l2::MacToString(m) == u.mac, "MAC \"%s\"", u.mac.c_str());
  }
  AcceptPolicy policy;
  policy.path = (policyBits & 1) ? "/vpn" : "";
  if (policyBits & 2) policy.checkCredentials = [](const std::string& user, const std::string& password) { return user == "alice" && password == "pw"; };
  if (!Authorize(u, policy, &refusal)) {
    Refused(refusal);
    return;
  }
  FUZZ_CHECK(policy.path.empty() || u.path == policy.path, "path \"%s\" authorized", u.path.c_str());
  FUZZ_CHECK(!policy.checkCredentials || (u.user == "alice" && u.password == "pw"), "user \"%s\" authorized", u.user.c_str());
  std::string answer = BuildUpgradeResponse(u.key);
  AnswerParses(answer, 101);
  ResponseResult back = ParseResponse(Bytes(answer), answer.size());
  std::string problem = CheckUpgradeResponse(back.response, u.key);
  FUZZ_CHECK(problem.empty(), "our 101 fails the client's check: %s", problem.c_str());
}

void FuzzResponse(const uint8_t* p, size_t n) {
  ResponseResult r = ParseResponse(p, n);
  if (r.status != ParseStatus::Ok) return;
  const http::Response& resp = r.response;
  FUZZ_CHECK(resp.consumed >= 4 && resp.consumed <= n, "a head of %zu bytes of %zu", resp.consumed, n);
  ResponseResult exact = ParseResponse(p, resp.consumed);
  FUZZ_CHECK(exact.status == ParseStatus::Ok && exact.response.status == resp.status && SameHeaders(exact.response.headers, resp.headers),
             "the head parses differently from its own %zu bytes", resp.consumed);
  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";  // RFC 6455's example
  if (CheckUpgradeResponse(resp, key).empty()) {
    const std::string* accept = FindHeader(resp.headers, "Sec-WebSocket-Accept");
    FUZZ_CHECK(resp.status == 101 && accept && *accept == WebSocketAccept(key), "an upgrade accepted with HTTP %d", resp.status);
  }
  if (CheckConnectResponse(resp).empty()) FUZZ_CHECK(resp.status >= 200 && resp.status <= 299, "CONNECT accepted with HTTP %d", resp.status);
}

void FuzzBuild(const uint8_t* p, size_t n) {
  std::vector<std::string> f;
  std::string cur;
  for (size_t i = 0; i < n; i++) {
    if (p[i] == 0 && f.size() < 7) {
      f.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(static_cast<char>(p[i]));
    }
  }
  f.push_back(cur);
  f.resize(8);
  ClientRequest c;
  c.path = f[0];
  c.host = f[1];
  c.mac = f[2];
  c.user = f[3];
  c.password = f[4];
  c.userAgent = f[5];
  c.bridge = !f[0].empty() && (f[0][0] & 1);
  std::string nonce = f[6].substr(0, 64);
  if (nonce.empty()) nonce = "0123456789";
  c.key = Base64Encode(Bytes(nonce), nonce.size());

  std::string error;
  std::string request = BuildClientRequest(c, &error);
  if (!request.empty()) {
    RequestResult r = ParseRequest(Bytes(request), request.size());
    FUZZ_CHECK(r.status == ParseStatus::Ok, "a request we built does not parse (HTTP %d: %s)", r.refusal.status, r.refusal.detail.c_str());
    FUZZ_CHECK(r.request.consumed == request.size(), "%zu of our %zu bytes parsed", r.request.consumed, request.size());
    l2::Mac m;
    bool goodMac = c.mac.empty() || (l2::ParseMac(c.mac, &m) && l2::IsUnicastAddress(m));
    Upgrade u;
    Refusal refusal;
    bool ok = ReadUpgrade(r.request, &u, &refusal);
    FUZZ_CHECK(ok == goodMac, "our request %s (HTTP %d: %s)", ok ? "accepted with a bad MAC" : "refused", refusal.status, refusal.detail.c_str());
    if (ok) {
      size_t q = c.path.find('?');
      FUZZ_CHECK(u.path == c.path.substr(0, q) && u.query == (q == std::string::npos ? "" : c.path.substr(q + 1)), "path \"%s\" read as \"%s\"",
                 c.path.c_str(), u.path.c_str());
      FUZZ_CHECK(u.host == c.host && u.key == c.key && u.bridge == c.bridge, "host, key or bridge changed");
      FUZZ_CHECK(c.mac.empty() ? u.mac.empty() : u.mac == l2::MacToString(m), "MAC \"%s\" read as \"%s\"", c.mac.c_str(), u.mac.c_str());
      FUZZ_CHECK(u.hasCredentials == !c.user.empty(), "credentials %s", u.hasCredentials ? "appeared" : "lost");
      if (u.hasCredentials) FUZZ_CHECK(u.user == c.user && u.password == c.password, "user \"%s\" read as \"%s\"", c.user.c_str(), u.user.c_str());
    }
  }
  std::string connect = BuildConnectRequest(f[7], c.user, c.password, &error);
  if (!connect.empty()) {
    RequestResult r = ParseRequest(Bytes(connect), connect.size());
    FUZZ_CHECK(r.status == ParseStatus::Ok && r.request.consumed == connect.size(), "a CONNECT we built does not parse (%s)",
               r.refusal.detail.c_str());
    FUZZ_CHECK(r.request.method == "CONNECT" && r.request.target == f[7], "CONNECT %s read as %s %s", f[7].c_str(), r.request.method.c_str(),
               r.request.target.c_str());
    FUZZ_CHECK((FindHeader(r.request.headers, "Proxy-Authorization") != nullptr) == !c.user.empty(), "Proxy-Authorization");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  switch (data[0] % 3) {
    case 0: FuzzRequest(data + 1, size - 1, data[0] / 3); break;
    case 1: FuzzResponse(data + 1, size - 1); break;
    default: FuzzBuild(data + 1, size - 1); break;
  }
  return 0;
}
