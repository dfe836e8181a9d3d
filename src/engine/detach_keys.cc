#include "engine/detach_keys.h"

namespace berth::engine {

namespace {

// "ctrl-X" -> its control code; -1 if `key` is not of that form.
int control_code(std::string_view key) {
  if (key.size() != 6 || key.substr(0, 5) != "ctrl-") return -1;
  char x = key[5];
  if (x >= 'a' && x <= 'z') return x - 'a' + 1;
  // The control codes around the letters: @ is 0, [ \ ] ^ _ are 27..31.
  static constexpr std::string_view kOthers = "@[\\]^_";
  static constexpr int kCodes[] = {0, 27, 28, 29, 30, 31};
  size_t i = kOthers.find(x);
  return i == std::string_view::npos ? -1 : kCodes[i];
}

}  // namespace

Result<std::string> parse_detach_keys(std::string_view spec) {
  std::string out;
  size_t start = 0;
  for (;;) {
    size_t comma = spec.find(',', start);
    std::string_view key = spec.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (key.size() == 1) {
      out += key[0];
    } else if (int code = control_code(key); code >= 0) {
      out += static_cast<char>(code);
    } else if (key == "DEL") {
      out += '\x7f';
    } else {
      return Error::invalid("Unknown character: '" + std::string(key) + "'");
    }
    if (comma == std::string_view::npos) return out;
    start = comma + 1;
  }
}

std::string detach_sequence(std::string_view spec, bool tty, bool stdin) {
  if (!tty || !stdin) return "";
  if (spec.empty()) return std::string(kDefaultDetachKeys);
  auto keys = parse_detach_keys(spec);
  return keys ? *keys : std::string(kDefaultDetachKeys);
}

}  // namespace berth::engine
