// Semantic checks of a parsed Spec that need no syscalls. What depends on the host (does a path
// exist, is a namespace path the host's, is a limit permitted) is checked by src/runtime when it
// applies the value. Every error names the field, as the parser's do.
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "oci/spec.h"

namespace berth::oci {
namespace {

using std::string;
using std::string_view;

// The kernel accepts at most this many lines in /proc/<pid>/{uid,gid}_map (since 4.15).
constexpr size_t kMaxIdMappings = 340;
constexpr size_t kMaxHostnameBytes = 64;  // HOST_NAME_MAX

Error invalid(string_view path, string_view message) {
  string m(path);
  m += ": ";
  m += message;
  return Error::invalid(std::move(m));
}

string indexed(string_view base, size_t i) {
  string s(base);
  s += '[';
  s += std::to_string(i);
  s += ']';
  return s;
}

string member(string_view base, string_view name) {
  string s(base);
  s += '.';
  s += name;
  return s;
}

string q(string_view s) { return quote_for_message(s); }

bool contains(std::initializer_list<string_view> set, string_view s) {
  return std::find(set.begin(), set.end(), s) != set.end();
}

// Strings that end up as C strings (paths, argv, environ, mount data) are cut at a NUL by the
// kernel; one inside a value would make the runtime act on something else than was validated.
Result<void> no_nul(string_view path, string_view s) {
  if (s.find('\0') != string_view::npos) return invalid(path, "must not contain a NUL byte");
  return ok();
}

Result<void> no_nul_in(string_view base, const std::vector<string>& v) {
  for (size_t i = 0; i < v.size(); ++i)
    if (v[i].find('\0') != string::npos)
      return invalid(indexed(base, i), "must not contain a NUL byte");
  return ok();
}

bool has_dotdot(string_view path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == string_view::npos) end = path.size();
    if (path.substr(start, end - start) == "..") return true;
    start = end + 1;
  }
  return false;
}

// True if `path` names "/" ("/", "//", "/./.").
bool is_root(string_view path) {
  for (char c : path)
    if (c != '/' && c != '.') return false;
  // Only slashes and dots: root unless some component is ".." or longer dot runs ("...").
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == string_view::npos) end = path.size();
    string_view part = path.substr(start, end - start);
    if (!part.empty() && part != ".") return false;
    start = end + 1;
  }
  return !path.empty();
}

// An absolute path inside the container with no ".." component.
Result<void> container_path(string_view field, string_view path) {
  if (path.empty()) return invalid(field, "required");
  BERTH_TRY(no_nul(field, path));
  if (path[0] != '/') return invalid(field, q(path) + " must be an absolute path");
  if (has_dotdot(path)) return invalid(field, q(path) + " must not contain \"..\"");
  return ok();
}

Result<void> absolute_path(string_view field, string_view path) {
  if (path.empty()) return invalid(field, "required");
  BERTH_TRY(no_nul(field, path));
  if (path[0] != '/') return invalid(field, q(path) + " must be an absolute path");
  return ok();
}

