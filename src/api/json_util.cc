#include "api/json_util.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>

#include "engine/events.h"
#include "util/json_escape.h"

namespace berth::api {

using nlohmann::json;

Result<FilterMap> parse_filters(std::string_view text) {
  FilterMap out;
  if (text.empty()) return out;
  json j;
  try {
    j = json::parse(text);
  } catch (const json::exception& e) {
    return Error::invalid("invalid filter: " + json_error_text(e.what()));
  }
  if (j.is_null()) return out;
  if (!j.is_object()) return Error::invalid("invalid filter: the filters must be a JSON object");
  for (auto& [key, v] : j.items()) {
    auto& vals = out[key];
    if (v.is_object()) {
      for (auto& [val, on] : v.items())
        if (!on.is_boolean() || on.get<bool>()) vals.push_back(val);
    } else if (v.is_array()) {
      for (auto& val : v) {
        if (!val.is_string())
          return Error::invalid("invalid filter: values of " + key + " must be strings");
        vals.push_back(val.get<std::string>());
      }
    } else {
      return Error::invalid("invalid filter: " + key + " must map to an object or a list");
    }
  }
  return out;
}

Result<void> check_filter_keys(const FilterMap& f, const std::vector<std::string_view>& allowed) {
  for (const auto& [k, v] : f)
    if (std::find(allowed.begin(), allowed.end(), k) == allowed.end())
      return Error::invalid("invalid filter '" + k + "'");
  return ok();
}

Result<bool> filter_bool(const FilterMap& f, const std::string& key, bool fallback) {
  auto it = f.find(key);
  if (it == f.end() || it->second.empty()) return fallback;
  bool seen_true = false, seen_false = false;
  for (const auto& v : it->second) {
    std::string l = v;
    std::transform(l.begin(), l.end(), l.begin(), ::tolower);
    if (l == "true" || l == "1")
      seen_true = true;
    else if (l == "false" || l == "0")
      seen_false = true;
    else
      return Error::invalid("invalid filter '" + key + "=" + v + "'");
  }
  if (seen_true && seen_false) return fallback;
  return seen_true;
}

int64_t now_unix_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339_nano(int64_t ns) {
  int64_t secs = ns / 1'000'000'000, frac = ns % 1'000'000'000;
  if (frac < 0) {
    frac += 1'000'000'000;
    secs--;
  }
  time_t t = static_cast<time_t>(secs);
  struct tm tm;
  gmtime_r(&t, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (frac) {
    char f[16];
    snprintf(f, sizeof f, ".%09lld", static_cast<long long>(frac));
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  return out + "Z";
}

namespace {

bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; i++) {
    if (s[i] < '0' || s[i] > '9') return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// A Go duration ("1h30m", "10m", "1.5s") in nanoseconds.
std::optional<int64_t> parse_go_duration(std::string_view s) {
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.')) i++;
    if (i == 0) return std::nullopt;
    double v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + i, v);
    if (ec != std::errc() || p != s.data() + i) return std::nullopt;
    s.remove_prefix(i);
    size_t u = 0;
    while (u < s.size() && !((s[u] >= '0' && s[u] <= '9') || s[u] == '.')) u++;
    std::string_view unit = s.substr(0, u);
    s.remove_prefix(u);
    double mult;
    if (unit == "ns")
      mult = 1;
    else if (unit == "us" || unit == "\xc2\xb5s")
      mult = 1e3;
    else if (unit == "ms")
      mult = 1e6;
    else if (unit == "s")
      mult = 1e9;
    else if (unit == "m")
      mult = 60e9;
    else if (unit == "h")
      mult = 3600e9;
    else
      return std::nullopt;
    total += v * mult;
  }
  return static_cast<int64_t>(total);
}

}  // namespace

Result<int64_t> parse_rfc3339(std::string_view s) {
  auto bad = [&] { return Error::invalid("cannot parse \"" + std::string(s) + "\" as RFC 3339"); };
  struct tm tm {};
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!digits(s, 0, 4, y) || s.size() < 10 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d))
    return bad();
  size_t pos = 10;
  int64_t frac = 0, offset = 0;
  if (pos < s.size()) {
    if ((s[pos] != 'T' && s[pos] != 't' && s[pos] != ' ') || !digits(s, pos + 1, 2, h) ||
        s.size() < pos + 9 || s[pos + 3] != ':' || !digits(s, pos + 4, 2, mi) ||
        s[pos + 6] != ':' || !digits(s, pos + 7, 2, sec))
      return bad();
    pos += 9;
    if (pos < s.size() && s[pos] == '.') {
      pos++;
      int64_t scale = 100'000'000;
      while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
        frac += (s[pos] - '0') * scale;
        scale /= 10;
        pos++;
      }
    }
    if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
      pos++;
    } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
      int oh, om;
      if (!digits(s, pos + 1, 2, oh) || s.size() < pos + 6 || s[pos + 3] != ':' ||
          !digits(s, pos + 4, 2, om))
        return bad();
      offset = (s[pos] == '-' ? -1 : 1) * (oh * 3600 + om * 60);
      pos += 6;
    }
    if (pos != s.size()) return bad();
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = sec;
  int64_t secs = static_cast<int64_t>(timegm(&tm)) - offset;
  return secs * 1'000'000'000 + frac;
}

