// update, and events: resource limits changed on a live container, and its usage (and OOM
// kills) reported as runc's event JSON, which containerd and podman read.
#include <poll.h>
#include <time.h>

#include <nlohmann/json.hpp>

#include "runtime/container.h"
#include "runtime/internal.h"

namespace berth::runtime {
namespace {

using nlohmann::json;

json blkio_entries(const std::vector<cgroup::Stats::BlkioEntry>& es) {
  json a = json::array();
  for (const auto& e : es)
    a.push_back({{"major", e.major}, {"minor", e.minor}, {"op", e.op}, {"value", e.value}});
  return a;
}

json stats_data(const cgroup::Stats& s) {
  json hugetlb = json::object();
  for (const auto& [size, h] : s.hugetlb)
    hugetlb[size] = {{"usage", h.usage}, {"max", h.max}, {"failcnt", h.failcnt}};
  return {
      {"cpu",
       {{"usage",
         {{"total", s.cpu.usage_total_ns},
          {"percpu", s.cpu.per_cpu_ns},
          {"kernel", s.cpu.usage_kernel_ns},
          {"user", s.cpu.usage_user_ns}}},
        {"throttling",
         {{"periods", s.cpu.periods},
          {"throttled_periods", s.cpu.throttled_periods},
          {"throttled_time", s.cpu.throttled_time_ns}}}}},
      {"memory",
       {{"usage",
         {{"limit", s.memory.limit},
          {"usage", s.memory.usage},
          {"max", s.memory.max_usage},
          {"failcnt", s.memory.failcnt}}},
        {"swap", {{"limit", s.memory.swap_limit}, {"usage", s.memory.swap_usage}}},
        {"raw", s.memory.stat}}},
      {"pids", {{"current", s.pids.current}, {"limit", s.pids.limit}}},
      {"blkio",
       {{"ioServiceBytesRecursive", blkio_entries(s.io_service_bytes)},
        {"ioServicedRecursive", blkio_entries(s.io_serviced)}}},
      {"hugetlb", hugetlb},
  };
}

Result<std::unique_ptr<cgroup::Cgroup>> live_cgroup(const Globals& g, const std::string& id) {
  State s = BERTH_TRY(load_state(g.root, id));
  Status st = current_status(g.root, s);
  if (st == Status::Stopped || st == Status::Creating)
    return Error::conflict("container " + id + " is not running");
  return container_cgroup(s);
}

}  // namespace

Result<void> update(const Globals& g, const std::string& id, const oci::Resources& r) {
  auto cg = BERTH_TRY(live_cgroup(g, id));
  return cg->update(without_zero_values(r));
}

Result<std::string> stats_event(const Globals& g, const std::string& id) {
  auto cg = BERTH_TRY(live_cgroup(g, id));
  cgroup::Stats s = BERTH_TRY(cg->stats());
  return json{{"type", "stats"}, {"id", id}, {"data", stats_data(s)}}.dump();
}

Result<void> events(const Globals& g, const std::string& id, int interval_ms,
                    const std::function<void(const std::string&)>& emit) {
  auto cg = BERTH_TRY(live_cgroup(g, id));
  UniqueFd oom = BERTH_TRY(cg->oom_event_fd());
  for (;;) {
    State s = BERTH_TRY(load_state(g.root, id));
    if (current_status(g.root, s) == Status::Stopped) return ok();
    auto st = cg->stats();
    if (st) emit(json{{"type", "stats"}, {"id", id}, {"data", stats_data(*st)}}.dump());
    struct pollfd p = {oom.get(), POLLIN, 0};
    int n = ::poll(&p, oom ? 1 : 0, interval_ms);
    if (n > 0 && (p.revents & POLLIN)) {
      char buf[4096];
      (void)!::read(oom.get(), buf, sizeof buf);  // drain (eventfd counter / inotify events)
      emit(json{{"type", "oom"}, {"id", id}}.dump());
    }
  }
}

}  // namespace berth::runtime
