// Plain and TLS transports for the API server's connections.
#include "api/http_transport.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <thread>

#include "util/log.h"
#include "util/strings.h"

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

// A client that connects to the TLS port and never finishes its handshake gives up its thread
// after this long.
constexpr int kHandshakeTimeoutSeconds = 30;

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

// The reason of the first error OpenSSL queued, the queue emptied.
std::pair<int, std::string> take_ssl_error() {
  unsigned long e = ERR_get_error();
  std::string text;
  if (e) {
    if (const char* r = ERR_reason_error_string(e)) {
      text = r;
    } else {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      text = buf;
    }
  }
  ERR_clear_error();
  return {e ? ERR_GET_REASON(e) : 0, text};
}

int clamp(size_t len) { return static_cast<int>(std::min<size_t>(len, INT_MAX)); }

void set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

void set_io_timeout(int fd, int seconds) {
  timeval tv{seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

// "127.0.0.1:40312", "[::1]:40312": who a log line is about.
std::string peer_address(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "unknown peer";
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "unix peer";
}

class TlsTransport : public Transport {
 public:
  TlsTransport(UniqueFd fd, SSL* ssl) : fd_(std::move(fd)), ssl_(ssl) {}
  ~TlsTransport() override {
    if (!ssl_) return;
    // close_notify when the session is sound; never waiting for a client that does not read.
    if (!broken_ && fd_) {
      set_nonblocking(fd_.get());
      SSL_shutdown(ssl_);
      ERR_clear_error();
    }
    SSL_free(ssl_);
  }
  ssize_t read(void* buf, size_t len) override {
    for (;;) {
      ERR_clear_error();
      int n = SSL_read(ssl_, buf, clamp(len));
      if (n > 0) return n;
      int err = SSL_get_error(ssl_, n);
      ERR_clear_error();
      // The end of the client's stream: close_notify, or a bare TCP FIN (docker's CLI
      // half-closes a hijacked connection that way; the context ignores the missing alert).
      if (err == SSL_ERROR_ZERO_RETURN) return 0;
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) continue;  // EINTR
      broken_ = true;
      if (err != SSL_ERROR_SYSCALL || errno == 0) errno = ECONNRESET;
      return -1;
    }
  }
  ssize_t write(const void* buf, size_t len) override {
    for (;;) {
      ERR_clear_error();
      int n = SSL_write(ssl_, buf, clamp(len));
      if (n > 0) return n;
      int err = SSL_get_error(ssl_, n);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) continue;  // EINTR
      broken_ = true;
      if (err != SSL_ERROR_SYSCALL || errno == 0) errno = EPIPE;
      return -1;
    }
  }
  int fd() const override { return fd_.get(); }
  // A socketpair: the handler gets one end, a thread copies between the other and TLS until
  // either side closes. Owns this transport from then on.
  Result<UniqueFd> release() override;

  // Server side of the handshake; the error says what was wrong with the client.
  Result<void> accept();

 private:
  friend void pump_tls(std::unique_ptr<TlsTransport> tls, UniqueFd local);
  std::string problem(int ssl_err, int err, int reason, const std::string& text) const;

  UniqueFd fd_;
  SSL* ssl_;
  bool broken_ = false;  // a fatal error: no close_notify
};

std::string TlsTransport::problem(int ssl_err, int err, int reason, const std::string& text) const {
  if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
    return "the client sent no certificate (berthd requires one signed by --tlscacert)";
  if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
    long v = SSL_get_verify_result(ssl_);
    return std::string("the client's certificate is not trusted: ") +
           X509_verify_cert_error_string(v);
  }
  if (reason > SSL_AD_REASON_OFFSET) return "the client ended the handshake: " + text;
  if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
      (ssl_err == SSL_ERROR_SYSCALL && err == 0 && text.empty()))
    return "the client closed the connection";
  if (ssl_err == SSL_ERROR_WANT_READ || ssl_err == SSL_ERROR_WANT_WRITE)
    return "no handshake within " + std::to_string(kHandshakeTimeoutSeconds) + " s";
  if (ssl_err == SSL_ERROR_SYSCALL && err != 0) return errno_text(err);
  return text.empty() ? "unknown TLS error" : text;
}

Result<void> TlsTransport::accept() {
  ERR_clear_error();
  errno = 0;
  int rc = SSL_accept(ssl_);
  if (rc == 1) return ok();
  broken_ = true;
  int ssl_err = SSL_get_error(ssl_, rc);
  int err = errno;
  auto [reason, text] = take_ssl_error();
  return Error::invalid(problem(ssl_err, err, reason, text));
}

