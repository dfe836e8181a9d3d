#include <gtest/gtest.h>

#include "util/result.h"

namespace berth {
namespace {

Result<int> parse_positive(int v) {
  if (v <= 0) return Error::invalid("value " + std::to_string(v) + " is not positive");
  return v;
}

Result<int> doubled(int v) {
  int x = BERTH_TRY_CTX(parse_positive(v), "doubling");
  return 2 * x;
}

TEST(Result, CarriesValueOrError) {
  auto good = doubled(4);
  ASSERT_TRUE(good);
  EXPECT_EQ(*good, 8);
  auto bad = doubled(-1);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind(), ErrorKind::InvalidArgument);
  EXPECT_EQ(bad.error().what(), "doubling: value -1 is not positive");
}

TEST(Error, ErrnoTextComesLastAndLowercase) {
  Error e = Error::from_errno(ENOENT, "mount \"/data\" on \"/srv\"");
  e.wrap("create \"web\"");
  EXPECT_EQ(e.kind(), ErrorKind::NotFound);
  EXPECT_EQ(e.what(), "create \"web\": mount \"/data\" on \"/srv\": no such file or directory");
}

TEST(Result, VoidResult) {
  Result<void> r = ok();
  EXPECT_TRUE(r);
  Result<void> e = Error::conflict("exists");
  EXPECT_FALSE(e);
  EXPECT_EQ(e.error().kind(), ErrorKind::Conflict);
}

}  // namespace
}  // namespace berth