Result<int64_t> parse_timestamp(std::string_view s, int64_t now_ns) {
  if (s.empty()) return Error::invalid("empty timestamp");
  if (auto d = parse_go_duration(s); d && s.find_first_of("hmsu\xc2") != std::string_view::npos)
    return now_ns - *d;
  if (s.find_first_not_of("0123456789.") == std::string_view::npos) {
    std::string_view whole = s.substr(0, s.find('.'));
    int64_t secs = 0;
    auto [p, ec] = std::from_chars(whole.data(), whole.data() + whole.size(), secs);
    if (ec != std::errc() || p != whole.data() + whole.size())
      return Error::invalid("invalid timestamp \"" + std::string(s) + "\"");
    int64_t frac = 0;
    if (size_t dot = s.find('.'); dot != std::string_view::npos) {
      int64_t scale = 100'000'000;
      for (size_t i = dot + 1; i < s.size() && scale > 0; i++, scale /= 10) {
        if (s[i] < '0' || s[i] > '9')
          return Error::invalid("invalid timestamp \"" + std::string(s) + "\"");
        frac += (s[i] - '0') * scale;
      }
    }
    return secs * 1'000'000'000 + frac;
  }
  return parse_rfc3339(s);
}

std::string human_size(double bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
  int i = 0;
  while (bytes >= 1000 && i < 6) {
    bytes /= 1000;
    i++;
  }
  char buf[32];
  snprintf(buf, sizeof buf, "%.3g%s", bytes, units[i]);
  return buf;
}

std::string progress_bar(uint64_t current, uint64_t total) {
  std::string bar;
  if (total > 0 && current <= total) {
    int pct = static_cast<int>(static_cast<double>(current) / static_cast<double>(total) * 100) / 2;
    bar = "[" + std::string(pct, '=') + ">" + std::string(std::max(0, 50 - pct), ' ') + "] ";
  }
  char nums[64];
  std::string cur = human_size(static_cast<double>(current));
  if (total > 0)
    snprintf(nums, sizeof nums, "%8s/%s", cur.c_str(),
             human_size(static_cast<double>(total)).c_str());
  else
    snprintf(nums, sizeof nums, "%8s", cur.c_str());
  return bar + nums;
}

json progress_message(std::string_view id, std::string_view status, uint64_t current,
                      uint64_t total) {
  json m = json::object();
  m["status"] = status;
  if (current > 0 || total > 0) {
    json d = json::object();
    d["current"] = current;
    if (total > 0) d["total"] = total;
    m["progressDetail"] = d;
    m["progress"] = progress_bar(current, total);
  } else if (!id.empty()) {
    m["progressDetail"] = json::object();
  }
  if (!id.empty()) m["id"] = id;
  return m;
}

json error_message(std::string_view message) {
  return json{{"errorDetail", {{"message", message}}}, {"error", message}};
}

json event_json(const engine::Event& e) {
  json j = json::object();
  if (e.type == "container" || e.type == "image") {
    j["status"] = e.action;
    j["id"] = e.actor_id;
    if (e.type == "container")
      if (auto it = e.attributes.find("image"); it != e.attributes.end()) j["from"] = it->second;
  }
  j["Type"] = e.type;
  j["Action"] = e.action;
  json attrs = json::object();
  for (const auto& [k, v] : e.attributes) attrs[k] = v;
  j["Actor"] = {{"ID", e.actor_id}, {"Attributes", attrs}};
  j["scope"] = "local";
  j["time"] = e.time_nano / 1'000'000'000;
  j["timeNano"] = e.time_nano;
  return j;
}

}  // namespace berth::api
