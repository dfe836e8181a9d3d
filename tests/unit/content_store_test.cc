// Content store (src/image/content_store.h): ingest, verification, resume, listing, removal.
// The kill -9 and concurrent-writer cases run in tests/integration/image/content_store_test.cc.
#include "image/content_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <string>

namespace berth::image {
namespace {

class ContentStoreUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-cs-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = ContentStore::open(dir_);
    ASSERT_TRUE(s) << s.error().what();
    store_.emplace(std::move(*s));
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  ContentStore& store() { return *store_; }
  std::string dir_;
  std::optional<ContentStore> store_;
};

Digest D(std::string_view data) { return sha256_of(data); }

TEST_F(ContentStoreUnit, PutThenReadBack) {
  std::string data = "hello blob";
  ASSERT_TRUE(store().put(D(data), data));
  EXPECT_TRUE(store().has(D(data)));
  auto back = store().read_blob(D(data), 1024);
  ASSERT_TRUE(back) << back.error().what();
  EXPECT_EQ(*back, data);
  auto info = store().info(D(data));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, static_cast<int64_t>(data.size()));
  EXPECT_GT(info->modified_ns, 0);
  // Committed blobs are read-only files named by their digest.
  struct stat st;
  ASSERT_EQ(::stat(store().blob_path(D(data)).c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u);
  EXPECT_EQ(store().blob_path(D(data)),
            dir_ + "/content/blobs/sha256/" + std::string(D(data).hex()));
  // A second put is a no-op.
  EXPECT_TRUE(store().put(D(data), data));
}

TEST_F(ContentStoreUnit, PutComputed) {
  auto d = store().put_computed("{\"a\":1}");
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, D("{\"a\":1}"));
  EXPECT_TRUE(store().has(*d));
}

TEST_F(ContentStoreUnit, DigestMismatchNamesBothAndLeavesNothing) {
  std::string good = "the real content", bad = "something else!!";
  auto w = store().writer(D(good), static_cast<int64_t>(bad.size()));
  ASSERT_TRUE(w) << w.error().what();
  ASSERT_TRUE(w->write(bad));
  auto r = w->commit();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find(D(good).str()), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find(D(bad).str()), std::string::npos) << r.error().what();
  EXPECT_NE(r.error().what().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(store().has(D(good)));
  EXPECT_FALSE(store().has(D(bad)));
  EXPECT_FALSE(
      std::filesystem::exists(dir_ + "/content/ingest/sha256/" + std::string(D(good).hex())));
  auto l = store().list();
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->empty());
}

TEST_F(ContentStoreUnit, PutRejectsWrongData) {
  auto r = store().put(D("a"), "b");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(store().has(D("a")));
}

TEST_F(ContentStoreUnit, SizeMismatch) {
  std::string data = "12345";
  {
    auto w = store().writer(D(data), 4);
    ASSERT_TRUE(w);
    auto r = w->write(data);
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().what().find("size mismatch: expected 4 bytes"), std::string::npos)
        << r.error().what();
    EXPECT_FALSE(w->commit());
  }
  {
    auto w = store().writer(D(data), 6);
    ASSERT_TRUE(w);
    ASSERT_TRUE(w->write(data));
    auto r = w->commit();
    ASSERT_FALSE(r);
    EXPECT_NE(r.error().what().find("expected 6 bytes, got 5"), std::string::npos)
        << r.error().what();
  }
  EXPECT_FALSE(store().has(D(data)));
}

TEST_F(ContentStoreUnit, ResumeAfterDroppedWriter) {
  std::string data(300000, 'x');
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<char>(i * 7919 % 251);
  {
    auto w = store().writer(D(data), static_cast<int64_t>(data.size()));
    ASSERT_TRUE(w);
    EXPECT_EQ(w->offset(), 0u);
    ASSERT_TRUE(w->write(data.data(), 100000));
  }  // dropped without commit: the partial data stays
  EXPECT_FALSE(store().has(D(data)));
  auto w = store().writer(D(data), static_cast<int64_t>(data.size()));
  ASSERT_TRUE(w) << w.error().what();
  EXPECT_EQ(w->offset(), 100000u);
  ASSERT_TRUE(w->write(data.data() + 100000, data.size() - 100000));
  auto r = w->commit();
  ASSERT_TRUE(r) << r.error().what();
  auto back = store().read_blob(D(data), 1 << 20);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, data);
}

