// HTTP/1.1 upgrade and CONNECT: see http_upgrade.h.
#include "http_upgrade.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>
#include <cstring>

#include "fast_random.h"
#include "l2switch.h"

namespace tund {
namespace http {

namespace {

const char kWebSocketGuid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool IsTchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return strchr("!#$%&'*+-.^_`|~", c) != nullptr && c != '\0';
}

bool IsCtl(char c) { return (static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f; }

bool HasCtlOrSpace(const std::string& s) {
  for (char c : s) {
    if (IsCtl(c) || c == ' ' || c == '\t') return true;
  }
  return false;
}

bool HasLineBreak(const std::string& s) { return s.find_first_of("\r\n", 0) != std::string::npos || s.find('\0') != std::string::npos; }

bool HasCtl(const std::string& s) {
  for (char c : s) {
    if (IsCtl(c)) return true;
  }
  return false;
}

std::string Lower(std::string s) {
  for (char& c : s) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return s;
}

std::string Trim(const std::string& s) {
  size_t a = 0;
  size_t b = s.size();
  while (a < b && (s[a] == ' ' || s[a] == '\t')) a++;
  while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t')) b--;
  return s.substr(a, b - a);
}

size_t CountHeader(const std::vector<Header>& headers, const std::string& name) {
  size_t n = 0;
  std::string lower = Lower(name);
  for (const Header& h : headers) {
    if (Lower(h.name) == lower) n++;
  }
  return n;
}

enum class HeadStatus { NeedMore, Ok, TooBig, TooMany, Bad };

struct Head {
  std::string startLine;
  std::vector<Header> headers;
  size_t consumed = 0;
};

// Splits a message head into its start line and headers.
HeadStatus ParseHead(const uint8_t* p, size_t n, const Limits& limits, Head* head, std::string* why) {
  const char* text = reinterpret_cast<const char*>(p);
  size_t scan = n < limits.maxBytes ? n : limits.maxBytes;
  size_t end = 0;
  for (size_t i = 0; i + 3 < scan; i++) {
    if (text[i] == '\r' && text[i + 1] == '\n' && text[i + 2] == '\r' && text[i + 3] == '\n') {
      end = i + 4;
      break;
    }
  }
  if (end == 0) {
    if (n >= limits.maxBytes) {
      *why = "the request head is longer than " + std::to_string(limits.maxBytes) + " bytes";
      return HeadStatus::TooBig;
    }
    return HeadStatus::NeedMore;
  }
  head->consumed = end;
  size_t pos = 0;
  bool first = true;
  while (pos < end - 2) {
    size_t eol = pos;
    while (eol < end && text[eol] != '\r' && text[eol] != '\n') eol++;
    if (text[eol] != '\r' || text[eol + 1] != '\n') {
      *why = "a line ends without CR LF";
      return HeadStatus::Bad;
    }
    std::string line(text + pos, eol - pos);
    pos = eol + 2;
    for (char c : line) {
      if (IsCtl(c)) {
        *why = "a control character in the head";
        return HeadStatus::Bad;
      }
    }
    if (first) {
      head->startLine = line;
      first = false;
      continue;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      *why = "obsolete line folding";
      return HeadStatus::Bad;
    }
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      *why = "a header line without a name";
      return HeadStatus::Bad;
    }
    std::string name = line.substr(0, colon);
    for (char c : name) {
      if (!IsTchar(c)) {
        *why = "a header name with a character that is not allowed";
        return HeadStatus::Bad;
      }
    }
    if (head->headers.size() >= limits.maxHeaders) {
      *why = "more than " + std::to_string(limits.maxHeaders) + " headers";
      return HeadStatus::TooMany;
    }
    head->headers.push_back(Header{name, Trim(line.substr(colon + 1))});
  }
  if (head->startLine.empty()) {
    *why = "no request or status line";
    return HeadStatus::Bad;
  }
  return HeadStatus::Ok;
}

Refusal MakeRefusal(int status, const std::string& reason, const std::string& detail) {
  Refusal r;
  r.status = status;
  r.reason = reason;
  r.detail = detail;
  return r;
}

std::string BasicCredentials(const std::string& user, const std::string& password) {
  std::string plain = user + ":" + password;
  std::string out = Base64Encode(reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
  OPENSSL_cleanse(&plain[0], plain.size());
  return out;
}

}  // namespace

std::string Base64Encode(const uint8_t* p, size_t n) {
  std::string out(4 * ((n + 2) / 3), '\0');
  if (n == 0) return "";
  int len = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(&out[0]), p, static_cast<int>(n));
  out.resize(len > 0 ? static_cast<size_t>(len) : 0);
  return out;
}

bool Base64Decode(const std::string& text, std::string* out) {
  size_t n = text.size();
  if (n == 0 || n % 4 != 0) return false;
  size_t pad = 0;
  for (size_t i = 0; i < n; i++) {
    char c = text[i];
    bool alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (c == '=') {
      if (i < n - 2) return false;
      pad++;
    } else if (!alnum || pad > 0) {
      return false;
    }
  }
  std::string buf(n / 4 * 3, '\0');
  int len = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(&buf[0]), reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(n));
  if (len < 0 || static_cast<size_t>(len) < pad) return false;
  buf.resize(static_cast<size_t>(len) - pad);
  *out = std::move(buf);
  return true;
}

