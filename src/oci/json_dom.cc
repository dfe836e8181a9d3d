#include "oci/json_dom.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "oci/spec.h"

namespace berth::oci::detail {

// ---------------------------------------------------------------------------------------------
// JsonRef.

JsonType JsonRef::type() const { return doc_->nodes_[i_].type; }
bool JsonRef::boolean() const { return doc_->nodes_[i_].boolean; }
int64_t JsonRef::integer() const { return doc_->nodes_[i_].num.i; }
uint64_t JsonRef::unsigned_() const { return doc_->nodes_[i_].num.u; }
double JsonRef::number() const { return doc_->nodes_[i_].num.d; }
std::string_view JsonRef::str() const {
  const auto& n = doc_->nodes_[i_];
  return {n.str, n.str_len};
}
size_t JsonRef::size() const { return doc_->nodes_[i_].count; }
JsonRef JsonRef::first() const {
  return doc_->nodes_[i_].count ? JsonRef(doc_, i_ + 1) : JsonRef();
}
JsonRef JsonRef::next() const {
  uint32_t n = doc_->nodes_[i_].next;
  return n ? JsonRef(doc_, n) : JsonRef();
}
std::string_view JsonRef::key() const {
  const auto& n = doc_->nodes_[i_];
  return {n.key, n.key_len};
}

JsonRef JsonRef::find(std::string_view name) const {
  JsonRef found;
  for (JsonRef m = first(); m; m = m.next())
    if (m.key() == name) found = m;
  return found;
}

namespace {

// nlohmann's rendering of a double (its dtoa's format_buffer): the shortest digits that read
// back the same; plain notation for decimal exponents in (-4, 15], always with a '.';
// otherwise d.ddde+XX with at least two exponent digits.
std::string format_double(double d) {
  if (!std::isfinite(d)) return "null";
  if (d == 0) return std::signbit(d) ? "-0.0" : "0.0";
  // The shortest %e that reads back as d (snprintf and strtod: libstdc++'s to_chars would
  // bring ~100 KB of tables into the runtime binary for error messages alone).
  char sci[64];
  for (int precision = 0; precision <= 17; ++precision) {
    snprintf(sci, sizeof sci, "%.*e", precision, d);
    if (std::strtod(sci, nullptr) == d) break;
  }
  std::string_view s(sci);
  std::string out;
  if (s.front() == '-') {
    out += '-';
    s.remove_prefix(1);
  }
  size_t e = s.find('e');
  std::string digits;
  for (char c : s.substr(0, e))
    if (c != '.') digits += c;
  int exp10 = 0;
  std::from_chars(s.data() + e + 1 + (s[e + 1] == '+'), s.data() + s.size(), exp10);
  int k = static_cast<int>(digits.size());
  int n = exp10 + 1;  // value = 0.digits * 10^n
  if (k <= n && n <= 15) {
    out += digits;
    out.append(static_cast<size_t>(n - k), '0');
    out += ".0";
  } else if (0 < n && n <= 15) {
    out += digits.substr(0, static_cast<size_t>(n));
    out += '.';
    out += digits.substr(static_cast<size_t>(n));
  } else if (-4 < n && n <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-n), '0');
    out += digits;
  } else {
    out += digits[0];
    if (k > 1) {
      out += '.';
      out += digits.substr(1);
    }
    int x = n - 1;
    out += x < 0 ? "e-" : "e+";
    if (x < 0) x = -x;
    if (x < 10) out += '0';
    out += std::to_string(x);
  }
  return out;
}

}  // namespace

std::string JsonRef::dump() const {
  switch (type()) {
    case JsonType::Null: return "null";
    case JsonType::Boolean: return boolean() ? "true" : "false";
    case JsonType::Integer: return std::to_string(integer());
    case JsonType::Unsigned: return std::to_string(unsigned_());
    case JsonType::Float: return format_double(number());
    default: return "...";
  }
}

std::string describe(const JsonRef& j) {
  switch (j.type()) {
    case JsonType::Null: return "null";
    case JsonType::Object: return "an object";
    case JsonType::Array: return "an array";
    case JsonType::String: return "string " + quote_for_message(j.str());
    default: return j.dump();
  }
}

// ---------------------------------------------------------------------------------------------
// The parser: recursive descent over the text, nodes appended in document order. Every
// function returns false after setting the (first) error.

