// Docker's human-readable renderings (go-units and the CLI's formatter), and parsers of the
// values users type (sizes, durations, timestamps).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace berth::cli {

// go-units HumanSizeWithPrecision: decimal units, "%.*g": 1990000 -> "1.99MB" (precision 3).
std::string human_size(double bytes, int precision = 3);
// go-units BytesSize: binary units, "%.4g": "1.5MiB".
std::string binary_size(double bytes);
// go-units HumanDuration: "Less than a second", "3 seconds", "About a minute", "2 hours", ...
std::string human_duration(double seconds);
// go-units RAMInBytes: "512m", "1g", "100000" (binary multiples; b suffix allowed).
Result<int64_t> parse_ram_size(std::string_view s);
// A Go duration ("10s", "1m30s", "1h", "500ms") in seconds.
Result<double> parse_go_duration(std::string_view s);
// RFC 3339 (with optional fraction, Z or +hh:mm) to seconds since the epoch.
std::optional<double> parse_rfc3339(std::string_view s);
double now_seconds();
// Go's time.Time.String() in the local zone: "2026-11-22 10:48:28 +0000 UTC".
std::string go_time_string(double seconds);
// RFC 3339 with nanoseconds in UTC (logs -t, events).
// `fixed`: always 9 fraction digits (docker's RFC3339NanoFixed, used for events).
std::string rfc3339_nano(double seconds, long nanos = -1, bool fixed = false);
// --since/--until as docker sends them: a duration ago ("10m"), RFC 3339, a date, or a Unix
// timestamp; the result is "seconds[.nanoseconds]".
Result<std::string> parse_timestamp_arg(std::string_view value, double now);
// strconv.Quote.
std::string go_quote(std::string_view s);
// docker's Ellipsis: at most `max` characters, the last one "…" when cut.
std::string ellipsis(std::string_view s, size_t max);
// The short form of an ID: "sha256:" removed, 12 characters.
std::string short_id(std::string_view id);

}  // namespace berth::cli
