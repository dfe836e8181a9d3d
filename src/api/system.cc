// /_ping, /version, /events.
#include "api/system.h"

#include <poll.h>
#include <sys/utsname.h>

#include <algorithm>

#include "api/json_util.h"
#include "api/routes.h"
#include "engine/engine.h"
#include "engine/events.h"

namespace berth::api {

using nlohmann::json;

namespace {

std::string go_arch(const std::string& machine) {
  if (machine == "x86_64") return "amd64";
  if (machine == "aarch64") return "arm64";
  if (machine == "i686" || machine == "i386") return "386";
  if (machine.starts_with("armv")) return "arm";
  return machine;
}

// __DATE__ ("Jan  2 2024") and __TIME__ as RFC 3339.
std::string build_time() {
  static const char* months = "JanFebMarAprMayJunJulAugSepOctNovDec";
  const char* d = __DATE__;
  int month = static_cast<int>((std::string_view(months).find(std::string_view(d, 3))) / 3 + 1);
  char buf[40];
  snprintf(buf, sizeof buf, "%.4s-%02d-%02dT%sZ", d + 7, month, atoi(d + 4), __TIME__);
  return buf;
}

void ping(Exchange& ex) {
  ex.add_header("Builder-Version", "1");
  ex.add_header("Cache-Control", "no-cache, no-store, must-revalidate");
  ex.add_header("Pragma", "no-cache");
  ex.raw(200, "text/plain; charset=utf-8", ex.request().method == "HEAD" ? "" : "OK");
}

bool client_gone(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  if (poll(&p, 1, 0) <= 0) return false;
  return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
}

const std::vector<std::string_view> kEventFilters = {
    "config", "container", "daemon", "event",  "image",   "label", "network",
    "node",   "plugin",    "scope",  "secret", "service", "type",  "volume"};

void events(Exchange& ex, engine::EventBus& bus) {
  const Request& req = ex.request();
  int64_t now = now_unix_ns();
  std::optional<int64_t> since, until;
  if (auto s = req.q("since"); s && !s->empty()) {
    auto t = parse_timestamp(*s, now);
    if (!t) return ex.error(400, t.error().what());
    since = *t;
  }
  if (auto s = req.q("until"); s && !s->empty()) {
    auto t = parse_timestamp(*s, now);
    if (!t) return ex.error(400, t.error().what());
    until = *t;
  }
  auto filters = parse_filters(req.q("filters").value_or(""));
  if (!filters) return ex.error(filters.error());
  if (auto r = check_filter_keys(*filters, kEventFilters); !r) return ex.error(r.error());
  engine::EventFilter filter{*filters};
  if (since && until && *since > *until)
    return ex.error(400, "`since` time (" + req.q("since").value_or("") +
                             ") cannot be after `until` time (" + req.q("until").value_or("") +
                             ")");

  auto sub = bus.subscribe(since.value_or(-1));
  StreamWriter& w = ex.stream("application/json");
  for (;;) {
    int64_t t = now_unix_ns();
    if (until && t >= *until) {
      // Past `until`: what is already queued (history) still goes out, then the stream ends.
      auto e = sub->next(0);
      if (!e) return;
      if (e->time_nano <= *until && filter.matches(*e) && !w.write(event_json(*e).dump() + "\n"))
        return;
      continue;
    }
    int wait_ms = 500;
    if (until) wait_ms = static_cast<int>(std::clamp<int64_t>((*until - t) / 1'000'000, 1, 500));
    auto e = sub->next(wait_ms);
    if (!e) {
      if (client_gone(w.fd())) return;
      continue;
    }
    if (until && e->time_nano > *until) continue;
    if (filter.matches(*e) && !w.write(event_json(*e).dump() + "\n")) return;
  }
}

}  // namespace

json version_json() {
  struct utsname u;
  uname(&u);
  std::string arch = go_arch(u.machine);
  std::string version = BERTH_VERSION;
#ifdef BERTH_GIT_COMMIT
  std::string commit = BERTH_GIT_COMMIT;
#else
  std::string commit = "unknown";
#endif
  std::string compiler = std::string("gcc ") + __VERSION__;
  json details = {{"ApiVersion", kApiVersion},
                  {"Arch", arch},
                  {"BuildTime", build_time()},
                  {"Experimental", "false"},
                  {"GitCommit", commit},
                  {"GoVersion", compiler},
                  {"KernelVersion", u.release},
                  {"MinAPIVersion", kMinApiVersion},
                  {"Os", "linux"}};
  return json{
      {"Platform", {{"Name", "berth Engine"}}},
      {"Components", json::array({{{"Name", "Engine"}, {"Version", version}, {"Details", details}},
                                  {{"Name", "berth-runtime"},
                                   {"Version", version},
                                   {"Details", {{"GitCommit", commit}}}}})},
      {"Version", version},
      {"ApiVersion", kApiVersion},
      {"MinAPIVersion", kMinApiVersion},
      {"GitCommit", commit},
      {"GoVersion", compiler},
      {"Os", "linux"},
      {"Arch", arch},
      {"KernelVersion", u.release},
      {"BuildTime", build_time()},
  };
}

void add_system_routes(Router& r, engine::EventBus& bus) {
  r.add("GET", "/_ping", ping);
  r.add("HEAD", "/_ping", ping);
  r.add("GET", "/version", [](Exchange& ex) { ex.json(200, version_json()); });
  r.add("GET", "/events", [&bus](Exchange& ex) { events(ex, bus); });
}

void add_system_routes(Router& r, engine::Engine& e) { add_system_routes(r, e.events()); }

}  // namespace berth::api
