// VTun module chain: see vtun_codec.h and docs/vtun-protocol.md §9 and §10.
#include "vtun_codec.h"
#include "blowfish_ecb.h"
#include "mono_clock.h"

#include <lzo/lzo1x.h>
#include <openssl/blowfish.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <zlib.h>

#include <cstring>
#include <mutex>

namespace tund {
namespace vtun {

namespace {

bool LzoReady() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] { ok = lzo_init() == LZO_E_OK; });
  return ok;
}

void Random(uint8_t* p, size_t n) {
  if (n == 0) return;
  if (RAND_bytes(p, static_cast<int>(n)) != 1) {
    // Padding filler and IVs only; fall back to something non-constant rather than failing.
    static std::atomic<uint64_t> ctr{0x9e3779b97f4a7c15ULL};
    for (size_t i = 0; i < n; i++) p[i] = static_cast<uint8_t>((ctr.fetch_add(0x9e3779b97f4a7c15ULL) >> 29) & 0xff);
  }
}

enum class Algo { None, Legacy, Blowfish, Aes };
enum class Mode { Ecb, Cbc, Cfb, Ofb };

struct CipherSpec {
  Algo algo = Algo::None;
  Mode mode = Mode::Ecb;
  size_t keyBytes = 0;
  size_t block = 0;
};

bool LookupCipher(int n, CipherSpec* s) {
  if (n == 0) {
    *s = CipherSpec{};
    return true;
  }
  if (n == 999) {
    *s = CipherSpec{Algo::Legacy, Mode::Ecb, 16, 8};
    return true;
  }
  if (n < 1 || n > 16) return false;
  int i = n - 1;  // 0..15
  s->algo = i < 8 ? Algo::Blowfish : Algo::Aes;
  s->keyBytes = (i % 8) < 4 ? 16 : 32;
  static const Mode modes[4] = {Mode::Ecb, Mode::Cbc, Mode::Cfb, Mode::Ofb};
  s->mode = modes[i % 4];
  s->block = s->algo == Algo::Blowfish ? 8 : 16;
  return true;
}

const EVP_CIPHER* AesCipher(size_t keyBytes, Mode mode) {
  bool k256 = keyBytes == 32;
  switch (mode) {
    case Mode::Ecb: return k256 ? EVP_aes_256_ecb() : EVP_aes_128_ecb();
    case Mode::Cbc: return k256 ? EVP_aes_256_cbc() : EVP_aes_128_cbc();
    case Mode::Cfb: return k256 ? EVP_aes_256_cfb128() : EVP_aes_128_cfb128();
    case Mode::Ofb: return k256 ? EVP_aes_256_ofb() : EVP_aes_128_ofb();
  }
  return nullptr;
}

}  // namespace

size_t CipherKeyBytes(int cipher) {
  CipherSpec s;
  return LookupCipher(cipher, &s) ? s.keyBytes : 0;
}

std::string ValidateConfig(const CodecConfig& cfg) {
  CipherSpec s;
  if (!LookupCipher(cfg.cipher, &s)) return "unknown VTun cipher number " + std::to_string(cfg.cipher) + " (expected 0, 1..16 or 999)";
  if (cfg.key.size() != s.keyBytes) {
    return "cipher " + std::to_string(cfg.cipher) + " needs a " + std::to_string(s.keyBytes) + "-byte key, got " +
           std::to_string(cfg.key.size());
  }
  if (cfg.compression != Compression::None && (cfg.level < 0 || cfg.level > 9)) {
    return "compression level " + std::to_string(cfg.level) + " out of range (expected 0..9)";
  }
  if (cfg.compression == Compression::Lzo && !LzoReady()) return "lzo_init() failed";
  return "";
}

// ---------------------------------------------------------------------------------------------
// Compression

