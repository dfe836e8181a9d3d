// seccomp::compile: every error names its field; a docker-like profile becomes a program whose
// decisions (run here through a small cBPF interpreter, no kernel involved) are the profile's:
// actions, errno values, argument conditions, architectures and the ENOSYS stub. Also the
// seccomp-notify message and its handover over a socketpair.
#include "runtime/seccomp.h"

#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "oci/spec.h"
#include "seccomp_bpf.h"

namespace berth::runtime::seccomp {
namespace {

using nlohmann::json;
using namespace berth::test::bpf;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The profile as the runtime gets it: parsed from a config.json. Fails the test if it does
// not parse (compile() sees only what parse_spec accepted).
oci::Seccomp parse_profile(const json& profile) {
  json config = {{"ociVersion", "1.2.0"},
                 {"root", {{"path", "rootfs"}}},
                 {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
                 {"linux", {{"namespaces", {{{"type", "mount"}}}}, {"seccomp", profile}}}};
  Result<oci::Spec> spec = oci::parse_spec(config.dump());
  EXPECT_TRUE(spec) << spec.error().what();
  if (!spec || !spec->linux || !spec->linux->seccomp) return {};
  return *spec->linux->seccomp;
}

json docker_like() {
  return json::parse(read_text(std::string(BERTH_TEST_DATA) + "/seccomp/docker_like.json"));
}

json allow_profile(json syscalls = json::array()) {
  return {{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", std::move(syscalls)}};
}

// compile()'s error text for a profile that must be refused.
std::string compile_error(const oci::Seccomp& profile) {
  Result<Filter> f = compile(profile);
  if (f) return "";
  EXPECT_EQ(f.error().kind(), ErrorKind::InvalidArgument) << f.error().what();
  return f.error().what();
}

Filter compile_ok(const json& profile) {
  Result<Filter> f = compile(parse_profile(profile));
  EXPECT_TRUE(f) << f.error().what();
  return f ? std::move(*f) : Filter{};
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-seccomp-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// ---------------------------------------------------------------------------------------------
// A docker-like profile.

TEST(Seccomp, DockerLikeProfileCompiles) {
  Filter f = compile_ok(docker_like());
  EXPECT_GT(f.program.size(), 10u);
  EXPECT_LE(f.program.size(), size_t{BPF_MAXINSNS});
  EXPECT_EQ(f.flags, 0u);
  EXPECT_FALSE(f.notify);
}

#if defined(__x86_64__)
TEST(Seccomp, DockerLikeProfileDecisions) {
  Filter f = compile_ok(docker_like());
  auto on = [&](uint32_t nr, std::array<uint64_t, 6> args = {}) {
    return run(f.program, Call{AUDIT_ARCH_X86_64, nr, args});
  };
  EXPECT_EQ(on(SYS_read), kAllow);
  EXPECT_EQ(on(SYS_getpid), kAllow);
  EXPECT_EQ(on(SYS_futex_waitv), kAllow);
  EXPECT_EQ(on(SYS_mount), errno_ret(EPERM)) << "not listed: defaultErrnoRet 1";
  EXPECT_EQ(on(SYS_clone3), errno_ret(ENOSYS)) << "errnoRet 38";
  EXPECT_EQ(on(SYS_ptrace), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(on(SYS_reboot), SECCOMP_RET_LOG);
  // Syscall numbers above the largest the profile names: ENOSYS, so libc falls back.
  EXPECT_EQ(on(SYS_futex_waitv + 1), errno_ret(ENOSYS));
  EXPECT_EQ(on(1000), errno_ret(ENOSYS));
  // socket: any family but AF_VSOCK.
  EXPECT_EQ(on(SYS_socket, {AF_UNIX}), kAllow);
  EXPECT_EQ(on(SYS_socket, {40}), errno_ret(EPERM));
  // personality: the listed values only.
  EXPECT_EQ(on(SYS_personality, {0xffffffff}), kAllow);
  EXPECT_EQ(on(SYS_personality, {8}), kAllow);
  EXPECT_EQ(on(SYS_personality, {0x0400000}), errno_ret(EPERM));
  // clone: no CLONE_NEW* flag (MASKED_EQ with valueTwo 0).
  EXPECT_EQ(on(SYS_clone, {0x11 /* SIGCHLD | ... */}), kAllow);
  EXPECT_EQ(on(SYS_clone, {0x10000000 /* CLONE_NEWUSER */}), errno_ret(EPERM));
  // fadvise64: both argument conditions must hold (AND).
  EXPECT_EQ(on(SYS_fadvise64, {3, 0, 0}), kAllow);
  EXPECT_EQ(on(SYS_fadvise64, {3, 0, 5}), errno_ret(EPERM));
  EXPECT_EQ(on(SYS_fadvise64, {3, 5, 0}), errno_ret(EPERM));
  // setns: two conditions on argument 1 become two rules (OR), as runc does; the default
  // applies when neither holds.
  EXPECT_EQ(on(SYS_setns, {3, 0x40000000}), errno_ret(EACCES));
  EXPECT_EQ(on(SYS_setns, {3, 0}), errno_ret(EACCES));
  EXPECT_EQ(on(SYS_setns, {3, 0x30000}), errno_ret(EPERM));
}

TEST(Seccomp, DockerLikeProfileOtherArchitectures) {
  Filter f = compile_ok(docker_like());
  // i386: getpid is 20, personality 136, mount 21.
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_I386, 20}), kAllow);
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_I386, 136, {0xffffffff}}), kAllow);
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_I386, 21}), errno_ret(EPERM));
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_I386, 1000}), errno_ret(ENOSYS));
  // x32: the x86_64 numbers with bit 30 set, and their own stub section.
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, kX32 | SYS_getpid}), kAllow);
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, kX32 | SYS_mount}), errno_ret(EPERM));
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, kX32 | 1000}), errno_ret(ENOSYS));
  // An architecture the profile does not list: libseccomp's bad-arch action (kill).
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_AARCH64, 172}), SECCOMP_RET_KILL_THREAD);
}

