#include "cli/format.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <vector>

namespace berth::cli {

namespace {
std::string units_format(double size, double base, const char* const* units, int n, int precision) {
  int i = 0;
  while (size >= base && i < n - 1) {
    size /= base;
    i++;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*g%s", precision, size, units[i]);
  return buf;
}
}  // namespace

std::string human_size(double bytes, int precision) {
  static const char* const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
  return units_format(bytes, 1000.0, units, 9, precision);
}

std::string binary_size(double bytes) {
  static const char* const units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"};
  return units_format(bytes, 1024.0, units, 9, 4);
}

std::string human_duration(double d) {
  long seconds = static_cast<long>(d);
  if (seconds < 1) return "Less than a second";
  if (seconds == 1) return "1 second";
  if (seconds < 60) return std::to_string(seconds) + " seconds";
  long minutes = static_cast<long>(d / 60);
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return std::to_string(minutes) + " minutes";
  long hours = static_cast<long>(d / 3600 + 0.5);
  if (hours == 1) return "About an hour";
  if (hours < 48) return std::to_string(hours) + " hours";
  if (hours < 24 * 7 * 2) return std::to_string(hours / 24) + " days";
  if (hours < 24 * 30 * 2) return std::to_string(hours / 24 / 7) + " weeks";
  if (hours < 24 * 365 * 2) return std::to_string(hours / 24 / 30) + " months";
  return std::to_string(static_cast<long>(d / 3600 / 24 / 365)) + " years";
}

Result<int64_t> parse_ram_size(std::string_view s) {
  std::string str(s);
  char* end = nullptr;
  double v = std::strtod(str.c_str(), &end);
  if (end == str.c_str() || v < 0) return Error::invalid("invalid size: '" + str + "'");
  std::string suffix(end);
  for (char& c : suffix) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (suffix.size() == 2 && suffix[1] == 'b') suffix.pop_back();
  if (suffix.size() == 3 && suffix.substr(1) == "ib") suffix.resize(1);
  double mul = 1;
  if (suffix.empty() || suffix == "b")
    mul = 1;
  else if (suffix == "k")
    mul = 1024.0;
  else if (suffix == "m")
    mul = 1024.0 * 1024;
  else if (suffix == "g")
    mul = 1024.0 * 1024 * 1024;
  else if (suffix == "t")
    mul = 1024.0 * 1024 * 1024 * 1024;
  else if (suffix == "p")
    mul = 1024.0 * 1024 * 1024 * 1024 * 1024;
  else
    return Error::invalid("invalid size: '" + str + "'");
  return static_cast<int64_t>(v * mul);
}

Result<double> parse_go_duration(std::string_view s) {
  std::string str(s);
  if (str.empty()) return Error::invalid("time: invalid duration \"\"");
  double total = 0;
  size_t i = 0;
  bool neg = false;
  if (str[0] == '-' || str[0] == '+') {
    neg = str[0] == '-';
    i = 1;
  }
  if (str.substr(i) == "0") return 0.0;
  while (i < str.size()) {
    char* end = nullptr;
    double v = std::strtod(str.c_str() + i, &end);
    size_t j = static_cast<size_t>(end - str.c_str());
    if (j == i) return Error::invalid("time: invalid duration " + go_quote(str));
    size_t k = j;
    while (k < str.size() && (std::isalpha(static_cast<unsigned char>(str[k])) ||
                              str[k] == '\xc2' || str[k] == '\xb5'))
      k++;
    std::string unit = str.substr(j, k - j);
    double mul;
    if (unit == "ns")
      mul = 1e-9;
    else if (unit == "us" || unit == "\xc2\xb5s")
      mul = 1e-6;
    else if (unit == "ms")
      mul = 1e-3;
    else if (unit == "s")
      mul = 1;
    else if (unit == "m")
      mul = 60;
    else if (unit == "h")
      mul = 3600;
    else if (unit.empty())
      return Error::invalid("time: missing unit in duration " + go_quote(str));
    else
      return Error::invalid("time: unknown unit " + go_quote(unit) + " in duration " +
                            go_quote(str));
    total += v * mul;
    i = k;
  }
  return neg ? -total : total;
}

std::optional<double> parse_rfc3339(std::string_view s) {
  std::string str(s);
  std::tm tm{};
  const char* p = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return std::nullopt;
  double frac = 0;
  if (*p == '.') {
    char* end = nullptr;
    frac = std::strtod(p, &end);
    p = end;
  }
  long offset = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int hh = 0, mm = 0;
    if (std::sscanf(p + 1, "%d:%d", &hh, &mm) < 1) return std::nullopt;
    offset = (hh * 3600L + mm * 60L) * (*p == '+' ? 1 : -1);
    p += std::strlen(p);
  }
  return static_cast<double>(timegm(&tm) - offset) + frac;
}

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

std::string go_time_string(double seconds) {
  time_t t = static_cast<time_t>(seconds);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[80];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S %z %Z", &tm);
  return buf;
}

std::string rfc3339_nano(double seconds, long nanos, bool fixed) {
  time_t t = static_cast<time_t>(std::floor(seconds));
  if (nanos < 0) nanos = static_cast<long>((seconds - std::floor(seconds)) * 1e9);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[80];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (nanos > 0 || fixed) {
    char frac[32];
    std::snprintf(frac, sizeof(frac), ".%09ld", nanos);
    std::string f = frac;
    while (!fixed && f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

Result<std::string> parse_timestamp_arg(std::string_view value, double now) {
  std::string v(value);
  if (v.empty()) return v;
  if (auto d = parse_go_duration(v); d && std::isalpha(static_cast<unsigned char>(v.back()))) {
    double t = now - *d;
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%ld.%09ld", static_cast<long>(t),
                  static_cast<long>((t - std::floor(t)) * 1e9));
    return std::string(buf);
  }
  if (v.find_first_not_of("0123456789.") == std::string::npos) return v;  // Unix timestamp
  if (auto t = parse_rfc3339(v)) {
    char buf[64];
    std::snprintf(buf, sizeof(buf), "%ld.%09ld", static_cast<long>(*t),
                  static_cast<long>((*t - std::floor(*t)) * 1e9));
    return std::string(buf);
  }
  // A date, or a date and time without a zone (local time, as docker takes it).
  for (const char* f : {"%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d"}) {
    std::tm tm{};
    const char* p = strptime(v.c_str(), f, &tm);
    if (p && *p == '\0') {
      tm.tm_isdst = -1;
      return std::to_string(static_cast<long>(mktime(&tm))) + ".000000000";
    }
  }
  return Error::invalid("failed to parse value as time or duration: " + go_quote(v));
}

std::string go_quote(std::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\x%02x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string ellipsis(std::string_view s, size_t max) {
  // Counted in characters (UTF-8 sequences), as docker counts display width.
  std::vector<size_t> starts;
  for (size_t i = 0; i < s.size(); i++) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) starts.push_back(i);
  }
  if (starts.size() <= max) return std::string(s);
  if (max == 0) return "";
  return std::string(s.substr(0, starts[max - 1])) + "\xe2\x80\xa6";
}

std::string short_id(std::string_view id) {
  if (size_t colon = id.find(':'); colon != std::string_view::npos) id = id.substr(colon + 1);
  return std::string(id.substr(0, 12));
}

}  // namespace berth::cli
