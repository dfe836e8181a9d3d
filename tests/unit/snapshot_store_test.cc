// Snapshotter metadata (src/snapshot/snapshotter.h) without mounting anything: keys, kinds,
// parents, commit, remove, the mounts it describes, and cleaning up after a crash.
// Real overlay mounts are in tests/integration/image/snapshot_test.cc.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "snapshot/snapshotter.h"
#include "util/digest.h"

namespace berth::snapshot {
namespace {

namespace fs = std::filesystem;

class SnapshotStoreUnit : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/berth-snap-unit-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = Snapshotter::open(dir_);
    ASSERT_TRUE(s) << s.error().what();
    sn_.emplace(std::move(*s));
  }
  void TearDown() override { fs::remove_all(dir_); }

  // prepare + write a file + commit, as layer unpacking does.
  void Layer(const std::string& name, const std::string& parent, const std::string& file) {
    auto m = sn().prepare("extract " + name, parent);
    ASSERT_TRUE(m) << m.error().what();
    std::ofstream(sn().upper_path("extract " + name) + "/" + file) << file;
    auto c = sn().commit(name, "extract " + name);
    ASSERT_TRUE(c) << c.error().what();
  }

  Snapshotter& sn() { return *sn_; }
  std::string dir_;
  std::optional<Snapshotter> sn_;
};

const std::string kL1 = "sha256:" + std::string(64, '1');
const std::string kL2 = "sha256:" + std::string(64, '2');
const std::string kL3 = "sha256:" + std::string(64, '3');

TEST_F(SnapshotStoreUnit, PrepareWithoutParentIsABind) {
  auto m = sn().prepare("c1", "", {{"owner", "test"}});
  ASSERT_TRUE(m) << m.error().what();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].type, "bind");
  EXPECT_EQ((*m)[0].source, sn().upper_path("c1"));
  auto st = sn().stat("c1");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->kind, Kind::Active);
  EXPECT_EQ(st->labels.at("owner"), "test");
  EXPECT_GT(st->created_ns, 0);
  EXPECT_TRUE(fs::is_directory(dir_ + "/snapshots/" + st->id + "/work"));
  EXPECT_TRUE(fs::exists(dir_ + "/snapshots/" + st->id + "/info.json"));
}

TEST_F(SnapshotStoreUnit, ChainMountsListLowerDirsNearestFirst) {
  Layer(kL1, "", "a");
  Layer(kL2, kL1, "b");
  Layer(kL3, kL2, "c");
  auto m = sn().prepare("ctr", kL3);
  ASSERT_TRUE(m) << m.error().what();
  ASSERT_EQ(m->size(), 1u);
  EXPECT_EQ((*m)[0].type, "overlay");
  std::string lower, upper, work;
  for (const std::string& o : (*m)[0].options) {
    if (o.starts_with("lowerdir=")) lower = o.substr(9);
    if (o.starts_with("upperdir=")) upper = o.substr(9);
    if (o.starts_with("workdir=")) work = o.substr(8);
  }
  std::string s = dir_ + "/snapshots/";
  EXPECT_EQ(lower, s + sn().stat(kL3)->id + "/fs:" + s + sn().stat(kL2)->id + "/fs:" + s +
                       sn().stat(kL1)->id + "/fs");
  EXPECT_EQ(upper, sn().upper_path("ctr"));
  EXPECT_EQ(work, s + sn().stat("ctr")->id + "/work");
  EXPECT_EQ(sn().stat(kL3)->parent, kL2);
  // Committed snapshots lost their work dir.
  EXPECT_FALSE(fs::exists(s + sn().stat(kL1)->id + "/work"));
}

TEST_F(SnapshotStoreUnit, ViewIsReadOnly) {
  Layer(kL1, "", "a");
  auto one = sn().view("v1", kL1);
  ASSERT_TRUE(one) << one.error().what();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].type, "bind");
  EXPECT_NE(std::find((*one)[0].options.begin(), (*one)[0].options.end(), "ro"),
            (*one)[0].options.end());
  Layer(kL2, kL1, "b");
  auto two = sn().view("v2", kL2);
  ASSERT_TRUE(two);
  EXPECT_EQ((*two)[0].type, "overlay");
  EXPECT_NE(std::find((*two)[0].options.begin(), (*two)[0].options.end(), "ro"),
            (*two)[0].options.end());
  for (const std::string& o : (*two)[0].options) EXPECT_FALSE(o.starts_with("upperdir="));
  EXPECT_EQ(sn().stat("v2")->kind, Kind::View);
  auto c = sn().commit("x", "v2");
  ASSERT_FALSE(c);  // a view cannot be committed
  auto u = sn().open_upper("v2");
  EXPECT_FALSE(u);
}

