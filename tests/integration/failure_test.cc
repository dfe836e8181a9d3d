// A create that fails at any step leaves nothing behind (no state, process, cgroup or host mount),
// and hostile configs and rootfs symlinks cannot make a mount land outside the rootfs.
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;

class FailureCleanupTest : public RuntimeTest {
 protected:
  // A unique argument for the container's process, to find any leftover by its command line.
  std::string Token() { return "8" + std::to_string(getpid()) + std::to_string(++token_n_); }
  // Runs create, expects it to fail, and checks nothing was left anywhere.
  ExecResult ExpectCreateFailsCleanly(const std::string& id, const json& c,
                                      const std::string& token) {
    size_t mounts_before = HostMountCount();
    ExecResult r = Create(id, c);
    EXPECT_NE(r.exit_code, 0) << Describe(r);
    EXPECT_FALSE(r.timed_out);
    ExpectNoTrace(id);
    EXPECT_TRUE(WaitUntil([&] { return ProcessesWithArg(token).empty(); }, 3s))
        << "a container process was left";
    EXPECT_EQ(HostMountCount(), mounts_before) << "a mount was left on the host";
    ExecResult st = Runtime({"state", id});
    EXPECT_NE(st.exit_code, 0) << "state still knows the failed container: " << st.out;
    return r;
  }
  int token_n_ = 0;
};

TEST_F(FailureCleanupTest, NonexistentBindMountSource) {
  std::string id = NewId(), token = Token();
  std::string missing = tmp_ + "/no-such-source";
  json c = Config(id, {"sleep", token});
  c["mounts"].push_back(
      {{"destination", "/data"}, {"type", "bind"}, {"source", missing}, {"options", {"rbind"}}});
  ExecResult r = ExpectCreateFailsCleanly(id, c, token);
  EXPECT_THAT(r.err, HasSubstr(missing));
  EXPECT_THAT(r.err, HasSubstr("no such file or directory"));
}

TEST_F(FailureCleanupTest, MountFailsAfterEarlierMountsSucceeded) {
  std::string id = NewId(), token = Token();
  std::string ok = MakeDir("ok-src");
  json c = Config(id, {"sleep", token});
  c["mounts"].push_back(
      {{"destination", "/a"}, {"type", "bind"}, {"source", ok}, {"options", {"rbind"}}});
  c["mounts"].push_back(
      {{"destination", "/b"}, {"type", "tmpfs"}, {"source", "tmpfs"}, {"options", {"size=1m"}}});
  c["mounts"].push_back({{"destination", "/c"},
                         {"type", "no-such-fstype"},
                         {"source", "none"},
                         {"options", json::array()}});
  ExpectCreateFailsCleanly(id, c, token);
}

TEST_F(FailureCleanupTest, MissingExecutableFailsCreateNamingThePath) {
  std::string id = NewId();
  json c = Config(id, {"/nonexistent", "arg"});
  // runc 1.1 resolves the executable in create: `exec: "/nonexistent": stat /nonexistent: no such
  // file or directory`.
  ExecResult r = ExpectCreateFailsCleanly(id, c, "/nonexistent");
  EXPECT_THAT(r.err, HasSubstr("/nonexistent"));
  EXPECT_THAT(r.err, HasSubstr("no such file or directory"));
}

TEST_F(FailureCleanupTest, NonExecutableFileFailsCreate) {
  std::string id = NewId();
  json c = Config(id, {"/etc/passwd"});
  ExecResult r = ExpectCreateFailsCleanly(id, c, "/etc/passwd");
  EXPECT_THAT(r.err, HasSubstr("/etc/passwd"));
}

TEST_F(FailureCleanupTest, InvalidConfigJson) {
  std::string id = NewId();
  WriteBundleRaw(id, "{\"ociVersion\": \"1.0.2\", \"process\": {");
  size_t mounts_before = HostMountCount();
  ExecResult r = Runtime({"create", "--bundle", BundleDir(id), id});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  // berth names the file; runc 1.1 says only "unexpected EOF".
  if (!RuntimeIsRunc()) {
    EXPECT_THAT(r.err, HasSubstr("config.json"));
  }
  ExpectNoTrace(id);
  EXPECT_EQ(HostMountCount(), mounts_before);
}

