#include "client/http.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "client/tls.h"

namespace berth::client {

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

Error connect_error(const Endpoint& ep, int err) {
  // The line docker prints, naming berth; the errno stays available to callers.
  (void)err;
  return Error(
      ErrorKind::Io, 0,
      "Cannot connect to the berth daemon at " + ep.url + ". Is the berth daemon running?");
}

Result<UniqueFd> connect_unix(const Endpoint& ep) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (ep.address.size() >= sizeof(addr.sun_path)) {
    return Error::invalid("socket path too long: " + ep.address);
  }
  std::memcpy(addr.sun_path, ep.address.data(), ep.address.size());
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys("socket");
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    return connect_error(ep, errno);
  }
  return fd;
}

// "host:port", "[v6]:port", "host" (docker's default port 2375) -> host and port.
std::pair<std::string, std::string> split_host_port(const std::string& address) {
  std::string host = address, port = "2375";
  size_t colon = host.rfind(':');
  size_t bracket = host.find(']');
  if (colon != std::string::npos && (bracket == std::string::npos || bracket < colon)) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
  }
  if (host.size() > 1 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return {host, port};
}

Result<UniqueFd> connect_tcp(const Endpoint& ep, const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
    return Error(ErrorKind::Io, 0,
                 "Cannot connect to the berth daemon at " + ep.url + ": " + gai_strerror(rc));
  }
  int last = ECONNREFUSED;
  for (addrinfo* ai = res; ai; ai = ai->ai_next) {
    UniqueFd fd(socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol));
    if (!fd) continue;
    if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == 0) {
      int one = 1;
      setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      freeaddrinfo(res);
      return fd;
    }
    last = errno;
  }
  freeaddrinfo(res);
  return connect_error(ep, last);
}

}  // namespace

Result<Endpoint> parse_endpoint(std::string_view url) {
  Endpoint ep;
  if (url.starts_with("unix://")) {
    ep.address = std::string(url.substr(7));
  } else if (url.starts_with("/")) {
    ep.address = std::string(url);
  } else if (url.starts_with("tcp://") || url.starts_with("http://")) {
    ep.is_unix = false;
    std::string_view rest = url.substr(url.find("://") + 3);
    if (size_t slash = rest.find('/'); slash != std::string_view::npos)
      rest = rest.substr(0, slash);
    ep.address = std::string(rest);
    if (ep.address.empty())
      return Error::invalid("Invalid bind address format: " + std::string(url));
    ep.url = "tcp://" + ep.address;
    return ep;
  } else {
    return Error::invalid("unable to parse docker host `" + std::string(url) + "`");
  }
  if (ep.address.empty()) return Error::invalid("Invalid bind address format: " + std::string(url));
  ep.url = "unix://" + ep.address;
  return ep;
}

Result<Endpoint> choose_endpoint(std::string_view host_flag) {
  if (!host_flag.empty()) return parse_endpoint(host_flag);
  for (const char* var : {"BERTH_HOST", "DOCKER_HOST"}) {
    if (const char* v = std::getenv(var); v && *v) return parse_endpoint(v);
  }
  return parse_endpoint(kDefaultHost);
}

Result<Connection> Connection::open(const Endpoint& ep) {
  if (ep.is_unix) return Connection(plain_transport(BERTH_TRY(connect_unix(ep))));
  auto [host, port] = split_host_port(ep.address);
  UniqueFd fd = BERTH_TRY(connect_tcp(ep, host, port));
  if (!ep.tls) return Connection(plain_transport(std::move(fd)));
  return Connection(BERTH_TRY(ep.tls->handshake(std::move(fd), host, ep.url)));
}

Result<void> Connection::send(std::string_view data) { return t_->write(data); }

