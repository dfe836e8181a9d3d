// RegistryClient: the OCI distribution spec's pull and push endpoints over the transport in
// registry_http.cc and the authenticator in registry_auth.cc. Each public call reads as the
// spec's exchange: build the URL, send (auth, redirects, retries handled by send()), interpret
// the status the spec defines for success, and word every other answer as docker does.
#include "image/registry.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "image/registry_internal.h"
#include "util/log.h"
#include "util/strings.h"

namespace berth::image {

using namespace registry_internal;
namespace oi = oci::image;

namespace {

constexpr int kMaxRedirects = 10;
constexpr int kMaxBlobResumes = 64;
constexpr int64_t kMaxBackoffMs = 10000;
constexpr int64_t kMaxRetryAfterMs = 60000;
constexpr size_t kMaxTagPages = 1000;

constexpr std::string_view kManifestAccept =
    "Accept: application/vnd.oci.image.manifest.v1+json, "
    "application/vnd.oci.image.index.v1+json, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json, "
    "application/vnd.docker.distribution.manifest.v1+prettyjws, "
    "application/vnd.docker.distribution.manifest.v1+json";

bool is_docker_hub(std::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

// Repository names as the distribution spec allows them (lower-case components separated by
// '/'), checked again here because they are pasted into URLs.
Result<void> check_repo(const std::string& repo) {
  bool valid = !repo.empty() && repo.size() <= 255 && repo.front() != '/' && repo.back() != '/' &&
               repo.find("//") == std::string::npos && repo.find("..") == std::string::npos;
  for (char c : repo) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' ||
          c == '/')) {
      valid = false;
    }
  }
  if (!valid) return Error::invalid("invalid repository name " + berth::quoted(repo));
  return ok();
}

// A tag ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}) or a digest.
Result<void> check_manifest_ref(const std::string& ref) {
  if (ref.find(':') != std::string::npos) {
    BERTH_TRY(Digest::parse(ref));
    return ok();
  }
  bool valid = !ref.empty() && ref.size() <= 128 && ref.front() != '.' && ref.front() != '-';
  for (char c : ref) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-')) {
      valid = false;
    }
  }
  if (!valid) return Error::invalid("invalid tag " + berth::quoted(ref));
  return ok();
}

bool is_redirect(long status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

bool is_transient_status(long status) {
  return status == 429 || (status >= 500 && status != 501 && status != 505);
}

// Retry-After in seconds (an HTTP date is not worth parsing here), in ms; -1 when absent.
int64_t retry_after_ms(const Response& resp) {
  std::string_view v = resp.header("retry-after");
  if (v.empty() || v.size() > 9) return -1;
  int64_t s = 0;
  for (char c : v) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return -1;
    s = s * 10 + (c - '0');
  }
  return std::min(s * 1000, kMaxRetryAfterMs);
}

std::optional<uint64_t> parse_u64(std::string_view s) {
  if (s.empty() || s.size() > 19) return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return v;
}

// Start of "bytes START-END/TOTAL".
std::optional<uint64_t> content_range_start(std::string_view v) {
  if (!v.starts_with("bytes ")) return std::nullopt;
  v.remove_prefix(6);
  return parse_u64(v.substr(0, v.find('-')));
}

bool is_manifest_media_type(std::string_view t) {
  return t == oi::kOciManifest || t == oi::kOciIndex || t == oi::kDockerManifest ||
         t == oi::kDockerManifestList || t == oi::kDockerSchema1 || t == oi::kDockerSchema1Signed;
}

// The media type of a fetched manifest: Content-Type when it names a manifest type, else the
// body's mediaType, else what the body looks like (OCI allows omitting mediaType).
std::string manifest_media_type(const Response& resp) {
  std::string ct = resp.content_type();
  if (is_manifest_media_type(ct)) return ct;
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  if (j.is_object()) {
    if (auto m = j.find("mediaType"); m != j.end() && m->is_string() && !m->empty()) {
      return m->get<std::string>();
    }
    if (j.contains("manifests")) return std::string(oi::kOciIndex);
    if (j.contains("config") || j.contains("layers")) return std::string(oi::kOciManifest);
    if (j.contains("signatures")) return std::string(oi::kDockerSchema1Signed);
    if (j.contains("fsLayers")) return std::string(oi::kDockerSchema1);
  }
  return ct;
}

}  // namespace

