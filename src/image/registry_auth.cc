// Registry authentication: WWW-Authenticate parsing, Bearer tokens (fetched from the realm,
// anonymously or with credentials, cached per scope until they expire), Basic auth, and
// credentials from docker's config.json (auths, credHelpers, credsStore).
#include <fcntl.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "image/registry_internal.h"
#include "util/fd.h"
#include "util/log.h"
#include "util/strings.h"

extern char** environ;

namespace berth::image {

namespace {

constexpr size_t kMaxTokenResponse = 1 << 20;
constexpr size_t kMaxDockerConfig = 4 << 20;
constexpr size_t kMaxHelperOutput = 1 << 20;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

bool is_token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

// Cursor over a header value.
struct Scanner {
  std::string_view s;
  size_t i = 0;
  bool done() const { return i >= s.size(); }
  void skip_ws() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
  }
  void skip_ws_commas() {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == ',')) ++i;
  }
  std::string_view token() {
    size_t start = i;
    while (i < s.size() && is_token_char(s[i])) ++i;
    return s.substr(start, i - start);
  }
  // A quoted-string (cursor on the opening quote); backslash escapes undone.
  std::string quoted_string() {
    std::string out;
    ++i;
    while (i < s.size() && s[i] != '"') {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i++];
    }
    if (i < s.size()) ++i;  // closing quote
    return out;
  }
  // Token68 or token value: up to a comma or whitespace.
  std::string_view bare_value() {
    size_t start = i;
    while (i < s.size() && s[i] != ',' && s[i] != ' ' && s[i] != '\t') ++i;
    return s.substr(start, i - start);
  }
};

}  // namespace

std::vector<AuthChallenge> parse_www_authenticate(std::string_view header) {
  std::vector<AuthChallenge> out;
  Scanner sc{header};
  while (!sc.done() && out.size() < 16) {
    sc.skip_ws_commas();
    std::string_view scheme = sc.token();
    if (scheme.empty()) {
      // Junk where a scheme should be: skip to the next comma.
      while (!sc.done() && sc.s[sc.i] != ',') ++sc.i;
      continue;
    }
    AuthChallenge ch;
    ch.scheme = lower(scheme);
    // auth-params until the next "token SP" that is not followed by '=' (a new challenge).
    while (!sc.done()) {
      sc.skip_ws_commas();
      size_t mark = sc.i;
      std::string_view name = sc.token();
      sc.skip_ws();
      if (name.empty() || sc.done() || sc.s[sc.i] != '=') {
        if (name.empty() && !sc.done() && sc.s[sc.i] != ',') {
          sc.bare_value();  // stray token68 or junk
          continue;
        }
        sc.i = mark;  // the next challenge's scheme (or the end)
        break;
      }
      ++sc.i;  // '='
      sc.skip_ws();
      std::string value;
      if (!sc.done() && sc.s[sc.i] == '"') {
        value = sc.quoted_string();
      } else {
        value = std::string(sc.bare_value());
        // token68 ends in '=' padding: "Negotiate abc==" has no '=' after a name; this only
        // handles name=value, which is all registries send.
      }
      if (ch.params.size() < 32) ch.params.emplace(lower(name), std::move(value));
    }
    out.push_back(std::move(ch));
  }
  return out;
}

// ---- docker config.json -----------------------------------------------------------------------

