// Logging for berth's processes: text or JSON lines (runc's format, which containerd and
// podman read back from `--log` to report a runtime's error), to stderr or a file.
#pragma once

#include <time.h>

#include <string_view>

namespace berth::log {

enum class Level { Debug, Info, Warn, Error };
enum class Format { Text, Json };

// Sets where lines go. `path` empty means stderr. Returns false if the file cannot be opened
// (logging then stays on stderr).
bool configure(std::string_view path, Format format, Level min_level);
void set_program(std::string_view name);  // prefix of text lines, e.g. "berth-runtime"
Level min_level();

void write(Level level, std::string_view msg);
inline void debug(std::string_view m) {
  if (min_level() <= Level::Debug) write(Level::Debug, m);
}
inline void info(std::string_view m) { write(Level::Info, m); }
inline void warn(std::string_view m) { write(Level::Warn, m); }
inline void error(std::string_view m) { write(Level::Error, m); }

// RFC 3339 UTC timestamp with nanoseconds, as Go's time.RFC3339Nano prints it.
std::string_view now_rfc3339(char (&buf)[40]);
// `ts` (CLOCK_REALTIME) as RFC 3339 UTC with nanoseconds, "2026-11-22T17:50:57.403426199Z".
std::string_view format_rfc3339(const struct timespec& ts, char (&buf)[40]);

}  // namespace berth::log