// ---- the client's state and the request loop --------------------------------------------------

struct Call {
  std::string_view method = "GET";
  std::string url;  // absolute
  std::vector<std::string> scopes;
  std::vector<std::string> headers;
  const Body* body = nullptr;
  Stream* stream = nullptr;
  size_t max_body = 1 << 20;
  bool retry_transport = true;  // retry dropped connections here (fetch_blob resumes itself)
  bool idempotent = true;       // false: re-send only when nothing reached the server
};

struct RegistryClient::Impl {
  std::string host;      // as in the reference: "docker.io", "127.0.0.1:5000"
  std::string endpoint;  // what is contacted: "registry-1.docker.io"
  RegistryOptions opts;
  Transport transport;
  Authenticator auth;

  std::mutex ping_mu;
  bool pinged = false;
  std::string base;  // "http://127.0.0.1:5000", set by ping
  Origin base_origin;
  bool verify_tls = true;

  Impl(std::string h, RegistryOptions o)
      : host(std::move(h)),
        endpoint(is_docker_hub(host) ? "registry-1.docker.io" : host),
        opts(std::move(o)),
        transport(Transport::Config{opts.user_agent, opts.ca_file}),
        auth(transport, opts, [this] {
          return docker_config_credentials(opts.docker_config,
                                           is_docker_hub(host) ? "docker.io" : host);
        }) {}

  // "127.0.0.1:5000/app" or "busybox" (Docker Hub's library/ dropped), as docker prints names.
  std::string familiar(const std::string& repo) const {
    if (is_docker_hub(host)) {
      return repo.starts_with("library/") && repo.find('/', 8) == std::string::npos ? repo.substr(8)
                                                                                    : repo;
    }
    return host + "/" + repo;
  }
  static std::string familiar_ref(const std::string& name, const std::string& reference) {
    return name + (reference.find(':') != std::string::npos ? "@" : ":") + reference;
  }

  void backoff(int attempt, int64_t at_least_ms = -1) const {
    int64_t ms = int64_t(std::max(0, opts.initial_backoff_ms)) << std::min(attempt - 1, 10);
    ms = std::min(ms, kMaxBackoffMs);
    if (at_least_ms >= 0) ms = std::max(ms, at_least_ms);
    if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  }

  Result<void> ping_locked();
  Result<void> ensure_pinged() {
    std::lock_guard lock(ping_mu);
    if (pinged) return ok();
    return ping_locked();
  }
  Result<std::string> url(std::string_view path) {
    BERTH_TRY(ensure_pinged());
    std::lock_guard lock(ping_mu);
    return base + std::string(path);
  }
  std::optional<TransferError> send(const Call& call, Response& resp);
};

Result<void> RegistryClient::Impl::ping_locked() {
  std::vector<std::string> schemes;
  bool loopback = is_loopback_host(endpoint);
  bool insecure = plain_http_allowed(endpoint, opts);
  if (opts.force_https) {
    schemes = {"https"};
  } else if (loopback) {
    schemes = {"http"};  // as docker does for insecure registries, without the TLS probe
  } else if (insecure) {
    schemes = {"https", "http"};
  } else {
    schemes = {"https"};
  }
  std::optional<Error> last;
  for (size_t i = 0; i < schemes.size(); ++i) {
    std::string candidate = schemes[i] + "://" + endpoint;
    // Registries marked insecure get TLS without verification, as docker gives them.
    bool verify = !(schemes[i] == "https" && insecure && !loopback && !opts.force_https);
    Request req;
    req.url = candidate + "/v2/";
    req.verify_tls = verify;
    Response resp;
    std::optional<TransferError> err;
    bool has_fallback = i + 1 < schemes.size();
    for (int attempt = 1;; ++attempt) {
      err = transport.perform(req, resp);
      bool transient = err ? err->retryable : is_transient_status(resp.status);
      if (!transient || has_fallback || attempt >= std::max(1, opts.max_attempts)) break;
      backoff(attempt, err ? -1 : retry_after_ms(resp));
    }
    if (err) {
      last = std::move(err->error);
      continue;
    }
    if (resp.status == 200 || resp.status == 401 || resp.status == 403) {
      auto origin = url_origin(candidate);
      if (!origin) return std::move(origin).error();
      base = candidate;
      base_origin = *origin;
      verify_tls = verify;
      if (resp.status != 200) auth.set_challenge(resp);
      pinged = true;
      log::debug("registry: " + host + " at " + base);
      return ok();
    }
    last = status_error(resp, go_method("GET") + " " + berth::quoted(req.url));
  }
  return std::move(*last);
}

