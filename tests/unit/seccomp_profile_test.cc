// engine::seccomp: docker-format profiles parsed with errors that name the field, resolved for a
// container's capabilities, architecture and kernel; the built-in profile's decisions, checked
// on the compiled program (runtime::seccomp::compile + a cBPF interpreter, no kernel).
#include "engine/seccomp_profile.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "oci/spec.h"
#include "runtime/seccomp.h"
#include "seccomp_bpf.h"

namespace berth::engine::seccomp {
namespace {

using nlohmann::json;
using namespace berth::test::bpf;

// docker's default capability set.
const std::vector<std::string> kDefaultCaps = {
    "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
    "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
    "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
    "CAP_KILL",    "CAP_AUDIT_WRITE"};

Target amd64(std::vector<std::string> caps = kDefaultCaps, int major = 6, int minor = 1) {
  return Target{
      .caps = std::move(caps), .arch = "amd64", .kernel_major = major, .kernel_minor = minor};
}

std::string decode_error(const json& profile) {
  auto r = resolve_profile(profile.dump(), amd64());
  if (r) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::InvalidArgument);
  return r.error().message();
}

std::vector<std::string> names_of(const oci::Seccomp& s) {
  std::vector<std::string> out;
  for (const auto& r : s.syscalls) out.insert(out.end(), r.names.begin(), r.names.end());
  return out;
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST(SeccompProfile, DecodeErrorsNameTheField) {
  EXPECT_EQ(resolve_profile("{not json", amd64()).error().message(),
            "Decoding seccomp profile failed: the profile is not valid JSON");
  EXPECT_EQ(decode_error(json::array()),
            "Decoding seccomp profile failed: the profile must be a JSON object");
  EXPECT_EQ(decode_error({{"syscalls", json::array()}}),
            "Decoding seccomp profile failed: 'defaultAction' is required");
  EXPECT_EQ(decode_error({{"defaultAction", "SCMP_ACT_ALLOW"}, {"defaultErrno", "EPERM"}}), "")
      << "fields of other engines are ignored, as docker does";
  EXPECT_EQ(decode_error({{"defaultAction", "SCMP_ACT_ALLOW"},
                          {"architectures", {"SCMP_ARCH_X86_64"}},
                          {"archMap", {{{"architecture", "SCMP_ARCH_X86_64"}}}}}),
            "Decoding seccomp profile failed: use either 'architectures' or 'archMap', not both");
  EXPECT_EQ(
      decode_error(
          {{"defaultAction", "SCMP_ACT_ALLOW"},
           {"syscalls", {{{"name", "read"}, {"names", {"write"}}, {"action", "SCMP_ACT_ERRNO"}}}}}),
      "Decoding seccomp profile failed: syscalls[0]: use either 'name' or 'names', not both");
  EXPECT_EQ(decode_error({{"defaultAction", "SCMP_ACT_ALLOW"},
                          {"syscalls",
                           {{{"names", {"read"}},
                             {"action", "SCMP_ACT_ERRNO"},
                             {"includes", {{"caps", "CAP_SYS_ADMIN"}}}}}}}),
            "Decoding seccomp profile failed: syscalls[0].includes.caps: expected an array of "
            "strings");
  EXPECT_EQ(decode_error({{"defaultAction", "SCMP_ACT_ALLOW"},
                          {"syscalls",
                           {{{"names", {"read"}},
                             {"action", "SCMP_ACT_ERRNO"},
                             {"excludes", {{"minKernel", "four"}}}}}}}),
            "Decoding seccomp profile failed: syscalls[0].excludes.minKernel: invalid kernel "
            "version \"four\" (want MAJOR.MINOR)");
  EXPECT_EQ(decode_error({{"defaultAction", "SCMP_ACT_ALLOW"},
                          {"syscalls",
                           {{{"names", {"read"}},
                             {"action", "SCMP_ACT_ERRNO"},
                             {"args", {{{"index", -1}, {"op", "SCMP_CMP_EQ"}}}}}}}}),
            "Decoding seccomp profile failed: syscalls[0].args[0].index: expected a non-negative "
            "integer, got -1");
  EXPECT_EQ(decode_error({{"defaultAction", "SCMP_ACT_ERRNO"}, {"defaultErrnoRet", 1ULL << 40}}),
            "Decoding seccomp profile failed: defaultErrnoRet: out of range: 1099511627776");
  EXPECT_EQ(decode_error({{"defaultAction", "SCMP_ACT_ALLOW"}, {"syscalls", {{{"action", "x"}}}}}),
            "Decoding seccomp profile failed: syscalls[0]: a rule needs 'names'");
}

TEST(SeccompProfile, RulesAreKeptOnlyWhereTheirConditionsHold) {
  json p = {
      {"defaultAction", "SCMP_ACT_ERRNO"},
      {"defaultErrnoRet", 1},
      {"archMap",
       {{{"architecture", "SCMP_ARCH_X86_64"},
         {"subArchitectures", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}}},
        {{"architecture", "SCMP_ARCH_AARCH64"}, {"subArchitectures", {"SCMP_ARCH_ARM"}}}}},
      {"syscalls",
       {{{"names", {"read"}}, {"action", "SCMP_ACT_ALLOW"}},
        {{"name", "mount"},
         {"action", "SCMP_ACT_ALLOW"},
         {"includes", {{"caps", {"CAP_SYS_ADMIN", "CAP_SYS_CHROOT"}}}}},
        {{"names", {"clone"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"excludes", {{"caps", {"CAP_SYS_ADMIN"}}}}},
        {{"names", {"arch_prctl"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"includes", {{"arches", {"amd64", "386"}}}}},
        {{"names", {"cacheflush"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"excludes", {{"arches", {"amd64"}}}}},
        {{"names", {"ptrace"}}, {"action", "SCMP_ACT_ALLOW"}, {"includes", {{"minKernel", "4.8"}}}},
        {{"names", {"old_thing"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"excludes", {{"minKernel", "5.10"}}}}}}};
  auto names = [&](const Target& t) {
    auto r = resolve_profile(p.dump(), t);
    EXPECT_TRUE(r) << r.error().what();
    return r ? names_of(*r) : std::vector<std::string>{};
  };
  auto plain = names(amd64());
  EXPECT_TRUE(has(plain, "read"));
  EXPECT_FALSE(has(plain, "mount")) << "needs both capabilities";
  EXPECT_TRUE(has(plain, "clone"));
  EXPECT_TRUE(has(plain, "arch_prctl"));
  EXPECT_FALSE(has(plain, "cacheflush"));
  EXPECT_TRUE(has(plain, "ptrace"));
  EXPECT_FALSE(has(plain, "old_thing"));

  auto caps = kDefaultCaps;
  caps.push_back("CAP_SYS_ADMIN");
  auto admin = names(amd64(caps));
  EXPECT_TRUE(has(admin, "mount"));
  EXPECT_FALSE(has(admin, "clone"));

  auto old_kernel = names(amd64(kDefaultCaps, 4, 4));
  EXPECT_FALSE(has(old_kernel, "ptrace"));
  EXPECT_TRUE(has(old_kernel, "old_thing"));

  Target arm = amd64();
  arm.arch = "arm64";
  auto on_arm = names(arm);
  EXPECT_FALSE(has(on_arm, "arch_prctl"));
  EXPECT_TRUE(has(on_arm, "cacheflush"));

  // archMap: the host's entry only.
  auto resolved = resolve_profile(p.dump(), amd64());
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->architectures,
            (std::vector<std::string>{"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}));
  EXPECT_EQ(resolved->default_errno_ret, 1u);
  resolved = resolve_profile(p.dump(), arm);
  ASSERT_TRUE(resolved);
  EXPECT_EQ(resolved->architectures,
            (std::vector<std::string>{"SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"}));
}

TEST(SeccompProfile, BuiltinJsonResolvesToTheBuiltinProfile) {
  for (const auto& caps : {kDefaultCaps, std::vector<std::string>{"CAP_SYS_ADMIN"}}) {
    auto from_json = resolve_profile(builtin_profile_json(), amd64(caps));
    ASSERT_TRUE(from_json) << from_json.error().what();
    oci::Seccomp direct = builtin_profile(amd64(caps));
    EXPECT_EQ(names_of(*from_json), names_of(direct));
    EXPECT_EQ(from_json->architectures, direct.architectures);
    EXPECT_TRUE(oci::validate_seccomp(direct)) << oci::validate_seccomp(direct).error().what();
  }
}

#if defined(__x86_64__)
// What a container with docker's default capabilities (and with CAP_SYS_ADMIN) may call.
TEST(SeccompProfile, BuiltinProfileDecisions) {
  auto compile = [](const std::vector<std::string>& caps) {
    auto f = runtime::seccomp::compile(builtin_profile(amd64(caps)));
    EXPECT_TRUE(f) << f.error().what();
    return f ? std::move(*f) : runtime::seccomp::Filter{};
  };
  auto f = compile(kDefaultCaps);
  auto on = [&](uint32_t nr, std::array<uint64_t, 6> args = {}) {
    return run(f.program, Call{AUDIT_ARCH_X86_64, nr, args});
  };
  for (long nr : {SYS_read, SYS_write, SYS_openat, SYS_execve, SYS_execveat, SYS_mmap, SYS_futex,
                  SYS_epoll_pwait, SYS_arch_prctl, SYS_chroot, SYS_ptrace, SYS_capset,
                  SYS_setresuid, SYS_prctl, SYS_rseq, SYS_close_range, SYS_clock_adjtime})
    EXPECT_EQ(on(nr), kAllow) << "syscall " << nr;
  for (long nr : {SYS_mount,
                  SYS_umount2,
                  SYS_unshare,
                  SYS_setns,
                  SYS_pivot_root,
                  SYS_keyctl,
                  SYS_add_key,
                  SYS_request_key,
                  SYS_bpf,
                  SYS_perf_event_open,
                  SYS_reboot,
                  SYS_init_module,
                  SYS_kexec_load,
                  SYS_io_uring_setup,
                  SYS_open_by_handle_at,
                  SYS_settimeofday,
                  SYS_swapon,
                  SYS_acct,
                  SYS_iopl,
                  SYS_fsopen,
                  SYS_move_mount,
                  SYS_process_vm_readv})
    EXPECT_EQ(on(nr), errno_ret(EPERM)) << "syscall " << nr;
  EXPECT_EQ(on(SYS_clone3), errno_ret(ENOSYS)) << "libc falls back to clone";
  EXPECT_EQ(on(SYS_clone, {0x1200011 /* fork()'s flags */}), kAllow);
  EXPECT_EQ(on(SYS_clone, {0x10000000 /* CLONE_NEWUSER */}), errno_ret(EPERM));
  EXPECT_EQ(on(SYS_clone, {0x20000 /* CLONE_NEWNS */}), errno_ret(EPERM));
  EXPECT_EQ(on(SYS_socket, {AF_INET}), kAllow);
  EXPECT_EQ(on(SYS_socket, {AF_VSOCK}), errno_ret(EPERM));
  EXPECT_EQ(on(SYS_personality, {0xffffffff}), kAllow);
  EXPECT_EQ(on(SYS_personality, {0x0040000 /* ADDR_NO_RANDOMIZE */}), errno_ret(EPERM));
  EXPECT_EQ(on(1000), errno_ret(ENOSYS)) << "newer than the profile";
  EXPECT_EQ(run(f.program, {AUDIT_ARCH_I386, 20 /* getpid */}), kAllow);

  auto caps = kDefaultCaps;
  caps.push_back("CAP_SYS_ADMIN");
  f = compile(caps);
  for (long nr : {SYS_mount, SYS_umount2, SYS_unshare, SYS_setns, SYS_clone3, SYS_fsopen})
    EXPECT_EQ(on(nr), kAllow) << "syscall " << nr;
  EXPECT_EQ(on(SYS_clone, {0x10000000}), kAllow);
  EXPECT_EQ(on(SYS_reboot), errno_ret(EPERM)) << "CAP_SYS_BOOT, not CAP_SYS_ADMIN";
}
#endif

// A real docker-format profile from the distribution (containers-common's, derived from
// docker's) parses, resolves, validates and compiles.
TEST(SeccompProfile, DistributionProfileResolves) {
  const char* path = "/usr/share/containers/seccomp.json";
  std::ifstream in(path);
  if (!in) GTEST_SKIP() << "skipped: " << path << " not installed (containers-common)";
  std::stringstream text;
  text << in.rdbuf();
  auto r = resolve_profile(text.str(), amd64());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_TRUE(oci::validate_seccomp(*r)) << oci::validate_seccomp(*r).error().what();
  EXPECT_TRUE(has(names_of(*r), "read"));
  EXPECT_FALSE(r->architectures.empty());
  auto f = runtime::seccomp::compile(*r);
  EXPECT_TRUE(f) << f.error().what();
}

}  // namespace
}  // namespace berth::engine::seccomp