Result<bool> Connection::fill() {
  if (pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  char tmp[16384];
  size_t n = BERTH_TRY(t_->read(tmp, sizeof(tmp)));
  if (n == 0) return false;
  buf_.append(tmp, n);
  return true;
}

Result<size_t> Connection::read_some(char* buf, size_t len) {
  if (pos_ == buf_.size()) {
    // Large reads go straight to the caller's buffer.
    if (len >= 16384) return t_->read(buf, len);
    if (!BERTH_TRY(fill())) return size_t{0};
  }
  size_t n = std::min(len, buf_.size() - pos_);
  std::memcpy(buf, buf_.data() + pos_, n);
  pos_ += n;
  return n;
}

Result<std::string> Connection::read_line(size_t limit) {
  for (;;) {
    size_t nl = buf_.find('\n', pos_);
    if (nl != std::string::npos) {
      std::string line = buf_.substr(pos_, nl - pos_);
      pos_ = nl + 1;
      if (!line.empty() && line.back() == '\r') line.pop_back();
      return line;
    }
    if (buf_.size() - pos_ > limit) return Error::invalid("response header line too long");
    if (!BERTH_TRY(fill())) return Error(ErrorKind::Io, 0, "the daemon closed the connection");
  }
}

std::string Connection::take_buffered() {
  std::string out = buf_.substr(pos_);
  buf_.clear();
  pos_ = 0;
  return out;
}

std::string Response::header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string() : it->second;
}

Result<size_t> Response::read_chunked(char* buf, size_t len) {
  if (remaining_ == 0) {
    std::string line = BERTH_TRY(conn_->read_line());
    if (line.empty()) line = BERTH_TRY(conn_->read_line());  // CRLF after the previous chunk
    char* end = nullptr;
    unsigned long size = std::strtoul(line.c_str(), &end, 16);
    if (end == line.c_str()) return Error::invalid("malformed chunk size from the daemon");
    if (size == 0) {
      // Trailers, up to the empty line.
      for (;;) {
        std::string t = BERTH_TRY(conn_->read_line());
        if (t.empty()) break;
      }
      done_ = true;
      return size_t{0};
    }
    remaining_ = size;
  }
  size_t n = BERTH_TRY(conn_->read_some(buf, std::min(len, remaining_)));
  if (n == 0) return Error(ErrorKind::Io, 0, "the daemon closed the connection mid-response");
  remaining_ -= n;
  return n;
}

Result<size_t> Response::read(char* buf, size_t len) {
  if (line_pos_ < line_buf_.size()) {
    size_t n = std::min(len, line_buf_.size() - line_pos_);
    std::memcpy(buf, line_buf_.data() + line_pos_, n);
    line_pos_ += n;
    return n;
  }
  if (done_ || len == 0) return size_t{0};
  switch (framing_) {
    case Framing::None: done_ = true; return size_t{0};
    case Framing::Chunked: return read_chunked(buf, len);
    case Framing::Length: {
      if (remaining_ == 0) {
        done_ = true;
        return size_t{0};
      }
      size_t n = BERTH_TRY(conn_->read_some(buf, std::min(len, remaining_)));
      if (n == 0) return Error(ErrorKind::Io, 0, "the daemon closed the connection mid-response");
      remaining_ -= n;
      if (remaining_ == 0) done_ = true;
      return n;
    }
    case Framing::Close: {
      size_t n = BERTH_TRY(conn_->read_some(buf, len));
      if (n == 0) done_ = true;
      return n;
    }
  }
  return size_t{0};
}

Result<std::string> Response::read_all(size_t limit) {
  std::string out;
  char buf[65536];
  for (;;) {
    size_t n = BERTH_TRY(read(buf, sizeof(buf)));
    if (n == 0) return out;
    if (out.size() + n > limit) return Error::invalid("response from the daemon too large");
    out.append(buf, n);
  }
}

Result<std::optional<std::string>> Response::read_line() {
  for (;;) {
    size_t nl = line_buf_.find('\n', line_pos_);
    if (nl != std::string::npos) {
      std::string line = line_buf_.substr(line_pos_, nl - line_pos_);
      line_pos_ = nl + 1;
      if (line_pos_ == line_buf_.size()) {
        line_buf_.clear();
        line_pos_ = 0;
      }
      return std::optional<std::string>(std::move(line));
    }
    char buf[16384];
    std::string pending = line_buf_.substr(line_pos_);
    line_buf_.clear();
    line_pos_ = 0;
    size_t n = BERTH_TRY(read(buf, sizeof(buf)));
    if (n == 0) {
      if (pending.empty()) return std::optional<std::string>();
      return std::optional<std::string>(std::move(pending));
    }
    line_buf_ = std::move(pending);
    line_buf_.append(buf, n);
  }
}