namespace {

// Keys docker uses for Docker Hub in config.json.
bool is_docker_hub(std::string_view host) {
  return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io";
}

// "https://host:port/v1/" -> "host:port" (docker's ConvertToHostname).
std::string config_key_host(std::string_view key) {
  if (key.starts_with("http://")) key.remove_prefix(7);
  if (key.starts_with("https://")) key.remove_prefix(8);
  return lower(key.substr(0, key.find('/')));
}

bool key_matches(std::string_view key, std::string_view host) {
  std::string k = config_key_host(key);
  if (is_docker_hub(host)) return is_docker_hub(k);
  return k == lower(host);
}

std::string helper_server(std::string_view host) {
  return is_docker_hub(host) ? "https://index.docker.io/v1/" : std::string(host);
}

// Runs docker-credential-<name> get with the server on stdin; stdout and stderr together.
Result<std::pair<int, std::string>> run_credential_helper(const std::string& name,
                                                          const std::string& server) {
  if (name.empty() || name.find('/') != std::string::npos) {
    return Error::invalid("invalid credential helper name " + berth::quoted(name));
  }
  std::string prog = "docker-credential-" + name;
  // stdin is a socket so that writing to a helper that exited early is EPIPE, not SIGPIPE.
  int in[2], out[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, in) < 0) return Error::sys("socketpair");
  UniqueFd in_r(in[0]), in_w(in[1]);
  if (pipe2(out, O_CLOEXEC) < 0) return Error::sys("pipe");
  UniqueFd out_r(out[0]), out_w(out[1]);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 2);
  char* argv[] = {prog.data(), const_cast<char*>("get"), nullptr};
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, prog.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Error::from_errno(rc, "exec: " + berth::quoted(prog));
  ChildProcess child(pid);
  in_r.reset();
  out_w.reset();
  // A helper that does not read its stdin is not our problem: its answer decides.
  for (size_t done = 0; done < server.size();) {
    ssize_t n = send(in_w.get(), server.data() + done, server.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  in_w.reset();
  auto output = read_all(out_r.get(), kMaxHelperOutput);
  auto status = child.wait();
  if (!status) return std::move(status).error().wrap(prog);
  if (!output) return std::move(output).error().wrap(prog);
  return std::make_pair(exit_code_of(*status), std::move(*output));
}

Result<Credentials> helper_credentials(const std::string& name, std::string_view host) {
  std::string prog = "docker-credential-" + name;
  auto r = BERTH_TRY_CTX(run_credential_helper(name, helper_server(host)),
                         "get credentials for " + std::string(host));
  auto& [code, output] = r;
  if (code != 0) {
    // docker-credential-helpers print this (exit 1) for a server they know nothing of.
    if (output.find("credentials not found") != std::string::npos) return Credentials{};
    while (!output.empty() && (output.back() == '\n' || output.back() == '\r')) output.pop_back();
    return Error(ErrorKind::Io, 0,
                 "get credentials for " + std::string(host) + ": " + prog + ": exit status " +
                     std::to_string(code) + (output.empty() ? "" : ": " + output));
  }
  auto j = nlohmann::json::parse(output, nullptr, false);
  if (!j.is_object()) {
    return Error::invalid("get credentials for " + std::string(host) + ": " + prog +
                          ": output is not a JSON object");
  }
  Credentials c;
  std::string user = j.value("Username", "");
  std::string secret = j.value("Secret", "");
  if (user == "<token>") {
    c.identity_token = secret;
  } else {
    c.username = user;
    c.password = secret;
  }
  return c;
}

Result<Credentials> auths_entry(const nlohmann::json& entry, const std::string& path,
                                const std::string& key) {
  Credentials c;
  if (!entry.is_object()) return c;
  std::string ctx = path + ": auths[" + berth::quoted(key) + "]";
  if (auto a = entry.find("auth");
      a != entry.end() && a->is_string() && !a->get_ref<const std::string&>().empty()) {
    auto decoded = berth::base64_decode(a->get<std::string>());
    if (!decoded) return Error::invalid(ctx + ".auth: invalid base64");
    size_t colon = decoded->find(':');
    if (colon == std::string::npos) return Error::invalid(ctx + ".auth: no \"user:password\"");
    c.username = decoded->substr(0, colon);
    c.password = decoded->substr(colon + 1);
  }
  if (c.username.empty()) c.username = entry.value("username", "");
  if (c.password.empty()) c.password = entry.value("password", "");
  c.identity_token = entry.value("identitytoken", "");
  return c;
}

std::string default_docker_config() {
  if (const char* d = getenv("DOCKER_CONFIG"); d && *d) return std::string(d) + "/config.json";
  if (const char* h = getenv("HOME"); h && *h) return std::string(h) + "/.docker/config.json";
  return {};
}

}  // namespace

