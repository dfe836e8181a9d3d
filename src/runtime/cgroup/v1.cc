// cgroup v1 (and hybrid) implementation of Cgroup.
//
// One directory per mounted hierarchy (<mount>/<path>), found from /proc/self/mountinfo once
// per process. On a hybrid host the container also gets <root>/unified/<path> in the cgroup2
// hierarchy, which holds what v1 lacks there (hugetlb on this project's build host), and the
// `unified` map of config.json is written there.
//
// Deliberate choices, mostly the ones runc made:
// - Only fields that are set are written; a value the host cannot apply is an error naming the
//   config field, and create() then removes the directories it made.
// - memory.kernel is ignored (debug note): Linux 5.16 deprecated kmem limits and 6.x no longer
//   enforces them (the file still takes the write and keeps reading "max").
// - memory.useHierarchy true is the kernel's only mode; false is tried and fails on new kernels.
// - devices: the rules are applied in order to a model of the device cgroup that starts as
//   "deny all" (runc's emulator), and only the difference to the cgroup's current devices.list
//   is written, so `update` never opens a window where every device is denied. An empty rule
//   list leaves the devices cgroup alone: the runtime passes the whole list (runc's defaults
//   included) when it wants an allowlist.
// - kill_all freezes, signals, thaws, so nothing forks in between.
// - add_process(0) is "the calling process" (the kernel's meaning of 0): a single-threaded
//   caller joins through `tasks`, which skips the kernel's global lock and its RCU grace period
//   (~10 ms when moving another process on this project's host, ~0.35 ms this way), and
//   hierarchies it is already in (unified, after clone3 CLONE_INTO_CGROUP) are skipped.
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cstring>
#include <map>
#include <thread>
#include <tuple>

#include "runtime/cgroup/impl.h"
#include "util/log.h"
#include "util/strings.h"

namespace berth::runtime::cgroup {

// Pure pieces, declared here (not in a header) and unit-tested by tests/unit/cgroup_v1_test.cc.
namespace v1_internal {
// Cgroup mounts in a mountinfo text: (mount point, controllers) where controllers is the
// comma-joined controller list of a v1 hierarchy ("cpu,cpuacct", "name=systemd") and empty for
// cgroup2.
std::vector<std::pair<std::string, std::string>> parse_cgroup_mounts(std::string_view mountinfo);
// The writes that take a devices cgroup whose devices.list reads `current` to the state the
// rules describe: "allow a", "deny a", "allow c 1:3 rwm", "deny b 8:* w" (file, value).
Result<std::vector<std::string>> device_transition(std::string_view current,
                                                   const std::vector<oci::DeviceCgroupRule>& rules);
}  // namespace v1_internal

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// ---- controllers ------------------------------------------------------------------------------

enum Ctrl : int {
  kCpu,
  kCpuacct,
  kCpuset,
  kMemory,
  kDevices,
  kFreezer,
  kBlkio,
  kPids,
  kNetCls,
  kNetPrio,
  kHugetlb,
  kRdma,
  kPerfEvent,
  kMisc,
  kNumCtrl
};
constexpr std::array<const char*, kNumCtrl> kCtrlName = {
    "cpu",  "cpuacct", "cpuset",   "memory",  "devices", "freezer",    "blkio",
    "pids", "net_cls", "net_prio", "hugetlb", "rdma",    "perf_event", "misc"};

int ctrl_index(std::string_view name) {
  for (int i = 0; i < kNumCtrl; ++i)
    if (name == kCtrlName[i]) return i;
  return -1;
}

bool is_controller_option(std::string_view opt) {
  return ctrl_index(opt) >= 0 || opt == "debug" || opt.rfind("name=", 0) == 0;
}

// ---- small file helpers -----------------------------------------------------------------------

// cgroupfs takes one value per write(2), so this is a single write, retried on EINTR.
Result<void> write_value(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT)
      return Error(ErrorKind::Unsupported, ENOENT, quoted(path) + " is missing on this host");
    return Error::sys("open " + quoted(path));
  }
  for (;;) {
    if (::write(fd.get(), value.data(), value.size()) >= 0) return ok();
    if (errno != EINTR) return Error::sys("write " + quoted(value) + " to " + quoted(path));
  }
}

Result<std::string> read_value(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::sys("open " + quoted(path));
  auto text = read_all(fd.get(), 16 << 20);
  if (!text) return std::move(text).error().wrap("read " + quoted(path));
  return text;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  return s;
}

// "max" and garbage read as 0 (the Stats convention: 0 = no limit / unknown).
uint64_t to_u64(std::string_view s) {
  s = trim(s);
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// A missing or unreadable file reads as 0: stats of a controller the host lacks are zeros.
uint64_t read_u64(const std::string& path) {
  auto t = read_value(path);
  return t ? to_u64(*t) : 0;
}

template <class F>
void for_each_line(std::string_view text, F&& f) {
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty()) f(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// "key value" lines (memory.stat, cpu.stat, cpuacct.stat, memory.oom_control).
std::map<std::string, uint64_t> parse_flat_keyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  for_each_line(text, [&](std::string_view line) {
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) return;
    out.emplace(std::string(line.substr(0, sp)), to_u64(line.substr(sp + 1)));
  });
  return out;
}

// `word` in a list separated by spaces, newlines or commas ("cpu hugetlb", "cpu,cpuacct").
bool has_token(std::string_view list, std::string_view word) {
  auto sep = [](char c) { return c == ' ' || c == '\n' || c == ','; };
  size_t i = 0;
  while (i < list.size()) {
    while (i < list.size() && sep(list[i])) ++i;
    size_t j = i;
    while (j < list.size() && !sep(list[j])) ++j;
    if (list.substr(i, j - i) == word) return true;
    i = j;
  }
  return false;
}

void sleep_for(std::chrono::microseconds d) { std::this_thread::sleep_for(d); }

// ---- host mounts (parsed once per process) ----------------------------------------------------

struct CgroupMount {
  std::string point;
  std::string ctrls;  // empty for cgroup2
};

const std::vector<CgroupMount>& host_cgroup_mounts() {
  static const std::vector<CgroupMount> mounts = [] {
    std::vector<CgroupMount> out;
    auto text = read_file("/proc/self/mountinfo", 16 << 20);
    if (!text) return out;
    for (auto& [point, ctrls] : v1_internal::parse_cgroup_mounts(*text))
      out.push_back({std::move(point), std::move(ctrls)});
    return out;
  }();
  return mounts;
}

// ---- devices model (runc's emulator idea, berth's code) ---------------------------------------

constexpr int64_t kAnyNum = -1;
constexpr unsigned kPermR = 1, kPermW = 2, kPermM = 4, kPermAll = 7;
using DevKey = std::tuple<char, int64_t, int64_t>;  // type 'b'/'c', major, minor (-1 = *)

struct DevState {
  bool default_allow = false;             // blacklist mode ("a *:* rwm" in devices.list)
  std::map<DevKey, unsigned> exceptions;  // allowed (whitelist) or denied (blacklist) accesses
  bool operator==(const DevState&) const = default;
};