class CompressorImpl {
 public:
  CompressorImpl(Compression kind, int level, bool encoder) : kind_(kind), level_(level), encoder_(encoder) {
    if (kind_ == Compression::Lzo && encoder_) {
      wrk_.resize(level_ == 9 ? LZO1X_999_MEM_COMPRESS : LZO1X_1_15_MEM_COMPRESS);
    }
    if (kind_ == Compression::Zlib) {
      std::memset(&z_, 0, sizeof z_);
      zok_ = (encoder_ ? deflateInit(&z_, level_) : inflateInit(&z_)) == Z_OK;
    }
  }
  ~CompressorImpl() {
    if (kind_ == Compression::Zlib && zok_) {
      if (encoder_) deflateEnd(&z_);
      else inflateEnd(&z_);
    }
  }
  // out has room for outCap bytes. Returns the length or -1.
  int Compress(const uint8_t* in, size_t len, uint8_t* out, size_t outCap, std::string* error) {
    if (kind_ == Compression::Zlib) return Zlib(in, len, out, outCap, error);
    lzo_uint olen = outCap;
    int r = level_ == 9 ? lzo1x_999_compress(in, len, out, &olen, wrk_.data())
                        : lzo1x_1_15_compress(in, len, out, &olen, wrk_.data());
    if (r != LZO_E_OK) {
      *error = "LZO compression failed (" + std::to_string(r) + ")";
      return -1;
    }
    return static_cast<int>(olen);
  }
  int Decompress(const uint8_t* in, size_t len, uint8_t* out, size_t outCap, std::string* error) {
    if (kind_ == Compression::Zlib) return Zlib(in, len, out, outCap, error);
    lzo_uint olen = outCap;
    int r = lzo1x_decompress_safe(in, len, out, &olen, nullptr);
    if (r != LZO_E_OK) {
      *error = "LZO decompression failed (" + std::to_string(r) + ")";
      return -1;
    }
    return static_cast<int>(olen);
  }

 private:
  // One deflate (encoder) or inflate (decoder) call over the whole input, Z_SYNC_FLUSH: the one
  // zlib stream of this direction. After a failure the stream is unusable, every later call fails.
  int Zlib(const uint8_t* in, size_t len, uint8_t* out, size_t outCap, std::string* error) {
    if (!zok_) {
      *error = encoder_ ? "zlib deflate stream not initialised" : "zlib inflate stream unusable after an earlier error";
      return -1;
    }
    z_.next_in = const_cast<Bytef*>(in);
    z_.avail_in = static_cast<uInt>(len);
    z_.next_out = out;
    z_.avail_out = static_cast<uInt>(outCap);
    int r = encoder_ ? deflate(&z_, Z_SYNC_FLUSH) : inflate(&z_, Z_SYNC_FLUSH);
    // deflate must take it all and leave room (else the output may be cut); inflate may stop
    // with Z_BUF_ERROR when it needed no more input
    bool ok = encoder_ ? r == Z_OK && z_.avail_in == 0 && z_.avail_out != 0
                       : (r == Z_OK || r == Z_BUF_ERROR) && z_.avail_in == 0;
    if (!ok) {
      *error = encoder_ ? "zlib deflate failed (" + std::to_string(r) + ")"
                        : std::string("zlib inflate failed: ") + (z_.msg ? z_.msg : std::to_string(r));
      zok_ = false;
      if (encoder_) deflateEnd(&z_);
      else inflateEnd(&z_);
      return -1;
    }
    return static_cast<int>(outCap - z_.avail_out);
  }

  Compression kind_;
  int level_;
  bool encoder_;
  std::vector<uint8_t> wrk_;
  z_stream z_;
  bool zok_ = false;
};

// ---------------------------------------------------------------------------------------------
// Encryption

namespace {
constexpr int kMaxGibberish = 10;
constexpr int64_t kMaxGibberishMs = 2000;
constexpr int64_t kMinReinitIntervalMs = 100;
}  // namespace

class CipherImpl {
 public:
  CipherImpl(const CipherSpec& spec, const std::string& key, bool encoder, std::shared_ptr<ResyncSignal> sync)
      : s_(spec), encoder_(encoder), sync_(std::move(sync)) {
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    if (s_.algo == Algo::Legacy || s_.algo == Algo::Blowfish) {
      BF_set_key(&bf_, static_cast<int>(key.size()), k);
    } else if (s_.algo == Algo::Aes) {
      ecb_ = EVP_CIPHER_CTX_new();
      EVP_CipherInit_ex(ecb_, AesCipher(s_.keyBytes, Mode::Ecb), nullptr, k, nullptr, encoder_ ? 1 : 0);
      EVP_CIPHER_CTX_set_padding(ecb_, 0);
      if (s_.mode != Mode::Ecb) {
        stream_ = EVP_CIPHER_CTX_new();
        // Key now, IV when the stream starts.
        EVP_CipherInit_ex(stream_, AesCipher(s_.keyBytes, s_.mode), nullptr, k, nullptr, encoder_ ? 1 : 0);
        EVP_CIPHER_CTX_set_padding(stream_, 0);
      }
    }
    if (encoder_) {
      uint8_t r[4];
      Random(r, 4);
      seq_ = (uint32_t(r[0]) << 24) | (uint32_t(r[1]) << 16) | (uint32_t(r[2]) << 8) | r[3];
    }
  }
  ~CipherImpl() {
    if (ecb_) EVP_CIPHER_CTX_free(ecb_);
    if (stream_) EVP_CIPHER_CTX_free(stream_);
  }

