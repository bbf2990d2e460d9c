// A UDP/TCP peer address (IPv4 or IPv6) as the kernel takes it, with the comparisons the engine
// needs: IPv4 and its IPv4-mapped IPv6 form are the same endpoint, so one dual-stack socket can
// serve both families. The one place of the addon that parses and prints "address" + port.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>

namespace tund {

struct Endpoint {
  // Room for the largest address an endpoint holds (IPv6's, 28 bytes) and no more: endpoints are
  // copied several times per packet on the data path, where a sockaddr_storage's 128 bytes cost.
  union Address {
    sockaddr_in6 in6;  // (first: `{}` zeroes all of it)
    sockaddr_in in4;
    sockaddr sa;
  } addr{};
  socklen_t len = 0;  // 0: no endpoint

  bool Empty() const { return len == 0; }
  int Family() const { return len == 0 ? AF_UNSPEC : addr.sa.sa_family; }
  const sockaddr* Sockaddr() const { return reinterpret_cast<const sockaddr*>(&addr); }

  // "198.18.0.1" or "2001:2::1" (text with ':' is IPv6) and a port; false if not an address.
  static bool Parse(const std::string& address, int port, Endpoint* out);
  // From what recvmmsg/getpeername filled in (AF_INET or AF_INET6; anything else gives Empty()).
  static Endpoint From(const sockaddr_storage& ss, socklen_t len);

  // Address text without the IPv4-mapped prefix, and the port.
  std::string Address() const;
  int Port() const;
  // "198.18.0.1:51820", "[2001:2::1]:51820".
  std::string ToString() const;

  // Same address and port, IPv4 == IPv4-mapped IPv6.
  bool SameAs(const Endpoint& other) const;
  // This endpoint as a socket of `family` takes it: IPv4 becomes IPv4-mapped for an AF_INET6
  // socket. False when it cannot be (IPv6 on an AF_INET socket).
  bool ForFamily(int family, Endpoint* out) const;
};

}  // namespace tund
