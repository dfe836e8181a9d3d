// Internals of the registry client (registry*.cc only): the libcurl transport, URL helpers,
// registry error formatting, and the Bearer/Basic authenticator.
#pragma once

#include <curl/curl.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/registry.h"
#include "util/result.h"

namespace berth::image::registry_internal {

// ---- URLs -------------------------------------------------------------------------------------

struct Origin {
  std::string scheme, host, port;  // port always filled (default for the scheme)
  friend bool operator==(const Origin&, const Origin&) = default;
};
Result<Origin> url_origin(const std::string& url);
// `ref` resolved against `base` (absolute, or a path, or relative like "../x?y").
Result<std::string> resolve_url(const std::string& base, const std::string& ref);
// `url` with "key=value" appended to the query (value URL-encoded).
Result<std::string> append_query(const std::string& url, std::string_view key,
                                 std::string_view value);
std::string url_escape(std::string_view s);
// Host part of "host:port" / "[v6]:port" without the port or brackets.
std::string host_without_port(std::string_view host);
// localhost, 127.0.0.0/8, ::1 (by name, no DNS lookup).
bool is_loopback_host(std::string_view host_port);

// ---- HTTP transport ---------------------------------------------------------------------------

struct Header {
  std::string name;  // lower-case
  std::string value;
};

struct Response {
  long status = 0;
  std::vector<Header> headers;  // of the last response (1xx interim responses dropped)
  std::string body;             // buffered body (nothing when streamed)
  std::string url;              // the URL that answered
  // First header of that name (lower-case), "" when absent.
  std::string_view header(std::string_view name) const;
  std::vector<std::string_view> headers_named(std::string_view name) const;
  // Media type from Content-Type without parameters, lower-case.
  std::string content_type() const;
};

// A request body that can be sent again (retries, redirects): bytes in memory or a file range.
struct Body {
  std::string_view data;
  int fd = -1;  // when >= 0: `length` bytes from `offset` (pread)
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t size() const { return fd >= 0 ? length : data.size(); }
};

// Streaming a 200/206 response instead of buffering it.
struct Stream {
  // Called once per response, before its first byte, with status and headers.
  std::function<Result<void>(const Response&)> on_start;
  std::function<Result<void>(const char*, size_t)> on_data;
};

struct Request {
  std::string_view method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  const Body* body = nullptr;
  Stream* stream = nullptr;   // for 200/206 only; other statuses are buffered
  size_t max_body = 1 << 20;  // buffered bodies of 2xx beyond this are an error
  bool verify_tls = true;
};

// A failed transfer: the formatted error, whether a retry may help, and whether the error came
// from a callback (sink, on_start) rather than the network.
struct TransferError {
  Error error;
  bool retryable = false;
  bool from_callback = false;
  bool nothing_sent = false;  // failed before the request reached the server (connect, DNS)
};

// One libcurl easy handle per transfer, taken from a pool so connections and TLS sessions are
// reused; DNS and TLS session caches shared between handles. Thread-safe.
class Transport {
 public:
  struct Config {
    std::string user_agent;
    std::string ca_file;
    long connect_timeout_ms = 30000;
    long low_speed_time_s = 60;  // abort a transfer slower than 1 KiB/s for this long
  };
  explicit Transport(Config config);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Performs one HTTP exchange (no redirects followed, no retries). `resp` is filled even on
  // error as far as the exchange got.
  std::optional<TransferError> perform(const Request& req, Response& resp);

 private:
  struct Handle;
  Handle* acquire();
  void release(Handle* h);

  Config config_;
  CURLSH* share_ = nullptr;
  std::mutex share_mu_[8];
  std::mutex pool_mu_;
  std::vector<Handle*> pool_;
};

// "Get", "Head", ... as Go prints methods in `Get "url": ...`.
std::string go_method(std::string_view method);
std::string_view status_text(long status);

// ---- registry errors --------------------------------------------------------------------------

struct RegistryErrorEntry {
  std::string code;  // "MANIFEST_UNKNOWN"
  std::string message;
};
// errors[] of a registry error body ({"errors":[{"code","message","detail"}]}); empty if none.
std::vector<RegistryErrorEntry> parse_registry_errors(std::string_view body);
// "manifest unknown: manifest unknown" (docker's errcode formatting), or a text for the status
// when the body has no errors: "unauthorized: authentication required", "unexpected status
// code 503 Service Unavailable".
std::string describe_registry_error(const Response& resp);
ErrorKind kind_for_status(long status);
// An Error for a response with a failure status, prefixed with `context`.
Error status_error(const Response& resp, std::string_view context);
bool has_error_code(const Response& resp, std::string_view code);

// ---- auth -------------------------------------------------------------------------------------

// Token cache and challenge state of one client. Thread-safe.
class Authenticator {
 public:
  // `lookup_credentials` is called at most once, the first time credentials are needed.
  Authenticator(Transport& transport, const RegistryOptions& opts,
                std::function<Result<Credentials>()> lookup_credentials);

  // The challenge from a 401 (ping or any request). Returns false if it holds nothing usable.
  bool set_challenge(const Response& resp);
  bool has_challenge() const;
  bool is_bearer() const;

  // The Authorization header line for a request needing `scopes` ("" when none is needed or
  // possible, e.g. Basic without credentials).
  Result<std::string> authorization(const std::vector<std::string>& scopes);
  // After a 401 on a request authorised for `scopes`: drops the cached token and learns the
  // scope the server asked for. Returns false if retrying cannot help.
  bool invalidate(const std::vector<std::string>& scopes, const Response& resp);
  // Fetches a token for no scope (login): checks credentials against the token server.
  Result<void> check_token_credentials();
  bool credentials_known();

 private:
  struct Token {
    std::string value;
    std::chrono::steady_clock::time_point expires;
  };
  Result<Credentials> credentials();
  Result<Token> fetch_token(const std::vector<std::string>& scopes);
  static std::string scope_key(const std::vector<std::string>& scopes);

  Transport& transport_;
  const RegistryOptions& opts_;
  std::function<Result<Credentials>()> lookup_;

  mutable std::mutex mu_;
  std::optional<AuthChallenge> challenge_;
  std::map<std::string, Token> tokens_;
  // Scopes a server asked for in a 401, by the scope key of the request that got it.
  std::map<std::string, std::vector<std::string>> extra_scopes_;
  std::optional<Result<Credentials>> creds_;
  std::mutex fetch_mu_;  // one token fetch at a time
};

// Whether plain HTTP is allowed for a host by the client's policy: loopback or listed insecure.
bool plain_http_allowed(const std::string& host_port, const RegistryOptions& opts);
// Whether a host is in RegistryOptions::insecure (plain HTTP, or TLS without verification).
bool listed_insecure(const std::string& host_port, const RegistryOptions& opts);

}  // namespace berth::image::registry_internal