std::string WebSocketAccept(const std::string& key) {
  std::string input = key + kWebSocketGuid;
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdLen = 0;
  if (EVP_Digest(input.data(), input.size(), md, &mdLen, EVP_sha1(), nullptr) != 1) return "";
  return Base64Encode(md, mdLen);
}

std::string NewWebSocketKey(FastRandom& rng) {
  uint8_t nonce[16];
  rng.Fill(nonce, sizeof nonce);
  return Base64Encode(nonce, sizeof nonce);
}

const std::string* FindHeader(const std::vector<Header>& headers, const std::string& name) {
  std::string lower = Lower(name);
  for (const Header& h : headers) {
    if (Lower(h.name) == lower) return &h.value;
  }
  return nullptr;
}

bool HasToken(const std::string& list, const std::string& token) {
  std::string want = Lower(token);
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t comma = list.find(',', pos);
    if (comma == std::string::npos) comma = list.size();
    if (Lower(Trim(list.substr(pos, comma - pos))) == want) return true;
    pos = comma + 1;
  }
  return false;
}

// ---- client side

std::string BuildClientRequest(const ClientRequest& r, std::string* error) {
  if (r.path.empty() || r.path[0] != '/' || HasCtlOrSpace(r.path)) {
    *error = "the path must start with \"/\" and have no spaces or control characters";
    return "";
  }
  if (r.host.empty() || HasCtlOrSpace(r.host)) {
    *error = "the host must not be empty nor have spaces or control characters";
    return "";
  }
  // a control character anywhere in the head makes the other side refuse it (ParseRequest)
  if (r.key.empty() || HasCtlOrSpace(r.key) || HasCtlOrSpace(r.mac) || HasCtl(r.userAgent)) {
    *error = "a header value has spaces or control characters";
    return "";
  }
  if (r.user.find(':') != std::string::npos || HasLineBreak(r.user)) {
    *error = "the user name must not contain \":\" or line breaks";
    return "";
  }
  std::string out;
  out.reserve(256);
  out += "GET " + r.path + " HTTP/1.1\r\n";
  out += "Host: " + r.host + "\r\n";
  if (!r.userAgent.empty()) out += "User-Agent: " + r.userAgent + "\r\n";
  out += "Upgrade: websocket\r\nConnection: Upgrade\r\n";
  out += "Sec-WebSocket-Key: " + r.key + "\r\n";
  out += "Sec-WebSocket-Version: 13\r\n";
  if (!r.mac.empty()) out += "X-vpn-ws-MAC: " + r.mac + "\r\n";
  if (r.bridge) out += "X-vpn-ws-bridge: on\r\n";
  if (!r.user.empty()) out += "Authorization: Basic " + BasicCredentials(r.user, r.password) + "\r\n";
  out += "\r\n";
  return out;
}

ResponseResult ParseResponse(const uint8_t* p, size_t n, const Limits& limits) {
  ResponseResult result;
  Head head;
  std::string why;
  HeadStatus s = ParseHead(p, n, limits, &head, &why);
  if (s == HeadStatus::NeedMore) return result;
  if (s != HeadStatus::Ok) {
    result.status = ParseStatus::Error;
    result.error = "malformed HTTP response: " + why;
    return result;
  }
  const std::string& line = head.startLine;
  // HTTP/1.x SP 3DIGIT [SP reason]
  if (line.size() < 12 || line.compare(0, 7, "HTTP/1.") != 0 || line[8] != ' ' || !isdigit(static_cast<unsigned char>(line[9])) ||
      !isdigit(static_cast<unsigned char>(line[10])) || !isdigit(static_cast<unsigned char>(line[11])) ||
      (line.size() > 12 && line[12] != ' ')) {
    result.status = ParseStatus::Error;
    result.error = "malformed HTTP status line";
    return result;
  }
  result.status = ParseStatus::Ok;
  result.response.status = std::stoi(line.substr(9, 3));
  result.response.reason = line.size() > 13 ? line.substr(13) : "";
  result.response.headers = std::move(head.headers);
  result.response.consumed = head.consumed;
  return result;
}

