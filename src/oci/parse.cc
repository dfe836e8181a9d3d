// config.json / process.json text -> oci::Spec / oci::Process.
//
// The text is parsed into a JsonDoc (json_dom.h) once, then walked by one `read` overload per
// spec type. Every failure becomes Error::invalid naming the field, JSON-path style
// ("linux.namespaces[2].type: unknown namespace \"foo\""); the path is a chain of stack frames
// and is only turned into text when there is an error. Unknown fields are ignored; `null` reads
// as "absent" (as Go's decoder, hence runc, treats it). Nothing here throws out: allocation
// failures are caught at the entry points.
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "oci/json_dom.h"
#include "oci/json_path.h"
#include "oci/spec.h"

namespace berth::oci {
namespace {

using json = detail::JsonRef;
using detail::JsonDoc;
using detail::JsonType;

// Real configs are a few KiB (a large seccomp profile is ~30 KiB) and at most ~8 levels deep.
constexpr size_t kMaxInputBytes = 16u << 20;
constexpr int kMaxDepth = 64;

using Path = detail::JsonPath;
using detail::describe;
using detail::expect_object;
using detail::field_error;
using detail::type_error;

// ---------------------------------------------------------------------------------------------
// Scalars.

Result<void> read(json j, const Path& p, std::string& out) {
  if (!j.is_string()) return type_error(p, "must be a string", j);
  out.assign(j.str());
  return ok();
}

Result<void> read(json j, const Path& p, bool& out) {
  if (!j.is_boolean()) return type_error(p, "must be a boolean", j);
  out = j.boolean();
  return ok();
}

template <class T>
requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Result<void> read(json j, const Path& p,
                                                                              T& out) {
  using Limits = std::numeric_limits<T>;
  constexpr const char* kExpected =
      std::is_unsigned_v<T> ? "must be an unsigned integer" : "must be an integer";
  auto out_of_range = [&] { return field_error(p, j.dump() + " out of range"); };
  switch (j.type()) {
    case JsonType::Unsigned: {
      uint64_t v = j.unsigned_();
      if (v > static_cast<uint64_t>(Limits::max())) return out_of_range();
      out = static_cast<T>(v);
      return ok();
    }
    case JsonType::Integer: {
      int64_t v = j.integer();
      if (v < 0 && std::is_unsigned_v<T>) return type_error(p, kExpected, j);
      if (v >= 0 && static_cast<uint64_t>(v) > static_cast<uint64_t>(Limits::max()))
        return out_of_range();
      if (v < 0 && v < static_cast<int64_t>(Limits::min())) return out_of_range();
      out = static_cast<T>(v);
      return ok();
    }
    case JsonType::Float: {
      // Integers beyond 64 bits arrive as doubles; fractions and exponents are never integers
      // to Go's decoder either. Never convert: an out-of-range double -> int cast is UB.
      double d = j.number();
      if (std::is_unsigned_v<T> && d < 0) return type_error(p, kExpected, j);
      bool integral = std::isfinite(d) && std::trunc(d) == d;
      double lo = static_cast<double>(Limits::min());
      double hi = static_cast<double>(Limits::max()) + 1.0;  // exact power of two
      if (integral && (d < lo || d >= hi)) return out_of_range();
      return type_error(p, kExpected, j);
    }
    default: return type_error(p, kExpected, j);
  }
}

// ---------------------------------------------------------------------------------------------
// Containers and fields.

template <class T>
Result<void> read(json j, const Path& p, std::optional<T>& out);
template <class T>
Result<void> read(json j, const Path& p, std::vector<T>& out);
template <class V>
Result<void> read(json j, const Path& p, std::map<std::string, V>& out);

Result<void> read(json j, const Path& p, Process& out);
Result<void> read(json j, const Path& p, ConsoleSize& out);
Result<void> read(json j, const Path& p, User& out);
Result<void> read(json j, const Path& p, Capabilities& out);
Result<void> read(json j, const Path& p, Rlimit& out);
Result<void> read(json j, const Path& p, IoPriority& out);
Result<void> read(json j, const Path& p, Scheduler& out);
Result<void> read(json j, const Path& p, Root& out);
Result<void> read(json j, const Path& p, IdMapping& out);
Result<void> read(json j, const Path& p, Mount& out);
Result<void> read(json j, const Path& p, Hook& out);
Result<void> read(json j, const Path& p, Hooks& out);
Result<void> read(json j, const Path& p, Namespace& out);
Result<void> read(json j, const Path& p, Device& out);
Result<void> read(json j, const Path& p, DeviceCgroupRule& out);
Result<void> read(json j, const Path& p, ThrottleDevice& out);
Result<void> read(json j, const Path& p, WeightDevice& out);
Result<void> read(json j, const Path& p, Resources& out);
Result<void> read(json j, const Path& p, Resources::Memory& out);
Result<void> read(json j, const Path& p, Resources::Cpu& out);
Result<void> read(json j, const Path& p, Resources::BlockIo& out);
Result<void> read(json j, const Path& p, Resources::HugepageLimit& out);
Result<void> read(json j, const Path& p, Resources::Network& out);
Result<void> read(json j, const Path& p, std::pair<std::string, uint32_t>& out);
Result<void> read(json j, const Path& p, Resources::Rdma& out);
Result<void> read(json j, const Path& p, SeccompArg& out);
Result<void> read(json j, const Path& p, SeccompSyscall& out);
Result<void> read(json j, const Path& p, Seccomp& out);
Result<void> read(json j, const Path& p, Personality& out);
Result<void> read(json j, const Path& p, Linux& out);
Result<void> read(json j, const Path& p, Spec& out);

template <class T>
Result<void> read(json j, const Path& p, std::optional<T>& out) {
  out.emplace();
  return read(j, p, *out);
}

template <class T>
Result<void> read(json j, const Path& p, std::vector<T>& out) {
  if (!j.is_array()) return type_error(p, "must be an array", j);
  out.clear();
  out.reserve(j.size());
  size_t i = 0;
  for (json e = j.first(); e; e = e.next(), ++i) {
    out.emplace_back();
    BERTH_TRY(read(e, Path(p, i), out.back()));
  }
  return ok();
}

template <class V>
Result<void> read(json j, const Path& p, std::map<std::string, V>& out) {
  if (!j.is_object()) return type_error(p, "must be an object", j);
  out.clear();
  for (json m = j.first(); m; m = m.next()) {
    V v{};
    BERTH_TRY(read(m, Path(p, Path::Key{m.key()}), v));
    out.insert_or_assign(std::string(m.key()), std::move(v));
  }
  return ok();
}

// The member `name` of object `obj` (the last one of that name), or none when it is absent
// or null.
json member(json obj, const char* name) {
  json m = obj.find(name);
  if (!m || m.is_null()) return {};
  return m;
}

// Reads an optional member: absent or null leaves `out` as it is.
template <class T>
Result<void> field(json obj, const Path& p, const char* name, T& out) {
  json m = member(obj, name);
  if (!m) return ok();
  return read(m, Path(p, name), out);
}

template <class T>
Result<void> required(json obj, const Path& p, const char* name, T& out) {
  json m = member(obj, name);
  if (!m) return field_error(Path(p, name), "required");
  return read(m, Path(p, name), out);
}

// ---------------------------------------------------------------------------------------------
// Process.

Result<void> read(json j, const Path& p, ConsoleSize& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "height", out.height));
  BERTH_TRY(required(j, p, "width", out.width));
  return ok();
}

