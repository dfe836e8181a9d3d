// The cgroup v2 manager: one directory in the unified hierarchy, resources written with the
// mapping runc and crun use, devices as an eBPF program (devices_bpf.cc).
#include "runtime/cgroup/v2.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <string_view>
#include <thread>

#include "runtime/cgroup/devices_bpf.h"
#include "runtime/cgroup/impl.h"
#include "util/log.h"
#include "util/strings.h"

namespace berth::runtime::cgroup {

uint64_t cpu_shares_to_weight(uint64_t shares) {
  if (shares == 0) return 0;
  if (shares <= 2) return 1;
  if (shares >= 262144) return 10000;
  double l = std::log2(static_cast<double>(shares));
  double exponent = (l * l + 125 * l) / 612.0 - 7.0 / 34.0;
  return static_cast<uint64_t>(std::ceil(std::pow(10, exponent)));
}

uint64_t blkio_weight_to_io_weight(uint16_t weight) {
  if (weight == 0) return 0;
  if (weight < 10) weight = 10;
  if (weight > 1000) weight = 1000;
  return 1 + (static_cast<uint64_t>(weight) - 10) * 9999 / 990;
}

Result<std::optional<int64_t>> swap_max_value(std::optional<int64_t> swap, int64_t limit) {
  const char* field = "linux.resources.memory.swap";
  int64_t s = swap.value_or(0);
  if (s == 0) {
    // Unlimited memory without a swap value means unlimited swap too (as on v1).
    if (limit == -1) return std::optional<int64_t>(-1);
    return std::optional<int64_t>();
  }
  if (s == -1 || limit == -1) return std::optional<int64_t>(s);
  if (s < -1) return Error::invalid(std::string(field) + ": " + std::to_string(s) + " is invalid");
  if (limit == 0)
    return Error::invalid(std::string(field) + ": a memory+swap limit needs a memory limit");
  if (limit < 0)
    return Error::invalid("linux.resources.memory.limit: " + std::to_string(limit) + " is invalid");
  if (s < limit)
    return Error::invalid(std::string(field) + ": memory+swap limit " + std::to_string(s) +
                          " is below the memory limit " + std::to_string(limit));
  return std::optional<int64_t>(s - limit);
}

namespace {

using Clock = std::chrono::steady_clock;

// Reads a small cgroup file; NotFound (errno ENOENT) when it does not exist.
Result<std::string> read_cg(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::sys("open " + quoted(path));
  auto r = read_all(fd.get(), 16 << 20);
  if (!r) return std::move(r).error().wrap("read " + quoted(path));
  return r;
}

// One write(2) of `value`: cgroup files parse each write as one request.
Result<void> write_cg(const std::string& path, std::string_view value) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Error::sys("open " + quoted(path));
  ssize_t n;
  do {
    n = ::write(fd.get(), value.data(), value.size());
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::sys("write " + quoted(value) + " to " + quoted(path));
  return ok();
}

std::string trim(std::string_view s) {
  while (!s.empty() && isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  while (!s.empty() && isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  return std::string(s);
}

// "max" -> UINT64_MAX; a number; anything else 0.
uint64_t parse_u64_or_max(std::string_view s) {
  std::string t = trim(s);
  if (t == "max") return UINT64_MAX;
  return strtoull(t.c_str(), nullptr, 10);
}

std::set<std::string> split_words(std::string_view s) {
  std::set<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.emplace(s.substr(i, j - i));
    i = j;
  }
  return out;
}

// "key value" lines (cpu.stat, memory.stat, memory.events, ...).
std::map<std::string, uint64_t> parse_flat_keyed(std::string_view text) {
  std::map<std::string, uint64_t> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(i, nl - i);
    i = nl + 1;
    size_t sp = line.find(' ');
    if (sp == std::string_view::npos) continue;
    out[std::string(line.substr(0, sp))] = parse_u64_or_max(line.substr(sp + 1));
  }
  return out;
}

std::vector<std::string> lines_of(std::string_view text) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t nl = text.find('\n', i);
    if (nl == std::string_view::npos) nl = text.size();
    std::string line = trim(text.substr(i, nl - i));
    if (!line.empty()) out.push_back(std::move(line));
    i = nl + 1;
  }
  return out;
}

// Controllers enabled when available even if no resource asks for them, so that `stats`
// (docker stats, kubelet) has numbers and a later `update` finds them: what runc and crun
// get by enabling every controller.
constexpr const char* kAccountingControllers[] = {"cpu", "memory", "pids", "io"};

