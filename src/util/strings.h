// Small string helpers (no iostreams on the runtime's hot path: their locale set-up alone
// costs more than a container's mounts).
#pragma once

#include <optional>
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

// Standard base64 with padding. Decoding also takes the URL alphabet ('-', '_'), missing
// padding and a trailing newline (docker's X-Registry-Auth, config.json "auth" values);
// nullopt for anything else.
std::string base64_encode(std::string_view in);
std::optional<std::string> base64_decode(std::string_view in);

}  // namespace berth