Result<void> read(json j, const Path& p, User& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "uid", out.uid));
  BERTH_TRY(field(j, p, "gid", out.gid));
  BERTH_TRY(field(j, p, "umask", out.umask));
  BERTH_TRY(field(j, p, "additionalGids", out.additional_gids));
  BERTH_TRY(field(j, p, "username", out.username));
  return ok();
}

Result<void> read(json j, const Path& p, Capabilities& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "bounding", out.bounding));
  BERTH_TRY(field(j, p, "effective", out.effective));
  BERTH_TRY(field(j, p, "inheritable", out.inheritable));
  BERTH_TRY(field(j, p, "permitted", out.permitted));
  BERTH_TRY(field(j, p, "ambient", out.ambient));
  return ok();
}

Result<void> read(json j, const Path& p, Rlimit& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "type", out.type));
  BERTH_TRY(required(j, p, "hard", out.hard));
  BERTH_TRY(required(j, p, "soft", out.soft));
  return ok();
}

Result<void> read(json j, const Path& p, IoPriority& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "class", out.klass));
  BERTH_TRY(required(j, p, "priority", out.priority));
  return ok();
}

Result<void> read(json j, const Path& p, Scheduler& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "policy", out.policy));
  BERTH_TRY(field(j, p, "nice", out.nice));
  BERTH_TRY(field(j, p, "priority", out.priority));
  BERTH_TRY(field(j, p, "flags", out.flags));
  BERTH_TRY(field(j, p, "runtime", out.runtime));
  BERTH_TRY(field(j, p, "deadline", out.deadline));
  BERTH_TRY(field(j, p, "period", out.period));
  return ok();
}

