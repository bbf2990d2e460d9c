// TLS sessions over non-blocking sockets: see tls.h.
#include "tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace tund {
namespace tls {

namespace {

// What OpenSSL's error queue says, as "reason; reason" (the queue is emptied).
std::string QueueText() {
  std::string out;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    const char* reason = ERR_reason_error_string(e);
    std::string text = reason ? reason : "";
    if (text.empty()) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      text = buf;
    }
    if (out.find(text) != std::string::npos) continue;
    if (!out.empty()) out += "; ";
    out += text;
  }
  return out;
}

std::string Problem(const std::string& what) {
  std::string q = QueueText();
  return q.empty() ? what : what + ": " + q;
}

bool Readable(const std::string& path) {
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0;
}

bool IsIpLiteral(const std::string& name) {
  unsigned char buf[16];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 || inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

SSL_CTX* NewCtx(const SSL_METHOD* method, std::string* error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(method);
  if (!ctx) {
    *error = Problem("cannot create a TLS context");
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // a peer that drops the TCP connection without close_notify just ends the stream: the
  // tunnel's own framing tells whole messages from cut ones
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

bool LoadKeyPair(SSL_CTX* ctx, const std::string& cert, const std::string& key, const char* role, std::string* error) {
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1) {
    *error = Problem(std::string("cannot load the ") + role + " certificate \"" + cert + "\"");
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1) {
    *error = Problem(std::string("cannot load the ") + role + " private key \"" + key + "\"");
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    *error = Problem("the private key \"" + key + "\" does not belong to the certificate \"" + cert + "\"");
    return false;
  }
  return true;
}

std::string NameText(X509_NAME* name) {
  if (!name) return "";
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return "";
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string out = n > 0 && data ? std::string(data, static_cast<size_t>(n)) : "";
  BIO_free(bio);
  return out;
}

}  // namespace

const char* StatusName(Status s) {
  switch (s) {
    case Status::Ok: return "ok";
    case Status::WantRead: return "want_read";
    case Status::WantWrite: return "want_write";
    case Status::Closed: return "closed";
    case Status::Error: return "error";
  }
  return "error";
}

std::unique_ptr<Context> Context::NewClient(const ClientConfig& config, std::string* error) {
  SSL_CTX* ctx = NewCtx(TLS_client_method(), error);
  if (!ctx) return nullptr;
  std::unique_ptr<Context> c(new Context(ctx, false));
  c->client_ = config;
  if (config.verify) {
    if (!config.caFile.empty()) {
      if (SSL_CTX_load_verify_locations(ctx, config.caFile.c_str(), nullptr) != 1) {
        *error = Problem("cannot load the CA file \"" + config.caFile + "\"");
        return nullptr;
      }
    } else {
      // Node's OpenSSL looks in its own build-time directory; Debian keeps the system CAs here
      const char* envFile = getenv("SSL_CERT_FILE");
      const char* envDir = getenv("SSL_CERT_DIR");
      std::string file = envFile ? envFile : "/etc/ssl/certs/ca-certificates.crt";
      std::string dir = envDir ? envDir : "/etc/ssl/certs";
      bool haveFile = Readable(file);
      bool haveDir = Readable(dir);
      if ((!haveFile && !haveDir) ||
          SSL_CTX_load_verify_locations(ctx, haveFile ? file.c_str() : nullptr, haveDir ? dir.c_str() : nullptr) != 1) {
        *error = Problem("cannot load the system CA certificates (" + file + ", " + dir + ")") +
                 " (install ca-certificates, or name a CA file)";
        return nullptr;
      }
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  } else {
    SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!config.certFile.empty() || !config.keyFile.empty()) {
    if (config.certFile.empty() || config.keyFile.empty()) {
      *error = "a client certificate needs both the certificate and its private key";
      return nullptr;
    }
    if (!LoadKeyPair(ctx, config.certFile, config.keyFile, "client", error)) return nullptr;
  }
  return c;
}

std::unique_ptr<Context> Context::NewServer(const ServerConfig& config, std::string* error) {
  SSL_CTX* ctx = NewCtx(TLS_server_method(), error);
  if (!ctx) return nullptr;
  std::unique_ptr<Context> c(new Context(ctx, true));
  if (config.certFile.empty() || config.keyFile.empty()) {
    *error = "a TLS server needs a certificate and its private key";
    return nullptr;
  }
  if (!LoadKeyPair(ctx, config.certFile, config.keyFile, "server", error)) return nullptr;
  if (!config.clientCaFile.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, config.clientCaFile.c_str(), nullptr) != 1) {
      *error = Problem("cannot load the client CA file \"" + config.clientCaFile + "\"");
      return nullptr;
    }
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(config.clientCaFile.c_str());
    if (!names) {
      *error = Problem("no CA names in the client CA file \"" + config.clientCaFile + "\"");
      return nullptr;
    }
    SSL_CTX_set_client_CA_list(ctx, names);  // takes ownership
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    // no session resumption: every connection shows its certificate again
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_num_tickets(ctx, 0);
  }
  return c;
}

