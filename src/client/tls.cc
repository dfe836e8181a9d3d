#include "client/tls.h"

#include <arpa/inet.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>

#include "client/openssl.h"
#include "util/strings.h"

namespace berth::client {

namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

std::string tls_cert_dir() {
  if (std::string p = env("DOCKER_CERT_PATH"); !p.empty()) return p;
  if (std::string c = env("DOCKER_CONFIG"); !c.empty()) return c;
  std::string home = env("HOME");
  if (home.empty()) {
    if (const passwd* pw = getpwuid(getuid()); pw && pw->pw_dir) home = pw->pw_dir;
  }
  return home + "/.docker";
}

namespace {

// OpenSSL, loaded by TlsContext::load() before anything below runs.
const ossl::Api& lib() { return ossl::api(); }

// OpenSSL writes to the socket with write(2), which raises SIGPIPE when the daemon has gone
// away. While a TLS call runs SIGPIPE is held back, and one it raised is discarded: the call
// fails with EPIPE instead of killing the CLI (which is single-threaded).
class SigpipeHold {
 public:
  SigpipeHold() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    sigset_t pending;
    was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
    sigprocmask(SIG_BLOCK, &pipe_, &saved_);
  }
  ~SigpipeHold() {
    int saved_errno = errno;
    sigset_t pending;
    if (!was_pending_ && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
      timespec zero{};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    sigprocmask(SIG_SETMASK, &saved_, nullptr);
    errno = saved_errno;
  }
  SigpipeHold(const SigpipeHold&) = delete;
  SigpipeHold& operator=(const SigpipeHold&) = delete;

 private:
  sigset_t pipe_, saved_;
  bool was_pending_ = false;
};

// The reason of the first error OpenSSL queued ("wrong version number"), and the queue
// emptied.
std::pair<int, std::string> take_ssl_error() {
  unsigned long e = lib().ERR_get_error();
  int reason = e ? ERR_GET_REASON(e) : 0;
  std::string text;
  if (e) {
    const char* r = lib().ERR_reason_error_string(e);
    if (r) {
      text = r;
    } else {
      char buf[256];
      lib().ERR_error_string_n(e, buf, sizeof buf);
      text = buf;
    }
  }
  lib().ERR_clear_error();
  return {reason, text};
}

// The DNS names and IP addresses a certificate is valid for, "localhost, 127.0.0.1".
std::string names_in(X509* cert) {
  std::string out;
  auto* names = static_cast<GENERAL_NAMES*>(
      lib().X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  if (!names) return out;
  const auto* stack = reinterpret_cast<const OPENSSL_STACK*>(names);
  for (int i = 0; i < lib().OPENSSL_sk_num(stack); i++) {
    const auto* n = static_cast<const GENERAL_NAME*>(lib().OPENSSL_sk_value(stack, i));
    std::string name;
    if (n->type == GEN_DNS) {
      name.assign(reinterpret_cast<const char*>(lib().ASN1_STRING_get0_data(n->d.dNSName)),
                  static_cast<size_t>(lib().ASN1_STRING_length(n->d.dNSName)));
    } else if (n->type == GEN_IPADD) {
      int len = lib().ASN1_STRING_length(n->d.iPAddress);
      char buf[INET6_ADDRSTRLEN];
      if ((len == 4 || len == 16) &&
          inet_ntop(len == 4 ? AF_INET : AF_INET6, lib().ASN1_STRING_get0_data(n->d.iPAddress), buf,
                    sizeof buf))
        name = buf;
    }
    if (!name.empty()) out += (out.empty() ? "" : ", ") + name;
  }
  lib().GENERAL_NAMES_free(names);
  return out;
}

bool is_ip_address(const std::string& host) {
  unsigned char buf[sizeof(in6_addr)];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

int clamp(size_t len) { return static_cast<int>(std::min<size_t>(len, INT_MAX)); }

// A TLS session over a TCP socket, the socket blocking.
class TlsTransport final : public Transport {
 public:
  TlsTransport(UniqueFd fd, SSL* ssl, std::string url, std::string host, bool client_cert)
      : fd_(std::move(fd)),
        ssl_(ssl),
        url_(std::move(url)),
        host_(std::move(host)),
        client_cert_(client_cert) {}
  ~TlsTransport() override {
    // close_notify, unless the session failed or ours was sent already (close_write).
    if (!broken_ && !(lib().SSL_get_shutdown(ssl_) & SSL_SENT_SHUTDOWN)) {
      SigpipeHold hold;
      lib().SSL_shutdown(ssl_);
      lib().ERR_clear_error();
    }
    lib().SSL_free(ssl_);
  }

  Result<void> connect() {
    SigpipeHold hold;
    lib().ERR_clear_error();
    int rc = lib().SSL_connect(ssl_);
    if (rc == 1) return ok();
    return failure(rc, "TLS handshake with the berth daemon at " + url_ + " failed");
  }

  Result<size_t> read(char* buf, size_t len) override {
    for (;;) {
      SigpipeHold hold;
      lib().ERR_clear_error();
      int n = lib().SSL_read(ssl_, buf, clamp(len));
      if (n > 0) return static_cast<size_t>(n);
      switch (lib().SSL_get_error(ssl_, n)) {
        case SSL_ERROR_ZERO_RETURN: return size_t{0};  // close_notify (or EOF, see the context)
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE: continue;  // EINTR, or a record that carried no data
        case SSL_ERROR_SYSCALL:
          if (errno == 0) return size_t{0};
          broken_ = true;
          return Error::sys("read from the daemon");
        default: return failure(n, "TLS connection to the berth daemon at " + url_ + " failed");
      }
    }
  }

  Result<void> write(std::string_view data) override {
    while (!data.empty()) {
      SigpipeHold hold;
      lib().ERR_clear_error();
      int n = lib().SSL_write(ssl_, data.data(), clamp(data.size()));
      if (n > 0) {
        data.remove_prefix(static_cast<size_t>(n));
        continue;
      }
      switch (lib().SSL_get_error(ssl_, n)) {
        case SSL_ERROR_WANT_READ:
        case SSL_ERROR_WANT_WRITE: continue;
        case SSL_ERROR_SYSCALL: return write_failure(errno ? errno : EPIPE);
        default: return failure(n, "TLS connection to the berth daemon at " + url_ + " failed");
      }
    }
    return ok();
  }

  // close_notify, then the TCP half-close docker's CLI sends: servers that read the raw
  // stream (and those that read TLS) both see the end of stdin. Reading goes on.
  Result<void> close_write() override {
    {
      SigpipeHold hold;
      lib().ERR_clear_error();
      lib().SSL_shutdown(ssl_);
      lib().ERR_clear_error();
    }
    if (::shutdown(fd_.get(), SHUT_WR) != 0) return Error::sys("close the stream to the daemon");
    return ok();
  }

  size_t buffered() const override { return static_cast<size_t>(lib().SSL_pending(ssl_)); }
  int fd() const override { return fd_.get(); }

 private:
  // The error for a failed TLS call: `what` and the problem in words.
  Error failure(int ret, const std::string& what) {
    broken_ = true;
    int ssl_err = lib().SSL_get_error(ssl_, ret);
    int saved_errno = errno;
    auto [reason, text] = take_ssl_error();
    return Error(ErrorKind::Io, 0, what + ": " + problem(ssl_err, saved_errno, reason, text));
  }

  // A write the daemon reset. A TLS 1.3 server checks our certificate after our side of the
  // handshake is over: its alert saying why it refused is then waiting to be read, and is the
  // better error.
  Error write_failure(int err) {
    pollfd p{fd_.get(), POLLIN, 0};
    if (poll(&p, 1, 0) == 1) {
      char byte;
      lib().ERR_clear_error();
      int n = lib().SSL_read(ssl_, &byte, 1);
      if (n <= 0 && lib().SSL_get_error(ssl_, n) == SSL_ERROR_SSL)
        return failure(n, "TLS connection to the berth daemon at " + url_ + " failed");
    }
    broken_ = true;
    return Error::from_errno(err, "write to the daemon");
  }

  std::string problem(int ssl_err, int err, int reason, const std::string& text) const {
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED) {
      long v = lib().SSL_get_verify_result(ssl_);
      std::string why = "the daemon's certificate is not trusted: ";
      if (v == X509_V_ERR_HOSTNAME_MISMATCH || v == X509_V_ERR_IP_ADDRESS_MISMATCH) {
        why += "it is not valid for " + host_;
        if (!peer_names_.empty()) why += " (it is valid for " + peer_names_ + ")";
        return why;
      }
      return why + lib().X509_verify_cert_error_string(v) +
             " (is --tlscacert the CA that signed it?)";
    }
    if (reason > SSL_AD_REASON_OFFSET) {
      // An alert from the daemon: what it thought of our side of the handshake.
      switch (reason - SSL_AD_REASON_OFFSET) {
        case SSL3_AD_BAD_CERTIFICATE:
        case SSL3_AD_UNSUPPORTED_CERTIFICATE:
        case SSL3_AD_CERTIFICATE_REVOKED:
        case SSL3_AD_CERTIFICATE_EXPIRED:
        case SSL3_AD_CERTIFICATE_UNKNOWN:
        case TLS1_AD_UNKNOWN_CA:
        case TLS1_AD_ACCESS_DENIED:
        case TLS13_AD_CERTIFICATE_REQUIRED:
          if (!client_cert_)
            return "the daemon wants a client certificate, and none was given (--tlscert, "
                   "--tlskey): " +
                   text;
          return "the daemon refused the client certificate: " + text;
        default: return "the daemon ended the session: " + text;
      }
    }
    if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_PACKET_LENGTH_TOO_LONG)
      return "the daemon does not speak TLS on this port (" + text + ")";
    if (reason == SSL_R_UNEXPECTED_EOF_WHILE_READING ||
        (ssl_err == SSL_ERROR_SYSCALL && err == 0 && text.empty()))
      return "the daemon closed the connection";
    if (ssl_err == SSL_ERROR_SYSCALL && err != 0) return errno_text(err);
    return text.empty() ? "unknown TLS error" : text;
  }

  friend int remember_peer_names(int preverify_ok, X509_STORE_CTX* store);

  UniqueFd fd_;
  SSL* ssl_;
  std::string url_, host_;
  bool client_cert_;
  bool broken_ = false;     // a fatal error: no close_notify
  std::string peer_names_;  // what the daemon's certificate is valid for
};

// The verify callback: keeps the names the daemon's certificate is valid for while it is
// checked, since OpenSSL no longer hands the certificate out after a failed handshake, and a
// name mismatch is best explained with them. Verification itself is OpenSSL's.
int remember_peer_names(int preverify_ok, X509_STORE_CTX* store) {
  if (lib().X509_STORE_CTX_get_error_depth(store) != 0) return preverify_ok;
  auto* ssl = static_cast<SSL*>(
      lib().X509_STORE_CTX_get_ex_data(store, lib().SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* t = ssl ? static_cast<TlsTransport*>(lib().SSL_get_ex_data(ssl, 0)) : nullptr;
  if (X509* cert = lib().X509_STORE_CTX_get_current_cert(store); t && cert)
    t->peer_names_ = names_in(cert);
  return preverify_ok;
}

// What OpenSSL could not load, with the file named.
Error load_error(const std::string& what) {
  auto [reason, text] = take_ssl_error();
  (void)reason;
  return Error::invalid(what + ": " + (text.empty() ? "invalid PEM data" : text));
}

// A key with a passphrase is refused rather than prompted for.
int no_passphrase(char*, int, int, void*) { return -1; }

}  // namespace

std::optional<TlsSettings> resolve_tls(const TlsFlags& flags) {
  bool verify = flags.verify.value_or(!env("DOCKER_TLS_VERIFY").empty());
  bool on = flags.tls || flags.verify.has_value() || verify || !env("DOCKER_TLS").empty();
  if (!on) return std::nullopt;
  std::string dir = tls_cert_dir();
  // A default certificate or key that does not exist is left out (docker's rule); one named
  // on the command line is loaded, and its absence is an error then.
  auto pick = [&](const std::string& given, const char* name) {
    if (!given.empty()) return given;
    std::string path = dir + "/" + name;
    return access(path.c_str(), F_OK) == 0 ? path : std::string();
  };
  TlsSettings s;
  s.verify = verify;
  s.ca_file = flags.ca_file.empty() ? dir + "/ca.pem" : flags.ca_file;
  s.cert_file = pick(flags.cert_file, "cert.pem");
  s.key_file = pick(flags.key_file, "key.pem");
  return s;
}

struct TlsContext::Impl {
  SSL_CTX* ctx = nullptr;
  bool client_cert = false;
  ~Impl() {
    if (ctx) lib().SSL_CTX_free(ctx);
  }
};

TlsContext::TlsContext(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsContext::~TlsContext() = default;

Result<std::shared_ptr<TlsContext>> TlsContext::load(const TlsSettings& s) {
  BERTH_TRY(ossl::load());
  auto impl = std::make_unique<Impl>();
  lib().ERR_clear_error();
  impl->ctx = lib().SSL_CTX_new(lib().TLS_client_method());
  if (!impl->ctx) return load_error("TLS");
  SSL_CTX* ctx = impl->ctx;
  lib().SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, nullptr);
  // A daemon that closes without close_notify ends the stream, as Go's TLS has it.
  lib().SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
  lib().SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
  if (s.verify) {
    // Read first, so that a missing file reads like one (open ...: no such file or directory).
    BERTH_TRY_CTX(read_file(s.ca_file, 16 << 20),
                  "could not read CA certificate " + quoted(s.ca_file));
    if (lib().SSL_CTX_load_verify_locations(ctx, s.ca_file.c_str(), nullptr) != 1)
      return load_error("could not load CA certificate " + quoted(s.ca_file));
    lib().SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, remember_peer_names);
  } else {
    lib().SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  }
  if (!s.cert_file.empty() || !s.key_file.empty()) {
    if (s.key_file.empty())
      return Error::invalid("TLS certificate " + quoted(s.cert_file) +
                            " has no key: give it with --tlskey (default key.pem in " +
                            tls_cert_dir() + ")");
    if (s.cert_file.empty())
      return Error::invalid("TLS key " + quoted(s.key_file) +
                            " has no certificate: give it with --tlscert (default cert.pem in " +
                            tls_cert_dir() + ")");
    BERTH_TRY_CTX(read_file(s.cert_file, 16 << 20),
                  "could not read TLS certificate " + quoted(s.cert_file));
    BERTH_TRY_CTX(read_file(s.key_file, 16 << 20), "could not read TLS key " + quoted(s.key_file));
    std::string pair = "could not load X509 key pair (cert " + quoted(s.cert_file) + ", key " +
                       quoted(s.key_file) + ")";
    if (lib().SSL_CTX_use_certificate_chain_file(ctx, s.cert_file.c_str()) != 1 ||
        lib().SSL_CTX_use_PrivateKey_file(ctx, s.key_file.c_str(), SSL_FILETYPE_PEM) != 1 ||
        lib().SSL_CTX_check_private_key(ctx) != 1)
      return load_error(pair);
    impl->client_cert = true;
  }
  return std::shared_ptr<TlsContext>(new TlsContext(std::move(impl)));
}

Result<std::unique_ptr<Transport>> TlsContext::handshake(UniqueFd fd, const std::string& host,
                                                         const std::string& url) {
  lib().ERR_clear_error();
  SSL* ssl = lib().SSL_new(impl_->ctx);
  if (!ssl) return load_error("TLS");
  int sock = fd.get();
  auto t = std::make_unique<TlsTransport>(std::move(fd), ssl, url, host, impl_->client_cert);
  lib().SSL_set_fd(ssl, sock);
  lib().SSL_set_ex_data(ssl, 0, t.get());  // for remember_peer_names
  if (is_ip_address(host)) {
    lib().X509_VERIFY_PARAM_set1_ip_asc(lib().SSL_get0_param(ssl), host.c_str());
  } else {
    lib().SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                   const_cast<char*>(host.c_str()));
    lib().SSL_set1_host(ssl, host.c_str());
  }
  BERTH_TRY(t->connect());
  return std::unique_ptr<Transport>(std::move(t));
}

}  // namespace berth::client
