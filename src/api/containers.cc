// /containers/* endpoints (and /info, /system/df, which count containers): each handler reads
// the request, calls the ContainerService and maps its errors to docker's status codes.
#include "engine/containers.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "api/json_util.h"
#include "api/routes.h"
#include "engine/engine.h"
#include "image/images.h"
#include "util/log.h"

namespace berth::api {
namespace {

using engine::ContainerService;
using nlohmann::json;

constexpr const char* kMultiplexed = "application/vnd.docker.multiplexed-stream";
constexpr const char* kRaw = "application/vnd.docker.raw-stream";

const std::string& id_of(Exchange& ex) { return ex.request().params.at("id"); }

// True when the peer has hung up (checked while a handler waits on the engine).
bool hung_up(int fd) {
  pollfd p{fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

Result<std::optional<int>> opt_int(const Request& req, const char* key) {
  auto v = BERTH_TRY(req.q_int(key));
  if (!v) return std::optional<int>{};
  return std::optional<int>(static_cast<int>(*v));
}

void create(Exchange& ex, engine::Engine& e) {
  const Request& req = ex.request();
  auto body = req.json_body();
  if (!body) return ex.error(body.error());
  auto r = e.containers().create(req.q("name").value_or(""), *body);
  if (!r) return ex.error(r.error());
  ex.json(201, json{{"Id", r->id}, {"Warnings", r->warnings}});
}

void list(Exchange& ex, engine::Engine& e) {
  const Request& req = ex.request();
  engine::ListOptions o;
  o.all = req.q_bool("all");
  o.size = req.q_bool("size");
  auto limit = req.q_int("limit");
  if (!limit) return ex.error(limit.error());
  if (*limit) o.limit = static_cast<int>(**limit);
  auto f = parse_filters(req.q("filters").value_or(""));
  if (!f) return ex.error(f.error());
  o.filters = *f;
  auto r = e.containers().list(o);
  if (!r) return ex.error(r.error());
  ex.json(200, *r);
}

void inspect(Exchange& ex, engine::Engine& e) {
  auto r = e.containers().inspect(id_of(ex), ex.request().q_bool("size"));
  if (!r) return ex.error(r.error());
  ex.json(200, *r);
}

void start(Exchange& ex, engine::Engine& e) {
  auto r = e.containers().start(id_of(ex));
  if (!r) return ex.error(r.error());
  ex.status(*r ? 204 : 304);
}

void stop(Exchange& ex, engine::Engine& e) {
  auto t = opt_int(ex.request(), "t");
  if (!t) return ex.error(t.error());
  auto r = e.containers().stop(id_of(ex), *t, ex.request().q("signal").value_or(""));
  if (!r) return ex.error(r.error());
  ex.status(*r ? 204 : 304);
}

void restart(Exchange& ex, engine::Engine& e) {
  auto t = opt_int(ex.request(), "t");
  if (!t) return ex.error(t.error());
  auto r = e.containers().restart(id_of(ex), *t, ex.request().q("signal").value_or(""));
  if (!r) return ex.error(r.error());
  ex.status(204);
}

void kill(Exchange& ex, engine::Engine& e) {
  auto r = e.containers().kill(id_of(ex), ex.request().q("signal").value_or(""));
  if (!r) return ex.error(r.error());
  ex.status(204);
}

void wait(Exchange& ex, engine::Engine& e) {
  auto cond = engine::parse_wait_condition(ex.request().q("condition").value_or(""));
  if (!cond) return ex.error(cond.error());
  auto id = e.containers().resolve(id_of(ex));
  if (!id) return ex.error(id.error());
  // docker answers the headers at once and the body at the exit: clients start the container
  // only after the wait is in place.
  StreamWriter& w = ex.stream("application/json");
  int fd = w.fd();
  auto r = e.containers().wait(*id, *cond, [fd] { return hung_up(fd); });
  json body;
  if (!r) {
    body = {{"StatusCode", -1}, {"Error", {{"Message", r.error().what()}}}};
  } else {
    body = {{"StatusCode", r->status_code},
            {"Error", r->error.empty() ? json(nullptr) : json{{"Message", r->error}}}};
  }
  w.write(body.dump() + "\n");
}

void remove(Exchange& ex, engine::Engine& e) {
  const Request& req = ex.request();
  if (req.q_bool("link"))
    return ex.error(400, "Conflict, cannot remove the default link name of the container");
  auto r = e.containers().remove(id_of(ex), req.q_bool("force"), req.q_bool("v"));
  if (!r) return ex.error(r.error());
  ex.status(204);
}

void logs(Exchange& ex, engine::Engine& e) {
  const Request& req = ex.request();
  engine::LogOptions o;
  o.stdout = req.q_bool("stdout");
  o.stderr = req.q_bool("stderr");
  o.follow = req.q_bool("follow");
  o.timestamps = req.q_bool("timestamps");
  int64_t now = now_unix_ns();
  for (auto [key, dst] : {std::pair{"since", &o.since_ns}, std::pair{"until", &o.until_ns}}) {
    auto v = req.q(key);
    if (!v || v->empty() || *v == "0") continue;
    auto t = parse_timestamp(*v, now);
    if (!t) return ex.error(t.error());
    *dst = *t;
  }
  if (auto tail = req.q("tail"); tail && *tail != "all" && !tail->empty()) {
    char* end = nullptr;
    long long n = strtoll(tail->c_str(), &end, 10);
    if (*end == '\0' && n >= 0) o.tail = static_cast<size_t>(n);
  }
  auto tty = e.containers().tty(id_of(ex));
  if (!tty) return ex.error(tty.error());
  if (!o.stdout && !o.stderr)
    return ex.error(400, "Bad parameters: you must choose at least one stream");
  // Errors found before the first byte still get a status; after it, the stream just ends.
  StreamWriter* w = nullptr;
  auto sink = [&](std::string_view data) {
    if (!w) w = &ex.stream(*tty ? kRaw : kMultiplexed);
    return w->write(data);
  };
  if (o.follow) w = &ex.stream(*tty ? kRaw : kMultiplexed);  // hang-ups are watched
  auto r = e.containers().logs(id_of(ex), o, sink, w ? w->fd() : -1);
  if (!r) {
    if (!w) return ex.error(r.error());
    log::debug("logs: " + r.error().what());
    return;
  }
  if (!w) ex.stream(*tty ? kRaw : kMultiplexed);
}

void attach(Exchange& ex, engine::Engine& e) {
  const Request& req = ex.request();
  engine::AttachRequest a;
  a.stdin = req.q_bool("stdin");
  a.stdout = req.q_bool("stdout");
  a.stderr = req.q_bool("stderr");
  a.stream = req.q_bool("stream");
  a.logs = req.q_bool("logs");
  a.detach_keys = req.q("detachKeys").value_or("");
  if (!a.stream && !a.logs)
    return ex.error(400, "Bad parameters: you must choose at least one stream");
  auto tty = e.containers().tty(id_of(ex));
  if (!tty) return ex.error(tty.error());
  bool hijacked = false;
  auto r = e.containers().attach(id_of(ex), a, [&]() -> Result<UniqueFd> {
    auto h = ex.hijack(*tty ? kRaw : kMultiplexed);
    if (!h) return std::move(h).error();
    hijacked = true;
    return std::move(h->fd);
  });
  if (!r && !hijacked) return ex.error(r.error());
  if (!r) log::debug("attach " + id_of(ex) + ": " + r.error().what());
}

void resize(Exchange& ex, engine::Engine& e) {
  const Request& req = ex.request();
  auto hh = req.q_int("h"), ww = req.q_int("w");
  if (!hh) return ex.error(hh.error());
  if (!ww) return ex.error(ww.error());
  auto r = e.containers().resize(id_of(ex), static_cast<unsigned>(hh->value_or(0)),
                                 static_cast<unsigned>(ww->value_or(0)));
  if (!r) return ex.error(r.error());
  ex.status(200);
}

void pause(Exchange& ex, engine::Engine& e) {
  auto r = e.containers().pause(id_of(ex));
  if (!r) return ex.error(r.error());
  ex.status(204);
}

void unpause(Exchange& ex, engine::Engine& e) {
  auto r = e.containers().unpause(id_of(ex));
  if (!r) return ex.error(r.error());
  ex.status(204);
}

void top(Exchange& ex, engine::Engine& e) {
  auto r = e.containers().top(id_of(ex), ex.request().q("ps_args").value_or(""));
  if (!r) return ex.error(r.error());
  ex.json(200, *r);
}

void rename(Exchange& ex, engine::Engine& e) {
  auto r = e.containers().rename(id_of(ex), ex.request().q("name").value_or(""));
  if (!r) return ex.error(r.error());
  ex.status(204);
}

void prune(Exchange& ex, engine::Engine& e) {
  auto f = parse_filters(ex.request().q("filters").value_or(""));
  if (!f) return ex.error(f.error());
  auto r = e.containers().prune(*f);
  if (!r) return ex.error(r.error());
  ex.json(200, *r);
}

void stats(Exchange& ex, engine::Engine& e) {
  const Request& req = ex.request();
  bool stream = req.q_bool("stream", true);
  bool one_shot = req.q_bool("one-shot");
  if (one_shot && stream) return ex.error(400, "cannot have stream=true and one-shot=true");
  auto id = e.containers().resolve(id_of(ex));
  if (!id) return ex.error(id.error());
  StreamWriter& w = ex.stream("application/json");
  auto r =
      e.containers().stats(*id, stream, one_shot, [&](std::string_view d) { return w.write(d); });
  if (!r) log::debug("stats: " + r.error().what());
}

std::string os_release_name() {
  auto text = read_file("/etc/os-release", 1 << 16);
  if (!text) return "Linux";
  size_t p = text->find("PRETTY_NAME=");
  if (p == std::string::npos) return "Linux";
  std::string v = text->substr(p + 12, text->find('\n', p) - p - 12);
  if (v.size() >= 2 && v.front() == '"') v = v.substr(1, v.size() - 2);
  return v;
}

// As dockerd names the daemon's seccomp profile: builtin, unconfined, or where it came from.
std::string seccomp_profile_name(const engine::Config& c) {
  if (c.seccomp_profile.empty() || c.seccomp_profile == "builtin") return "builtin";
  if (c.seccomp_profile == "unconfined") return "unconfined";
  return c.seccomp_profile_path.empty() ? "custom" : c.seccomp_profile_path;
}

void info(Exchange& ex, engine::Engine& e) {
  auto n = e.containers().counts();
  auto imgs = e.images().list();
  struct utsname u {};
  uname(&u);
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  bool v2 = access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
  json runtimes = json::object();
  for (const auto& [name, path] : e.config().runtimes) runtimes[name] = {{"path", path}};
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  auto now = now_unix_ns();
  json j = {
      {"ID", ""},
      {"Containers", n.total},
      {"ContainersRunning", n.running},
      {"ContainersPaused", n.paused},
      {"ContainersStopped", n.stopped},
      {"Images", imgs ? imgs->size() : 0},
      {"Driver", "overlay2"},
      {"DriverStatus", json::array({json::array({"Backing Filesystem", "extfs"}),
                                    json::array({"Supports d_type", "true"})})},
      {"Plugins",
       {{"Volume", {"local"}},
        {"Network", {"host", "none"}},
        {"Authorization", nullptr},
        {"Log", {"json-file"}}}},
      {"MemoryLimit", true},
      {"SwapLimit", v2 || access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0},
      {"CpuCfsPeriod", true},
      {"CpuCfsQuota", true},
      {"CPUShares", true},
      {"CPUSet", true},
      {"PidsLimit", true},
      {"IPv4Forwarding", false},
      {"Debug", false},
      {"NFd", 0},
      {"OomKillDisable", !v2},
      {"NGoroutines", 0},
      {"SystemTime", rfc3339_nano(now)},
      {"LoggingDriver", "json-file"},
      {"CgroupDriver", "cgroupfs"},
      {"CgroupVersion", v2 ? "2" : "1"},
      {"NEventsListener", 0},
      {"KernelVersion", u.release},
      {"OperatingSystem", os_release_name()},
      {"OSVersion", ""},
      {"OSType", "linux"},
      {"Architecture", u.machine},
      {"IndexServerAddress", "https://index.docker.io/v1/"},
      {"RegistryConfig",
       {{"AllowNondistributableArtifactsCIDRs", nullptr},
        {"AllowNondistributableArtifactsHostnames", nullptr},
        {"InsecureRegistryCIDRs", {"127.0.0.0/8"}},
        {"IndexConfigs", json::object()},
        {"Mirrors", nullptr}}},
      {"NCPU", sysconf(_SC_NPROCESSORS_ONLN)},
      {"MemTotal", static_cast<int64_t>(pages) * page},
      {"GenericResources", nullptr},
      {"DockerRootDir", e.config().data_root},
      {"HttpProxy", ""},
      {"HttpsProxy", ""},
      {"NoProxy", ""},
      {"Name", host},
      {"Labels", json::array()},
      {"ExperimentalBuild", false},
      {"ServerVersion", BERTH_VERSION},
      {"Runtimes", runtimes},
      {"DefaultRuntime", e.config().default_runtime},
      {"Swarm",
       {{"NodeID", ""},
        {"NodeAddr", ""},
        {"LocalNodeState", "inactive"},
        {"ControlAvailable", false},
        {"Error", ""},
        {"RemoteManagers", nullptr}}},
      {"LiveRestoreEnabled", true},
      {"Isolation", ""},
      {"InitBinary", "docker-init"},
      {"ContainerdCommit", {{"ID", ""}}},
      {"RuncCommit", {{"ID", ""}}},
      {"InitCommit", {{"ID", ""}}},
      {"SecurityOptions", {"name=seccomp,profile=" + seccomp_profile_name(e.config())}},
      {"CDISpecDirs", json::array()},
      {"Warnings", nullptr}};
  ex.json(200, j);
}

void system_df(Exchange& ex, engine::Engine& e) {
  auto containers = e.containers().disk_usage();
  if (!containers) return ex.error(containers.error());
  json images = json::array();
  int64_t layers = 0;
  if (auto list = e.images().list()) {
    for (const auto& img : *list) {
      std::string id = img.record.config.str();
      int shared = 0;
      for (const auto& c : *containers)
        if (c.value("ImageID", "") == id) shared++;
      uint64_t size = 0;
      for (const auto& l : img.manifest.layers) size += l.size;
      layers += static_cast<int64_t>(size);
      json tags = json::array();
      if (!img.record.name.empty()) tags.push_back(img.record.name);
      images.push_back({{"Id", id},
                        {"ParentId", ""},
                        {"RepoTags", tags},
                        {"RepoDigests", json::array()},
                        {"Created", img.record.created_ns / 1'000'000'000},
                        {"Size", size},
                        {"SharedSize", -1},
                        {"VirtualSize", size},
                        {"Labels", json::object()},
                        {"Containers", shared}});
    }
  }
  ex.json(200, json{{"LayersSize", layers},
                    {"Images", images},
                    {"Containers", *containers},
                    {"Volumes", json::array()},
                    {"BuildCache", json::array()}});
}

}  // namespace

void add_container_routes(Router& r, engine::Engine& e) {
  auto bind = [&e](void (*fn)(Exchange&, engine::Engine&)) {
    return [fn, &e](Exchange& ex) { fn(ex, e); };
  };
  r.add("POST", "/containers/create", bind(create));
  r.add("GET", "/containers/json", bind(list));
  r.add("POST", "/containers/prune", bind(prune));
  r.add("GET", "/containers/{id}/json", bind(inspect));
  r.add("POST", "/containers/{id}/start", bind(start));
  r.add("POST", "/containers/{id}/stop", bind(stop));
  r.add("POST", "/containers/{id}/restart", bind(restart));
  r.add("POST", "/containers/{id}/kill", bind(kill));
  r.add("POST", "/containers/{id}/wait", bind(wait));
  r.add("DELETE", "/containers/{id}", bind(remove));
  r.add("GET", "/containers/{id}/logs", bind(logs));
  r.add("POST", "/containers/{id}/attach", bind(attach));
  r.add("POST", "/containers/{id}/resize", bind(resize));
  r.add("POST", "/containers/{id}/pause", bind(pause));
  r.add("POST", "/containers/{id}/unpause", bind(unpause));
  r.add("GET", "/containers/{id}/top", bind(top));
  r.add("POST", "/containers/{id}/rename", bind(rename));
  r.add("GET", "/containers/{id}/stats", bind(stats));
  r.add("GET", "/info", bind(info));
  r.add("GET", "/system/df", bind(system_df));
}

}  // namespace berth::api