// Controllers that `unified` keys may name (others, like "cgroup.", need none).
bool is_controller_name(std::string_view c) {
  for (const char* k :
       {"cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma", "misc", "perf_event"})
    if (c == k) return true;
  return false;
}

// What a set of resources needs: controller -> the field that needs it (for messages).
struct Needs {
  std::map<std::string, std::string> required;
  std::set<std::string> wanted;  // enabled if available (unified keys)
};

Needs needs_of(const oci::Resources& r) {
  Needs n;
  if (r.memory) {
    const auto& m = *r.memory;
    if (m.limit.value_or(0) != 0 || m.reservation.value_or(0) != 0 || m.swap.value_or(0) != 0)
      n.required.emplace("memory", "linux.resources.memory");
  }
  if (r.cpu) {
    const auto& c = *r.cpu;
    if (c.shares.value_or(0) != 0 || c.quota.value_or(0) != 0 || c.period.value_or(0) != 0 ||
        c.burst || c.idle)
      n.required.emplace("cpu", "linux.resources.cpu");
    if (!c.cpus.empty()) n.required.emplace("cpuset", "linux.resources.cpu.cpus");
    if (!c.mems.empty()) n.required.emplace("cpuset", "linux.resources.cpu.mems");
  }
  if (r.pids_limit) n.required.emplace("pids", "linux.resources.pids");
  if (r.block_io) {
    const auto& b = *r.block_io;
    if (b.weight || !b.weight_device.empty() || !b.throttle_read_bps.empty() ||
        !b.throttle_write_bps.empty() || !b.throttle_read_iops.empty() ||
        !b.throttle_write_iops.empty())
      n.required.emplace("io", "linux.resources.blockIO");
  }
  if (!r.hugepage_limits.empty()) n.required.emplace("hugetlb", "linux.resources.hugepageLimits");
  if (!r.rdma.empty()) n.required.emplace("rdma", "linux.resources.rdma");
  for (const auto& [key, value] : r.unified) {
    std::string c = key.substr(0, key.find('.'));
    if (is_controller_name(c)) n.wanted.insert(c);
  }
  return n;
}

Result<void> check_unified_key(const std::string& key) {
  auto bad = [&](const char* why) {
    return Error::invalid("linux.resources.unified: key " + quoted(key) + ": " + why);
  };
  if (key.empty() || key == "." || key == "..") return bad("is not a file name");
  if (key.find('/') != std::string::npos) return bad("must be a file name (no '/')");
  if (key.find('\0') != std::string::npos) return bad("contains a NUL byte");
  size_t dot = key.find('.');
  if (dot == 0 || dot == std::string::npos || dot + 1 == key.size())
    return bad("must be CONTROLLER.PARAMETER");
  return ok();
}

class V2 final : public Cgroup {
 public:
  V2(std::string path, std::string root)
      : path_(std::move(path)), root_(std::move(root)), dir_(root_ + path_) {}

  Layout layout() const override { return Layout::V2; }
  const std::string& path() const override { return path_; }