std::optional<TransferError> RegistryClient::Impl::send(const Call& call, Response& resp) {
  Origin registry;
  bool verify;
  {
    std::lock_guard lock(ping_mu);
    registry = base_origin;
    verify = verify_tls;
  }
  std::string url = call.url;
  int attempt = 1;
  int redirects = 0;
  bool auth_retried = false;
  int max_attempts = std::max(1, opts.max_attempts);
  while (true) {
    Request req;
    req.method = call.method;
    req.url = url;
    req.headers = call.headers;
    req.body = call.body;
    req.stream = call.stream;
    req.max_body = call.max_body;
    auto origin = url_origin(url);
    if (!origin) return TransferError{std::move(origin).error()};
    bool to_registry = *origin == registry;
    req.verify_tls = to_registry ? verify : true;
    if (origin->scheme == "http" && !to_registry &&
        !plain_http_allowed(origin->host + ":" + origin->port, opts) &&
        !plain_http_allowed(origin->host, opts)) {
      return TransferError{Error(ErrorKind::PermissionDenied, 0,
                                 go_method(call.method) + " " + berth::quoted(call.url) +
                                     ": redirected to plain HTTP " + berth::quoted(url))};
    }
    // Credentials go to the registry only, never to another host a redirect points at.
    bool sent_auth = false;
    if (to_registry) {
      auto a = auth.authorization(call.scopes);
      if (!a) return TransferError{std::move(a).error()};
      if (!a->empty()) {
        req.headers.push_back(std::move(*a));
        sent_auth = true;
      }
    }

    auto err = transport.perform(req, resp);
    if (err) {
      bool may_resend = call.idempotent || err->nothing_sent;
      if (!err->from_callback && err->retryable && call.retry_transport && may_resend &&
          attempt < max_attempts) {
        log::debug("registry: " + err->error.what() + "; retrying");
        backoff(attempt++);
        url = call.url;
        continue;
      }
      return err;
    }
    if (resp.status == 401 && to_registry && !auth_retried) {
      auth_retried = true;
      bool basic_unsent = !sent_auth && auth.credentials_known();
      if (auth.invalidate(call.scopes, resp) && (auth.is_bearer() || basic_unsent)) continue;
    }
    if (is_redirect(resp.status) && call.method != "POST" && call.method != "PATCH") {
      std::string_view location = resp.header("location");
      if (!location.empty()) {
        if (++redirects > kMaxRedirects) {
          return TransferError{Error(ErrorKind::Io, 0,
                                     go_method(call.method) + " " + berth::quoted(call.url) +
                                         ": stopped after 10 redirects")};
        }
        auto next = resolve_url(url, std::string(location));
        if (!next) return TransferError{std::move(next).error()};
        url = std::move(*next);
        continue;
      }
    }
    if (is_transient_status(resp.status) && attempt < max_attempts &&
        (call.idempotent || resp.status == 429 || resp.status == 503)) {
      log::debug("registry: " + go_method(call.method) + " " + url + ": status " +
                 std::to_string(resp.status) + "; retrying");
      backoff(attempt++, retry_after_ms(resp));
      url = call.url;
      continue;
    }
    return std::nullopt;
  }
}

// ---- public API -------------------------------------------------------------------------------

RegistryClient::RegistryClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RegistryClient::~RegistryClient() = default;

