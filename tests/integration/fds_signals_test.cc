// File descriptors the container gets (--preserve-fds, LISTEN_FDS) and does not get (the
// runtime's own, its cwd), and signals `run` forwards to the container.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <signal.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;

class FdsTest : public RuntimeTest {
 protected:
  int OpenWith(const std::string& name, const std::string& content) {
    std::string path = tmp_ + "/" + name;
    WriteFile(path, content);
    return open(path.c_str(), O_RDONLY | O_CLOEXEC);
  }
  // `ls /proc/$$/fd` runs as a child of the shell: it lists exactly the shell's fds, one per line
  // (no pipeline or command substitution: those would add the shell's own pipe fds).
  static constexpr const char* kListFds = "ls /proc/$$/fd; true";  // `; true`: not exec'd by sh
  static std::string Tail(const std::vector<std::string>& lines, size_t from) {
    std::string out;
    for (size_t i = from; i < lines.size(); ++i) out += (out.empty() ? "" : " ") + lines[i];
    return out;
  }
};

TEST_F(FdsTest, PreserveFdsPassesExtraFds) {
  int fd3 = OpenWith("fd3", "content of fd 3\n");
  int fd4 = OpenWith("fd4", "content of fd 4\n");
  std::string id = NewId();
  ExecResult r =
      RunContainer(id, Config(id, {"sh", "-c", std::string("cat <&3; cat <&4; ") + kListFds}),
                   {"--preserve-fds", "2"}, {.extra_fds = {{3, fd3}, {4, fd4}}});
  close(fd3);
  close(fd4);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_GE(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0], "content of fd 3");
  EXPECT_EQ(lines[1], "content of fd 4");
  EXPECT_EQ(Tail(lines, 2), "0 1 2 3 4");
}

TEST_F(FdsTest, PreserveFdsWithCreateAndStart) {
  int fd3 = OpenWith("fd3", "preserved across create\n");
  std::string id = NewId();
  ExecResult c = Create(id, Config(id, {"sh", "-c", "cat <&3"}), {"--preserve-fds", "1"},
                        {.extra_fds = {{3, fd3}}});
  close(fd3);
  ASSERT_EQ(c.exit_code, 0) << Describe(c);
  ASSERT_EQ(Runtime({"start", id}).exit_code, 0);
  ASSERT_TRUE(WaitForStatus(id, "stopped"));
  EXPECT_EQ(ReadFileOr(c.out_path), "preserved across create\n");
}

TEST_F(FdsTest, ListenFdsArePassedForSocketActivation) {
  int fd3 = OpenWith("listen", "activated\n");
  std::string id = NewId();
  ExecResult r = RunContainer(
      id,
      Config(id, {"sh", "-c", std::string("cat <&3; echo $LISTEN_FDS $LISTEN_PID; ") + kListFds}),
      {}, {.env = {{"LISTEN_FDS", "1"}}, .extra_fds = {{3, fd3}}, .set_listen_pid = true});
  close(fd3);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_GE(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0], "activated");
  // The container's process is pid 1: LISTEN_PID is rewritten to match it.
  EXPECT_EQ(lines[1], "1 1");
  EXPECT_EQ(Tail(lines, 2), "0 1 2 3");
}

TEST_F(FdsTest, TheRuntimesFdsDoNotLeakIntoTheContainer) {
  // fds 3 and 4 are open in the runtime (not close-on-exec) but not preserved.
  int fd3 = OpenWith("leak3", "must not be seen\n");
  int fd4 = OpenWith("leak4", "must not be seen\n");
  std::string id = NewId();
  ExecResult r =
      RunContainer(id, Config(id, {"sh", "-c", kListFds}), {}, {.extra_fds = {{3, fd3}, {4, fd4}}});
  close(fd3);
  close(fd4);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Tail(SplitLines(r.out), 0), "0 1 2") << "pid 1 holds only stdio";
}

TEST_F(FdsTest, ExecDoesNotLeakFds) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  int fd3 = OpenWith("leak3", "must not be seen\n");
  ExecResult r = Runtime({"exec", id, "sh", "-c", kListFds}, {.extra_fds = {{3, fd3}}});
  close(fd3);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Tail(SplitLines(r.out), 0), "0 1 2");
}

TEST_F(FdsTest, ContainerCwdIsNotAHostDirectory) {
  // CVE-2024-21626 class: no host directory may be reachable as the process's cwd or an fd.
  std::string id = NewId();
  ExecResult r = RunContainer(
      id,
      Config(id,
             {"sh", "-c",
              "readlink /proc/self/cwd; cd ..; pwd; ls /proc/self/cwd/../ | grep -c berth-it"}));
  auto lines = SplitLines(r.out);
  ASSERT_GE(lines.size(), 3u) << Describe(r);
  EXPECT_EQ(lines[0], "/");
  EXPECT_EQ(lines[1], "/");
  EXPECT_EQ(lines[2], "0");
}

