// The Docker Engine API server's HTTP layer (Boost.Beast underneath, hidden from handlers).
//
// berthd listens on unix sockets (and TCP with TLS client certificates). Each connection is
// served by its own thread with synchronous I/O: docker clients open few connections, the
// long-lived ones (attach, logs -f, events, wait) simply block their thread, and no handler
// has to be written as a state machine.
//
// Paths: "/v1.47/containers/json" and "/containers/json" both reach the route
// "/containers/json"; the version (or the server's own when absent) is in Request::api_version.
// A version below kMinApiVersion or above kApiVersion answers 400 like dockerd:
//   client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your
//   client to a newer version
// Every response carries the headers dockerd sends: Api-Version, Docker-Experimental, OSType,
// Server ("Docker/<version> (linux)" so clients that parse it keep working).
//
// Errors are JSON {"message":"..."} with docker's status codes; error_status() maps an
// ErrorKind to one (NotFound 404, Conflict 409, InvalidArgument 400, Unsupported 501, ...).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace berth::api {

inline constexpr std::string_view kApiVersion =
    "1.47";  // docker 27's; docker 28 CLI negotiates down
inline constexpr std::string_view kMinApiVersion = "1.24";

struct Request {
  std::string method;       // "GET", "POST", ...
  std::string target;       // as received, e.g. "/v1.47/containers/json?all=1"
  std::string path;         // without the version prefix and query: "/containers/json"
  std::string api_version;  // from the path, else kApiVersion
  // Query parameters, percent-decoded; a repeated key keeps every value in order.
  std::multimap<std::string, std::string> query;
  // Captures of the route's {name} segments, e.g. {"id": "abc"}.
  std::map<std::string, std::string> params;
  std::map<std::string, std::string> headers;  // lower-case names
  // Complete for ordinary routes (bounded by ServerOptions::max_body: 413 beyond); empty for
  // routes added with stream_body, which read it with Exchange::read_body().
  std::string body;

  // The last value of a query parameter, or nullopt.
  std::optional<std::string> q(std::string_view key) const;
  // docker's boolean query values: "1", "true", "True" are true; absent is `fallback`.
  bool q_bool(std::string_view key, bool fallback = false) const;
  // An integer query value; a malformed one is an InvalidArgument error naming the key.
  Result<std::optional<long long>> q_int(std::string_view key) const;
  std::string header(std::string_view lower_name) const;
  // Parses the body as JSON (an empty body is an empty object when allow_empty); errors are
  // InvalidArgument with docker's wording ("invalid JSON: ...").
  Result<nlohmann::json> json_body(bool allow_empty = false) const;
  // True when the client asked for at least API version `v` ("1.44").
  bool version_at_least(std::string_view v) const;
};

// Writes a chunked response body piece by piece (logs, events, pull progress). write()
// returns false once the client has gone away; the handler should then stop.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual bool write(std::string_view data) = 0;
  // Raw fd of the connection, for poll()ing it for hang-up while waiting for data.
  virtual int fd() const = 0;
};

// One request and the means to answer it. A handler answers exactly once: json(), error(),
// status(), raw(), stream() or hijack().
class Exchange {
 public:
  virtual ~Exchange() = default;
  virtual const Request& request() const = 0;
  // Streaming-body routes only (image load, archive put, image create from a tar): the next
  // bytes of the body, 0 at its end (chunked or Content-Length bodies alike).
  virtual Result<size_t> read_body(char* buf, size_t len) = 0;
  // Adds a header to the answer still to come (e.g. /_ping's Cache-Control).
  virtual void add_header(std::string name, std::string value) {
    (void)name;
    (void)value;
  }

  virtual void json(int status, const nlohmann::json& body) = 0;
  // {"message": message}
  virtual void error(int status, std::string_view message) = 0;
  // Status from the error's kind, message from Error::what().
  virtual void error(const Error& e) = 0;
  // An empty body (204, 304, or 200/201 with Content-Length: 0).
  virtual void status(int status) = 0;
  virtual void raw(int status, std::string_view content_type, std::string_view body) = 0;
  // Starts a chunked 200 response; the writer is valid until the handler returns.
  virtual StreamWriter& stream(std::string_view content_type) = 0;
  // Takes the connection over (attach, exec start): answers "101 UPGRADED" with
  // "Connection: Upgrade" / "Upgrade: tcp" when the client asked for an upgrade, else
  // "200 OK", then hands back the raw socket. Bytes the server had already read past the
  // request are returned in `pending` (the start of the client's stdin). The server never
  // touches the connection again.
  struct Hijacked {
    UniqueFd fd;
    std::string pending;
  };
  virtual Result<Hijacked> hijack(std::string_view content_type) = 0;
};

using Handler = std::function<void(Exchange&)>;

class Router {
 public:
  // pattern: "/containers/{id}/json"; a {name} segment matches one path segment (no '/').
  // "/images/{name*}/json" — a trailing-star capture matches several segments (image names
  // contain '/').
  // stream_body: the server does not read the body before calling the handler.
  void add(std::string method, std::string pattern, Handler handler, bool stream_body = false);
  // Finds the handler; fills req.params. nullptr when no route matches (then 404
  // "page not found", as dockerd; a known path with another method is 405).
  const Handler* match(Request& req, bool* path_known = nullptr, bool* stream_body = nullptr) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;
    Handler handler;
    bool stream_body = false;
  };
  std::vector<Route> routes_;
};

int error_status(const Error& e);

struct ServerOptions {
  std::vector<std::string> hosts;         // "unix:///run/berth/berth.sock", "tcp://0.0.0.0:2376"
  std::string socket_group;               // group owning the unix sockets (mode 0660); "" = root
  std::string tls_cert, tls_key, tls_ca;  // required for tcp:// (client certs verified)
  size_t max_body = 32 << 20;             // bigger request bodies get 413
  std::string server_version;             // what /version reports as Version
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> listen(const ServerOptions& opts, Router router);
  // Serves until stop() (from a signal handler thread); returns after in-flight requests end.
  void run();
  void stop();
  ~Server();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::api
