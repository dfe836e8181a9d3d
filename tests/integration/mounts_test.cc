// Mounts, root.readonly, maskedPaths, readonlyPaths and /dev, as seen from inside the container.
#include <gmock/gmock.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;
using ::testing::IsEmpty;

class MountsTest : public RuntimeTest {
 protected:
  // Runs `cat /proc/self/mountinfo` (plus `extra`) and returns the parsed mounts.
  std::vector<MountEntry> ContainerMounts(const std::function<void(json&)>& modify = {}) {
    ExecResult r = RunSh("cat /proc/self/mountinfo", modify);
    EXPECT_EQ(r.exit_code, 0) << Describe(r);
    return ParseMountInfo(r.out);
  }
  json BindMount(const std::string& src, const std::string& dst, std::vector<std::string> opts) {
    return {{"destination", dst}, {"type", "bind"}, {"source", src}, {"options", opts}};
  }
};

TEST_F(MountsTest, DefaultMountsHaveTheirTypesAndFlags) {
  auto mounts = ContainerMounts();
  struct Want {
    std::string mp, type;
    std::vector<std::string> opts;
  };
  std::vector<Want> want = {
      {"/proc", "proc", {"rw"}},
      {"/dev", "tmpfs", {"rw", "nosuid", "mode=755", "size=65536k"}},
      {"/dev/pts", "devpts", {"rw", "nosuid", "noexec", "mode=620", "ptmxmode=666", "gid=5"}},
      {"/dev/shm", "tmpfs", {"rw", "nosuid", "nodev", "noexec", "size=65536k"}},
      {"/dev/mqueue", "mqueue", {"rw", "nosuid", "nodev", "noexec"}},
      {"/sys", "sysfs", {"ro", "nosuid", "nodev", "noexec"}},
  };
  for (auto& w : want) {
    auto m = FindMount(mounts, w.mp);
    ASSERT_TRUE(m.has_value()) << w.mp << " is not mounted";
    EXPECT_EQ(m->fstype, w.type) << w.mp;
    for (auto& o : w.opts) EXPECT_TRUE(m->has(o)) << w.mp << " lacks option " << o;
  }
  EXPECT_FALSE(FindMount(mounts, "/dev")->has("noexec"));
  // The root is the bundle rootfs, pivoted to "/".
  auto root = FindMount(mounts, "/");
  ASSERT_TRUE(root.has_value());
  EXPECT_TRUE(root->has("rw"));
}

TEST_F(MountsTest, NoHostMountsAreVisible) {
  auto mounts = ContainerMounts();
  std::set<std::string> allowed = {"/",        "/proc",       "/dev", "/dev/pts",
                                   "/dev/shm", "/dev/mqueue", "/sys"};
  for (auto& m : mounts) {
    bool ok = allowed.count(m.mount_point) || m.mount_point.rfind("/proc/", 0) == 0 ||
              m.mount_point.rfind("/sys/", 0) == 0 || m.mount_point.rfind("/dev/", 0) == 0;
    EXPECT_TRUE(ok) << "unexpected mount in the container: " << m.mount_point << " (" << m.fstype
                    << ")";
  }
}

TEST_F(MountsTest, BindMountReadWriteIsSharedWithTheHost) {
  std::string host = MakeDir("rw-src");
  WriteFile(host + "/from-host", "hello from host\n");
  ExecResult r = RunSh(
      "cat /data/from-host; echo written > /data/from-container; grep ' /data ' "
      "/proc/self/mountinfo",
      [&](json& c) {
        c["mounts"].push_back(BindMount(host, "/data", {"rbind", "rw"}));
      });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(SplitLines(r.out)[0], "hello from host");
  EXPECT_EQ(ReadFileOr(host + "/from-container"), "written\n");
  auto m = FindMount(ParseMountInfo(r.out), "/data");
  ASSERT_TRUE(m.has_value()) << r.out;
  EXPECT_TRUE(m->has("rw"));
}

TEST_F(MountsTest, BindMountReadOnlyRejectsWrites) {
  std::string host = MakeDir("ro-src");
  WriteFile(host + "/f", "ro content\n");
  ExecResult r =
      RunSh("cat /data/f; touch /data/new; echo rc=$?; grep ' /data ' /proc/self/mountinfo",
            [&](json& c) {
              c["mounts"].push_back(
                  BindMount(host, "/data", {"rbind", "ro", "nosuid", "nodev", "noexec"}));
            });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_GE(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0], "ro content");
  EXPECT_EQ(lines[1], "rc=1");
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  EXPECT_FALSE(PathExists(host + "/new"));
  auto m = FindMount(ParseMountInfo(r.out), "/data");
  ASSERT_TRUE(m.has_value());
  for (auto o : {"ro", "nosuid", "nodev", "noexec"}) EXPECT_TRUE(m->has(o)) << "lacks " << o;
}

