// The byte streams a connection runs over: a plain socket (unix or TCP) or TLS (OpenSSL), and
// the adapter that lets Beast's synchronous parser read from them.
#pragma once

#include <openssl/ssl.h>
#include <sys/types.h>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <memory>
#include <string>

#include "util/fd.h"
#include "util/result.h"

namespace berth::api {

class Transport {
 public:
  virtual ~Transport() = default;
  // Like read(2)/write(2): bytes moved, 0 at end of stream, -1 with errno set.
  virtual ssize_t read(void* buf, size_t len) = 0;
  virtual ssize_t write(const void* buf, size_t len) = 0;
  virtual int fd() const = 0;
  // Hands the connection over (hijack): a plain socket gives its fd; TLS gives one end of a
  // socketpair whose other end a proxy thread pumps through the TLS session (non-blocking,
  // both directions at once).
  virtual Result<UniqueFd> release() = 0;
  // Wakes a thread blocked in read() or write() (server shutdown).
  void shutdown_socket();

  bool write_all(std::string_view data);
};

std::unique_ptr<Transport> plain_transport(UniqueFd fd);
// Runs the server side of the TLS handshake (at most 30 s). A failure is logged (info) and
// returned naming the peer and its problem: no certificate, one not signed by the CA, plain
// HTTP (answered with a 400 that says so), silence.
Result<std::unique_ptr<Transport>> tls_transport(UniqueFd fd, SSL_CTX* ctx);
// A server context requiring client certificates signed by `ca` (TLS 1.2 or later). Errors
// name the file: "could not read TLS key "/x/key.pem": open /x/key.pem: no such file or
// directory", "could not load X509 key pair (cert ..., key ...): key values mismatch".
Result<SSL_CTX*> make_tls_context(const std::string& cert, const std::string& key,
                                  const std::string& ca);
// make_tls_context's checks alone, for berthd to refuse bad files before it opens its engine.
Result<void> check_tls_files(const std::string& cert, const std::string& key,
                             const std::string& ca);

// Beast's SyncReadStream/SyncWriteStream over a Transport.
class SyncStream {
 public:
  explicit SyncStream(Transport& t) : t_(t) {}

  template <class Buffers>
  size_t read_some(const Buffers& buffers, boost::system::error_code& ec) {
    ec = {};
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::mutable_buffer b = *it;
      if (b.size() == 0) continue;
      ssize_t n = t_.read(b.data(), b.size());
      if (n < 0) ec = boost::system::error_code(errno, boost::system::system_category());
      if (n == 0) ec = boost::asio::error::eof;
      return n > 0 ? static_cast<size_t>(n) : 0;
    }
    return 0;
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    boost::system::error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
    ec = {};
    for (auto it = boost::asio::buffer_sequence_begin(buffers);
         it != boost::asio::buffer_sequence_end(buffers); ++it) {
      boost::asio::const_buffer b = *it;
      if (b.size() == 0) continue;
      ssize_t n = t_.write(b.data(), b.size());
      if (n < 0) ec = boost::system::error_code(errno, boost::system::system_category());
      return n > 0 ? static_cast<size_t>(n) : 0;
    }
    return 0;
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers) {
    boost::system::error_code ec;
    size_t n = write_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  Transport& t_;
};

}  // namespace berth::api