Result<void> read(json j, const Path& p, Process& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "terminal", out.terminal));
  BERTH_TRY(field(j, p, "consoleSize", out.console_size));
  BERTH_TRY(field(j, p, "user", out.user));
  BERTH_TRY(field(j, p, "args", out.args));
  BERTH_TRY(field(j, p, "commandLine", out.command_line));
  BERTH_TRY(field(j, p, "env", out.env));
  BERTH_TRY(field(j, p, "cwd", out.cwd));
  BERTH_TRY(field(j, p, "capabilities", out.capabilities));
  BERTH_TRY(field(j, p, "rlimits", out.rlimits));
  BERTH_TRY(field(j, p, "noNewPrivileges", out.no_new_privileges));
  BERTH_TRY(field(j, p, "apparmorProfile", out.apparmor_profile));
  BERTH_TRY(field(j, p, "oomScoreAdj", out.oom_score_adj));
  BERTH_TRY(field(j, p, "selinuxLabel", out.selinux_label));
  BERTH_TRY(field(j, p, "ioPriority", out.io_priority));
  BERTH_TRY(field(j, p, "scheduler", out.scheduler));
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Root, mounts, hooks.

Result<void> read(json j, const Path& p, Root& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "path", out.path));
  BERTH_TRY(field(j, p, "readonly", out.readonly));
  return ok();
}

Result<void> read(json j, const Path& p, IdMapping& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "containerID", out.container_id));
  BERTH_TRY(required(j, p, "hostID", out.host_id));
  BERTH_TRY(required(j, p, "size", out.size));
  return ok();
}

Result<void> read(json j, const Path& p, Mount& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "destination", out.destination));
  BERTH_TRY(field(j, p, "type", out.type));
  BERTH_TRY(field(j, p, "source", out.source));
  BERTH_TRY(field(j, p, "options", out.options));
  BERTH_TRY(field(j, p, "uidMappings", out.uid_mappings));
  BERTH_TRY(field(j, p, "gidMappings", out.gid_mappings));
  return ok();
}

Result<void> read(json j, const Path& p, Hook& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "path", out.path));
  BERTH_TRY(field(j, p, "args", out.args));
  BERTH_TRY(field(j, p, "env", out.env));
  BERTH_TRY(field(j, p, "timeout", out.timeout));
  return ok();
}

Result<void> read(json j, const Path& p, Hooks& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "prestart", out.prestart));
  BERTH_TRY(field(j, p, "createRuntime", out.create_runtime));
  BERTH_TRY(field(j, p, "createContainer", out.create_container));
  BERTH_TRY(field(j, p, "startContainer", out.start_container));
  BERTH_TRY(field(j, p, "poststart", out.poststart));
  BERTH_TRY(field(j, p, "poststop", out.poststop));
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Linux: namespaces, devices.

std::optional<NamespaceType> namespace_type(std::string_view name) {
  static constexpr NamespaceType kAll[] = {
      NamespaceType::Pid, NamespaceType::Network, NamespaceType::Mount,  NamespaceType::Ipc,
      NamespaceType::Uts, NamespaceType::User,    NamespaceType::Cgroup, NamespaceType::Time};
  for (NamespaceType t : kAll)
    if (name == json_name(t)) return t;
  return std::nullopt;
}

