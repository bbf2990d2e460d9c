// TLS over a non-blocking socket, for wss:// tunnels, with the OpenSSL that the node binary
// exports (SSL_*; the addon never links -lssl/-lcrypto). There is no kernel TLS here, so the data
// path itself encrypts: a Session lives on the native thread that owns the socket, from the
// first handshake byte to the last record, and its Read/Write never block.
//
//  - Context: one SSL_CTX, built once and shared by many sessions (read-only after building).
//    A client context verifies the server against the system CAs (SSL_CERT_FILE / SSL_CERT_DIR,
//    else Debian's /etc/ssl/certs) or a CA file, and may present a client certificate. A server
//    context has a certificate chain and key, and may require client certificates signed by a
//    ClientCA.
//  - Session: one connection (SSL over the caller's fd; the fd stays the caller's). Every call
//    returns Ok, WantRead / WantWrite (wait for the fd, then call again with the same
//    arguments), Closed (close_notify or end of stream) or Error (Session::Error() says what,
//    certificate problems included).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;

namespace tund {
namespace tls {

struct ClientConfig {
  // The server's name: sent as SNI (host names only) and matched against its certificate
  // (a host name, or an IP address literal).
  std::string serverName;
  bool verify = true;
  // PEM file of trusted CAs; empty: the system CAs.
  std::string caFile;
  // Optional client certificate (PEM chain) and its key.
  std::string certFile;
  std::string keyFile;
};

struct ServerConfig {
  std::string certFile;  // PEM chain, leaf first
  std::string keyFile;
  // Non-empty: clients must present a certificate signed by one of these CAs (PEM).
  std::string clientCaFile;
};

class Context {
 public:
  // nullptr and *error set when a file cannot be read or does not fit.
  static std::unique_ptr<Context> NewClient(const ClientConfig& config, std::string* error);
  static std::unique_ptr<Context> NewServer(const ServerConfig& config, std::string* error);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  bool IsServer() const { return server_; }
  const ClientConfig& Client() const { return client_; }
  SSL_CTX* Raw() const { return ctx_; }

 private:
  Context(SSL_CTX* ctx, bool server) : ctx_(ctx), server_(server) {}
  SSL_CTX* ctx_;
  bool server_;
  ClientConfig client_;
};

enum class Status { Ok, WantRead, WantWrite, Closed, Error };
const char* StatusName(Status s);

class Session {
 public:
  // A session over `fd` (non-blocking, connected). The context must outlive the session.
  static std::unique_ptr<Session> New(const Context& context, int fd, std::string* error);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Drives the handshake; Ok once it is done (then the peer is verified, if asked for).
  Status Handshake();
  bool HandshakeDone() const { return done_; }
  // Reads up to len bytes of plaintext into buf; *n bytes on Ok (> 0).
  Status Read(uint8_t* buf, size_t len, size_t* n);
  // Writes up to len bytes; *n written on Ok (may be fewer: call again with the rest). After
  // WantRead/WantWrite, call again with the same bytes.
  Status Write(const uint8_t* buf, size_t len, size_t* n);
  // Sends close_notify (once); Ok when sent, WantWrite to call again.
  Status Shutdown();
  // Plaintext already decrypted and waiting (read it before waiting on the fd).
  size_t Pending() const;

  const std::string& Error() const { return error_; }
  // The peer certificate's subject and issuer (RFC 2253, e.g. "CN=client1,O=Example"); empty
  // when the peer sent none.
  std::string PeerSubject() const;
  std::string PeerIssuer() const;
  std::string Protocol() const;  // "TLSv1.3"
  std::string Cipher() const;

 private:
  Session(SSL* ssl, bool server) : ssl_(ssl), server_(server) {}
  Status Fail(int ret, const char* what);
  SSL* ssl_;
  bool server_;
  bool done_ = false;
  bool shutdownSent_ = false;
  std::string error_;
};

}  // namespace tls
}  // namespace tund