TEST(Seccomp, X32IsKilledWhenNotListed) {
  json p = docker_like();
  p["architectures"] = {"SCMP_ARCH_X86_64"};
  Filter f = compile_ok(p);
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, SYS_getpid}), kAllow);
  EXPECT_NE(run(f.program, {AUDIT_ARCH_X86_64, kX32 | SYS_getpid}), kAllow);
  EXPECT_NE(run(f.program, {AUDIT_ARCH_X86_64, kX32 | 1000}), errno_ret(ENOSYS))
      << "the stub must not answer for an ABI the filter refuses";
}

TEST(Seccomp, NoEnosysStubWhenTheDefaultLetsCallsThrough) {
  for (const char* action : {"SCMP_ACT_ALLOW", "SCMP_ACT_LOG"}) {
    json p = allow_profile({{{"names", {"getpid"}}, {"action", "SCMP_ACT_ERRNO"}}});
    p["defaultAction"] = action;
    Filter f = compile_ok(p);
    uint32_t def = std::string(action) == "SCMP_ACT_ALLOW" ? kAllow : SECCOMP_RET_LOG;
    EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, 1000}), def) << action;
    EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, SYS_getpid}), errno_ret(EPERM)) << action;
  }
  // defaultErrnoRet ENOSYS already answers ENOSYS.
  Filter f = compile_ok({{"defaultAction", "SCMP_ACT_ERRNO"},
                         {"defaultErrnoRet", ENOSYS},
                         {"syscalls", {{{"names", {"getpid"}}, {"action", "SCMP_ACT_ALLOW"}}}}});
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, 1000}), errno_ret(ENOSYS));
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, SYS_getppid}), errno_ret(ENOSYS));
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, SYS_getpid}), kAllow);
}