TEST_F(SnapshotStoreUnit, Errors) {
  auto m = sn().prepare("c", "sha256:nope");
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().kind(), ErrorKind::NotFound);
  EXPECT_NE(m.error().what().find("sha256:nope"), std::string::npos);
  ASSERT_TRUE(sn().prepare("c", ""));
  auto again = sn().prepare("c", "");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::Conflict);
  // An active snapshot is no parent.
  auto on_active = sn().prepare("d", "c");
  ASSERT_FALSE(on_active);
  auto st = sn().stat("missing");
  ASSERT_FALSE(st);
  EXPECT_EQ(st.error().kind(), ErrorKind::NotFound);
  EXPECT_FALSE(sn().exists("missing"));
  EXPECT_TRUE(sn().exists("c"));
}

TEST_F(SnapshotStoreUnit, CommitRenamesKey) {
  auto m = sn().prepare("tmp", "");
  ASSERT_TRUE(m);
  std::string id = sn().stat("tmp")->id;
  ASSERT_TRUE(sn().commit(kL1, "tmp"));
  EXPECT_FALSE(sn().exists("tmp"));
  auto st = sn().stat(kL1);
  ASSERT_TRUE(st);
  EXPECT_EQ(st->id, id);  // no copy
  EXPECT_EQ(st->kind, Kind::Committed);
  ASSERT_TRUE(sn().prepare("tmp2", ""));
  auto dup = sn().commit(kL1, "tmp2");
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind(), ErrorKind::Conflict);
}

TEST_F(SnapshotStoreUnit, RemoveRefusesParentInUse) {
  Layer(kL1, "", "a");
  ASSERT_TRUE(sn().prepare("ctr", kL1));
  auto r = sn().remove(kL1);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Conflict);
  EXPECT_NE(r.error().what().find("ctr"), std::string::npos) << r.error().what();
  std::string ctr_dir = dir_ + "/snapshots/" + sn().stat("ctr")->id;
  ASSERT_TRUE(sn().remove("ctr"));
  EXPECT_FALSE(fs::exists(ctr_dir));
  ASSERT_TRUE(sn().remove(kL1));
  auto l = sn().list();
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->empty());
  auto again = sn().remove(kL1);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::NotFound);
}

TEST_F(SnapshotStoreUnit, ListAndUsage) {
  Layer(kL1, "", "a");
  ASSERT_TRUE(sn().prepare("ctr", kL1));
  {
    std::ofstream f(sn().upper_path("ctr") + "/big");
    std::string block(1 << 20, 'x');
    f << block;
  }
  auto l = sn().list();
  ASSERT_TRUE(l);
  EXPECT_EQ(l->size(), 2u);
  auto u = sn().usage("ctr");
  ASSERT_TRUE(u) << u.error().what();
  EXPECT_GE(u->bytes, uint64_t{1} << 20);
  EXPECT_LT(u->bytes, uint64_t{2} << 20);
  EXPECT_EQ(u->inodes, 1u);
}

TEST_F(SnapshotStoreUnit, CleanUnfinishedRemovesCrashLeftovers) {
  Layer(kL1, "", "a");
  std::string s = dir_ + "/snapshots/";
  // A prepare killed before info.json: a dir and a key link.
  fs::create_directories(s + "77/fs");
  std::string h(sha256_of("half").hex());
  fs::create_symlink("77", s + "keys/" + h);
  // A commit killed after linking the new name, before info.json: a link to a dir of another key.
  std::string id1 = sn().stat(kL1)->id;
  std::string h2(sha256_of(kL2).hex());
  fs::create_symlink(id1, s + "keys/" + h2);
  // A temp link of link_key.
  fs::create_symlink("5", s + "keys/" + h + ".tmp");
  EXPECT_FALSE(sn().exists("half"));
  EXPECT_FALSE(sn().exists(kL2));
  ASSERT_TRUE(sn().clean_unfinished());
  EXPECT_FALSE(fs::exists(s + "77"));
  EXPECT_FALSE(fs::is_symlink(s + "keys/" + h));
  EXPECT_FALSE(fs::is_symlink(s + "keys/" + h2));
  EXPECT_FALSE(fs::is_symlink(s + "keys/" + h + ".tmp"));
  EXPECT_TRUE(sn().exists(kL1));
  // The next id does not collide with anything.
  ASSERT_TRUE(sn().prepare("after", kL1));
  EXPECT_TRUE(sn().exists("after"));
}

TEST_F(SnapshotStoreUnit, ReopenSeesEverything) {
  Layer(kL1, "", "a");
  auto again = Snapshotter::open(dir_);
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->exists(kL1));
  EXPECT_EQ(std::string(kind_name(again->stat(kL1)->kind)), "committed");
}

}  // namespace
}  // namespace berth::snapshot