TEST_F(FdsTest, ExecCwdIsNotAHostDirectory) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  ExecResult r = Runtime({"exec", "--cwd", "/tmp", id, "sh", "-c",
                          "readlink /proc/self/cwd; readlink /proc/self/root"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "/tmp\n/\n");
}

// Climbing `..` from the cwd must reach the container's root; from a host directory it would not.
constexpr const char* kCwdContained =
    "[ \"$(stat -c %d:%i /)\" = \"$(cd ../../../../../../../../../.. && stat -c %d:%i .)\" ] && "
    "echo contained "
    "|| echo ESCAPED";

TEST_F(FdsTest, LeakedFdAsCwdCannotEscape_CVE_2024_21626) {
  // process.cwd = /proc/self/fd/N: if the runtime leaked a host directory fd N into the init, the
  // process would start in a host directory. The runtime must refuse or stay inside.
  for (int n = 3; n <= 9; ++n) {
    SCOPED_TRACE("cwd /proc/self/fd/" + std::to_string(n));
    std::string id = NewId();
    json c = Config(id, {"sh", "-c", kCwdContained});
    c["process"]["cwd"] = "/proc/self/fd/" + std::to_string(n);
    ExecResult r = RunContainer(id, c);
    EXPECT_THAT(r.out, ::testing::Not(HasSubstr("ESCAPED"))) << Describe(r);
    if (r.exit_code == 0) {
      EXPECT_EQ(r.out, "contained\n");
    }
  }
}

TEST_F(FdsTest, LeakedFdAsExecCwdCannotEscape_CVE_2024_21626) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  for (int n = 3; n <= 9; ++n) {
    SCOPED_TRACE("exec --cwd /proc/self/fd/" + std::to_string(n));
    ExecResult r = Runtime(
        {"exec", "--cwd", "/proc/self/fd/" + std::to_string(n), id, "sh", "-c", kCwdContained});
    EXPECT_THAT(r.out, ::testing::Not(HasSubstr("ESCAPED"))) << Describe(r);
    if (r.exit_code == 0) {
      EXPECT_EQ(r.out, "contained\n");
    }
  }
}

class SignalsTest : public RuntimeTest {};

TEST_F(SignalsTest, RunForwardsSigtermToTheContainer) {
  std::string id = NewId();
  Track(id);
  WriteBundle(id, Config(id, {"sh", "-c",
                              "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done"}));
  Process run = SpawnRuntime({"run", "--bundle", BundleDir(id), id});
  ASSERT_TRUE(WaitUntil([&] { return run.ReadStdout() == "ready\n"; }))
      << "container never got ready";
  ASSERT_EQ(kill(run.pid(), SIGTERM), 0);
  ExecResult r = run.Wait(10s);
  EXPECT_EQ(r.exit_code, 42) << Describe(r);
}

TEST_F(SignalsTest, RunForwardsSigusr1AndSighup) {
  std::string id = NewId();
  Track(id);
  WriteBundle(id, Config(id, {"sh", "-c",
                              "trap 'echo usr1' USR1; trap 'echo hup; exit 9' HUP; echo ready; "
                              "while :; do sleep 0.05; done"}));
  Process run = SpawnRuntime({"run", "--bundle", BundleDir(id), id});
  ASSERT_TRUE(WaitUntil([&] { return run.ReadStdout() == "ready\n"; }));
  ASSERT_EQ(kill(run.pid(), SIGUSR1), 0);
  ASSERT_TRUE(WaitUntil([&] { return run.ReadStdout() == "ready\nusr1\n"; })) << run.ReadStdout();
  ASSERT_EQ(kill(run.pid(), SIGHUP), 0);
  ExecResult r = run.Wait(10s);
  EXPECT_EQ(r.exit_code, 9) << Describe(r);
  EXPECT_EQ(r.out, "ready\nusr1\nhup\n");
}

TEST_F(SignalsTest, RunDetachReturnsWithTheContainerRunning) {
  std::string id = NewId();
  ExecResult r = RunContainer(id, Config(id, {"sleep", "30"}), {"--detach"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_LT(r.elapsed.count(), 5000);
  json st = State(id);
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st["status"], "running");
  TrackPid(st["pid"].get<pid_t>());
}

TEST_F(SignalsTest, KillingTheContainerMakesRunReturn137) {
  std::string id = NewId();
  Track(id);
  WriteBundle(id, Config(id, {"sh", "-c", "echo ready; sleep 30"}));
  Process run = SpawnRuntime({"run", "--bundle", BundleDir(id), id});
  ASSERT_TRUE(WaitUntil([&] { return run.ReadStdout() == "ready\n"; }));
  ExecResult k = Runtime({"kill", id, "KILL"});
  EXPECT_EQ(k.exit_code, 0) << Describe(k);
  ExecResult r = run.Wait(10s);
  EXPECT_EQ(r.exit_code, 137) << Describe(r);
}

}  // namespace
}  // namespace berth::it