Context::~Context() { SSL_CTX_free(ctx_); }

std::unique_ptr<Session> Session::New(const Context& context, int fd, std::string* error) {
  ERR_clear_error();
  SSL* ssl = SSL_new(context.Raw());
  if (!ssl) {
    *error = Problem("cannot create a TLS session");
    return nullptr;
  }
  std::unique_ptr<Session> s(new Session(ssl, context.IsServer()));
  if (SSL_set_fd(ssl, fd) != 1) {
    *error = Problem("cannot attach the TLS session to the socket");
    return nullptr;
  }
  if (context.IsServer()) {
    SSL_set_accept_state(ssl);
  } else {
    SSL_set_connect_state(ssl);
    const ClientConfig& c = context.Client();
    if (!c.serverName.empty()) {
      bool ip = IsIpLiteral(c.serverName);
      if (!ip && SSL_set_tlsext_host_name(ssl, c.serverName.c_str()) != 1) {
        *error = Problem("cannot set the server name \"" + c.serverName + "\"");
        return nullptr;
      }
      if (c.verify) {
        int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), c.serverName.c_str())
                    : SSL_set1_host(ssl, c.serverName.c_str());
        if (ok != 1) {
          *error = Problem("cannot check certificates for \"" + c.serverName + "\"");
          return nullptr;
        }
      }
    } else if (c.verify) {
      *error = "verifying the server needs its name";
      return nullptr;
    }
  }
  return s;
}

Session::~Session() { SSL_free(ssl_); }

Status Session::Fail(int ret, const char* what) {
  int saved = errno;
  int e = SSL_get_error(ssl_, ret);
  switch (e) {
    case SSL_ERROR_WANT_READ:
      return Status::WantRead;
    case SSL_ERROR_WANT_WRITE:
      return Status::WantWrite;
    case SSL_ERROR_ZERO_RETURN:
      return Status::Closed;
    case SSL_ERROR_SYSCALL: {
      std::string q = QueueText();
      if (q.empty() && saved == 0) return Status::Closed;
      error_ = std::string(what) + ": " + (q.empty() ? strerror(saved) : q);
      return Status::Error;
    }
    default: {
      std::string q = QueueText();
      long v = SSL_get_verify_result(ssl_);
      if (v != X509_V_OK) {
        const char* server = server_ ? "client" : "server";
        error_ = std::string(what) + ": the " + server + " certificate was refused: " + X509_verify_cert_error_string(v);
      } else {
        error_ = std::string(what) + ": " + (q.empty() ? "TLS error" : q);
      }
      return Status::Error;
    }
  }
}

Status Session::Handshake() {
  if (done_) return Status::Ok;
  ERR_clear_error();
  errno = 0;
  int r = SSL_do_handshake(ssl_);
  if (r == 1) {
    done_ = true;
    return Status::Ok;
  }
  Status s = Fail(r, "TLS handshake failed");
  // the peer closing in the middle of a handshake is a failure, not a clean end
  if (s == Status::Closed) {
    error_ = "TLS handshake failed: the peer closed the connection";
    return Status::Error;
  }
  return s;
}

Status Session::Read(uint8_t* buf, size_t len, size_t* n) {
  *n = 0;
  ERR_clear_error();
  errno = 0;
  size_t got = 0;
  int r = SSL_read_ex(ssl_, buf, len, &got);
  if (r == 1) {
    *n = got;
    return Status::Ok;
  }
  return Fail(r, "TLS read failed");
}

Status Session::Write(const uint8_t* buf, size_t len, size_t* n) {
  *n = 0;
  if (len == 0) return Status::Ok;
  ERR_clear_error();
  errno = 0;
  size_t put = 0;
  int r = SSL_write_ex(ssl_, buf, len, &put);
  if (r == 1) {
    *n = put;
    return Status::Ok;
  }
  return Fail(r, "TLS write failed");
}

Status Session::Shutdown() {
  if (shutdownSent_) return Status::Ok;
  ERR_clear_error();
  errno = 0;
  int r = SSL_shutdown(ssl_);
  if (r >= 0) {
    // 0: our close_notify is out (the peer's may follow); 1: both are done
    shutdownSent_ = true;
    return Status::Ok;
  }
  return Fail(r, "TLS shutdown failed");
}

size_t Session::Pending() const { return static_cast<size_t>(SSL_pending(ssl_)); }

std::string Session::PeerSubject() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  return cert ? NameText(X509_get_subject_name(cert)) : "";
}

std::string Session::PeerIssuer() const {
  X509* cert = SSL_get0_peer_certificate(ssl_);
  return cert ? NameText(X509_get_issuer_name(cert)) : "";
}

std::string Session::Protocol() const { return done_ ? SSL_get_version(ssl_) : ""; }

std::string Session::Cipher() const {
  const SSL_CIPHER* c = SSL_get_current_cipher(ssl_);
  return c ? SSL_CIPHER_get_name(c) : "";
}

}  // namespace tls
}  // namespace tund