unsigned perm_bits(std::string_view access) {
  if (access.empty()) return kPermAll;
  unsigned p = 0;
  for (char c : access) p |= c == 'r' ? kPermR : c == 'w' ? kPermW : c == 'm' ? kPermM : 0;
  return p;
}

std::string perm_text(unsigned p) {
  std::string s;
  if (p & kPermR) s += 'r';
  if (p & kPermW) s += 'w';
  if (p & kPermM) s += 'm';
  return s;
}

std::string num_text(int64_t n) { return n < 0 ? "*" : std::to_string(n); }

std::string dev_rule_text(const DevKey& k, unsigned perms) {
  return std::string(1, std::get<0>(k)) + ' ' + num_text(std::get<1>(k)) + ':' +
         num_text(std::get<2>(k)) + ' ' + perm_text(perms);
}

// Applies one rule the way the kernel's device cgroup does: type "a" resets the mode; any other
// rule adds an exception (allow in a whitelist, deny in a blacklist) or removes one. Removing
// part of a wildcard exception is silently ignored by the kernel, so it is an error here.
Result<void> dev_apply(DevState& s, bool allow, char type, int64_t major, int64_t minor,
                       unsigned perms) {
  if (type == 'a') {
    s = DevState{allow, {}};
    return ok();
  }
  DevKey key{type, major, minor};
  if (allow != s.default_allow) {
    s.exceptions[key] |= perms;
    return ok();
  }
  for (const DevKey& wide : {DevKey{type, kAnyNum, minor}, DevKey{type, major, kAnyNum},
                             DevKey{type, kAnyNum, kAnyNum}}) {
    if (wide == key) continue;
    auto it = s.exceptions.find(wide);
    if (it != s.exceptions.end() && (it->second & perms))
      return Error::invalid("the devices cgroup v1 cannot take " + perm_text(perms) +
                            " away from " + quoted(dev_rule_text(key, perms)) +
                            " inside the wildcard rule " + quoted(dev_rule_text(wide, it->second)));
  }
  auto it = s.exceptions.find(key);
  if (it != s.exceptions.end() && (it->second &= ~perms) == 0) s.exceptions.erase(it);
  return ok();
}

Result<DevState> dev_state_from_list(std::string_view list) {
  DevState s;
  Result<void> r;
  for_each_line(list, [&](std::string_view line) {
    if (!r) return;
    // "c 1:3 rwm" / "a *:* rwm"
    char type = line.empty() ? 0 : line[0];
    if (type == 'a') {
      s = DevState{true, {}};
      return;
    }
    size_t colon = line.find(':'), sp = line.rfind(' ');
    if ((type != 'b' && type != 'c') || line.size() < 2 || colon == std::string_view::npos ||
        sp == std::string_view::npos || sp < colon) {
      r = Error::invalid("unexpected devices.list line " + quoted(line));
      return;
    }
    auto num = [](std::string_view t) -> int64_t {
      if (t == "*") return kAnyNum;
      int64_t v = 0;
      std::from_chars(t.data(), t.data() + t.size(), v);
      return v;
    };
    int64_t major = num(line.substr(2, colon - 2)),
            minor = num(line.substr(colon + 1, sp - colon - 1));
    r = dev_apply(s, true, type, major, minor, perm_bits(line.substr(sp + 1)));
  });
  if (!r) return std::move(r).error();
  return s;
}

std::string indexed(std::string_view base, size_t i) {
  return std::string(base) + "[" + std::to_string(i) + "]";
}

Result<DevState> dev_state_from_rules(const std::vector<oci::DeviceCgroupRule>& rules) {
  DevState s;  // starts as "deny all", like runc
  for (size_t i = 0; i < rules.size(); ++i) {
    const oci::DeviceCgroupRule& d = rules[i];
    char type = d.type.empty() ? 'a' : d.type[0];
    auto r = dev_apply(s, d.allow, type, d.major.value_or(kAnyNum), d.minor.value_or(kAnyNum),
                       perm_bits(d.access));
    if (!r) return std::move(r).error().wrap(indexed("linux.resources.devices", i));
  }
  return s;
}

// The fewest writes from `from` to `to`. A blacklist's deny exceptions are invisible in
// devices.list, so leaving a blacklist (or changing mode) always starts with the reset rule.
std::vector<std::string> dev_transition(const DevState& from, const DevState& to) {
  std::vector<std::string> out;
  const std::map<DevKey, unsigned> none;
  const std::map<DevKey, unsigned>* old = &from.exceptions;
  if (from.default_allow || from.default_allow != to.default_allow) {
    out.push_back(to.default_allow ? "allow a" : "deny a");
    old = &none;
  }
  const char* add = to.default_allow ? "deny " : "allow ";
  const char* drop = to.default_allow ? "allow " : "deny ";
  for (const auto& [key, perms] : *old) {
    auto it = to.exceptions.find(key);
    unsigned gone = perms & ~(it == to.exceptions.end() ? 0u : it->second);
    if (gone) out.push_back(drop + dev_rule_text(key, gone));
  }
  for (const auto& [key, perms] : to.exceptions) {
    auto it = old->find(key);
    unsigned gained = perms & ~(it == old->end() ? 0u : it->second);
    if (gained) out.push_back(add + dev_rule_text(key, gained));
  }
  return out;
}

// ---- helpers over resources -------------------------------------------------------------------

bool any_memory(const oci::Resources::Memory& m) {
  return m.limit || m.reservation || m.swap || m.kernel || m.kernel_tcp || m.swappiness ||
         m.disable_oom_killer || m.use_hierarchy || m.check_before_update;
}
bool any_cpu_sched(const oci::Resources::Cpu& c) {
  return c.shares || c.quota || c.period || c.burst || c.realtime_runtime || c.realtime_period ||
         c.idle;
}
bool any_blkio(const oci::Resources::BlockIo& b) {
  return b.weight || b.leaf_weight || !b.weight_device.empty() || !b.throttle_read_bps.empty() ||
         !b.throttle_write_bps.empty() || !b.throttle_read_iops.empty() ||
         !b.throttle_write_iops.empty();
}

// Hugepage sizes of the host as cgroup file names use them ("2MB", "1GB"), read once.
const std::vector<std::string>& host_hugepage_sizes() {
  static const std::vector<std::string> sizes = [] {
    std::vector<std::string> out;
    DIR* d = ::opendir("/sys/kernel/mm/hugepages");
    if (!d) return out;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;  // hugepages-2048kB
      if (n.rfind("hugepages-", 0) != 0) continue;
      uint64_t kb = to_u64(n.substr(10));
      if (kb == 0) continue;
      if (kb % (1024 * 1024) == 0)
        out.push_back(std::to_string(kb / (1024 * 1024)) + "GB");
      else if (kb % 1024 == 0)
        out.push_back(std::to_string(kb / 1024) + "MB");
      else
        out.push_back(std::to_string(kb) + "KB");
    }
    ::closedir(d);
    return out;
  }();
  return sizes;
}

std::vector<std::string> subdirs(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || e->d_name[0] == '.') continue;
    out.push_back(dir + "/" + e->d_name);
  }
  ::closedir(d);
  return out;
}

