// The registry client's HTTP layer: libcurl easy handles from a pool (connections and TLS
// sessions reused per handle, DNS and TLS session caches shared), one exchange per call, no
// redirects or retries here (registry.cc decides those), errors worded like Go's net/http.
#include <arpa/inet.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <nlohmann/json.hpp>

#include "image/registry_internal.h"
#include "util/strings.h"

namespace berth::image::registry_internal {

namespace {

constexpr long kReceiveBuffer = 512 * 1024;  // CURLOPT_BUFFERSIZE: big reads on the hot path
constexpr size_t kMaxHeaders = 200;
constexpr size_t kMaxHeaderLine = 16 * 1024;
constexpr size_t kMaxErrorBody = 64 * 1024;

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

struct UrlHandle {
  CURLU* u = curl_url();
  ~UrlHandle() { curl_url_cleanup(u); }
  Result<std::string> get(CURLUPart part, unsigned flags = 0) const {
    char* out = nullptr;
    CURLUcode rc = curl_url_get(u, part, &out, flags);
    if (rc != CURLUE_OK) return Error::invalid(curl_url_strerror(rc));
    std::string s(out);
    curl_free(out);
    return s;
  }
};

}  // namespace

// ---- URLs -------------------------------------------------------------------------------------

Result<Origin> url_origin(const std::string& url) {
  UrlHandle h;
  if (CURLUcode rc = curl_url_set(h.u, CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK) {
    return Error::invalid("invalid URL " + berth::quoted(url) + ": " + curl_url_strerror(rc));
  }
  Origin o;
  o.scheme = lower(BERTH_TRY(h.get(CURLUPART_SCHEME)));
  o.host = lower(BERTH_TRY(h.get(CURLUPART_HOST)));
  o.port = BERTH_TRY(h.get(CURLUPART_PORT, CURLU_DEFAULT_PORT));
  return o;
}

Result<std::string> resolve_url(const std::string& base, const std::string& ref) {
  UrlHandle h;
  if (CURLUcode rc = curl_url_set(h.u, CURLUPART_URL, base.c_str(), 0); rc != CURLUE_OK) {
    return Error::invalid("invalid URL " + berth::quoted(base) + ": " + curl_url_strerror(rc));
  }
  // With a URL already set, a relative one is resolved against it.
  if (CURLUcode rc = curl_url_set(h.u, CURLUPART_URL, ref.c_str(), 0); rc != CURLUE_OK) {
    return Error::invalid("invalid Location " + berth::quoted(ref) + ": " + curl_url_strerror(rc));
  }
  return h.get(CURLUPART_URL);
}

Result<std::string> append_query(const std::string& url, std::string_view key,
                                 std::string_view value) {
  UrlHandle h;
  if (CURLUcode rc = curl_url_set(h.u, CURLUPART_URL, url.c_str(), 0); rc != CURLUE_OK) {
    return Error::invalid("invalid URL " + berth::quoted(url) + ": " + curl_url_strerror(rc));
  }
  std::string q = std::string(key) + "=" + url_escape(value);
  if (CURLUcode rc = curl_url_set(h.u, CURLUPART_QUERY, q.c_str(), CURLU_APPENDQUERY);
      rc != CURLUE_OK) {
    return Error::invalid("invalid query for " + berth::quoted(url) + ": " + curl_url_strerror(rc));
  }
  return h.get(CURLUPART_URL);
}

std::string url_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || c == ':' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    size_t end = host.find(']');
    return std::string(host.substr(1, end == std::string_view::npos ? host.npos : end - 1));
  }
  size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && host.find(':') == colon) host = host.substr(0, colon);
  return std::string(host);
}

