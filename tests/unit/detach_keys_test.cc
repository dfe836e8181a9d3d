// docker's detach-key notation (engine/detach_keys.h).
#include "engine/detach_keys.h"

#include <gtest/gtest.h>

namespace berth::engine {
namespace {

TEST(DetachKeys, DockersNotation) {
  EXPECT_EQ(*parse_detach_keys("ctrl-p,ctrl-q"), "\x10\x11");
  EXPECT_EQ(*parse_detach_keys("ctrl-a"), "\x01");
  EXPECT_EQ(*parse_detach_keys("ctrl-z"), "\x1a");
  EXPECT_EQ(*parse_detach_keys("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_"),
            std::string("\0\x1b\x1c\x1d\x1e\x1f", 6));
  EXPECT_EQ(*parse_detach_keys("a,b,DEL"), "ab\x7f");
  EXPECT_EQ(*parse_detach_keys("X,-,1"), "X-1");  // single characters are taken as they are
}

TEST(DetachKeys, UnknownKeysAreRefused) {
  for (const char* bad : {"", ",", "a,", ",a", "ctrl-P", "ctrl-1", "ctrl-", "ctrl-pp",
                          "ctrl-p, ctrl-q", "del", "ab", "ctrl-p,,ctrl-q"}) {
    auto r = parse_detach_keys(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind(), ErrorKind::InvalidArgument) << bad;
  }
  EXPECT_EQ(parse_detach_keys("ctrl-p, ctrl-q").error().what(), "Unknown character: ' ctrl-q'");
}

TEST(DetachKeys, OnlyATerminalWithInputDetaches) {
  EXPECT_EQ(detach_sequence("", true, true), "\x10\x11");  // docker's default
  EXPECT_EQ(detach_sequence("ctrl-x,y", true, true), "\x18y");
  EXPECT_EQ(detach_sequence("ctrl-x,y", false, true), "");  // without a tty input is untouched
  EXPECT_EQ(detach_sequence("", true, false), "");
}

}  // namespace
}  // namespace berth::engine
