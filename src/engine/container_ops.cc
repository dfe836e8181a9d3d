// The smaller container operations: pause/unpause, resize, top, rename, prune, stats, and the
// container part of /system/df.
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

#include "engine/containers_internal.h"
#include "util/strings.h"

extern char** environ;

namespace berth::engine {
namespace {

Result<void> must_run(const ContainerService::Ctr& c) {
  if (c.st.status != "running" && c.st.status != "paused")
    return Error::conflict("container " + c.id + " is not running");
  return ok();
}

// The container's cgroup directory for `controller` ("" = the v2 unified one), from its init's
// /proc/<pid>/cgroup.
std::string cgroup_dir(pid_t pid, std::string_view controller) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/cgroup", 1 << 16);
  if (!text) return {};
  std::string unified;
  for (std::string_view line : split(*text, '\n', true)) {
    auto f = split(line, ':');
    if (f.size() < 3) continue;
    std::string path(line.substr(f[0].size() + f[1].size() + 2));
    if (f[1].empty()) {
      unified = path;
      continue;
    }
    if (controller.empty()) continue;
    for (std::string_view c : split(f[1], ','))
      if (c == controller) return "/sys/fs/cgroup/" + std::string(f[1]) + path;
  }
  if (unified.empty()) return {};
  // Pure v2, or the hybrid layout's unified mount.
  if (access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0) return "/sys/fs/cgroup" + unified;
  return "/sys/fs/cgroup/unified" + unified;
}

bool cgroup_v2() { return access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0; }

std::set<pid_t> cgroup_pids(pid_t init) {
  std::set<pid_t> out;
  std::string dir = cgroup_v2() ? cgroup_dir(init, "") : cgroup_dir(init, "pids");
  if (dir.empty()) dir = cgroup_dir(init, "memory");
  auto text = read_file(dir + "/cgroup.procs", 16 << 20);
  if (text)
    for (std::string_view l : split(*text, '\n', true)) out.insert(atoi(std::string(l).c_str()));
  if (out.empty()) out.insert(init);
  return out;
}

uint64_t read_u64(const std::string& path) {
  auto t = read_file(path, 4096);
  if (!t || t->empty() || t->starts_with("max")) return 0;
  return strtoull(t->c_str(), nullptr, 10);
}

std::map<std::string, uint64_t> read_kv(const std::string& path) {
  std::map<std::string, uint64_t> out;
  auto t = read_file(path, 1 << 20);
  if (!t) return out;
  for (std::string_view l : split(*t, '\n', true)) {
    auto f = split_fields(l);
    if (f.size() == 2) out[std::string(f[0])] = strtoull(std::string(f[1]).c_str(), nullptr, 10);
  }
  return out;
}

uint64_t system_cpu_ns() {
  auto t = read_file("/proc/stat", 1 << 20);
  if (!t) return 0;
  auto lines = split(*t, '\n');
  if (lines.empty()) return 0;
  auto f = split_fields(lines[0]);
  uint64_t ticks = 0;
  for (size_t i = 1; i < f.size() && i <= 8; i++)
    ticks += strtoull(std::string(f[i]).c_str(), nullptr, 10);
  return ticks * (1'000'000'000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK)));
}

json zero_cpu() {
  return json{
      {"cpu_usage", {{"total_usage", 0}, {"usage_in_kernelmode", 0}, {"usage_in_usermode", 0}}},
      {"throttling_data", {{"periods", 0}, {"throttled_periods", 0}, {"throttled_time", 0}}}};
}

json cpu_stats(pid_t pid) {
  json cpu = zero_cpu();
  uint64_t total = 0, user = 0, sys = 0, periods = 0, throttled = 0, throttled_ns = 0;
  if (cgroup_v2()) {
    auto st = read_kv(cgroup_dir(pid, "") + "/cpu.stat");
    total = st["usage_usec"] * 1000;
    user = st["user_usec"] * 1000;
    sys = st["system_usec"] * 1000;
    periods = st["nr_periods"];
    throttled = st["nr_throttled"];
    throttled_ns = st["throttled_usec"] * 1000;
  } else {
    std::string acct = cgroup_dir(pid, "cpuacct");
    total = read_u64(acct + "/cpuacct.usage");
    auto st = read_kv(acct + "/cpuacct.stat");
    uint64_t tick = 1'000'000'000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    user = st["user"] * tick;
    sys = st["system"] * tick;
    auto th = read_kv(cgroup_dir(pid, "cpu") + "/cpu.stat");
    periods = th["nr_periods"];
    throttled = th["nr_throttled"];
    throttled_ns = th["throttled_time"];
  }
  cpu["cpu_usage"] = {
      {"total_usage", total}, {"usage_in_kernelmode", sys}, {"usage_in_usermode", user}};
  cpu["throttling_data"] = {
      {"periods", periods}, {"throttled_periods", throttled}, {"throttled_time", throttled_ns}};
  cpu["system_cpu_usage"] = system_cpu_ns();
  cpu["online_cpus"] = sysconf(_SC_NPROCESSORS_ONLN);
  return cpu;
}

json memory_stats(pid_t pid) {
  uint64_t usage = 0, limit = 0;
  std::map<std::string, uint64_t> st;
  if (cgroup_v2()) {
    std::string d = cgroup_dir(pid, "");
    usage = read_u64(d + "/memory.current");
    limit = read_u64(d + "/memory.max");
    st = read_kv(d + "/memory.stat");
  } else {
    std::string d = cgroup_dir(pid, "memory");
    usage = read_u64(d + "/memory.usage_in_bytes");
    limit = read_u64(d + "/memory.limit_in_bytes");
    st = read_kv(d + "/memory.stat");
  }
  uint64_t host =
      static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  if (limit == 0 || limit > host) limit = host;
  json stats = json::object();
  for (const auto& [k, v] : st) stats[k] = v;
  return json{{"usage", usage}, {"stats", stats}, {"limit", limit}};
}

json pids_stats(pid_t pid) {
  std::string d = cgroup_v2() ? cgroup_dir(pid, "") : cgroup_dir(pid, "pids");
  json j = {{"current", read_u64(d + "/pids.current")}};
  if (uint64_t max = read_u64(d + "/pids.max"); max) j["limit"] = max;
  return j;
}

json blkio_zero() {
  return json{{"io_service_bytes_recursive", nullptr}, {"io_serviced_recursive", nullptr},
              {"io_queue_recursive", nullptr},         {"io_service_time_recursive", nullptr},
              {"io_wait_time_recursive", nullptr},     {"io_merged_recursive", nullptr},
              {"io_time_recursive", nullptr},          {"sectors_recursive", nullptr}};
}

// Runs a command, returning its stdout.
Result<std::string> capture(std::vector<std::string> argv) {
  std::vector<char*> a;
  for (auto& s : argv) a.push_back(s.data());
  a.push_back(nullptr);
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return Error::sys("pipe");
  UniqueFd r(out[0]), w(out[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, w.get(), 2);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, a[0], &fa, nullptr, a.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Error::from_errno(rc, "exec " + argv[0]);
  ChildProcess child(pid);
  w.reset();
  std::string text = BERTH_TRY(read_all(r.get(), 64 << 20));
  int status = BERTH_TRY(child.wait());
  if (exit_code_of(status) != 0) {
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return Error::internal("Error running ps: exit status " + std::to_string(exit_code_of(status)) +
                           ": " + text);
  }
  return text;
}

}  // namespace

Result<void> ContainerService::pause(const std::string& ref) {
  Impl& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op);
  {
    std::lock_guard lk(c->mu);
    if (c->st.status == "paused")
      return Error::conflict("container " + c->id + " is already paused");
    if (c->st.status != "running") return Error::conflict("container " + c->id + " is not running");
  }
  std::string runtime = BERTH_TRY(m.runtime_binary(c->origin.runtime));
  BERTH_TRY(run_runtime(runtime, m.runtime_root(), {"pause", c->id}));
  std::lock_guard lk(c->mu);
  c->st.status = "paused";
  BERTH_TRY(m.save_state(*c));
  m.event(*c, "pause");
  return ok();
}

Result<void> ContainerService::unpause(const std::string& ref) {
  Impl& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::lock_guard op(c->op);
  {
    std::lock_guard lk(c->mu);
    if (c->st.status != "paused") return Error::conflict("container " + c->id + " is not paused");
  }
  std::string runtime = BERTH_TRY(m.runtime_binary(c->origin.runtime));
  BERTH_TRY(run_runtime(runtime, m.runtime_root(), {"resume", c->id}));
  std::lock_guard lk(c->mu);
  if (c->st.status == "paused") c->st.status = "running";
  BERTH_TRY(m.save_state(*c));
  m.event(*c, "unpause");
  return ok();
}

Result<void> ContainerService::resize(const std::string& ref, unsigned height, unsigned width) {
  auto c = BERTH_TRY(impl_->find(ref));
  {
    std::lock_guard lk(c->mu);
    if (c->st.status != "running" && c->st.status != "paused")
      return Error::conflict("Container " + c->id + " is not running");
  }
  auto client = BERTH_TRY(connect_shim(impl_->shim_dir(c->id)));
  return client.resize("", height, width);
}

Result<void> ContainerService::exec_resize(const std::string& exec_id, unsigned height,
                                           unsigned width) {
  auto e = BERTH_TRY(impl_->find_exec(exec_id));
  {
    std::lock_guard lk(impl_->exec_mu);
    if (!e->running) return Error::conflict("Exec " + exec_id + " is not running");
  }
  auto client = BERTH_TRY(connect_shim(impl_->shim_dir(e->container_id)));
  return client.resize(exec_id, height, width);
}

Result<nlohmann::json> ContainerService::top(const std::string& ref, const std::string& ps_args) {
  auto c = BERTH_TRY(impl_->find(ref));
  pid_t init = 0;
  {
    std::lock_guard lk(c->mu);
    BERTH_TRY(must_run(*c));
    init = c->st.pid;
  }
  std::set<pid_t> pids = cgroup_pids(init);
  std::vector<std::string> argv = {"ps"};
  const std::string args = ps_args.empty() ? "-ef" : ps_args;
  for (std::string_view a : split_fields(args)) argv.emplace_back(a);
  std::string out = BERTH_TRY(capture(argv));
  auto lines = split(out, '\n', true);
  if (lines.empty()) return Error::internal("Error running ps: no output");
  std::vector<std::string> titles;
  for (auto t : split_fields(lines[0])) titles.emplace_back(t);
  auto pid_col = std::find(titles.begin(), titles.end(), "PID");
  if (pid_col == titles.end()) return Error::internal("Couldn't find PID field in ps output");
  size_t pid_idx = static_cast<size_t>(pid_col - titles.begin());
  json procs = json::array();
  for (size_t i = 1; i < lines.size(); i++) {
    auto f = split_fields(lines[i]);
    if (f.size() <= pid_idx) continue;
    if (!pids.count(atoi(std::string(f[pid_idx]).c_str()))) continue;
    json row = json::array();
    for (size_t k = 0; k + 1 < titles.size() && k < f.size(); k++) row.push_back(std::string(f[k]));
    // The last column (the command) keeps its spaces.
    if (f.size() >= titles.size()) {
      const char* start = f[titles.size() - 1].data();
      std::string_view l = lines[i];
      row.push_back(std::string(l.substr(static_cast<size_t>(start - l.data()))));
    }
    procs.push_back(std::move(row));
  }
  return json{{"Titles", titles}, {"Processes", procs}};
}

Result<void> ContainerService::rename(const std::string& ref, const std::string& new_name_in) {
  Impl& m = *impl_;
  auto c = BERTH_TRY(m.find(ref));
  std::string new_name = new_name_in.starts_with("/") ? new_name_in.substr(1) : new_name_in;
  if (new_name.empty()) return Error::invalid("Neither old nor new names may be empty");
  bool valid =
      new_name.size() >= 2 && isalnum(static_cast<unsigned char>(new_name[0])) &&
      std::all_of(new_name.begin(), new_name.end(), [](char ch) {
        return isalnum(static_cast<unsigned char>(ch)) || ch == '_' || ch == '.' || ch == '-';
      });
  if (!valid)
    return Error::invalid("Invalid container name (" + new_name_in +
                          "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  std::lock_guard op(c->op);
  std::string old;
  {
    std::lock_guard lk(c->mu);
    old = c->name;
  }
  if (old == new_name)
    return Error::invalid("Renaming a container with the same name as its current name");
  BERTH_TRY(m.reserve_name(new_name, c->id));
  if (auto r = m.store.rename(c->id, new_name); !r) {
    m.release_name(new_name, c->id);
    return std::move(r).error();
  }
  m.release_name(old, c->id);
  std::lock_guard lk(c->mu);
  c->name = new_name;
  m.event(*c, "rename", {{"oldName", "/" + old}});
  return ok();
}

Result<nlohmann::json> ContainerService::prune(const Filters& filters) {
  Impl& m = *impl_;
  int64_t until = INT64_MAX;
  std::vector<std::string> labels, not_labels;
  for (const auto& [key, vals] : filters) {
    if (key == "until") {
      for (const auto& v : vals) {
        char* end = nullptr;
        double secs = strtod(v.c_str(), &end);
        int64_t t = (end != v.c_str() && *end == '\0') ? static_cast<int64_t>(secs * 1e9)
                                                       : parse_rfc3339(v);
        if (t == 0) return Error::invalid("invalid filter 'until=" + v + "'");
        until = std::min(until, t);
      }
    } else if (key == "label") {
      labels = vals;
    } else if (key == "label!") {
      not_labels = vals;
    } else {
      return Error::invalid("invalid filter '" + key + "'");
    }
  }
  std::vector<std::shared_ptr<Ctr>> all;
  {
    std::lock_guard lk(m.mu);
    for (auto& [id, c] : m.by_id) all.push_back(c);
  }
  auto has_label = [](const json& l, const std::string& f) {
    size_t eq = f.find('=');
    if (eq == std::string::npos) return l.contains(f);
    auto it = l.find(f.substr(0, eq));
    return it != l.end() && *it == f.substr(eq + 1);
  };
  json deleted = json::array();
  uint64_t reclaimed = 0;
  for (auto& c : all) {
    {
      std::lock_guard lk(c->mu);
      if (c->running_like() || c->removed || c->st.status == "removing") continue;
      if (c->created_ns >= until) continue;
      json l = get_or(c->config, "Labels", json::object());
      if (!std::all_of(labels.begin(), labels.end(), [&](auto& f) { return has_label(l, f); }))
        continue;
      if (std::any_of(not_labels.begin(), not_labels.end(),
                      [&](auto& f) { return has_label(l, f); }))
        continue;
    }
    auto u = m.images.snapshots().usage(c->origin.snapshot_key);
    if (m.remove(c, false)) {
      deleted.push_back(c->id);
      if (u) reclaimed += u->bytes;
    }
  }
  return json{{"ContainersDeleted", deleted.empty() ? json(nullptr) : deleted},
              {"SpaceReclaimed", reclaimed}};
}

Result<void> ContainerService::stats(const std::string& ref, bool stream, bool one_shot,
                                     const Sink& sink) {
  auto c = BERTH_TRY(impl_->find(ref));
  json prev_cpu = zero_cpu();
  std::string prev_read = kZeroTime;
  auto sample = [&](json& out) -> bool {
    std::lock_guard lk(c->mu);
    pid_t pid = c->st.pid;
    bool running = c->st.status == "running" || c->st.status == "paused";
    out = json{{"name", "/" + c->name}, {"id", c->id}};
    out["read"] = running ? rfc3339_nano(now_ns()) : kZeroTime;
    out["preread"] = prev_read;
    out["num_procs"] = 0;
    out["storage_stats"] = json::object();
    out["blkio_stats"] = blkio_zero();
    out["precpu_stats"] = prev_cpu;
    if (running && pid > 0) {
      out["cpu_stats"] = cpu_stats(pid);
      out["memory_stats"] = memory_stats(pid);
      out["pids_stats"] = pids_stats(pid);
    } else {
      out["cpu_stats"] = zero_cpu();
      out["memory_stats"] = json::object();
      out["pids_stats"] = json::object();
    }
    prev_cpu = out["cpu_stats"];
    prev_read = out["read"];
    return running;
  };
  json s;
  bool running = sample(s);
  if (!stream) {
    if (!one_shot && running) {  // docker fills precpu_stats from a sample a second before
      std::this_thread::sleep_for(std::chrono::seconds(1));
      sample(s);
    }
    sink(s.dump() + "\n");
    return ok();
  }
  for (;;) {
    if (!sink(s.dump() + "\n")) return ok();
    if (!running) return ok();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    running = sample(s);
  }
}

Result<nlohmann::json> ContainerService::disk_usage() {
  std::vector<std::shared_ptr<Ctr>> all;
  {
    std::lock_guard lk(impl_->mu);
    for (auto& [id, c] : impl_->by_id) all.push_back(c);
  }
  json out = json::array();
  for (auto& c : all) {
    std::lock_guard lk(c->mu);
    if (!c->removed) out.push_back(impl_->summary(*c, true));
  }
  return out;
}

}  // namespace berth::engine
