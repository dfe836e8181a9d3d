// The berthd binary: flags and config file like dockerd's, one daemon per socket, SIGTERM.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "api_fixture.h"

extern char** environ;

namespace berth::test {
namespace {

using ::testing::HasSubstr;

const std::string kBerthd = std::string(BERTH_BIN_DIR) + "/berthd";

#define SKIP_UNLESS_BERTHD()                                                            \
  do {                                                                                  \
    if (geteuid() != 0) GTEST_SKIP() << "needs root";                                   \
    if (access(kBerthd.c_str(), X_OK) != 0) GTEST_SKIP() << kBerthd << " is not built"; \
  } while (0)

// A berthd on private roots, killed and reaped by the destructor if still running.
class Daemon {
 public:
  explicit Daemon(const TempDir& tmp, std::vector<std::string> extra = {}) {
    socket = tmp.sub("run/berth.sock");
    std::vector<std::string> args = {
        kBerthd,        "--data-root", tmp.sub("root"),      "--exec-root",
        tmp.sub("run"), "--pidfile",   tmp.sub("berthd.pid")};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    std::string log = tmp.sub("berthd.log");
    posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    if (posix_spawn(&pid, kBerthd.c_str(), &fa, nullptr, argv.data(), environ) == 0)
      proc = ChildProcess(pid);
    posix_spawn_file_actions_destroy(&fa);
  }
  bool WaitReady() {
    for (int i = 0; i < 100; i++) {
      auto c = RawClient::Connect(socket);
      if (c && c->Request("GET", "/_ping")) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }
  std::string socket;
  ChildProcess proc;
};

TEST(BerthdTest, VersionAndHelp) {
  SKIP_UNLESS_BERTHD();
  auto v = RunCommand({kBerthd, "--version"});
  EXPECT_TRUE(v.ok());
  EXPECT_THAT(v.output, HasSubstr("berthd version " BERTH_VERSION));
  auto h = RunCommand({kBerthd, "--help"});
  EXPECT_TRUE(h.ok());
  for (const char* flag :
       {"--data-root", "--exec-root", "--host", "--pidfile", "--group", "--insecure-registry",
        "--add-runtime", "--default-runtime", "--log-level", "--config-file", "--tlsverify"})
    EXPECT_THAT(h.output, HasSubstr(flag));
}

TEST(BerthdTest, ConfigFileConflictsAndUnknownKeys) {
  SKIP_UNLESS_BERTHD();
  TempDir tmp;
  WriteFile(tmp.sub("daemon.json"), R"({"data-root": "/somewhere", "log-level": "debug"})");
  auto both = RunCommand(
      {kBerthd, "--config-file", tmp.sub("daemon.json"), "--data-root", tmp.sub("root")});
  EXPECT_FALSE(both.ok());
  EXPECT_THAT(both.output, HasSubstr("the following directives are specified both as a flag and "
                                     "in the configuration file: data-root: (from flag: " +
                                     tmp.sub("root") + ", from file: /somewhere)"));
  WriteFile(tmp.sub("bad.json"), R"({"bogus": 1})");
  auto unknown = RunCommand({kBerthd, "--config-file", tmp.sub("bad.json")});
  EXPECT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.output,
              HasSubstr("the following directives don't match any configuration option: bogus"));
  WriteFile(tmp.sub("broken.json"), "{");
  EXPECT_FALSE(RunCommand({kBerthd, "--config-file", tmp.sub("broken.json")}).ok());
  auto tcp = RunCommand({kBerthd, "-H", "tcp://127.0.0.1:2375", "--data-root", tmp.sub("r")});
  EXPECT_FALSE(tcp.ok());
  EXPECT_THAT(tcp.output, HasSubstr("--tlsverify"));
  auto level = RunCommand({kBerthd, "--log-level", "loud"});
  EXPECT_FALSE(level.ok());
  EXPECT_THAT(level.output, HasSubstr("unable to parse logging level: loud"));
  // Nothing was created by the refused starts.
  EXPECT_NE(access(tmp.sub("root").c_str(), F_OK), 0);
  EXPECT_NE(access(tmp.sub("r").c_str(), F_OK), 0);
}

TEST(BerthdTest, ServesRefusesASecondDaemonAndStopsOnSigterm) {
  SKIP_UNLESS_BERTHD();
  TempDir tmp;
  Daemon d(tmp);
  ASSERT_TRUE(d.WaitReady()) << read_file(tmp.sub("berthd.log")).value_or("");
  struct stat st;
  ASSERT_EQ(stat(d.socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0660u);
  auto pid = read_file(tmp.sub("berthd.pid"));
  ASSERT_TRUE(pid);
  EXPECT_EQ(atoi(pid->c_str()), d.proc.pid());

  auto c = RawClient::Connect(d.socket);
  ASSERT_TRUE(c);
  auto v = c->Request("GET", "/v1.47/version");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->status, 200);
  auto ni = c->Request("GET", "/networks");
  ASSERT_TRUE(ni);
  EXPECT_EQ(ni->status, 501);

  auto second = RunCommand({kBerthd, "--data-root", tmp.sub("root2"), "--exec-root", tmp.sub("run"),
                            "--pidfile", tmp.sub("other.pid")});
  EXPECT_FALSE(second.ok());
  EXPECT_THAT(second.output, HasSubstr("another berthd is listening on " + d.socket));
  EXPECT_NE(access(tmp.sub("root2").c_str(), F_OK), 0) << "the refused daemon touched its root";

  ASSERT_EQ(kill(d.proc.pid(), SIGTERM), 0);
  auto t0 = std::chrono::steady_clock::now();
  auto status = d.proc.wait();
  ASSERT_TRUE(status);
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(15));
  EXPECT_NE(access(d.socket.c_str(), F_OK), 0) << "socket left behind";
  EXPECT_NE(access(tmp.sub("berthd.pid").c_str(), F_OK), 0) << "pid file left behind";
}

}  // namespace
}  // namespace berth::test
