// cgroups: placement at linux.cgroupsPath, resource limits (cgroup v1 here; memory is left alone on
// this host), pause/resume via the freezer, and killing every process of a container that has no
// pid namespace of its own.
#include <gmock/gmock.h>
#include <signal.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;

class CgroupsTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    if (!PathExists("/sys/fs/cgroup/pids/cgroup.procs"))
      GTEST_SKIP() << "needs the cgroup v1 pids controller";
  }
  std::string Cg(const std::string& ctrl, const std::string& id, const std::string& file) {
    return "/sys/fs/cgroup/" + ctrl + "/berth-it-" + id + "/" + file;
  }
  static json WithoutPidNs(json c) {
    auto& ns = c["linux"]["namespaces"];
    for (size_t i = 0; i < ns.size(); ++i)
      if (ns[i]["type"] == "pid") ns.erase(i);
    return c;
  }
};

TEST_F(CgroupsTest, ProcessIsPlacedAtCgroupsPath) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string id = NewId();
  ASSERT_EQ(Create(id, Config(id, {"sleep", "30"})).exit_code, 0);
  pid_t pid = State(id)["pid"].get<pid_t>();
  std::string cgroup = ReadFileOr("/proc/" + std::to_string(pid) + "/cgroup");
  for (auto ctrl : {"pids", "freezer", "cpu,cpuacct|cpu", "devices", "blkio", "cpuset"}) {
    bool found = false;
    for (auto& line : SplitLines(cgroup)) {
      auto f = line.find(':'), l = line.rfind(':');
      std::string ctrls = line.substr(f + 1, l - f - 1), path = line.substr(l + 1);
      std::string want = ctrl;
      for (auto& alt : {want.substr(0, want.find('|')), want.substr(want.find('|') + 1)})
        if (ctrls == alt) {
          found = true;
          EXPECT_EQ(path, "/berth-it-" + id) << ctrls;
        }
    }
    EXPECT_TRUE(found) << "no " << ctrl << " line in\n" << cgroup;
  }
  EXPECT_THAT(ReadFileOr(Cg("pids", id, "cgroup.procs")), HasSubstr(std::to_string(pid)));
}

TEST_F(CgroupsTest, PidsLimitIsWrittenAndEnforced) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string id = NewId();
  // init + 7 sleeps = the limit of 8.
  json c = Config(id, {"sh", "-c", "for i in 1 2 3 4 5 6 7; do sleep 30 & done; wait"});
  c["linux"]["resources"]["pids"] = {{"limit", 8}};
  ASSERT_EQ(Create(id, c).exit_code, 0);
  EXPECT_EQ(ReadFileOr(Cg("pids", id, "pids.max")), "8\n");
  ExecResult s = Runtime({"start", id});
  ASSERT_EQ(s.exit_code, 0) << Describe(s);
  ASSERT_TRUE(WaitUntil([&] { return ReadFileOr(Cg("pids", id, "pids.current")) == "8\n"; }, 5s))
      << "pids.current: " << ReadFileOr(Cg("pids", id, "pids.current"));
  // Full: a process in the container cannot fork (whether or not the runtime's exec gets in).
  ExecResult e = Runtime({"exec", id, "sh", "-c", "true & wait; echo forked"});
  EXPECT_THAT(e.out, ::testing::Not(HasSubstr("forked"))) << Describe(e);
  EXPECT_NE(e.exit_code, 0);
}

TEST_F(CgroupsTest, CpuSharesAndQuota) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string id = NewId();
  json c = Config(id, {"sleep", "30"});
  c["linux"]["resources"]["cpu"] = {{"shares", 512}, {"quota", 50000}, {"period", 100000}};
  ExecResult r = Create(id, c);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(ReadFileOr(Cg("cpu", id, "cpu.shares")), "512\n");
  EXPECT_EQ(ReadFileOr(Cg("cpu", id, "cpu.cfs_quota_us")), "50000\n");
  EXPECT_EQ(ReadFileOr(Cg("cpu", id, "cpu.cfs_period_us")), "100000\n");
}

// /dev/fuse (10:229) is harmless to open and not among the devices a runtime allows by default.
json FuseNode(json c) {
  c["linux"]["devices"] = {
      {{"path", "/dev/myfuse"}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"fileMode", 0600}}};
  c["process"]["args"] = {"sh", "-c",
                          "echo x > /dev/null && echo null-ok; (: < /dev/myfuse); echo rc=$?"};
  return c;
}

TEST_F(CgroupsTest, DeviceCgroupAllowsAnExplicitlyAllowedDevice) {
  if (!PathExists("/dev/fuse")) GTEST_SKIP() << "no /dev/fuse on this host";
  std::string id = NewId();
  json c = FuseNode(Config(id));
  c["linux"]["resources"]["devices"] = {
      {{"allow", false}, {"access", "rwm"}},
      {{"allow", true}, {"type", "c"}, {"major", 10}, {"minor", 229}, {"access", "rw"}}};
  ExecResult r = RunContainer(id, c);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "null-ok\nrc=0\n");
}