Result<Credentials> docker_config_credentials(const std::string& config_path,
                                              const std::string& registry_host) {
  std::string path = config_path.empty() ? default_docker_config() : config_path;
  if (path.empty()) return Credentials{};
  auto text = read_file(path, kMaxDockerConfig);
  if (!text) {
    if (text.error().kind() == ErrorKind::NotFound) return Credentials{};
    return std::move(text).error();
  }
  auto j = nlohmann::json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Error::invalid("docker config " + path + ": not a JSON object");
  }
  std::string host = lower(registry_host);
  if (auto h = j.find("credHelpers"); h != j.end() && h->is_object()) {
    for (const auto& [key, helper] : h->items()) {
      if (helper.is_string() && key_matches(key, host)) {
        return helper_credentials(helper.get<std::string>(), host);
      }
    }
  }
  if (auto s = j.find("credsStore");
      s != j.end() && s->is_string() && !s->get<std::string>().empty()) {
    Credentials c = BERTH_TRY(helper_credentials(s->get<std::string>(), host));
    if (!c.empty()) return c;
  }
  if (auto a = j.find("auths"); a != j.end() && a->is_object()) {
    for (const auto& [key, entry] : a->items()) {
      if (key_matches(key, host)) return auths_entry(entry, path, key);
    }
  }
  return Credentials{};
}

namespace registry_internal {

// ---- Authenticator ----------------------------------------------------------------------------

Authenticator::Authenticator(Transport& transport, const RegistryOptions& opts,
                             std::function<Result<Credentials>()> lookup_credentials)
    : transport_(transport), opts_(opts), lookup_(std::move(lookup_credentials)) {}

bool Authenticator::set_challenge(const Response& resp) {
  std::optional<AuthChallenge> best;
  for (auto value : resp.headers_named("www-authenticate")) {
    for (auto& ch : parse_www_authenticate(value)) {
      // Bearer is preferred over Basic, as docker does.
      if (ch.scheme == "bearer" && ch.params.count("realm")) {
        best = std::move(ch);
        break;
      }
      if (ch.scheme == "basic" && !best) best = std::move(ch);
    }
    if (best && best->scheme == "bearer") break;
  }
  if (!best) return false;
  std::lock_guard lock(mu_);
  bool changed =
      !challenge_ || challenge_->scheme != best->scheme ||
      challenge_->params.count("realm") != best->params.count("realm") ||
      (best->params.count("realm") && challenge_->params.at("realm") != best->params.at("realm"));
  if (changed) tokens_.clear();
  challenge_ = std::move(best);
  return true;
}

bool Authenticator::has_challenge() const {
  std::lock_guard lock(mu_);
  return challenge_.has_value();
}

bool Authenticator::is_bearer() const {
  std::lock_guard lock(mu_);
  return challenge_ && challenge_->scheme == "bearer";
}

Result<Credentials> Authenticator::credentials() {
  std::lock_guard lock(mu_);
  if (!creds_) {
    if (opts_.credentials) {
      creds_ = *opts_.credentials;
    } else {
      creds_ = lookup_();
    }
  }
  return *creds_;
}

bool Authenticator::credentials_known() {
  auto c = credentials();
  return c && !c->empty();
}

std::string Authenticator::scope_key(const std::vector<std::string>& scopes) {
  std::vector<std::string> s = scopes;
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  std::string key;
  for (const auto& x : s) key += x + " ";
  return key;
}

Result<std::string> Authenticator::authorization(const std::vector<std::string>& scopes) {
  std::string scheme;
  {
    std::lock_guard lock(mu_);
    if (!challenge_) return std::string();
    scheme = challenge_->scheme;
  }
  if (scheme == "basic") {
    Credentials c = BERTH_TRY(credentials());
    if (c.username.empty() && c.password.empty()) return std::string();
    return "Authorization: Basic " + berth::base64_encode(c.username + ":" + c.password);
  }
  if (scheme != "bearer") return std::string();
  std::vector<std::string> all = scopes;
  {
    std::lock_guard lock(mu_);
    if (auto it = extra_scopes_.find(scope_key(scopes)); it != extra_scopes_.end()) {
      all.insert(all.end(), it->second.begin(), it->second.end());
    }
  }
  std::string key = scope_key(all);
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard lock(mu_);
    if (auto it = tokens_.find(key); it != tokens_.end() && it->second.expires > now) {
      return "Authorization: Bearer " + it->second.value;
    }
  }
  std::lock_guard fetch_lock(fetch_mu_);
  {
    std::lock_guard lock(mu_);  // another thread may have fetched it meanwhile
    if (auto it = tokens_.find(key); it != tokens_.end() && it->second.expires > now) {
      return "Authorization: Bearer " + it->second.value;
    }
  }
  Token t = BERTH_TRY(fetch_token(all));
  std::string header = "Authorization: Bearer " + t.value;
  std::lock_guard lock(mu_);
  tokens_[key] = std::move(t);
  return header;
}