TEST_F(MountsTest, BindMountOfAFileCreatesTheDestinationFile) {
  std::string host = MakeDir("file-src");
  WriteFile(host + "/resolv.conf", "nameserver 192.0.2.1\n");
  ExecResult r = RunSh(
      "cat /etc/berth-test/resolv.conf; stat -c %F /etc/berth-test/resolv.conf", [&](json& c) {
        c["mounts"].push_back(
            BindMount(host + "/resolv.conf", "/etc/berth-test/resolv.conf", {"bind", "ro"}));
      });
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "nameserver 192.0.2.1\nregular file\n");
}

TEST_F(MountsTest, TmpfsWithSizeModeAndFlags) {
  ExecResult r = RunSh(
      "stat -c '%a' /scratch; grep ' /scratch ' /proc/self/mountinfo; "
      "cp /bin/busybox /scratch/bb && /scratch/bb true; echo exec-rc=$?",
      [](json& c) {
        c["mounts"].push_back({{"destination", "/scratch"},
                               {"type", "tmpfs"},
                               {"source", "tmpfs"},
                               {"options", {"nosuid", "nodev", "noexec", "size=4m", "mode=1770"}}});
      });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(lines[0], "1770");
  auto m = FindMount(ParseMountInfo(r.out), "/scratch");
  ASSERT_TRUE(m.has_value()) << r.out;
  EXPECT_EQ(m->fstype, "tmpfs");
  for (auto o : {"rw", "nosuid", "nodev", "noexec", "size=4096k", "mode=1770"})
    EXPECT_TRUE(m->has(o)) << "lacks " << o;
  EXPECT_EQ(lines[2], "exec-rc=126") << "noexec tmpfs must refuse exec";
}

TEST_F(MountsTest, RootReadonlyMakesTheRootfsReadOnly) {
  ExecResult r = RunSh(
      "touch /newfile; echo rc=$?; echo ok > /dev/shm/x && cat /dev/shm/x; "
      "cat /proc/self/mountinfo",
      [](json& c) { c["root"]["readonly"] = true; });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines[0], "rc=1");
  EXPECT_EQ(lines[1], "ok") << "mounts on top of a read-only root stay writable";
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  auto root = FindMount(ParseMountInfo(r.out), "/");
  ASSERT_TRUE(root.has_value()) << r.out;
  EXPECT_TRUE(root->has("ro"));
  EXPECT_FALSE(PathExists(SharedRootfs() + "/newfile"));
}

TEST_F(MountsTest, MaskedFilesReadEmpty) {
  // Only the masked files this kernel has (no /proc/kcore without CONFIG_PROC_KCORE).
  std::string script, want;
  for (auto f : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/sched_debug",
                 "/proc/latency_stats"}) {
    if (!PathExists(f)) continue;
    script += std::string("echo ") + f + " $(wc -c < " + f + ") $(stat -c %t:%T " + f + "); ";
    // Masked files are /dev/null bind mounts: 0 bytes, char device 1:3.
    want += std::string(f) + " 0 1:3\n";
  }
  ASSERT_FALSE(script.empty()) << "no maskable /proc file on this kernel";
  ExecResult r = RunSh(script);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, want);
}

TEST_F(MountsTest, MaskedDirectoryIsEmptyAndReadOnly) {
  std::string host = MakeDir("masked-src");
  WriteFile(host + "/secret", "s3cret\n");
  ExecResult r = RunSh("ls -A /data | wc -l; touch /data/x; echo rc=$?", [&](json& c) {
    c["mounts"].push_back(BindMount(host, "/data", {"rbind", "rw"}));
    c["linux"]["maskedPaths"].push_back("/data");
  });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "0\nrc=1\n");
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  EXPECT_FALSE(PathExists(host + "/x"));
}

TEST_F(MountsTest, MaskedPathThatDoesNotExistIsIgnored) {
  ExecResult r = RunSh(
      "echo ok", [](json& c) { c["linux"]["maskedPaths"].push_back("/proc/does-not-exist"); });
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "ok\n");
}