TEST_F(CgroupsTest, DeviceCgroupDeniesOtherDevices) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  if (!PathExists("/dev/fuse")) GTEST_SKIP() << "no /dev/fuse on this host";
  std::string id = NewId();
  json c = FuseNode(Config(id));
  c["linux"]["resources"]["devices"] = {{{"allow", false}, {"access", "rwm"}}};
  ExecResult r = RunContainer(id, c);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  // The default devices stay usable; the node exists but the device cgroup refuses it.
  EXPECT_EQ(r.out, "null-ok\nrc=1\n");
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));
}

TEST_F(CgroupsTest, PauseFreezesAndResumeThaws) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string out = MakeDir("out");
  std::string id = NewId();
  json c = Config(
      id, {"sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /out/count; sleep 0.02; done"});
  c["mounts"].push_back(
      {{"destination", "/out"}, {"type", "bind"}, {"source", out}, {"options", {"rbind"}}});
  CreateAndStart(id, c);
  ASSERT_TRUE(WaitUntil([&] { return !ReadFileOr(out + "/count").empty(); }));
  ExecResult p = Runtime({"pause", id});
  ASSERT_EQ(p.exit_code, 0) << Describe(p);
  EXPECT_EQ(Status(id), "paused");
  EXPECT_EQ(Trim(ReadFileOr(Cg("freezer", id, "freezer.state"))), "FROZEN");
  std::string frozen_at = ReadFileOr(out + "/count");
  usleep(300 * 1000);
  EXPECT_EQ(ReadFileOr(out + "/count"), frozen_at) << "the container ran while paused";
  ExecResult r = Runtime({"resume", id});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Status(id), "running");
  EXPECT_TRUE(WaitUntil([&] {
    std::string now = ReadFileOr(out + "/count");
    return !now.empty() && now != frozen_at;
  })) << "the container did not run after resume";
}

TEST_F(CgroupsTest, DeleteForceKillsAPausedContainer) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  pid_t pid = State(id)["pid"].get<pid_t>();
  ASSERT_EQ(Runtime({"pause", id}).exit_code, 0);
  ExecResult d = Runtime({"delete", "--force", id});
  EXPECT_EQ(d.exit_code, 0) << Describe(d);
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }));
  ExpectNoTrace(id);
}

TEST_F(CgroupsTest, KillAllSignalsEveryProcessWithoutPidNamespace) {
  std::string id = NewId();
  std::string t1 = "9" + std::to_string(getpid()) + "1", t2 = "9" + std::to_string(getpid()) + "2";
  CreateAndStart(
      id, WithoutPidNs(Config(id, {"sh", "-c", "sleep " + t1 + " & sleep " + t2 + " & wait"})));
  ASSERT_TRUE(WaitUntil(
      [&] { return ProcessesWithArg(t1).size() == 1 && ProcessesWithArg(t2).size() == 1; }));
  ExecResult k = Runtime({"kill", "--all", id, "KILL"});
  EXPECT_EQ(k.exit_code, 0) << Describe(k);
  EXPECT_TRUE(WaitUntil([&] {
    return ProcessesWithArg(t1).empty() && ProcessesWithArg(t2).empty();
  })) << "kill --all left processes";
  EXPECT_TRUE(WaitForStatus(id, "stopped"));
}

TEST_F(CgroupsTest, DeleteForceKillsEveryProcessWithoutPidNamespace) {
  std::string id = NewId();
  std::string t1 = "9" + std::to_string(getpid()) + "3";
  CreateAndStart(id, WithoutPidNs(Config(id, {"sh", "-c", "sleep " + t1 + " & sleep 31; wait"})));
  ASSERT_TRUE(WaitUntil([&] { return ProcessesWithArg(t1).size() == 1; }));
  ExecResult d = Runtime({"delete", "--force", id});
  EXPECT_EQ(d.exit_code, 0) << Describe(d);
  EXPECT_TRUE(WaitUntil([&] { return ProcessesWithArg(t1).empty(); }))
      << "a child of init survived delete --force";
  ExpectNoTrace(id);
}

TEST_F(CgroupsTest, InitKilledFromTheHostIsStopped) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  pid_t pid = State(id)["pid"].get<pid_t>();
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  EXPECT_TRUE(WaitForStatus(id, "stopped"));
  ExecResult d = Runtime({"delete", id});
  EXPECT_EQ(d.exit_code, 0) << Describe(d);
  ExpectNoTrace(id);
}

TEST_F(CgroupsTest, KillingACreatedContainerStopsIt) {
  std::string id = NewId();
  ASSERT_EQ(Create(id, Config(id, {"sleep", "30"})).exit_code, 0);
  ExecResult k = Runtime({"kill", id, "KILL"});
  EXPECT_EQ(k.exit_code, 0) << Describe(k);
  EXPECT_TRUE(WaitForStatus(id, "stopped"));
  ExecResult s = Runtime({"start", id});
  EXPECT_NE(s.exit_code, 0) << "a killed container cannot be started";
}

}  // namespace
}  // namespace berth::it
