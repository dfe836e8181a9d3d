// linux.seccomp: the filter is installed for the container's process and for exec'd ones, with
// errno/kill actions and argument conditions, and whatever the user and noNewPrivileges are.
#include <gmock/gmock.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;

class SeccompTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    SKIP_UNLESS_FEATURE(RuntimeSupportsSeccomp(), "seccomp support");
  }
  static json Profile(json syscalls) {
    return {{"defaultAction", "SCMP_ACT_ALLOW"},
            {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
            {"syscalls", syscalls}};
  }
  static json DenyMkdir(const std::string& action = "SCMP_ACT_ERRNO") {
    json rule = {{"names", {"mkdir", "mkdirat"}}, {"action", action}};
    if (action == "SCMP_ACT_ERRNO") rule["errnoRet"] = 1;  // EPERM
    return Profile(json::array({rule}));
  }
};

TEST_F(SeccompTest, ErrnoRuleBlocksTheSyscall) {
  ExecResult r = RunSh(
      "grep '^Seccomp:' /proc/self/status; mkdir /tmp/sc-$$; echo rc=$?; touch /tmp/sc-$$ && "
      "echo touch-ok; rm -f /tmp/sc-$$",
      [](json& c) { c["linux"]["seccomp"] = DenyMkdir(); });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "Seccomp:\t2\nrc=1\ntouch-ok\n");
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));
}

TEST_F(SeccompTest, WithoutAProfileThereIsNoFilter) {
  ExecResult r = RunSh("grep '^Seccomp:' /proc/self/status");
  EXPECT_EQ(r.out, "Seccomp:\t0\n") << Describe(r);
}

TEST_F(SeccompTest, ErrnoRetIsReturned) {
  ExecResult r = RunSh("mkdir /tmp/sc-$$; echo rc=$?", [](json& c) {
    c["linux"]["seccomp"] = Profile(
        {{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 28}}});
  });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "rc=1\n");
  EXPECT_THAT(r.err, HasSubstr("No space left on device")) << "errnoRet 28 is ENOSPC";
}

TEST_F(SeccompTest, KillProcessAction) {
  ExecResult r = RunSh("mkdir /tmp/sc-$$; echo rc=$?",
                       [](json& c) { c["linux"]["seccomp"] = DenyMkdir("SCMP_ACT_KILL_PROCESS"); });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "rc=159\n") << "mkdir dies of SIGSYS (128+31)";
}

TEST_F(SeccompTest, ArgumentConditionsSelectTheCall) {
  // socket(AF_INET, ...) is refused with EACCES; socket(AF_UNIX, ...) still works.
  ExecResult r = RunSh(
      "nc 127.0.0.1 1 </dev/null; echo inet-rc=$?; nc local:/tmp/nosock-$$ </dev/null; echo "
      "unix-rc=$?",
      [](json& c) {
        c["linux"]["seccomp"] =
            Profile({{{"names", {"socket"}},
                      {"action", "SCMP_ACT_ERRNO"},
                      {"errnoRet", 13},
                      {"args", {{{"index", 0}, {"value", 2}, {"op", "SCMP_CMP_EQ"}}}}}});
      });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("Permission denied")) << "socket(AF_INET) must fail with EACCES";
  EXPECT_THAT(r.err, ::testing::Not(HasSubstr("Connection refused")));
}

TEST_F(SeccompTest, AppliesToANonRootUserWithoutNoNewPrivileges) {
  // Without noNewPrivileges an unprivileged process may not install a filter itself: the runtime
  // must do it while it still holds CAP_SYS_ADMIN.
  ExecResult r =
      RunSh("grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/sc-$$; echo rc=$?",
            [](json& c) {
              c["process"]["user"] = {{"uid", 1000}, {"gid", 1000}};
              c["process"]["noNewPrivileges"] = false;
              c["linux"]["seccomp"] = DenyMkdir();
            });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "NoNewPrivs:\t0\nSeccomp:\t2\nrc=1\n");
  EXPECT_THAT(r.err, HasSubstr("Operation not permitted"));
}

TEST_F(SeccompTest, ExecdProcessesAreFiltered) {
  std::string id = NewId();
  json c = Config(id, {"sleep", "30"});
  c["linux"]["seccomp"] = DenyMkdir();
  CreateAndStart(id, c);
  ExecResult r = Runtime(
      {"exec", id, "sh", "-c", "grep '^Seccomp:' /proc/self/status; mkdir /tmp/sc-$$; echo rc=$?"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "Seccomp:\t2\nrc=1\n");
}

TEST_F(SeccompTest, UnknownActionFailsCreate) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["linux"]["seccomp"] = Profile({{{"names", {"mkdir"}}, {"action", "SCMP_ACT_BOGUS"}}});
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("SCMP_ACT_BOGUS"));
  ExpectNoTrace(id);
}

}  // namespace
}  // namespace berth::it