bool Authenticator::invalidate(const std::vector<std::string>& scopes, const Response& resp) {
  std::vector<std::string> asked;
  for (auto value : resp.headers_named("www-authenticate")) {
    for (auto& ch : parse_www_authenticate(value)) {
      if (ch.scheme != "bearer") continue;
      if (auto s = ch.params.find("scope"); s != ch.params.end()) {
        for (auto part : split(s->second, ' ', true)) asked.emplace_back(part);
      }
    }
  }
  bool had = has_challenge();
  bool usable = set_challenge(resp);
  std::lock_guard lock(mu_);
  // The scopes the server asked for go with every later request for the same scopes.
  std::vector<std::string>& extra = extra_scopes_[scope_key(scopes)];
  std::vector<std::string> all = scopes;
  all.insert(all.end(), extra.begin(), extra.end());
  tokens_.erase(scope_key(all));
  for (auto& a : asked) {
    if (std::find(all.begin(), all.end(), a) == all.end() && extra.size() < 8) {
      extra.push_back(a);
      all.push_back(a);
    }
  }
  if (extra.empty()) extra_scopes_.erase(scope_key(scopes));
  return usable || had;
}

Result<void> Authenticator::check_token_credentials() {
  Token t = BERTH_TRY(fetch_token({}));
  (void)t;
  return ok();
}