  bool Identity() const { return s_.algo == Algo::None; }

  // Encrypts in[0..len) into out; returns the length or -1.
  int Encrypt(const uint8_t* in, size_t len, uint8_t* out, std::string* error) {
    const size_t B = s_.block;
    switch (s_.algo) {
      case Algo::None:
        std::memcpy(out, in, len);
        return static_cast<int>(len);
      case Algo::Legacy: {
        size_t pad = 8 - (len % 8);
        out[0] = static_cast<uint8_t>(pad);
        std::memset(out + 1, 0, pad - 1);
        std::memcpy(out + pad, in, len);
        size_t total = len + pad;
        if (!Ecb(out, total, error)) return -1;
        return static_cast<int>(total);
      }
      default:
        break;
    }
    if (s_.mode == Mode::Ecb) {
      std::memcpy(out, in, len);
      size_t total = Pad(out, len);
      if (!Ecb(out, total, error)) return -1;
      return static_cast<int>(total);
    }
    // Stream modes (10.5): [side-band] + stream(header block + packet + padding).
    ApplySyncSignals();
    size_t pos = 0;
    if (encState_ == EncState::Init) {
      uint8_t* sb = out;
      std::memcpy(sb, "ivec", 4);
      Random(sb + 4, B);           // the IV
      Random(sb + 4 + B, B - 4);   // filler
      if (!StreamInit(sb + 4, error)) return -1;
      if (!Ecb(sb, 2 * B, error)) return -1;
      pos = 2 * B;
      encState_ = EncState::Sequence;
    }
    uint8_t* hdr = out + pos;
    std::memset(hdr, 0, B);
    std::memcpy(hdr, sync_ && sync_->wantRsyn.load() ? "rsyn" : "seq#", 4);
    hdr[4] = static_cast<uint8_t>(seq_ >> 24);
    hdr[5] = static_cast<uint8_t>(seq_ >> 16);
    hdr[6] = static_cast<uint8_t>(seq_ >> 8);
    hdr[7] = static_cast<uint8_t>(seq_);
    seq_++;
    std::memcpy(hdr + B, in, len);
    size_t body = Pad(hdr, B + len);
    if (!Stream(hdr, body, error)) return -1;
    return static_cast<int>(pos + body);
  }

