// Pieces of the HTTP layer shared by its files (not for handlers).
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "api/http.h"

namespace berth::api {

// -1, 0, 1 comparing dotted versions numerically ("1.9" < "1.10").
int compare_versions(std::string_view a, std::string_view b);
std::string percent_decode(std::string_view s, bool plus_is_space);
std::multimap<std::string, std::string> parse_query(std::string_view qs);
// Fills req.path, req.api_version and req.query from req.target.
Result<void> split_target(Request& req);
// The reason phrase of a status code ("Not Found").
std::string_view reason_phrase(int status);

}  // namespace berth::api