Result<std::shared_ptr<RegistryClient>> RegistryClient::create(const std::string& host,
                                                               RegistryOptions opts) {
  static std::once_flag curl_init;
  static CURLcode curl_init_rc = CURLE_OK;
  std::call_once(curl_init, [] { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); });
  if (curl_init_rc != CURLE_OK) {
    return Error::internal(std::string("curl_global_init: ") + curl_easy_strerror(curl_init_rc));
  }
  if (host.empty() || host.find_first_of("/?#@ \t\r\n") != std::string::npos) {
    return Error::invalid("invalid registry host " + berth::quoted(host));
  }
  for (const auto& i : opts.insecure) {
    if (i.find_first_of("/ \t") != std::string::npos) {
      return Error::invalid("invalid insecure registry " + berth::quoted(i) +
                            " (want host[:port])");
    }
  }
  return std::shared_ptr<RegistryClient>(
      new RegistryClient(std::make_unique<Impl>(host, std::move(opts))));
}

Result<void> RegistryClient::ping() {
  std::lock_guard lock(impl_->ping_mu);
  impl_->pinged = false;
  return impl_->ping_locked();
}

Result<void> RegistryClient::login() {
  BERTH_TRY(ping());
  Impl& d = *impl_;
  if (!d.auth.has_challenge()) return ok();  // the registry wants no credentials
  if (!d.auth.credentials_known()) {
    return Error(ErrorKind::PermissionDenied, 0,
                 "login " + d.host + ": no credentials (docker config or options)");
  }
  if (d.auth.is_bearer()) return d.auth.check_token_credentials();
  Call call;
  call.url = BERTH_TRY(d.url("/v2/"));
  Response resp;
  if (auto err = d.send(call, resp)) return std::move(err->error);
  if (resp.status != 200) return status_error(resp, "login " + d.host);
  return ok();
}

Result<FetchedManifest> RegistryClient::get_manifest(const std::string& repo,
                                                     const std::string& reference,
                                                     size_t max_bytes) {
  BERTH_TRY(check_repo(repo));
  BERTH_TRY(check_manifest_ref(reference));
  Impl& d = *impl_;
  std::string name = d.familiar(repo);
  Call call;
  call.url = BERTH_TRY(d.url("/v2/" + repo + "/manifests/" + reference));
  call.scopes = {"repository:" + repo + ":pull"};
  call.headers = {std::string(kManifestAccept)};
  call.max_body = max_bytes;
  Response resp;
  if (auto err = d.send(call, resp)) {
    if (err->error.kind() == ErrorKind::InvalidArgument && resp.status == 200) {
      return Error::invalid("manifest for " + Impl::familiar_ref(name, reference) +
                            ": larger than " + std::to_string(max_bytes) + " bytes");
    }
    return std::move(err->error);
  }
  if (resp.status == 404 || resp.status == 401 || resp.status == 403) {
    if (has_error_code(resp, "NAME_UNKNOWN")) {
      return status_error(resp, "repository " + name + " not found");
    }
    if (resp.status == 404) {
      return status_error(resp,
                          "manifest for " + Impl::familiar_ref(name, reference) + " not found");
    }
    Error e = status_error(resp, "pull access denied for " + name +
                                     ", repository does not exist or may require 'docker login'");
    return Error(ErrorKind::PermissionDenied, 0, e.message());
  }
  if (resp.status != 200) {
    return status_error(resp, go_method("GET") + " " + berth::quoted(resp.url));
  }
  FetchedManifest out;
  out.body = std::move(resp.body);
  out.media_type = manifest_media_type(resp);
  if (reference.find(':') != std::string::npos) {
    Digest want = BERTH_TRY(Digest::parse(reference));
    Hasher h(want.algorithm());
    h.update(out.body);
    out.digest = h.finish();
    if (out.digest != want) {
      return Error::invalid("manifest for " + Impl::familiar_ref(name, reference) +
                            ": digest mismatch: got " + out.digest.str());
    }
  } else {
    out.digest = sha256_of(out.body);
  }
  return out;
}

