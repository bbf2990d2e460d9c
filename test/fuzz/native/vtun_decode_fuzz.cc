// vtun_decode: what a VTun peer receives, through the engine's receive path: the TCP transport
// cutting the stream with VtunTransform as Framer, or UDP datagrams, then VtunTransform::Open
// (control frames, the datagram length check, nat_hack's choice of peer, the module chain of
// vtun_codec: decryption, decompression, resync) delivering packets to the device.
// Input: byte 0 picks the module chain (fuzz_common.h: one of 18 ciphers x 3 compressions);
// byte 1: the compression level in its low bits, 0x80 UDP (else TCP), 0x40 nat_hack (UDP: the
// socket awaits its peer), 0x20 a stream device (pipe/tty: 1-byte packets are data). The rest:
// TCP, the byte stream after the handshake, in one read; UDP, datagrams, each a 2-byte
// big-endian length (of 13 bits) and that many bytes.
// Checked: delivered packets are non-empty, at most kMaxDecoded bytes, and a packet delivered
// in place lies inside its message; only a codec error ends the session (TCP: then also EOF),
// never a CONN_CLOSE or broken frame from a stranger while nat_hack awaits its peer; nat_hack
// picks a peer once, before anything is delivered; a 1-byte packet never reaches a tun/tap.
#include <cstring>
#include <memory>
#include <vector>

#include "../../../native/src/engine/vtun_transform.h"
#include "engine_fixture.h"

using namespace tund;
using namespace tund::engine;
using fuzz::CollectRx;
using fuzz::StreamFeeder;
using fuzz::TestCore;

namespace {

void OpenAll(VtunTransform& vtun, TestCore& core, CollectRx& rx, Message* msgs, int n, const VtunOptions& o) {
  for (int i = 0; i < n && core.EndReason().empty(); i++) {
    const bool awaiting = rx.AwaitingPeer();
    const size_t before = rx.packets.size();
    const uint16_t h = msgs[i].len >= 2 ? static_cast<uint16_t>(msgs[i].data[0] << 8 | msgs[i].data[1]) : 0;
    rx.Opening(msgs[i]);
    vtun.Open(msgs[i], rx);
    const std::string ended = core.EndReason();
    if (!ended.empty()) {
      FUZZ_CHECK(ended == "codec_error" || (ended == "peer_closed" && (h & 0xf000) == vtun::kConnClose && !awaiting),
                 "ended with %s on a frame %04x (%zu bytes)%s", ended.c_str(), h, msgs[i].len, awaiting ? " while awaiting the peer" : "");
      FUZZ_CHECK(!awaiting || ended != "codec_error", "a stranger's broken frame ended the session (%s)", fuzz::Describe(o.codec).c_str());
    }
    if (awaiting && rx.packets.size() > before) FUZZ_CHECK(rx.pins == 1, "delivered while awaiting the peer, without picking it");
    for (size_t k = before; k < rx.packets.size(); k++) {
      const size_t len = rx.packets[k].size();
      FUZZ_CHECK(len >= 1 && len <= vtun::kMaxDecoded, "delivered %zu bytes", len);
      FUZZ_CHECK(len > 1 || o.streamDevice, "a 1-byte packet delivered to a tun/tap");
      volatile uint8_t sink = 0;  // touch every byte (ASan checks the whole range)
      for (uint8_t b : rx.packets[k]) sink ^= b;
      (void)sink;
    }
  }
  FUZZ_CHECK(rx.pins <= 1, "the peer picked %d times", rx.pins);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  VtunOptions o;
  o.codec = fuzz::ChainConfig(data[0], data[1] & 0x1f);
  o.tcp = !(data[1] & 0x80);
  o.natHack = !o.tcp && (data[1] & 0x40);
  o.streamDevice = data[1] & 0x20;
  FUZZ_CHECK(vtun::ValidateConfig(o.codec).empty(), "%s", fuzz::Describe(o.codec).c_str());
  VtunTransform vtun(o);
  TestCore core(&vtun);
  vtun.Start(core);
  CollectRx rx(core, vtun.MaxDelivered(), o.natHack);
  const uint8_t* p = data + 2;
  size_t left = size - 2;
  Message msgs[64];
  if (o.tcp) {
    StreamFeeder feeder(core, vtun.StreamFramer());
    if (left) feeder.Feed(p, left);
    feeder.Close();
    for (;;) {
      int n = feeder.Receive(msgs, 64);
      if (n < 0) break;
      OpenAll(vtun, core, rx, msgs, n, o);
    }
    const std::string ended = core.EndReason();
    FUZZ_CHECK(ended == "eof" || ended == "codec_error" || ended == "peer_closed", "TCP stream ended with \"%s\"", ended.c_str());
    return 0;
  }
  // UDP: each datagram in a buffer of its own size (ASan sees a read past it)
  Endpoint from;
  FUZZ_CHECK(Endpoint::Parse("198.18.7.1", 5000, &from), "Endpoint::Parse");
  while (left >= 2 && core.EndReason().empty()) {
    size_t len = std::min<size_t>((p[0] << 8 | p[1]) & 0x1fff, left - 2);
    std::vector<uint8_t> dgram(p + 2, p + 2 + len);
    p += 2 + len;
    left -= 2 + len;
    Message m;
    m.data = dgram.data();
    m.len = dgram.size();
    m.peer = &from;
    OpenAll(vtun, core, rx, &m, 1, o);
  }
  return 0;
}
