// Content store under crashes and concurrency: a writer SIGKILLed mid-blob leaves a store
// the next writer resumes from; two writers of one digest are serialised by the ingest lock.
#include "image/content_store.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <thread>

#include "util/fd.h"

namespace berth::it::image {
std::string TempDir(const std::string& prefix);  // unpack_test.cc

namespace {

namespace fs = std::filesystem;
using berth::image::ContentStore;

class ContentStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = TempDir("berth-cs");
    ASSERT_FALSE(dir_.empty());
    data_.resize(8 << 20);
    for (size_t i = 0; i < data_.size(); ++i) data_[i] = static_cast<char>((i * 2654435761u) >> 13);
    digest_ = sha256_of(data_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string dir_;
  std::string data_;
  Digest digest_;
};

// The child writes half the blob, tells the parent, and waits to be killed.
pid_t SpawnHalfWriter(const std::string& dir, const Digest& d, const std::string& data,
                      int* ready) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return -1;
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(p[0]);
    auto store = ContentStore::open(dir);
    if (!store) _exit(1);
    auto w = store->writer(d, static_cast<int64_t>(data.size()));
    if (!w) _exit(2);
    if (!w->write(data.data(), data.size() / 2)) _exit(3);
    char c = 'h';
    (void)!::write(p[1], &c, 1);
    for (;;) ::pause();
  }
  ::close(p[1]);
  *ready = p[0];
  return pid;
}

TEST_F(ContentStoreTest, KillNineMidWriteThenResume) {
  int ready = -1;
  pid_t pid = SpawnHalfWriter(dir_, digest_, data_, &ready);
  ASSERT_GT(pid, 0);
  ChildProcess child(pid);
  UniqueFd rfd(ready);
  char c;
  ASSERT_EQ(::read(rfd.get(), &c, 1), 1);
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  auto st = child.wait();
  ASSERT_TRUE(st);
  ASSERT_TRUE(WIFSIGNALED(*st));

  auto store = ContentStore::open(dir_);
  ASSERT_TRUE(store);
  // Consistent: nothing visible, nothing listed.
  EXPECT_FALSE(store->has(digest_));
  EXPECT_TRUE(store->list()->empty());
  EXPECT_EQ(*store->usage(), 0u);
  // The next writer resumes where the killed one stopped.
  auto w = store->writer(digest_, static_cast<int64_t>(data_.size()));
  ASSERT_TRUE(w) << w.error().what();
  EXPECT_EQ(w->offset(), data_.size() / 2);
  ASSERT_TRUE(w->write(data_.data() + w->offset(), data_.size() - w->offset()));
  auto r = w->commit();
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_TRUE(store->has(digest_));
  EXPECT_EQ(*store->read_blob(digest_, 16 << 20), data_);
  EXPECT_TRUE(fs::is_empty(dir_ + "/content/ingest/sha256"));
}

TEST_F(ContentStoreTest, KilledWriterWithWrongBytesIsRejectedAtCommit) {
  // The killed writer wrote garbage: the resumed ingest fails verification and vanishes.
  std::string garbage(data_.size(), 'g');
  int ready = -1;
  pid_t pid = SpawnHalfWriter(dir_, digest_, garbage, &ready);
  ASSERT_GT(pid, 0);
  ChildProcess child(pid);
  UniqueFd rfd(ready);
  char c;
  ASSERT_EQ(::read(rfd.get(), &c, 1), 1);
  child.kill_and_reap();
  auto store = ContentStore::open(dir_);
  auto w = store->writer(digest_, static_cast<int64_t>(data_.size()));
  ASSERT_TRUE(w);
  ASSERT_TRUE(w->write(data_.data() + w->offset(), data_.size() - w->offset()));
  auto r = w->commit();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("digest mismatch"), std::string::npos);
  EXPECT_FALSE(store->has(digest_));
  // The pull then refetches from zero.
  auto again = store->writer(digest_, static_cast<int64_t>(data_.size()));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->offset(), 0u);
}

TEST_F(ContentStoreTest, SecondWriterWaitsForTheLockThenSeesTheBlob) {
  auto store = ContentStore::open(dir_);
  ASSERT_TRUE(store);
  auto first = store->writer(digest_, static_cast<int64_t>(data_.size()));
  ASSERT_TRUE(first);
  ASSERT_TRUE(first->write(data_.data(), 1000));
  std::atomic<bool> second_done{false};
  Result<berth::image::BlobWriter> second = Error::internal("not run");
  std::thread t([&] {
    second = store->writer(digest_, static_cast<int64_t>(data_.size()));
    second_done = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_FALSE(second_done.load()) << "the second writer did not wait for the lock";
  ASSERT_TRUE(first->write(data_.data() + 1000, data_.size() - 1000));
  ASSERT_TRUE(first->commit());
  t.join();
  ASSERT_FALSE(second);
  EXPECT_EQ(second.error().kind(), ErrorKind::Conflict);
  EXPECT_TRUE(store->has(digest_));
}

TEST_F(ContentStoreTest, WritersInTwoProcessesStoreOneBlob) {
  auto store = ContentStore::open(dir_);
  ASSERT_TRUE(store);
  std::vector<ChildProcess> kids;
  for (int i = 0; i < 4; ++i) {
    pid_t pid = ::fork();
    if (pid == 0) {
      auto s = ContentStore::open(dir_);
      auto w = s->writer(digest_, static_cast<int64_t>(data_.size()));
      if (!w) _exit(w.error().kind() == ErrorKind::Conflict && s->has(digest_) ? 0 : 1);
      if (w->offset() > 0 && !w->truncate()) _exit(2);
      for (size_t off = 0; off < data_.size(); off += 1 << 20)
        if (!w->write(data_.data() + off, std::min<size_t>(1 << 20, data_.size() - off))) _exit(3);
      _exit(w->commit() ? 0 : 4);
    }
    kids.emplace_back(pid);
  }
  for (auto& k : kids) {
    auto st = k.wait();
    ASSERT_TRUE(st);
    EXPECT_EQ(exit_code_of(*st), 0);
  }
  EXPECT_EQ(*store->read_blob(digest_, 16 << 20), data_);
  EXPECT_EQ(store->list()->size(), 1u);
}

}  // namespace
}  // namespace berth::it::image