TEST(Seccomp, EveryAction) {
  struct Case {
    json rule;
    uint32_t ret;
  } cases[] = {
      {{{"action", "SCMP_ACT_KILL"}}, SECCOMP_RET_KILL_THREAD},
      {{{"action", "SCMP_ACT_KILL_THREAD"}}, SECCOMP_RET_KILL_THREAD},
      {{{"action", "SCMP_ACT_KILL_PROCESS"}}, SECCOMP_RET_KILL_PROCESS},
      {{{"action", "SCMP_ACT_TRAP"}}, SECCOMP_RET_TRAP},
      {{{"action", "SCMP_ACT_ERRNO"}}, errno_ret(EPERM)},
      {{{"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 0}}, errno_ret(0)},
      {{{"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSPC}}, errno_ret(ENOSPC)},
      {{{"action", "SCMP_ACT_TRACE"}}, SECCOMP_RET_TRACE | EPERM},
      {{{"action", "SCMP_ACT_TRACE"}, {"errnoRet", 7}}, SECCOMP_RET_TRACE | 7},
      {{{"action", "SCMP_ACT_LOG"}}, SECCOMP_RET_LOG},
      {{{"action", "SCMP_ACT_NOTIFY"}}, SECCOMP_RET_USER_NOTIF},
  };
  for (Case& c : cases) {
    c.rule["names"] = {"getpid"};
    json p = allow_profile({c.rule});
    if (c.rule["action"] == "SCMP_ACT_NOTIFY") p["listenerPath"] = "/run/agent.sock";
    Filter f = compile_ok(p);
    EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, SYS_getpid}), c.ret) << c.rule.dump();
    EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, SYS_getppid}), kAllow) << c.rule.dump();
    EXPECT_EQ(f.notify, c.rule["action"] == "SCMP_ACT_NOTIFY") << c.rule.dump();
  }
  // A kill default (below the profile's largest number; above it, the ENOSYS stub answers).
  Filter f = compile_ok({{"defaultAction", "SCMP_ACT_KILL_PROCESS"},
                         {"syscalls", {{{"names", {"getppid"}}, {"action", "SCMP_ACT_ALLOW"}}}}});
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, SYS_getpid}), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, SYS_getppid}), kAllow);
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_X86_64, SYS_getppid + 1}), errno_ret(ENOSYS));
}

TEST(Seccomp, EveryOperator) {
  auto decide = [](const char* op, uint64_t value, uint64_t arg, uint64_t value_two = 0) {
    json a = {{"index", 2}, {"value", value}, {"op", op}};
    if (value_two) a["valueTwo"] = value_two;
    Filter f = compile_ok(
        allow_profile({{{"names", {"getpid"}}, {"action", "SCMP_ACT_ERRNO"}, {"args", {a}}}}));
    return run(f.program, {AUDIT_ARCH_X86_64, SYS_getpid, {0, 0, arg}}) != kAllow;
  };
  EXPECT_TRUE(decide("SCMP_CMP_EQ", 5, 5));
  EXPECT_FALSE(decide("SCMP_CMP_EQ", 5, 6));
  EXPECT_TRUE(decide("SCMP_CMP_NE", 5, 6));
  EXPECT_FALSE(decide("SCMP_CMP_NE", 5, 5));
  EXPECT_TRUE(decide("SCMP_CMP_LT", 5, 4));
  EXPECT_FALSE(decide("SCMP_CMP_LT", 5, 5));
  EXPECT_TRUE(decide("SCMP_CMP_LE", 5, 5));
  EXPECT_FALSE(decide("SCMP_CMP_LE", 5, 6));
  EXPECT_TRUE(decide("SCMP_CMP_GE", 5, 5));
  EXPECT_FALSE(decide("SCMP_CMP_GE", 5, 4));
  EXPECT_TRUE(decide("SCMP_CMP_GT", 5, 6));
  EXPECT_FALSE(decide("SCMP_CMP_GT", 5, 5));
  // 64-bit values: the upper half counts.
  EXPECT_TRUE(decide("SCMP_CMP_GT", 0xffffffff, 0x100000000));
  EXPECT_FALSE(decide("SCMP_CMP_EQ", 1, 0x100000001));
  // MASKED_EQ: (arg & value) == valueTwo.
  EXPECT_TRUE(decide("SCMP_CMP_MASKED_EQ", 0xf0, 0x35, 0x30));
  EXPECT_FALSE(decide("SCMP_CMP_MASKED_EQ", 0xf0, 0x45, 0x30));
}
#endif  // __x86_64__

TEST(Seccomp, UnknownSyscallNamesAreSkipped) {
  Filter f = compile_ok(allow_profile(
      {{{"names", {"no_such_syscall_1", "no_such_syscall_2"}}, {"action", "SCMP_ACT_ERRNO"}}}));
  EXPECT_FALSE(f.program.empty());
  // A notify rule on unknown names only creates no listener.
  json p = allow_profile({{{"names", {"no_such_syscall"}}, {"action", "SCMP_ACT_NOTIFY"}}});
  p["listenerPath"] = "/run/agent.sock";
  EXPECT_FALSE(compile_ok(p).notify);
}

