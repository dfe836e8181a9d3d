// An API server for tests: the real HTTP layer on a unix socket in a temp dir, serving the
// system and image routes over a real ImageService and EventBus (no Engine, no containers),
// test-only routes that exercise the HTTP layer, and the 501 routes. Plus a raw HTTP client.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "api/http.h"
#include "engine/events.h"
#include "image/images.h"
#include "registry_fixture.h"

namespace berth::test {

struct ApiServerOptions {
  size_t max_body = 32 << 20;
  std::string socket_group;
};

class ApiServer {
 public:
  static Result<std::unique_ptr<ApiServer>> Start(ApiServerOptions opts = {});
  ~ApiServer();  // stops the server, removes the temp dir

  const std::string& socket() const { return socket_; }
  std::string docker_host() const { return "unix://" + socket_; }
  engine::EventBus& events() { return events_; }
  image::ImageService& images() { return *images_; }
  const std::string& dir() const { return tmp_.path(); }
  // Runs the docker CLI against this server, with a private DOCKER_CONFIG.
  CommandResult Docker(const std::vector<std::string>& args);

 private:
  ApiServer() = default;
  TempDir tmp_{"berth-api"};
  std::string socket_;
  engine::EventBus events_;
  std::unique_ptr<image::ImageService> images_;
  std::unique_ptr<api::Server> server_;
  std::thread thread_;
};

struct HttpResponse {
  int status = 0;
  std::string reason;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
  std::string header(const std::string& lower) const {
    auto it = headers.find(lower);
    return it == headers.end() ? "" : it->second;
  }
};

// One connection to a unix socket, raw bytes out, responses parsed.
class RawClient {
 public:
  static Result<RawClient> Connect(const std::string& socket_path);
  bool Send(std::string_view data);
  // Reads one response (Content-Length, chunked, or until EOF); `head` for HEAD requests.
  Result<HttpResponse> Read(bool head = false, int timeout_ms = 10000);
  // Convenience: method + target + headers + body, then Read().
  Result<HttpResponse> Request(const std::string& method, const std::string& target,
                               const std::string& body = "",
                               const std::map<std::string, std::string>& headers = {});
  // Bytes after the last response (hijacked streams), waiting up to timeout_ms for `n`.
  Result<std::string> ReadRaw(size_t n, int timeout_ms = 10000);
  // True when the server closed the connection (EOF within timeout_ms).
  bool ClosedByPeer(int timeout_ms = 5000);
  int fd() const { return fd_.get(); }

 private:
  Result<void> Fill(int timeout_ms);  // at least one more byte into buf_
  Result<std::string> Line(int timeout_ms);
  UniqueFd fd_;
  std::string buf_;
};

}  // namespace berth::test
