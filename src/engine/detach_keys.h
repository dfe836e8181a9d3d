// docker's detach keys (`--detach-keys`, the attach endpoint's `detachKeys`, an exec's
// DetachKeys): the key sequence that ends an attached stream from a terminal while the
// container goes on.
#pragma once

#include <string>
#include <string_view>

#include "util/result.h"

namespace berth::engine {

// ctrl-p ctrl-q, docker's default.
inline constexpr std::string_view kDefaultDetachKeys = "\x10\x11";

// Parses docker's notation: keys separated by ',', each a single character (taken as is),
// "ctrl-X" with X one of a-z @ [ \ ] ^ _ (the control code X has on a terminal), or "DEL".
// Nothing is trimmed: "ctrl-p, ctrl-q" has a key " ctrl-q". An unknown key is InvalidArgument
// "Unknown character: '<key>'".
Result<std::string> parse_detach_keys(std::string_view spec);

// The bytes the shim watches for on a stream's input: none unless the stream feeds a terminal
// (as docker: without a tty, input is passed on untouched); else `spec`, or docker's default
// when it is empty. `spec` is assumed valid (parse_detach_keys checked it).
std::string detach_sequence(std::string_view spec, bool tty, bool stdin);

}  // namespace berth::engine
