// A container's cgroup, behind one small interface with a v1 and a v2 implementation chosen
// by probing the host (youki's split; ARCHITECTURE.md src/runtime/cgroup/{v1,v2}).
//
// Hosts: pure v2 (cgroup2 at /sys/fs/cgroup, most users), v1 (legacy), and hybrid (v1
// controllers under /sys/fs/cgroup/<ctrl> plus a cgroup2 at /sys/fs/cgroup/unified holding
// the controllers v1 does not: this machine's hugetlb). On hybrid hosts the v1 implementation
// also places the container in the unified hierarchy and applies there what only it has.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "oci/spec.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::runtime::cgroup {

enum class Layout { V1, Hybrid, V2 };
// Probes the host once per process (statfs of the mount points).
Layout host_layout();
const char* layout_name(Layout l);

// Usage numbers for `events --stats` (runc's "stats" event) and `ps`.
struct Stats {
  struct Cpu {
    uint64_t usage_total_ns = 0, usage_kernel_ns = 0, usage_user_ns = 0;
    std::vector<uint64_t> per_cpu_ns;
    uint64_t throttled_periods = 0, throttled_time_ns = 0, periods = 0;
  } cpu;
  struct Memory {
    uint64_t usage = 0, max_usage = 0, limit = 0, failcnt = 0;
    uint64_t swap_usage = 0, swap_limit = 0;
    std::map<std::string, uint64_t> stat;  // memory.stat
    uint64_t oom_kill = 0;
  } memory;
  struct Pids {
    uint64_t current = 0, limit = 0;  // limit 0 = max
  } pids;
  struct BlkioEntry {
    uint64_t major = 0, minor = 0;
    std::string op;
    uint64_t value = 0;
  };
  std::vector<BlkioEntry> io_service_bytes, io_serviced;
  struct Hugetlb {
    uint64_t usage = 0, max = 0, failcnt = 0;
  };
  std::map<std::string, Hugetlb> hugetlb;  // page size ("2MB") -> usage
};

class Cgroup {
 public:
  virtual ~Cgroup() = default;
  virtual Layout layout() const = 0;
  // The cgroup path relative to each hierarchy's root ("/berth/<id>" or from cgroupsPath).
  virtual const std::string& path() const = 0;

  // Makes the cgroup (and its parents) and applies `resources` (may be null). A value the
  // host cannot apply is an error naming the field (`linux.resources.memory.swap: ...`);
  // on any error what this call created is removed again.
  virtual Result<void> create(const oci::Resources* resources) = 0;
  // v2: an fd of the leaf for clone3(CLONE_INTO_CGROUP), so the init starts inside it.
  // Empty where not possible (v1): then add_process is used right after clone.
  virtual UniqueFd clone_into_fd() = 0;
  // Hybrid hosts: the container's cgroup in the unified hierarchy, to clone into; the v1
  // hierarchies then still need add_process. Empty elsewhere.
  virtual UniqueFd partial_clone_into_fd() { return {}; }
  // pid 0 means the calling process, which moves itself: a single-threaded process doing
  // that skips the kernel's thread-group lock, whose first taking after a quiet spell costs
  // milliseconds when another process moves it (measured ~10 ms on v1 here).
  virtual Result<void> add_process(pid_t pid) = 0;
  // `update`: applies the given fields only.
  virtual Result<void> update(const oci::Resources& resources) = 0;
  // pause / resume: freezer (v1) or cgroup.freeze (v2); waits until frozen.
  virtual Result<void> set_frozen(bool frozen) = 0;
  virtual Result<bool> is_frozen() = 0;
  virtual Result<std::vector<pid_t>> pids() = 0;
  // Signals every process (v2 with SIGKILL: cgroup.kill).
  virtual Result<void> kill_all(int signal) = 0;
  virtual Result<Stats> stats() = 0;
  // An fd that becomes readable (poll) when an OOM kill happens; empty if unsupported.
  virtual Result<UniqueFd> oom_event_fd() = 0;
  // Removes the cgroup directories (retrying briefly while the last processes exit).
  virtual Result<void> destroy() = 0;
};

// The manager for a container. `cgroups_path` is linux.cgroupsPath: an absolute path, a
// relative one (under the runtime's own cgroup... like runc: relative to the root of each
// hierarchy), or systemd style "slice:prefix:name" mapped to cgroupfs like runc's cgroupfs
// driver does; empty means "/berth/<id>". `mount_root` is where hierarchies are mounted
// (default /sys/fs/cgroup; tests point it elsewhere).
Result<std::unique_ptr<Cgroup>> open(const std::string& cgroups_path, const std::string& id,
                                     const std::string& mount_root = "/sys/fs/cgroup");

}  // namespace berth::runtime::cgroup