Result<void> env_list(string_view base, const std::vector<string>& env) {
  for (size_t i = 0; i < env.size(); ++i) {
    string field = indexed(base, i);
    BERTH_TRY(no_nul(field, env[i]));
    size_t eq = env[i].find('=');
    if (eq == string::npos || eq == 0)
      return invalid(field, q(env[i]) + " must be of the form KEY=value");
  }
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Process.

Result<void> capability_set(string_view base, const char* name, const std::vector<string>& caps) {
  for (size_t i = 0; i < caps.size(); ++i)
    if (!capability_number(caps[i]))
      return invalid(indexed(member(base, name), i), "unknown capability " + q(caps[i]));
  return ok();
}

Result<void> rlimits(string_view base, const std::vector<Rlimit>& limits) {
  string list = member(base, "rlimits");
  uint64_t seen = 0;  // bit per RLIMIT_* number (all < 16)
  for (size_t i = 0; i < limits.size(); ++i) {
    const Rlimit& r = limits[i];
    string field = indexed(list, i);
    std::optional<int> n = rlimit_number(r.type);
    if (!n) return invalid(member(field, "type"), "unknown rlimit " + q(r.type));
    if (seen & (uint64_t{1} << *n))
      return invalid(member(field, "type"), "duplicate rlimit " + q(r.type));
    seen |= uint64_t{1} << *n;
    if (r.soft > r.hard)
      return invalid(field, "soft limit " + std::to_string(r.soft) +
                                " is greater than hard limit " + std::to_string(r.hard));
  }
  return ok();
}

Result<void> scheduler(string_view base, const Scheduler& s) {
  string field = member(base, "scheduler");
  if (s.policy.empty()) return invalid(member(field, "policy"), "required");
  if (!contains({"SCHED_OTHER", "SCHED_FIFO", "SCHED_RR", "SCHED_BATCH", "SCHED_ISO", "SCHED_IDLE",
                 "SCHED_DEADLINE"},
                s.policy))
    return invalid(member(field, "policy"), "unknown policy " + q(s.policy));
  if (s.nice && (*s.nice < -20 || *s.nice > 19))
    return invalid(member(field, "nice"), std::to_string(*s.nice) + " out of range (-20..19)");
  bool realtime = s.policy == "SCHED_FIFO" || s.policy == "SCHED_RR";
  if (s.priority && *s.priority != 0 && !realtime)
    return invalid(member(field, "priority"), "only valid with SCHED_FIFO or SCHED_RR");
  bool deadline = s.policy == "SCHED_DEADLINE";
  if (!deadline &&
      ((s.runtime && *s.runtime) || (s.deadline && *s.deadline) || (s.period && *s.period)))
    return invalid(field, "runtime, deadline and period are only valid with SCHED_DEADLINE");
  for (size_t i = 0; i < s.flags.size(); ++i)
    if (!contains({"SCHED_FLAG_RESET_ON_FORK", "SCHED_FLAG_RECLAIM", "SCHED_FLAG_DL_OVERRUN",
                   "SCHED_FLAG_KEEP_POLICY", "SCHED_FLAG_KEEP_PARAMS", "SCHED_FLAG_UTIL_CLAMP_MIN",
                   "SCHED_FLAG_UTIL_CLAMP_MAX"},
                  s.flags[i]))
      return invalid(indexed(member(field, "flags"), i), "unknown flag " + q(s.flags[i]));
  return ok();
}

Result<void> process_at(string_view base, const Process& p) {
  string args = member(base, "args");
  if (p.args.empty()) return invalid(args, "must not be empty");
  BERTH_TRY(no_nul_in(args, p.args));
  string cwd = member(base, "cwd");
  BERTH_TRY(no_nul(cwd, p.cwd));
  if (p.cwd.empty() || p.cwd[0] != '/') return invalid(cwd, q(p.cwd) + " must be an absolute path");
  BERTH_TRY(env_list(member(base, "env"), p.env));
  if (p.user.umask && *p.user.umask > 0777)
    return invalid(member(base, "user.umask"),
                   std::to_string(*p.user.umask) + " out of range (0..0777)");
  if (p.capabilities) {
    string caps = member(base, "capabilities");
    BERTH_TRY(capability_set(caps, "bounding", p.capabilities->bounding));
    BERTH_TRY(capability_set(caps, "effective", p.capabilities->effective));
    BERTH_TRY(capability_set(caps, "inheritable", p.capabilities->inheritable));
    BERTH_TRY(capability_set(caps, "permitted", p.capabilities->permitted));
    BERTH_TRY(capability_set(caps, "ambient", p.capabilities->ambient));
  }
  BERTH_TRY(rlimits(base, p.rlimits));
  if (p.oom_score_adj && (*p.oom_score_adj < -1000 || *p.oom_score_adj > 1000))
    return invalid(member(base, "oomScoreAdj"),
                   std::to_string(*p.oom_score_adj) + " out of range (-1000..1000)");
  if (p.io_priority) {
    string io = member(base, "ioPriority");
    if (!contains({"IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"},
                  p.io_priority->klass))
      return invalid(member(io, "class"), "unknown class " + q(p.io_priority->klass));
    if (p.io_priority->priority < 0 || p.io_priority->priority > 7)
      return invalid(member(io, "priority"),
                     std::to_string(p.io_priority->priority) + " out of range (0..7)");
  }
  if (p.scheduler) BERTH_TRY(scheduler(base, *p.scheduler));
  // Written to /proc/self/attr/*, where a NUL would end the label early.
  BERTH_TRY(no_nul(member(base, "apparmorProfile"), p.apparmor_profile));
  BERTH_TRY(no_nul(member(base, "selinuxLabel"), p.selinux_label));
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Mounts, hooks, hostname.

Result<void> id_mappings(string_view base, const std::vector<IdMapping>& maps) {
  if (maps.size() > kMaxIdMappings)
    return invalid(base, std::to_string(maps.size()) +
                             " mappings, more than the kernel's limit of " +
                             std::to_string(kMaxIdMappings));
  for (size_t i = 0; i < maps.size(); ++i) {
    const IdMapping& m = maps[i];
    string field = indexed(base, i);
    if (m.size == 0) return invalid(member(field, "size"), "must be greater than 0");
    uint64_t last = uint64_t{m.size} - 1;
    if (m.container_id + last > UINT32_MAX)
      return invalid(field, "containerID " + std::to_string(m.container_id) + " + size " +
                                std::to_string(m.size) + " overflows 32 bits");
    if (m.host_id + last > UINT32_MAX)
      return invalid(field, "hostID " + std::to_string(m.host_id) + " + size " +
                                std::to_string(m.size) + " overflows 32 bits");
    for (size_t k = 0; k < i; ++k) {
      const IdMapping& o = maps[k];
      auto overlap = [](uint64_t a, uint64_t an, uint64_t b, uint64_t bn) {
        return a < b + bn && b < a + an;
      };
      if (overlap(m.container_id, m.size, o.container_id, o.size) ||
          overlap(m.host_id, m.size, o.host_id, o.size))
        return invalid(field, "overlaps " + indexed(base, k));
    }
  }
  return ok();
}

Result<void> mounts(const std::vector<Mount>& list) {
  for (size_t i = 0; i < list.size(); ++i) {
    const Mount& m = list[i];
    string field = indexed("mounts", i);
    string dest = member(field, "destination");
    BERTH_TRY(container_path(dest, m.destination));
    if (is_root(m.destination)) return invalid(dest, "cannot mount over \"/\"");
    BERTH_TRY(no_nul(member(field, "type"), m.type));
    BERTH_TRY(no_nul(member(field, "source"), m.source));
    BERTH_TRY(no_nul_in(member(field, "options"), m.options));
    BERTH_TRY(id_mappings(member(field, "uidMappings"), m.uid_mappings));
    BERTH_TRY(id_mappings(member(field, "gidMappings"), m.gid_mappings));
  }
  return ok();
}

Result<void> hook_list(const char* name, const std::vector<Hook>& list) {
  string base = member("hooks", name);
  for (size_t i = 0; i < list.size(); ++i) {
    const Hook& h = list[i];
    string field = indexed(base, i);
    BERTH_TRY(absolute_path(member(field, "path"), h.path));
    BERTH_TRY(no_nul_in(member(field, "args"), h.args));
    BERTH_TRY(env_list(member(field, "env"), h.env));
    if (h.timeout && *h.timeout <= 0)
      return invalid(member(field, "timeout"),
                     "must be positive, got " + std::to_string(*h.timeout));
  }
  return ok();
}

Result<void> hooks(const Hooks& h) {
  BERTH_TRY(hook_list("prestart", h.prestart));
  BERTH_TRY(hook_list("createRuntime", h.create_runtime));
  BERTH_TRY(hook_list("createContainer", h.create_container));
  BERTH_TRY(hook_list("startContainer", h.start_container));
  BERTH_TRY(hook_list("poststart", h.poststart));
  BERTH_TRY(hook_list("poststop", h.poststop));
  return ok();
}

Result<void> uts_name(const char* field, string_view value, const Linux* linux) {
  if (value.empty()) return ok();
  BERTH_TRY(no_nul(field, value));
  if (value.size() > kMaxHostnameBytes)
    return invalid(field, "longer than " + std::to_string(kMaxHostnameBytes) + " bytes");
  if (!linux || !linux->has_namespace(NamespaceType::Uts))
    return invalid(field, string("unable to set ") + field + " without a private UTS namespace");
  return ok();
}

Result<void> version(string_view v) {
  if (v.empty()) return invalid("ociVersion", "required");
  size_t digits = 0;
  while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9') ++digits;
  if (digits == 0 || (digits < v.size() && v[digits] != '.'))
    return invalid("ociVersion", q(v) + " is not a version");
  if (v.substr(0, digits) != "1")
    return invalid("ociVersion", "unsupported version " + q(v) + " (berth supports 1.x)");
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Linux.

Result<void> namespaces(const Linux& l) {
  uint32_t seen = 0;
  for (size_t i = 0; i < l.namespaces.size(); ++i) {
    const Namespace& ns = l.namespaces[i];
    string field = indexed("linux.namespaces", i);
    if (static_cast<unsigned>(ns.type) > static_cast<unsigned>(NamespaceType::Time))
      return invalid(member(field, "type"), "unknown namespace");
    uint32_t bit = uint32_t{1} << static_cast<unsigned>(ns.type);
    if (seen & bit)
      return invalid(member(field, "type"),
                     string("duplicate namespace \"") + json_name(ns.type) + "\"");
    seen |= bit;
    if (!ns.path.empty()) BERTH_TRY(absolute_path(member(field, "path"), ns.path));
  }

  const Namespace* user = l.find_namespace(NamespaceType::User);
  if (user && user->path.empty()) {
    if (l.uid_mappings.empty())
      return invalid("linux.uidMappings", "a new user namespace needs at least one mapping");
    if (l.gid_mappings.empty())
      return invalid("linux.gidMappings", "a new user namespace needs at least one mapping");
  }
  if (!user) {
    if (!l.uid_mappings.empty())
      return invalid("linux.uidMappings",
                     "user namespace mappings specified, but no user namespace is configured");
    if (!l.gid_mappings.empty())
      return invalid("linux.gidMappings",
                     "user namespace mappings specified, but no user namespace is configured");
  }
  BERTH_TRY(id_mappings("linux.uidMappings", l.uid_mappings));
  BERTH_TRY(id_mappings("linux.gidMappings", l.gid_mappings));
  return ok();
}

Result<void> time_offsets(const Linux& l) {
  if (l.time_offsets_secs.empty() && l.time_offsets_nanosecs.empty()) return ok();
  auto known = [](const string& clock) { return clock == "monotonic" || clock == "boottime"; };
  for (const auto& [clock, secs] : l.time_offsets_secs)
    if (!known(clock)) return invalid("linux.timeOffsets", "unknown clock " + q(clock));
  for (const auto& [clock, ns] : l.time_offsets_nanosecs) {
    if (!known(clock)) return invalid("linux.timeOffsets", "unknown clock " + q(clock));
    if (ns >= 1000000000u)
      return invalid("linux.timeOffsets." + clock + ".nanosecs",
                     std::to_string(ns) + " out of range (0..999999999)");
  }
  const Namespace* time = l.find_namespace(NamespaceType::Time);
  if (!time)
    return invalid("linux.timeOffsets",
                   "time namespace offsets specified, but no time namespace is configured");
  if (!time->path.empty())
    return invalid("linux.timeOffsets",
                   "offsets can only be set on a new time namespace, not a joined one");
  return ok();
}

Result<void> devices(const std::vector<Device>& list) {
  for (size_t i = 0; i < list.size(); ++i) {
    const Device& d = list[i];
    string field = indexed("linux.devices", i);
    BERTH_TRY(container_path(member(field, "path"), d.path));
    if (is_root(d.path)) return invalid(member(field, "path"), "cannot create a device at \"/\"");
    if (d.type != 'c' && d.type != 'b' && d.type != 'u' && d.type != 'p')
      return invalid(member(field, "type"),
                     "unknown device type " + q(string_view(&d.type, 1)) + " (want c, b, u or p)");
    if (d.type == 'p' && (d.major != 0 || d.minor != 0))
      return invalid(field, "a fifo (type \"p\") must have major and minor 0");
    if (d.major < 0 || d.major > UINT32_MAX)
      return invalid(member(field, "major"), std::to_string(d.major) + " out of range");
    if (d.minor < 0 || d.minor > UINT32_MAX)
      return invalid(member(field, "minor"), std::to_string(d.minor) + " out of range");
  }
  return ok();
}

// "2MB", "64KB", "1GB": becomes part of a cgroup file name (hugetlb.<size>.limit_in_bytes).
bool valid_page_size(string_view s) {
  size_t digits = 0;
  while (digits < s.size() && s[digits] >= '0' && s[digits] <= '9') ++digits;
  if (digits == 0 || s.size() != digits + 2 || s[digits + 1] != 'B') return false;
  char unit = s[digits];
  return unit == 'K' || unit == 'M' || unit == 'G' || unit == 'T' || unit == 'P';
}

// A cgroup v2 interface file name ("memory.max"): one path component, nothing odd.
bool valid_cgroup_file(string_view s) {
  if (s.empty() || s == "." || s == "..") return false;
  for (char c : s)
    if (c == '/' || static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
  return true;
}

Result<void> resources(const Resources& r) {
  const string base = "linux.resources";
  for (size_t i = 0; i < r.devices.size(); ++i) {
    const DeviceCgroupRule& d = r.devices[i];
    string field = indexed(base + ".devices", i);
    if (!contains({"", "a", "b", "c"}, d.type))
      return invalid(member(field, "type"),
                     "unknown device type " + q(d.type) + " (want a, b or c)");
    if (d.access.find_first_not_of("rwm") != string::npos)
      return invalid(member(field, "access"), q(d.access) + " must be made of r, w and m");
    if (d.major && *d.major < -1)
      return invalid(member(field, "major"), std::to_string(*d.major) + " out of range");
    if (d.minor && *d.minor < -1)
      return invalid(member(field, "minor"), std::to_string(*d.minor) + " out of range");
  }
  if (r.memory && r.memory->swappiness && *r.memory->swappiness > 100)
    return invalid(base + ".memory.swappiness",
                   std::to_string(*r.memory->swappiness) + " out of range (0..100)");
  for (size_t i = 0; i < r.hugepage_limits.size(); ++i)
    if (!valid_page_size(r.hugepage_limits[i].page_size))
      return invalid(member(indexed(base + ".hugepageLimits", i), "pageSize"),
                     q(r.hugepage_limits[i].page_size) + " is not a page size like \"2MB\"");
  if (r.network) {
    for (size_t i = 0; i < r.network->priorities.size(); ++i)
      if (!valid_cgroup_file(r.network->priorities[i].first))
        return invalid(member(indexed(base + ".network.priorities", i), "name"),
                       q(r.network->priorities[i].first) + " is not an interface name");
  }
  for (const auto& [device, limits] : r.rdma) {
    if (!valid_cgroup_file(device))
      return invalid(base + ".rdma", q(device) + " is not a device name");
    if (!limits.hca_handles && !limits.hca_objects)
      return invalid(base + ".rdma", q(device) + " needs hcaHandles or hcaObjects");
  }
  for (const auto& [file, value] : r.unified) {
    if (!valid_cgroup_file(file))
      return invalid(base + ".unified", q(file) + " is not a cgroup file name");
    BERTH_TRY(no_nul(base + ".unified", value));
  }
  return ok();
}

Result<void> seccomp(const Seccomp& s) {
  const string base = "linux.seccomp";
  auto known_action = [](string_view a) {
    return contains(
        {"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
         "SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY"},
        a);
  };
  auto takes_errno = [](string_view a) { return a == "SCMP_ACT_ERRNO" || a == "SCMP_ACT_TRACE"; };

  string def = base + ".defaultAction";
  if (s.default_action.empty()) return invalid(def, "required");
  if (!known_action(s.default_action)) return invalid(def, "unknown action " + q(s.default_action));
  if (s.default_action == "SCMP_ACT_NOTIFY")
    return invalid(def, "SCMP_ACT_NOTIFY cannot be the default action");
  if (s.default_errno_ret && !takes_errno(s.default_action))
    return invalid(base + ".defaultErrnoRet", "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
  for (size_t i = 0; i < s.architectures.size(); ++i)
    if (!contains({"SCMP_ARCH_X86",      "SCMP_ARCH_X86_64",      "SCMP_ARCH_X32",
                   "SCMP_ARCH_ARM",      "SCMP_ARCH_AARCH64",     "SCMP_ARCH_MIPS",
                   "SCMP_ARCH_MIPS64",   "SCMP_ARCH_MIPS64N32",   "SCMP_ARCH_MIPSEL",
                   "SCMP_ARCH_MIPSEL64", "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
                   "SCMP_ARCH_PPC64",    "SCMP_ARCH_PPC64LE",     "SCMP_ARCH_S390",
                   "SCMP_ARCH_S390X",    "SCMP_ARCH_PARISC",      "SCMP_ARCH_PARISC64",
                   "SCMP_ARCH_RISCV64",  "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
                   "SCMP_ARCH_SH",       "SCMP_ARCH_SHEB"},
                  s.architectures[i]))
      return invalid(indexed(base + ".architectures", i),
                     "unknown architecture " + q(s.architectures[i]));
  for (size_t i = 0; i < s.flags.size(); ++i)
    if (!contains({"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                   "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"},
                  s.flags[i]))
      return invalid(indexed(base + ".flags", i), "unknown flag " + q(s.flags[i]));
  if (!s.listener_metadata.empty() && s.listener_path.empty())
    return invalid(base + ".listenerMetadata", "set, but listenerPath is not");
  BERTH_TRY(no_nul(base + ".listenerPath", s.listener_path));

  for (size_t i = 0; i < s.syscalls.size(); ++i) {
    const SeccompSyscall& sc = s.syscalls[i];
    string field = indexed(base + ".syscalls", i);
    if (sc.names.empty()) return invalid(member(field, "names"), "must not be empty");
    for (size_t k = 0; k < sc.names.size(); ++k)
      if (sc.names[k].empty())
        return invalid(indexed(member(field, "names"), k), "must not be empty");
    if (!known_action(sc.action))
      return invalid(member(field, "action"), "unknown action " + q(sc.action));
    if (sc.action == "SCMP_ACT_NOTIFY" && s.listener_path.empty())
      return invalid(base + ".listenerPath", "required when SCMP_ACT_NOTIFY is used");
    if (sc.errno_ret && !takes_errno(sc.action))
      return invalid(member(field, "errnoRet"), "only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
    if (sc.args.size() > 6)
      return invalid(member(field, "args"), "a syscall has at most 6 arguments");
    for (size_t k = 0; k < sc.args.size(); ++k) {
      const SeccompArg& a = sc.args[k];
      string arg = indexed(member(field, "args"), k);
      if (a.index > 5)
        return invalid(member(arg, "index"), std::to_string(a.index) + " out of range (0..5)");
      if (!contains({"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE",
                     "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"},
                    a.op))
        return invalid(member(arg, "op"), "unknown operator " + q(a.op));
    }
  }
  return ok();
}

// runc accepts "net/ipv4/ip_forward" for "net.ipv4.ip_forward": when the first separator is a
// '/', '.' and '/' swap roles (a '/' in the dotted form is a '.' inside one name: eth0/100).
string sysctl_dotted(string_view key) {
  size_t sep = key.find_first_of("./");
  string out(key);
  if (sep == string_view::npos || key[sep] == '.') return out;
  for (char& c : out) {
    if (c == '.')
      c = '/';
    else if (c == '/')
      c = '.';
  }
  return out;
}

// Each dotted component becomes one directory under /proc/sys: it must be a plain name, so that
// "net.//.vm.swappiness" (net/../vm/swappiness) cannot reach an unnamespaced knob.
bool valid_sysctl_key(string_view dotted) {
  size_t start = 0;
  while (start <= dotted.size()) {
    size_t end = dotted.find('.', start);
    if (end == string_view::npos) end = dotted.size();
    string_view part = dotted.substr(start, end - start);
    if (part.empty() || part.find_first_not_of('/') == string_view::npos) return false;
    for (char c : part)
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return false;
    start = end + 1;
  }
  return true;
}

Result<void> sysctls(const Spec& spec, const Linux& l) {
  const char* field = "linux.sysctl";
  for (const auto& [key, value] : l.sysctl) {
    BERTH_TRY(no_nul(field, value));
    string k = sysctl_dotted(key);
    if (!valid_sysctl_key(k)) return invalid(field, q(key) + " is not a valid sysctl name");
    bool ipc =
        contains({"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
                  "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced"},
                 k) ||
        k.starts_with("fs.mqueue.");
    if (ipc) {
      if (!l.has_namespace(NamespaceType::Ipc))
        return invalid(field, q(key) + " is not allowed in the host's IPC namespace");
      continue;
    }
    if (k.starts_with("net.")) {
      // A joined network namespace might still be the host's; the runtime checks that.
      if (!l.has_namespace(NamespaceType::Network))
        return invalid(field, q(key) + " is not allowed in the host's network namespace");
      continue;
    }
    if (k == "kernel.hostname" || k == "kernel.domainname") {
      if (!l.has_namespace(NamespaceType::Uts))
        return invalid(field, q(key) + " is not allowed in the host's UTS namespace");
      const char* conflicting = k == "kernel.hostname" ? "hostname" : "domainname";
      if (!(k == "kernel.hostname" ? spec.hostname : spec.domainname).empty())
        return invalid(field, q(key) + " conflicts with the \"" + conflicting + "\" field");
      continue;
    }
    return invalid(field, q(key) + " is not namespaced and cannot be set in a container");
  }
  return ok();
}

Result<void> path_list(const char* base, const std::vector<string>& paths) {
  for (size_t i = 0; i < paths.size(); ++i) BERTH_TRY(container_path(indexed(base, i), paths[i]));
  return ok();
}

// A cgroup path relative to the hierarchy's root (or systemd's "slice:prefix:name").
Result<void> cgroups_path(string_view path) {
  BERTH_TRY(no_nul("linux.cgroupsPath", path));
  if (has_dotdot(path)) return invalid("linux.cgroupsPath", q(path) + " must not contain \"..\"");
  return ok();
}

Result<void> linux_section(const Spec& spec, const Linux& l) {
  BERTH_TRY(namespaces(l));
  BERTH_TRY(time_offsets(l));
  BERTH_TRY(devices(l.devices));
  BERTH_TRY(cgroups_path(l.cgroups_path));
  if (l.resources) BERTH_TRY(resources(*l.resources));
  if (!contains({"", "shared", "slave", "private", "unbindable", "rshared", "rslave", "rprivate",
                 "runbindable"},
                l.rootfs_propagation))
    return invalid("linux.rootfsPropagation", "unknown propagation " + q(l.rootfs_propagation));
  if (l.seccomp) BERTH_TRY(seccomp(*l.seccomp));
  BERTH_TRY(sysctls(spec, l));
  BERTH_TRY(path_list("linux.maskedPaths", l.masked_paths));
  BERTH_TRY(path_list("linux.readonlyPaths", l.readonly_paths));
  BERTH_TRY(no_nul("linux.mountLabel", l.mount_label));
  if ((!l.masked_paths.empty() || !l.readonly_paths.empty()) &&
      !l.has_namespace(NamespaceType::Mount))
    return invalid(l.masked_paths.empty() ? "linux.readonlyPaths" : "linux.maskedPaths",
                   "unable to restrict paths without a private mount namespace");
  if (l.personality) {
    if (l.personality->domain != "LINUX" && l.personality->domain != "LINUX32")
      return invalid("linux.personality.domain",
                     "unknown domain " + q(l.personality->domain) + " (want LINUX or LINUX32)");
    if (!l.personality->flags.empty())
      return invalid("linux.personality.flags", "no flags are supported");
  }
  if (l.intel_rdt || !l.intel_rdt_clos_id.empty())
    return Error::unsupported("linux.intelRdt: Intel RDT is not supported");
  return ok();
}

}  // namespace

Result<void> validate_process(const Process& p) { return process_at("process", p); }

Result<void> validate_seccomp(const Seccomp& s) { return seccomp(s); }

Result<void> validate(const Spec& spec) {
  BERTH_TRY(version(spec.oci_version));
  if (spec.root.path.empty()) return invalid("root.path", "required");
  BERTH_TRY(no_nul("root.path", spec.root.path));
  if (!spec.process) return invalid("process", "required");
  BERTH_TRY(process_at("process", *spec.process));
  const Linux* linux = spec.linux ? &*spec.linux : nullptr;
  BERTH_TRY(uts_name("hostname", spec.hostname, linux));
  BERTH_TRY(uts_name("domainname", spec.domainname, linux));
  BERTH_TRY(mounts(spec.mounts));
  if (spec.hooks) BERTH_TRY(hooks(*spec.hooks));
  if (linux) BERTH_TRY(linux_section(spec, *linux));
  return ok();
}

}  // namespace berth::oci
