// `exec`: a new process in a running container's namespaces, from flags or --process.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;

class ExecTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    out_ = MakeDir("out");
    id_ = NewId();
    json c = Config(id_, {"sleep", "30"});
    c["hostname"] = "exec-target";
    c["process"]["env"].push_back("FROM_CONFIG=yes");
    c["mounts"].push_back({{"destination", "/out"},
                           {"type", "bind"},
                           {"source", out_},
                           {"options", {"rbind", "rw"}}});
    CreateAndStart(id_, c);
    init_pid_ = State(id_)["pid"].get<pid_t>();
  }
  std::string Ns(pid_t pid, const std::string& t) {
    char buf[128] = {};
    ssize_t n =
        readlink(("/proc/" + std::to_string(pid) + "/ns/" + t).c_str(), buf, sizeof buf - 1);
    return n > 0 ? std::string(buf, n) : "?";
  }
  std::string id_, out_;
  pid_t init_pid_ = -1;
};

TEST_F(ExecTest, ExecRunsACommand) {
  ExecResult r = Runtime({"exec", id_, "echo", "hi"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "hi\n");
}

TEST_F(ExecTest, ExecJoinsTheContainersNamespaces) {
  ExecResult r = Runtime(
      {"exec", id_, "sh", "-c",
       "hostname; echo $$; for n in pid net ipc uts mnt; do readlink /proc/self/ns/$n; done"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 7u) << r.out;
  EXPECT_EQ(lines[0], "exec-target");
  EXPECT_NE(lines[1], "1") << "an exec'd process is not the container's init";
  EXPECT_EQ(lines[2], Ns(init_pid_, "pid"));
  EXPECT_EQ(lines[3], Ns(init_pid_, "net"));
  EXPECT_EQ(lines[4], Ns(init_pid_, "ipc"));
  EXPECT_EQ(lines[5], Ns(init_pid_, "uts"));
  EXPECT_EQ(lines[6], Ns(init_pid_, "mnt"));
}

TEST_F(ExecTest, ExecExitCodePropagates) {
  ExecResult r = Runtime({"exec", id_, "sh", "-c", "exit 5"});
  EXPECT_EQ(r.exit_code, 5) << Describe(r);
}

TEST_F(ExecTest, ExecStderrPassesThrough) {
  ExecResult r = Runtime({"exec", id_, "sh", "-c", "echo oops >&2"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.err, "oops\n");
}

TEST_F(ExecTest, ExecWithEnvCwdAndUser) {
  ExecResult r = Runtime({"exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:100", id_,
                          "sh", "-c", "echo $FOO; echo $FROM_CONFIG; pwd; id -u; id -g"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "bar\nyes\n/tmp\n1000\n100\n");
}

TEST_F(ExecTest, ExecWithAdditionalGroups) {
  ExecResult r = Runtime({"exec", "--user", "1000:1000", "--additional-gids", "10",
                          "--additional-gids", "5", id_, "grep", "^Groups:", "/proc/self/status"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto f = SplitWs(r.out);
  ASSERT_EQ(f.size(), 3u) << r.out;
  EXPECT_EQ(std::set<std::string>(f.begin() + 1, f.end()), (std::set<std::string>{"10", "5"}));
}

TEST_F(ExecTest, ExecUsesTheContainersCapabilitiesAndNoNewPrivs) {
  ExecResult r =
      Runtime({"exec", id_, "grep", "-E", "^(CapEff|CapBnd|NoNewPrivs):", "/proc/self/status"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto st = ParseStatus(r.out);
  char buf[32];
  snprintf(buf, sizeof buf, "%016llx",
           static_cast<unsigned long long>(
               CapMask({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"})));
  EXPECT_EQ(st["CapEff"], buf);
  EXPECT_EQ(st["CapBnd"], buf);
  EXPECT_EQ(st["NoNewPrivs"], "1");
}

TEST_F(ExecTest, ExecFromProcessJson) {
  json p = {
      {"terminal", false},
      {"user", {{"uid", 1000}, {"gid", 1000}}},
      {"args",
       {"sh", "-c", "echo $X; pwd; id -u; cat /proc/self/oom_score_adj >/dev/null; echo done"}},
      {"env", {"PATH=/bin", "X=from-process-json"}},
      {"cwd", "/home/user"}};
  std::string path = tmp_ + "/process.json";
  WriteFile(path, p.dump());
  ExecResult r = Runtime({"exec", "--process", path, id_});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "from-process-json\n/home/user\n1000\ndone\n");
}

TEST_F(ExecTest, ExecDetachedReturnsAndTheProcessRuns) {
  std::string pid_file = tmp_ + "/exec.pid";
  ExecResult r = Runtime({"exec", "-d", "--pid-file", pid_file, id_, "sh", "-c",
                          "sleep 0.3; echo detached > /out/exec-d"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_LT(r.elapsed.count(), 3000) << "exec -d must not wait for the process";
  std::string pid = Trim(ReadFileOr(pid_file));
  ASSERT_FALSE(pid.empty()) << "exec --pid-file not written";
  TrackPid(std::stoi(pid));
  EXPECT_TRUE(WaitUntil([&] { return ReadFileOr(out_ + "/exec-d") == "detached\n"; }))
      << "the detached process never ran";
}

TEST_F(ExecTest, ExecInAStoppedContainerFails) {
  ASSERT_EQ(Runtime({"kill", id_, "KILL"}).exit_code, 0);
  ASSERT_TRUE(WaitForStatus(id_, "stopped"));
  ExecResult r = Runtime({"exec", id_, "true"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  // runc: "exec failed: cannot exec in a stopped container"
  EXPECT_THAT(r.err, HasSubstr("stopped"));
}

TEST_F(ExecTest, ExecOfAMissingExecutableFails) {
  ExecResult r = Runtime({"exec", id_, "/no/such/binary"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("/no/such/binary"));
  EXPECT_EQ(Status(id_), "running") << "a failed exec must not hurt the container";
}

TEST_F(ExecTest, ExecInAPausedContainerFails) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support (pause needs the freezer)");
  ASSERT_EQ(Runtime({"pause", id_}).exit_code, 0);
  ExecResult r = Runtime({"exec", id_, "true"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  // runc: "exec failed: cannot exec in a paused container (use --ignore-paused to override)"
  EXPECT_THAT(r.err, HasSubstr("paused"));
  ASSERT_EQ(Runtime({"resume", id_}).exit_code, 0);
}

TEST_F(ExecTest, ExecPreservesFds) {
  std::string path = tmp_ + "/exec-fd3";
  WriteFile(path, "exec fd 3\n");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ExecResult r = Runtime({"exec", "--preserve-fds", "1", id_, "sh", "-c", "cat <&3"},
                         {.extra_fds = {{3, fd}}});
  close(fd);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "exec fd 3\n");
}

}  // namespace
}  // namespace berth::it