TEST_F(MountsTest, ReadonlyPathsRejectWrites) {
  std::string host = MakeDir("ro-path-src");
  ExecResult r = RunSh(
      "echo 1 > /proc/sys/kernel/ns_last_pid; echo rc1=$?; "
      "echo x > /data/f; echo rc2=$?; grep -E ' /proc/sys | /data ' /proc/self/mountinfo",
      [&](json& c) {
        c["mounts"].push_back(BindMount(host, "/data", {"rbind", "rw"}));
        c["linux"]["readonlyPaths"].push_back("/data");
        // Even with CAP_SYS_ADMIN the read-only mount must hold.
        c["process"]["capabilities"]["bounding"].push_back("CAP_SYS_ADMIN");
        c["process"]["capabilities"]["effective"].push_back("CAP_SYS_ADMIN");
        c["process"]["capabilities"]["permitted"].push_back("CAP_SYS_ADMIN");
      });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_GE(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0], "rc1=1");
  EXPECT_EQ(lines[1], "rc2=1");
  EXPECT_THAT(r.err, HasSubstr("Read-only file system"));
  auto mounts = ParseMountInfo(r.out);
  for (auto mp : {"/proc/sys", "/data"}) {
    auto m = FindMount(mounts, mp);
    ASSERT_TRUE(m.has_value()) << mp;
    EXPECT_TRUE(m->has("ro")) << mp;
  }
  EXPECT_FALSE(PathExists(host + "/f"));
}

TEST_F(MountsTest, DefaultDevicesAreCharDevicesWithTheRightNumbers) {
  ExecResult r = RunSh(
      "for d in null zero full random urandom tty; do "
      "stat -c '%n %F %t:%T %a' /dev/$d; done");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out,
            "/dev/null character special file 1:3 666\n"
            "/dev/zero character special file 1:5 666\n"
            "/dev/full character special file 1:7 666\n"
            "/dev/random character special file 1:8 666\n"
            "/dev/urandom character special file 1:9 666\n"
            "/dev/tty character special file 5:0 666\n");
}

TEST_F(MountsTest, DefaultDevicesWork) {
  ExecResult r = RunSh(
      "echo gone > /dev/null; head -c 4 /dev/zero | od -An -tx1; "
      "echo x > /dev/full; echo full-rc=$?; head -c 16 /dev/urandom | wc -c");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_EQ(Trim(lines[0]), "00 00 00 00");
  EXPECT_EQ(lines[1], "full-rc=1");
  EXPECT_EQ(Trim(lines[2]), "16");
  EXPECT_THAT(r.err, HasSubstr("No space left on device"));
}

TEST_F(MountsTest, DevHasNoHostDevices) {
  ExecResult r = RunSh("ls /dev | sort | tr '\\n' ' '");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  // runc also creates /dev/core -> /proc/kcore.
  std::set<std::string> allowed = {"console", "core", "fd",      "full", "mqueue", "null",
                                   "ptmx",    "pts",  "random",  "shm",  "stderr", "stdin",
                                   "stdout",  "tty",  "urandom", "zero"};
  for (auto& e : SplitWs(r.out)) EXPECT_TRUE(allowed.count(e)) << "unexpected /dev entry " << e;
}

TEST_F(MountsTest, LinuxDevicesCreatesTheConfiguredNode) {
  ExecResult r = RunSh(
      "stat -c '%F %t:%T %a %u %g' /dev/mynull /dev/sub/myzero; echo x > /dev/mynull; echo rc=$?; "
      "head -c 2 /dev/sub/myzero | od -An -tx1",
      [](json& c) {
        c["linux"]["devices"] = {{{"path", "/dev/mynull"},
                                  {"type", "c"},
                                  {"major", 1},
                                  {"minor", 3},
                                  {"fileMode", 0620},
                                  {"uid", 0},
                                  {"gid", 5}},
                                 {{"path", "/dev/sub/myzero"},
                                  {"type", "c"},
                                  {"major", 1},
                                  {"minor", 5},
                                  {"fileMode", 0604},
                                  {"uid", 1000},
                                  {"gid", 100}}};
      });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0], "character special file 1:3 620 0 5");
  EXPECT_EQ(lines[1], "character special file 1:5 604 1000 100");
  EXPECT_EQ(lines[2], "rc=0");
  EXPECT_EQ(Trim(lines[3]), "00 00");
}