// rmdir of a cgroup and the cgroups below it; EBUSY (processes still exiting) is retried until
// `deadline`.
Result<void> remove_cgroup_tree(const std::string& dir, Clock::time_point deadline) {
  auto delay = 1ms;
  for (;;) {
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return ok();
    if (errno != EBUSY && errno != ENOTEMPTY) return Error::sys("remove cgroup " + quoted(dir));
    for (const std::string& sub : subdirs(dir)) BERTH_TRY(remove_cgroup_tree(sub, deadline));
    if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return ok();
    if (Clock::now() >= deadline) return Error::sys("remove cgroup " + quoted(dir));
    sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(20));
  }
}

// ---- the implementation -----------------------------------------------------------------------

class V1 final : public Cgroup {
 public:
  V1(std::string path, std::string mount_root, Layout layout);

  Layout layout() const override { return layout_; }
  const std::string& path() const override { return path_; }
  Result<void> create(const oci::Resources* resources) override;
  UniqueFd clone_into_fd() override { return {}; }
  UniqueFd partial_clone_into_fd() override {
    if (!has_unified()) return {};
    return UniqueFd(::open(unified_dir().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  }
  Result<void> add_process(pid_t pid) override;
  Result<void> update(const oci::Resources& resources) override;
  Result<void> set_frozen(bool frozen) override;
  Result<bool> is_frozen() override;
  Result<std::vector<pid_t>> pids() override;
  Result<void> kill_all(int signal) override;
  Result<Stats> stats() override;
  Result<UniqueFd> oom_event_fd() override;
  Result<void> destroy() override;

 private:
  struct Hierarchy {
    std::string mount;  // "/sys/fs/cgroup/memory"
    std::string dir;    // mount + path
    std::string ctrls;  // "cpu,cpuacct", "name=systemd"; empty for the unified hierarchy
  };

  bool has(Ctrl c) const { return at_[c] >= 0; }
  const std::string& dir(Ctrl c) const { return hier_[at_[c]].dir; }
  std::string file(Ctrl c, std::string_view name) const { return dir(c) + "/" + std::string(name); }
  bool has_unified() const { return unified_ >= 0; }
  const std::string& unified_dir() const { return hier_[unified_].dir; }
  Error missing(std::string_view field, Ctrl c) const;

  Result<void> check_supported(const oci::Resources& r) const;
  Result<void> make_dirs(std::vector<std::string>& made);
  Result<void> prepare_cpuset(const std::vector<std::string>& made, const oci::Resources* r);
  Result<void> apply(const oci::Resources& r, bool creating);
  Result<void> apply_devices(const std::vector<oci::DeviceCgroupRule>& rules);
  Result<void> apply_memory(const oci::Resources::Memory& m, bool creating);
  Result<void> apply_cpu(const oci::Resources::Cpu& c);
  Result<void> apply_blkio(const oci::Resources::BlockIo& b);
  Result<void> apply_hugetlb(const std::vector<oci::Resources::HugepageLimit>& limits);
  Result<void> apply_network(const oci::Resources::Network& n);
  Result<void> apply_rdma(const std::map<std::string, oci::Resources::Rdma>& rdma);
  Result<void> apply_unified(const std::map<std::string, std::string>& unified);
  Result<void> enable_unified_controller(const std::string& name);
  const std::string& procs_dir() const;
  Result<void> join_self();

  std::string path_;
  std::string root_;
  Layout layout_;
  std::vector<Hierarchy> hier_;
  std::array<int, kNumCtrl> at_;
  int unified_ = -1;
  std::vector<std::string> unified_enabled_;  // controllers known to be on for the leaf
};

V1::V1(std::string path, std::string mount_root, Layout layout)
    : path_(std::move(path)), root_(std::move(mount_root)), layout_(layout) {
  at_.fill(-1);
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (path_.empty() || path_[0] != '/') path_.insert(0, "/");
  std::string leaf = path_ == "/" ? std::string() : path_;
  for (const CgroupMount& m : host_cgroup_mounts()) {
    if (m.point.size() <= root_.size() + 1 || m.point.compare(0, root_.size(), root_) != 0 ||
        m.point[root_.size()] != '/' || m.point.find('/', root_.size() + 1) != std::string::npos)
      continue;
    if (m.ctrls.empty()) {
      if (layout_ == Layout::Hybrid && unified_ < 0 && m.point == root_ + "/unified") {
        unified_ = static_cast<int>(hier_.size());
        hier_.push_back({m.point, m.point + leaf, {}});
      }
      continue;
    }
    // The same hierarchy mounted twice: the first mount wins.
    bool seen = std::any_of(hier_.begin(), hier_.end(),
                            [&](const Hierarchy& h) { return h.mount == m.point; });
    if (seen) continue;
    std::vector<int> ctrls;
    for (std::string_view rest = m.ctrls; !rest.empty();) {
      size_t comma = rest.find(',');
      if (int c = ctrl_index(rest.substr(0, comma)); c >= 0) ctrls.push_back(c);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
    }
    // A controller lives in one hierarchy: another mount of it is the same hierarchy again.
    if (std::any_of(ctrls.begin(), ctrls.end(), [&](int c) { return at_[c] >= 0; })) continue;
    for (int c : ctrls) at_[c] = static_cast<int>(hier_.size());
    hier_.push_back({m.point, m.point + leaf, m.ctrls});
  }
}

Error V1::missing(std::string_view field, Ctrl c) const {
  return Error::unsupported(std::string(field) + ": no " + quoted(kCtrlName[c]) +
                            " cgroup v1 hierarchy is mounted under " + quoted(root_));
}

const std::string& V1::procs_dir() const {
  if (has(kFreezer)) return dir(kFreezer);
  if (has(kPids)) return dir(kPids);
  return hier_.front().dir;
}

// Everything that needs a hierarchy the host lacks fails here, before any mkdir.
Result<void> V1::check_supported(const oci::Resources& r) const {
  const std::string base = "linux.resources";
  if (!r.devices.empty() && !has(kDevices)) return missing(base + ".devices", kDevices);
  if (r.memory && any_memory(*r.memory) && !has(kMemory)) return missing(base + ".memory", kMemory);
  if (r.memory && r.memory->swappiness && *r.memory->swappiness > 100)
    return Error::invalid(base + ".memory.swappiness: " + std::to_string(*r.memory->swappiness) +
                          " out of range (0..100)");
  if (r.cpu && any_cpu_sched(*r.cpu) && !has(kCpu)) return missing(base + ".cpu", kCpu);
  if (r.cpu && (!r.cpu->cpus.empty() || !r.cpu->mems.empty()) && !has(kCpuset))
    return missing(base + (r.cpu->cpus.empty() ? ".cpu.mems" : ".cpu.cpus"), kCpuset);
  if (r.pids_limit && !has(kPids)) return missing(base + ".pids.limit", kPids);
  if (r.block_io && any_blkio(*r.block_io) && !has(kBlkio))
    return missing(base + ".blockIO", kBlkio);
  if (!r.hugepage_limits.empty() && !has(kHugetlb) && !has_unified())
    return missing(base + ".hugepageLimits", kHugetlb);
  if (r.network && r.network->class_id && !has(kNetCls))
    return missing(base + ".network.classID", kNetCls);
  if (r.network && !r.network->priorities.empty() && !has(kNetPrio))
    return missing(base + ".network.priorities", kNetPrio);
  if (!r.rdma.empty() && !has(kRdma) && !has_unified()) return missing(base + ".rdma", kRdma);
  if (!r.unified.empty() && !has_unified())
    return Error::unsupported(base + ".unified requires cgroup v2 (this host has cgroup v1, " +
                              "and no cgroup2 at " + quoted(root_ + "/unified") + ")");
  return ok();
}

// mkdir -p of the leaf in every hierarchy; `made` records what this call created, parents
// first, so a failure can remove exactly that.
Result<void> V1::make_dirs(std::vector<std::string>& made) {
  for (const Hierarchy& h : hier_) {
    if (h.dir == h.mount) continue;
    if (::mkdir(h.dir.c_str(), 0755) == 0) {
      made.push_back(h.dir);
      continue;
    }
    if (errno == EEXIST) continue;
    if (errno != ENOENT) return Error::sys("create cgroup " + quoted(h.dir));
    // Parents missing: walk down from the mount point.
    for (size_t slash = h.mount.size() + 1; slash != std::string::npos;) {
      slash = h.dir.find('/', slash + 1);
      std::string d = h.dir.substr(0, slash);
      if (::mkdir(d.c_str(), 0755) == 0)
        made.push_back(d);
      else if (errno != EEXIST)
        return Error::sys("create cgroup " + quoted(d));
    }
  }
  return ok();
}

// A new v1 cpuset cgroup has empty cpuset.cpus/mems, and no process can join it until they are
// set: copy the parent's down the path, or write the container's own values at the leaf.
Result<void> V1::prepare_cpuset(const std::vector<std::string>& made, const oci::Resources* r) {
  if (!has(kCpuset)) return ok();
  const Hierarchy& h = hier_[at_[kCpuset]];
  if (h.dir == h.mount) return ok();
  std::string want_cpus = r && r->cpu ? r->cpu->cpus : std::string();
  std::string want_mems = r && r->cpu ? r->cpu->mems : std::string();
  std::string cpus, mems;  // the parent's values, read lazily
  bool parent_read = false;
  std::string parent = h.mount;
  for (size_t slash = h.mount.size() + 1; slash != std::string::npos;) {
    slash = h.dir.find('/', slash + 1);
    std::string d = h.dir.substr(0, slash);
    bool leaf = slash == std::string::npos;
    bool fresh = std::find(made.begin(), made.end(), d) != made.end();
    std::string cur_cpus, cur_mems;
    if (!fresh) {
      cur_cpus = std::string(trim(BERTH_TRY(read_value(d + "/cpuset.cpus"))));
      cur_mems = std::string(trim(BERTH_TRY(read_value(d + "/cpuset.mems"))));
    }
    bool need_cpus = cur_cpus.empty() && !(leaf && !want_cpus.empty());
    bool need_mems = cur_mems.empty() && !(leaf && !want_mems.empty());
    if ((need_cpus || need_mems) && !parent_read) {
      cpus = std::string(trim(BERTH_TRY(read_value(parent + "/cpuset.cpus"))));
      mems = std::string(trim(BERTH_TRY(read_value(parent + "/cpuset.mems"))));
    }
    if (leaf && !want_cpus.empty())
      BERTH_TRY_CTX(write_value(d + "/cpuset.cpus", want_cpus), "linux.resources.cpu.cpus");
    else if (need_cpus)
      BERTH_TRY_CTX(write_value(d + "/cpuset.cpus", cpus), "copy the parent's cpuset.cpus");
    if (leaf && !want_mems.empty())
      BERTH_TRY_CTX(write_value(d + "/cpuset.mems", want_mems), "linux.resources.cpu.mems");
    else if (need_mems)
      BERTH_TRY_CTX(write_value(d + "/cpuset.mems", mems), "copy the parent's cpuset.mems");
    // This level's values are the next level's parent values.
    cpus = cur_cpus.empty() ? (leaf ? want_cpus : cpus) : cur_cpus;
    mems = cur_mems.empty() ? (leaf ? want_mems : mems) : cur_mems;
    parent_read = true;
    parent = d;
  }
  return ok();
}

Result<void> V1::create(const oci::Resources* r) {
  if (path_.find("/../") != std::string::npos || path_.ends_with("/.."))
    return Error::invalid("linux.cgroupsPath: " + quoted(path_) + " must not contain \"..\"");
  if (hier_.empty())
    return Error::unsupported("no cgroup v1 hierarchy is mounted under " + quoted(root_));
  if (r) BERTH_TRY(check_supported(*r));
  std::vector<std::string> made;
  Result<void> res = make_dirs(made);
  if (res) res = prepare_cpuset(made, r);
  if (res && r) res = apply(*r, true);
  if (!res) {
    for (auto it = made.rbegin(); it != made.rend(); ++it) ::rmdir(it->c_str());
    return std::move(res).error().wrap("cgroup " + quoted(path_));
  }
  return ok();
}

Result<void> V1::update(const oci::Resources& r) {
  BERTH_TRY(check_supported(r));
  auto res = apply(r, false);
  if (!res) return std::move(res).error().wrap("update cgroup " + quoted(path_));
  return ok();
}

Result<void> V1::apply(const oci::Resources& r, bool creating) {
  const std::string base = "linux.resources";
  if (!creating && r.cpu) {  // create() wrote these before anything else
    if (!r.cpu->cpus.empty())
      BERTH_TRY_CTX(write_value(file(kCpuset, "cpuset.cpus"), r.cpu->cpus), base + ".cpu.cpus");
    if (!r.cpu->mems.empty())
      BERTH_TRY_CTX(write_value(file(kCpuset, "cpuset.mems"), r.cpu->mems), base + ".cpu.mems");
  }
  if (!r.devices.empty()) BERTH_TRY(apply_devices(r.devices));
  if (r.memory) BERTH_TRY(apply_memory(*r.memory, creating));
  if (r.cpu) BERTH_TRY(apply_cpu(*r.cpu));
  if (r.pids_limit) {
    std::string v = *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max";
    BERTH_TRY_CTX(write_value(file(kPids, "pids.max"), v), base + ".pids.limit");
  }
  if (r.block_io) BERTH_TRY(apply_blkio(*r.block_io));
  if (!r.hugepage_limits.empty()) BERTH_TRY(apply_hugetlb(r.hugepage_limits));
  if (r.network) BERTH_TRY(apply_network(*r.network));
  if (!r.rdma.empty()) BERTH_TRY(apply_rdma(r.rdma));
  if (!r.unified.empty()) BERTH_TRY(apply_unified(r.unified));
  return ok();
}

Result<void> V1::apply_devices(const std::vector<oci::DeviceCgroupRule>& rules) {
  const std::string field = "linux.resources.devices";
  const std::string list = file(kDevices, "devices.list");
  DevState target = BERTH_TRY(dev_state_from_rules(rules));
  std::string current = BERTH_TRY_CTX(read_value(list), field);
  DevState from = BERTH_TRY_CTX(dev_state_from_list(current), field + ": " + quoted(list));
  for (const std::string& w : dev_transition(from, target)) {
    bool allow = w[0] == 'a' && w[1] == 'l';
    std::string_view value = std::string_view(w).substr(allow ? 6 : 5);
    BERTH_TRY_CTX(write_value(file(kDevices, allow ? "devices.allow" : "devices.deny"), value),
                  field);
  }
  // The kernel may refuse quietly (a parent's rules win): check what it now reports. A
  // blacklist's exceptions are not listed, so only its mode can be checked.
  DevState after =
      BERTH_TRY_CTX(dev_state_from_list(BERTH_TRY_CTX(read_value(list), field)), field);
  bool matches = target.default_allow ? after.default_allow : after == target;
  if (!matches)
    return Error::conflict(field + ": " + quoted(list) +
                           " does not match the rules after writing them (a parent cgroup "
                           "denies some of the devices?)");
  return ok();
}

Result<void> V1::apply_memory(const oci::Resources::Memory& m, bool creating) {
  const std::string base = "linux.resources.memory";
  auto write_i64 = [&](const char* name, int64_t v, const char* field) -> Result<void> {
    auto r = write_value(file(kMemory, name), std::to_string(v));
    if (!r) return std::move(r).error().wrap(base + "." + field);
    return ok();
  };
  if (m.check_before_update && *m.check_before_update && !creating && m.limit && *m.limit > 0) {
    uint64_t usage = read_u64(file(kMemory, "memory.usage_in_bytes"));
    if (static_cast<uint64_t>(*m.limit) < usage)
      return Error::invalid(base + ".limit: " + std::to_string(*m.limit) +
                            " is below the current usage " + std::to_string(usage) +
                            " (checkBeforeUpdate)");
  }
  std::optional<int64_t> limit = m.limit, swap = m.swap;
  // Like runc: making memory unlimited on update makes memory+swap unlimited too, or the
  // kernel keeps the old memsw limit below it.
  if (!creating && limit && *limit == -1 && !swap) swap = -1;
  auto write_swap = [&]() -> Result<void> {
    auto r = write_value(file(kMemory, "memory.memsw.limit_in_bytes"), std::to_string(*swap));
    if (r) return ok();
    if (r.error().errno_value() == ENOENT)
      return Error::unsupported(base + ".swap: swap accounting is not enabled on this host (no " +
                                quoted(file(kMemory, "memory.memsw.limit_in_bytes")) +
                                "; boot with swapaccount=1)");
    return std::move(r).error().wrap(base + ".swap");
  };
  // memory.memsw.limit_in_bytes >= memory.limit_in_bytes at every moment: raise first what must
  // stay above.
  if (limit && swap) {
    bool swap_first = *swap == -1;
    if (!swap_first) {
      uint64_t cur = read_u64(file(kMemory, "memory.limit_in_bytes"));
      swap_first = cur < static_cast<uint64_t>(*swap);
    }
    if (swap_first) {
      BERTH_TRY(write_swap());
      BERTH_TRY(write_i64("memory.limit_in_bytes", *limit, "limit"));
    } else {
      BERTH_TRY(write_i64("memory.limit_in_bytes", *limit, "limit"));
      BERTH_TRY(write_swap());
    }
  } else if (limit) {
    BERTH_TRY(write_i64("memory.limit_in_bytes", *limit, "limit"));
  } else if (swap) {
    BERTH_TRY(write_swap());
  }
  if (m.reservation)
    BERTH_TRY(write_i64("memory.soft_limit_in_bytes", *m.reservation, "reservation"));
  if (m.kernel)
    log::debug(base +
               ".kernel ignored: kernel memory limits are deprecated since Linux 5.16 and "
               "not enforced by current kernels (runc ignores them too)");
  if (m.kernel_tcp)
    BERTH_TRY(write_i64("memory.kmem.tcp.limit_in_bytes", *m.kernel_tcp, "kernelTCP"));
  if (m.swappiness)
    BERTH_TRY(write_i64("memory.swappiness", static_cast<int64_t>(*m.swappiness), "swappiness"));
  if (m.disable_oom_killer && (*m.disable_oom_killer || !creating))
    BERTH_TRY(write_i64("memory.oom_control", *m.disable_oom_killer ? 1 : 0, "disableOOMKiller"));
  if (m.use_hierarchy && !*m.use_hierarchy)  // true is the only mode of current kernels
    BERTH_TRY(write_i64("memory.use_hierarchy", 0, "useHierarchy"));
  return ok();
}

Result<void> V1::apply_cpu(const oci::Resources::Cpu& c) {
  const std::string base = "linux.resources.cpu";
  auto write = [&](const char* name, const std::string& v, const char* field) -> Result<void> {
    auto r = write_value(file(kCpu, name), v);
    if (!r) return std::move(r).error().wrap(base + "." + field);
    return ok();
  };
  if (c.shares) {
    BERTH_TRY(write("cpu.shares", std::to_string(*c.shares), "shares"));
    // The kernel clamps out-of-range shares silently.
    uint64_t got = read_u64(file(kCpu, "cpu.shares"));
    if (got != *c.shares && read_u64(file(kCpu, "cpu.idle")) == 0)
      return Error::invalid(base + ".shares: " + std::to_string(*c.shares) +
                            " is out of the kernel's range (it set " + std::to_string(got) + ")");
  }
  // A smaller period can be refused (EINVAL) while the old quota is in place: then it is
  // written again once the new quota is.
  bool period_again = false;
  if (c.period) {
    auto r = write("cpu.cfs_period_us", std::to_string(*c.period), "period");
    if (!r) {
      if (r.error().errno_value() != EINVAL || !c.quota) return r;
      period_again = true;
    }
  }
  if (c.quota) {
    BERTH_TRY(write("cpu.cfs_quota_us", std::to_string(*c.quota), "quota"));
    if (period_again) BERTH_TRY(write("cpu.cfs_period_us", std::to_string(*c.period), "period"));
  }
  if (c.burst) BERTH_TRY(write("cpu.cfs_burst_us", std::to_string(*c.burst), "burst"));
  if (c.realtime_period)
    BERTH_TRY(write("cpu.rt_period_us", std::to_string(*c.realtime_period), "realtimePeriod"));
  if (c.realtime_runtime)
    BERTH_TRY(write("cpu.rt_runtime_us", std::to_string(*c.realtime_runtime), "realtimeRuntime"));
  if (c.idle) BERTH_TRY(write("cpu.idle", std::to_string(*c.idle), "idle"));
  return ok();
}

Result<void> V1::apply_blkio(const oci::Resources::BlockIo& b) {
  const std::string base = "linux.resources.blockIO";
  // CFQ's blkio.weight is gone from current kernels; BFQ has blkio.bfq.weight.
  auto write_weight = [&](const char* cfq, const char* bfq, const std::string& v,
                          const std::string& field) -> Result<void> {
    auto r = write_value(file(kBlkio, cfq), v);
    if (!r && r.error().errno_value() == ENOENT && bfq) r = write_value(file(kBlkio, bfq), v);
    if (!r) return std::move(r).error().wrap(field);
    return ok();
  };
  if (b.weight)
    BERTH_TRY(write_weight("blkio.weight", "blkio.bfq.weight", std::to_string(*b.weight),
                           base + ".weight"));
  if (b.leaf_weight)
    BERTH_TRY(write_weight("blkio.leaf_weight", nullptr, std::to_string(*b.leaf_weight),
                           base + ".leafWeight"));
  for (size_t i = 0; i < b.weight_device.size(); ++i) {
    const oci::WeightDevice& d = b.weight_device[i];
    std::string dev = std::to_string(d.major) + ":" + std::to_string(d.minor) + " ";
    std::string field = indexed(base + ".weightDevice", i);
    if (d.weight)
      BERTH_TRY(write_weight("blkio.weight_device", "blkio.bfq.weight_device",
                             dev + std::to_string(*d.weight), field + ".weight"));
    if (d.leaf_weight)
      BERTH_TRY(write_weight("blkio.leaf_weight_device", nullptr,
                             dev + std::to_string(*d.leaf_weight), field + ".leafWeight"));
  }
  auto throttle = [&](const std::vector<oci::ThrottleDevice>& list, const char* name,
                      const char* key) -> Result<void> {
    for (size_t i = 0; i < list.size(); ++i) {
      std::string v = std::to_string(list[i].major) + ":" + std::to_string(list[i].minor) + " " +
                      std::to_string(list[i].rate);
      auto r = write_value(file(kBlkio, name), v);
      if (!r) return std::move(r).error().wrap(indexed(base + "." + key, i));
    }
    return ok();
  };
  BERTH_TRY(
      throttle(b.throttle_read_bps, "blkio.throttle.read_bps_device", "throttleReadBpsDevice"));
  BERTH_TRY(
      throttle(b.throttle_write_bps, "blkio.throttle.write_bps_device", "throttleWriteBpsDevice"));
  BERTH_TRY(
      throttle(b.throttle_read_iops, "blkio.throttle.read_iops_device", "throttleReadIOPSDevice"));
  BERTH_TRY(throttle(b.throttle_write_iops, "blkio.throttle.write_iops_device",
                     "throttleWriteIOPSDevice"));
  return ok();
}

// A v1 hugetlb hierarchy if there is one, else the unified hierarchy (hybrid hosts).
Result<void> V1::apply_hugetlb(const std::vector<oci::Resources::HugepageLimit>& limits) {
  const std::string base = "linux.resources.hugepageLimits";
  bool v1 = has(kHugetlb);
  if (!v1) BERTH_TRY_CTX(enable_unified_controller("hugetlb"), base);
  const std::string& d = v1 ? dir(kHugetlb) : unified_dir();
  for (size_t i = 0; i < limits.size(); ++i) {
    std::string prefix = d + "/hugetlb." + limits[i].page_size;
    std::string v = std::to_string(limits[i].limit);
    auto r = write_value(prefix + (v1 ? ".limit_in_bytes" : ".max"), v);
    if (!r && r.error().errno_value() == ENOENT)
      return Error::unsupported(indexed(base, i) + ": page size " + quoted(limits[i].page_size) +
                                " is not supported by this host");
    if (!r) return std::move(r).error().wrap(indexed(base, i));
    // Reservations are charged separately where the kernel has them; limit them alike.
    r = write_value(prefix + (v1 ? ".rsvd.limit_in_bytes" : ".rsvd.max"), v);
    if (!r && r.error().errno_value() != ENOENT) return std::move(r).error().wrap(indexed(base, i));
  }
  return ok();
}

Result<void> V1::apply_network(const oci::Resources::Network& n) {
  const std::string base = "linux.resources.network";
  if (n.class_id)
    BERTH_TRY_CTX(write_value(file(kNetCls, "net_cls.classid"), std::to_string(*n.class_id)),
                  base + ".classID");
  for (size_t i = 0; i < n.priorities.size(); ++i) {
    std::string v = n.priorities[i].first + " " + std::to_string(n.priorities[i].second);
    BERTH_TRY_CTX(write_value(file(kNetPrio, "net_prio.ifpriomap"), v),
                  indexed(base + ".priorities", i));
  }
  return ok();
}

Result<void> V1::apply_rdma(const std::map<std::string, oci::Resources::Rdma>& rdma) {
  const std::string base = "linux.resources.rdma";
  if (!has(kRdma)) BERTH_TRY_CTX(enable_unified_controller("rdma"), base);
  std::string target = (has(kRdma) ? dir(kRdma) : unified_dir()) + "/rdma.max";
  for (const auto& [device, l] : rdma) {
    std::string v = device;
    if (l.hca_handles) v += " hca_handle=" + std::to_string(*l.hca_handles);
    if (l.hca_objects) v += " hca_object=" + std::to_string(*l.hca_objects);
    BERTH_TRY_CTX(write_value(target, v), base + "[" + quoted(device) + "]");
  }
  return ok();
}

Result<void> V1::apply_unified(const std::map<std::string, std::string>& unified) {
  const std::string base = "linux.resources.unified";
  for (const auto& [key, value] : unified) {
    std::string field = base + "[" + quoted(key) + "]";
    if (key.find('/') != std::string::npos || key.empty() || key[0] == '.')
      return Error::invalid(field + ": not a cgroup file name");
    std::string ctrl = key.substr(0, key.find('.'));
    if (ctrl != "cgroup") BERTH_TRY_CTX(enable_unified_controller(ctrl), field);
    auto r = write_value(unified_dir() + "/" + key, value);
    if (!r && r.error().errno_value() == ENOENT)
      return Error::unsupported(field + ": no such file in the unified cgroup " +
                                quoted(unified_dir()));
    if (!r) return std::move(r).error().wrap(field);
  }
  return ok();
}

// Turns `name` on in cgroup.subtree_control of every level above the unified leaf (cgroup2
// controllers reach a cgroup only through its parents).
Result<void> V1::enable_unified_controller(const std::string& name) {
  if (!has_unified())
    return Error::unsupported("no cgroup2 hierarchy at " + quoted(root_ + "/unified"));
  if (std::find(unified_enabled_.begin(), unified_enabled_.end(), name) != unified_enabled_.end())
    return ok();
  const Hierarchy& h = hier_[unified_];
  std::string parent = h.mount;
  for (size_t slash = h.mount.size(); slash < h.dir.size();) {
    std::string control = parent + "/cgroup.subtree_control";
    std::string enabled = BERTH_TRY(read_value(control));
    if (!has_token(enabled, name)) {
      auto r = write_value(control, "+" + name);
      if (!r)
        return std::move(r).error().wrap("enable the " + quoted(name) +
                                         " controller of the unified hierarchy");
    }
    slash = h.dir.find('/', slash + 1);
    parent = h.dir.substr(0, slash);
  }
  unified_enabled_.push_back(name);
  return ok();
}

// Moving a process by pid takes the kernel's global threadgroup lock, whose first writer waits
// for an RCU grace period: ~5-8 ms on an idle host (later writes ~15 us each). A single-threaded
// caller moving itself ("0" in `tasks`) skips that lock, so add_process(0) costs well under a
// millisecond for every v1 hierarchy. cgroup2 has no such file: its cgroup.procs "0" takes the
// lock, unless the caller is already there (clone3 CLONE_INTO_CGROUP), which is checked.
Result<void> V1::add_process(pid_t pid) {
  if (pid == 0) return join_self();
  std::string p = std::to_string(pid);
  for (const Hierarchy& h : hier_) {
    auto r = write_value(h.dir + "/cgroup.procs", p);
    if (!r) return std::move(r).error().wrap("add process " + p + " to cgroup " + quoted(h.dir));
  }
  return ok();
}

Result<void> V1::join_self() {
  struct stat st;
  bool one_thread = ::stat("/proc/self/task", &st) == 0 && st.st_nlink == 3;
  // Lines "N:controllers:/path"; the unified one is "0::/path".
  std::string self = BERTH_TRY_CTX(read_value("/proc/self/cgroup"), "add the calling process");
  auto already_in = [&](const Hierarchy& h) {
    std::string_view leaf = std::string_view(h.dir).substr(h.mount.size());
    if (leaf.empty()) leaf = "/";
    bool found = false;
    for_each_line(self, [&](std::string_view line) {
      size_t a = line.find(':'), b = line.find(':', a + 1);
      if (a == std::string_view::npos || b == std::string_view::npos) return;
      std::string_view ctrls = line.substr(a + 1, b - a - 1), where = line.substr(b + 1);
      if (where != leaf) return;
      if (h.ctrls.empty() || ctrls.empty()) {
        found = found || h.ctrls.empty() == ctrls.empty();
        return;
      }
      std::string_view first = std::string_view(h.ctrls).substr(0, h.ctrls.find(','));
      found = found || has_token(ctrls, first);
    });
    return found;
  };
  for (size_t i = 0; i < hier_.size(); ++i) {
    const Hierarchy& h = hier_[i];
    bool v1 = static_cast<int>(i) != unified_;
    if (already_in(h)) continue;
    auto r = write_value(h.dir + (v1 && one_thread ? "/tasks" : "/cgroup.procs"), "0");
    if (!r) return std::move(r).error().wrap("add the calling process to cgroup " + quoted(h.dir));
  }
  return ok();
}

Result<void> V1::set_frozen(bool frozen) {
  if (!has(kFreezer))
    return Error::unsupported("pause needs the freezer cgroup, which is not mounted under " +
                              quoted(root_));
  const std::string state = file(kFreezer, "freezer.state");
  if (!frozen) return write_value(state, "THAWED");
  BERTH_TRY(write_value(state, "FROZEN"));
  // The kernel freezes asynchronously; FREEZING turns into FROZEN once every task stopped.
  auto deadline = Clock::now() + 2s;
  auto delay = std::chrono::microseconds(200);
  for (;;) {
    std::string s = BERTH_TRY(read_value(state));
    if (trim(s) == "FROZEN") return ok();
    if (Clock::now() >= deadline) {
      (void)write_value(state, "THAWED");
      return Error(ErrorKind::Timeout, 0,
                   "freeze cgroup " + quoted(dir(kFreezer)) + ": still " +
                       quoted(std::string(trim(s))) + " after 2s");
    }
    sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::microseconds(10000));
  }
}

Result<bool> V1::is_frozen() {
  if (!has(kFreezer)) return false;
  std::string s = BERTH_TRY(read_value(file(kFreezer, "freezer.state")));
  return trim(s) == "FROZEN";
}

Result<std::vector<pid_t>> V1::pids() {
  if (hier_.empty()) return Error::unsupported("no cgroup hierarchy under " + quoted(root_));
  std::vector<pid_t> out;
  std::vector<std::string> todo{procs_dir()};
  while (!todo.empty()) {
    std::string d = std::move(todo.back());
    todo.pop_back();
    auto text = read_value(d + "/cgroup.procs");
    if (!text) {
      if (text.error().errno_value() == ENOENT && d != procs_dir()) continue;  // just removed
      return std::move(text).error();
    }
    for_each_line(*text, [&](std::string_view l) { out.push_back(static_cast<pid_t>(to_u64(l))); });
    for (std::string& sub : subdirs(d)) todo.push_back(std::move(sub));
  }
  return out;
}

Result<void> V1::kill_all(int sig) {
  bool was_frozen = BERTH_TRY(is_frozen());
  // Frozen, nothing forks between listing and signalling. A freeze that does not complete
  // (a task stuck in the kernel) does not stop the kill.
  bool froze = has(kFreezer) && !was_frozen && set_frozen(true).has_value();
  auto list = pids();
  Result<void> res;
  if (list) {
    for (pid_t p : *list)
      if (::kill(p, sig) < 0 && errno != ESRCH && res)
        res = Error::sys("kill process " + std::to_string(p) + " of cgroup " + quoted(path_));
  } else {
    res = std::move(list).error();
  }
  // Thaw what this call froze; a paused container is thawed only for SIGKILL (or the processes
  // could never die).
  if (froze || (was_frozen && sig == SIGKILL)) BERTH_TRY(set_frozen(false));
  return res;
}

Result<Stats> V1::stats() {
  Stats s;
  if (has(kCpuacct)) {
    s.cpu.usage_total_ns = read_u64(file(kCpuacct, "cpuacct.usage"));
    if (auto t = read_value(file(kCpuacct, "cpuacct.usage_percpu"))) {
      std::string_view v = *t;
      while (!(v = trim(v)).empty()) {
        size_t sp = v.find(' ');
        s.cpu.per_cpu_ns.push_back(to_u64(v.substr(0, sp)));
        if (sp == std::string_view::npos) break;
        v.remove_prefix(sp + 1);
      }
    }
    auto user = read_value(file(kCpuacct, "cpuacct.usage_user"));
    if (user) {
      s.cpu.usage_user_ns = to_u64(*user);
      s.cpu.usage_kernel_ns = read_u64(file(kCpuacct, "cpuacct.usage_sys"));
    } else if (auto t = read_value(file(kCpuacct, "cpuacct.stat"))) {  // USER_HZ ticks
      auto kv = parse_flat_keyed(*t);
      uint64_t ns_per_tick = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
      s.cpu.usage_user_ns = kv["user"] * ns_per_tick;
      s.cpu.usage_kernel_ns = kv["system"] * ns_per_tick;
    }
  }
  if (has(kCpu)) {
    if (auto t = read_value(file(kCpu, "cpu.stat"))) {
      auto kv = parse_flat_keyed(*t);
      s.cpu.periods = kv["nr_periods"];
      s.cpu.throttled_periods = kv["nr_throttled"];
      s.cpu.throttled_time_ns = kv["throttled_time"];
    }
  }
  if (has(kMemory)) {
    s.memory.usage = read_u64(file(kMemory, "memory.usage_in_bytes"));
    s.memory.max_usage = read_u64(file(kMemory, "memory.max_usage_in_bytes"));
    s.memory.limit = read_u64(file(kMemory, "memory.limit_in_bytes"));
    s.memory.failcnt = read_u64(file(kMemory, "memory.failcnt"));
    s.memory.swap_usage = read_u64(file(kMemory, "memory.memsw.usage_in_bytes"));
    s.memory.swap_limit = read_u64(file(kMemory, "memory.memsw.limit_in_bytes"));
    if (auto t = read_value(file(kMemory, "memory.stat"))) s.memory.stat = parse_flat_keyed(*t);
    if (auto t = read_value(file(kMemory, "memory.oom_control")))
      s.memory.oom_kill = parse_flat_keyed(*t)["oom_kill"];
  }
  if (has(kPids)) {
    s.pids.current = read_u64(file(kPids, "pids.current"));
    s.pids.limit = read_u64(file(kPids, "pids.max"));  // "max" reads as 0
  }
  if (has(kBlkio)) {
    auto parse = [&](const char* name, std::vector<Stats::BlkioEntry>& out) {
      auto t = read_value(file(kBlkio, std::string(name) + "_recursive"));
      if (!t) t = read_value(file(kBlkio, name));
      if (!t) return;
      for_each_line(*t, [&](std::string_view line) {  // "8:0 Read 4096"
        size_t colon = line.find(':'), sp1 = line.find(' '), sp2 = line.rfind(' ');
        if (colon == std::string_view::npos || sp1 == std::string_view::npos || sp1 == sp2 ||
            colon > sp1)
          return;  // "Total 123"
        out.push_back(
            {to_u64(line.substr(0, colon)), to_u64(line.substr(colon + 1, sp1 - colon - 1)),
             std::string(line.substr(sp1 + 1, sp2 - sp1 - 1)), to_u64(line.substr(sp2 + 1))});
      });
    };
    parse("blkio.throttle.io_service_bytes", s.io_service_bytes);
    parse("blkio.throttle.io_serviced", s.io_serviced);
  }
  // hugetlb: `max` is the maximum usage recorded (runc's MaxUsage); cgroup2 keeps none.
  for (const std::string& size : host_hugepage_sizes()) {
    Stats::Hugetlb h;
    if (has(kHugetlb)) {
      std::string p = dir(kHugetlb) + "/hugetlb." + size;
      h.usage = read_u64(p + ".usage_in_bytes");
      h.max = read_u64(p + ".max_usage_in_bytes");
      h.failcnt = read_u64(p + ".failcnt");
    } else if (has_unified()) {
      std::string p = unified_dir() + "/hugetlb." + size;
      h.usage = read_u64(p + ".current");
      if (auto t = read_value(p + ".events")) h.failcnt = parse_flat_keyed(*t)["max"];
    } else {
      break;
    }
    s.hugetlb[size] = h;
  }
  return s;
}

// Classic v1 OOM notification: an eventfd registered for memory.oom_control through
// cgroup.event_control. The kernel also signals it once when the cgroup is removed, so a reader
// should check that the cgroup still exists (or oom_kill in stats()) before reporting an OOM.
Result<UniqueFd> V1::oom_event_fd() {
  if (!has(kMemory)) return UniqueFd();
  UniqueFd efd(::eventfd(0, EFD_CLOEXEC));
  if (!efd) return Error::sys("eventfd");
  std::string control = file(kMemory, "memory.oom_control");
  UniqueFd cfd(::open(control.c_str(), O_RDONLY | O_CLOEXEC));
  if (!cfd) return Error::sys("open " + quoted(control));
  // The registration holds its own references: the control file can be closed afterwards.
  BERTH_TRY_CTX(write_value(file(kMemory, "cgroup.event_control"),
                            std::to_string(efd.get()) + " " + std::to_string(cfd.get())),
                "register an OOM eventfd");
  return efd;
}

Result<void> V1::destroy() {
  auto deadline = Clock::now() + 1s;
  std::vector<std::string> failed;
  Error first = Error::internal("");
  for (const Hierarchy& h : hier_) {
    if (h.dir == h.mount) continue;  // never the root of a hierarchy
    auto r = remove_cgroup_tree(h.dir, deadline);
    if (!r) {
      if (failed.empty()) first = std::move(r).error();
      failed.push_back(quoted(h.dir));
    }
  }
  if (failed.empty()) return ok();
  std::string all;
  for (const std::string& f : failed) all += (all.empty() ? "" : ", ") + f;
  return Error::from_errno(first.errno_value(),
                           "remove cgroup " + quoted(path_) + " (could not remove " + all + ")");
}

}  // namespace