TEST(Seccomp, FlagsAreKeptForTheSeccompCall) {
  json p = allow_profile();
  p["flags"] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  // WAIT_KILLABLE_RECV only means something with a listener (the kernel refuses it without).
  EXPECT_EQ(compile_ok(p).flags, unsigned{SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
                                          SECCOMP_FILTER_FLAG_SPEC_ALLOW});
  p["syscalls"] = {{{"names", {"getppid"}}, {"action", "SCMP_ACT_NOTIFY"}}};
  p["listenerPath"] = "/run/agent.sock";
  Filter f = compile_ok(p);
  EXPECT_TRUE(f.notify);
  EXPECT_EQ(f.flags,
            unsigned{SECCOMP_FILTER_FLAG_TSYNC | SECCOMP_FILTER_FLAG_LOG |
                     SECCOMP_FILTER_FLAG_SPEC_ALLOW | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV});
}

TEST(Seccomp, RedundantRulesAndDuplicateArchitectures) {
  json p = {{"defaultAction", "SCMP_ACT_ERRNO"},
            {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86"}},
            {"syscalls",
             {{{"names", {"getpid"}}, {"action", "SCMP_ACT_ERRNO"}},  // == default: dropped
              {{"names", {"getpid"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", 1}},
              {{"names", {"getppid"}}, {"action", "SCMP_ACT_ALLOW"}}}}};
  compile_ok(p);
}

// compile() does not rely on oci::validate: it refuses bad input itself, naming the field.
TEST(Seccomp, ErrorsNameTheField) {
  oci::Seccomp s;
  s.default_action = "SCMP_ACT_ALLOW";
  s.syscalls.resize(4);
  for (auto& sc : s.syscalls) {
    sc.names = {"getpid"};
    sc.action = "SCMP_ACT_ERRNO";
  }
  auto with = [&](auto edit) {
    oci::Seccomp copy = s;
    edit(copy);
    return compile_error(copy);
  };
  EXPECT_EQ(with([](oci::Seccomp& c) { c.syscalls[3].action = "X"; }),
            "linux.seccomp.syscalls[3].action: unknown action \"X\"");
  EXPECT_EQ(with([](oci::Seccomp& c) { c.default_action = "SCMP_ACT_NOPE"; }),
            "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_NOPE\"");
  EXPECT_EQ(with([](oci::Seccomp& c) { c.default_action = ""; }),
            "linux.seccomp.defaultAction: required");
  EXPECT_EQ(with([](oci::Seccomp& c) { c.default_action = "SCMP_ACT_NOTIFY"; }),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  EXPECT_EQ(with([](oci::Seccomp& c) { c.default_errno_ret = 1; }),
            "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
  EXPECT_EQ(with([](oci::Seccomp& c) { c.syscalls[1].errno_ret = 70000; }),
            "linux.seccomp.syscalls[1].errnoRet: 70000 out of range (0..65535)");
  EXPECT_EQ(with([](oci::Seccomp& c) {
              c.syscalls[2].action = "SCMP_ACT_ALLOW";
              c.syscalls[2].errno_ret = 1;
            }),
            "linux.seccomp.syscalls[2].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
  EXPECT_EQ(with([](oci::Seccomp& c) {
              c.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"};
            }),
            "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"");
  EXPECT_EQ(with([](oci::Seccomp& c) { c.flags = {"SECCOMP_FILTER_FLAG_NEW_LISTENER"}; }),
            "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_NEW_LISTENER\"");
  EXPECT_EQ(with([](oci::Seccomp& c) { c.syscalls[0].names.clear(); }),
            "linux.seccomp.syscalls[0].names: must not be empty");
  EXPECT_EQ(with([](oci::Seccomp& c) {
              c.syscalls[0].names = {"getpid", ""};
            }),
            "linux.seccomp.syscalls[0].names[1]: must not be empty");
  EXPECT_EQ(with([](oci::Seccomp& c) {
              c.syscalls[2].args = {{0, 1, 0, "SCMP_CMP_ABOUT"}};
            }),
            "linux.seccomp.syscalls[2].args[0].op: unknown operator \"SCMP_CMP_ABOUT\"");
  EXPECT_EQ(with([](oci::Seccomp& c) {
              c.syscalls[2].args = {{0, 1, 0, "SCMP_CMP_EQ"}, {6, 1, 0, "SCMP_CMP_EQ"}};
            }),
            "linux.seccomp.syscalls[2].args[1].index: 6 out of range (0..5)");
  EXPECT_EQ(with([](oci::Seccomp& c) {
              c.syscalls[2].args.assign(7, oci::SeccompArg{0, 1, 0, "SCMP_CMP_EQ"});
            }),
            "linux.seccomp.syscalls[2].args: a syscall has at most 6 arguments");
  EXPECT_EQ(with([](oci::Seccomp& c) {
              c.listener_path = "/run/agent.sock";
              c.syscalls[3].action = "SCMP_ACT_NOTIFY";
              c.syscalls[3].names = {"read", "write"};
            }),
            "linux.seccomp.syscalls[3].names[1]: SCMP_ACT_NOTIFY cannot be used for write: the "
            "runtime needs it to hand the listener over");
  // The same checks hold for a rule that is dropped as redundant.
  EXPECT_EQ(with([](oci::Seccomp& c) {
              c.default_action = "SCMP_ACT_ERRNO";
              c.syscalls[0].args = {{9, 1, 0, "SCMP_CMP_EQ"}};
            }),
            "linux.seccomp.syscalls[0].args[0].index: 9 out of range (0..5)");
}

TEST(Seccomp, ArchitecturesUnknownToThisLibseccompAreSkipped) {
  json p = allow_profile({{{"names", {"getpid"}}, {"action", "SCMP_ACT_ERRNO"}}});
  p["architectures"] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_SH"};
  compile_ok(p);
}

// ---------------------------------------------------------------------------------------------
// The compile cache.

bool same_program(const Filter& a, const Filter& b) {
  return a.flags == b.flags && a.notify == b.notify && a.program.size() == b.program.size() &&
         memcmp(a.program.data(), b.program.data(), a.program.size() * sizeof(sock_filter)) == 0;
}

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (struct dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') out.push_back(dir + "/" + e->d_name);
    ::closedir(d);
  }
  return out;
}

TEST(SeccompCache, MissThenHit) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::string dir = tmp.path() + "/cache";
  oci::Seccomp p = parse_profile(docker_like());
  Result<Filter> plain = compile(p);
  ASSERT_TRUE(plain);
  Result<Filter> miss = compile_cached(p, dir);
  ASSERT_TRUE(miss) << miss.error().what();
  EXPECT_TRUE(same_program(*plain, *miss));
  ASSERT_EQ(entries(dir).size(), 1u);
  struct stat st = {};
  ASSERT_EQ(::stat(dir.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  Result<Filter> hit = compile_cached(p, dir);
  ASSERT_TRUE(hit);
  EXPECT_TRUE(same_program(*plain, *hit));
  EXPECT_EQ(entries(dir).size(), 1u);

  // Another profile, another entry; a change anywhere in the profile is a different key.
  json other = docker_like();
  other["syscalls"][3]["args"][0]["value"] = 41;
  oci::Seccomp q = parse_profile(other);
  Result<Filter> second = compile_cached(q, dir);
  ASSERT_TRUE(second);
  EXPECT_TRUE(same_program(*compile(q), *second));
  EXPECT_FALSE(same_program(*plain, *second));
  EXPECT_EQ(entries(dir).size(), 2u);
}

TEST(SeccompCache, BadEntriesAreRecompiled) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::string dir = tmp.path() + "/cache";
  json profile = allow_profile({{{"names", {"getpid"}}, {"action", "SCMP_ACT_ERRNO"}}});
  oci::Seccomp p = parse_profile(profile);
  ASSERT_TRUE(compile_cached(p, dir));
  std::vector<std::string> files = entries(dir);
  ASSERT_EQ(files.size(), 1u);
  std::string good = read_text(files[0]);
  for (std::string bad :
       {std::string(), good.substr(0, good.size() - 3), "BERTHSC2" + good,
        good.substr(0, good.size() - 16) + std::string(8, '\xff') + good.substr(good.size() - 8)}) {
    ASSERT_TRUE(write_file_atomic(files[0], bad, 0600, false));
    Result<Filter> f = compile_cached(p, dir);
    ASSERT_TRUE(f);
    EXPECT_TRUE(same_program(*compile(p), *f));
  }
  // A cache that cannot be created does not fail the compile.
  Result<Filter> f = compile_cached(p, "/proc/no-such-dir/cache");
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_TRUE(same_program(*compile(p), *f));
  // Nor does an error stop being an error.
  p.syscalls[0].action = "X";
  EXPECT_EQ(compile_cached(p, dir).error().what(),
            "linux.seccomp.syscalls[0].action: unknown action \"X\"");
}

// ---------------------------------------------------------------------------------------------
// The notify handover.

TEST(Seccomp, ContainerProcessStateMessage) {
  json state = {{"ociVersion", "1.2.0"}, {"id", "web"},    {"status", "creating"},
                {"pid", 4422},           {"bundle", "/b"}, {"annotations", {{"k", "v"}}}};
  Result<std::string> m = container_process_state(state.dump(), "MKNOD=/dev/null");
  ASSERT_TRUE(m) << m.error().what();
  json j = json::parse(*m);
  EXPECT_EQ(j["ociVersion"], oci::kSpecVersion);
  EXPECT_EQ(j["fds"], json::array({"seccompFd"}));
  EXPECT_EQ(j["pid"], 4422) << "taken from the state when not given";
  EXPECT_EQ(j["metadata"], "MKNOD=/dev/null");
  EXPECT_EQ(j["state"], state);

  m = container_process_state(state.dump(), "", 99);
  ASSERT_TRUE(m);
  j = json::parse(*m);
  EXPECT_EQ(j["pid"], 99);
  EXPECT_FALSE(j.contains("metadata")) << "omitted when empty, like runc";

  EXPECT_FALSE(container_process_state("not json", ""));
  EXPECT_FALSE(container_process_state("[1]", ""));
  // Invalid UTF-8 in the metadata does not throw.
  EXPECT_TRUE(container_process_state(state.dump(), "\xff\xfe"));
}

TEST(Seccomp, SendListenerPassesTheFdWithTheState) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd ours(sv[0]), agent(sv[1]);
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);

  // Large enough that a stream socket may take it in parts.
  json state = {{"ociVersion", "1.2.0"}, {"id", "c"},
                {"status", "running"},   {"pid", 7},
                {"bundle", "/b"},        {"annotations", {{"big", std::string(100000, 'x')}}}};
  std::string received;
  int got_fd = -1;
  std::thread reader([&] {
    char buf[65536];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ssize_t n = ::recvmsg(agent.get(), &msg, MSG_CMSG_CLOEXEC);
    if (n <= 0) return;
    received.append(buf, static_cast<size_t>(n));
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
      if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
        memcpy(&got_fd, CMSG_DATA(c), sizeof got_fd);
    while ((n = ::read(agent.get(), buf, sizeof buf)) > 0)
      received.append(buf, static_cast<size_t>(n));
  });
  Result<void> r = send_listener(ours.get(), wr.get(), state.dump(), "meta");
  ours.reset();
  reader.join();
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_GE(got_fd, 0) << "no SCM_RIGHTS with the first message";
  UniqueFd passed(got_fd);
  json j = json::parse(received);
  EXPECT_EQ(j["fds"], json::array({"seccompFd"}));
  EXPECT_EQ(j["pid"], 7);
  EXPECT_EQ(j["metadata"], "meta");
  EXPECT_EQ(j["state"], state);
  // The passed fd is the pipe's write end.
  ASSERT_EQ(::write(passed.get(), "z", 1), 1);
  char c = 0;
  ASSERT_EQ(::read(rd.get(), &c, 1), 1);
  EXPECT_EQ(c, 'z');
}

UniqueFd listen_at(const std::string& path) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  // Bind through the directory when the path is longer than sun_path.
  std::string dir = path.substr(0, path.rfind('/'));
  UniqueFd dfd(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  std::string name = "/proc/self/fd/" + std::to_string(dfd.get()) + path.substr(path.rfind('/'));
  memcpy(addr.sun_path, name.c_str(), name.size() + 1);
  if (::bind(s.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0 ||
      ::listen(s.get(), 1) < 0)
    return UniqueFd();
  return s;
}

TEST(Seccomp, ConnectListener) {
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  Result<UniqueFd> missing = connect_listener(tmp.path() + "/none.sock");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().what(), "connecting to the seccomp agent at \"" + tmp.path() +
                                        "/none.sock\": no such file or directory");

  // A path longer than sun_path (108 bytes) still works.
  std::string deep = tmp.path() + "/" + std::string(100, 'd');
  ASSERT_EQ(::mkdir(deep.c_str(), 0700), 0);
  for (std::string path : {tmp.path() + "/agent.sock", deep + "/agent.sock"}) {
    UniqueFd server = listen_at(path);
    ASSERT_TRUE(server) << path;
    Result<UniqueFd> c = connect_listener(path);
    ASSERT_TRUE(c) << c.error().what();
    UniqueFd accepted(::accept4(server.get(), nullptr, nullptr, SOCK_CLOEXEC));
    EXPECT_TRUE(accepted);
    EXPECT_EQ(::fcntl(c->get(), F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
  }
}

}  // namespace
}  // namespace berth::runtime::seccomp