std::string CheckUpgradeResponse(const Response& r, const std::string& key) {
  if (r.status != 101) return "HTTP " + std::to_string(r.status) + (r.reason.empty() ? "" : " " + r.reason);
  const std::string* upgrade = FindHeader(r.headers, "Upgrade");
  if (!upgrade || !HasToken(*upgrade, "websocket")) return "the response has no \"Upgrade: websocket\"";
  const std::string* connection = FindHeader(r.headers, "Connection");
  if (!connection || !HasToken(*connection, "upgrade")) return "the response has no \"Connection: Upgrade\"";
  const std::string* accept = FindHeader(r.headers, "Sec-WebSocket-Accept");
  if (!accept) return "the response has no Sec-WebSocket-Accept";
  if (*accept != WebSocketAccept(key)) return "Sec-WebSocket-Accept does not match the key";
  if (FindHeader(r.headers, "Sec-WebSocket-Extensions")) return "the server chose a WebSocket extension that was not offered";
  return "";
}

std::string BuildConnectRequest(const std::string& authority, const std::string& user, const std::string& password,
                                std::string* error) {
  if (authority.empty() || HasCtlOrSpace(authority) || authority.find(':') == std::string::npos) {
    *error = "the CONNECT target must be HOST:PORT";
    return "";
  }
  if (user.find(':') != std::string::npos || HasLineBreak(user)) {
    *error = "the proxy user name must not contain \":\" or line breaks";
    return "";
  }
  std::string out = "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n";
  if (!user.empty()) out += "Proxy-Authorization: Basic " + BasicCredentials(user, password) + "\r\n";
  out += "\r\n";
  return out;
}

std::string CheckConnectResponse(const Response& r) {
  if (r.status >= 200 && r.status <= 299) return "";
  std::string status = "HTTP " + std::to_string(r.status) + (r.reason.empty() ? "" : " " + r.reason);
  if (r.status == 407) return "the proxy asks for credentials (" + status + ")";
  return "the proxy refused the tunnel (" + status + ")";
}

// ---- server side

RequestResult ParseRequest(const uint8_t* p, size_t n, const Limits& limits) {
  RequestResult result;
  Head head;
  std::string why;
  HeadStatus s = ParseHead(p, n, limits, &head, &why);
  if (s == HeadStatus::NeedMore) return result;
  result.status = ParseStatus::Error;
  if (s == HeadStatus::TooBig || s == HeadStatus::TooMany) {
    result.refusal = MakeRefusal(431, "Request Header Fields Too Large", why);
    return result;
  }
  if (s == HeadStatus::Bad) {
    result.refusal = MakeRefusal(400, "Bad Request", why);
    return result;
  }
  const std::string& line = head.startLine;
  size_t sp1 = line.find(' ');
  size_t sp2 = sp1 == std::string::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string::npos || sp2 == std::string::npos || line.find(' ', sp2 + 1) != std::string::npos || sp1 == 0 ||
      sp2 == sp1 + 1) {
    result.refusal = MakeRefusal(400, "Bad Request", "malformed request line");
    return result;
  }
  Request& r = result.request;
  r.method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  r.version = line.substr(sp2 + 1);
  for (char c : r.method) {
    if (!IsTchar(c)) {
      result.refusal = MakeRefusal(400, "Bad Request", "malformed method");
      return result;
    }
  }
  if (r.version.compare(0, 5, "HTTP/") != 0) {
    result.refusal = MakeRefusal(400, "Bad Request", "malformed HTTP version");
    return result;
  }
  r.headers = std::move(head.headers);
  r.consumed = head.consumed;
  result.status = ParseStatus::Ok;
  return result;
}

