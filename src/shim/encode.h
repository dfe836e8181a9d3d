// Byte formats the shim writes, as docker writes them: the multiplexed attach frames and the
// json-file log lines. Pure functions, unit-tested in tests/unit/shim.
#pragma once

#include <time.h>

#include <string>
#include <string_view>

namespace berth::shim {

enum class Stream { Stdin = 0, Stdout = 1, Stderr = 2 };

// Appends docker's 8-byte frame header ([stream,0,0,0,len32 big-endian]) and the payload.
void append_frame(std::string& out, Stream stream, std::string_view payload);

// A time as Go's time.RFC3339Nano prints it in UTC: fraction without trailing zeros (none at
// all for a whole second), "Z" zone. E.g. 2024-05-01T10:00:00.12Z.
std::string format_time(const timespec& ts);
std::string now_time();

// Appends `s` as a JSON string literal the way Go's encoding/json does (docker's log lines):
// <, > and & as \u003c \u003e \u0026, U+2028/U+2029 escaped, invalid UTF-8 as \ufffd.
void append_go_json_string(std::string& out, std::string_view s);

// One json-file log line: {"log":"...","stream":"stdout","time":"..."}\n
std::string log_line(std::string_view log, std::string_view stream, std::string_view time);

}  // namespace berth::shim
