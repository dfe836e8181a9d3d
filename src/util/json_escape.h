#pragma once
#include <string>
#include <string_view>

namespace berth {
// Returns `s` as a JSON string literal, quotes included. Invalid UTF-8 passes through as is.
std::string json_quote(std::string_view s);
// A JSON library's exception text for an error message: nlohmann's "[json.exception...] " tag
// dropped, bytes that are not printable ASCII shown as \xNN (it quotes the offending input),
// at most 256 characters.
std::string json_error_text(const char* what);
}  // namespace berth
