#include "client/client.h"

#include <cstdlib>

namespace berth::client {

int compare_versions(std::string_view a, std::string_view b) {
  auto next = [](std::string_view& s) {
    long v = 0;
    while (!s.empty() && s.front() != '.') {
      if (s.front() >= '0' && s.front() <= '9') v = v * 10 + (s.front() - '0');
      s.remove_prefix(1);
    }
    if (!s.empty()) s.remove_prefix(1);
    return v;
  };
  while (!a.empty() || !b.empty()) {
    long x = next(a), y = next(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

ErrorKind kind_for_status(int status) {
  switch (status) {
    case 400: return ErrorKind::InvalidArgument;
    case 401:
    case 403: return ErrorKind::PermissionDenied;
    case 404: return ErrorKind::NotFound;
    case 409: return ErrorKind::Conflict;
    case 501: return ErrorKind::Unsupported;
    default: return ErrorKind::Internal;
  }
}

Error Client::error_from_response(int status, std::string_view body) {
  std::string msg;
  auto j = nlohmann::ordered_json::parse(body, nullptr, false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    msg = j["message"].get<std::string>();
  } else {
    msg = std::string(body);
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == '\r')) msg.pop_back();
    if (msg.empty()) msg = "status code " + std::to_string(status);
  }
  if (status == 404 && msg == "page not found") {
    // What docker prints when the daemon lacks an endpoint.
    return Error(ErrorKind::NotFound, 0, "Error response from daemon: page not found");
  }
  return Error(kind_for_status(status), 0, "Error response from daemon: " + msg);
}

Result<Connection> Client::connection() {
  if (idle_) {
    Connection c = std::move(*idle_);
    idle_.reset();
    return c;
  }
  return Connection::open(ep_);
}

Result<Response> Client::roundtrip(const RequestSpec& req, bool reuse) {
  bool reused = reuse && idle_.has_value();
  Connection conn = reuse ? BERTH_TRY(connection()) : BERTH_TRY(Connection::open(ep_));
  auto sent = send_request(conn, req);
  Result<Response> resp = sent ? read_response_head(std::move(conn), req.method == "HEAD")
                               : Result<Response>(std::move(sent).error());
  if (!resp && reused && !req.body_reader) {
    // The daemon closed the idle connection meanwhile: once more on a fresh one.
    Connection fresh = BERTH_TRY(Connection::open(ep_));
    BERTH_TRY(send_request(fresh, req));
    return read_response_head(std::move(fresh), req.method == "HEAD");
  }
  return resp;
}

Result<void> Client::ping() {
  RequestSpec req{.method = "GET", .target = "/_ping"};
  Response r = BERTH_TRY(roundtrip(req, true));
  std::string body = BERTH_TRY(r.read_all(1 << 20));
  std::string server = r.header("api-version");
  os_type_ = r.header("ostype");
  if (r.reusable()) idle_ = r.take_connection();
  if (r.status >= 400 && server.empty()) return error_from_response(r.status, body);
  if (server.empty()) server = std::string(kFallbackApiVersion);
  version_ =
      compare_versions(server, kClientApiVersion) < 0 ? server : std::string(kClientApiVersion);
  return ok();
}

Result<std::string> Client::api_version() {
  if (version_.empty()) {
    if (const char* v = std::getenv("DOCKER_API_VERSION"); v && *v) {
      version_ = v;
    } else {
      BERTH_TRY(ping());
    }
  }
  return version_;
}

Result<std::string> Client::versioned(std::string_view path) {
  std::string v = BERTH_TRY(api_version());
  return "/v" + v + std::string(path);
}

namespace {
RequestSpec make_request(std::string_view method, std::string target,
                         const std::optional<nlohmann::ordered_json>& body) {
  RequestSpec req{.method = std::string(method), .target = std::move(target)};
  if (body) {
    req.content_type = "application/json";
    req.body = body->dump();
  }
  return req;
}
}  // namespace

Result<std::string> Client::call(std::string_view method, std::string_view path,
                                 const std::optional<nlohmann::ordered_json>& body) {
  RequestSpec req = make_request(method, BERTH_TRY(versioned(path)), body);
  Response r = BERTH_TRY(roundtrip(req, true));
  std::string text = BERTH_TRY(r.read_all());
  if (r.reusable()) idle_ = r.take_connection();
  if (!succeeded(r.status)) return error_from_response(r.status, text);
  return text;
}

Result<nlohmann::ordered_json> Client::get_json(std::string_view path) {
  std::string text = BERTH_TRY(call("GET", path));
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded())
    return Error::invalid("malformed JSON from the daemon for GET " + std::string(path));
  return j;
}

Result<nlohmann::ordered_json> Client::post_json(
    std::string_view path, const std::optional<nlohmann::ordered_json>& body) {
  std::string text = BERTH_TRY(call("POST", path, body));
  if (text.empty()) return nlohmann::ordered_json();
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (j.is_discarded()) return nlohmann::ordered_json();
  return j;
}

Result<std::optional<nlohmann::ordered_json>> Client::get_json_if_found(std::string_view path) {
  auto j = get_json(path);
  if (!j) {
    if (j.error().kind() == ErrorKind::NotFound) return std::optional<nlohmann::ordered_json>();
    return std::move(j).error();
  }
  return std::optional<nlohmann::ordered_json>(std::move(*j));
}

Result<Response> Client::open_stream(std::string_view method, std::string_view path,
                                     const std::optional<nlohmann::ordered_json>& body,
                                     const std::map<std::string, std::string>& headers) {
  RequestSpec req = make_request(method, BERTH_TRY(versioned(path)), body);
  req.headers = headers;
  Response r = BERTH_TRY(roundtrip(req, false));
  if (!succeeded(r.status)) {
    std::string text = r.read_all(1 << 20).value_or(std::string());
    return error_from_response(r.status, text);
  }
  return r;
}

Result<Response> Client::upload(std::string_view method, std::string_view path,
                                std::string_view content_type,
                                std::function<Result<size_t>(char*, size_t)> reader) {
  RequestSpec req{.method = std::string(method), .target = BERTH_TRY(versioned(path))};
  req.content_type = std::string(content_type);
  req.body_reader = std::move(reader);
  Response r = BERTH_TRY(roundtrip(req, false));
  if (!succeeded(r.status)) {
    std::string text = r.read_all(1 << 20).value_or(std::string());
    return error_from_response(r.status, text);
  }
  return r;
}

Result<Connection> Client::send_only(std::string_view method, std::string_view path,
                                     const std::optional<nlohmann::ordered_json>& body) {
  RequestSpec req = make_request(method, BERTH_TRY(versioned(path)), body);
  Connection conn = BERTH_TRY(Connection::open(ep_));
  BERTH_TRY(send_request(conn, req));
  return conn;
}

Result<Hijacked> Client::hijack(std::string_view path,
                                const std::optional<nlohmann::ordered_json>& body) {
  RequestSpec req = make_request("POST", BERTH_TRY(versioned(path)), body);
  req.upgrade = true;
  if (!body) req.content_type = "text/plain";
  Response r = BERTH_TRY(roundtrip(req, false));
  if (r.status != 101 && r.status != 200) {
    std::string text = r.read_all(1 << 20).value_or(std::string());
    return error_from_response(r.status, text);
  }
  Hijacked h;
  h.multiplexed = r.header("content-type") == "application/vnd.docker.multiplexed-stream";
  Connection conn = std::move(*r.take_connection());
  h.pending = conn.take_buffered();
  h.stream = conn.release_transport();
  return h;
}

}  // namespace berth::client