class JsonParser {
 public:
  JsonParser(std::string_view text, int max_depth, JsonDoc& doc)
      : begin_(text.data()),
        p_(text.data()),
        end_(text.data() + text.size()),
        max_depth_(max_depth),
        doc_(doc) {}

  Result<void> run() {
    // A config of a few KiB needs ~200 nodes; a large input grows the array as it goes.
    doc_.nodes_.reserve(64 + std::min<size_t>(static_cast<size_t>(end_ - begin_) / 16, 4096));
    skip_ws();
    if (!value(0)) return std::move(*err_);
    skip_ws();
    if (p_ != end_) {
      fail(p_, "unexpected " + what_is(p_) + " after the value");
      return std::move(*err_);
    }
    return ok();
  }

 private:
  using Node = JsonDoc::Node;

  const char* begin_;
  const char* p_;
  const char* end_;
  int max_depth_;
  JsonDoc& doc_;
  char* out_ = nullptr;  // next free byte of doc_.unescaped_ (made at the first escape)
  std::optional<Error> err_;

  bool fail(const char* at, std::string what) {
    if (err_) return false;
    size_t line = 1;
    const char* line_start = begin_;
    for (const char* q = begin_; q < at && q < end_; ++q)
      if (*q == '\n') {
        ++line;
        line_start = q + 1;
      }
    err_ = Error::invalid("invalid JSON: line " + std::to_string(line) + ", column " +
                          std::to_string(at - line_start + 1) + ": " + what);
    return false;
  }

  // "end of input", "'x'", "byte 0xff": the character at `at`, for an error.
  std::string what_is(const char* at) const {
    if (at >= end_) return "end of input";
    auto c = static_cast<unsigned char>(*at);
    if (c >= 0x21 && c < 0x7f) return std::string("'") + static_cast<char>(c) + "'";
    static constexpr char kHex[] = "0123456789abcdef";
    return std::string("byte 0x") + kHex[c >> 4] + kHex[c & 0xf];
  }

  void skip_ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  uint32_t add(JsonType t) {
    doc_.nodes_.emplace_back();
    doc_.nodes_.back().type = t;
    return static_cast<uint32_t>(doc_.nodes_.size() - 1);
  }

  bool literal(std::string_view word) {
    if (static_cast<size_t>(end_ - p_) < word.size() || memcmp(p_, word.data(), word.size()))
      return fail(p_, "unexpected " + what_is(p_) + " (expected a value)");
    p_ += word.size();
    return true;
  }

  bool value(int depth) {
    if (p_ >= end_) return fail(p_, "unexpected end of input (expected a value)");
    switch (*p_) {
      case '{': return container(depth, true);
      case '[': return container(depth, false);
      case '"': {
        uint32_t i = add(JsonType::String);
        const char* s;
        uint32_t len;
        if (!string(s, len)) return false;
        doc_.nodes_[i].str = s;
        doc_.nodes_[i].str_len = len;
        return true;
      }
      case 't':
        if (!literal("true")) return false;
        doc_.nodes_[add(JsonType::Boolean)].boolean = true;
        return true;
      case 'f':
        if (!literal("false")) return false;
        add(JsonType::Boolean);
        return true;
      case 'n':
        if (!literal("null")) return false;
        add(JsonType::Null);
        return true;
      default:
        if (*p_ == '-' || (*p_ >= '0' && *p_ <= '9')) return number();
        return fail(p_, "unexpected " + what_is(p_) + " (expected a value)");
    }
  }

  bool container(int depth, bool object) {
    if (depth + 1 > max_depth_)
      return fail(p_, "nested deeper than " + std::to_string(max_depth_) + " levels");
    uint32_t self = add(object ? JsonType::Object : JsonType::Array);
    const char close = object ? '}' : ']';
    ++p_;
    skip_ws();
    if (p_ < end_ && *p_ == close) {
      ++p_;
      return true;
    }
    uint32_t count = 0, prev = 0;
    for (;;) {
      const char* key = nullptr;
      uint32_t key_len = 0;
      if (object) {
        if (p_ >= end_ || *p_ != '"')
          return fail(p_, "unexpected " + what_is(p_) + " (expected a member name)");
        if (!string(key, key_len)) return false;
        skip_ws();
        if (p_ >= end_ || *p_ != ':')
          return fail(p_, "unexpected " + what_is(p_) + " (expected ':')");
        ++p_;
        skip_ws();
      }
      auto child = static_cast<uint32_t>(doc_.nodes_.size());
      if (!value(depth + 1)) return false;
      if (object) {
        doc_.nodes_[child].key = key;
        doc_.nodes_[child].key_len = key_len;
      }
      if (prev) doc_.nodes_[prev].next = child;
      prev = child;
      ++count;
      skip_ws();
      if (p_ < end_ && *p_ == ',') {
        ++p_;
        skip_ws();
        continue;
      }
      if (p_ < end_ && *p_ == close) {
        ++p_;
        break;
      }
      return fail(p_, "unexpected " + what_is(p_) + " (expected ',' or '" + close + "')");
    }
    doc_.nodes_[self].count = count;
    return true;
  }