// ---- pure pieces ------------------------------------------------------------------------------

namespace v1_internal {

std::vector<std::pair<std::string, std::string>> parse_cgroup_mounts(std::string_view mountinfo) {
  std::vector<std::pair<std::string, std::string>> out;
  auto unescape = [](std::string_view s) {  // \040 (space), \011, \012, \134 in mount points
    std::string r;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '\\' && i + 3 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '3' &&
          s[i + 2] >= '0' && s[i + 2] <= '7' && s[i + 3] >= '0' && s[i + 3] <= '7') {
        r += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
        i += 3;
      } else {
        r += s[i];
      }
    }
    return r;
  };
  for_each_line(mountinfo, [&](std::string_view line) {
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) return;
    // Before " - ": id parent major:minor root mount-point options [optional fields]
    std::string_view head = line.substr(0, dash), tail = line.substr(dash + 3);
    std::string_view fields[5];
    for (auto& f : fields) {
      size_t sp = head.find(' ');
      f = head.substr(0, sp);
      head = sp == std::string_view::npos ? std::string_view() : head.substr(sp + 1);
    }
    // After: fstype source super-options
    size_t sp1 = tail.find(' ');
    if (sp1 == std::string_view::npos) return;
    std::string_view fstype = tail.substr(0, sp1);
    if (fstype != "cgroup" && fstype != "cgroup2") return;
    size_t sp2 = tail.find(' ', sp1 + 1);
    std::string_view opts =
        sp2 == std::string_view::npos ? std::string_view() : tail.substr(sp2 + 1);
    std::string ctrls;
    if (fstype == "cgroup") {
      while (!opts.empty()) {
        size_t comma = opts.find(',');
        std::string_view o = opts.substr(0, comma);
        if (is_controller_option(o)) ctrls += (ctrls.empty() ? "" : ",") + std::string(o);
        if (comma == std::string_view::npos) break;
        opts.remove_prefix(comma + 1);
      }
      if (ctrls.empty()) return;  // a hierarchy with nothing in it
    }
    out.emplace_back(unescape(fields[4]), std::move(ctrls));
  });
  return out;
}

Result<std::vector<std::string>> device_transition(
    std::string_view current, const std::vector<oci::DeviceCgroupRule>& rules) {
  DevState from = BERTH_TRY(dev_state_from_list(current));
  DevState to = BERTH_TRY(dev_state_from_rules(rules));
  return dev_transition(from, to);
}

}  // namespace v1_internal

std::unique_ptr<Cgroup> make_v1(const std::string& path, const std::string& mount_root,
                                Layout layout) {
  return std::make_unique<V1>(path, mount_root, layout);
}

}  // namespace berth::runtime::cgroup
