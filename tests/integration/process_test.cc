// `run`: what the container's process sees of config.json's `process` object.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <sys/resource.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

class ProcessTest : public RuntimeTest {};

TEST_F(ProcessTest, RunReturnsTheContainersExitCode) {
  ExecResult r = RunSh("exit 3");
  EXPECT_EQ(r.exit_code, 3) << Describe(r);
}

TEST_F(ProcessTest, RunReturns128PlusSignalWhenTheProcessIsKilled) {
  // Without a pid namespace the shell is not an init, so SIGKILL from inside kills it.
  ExecResult r = RunSh("kill -9 $$", [](json& c) { c["linux"]["namespaces"].erase(0); });
  EXPECT_EQ(r.exit_code, 128 + 9) << Describe(r);
}

TEST_F(ProcessTest, RunPassesStdoutAndStderrThrough) {
  ExecResult r = RunSh("echo to-stdout; echo to-stderr >&2; echo again");
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "to-stdout\nagain\n");
  EXPECT_EQ(r.err, "to-stderr\n");
}

TEST_F(ProcessTest, RunPassesStdinThrough) {
  std::string in = tmp_ + "/stdin.txt";
  WriteFile(in, "line one\nline two\n");
  int fd = open(in.c_str(), O_RDONLY | O_CLOEXEC);
  std::string id = NewId();
  ExecResult r = RunContainer(id, Config(id, {"sh", "-c", "read a; read b; echo \"[$b][$a]\""}), {},
                              {.stdin_fd = fd});
  close(fd);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "[line two][line one]\n");
}

TEST_F(ProcessTest, ProcessIsPid1InItsPidNamespace) {
  ExecResult r = RunSh("echo $$; read comm < /proc/1/comm; echo $comm");
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "1\nsh\n");
}

TEST_F(ProcessTest, EnvIsExactlyProcessEnvPlusHome) {
  std::string id = NewId();
  json c = Config(id, {"env"});
  c["process"]["env"] = {"PATH=/bin:/sbin", "FOO=bar baz", "EMPTY=", "TERM=dumb"};
  ExecResult r = RunContainer(id, c);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  // runc adds HOME from /etc/passwd when process.env has none.
  EXPECT_THAT(SplitLines(r.out), UnorderedElementsAre("PATH=/bin:/sbin", "FOO=bar baz",
                                                      "EMPTY=", "TERM=dumb", "HOME=/root"));
}

TEST_F(ProcessTest, ExplicitHomeIsKept) {
  ExecResult r =
      RunSh("echo $HOME", [](json& c) { c["process"]["env"].push_back("HOME=/custom"); });
  EXPECT_EQ(r.out, "/custom\n") << Describe(r);
}

TEST_F(ProcessTest, ArgsZeroIsLookedUpInProcessEnvPath) {
  std::string id = NewId();
  json c = Config(id, {"echo", "found via PATH"});
  c["process"]["env"] = {"PATH=/nonexistent:/bin"};
  ExecResult r = RunContainer(id, c);
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "found via PATH\n");
}

TEST_F(ProcessTest, ArgsZeroNotInPathFailsNamingTheExecutable) {
  std::string id = NewId();
  json c = Config(id, {"echo", "x"});
  c["process"]["env"] = {"PATH=/nonexistent"};
  ExecResult r = RunContainer(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  // runc: exec: "echo": executable file not found in $PATH
  EXPECT_THAT(r.err, HasSubstr("echo"));
  EXPECT_THAT(r.err, HasSubstr("executable file not found in $PATH"));
  EXPECT_EQ(r.out, "");
}

TEST_F(ProcessTest, CwdIsProcessCwd) {
  ExecResult r =
      RunSh("pwd; readlink /proc/self/cwd", [](json& c) { c["process"]["cwd"] = "/tmp"; });
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "/tmp\n/tmp\n");
}

TEST_F(ProcessTest, MissingCwdIsCreated) {
  // runc creates a missing cwd (mode 0755) rather than failing.
  std::string dir = "/tmp/cwd-" + std::to_string(getpid()) + "-" + std::to_string(rand());
  ExecResult r =
      RunSh("pwd; stat -c '%a %F' .", [&](json& c) { c["process"]["cwd"] = dir + "/sub"; });
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, dir + "/sub\n755 directory\n");
}

