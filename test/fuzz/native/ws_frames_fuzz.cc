// ws_frames: the receive path of a vpn-ws tunnel on the engine: the TCP transport
// (engine/transport.cc) cutting a byte stream with WsTransform as its Framer, and
// WsTransform::Open (engine/ws_transform.cc), which takes plain binary frames on its fast path and
// gives everything else (fragments, control frames, violations) to ws::FrameReader (ws_frame.cc).
// Input: byte 0 says the side (bit 0: server, which wants masked frames, or client), the largest
// message (bits 1-2: 1518, 64, 9014 or 200 bytes) and, in bits 3-7, how many of the last bytes
// are the read plan (each one read's size, used in turn: 0 = all the rest, else 1..600); the
// bytes between are the stream.
// Checked against a reference: one ws::FrameReader of the same side and limit fed the whole
// stream directly. Whatever the reads, the engine delivers exactly the reference's non-empty binary
// messages, byte for byte and in order, counts its other messages as bad frames, its pings and
// pongs; it ends with codec_error exactly when the reference fails (or with eof when the stream
// ends inside the frame the reference refused: the engine checks a frame once it has all of it),
// with peer_closed exactly when the reference saw a close (same code), and otherwise with eof when
// the stream ends. No delivered packet is empty or longer than the largest message. The packets,
// framed by the peer's Encoder (masked by a client), read back as themselves.
#include <cstring>
#include <string>
#include <vector>

#include "../../../native/src/engine/ws_transform.h"
#include "engine_fixture.h"

using namespace tund;
using namespace tund::engine;
using fuzz::CollectRx;
using fuzz::StreamFeeder;
using fuzz::TestCore;

