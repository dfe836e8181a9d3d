// OCI runtime-spec 1.2 configuration (config.json) for Linux, as plain types.
//
// Parsing and validation live in parse.cc / validate.cc and make no syscalls: everything
// about the host (does a path exist, is a limit allowed) is checked by src/runtime when it
// applies the value. Optional fields are std::optional so "absent" and "zero" stay distinct.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.h"

namespace berth::oci {

inline constexpr const char* kSpecVersion = "1.2.0";

struct Rlimit {
  std::string type;  // "RLIMIT_NOFILE"
  uint64_t hard = 0;
  uint64_t soft = 0;
};

struct Capabilities {
  // Names as in the spec ("CAP_CHOWN"); validated against the known set.
  std::vector<std::string> bounding, effective, inheritable, permitted, ambient;
};

struct User {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::optional<uint32_t> umask;
  std::vector<uint32_t> additional_gids;
  std::string username;  // informational (Windows field), kept for round trips
};

struct ConsoleSize {
  unsigned height = 0;
  unsigned width = 0;
};

struct IoPriority {
  std::string klass;  // IOPRIO_CLASS_RT | IOPRIO_CLASS_BE | IOPRIO_CLASS_IDLE
  int priority = 0;
};

struct Scheduler {
  std::string policy;  // SCHED_OTHER ...
  std::optional<int32_t> nice, priority;
  std::vector<std::string> flags;
  std::optional<uint64_t> runtime, deadline, period;
};

struct Process {
  bool terminal = false;
  std::optional<ConsoleSize> console_size;
  User user;
  std::vector<std::string> args;
  std::string command_line;      // Windows only; kept for round trips
  std::vector<std::string> env;  // "KEY=value"
  std::string cwd = "/";
  std::optional<Capabilities> capabilities;
  std::vector<Rlimit> rlimits;
  bool no_new_privileges = false;
  std::string apparmor_profile;
  std::optional<int> oom_score_adj;
  std::string selinux_label;
  std::optional<IoPriority> io_priority;
  std::optional<Scheduler> scheduler;
  std::vector<uint64_t> exec_cpu_affinity_unused;  // reserved
};

struct Root {
  std::string path;
  bool readonly = false;
};

struct IdMapping {
  uint32_t container_id = 0;
  uint32_t host_id = 0;
  uint32_t size = 0;
};

struct Mount {
  std::string destination;
  std::string type;  // may be empty: then "bind" if options have bind/rbind
  std::string source;
  std::vector<std::string> options;
  std::vector<IdMapping> uid_mappings, gid_mappings;
};

struct Hook {
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int> timeout;  // seconds, > 0
};

struct Hooks {
  std::vector<Hook> prestart, create_runtime, create_container, start_container, poststart,
      poststop;
};

enum class NamespaceType { Pid, Network, Mount, Ipc, Uts, User, Cgroup, Time };

struct Namespace {
  NamespaceType type;
  std::string path;  // empty: create a new one
};

// The CLONE_NEW* flag of a namespace type, and its name in config.json / /proc/<pid>/ns.
int clone_flag(NamespaceType t);
const char* json_name(NamespaceType t);  // "pid", "network", ...
const char* proc_name(NamespaceType t);  // "pid", "net", "mnt", ...

struct Device {
  std::string path;
  char type = 'c';  // 'c', 'b', 'u', 'p'
  int64_t major = 0, minor = 0;
  std::optional<uint32_t> file_mode;
  std::optional<uint32_t> uid, gid;
};

struct DeviceCgroupRule {
  bool allow = false;
  std::string type;  // "a", "b", "c" or empty (= all)
  std::optional<int64_t> major, minor;
  std::string access;  // "rwm"
};

struct ThrottleDevice {
  int64_t major = 0, minor = 0;
  uint64_t rate = 0;
};
struct WeightDevice {
  int64_t major = 0, minor = 0;
  std::optional<uint16_t> weight, leaf_weight;
};

struct Resources {
  std::vector<DeviceCgroupRule> devices;
  struct Memory {
    std::optional<int64_t> limit, reservation, swap, kernel, kernel_tcp;
    std::optional<uint64_t> swappiness;
    std::optional<bool> disable_oom_killer, use_hierarchy, check_before_update;
  };
  std::optional<Memory> memory;
  struct Cpu {
    std::optional<uint64_t> shares, period, realtime_period, burst;
    std::optional<int64_t> quota, realtime_runtime, idle;
    std::string cpus, mems;
  };
  std::optional<Cpu> cpu;
  std::optional<int64_t> pids_limit;
  struct BlockIo {
    std::optional<uint16_t> weight, leaf_weight;
    std::vector<WeightDevice> weight_device;
    std::vector<ThrottleDevice> throttle_read_bps, throttle_write_bps, throttle_read_iops,
        throttle_write_iops;
  };
  std::optional<BlockIo> block_io;
  struct HugepageLimit {
    std::string page_size;  // "2MB"
    uint64_t limit = 0;
  };
  std::vector<HugepageLimit> hugepage_limits;
  struct Network {
    std::optional<uint32_t> class_id;
    std::vector<std::pair<std::string, uint32_t>> priorities;  // interface, priority
  };
  std::optional<Network> network;
  struct Rdma {
    std::optional<uint32_t> hca_handles, hca_objects;
  };
  std::map<std::string, Rdma> rdma;
  std::map<std::string, std::string> unified;
};

struct SeccompArg {
  unsigned index = 0;
  uint64_t value = 0, value_two = 0;
  std::string op;  // SCMP_CMP_EQ ...
};
struct SeccompSyscall {
  std::vector<std::string> names;
  std::string action;
  std::optional<uint32_t> errno_ret;
  std::vector<SeccompArg> args;
};
struct Seccomp {
  std::string default_action;
  std::optional<uint32_t> default_errno_ret;
  std::vector<std::string> architectures, flags;
  std::string listener_path, listener_metadata;
  std::vector<SeccompSyscall> syscalls;
};

struct Personality {
  std::string domain;  // LINUX | LINUX32
  std::vector<std::string> flags;
};

struct Linux {
  std::vector<Namespace> namespaces;
  std::vector<IdMapping> uid_mappings, gid_mappings;
  std::map<std::string, int64_t> time_offsets_secs;  // "monotonic"/"boottime" -> secs
  std::map<std::string, uint32_t> time_offsets_nanosecs;
  std::vector<Device> devices;
  std::string cgroups_path;
  std::optional<Resources> resources;
  std::string rootfs_propagation;  // "", shared, slave, private, unbindable (+ r-variants)
  std::optional<Seccomp> seccomp;
  std::map<std::string, std::string> sysctl;
  std::vector<std::string> masked_paths, readonly_paths;
  std::string mount_label;
  std::optional<Personality> personality;
  std::string intel_rdt_clos_id;  // not supported: a clear error if set
  bool intel_rdt = false;         // linux.intelRdt present (even without closID)

