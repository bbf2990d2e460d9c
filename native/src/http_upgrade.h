// HTTP/1.1 for vpn-ws tunnels: the WebSocket upgrade (RFC 6455 section 4) from both ends and the
// CONNECT request of an HTTP proxy (RFC 9110 9.3.6). Pure C++ (no N-API, no I/O): builders
// return the bytes to send, parsers take the bytes received so far and say NeedMore, Ok (with how
// many bytes the head took: whatever follows is WebSocket data) or Error. It runs where the
// connection lives: on the native thread that owns the socket and, for wss://, the TLS session,
// which exists from the first byte on (the upgrade travels inside TLS).
//
// Compatibility with vpn-ws: its client sends no Sec-WebSocket-Version and a 10-byte key, so the
// server side accepts a missing version and any base64 key of 1 to 64 bytes; a version other
// than 13 is refused (426). The client side sends X-vpn-ws-MAC and X-vpn-ws-bridge as vpn-ws does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace tund {

class FastRandom;

namespace http {

std::string Base64Encode(const uint8_t* p, size_t n);
// Strict base64 (padding required, no white space); false on anything else.
bool Base64Decode(const std::string& text, std::string* out);
// Sec-WebSocket-Accept for a Sec-WebSocket-Key: base64(SHA-1(key + the RFC 6455 GUID)).
std::string WebSocketAccept(const std::string& key);
// A fresh Sec-WebSocket-Key: 16 random bytes, base64.
std::string NewWebSocketKey(FastRandom& rng);

struct Header {
  std::string name;
  std::string value;
};

// The first header named `name` (case-insensitive), or nullptr.
const std::string* FindHeader(const std::vector<Header>& headers, const std::string& name);
// Does a comma-separated header value list `token` (case-insensitive)? ("keep-alive, Upgrade")
bool HasToken(const std::string& list, const std::string& token);

enum class ParseStatus { NeedMore, Ok, Error };

struct Limits {
  size_t maxBytes = 8192;   // the whole head, request/status line to the empty line
  size_t maxHeaders = 64;
};

// ---- client side

struct ClientRequest {
  std::string path = "/";  // origin-form target (path and query)
  std::string host;        // the Host header: host[:port], an IPv6 address in brackets
  std::string key;         // Sec-WebSocket-Key (NewWebSocketKey)
  std::string mac;         // X-vpn-ws-MAC ("" = none)
  bool bridge = false;     // X-vpn-ws-bridge: on
  // Authorization: Basic, when user is not empty (the password comes from a secret file)
  std::string user;
  std::string password;
  std::string userAgent = "tund";
};
// The request; empty with *error set when a field would break the request (CR/LF, bad path).
std::string BuildClientRequest(const ClientRequest& request, std::string* error);

struct Response {
  int status = 0;
  std::string reason;
  std::vector<Header> headers;
  size_t consumed = 0;  // bytes of the head (status line to the empty line)
};

struct ResponseResult {
  ParseStatus status = ParseStatus::NeedMore;
  Response response;
  std::string error;
};
ResponseResult ParseResponse(const uint8_t* p, size_t n, const Limits& limits = Limits());
// Empty when the response accepts the upgrade for `key`, else the problem
// ("HTTP 401 Unauthorized", "Sec-WebSocket-Accept does not match the key", ...).
std::string CheckUpgradeResponse(const Response& response, const std::string& key);

// CONNECT host:port for an HTTP proxy; Proxy-Authorization: Basic when user is not empty.
std::string BuildConnectRequest(const std::string& authority, const std::string& user, const std::string& password,
                                std::string* error);
// Empty when a CONNECT response opens the tunnel (2xx), else the problem.
std::string CheckConnectResponse(const Response& response);

// ---- server side

struct Request {
  std::string method;
  std::string target;
  std::string version;  // "HTTP/1.1"
  std::vector<Header> headers;
  size_t consumed = 0;
};

// A refusal to send back: status, reason phrase, a short text body, extra headers.
struct Refusal {
  int status = 400;
  std::string reason = "Bad Request";
  std::string detail;
  std::vector<Header> headers;
};

struct RequestResult {
  ParseStatus status = ParseStatus::NeedMore;
  Request request;
  Refusal refusal;  // Error: what to answer (400, 431, ...)
};
RequestResult ParseRequest(const uint8_t* p, size_t n, const Limits& limits = Limits());

// A WebSocket upgrade as the vpn-ws hub sees it.
struct Upgrade {
  std::string path;   // the target's path (no query)
  std::string query;  // after "?", without it
  std::string host;
  std::string key;
  std::string mac;    // X-vpn-ws-MAC, lower case ("" = none)
  bool bridge = false;
  bool hasCredentials = false;  // Authorization: Basic with user:password
  std::string user;
  std::string password;
};
// Checks a parsed request as a WebSocket upgrade (GET, HTTP/1.1, Upgrade/Connection, key,
// version, vpn-ws headers). False with *refusal set when it is not one.
bool ReadUpgrade(const Request& request, Upgrade* upgrade, Refusal* refusal);

struct AcceptPolicy {
  std::string path;  // "" = any path; else the path must be exactly this
  // Checks basic-auth credentials; null = no authentication asked for. Called only with
  // credentials present (a request without them is refused with 401 first).
  std::function<bool(const std::string& user, const std::string& password)> checkCredentials;
  std::string realm = "tund";
};
// Applies the hub's policy: 404 for another path, 401 (with WWW-Authenticate) without valid
// credentials. False with *refusal set when refused.
bool Authorize(const Upgrade& upgrade, const AcceptPolicy& policy, Refusal* refusal);

std::string BuildUpgradeResponse(const std::string& key);
// "HTTP/1.1 <status> <reason>", the extra headers, Connection: close, a text/plain body.
std::string BuildRefusal(const Refusal& refusal);

// Constant-time comparison of two strings (credentials).
bool SecureEquals(const std::string& a, const std::string& b);

}  // namespace http
}  // namespace tund