namespace {

constexpr size_t kMaxMessages[] = {1518, 64, 9014, 200};
constexpr const char* kPeerClosed = "peer_closed";

struct Outcome {
  std::vector<std::vector<uint8_t>> packets;
  uint64_t bad = 0, pings = 0, pongs = 0;
  std::string end;        // "", codec_error, peer_closed or eof
  uint16_t closeCode = 0;  // peer_closed: the peer's code
  size_t failedAt = 0;     // the reference's codec_error: where the frame it refused starts
};

// Is the frame at `at` cut off by the end of the stream, as the engine's framer (Next) sees it?
// The reader refuses a bad header at once; the engine takes a frame of an allowed length whole
// before anything checks it, so a bad frame the stream ends inside ends the engine with eof.
bool CutOff(const uint8_t* s, size_t total, size_t at, size_t maxMessage) {
  size_t have = total - at;
  if (have < 2) return true;
  const uint8_t* p = s + at;
  size_t hdr = 2 + ((p[1] & 0x80) ? 4 : 0);
  uint64_t len = p[1] & 0x7f;
  if (len == 126) {
    if (have < 4) return true;
    len = uint64_t{p[2]} << 8 | p[3];
    hdr += 2;
  } else if (len == 127) {
    if (have < 10) return true;
    len = 0;
    for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
    hdr += 8;
  }
  uint64_t limit = (p[0] & 0x08) ? ws::kMaxControlPayload : maxMessage;
  return len <= limit && have < hdr + len;
}

Outcome Reference(ws::Role role, size_t maxMessage, const uint8_t* s, size_t total) {
  ws::FrameReader reader(role, maxMessage);
  Outcome o;
  size_t fed = 0;
  for (;;) {
    size_t took = reader.Append(s + fed, total - fed);
    fed += took;
    bool progressed = took > 0;
    for (;;) {
      ws::Event ev = reader.Next();
      if (ev.type == ws::EventType::None) break;
      progressed = true;
      switch (ev.type) {
        case ws::EventType::Message:
          if (ev.opcode == ws::Opcode::Binary && ev.len > 0) o.packets.emplace_back(ev.data, ev.data + ev.len);
          else o.bad++;
          break;
        case ws::EventType::Ping: o.pings++; break;
        case ws::EventType::Pong: o.pongs++; break;
        case ws::EventType::Close:
          o.end = kPeerClosed;
          o.closeCode = ev.code;
          return o;
        case ws::EventType::Error:
          o.end = "codec_error";
          o.failedAt = reader.Counters().bytes;
          return o;
        default: break;
      }
    }
    if (fed == total) break;
    FUZZ_CHECK(progressed, "the reference reader takes no more bytes (%zu of %zu, %zu buffered)", fed, total, reader.Buffered());
  }
  o.end = kEndEof;
  return o;
}

Outcome ThroughEngine(ws::Role role, size_t maxMessage, const uint8_t* stream, size_t total, const std::vector<size_t>& plan) {
  WsOptions opt;
  opt.role = role;
  opt.maxMessage = maxMessage;
  WsTransform wst(opt);
  TestCore core(&wst);
  StreamFeeder feeder(core, wst.StreamFramer());
  Outcome o;
  Message msgs[64];
  auto drain = [&] {
    while (core.EndReason().empty()) {
      int n = feeder.Receive(msgs, 64);
      if (n < 0) return;
      FUZZ_CHECK(n > 0 && n <= 64, "Receive returned %d", n);
      for (int i = 0; i < n && core.EndReason().empty(); i++) {
        FUZZ_CHECK(msgs[i].len <= wst.RxSlotBytes(), "a frame of %zu bytes (slots of %zu)", msgs[i].len, wst.RxSlotBytes());
        CollectRx rx(core, wst.MaxDelivered());
        rx.Opening(msgs[i]);
        wst.Open(msgs[i], rx);
        for (auto& p : rx.packets) {
          FUZZ_CHECK(!p.empty() && p.size() <= maxMessage, "a delivered packet of %zu bytes (at most %zu)", p.size(), maxMessage);
          o.packets.push_back(std::move(p));
        }
      }
    }
  };
  fuzz::FeedByPlan(feeder, stream, total, plan, [&](size_t) {
    drain();
    return core.EndReason().empty();  // the engine stops reading once it ended
  });
  if (core.EndReason().empty()) {
    feeder.Close();
    drain();
  }
  o.end = core.EndReason();
  o.bad = core.c.badFrames.load();
  o.pings = wst.PingsReceived();
  o.pongs = wst.PongsReceived();
  o.closeCode = wst.PeerCloseCode();
  return o;
}

void Same(const Outcome& ref, const Outcome& got, const char* how, const uint8_t* stream, size_t total, size_t maxMessage) {
  bool cutOff = ref.end == "codec_error" && got.end == kEndEof && CutOff(stream, total, ref.failedAt, maxMessage);
  FUZZ_CHECK(ref.end == got.end || cutOff, "%s: ended with \"%s\", the reference with \"%s\" (stream of %zu bytes)", how, got.end.c_str(),
             ref.end.c_str(), total);
  FUZZ_CHECK(ref.packets.size() == got.packets.size(), "%s: %zu packets delivered, the reference %zu", how, got.packets.size(),
             ref.packets.size());
  for (size_t i = 0; i < ref.packets.size(); i++) {
    FUZZ_CHECK(ref.packets[i] == got.packets[i], "%s: packet %zu differs (%zu vs %zu bytes)", how, i, got.packets[i].size(),
               ref.packets[i].size());
  }
  FUZZ_CHECK(ref.bad == got.bad && ref.pings == got.pings && ref.pongs == got.pongs,
             "%s: bad/pings/pongs %llu/%llu/%llu, the reference %llu/%llu/%llu", how, static_cast<unsigned long long>(got.bad),
             static_cast<unsigned long long>(got.pings), static_cast<unsigned long long>(got.pongs),
             static_cast<unsigned long long>(ref.bad), static_cast<unsigned long long>(ref.pings),
             static_cast<unsigned long long>(ref.pongs));
  if (ref.end == kPeerClosed) FUZZ_CHECK(ref.closeCode == got.closeCode, "%s: close code %u, the reference %u", how, got.closeCode, ref.closeCode);
}

// The other way: the frames the peer would send for these packets (Encoder::AppendFrame and, as
// the engine's Seal does, FrameInPlace in turn; masked when the peer is a client) read back as
// exactly these packets.
void RoundTrip(ws::Role role, size_t maxMessage, const std::vector<std::vector<uint8_t>>& packets) {
  ws::Role peer = role == ws::Role::Server ? ws::Role::Client : ws::Role::Server;
  FastRandom rng;
  ws::Encoder encoder(peer, peer == ws::Role::Client ? &rng : nullptr);
  std::vector<uint8_t> wire;
  for (size_t i = 0; i < packets.size(); i++) {
    const std::vector<uint8_t>& p = packets[i];
    if (i % 2 == 0) {
      encoder.AppendFrame(&wire, p.data(), p.size(), ws::Opcode::Binary);
    } else {
      std::vector<uint8_t> buf(ws::kMaxHeader + p.size());
      std::memcpy(buf.data() + ws::kMaxHeader, p.data(), p.size());
      size_t start = encoder.FrameInPlace(buf.data(), p.size(), ws::Opcode::Binary);
      FUZZ_CHECK(start <= ws::kMaxHeader && ws::kMaxHeader - start == encoder.HeaderSizeFor(p.size()), "a header of %zu bytes",
                 ws::kMaxHeader - start);
      wire.insert(wire.end(), buf.begin() + static_cast<std::ptrdiff_t>(start), buf.end());
    }
  }
  Outcome back = Reference(role, maxMessage, wire.data(), wire.size());
  FUZZ_CHECK(back.end == kEndEof && back.bad == 0 && back.packets == packets, "%zu packets encoded, %zu read back (%s)", packets.size(),
             back.packets.size(), back.end.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ws::Role role = (data[0] & 1) ? ws::Role::Server : ws::Role::Client;
  size_t maxMessage = kMaxMessages[(data[0] >> 1) & 3];
  size_t planLen = std::min<size_t>(data[0] >> 3, size - 1);
  const uint8_t* stream = data + 1;
  size_t total = size - 1 - planLen;
  std::vector<size_t> plan = fuzz::ReadPlan(stream + total, planLen);

  Outcome ref = Reference(role, maxMessage, stream, total);
  RoundTrip(role, maxMessage, ref.packets);
  Same(ref, ThroughEngine(role, maxMessage, stream, total, {0}), "in one read", stream, total, maxMessage);
  if (!plan.empty()) Same(ref, ThroughEngine(role, maxMessage, stream, total, plan), "in reads of the plan", stream, total, maxMessage);
  return 0;
}
