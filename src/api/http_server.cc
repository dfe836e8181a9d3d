// The API server: accepts connections on every listener and serves each on its own thread
// (Beast parses requests; responses are written directly so streams and hijacks control every
// byte on the wire).
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <system_error>
#include <thread>

#include "api/http.h"
#include "api/http_internal.h"
#include "api/http_listen.h"
#include "api/http_transport.h"
#include "util/log.h"

namespace berth::api {

namespace beast = boost::beast;
namespace http = boost::beast::http;

std::string_view reason_phrase(int status) {
  if (status == 101) return "UPGRADED";  // what dockerd's hijack answers
  auto s = http::obsolete_reason(static_cast<http::status>(status));
  return s.empty() ? std::string_view("Unknown") : std::string_view(s.data(), s.size());
}

namespace {

std::string http_date() {
  char buf[64];
  time_t now = time(nullptr);
  struct tm tm;
  gmtime_r(&now, &tm);
  strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
  return buf;
}

enum class ConnState { Idle, Busy, Streaming };

// What connection threads share; they keep it alive (a hijacked connection's handler may
// outlive the Server).
struct Core {
  ServerOptions opts;
  Router router;
  SSL_CTX* tls = nullptr;
  std::atomic<bool> stopping{false};
  std::mutex mu;
  std::condition_variable cv;
  std::map<Transport*, ConnState> conns;

  ~Core() {
    if (tls) SSL_CTX_free(tls);
  }
  void serve_connection(UniqueFd fd, bool use_tls);
  void set_state(Transport* t, ConnState s) {
    std::lock_guard lock(mu);
    conns[t] = s;
    if (s != ConnState::Busy && stopping) t->shutdown_socket();
  }
  void forget(Transport* t) {
    std::lock_guard lock(mu);
    conns.erase(t);
    cv.notify_all();
  }
};

}  // namespace

struct Server::Impl {
  std::shared_ptr<Core> core = std::make_shared<Core>();
  std::vector<Listener> listeners;
  UniqueFd wake_r, wake_w;

  ~Impl() {
    for (auto& l : listeners)
      if (!l.unix_path.empty()) unlink(l.unix_path.c_str());
  }
};

namespace {

// One request/response on a connection.
class ConnExchange : public Exchange, public StreamWriter {
 public:
  using Parser = http::request_parser<http::buffer_body>;
  ConnExchange(Core& srv, Transport& t, beast::flat_buffer& buf, Parser& p, Request& req,
               bool http10)
      : srv_(srv), t_(t), stream_(t), buf_(buf), parser_(p), req_(req), http10_(http10) {}

  const Request& request() const override { return req_; }
  bool answered() const { return answered_; }
  bool hijacked() const { return hijacked_; }
  bool streaming() const { return streaming_; }
  bool failed() const { return failed_; }
  bool keep_alive() const { return keep_alive_ && !failed_; }
  void set_keep_alive(bool k) { keep_alive_ = k; }

  Result<size_t> read_body(char* buf, size_t len) override;
  void add_header(std::string name, std::string value) override {
    extra_headers.emplace_back(std::move(name), std::move(value));
  }
  // Reads the whole body into req.body; false when it is over the limit (answered 413).
  Result<bool> read_full_body(size_t limit);

  void json(int status, const nlohmann::json& body) override {
    std::string s = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    s += '\n';
    send(status, "application/json", s);
  }
  void error(int status, std::string_view message) override {
    json(status, nlohmann::json{{"message", message}});
  }
  void error(const Error& e) override { error(error_status(e), e.what()); }
  void status(int status) override { send(status, "", ""); }
  void raw(int status, std::string_view content_type, std::string_view body) override {
    send(status, content_type, body);
  }
  StreamWriter& stream(std::string_view content_type) override;
  Result<Hijacked> hijack(std::string_view content_type) override;

  // StreamWriter
  bool write(std::string_view data) override;
  int fd() const override { return t_.fd(); }
  void finish_stream();

  // Extra headers for the next answer (the /_ping ones).
  std::vector<std::pair<std::string, std::string>> extra_headers;

 private:
  std::string head(int status, std::string_view content_type, std::optional<size_t> length);
  void send(int status, std::string_view content_type, std::string_view body);
  void continue_if_expected();

