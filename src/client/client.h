// The Docker Engine API client of the berth CLI: API version negotiation via /_ping (like
// docker's CLI), one kept-alive connection for ordinary calls, separate connections for
// streams (logs -f, events, pull progress, wait) and hijacked sessions (attach, exec start);
// over a unix socket, TCP, or TLS over TCP (the Endpoint says which).
//
// Daemon errors become berth Errors whose message is docker's line, "Error response from
// daemon: <message>", with the kind taken from the HTTP status (404 NotFound, 409 Conflict,
// 400 InvalidArgument, 401/403 PermissionDenied, 501 Unsupported, else Internal).
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "client/http.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::client {

// The newest API version this client speaks (docker 27's; a daemon with an older one wins).
inline constexpr std::string_view kClientApiVersion = "1.47";
// The oldest the daemon may answer with before the client stops trying to negotiate.
inline constexpr std::string_view kFallbackApiVersion = "1.24";

// Compares "1.41" with "1.47" numerically (<0, 0, >0).
int compare_versions(std::string_view a, std::string_view b);

struct Hijacked {
  std::unique_ptr<Transport> stream;  // the raw connection: container output in, stdin out
  std::string pending;                // output bytes that arrived with the response head
  bool multiplexed = false;           // Content-Type application/vnd.docker.multiplexed-stream
};

class Client {
 public:
  explicit Client(Endpoint ep) : ep_(std::move(ep)) {}
  const Endpoint& endpoint() const { return ep_; }

  // The negotiated version ("1.41"); pings the daemon the first time.
  Result<std::string> api_version();
  // What /_ping's headers said (after api_version()).
  const std::string& server_os() const { return os_type_; }

  // A call whose response is read whole. Error statuses become Errors (see above).
  Result<std::string> call(std::string_view method, std::string_view path,
                           const std::optional<nlohmann::ordered_json>& body = std::nullopt);
  Result<nlohmann::ordered_json> get_json(std::string_view path);
  Result<nlohmann::ordered_json> post_json(
      std::string_view path, const std::optional<nlohmann::ordered_json>& body = std::nullopt);
  // As call(), but a 404 yields nullopt instead of an error (inspect of "is it an image?").
  Result<std::optional<nlohmann::ordered_json>> get_json_if_found(std::string_view path);

  // A request whose response body is read as a stream, on a connection of its own. The
  // response head has been read; an error status is an Error. `headers` go with the request.
  Result<Response> open_stream(std::string_view method, std::string_view path,
                               const std::optional<nlohmann::ordered_json>& body = std::nullopt,
                               const std::map<std::string, std::string>& headers = {});
  // Sends a chunked body from `reader` (image load, archive put), then reads the head.
  Result<Response> upload(std::string_view method, std::string_view path,
                          std::string_view content_type,
                          std::function<Result<size_t>(char*, size_t)> reader);
  // Sends the request on a connection of its own and returns after writing it, without
  // reading the response; read_response_head() on the result gets the answer later.
  Result<Connection> send_only(std::string_view method, std::string_view path,
                               const std::optional<nlohmann::ordered_json>& body = std::nullopt);
  // Upgrades the connection to a raw stream (attach, exec start).
  Result<Hijacked> hijack(std::string_view path, const std::optional<nlohmann::ordered_json>& body);

  // "/v1.41" + path.
  Result<std::string> versioned(std::string_view path);
  // The error for an unsuccessful response whose body has been read.
  static Error error_from_response(int status, std::string_view body);
  // Whether a status is a success, as docker's client judges it: 2xx and 3xx (start of a
  // running container and stop of a stopped one answer 304 Not Modified).
  static bool succeeded(int status) { return status >= 200 && status < 400; }

 private:
  Result<Connection> connection();  // the kept-alive one, or a new one
  Result<Response> roundtrip(const RequestSpec& req, bool reuse);
  Result<void> ping();

  Endpoint ep_;
  std::optional<Connection> idle_;
  std::string version_;
  std::string os_type_;
};

// Maps an HTTP status to an ErrorKind.
ErrorKind kind_for_status(int status);

}  // namespace berth::client
