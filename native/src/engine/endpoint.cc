#include "endpoint.h"

#include <arpa/inet.h>

#include <cstring>

namespace tund {

namespace {

const uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

// The IPv4 address of an AF_INET or IPv4-mapped AF_INET6 endpoint.
bool V4Of(const Endpoint& e, in_addr* a, uint16_t* port) {
  if (e.Family() == AF_INET) {
    const auto* sa = reinterpret_cast<const sockaddr_in*>(&e.addr);
    *a = sa->sin_addr;
    *port = sa->sin_port;
    return true;
  }
  if (e.Family() == AF_INET6) {
    const auto* sa6 = reinterpret_cast<const sockaddr_in6*>(&e.addr);
    if (std::memcmp(sa6->sin6_addr.s6_addr, kMappedPrefix, 12) != 0) return false;
    std::memcpy(&a->s_addr, sa6->sin6_addr.s6_addr + 12, 4);
    *port = sa6->sin6_port;
    return true;
  }
  return false;
}

}  // namespace

bool Endpoint::Parse(const std::string& address, int port, Endpoint* out) {
  *out = Endpoint{};
  if (port < 0 || port > 65535) return false;
  if (address.find(':') != std::string::npos) {
    auto* sa6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
    sa6->sin6_family = AF_INET6;
    sa6->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, address.c_str(), &sa6->sin6_addr) != 1) return false;
    out->len = sizeof *sa6;
    return true;
  }
  auto* sa = reinterpret_cast<sockaddr_in*>(&out->addr);
  sa->sin_family = AF_INET;
  sa->sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &sa->sin_addr) != 1) return false;
  out->len = sizeof *sa;
  return true;
}

Endpoint Endpoint::From(const sockaddr_storage& ss, socklen_t len) {
  Endpoint e;
  if ((ss.ss_family == AF_INET && len >= sizeof(sockaddr_in)) || (ss.ss_family == AF_INET6 && len >= sizeof(sockaddr_in6))) {
    e.len = ss.ss_family == AF_INET ? sizeof(sockaddr_in) : sizeof(sockaddr_in6);
    std::memcpy(&e.addr, &ss, e.len);
  }
  return e;
}

std::string Endpoint::Address() const {
  char buf[INET6_ADDRSTRLEN] = "";
  in_addr a4;
  uint16_t port;
  if (V4Of(*this, &a4, &port)) {
    inet_ntop(AF_INET, &a4, buf, sizeof buf);
  } else if (Family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_addr, buf, sizeof buf);
  }
  return buf;
}

int Endpoint::Port() const {
  if (Family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&addr)->sin_port);
  if (Family() == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&addr)->sin6_port);
  return 0;
}

std::string Endpoint::ToString() const {
  if (Empty()) return "";
  in_addr a4;
  uint16_t port;
  std::string a = Address();
  if (Family() == AF_INET6 && !V4Of(*this, &a4, &port)) a = "[" + a + "]";
  return a + ":" + std::to_string(Port());
}

bool Endpoint::SameAs(const Endpoint& other) const {
  in_addr a, b;
  uint16_t pa, pb;
  bool va = V4Of(*this, &a, &pa), vb = V4Of(other, &b, &pb);
  if (va || vb) return va && vb && a.s_addr == b.s_addr && pa == pb;
  if (Family() != AF_INET6 || other.Family() != AF_INET6) return false;
  const auto* x = reinterpret_cast<const sockaddr_in6*>(&addr);
  const auto* y = reinterpret_cast<const sockaddr_in6*>(&other.addr);
  return x->sin6_port == y->sin6_port && std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0 &&
         x->sin6_scope_id == y->sin6_scope_id;
}

bool Endpoint::ForFamily(int family, Endpoint* out) const {
  in_addr a4;
  uint16_t port;
  if (Family() == family) {
    *out = *this;
    return true;
  }
  if (!V4Of(*this, &a4, &port)) return false;
  *out = Endpoint{};
  if (family == AF_INET) {
    auto* sa = reinterpret_cast<sockaddr_in*>(&out->addr);
    sa->sin_family = AF_INET;
    sa->sin_port = port;
    sa->sin_addr = a4;
    out->len = sizeof *sa;
    return true;
  }
  if (family == AF_INET6) {
    auto* sa6 = reinterpret_cast<sockaddr_in6*>(&out->addr);
    sa6->sin6_family = AF_INET6;
    sa6->sin6_port = port;
    std::memcpy(sa6->sin6_addr.s6_addr, kMappedPrefix, 12);
    std::memcpy(sa6->sin6_addr.s6_addr + 12, &a4.s_addr, 4);
    out->len = sizeof *sa6;
    return true;
  }
  return false;
}

}  // namespace tund
