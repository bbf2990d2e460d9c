// The hub's layer-2 switch: see l2switch.h.
#include "l2switch.h"

#include <algorithm>
#include <cstdio>

namespace tund {
namespace l2 {

Mac MacFromBytes(const uint8_t* p) {
  Mac m = 0;
  for (int i = 0; i < 6; i++) m = (m << 8) | p[i];
  return m;
}

void MacToBytes(Mac m, uint8_t* out) {
  for (int i = 5; i >= 0; i--) {
    out[i] = static_cast<uint8_t>(m & 0xff);
    m >>= 8;
  }
}

std::string MacToString(Mac m) {
  uint8_t b[6];
  MacToBytes(m, b);
  char text[18];
  snprintf(text, sizeof text, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4], b[5]);
  return text;
}

bool ParseMac(const std::string& text, Mac* out) {
  if (text.size() != 17) return false;
  Mac m = 0;
  for (size_t i = 0; i < 17; i++) {
    char c = text[i];
    if (i % 3 == 2) {
      if (c != ':') return false;
      continue;
    }
    int v;
    if (c >= '0' && c <= '9') v = c - '0';
    else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
    else return false;
    m = (m << 4) | static_cast<Mac>(v);
  }
  *out = m;
  return true;
}

const char* DropName(Drop d) {
  switch (d) {
    case Drop::None: return "none";
    case Drop::TooShort: return "too_short";
    case Drop::BadSource: return "bad_source";
    case Drop::Spoofed: return "spoofed";
    case Drop::ZeroDestination: return "zero_destination";
    case Drop::Loop: return "loop";
    case Drop::Hairpin: return "hairpin";
    case Drop::BroadcastDisabled: return "broadcast_disabled";
    case Drop::MulticastDisabled: return "multicast_disabled";
    case Drop::NoDestination: return "no_destination";
    case Drop::UnknownPort: return "unknown_port";
    case Drop::kCount: break;
  }
  return "unknown";
}

Switch::Switch(const SwitchOptions& options) : options_(options) { out_.reserve(64); }

Switch::Port* Switch::Find(PortId id) {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &ports_[it->second];
}

const Switch::Port* Switch::Find(PortId id) const {
  auto it = index_.find(id);
  return it == index_.end() ? nullptr : &ports_[it->second];
}

PortId Switch::AddPort(const PortOptions& options) {
  PortId id = nextId_++;
  if (nextId_ == kNoPort) nextId_ = 1;  // after 4 billion ports; ids of live ports stay unique in practice
  index_[id] = ports_.size();
  ports_.push_back(Port{id, options.kind, options.bridge, 0, false, 0, PortCounters{}});
  return id;
}

bool Switch::RemovePort(PortId id) {
  auto it = index_.find(id);
  if (it == index_.end()) return false;
  for (auto t = table_.begin(); t != table_.end();) {
    if (t->second.port == id) t = table_.erase(t);
    else ++t;
  }
  size_t pos = it->second;
  index_.erase(it);
  if (pos != ports_.size() - 1) {
    ports_[pos] = ports_.back();
    index_[ports_[pos].id] = pos;
  }
  ports_.pop_back();
  return true;
}

void Switch::Unlink(Mac mac, const Entry& e) {
  Port* owner = Find(e.port);
  if (!owner) return;
  if (owner->macs > 0) owner->macs--;
  if (owner->mac == mac) {
    // it lost its MAC to a newer claim: its frames are dropped from now on, and it does not
    // take the MAC back with its next frame (no ping-pong between an old and a new connection)
    owner->mac = 0;
    owner->lostMac = true;
  }
}

PortId Switch::Own(Port* p, Mac mac) {
  PortId displaced = kNoPort;
  // a port has one static MAC: a new one replaces the old
  if (p->mac != 0 && p->mac != mac) {
    auto old = table_.find(p->mac);
    if (old != table_.end() && old->second.port == p->id) {
      table_.erase(old);
      if (p->macs > 0) p->macs--;
    }
  }
  auto it = table_.find(mac);
  if (it != table_.end()) {
    if (it->second.port != p->id) {
      if (it->second.isStatic) displaced = it->second.port;
      Unlink(mac, it->second);
      it->second.port = p->id;
      p->macs++;
    }
    it->second.isStatic = true;
  } else {
    table_.emplace(mac, Entry{p->id, true, 0});
    p->macs++;
  }
  p->mac = mac;
  p->lostMac = false;
  return displaced;
}

Claim Switch::SetPortMac(PortId id, Mac mac) {
  Claim c;
  Port* p = Find(id);
  if (!p || !IsUnicastAddress(mac)) return c;
  c.ok = true;
  c.displaced = Own(p, mac);
  return c;
}

Decision Switch::Dropped(Port* from, Drop reason, Decision d) {
  drops_[static_cast<size_t>(reason)]++;
  if (from) from->counters.rxDropped++;
  d.drop = reason;
  d.ports = nullptr;
  d.count = 0;
  return d;
}

void Switch::Flood(const Port& from, bool bridgesOnly) {
  for (const Port& p : ports_) {
    if (p.id == from.id || !Ready(p)) continue;
    if (bridgesOnly && !p.bridge) continue;
    out_.push_back(p.id);
  }
}

Decision Switch::Forward(PortId fromId, const uint8_t* frame, size_t len, uint64_t nowMs) {
  Decision d;
  out_.clear();
  Port* from = Find(fromId);
  if (!from) return Dropped(nullptr, Drop::UnknownPort, d);
  from->counters.rxFrames++;
  from->counters.rxBytes += len;
  if (len < kEthernetHeader) return Dropped(from, Drop::TooShort, d);
  Mac dst = MacFromBytes(frame);
  Mac src = MacFromBytes(frame + 6);
  if (!IsUnicastAddress(src)) return Dropped(from, Drop::BadSource, d);

  // ---- the source: who may send as whom
  if (!from->bridge) {
    if (from->mac == 0 && from->lostMac) return Dropped(from, Drop::Spoofed, d);
    if (from->mac == 0) {
      // a frame may not take a MAC another port holds statically (only an explicit claim at
      // connect time, SetPortMac, may)
      auto it = table_.find(src);
      if (it != table_.end() && it->second.isStatic && it->second.port != from->id) return Dropped(from, Drop::Spoofed, d);
      Own(from, src);
      d.registered = true;
    } else if (src != from->mac) {
      return Dropped(from, Drop::Spoofed, d);
    }
  } else {
    auto it = table_.find(src);
    if (it == table_.end()) {
      if (from->macs >= options_.maxMacsPerPort || table_.size() >= options_.maxMacs) {
        from->counters.learnLimited++;  // still forwarded, as a bridge does when its table is full
      } else {
        table_.emplace(src, Entry{from->id, false, nowMs});
        from->macs++;
      }
    } else if (it->second.port == from->id) {
      it->second.lastSeen = nowMs;
    } else if (it->second.isStatic) {
      return Dropped(from, Drop::Spoofed, d);
    } else if (from->macs >= options_.maxMacsPerPort) {
      from->counters.learnLimited++;
    } else {
      // a learned MAC moved to another bridge port (a host moved, or a path changed)
      Unlink(src, it->second);
      it->second.port = from->id;
      it->second.lastSeen = nowMs;
      from->macs++;
    }
  }

  // ---- the destination
  if (dst == 0) return Dropped(from, Drop::ZeroDestination, d);
  if (dst == src) return Dropped(from, Drop::Loop, d);
  if (dst == kBroadcast) {
    if (!options_.broadcast) return Dropped(from, Drop::BroadcastDisabled, d);
    Flood(*from, false);
  } else if (IsGroup(dst)) {
    if (!options_.multicast) return Dropped(from, Drop::MulticastDisabled, d);
    Flood(*from, false);
  } else {
    PortId owner = Lookup(dst, nowMs);
    if (owner == from->id) return Dropped(from, Drop::Hairpin, d);
    if (owner != kNoPort) {
      out_.push_back(owner);
    } else {
      Flood(*from, true);
    }
  }
  if (out_.empty()) return Dropped(from, Drop::NoDestination, d);
  for (PortId id : out_) {
    Port* p = Find(id);
    p->counters.txFrames++;
    p->counters.txBytes += len;
  }
  d.ports = out_.data();
  d.count = out_.size();
  return d;
}

PortId Switch::Lookup(Mac mac, uint64_t nowMs) const {
  auto it = table_.find(mac);
  if (it == table_.end()) return kNoPort;
  const Entry& e = it->second;
  if (!e.isStatic && nowMs >= e.lastSeen && nowMs - e.lastSeen >= options_.agingMs) return kNoPort;
  return it->second.port;
}

size_t Switch::Age(uint64_t nowMs) {
  size_t removed = 0;
  for (auto it = table_.begin(); it != table_.end();) {
    const Entry& e = it->second;
    if (!e.isStatic && nowMs >= e.lastSeen && nowMs - e.lastSeen >= options_.agingMs) {
      Unlink(it->first, e);
      it = table_.erase(it);
      removed++;
    } else {
      ++it;
    }
  }
  return removed;
}

void Switch::NoteTxDropped(PortId id, size_t bytes) {
  Port* p = Find(id);
  if (!p) return;
  p->counters.txDropped++;
  // the frame was counted as sent when the switch chose the port; it was not
  if (p->counters.txFrames > 0) p->counters.txFrames--;
  p->counters.txBytes = p->counters.txBytes >= bytes ? p->counters.txBytes - bytes : 0;
}

bool Switch::Info(PortId id, PortInfo* out) const {
  const Port* p = Find(id);
  if (!p) return false;
  out->id = p->id;
  out->kind = p->kind;
  out->bridge = p->bridge;
  out->mac = p->mac;
  out->lostMac = p->lostMac;
  out->learned = p->macs;
  out->counters = p->counters;
  return true;
}

std::vector<PortId> Switch::Ports() const {
  std::vector<PortId> ids;
  ids.reserve(ports_.size());
  for (const Port& p : ports_) ids.push_back(p.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

std::vector<Mac> Switch::MacsOf(PortId id) const {
  std::vector<Mac> macs;
  for (const auto& kv : table_) {
    if (kv.second.port == id) macs.push_back(kv.first);
  }
  std::sort(macs.begin(), macs.end());
  return macs;
}

}  // namespace l2
}  // namespace tund