// After a hijack: copies between the TLS session and the handler's end of a socketpair. Both
// sockets are non-blocking and each direction has a bounded buffer, so neither direction ever
// waits for the other (a container whose output backs up still gets its stdin, and the
// reverse). The client's end of stdin (close_notify or a bare FIN) half-closes the handler's
// end; the handler closing its end ends the session with close_notify.
void pump_tls(std::unique_ptr<TlsTransport> tls, UniqueFd local) {
  constexpr size_t kMaxBuffered = 256 << 10;
  SSL* ssl = tls->ssl_;
  set_nonblocking(tls->fd());
  set_nonblocking(local.get());
  // Writes resume from a buffer that may have moved and grown (std::string).
  SSL_set_mode(ssl, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  std::string to_handler, to_client;
  bool client_done = false;  // no more from the client
  bool handler_stdin_closed = false;
  bool handler_done = false;  // no more from the handler
  char buf[16384];
  for (;;) {
    short tls_wants = 0;
    while (!client_done && to_handler.size() < kMaxBuffered) {
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) {
        to_handler.append(buf, static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl, n);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_READ) {
        tls_wants |= POLLIN;
      } else if (err == SSL_ERROR_WANT_WRITE) {
        tls_wants |= POLLOUT;
      } else {
        client_done = true;
        if (err != SSL_ERROR_ZERO_RETURN) tls->broken_ = true;  // gone: nothing can be sent
      }
      break;
    }
    if (!to_handler.empty()) {
      ssize_t n = ::send(local.get(), to_handler.data(), to_handler.size(), MSG_NOSIGNAL);
      if (n > 0)
        to_handler.erase(0, static_cast<size_t>(n));
      else if (n < 0 && errno != EAGAIN && errno != EINTR)
        to_handler.clear();  // the handler no longer reads stdin
    }
    if (client_done && to_handler.empty() && !handler_stdin_closed) {
      ::shutdown(local.get(), SHUT_WR);
      handler_stdin_closed = true;
    }
    while (!handler_done && to_client.size() < kMaxBuffered) {
      ssize_t n = ::recv(local.get(), buf, sizeof buf, 0);
      if (n > 0) {
        to_client.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EINTR)) break;
      handler_done = true;
    }
    while (!to_client.empty() && !tls->broken_) {
      int n = SSL_write(ssl, to_client.data(), clamp(to_client.size()));
      if (n > 0) {
        to_client.erase(0, static_cast<size_t>(n));
        continue;
      }
      int err = SSL_get_error(ssl, n);
      ERR_clear_error();
      if (err == SSL_ERROR_WANT_WRITE)
        tls_wants |= POLLOUT;
      else if (err == SSL_ERROR_WANT_READ)
        tls_wants |= POLLIN;
      else
        tls->broken_ = true;
      break;
    }
    // Done: the handler's output is all sent, or the client can no longer be written to.
    if ((handler_done && to_client.empty()) || tls->broken_) return;
    if (!client_done && to_handler.size() < kMaxBuffered) tls_wants |= POLLIN;
    short local_wants = 0;
    if (!handler_done && to_client.size() < kMaxBuffered) local_wants |= POLLIN;
    if (!to_handler.empty()) local_wants |= POLLOUT;
    if (tls_wants == 0 && local_wants == 0) return;  // nothing left that could move
    pollfd p[2] = {{tls->fd(), tls_wants, 0}, {local.get(), local_wants, 0}};
    if (poll(p, 2, -1) < 0 && errno != EINTR) return;
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

namespace {

// What the client's first byte says, waiting for it at most the handshake timeout.
enum class Opening { Tls, PlainHttp, Closed, Silent };

Opening peek_opening(int fd) {
  unsigned char first = 0;
  ssize_t n = ::recv(fd, &first, 1, MSG_PEEK);
  if (n < 0) return Opening::Silent;
  if (n == 0) return Opening::Closed;
  // A TLS handshake record starts with 0x16; an HTTP request with a method in capitals.
  return first >= 'A' && first <= 'Z' ? Opening::PlainHttp : Opening::Tls;
}

// A client that sent plain HTTP to the TLS port gets a readable answer instead of a dropped
// connection. The request is read first so that closing does not reset the connection under
// the client before it has read the answer.
void answer_plain_http(int fd) {
  std::string request;
  char buf[4096];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < (64 << 10)) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    request.append(buf, static_cast<size_t>(n));
  }
  std::string body =
      "berthd serves TLS on this address, and the client sent plain HTTP: connect with "
      "--tlsverify and a client certificate\n";
  std::string answer =
      "HTTP/1.0 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  (void)!::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
}

