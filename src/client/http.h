// A small HTTP/1.1 client over unix and TCP sockets for the Docker Engine API: plain blocking
// sockets, or TLS over TCP (no Boost: the CLI must start fast), keep-alive, chunked and
// length-delimited response bodies read as a stream, chunked request bodies, and connection
// hijack ("Upgrade: tcp") for attach and exec start.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/transport.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::client {

class TlsContext;

inline constexpr std::string_view kDefaultHost = "unix:///run/berth/berth.sock";

// Where the daemon listens: unix:///path, tcp://host:port (also a bare /path).
struct Endpoint {
  bool is_unix = true;
  std::string address;  // socket path, or host:port
  std::string url;      // normalised, as error messages show it
  // TLS for a tcp:// endpoint (client/tls.h); null: plain.
  std::shared_ptr<TlsContext> tls;
};
Result<Endpoint> parse_endpoint(std::string_view url);
// The -H value when given, else $BERTH_HOST, else $DOCKER_HOST, else kDefaultHost.
Result<Endpoint> choose_endpoint(std::string_view host_flag);

// One connection (a Transport) with a read buffer.
class Connection {
 public:
  static Result<Connection> open(const Endpoint& ep);
  // Wraps a connected socket (tests, socketpairs).
  static Connection adopt(UniqueFd fd) { return Connection(plain_transport(std::move(fd))); }
  Result<void> send(std::string_view data);
  // Buffered bytes first, then the socket; 0 at EOF.
  Result<size_t> read_some(char* buf, size_t len);
  // One header line without its CRLF; an error at EOF.
  Result<std::string> read_line(size_t limit = 64 << 10);
  // Bytes read from the socket but not consumed yet (handed over on hijack).
  std::string take_buffered();
  // Bytes that can be read without waiting on the socket (ours, or the transport's).
  bool has_buffered() const { return pos_ < buf_.size() || t_->buffered() > 0; }
  // The socket, for poll().
  int fd() const { return t_->fd(); }
  // The stream itself, once the buffer has been taken (hijack).
  std::unique_ptr<Transport> release_transport() { return std::move(t_); }

 private:
  explicit Connection(std::unique_ptr<Transport> t) : t_(std::move(t)) {}
  Result<bool> fill();  // false at EOF
  std::unique_ptr<Transport> t_;
  std::string buf_;
  size_t pos_ = 0;
};

struct RequestSpec {
  std::string method;
  std::string target;  // "/v1.41/containers/json?all=1"
  std::string content_type;
  std::optional<std::string> body;  // sent with Content-Length
  // When set, the body is sent chunked from this reader (returns bytes read, 0 at end).
  std::function<Result<size_t>(char*, size_t)> body_reader;
  bool upgrade = false;  // Connection: Upgrade / Upgrade: tcp
  std::map<std::string, std::string> headers;
};

// A response whose head has been read; the body is read through it.
class Response {
 public:
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names

  std::string header(std::string_view lower_name) const;
  // Next bytes of the decoded body; 0 at its end.
  Result<size_t> read(char* buf, size_t len);
  // The rest of the body (bounded).
  Result<std::string> read_all(size_t limit = 256 << 20);
  // The next '\n'-terminated line of the body (JSON-lines streams); nullopt at the end.
  Result<std::optional<std::string>> read_line();
  // True once the body has been read to its end and the server keeps the connection open.
  bool reusable() const;
  Connection& connection() { return *conn_; }
  // The socket to poll() for readability (buffered data is checked with has_buffered()).
  int fd() const { return conn_->fd(); }
  bool has_buffered() const { return conn_->has_buffered() || line_pos_ < line_buf_.size(); }
  std::optional<Connection> take_connection() { return std::move(conn_); }

 private:
  friend Result<Response> read_response_head(Connection conn, bool head_request);
  enum class Framing { Length, Chunked, Close, None };
  Result<size_t> read_chunked(char* buf, size_t len);
  std::optional<Connection> conn_;
  Framing framing_ = Framing::None;
  size_t remaining_ = 0;  // Length: bytes left; Chunked: bytes left in this chunk
  bool done_ = false;
  bool keep_alive_ = true;
  std::string line_buf_;
  size_t line_pos_ = 0;
};

Result<void> send_request(Connection& conn, const RequestSpec& req);
Result<Response> read_response_head(Connection conn, bool head_request = false);

// Percent-encodes a query value or path segment.
std::string url_escape(std::string_view s);

// Builds "?a=1&b=x" from pairs in order (empty when none).
class Query {
 public:
  Query& add(std::string_view key, std::string_view value);
  Query& add_if(bool cond, std::string_view key, std::string_view value) {
    return cond ? add(key, value) : *this;
  }
  std::string str() const { return s_; }

 private:
  std::string s_;
};

}  // namespace berth::client
