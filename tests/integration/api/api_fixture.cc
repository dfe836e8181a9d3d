#include "api_fixture.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "api/images.h"
#include "api/routes.h"
#include "api/system.h"

namespace berth::test {

namespace {

// Routes that exercise the HTTP layer itself.
void add_test_routes(api::Router& r) {
  r.add("POST", "/test/echo",
        [](api::Exchange& ex) { ex.raw(200, "application/octet-stream", ex.request().body); });
  r.add("GET", "/test/query", [](api::Exchange& ex) {
    nlohmann::json q = nlohmann::json::object();
    for (const auto& [k, v] : ex.request().query) q[k].push_back(v);
    ex.json(200,
            {{"query", q}, {"path", ex.request().path}, {"version", ex.request().api_version}});
  });
  r.add("GET", "/test/images/{name*}/json", [](api::Exchange& ex) {
    ex.json(200, {{"name", ex.request().params.at("name")}});
  });
  // Counts a body of any size (stream_body: not bounded by max_body).
  r.add(
      "POST", "/test/count",
      [](api::Exchange& ex) {
        char buf[65536];
        size_t total = 0;
        for (;;) {
          auto n = ex.read_body(buf, sizeof buf);
          if (!n) return ex.error(n.error());
          if (*n == 0) break;
          total += *n;
        }
        ex.json(200, {{"bytes", total}});
      },
      true);
  r.add("GET", "/test/stream", [](api::Exchange& ex) {
    auto& w = ex.stream("application/json");
    for (int i = 0; i < 5; i++) w.write("{\"n\":" + std::to_string(i) + "}\n");
  });
  r.add("GET", "/test/throw", [](api::Exchange&) { (void)nlohmann::json::parse("{"); });
  // Hijack: echoes what the client sends, upper-cased, until it closes its side.
  r.add("POST", "/test/hijack", [](api::Exchange& ex) {
    auto h = ex.hijack("application/vnd.docker.raw-stream");
    if (!h) return;
    auto upper = [](std::string s) {
      for (auto& c : s) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
      return s;
    };
    if (!h->pending.empty()) (void)write_all(h->fd.get(), upper(h->pending));
    char buf[4096];
    for (;;) {
      ssize_t n = read(h->fd.get(), buf, sizeof buf);
      if (n <= 0) break;
      if (!write_all(h->fd.get(), upper(std::string(buf, n)))) break;
    }
  });
}

}  // namespace

Result<std::unique_ptr<ApiServer>> ApiServer::Start(ApiServerOptions opts) {
  std::unique_ptr<ApiServer> s(new ApiServer());
  s->socket_ = s->tmp_.sub("run/api.sock");
  s->images_ = BERTH_TRY(image::ImageService::open(s->tmp_.sub("root")));
  api::Router router;
  add_test_routes(router);
  api::add_system_routes(router, s->events_);
  api::ImageRoutes deps;
  deps.images = s->images_.get();
  deps.events = &s->events_;
  deps.insecure_registries = {};
  api::add_image_routes(router, std::move(deps));
  api::add_unimplemented_routes(router);
  api::ServerOptions so;
  so.hosts = {"unix://" + s->socket_};
  so.max_body = opts.max_body;
  so.socket_group = opts.socket_group;
  so.server_version = "0.1.0-test";
  s->server_ = BERTH_TRY(api::Server::listen(so, std::move(router)));
  s->thread_ = std::thread([srv = s->server_.get()] { srv->run(); });
  return s;
}

ApiServer::~ApiServer() {
  if (server_) server_->stop();
  events_.close_all();
  if (thread_.joinable()) thread_.join();
  server_.reset();
}

CommandResult ApiServer::Docker(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"/usr/local/bin/docker"};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunCommand(argv, {{"DOCKER_HOST", docker_host()},
                           {"DOCKER_CONFIG", tmp_.sub("docker-config")},
                           {"DOCKER_CLI_HINTS", "false"}});
}

// ---- RawClient ---------------------------------------------------------------------------------