Result<Authenticator::Token> Authenticator::fetch_token(const std::vector<std::string>& scopes) {
  std::string realm, service;
  {
    std::lock_guard lock(mu_);
    realm = challenge_->params.count("realm") ? challenge_->params.at("realm") : "";
    service = challenge_->params.count("service") ? challenge_->params.at("service") : "";
  }
  if (realm.empty()) return Error::invalid("bearer challenge without a realm");
  Origin origin = BERTH_TRY_CTX(url_origin(realm), "token realm");
  if (origin.scheme != "https" && origin.scheme != "http") {
    return Error::invalid("token realm " + berth::quoted(realm) + ": not an http(s) URL");
  }
  std::string realm_host =
      origin.host.find(':') != std::string::npos ? "[" + origin.host + "]" : origin.host;
  if (origin.scheme == "http" && !plain_http_allowed(realm_host, opts_) &&
      !plain_http_allowed(realm_host + ":" + origin.port, opts_)) {
    return Error(ErrorKind::PermissionDenied, 0,
                 "token realm " + berth::quoted(realm) +
                     ": plain HTTP refused for a host not marked " + "insecure");
  }
  Credentials creds = BERTH_TRY(credentials());

  Request req;
  Body form_body;
  std::string form;
  std::string url = realm;
  if (!creds.identity_token.empty()) {
    // OAuth2 refresh-token grant, as docker does after `docker login` with a token.
    form = "grant_type=refresh_token&client_id=berth&refresh_token=" +
           url_escape(creds.identity_token);
    if (!service.empty()) form += "&service=" + url_escape(service);
    for (const auto& s : scopes) form += "&scope=" + url_escape(s);
    form_body.data = form;
    req.method = "POST";
    req.body = &form_body;
    req.headers.push_back("Content-Type: application/x-www-form-urlencoded");
  } else {
    if (!service.empty()) url = BERTH_TRY(append_query(url, "service", service));
    for (const auto& s : scopes) url = BERTH_TRY(append_query(url, "scope", s));
    if (!creds.username.empty()) {
      url = BERTH_TRY(append_query(url, "account", creds.username));
      req.headers.push_back("Authorization: Basic " +
                            berth::base64_encode(creds.username + ":" + creds.password));
    }
  }
  req.url = url;
  req.max_body = kMaxTokenResponse;
  // A realm on a host marked insecure gets the registry's treatment: TLS unverified.
  req.verify_tls = !listed_insecure(realm_host + ":" + origin.port, opts_) &&
                   !listed_insecure(realm_host, opts_);

  Response resp;
  std::optional<TransferError> err;
  int attempts = std::max(1, opts_.max_attempts);
  for (int attempt = 1;; ++attempt) {
    err = transport_.perform(req, resp);
    bool transient =
        err ? err->retryable : (resp.status == 429 || (resp.status >= 500 && resp.status != 501));
    if (!transient || attempt >= attempts) break;
    int64_t ms = int64_t(opts_.initial_backoff_ms) << std::min(attempt - 1, 6);
    usleep(static_cast<useconds_t>(std::min<int64_t>(ms, 10000) * 1000));
  }
  if (err) return std::move(err->error);
  std::string ctx = go_method(req.method) + " " + berth::quoted(realm);
  if (resp.status != 200) {
    if (resp.status == 401 || resp.status == 403) {
      auto j = nlohmann::json::parse(resp.body, nullptr, false);
      // Docker Hub's token server: {"details":"incorrect username or password"}.
      if (j.is_object() && j.contains("details") && j["details"].is_string()) {
        return Error(ErrorKind::PermissionDenied, 0,
                     ctx + ": unauthorized: " + j["details"].get<std::string>());
      }
    }
    return status_error(resp, ctx);
  }
  auto j = nlohmann::json::parse(resp.body, nullptr, false);
  if (!j.is_object()) return Error::invalid(ctx + ": token response is not a JSON object");
  Token t;
  if (auto v = j.find("token"); v != j.end() && v->is_string()) t.value = *v;
  if (t.value.empty()) {
    if (auto v = j.find("access_token"); v != j.end() && v->is_string()) t.value = *v;
  }
  if (t.value.empty()) return Error::invalid(ctx + ": token response has no token");
  if (t.value.find_first_of("\r\n") != std::string::npos) {
    return Error::invalid(ctx + ": token contains a line break");
  }
  int64_t expires_in = 60;  // the distribution spec's default
  if (auto v = j.find("expires_in"); v != j.end() && v->is_number_integer()) {
    expires_in = std::clamp<int64_t>(v->get<int64_t>(), 0, 365LL * 24 * 3600);
  }
  // Renew a little early so a token does not expire in flight.
  int64_t margin = expires_in >= 60 ? 10 : expires_in / 5;
  t.expires = std::chrono::steady_clock::now() + std::chrono::seconds(expires_in - margin);
  log::debug("registry: token for " + scope_key(scopes) + "from " + realm + ", expires in " +
             std::to_string(expires_in) + " s");
  return t;
}

}  // namespace registry_internal
}  // namespace berth::image