Result<oi::Descriptor> RegistryClient::head_manifest(const std::string& repo,
                                                     const std::string& reference) {
  BERTH_TRY(check_repo(repo));
  BERTH_TRY(check_manifest_ref(reference));
  Impl& d = *impl_;
  std::string name = d.familiar(repo);
  Call call;
  call.method = "HEAD";
  call.url = BERTH_TRY(d.url("/v2/" + repo + "/manifests/" + reference));
  call.scopes = {"repository:" + repo + ":pull"};
  call.headers = {std::string(kManifestAccept)};
  Response resp;
  if (auto err = d.send(call, resp)) return std::move(err->error);
  if (resp.status == 404) {
    return Error::not_found("manifest for " + Impl::familiar_ref(name, reference) +
                            " not found: manifest unknown");
  }
  if (resp.status == 401 || resp.status == 403) {
    return Error(ErrorKind::PermissionDenied, 0,
                 "pull access denied for " + name +
                     ", repository does not exist or may require 'docker login': " +
                     describe_registry_error(resp));
  }
  if (resp.status != 200) {
    return status_error(resp, go_method("HEAD") + " " + berth::quoted(resp.url));
  }
  oi::Descriptor desc;
  desc.media_type = resp.content_type();
  auto size = parse_u64(resp.header("content-length"));
  auto digest = Digest::parse(resp.header("docker-content-digest"));
  if (reference.find(':') != std::string::npos) {
    Digest want = BERTH_TRY(Digest::parse(reference));
    if (digest && *digest != want) {
      return Error::invalid("manifest for " + Impl::familiar_ref(name, reference) +
                            ": registry answered with digest " + digest->str());
    }
    digest = want;
  }
  if (!digest || !size || !is_manifest_media_type(desc.media_type)) {
    // Not enough in the headers (the digest header is optional): fetch the manifest itself.
    FetchedManifest m = BERTH_TRY(get_manifest(repo, reference));
    desc.media_type = m.media_type;
    desc.digest = m.digest;
    desc.size = static_cast<int64_t>(m.body.size());
    return desc;
  }
  desc.digest = *digest;
  desc.size = static_cast<int64_t>(*size);
  return desc;
}

Result<void> RegistryClient::fetch_blob(const std::string& repo, const oi::Descriptor& desc,
                                        uint64_t offset, const BlobSink& sink,
                                        const RestartFn& restart) {
  BERTH_TRY(check_repo(repo));
  if (desc.digest.empty()) return Error::invalid("fetch blob: descriptor without a digest");
  Impl& d = *impl_;
  const std::string what = "blob " + desc.digest.str() + " of " + d.familiar(repo);
  const uint64_t size = desc.size > 0 ? static_cast<uint64_t>(desc.size) : 0;
  const bool size_known = desc.size > 0;
  if (size_known && offset > size) {
    return Error::invalid(what + ": offset " + std::to_string(offset) + " beyond its size " +
                          std::to_string(size));
  }
  if (size_known && offset == size) return ok();

  Call call;
  call.url = BERTH_TRY(d.url("/v2/" + repo + "/blobs/" + desc.digest.str()));
  call.scopes = {"repository:" + repo + ":pull"};
  call.retry_transport = false;  // resumed below with a Range request instead

  uint64_t delivered = offset;  // bytes the sink has, counting from the blob's start
  uint64_t skip = 0;            // bytes to drop (a 200 answer to a Range request, no restart)
  uint64_t progress = 0;        // bytes delivered by the current attempt
  Stream stream;
  stream.on_start = [&](const Response& r) -> Result<void> {
    if (r.status == 206) {
      auto start = content_range_start(r.header("content-range"));
      if (!start || *start != delivered) {
        return Error(ErrorKind::Io, 0,
                     what + ": asked for bytes from " + std::to_string(delivered) +
                         ", server sent Content-Range " + berth::quoted(r.header("content-range")));
      }
    } else if (delivered > 0) {  // 200: the whole blob again
      if (restart) {
        BERTH_TRY_CTX(restart(), what + ": restart from byte 0");
        delivered = 0;
      } else {
        skip = delivered;
      }
    }
    return ok();
  };
  stream.on_data = [&](const char* data, size_t len) -> Result<void> {
    if (skip > 0) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(skip, len));
      skip -= n;
      data += n;
      len -= n;
      if (len == 0) return ok();
    }
    if (size_known && delivered + len > size) {
      return Error::invalid(what + ": server sent more than the descriptor's " +
                            std::to_string(size) + " bytes");
    }
    BERTH_TRY(sink(data, len));
    delivered += len;
    progress += len;
    return ok();
  };
  call.stream = &stream;

  int failures = 0;  // consecutive attempts that delivered nothing
  int resumes = 0;
  std::vector<std::string> base_headers;
  while (true) {
    call.headers = base_headers;
    if (delivered > 0) call.headers.push_back("Range: bytes=" + std::to_string(delivered) + "-");
    skip = 0;
    progress = 0;
    Response resp;
    std::optional<TransferError> err = d.send(call, resp);
    if (!err && (resp.status == 200 || resp.status == 206)) {
      if (!size_known || delivered == size) return ok();
      if (skip > 0) {
        err = TransferError{Error(ErrorKind::Io, 0, what + ": response shorter than the offset"),
                            true};
      } else {
        err = TransferError{Error(ErrorKind::Io, 0,
                                  what + ": connection closed after " + std::to_string(delivered) +
                                      " of " + std::to_string(size) + " bytes"),
                            true};
      }
    }
    if (!err) {
      if (resp.status == 404) {
        return status_error(resp, what + " not found");
      }
      if (resp.status == 416 && delivered > 0 && size_known && delivered >= size) return ok();
      return status_error(resp, "fetch " + what);
    }
    if (err->from_callback || !err->retryable) return std::move(err->error);
    failures = progress > 0 ? 0 : failures + 1;
    if (failures >= std::max(1, d.opts.max_attempts) || ++resumes > kMaxBlobResumes) {
      return std::move(err->error).wrap("fetch " + what);
    }
    log::debug("registry: " + err->error.what() + "; resuming at byte " +
               std::to_string(delivered));
    d.backoff(std::max(1, failures));
  }
}

