// vtun_tcp_split: the engine's TCP receive path cutting a VTun stream into frames: the TCP
// transport (engine/transport.cc: its receive buffer, compaction, and a bad frame's bytes
// discarded across reads) with VtunTransform as its Framer (engine/vtun_transform.cc), fed
// through a socket pair one read at a time; again with the lone-packet path's read (ReceiveOne)
// tried first whenever the stream may hold more, as Engine::LoneRx does; and again with its
// compact form's read (its own buffer, what is not one whole frame handed to the transport by
// Adopt), as Engine::CompactStreamRx does. Input: byte 0 % 32 says how many of the last bytes
// are the read plan (each plan byte is one read's size, used in turn: 0 = all the rest, else
// 1..600); the bytes between are the stream.
// Checked against a model of the framing written from docs/vtun-protocol.md §7 (a 2-byte header,
// flags in the top 4 bits: a control frame is the header alone; else a 12-bit length, 0 or over
// kMaxFramePayload is a bad frame whose bytes are skipped): the same frames, byte for byte and in
// order, whatever the reads; bad frames counted once each; every frame counted; EOF ends the
// stream with "eof".
#include <cstring>
#include <vector>

#include "../../../native/src/engine/vtun_transform.h"
#include "engine_fixture.h"

using namespace tund;
using namespace tund::engine;
using fuzz::StreamFeeder;
using fuzz::TestCore;

namespace {

struct Cut {
  std::vector<std::vector<uint8_t>> frames;
  uint64_t bad = 0;
};

Cut Model(const uint8_t* s, size_t total) {
  Cut c;
  size_t p = 0;
  while (total - p >= 2) {
    uint16_t h = static_cast<uint16_t>(s[p] << 8 | s[p + 1]);
    size_t len = (h & 0xf000) ? 0 : (h & 0x0fff);
    if (!(h & 0xf000) && (len == 0 || len > vtun::kMaxFramePayload)) {
      c.bad++;
      p += 2 + len;
      if (p >= total) break;
      continue;
    }
    if (total - p < 2 + len) break;
    c.frames.emplace_back(s + p, s + p + 2 + len);
    p += 2 + len;
  }
  return c;
}

enum class First { kReceive, kLone, kCompact };

Cut ThroughEngine(const uint8_t* stream, size_t total, const std::vector<size_t>& plan, First first) {
  VtunOptions o;
  VtunTransform vtun(o);
  TestCore core(&vtun);
  StreamFeeder feeder(core, vtun.StreamFramer());
  Cut c;
  Message msgs[64];
  auto take = [&](int n) {
    for (int i = 0; i < n; i++) {
      FUZZ_CHECK(msgs[i].len >= 2 && msgs[i].len <= 2 + vtun::kMaxFramePayload, "a frame of %zu bytes", msgs[i].len);
      c.frames.emplace_back(msgs[i].data, msgs[i].data + msgs[i].len);
    }
  };
  auto drain = [&] {
    for (;;) {
      if (first != First::kReceive) {
        const int one = first == First::kLone ? feeder.ReceiveOne(msgs) : feeder.CompactOne(msgs);
        FUZZ_CHECK(one == 1 || one == 0 || one == -1 || one == kNotAlone, "the lone read returned %d", one);
        if (one == 1) {
          take(1);
          continue;
        }
        if (one != kNotAlone) return;  // nothing now, or ended
      }
      int n = feeder.Receive(msgs, 64);
      if (n < 0) return;
      FUZZ_CHECK(n > 0 && n <= 64, "Receive returned %d", n);
      take(n);
    }
  };
  fuzz::FeedByPlan(feeder, stream, total, plan, [&](size_t fed) {
    drain();
    FUZZ_CHECK(core.EndReason().empty(), "ended (%s) after %zu of %zu bytes", core.EndReason().c_str(), fed, total);
    return true;
  });
  feeder.Close();
  drain();
  FUZZ_CHECK(core.EndReason() == kEndEof, "at EOF: ended with \"%s\"", core.EndReason().c_str());
  c.bad = core.c.badFrames.load();
  FUZZ_CHECK(core.c.rxFrames.load() == c.frames.size() + c.bad, "rxFrames %llu, %zu frames + %llu bad",
             static_cast<unsigned long long>(core.c.rxFrames.load()), c.frames.size(), static_cast<unsigned long long>(c.bad));
  FUZZ_CHECK(core.c.rxWireBytes.load() == total, "rxWireBytes %llu of %zu", static_cast<unsigned long long>(core.c.rxWireBytes.load()), total);
  return c;
}

void Same(const Cut& model, const Cut& got, const char* how, size_t total) {
  FUZZ_CHECK(model.frames.size() == got.frames.size(), "%s: %zu frames, the model %zu (stream of %zu bytes)", how, got.frames.size(),
             model.frames.size(), total);
  for (size_t i = 0; i < model.frames.size(); i++) {
    FUZZ_CHECK(model.frames[i] == got.frames[i], "%s: frame %zu differs (%zu vs %zu bytes)", how, i, got.frames[i].size(), model.frames[i].size());
  }
  FUZZ_CHECK(model.bad == got.bad, "%s: %llu bad frames, the model %llu", how, static_cast<unsigned long long>(got.bad),
             static_cast<unsigned long long>(model.bad));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t planLen = std::min<size_t>(data[0] % 32, size - 1);
  const uint8_t* stream = data + 1;
  size_t total = size - 1 - planLen;
  std::vector<size_t> plan = fuzz::ReadPlan(stream + total, planLen);

  Cut model = Model(stream, total);
  Same(model, ThroughEngine(stream, total, {0}, First::kReceive), "in one read", total);
  Same(model, ThroughEngine(stream, total, {0}, First::kLone), "in one read, the lone path's read first", total);
  Same(model, ThroughEngine(stream, total, {0}, First::kCompact), "in one read, the compact lone path's read first", total);
  if (!plan.empty()) {
    Same(model, ThroughEngine(stream, total, plan, First::kReceive), "in reads of the plan", total);
    Same(model, ThroughEngine(stream, total, plan, First::kLone), "in reads of the plan, the lone path's read first", total);
    Same(model, ThroughEngine(stream, total, plan, First::kCompact), "in reads of the plan, the compact lone path's read first", total);
  }
  return 0;
}
