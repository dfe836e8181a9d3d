// A small read-only JSON document for the runtime's own inputs (config.json, process.json,
// resources.json): strict RFC 8259 text -> a flat array of nodes, walked through JsonRef.
//
// Why not nlohmann here: berth-runtime parses config.json on every create, on the path of
// every container start, in a fresh process. nlohmann's DOM (a std::map per object, a heap
// node per value) and its code size cost ~0.2 ms there; this parses a `runc spec` config in
// a few microseconds. Strings without escapes are views into the input, the others are
// unescaped once into one buffer; objects keep their members in input order (a key given
// twice: the last one counts, as with nlohmann and Go's decoder).
//
// Rejected, with line and column: anything RFC 8259 does not allow (comments, trailing
// commas, single quotes, NaN), ill-formed UTF-8, unpaired surrogates, raw control
// characters in strings, numbers that overflow a double, trailing content, nesting deeper
// than the caller's limit. The input must outlive the document.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace berth::oci::detail {

enum class JsonType : uint8_t { Null, Boolean, Integer, Unsigned, Float, String, Array, Object };

class JsonDoc;

// A value in a JsonDoc (or no value: `!ref`). Cheap to copy.
class JsonRef {
 public:
  JsonRef() = default;
  explicit operator bool() const { return doc_ != nullptr; }

  JsonType type() const;
  bool is_null() const { return type() == JsonType::Null; }
  bool is_boolean() const { return type() == JsonType::Boolean; }
  bool is_string() const { return type() == JsonType::String; }
  bool is_array() const { return type() == JsonType::Array; }
  bool is_object() const { return type() == JsonType::Object; }

  bool boolean() const;
  int64_t integer() const;     // JsonType::Integer (negative integers)
  uint64_t unsigned_() const;  // JsonType::Unsigned (non-negative integers that fit)
  double number() const;       // JsonType::Float (fractions, exponents, too big to fit)
  std::string_view str() const;

  // Arrays and objects: the number of elements or members, the first one, and from each
  // the next (a null JsonRef after the last).
  size_t size() const;
  JsonRef first() const;
  JsonRef next() const;
  std::string_view key() const;  // a member's key

  // The last member named `name` (nullptr-like when there is none).
  JsonRef find(std::string_view name) const;

  // A number or literal as JSON text, the way nlohmann prints it (1.0, 1e+20, -3); "..." for
  // strings and containers, which callers describe themselves.
  std::string dump() const;

 private:
  friend class JsonDoc;
  JsonRef(const JsonDoc* d, uint32_t i) : doc_(d), i_(i) {}
  const JsonDoc* doc_ = nullptr;
  uint32_t i_ = 0;
};

class JsonDoc {
 public:
  // Parses `text` (which must outlive the document). Errors: Error::invalid("invalid JSON:
  // line L, column C: what").
  static Result<std::unique_ptr<JsonDoc>> parse(std::string_view text, int max_depth);

  JsonRef root() const { return JsonRef(this, 0); }

 private:
  friend class JsonRef;
  friend class JsonParser;
  struct Node {
    JsonType type = JsonType::Null;
    bool boolean = false;
    uint32_t next = 0;   // index of the next sibling; 0: none (the root is never a sibling)
    uint32_t count = 0;  // arrays and objects: children, which start at index + 1
    uint32_t key_len = 0, str_len = 0;
    const char* key = nullptr;  // object members
    const char* str = nullptr;  // strings
    union {
      int64_t i;
      uint64_t u;
      double d;
    } num{};
  };
  std::vector<Node> nodes_;
  std::unique_ptr<char[]> unescaped_;  // strings and keys that had escapes
};

// "null", "an object", "string \"x\"", "1.5": what a wrong value is, for "must be X, got Y".
std::string describe(const JsonRef& j);

}  // namespace berth::oci::detail