TEST_F(FailureCleanupTest, MissingConfigJson) {
  std::string id = NewId();
  std::string bundle = MakeDir("empty-bundle");
  ExecResult r = Runtime({"create", "--bundle", bundle, id});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("config.json"));
  ExpectNoTrace(id);
}

TEST_F(FailureCleanupTest, ConfigWithWrongTypesIsRejected) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["process"]["user"]["uid"] = "zero";
  WriteBundle(id, c);
  ExecResult r = Runtime({"create", "--bundle", BundleDir(id), id});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  ExpectNoTrace(id);
}

TEST_F(FailureCleanupTest, MissingRootfsFailsCreate) {
  std::string id = NewId(), token = Token();
  json c = Config(id, {"sleep", token});
  c["root"]["path"] = tmp_ + "/no-such-rootfs";
  ExecResult r = ExpectCreateFailsCleanly(id, c, token);
  EXPECT_THAT(r.err, HasSubstr("no-such-rootfs"));
}

TEST_F(FailureCleanupTest, FailedRunLeavesNothing) {
  std::string id = NewId();
  json c = Config(id, {"/nonexistent"});
  size_t mounts_before = HostMountCount();
  ExecResult r = RunContainer(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  ExpectNoTrace(id);
  EXPECT_EQ(HostMountCount(), mounts_before);
}

TEST_F(FailureCleanupTest, DotDotInMountDestinationStaysInsideTheRootfs) {
  // `..` cannot climb out of the rootfs: either create refuses the config, or the mount lands
  // inside the rootfs. Never on the host path the `..`s point at.
  std::string id = NewId(), token = Token();
  std::string src = MakeDir("dotdot-src");
  WriteFile(src + "/canary", "canary\n");
  std::string target = tmp_ + "/dotdot-target";
  mkdir(target.c_str(), 0755);
  json c = Config(id, {"sh", "-c", "ls /x 2>&1; sleep " + token});
  c["mounts"].push_back({{"destination", "/../../../../../../.." + target + "/x"},
                         {"type", "bind"},
                         {"source", src},
                         {"options", {"rbind"}}});
  size_t mounts_before = HostMountCount();
  ExecResult r = Create(id, c);
  EXPECT_FALSE(PathExists(target + "/x")) << "mount destination resolved outside the rootfs";
  EXPECT_EQ(HostMountCount(), mounts_before);
  if (r.exit_code == 0) {
    // Accepted: the mount must be inside the rootfs (`..` at / stays at /).
    EXPECT_TRUE(PathExists(SharedRootfs() + target + "/x"));
  } else {
    ExpectNoTrace(id);
  }
}

class HostileRootfsTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    rootfs_ = tmp_ + "/hostile-rootfs";
    BuildRootfs(rootfs_);
    src_ = MakeDir("bind-src");
    WriteFile(src_ + "/from-src", "bind source\n");
  }
  // A container that mounts src_ at `dest` in the hostile rootfs and lists it.
  ExecResult RunWithMountAt(const std::string& dest, const std::string& list) {
    std::string id = NewId();
    json c = Config(id, {"sh", "-c", "cat " + list + "/from-src"});
    c["root"]["path"] = rootfs_;
    c["mounts"].push_back(
        {{"destination", dest}, {"type", "bind"}, {"source", src_}, {"options", {"rbind"}}});
    return RunContainer(id, c);
  }
  std::string rootfs_, src_;
};

TEST_F(HostileRootfsTest, AbsoluteSymlinkToHostEtcIsResolvedInsideTheRootfs) {
  // rootfs/evil -> /etc; a mount at /evil/<name> must land in rootfs/etc/<name>, not host /etc.
  std::string name = "berth-it-" + std::to_string(getpid());
  ASSERT_EQ(symlink("/etc", (rootfs_ + "/evil").c_str()), 0);
  size_t mounts_before = HostMountCount();
  ExecResult r = RunWithMountAt("/evil/" + name, "/etc/" + name);
  bool escaped = PathExists("/etc/" + name);
  if (escaped) rmdir(("/etc/" + name).c_str());
  EXPECT_FALSE(escaped) << "the runtime followed rootfs/evil to the host's /etc";
  EXPECT_EQ(HostMountCount(), mounts_before);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "bind source\n");
  EXPECT_TRUE(PathExists(rootfs_ + "/etc/" + name)) << "the mount point belongs inside the rootfs";
}