  Result<void> create(const oci::Resources* resources) override;
  UniqueFd clone_into_fd() override {
    return UniqueFd(::open(dir_.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
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
  std::string file(std::string_view name) const { return dir_ + "/" + std::string(name); }
  std::string cgroup_name() const { return "cgroup " + quoted(path_); }

  Result<void> make_dirs(std::vector<std::string>& created);
  Result<void> enable_controllers(const Needs& needs);
  Result<void> enable_in(const std::string& dir, const std::set<std::string>& required,
                         const std::set<std::string>& optional);
  Result<void> apply(const oci::Resources& r);
  Result<void> apply_memory(const oci::Resources::Memory& m);
  Result<void> apply_cpu(const oci::Resources::Cpu& c);
  Result<void> apply_io(const oci::Resources::BlockIo& b);
  Result<void> apply_hugetlb(const std::vector<oci::Resources::HugepageLimit>& limits);
  Result<void> apply_rdma(const std::map<std::string, oci::Resources::Rdma>& rdma);
  Result<void> apply_unified(const std::map<std::string, std::string>& unified);
  Result<void> apply_devices(const std::vector<oci::DeviceCgroupRule>& rules);
  Result<void> wait_frozen(bool frozen, std::chrono::milliseconds timeout);
  Result<void> collect_pids(const std::string& dir, std::vector<pid_t>& out);

  std::string path_, root_, dir_;
};

// ---- create / update ----

Result<void> V2::make_dirs(std::vector<std::string>& created) {
  std::string cur = root_;
  size_t i = 1;
  while (i <= path_.size()) {
    size_t j = path_.find('/', i);
    if (j == std::string::npos) j = path_.size();
    cur += "/" + path_.substr(i, j - i);
    i = j + 1;
    if (::mkdir(cur.c_str(), 0755) == 0)
      created.push_back(cur);
    else if (errno != EEXIST)
      return Error::sys("mkdir " + quoted(cur));
  }
  return ok();
}

Result<void> V2::enable_in(const std::string& dir, const std::set<std::string>& required,
                           const std::set<std::string>& optional) {
  std::set<std::string> enabled = split_words(BERTH_TRY(read_cg(dir + "/cgroup.subtree_control")));
  std::string all, req;
  for (const std::string& c : required)
    if (!enabled.count(c)) req += (req.empty() ? "+" : " +") + c;
  all = req;
  for (const std::string& c : optional)
    if (!enabled.count(c) && !required.count(c)) all += (all.empty() ? "+" : " +") + c;
  if (all.empty()) return ok();
  std::string control = dir + "/cgroup.subtree_control";
  if (write_cg(control, all)) return ok();
  // Something would not go (a process in `dir`, a controller in threaded mode, ...): the
  // required ones must, each optional one may fail.
  if (!req.empty()) BERTH_TRY(write_cg(control, req));
  for (const std::string& c : optional)
    if (!enabled.count(c) && !required.count(c)) (void)write_cg(control, "+" + c);
  return ok();
}

// Each ancestor of the leaf must offer the required controllers (cgroup.controllers) and
// hand them down (cgroup.subtree_control), from the root to the leaf's parent.
Result<void> V2::enable_controllers(const Needs& needs) {
  std::set<std::string> required;
  for (const auto& [c, field] : needs.required) required.insert(c);
  std::string cur = root_;
  size_t i = 1;
  while (i < path_.size()) {  // `cur`: each ancestor of the leaf, root first
    std::set<std::string> available = split_words(BERTH_TRY(read_cg(cur + "/cgroup.controllers")));
    for (const auto& [c, field] : needs.required)
      if (!available.count(c))
        return Error::unsupported(field + ": the " + c + " controller is not available in " +
                                  cgroup_name() + " (cgroup v2)");
    std::set<std::string> optional;
    for (const std::string& c : needs.wanted)
      if (available.count(c)) optional.insert(c);
    for (const char* c : kAccountingControllers)
      if (available.count(c)) optional.insert(c);
    BERTH_TRY_CTX(enable_in(cur, required, optional), "enable controllers for " + cgroup_name());
    size_t j = path_.find('/', i);
    if (j == std::string::npos) j = path_.size();
    cur += "/" + path_.substr(i, j - i);
    i = j + 1;
  }
  return ok();
}

Result<void> V2::create(const oci::Resources* resources) {
  std::vector<std::string> created;
  auto r = [&]() -> Result<void> {
    BERTH_TRY(make_dirs(created));
    if (resources) {
      BERTH_TRY(enable_controllers(needs_of(*resources)));
      BERTH_TRY(apply(*resources));
    } else {
      BERTH_TRY(enable_controllers(Needs{}));
    }
    return ok();
  }();
  if (!r) {
    for (auto it = created.rbegin(); it != created.rend(); ++it) ::rmdir(it->c_str());
    // As v1 does; what the host cannot do at all (Unsupported) already reads complete.
    if (r.error().kind() != ErrorKind::Unsupported) r.error().wrap(cgroup_name());
    return std::move(r).error();
  }
  return ok();
}

Result<void> V2::update(const oci::Resources& resources) {
  auto r = enable_controllers(needs_of(resources));
  if (r) r = apply(resources);
  if (!r && r.error().kind() != ErrorKind::Unsupported) r.error().wrap("update " + cgroup_name());
  return r;
}

Result<void> V2::apply(const oci::Resources& r) {
  if (r.memory) BERTH_TRY(apply_memory(*r.memory));
  if (r.cpu) BERTH_TRY(apply_cpu(*r.cpu));
  if (r.pids_limit) {
    std::string v = *r.pids_limit > 0 ? std::to_string(*r.pids_limit) : "max";
    BERTH_TRY_CTX(write_cg(file("pids.max"), v), "linux.resources.pids.limit");
  }
  if (r.block_io) BERTH_TRY(apply_io(*r.block_io));
  if (!r.hugepage_limits.empty()) BERTH_TRY(apply_hugetlb(r.hugepage_limits));
  if (!r.rdma.empty()) BERTH_TRY(apply_rdma(r.rdma));
  if (r.network && (r.network->class_id || !r.network->priorities.empty()))
    return Error::unsupported(
        "linux.resources.network: net_cls and net_prio do not exist in cgroup v2");
  if (!r.devices.empty()) BERTH_TRY(apply_devices(r.devices));
  // Last, so that explicit unified values win over the mapped ones (as runc does).
  if (!r.unified.empty()) BERTH_TRY(apply_unified(r.unified));
  return ok();
}

Result<void> V2::apply_memory(const oci::Resources::Memory& m) {
  auto number = [](int64_t v) { return v == -1 ? std::string("max") : std::to_string(v); };
  if (m.kernel || m.kernel_tcp)
    log::warn("linux.resources.memory.kernel and kernelTCP are ignored with cgroup v2");
  if (m.swappiness) log::warn("linux.resources.memory.swappiness is ignored with cgroup v2");
  if (m.disable_oom_killer.value_or(false))
    log::warn("linux.resources.memory.disableOOMKiller is ignored with cgroup v2");
  int64_t limit = m.limit.value_or(0);
  if (limit < -1)
    return Error::invalid("linux.resources.memory.limit: " + std::to_string(limit) + " is invalid");
  // Swap is relative to the limit in force: on update, the one already written.
  int64_t effective = limit;
  if (!m.limit && m.swap.value_or(0) > 0) {
    auto cur = read_cg(file("memory.max"));
    if (cur) effective = trim(*cur) == "max" ? -1 : static_cast<int64_t>(parse_u64_or_max(*cur));
  }
  std::optional<int64_t> swap = BERTH_TRY(swap_max_value(m.swap, effective));
  if (m.check_before_update.value_or(false) && (limit > 0 || m.swap.value_or(0) > 0)) {
    uint64_t usage = parse_u64_or_max(read_cg(file("memory.current")).value_or("0"));
    uint64_t swap_usage = parse_u64_or_max(read_cg(file("memory.swap.current")).value_or("0"));
    if (limit > 0 && static_cast<uint64_t>(limit) <= usage)
      return Error::invalid("linux.resources.memory.limit: " + std::to_string(limit) +
                            " is not above the current usage " + std::to_string(usage));
    if (m.swap.value_or(0) > 0 && static_cast<uint64_t>(*m.swap) <= usage + swap_usage)
      return Error::invalid("linux.resources.memory.swap: " + std::to_string(*m.swap) +
                            " is not above the current memory+swap usage " +
                            std::to_string(usage + swap_usage));
  }
  if (limit != 0)
    BERTH_TRY_CTX(write_cg(file("memory.max"), number(limit)), "linux.resources.memory.limit");
  if (swap) {
    auto w = write_cg(file("memory.swap.max"), number(*swap));
    // Without swap accounting there is no file; "max" and "0" then need no writing.
    if (!w && !(w.error().errno_value() == ENOENT && (*swap == -1 || *swap == 0)))
      return std::move(w).error().wrap("linux.resources.memory.swap");
  }
  int64_t reservation = m.reservation.value_or(0);
  if (reservation != 0)
    BERTH_TRY_CTX(write_cg(file("memory.low"), number(reservation)),
                  "linux.resources.memory.reservation");
  return ok();
}

Result<void> V2::apply_cpu(const oci::Resources::Cpu& c) {
  if (c.realtime_period.value_or(0) != 0)
    return Error::unsupported("linux.resources.cpu.realtimePeriod: not supported with cgroup v2");
  if (c.realtime_runtime.value_or(0) != 0)
    return Error::unsupported("linux.resources.cpu.realtimeRuntime: not supported with cgroup v2");
  if (c.shares.value_or(0) != 0)
    BERTH_TRY_CTX(write_cg(file("cpu.weight"), std::to_string(cpu_shares_to_weight(*c.shares))),
                  "linux.resources.cpu.shares");
  if (c.idle)
    BERTH_TRY_CTX(write_cg(file("cpu.idle"), std::to_string(*c.idle)), "linux.resources.cpu.idle");
  bool quota = c.quota.value_or(0) != 0, period = c.period.value_or(0) != 0;
  if (quota || period) {
    // "QUOTA PERIOD"; QUOTA alone keeps the period. A period alone keeps the quota in force.
    std::string q;
    if (quota) {
      q = *c.quota > 0 ? std::to_string(*c.quota) : "max";
    } else {
      auto cur = read_cg(file("cpu.max"));
      q = cur ? trim(std::string_view(*cur).substr(0, cur->find(' '))) : "max";
    }
    std::string v = period ? q + " " + std::to_string(*c.period) : q;
    BERTH_TRY_CTX(write_cg(file("cpu.max"), v),
                  quota ? "linux.resources.cpu.quota" : "linux.resources.cpu.period");
  }
  if (c.burst)
    BERTH_TRY_CTX(write_cg(file("cpu.max.burst"), std::to_string(*c.burst)),
                  "linux.resources.cpu.burst");
  if (!c.cpus.empty())
    BERTH_TRY_CTX(write_cg(file("cpuset.cpus"), c.cpus), "linux.resources.cpu.cpus");
  if (!c.mems.empty())
    BERTH_TRY_CTX(write_cg(file("cpuset.mems"), c.mems), "linux.resources.cpu.mems");
  return ok();
}

Result<void> V2::apply_io(const oci::Resources::BlockIo& b) {
  // BFQ's own weight file takes the v1 range as is, when the scheduler is there.
  std::string bfq = file("io.bfq.weight");
  auto bfq_text = read_cg(bfq);
  bool have_bfq = bool(bfq_text);
  // Old kernels' io.bfq.weight holds a bare number and takes no per-device values.
  bool bfq_per_device = have_bfq && bfq_text->rfind("default", 0) == 0;
  if (b.weight) {
    if (*b.weight < 10 || *b.weight > 1000)
      return Error::invalid("linux.resources.blockIO.weight: " + std::to_string(*b.weight) +
                            " is outside 10..1000");
    if (have_bfq)
      BERTH_TRY_CTX(write_cg(bfq, std::to_string(*b.weight)), "linux.resources.blockIO.weight");
    else
      BERTH_TRY_CTX(
          write_cg(file("io.weight"), std::to_string(blkio_weight_to_io_weight(*b.weight))),
          "linux.resources.blockIO.weight");
  }
  for (size_t i = 0; i < b.weight_device.size(); ++i) {
    const oci::WeightDevice& d = b.weight_device[i];
    if (!d.weight) continue;  // leafWeight has no v2 counterpart
    std::string field = "linux.resources.blockIO.weightDevice[" + std::to_string(i) + "]";
    std::string dev = std::to_string(d.major) + ":" + std::to_string(d.minor) + " ";
    if (bfq_per_device)
      BERTH_TRY_CTX(write_cg(bfq, dev + std::to_string(*d.weight)), field);
    else
      BERTH_TRY_CTX(
          write_cg(file("io.weight"), dev + std::to_string(blkio_weight_to_io_weight(*d.weight))),
          field);
  }
  struct Throttle {
    const std::vector<oci::ThrottleDevice>* list;
    const char* key;
    const char* field;
  };
  for (const Throttle& t : {Throttle{&b.throttle_read_bps, "rbps", "throttleReadBpsDevice"},
                            Throttle{&b.throttle_write_bps, "wbps", "throttleWriteBpsDevice"},
                            Throttle{&b.throttle_read_iops, "riops", "throttleReadIOPSDevice"},
                            Throttle{&b.throttle_write_iops, "wiops", "throttleWriteIOPSDevice"}}) {
    for (size_t i = 0; i < t.list->size(); ++i) {
      const oci::ThrottleDevice& d = (*t.list)[i];
      // 0 removes the limit, as on v1.
      std::string v = std::to_string(d.major) + ":" + std::to_string(d.minor) + " " + t.key + "=" +
                      (d.rate ? std::to_string(d.rate) : "max");
      BERTH_TRY_CTX(write_cg(file("io.max"), v), std::string("linux.resources.blockIO.") + t.field +
                                                     "[" + std::to_string(i) + "]");
    }
  }
  return ok();
}

Result<void> V2::apply_hugetlb(const std::vector<oci::Resources::HugepageLimit>& limits) {
  for (size_t i = 0; i < limits.size(); ++i) {
    const auto& h = limits[i];
    std::string field = "linux.resources.hugepageLimits[" + std::to_string(i) + "]";
    if (h.page_size.empty() || h.page_size.find('/') != std::string::npos ||
        h.page_size.find('.') != std::string::npos)
      return Error::invalid(field + ".pageSize: " + quoted(h.page_size) + " is not a page size");
    std::string base = "hugetlb." + h.page_size;
    std::string v = std::to_string(h.limit);
    auto w = write_cg(file(base + ".max"), v);
    if (!w && w.error().errno_value() == ENOENT)
      return Error::invalid(field + ".pageSize: " + quoted(h.page_size) +
                            ": the host has no huge pages of this size (no " + base + ".max)");
    if (!w) return std::move(w).error().wrap(field);
    // Reservations too (kernel 5.7+), so a mmap beyond the limit fails instead of a fault
    // killing the process later.
    auto rsvd = write_cg(file(base + ".rsvd.max"), v);
    if (!rsvd && rsvd.error().errno_value() != ENOENT) return std::move(rsvd).error().wrap(field);
  }
  return ok();
}

Result<void> V2::apply_rdma(const std::map<std::string, oci::Resources::Rdma>& rdma) {
  for (const auto& [device, limits] : rdma) {
    std::string field = "linux.resources.rdma[" + quoted(device) + "]";
    if (device.empty() || device.find_first_of(" \t\n") != std::string::npos)
      return Error::invalid(field + ": not a device name");
    std::string v = device;
    if (limits.hca_handles) v += " hca_handle=" + std::to_string(*limits.hca_handles);
    if (limits.hca_objects) v += " hca_object=" + std::to_string(*limits.hca_objects);
    if (v == device) continue;
    BERTH_TRY_CTX(write_cg(file("rdma.max"), v), field);
  }
  return ok();
}

Result<void> V2::apply_unified(const std::map<std::string, std::string>& unified) {
  std::set<std::string> available;
  bool read_available = false;
  for (const auto& [key, value] : unified) {
    BERTH_TRY(check_unified_key(key));
    std::string field = "linux.resources.unified[" + quoted(key) + "]";
    // Values with several lines (io.max, ...) are written one line at a time.
    std::vector<std::string> lines = lines_of(value);
    if (lines.empty()) lines.push_back(trim(value));
    for (const std::string& line : lines) {
      auto w = write_cg(file(key), line);
      if (w) continue;
      int e = w.error().errno_value();
      if (e == ENOENT || e == EACCES || e == EPERM) {
        std::string c = key.substr(0, key.find('.'));
        if (!read_available) {
          available = split_words(read_cg(file("cgroup.controllers")).value_or(""));
          read_available = true;
        }
        if (is_controller_name(c) && !available.count(c))
          return Error::unsupported(field + ": the " + c + " controller is not available in " +
                                    cgroup_name() + " (cgroup v2)");
        if (e == ENOENT) return Error::invalid(field + ": no such cgroup file (cgroup v2)");
      }
      return std::move(w).error().wrap(field);
    }
  }
  return ok();
}

Result<void> V2::apply_devices(const std::vector<oci::DeviceCgroupRule>& rules) {
  UniqueFd dir(::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return Error::sys("linux.resources.devices: open " + quoted(dir_));
  return apply_device_rules(dir.get(), rules);
}

// ---- processes ----

Result<void> V2::add_process(pid_t pid) {
  auto w = write_cg(file("cgroup.procs"), std::to_string(pid));
  if (!w)
    return std::move(w).error().wrap("add process " + std::to_string(pid) + " to " + cgroup_name());
  return ok();
}

Result<void> V2::collect_pids(const std::string& dir, std::vector<pid_t>& out) {
  auto procs = read_cg(dir + "/cgroup.procs");
  if (!procs) {
    // A child cgroup removed while walking is fine; the container's own is not.
    if (dir != dir_ && procs.error().errno_value() == ENOENT) return ok();
    return std::move(procs).error();
  }
  for (const std::string& l : lines_of(*procs)) out.push_back(static_cast<pid_t>(atoi(l.c_str())));
  DIR* d = ::opendir(dir.c_str());
  if (!d) return dir == dir_ ? Error::sys("open " + quoted(dir)) : Result<void>();
  std::vector<std::string> subdirs;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_type != DT_DIR || !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    subdirs.push_back(dir + "/" + e->d_name);
  }
  ::closedir(d);
  for (const std::string& s : subdirs) BERTH_TRY(collect_pids(s, out));
  return ok();
}

Result<std::vector<pid_t>> V2::pids() {
  std::vector<pid_t> out;
  auto r = collect_pids(dir_, out);
  if (!r) return std::move(r).error().wrap("list processes of " + cgroup_name());
  return out;
}

Result<void> V2::kill_all(int signal) {
  if (signal == SIGKILL) {
    auto w = write_cg(file("cgroup.kill"), "1");  // kernel 5.14+: atomic, fork-safe
    if (w) return ok();
    if (w.error().errno_value() != ENOENT)
      return std::move(w).error().wrap("kill processes of " + cgroup_name());
  }
  // Without cgroup.kill: freeze so nothing forks between listing and signalling (unless the
  // container is paused already, which it must stay).
  bool was_frozen = is_frozen().value_or(true);
  bool froze = !was_frozen && set_frozen(true).has_value();
  auto list = pids();
  if (list) {
    for (pid_t p : *list)
      if (p > 0) ::kill(p, signal);
  }
  if (froze) (void)set_frozen(false);
  if (!list) return std::move(list).error();
  return ok();
}

Result<void> V2::wait_frozen(bool frozen, std::chrono::milliseconds timeout) {
  std::string events = file("cgroup.events");
  UniqueFd fd(::open(events.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Error::sys("open " + quoted(events));
  const std::string want = frozen ? "frozen 1" : "frozen 0";
  auto deadline = Clock::now() + timeout;
  char buf[512];
  while (true) {
    ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    if (n < 0) return Error::sys("read " + quoted(events));
    buf[n] = 0;
    for (const std::string& l : lines_of(buf))
      if (l == want) return ok();
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0)
      return Error(ErrorKind::Timeout, 0,
                   std::string(frozen ? "not frozen" : "not thawed") + " after " +
                       std::to_string(timeout.count()) + " ms");
    // kernfs wakes pollers (POLLPRI) when cgroup.events changes; re-check at least every
    // 50 ms anyway.
    struct pollfd p = {fd.get(), POLLPRI, 0};
    ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 50)));
  }
}

Result<void> V2::set_frozen(bool frozen) {
  const char* verb = frozen ? "freeze " : "thaw ";
  auto w = write_cg(file("cgroup.freeze"), frozen ? "1" : "0");
  if (!w) {
    if (w.error().errno_value() == ENOENT && ::access(dir_.c_str(), F_OK) == 0)
      return Error::unsupported(verb + cgroup_name() +
                                ": cgroup.freeze is missing (the v2 freezer needs kernel 5.2)");
    return std::move(w).error().wrap(verb + cgroup_name());
  }
  auto waited = wait_frozen(frozen, std::chrono::seconds(5));
  if (!waited) {
    if (frozen) (void)write_cg(file("cgroup.freeze"), "0");  // not half paused
    return std::move(waited).error().wrap(verb + cgroup_name());
  }
  return ok();
}

Result<bool> V2::is_frozen() {
  auto r = read_cg(file("cgroup.freeze"));
  if (!r) {
    if (r.error().errno_value() == ENOENT && ::access(dir_.c_str(), F_OK) == 0) return false;
    return std::move(r).error().wrap("freezer state of " + cgroup_name());
  }
  return trim(*r) == "1";
}

// ---- stats, events, removal ----

Result<Stats> V2::stats() {
  if (::access(dir_.c_str(), F_OK) != 0) return Error::sys("stats of " + cgroup_name());
  // Missing files (a controller not enabled, an older kernel) leave zeros.
  auto flat = [&](const char* name) { return parse_flat_keyed(read_cg(file(name)).value_or("")); };
  auto value = [&](const std::string& name, uint64_t dflt = 0) {
    auto t = read_cg(file(name));
    return t ? parse_u64_or_max(*t) : dflt;
  };
  Stats s;
  auto cpu = flat("cpu.stat");
  s.cpu.usage_total_ns = cpu["usage_usec"] * 1000;
  s.cpu.usage_user_ns = cpu["user_usec"] * 1000;
  s.cpu.usage_kernel_ns = cpu["system_usec"] * 1000;
  s.cpu.periods = cpu["nr_periods"];
  s.cpu.throttled_periods = cpu["nr_throttled"];
  s.cpu.throttled_time_ns = cpu["throttled_usec"] * 1000;

  s.memory.stat = flat("memory.stat");
  s.memory.usage = value("memory.current");
  s.memory.max_usage = value("memory.peak");
  s.memory.limit = value("memory.max", UINT64_MAX);
  auto events = flat("memory.events");
  s.memory.failcnt = events["max"];
  s.memory.oom_kill = events["oom_kill"];
  // v1's memsw numbers (memory + swap), which is what `swap` means in runc's stats.
  uint64_t swap = value("memory.swap.current"), swap_max = value("memory.swap.max", UINT64_MAX);
  s.memory.swap_usage = swap + s.memory.usage;
  s.memory.swap_limit = (swap_max == UINT64_MAX || s.memory.limit == UINT64_MAX)
                            ? UINT64_MAX
                            : swap_max + s.memory.limit;

  s.pids.current = value("pids.current");
  uint64_t pids_max = value("pids.max", UINT64_MAX);
  s.pids.limit = pids_max == UINT64_MAX ? 0 : pids_max;

  for (const std::string& line : lines_of(read_cg(file("io.stat")).value_or(""))) {
    // "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0"
    unsigned major = 0, minor = 0;
    if (sscanf(line.c_str(), "%u:%u", &major, &minor) != 2) continue;
    for (const std::string& kv : split_words(line)) {
      size_t eq = kv.find('=');
      if (eq == std::string::npos) continue;
      std::string k = kv.substr(0, eq);
      uint64_t v = strtoull(kv.c_str() + eq + 1, nullptr, 10);
      if (k == "rbytes" || k == "wbytes")
        s.io_service_bytes.push_back({major, minor, k == "rbytes" ? "Read" : "Write", v});
      else if (k == "rios" || k == "wios")
        s.io_serviced.push_back({major, minor, k == "rios" ? "Read" : "Write", v});
    }
  }

  if (DIR* d = ::opendir(dir_.c_str())) {
    std::vector<std::string> sizes;
    while (struct dirent* e = ::readdir(d)) {
      std::string_view n = e->d_name;
      // "hugetlb.2MB.current" (not "hugetlb.2MB.rsvd.current")
      constexpr std::string_view pre = "hugetlb.", suf = ".current";
      if (n.size() > pre.size() + suf.size() && n.substr(0, pre.size()) == pre &&
          n.substr(n.size() - suf.size()) == suf) {
        std::string_view size = n.substr(pre.size(), n.size() - pre.size() - suf.size());
        if (size.find('.') == std::string_view::npos) sizes.emplace_back(size);
      }
    }
    ::closedir(d);
    for (const std::string& size : sizes) {
      Stats::Hugetlb& h = s.hugetlb[size];
      h.usage = value("hugetlb." + size + ".current");
      h.max = value("hugetlb." + size + ".max", UINT64_MAX);
      h.failcnt =
          parse_flat_keyed(read_cg(file("hugetlb." + size + ".events")).value_or(""))["max"];
    }
  }
  return s;
}

Result<UniqueFd> V2::oom_event_fd() {
  std::string events = file("memory.events");
  if (::access(events.c_str(), F_OK) != 0) return UniqueFd();  // no memory controller
  UniqueFd fd(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
  if (!fd) return Error::sys("inotify_init1");
  if (::inotify_add_watch(fd.get(), events.c_str(), IN_MODIFY) < 0)
    return Error::sys("watch " + quoted(events));
  return fd;
}

// rmdir, children first (cgroups the container made inside its own).
int remove_tree(const std::string& dir) {
  // Most often a leaf with no child cgroups: one rmdir does it (child cgroups or processes
  // make it EBUSY: then the walk).
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return 0;
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> subdirs;
    while (struct dirent* e = ::readdir(d))
      if (e->d_type == DT_DIR && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
        subdirs.push_back(dir + "/" + e->d_name);
    ::closedir(d);
    for (const std::string& s : subdirs) remove_tree(s);
  }
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return 0;
  return errno;
}

Result<void> V2::destroy() {
  // The last processes may still be exiting (cgroup.kill is asynchronous): retry ~1 s.
  auto deadline = Clock::now() + std::chrono::seconds(1);
  auto delay = std::chrono::milliseconds(5);
  while (true) {
    int err = remove_tree(dir_);
    if (err == 0) return ok();
    if (err != EBUSY || Clock::now() >= deadline)
      return Error::from_errno(err, "remove " + cgroup_name() + ": rmdir " + quoted(dir_));
    std::this_thread::sleep_for(delay);
    delay = std::min(delay * 2, std::chrono::milliseconds(100));
  }
}

}  // namespace

std::unique_ptr<Cgroup> make_v2(const std::string& path, const std::string& mount_root) {
  return std::make_unique<V2>(path, mount_root);
}

}  // namespace berth::runtime::cgroup
