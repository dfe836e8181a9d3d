// Signal names as runc, docker and kill(1) accept them: a number (1..SIGRTMAX), a name with or
// without "SIG" in any case ("term", "SIGKILL"), or RTMIN/RTMAX with an offset ("RTMIN+3").
#pragma once

#include <optional>
#include <string_view>

namespace berth {

// The signal number, or nullopt when `s` names none (callers word their own error).
std::optional<int> signal_from_string(std::string_view s);

}  // namespace berth