TEST_F(HostileRootfsTest, RelativeSymlinkClimbingOutIsResolvedInsideTheRootfs) {
  // rootfs/evil -> ../../../../../<host dir>; `..` at the rootfs root stays at the root.
  std::string host_dir = MakeDir("host-target");
  ASSERT_EQ(symlink(("../../../../../../../.." + host_dir).c_str(), (rootfs_ + "/evil").c_str()),
            0);
  size_t mounts_before = HostMountCount();
  ExecResult r = RunWithMountAt("/evil/x", host_dir + "/x");
  EXPECT_FALSE(PathExists(host_dir + "/x")) << "the mount point was created in the host dir";
  EXPECT_EQ(HostMountCount(), mounts_before);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "bind source\n");
  EXPECT_TRUE(PathExists(rootfs_ + host_dir + "/x"));
}

TEST_F(HostileRootfsTest, SymlinkedMountPointDirectoryInTheMiddleOfThePath) {
  // rootfs/a/b -> /tmp/<host dir>: destination /a/b/c/d.
  std::string host_dir = MakeDir("host-mid");
  mkdir((rootfs_ + "/a").c_str(), 0755);
  ASSERT_EQ(symlink(host_dir.c_str(), (rootfs_ + "/a/b").c_str()), 0);
  ExecResult r = RunWithMountAt("/a/b/c/d", host_dir + "/c/d");
  EXPECT_FALSE(PathExists(host_dir + "/c")) << "the runtime created dirs in the host dir";
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "bind source\n");
}

TEST_F(HostileRootfsTest, SymlinkAsTheFinalMountPointComponent) {
  // rootfs/target -> /etc/hostile-<pid>: a tmpfs mounted at /target lands in rootfs/etc/...
  std::string name = "hostile-" + std::to_string(getpid());
  ASSERT_EQ(symlink(("/etc/" + name).c_str(), (rootfs_ + "/target").c_str()), 0);
  std::string id = NewId();
  json c = Config(id, {"sh", "-c", "grep -c tmpfs /proc/self/mountinfo >/dev/null; echo ok"});
  c["root"]["path"] = rootfs_;
  c["mounts"].push_back({{"destination", "/target"},
                         {"type", "tmpfs"},
                         {"source", "tmpfs"},
                         {"options", {"size=1m"}}});
  size_t mounts_before = HostMountCount();
  ExecResult r = RunContainer(id, c);
  bool escaped = PathExists("/etc/" + name);
  if (escaped) rmdir(("/etc/" + name).c_str());
  EXPECT_FALSE(escaped) << "the runtime created "
                        << "/etc/" << name << " on the host";
  EXPECT_EQ(HostMountCount(), mounts_before);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
}

TEST_F(HostileRootfsTest, ProcMountedOverASymlinkIsRefused) {
  // CVE-2019-19921 class: rootfs/proc is a symlink; mounting procfs through it must not follow it
  // out of the rootfs (runc refuses: "must be mounted on ordinary directory").
  std::string host_dir = MakeDir("fake-proc-target");
  rmdir((rootfs_ + "/proc").c_str());
  ASSERT_EQ(symlink(host_dir.c_str(), (rootfs_ + "/proc").c_str()), 0);
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["root"]["path"] = rootfs_;
  size_t mounts_before = HostMountCount();
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("/proc"));
  EXPECT_EQ(HostMountCount(), mounts_before);
  EXPECT_TRUE(std::filesystem::is_empty(host_dir)) << "procfs was mounted on the host dir";
  if (r.exit_code != 0) ExpectNoTrace(id);
}

}  // namespace
}  // namespace berth::it