// A node already in the way is replaced (here: the same path listed twice; the last wins).
TEST_F(MountsTest, LinuxDevicesReplacesWhatIsAlreadyThere) {
  ExecResult r = RunSh("stat -c '%F %t:%T %a' /dev/twice", [](json& c) {
    c["linux"]["devices"] = {
        {{"path", "/dev/twice"}, {"type", "c"}, {"major", 1}, {"minor", 3}, {"fileMode", 0600}},
        {{"path", "/dev/twice"}, {"type", "c"}, {"major", 1}, {"minor", 5}, {"fileMode", 0644}}};
  });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Trim(r.out), "character special file 1:5 644");
}

TEST_F(MountsTest, DevSymlinks) {
  ExecResult r =
      RunSh("for l in fd stdin stdout stderr ptmx; do echo $l=$(readlink /dev/$l); done");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(
      r.out,
      "fd=/proc/self/fd\nstdin=/proc/self/fd/0\nstdout=/proc/self/fd/1\nstderr=/proc/self/fd/2\n"
      "ptmx=pts/ptmx\n");
}

TEST_F(MountsTest, DevPtsIsANewInstance) {
  // A fresh devpts: no host ptys are visible, and opening ptmx allocates pts/0.
  ExecResult r = RunSh("ls /dev/pts | tr '\\n' ' '");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Trim(r.out), "ptmx");
}

TEST_F(MountsTest, MountDestinationsAreCreatedInTheRootfsNotOnTheHost) {
  std::string host = MakeDir("mkdir-src");
  std::string dst = "/made/by/runtime-" + std::to_string(getpid());
  ExecResult r = RunSh("stat -c %F " + dst,
                       [&](json& c) { c["mounts"].push_back(BindMount(host, dst, {"rbind"})); });
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "directory\n");
  EXPECT_TRUE(PathExists(SharedRootfs() + dst));
  EXPECT_FALSE(PathExists(dst));
}

TEST_F(MountsTest, BindMountOverAProcFileIsRefused) {
  // /proc write redirection class (CVE-2019-16884): a mount over a /proc file could make the
  // runtime's own writes there (oom_score_adj, attr/...) land somewhere else.
  std::string host = MakeDir("proc-src");
  WriteFile(host + "/f", "0\n");
  for (std::string dst : {"/proc/self/oom_score_adj", "/proc/kmsg", "/proc/sys/kernel/hostname"}) {
    SCOPED_TRACE(dst);
    std::string id = NewId();
    json c = Config(id, {"true"});
    c["mounts"].push_back(BindMount(host + "/f", dst, {"bind"}));
    ExecResult r = Create(id, c);
    EXPECT_NE(r.exit_code, 0) << Describe(r);
    // runc: ... "<rootfs>/proc/kmsg" cannot be mounted because it is inside /proc
    EXPECT_THAT(r.err, HasSubstr("inside /proc"));
    ExpectNoTrace(id);
  }
}

TEST_F(MountsTest, BindMountOverAnAllowedProcFileWorks) {
  // lxcfs-style: /proc/cpuinfo, /proc/meminfo, /proc/uptime ... may be overmounted.
  std::string host = MakeDir("lxcfs-src");
  WriteFile(host + "/cpuinfo", "fake cpuinfo\n");
  ExecResult r = RunSh("cat /proc/cpuinfo", [&](json& c) {
    c["mounts"].push_back(BindMount(host + "/cpuinfo", "/proc/cpuinfo", {"bind", "ro"}));
  });
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "fake cpuinfo\n");
}

TEST_F(MountsTest, ReadonlyPathThatDoesNotExistIsIgnored) {
  ExecResult r = RunSh(
      "echo ok", [](json& c) { c["linux"]["readonlyPaths"].push_back("/proc/does-not-exist"); });
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "ok\n");
}

TEST_F(MountsTest, RelativeRootPathIsRelativeToTheBundle) {
  std::string id = NewId();
  std::string bundle = BundleDir(id);
  BuildRootfs(bundle + "/rootfs");
  WriteFile(bundle + "/rootfs/marker", "bundle rootfs\n");
  json c = Config(id, {"cat", "/marker"});
  c["root"]["path"] = "rootfs";
  ExecResult r = RunContainer(id, c);  // from the test's cwd, not the bundle
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "bundle rootfs\n");
}

}  // namespace
}  // namespace berth::it
