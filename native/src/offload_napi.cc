// The offload surgery of engine/offload.h for unit tests (test/unit/offload.test.ts): crafted
// packets in, what the packet device would hand to a transform or write to the kernel out. Not a
// packet path: nothing here runs per packet in a session.
#include <napi.h>

#include <cstring>

#include "engine/offload.h"

namespace tund {

namespace {

using engine::offload::Coalescer;
using engine::offload::Segmenter;
using engine::offload::VnetHdr;

Napi::Value Fail(Napi::Env env, const std::string& what) {
  Napi::TypeError::New(env, what).ThrowAsJavaScriptException();
  return env.Undefined();
}

// offloadSegment(read: Buffer /* virtio_net_hdr + packet, as one tun read */, cap = 65535)
//   -> Buffer[]: the packets a transform gets (one for a packet without GSO, its checksum
//      completed when the header asks for it). Throws on what the device would drop.
Napi::Value OffloadSegment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) return Fail(env, "offloadSegment(read: Buffer, cap?: number)");
  auto in = info[0].As<Napi::Buffer<uint8_t>>();
  size_t cap = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().Uint32Value() : 65535;
  if (in.Length() <= engine::offload::kVnetHdrLen) return Fail(env, "offloadSegment: shorter than a virtio_net_hdr");
  const VnetHdr h = engine::offload::ReadVnetHdr(in.Data());
  std::vector<uint8_t> pkt(in.Data() + engine::offload::kVnetHdrLen, in.Data() + in.Length());
  Napi::Array out = Napi::Array::New(env);
  if ((h.gsoType & ~engine::offload::kGsoEcn) == engine::offload::kGsoNone) {
    if ((h.flags & engine::offload::kNeedsCsum) &&
        !engine::offload::CompleteChecksum(pkt.data(), pkt.size(), h.csumStart, h.csumOffset)) {
      return Fail(env, "offloadSegment: checksum offsets beyond the packet");
    }
    out.Set(0u, Napi::Buffer<uint8_t>::Copy(env, pkt.data(), pkt.size()));
    return out;
  }
  Segmenter seg;
  const char* err = nullptr;
  if (!seg.Load(pkt.data(), pkt.size(), h, &err)) return Fail(env, std::string("offloadSegment: ") + err);
  std::vector<uint8_t> dst(cap);
  for (size_t i = 0; i < seg.Count(); i++) {
    size_t n = seg.Cut(i, dst.data(), cap);
    if (n == 0) return Fail(env, "offloadSegment: a segment larger than cap");
    out.Set(static_cast<uint32_t>(i), Napi::Buffer<uint8_t>::Copy(env, dst.data(), n));
  }
  return out;
}

// offloadCoalesce(packets: Buffer[], udp?: boolean, trustChecksums?: boolean) -> { write: Buffer
//   /* virtio_net_hdr + bytes */, members: number[] }[]: the device writes one batch becomes, in
//   order (udp: UDP flows too; trustChecksums: authenticated packets, checksums not verified).
Napi::Value OffloadCoalesce(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) return Fail(env, "offloadCoalesce(packets: Buffer[], udp?: boolean, trustChecksums?: boolean)");
  Napi::Array arr = info[0].As<Napi::Array>();
  std::vector<std::vector<uint8_t>> copies;
  for (uint32_t i = 0; i < arr.Length(); i++) {
    Napi::Value v = arr.Get(i);
    if (!v.IsBuffer()) return Fail(env, "offloadCoalesce: packets[" + std::to_string(i) + "] is not a Buffer");
    auto b = v.As<Napi::Buffer<uint8_t>>();
    copies.emplace_back(b.Data(), b.Data() + b.Length());
  }
  std::vector<uint8_t*> data;
  std::vector<size_t> lens;
  for (auto& c : copies) {
    data.push_back(c.data());
    lens.push_back(c.size());
  }
  Coalescer co;
  co.SetUdp(info.Length() > 1 && info[1].ToBoolean().Value());
  co.SetTrustChecksums(info.Length() > 2 && info[2].ToBoolean().Value());
  co.Plan(data.data(), lens.data(), data.size());
  Napi::Array out = Napi::Array::New(env);
  for (size_t k = 0; k < co.Size(); k++) {
    const Coalescer::Write& w = co[k];
    std::vector<uint8_t> bytes;
    for (int i = 0; i < w.iovCount; i++) {
      const uint8_t* p = static_cast<const uint8_t*>(w.iov[i].iov_base);
      bytes.insert(bytes.end(), p, p + w.iov[i].iov_len);
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("write", Napi::Buffer<uint8_t>::Copy(env, bytes.data(), bytes.size()));
    Napi::Array members = Napi::Array::New(env);
    for (size_t m = 0; m < w.count; m++) members.Set(static_cast<uint32_t>(m), Napi::Number::New(env, w.members[m]));
    o.Set("members", members);
    out.Set(static_cast<uint32_t>(k), o);
  }
  return out;
}

// offloadChecksumValid(packet: Buffer) -> boolean: an IPv4/IPv6 TCP/UDP packet whose checksum verifies.
Napi::Value OffloadChecksumValid(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) return Fail(env, "offloadChecksumValid(packet: Buffer)");
  auto b = info[0].As<Napi::Buffer<uint8_t>>();
  return Napi::Boolean::New(env, engine::offload::L4ChecksumValid(b.Data(), b.Length()));
}

}  // namespace

Napi::Object InitOffload(Napi::Env env, Napi::Object exports) {
  exports.Set("offloadSegment", Napi::Function::New(env, OffloadSegment));
  exports.Set("offloadCoalesce", Napi::Function::New(env, OffloadCoalesce));
  exports.Set("offloadChecksumValid", Napi::Function::New(env, OffloadChecksumValid));
  return exports;
}

}  // namespace tund
