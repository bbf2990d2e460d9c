#include "allowed_ips.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

namespace tund {
namespace engine {

namespace {

inline int BitAt(const uint8_t* addr, int i) { return (addr[i / 8] >> (7 - i % 8)) & 1; }

void ClearHostBits(Prefix* p) {
  int total = p->family == AF_INET ? 32 : 128;
  for (int i = p->bits; i < total; i++) p->addr[i / 8] &= static_cast<uint8_t>(~(0x80 >> (i % 8)));
}

}  // namespace

bool Prefix::operator<(const Prefix& o) const {
  if (family != o.family) return family < o.family;
  if (bits != o.bits) return bits < o.bits;
  return std::memcmp(addr, o.addr, sizeof addr) < 0;
}

std::string Prefix::ToString() const {
  char buf[INET6_ADDRSTRLEN] = "";
  inet_ntop(family, addr, buf, sizeof buf);
  return std::string(buf) + "/" + std::to_string(bits);
}

bool ParsePrefix(const std::string& text, Prefix* out, std::string* error) {
  *out = Prefix{};
  std::string a = text;
  int bits = -1;
  size_t slash = text.find('/');
  if (slash != std::string::npos) {
    a = text.substr(0, slash);
    std::string b = text.substr(slash + 1);
    char* end = nullptr;
    long v = b.empty() ? -1 : std::strtol(b.c_str(), &end, 10);
    if (b.empty() || *end != '\0' || v < 0 || v > 128) {
      *error = "bad prefix length in \"" + text + "\"";
      return false;
    }
    bits = static_cast<int>(v);
  }
  out->family = a.find(':') != std::string::npos ? AF_INET6 : AF_INET;
  if (inet_pton(out->family, a.c_str(), out->addr) != 1) {
    *error = "\"" + text + "\" is not an IPv4 or IPv6 prefix";
    return false;
  }
  int total = out->family == AF_INET ? 32 : 128;
  if (bits > total) {
    *error = "prefix length " + std::to_string(bits) + " too long in \"" + text + "\" (at most " + std::to_string(total) + ")";
    return false;
  }
  out->bits = bits < 0 ? total : bits;
  ClearHostBits(out);
  return true;
}

AllowedIps::AllowedIps() : v4_(1), v6_(1) {}

void AllowedIps::Add(const Prefix& p, uint32_t peer) {
  std::vector<Node>& t = p.family == AF_INET ? v4_ : v6_;
  int32_t n = 0;
  for (int i = 0; i < p.bits; i++) {
    int b = BitAt(p.addr, i);
    if (t[static_cast<size_t>(n)].child[b] < 0) {
      t[static_cast<size_t>(n)].child[b] = static_cast<int32_t>(t.size());
      t.emplace_back();
    }
    n = t[static_cast<size_t>(n)].child[b];
  }
  t[static_cast<size_t>(n)].peer = peer;
}

void AllowedIps::Insert(const Prefix& p, uint32_t peer) {
  entries_[p] = peer;
  Add(p, peer);
}

void AllowedIps::Rebuild() {
  v4_.assign(1, Node{});
  v6_.assign(1, Node{});
  for (const auto& e : entries_) Add(e.first, e.second);
}

void AllowedIps::RemovePeer(uint32_t peer) {
  bool changed = false;
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second == peer) {
      it = entries_.erase(it);
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) Rebuild();
}

uint32_t AllowedIps::Lookup(int family, const uint8_t* addr) const {
  const std::vector<Node>& t = family == AF_INET ? v4_ : v6_;
  const int total = family == AF_INET ? 32 : 128;
  int32_t n = 0;
  uint32_t best = t[0].peer;
  for (int i = 0; i < total; i++) {
    n = t[static_cast<size_t>(n)].child[BitAt(addr, i)];
    if (n < 0) break;
    if (t[static_cast<size_t>(n)].peer) best = t[static_cast<size_t>(n)].peer;
  }
  return best;
}

std::vector<Prefix> AllowedIps::PrefixesOf(uint32_t peer) const {
  std::vector<Prefix> out;
  for (const auto& e : entries_) {
    if (e.second == peer) out.push_back(e.first);
  }
  return out;
}

}  // namespace engine
}  // namespace tund