  // Decrypts in place. Ok: *out/*outLen set (may be 0 length -> caller drops).
  DecodeResult Decrypt(uint8_t* in, size_t len, uint8_t** out, size_t* outLen, std::string* error) {
    const size_t B = s_.block;
    switch (s_.algo) {
      case Algo::None:
        *out = in;
        *outLen = len;
        return DecodeResult::Ok;
      case Algo::Legacy: {
        if (len == 0 || len % 8 != 0) return DecodeResult::Drop;
        if (!Ecb(in, len, error)) return DecodeResult::Drop;
        size_t p = in[0];
        if (p < 1 || p > 8 || p >= len) return DecodeResult::Drop;
        *out = in + p;
        *outLen = len - p;
        return DecodeResult::Ok;
      }
      default:
        break;
    }
    if (s_.mode == Mode::Ecb) {
      if (len == 0 || len % B != 0) return DecodeResult::Drop;
      if (!Ecb(in, len, error)) return DecodeResult::Drop;
      return Unpad(in, len, out, outLen);
    }
    uint8_t* p = in;
    size_t n = len;
    if (decState_ == DecState::Sequence && n >= 3 * B) {
      // A peer may start a new stream at any time (it re-initialised after our "rsyn", or after
      // its own loss of sync): recognise its side-band instead of decrypting it as stream data.
      uint8_t peek[32];
      std::memcpy(peek, p, 2 * B);
      if (Ecb(peek, 2 * B, error) && std::memcmp(peek, "ivec", 4) == 0) decState_ = DecState::Init;
    }
    if (decState_ == DecState::Init) {
      bool ok = false;
      if (n >= 2 * B) {
        if (!Ecb(p, 2 * B, error)) return DecodeResult::Drop;
        ok = std::memcmp(p, "ivec", 4) == 0;
      }
      if (!ok) {
        // Garbage while we wait for a side-band: ask the peer for a new one (10.5.4).
        int64_t now = MonotonicMs();
        if (gibberish_++ == 0) {
          gibStartMs_ = now;
          if (sync_) sync_->wantRsyn = true;
        }
        if (gibberish_ >= kMaxGibberish || now - gibStartMs_ >= kMaxGibberishMs) {
          // Nothing useful for a while: maybe the peer lost our stream too; start a new one.
          gibberish_ = 0;
          if (sync_) sync_->reinit = true;
        }
        return DecodeResult::Drop;
      }
      if (!StreamInit(p + 4, error)) return DecodeResult::Drop;
      decState_ = DecState::Sequence;
      gibberish_ = 0;
      badRun_ = 0;
      if (sync_) sync_->wantRsyn = false;
      p += 2 * B;
      n -= 2 * B;
    }
    // Not a frame of the stream (too short, or not whole blocks for CBC): drop it without feeding
    // it to the stream, whose state therefore stays right.
    if (n < 2 * B || n % B != 0) return DecodeResult::Drop;
    if (!Stream(p, n, error)) return DecodeResult::Drop;
    if (std::memcmp(p, "seq#", 4) == 0) {
      badRun_ = 0;
    } else if (std::memcmp(p, "rsyn", 4) == 0) {
      badRun_ = 0;
      if (sync_) sync_->reinit = true;
    } else {
      // A lost or reordered datagram before this frame. CBC and full-block CFB resynchronise by
      // themselves after one block (the chaining value is the last cipher block received), so a
      // single bad header block costs only this frame; a second one in a row, or OFB (whose key
      // stream position is now wrong), needs a new stream from the peer (10.5.4).
      if (s_.mode != Mode::Ofb && badRun_++ == 0) return DecodeResult::Drop;
      badRun_ = 0;
      LoseStream();
      return DecodeResult::Drop;
    }
    p += B;
    n -= B;
    if (n == 0 || n % B != 0) return DecodeResult::Drop;
    return Unpad(p, n, out, outLen);
  }

 private:
  enum class EncState { Init, Sequence };
  enum class DecState { Init, Sequence };

  void LoseStream() {
    decState_ = DecState::Init;
    if (sync_) sync_->wantRsyn = true;
  }
  void ApplySyncSignals() {
    if (!sync_ || !sync_->reinit.exchange(false)) return;
    // A peer keeps tagging "rsyn" until our new side-band reaches it: frames already on the way
    // must not restart the stream again and again.
    int64_t now = MonotonicMs();
    if (encState_ != EncState::Init && now - lastReinitMs_ >= kMinReinitIntervalMs) {
      encState_ = EncState::Init;
      lastReinitMs_ = now;
    }
  }

  // PKCS#7-style padding of 10.4 after buf[0..len): returns the padded length.
  size_t Pad(uint8_t* buf, size_t len) {
    const size_t B = s_.block;
    size_t pad = B - (len % B);
    if (pad == B) {
      Random(buf + len, B - 1);
      buf[len + B - 1] = static_cast<uint8_t>(B);
    } else {
      std::memset(buf + len, static_cast<int>(pad), pad);
    }
    return len + pad;
  }
  DecodeResult Unpad(uint8_t* buf, size_t len, uint8_t** out, size_t* outLen) {
    size_t pad = buf[len - 1];
    if (pad < 1 || pad > s_.block || pad >= len) return DecodeResult::Drop;
    *out = buf;
    *outLen = len - pad;
    return DecodeResult::Ok;
  }

  bool Ecb(uint8_t* buf, size_t len, std::string* error) {
    if (s_.algo == Algo::Aes) {
      int outl = 0;
      if (EVP_CipherUpdate(ecb_, buf, &outl, buf, static_cast<int>(len)) != 1 || static_cast<size_t>(outl) != len) {
        *error = "AES-ECB failed";
        return false;
      }
      return true;
    }
    BlowfishEcb(bf_, buf, len, encoder_);
    return true;
  }

  bool StreamInit(const uint8_t* iv, std::string* error) {
    if (s_.algo == Algo::Aes) {
      if (EVP_CipherInit_ex(stream_, nullptr, nullptr, nullptr, iv, encoder_ ? 1 : 0) != 1) {
        *error = "AES stream init failed";
        return false;
      }
      return true;
    }
    std::memcpy(bfIv_, iv, 8);
    bfNum_ = 0;
    return true;
  }

