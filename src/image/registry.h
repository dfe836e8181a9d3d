// Registry client, OCI distribution spec over libcurl.
//
// Auth: ping (GET /v2/), then on 401 the WWW-Authenticate challenge decides: Bearer (token
// fetched from realm with service/scope, anonymously or with credentials, cached per scope
// until it expires) or Basic. Credentials come from RegistryOptions or ~/.docker/config.json
// ("auths", base64 "auth" or username/password, identitytoken; "credHelpers"/"credsStore" by
// running docker-credential-<name> get).
// Transport: TLS verified by default; plain HTTP only for localhost, 127.0.0.0/8, ::1 (used
// directly, unless force_https) or a host listed in `insecure` (https tried first, without
// certificate verification, as docker does for insecure registries, then http). Redirects followed
// (blob storage), Authorization not sent to another host. Transient failures (connect errors, 5xx,
// 429, dropped connection) retried with exponential backoff; a blob download that drops resumes
// with a Range request. Thread-safe: parallel blob fetches share one client (a pool of libcurl
// handles, so connections and TLS sessions are reused; one ping and one token per scope however
// many threads ask at once). Errors read like docker's (`manifest for host/app:tag not found:
// manifest unknown: manifest unknown`, `pull access denied for host/app, repository does not exist
// or may require 'docker login': unauthorized: authentication required`, `Get "http://host/v2/":
// dial tcp host: connect: connection refused`), with the registry's errors[].code/message when it
// sent them. Kinds: NotFound (404), PermissionDenied (401/403/TLS verification), InvalidArgument
// (bad names, digest mismatch, oversized manifest), Timeout, Io (network, 5xx).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "oci/image.h"
#include "util/digest.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::image {

struct Credentials {
  std::string username, password;
  std::string identity_token;  // OAuth refresh token (docker login with a token)
  bool empty() const { return username.empty() && password.empty() && identity_token.empty(); }
};

struct RegistryOptions {
  std::vector<std::string> insecure;       // hosts ("host:port") allowed over plain HTTP
  std::optional<Credentials> credentials;  // overrides docker config lookup
  std::string docker_config;               // path of config.json; "" = $DOCKER_CONFIG or ~/.docker
  std::string ca_file;                     // extra CA bundle (tests), "" = system store
  bool force_https = false;                // TLS even for loopback hosts (a TLS registry in tests)
  int max_attempts = 5;                    // per request
  int initial_backoff_ms = 200;
  std::string user_agent = "berth/" BERTH_VERSION;
};

// One challenge of a WWW-Authenticate header (RFC 7235): scheme lower-cased, parameter names
// lower-cased, quoted values unescaped.
struct AuthChallenge {
  std::string scheme;                         // "bearer", "basic"
  std::map<std::string, std::string> params;  // realm, service, scope, error, ...
};
// Parses every challenge of a header value, e.g.
//   Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull,push"
// Quoted commas and escapes are handled; malformed parts are skipped, never an error.
std::vector<AuthChallenge> parse_www_authenticate(std::string_view header);

// Credentials for a registry host from a docker config file (auths, credHelpers, credsStore).
// No entry: empty credentials, not an error.
Result<Credentials> docker_config_credentials(const std::string& config_path,
                                              const std::string& registry_host);

struct FetchedManifest {
  std::string media_type;  // from Content-Type, or the body's mediaType
  std::string body;        // exact bytes
  Digest digest;           // sha256 of body (verified against a digest reference)
};

// Receives a blob's bytes in order. Returning an error aborts the transfer.
using BlobSink = std::function<Result<void>(const char* data, size_t len)>;
// Told when a resumed request could not be honoured and the bytes restart from 0.
using RestartFn = std::function<Result<void>()>;

class RegistryClient {
 public:
  // `host` as in a reference: "localhost:5000", "docker.io" (contacts registry-1.docker.io).
  static Result<std::shared_ptr<RegistryClient>> create(const std::string& host,
                                                        RegistryOptions opts = {});
  ~RegistryClient();

  // GET /v2/ and remember the auth challenge; errors name the registry.
  Result<void> ping();
  // ping, then checks the credentials (Basic: an authorised GET /v2/; Bearer: a token fetched
  // from the realm), as `docker login` does. Unauthorized: PermissionDenied.
  Result<void> login();

  // GET /v2/<repo>/manifests/<reference> with every supported media type in Accept.
  // `max_bytes`: manifests beyond it are refused (default kMaxManifestBytes).
  Result<FetchedManifest> get_manifest(const std::string& repo, const std::string& reference,
                                       size_t max_bytes = oci::image::kMaxManifestBytes);
  // HEAD: the descriptor (media type, digest from Docker-Content-Digest, size) or NotFound.
  Result<oci::image::Descriptor> head_manifest(const std::string& repo,
                                               const std::string& reference);

  // GET /v2/<repo>/blobs/<digest>, starting at byte `offset` (Range) and streaming to `sink`.
  // Retries resume at the last byte delivered. If the server ignores Range, `restart` is
  // called and bytes start again from 0 (with no `restart`, the bytes the sink already has
  // are skipped instead). The caller verifies the digest; more bytes than desc.size (when > 0)
  // is an error naming the blob, and a short body is resumed like a dropped connection.
  Result<void> fetch_blob(const std::string& repo, const oci::image::Descriptor& desc,
                          uint64_t offset, const BlobSink& sink, const RestartFn& restart);

  // Push side.
  Result<bool> blob_exists(const std::string& repo, const Digest& digest);
  // Uploads desc.size bytes read from `fd` at offsets 0.. (pread; the file position is not
  // used): cross-repo mount first when `mount_from` is set (falling back to an upload when the
  // registry answers 202), else POST + PUT (monolithic), or POST + PATCH chunks + PUT when
  // `chunk_size` > 0. Does not check blob_exists() first: callers do.
  Result<void> push_blob(const std::string& repo, const oci::image::Descriptor& desc, int fd,
                         const std::string& mount_from = "", uint64_t chunk_size = 0);
  Result<void> put_manifest(const std::string& repo, const std::string& reference,
                            std::string_view media_type, std::string_view body);

  // Tags of a repository (GET /v2/<repo>/tags/list), for tests and `search`-like tooling.
  Result<std::vector<std::string>> list_tags(const std::string& repo);

 private:
  struct Impl;
  explicit RegistryClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::image
