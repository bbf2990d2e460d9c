// WireGuard's cryptokey routing table: IP prefixes (IPv4 and IPv6) -> peer, longest prefix wins.
// The tx path asks which peer a packet's destination belongs to; the rx path checks that a
// decrypted packet's source belongs to the peer whose key opened it. A prefix has one owner:
// giving it to another peer moves it (as wg(8) does). Binary tries, one node per bit, in
// vectors (no allocation per lookup). Not locked: the owner (wg_transform) guards it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tund {
namespace engine {

struct Prefix {
  int family = 0;          // AF_INET or AF_INET6
  uint8_t addr[16] = {};   // network byte order; host bits zero
  int bits = 0;
  bool operator<(const Prefix& o) const;
  std::string ToString() const;  // "198.18.0.0/15"
};

// "198.18.0.0/15", "2001:2::/48", or an address alone (/32, /128). Host bits are cleared.
// false with *error when the text is not a prefix.
bool ParsePrefix(const std::string& text, Prefix* out, std::string* error);

class AllowedIps {
 public:
  AllowedIps();
  void Insert(const Prefix& p, uint32_t peer);
  // Removes every prefix of `peer`.
  void RemovePeer(uint32_t peer);
  // The peer owning the longest prefix that contains addr (4 or 16 bytes by family); 0 = none.
  uint32_t Lookup(int family, const uint8_t* addr) const;
  std::vector<Prefix> PrefixesOf(uint32_t peer) const;
  size_t Size() const { return entries_.size(); }

 private:
  struct Node {
    int32_t child[2] = {-1, -1};
    uint32_t peer = 0;
  };
  void Add(const Prefix& p, uint32_t peer);
  void Rebuild();
  std::map<Prefix, uint32_t> entries_;  // the table; the tries are built from it
  std::vector<Node> v4_, v6_;
};

}  // namespace engine
}  // namespace tund