  bool Stream(uint8_t* buf, size_t len, std::string* error) {
    if (s_.algo == Algo::Aes) {
      int outl = 0;
      if (EVP_CipherUpdate(stream_, buf, &outl, buf, static_cast<int>(len)) != 1 || static_cast<size_t>(outl) != len) {
        *error = "AES stream cipher failed";
        return false;
      }
      return true;
    }
    int enc = encoder_ ? BF_ENCRYPT : BF_DECRYPT;
    switch (s_.mode) {
      case Mode::Cbc: BF_cbc_encrypt(buf, buf, static_cast<long>(len), &bf_, bfIv_, enc); break;
      case Mode::Cfb: BF_cfb64_encrypt(buf, buf, static_cast<long>(len), &bf_, bfIv_, &bfNum_, enc); break;
      case Mode::Ofb: BF_ofb64_encrypt(buf, buf, static_cast<long>(len), &bf_, bfIv_, &bfNum_); break;
      default: break;
    }
    return true;
  }

  CipherSpec s_;
  bool encoder_;
  std::shared_ptr<ResyncSignal> sync_;
  BF_KEY bf_{};
  unsigned char bfIv_[8] = {0};
  int bfNum_ = 0;
  EVP_CIPHER_CTX* ecb_ = nullptr;
  EVP_CIPHER_CTX* stream_ = nullptr;
  EncState encState_ = EncState::Init;
  DecState decState_ = DecState::Init;
  uint32_t seq_ = 0;
  int gibberish_ = 0;
  int badRun_ = 0;
  int64_t gibStartMs_ = 0;
  int64_t lastReinitMs_ = -1000000;
};

// ---------------------------------------------------------------------------------------------

namespace {
CipherSpec SpecOf(const CodecConfig& cfg) {
  CipherSpec s;
  LookupCipher(cfg.cipher, &s);
  return s;
}
}  // namespace

ModuleChain::ModuleChain(const CodecConfig& cfg, std::shared_ptr<ResyncSignal> sync, bool encoder, size_t scratch) {
  if (cfg.compression != Compression::None) comp_ = std::make_unique<CompressorImpl>(cfg.compression, cfg.level, encoder);
  cipher_ = std::make_unique<CipherImpl>(SpecOf(cfg), cfg.key, encoder, std::move(sync));
  identity_ = !comp_ && cipher_->Identity();
  scratch_.resize(scratch);
}
ModuleChain::~ModuleChain() = default;

VtunEncoder::VtunEncoder(const CodecConfig& cfg, std::shared_ptr<ResyncSignal> sync)
    : ModuleChain(cfg, std::move(sync), true, kMaxEncoded + 64) {}

int VtunEncoder::Encode(const uint8_t* in, size_t len, uint8_t* out, std::string* error) {
  if (len == 0 || len > kMaxPacket) {
    *error = "packet of " + std::to_string(len) + " bytes (expected 1.." + std::to_string(kMaxPacket) + ")";
    return -1;
  }
  const uint8_t* p = in;
  size_t n = len;
  if (comp_) {
    // Leave room for the cipher's side-band, header block and padding (at most 4 blocks of 16).
    int r = comp_->Compress(p, n, scratch_.data(), kMaxEncoded - 64, error);
    if (r < 0) return -1;
    p = scratch_.data();
    n = static_cast<size_t>(r);
  }
  return cipher_->Encrypt(p, n, out, error);
}

VtunDecoder::VtunDecoder(const CodecConfig& cfg, std::shared_ptr<ResyncSignal> sync)
    : ModuleChain(cfg, std::move(sync), false, kMaxDecoded) {}

DecodeResult VtunDecoder::Decode(uint8_t* in, size_t len, const uint8_t** out, size_t* outLen, std::string* error) {
  uint8_t* p = nullptr;
  size_t n = 0;
  DecodeResult r = cipher_->Decrypt(in, len, &p, &n, error);
  if (r != DecodeResult::Ok) return r;
  if (n == 0) return DecodeResult::Drop;
  if (comp_) {
    int m = comp_->Decompress(p, n, scratch_.data(), scratch_.size(), error);
    if (m < 0) return DecodeResult::Error;
    if (m == 0) return DecodeResult::Drop;
    *out = scratch_.data();
    *outLen = static_cast<size_t>(m);
    return DecodeResult::Ok;
  }
  *out = p;
  *outLen = n;
  return DecodeResult::Ok;
}

}  // namespace vtun
}  // namespace tund