Result<void> read(json j, const Path& p, Namespace& out) {
  BERTH_TRY(expect_object(j, p));
  std::string type;
  BERTH_TRY(required(j, p, "type", type));
  std::optional<NamespaceType> t = namespace_type(type);
  if (!t) return field_error(Path(p, "type"), "unknown namespace " + quote_for_message(type));
  out.type = *t;
  BERTH_TRY(field(j, p, "path", out.path));
  return ok();
}

Result<void> read(json j, const Path& p, Device& out) {
  BERTH_TRY(expect_object(j, p));
  std::string type;
  BERTH_TRY(required(j, p, "type", type));
  if (type.size() != 1)
    return field_error(Path(p, "type"),
                       "unknown device type " + quote_for_message(type) + " (want c, b, u or p)");
  out.type = type[0];
  BERTH_TRY(field(j, p, "path", out.path));
  BERTH_TRY(field(j, p, "major", out.major));
  BERTH_TRY(field(j, p, "minor", out.minor));
  BERTH_TRY(field(j, p, "fileMode", out.file_mode));
  BERTH_TRY(field(j, p, "uid", out.uid));
  BERTH_TRY(field(j, p, "gid", out.gid));
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Linux: resources.

Result<void> read(json j, const Path& p, DeviceCgroupRule& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "allow", out.allow));
  BERTH_TRY(field(j, p, "type", out.type));
  BERTH_TRY(field(j, p, "major", out.major));
  BERTH_TRY(field(j, p, "minor", out.minor));
  BERTH_TRY(field(j, p, "access", out.access));
  return ok();
}

Result<void> read(json j, const Path& p, ThrottleDevice& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "major", out.major));
  BERTH_TRY(required(j, p, "minor", out.minor));
  BERTH_TRY(required(j, p, "rate", out.rate));
  return ok();
}

Result<void> read(json j, const Path& p, WeightDevice& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "major", out.major));
  BERTH_TRY(required(j, p, "minor", out.minor));
  BERTH_TRY(field(j, p, "weight", out.weight));
  BERTH_TRY(field(j, p, "leafWeight", out.leaf_weight));
  return ok();
}

Result<void> read(json j, const Path& p, Resources::Memory& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "limit", out.limit));
  BERTH_TRY(field(j, p, "reservation", out.reservation));
  BERTH_TRY(field(j, p, "swap", out.swap));
  BERTH_TRY(field(j, p, "kernel", out.kernel));
  BERTH_TRY(field(j, p, "kernelTCP", out.kernel_tcp));
  BERTH_TRY(field(j, p, "swappiness", out.swappiness));
  BERTH_TRY(field(j, p, "disableOOMKiller", out.disable_oom_killer));
  BERTH_TRY(field(j, p, "useHierarchy", out.use_hierarchy));
  BERTH_TRY(field(j, p, "checkBeforeUpdate", out.check_before_update));
  return ok();
}

Result<void> read(json j, const Path& p, Resources::Cpu& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "shares", out.shares));
  BERTH_TRY(field(j, p, "quota", out.quota));
  BERTH_TRY(field(j, p, "burst", out.burst));
  BERTH_TRY(field(j, p, "period", out.period));
  BERTH_TRY(field(j, p, "realtimeRuntime", out.realtime_runtime));
  BERTH_TRY(field(j, p, "realtimePeriod", out.realtime_period));
  BERTH_TRY(field(j, p, "cpus", out.cpus));
  BERTH_TRY(field(j, p, "mems", out.mems));
  BERTH_TRY(field(j, p, "idle", out.idle));
  return ok();
}

Result<void> read(json j, const Path& p, Resources::BlockIo& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "weight", out.weight));
  BERTH_TRY(field(j, p, "leafWeight", out.leaf_weight));
  BERTH_TRY(field(j, p, "weightDevice", out.weight_device));
  BERTH_TRY(field(j, p, "throttleReadBpsDevice", out.throttle_read_bps));
  BERTH_TRY(field(j, p, "throttleWriteBpsDevice", out.throttle_write_bps));
  BERTH_TRY(field(j, p, "throttleReadIOPSDevice", out.throttle_read_iops));
  BERTH_TRY(field(j, p, "throttleWriteIOPSDevice", out.throttle_write_iops));
  return ok();
}