bool ReadUpgrade(const Request& r, Upgrade* u, Refusal* refusal) {
  auto refuse = [&](int status, const char* reason, const std::string& detail) {
    *refusal = MakeRefusal(status, reason, detail);
    return false;
  };
  if (r.method != "GET") {
    refuse(405, "Method Not Allowed", "a WebSocket upgrade is a GET request");
    refusal->headers.push_back(Header{"Allow", "GET"});
    return false;
  }
  if (r.version != "HTTP/1.1") return refuse(400, "Bad Request", "a WebSocket upgrade needs HTTP/1.1");
  if (r.target.empty() || r.target[0] != '/') return refuse(400, "Bad Request", "the target must be a path");
  size_t q = r.target.find('?');
  u->path = r.target.substr(0, q);
  u->query = q == std::string::npos ? "" : r.target.substr(q + 1);

  if (CountHeader(r.headers, "Host") != 1) return refuse(400, "Bad Request", "exactly one Host header is needed");
  u->host = *FindHeader(r.headers, "Host");

  const std::string* upgrade = FindHeader(r.headers, "Upgrade");
  if (!upgrade || !HasToken(*upgrade, "websocket")) {
    refuse(426, "Upgrade Required", "this is a WebSocket endpoint (Upgrade: websocket)");
    refusal->headers.push_back(Header{"Upgrade", "websocket"});
    refusal->headers.push_back(Header{"Connection", "Upgrade"});
    return false;
  }
  const std::string* connection = FindHeader(r.headers, "Connection");
  if (!connection || !HasToken(*connection, "upgrade")) {
    return refuse(400, "Bad Request", "the Connection header does not ask for an upgrade");
  }
  // vpn-ws's own client sends no version: a missing one is taken as 13
  const std::string* version = FindHeader(r.headers, "Sec-WebSocket-Version");
  if (CountHeader(r.headers, "Sec-WebSocket-Version") > 1 || (version && *version != "13")) {
    refuse(426, "Upgrade Required", "only WebSocket version 13 is spoken here");
    refusal->headers.push_back(Header{"Sec-WebSocket-Version", "13"});
    return false;
  }
  if (CountHeader(r.headers, "Sec-WebSocket-Key") != 1) return refuse(400, "Bad Request", "exactly one Sec-WebSocket-Key is needed");
  u->key = *FindHeader(r.headers, "Sec-WebSocket-Key");
  std::string nonce;
  // RFC 6455 asks for 16 bytes; vpn-ws's client sends 10
  if (!Base64Decode(u->key, &nonce) || nonce.empty() || nonce.size() > 64) {
    return refuse(400, "Bad Request", "Sec-WebSocket-Key is not a base64 nonce");
  }

  if (CountHeader(r.headers, "X-vpn-ws-MAC") > 1) return refuse(400, "Bad Request", "more than one X-vpn-ws-MAC");
  if (const std::string* mac = FindHeader(r.headers, "X-vpn-ws-MAC")) {
    l2::Mac m;
    if (!l2::ParseMac(*mac, &m) || !l2::IsUnicastAddress(m)) {
      return refuse(400, "Bad Request", "X-vpn-ws-MAC \"" + *mac + "\" is not a unicast Ethernet address");
    }
    u->mac = l2::MacToString(m);
  }
  const std::string* bridge = FindHeader(r.headers, "X-vpn-ws-bridge");
  u->bridge = bridge && Lower(*bridge) == "on";

  if (const std::string* auth = FindHeader(r.headers, "Authorization")) {
    size_t sp = auth->find(' ');
    std::string decoded;
    if (sp != std::string::npos && Lower(auth->substr(0, sp)) == "basic" && Base64Decode(Trim(auth->substr(sp + 1)), &decoded)) {
      size_t colon = decoded.find(':');
      if (colon != std::string::npos) {
        u->hasCredentials = true;
        u->user = decoded.substr(0, colon);
        u->password = decoded.substr(colon + 1);
      }
      OPENSSL_cleanse(&decoded[0], decoded.size());
    }
  }
  return true;
}

bool Authorize(const Upgrade& u, const AcceptPolicy& policy, Refusal* refusal) {
  if (!policy.path.empty() && u.path != policy.path) {
    *refusal = MakeRefusal(404, "Not Found", "no tunnel at this path");
    return false;
  }
  if (policy.checkCredentials) {
    if (!u.hasCredentials || !policy.checkCredentials(u.user, u.password)) {
      *refusal = MakeRefusal(401, "Unauthorized", "credentials needed");
      refusal->headers.push_back(Header{"WWW-Authenticate", "Basic realm=\"" + policy.realm + "\", charset=\"UTF-8\""});
      return false;
    }
  }
  return true;
}

std::string BuildUpgradeResponse(const std::string& key) {
  return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
         WebSocketAccept(key) + "\r\n\r\n";
}

std::string BuildRefusal(const Refusal& r) {
  std::string body = r.detail.empty() ? r.reason + "\n" : r.detail + "\n";
  std::string out = "HTTP/1.1 " + std::to_string(r.status) + " " + r.reason + "\r\n";
  for (const Header& h : r.headers) out += h.name + ": " + h.value + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += body;
  return out;
}

bool SecureEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace http
}  // namespace tund