  Core& srv_;
  Transport& t_;
  SyncStream stream_;
  beast::flat_buffer& buf_;
  Parser& parser_;
  Request& req_;
  bool http10_;
  bool answered_ = false, hijacked_ = false, streaming_ = false, failed_ = false;
  bool keep_alive_ = true, sent_continue_ = false;
};

std::string ConnExchange::head(int status, std::string_view content_type,
                               std::optional<size_t> length) {
  std::string h = (http10_ ? "HTTP/1.0 " : "HTTP/1.1 ") + std::to_string(status) + " " +
                  std::string(reason_phrase(status)) + "\r\n";
  h += "Api-Version: " + std::string(kApiVersion) + "\r\n";
  if (!content_type.empty()) h += "Content-Type: " + std::string(content_type) + "\r\n";
  h += "Date: " + http_date() + "\r\n";
  h += "Docker-Experimental: false\r\n";
  h += "Ostype: linux\r\n";
  h += "Server: Docker/" + srv_.opts.server_version + " (linux)\r\n";
  for (auto& [k, v] : extra_headers) h += k + ": " + v + "\r\n";
  if (length) h += "Content-Length: " + std::to_string(*length) + "\r\n";
  if (!keep_alive_ || http10_) h += "Connection: close\r\n";
  return h;
}

void ConnExchange::send(int status, std::string_view content_type, std::string_view body) {
  if (answered_) return;
  answered_ = true;
  bool no_body = status == 204 || status == 304 || (status >= 100 && status < 200);
  std::string out = head(status, content_type, no_body ? std::nullopt : std::optional(body.size()));
  out += "\r\n";
  if (!no_body && req_.method != "HEAD") out += body;
  if (!t_.write_all(out)) failed_ = true;
}

void ConnExchange::continue_if_expected() {
  if (sent_continue_ || answered_) return;
  sent_continue_ = true;
  std::string expect = req_.header("expect");
  for (auto& c : expect) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (expect == "100-continue" && !http10_) t_.write_all("HTTP/1.1 100 Continue\r\n\r\n");
}

Result<size_t> ConnExchange::read_body(char* out, size_t len) {
  if (parser_.is_done() || len == 0) return size_t{0};
  continue_if_expected();
  auto& body = parser_.get().body();
  body.data = out;
  body.size = len;
  beast::error_code ec;
  http::read(stream_, buf_, parser_, ec);
  if (ec == http::error::need_buffer) ec = {};
  if (ec) {
    failed_ = true;
    return Error(ErrorKind::Io, 0, "read request body: " + ec.message());
  }
  return len - body.size;
}

Result<bool> ConnExchange::read_full_body(size_t limit) {
  if (auto n = parser_.content_length(); n && *n > limit) {
    error(413, "request body is larger than " + std::to_string(limit) + " bytes");
    keep_alive_ = false;
    return false;
  }
  char chunk[65536];
  for (;;) {
    size_t n = BERTH_TRY(read_body(chunk, sizeof chunk));
    if (n == 0) break;
    if (req_.body.size() + n > limit) {
      keep_alive_ = false;
      error(413, "request body is larger than " + std::to_string(limit) + " bytes");
      return false;
    }
    req_.body.append(chunk, n);
  }
  return true;
}

StreamWriter& ConnExchange::stream(std::string_view content_type) {
  if (!answered_) {
    answered_ = true;
    streaming_ = true;
    std::string h = head(200, content_type, std::nullopt);
    if (http10_)
      keep_alive_ = false;
    else
      h += "Transfer-Encoding: chunked\r\n";
    h += "\r\n";
    if (!t_.write_all(h)) failed_ = true;
    srv_.set_state(&t_, ConnState::Streaming);
  }
  return *this;
}

bool ConnExchange::write(std::string_view data) {
  if (failed_ || !streaming_) return false;
  if (data.empty()) return true;
  if (req_.method == "HEAD") return true;
  if (http10_) {
    failed_ = !t_.write_all(data);
    return !failed_;
  }
  char size[32];
  int n = snprintf(size, sizeof size, "%zx\r\n", data.size());
  std::string chunk(size, n);
  chunk.append(data);
  chunk += "\r\n";
  failed_ = !t_.write_all(chunk);
  return !failed_;
}

void ConnExchange::finish_stream() {
  if (!streaming_ || failed_ || http10_ || req_.method == "HEAD") return;
  if (!t_.write_all("0\r\n\r\n")) failed_ = true;
}

Result<Exchange::Hijacked> ConnExchange::hijack(std::string_view content_type) {
  if (answered_) return Error::internal("hijack after the response started");
  answered_ = true;
  std::string upgrade = req_.header("upgrade");
  std::string h;
  if (!upgrade.empty()) {
    h = "HTTP/1.1 101 UPGRADED\r\nContent-Type: " + std::string(content_type) +
        "\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n";
  } else {
    h = "HTTP/1.1 200 OK\r\nContent-Type: " + std::string(content_type) + "\r\n";
  }
  h += "Api-Version: " + std::string(kApiVersion) + "\r\nDocker-Experimental: false\r\n";
  h += "Ostype: linux\r\nServer: Docker/" + srv_.opts.server_version + " (linux)\r\n\r\n";
  if (!t_.write_all(h)) {
    failed_ = true;
    return Error(ErrorKind::Io, EPIPE, "hijack: client went away");
  }
  Hijacked out;
  auto data = buf_.data();
  out.pending.assign(static_cast<const char*>(data.data()), data.size());
  buf_.consume(data.size());
  srv_.forget(&t_);
  out.fd = BERTH_TRY(t_.release());
  hijacked_ = true;
  return out;
}

// dockerd's version middleware.
std::optional<std::string> version_error(const Request& req) {
  if (compare_versions(req.api_version, kMinApiVersion) < 0)
    return "client version " + req.api_version + " is too old. Minimum supported API version is " +
           std::string(kMinApiVersion) + ", please upgrade your client to a newer version";
  if (compare_versions(req.api_version, kApiVersion) > 0)
    return "client version " + req.api_version + " is too new. Maximum supported API version is " +
           std::string(kApiVersion);
  return std::nullopt;
}

void answer_bad_request(Transport& t, std::string_view why) {
  std::string body = "400 Bad Request: " + std::string(why);
  std::string out =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"
      "Connection: close\r\nContent-Length: " +
      std::to_string(body.size()) + "\r\n\r\n" + body;
  t.write_all(out);
}

Request request_from(const ConnExchange::Parser& p) {
  Request req;
  const auto& msg = p.get();
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  for (const auto& f : msg) {
    std::string name(f.name_string());
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value(f.value());
    auto [it, fresh] = req.headers.emplace(name, value);
    if (!fresh) it->second += ", " + value;
  }
  return req;
}

// Runs the handler; turns an escaped exception or a missing answer into a 500.
void call_handler(const Handler& h, ConnExchange& ex) {
  try {
    h(ex);
  } catch (const std::exception& e) {
    log::error(std::string("API handler for ") + ex.request().method + " " + ex.request().path +
               " failed: " + e.what());
    if (!ex.answered()) ex.error(500, std::string("internal error: ") + e.what());
    ex.set_keep_alive(false);
    return;
  }
  if (!ex.answered()) ex.error(500, "internal error: the handler did not answer");
}

}  // namespace

void Core::serve_connection(UniqueFd fd, bool use_tls) {
  std::unique_ptr<Transport> t;
  if (use_tls) {
    auto r = tls_transport(std::move(fd), tls);
    if (!r) {
      log::debug("API connection: " + r.error().what());
      return;
    }
    t = std::move(*r);
  } else {
    t = plain_transport(std::move(fd));
  }
  Transport* key = t.get();
  set_state(key, ConnState::Idle);
  beast::flat_buffer buf;
  SyncStream stream(*t);
  for (;;) {
    ConnExchange::Parser parser;
    parser.header_limit(1 << 20);
    // Limits are ours (max_body, streaming routes); Boost 1.74 mis-compares a disabled limit.
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    beast::error_code ec;
    http::read_header(stream, buf, parser, ec);
    if (ec) {
      if (ec != beast::http::error::end_of_stream && ec != boost::asio::error::eof &&
          ec.category() != boost::system::system_category())
        answer_bad_request(*t, ec.message());
      break;
    }
    set_state(key, ConnState::Busy);
    Request req = request_from(parser);
    bool http10 = parser.get().version() < 11;
    ConnExchange ex(*this, *t, buf, parser, req, http10);
    ex.set_keep_alive(parser.get().keep_alive());
    if (auto r = split_target(req); !r) {
      answer_bad_request(*t, r.error().what());
      break;
    }
    bool path_known = false, stream_body = false;
    const Handler* h = nullptr;
    if (auto why = version_error(req)) {
      ex.error(400, *why);
    } else if (!(h = router.match(req, &path_known, &stream_body))) {
      if (path_known)
        ex.error(405, "method " + req.method + " not allowed for " + req.path);
      else
        ex.error(404, "page not found");
    } else if (stream_body) {
      call_handler(*h, ex);
    } else if (auto full = ex.read_full_body(opts.max_body); full && *full) {
      call_handler(*h, ex);
    }
    if (ex.hijacked()) return;  // the handler owns the connection now
    ex.finish_stream();
    if (!ex.keep_alive() || !parser.is_done() || stopping) break;
    set_state(key, ConnState::Idle);
  }
  forget(key);
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::listen(const ServerOptions& opts, Router router) {
  auto impl = std::make_unique<Impl>();
  Core& core = *impl->core;
  core.opts = opts;
  if (core.opts.server_version.empty()) core.opts.server_version = BERTH_VERSION;
  core.router = std::move(router);
  if (opts.hosts.empty()) return Error::invalid("no host to listen on");
  for (const auto& host : opts.hosts) {
    Listener l = BERTH_TRY(open_listener(host, opts));
    bool tls = l.tls;
    impl->listeners.push_back(std::move(l));
    if (tls && !core.tls)
      core.tls = BERTH_TRY(make_tls_context(opts.tls_cert, opts.tls_key, opts.tls_ca));
  }
  int p[2];
  if (pipe2(p, O_CLOEXEC | O_NONBLOCK) != 0) return Error::sys("pipe");
  impl->wake_r = UniqueFd(p[0]);
  impl->wake_w = UniqueFd(p[1]);
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

void Server::stop() {
  impl_->core->stopping = true;
  if (::write(impl_->wake_w.get(), "x", 1) < 0) {
    // the pipe is full: run() is waking up anyway
  }
}

void Server::run() {
  std::shared_ptr<Core> core = impl_->core;
  std::vector<pollfd> pfds;
  for (auto& l : impl_->listeners) pfds.push_back({l.fd.get(), POLLIN, 0});
  pfds.push_back({impl_->wake_r.get(), POLLIN, 0});
  bool starved = false;  // logged once per shortage of descriptors
  while (!core->stopping) {
    if (poll(pfds.data(), pfds.size(), -1) < 0) {
      if (errno == EINTR) continue;
      log::error("API server: poll: " + errno_text(errno));
      break;
    }
    for (size_t i = 0; i + 1 < pfds.size(); i++) {
      if (!(pfds[i].revents & POLLIN)) continue;
      int c = accept4(pfds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) {
        // Out of descriptors: the pending connection stays readable, and polling again at
        // once would spin. Wait for some to be closed.
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          if (!starved) log::warn("API server: accept: " + errno_text(errno) + " (waiting)");
          starved = true;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        continue;
      }
      starved = false;
      bool use_tls = impl_->listeners[i].tls;
      UniqueFd fd(c);
      try {
        std::thread([core, fd = std::move(fd), use_tls]() mutable {
          core->serve_connection(std::move(fd), use_tls);
        }).detach();
      } catch (const std::system_error& e) {
        // Thread or pid limit: this connection is refused (closed), the daemon goes on.
        log::error(std::string("API server: no thread for a connection: ") + e.what());
      }
    }
  }
  // Stop: idle and streaming connections are closed now; requests in flight get a grace
  // period, then their connections are shut down too.
  std::unique_lock lock(core->mu);
  for (auto& [t, st] : core->conns)
    if (st != ConnState::Busy) t->shutdown_socket();
  if (!core->cv.wait_for(lock, std::chrono::seconds(10), [&] { return core->conns.empty(); })) {
    for (auto& [t, st] : core->conns) t->shutdown_socket();
    core->cv.wait_for(lock, std::chrono::seconds(2), [&] { return core->conns.empty(); });
  }
}

}  // namespace berth::api
