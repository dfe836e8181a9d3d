#pragma once
#include <string>
#include <string_view>

namespace berth {
// Returns `s` as a JSON string literal, quotes included. Invalid UTF-8 passes through as is.
std::string json_quote(std::string_view s);
}  // namespace berth