TEST_F(ContentStoreUnit, TruncateRestartsFromZero) {
  std::string data = "abcdefghij";
  {
    auto w = store().writer(D(data), 10);
    ASSERT_TRUE(w->write("XXXX"));  // wrong bytes, e.g. a server that ignored Range
  }
  auto w = store().writer(D(data), 10);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->offset(), 4u);
  ASSERT_TRUE(w->truncate());
  EXPECT_EQ(w->offset(), 0u);
  ASSERT_TRUE(w->write(data));
  ASSERT_TRUE(w->commit());
  EXPECT_TRUE(store().has(D(data)));
}

TEST_F(ContentStoreUnit, WriterForExistingBlobIsConflict) {
  ASSERT_TRUE(store().put(D("x"), "x"));
  auto w = store().writer(D("x"), 1);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().kind(), ErrorKind::Conflict);
}

TEST_F(ContentStoreUnit, AbortRemovesIngest) {
  auto w = store().writer(D("abc"), 3);
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->write("ab"));
  w->abort();
  EXPECT_FALSE(
      std::filesystem::exists(dir_ + "/content/ingest/sha256/" + std::string(D("abc").hex())));
  auto w2 = store().writer(D("abc"), 3);
  ASSERT_TRUE(w2);
  EXPECT_EQ(w2->offset(), 0u);
}

TEST_F(ContentStoreUnit, ListRemoveUsage) {
  ASSERT_TRUE(store().put(D("one"), "one"));
  ASSERT_TRUE(store().put(D("three"), "three"));
  auto l = store().list();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->size(), 2u);
  auto u = store().usage();
  ASSERT_TRUE(u);
  EXPECT_EQ(*u, 8u);
  ASSERT_TRUE(store().remove(D("one")));
  EXPECT_FALSE(store().has(D("one")));
  auto r = store().remove(D("one"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::NotFound);
  EXPECT_EQ(*store().usage(), 5u);
  auto o = store().open_blob(D("one"));
  ASSERT_FALSE(o);
  EXPECT_EQ(o.error().kind(), ErrorKind::NotFound);
}

TEST_F(ContentStoreUnit, ReadBlobLimit) {
  ASSERT_TRUE(store().put(D("0123456789"), "0123456789"));
  auto r = store().read_blob(D("0123456789"), 5);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("limit"), std::string::npos);
}

TEST_F(ContentStoreUnit, CleanIngestsKeepsLockedAndYoung) {
  {
    auto w = store().writer(D("old"), 3);
    ASSERT_TRUE(w->write("o"));
  }
  auto held = store().writer(D("held"), 4);
  ASSERT_TRUE(held);
  ASSERT_TRUE(held->write("h"));
  std::string ingest = dir_ + "/content/ingest/sha256/";
  // Young ingests stay when asked for old ones only.
  ASSERT_TRUE(store().clean_ingests(int64_t{3600} * 1'000'000'000));
  EXPECT_TRUE(std::filesystem::exists(ingest + std::string(D("old").hex())));
  ASSERT_TRUE(store().clean_ingests(0));
  EXPECT_FALSE(std::filesystem::exists(ingest + std::string(D("old").hex())));
  EXPECT_TRUE(std::filesystem::exists(ingest + std::string(D("held").hex())));  // locked
  ASSERT_TRUE(held->write("eld"));
  ASSERT_TRUE(held->commit());
  EXPECT_TRUE(store().has(D("held")));
}

TEST_F(ContentStoreUnit, UnknownSizeStreams) {
  std::string data(5 << 20, 'z');
  auto w = store().writer(D(data), -1);
  ASSERT_TRUE(w);
  for (size_t off = 0; off < data.size(); off += 65536)
    ASSERT_TRUE(w->write(data.data() + off, 65536));
  ASSERT_TRUE(w->commit());
  EXPECT_EQ(store().info(D(data))->size, static_cast<int64_t>(data.size()));
}

}  // namespace
}  // namespace berth::image