Result<bool> RegistryClient::blob_exists(const std::string& repo, const Digest& digest) {
  BERTH_TRY(check_repo(repo));
  Impl& d = *impl_;
  Call call;
  call.method = "HEAD";
  call.url = BERTH_TRY(d.url("/v2/" + repo + "/blobs/" + digest.str()));
  call.scopes = {"repository:" + repo + ":pull,push"};
  Response resp;
  if (auto err = d.send(call, resp)) return std::move(err->error);
  if (resp.status == 200) return true;
  if (resp.status == 404) return false;
  return status_error(resp, "check blob " + digest.str() + " in " + d.familiar(repo));
}

namespace {

Result<void> check_pushed_digest(const Response& resp, const Digest& want,
                                 const std::string& what) {
  std::string_view got = resp.header("docker-content-digest");
  if (!got.empty() && got != want.str()) {
    return Error::invalid(what + ": registry stored it as " + std::string(got));
  }
  return ok();
}

}  // namespace

Result<void> RegistryClient::push_blob(const std::string& repo, const oi::Descriptor& desc, int fd,
                                       const std::string& mount_from, uint64_t chunk_size) {
  BERTH_TRY(check_repo(repo));
  if (desc.digest.empty() || desc.size < 0) return Error::invalid("push blob: bad descriptor");
  Impl& d = *impl_;
  const std::string what = "push blob " + desc.digest.str() + " to " + d.familiar(repo);
  const uint64_t size = static_cast<uint64_t>(desc.size);
  std::vector<std::string> scopes = {"repository:" + repo + ":pull,push"};

  // Start the upload, or mount the blob from another repository of the same registry.
  Call start;
  start.method = "POST";
  start.idempotent = false;
  start.url = BERTH_TRY(d.url("/v2/" + repo + "/blobs/uploads/"));
  start.scopes = scopes;
  if (!mount_from.empty() && mount_from != repo) {
    BERTH_TRY(check_repo(mount_from));
    start.url = BERTH_TRY(append_query(start.url, "mount", desc.digest.str()));
    start.url = BERTH_TRY(append_query(start.url, "from", mount_from));
    start.scopes.push_back("repository:" + mount_from + ":pull");
  }
  Response resp;
  if (auto err = d.send(start, resp)) return std::move(err->error).wrap(what);
  if (resp.status == 201) return check_pushed_digest(resp, desc.digest, what);  // mounted
  if (resp.status != 202) return status_error(resp, what);
  std::string location = std::string(resp.header("location"));
  if (location.empty()) return Error(ErrorKind::Io, 0, what + ": upload without a Location");
  location = BERTH_TRY_CTX(resolve_url(resp.url, location), what);

  if (chunk_size > 0) {
    for (uint64_t pos = 0; pos < size;) {
      uint64_t n = std::min(chunk_size, size - pos);
      Body chunk{{}, fd, pos, n};
      Call patch;
      patch.method = "PATCH";
      patch.idempotent = false;
      patch.url = location;
      patch.scopes = scopes;
      patch.body = &chunk;
      patch.headers = {"Content-Type: application/octet-stream",
                       "Content-Range: " + std::to_string(pos) + "-" + std::to_string(pos + n - 1)};
      if (auto err = d.send(patch, resp)) return std::move(err->error).wrap(what);
      if (resp.status != 202) {
        return status_error(resp, what + ": chunk at byte " + std::to_string(pos));
      }
      if (auto loc = resp.header("location"); !loc.empty()) {
        location = BERTH_TRY_CTX(resolve_url(resp.url, std::string(loc)), what);
      }
      pos += n;
    }
  }
  // Close the upload with the digest; monolithic uploads send every byte here.
  Body whole{{}, fd, 0, size};
  Call put;
  put.method = "PUT";
  put.idempotent = false;
  put.url = BERTH_TRY_CTX(append_query(location, "digest", desc.digest.str()), what);
  put.scopes = scopes;
  put.headers = {"Content-Type: application/octet-stream"};
  if (chunk_size == 0) put.body = &whole;
  if (auto err = d.send(put, resp)) return std::move(err->error).wrap(what);
  if (resp.status != 201) return status_error(resp, what);
  return check_pushed_digest(resp, desc.digest, what);
}

