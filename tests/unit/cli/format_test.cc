#include "cli/format.h"

#include <gtest/gtest.h>

namespace berth::cli {
namespace {

TEST(Format, HumanSizeLikeGoUnits) {
  EXPECT_EQ(human_size(1985570, 3), "1.99MB");
  EXPECT_EQ(human_size(1985570, 4), "1.986MB");
  EXPECT_EQ(human_size(0, 3), "0B");
  EXPECT_EQ(human_size(999, 3), "999B");
  EXPECT_EQ(human_size(1000, 3), "1kB");
  EXPECT_EQ(human_size(2.5e9, 3), "2.5GB");
  EXPECT_EQ(binary_size(1536 * 1024), "1.5MiB");
}

TEST(Format, HumanDurationLikeGoUnits) {
  EXPECT_EQ(human_duration(0.5), "Less than a second");
  EXPECT_EQ(human_duration(1), "1 second");
  EXPECT_EQ(human_duration(59), "59 seconds");
  EXPECT_EQ(human_duration(60), "About a minute");
  EXPECT_EQ(human_duration(45 * 60), "45 minutes");
  EXPECT_EQ(human_duration(3600), "About an hour");
  EXPECT_EQ(human_duration(5 * 3600), "5 hours");
  EXPECT_EQ(human_duration(3 * 86400), "3 days");
  EXPECT_EQ(human_duration(20 * 86400), "2 weeks");
  EXPECT_EQ(human_duration(90 * 86400), "3 months");
  EXPECT_EQ(human_duration(56.9 * 365 * 86400), "56 years");
}

TEST(Format, RamSizes) {
  EXPECT_EQ(*parse_ram_size("512m"), 512LL << 20);
  EXPECT_EQ(*parse_ram_size("1g"), 1LL << 30);
  EXPECT_EQ(*parse_ram_size("64MB"), 64LL << 20);
  EXPECT_EQ(*parse_ram_size("100"), 100);
  EXPECT_FALSE(parse_ram_size("lots"));
  EXPECT_FALSE(parse_ram_size("5x"));
}

TEST(Format, GoDurations) {
  EXPECT_DOUBLE_EQ(*parse_go_duration("10s"), 10);
  EXPECT_DOUBLE_EQ(*parse_go_duration("1m30s"), 90);
  EXPECT_DOUBLE_EQ(*parse_go_duration("1h"), 3600);
  EXPECT_DOUBLE_EQ(*parse_go_duration("500ms"), 0.5);
  EXPECT_FALSE(parse_go_duration("10"));
  EXPECT_FALSE(parse_go_duration("3 days"));
}

TEST(Format, TimestampArguments) {
  EXPECT_EQ(*parse_timestamp_arg("1700000000", 0), "1700000000");
  EXPECT_EQ(*parse_timestamp_arg("10m", 1700000600), "1700000000.000000000");
  EXPECT_EQ(*parse_timestamp_arg("2023-11-14T22:13:20Z", 0), "1700000000.000000000");
  EXPECT_EQ(*parse_timestamp_arg("2023-11-14T23:13:20+01:00", 0), "1700000000.000000000");
  EXPECT_FALSE(parse_timestamp_arg("yesterday", 0));
}

TEST(Format, Rfc3339Nano) {
  EXPECT_EQ(rfc3339_nano(1700000000, 120000000), "2023-11-14T22:13:20.12Z");
  EXPECT_EQ(rfc3339_nano(1700000000, 0), "2023-11-14T22:13:20Z");
  EXPECT_EQ(rfc3339_nano(1700000000, 120000000, true), "2023-11-14T22:13:20.120000000Z");
}

TEST(Format, QuoteAndEllipsis) {
  EXPECT_EQ(go_quote("sh -c 'echo \"x\"'\n"), R"("sh -c 'echo \"x\"'\n")");
  EXPECT_EQ(ellipsis("sh -c 'echo hi; exit 3'", 20), "sh -c 'echo hi; exi\xe2\x80\xa6");
  EXPECT_EQ(ellipsis("short", 20), "short");
  EXPECT_EQ(short_id("sha256:6bee4edb0b3da1de4996236264a4d0d4"), "6bee4edb0b3d");
}

}  // namespace
}  // namespace berth::cli