TEST_F(ProcessTest, UserUidGidAndAdditionalGids) {
  ExecResult r =
      RunSh("id -u; id -g; id -G; grep -E '^(Uid|Gid|Groups):' /proc/self/status", [](json& c) {
        c["process"]["user"] = {{"uid", 1000}, {"gid", 100}, {"additionalGids", {10, 5}}};
      });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r.out;
  EXPECT_EQ(lines[0], "1000");
  EXPECT_EQ(lines[1], "100");
  auto groups = SplitWs(lines[2]);
  EXPECT_THAT(groups, UnorderedElementsAre("100", "10", "5"));
  EXPECT_THAT(SplitWs(lines[3]), ElementsAre("Uid:", "1000", "1000", "1000", "1000"));
  EXPECT_THAT(SplitWs(lines[4]), ElementsAre("Gid:", "100", "100", "100", "100"));
  EXPECT_THAT(SplitWs(lines[5]), UnorderedElementsAre("Groups:", "10", "5"));
}

TEST_F(ProcessTest, RootUserHasNoSupplementaryGroupsByDefault) {
  ExecResult r = RunSh("grep '^Groups:' /proc/self/status");
  EXPECT_EQ(Trim(r.out), "Groups:") << Describe(r);
}

TEST_F(ProcessTest, UmaskIsApplied) {
  ExecResult r = RunSh("umask; touch /tmp/umask-$$; stat -c %a /tmp/umask-$$; rm /tmp/umask-$$",
                       [](json& c) { c["process"]["user"]["umask"] = 027; });
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "0027\n640\n");
}

TEST_F(ProcessTest, DefaultUmaskIs0022) {
  ExecResult r = RunSh("umask");
  EXPECT_EQ(r.out, "0022\n") << Describe(r);
}

