// wg_allowed_ips: WireGuard's cryptokey routing table (engine/allowed_ips.*): the tx path looks
// up a packet's destination, the rx path a decrypted packet's source. Input: either (first byte
// even) prefix texts as a peer's configuration gives them, one per line, for ParsePrefix; or
// (odd) operations on one table: insert a prefix (IPv4 or IPv6, any length, host bits set or
// not) for one of four peers, remove a peer, look an address up, list a peer's prefixes.
// Checked: ParsePrefix refuses or gives a prefix whose host bits are clear, whose length fits its
// family, and whose text (ToString) parses back to it; the table agrees with a model (a list of
// prefixes, one owner each, a later insert moving a prefix): Lookup gives the owner of the
// longest matching prefix (0 when none), PrefixesOf a peer's prefixes, Size their count.
#include <arpa/inet.h>
#include <fuzzer/FuzzedDataProvider.h>
#include <sys/socket.h>

#include <cstring>
#include <map>
#include <string>

#include "../../../native/src/engine/allowed_ips.h"
#include "fuzz_common.h"

using tund::engine::AllowedIps;
using tund::engine::ParsePrefix;
using tund::engine::Prefix;

namespace {

int Total(int family) { return family == AF_INET ? 32 : 128; }

bool Contains(const Prefix& p, int family, const uint8_t* addr) {
  if (p.family != family) return false;
  for (int i = 0; i < p.bits; i++) {
    int a = (addr[i / 8] >> (7 - i % 8)) & 1, b = (p.addr[i / 8] >> (7 - i % 8)) & 1;
    if (a != b) return false;
  }
  return true;
}

bool Same(const Prefix& a, const Prefix& b) {
  return a.family == b.family && a.bits == b.bits && std::memcmp(a.addr, b.addr, sizeof a.addr) == 0;
}

void CheckParsed(const std::string& text) {
  Prefix p;
  std::string err;
  if (!ParsePrefix(text, &p, &err)) {
    FUZZ_CHECK(!err.empty(), "\"%s\" refused without a message", text.c_str());
    return;
  }
  FUZZ_CHECK(p.family == AF_INET || p.family == AF_INET6, "family %d", p.family);
  FUZZ_CHECK(p.bits >= 0 && p.bits <= Total(p.family), "\"%s\": %d bits", text.c_str(), p.bits);
  for (int i = p.bits; i < Total(p.family); i++) {
    FUZZ_CHECK(!((p.addr[i / 8] >> (7 - i % 8)) & 1), "\"%s\": host bit %d set", text.c_str(), i);
  }
  for (int i = Total(p.family) / 8; i < 16; i++) FUZZ_CHECK(p.addr[i] == 0, "\"%s\": byte %d past the address set", text.c_str(), i);
  Prefix again;
  std::string shown = p.ToString();
  FUZZ_CHECK(ParsePrefix(shown, &again, &err) && Same(p, again), "\"%s\" shows as \"%s\", which does not parse back", text.c_str(), shown.c_str());
}

Prefix Build(FuzzedDataProvider& in) {
  Prefix p;
  p.family = in.ConsumeBool() ? AF_INET6 : AF_INET;
  in.ConsumeData(p.addr, p.family == AF_INET ? 4 : 16);
  p.bits = in.ConsumeIntegralInRange<int>(0, Total(p.family));
  return p;
}

void Operations(FuzzedDataProvider& in) {
  AllowedIps table;
  std::map<Prefix, uint32_t> model;  // (Prefix's order: family, bits, address bytes)
  // The table stores prefixes as given; two that differ only in host bits are different keys
  // to it but cover the same addresses. The model keys on the normalised prefix, so only
  // normalised prefixes (through ParsePrefix) go into both.
  for (int op = 0; op < 256 && in.remaining_bytes() > 0; op++) {
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
      case 0: {
        Prefix p = Build(in);
        std::string err;
        Prefix n;
        FUZZ_CHECK(ParsePrefix(p.ToString(), &n, &err), "ParsePrefix(\"%s\")", p.ToString().c_str());
        uint32_t peer = in.ConsumeIntegralInRange<uint32_t>(1, 4);
        table.Insert(n, peer);
        model[n] = peer;
        break;
      }
      case 1: {
        uint32_t peer = in.ConsumeIntegralInRange<uint32_t>(1, 4);
        table.RemovePeer(peer);
        for (auto it = model.begin(); it != model.end();) it = it->second == peer ? model.erase(it) : std::next(it);
        break;
      }
      case 2: {
        int family = in.ConsumeBool() ? AF_INET6 : AF_INET;
        uint8_t addr[16] = {};
        if (in.ConsumeBool() && !model.empty()) {
          // an address inside (or next to) a prefix of the table
          auto it = model.begin();
          std::advance(it, in.ConsumeIntegralInRange<size_t>(0, model.size() - 1));
          family = it->first.family;
          std::memcpy(addr, it->first.addr, sizeof addr);
          addr[in.ConsumeIntegralInRange<int>(0, Total(family) / 8 - 1)] ^= in.ConsumeIntegral<uint8_t>();
        } else {
          in.ConsumeData(addr, family == AF_INET ? 4 : 16);
        }
        uint32_t expect = 0;
        int best = -1;
        for (const auto& e : model) {
          if (e.first.bits > best && Contains(e.first, family, addr)) {
            best = e.first.bits;
            expect = e.second;
          }
        }
        uint32_t got = table.Lookup(family, addr);
        char text[INET6_ADDRSTRLEN] = "";
        inet_ntop(family, addr, text, sizeof text);
        FUZZ_CHECK(got == expect, "Lookup(%s) = peer %u, the model says %u (longest match /%d)", text, got, expect, best);
        break;
      }
      case 3: {
        uint32_t peer = in.ConsumeIntegralInRange<uint32_t>(1, 4);
        std::vector<Prefix> got = table.PrefixesOf(peer);
        size_t expect = 0;
        for (const auto& e : model) expect += e.second == peer;
        FUZZ_CHECK(got.size() == expect, "peer %u has %zu prefixes, the model %zu", peer, got.size(), expect);
        for (const Prefix& p : got) {
          auto it = model.find(p);
          FUZZ_CHECK(it != model.end() && it->second == peer, "%s listed for peer %u", p.ToString().c_str(), peer);
        }
        break;
      }
    }
    FUZZ_CHECK(table.Size() == model.size(), "%zu entries, the model %zu", table.Size(), model.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    size_t start = 0;
    while (start <= text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      CheckParsed(text.substr(start, end - start));
      start = end + 1;
    }
    return 0;
  }
  FuzzedDataProvider in(data + 1, size - 1);
  Operations(in);
  return 0;
}