  bool has_namespace(NamespaceType t) const;
  const Namespace* find_namespace(NamespaceType t) const;
};

struct Spec {
  std::string oci_version;
  std::optional<Process> process;  // required by create; optional in the schema
  Root root;
  std::string hostname, domainname;
  std::vector<Mount> mounts;
  std::optional<Hooks> hooks;
  std::map<std::string, std::string> annotations;
  std::optional<Linux> linux;
};

// Parses config.json text. Errors name the field, JSON-pointer style: `process.args: must be
// an array of strings`, `linux.namespaces[2].type: unknown namespace "foo"`. Unknown fields are
// ignored (forward compatibility, like runc); wrong types and out-of-range values are errors.
Result<Spec> parse_spec(std::string_view json_text);

// Parses a LinuxResources object, as taken by `update -r`. Errors are named from
// "resources." (e.g. `resources.memory.limit: must be an integer`).
Result<Resources> parse_resources(std::string_view json_text);

// Parses a process.json as taken by `exec --process`.
Result<Process> parse_process(std::string_view json_text);

// Semantic checks that need no syscalls: required fields, absolute paths, no ".." escape in
// mount destinations, known capability / rlimit / namespace names, mappings present iff a
// user namespace is created, sysctls allowed by the namespaces, and so on.
Result<void> validate(const Spec& spec);
Result<void> validate_process(const Process& p);
// The linux.seccomp checks of validate() alone (errors name "linux.seccomp.<field>").
Result<void> validate_seccomp(const Seccomp& s);

// Serialises back to JSON (used by `spec`, by tests, and to hand state to hooks).
std::string to_json(const Spec& spec, int indent = 2);

// The default config.json of `spec`, like `runc spec` (rootless: like `runc spec --rootless`
// for the calling uid/gid).
Spec default_spec(bool rootless, uid_t uid = 0, gid_t gid = 0);

// Capability name -> number ("CAP_SYS_ADMIN" -> 21); nullopt if unknown. Also accepts names
// without the CAP_ prefix, case-insensitively, for CLI flags like `exec --cap`.
std::optional<int> capability_number(std::string_view name);
std::string_view capability_name(int number);
int last_known_capability();
// Rlimit name -> RLIMIT_* number; nullopt if unknown. Also accepts names without the RLIMIT_
// prefix, case-insensitively ("nofile"), for CLI flags.
std::optional<int> rlimit_number(std::string_view name);

// `s` as a JSON string literal for an error message, cut after 128 bytes (on a UTF-8 boundary,
// marked with "...") so that hostile input cannot make messages huge.
std::string quote_for_message(std::string_view s);

}  // namespace berth::oci