Result<RawClient> RawClient::Connect(const std::string& path) {
  RawClient c;
  c.fd_ = UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!c.fd_) return Error::sys("socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (connect(c.fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return Error::sys("connect " + path);
  return c;
}

bool RawClient::Send(std::string_view data) {
  while (!data.empty()) {
    ssize_t n = send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    data.remove_prefix(n);
  }
  return true;
}

Result<void> RawClient::Fill(int timeout_ms) {
  pollfd p{fd_.get(), POLLIN, 0};
  int r = poll(&p, 1, timeout_ms);
  if (r == 0) return Error(ErrorKind::Timeout, 0, "timed out waiting for the server");
  if (r < 0) return Error::sys("poll");
  char buf[65536];
  ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
  if (n < 0) return Error::sys("recv");
  if (n == 0) return Error(ErrorKind::Io, 0, "connection closed by the server");
  buf_.append(buf, n);
  return ok();
}

Result<std::string> RawClient::Line(int timeout_ms) {
  for (;;) {
    size_t eol = buf_.find("\r\n");
    if (eol != std::string::npos) {
      std::string line = buf_.substr(0, eol);
      buf_.erase(0, eol + 2);
      return line;
    }
    BERTH_TRY(Fill(timeout_ms));
  }
}

Result<HttpResponse> RawClient::Read(bool head, int timeout_ms) {
  HttpResponse r;
  std::string status = BERTH_TRY(Line(timeout_ms));
  // Interim 100 Continue.
  while (status.starts_with("HTTP/1.1 100")) {
    BERTH_TRY(Line(timeout_ms));
    status = BERTH_TRY(Line(timeout_ms));
  }
  if (status.size() < 12) return Error::invalid("bad status line: " + status);
  r.status = std::stoi(status.substr(9, 3));
  r.reason = status.substr(13);
  for (;;) {
    std::string h = BERTH_TRY(Line(timeout_ms));
    if (h.empty()) break;
    size_t colon = h.find(':');
    std::string name = h.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
    std::string value = h.substr(colon + 1);
    while (!value.empty() && value[0] == ' ') value.erase(0, 1);
    r.headers[name] = value;
  }
  if (head || r.status == 204 || r.status == 304 || r.status == 101) return r;
  if (r.header("transfer-encoding") == "chunked") {
    for (;;) {
      std::string size_line = BERTH_TRY(Line(timeout_ms));
      size_t n = std::stoul(size_line, nullptr, 16);
      while (buf_.size() < n + 2) BERTH_TRY(Fill(timeout_ms));
      r.body += buf_.substr(0, n);
      buf_.erase(0, n + 2);
      if (n == 0) break;
    }
  } else if (auto cl = r.header("content-length"); !cl.empty()) {
    size_t n = std::stoul(cl);
    while (buf_.size() < n) BERTH_TRY(Fill(timeout_ms));
    r.body = buf_.substr(0, n);
    buf_.erase(0, n);
  } else if (!(r.status == 200 &&
               r.header("content-type") == "application/vnd.docker.raw-stream")) {
    for (;;) {
      auto f = Fill(timeout_ms);
      if (!f) break;
    }
    r.body = std::move(buf_);
    buf_.clear();
  }
  return r;
}

Result<HttpResponse> RawClient::Request(const std::string& method, const std::string& target,
                                        const std::string& body,
                                        const std::map<std::string, std::string>& headers) {
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: docker\r\n";
  for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
  if (!body.empty() || method == "POST" || method == "PUT")
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  req += "\r\n" + body;
  if (!Send(req)) return Error::sys("send");
  return Read(method == "HEAD");
}

Result<std::string> RawClient::ReadRaw(size_t n, int timeout_ms) {
  while (buf_.size() < n) BERTH_TRY(Fill(timeout_ms));
  std::string out = buf_.substr(0, n);
  buf_.erase(0, n);
  return out;
}

bool RawClient::ClosedByPeer(int timeout_ms) {
  for (;;) {
    auto r = Fill(timeout_ms);
    if (!r) return r.error().kind() == ErrorKind::Io;
  }
}

}  // namespace berth::test
