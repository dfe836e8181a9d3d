// docker-format seccomp profiles: parse, resolve for a container, and the built-in profile.
#include "engine/seccomp_profile.h"

#include <sys/utsname.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "util/strings.h"

namespace berth::engine::seccomp {
namespace {

using json = nlohmann::json;

struct KernelVersion {
  int major = 0, minor = 0;
  auto operator<=>(const KernelVersion&) const = default;
};

struct Cond {
  std::vector<std::string> caps, arches;
  std::optional<KernelVersion> min_kernel;
  bool empty() const { return caps.empty() && arches.empty() && !min_kernel; }
};

struct Rule {
  std::vector<std::string> names;
  std::string action;
  std::optional<uint32_t> errno_ret;
  std::vector<oci::SeccompArg> args;
  Cond includes, excludes;
  std::string comment;
};

struct ArchMap {
  std::string arch;
  std::vector<std::string> sub;
};

struct Profile {
  std::string default_action;
  std::optional<uint32_t> default_errno;
  std::vector<std::string> architectures, flags;
  std::vector<ArchMap> arch_map;
  std::vector<Rule> rules;
  std::string listener_path, listener_metadata;
};

// ---- parsing ---------------------------------------------------------------------------
// Fields a section does not have are ignored, as docker's decoder does: real profiles carry
// other engines' fields (containers-common's "defaultErrno", "errno").

Error decode_error(const std::string& where, const std::string& what) {
  return Error::invalid("Decoding seccomp profile failed: " +
                        (where.empty() ? what : where + ": " + what));
}

std::string member(const std::string& base, const char* key) {
  return base.empty() ? key : base + "." + key;
}

Result<std::string> string_at(const json& j, const std::string& where) {
  if (!j.is_string()) return decode_error(where, "expected a string, got " + j.dump());
  return j.get<std::string>();
}

Result<std::vector<std::string>> strings_at(const json& j, const std::string& where) {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return decode_error(where, "expected an array of strings");
  for (size_t i = 0; i < j.size(); i++)
    out.push_back(BERTH_TRY(string_at(j[i], where + "[" + std::to_string(i) + "]")));
  return out;
}

Result<uint64_t> u64_at(const json& j, const std::string& where) {
  if (!j.is_number_unsigned())
    return decode_error(where, "expected a non-negative integer, got " + j.dump());
  return j.get<uint64_t>();
}

Result<uint32_t> u32_at(const json& j, const std::string& where) {
  uint64_t v = BERTH_TRY(u64_at(j, where));
  if (v > UINT32_MAX) return decode_error(where, "out of range: " + j.dump());
  return static_cast<uint32_t>(v);
}

std::optional<KernelVersion> parse_kernel(std::string_view s) {
  KernelVersion v;
  int used = 0;
  std::string text(s);
  if (std::sscanf(text.c_str(), "%d.%d%n", &v.major, &v.minor, &used) != 2 || v.major < 0 ||
      v.minor < 0 || static_cast<size_t>(used) != text.size())
    return std::nullopt;
  return v;
}

Result<Cond> parse_cond(const json& j, const std::string& where) {
  Cond c;
  if (j.is_null()) return c;
  if (!j.is_object()) return decode_error(where, "expected an object");
  if (j.contains("caps")) c.caps = BERTH_TRY(strings_at(j["caps"], member(where, "caps")));
  if (j.contains("arches")) c.arches = BERTH_TRY(strings_at(j["arches"], member(where, "arches")));
  if (j.contains("minKernel") && !j["minKernel"].is_null()) {
    std::string text = BERTH_TRY(string_at(j["minKernel"], member(where, "minKernel")));
    if (!text.empty()) {
      c.min_kernel = parse_kernel(text);
      if (!c.min_kernel)
        return decode_error(member(where, "minKernel"),
                            "invalid kernel version \"" + text + "\" (want MAJOR.MINOR)");
    }
  }
  return c;
}

Result<oci::SeccompArg> parse_arg(const json& j, const std::string& where) {
  if (!j.is_object()) return decode_error(where, "expected an object");
  oci::SeccompArg a;
  if (!j.contains("index") || !j.contains("op"))
    return decode_error(where, "\"index\" and \"op\" are required");
  a.index = BERTH_TRY(u32_at(j["index"], member(where, "index")));
  if (j.contains("value")) a.value = BERTH_TRY(u64_at(j["value"], member(where, "value")));
  if (j.contains("valueTwo"))
    a.value_two = BERTH_TRY(u64_at(j["valueTwo"], member(where, "valueTwo")));
  a.op = BERTH_TRY(string_at(j["op"], member(where, "op")));
  return a;
}

Result<Rule> parse_rule(const json& j, const std::string& where) {
  if (!j.is_object()) return decode_error(where, "expected an object");
  Rule r;
  bool has_name = j.contains("name") && !j["name"].is_null() && j["name"] != "";
  bool has_names = j.contains("names") && !j["names"].is_null() && !j["names"].empty();
  if (has_name && has_names) return decode_error(where, "use either 'name' or 'names', not both");
  if (has_name) r.names.push_back(BERTH_TRY(string_at(j["name"], member(where, "name"))));
  if (has_names) r.names = BERTH_TRY(strings_at(j["names"], member(where, "names")));
  if (r.names.empty()) return decode_error(where, "a rule needs 'names'");
  if (!j.contains("action")) return decode_error(where, "a rule needs an 'action'");
  r.action = BERTH_TRY(string_at(j["action"], member(where, "action")));
  if (j.contains("errnoRet") && !j["errnoRet"].is_null())
    r.errno_ret = BERTH_TRY(u32_at(j["errnoRet"], member(where, "errnoRet")));
  if (j.contains("args") && !j["args"].is_null()) {
    if (!j["args"].is_array()) return decode_error(member(where, "args"), "expected an array");
    for (size_t i = 0; i < j["args"].size(); i++)
      r.args.push_back(BERTH_TRY(
          parse_arg(j["args"][i], member(where, "args") + "[" + std::to_string(i) + "]")));
  }
  if (j.contains("includes"))
    r.includes = BERTH_TRY(parse_cond(j["includes"], member(where, "includes")));
  if (j.contains("excludes"))
    r.excludes = BERTH_TRY(parse_cond(j["excludes"], member(where, "excludes")));
  if (j.contains("comment") && j["comment"].is_string()) r.comment = j["comment"];
  return r;
}

Result<Profile> parse(std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return decode_error("", "the profile is not valid JSON");
  if (!j.is_object()) return decode_error("", "the profile must be a JSON object");
  Profile p;
  if (!j.contains("defaultAction")) return decode_error("", "'defaultAction' is required");
  p.default_action = BERTH_TRY(string_at(j["defaultAction"], "defaultAction"));
  if (j.contains("defaultErrnoRet") && !j["defaultErrnoRet"].is_null())
    p.default_errno = BERTH_TRY(u32_at(j["defaultErrnoRet"], "defaultErrnoRet"));
  if (j.contains("architectures"))
    p.architectures = BERTH_TRY(strings_at(j["architectures"], "architectures"));
  if (j.contains("archMap") && !j["archMap"].is_null()) {
    if (!j["archMap"].is_array()) return decode_error("archMap", "expected an array");
    for (size_t i = 0; i < j["archMap"].size(); i++) {
      const json& e = j["archMap"][i];
      std::string where = "archMap[" + std::to_string(i) + "]";
      if (!e.is_object()) return decode_error(where, "expected an object");
      ArchMap m;
      if (!e.contains("architecture")) return decode_error(where, "'architecture' is required");
      m.arch = BERTH_TRY(string_at(e["architecture"], where + ".architecture"));
      if (e.contains("subArchitectures"))
        m.sub = BERTH_TRY(strings_at(e["subArchitectures"], where + ".subArchitectures"));
      p.arch_map.push_back(std::move(m));
    }
  }
  if (!p.architectures.empty() && !p.arch_map.empty())
    return decode_error("", "use either 'architectures' or 'archMap', not both");
  if (j.contains("flags")) p.flags = BERTH_TRY(strings_at(j["flags"], "flags"));
  if (j.contains("listenerPath") && !j["listenerPath"].is_null())
    p.listener_path = BERTH_TRY(string_at(j["listenerPath"], "listenerPath"));
  if (j.contains("listenerMetadata") && !j["listenerMetadata"].is_null())
    p.listener_metadata = BERTH_TRY(string_at(j["listenerMetadata"], "listenerMetadata"));
  if (j.contains("syscalls") && !j["syscalls"].is_null()) {
    if (!j["syscalls"].is_array()) return decode_error("syscalls", "expected an array");
    for (size_t i = 0; i < j["syscalls"].size(); i++)
      p.rules.push_back(
          BERTH_TRY(parse_rule(j["syscalls"][i], "syscalls[" + std::to_string(i) + "]")));
  }
  return p;
}

// ---- resolving -------------------------------------------------------------------------

// libseccomp's name of the host's architecture (Go's GOARCH names, as profiles use them).
std::string scmp_arch(const std::string& goarch) {
  static const std::pair<const char*, const char*> table[] = {
      {"amd64", "SCMP_ARCH_X86_64"},      {"386", "SCMP_ARCH_X86"},
      {"arm64", "SCMP_ARCH_AARCH64"},     {"arm", "SCMP_ARCH_ARM"},
      {"ppc64le", "SCMP_ARCH_PPC64LE"},   {"ppc64", "SCMP_ARCH_PPC64"},
      {"s390x", "SCMP_ARCH_S390X"},       {"riscv64", "SCMP_ARCH_RISCV64"},
      {"mips64le", "SCMP_ARCH_MIPSEL64"}, {"loong64", "SCMP_ARCH_LOONGARCH64"}};
  for (const auto& [go, scmp] : table)
    if (goarch == go) return scmp;
  return "";
}

bool contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool applies(const Rule& r, const Target& t) {
  KernelVersion kernel{t.kernel_major, t.kernel_minor};
  for (const auto& c : r.includes.caps)
    if (!contains(t.caps, c)) return false;
  if (!r.includes.arches.empty() && !contains(r.includes.arches, t.arch)) return false;
  if (r.includes.min_kernel && kernel < *r.includes.min_kernel) return false;
  for (const auto& c : r.excludes.caps)
    if (contains(t.caps, c)) return false;
  if (contains(r.excludes.arches, t.arch)) return false;
  if (r.excludes.min_kernel && kernel >= *r.excludes.min_kernel) return false;
  return true;
}

oci::Seccomp resolve(const Profile& p, const Target& t) {
  oci::Seccomp out;
  out.default_action = p.default_action;
  out.default_errno_ret = p.default_errno;
  out.flags = p.flags;
  out.listener_path = p.listener_path;
  out.listener_metadata = p.listener_metadata;
  out.architectures = p.architectures;
  const std::string native = scmp_arch(t.arch);
  for (const auto& m : p.arch_map)
    if (m.arch == native) {
      out.architectures.push_back(m.arch);
      out.architectures.insert(out.architectures.end(), m.sub.begin(), m.sub.end());
    }
  for (const auto& r : p.rules)
    if (applies(r, t))
      out.syscalls.push_back(oci::SeccompSyscall{
          .names = r.names, .action = r.action, .errno_ret = r.errno_ret, .args = r.args});
  return out;
}

// ---- the built-in profile ---------------------------------------------------------------

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  for (std::string_view w : split(text, ' ', true)) out.emplace_back(w);
  return out;
}

// Calls a process may make on itself, its files and its own children: the allowlist for
// every container. Names a libseccomp or architecture does not know are skipped by the
// runtime, so 32-bit and other architectures' variants are listed alongside.
constexpr std::string_view kFiles =
    "read write readv writev pread64 pwrite64 preadv preadv2 pwritev pwritev2 open openat "
    "openat2 close close_range creat lseek _llseek stat fstat lstat newfstatat statx stat64 "
    "fstat64 lstat64 fstatat64 statfs statfs64 fstatfs fstatfs64 access faccessat faccessat2 "
    "getcwd chdir fchdir mkdir mkdirat mknod mknodat rmdir rename renameat renameat2 link linkat "
    "symlink symlinkat unlink unlinkat readlink readlinkat chmod fchmod fchmodat fchmodat2 chown "
    "chown32 fchown fchown32 fchownat lchown lchown32 umask truncate truncate64 ftruncate "
    "ftruncate64 fallocate fsync fdatasync sync syncfs sync_file_range utime utimes utimensat "
    "utimensat_time64 futimesat getdents getdents64 fcntl fcntl64 flock dup dup2 dup3 pipe pipe2 "
    "ioctl sendfile sendfile64 splice tee vmsplice copy_file_range readahead fadvise64 "
    "fadvise64_64 getxattr lgetxattr fgetxattr setxattr lsetxattr fsetxattr listxattr llistxattr "
    "flistxattr removexattr lremovexattr fremovexattr getxattrat setxattrat listxattrat "
    "removexattrat inotify_init inotify_init1 inotify_add_watch inotify_rm_watch fanotify_mark "
    "memfd_create memfd_secret cachestat statmount listmount";

constexpr std::string_view kEvents =
    "select _newselect pselect6 pselect6_time64 poll ppoll ppoll_time64 epoll_create "
    "epoll_create1 epoll_ctl epoll_ctl_old epoll_wait epoll_wait_old epoll_pwait epoll_pwait2 "
    "eventfd eventfd2 signalfd signalfd4 timerfd_create timerfd_settime timerfd_settime64 "
    "timerfd_gettime timerfd_gettime64 io_setup io_destroy io_getevents io_pgetevents "
    "io_pgetevents_time64 io_submit io_cancel";

constexpr std::string_view kMemory =
    "brk mmap mmap2 munmap mremap mprotect pkey_mprotect pkey_alloc pkey_free madvise mincore "
    "mlock mlock2 munlock mlockall munlockall msync remap_file_pages membarrier mseal "
    "map_shadow_stack";

constexpr std::string_view kProcesses =
    "fork vfork execve execveat exit exit_group wait4 waitid waitpid kill tkill tgkill getpid "
    "getppid gettid getpgid setpgid getpgrp getsid setsid getuid getuid32 geteuid geteuid32 "
    "getgid getgid32 getegid getegid32 setuid setuid32 setgid setgid32 setreuid setreuid32 "
    "setregid setregid32 setresuid setresuid32 setresgid setresgid32 getresuid getresuid32 "
    "getresgid getresgid32 setfsuid setfsuid32 setfsgid setfsgid32 getgroups getgroups32 "
    "setgroups setgroups32 capget capset prctl seccomp set_tid_address set_robust_list "
    "get_robust_list rseq restart_syscall pidfd_open pidfd_send_signal process_mrelease "
    "getpriority setpriority ioprio_get ioprio_set sched_yield sched_getparam sched_setparam "
    "sched_getscheduler sched_setscheduler sched_get_priority_max sched_get_priority_min "
    "sched_rr_get_interval sched_rr_get_interval_time64 sched_getaffinity sched_setaffinity "
    "sched_getattr sched_setattr getrlimit setrlimit ugetrlimit prlimit64 getrusage times sysinfo "
    "uname getcpu getrandom futex futex_time64 futex_waitv futex_wait futex_wake futex_requeue "
    "landlock_create_ruleset landlock_add_rule landlock_restrict_self lsm_get_self_attr "
    "lsm_list_modules uretprobe";

constexpr std::string_view kSignalsAndTime =
    "sigaltstack rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigsuspend "
    "rt_sigtimedwait rt_sigtimedwait_time64 rt_sigqueueinfo rt_tgsigqueueinfo sigaction "
    "sigprocmask sigreturn sigpending sigsuspend signal alarm pause nanosleep clock_nanosleep "
    "clock_nanosleep_time64 getitimer setitimer timer_create timer_settime timer_settime64 "
    "timer_gettime timer_gettime64 timer_getoverrun timer_delete time gettimeofday "
    "clock_gettime clock_gettime64 clock_getres clock_getres_time64 adjtimex clock_adjtime "
    "clock_adjtime64";

constexpr std::string_view kIpcAndNet =
    "msgget msgsnd msgrcv msgctl semget semop semtimedop semtimedop_time64 semctl shmget shmat "
    "shmdt shmctl ipc mq_open mq_unlink mq_timedsend mq_timedsend_time64 mq_timedreceive "
    "mq_timedreceive_time64 mq_notify mq_getsetattr socketpair bind listen accept accept4 "
    "connect getsockname getpeername sendto recvfrom send recv sendmsg recvmsg sendmmsg recvmmsg "
    "recvmmsg_time64 shutdown setsockopt getsockopt socketcall";

struct CapGroup {
  const char* cap;
  std::string_view names;
};
// Calls granted with a capability (see the header).
constexpr CapGroup kCapGroups[] = {
    {"CAP_SYS_ADMIN",
     "mount umount umount2 fsopen fsconfig fsmount fspick move_mount open_tree open_tree_attr "
     "mount_setattr pivot_root swapon swapoff setns unshare clone3 quotactl quotactl_fd "
     "sethostname setdomainname fanotify_init name_to_handle_at lookup_dcookie bpf "
     "perf_event_open"},
    {"CAP_BPF", "bpf"},
    {"CAP_PERFMON", "perf_event_open"},
    {"CAP_SYS_PTRACE",
     "kcmp pidfd_getfd process_madvise process_vm_readv process_vm_writev userfaultfd"},
    {"CAP_SYS_MODULE", "init_module finit_module delete_module"},
    {"CAP_SYS_BOOT", "reboot"},
    {"CAP_SYS_RAWIO", "iopl ioperm"},
    {"CAP_SYS_TIME", "settimeofday stime clock_settime clock_settime64"},
    {"CAP_SYS_NICE",
     "mbind set_mempolicy get_mempolicy set_mempolicy_home_node migrate_pages "
     "move_pages"},
    {"CAP_SYS_CHROOT", "chroot"},
    {"CAP_SYS_PACCT", "acct"},
    {"CAP_SYSLOG", "syslog"},
    {"CAP_SYS_TTY_CONFIG", "vhangup"},
    {"CAP_DAC_READ_SEARCH", "open_by_handle_at"},
};

struct ArchGroup {
  std::vector<std::string> arches;
  std::string_view names;
};

constexpr uint64_t kNamespaceCloneFlags = 0x7E020000;  // CLONE_NEW{NS,CGROUP,UTS,IPC,USER,PID,NET}
constexpr uint64_t kAfVsock = 40;

Profile make_builtin() {
  Profile p;
  p.default_action = "SCMP_ACT_ERRNO";
  p.default_errno = EPERM;
  p.arch_map = {{"SCMP_ARCH_X86_64", {"SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
                {"SCMP_ARCH_AARCH64", {"SCMP_ARCH_ARM"}},
                {"SCMP_ARCH_PPC64LE", {}},
                {"SCMP_ARCH_S390X", {"SCMP_ARCH_S390"}},
                {"SCMP_ARCH_RISCV64", {}},
                {"SCMP_ARCH_LOONGARCH64", {}}};
  auto allow = [&](std::string_view names) {
    Rule r;
    r.names = words(names);
    r.action = "SCMP_ACT_ALLOW";
    return r;
  };
  for (auto group : {kFiles, kEvents, kMemory, kProcesses, kSignalsAndTime, kIpcAndNet})
    p.rules.push_back(allow(group));

  // Architecture-specific calls.
  const ArchGroup arch_groups[] = {
      {{"amd64", "386", "x32"}, "arch_prctl modify_ldt get_thread_area set_thread_area"},
      {{"arm", "arm64"},
       "breakpoint cacheflush set_tls arm_fadvise64_64 arm_sync_file_range sync_file_range2"},
      {{"ppc64le"}, "sync_file_range2 subpage_prot"},
      {{"riscv64"}, "riscv_flush_icache riscv_hwprobe"},
      {{"s390x"}, "s390_pci_mmio_read s390_pci_mmio_write s390_runtime_instr"},
  };
  for (const auto& g : arch_groups) {
    Rule r = allow(g.names);
    r.includes.arches = g.arches;
    p.rules.push_back(std::move(r));
  }

  // ptrace is safe to grant since 4.8, when seccomp started checking the syscalls a tracer
  // changes; the tracee must still be in the container's pid namespace and ptrace-able.
  Rule trace = allow("ptrace");
  trace.includes.min_kernel = KernelVersion{4, 8};
  trace.comment = "seccomp re-checks a tracer's changes since 4.8";
  p.rules.push_back(std::move(trace));

  // personality: the execution domains that change nothing a filter relies on (PER_LINUX,
  // PER_LINUX32, UNAME26 with and without PER_LINUX32, and the query 0xffffffff).
  for (uint64_t persona : {0x0ULL, 0x8ULL, 0x20000ULL, 0x20008ULL, 0xffffffffULL}) {
    Rule r = allow("personality");
    r.args = {oci::SeccompArg{.index = 0, .value = persona, .op = "SCMP_CMP_EQ"}};
    p.rules.push_back(std::move(r));
  }

  // socket: every family but AF_VSOCK (reaches the hypervisor, not namespaced).
  Rule sock = allow("socket");
  sock.args = {oci::SeccompArg{.index = 0, .value = kAfVsock, .op = "SCMP_CMP_NE"}};
  p.rules.push_back(std::move(sock));

  // clone without namespace flags, unless CAP_SYS_ADMIN; the flags are argument 1 on s390.
  for (bool s390 : {false, true}) {
    Rule r = allow("clone");
    r.args = {oci::SeccompArg{.index = s390 ? 1u : 0u,
                              .value = kNamespaceCloneFlags,
                              .value_two = 0,
                              .op = "SCMP_CMP_MASKED_EQ"}};
    r.excludes.caps = {"CAP_SYS_ADMIN"};
    (s390 ? r.includes.arches : r.excludes.arches) = {"s390", "s390x"};
    p.rules.push_back(std::move(r));
  }
  Rule clone_all = allow("clone");
  clone_all.includes.caps = {"CAP_SYS_ADMIN"};
  p.rules.push_back(std::move(clone_all));
  // clone3's flags sit in memory a filter cannot read: ENOSYS makes libc fall back to clone.
  Rule clone3;
  clone3.names = {"clone3"};
  clone3.action = "SCMP_ACT_ERRNO";
  clone3.errno_ret = ENOSYS;
  clone3.excludes.caps = {"CAP_SYS_ADMIN"};
  p.rules.push_back(std::move(clone3));

  for (const auto& g : kCapGroups) {
    Rule r = allow(g.names);
    r.includes.caps = {g.cap};
    p.rules.push_back(std::move(r));
  }
  return p;
}

const Profile& builtin() {
  static const Profile p = make_builtin();
  return p;
}

json cond_json(const Cond& c) {
  json j = json::object();
  if (!c.caps.empty()) j["caps"] = c.caps;
  if (!c.arches.empty()) j["arches"] = c.arches;
  if (c.min_kernel)
    j["minKernel"] =
        std::to_string(c.min_kernel->major) + "." + std::to_string(c.min_kernel->minor);
  return j;
}

json to_json(const Profile& p) {
  json j = {{"defaultAction", p.default_action}};
  if (p.default_errno) j["defaultErrnoRet"] = *p.default_errno;
  if (!p.architectures.empty()) j["architectures"] = p.architectures;
  if (!p.arch_map.empty()) {
    j["archMap"] = json::array();
    for (const auto& m : p.arch_map)
      j["archMap"].push_back({{"architecture", m.arch}, {"subArchitectures", m.sub}});
  }
  j["syscalls"] = json::array();
  for (const auto& r : p.rules) {
    json s = {{"names", r.names}, {"action", r.action}};
    if (r.errno_ret) s["errnoRet"] = *r.errno_ret;
    if (!r.args.empty()) {
      s["args"] = json::array();
      for (const auto& a : r.args)
        s["args"].push_back(
            {{"index", a.index}, {"value", a.value}, {"valueTwo", a.value_two}, {"op", a.op}});
    }
    if (!r.includes.empty()) s["includes"] = cond_json(r.includes);
    if (!r.excludes.empty()) s["excludes"] = cond_json(r.excludes);
    if (!r.comment.empty()) s["comment"] = r.comment;
    j["syscalls"].push_back(std::move(s));
  }
  return j;
}

const char* host_goarch() {
#if defined(__x86_64__)
  return "amd64";
#elif defined(__i386__)
  return "386";
#elif defined(__aarch64__)
  return "arm64";
#elif defined(__arm__)
  return "arm";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  return "ppc64le";
#elif defined(__s390x__)
  return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
  return "riscv64";
#elif defined(__loongarch64)
  return "loong64";
#else
  return "unknown";
#endif
}

}  // namespace

Target Target::host(std::vector<std::string> caps) {
  Target t{.caps = std::move(caps), .arch = host_goarch()};
  struct utsname u {};
  if (uname(&u) == 0 && std::sscanf(u.release, "%d.%d", &t.kernel_major, &t.kernel_minor) != 2)
    t.kernel_major = t.kernel_minor = 0;
  return t;
}

Result<oci::Seccomp> resolve_profile(std::string_view json_text, const Target& target) {
  Profile p = BERTH_TRY(parse(json_text));
  oci::Seccomp out = resolve(p, target);
  // The runtime spec's checks (known actions, architectures, flags, ...), so a bad profile
  // fails here, at create, rather than at start.
  if (auto v = oci::validate_seccomp(out); !v) {
    std::string m = v.error().message();
    if (m.starts_with("linux.seccomp.")) m.erase(0, 14);
    return decode_error("", m);
  }
  return out;
}

oci::Seccomp builtin_profile(const Target& target) { return resolve(builtin(), target); }

std::string builtin_profile_json() { return to_json(builtin()).dump(2); }

}  // namespace berth::engine::seccomp
