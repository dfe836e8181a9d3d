// Shared by the runtime-spec and image-spec parsers (src/oci only): field paths rendered into
// errors JSON-path style (`linux.namespaces[2].type`, `annotations["a.b"]`), and the "must be
// X, got Y" errors built on them.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "oci/spec.h"
#include "util/result.h"

namespace berth::oci::detail {

// A chain of stack frames, turned into text only when there is an error. Names that read
// unambiguously after a '.' are written `.name`, others `["name"]`; indexes `[i]`.
class JsonPath {
 public:
  struct Key {  // a map key (the same rendering as a field; says where it came from)
    std::string_view key;
  };
  JsonPath() = default;
  JsonPath(const JsonPath& parent, std::string_view name) : parent_(&parent), name_(name) {}
  JsonPath(const JsonPath& parent, Key key) : parent_(&parent), name_(key.key) {}
  JsonPath(const JsonPath& parent, size_t index)
      : parent_(&parent), is_index_(true), index_(index) {}

  std::string str() const {
    if (!parent_) return {};
    std::string out = parent_->str();
    if (is_index_) {
      out += '[' + std::to_string(index_) + ']';
    } else if (is_plain(name_)) {
      if (!out.empty()) out += '.';
      out += name_;
    } else {
      out += '[' + quote_for_message(name_) + ']';
    }
    return out;
  }

  static bool is_plain(std::string_view k) {
    if (k.empty()) return false;
    for (char c : k) {
      bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '-';
      if (!plain) return false;
    }
    return true;
  }

 private:
  const JsonPath* parent_ = nullptr;
  bool is_index_ = false;
  std::string_view name_;
  size_t index_ = 0;
};

inline Error field_error(const JsonPath& p, std::string_view message) {
  std::string s = p.str();
  if (!s.empty()) s += ": ";
  s += message;
  return Error::invalid(std::move(s));
}

// What a wrong value is, for "must be X, got Y".
inline std::string describe(const nlohmann::json& j) {
  using value_t = nlohmann::json::value_t;
  switch (j.type()) {
    case value_t::null: return "null";
    case value_t::object: return "an object";
    case value_t::array: return "an array";
    case value_t::string: return "string " + quote_for_message(j.get_ref<const std::string&>());
    case value_t::boolean: return j.get<bool>() ? "true" : "false";
    case value_t::binary: return "binary";
    case value_t::discarded: return "nothing";
    default: return j.dump();  // numbers
  }
}

// J: nlohmann::json (image-spec) or JsonRef (runtime-spec, json_dom.h); each has a describe().
template <class J>
Error type_error(const JsonPath& p, std::string_view expected, const J& j) {
  return field_error(p, std::string(expected) + ", got " + describe(j));
}

template <class J>
Result<void> expect_object(const J& j, const JsonPath& p) {
  if (!j.is_object()) return type_error(p, "must be an object", j);
  return ok();
}

}  // namespace berth::oci::detail