Result<void> read(json j, const Path& p, Resources::HugepageLimit& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "pageSize", out.page_size));
  BERTH_TRY(required(j, p, "limit", out.limit));
  return ok();
}

Result<void> read(json j, const Path& p, std::pair<std::string, uint32_t>& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "name", out.first));
  BERTH_TRY(required(j, p, "priority", out.second));
  return ok();
}

Result<void> read(json j, const Path& p, Resources::Network& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "classID", out.class_id));
  BERTH_TRY(field(j, p, "priorities", out.priorities));
  return ok();
}

Result<void> read(json j, const Path& p, Resources::Rdma& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "hcaHandles", out.hca_handles));
  BERTH_TRY(field(j, p, "hcaObjects", out.hca_objects));
  return ok();
}

Result<void> read(json j, const Path& p, Resources& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "devices", out.devices));
  BERTH_TRY(field(j, p, "memory", out.memory));
  BERTH_TRY(field(j, p, "cpu", out.cpu));
  if (json pids = member(j, "pids")) {
    Path pp(p, "pids");
    BERTH_TRY(expect_object(pids, pp));
    BERTH_TRY(field(pids, pp, "limit", out.pids_limit));
  }
  BERTH_TRY(field(j, p, "blockIO", out.block_io));
  BERTH_TRY(field(j, p, "hugepageLimits", out.hugepage_limits));
  BERTH_TRY(field(j, p, "network", out.network));
  BERTH_TRY(field(j, p, "rdma", out.rdma));
  BERTH_TRY(field(j, p, "unified", out.unified));
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Linux: seccomp, personality, the rest.

Result<void> read(json j, const Path& p, SeccompArg& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "index", out.index));
  BERTH_TRY(required(j, p, "value", out.value));
  BERTH_TRY(field(j, p, "valueTwo", out.value_two));
  BERTH_TRY(required(j, p, "op", out.op));
  return ok();
}

Result<void> read(json j, const Path& p, SeccompSyscall& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required(j, p, "names", out.names));
  BERTH_TRY(required(j, p, "action", out.action));
  BERTH_TRY(field(j, p, "errnoRet", out.errno_ret));
  BERTH_TRY(field(j, p, "args", out.args));
  return ok();
}

Result<void> read(json j, const Path& p, Seccomp& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "defaultAction", out.default_action));
  BERTH_TRY(field(j, p, "defaultErrnoRet", out.default_errno_ret));
  BERTH_TRY(field(j, p, "architectures", out.architectures));
  BERTH_TRY(field(j, p, "flags", out.flags));
  BERTH_TRY(field(j, p, "listenerPath", out.listener_path));
  BERTH_TRY(field(j, p, "listenerMetadata", out.listener_metadata));
  BERTH_TRY(field(j, p, "syscalls", out.syscalls));
  return ok();
}

Result<void> read(json j, const Path& p, Personality& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "domain", out.domain));
  BERTH_TRY(field(j, p, "flags", out.flags));
  return ok();
}

// "timeOffsets": {"monotonic": {"secs": -5, "nanosecs": 10}, ...}. A clock that is present
// always gets a secs entry (0 if unset), so its presence survives.
Result<void> read_time_offsets(json j, const Path& p, Linux& out) {
  BERTH_TRY(expect_object(j, p));
  out.time_offsets_secs.clear();
  out.time_offsets_nanosecs.clear();
  for (json clock = j.first(); clock; clock = clock.next()) {
    Path cp(p, Path::Key{clock.key()});
    BERTH_TRY(expect_object(clock, cp));
    int64_t secs = 0;
    std::optional<uint32_t> nanosecs;
    BERTH_TRY(field(clock, cp, "secs", secs));
    BERTH_TRY(field(clock, cp, "nanosecs", nanosecs));
    out.time_offsets_secs.insert_or_assign(std::string(clock.key()), secs);
    if (nanosecs) out.time_offsets_nanosecs.insert_or_assign(std::string(clock.key()), *nanosecs);
  }
  return ok();
}

