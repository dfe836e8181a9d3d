#include "shim/encode.h"

#include <cstdio>

namespace berth::shim {

void append_frame(std::string& out, Stream stream, std::string_view payload) {
  uint32_t n = static_cast<uint32_t>(payload.size());
  char h[8] = {static_cast<char>(stream),
               0,
               0,
               0,
               static_cast<char>(n >> 24),
               static_cast<char>(n >> 16),
               static_cast<char>(n >> 8),
               static_cast<char>(n)};
  out.append(h, sizeof h);
  out.append(payload);
}

std::string format_time(const timespec& ts) {
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  if (ts.tv_nsec != 0) {
    n += static_cast<size_t>(snprintf(buf + n, sizeof buf - n, ".%09ld", ts.tv_nsec));
    while (buf[n - 1] == '0') n--;
  }
  buf[n++] = 'Z';
  return std::string(buf, n);
}

std::string now_time() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return format_time(ts);
}

namespace {

// Length of the valid UTF-8 sequence at s[i], or 0 if it is not one (Go's rules: no
// surrogates, no overlong forms, at most U+10FFFF).
size_t utf8_length(std::string_view s, size_t i, uint32_t& cp) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = b(i);
  size_t len;
  uint32_t min;
  if (c < 0x80) {
    cp = c;
    return 1;
  } else if ((c & 0xE0) == 0xC0) {
    len = 2, cp = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, cp = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, cp = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (i + len > s.size()) return 0;
  for (size_t k = 1; k < len; k++) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return len;
}

}  // namespace

void append_go_json_string(std::string& out, std::string_view s) {
  static const char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      uint32_t cp;
      size_t len = utf8_length(s, i, cp);
      if (len == 0) {
        out += "\\ufffd";
        i++;
      } else if (cp == 0x2028 || cp == 0x2029) {
        out += cp == 0x2028 ? "\\u2028" : "\\u2029";
        i += len;
      } else {
        out.append(s.substr(i, len));
        i += len;
      }
      continue;
    }
    i++;
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      default: break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out.push_back('"');
}

std::string log_line(std::string_view log, std::string_view stream, std::string_view time) {
  std::string out;
  out.reserve(log.size() + stream.size() + time.size() + 40);
  out += "{\"log\":";
  append_go_json_string(out, log);
  out += ",\"stream\":";
  append_go_json_string(out, stream);
  out += ",\"time\":\"";
  out += time;
  out += "\"}\n";
  return out;
}

}  // namespace berth::shim
