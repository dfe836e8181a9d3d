// GET /containers/{id}/json and /containers/json: docker's JSON shapes.
#include <algorithm>
#include <cmath>

#include "engine/containers_internal.h"
#include "util/strings.h"

namespace berth::engine {
namespace {

// go-units' HumanDuration, as `docker ps` shows ages.
std::string human_duration(int64_t ns) {
  double secs = static_cast<double>(ns) / 1e9;
  auto n = [](long v) { return std::to_string(v); };
  if (secs < 1) return "Less than a second";
  if (static_cast<long>(secs) == 1) return "1 second";
  if (secs < 60) return n(static_cast<long>(secs)) + " seconds";
  long minutes = static_cast<long>(secs / 60);
  if (minutes == 1) return "About a minute";
  if (minutes < 60) return n(minutes) + " minutes";
  long hours = static_cast<long>(std::lround(secs / 3600));
  if (hours == 1) return "About an hour";
  if (hours < 48) return n(hours) + " hours";
  if (hours < 24 * 7 * 2) return n(hours / 24) + " days";
  if (hours < 24 * 30 * 2) return n(hours / 24 / 7) + " weeks";
  if (hours < 24 * 365 * 2) return n(hours / 24 / 30) + " months";
  return n(hours / 24 / 365) + " years";
}

json network_entry() {
  return json{{"IPAMConfig", nullptr},    {"Links", nullptr},      {"Aliases", nullptr},
              {"MacAddress", ""},         {"DriverOpts", nullptr}, {"NetworkID", ""},
              {"EndpointID", ""},         {"Gateway", ""},         {"IPAddress", ""},
              {"IPPrefixLen", 0},         {"IPv6Gateway", ""},     {"GlobalIPv6Address", ""},
              {"GlobalIPv6PrefixLen", 0}, {"DNSNames", nullptr}};
}

std::string command_line(const Origin& o) {
  std::string out = o.path;
  for (const auto& a : o.args) out += " " + (a.find(' ') != std::string::npos ? "'" + a + "'" : a);
  return out;
}

std::string status_text(const RunState& st) {
  int64_t now = now_ns();
  if (st.status == "running" || st.status == "paused") {
    std::string s = "Up " + human_duration(now - parse_rfc3339(st.started_at));
    return st.status == "paused" ? s + " (Paused)" : s;
  }
  if (st.status == "restarting")
    return "Restarting (" + std::to_string(st.exit_code) + ") " +
           human_duration(now - parse_rfc3339(st.finished_at)) + " ago";
  if (st.status == "removing") return "Removal In Progress";
  if (st.status == "dead") return "Dead";
  if (st.status == "exited" && st.finished_at != kZeroTime)
    return "Exited (" + std::to_string(st.exit_code) + ") " +
           human_duration(now - parse_rfc3339(st.finished_at)) + " ago";
  return "Created";
}

}  // namespace

json ContainerService::Impl::inspect(Ctr& c, bool size) {
  const RunState& st = c.st;
  const std::string net = get_or(c.host_config, "NetworkMode", "none");
  json state = {
      {"Status", st.status},
      {"Running", st.status == "running" || st.status == "paused" || st.status == "restarting"},
      {"Paused", st.status == "paused"},
      {"Restarting", st.status == "restarting"},
      {"OOMKilled", st.oom_killed},
      {"Dead", st.status == "dead"},
      {"Pid", st.pid},
      {"ExitCode", st.exit_code},
      {"Error", st.error},
      {"StartedAt", st.started_at},
      {"FinishedAt", st.finished_at}};
  std::string log_path = get_or(c.host_config["LogConfig"], "Type", "json-file") == "none"
                             ? ""
                             : c.dir + "/" + c.id + "-json.log";
  json networks = json::object();
  networks[net] = network_entry();
  json net_settings = {
      {"Bridge", ""},
      {"SandboxID", ""},
      {"SandboxKey", st.pid > 0 ? "/proc/" + std::to_string(st.pid) + "/ns/net" : std::string()},
      {"Ports", json::object()},
      {"HairpinMode", false},
      {"LinkLocalIPv6Address", ""},
      {"LinkLocalIPv6PrefixLen", 0},
      {"SecondaryIPAddresses", nullptr},
      {"SecondaryIPv6Addresses", nullptr},
      {"EndpointID", ""},
      {"Gateway", ""},
      {"GlobalIPv6Address", ""},
      {"GlobalIPv6PrefixLen", 0},
      {"IPAddress", ""},
      {"IPPrefixLen", 0},
      {"IPv6Gateway", ""},
      {"MacAddress", ""},
      {"Networks", networks}};
  json j = {{"Id", c.id},
            {"Created", rfc3339_nano(c.created_ns)},
            {"Path", c.origin.path},
            {"Args", c.origin.args},
            {"State", state},
            {"Image", c.origin.image_id},
            {"ResolvConfPath", c.dir + "/resolv.conf"},
            {"HostnamePath", c.dir + "/hostname"},
            {"HostsPath", c.dir + "/hosts"},
            {"LogPath", log_path},
            {"Name", "/" + c.name},
            {"RestartCount", st.restart_count},
            {"Driver", "overlay2"},
            {"Platform", "linux"},
            {"MountLabel", ""},
            {"ProcessLabel", ""},
            {"AppArmorProfile", ""},
            {"ExecIDs", c.exec_ids.empty() ? json(nullptr) : json(c.exec_ids)},
            {"HostConfig", c.host_config},
            {"GraphDriver",
             {{"Data",
               {{"LowerDir", c.origin.driver_lower},
                {"MergedDir", c.dir + "/bundle/rootfs"},
                {"UpperDir", c.origin.driver_upper},
                {"WorkDir", c.origin.driver_work}}},
              {"Name", "overlay2"}}},
            {"Mounts", c.origin.mounts},
            {"Config", c.config},
            {"NetworkSettings", net_settings}};
  if (size) {
    auto u = images.snapshots().usage(c.origin.snapshot_key);
    uint64_t rw = u ? u->bytes : 0;
    j["SizeRw"] = rw;
    j["SizeRootFs"] = rw;
  }
  return j;
}

json ContainerService::Impl::summary(Ctr& c, bool size) {
  json networks = json::object();
  const std::string net = get_or(c.host_config, "NetworkMode", "none");
  networks[net] = network_entry();
  json labels = get_or(c.config, "Labels", json::object());
  if (!labels.is_object()) labels = json::object();
  json mounts = json::array();
  for (const auto& m : c.origin.mounts) {
    json e = {{"Type", get_or(m, "Type", "")},
              {"Source", get_or(m, "Source", "")},
              {"Destination", get_or(m, "Destination", "")},
              {"Mode", get_or(m, "Mode", "")},
              {"RW", get_or(m, "RW", true)},
              {"Propagation", get_or(m, "Propagation", "")}};
    if (m.contains("Name")) {
      e["Name"] = m["Name"];
      e["Driver"] = get_or(m, "Driver", "local");
    }
    mounts.push_back(std::move(e));
  }
  json j = {{"Id", c.id},
            {"Names", {"/" + c.name}},
            {"Image", c.origin.image},
            {"ImageID", c.origin.image_id},
            {"Command", command_line(c.origin)},
            {"Created", c.created_ns / 1'000'000'000},
            {"Ports", json::array()},
            {"Labels", labels},
            {"State", c.st.status},
            {"Status", status_text(c.st)},
            {"HostConfig", {{"NetworkMode", net}}},
            {"NetworkSettings", {{"Networks", networks}}},
            {"Mounts", mounts}};
  if (size) {
    auto u = images.snapshots().usage(c.origin.snapshot_key);
    j["SizeRw"] = u ? u->bytes : 0;
    j["SizeRootFs"] = u ? u->bytes : 0;
  }
  return j;
}

namespace {

bool label_match(const json& labels, const std::string& f) {
  if (!labels.is_object()) return false;
  size_t eq = f.find('=');
  if (eq == std::string::npos) return labels.contains(f);
  auto it = labels.find(f.substr(0, eq));
  return it != labels.end() && it->is_string() && *it == f.substr(eq + 1);
}

const std::vector<std::string> kStatuses = {"created", "restarting", "running", "removing",
                                            "paused",  "exited",     "dead"};
const std::vector<std::string> kFilterKeys = {
    "id",     "name",    "label",  "status",    "exited",  "ancestor", "before", "since",
    "volume", "network", "health", "isolation", "publish", "expose",   "is-task"};

}  // namespace

Result<json> ContainerService::Impl::list(const ListOptions& opts) {
  for (const auto& [key, vals] : opts.filters) {
    if (std::find(kFilterKeys.begin(), kFilterKeys.end(), key) == kFilterKeys.end())
      return Error::invalid("invalid filter '" + key + "'");
    if (key == "status")
      for (const auto& v : vals)
        if (std::find(kStatuses.begin(), kStatuses.end(), v) == kStatuses.end())
          return Error::invalid("invalid filter 'status=" + v + "'");
    if (key == "exited")
      for (const auto& v : vals) {
        char* end = nullptr;
        strtol(v.c_str(), &end, 10);
        if (v.empty() || *end) return Error::invalid("invalid filter 'exited=" + v + "'");
      }
  }
  auto values = [&](const char* key) -> const std::vector<std::string>* {
    auto it = opts.filters.find(key);
    return it == opts.filters.end() || it->second.empty() ? nullptr : &it->second;
  };
  // before / since: created-time bounds from other containers.
  int64_t before_ns = INT64_MAX, since_ns = INT64_MIN;
  for (const char* key : {"before", "since"}) {
    if (const auto* v = values(key)) {
      auto other = BERTH_TRY(find(v->front()));
      (std::string_view(key) == "before" ? before_ns : since_ns) = other->created_ns;
    }
  }
  // ancestor: image IDs the filter names.
  std::vector<std::string> ancestor_ids;
  if (const auto* v = values("ancestor"))
    for (const auto& name : *v)
      if (auto img = images.resolve(name)) ancestor_ids.push_back(img->record.config.str());

  std::vector<std::shared_ptr<Ctr>> all;
  {
    std::lock_guard lk(mu);
    for (auto& [id, c] : by_id) all.push_back(c);
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) {
    return a->created_ns > b->created_ns;  // newest first
  });
  bool show_all = opts.all || opts.limit > 0 || values("status") || values("exited");
  json out = json::array();
  for (auto& cp : all) {
    Ctr& c = *cp;
    std::lock_guard lk(c.mu);
    if (c.removed) continue;
    if (!show_all && !c.running_like()) continue;
    if (c.created_ns >= before_ns || c.created_ns <= since_ns) continue;
    auto any = [](const std::vector<std::string>* v, auto&& pred) {
      return !v || std::any_of(v->begin(), v->end(), pred);
    };
    if (!any(values("id"), [&](const std::string& v) { return c.id.starts_with(v); })) continue;
    if (!any(values("name"), [&](const std::string& v) {
          std::string n = v.starts_with("/") ? v.substr(1) : v;
          return c.name.find(n) != std::string::npos;
        }))
      continue;
    if (const auto* v = values("label")) {
      const json labels = get_or(c.config, "Labels", json::object());
      if (!std::all_of(v->begin(), v->end(),
                       [&](const std::string& f) { return label_match(labels, f); }))
        continue;
    }
    if (!any(values("status"), [&](const std::string& v) { return v == c.st.status; })) continue;
    if (!any(values("exited"), [&](const std::string& v) {
          return c.st.status == "exited" && std::to_string(c.st.exit_code) == v;
        }))
      continue;
    if (values("ancestor") &&
        std::find(ancestor_ids.begin(), ancestor_ids.end(), c.origin.image_id) ==
            ancestor_ids.end() &&
        !any(values("ancestor"), [&](const std::string& v) { return v == c.origin.image; }))
      continue;
    if (!any(values("network"), [&](const std::string& v) {
          return v == get_or(c.host_config, "NetworkMode", "none");
        }))
      continue;
    if (!any(values("volume"), [&](const std::string& v) {
          return std::any_of(c.origin.mounts.begin(), c.origin.mounts.end(), [&](const json& m) {
            return get_or(m, "Name", "") == v || get_or(m, "Source", "") == v ||
                   get_or(m, "Destination", "") == v;
          });
        }))
      continue;
    out.push_back(summary(c, opts.size));
    if (opts.limit > 0 && static_cast<int>(out.size()) >= opts.limit) break;
  }
  return out;
}

}  // namespace berth::engine
