#include "client/stdcopy.h"

#include <gtest/gtest.h>

namespace berth::client {
namespace {

struct Collected {
  std::string out, err;
  StdcopyDemuxer demux{[this](std::string_view d) -> Result<void> {
                         out.append(d);
                         return ok();
                       },
                       [this](std::string_view d) -> Result<void> {
                         err.append(d);
                         return ok();
                       }};
};

TEST(Stdcopy, SplitsStdoutAndStderr) {
  Collected c;
  std::string stream =
      stdcopy_frame(1, "out1\n") + stdcopy_frame(2, "err\n") + stdcopy_frame(1, "out2\n");
  ASSERT_TRUE(c.demux.feed(stream));
  EXPECT_EQ(c.out, "out1\nout2\n");
  EXPECT_EQ(c.err, "err\n");
  EXPECT_TRUE(c.demux.at_frame_boundary());
}

TEST(Stdcopy, AnySplitOfTheInputGivesTheSameResult) {
  std::string big(70000, 'x');
  std::string stream = stdcopy_frame(1, "hello ") + stdcopy_frame(2, big) +
                       stdcopy_frame(0, "stdin-echo") + stdcopy_frame(1, "");
  for (size_t chunk : {1u, 3u, 7u, 8u, 9u, 4096u, 100000u}) {
    Collected c;
    for (size_t i = 0; i < stream.size(); i += chunk) {
      ASSERT_TRUE(c.demux.feed(std::string_view(stream).substr(i, chunk))) << "chunk " << chunk;
    }
    EXPECT_EQ(c.out, "hello stdin-echo") << "chunk " << chunk;
    EXPECT_EQ(c.err, big) << "chunk " << chunk;
    EXPECT_TRUE(c.demux.at_frame_boundary());
  }
}

TEST(Stdcopy, MidFrameIsVisible) {
  Collected c;
  std::string f = stdcopy_frame(1, "abcdef");
  ASSERT_TRUE(c.demux.feed(f.substr(0, 10)));
  EXPECT_FALSE(c.demux.at_frame_boundary());
  EXPECT_EQ(c.out, "ab");
}

TEST(Stdcopy, SystemErrorFrameStopsWithTheMessage) {
  Collected c;
  auto r =
      c.demux.feed(stdcopy_frame(1, "x") + stdcopy_frame(3, "boom") + stdcopy_frame(1, "never"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "error from daemon in stream: boom");
  EXPECT_EQ(c.out, "x");
}

TEST(Stdcopy, UnknownStreamIsAnError) {
  Collected c;
  std::string bad = stdcopy_frame(1, "x");
  bad[0] = 9;
  auto r = c.demux.feed(bad);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "Unrecognized input header: 9");
}

}  // namespace
}  // namespace berth::client