  // One UTF-8 sequence at `q` (a byte >= 0x80): its length, or 0 if it is ill-formed
  // (overlong, a surrogate, above U+10FFFF, cut short).
  size_t utf8_length(const char* q) const {
    auto b = [&](size_t k) { return static_cast<unsigned char>(q[k]); };
    auto cont = [&](size_t k, unsigned lo = 0x80, unsigned hi = 0xbf) {
      return q + k < end_ && b(k) >= lo && b(k) <= hi;
    };
    unsigned c = b(0);
    if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
    if (c == 0xe0) return cont(1, 0xa0) && cont(2) ? 3 : 0;
    if ((c >= 0xe1 && c <= 0xec) || c == 0xee || c == 0xef) return cont(1) && cont(2) ? 3 : 0;
    if (c == 0xed) return cont(1, 0x80, 0x9f) && cont(2) ? 3 : 0;
    if (c == 0xf0) return cont(1, 0x90) && cont(2) && cont(3) ? 4 : 0;
    if (c >= 0xf1 && c <= 0xf3) return cont(1) && cont(2) && cont(3) ? 4 : 0;
    if (c == 0xf4) return cont(1, 0x80, 0x8f) && cont(2) && cont(3) ? 4 : 0;
    return 0;
  }

  bool hex4(const char* q, unsigned& v) {
    if (end_ - q < 4) return fail(q, "unexpected end of input in a \\u escape");
    v = 0;
    for (int k = 0; k < 4; ++k) {
      char c = q[k];
      unsigned d;
      if (c >= '0' && c <= '9')
        d = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f')
        d = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        d = static_cast<unsigned>(c - 'A' + 10);
      else
        return fail(q + k,
                    "unexpected " + what_is(q + k) + " in a \\u escape (expected a hex digit)");
      v = v << 4 | d;
    }
    return true;
  }

