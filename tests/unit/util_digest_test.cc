// Digests: parsing (what the image-spec allows, and what berth can verify) and hashing known
// answers (values from `printf ... | sha256sum` / `sha512sum`).
#include <gtest/gtest.h>

#include <string>

#include "util/digest.h"

namespace berth {
namespace {

constexpr const char* kEmptySha256 =
    "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

TEST(Digest, ParsesSha256AndSha512) {
  Result<Digest> d = Digest::parse(kEmptySha256);
  ASSERT_TRUE(d) << d.error().what();
  EXPECT_EQ(d->algorithm(), "sha256");
  EXPECT_EQ(d->hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(d->str(), kEmptySha256);
  EXPECT_FALSE(d->empty());

  std::string sha512 = "sha512:" + std::string(128, 'a');
  Result<Digest> d512 = Digest::parse(sha512);
  ASSERT_TRUE(d512) << d512.error().what();
  EXPECT_EQ(d512->algorithm(), "sha512");
  EXPECT_EQ(d512->hex().size(), 128u);
}

TEST(Digest, DefaultIsEmpty) {
  Digest d;
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.algorithm(), "");
  EXPECT_EQ(d.hex(), "");
}

struct BadDigest {
  std::string input;
  std::string why;
};

TEST(Digest, RejectsMalformedNamingTheInput) {
  const BadDigest cases[] = {
      {"", "missing algorithm"},
      {"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "missing algorithm"},
      {"sha256:", "wrong length for sha256"},
      {"sha256:zz", "wrong length for sha256"},
      {"sha256:" + std::string(63, 'a'), "wrong length for sha256"},
      {"sha256:" + std::string(65, 'a'), "wrong length for sha256"},
      {"sha256:" + std::string(64, 'A'), "lower-case hex"},
      {"sha256:" + std::string(63, 'a') + "g", "lower-case hex"},
      {"sha512:" + std::string(64, 'a'), "wrong length for sha512"},
      {"md5:d41d8cd98f00b204e9800998ecf8427e", "unsupported digest algorithm"},
      {"sha384:" + std::string(96, 'a'), "unsupported digest algorithm"},
      {"SHA256:" + std::string(64, 'a'), "malformed algorithm"},
      {":" + std::string(64, 'a'), "malformed algorithm"},
      {"sha256:" + std::string(62, 'a') + "\n\"", "lower-case hex"},
  };
  for (const BadDigest& c : cases) {
    SCOPED_TRACE(c.input);
    Result<Digest> d = Digest::parse(c.input);
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error().kind(), ErrorKind::InvalidArgument);
    EXPECT_NE(d.error().message().find("invalid digest \""), std::string::npos);
    EXPECT_NE(d.error().message().find(c.why), std::string::npos) << d.error().message();
    // Control characters and quotes never reach the message.
    EXPECT_EQ(d.error().message().find('\n'), std::string::npos);
  }
}

TEST(Digest, LongInputIsCutInTheMessage) {
  Result<Digest> d = Digest::parse("sha256:" + std::string(100000, 'a'));
  ASSERT_FALSE(d);
  EXPECT_LT(d.error().message().size(), 250u);
  EXPECT_NE(d.error().message().find("...\""), std::string::npos);
}

TEST(Digest, ComparesByValue) {
  Digest a = *Digest::parse("sha256:" + std::string(64, 'a'));
  Digest b = *Digest::parse("sha256:" + std::string(64, 'b'));
  EXPECT_EQ(a, *Digest::parse("sha256:" + std::string(64, 'a')));
  EXPECT_NE(a, b);
  EXPECT_LT(a, b);
}

TEST(Hasher, KnownAnswers) {
  EXPECT_EQ(sha256_of("").str(), kEmptySha256);
  EXPECT_EQ(sha256_of("abc").str(),
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  Hasher h512("sha512");
  h512.update("abc");
  EXPECT_EQ(h512.finish().str(),
            "sha512:ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc"
            "1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
}

TEST(Hasher, IncrementalEqualsOneShotAndResetsAfterFinish) {
  Hasher h;
  h.update("a");
  h.update(std::string_view("b"));
  h.update("c", 1);
  Digest d = h.finish();
  EXPECT_EQ(d, sha256_of("abc"));
  // finish() resets: the next digest covers only what comes after.
  EXPECT_EQ(h.finish().str(), kEmptySha256);
  // What the hasher produces always parses back.
  EXPECT_TRUE(Digest::parse(d.str()));
}

TEST(Hasher, LargeInputInChunks) {
  std::string chunk(1 << 16, 'x');
  Hasher h;
  std::string all;
  for (int i = 0; i < 16; ++i) {
    h.update(chunk);
    all += chunk;
  }
  EXPECT_EQ(h.finish(), sha256_of(all));
}

}  // namespace
}  // namespace berth
