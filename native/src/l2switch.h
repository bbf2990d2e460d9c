// The layer-2 switch of a vpn-ws hub: a pure data structure and one decision function, run by
// the engine's threads (no I/O, no locks, no N-API: the owner serialises calls).
//
// Ports are the hub's clients and, optionally, the hub's own TAP device. A port is either
//  - a plain peer: it owns exactly one MAC, from the X-vpn-ws-MAC header (SetPortMac) or else
//    its first frame's source; frames with any other source are dropped (no spoofing), and it
//    receives nothing until it has a MAC;
//  - a bridge port (a peer that said "X-vpn-ws-bridge: on", or the hub's TAP): it may carry
//    many MACs, learned from the sources of its frames and forgotten after agingMs of silence,
//    and it receives unicast frames for unknown destinations.
// A plain peer's MAC (and any MAC given with SetPortMac) is static: it never ages and a bridge
// port cannot take it over, nor can another peer's first frame. A newer claim of the same MAC
// by SetPortMac (the X-vpn-ws-MAC header of a reconnecting client whose old connection is not
// gone yet) moves it to the newer port; the claim says which port lost it, and that port's
// frames are dropped from then on.
//
// Forward() decides where one frame goes: to the owner of its destination MAC, to every bridge
// port when the destination is unknown, to every other ready port for broadcast and multicast
// (each can be turned off), or nowhere (a drop, counted by reason and per port). Frames with a
// zero destination, with source == destination (a loop), or for a MAC behind the sending port
// are dropped.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace tund {
namespace l2 {

// A MAC as a 48-bit number, first octet most significant.
using Mac = uint64_t;
constexpr Mac kBroadcast = 0xffffffffffffULL;
constexpr size_t kEthernetHeader = 14;

Mac MacFromBytes(const uint8_t* p);
void MacToBytes(Mac m, uint8_t* out);
std::string MacToString(Mac m);
// "aa:bb:cc:dd:ee:ff" (any case); false for anything else.
bool ParseMac(const std::string& text, Mac* out);
inline bool IsGroup(Mac m) { return ((m >> 40) & 1) != 0; }
// A MAC a port may own: unicast and not zero.
inline bool IsUnicastAddress(Mac m) { return m != 0 && !IsGroup(m); }

using PortId = uint32_t;
constexpr PortId kNoPort = 0;

enum class PortKind : uint8_t { Peer, Tap };

struct PortOptions {
  PortKind kind = PortKind::Peer;
  bool bridge = false;
};

// Why a frame went nowhere. Counted per switch; each also counts as rx_dropped of the port.
enum class Drop : uint8_t {
  None = 0,
  TooShort,           // shorter than an Ethernet header
  BadSource,          // zero, broadcast or multicast source MAC
  Spoofed,            // a plain peer's frame from another MAC, or a bridge port using a MAC a peer owns
  ZeroDestination,
  Loop,               // source == destination
  Hairpin,            // the destination is behind the sending port
  BroadcastDisabled,
  MulticastDisabled,
  NoDestination,      // nobody to send it to (unknown unicast without bridge ports, a lone port)
  UnknownPort,        // Forward() from a port that does not exist
  kCount
};
const char* DropName(Drop d);

struct PortCounters {
  uint64_t rxFrames = 0;  // frames from the port into the switch (dropped ones too)
  uint64_t rxBytes = 0;
  uint64_t rxDropped = 0;
  uint64_t txFrames = 0;  // frames the switch sent to the port
  uint64_t txBytes = 0;
  uint64_t txDropped = 0;  // frames for the port that its queue could not take (NoteTxDropped)
  uint64_t learnLimited = 0;  // sources not learned because a table limit was reached
};

struct PortInfo {
  PortId id = kNoPort;
  PortKind kind = PortKind::Peer;
  bool bridge = false;
  Mac mac = 0;  // a plain peer's MAC (0 = not known yet); a bridge port's static MAC if any
  bool lostMac = false;  // a newer claim (another port) took its MAC; its frames are dropped
  size_t learned = 0;  // MACs in the table for this port (static ones included)
  PortCounters counters;
};

struct SwitchOptions {
  bool broadcast = true;
  bool multicast = true;
  uint64_t agingMs = 300000;          // as a Linux bridge
  size_t maxMacsPerPort = 1024;       // a bridge port learns no more than this
  size_t maxMacs = 65536;             // nor does the whole switch
};

struct Decision {
  Drop drop = Drop::None;
  // the destinations (valid until the next Forward); empty when dropped
  const PortId* ports = nullptr;
  size_t count = 0;
  // a first frame gave a plain peer its MAC (the caller may log it)
  bool registered = false;
};

struct Claim {
  bool ok = false;             // false: unknown port or not a unicast MAC
  PortId displaced = kNoPort;  // the port that had it before
};

class Switch {
 public:
  explicit Switch(const SwitchOptions& options = SwitchOptions());

  PortId AddPort(const PortOptions& options);
  // Forgets the port and every MAC it had. False when there is no such port.
  bool RemovePort(PortId id);
  // Gives a port its MAC (static: never ages, a bridge port cannot take it).
  Claim SetPortMac(PortId id, Mac mac);

  // Where a frame from port `from` goes. `nowMs` is any monotonic clock in milliseconds.
  Decision Forward(PortId from, const uint8_t* frame, size_t len, uint64_t nowMs);

  // Forgets learned MACs not seen for agingMs; returns how many.
  size_t Age(uint64_t nowMs);
  // The caller could not queue a frame the switch sent to `id` (a slow client).
  void NoteTxDropped(PortId id, size_t bytes);

  bool Info(PortId id, PortInfo* out) const;
  std::vector<PortId> Ports() const;
  // The MACs of a port, sorted.
  std::vector<Mac> MacsOf(PortId id) const;
  // The port that owns `mac`, or kNoPort (expired learned entries count as unknown).
  PortId Lookup(Mac mac, uint64_t nowMs) const;
  uint64_t Dropped(Drop reason) const { return drops_[static_cast<size_t>(reason)]; }
  size_t MacCount() const { return table_.size(); }
  const SwitchOptions& Options() const { return options_; }

 private:
  struct Port {
    PortId id;
    PortKind kind;
    bool bridge;
    Mac mac;  // static MAC (0 = none)
    bool lostMac;  // a newer claim took its MAC
    size_t macs;  // entries in table_ for this port
    PortCounters counters;
  };
  struct Entry {
    PortId port;
    bool isStatic;
    uint64_t lastSeen;
  };

  Port* Find(PortId id);
  const Port* Find(PortId id) const;
  bool Ready(const Port& p) const { return p.bridge || p.mac != 0; }
  // Makes `mac` a static MAC of port `p`; returns the port that had it.
  PortId Own(Port* p, Mac mac);
  void Unlink(Mac mac, const Entry& e);
  Decision Dropped(Port* from, Drop reason, Decision d);
  void Flood(const Port& from, bool bridgesOnly);

  SwitchOptions options_;
  std::vector<Port> ports_;                        // dense, for flooding
  std::unordered_map<PortId, size_t> index_;       // id -> position in ports_
  std::unordered_map<Mac, Entry> table_;
  PortId nextId_ = 1;
  std::vector<PortId> out_;
  uint64_t drops_[static_cast<size_t>(Drop::kCount)] = {};
};

}  // namespace l2
}  // namespace tund
