// Small string helpers (no iostreams on the runtime's hot path: their locale set-up alone
// costs more than a container's mounts).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace berth {

// Splits on `sep`; empty fields are kept unless `skip_empty`.
std::vector<std::string_view> split(std::string_view s, char sep, bool skip_empty = false);
// `s` in double quotes, as error messages show paths and values.
std::string quoted(std::string_view s);

// Splits on runs of spaces and tabs.
std::vector<std::string_view> split_fields(std::string_view s);

}  // namespace berth
