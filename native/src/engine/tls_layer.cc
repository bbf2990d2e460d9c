// See tls_layer.h.
#include "tls_layer.h"

#include <mutex>

namespace tund {
namespace engine {

namespace {

class TlsLayer : public StreamLayer {
 public:
  explicit TlsLayer(std::unique_ptr<tls::Session> s) : s_(std::move(s)) {}

  Result Read(uint8_t* buf, size_t len, size_t* n, std::string* error) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Map(s_->Read(buf, len, n), error);
  }
  Result Write(const uint8_t* buf, size_t len, size_t* n, std::string* error) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Map(s_->Write(buf, len, n), error);
  }

 private:
  Result Map(tls::Status st, std::string* error) {
    switch (st) {
      case tls::Status::Ok:
        return Ok;
      case tls::Status::WantRead:
        return WantRead;
      case tls::Status::WantWrite:
        return WantWrite;
      case tls::Status::Closed:
        return Closed;
      case tls::Status::Error:
        break;
    }
    *error = "tls: " + s_->Error();
    return Failed;
  }

  std::mutex mu_;
  std::unique_ptr<tls::Session> s_;
};

}  // namespace

std::unique_ptr<StreamLayer> MakeTlsLayer(std::unique_ptr<tls::Session> session) {
  return std::make_unique<TlsLayer>(std::move(session));
}

}  // namespace engine
}  // namespace tund
