// Plain and TLS transports for the API server's connections.
#include "api/http_transport.h"

#include <openssl/err.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <thread>

namespace berth::api {

void Transport::shutdown_socket() { ::shutdown(fd(), SHUT_RDWR); }

bool Transport::write_all(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(data.data(), data.size());
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

namespace {

class PlainTransport : public Transport {
 public:
  explicit PlainTransport(UniqueFd fd) : fd_(std::move(fd)) {}
  ssize_t read(void* buf, size_t len) override {
    for (;;) {
      ssize_t n = ::recv(fd_.get(), buf, len, 0);
      if (n >= 0 || errno != EINTR) return n;
    }
  }
  ssize_t write(const void* buf, size_t len) override {
    for (;;) {
      ssize_t n = ::send(fd_.get(), buf, len, MSG_NOSIGNAL);
      if (n >= 0 || errno != EINTR) return n;
    }
  }
  int fd() const override { return fd_.get(); }
  Result<UniqueFd> release() override { return std::move(fd_); }

 private:
  UniqueFd fd_;
};

std::string ssl_error_text() {
  unsigned long e = ERR_get_error();
  if (e == 0) return "connection closed";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

class TlsTransport : public Transport {
 public:
  TlsTransport(UniqueFd fd, SSL* ssl) : fd_(std::move(fd)), ssl_(ssl) {}
  ~TlsTransport() override {
    if (ssl_) SSL_free(ssl_);
  }
  ssize_t read(void* buf, size_t len) override {
    int n = SSL_read(ssl_, buf, static_cast<int>(std::min<size_t>(len, 1 << 30)));
    if (n > 0) return n;
    int err = SSL_get_error(ssl_, n);
    ERR_clear_error();
    if (err == SSL_ERROR_ZERO_RETURN) return 0;
    if (err != SSL_ERROR_SYSCALL || errno == 0) errno = ECONNRESET;
    return err == SSL_ERROR_SYSCALL && n == 0 ? 0 : -1;
  }
  ssize_t write(const void* buf, size_t len) override {
    int n = SSL_write(ssl_, buf, static_cast<int>(std::min<size_t>(len, 1 << 30)));
    if (n > 0) return n;
    ERR_clear_error();
    if (errno == 0) errno = EPIPE;
    return -1;
  }
  int fd() const override { return fd_.get(); }
  // A socketpair: the handler gets one end, a thread copies between the other and TLS until
  // either side closes. Owns this transport from then on.
  Result<UniqueFd> release() override;

 private:
  UniqueFd fd_;
  SSL* ssl_;
};

void pump_tls(std::unique_ptr<TlsTransport> tls, UniqueFd local) {
  pollfd p[2] = {{tls->fd(), POLLIN, 0}, {local.get(), POLLIN, 0}};
  char buf[16384];
  for (;;) {
    if (poll(p, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (p[0].revents) {
      ssize_t n = tls->read(buf, sizeof buf);
      if (n <= 0) {
        ::shutdown(local.get(), SHUT_WR);
        p[0].fd = -1;
      } else if (::send(local.get(), buf, n, MSG_NOSIGNAL) != n) {
        return;
      }
    }
    if (p[1].revents) {
      ssize_t n = ::recv(local.get(), buf, sizeof buf, 0);
      if (n <= 0) return;
      if (!tls->write_all(std::string_view(buf, n))) return;
    }
  }
}

}  // namespace

Result<UniqueFd> TlsTransport::release() {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return Error::sys("socketpair for a hijacked TLS connection");
  UniqueFd mine(sv[0]), theirs(sv[1]);
  auto self = std::make_unique<TlsTransport>(std::move(fd_), ssl_);
  ssl_ = nullptr;
  std::thread(pump_tls, std::move(self), std::move(mine)).detach();
  return theirs;
}

std::unique_ptr<Transport> plain_transport(UniqueFd fd) {
  return std::make_unique<PlainTransport>(std::move(fd));
}

Result<std::unique_ptr<Transport>> tls_transport(UniqueFd fd, SSL_CTX* ctx) {
  SSL* ssl = SSL_new(ctx);
  if (!ssl) return Error::internal("TLS: " + ssl_error_text());
  auto t = std::make_unique<TlsTransport>(std::move(fd), ssl);
  SSL_set_fd(ssl, t->fd());
  if (SSL_accept(ssl) != 1) return Error::invalid("TLS handshake: " + ssl_error_text());
  return std::unique_ptr<Transport>(std::move(t));
}

Result<SSL_CTX*> make_tls_context(const std::string& cert, const std::string& key,
                                  const std::string& ca) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return Error::internal("TLS: " + ssl_error_text());
  auto fail = [&](std::string what) -> Error {
    std::string msg = what + ": " + ssl_error_text();
    SSL_CTX_free(ctx);
    return Error::invalid(std::move(msg));
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1)
    return fail("load TLS certificate \"" + cert + "\"");
  if (SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1)
    return fail("load TLS key \"" + key + "\"");
  if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1)
    return fail("load TLS CA \"" + ca + "\"");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  return ctx;
}

}  // namespace berth::api
