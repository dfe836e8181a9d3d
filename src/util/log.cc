#include "util/log.h"

#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "util/json_escape.h"

namespace berth::log {
namespace {
int g_fd = 2;
Format g_format = Format::Text;
Level g_min = Level::Info;
std::string g_program = "berth";

const char* level_name(Level l) {
  switch (l) {
    case Level::Debug: return "debug";
    case Level::Info: return "info";
    case Level::Warn: return "warning";
    case Level::Error: return "error";
  }
  return "info";
}
}  // namespace

bool configure(std::string_view path, Format format, Level min) {
  g_format = format;
  g_min = min;
  if (path.empty()) return true;
  int fd = ::open(std::string(path).c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  if (g_fd > 2) ::close(g_fd);
  g_fd = fd;
  return true;
}

void set_program(std::string_view name) { g_program = name; }
Level min_level() { return g_min; }

std::string_view now_rfc3339(char (&buf)[40]) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return format_rfc3339(ts, buf);
}

std::string_view format_rfc3339(const struct timespec& ts, char (&buf)[40]) {
  // UTC by arithmetic (days -> civil date, H. Hinnant's algorithm): gmtime_r would first
  // load /etc/localtime, a file read on every container start.
  long long secs = ts.tv_sec, days = secs / 86400, rem = secs % 86400;
  if (rem < 0) rem += 86400, days -= 1;
  long long z = days + 719468, era = (z >= 0 ? z : z - 146096) / 146097;
  long long doe = z - era * 146097;
  long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
  long long day = doy - (153 * mp + 2) / 5 + 1, month = mp < 10 ? mp + 3 : mp - 9;
  long long year = yoe + era * 400 + (month <= 2);
  int n = snprintf(buf, sizeof buf, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%09ldZ", year, month,
                   day, rem / 3600, rem % 3600 / 60, rem % 60, ts.tv_nsec);
  return {buf, static_cast<size_t>(n > 0 ? n : 0)};
}

void write(Level level, std::string_view msg) {
  if (level < g_min) return;
  std::string line;
  if (g_format == Format::Json) {
    char tbuf[40];
    line = "{\"level\":\"";
    line += level_name(level);
    line += "\",\"msg\":";
    line += json_quote(msg);
    line += ",\"time\":\"";
    line += now_rfc3339(tbuf);
    line += "\"}\n";
  } else if (g_fd == 2) {
    // On a terminal the runc style: "berth-runtime: <message>" for errors.
    line = g_program;
    if (level != Level::Error) {
      line += " ";
      line += level_name(level);
    }
    line += ": ";
    line += msg;
    line += "\n";
  } else {
    char tbuf[40];
    line = "time=\"";
    line += now_rfc3339(tbuf);
    line += "\" level=";
    line += level_name(level);
    line += " msg=";
    line += json_quote(msg);
    line += "\n";
  }
  // One write per line so concurrent writers to an O_APPEND file do not interleave.
  ssize_t unused = ::write(g_fd, line.data(), line.size());
  (void)unused;
}

}  // namespace berth::log
