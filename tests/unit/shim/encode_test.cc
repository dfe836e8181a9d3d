// The shim's byte formats: docker's attach frames, json-file lines and Go's RFC 3339 times.
#include "shim/encode.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace berth::shim {
namespace {

TEST(ShimEncode, FrameHeaderIsStreamThenBigEndianLength) {
  std::string out;
  append_frame(out, Stream::Stderr, std::string(258, 'x'));
  ASSERT_EQ(out.size(), 8u + 258u);
  EXPECT_EQ(out.substr(0, 8), std::string("\x02\0\0\0\0\0\x01\x02", 8));
  out.clear();
  append_frame(out, Stream::Stdout, "hi\n");
  EXPECT_EQ(out, std::string("\x01\0\0\0\0\0\0\x03hi\n", 11));
}

TEST(ShimEncode, TimeIsGoRfc3339NanoWithoutTrailingZeros) {
  EXPECT_EQ(format_time({1714557600, 120000000}), "2024-05-01T10:00:00.12Z");
  EXPECT_EQ(format_time({1714557600, 0}), "2024-05-01T10:00:00Z");
  EXPECT_EQ(format_time({1714557600, 1}), "2024-05-01T10:00:00.000000001Z");
}

TEST(ShimEncode, LogLineIsDockersJsonFileShape) {
  EXPECT_EQ(log_line("hello\n", "stdout", "2024-05-01T10:00:00.12Z"),
            "{\"log\":\"hello\\n\",\"stream\":\"stdout\",\"time\":\"2024-05-01T10:00:00.12Z\"}\n");
}

TEST(ShimEncode, StringsEscapeLikeGoEncodingJson) {
  std::string out;
  append_go_json_string(out, std::string("<a&b>\t\"\\\x01\x7f", 10));
  EXPECT_EQ(out, "\"\\u003ca\\u0026b\\u003e\\t\\\"\\\\\\u0001\x7f\"");
  out.clear();
  append_go_json_string(out, "caf\xc3\xa9 \xe2\x80\xa8 \xff \xed\xa0\x80 \xc0\xaf");
  // Valid UTF-8 passes, U+2028 is escaped, invalid bytes (a lone 0xff, a surrogate, an overlong
  // '/') become U+FFFD, one per byte, like Go.
  EXPECT_EQ(out, "\"caf\xc3\xa9 \\u2028 \\ufffd \\ufffd\\ufffd\\ufffd \\ufffd\\ufffd\"");
  auto j = nlohmann::json::parse(out);  // and it is JSON
  EXPECT_TRUE(j.is_string());
}

TEST(ShimEncode, TruncatedUtf8AtTheEndIsReplaced) {
  std::string out;
  append_go_json_string(out, "ab\xe2\x82");
  EXPECT_EQ(out, "\"ab\\ufffd\\ufffd\"");
}

}  // namespace
}  // namespace berth::shim