  void put_utf8(unsigned cp) {
    if (cp < 0x80) {
      *out_++ = static_cast<char>(cp);
    } else if (cp < 0x800) {
      *out_++ = static_cast<char>(0xc0 | cp >> 6);
      *out_++ = static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *out_++ = static_cast<char>(0xe0 | cp >> 12);
      *out_++ = static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      *out_++ = static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      *out_++ = static_cast<char>(0xf0 | cp >> 18);
      *out_++ = static_cast<char>(0x80 | (cp >> 12 & 0x3f));
      *out_++ = static_cast<char>(0x80 | (cp >> 6 & 0x3f));
      *out_++ = static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  // A string at p_ (on its '"'): a view into the text when it has no escape, else into the
  // unescaped buffer (never longer than the text it came from).
  bool string(const char*& s, uint32_t& len) {
    const char* start = ++p_;
    char* out_start = nullptr;   // set once the first escape is seen
    const char* copied = start;  // text before this is in the buffer already
    for (;;) {
      if (p_ >= end_) return fail(p_, "unexpected end of input in a string");
      auto c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c < 0x20)
        return fail(p_, "control character " + what_is(p_) + " in a string (must be escaped)");
      if (c >= 0x80) {
        size_t n = utf8_length(p_);
        if (!n) return fail(p_, "ill-formed UTF-8 (" + what_is(p_) + ") in a string");
        p_ += n;
        continue;
      }
      if (c != '\\') {
        ++p_;
        continue;
      }
      if (!out_start) {
        if (!out_) {  // the first escape in the document: the buffer, never zeroed
          doc_.unescaped_.reset(new char[static_cast<size_t>(end_ - begin_) + 1]);
          out_ = doc_.unescaped_.get();
        }
        out_start = out_;
      }
      memcpy(out_, copied, static_cast<size_t>(p_ - copied));
      out_ += p_ - copied;
      const char* esc = p_;
      if (++p_ >= end_) return fail(p_, "unexpected end of input in a string");
      switch (*p_) {
        case '"': *out_++ = '"'; break;
        case '\\': *out_++ = '\\'; break;
        case '/': *out_++ = '/'; break;
        case 'b': *out_++ = '\b'; break;
        case 'f': *out_++ = '\f'; break;
        case 'n': *out_++ = '\n'; break;
        case 'r': *out_++ = '\r'; break;
        case 't': *out_++ = '\t'; break;
        case 'u': {
          unsigned cp;
          if (!hex4(p_ + 1, cp)) return false;
          p_ += 4;
          if (cp >= 0xdc00 && cp <= 0xdfff)
            return fail(esc, "unpaired surrogate \\u" + std::string(esc + 2, 4) + " in a string");
          if (cp >= 0xd800 && cp <= 0xdbff) {
            unsigned lo = 0;
            if (end_ - p_ < 7 || p_[1] != '\\' || p_[2] != 'u' || !hex4(p_ + 3, lo) ||
                lo < 0xdc00 || lo > 0xdfff) {
              err_.reset();  // hex4's complaint, if any, is less to the point
              return fail(esc, "unpaired surrogate \\u" + std::string(esc + 2, 4) + " in a string");
            }
            p_ += 6;
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          }
          put_utf8(cp);
          break;
        }
        default: return fail(esc, "invalid escape \\" + std::string(1, *p_) + " in a string");
      }
      copied = ++p_;
    }
    if (out_start) {
      memcpy(out_, copied, static_cast<size_t>(p_ - copied));
      out_ += p_ - copied;
      s = out_start;
      len = static_cast<uint32_t>(out_ - out_start);
    } else {
      s = start;
      len = static_cast<uint32_t>(p_ - start);
    }
    ++p_;  // the closing quote
    return true;
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?  Integers that fit 64 bits are integers
  // (negative: Integer, else Unsigned); everything else is a double, as nlohmann reads them.
  bool number() {
    const char* start = p_;
    bool negative = *p_ == '-';
    if (negative) ++p_;
    auto digit = [&] { return p_ < end_ && *p_ >= '0' && *p_ <= '9'; };
    if (!digit()) return fail(p_, "unexpected " + what_is(p_) + " in a number (expected a digit)");
    const char* int_start = p_;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (digit()) ++p_;
    }
    const char* int_end = p_;
    bool is_float = false;
    if (p_ < end_ && *p_ == '.') {
      is_float = true;
      ++p_;
      if (!digit())
        return fail(p_, "unexpected " + what_is(p_) + " in a number (expected a digit)");
      while (digit()) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      is_float = true;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (!digit())
        return fail(p_, "unexpected " + what_is(p_) + " in a number (expected a digit)");
      while (digit()) ++p_;
    }
    if (!is_float) {
      uint64_t v = 0;
      auto r = std::from_chars(int_start, int_end, v);
      if (r.ec == std::errc()) {
        if (!negative) {
          uint32_t i = add(JsonType::Unsigned);
          doc_.nodes_[i].num.u = v;
          return true;
        }
        if (v <= uint64_t{1} << 63) {
          uint32_t i = add(JsonType::Integer);
          doc_.nodes_[i].num.i = v == uint64_t{1} << 63 ? INT64_MIN : -static_cast<int64_t>(v);
          return true;
        }
      }
    }
    // strtod on a terminated copy: the grammar above is a subset of what it reads, and no
    // berth program changes the C locale (whose decimal point strtod follows).
    std::string copy(start, p_);
    char* end = nullptr;
    double d = std::strtod(copy.c_str(), &end);
    if (end != copy.c_str() + copy.size()) return fail(start, "unreadable number");
    if (std::isinf(d))
      return fail(start,
                  "number overflow: " + std::string(start, std::min<size_t>(p_ - start, 40)));
    uint32_t i = add(JsonType::Float);
    doc_.nodes_[i].num.d = d;
    return true;
  }
};

Result<std::unique_ptr<JsonDoc>> JsonDoc::parse(std::string_view text, int max_depth) {
  auto doc = std::unique_ptr<JsonDoc>(new JsonDoc);
  JsonParser parser(text, max_depth, *doc);
  BERTH_TRY(parser.run());
  return doc;
}

}  // namespace berth::oci::detail