bool Response::reusable() const { return conn_ && done_ && keep_alive_ && !conn_->has_buffered(); }

Result<void> send_request(Connection& conn, const RequestSpec& req) {
  std::string head = req.method + " " + req.target + " HTTP/1.1\r\nHost: api.moby.localhost\r\n";
  head += "User-Agent: berth-cli/" BERTH_VERSION "\r\n";
  if (req.upgrade) head += "Connection: Upgrade\r\nUpgrade: tcp\r\n";
  for (const auto& [k, v] : req.headers) head += k + ": " + v + "\r\n";
  if (!req.content_type.empty()) head += "Content-Type: " + req.content_type + "\r\n";
  if (req.body_reader) {
    head += "Transfer-Encoding: chunked\r\n\r\n";
    BERTH_TRY(conn.send(head));
    std::string chunk(65536 + 32, '\0');
    for (;;) {
      size_t n = BERTH_TRY(req.body_reader(chunk.data() + 16, 65536));
      char size_line[16];
      int sl = std::snprintf(size_line, sizeof(size_line), "%zx\r\n", n);
      // The size line goes right before the data in one buffer, then CRLF after it.
      std::memcpy(chunk.data() + 16 - sl, size_line, static_cast<size_t>(sl));
      std::memcpy(chunk.data() + 16 + n, "\r\n", 2);
      BERTH_TRY(
          conn.send(std::string_view(chunk.data() + 16 - sl, static_cast<size_t>(sl) + n + 2)));
      if (n == 0) return ok();
    }
  }
  if (req.body) {
    head += "Content-Length: " + std::to_string(req.body->size()) + "\r\n\r\n";
    head += *req.body;
  } else if (req.method == "POST" || req.method == "PUT") {
    head += "Content-Length: 0\r\n\r\n";
  } else {
    head += "\r\n";
  }
  return conn.send(head);
}

Result<Response> read_response_head(Connection conn, bool head_request) {
  Response r;
  std::string status_line = BERTH_TRY(conn.read_line());
  // "HTTP/1.1 200 OK"
  if (!status_line.starts_with("HTTP/1.") || status_line.size() < 12) {
    return Error::invalid("malformed response from the daemon: " + status_line.substr(0, 80));
  }
  r.status = std::atoi(status_line.c_str() + 9);
  bool http10 = status_line.starts_with("HTTP/1.0");
  for (;;) {
    std::string line = BERTH_TRY(conn.read_line());
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    r.headers[lower(trim(std::string_view(line).substr(0, colon)))] =
        std::string(trim(std::string_view(line).substr(colon + 1)));
  }
  std::string connection = lower(r.header("connection"));
  r.keep_alive_ = http10 ? connection == "keep-alive" : connection != "close";
  if (head_request || r.status == 204 || r.status == 304 || r.status == 101 ||
      (r.status >= 100 && r.status < 200)) {
    r.framing_ = Response::Framing::None;
  } else if (lower(r.header("transfer-encoding")).find("chunked") != std::string::npos) {
    r.framing_ = Response::Framing::Chunked;
  } else if (auto cl = r.header("content-length"); !cl.empty()) {
    r.framing_ = Response::Framing::Length;
    r.remaining_ = std::strtoull(cl.c_str(), nullptr, 10);
    if (r.remaining_ == 0) r.done_ = true;
  } else {
    r.framing_ = Response::Framing::Close;
    r.keep_alive_ = false;
  }
  if (r.framing_ == Response::Framing::None) r.done_ = true;
  r.conn_.emplace(std::move(conn));
  return r;
}

std::string url_escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

Query& Query::add(std::string_view key, std::string_view value) {
  s_ += s_.empty() ? '?' : '&';
  s_ += url_escape(key);
  s_ += '=';
  s_ += url_escape(value);
  return *this;
}

}  // namespace berth::client
