// vtun_tcp_split: the TCP frame splitter (FrameCutter over vtun::NextFrame, frame_split.h and
// vtun_frame.h) driven the way the pump's receive loop drives it: reads of any size into a
// fixed receive buffer, unconsumed bytes moved to the front between reads. Input: byte 0 % 32
// says how many of the last bytes are the read plan (each plan byte is one read's size, used in
// turn: 0 = as much as fits, else 1..600); the bytes between are the stream.
// Checked: the frames and skipped bad frames are the same whatever the reads were (compared with
// the stream cut in one piece); they tile the stream from its first byte without gaps or
// overlaps; every frame's length is what its header says; at most one frame's worth of bytes is
// left over at the end; the receive buffer never overflows.
#include <cstring>
#include <vector>

#include "../../../native/src/frame_split.h"
#include "../../../native/src/vtun_frame.h"
#include "fuzz_common.h"

using namespace tund;

namespace {

struct Event {
  Split::Kind kind;
  size_t at;   // stream offset
  size_t len;
  bool operator==(const Event& o) const { return kind == o.kind && at == o.at && len == o.len; }
};

// The largest frame the rule can ask for: a header and kMaxFramePayload bytes.
constexpr size_t kMaxFrame = 2 + vtun::kMaxFramePayload;
// The longest bad frame: a header and the largest 12-bit length.
constexpr size_t kMaxSkip = 2 + vtun::kFsizeMask;
constexpr size_t kBufSize = 2 * kMaxFrame;  // the pump's is larger; small here to stress the moves

// Cuts `stream` read by read (plan: sizes, cycled; 0 = as much as fits). Returns the events and
// the number of bytes left unconsumed.
std::vector<Event> Cut(const uint8_t* stream, size_t total, const std::vector<size_t>& plan, size_t* left) {
  std::vector<Event> events;
  std::vector<uint8_t> buf(kBufSize);
  FrameCutter cutter(vtun::NextFrame);
  size_t have = 0, off = 0, base = 0, fed = 0, step = 0;  // base: stream offset of buf[0]
  for (;;) {
    for (;;) {
      size_t at = 0;
      size_t before = off;
      Split s = cutter.Next(buf.data(), have, &off, &at);
      FUZZ_CHECK(off <= have && off >= before, "offset moved from %zu to %zu (have %zu)", before, off, have);
      if (s.kind == Split::More) break;
      if (s.kind == Split::Skip) {
        FUZZ_CHECK(s.len >= 2, "skip of %zu bytes", s.len);
        events.push_back({Split::Skip, base + off, s.len});
        continue;
      }
      FUZZ_CHECK(at + s.len <= have && s.len >= 2, "frame [%zu, +%zu) past the %zu bytes read", at, s.len, have);
      uint16_t h = vtun::FrameHeader(buf.data() + at);
      size_t expect = (h & 0xf000) ? 2 : 2 + (h & vtun::kFsizeMask);
      FUZZ_CHECK(s.len == expect, "header %04x but a frame of %zu bytes", h, s.len);
      events.push_back({Split::Frame, base + at, s.len});
    }
    if (off > 0) {
      std::memmove(buf.data(), buf.data() + off, have - off);
      have -= off;
      base += off;
      off = 0;
    }
    if (fed == total) break;
    FUZZ_CHECK(have < buf.size(), "receive buffer full (%zu bytes) without a frame", have);
    size_t want = plan.empty() ? 0 : plan[step++ % plan.size()];
    size_t room = buf.size() - have;
    size_t n = std::min({want == 0 ? room : want, room, total - fed});
    std::memcpy(buf.data() + have, stream + fed, n);
    have += n;
    fed += n;
  }
  *left = have + cutter.PendingSkip();
  return events;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  size_t planLen = std::min<size_t>(data[0] % 32, size - 1);
  const uint8_t* stream = data + 1;
  size_t total = size - 1 - planLen;
  std::vector<size_t> plan;
  for (size_t i = 0; i < planLen; i++) plan.push_back(stream[total + i] == 0 ? 0 : 1 + (stream[total + i] * 37u) % 600);

  size_t leftWhole = 0, leftChunked = 0;
  std::vector<Event> whole = Cut(stream, total, {0}, &leftWhole);
  std::vector<Event> chunked = Cut(stream, total, plan, &leftChunked);
  FUZZ_CHECK(whole.size() == chunked.size() && whole == chunked,
             "%zu events in one read, %zu in reads of the plan (stream of %zu bytes)", whole.size(), chunked.size(), total);
  FUZZ_CHECK(leftWhole == leftChunked, "%zu vs %zu bytes left", leftWhole, leftChunked);

  // The events tile the stream from byte 0.
  size_t next = 0;
  for (const Event& e : whole) {
    FUZZ_CHECK(e.at == next, "an event at %zu, expected %zu", e.at, next);
    next = e.at + e.len;
  }
  // Only a bad frame, whose bytes are thrown away as they come, may end past the stream.
  FUZZ_CHECK(next <= total || (!whole.empty() && whole.back().kind == Split::Skip && whole.back().len <= kMaxSkip),
             "events end at %zu, the stream at %zu", next, total);
  if (next <= total) {
    // What is left is an incomplete frame: shorter than the largest frame.
    FUZZ_CHECK(total - next < kMaxFrame, "%zu bytes left unsplit", total - next);
  }
  return 0;
}