Result<void> RegistryClient::put_manifest(const std::string& repo, const std::string& reference,
                                          std::string_view media_type, std::string_view body) {
  BERTH_TRY(check_repo(repo));
  BERTH_TRY(check_manifest_ref(reference));
  if (media_type.empty() || media_type.find_first_of("\r\n") != std::string_view::npos) {
    return Error::invalid("put manifest: invalid media type " + berth::quoted(media_type));
  }
  Impl& d = *impl_;
  const std::string what = "push manifest " + Impl::familiar_ref(d.familiar(repo), reference);
  Body b;
  b.data = body;
  Call put;
  put.method = "PUT";
  put.url = BERTH_TRY(d.url("/v2/" + repo + "/manifests/" + reference));
  put.scopes = {"repository:" + repo + ":pull,push"};
  put.headers = {"Content-Type: " + std::string(media_type)};
  put.body = &b;
  Response resp;
  if (auto err = d.send(put, resp)) return std::move(err->error).wrap(what);
  if (resp.status != 201 && resp.status != 200) return status_error(resp, what);
  return check_pushed_digest(resp, sha256_of(body), what);
}

Result<std::vector<std::string>> RegistryClient::list_tags(const std::string& repo) {
  BERTH_TRY(check_repo(repo));
  Impl& d = *impl_;
  std::vector<std::string> tags;
  Call call;
  call.url = BERTH_TRY(d.url("/v2/" + repo + "/tags/list"));
  call.scopes = {"repository:" + repo + ":pull"};
  call.max_body = 16 << 20;
  for (size_t page = 0; page < kMaxTagPages; ++page) {
    Response resp;
    if (auto err = d.send(call, resp)) return std::move(err->error);
    if (resp.status == 404 && has_error_code(resp, "NAME_UNKNOWN")) {
      return status_error(resp, "repository " + d.familiar(repo) + " not found");
    }
    if (resp.status != 200) return status_error(resp, "list tags of " + d.familiar(repo));
    auto j = nlohmann::json::parse(resp.body, nullptr, false);
    if (!j.is_object()) {
      return Error::invalid("list tags of " + d.familiar(repo) + ": not a JSON object");
    }
    if (auto t = j.find("tags"); t != j.end() && t->is_array()) {
      for (const auto& tag : *t) {
        if (tag.is_string()) tags.push_back(tag.get<std::string>());
      }
    }
    // Pagination: Link: </v2/<repo>/tags/list?n=100&last=x>; rel="next"
    std::string_view link = resp.header("link");
    size_t lt = link.find('<'), gt = link.find('>');
    if (lt == std::string_view::npos || gt == std::string_view::npos || gt < lt ||
        link.find("rel=\"next\"") == std::string_view::npos) {
      return tags;
    }
    call.url = BERTH_TRY(resolve_url(resp.url, std::string(link.substr(lt + 1, gt - lt - 1))));
  }
  return tags;
}

}  // namespace berth::image