bool is_loopback_host(std::string_view host_port) {
  std::string h = lower(host_without_port(host_port));
  if (h == "localhost" || h.ends_with(".localhost")) return true;
  in_addr a4{};
  if (inet_pton(AF_INET, h.c_str(), &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
  in6_addr a6{};
  if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
  return false;
}

bool listed_insecure(const std::string& host_port, const RegistryOptions& opts) {
  std::string h = lower(host_port);
  for (const auto& i : opts.insecure) {
    if (lower(i) == h || lower(i) == host_without_port(h)) return true;
  }
  return false;
}

bool plain_http_allowed(const std::string& host_port, const RegistryOptions& opts) {
  return is_loopback_host(host_port) || listed_insecure(host_port, opts);
}

// ---- Response ---------------------------------------------------------------------------------

std::string_view Response::header(std::string_view name) const {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return {};
}

std::vector<std::string_view> Response::headers_named(std::string_view name) const {
  std::vector<std::string_view> out;
  for (const auto& h : headers) {
    if (h.name == name) out.push_back(h.value);
  }
  return out;
}

std::string Response::content_type() const {
  std::string_view ct = header("content-type");
  ct = trim(ct.substr(0, ct.find(';')));
  return lower(ct);
}

// ---- Transport --------------------------------------------------------------------------------

struct Transport::Handle {
  CURL* easy = nullptr;
  char errbuf[CURL_ERROR_SIZE] = {};
};

namespace {

// State of one exchange, shared with libcurl's callbacks.
struct Exchange {
  const Request* req;
  Response* resp;
  CURL* easy;
  bool started = false;    // first body byte (or end) seen
  bool streaming = false;  // body goes to req->stream
  bool overflow = false;
  std::optional<Error> cb_error;
  uint64_t body_pos = 0;  // upload position
};

size_t on_header(char* data, size_t size, size_t n, void* p) {
  auto* x = static_cast<Exchange*>(p);
  size_t len = size * n;
  std::string_view line(data, std::min(len, kMaxHeaderLine));
  if (line.starts_with("HTTP/")) {  // a new response (after 1xx): start over
    x->resp->headers.clear();
    return len;
  }
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || x->resp->headers.size() >= kMaxHeaders) return len;
  x->resp->headers.push_back(
      {lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1)))});
  return len;
}

// Decides, at the first body byte, whether this response streams or is buffered.
bool start_body(Exchange* x) {
  x->started = true;
  long status = 0;
  curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
  x->resp->status = status;
  if (x->req->stream && (status == 200 || status == 206)) {
    x->streaming = true;
    if (x->req->stream->on_start) {
      if (auto r = x->req->stream->on_start(*x->resp); !r) {
        x->cb_error = std::move(r).error();
        return false;
      }
    }
  }
  return true;
}

size_t on_body(char* data, size_t size, size_t n, void* p) {
  auto* x = static_cast<Exchange*>(p);
  size_t len = size * n;
  if (!x->started && !start_body(x)) return 0;
  if (x->streaming) {
    if (auto r = x->req->stream->on_data(data, len); !r) {
      x->cb_error = std::move(r).error();
      return 0;
    }
    return len;
  }
  long status = x->resp->status;
  if (status >= 300 && status < 400) return len;  // redirect pages are not read
  bool success = status >= 200 && status < 300;
  size_t cap = success ? x->req->max_body : kMaxErrorBody;
  if (x->resp->body.size() + len > cap) {
    if (success) {
      x->overflow = true;
      return 0;
    }
    x->resp->body.append(data, cap - x->resp->body.size());
    return len;
  }
  x->resp->body.append(data, len);
  return len;
}

size_t on_read(char* buf, size_t size, size_t n, void* p) {
  auto* x = static_cast<Exchange*>(p);
  const Body& b = *x->req->body;
  size_t want = size * n;
  uint64_t left = b.size() - x->body_pos;
  if (want > left) want = static_cast<size_t>(left);
  if (want == 0) return 0;
  if (b.fd >= 0) {
    ssize_t got;
    do {
      got = pread(b.fd, buf, want, static_cast<off_t>(b.offset + x->body_pos));
    } while (got < 0 && errno == EINTR);
    if (got < 0) {
      x->cb_error = Error::sys("read upload body");
      return CURL_READFUNC_ABORT;
    }
    if (got == 0) {
      x->cb_error =
          Error(ErrorKind::Io, 0,
                "read upload body: file shorter than " + std::to_string(b.size()) + " bytes");
      return CURL_READFUNC_ABORT;
    }
    want = static_cast<size_t>(got);
  } else {
    std::memcpy(buf, b.data.data() + x->body_pos, want);
  }
  x->body_pos += want;
  return want;
}

int on_seek(void* p, curl_off_t offset, int origin) {
  auto* x = static_cast<Exchange*>(p);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > x->req->body->size()) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  x->body_pos = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

void lock_share(CURL*, curl_lock_data data, curl_lock_access, void* p) {
  static_cast<std::mutex*>(p)[static_cast<int>(data) % 8].lock();
}
void unlock_share(CURL*, curl_lock_data data, void* p) {
  static_cast<std::mutex*>(p)[static_cast<int>(data) % 8].unlock();
}

bool retryable_curl_code(CURLcode rc) {
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SSL_CONNECT_ERROR: return true;
    default: return false;
  }
}

