// Request helpers (query values, JSON bodies, versions) and the ErrorKind -> status mapping.
#include <charconv>
#include <nlohmann/json.hpp>

#include "api/http.h"
#include "api/http_internal.h"
#include "util/json_escape.h"

namespace berth::api {

std::optional<std::string> Request::q(std::string_view key) const {
  auto [lo, hi] = query.equal_range(std::string(key));
  if (lo == hi) return std::nullopt;
  return std::prev(hi)->second;
}

// docker's httputils.BoolValue: present and not one of "", "0", "no", "false", "none".
bool Request::q_bool(std::string_view key, bool fallback) const {
  auto v = q(key);
  if (!v) return fallback;
  std::string s;
  for (char c : *v)
    if (c != ' ' && c != '\t') s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return !(s.empty() || s == "0" || s == "no" || s == "false" || s == "none");
}

Result<std::optional<long long>> Request::q_int(std::string_view key) const {
  auto v = q(key);
  if (!v || v->empty()) return std::optional<long long>{};
  long long n = 0;
  auto [p, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (ec != std::errc() || p != v->data() + v->size())
    return Error::invalid("invalid value for " + std::string(key) + ": strconv.ParseInt: parsing " +
                          json_quote(*v) + ": invalid syntax");
  return std::optional<long long>{n};
}

std::string Request::header(std::string_view lower_name) const {
  auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? std::string() : it->second;
}

Result<nlohmann::json> Request::json_body(bool allow_empty) const {
  bool blank = body.find_first_not_of(" \t\r\n") == std::string::npos;
  if (blank) {
    if (allow_empty) return nlohmann::json::object();
    return Error::invalid("invalid JSON: got EOF while reading request body");
  }
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::exception& e) {
    return Error::invalid("invalid JSON: " + json_error_text(e.what()));
  }
}

bool Request::version_at_least(std::string_view v) const {
  return compare_versions(api_version, v) >= 0;
}

int compare_versions(std::string_view a, std::string_view b) {
  while (!a.empty() || !b.empty()) {
    auto take = [](std::string_view& s) {
      long n = 0;
      size_t i = 0;
      while (i < s.size() && s[i] >= '0' && s[i] <= '9') n = n * 10 + (s[i++] - '0');
      s.remove_prefix(i < s.size() ? i + 1 : i);  // the part and its dot
      return n;
    };
    long x = take(a), y = take(b);
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

int error_status(const Error& e) {
  switch (e.kind()) {
    case ErrorKind::NotFound: return 404;
    case ErrorKind::Conflict: return 409;
    case ErrorKind::InvalidArgument: return 400;
    case ErrorKind::PermissionDenied: return 403;
    case ErrorKind::Unsupported: return 501;
    case ErrorKind::Timeout: return 504;
    case ErrorKind::Io:
    case ErrorKind::Internal:
    case ErrorKind::Unknown: return 500;
  }
  return 500;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int h = hex(s[i + 1]), l = hex(s[i + 2]);
      if (h >= 0 && l >= 0) {
        out += static_cast<char>(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += (plus_is_space && s[i] == '+') ? ' ' : s[i];
  }
  return out;
}

std::multimap<std::string, std::string> parse_query(std::string_view qs) {
  std::multimap<std::string, std::string> out;
  while (!qs.empty()) {
    size_t amp = qs.find('&');
    std::string_view kv = qs.substr(0, amp);
    qs = amp == std::string_view::npos ? std::string_view() : qs.substr(amp + 1);
    if (kv.empty()) continue;
    size_t eq = kv.find('=');
    std::string k = percent_decode(kv.substr(0, eq), true);
    std::string v = eq == std::string_view::npos ? "" : percent_decode(kv.substr(eq + 1), true);
    out.emplace(std::move(k), std::move(v));
  }
  return out;
}

Result<void> split_target(Request& req) {
  std::string_view t = req.target;
  size_t qm = t.find('?');
  std::string_view path = t.substr(0, qm);
  if (qm != std::string_view::npos) req.query = parse_query(t.substr(qm + 1));
  if (path.empty() || path[0] != '/') return Error::invalid("malformed request target");
  req.api_version = std::string(kApiVersion);
  // "/v1.47/..." : dockerd's route prefix is /v{version:[0-9.]+}.
  if (path.size() > 2 && path[1] == 'v') {
    size_t end = path.find('/', 2);
    std::string_view v = path.substr(2, end == std::string_view::npos ? end : end - 2);
    if (!v.empty() && v.find_first_not_of("0123456789.") == std::string_view::npos) {
      req.api_version = std::string(v);
      path = end == std::string_view::npos ? std::string_view("/") : path.substr(end);
    }
  }
  req.path = std::string(path);
  return ok();
}

}  // namespace berth::api