static std::map<std::string, std::string> CapLines(const ExecResult& r) {
  auto st = ParseStatus(r.out);
  std::map<std::string, std::string> out;
  for (auto k : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"}) out[k] = st[k];
  return out;
}

static std::string Hex16(uint64_t v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

TEST_F(ProcessTest, CapabilitiesAreExactlyTheConfiguredSets) {
  ExecResult r = RunSh("cat /proc/self/status", [](json& c) {
    c["process"]["capabilities"] = {{"bounding", {"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"}},
                                    {"effective", {"CAP_KILL", "CAP_NET_BIND_SERVICE"}},
                                    {"permitted", {"CAP_KILL", "CAP_NET_BIND_SERVICE"}},
                                    {"inheritable", {"CAP_KILL"}}};
  });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto caps = CapLines(r);
  EXPECT_EQ(caps["CapBnd"], Hex16(CapMask({"CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_CHOWN"})));
  EXPECT_EQ(caps["CapEff"], Hex16(CapMask({"CAP_KILL", "CAP_NET_BIND_SERVICE"})));
  EXPECT_EQ(caps["CapPrm"], Hex16(CapMask({"CAP_KILL", "CAP_NET_BIND_SERVICE"})));
  EXPECT_EQ(caps["CapInh"], Hex16(CapMask({"CAP_KILL"})));
  EXPECT_EQ(caps["CapAmb"], Hex16(0));
}

TEST_F(ProcessTest, DefaultCapabilities) {
  ExecResult r = RunSh("cat /proc/self/status");
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto caps = CapLines(r);
  uint64_t def = CapMask({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"});
  EXPECT_EQ(caps["CapBnd"], Hex16(def));
  EXPECT_EQ(caps["CapEff"], Hex16(def));
  EXPECT_EQ(caps["CapPrm"], Hex16(def));
  EXPECT_EQ(caps["CapInh"], Hex16(0));
  EXPECT_EQ(caps["CapAmb"], Hex16(0));
}

TEST_F(ProcessTest, DroppedCapabilityIsEnforced) {
  // CAP_CHOWN is not in the default set: chown to another user fails even as root.
  ExecResult r = RunSh("touch /tmp/c$$; chown 1000 /tmp/c$$; echo rc=$?; rm -f /tmp/c$$");
  EXPECT_THAT(r.out, HasSubstr("rc=1")) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));
}

TEST_F(ProcessTest, AmbientCapabilitiesForNonRootUser) {
  ExecResult r = RunSh("cat /proc/self/status", [](json& c) {
    json set = {"CAP_NET_BIND_SERVICE"};
    c["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
    c["process"]["capabilities"] = {{"bounding", {"CAP_NET_BIND_SERVICE", "CAP_KILL"}},
                                    {"effective", set},
                                    {"permitted", set},
                                    {"inheritable", set},
                                    {"ambient", set}};
  });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto caps = CapLines(r);
  uint64_t nbs = CapMask({"CAP_NET_BIND_SERVICE"});
  EXPECT_EQ(ParseStatus(r.out)["Uid"], "1000\t1000\t1000\t1000");
  EXPECT_EQ(caps["CapAmb"], Hex16(nbs));
  EXPECT_EQ(caps["CapEff"], Hex16(nbs));
  EXPECT_EQ(caps["CapPrm"], Hex16(nbs));
  EXPECT_EQ(caps["CapInh"], Hex16(nbs));
  EXPECT_EQ(caps["CapBnd"], Hex16(CapMask({"CAP_NET_BIND_SERVICE", "CAP_KILL"})));
}

TEST_F(ProcessTest, NonRootUserWithoutAmbientHasNoEffectiveCaps) {
  ExecResult r = RunSh("cat /proc/self/status", [](json& c) {
    c["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
  });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto caps = CapLines(r);
  EXPECT_EQ(caps["CapEff"], Hex16(0));
  EXPECT_EQ(caps["CapPrm"], Hex16(0));
  EXPECT_EQ(caps["CapBnd"],
            Hex16(CapMask({"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"})));
}

TEST_F(ProcessTest, NoNewPrivilegesTrue) {
  ExecResult r = RunSh("grep NoNewPrivs /proc/self/status");
  EXPECT_EQ(SplitWs(r.out), (std::vector<std::string>{"NoNewPrivs:", "1"})) << Describe(r);
}

TEST_F(ProcessTest, NoNewPrivilegesFalse) {
  ExecResult r = RunSh("grep NoNewPrivs /proc/self/status",
                       [](json& c) { c["process"]["noNewPrivileges"] = false; });
  EXPECT_EQ(SplitWs(r.out), (std::vector<std::string>{"NoNewPrivs:", "0"})) << Describe(r);
}

// "Max open files            512                  1000                 files" -> {512, 1000}
static std::pair<std::string, std::string> LimitOf(const std::string& limits,
                                                   const std::string& name) {
  for (auto& line : SplitLines(limits)) {
    if (line.rfind(name, 0) != 0) continue;
    auto f = SplitWs(line.substr(name.size()));
    if (f.size() >= 2) return {f[0], f[1]};
  }
  return {"?", "?"};
}

TEST_F(ProcessTest, RlimitsAreApplied) {
  ExecResult r = RunSh("cat /proc/self/limits; ulimit -n", [](json& c) {
    c["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"}, {"soft", 512}, {"hard", 1000}},
                               {{"type", "RLIMIT_CORE"}, {"soft", 0}, {"hard", 4096}},
                               {{"type", "RLIMIT_NPROC"}, {"soft", 300}, {"hard", 400}},
                               {{"type", "RLIMIT_MEMLOCK"}, {"soft", 4096}, {"hard", 8192}}};
  });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(LimitOf(r.out, "Max open files"),
            std::make_pair(std::string("512"), std::string("1000")));
  EXPECT_EQ(LimitOf(r.out, "Max core file size"),
            std::make_pair(std::string("0"), std::string("4096")));
  EXPECT_EQ(LimitOf(r.out, "Max processes"),
            std::make_pair(std::string("300"), std::string("400")));
  EXPECT_EQ(LimitOf(r.out, "Max locked memory"),
            std::make_pair(std::string("4096"), std::string("8192")));
  EXPECT_EQ(SplitLines(r.out).back(), "512");
}

TEST_F(ProcessTest, RlimitNofileAboveHostHardLimitFailsNamingTheLimit) {
  SKIP_ON_RUNC("runc 1.1 reports only 'error setting rlimit type 7: operation not permitted'");
  struct rlimit host;
  getrlimit(RLIMIT_NOFILE, &host);
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["process"]["rlimits"] = {{{"type", "RLIMIT_NOFILE"},
                              {"soft", 1024},
                              {"hard", static_cast<uint64_t>(host.rlim_max) + 1000}}};
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("RLIMIT_NOFILE")) << Describe(r);
  ExpectNoTrace(id);
}

TEST_F(ProcessTest, OomScoreAdjIsApplied) {
  ExecResult r =
      RunSh("cat /proc/self/oom_score_adj", [](json& c) { c["process"]["oomScoreAdj"] = 500; });
  EXPECT_EQ(r.out, "500\n") << Describe(r);
}

TEST_F(ProcessTest, ArgsWithSpacesAndQuotesArePassedVerbatim) {
  std::string id = NewId();
  ExecResult r = RunContainer(id, Config(id, {"sh", "-c", "for a; do echo \"<$a>\"; done", "sh",
                                              "a b", "'q'", "", "$HOME"}));
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "<a b>\n<'q'>\n<>\n<$HOME>\n");
}

}  // namespace
}  // namespace berth::it