// Go's net/http wording where there is one: `dial tcp 127.0.0.1:5000: connect: connection
// refused`, `dial tcp: lookup nosuch: no such host`, `unexpected EOF`.
Error transport_error(CURLcode rc, CURL* easy, const char* errbuf, const Request& req) {
  std::string prefix = go_method(req.method) + " " + berth::quoted(req.url) + ": ";
  std::string detail = errbuf[0] ? std::string(errbuf) : std::string(curl_easy_strerror(rc));
  while (!detail.empty() && detail.back() == '\n') detail.pop_back();
  std::string hostport;
  if (auto o = url_origin(req.url)) {
    hostport = o->host.find(':') != std::string::npos ? "[" + o->host + "]:" + o->port
                                                      : o->host + ":" + o->port;
  }
  long os_errno = 0;
  curl_easy_getinfo(easy, CURLINFO_OS_ERRNO, &os_errno);
  switch (rc) {
    case CURLE_COULDNT_CONNECT:
      return Error(ErrorKind::Io, os_errno ? static_cast<int>(os_errno) : ECONNREFUSED,
                   prefix + "dial tcp " + hostport + ": connect");
    case CURLE_COULDNT_RESOLVE_HOST:
      if (auto o = url_origin(req.url)) {
        return Error(ErrorKind::Io, 0, prefix + "dial tcp: lookup " + o->host + ": no such host");
      }
      break;
    case CURLE_OPERATION_TIMEDOUT: return Error(ErrorKind::Timeout, ETIMEDOUT, prefix + detail);
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
      return Error(ErrorKind::Io, 0, prefix + "unexpected EOF (" + detail + ")");
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
      return Error(ErrorKind::PermissionDenied, 0,
                   prefix + "tls: failed to verify certificate: " + detail);
    default: break;
  }
  if (os_errno && (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR)) {
    return Error(ErrorKind::Io, static_cast<int>(os_errno), prefix + "read tcp " + hostport);
  }
  return Error(ErrorKind::Io, 0, prefix + detail);
}

}  // namespace

Transport::Transport(Config config) : config_(std::move(config)) {
  share_ = curl_share_init();
  if (share_) {
    curl_share_setopt(share_, CURLSHOPT_LOCKFUNC, lock_share);
    curl_share_setopt(share_, CURLSHOPT_UNLOCKFUNC, unlock_share);
    curl_share_setopt(share_, CURLSHOPT_USERDATA, share_mu_);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(share_, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  }
}

Transport::~Transport() {
  for (Handle* h : pool_) {
    curl_easy_cleanup(h->easy);
    delete h;
  }
  if (share_) curl_share_cleanup(share_);
}

Transport::Handle* Transport::acquire() {
  {
    std::lock_guard lock(pool_mu_);
    if (!pool_.empty()) {
      Handle* h = pool_.back();
      pool_.pop_back();
      curl_easy_reset(h->easy);  // keeps live connections and caches
      return h;
    }
  }
  auto h = std::make_unique<Handle>();
  h->easy = curl_easy_init();
  if (!h->easy) return nullptr;
  return h.release();
}

void Transport::release(Handle* h) {
  std::lock_guard lock(pool_mu_);
  pool_.push_back(h);
}

std::optional<TransferError> Transport::perform(const Request& req, Response& resp) {
  resp = Response{};
  resp.url = req.url;
  Handle* h = acquire();
  if (!h) return TransferError{Error::internal("curl_easy_init failed"), false, false};
  CURL* e = h->easy;
  Exchange x{&req, &resp, e};
  h->errbuf[0] = 0;

  curl_easy_setopt(e, CURLOPT_URL, req.url.c_str());
  curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(e, CURLOPT_ERRORBUFFER, h->errbuf);
  if (share_) curl_easy_setopt(e, CURLOPT_SHARE, share_);
  curl_easy_setopt(e, CURLOPT_BUFFERSIZE, kReceiveBuffer);
  curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, config_.connect_timeout_ms);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, config_.low_speed_time_s);
  curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
  curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(e, CURLOPT_USERAGENT, config_.user_agent.c_str());
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, req.verify_tls ? 1L : 0L);
  curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, req.verify_tls ? 2L : 0L);
  if (!config_.ca_file.empty()) curl_easy_setopt(e, CURLOPT_CAINFO, config_.ca_file.c_str());
  curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(e, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(e, CURLOPT_WRITEDATA, &x);

  curl_slist* headers = nullptr;
  for (const auto& line : req.headers) headers = curl_slist_append(headers, line.c_str());
  if (req.method == "HEAD") {
    curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
  } else if (req.body) {
    curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(req.body->size()));
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(e, CURLOPT_READDATA, &x);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, &x);
    headers = curl_slist_append(headers, "Expect:");  // no 100-continue round trip
  }
  std::string method(req.method);
  if (method != "GET" && method != "HEAD" && !(method == "PUT" && req.body)) {
    curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (method != "HEAD" && method != "GET" && !req.body) {
    // POST/PUT/DELETE without a body still says Content-Length: 0.
    headers = curl_slist_append(headers, "Content-Length: 0");
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(e);
  long status = 0;
  curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
  resp.status = status;
  std::optional<TransferError> err;
  if (rc == CURLE_OK && !x.started && req.stream && (status == 200 || status == 206) &&
      req.method != "HEAD") {
    // An empty 200/206 body: still tell the stream it started.
    if (!start_body(&x)) err = TransferError{std::move(*x.cb_error), false, true};
  }
  if (err) {
  } else if (x.cb_error) {
    err = TransferError{std::move(*x.cb_error), false, true};
  } else if (x.overflow) {
    err = TransferError{
        Error(ErrorKind::InvalidArgument, 0,
              go_method(req.method) + " " + berth::quoted(req.url) +
                  ": response body larger than " + std::to_string(req.max_body) + " bytes"),
        false, false};
  } else if (rc != CURLE_OK) {
    err = TransferError{transport_error(rc, e, h->errbuf, req), retryable_curl_code(rc), false,
                        rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST};
  }
  curl_easy_setopt(e, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);
  if (rc == CURLE_OK || err->retryable) {
    release(h);  // a handle that saw a protocol error is dropped with its connection
  } else {
    curl_easy_cleanup(e);
    delete h;
  }
  return err;
}

std::string go_method(std::string_view method) {
  std::string out = lower(method);
  if (!out.empty()) out[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(out[0])));
  return out;
}