// After a refused handshake the alert saying why has been sent, but the client may have sent
// its request meanwhile (a TLS 1.3 client writes as soon as its side of the handshake is done).
// Closing a socket with unread data resets the connection, and the reset can overtake the alert
// ("connection reset by peer" instead of "certificate required"): so the write side is closed
// first, and what the client still sends is read, for a second at most, until it closes.
void close_gently(int fd) {
  ::shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{fd, POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) <= 0) return;
    if (::recv(fd, buf, sizeof buf, MSG_DONTWAIT) <= 0) return;
  }
}

Error handshake_error(const std::string& peer, const std::string& problem) {
  std::string msg = "TLS handshake error from " + peer + ": " + problem;
  log::info(msg);
  return Error::invalid(std::move(msg));
}

}  // namespace

Result<std::unique_ptr<Transport>> tls_transport(UniqueFd fd, SSL_CTX* ctx) {
  std::string peer = peer_address(fd.get());
  set_io_timeout(fd.get(), kHandshakeTimeoutSeconds);
  switch (peek_opening(fd.get())) {
    case Opening::Silent:
      return handshake_error(
          peer, "no handshake within " + std::to_string(kHandshakeTimeoutSeconds) + " s");
    case Opening::Closed: return handshake_error(peer, "the client closed the connection");
    case Opening::PlainHttp:
      answer_plain_http(fd.get());
      return handshake_error(peer, "the client sent plain HTTP");
    case Opening::Tls: break;
  }
  SSL* ssl = SSL_new(ctx);
  if (!ssl) return Error::internal("TLS: " + take_ssl_error().second);
  int sock = fd.get();
  auto t = std::make_unique<TlsTransport>(std::move(fd), ssl);
  SSL_set_fd(ssl, sock);
  if (auto r = t->accept(); !r) {
    close_gently(sock);
    return handshake_error(peer, r.error().what());
  }
  set_io_timeout(sock, 0);
  return std::unique_ptr<Transport>(std::move(t));
}

namespace {

Error load_error(std::string what) {
  std::string text = take_ssl_error().second;
  return Error::invalid(what + ": " + (text.empty() ? "invalid PEM data" : text));
}

}  // namespace

Result<SSL_CTX*> make_tls_context(const std::string& cert, const std::string& key,
                                  const std::string& ca) {
  // Read first, so that a missing file reads like one (open ...: no such file or directory).
  BERTH_TRY_CTX(read_file(cert, 16 << 20), "could not read TLS certificate " + quoted(cert));
  BERTH_TRY_CTX(read_file(key, 16 << 20), "could not read TLS key " + quoted(key));
  BERTH_TRY_CTX(read_file(ca, 16 << 20), "could not read CA certificate " + quoted(ca));
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (!ctx) return load_error("TLS");
  auto fail = [&](std::string what) -> Error {
    Error e = load_error(std::move(what));
    SSL_CTX_free(ctx);
    return e;
  };
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // docker's CLI half-closes a hijacked connection with a bare TCP FIN: the end of stdin, not
  // an error that would stop the container's output from being sent.
  SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  // No session resumption: no tickets, nothing sent after the handshake but the answers.
  SSL_CTX_set_num_tickets(ctx, 0);
  if (SSL_CTX_use_certificate_chain_file(ctx, cert.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1)
    return fail("could not load X509 key pair (cert " + quoted(cert) + ", key " + quoted(key) +
                ")");
  if (SSL_CTX_load_verify_locations(ctx, ca.c_str(), nullptr) != 1)
    return fail("could not load CA certificate " + quoted(ca));
  // Tells clients which CA their certificate must come from.
  if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(ca.c_str()))
    SSL_CTX_set_client_CA_list(ctx, names);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  ERR_clear_error();
  return ctx;
}

Result<void> check_tls_files(const std::string& cert, const std::string& key,
                             const std::string& ca) {
  SSL_CTX_free(BERTH_TRY(make_tls_context(cert, key, ca)));
  return ok();
}

}  // namespace berth::api