Result<void> read(json j, const Path& p, Linux& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "namespaces", out.namespaces));
  BERTH_TRY(field(j, p, "uidMappings", out.uid_mappings));
  BERTH_TRY(field(j, p, "gidMappings", out.gid_mappings));
  if (json offsets = member(j, "timeOffsets"))
    BERTH_TRY(read_time_offsets(offsets, Path(p, "timeOffsets"), out));
  BERTH_TRY(field(j, p, "devices", out.devices));
  BERTH_TRY(field(j, p, "cgroupsPath", out.cgroups_path));
  BERTH_TRY(field(j, p, "resources", out.resources));
  BERTH_TRY(field(j, p, "rootfsPropagation", out.rootfs_propagation));
  BERTH_TRY(field(j, p, "seccomp", out.seccomp));
  BERTH_TRY(field(j, p, "sysctl", out.sysctl));
  BERTH_TRY(field(j, p, "maskedPaths", out.masked_paths));
  BERTH_TRY(field(j, p, "readonlyPaths", out.readonly_paths));
  BERTH_TRY(field(j, p, "mountLabel", out.mount_label));
  BERTH_TRY(field(j, p, "personality", out.personality));
  if (json rdt = member(j, "intelRdt")) {
    Path rp(p, "intelRdt");
    BERTH_TRY(expect_object(rdt, rp));
    out.intel_rdt = true;
    BERTH_TRY(field(rdt, rp, "closID", out.intel_rdt_clos_id));
  }
  return ok();
}

Result<void> read(json j, const Path& p, Spec& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(field(j, p, "ociVersion", out.oci_version));
  BERTH_TRY(field(j, p, "process", out.process));
  BERTH_TRY(field(j, p, "root", out.root));
  BERTH_TRY(field(j, p, "hostname", out.hostname));
  BERTH_TRY(field(j, p, "domainname", out.domainname));
  BERTH_TRY(field(j, p, "mounts", out.mounts));
  BERTH_TRY(field(j, p, "hooks", out.hooks));
  BERTH_TRY(field(j, p, "annotations", out.annotations));
  BERTH_TRY(field(j, p, "linux", out.linux));
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Text -> DOM.

// True if arrays/objects nest deeper than kMaxDepth, anywhere in the text (also past a syntax
// error): one cheap scan up front, so that this is the error such input gets.
bool nests_too_deep(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '{':
      case '[':
        if (++depth > kMaxDepth) return true;
        break;
      case '}':
      case ']': --depth; break;
      default: break;
    }
  }
  return false;
}

Result<std::unique_ptr<JsonDoc>> parse_json(std::string_view text) {
  if (text.size() > kMaxInputBytes)
    return Error::invalid("invalid JSON: " + std::to_string(text.size()) +
                          " bytes is more than the limit of " + std::to_string(kMaxInputBytes));
  if (nests_too_deep(text))
    return Error::invalid("invalid JSON: nested deeper than " + std::to_string(kMaxDepth) +
                          " levels");
  return JsonDoc::parse(text, kMaxDepth);
}

}  // namespace

Result<Spec> parse_spec(std::string_view json_text) {
  try {
    std::unique_ptr<JsonDoc> doc = BERTH_TRY(parse_json(json_text));
    json root = doc->root();
    if (!root.is_object())
      return Error::invalid("invalid config: must be a JSON object, got " + describe(root));
    Spec spec;
    BERTH_TRY(read(root, Path(), spec));
    return spec;
  } catch (const std::exception& e) {
    return Error::internal(std::string("parse config: ") + e.what());
  }
}

Result<Process> parse_process(std::string_view json_text) {
  try {
    std::unique_ptr<JsonDoc> doc = BERTH_TRY(parse_json(json_text));
    Path root;
    Process process;
    BERTH_TRY(read(doc->root(), Path(root, "process"), process));
    return process;
  } catch (const std::exception& e) {
    return Error::internal(std::string("parse process: ") + e.what());
  }
}

}  // namespace berth::oci

namespace berth::oci {

Result<Resources> parse_resources(std::string_view json_text) {
  try {
    std::unique_ptr<JsonDoc> doc = BERTH_TRY(parse_json(json_text));
    Path root;
    Resources r;
    BERTH_TRY(read(doc->root(), Path(root, "resources"), r));
    return r;
  } catch (const std::exception& e) {
    return Error::internal(std::string("parse resources: ") + e.what());
  }
}

}  // namespace berth::oci