std::string_view status_text(long status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Request Entity Too Large";
    case 416: return "Requested Range Not Satisfiable";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "";
  }
}

// ---- registry errors --------------------------------------------------------------------------

std::vector<RegistryErrorEntry> parse_registry_errors(std::string_view body) {
  std::vector<RegistryErrorEntry> out;
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return out;
  auto it = j.find("errors");
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& e : *it) {
    if (!e.is_object() || out.size() >= 16) continue;
    RegistryErrorEntry entry;
    if (auto c = e.find("code"); c != e.end() && c->is_string()) entry.code = *c;
    if (auto m = e.find("message"); m != e.end() && m->is_string()) entry.message = *m;
    if (entry.code.empty() && entry.message.empty()) continue;
    if (entry.message.size() > 1024) entry.message.resize(1024);
    out.push_back(std::move(entry));
  }
  return out;
}

namespace {

// errcode.ErrorCode.Error() in docker/distribution: "MANIFEST_UNKNOWN" -> "manifest unknown".
std::string code_words(std::string_view code) {
  std::string out = lower(code);
  std::replace(out.begin(), out.end(), '_', ' ');
  return out;
}

}  // namespace

std::string describe_registry_error(const Response& resp) {
  auto errors = parse_registry_errors(resp.body);
  if (!errors.empty()) {
    std::string out;
    for (const auto& e : errors) {
      if (!out.empty()) out += "; ";
      out += e.code.empty() ? e.message : code_words(e.code) + ": " + e.message;
    }
    return out;
  }
  switch (resp.status) {
    case 401: return "unauthorized: authentication required";
    case 403: return "denied: requested access to the resource is denied";
    case 404: return "not found";
    case 429: return "toomanyrequests: too many requests";
    default: break;
  }
  std::string out = "unexpected status code " + std::to_string(resp.status);
  if (auto t = status_text(resp.status); !t.empty()) out += " " + std::string(t);
  // A short text body (proxies, load balancers) says more than the status.
  std::string_view body = trim(resp.body);
  if (!body.empty() && body.size() <= 200 && body.find('<') == std::string_view::npos) {
    bool printable = std::all_of(body.begin(), body.end(), [](char c) {
      return std::isprint(static_cast<unsigned char>(c)) || c == '\n';
    });
    if (printable) out += ": " + std::string(body);
  }
  return out;
}

ErrorKind kind_for_status(long status) {
  switch (status) {
    case 400: return ErrorKind::InvalidArgument;
    case 401:
    case 403: return ErrorKind::PermissionDenied;
    case 404: return ErrorKind::NotFound;
    case 405: return ErrorKind::Unsupported;
    case 409: return ErrorKind::Conflict;
    case 408:
    case 504: return ErrorKind::Timeout;
    default: return ErrorKind::Io;
  }
}

Error status_error(const Response& resp, std::string_view context) {
  std::string msg(context);
  if (!msg.empty()) msg += ": ";
  msg += describe_registry_error(resp);
  ErrorKind kind = kind_for_status(resp.status);
  for (const auto& e : parse_registry_errors(resp.body)) {
    if (e.code == "DENIED" || e.code == "UNAUTHORIZED") kind = ErrorKind::PermissionDenied;
  }
  return Error(kind, 0, std::move(msg));
}

bool has_error_code(const Response& resp, std::string_view code) {
  for (const auto& e : parse_registry_errors(resp.body)) {
    if (e.code == code) return true;
  }
  return false;
}

}  // namespace berth::image::registry_internal
