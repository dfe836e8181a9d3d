// libFuzzer target for the config.json layer (src/oci): parse_spec, validate, to_json and
// parse_process on arbitrary bytes. Besides the sanitizers it checks three invariants:
//   - the runtime's JSON reader (json_dom.h) accepts exactly what nlohmann accepts (but for
//     nlohmann's own quirk of ending the input at a NUL byte, and our depth limit);
//   - whatever parse_spec accepts, to_json writes back out as text parse_spec accepts again,
//     and that second to_json is byte-identical (a fixed point);
//   - validate gives the same verdict and message for the spec and its reparsed copy.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "oci/json_dom.h"
#include "oci/spec.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_spec: %s\n%s\n", what, detail.c_str());
  std::abort();
}

std::string verdict(const berth::Result<void>& r) { return r ? "ok" : r.error().what(); }

void check_spec(std::string_view text) {
  berth::Result<berth::oci::Spec> spec = berth::oci::parse_spec(text);
  if (!spec) {
    if (spec.error().message().empty()) fail("parse error without a message", "");
    return;
  }
  std::string v1 = verdict(berth::oci::validate(*spec));
  std::string out = berth::oci::to_json(*spec);
  // Pretty-printing and filled-in defaults can outgrow the parser's input limit; stay below it.
  if (out.size() > (8u << 20)) return;
  berth::Result<berth::oci::Spec> again = berth::oci::parse_spec(out);
  if (!again) fail("to_json output does not parse", again.error().what() + "\n" + out);
  std::string out2 = berth::oci::to_json(*again);
  if (out2 != out) fail("to_json is not a fixed point", out + "\n---\n" + out2);
  std::string v2 = verdict(berth::oci::validate(*again));
  if (v1 != v2) fail("validate differs after a round trip", v1 + "\n---\n" + v2);
  (void)berth::oci::to_json(*spec, -1);
}

void check_reader(std::string_view text) {
  if (text.find('\0') != std::string_view::npos) return;
  auto mine = berth::oci::detail::JsonDoc::parse(text, 64);
  if (!mine && mine.error().message().find("nested deeper") != std::string::npos) return;
  bool theirs = nlohmann::json::accept(text.begin(), text.end());
  if (static_cast<bool>(mine) != theirs)
    fail(theirs ? "json_dom refuses what nlohmann accepts"
                : "json_dom accepts what nlohmann refuses",
         std::string(text.substr(0, 512)) + (mine ? "" : "\n" + mine.error().message()));
}

void check_process(std::string_view text) {
  berth::Result<berth::oci::Process> p = berth::oci::parse_process(text);
  if (p) (void)berth::oci::validate_process(*p);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  check_reader(text);
  check_spec(text);
  check_process(text);
  return 0;
}
