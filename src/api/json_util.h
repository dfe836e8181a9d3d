// JSON and value helpers shared by the API handlers: docker's `filters` query, timestamps as
// Go prints and parses them, the JSON progress stream of pull/push/load, event JSON.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace berth::engine {
struct Event;
}

namespace berth::api {

using FilterMap = std::map<std::string, std::vector<std::string>>;

// docker's filters.FromJSON: {"key":{"value":true}} or the older {"key":["value"]}; "" or "{}"
// is no filter. Errors: "invalid filter: ..." (400).
Result<FilterMap> parse_filters(std::string_view json);
// "invalid filter 'foo'" for a key not in `allowed`.
Result<void> check_filter_keys(const FilterMap& f, const std::vector<std::string_view>& allowed);
// docker's boolean filter values ("dangling=true"): "true"/"1" or "false"/"0"; anything else
// is "invalid filter 'dangling=x'".
Result<bool> filter_bool(const FilterMap& f, const std::string& key, bool fallback);

// Go's time.RFC3339Nano of a Unix time in nanoseconds: "2024-05-01T10:00:00.123456789Z"
// (trailing zeros of the fraction dropped).
std::string rfc3339_nano(int64_t unix_ns);
// Parses RFC 3339 ("2024-05-01T10:00:00Z", fractions and offsets allowed) to Unix ns.
Result<int64_t> parse_rfc3339(std::string_view s);
// docker's timetypes.GetTimestamp for since/until: Unix seconds with an optional fraction
// ("1700000000.5"), a Go duration before now ("10m", "1h30m"), or an RFC 3339 time / date.
Result<int64_t> parse_timestamp(std::string_view s, int64_t now_ns);
int64_t now_unix_ns();

// docker's units.HumanSize: 3 significant digits, decimal units ("2.22MB").
std::string human_size(double bytes);
// The text progress bar of a JSON progress message: "[====>     ]  1.2MB/2.2MB".
std::string progress_bar(uint64_t current, uint64_t total);
// A JSON progress line: {"status":..., "progressDetail":{...}, "progress":..., "id":...}.
nlohmann::json progress_message(std::string_view id, std::string_view status, uint64_t current,
                                uint64_t total);
// The error line that ends a failed stream: {"errorDetail":{"message":m},"error":m}.
nlohmann::json error_message(std::string_view message);

// An engine event as /events writes it (with docker's legacy status/id/from fields).
nlohmann::json event_json(const engine::Event& e);

}  // namespace berth::api
