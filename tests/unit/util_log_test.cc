// format_rfc3339: the arithmetic UTC conversion against the C library's gmtime_r.
#include <gtest/gtest.h>
#include <time.h>

#include <string>

#include "util/log.h"

namespace {

std::string with_libc(time_t secs, long nsec) {
  struct tm tm;
  gmtime_r(&secs, &tm);
  char b[64], out[80];
  strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, sizeof out, "%s.%09ldZ", b, nsec);
  return out;
}

TEST(Rfc3339, MatchesGmtimeAcrossLeapYearsAndCenturies) {
  const time_t samples[] = {0,          59,         86399,      86400,       951782400,
                            951868799,  951868800,  1709164800, 1709251199,  4107542399,
                            4107542400, 1795370400, 2147483647, 253402300799};
  for (time_t s : samples) {
    struct timespec ts = {s, 123456789};
    char buf[40];
    EXPECT_EQ(std::string(berth::log::format_rfc3339(ts, buf)), with_libc(s, 123456789)) << s;
  }
  for (time_t s = 0; s < 4102444800; s += 86400 * 13 + 3607) {  // every 13 days to 2100
    struct timespec ts = {s, 5};
    char buf[40];
    ASSERT_EQ(std::string(berth::log::format_rfc3339(ts, buf)), with_libc(s, 5)) << s;
  }
}

}  // namespace
