// The container service: lookup by reference, names, persistence, and the public entry points
// (each finds the container and hands over to the step's file).
#include <signal.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstring>

#include "engine/containers_internal.h"
#include "engine/exec_internal.h"
#include "util/log.h"
#include "util/signals.h"
#include "util/strings.h"

namespace berth::engine {

// ---- small helpers shared by the service's files ---------------------------------------------

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string rfc3339_nano(int64_t ns) {
  if (ns <= 0) return kZeroTime;
  time_t secs = static_cast<time_t>(ns / 1'000'000'000);
  long frac = static_cast<long>(ns % 1'000'000'000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out(buf, n);
  if (frac) {  // Go's RFC3339Nano: trailing zeros of the fraction dropped
    char f[16];
    snprintf(f, sizeof f, ".%09ld", frac);
    std::string fs = f;
    while (fs.back() == '0') fs.pop_back();
    out += fs;
  }
  return out + "Z";
}

int64_t parse_rfc3339(std::string_view s) {
  struct tm tm {};
  std::string str(s);
  const char* p = strptime(str.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!p) return 0;
  int64_t frac = 0;
  if (*p == '.') {
    p++;
    int digits = 0;
    while (*p >= '0' && *p <= '9') {
      if (digits < 9) {
        frac = frac * 10 + (*p - '0');
        digits++;
      }
      p++;
    }
    for (; digits < 9; digits++) frac *= 10;
  }
  int64_t secs = timegm(&tm);
  if (*p == '+' || *p == '-') {  // an offset: the time is local to it
    int hh = 0, mm = 0;
    if (sscanf(p + 1, "%d:%d", &hh, &mm) == 2) secs -= (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
  }
  return secs * 1'000'000'000 + frac;
}

Result<int> parse_signal(std::string_view s) {
  if (auto n = signal_from_string(s)) return *n;
  return Error::invalid("Invalid signal: " + std::string(s));
}

Result<WaitCondition> parse_wait_condition(std::string_view s) {
  if (s.empty() || s == "not-running") return WaitCondition::NotRunning;
  if (s == "next-exit") return WaitCondition::NextExit;
  if (s == "removed") return WaitCondition::Removed;
  // The value comes from the client: quoted with control bytes escaped and bounded.
  return Error::invalid("invalid condition: " + oci::quote_for_message(s));
}

json state_to_json(const RunState& st, const Origin& o) {
  return json{{"Status", st.status},
              {"Pid", st.pid},
              {"ExitCode", st.exit_code},
              {"Error", st.error},
              {"OOMKilled", st.oom_killed},
              {"StartedAt", st.started_at},
              {"FinishedAt", st.finished_at},
              {"RestartCount", st.restart_count},
              {"ManuallyStopped", st.manually_stopped},
              {"HasBeenStarted", st.has_been_started},
              {"ShimActive", st.shim_active},
              {"Origin",
               {{"Image", o.image},
                {"ImageID", o.image_id},
                {"Path", o.path},
                {"Args", o.args},
                {"Runtime", o.runtime},
                {"SnapshotKey", o.snapshot_key},
                {"LowerDir", o.driver_lower},
                {"UpperDir", o.driver_upper},
                {"WorkDir", o.driver_work},
                {"NetworkingConfig", o.networking_config},
                {"Mounts", o.mounts}}}};
}

void state_from_json(const json& j, RunState& st, Origin& o) {
  st.status = get_or(j, "Status", "created");
  st.pid = get_or(j, "Pid", 0);
  st.exit_code = get_or(j, "ExitCode", 0);
  st.error = get_or(j, "Error", "");
  st.oom_killed = get_or(j, "OOMKilled", false);
  st.started_at = get_or(j, "StartedAt", kZeroTime);
  st.finished_at = get_or(j, "FinishedAt", kZeroTime);
  st.restart_count = get_or(j, "RestartCount", 0);
  st.manually_stopped = get_or(j, "ManuallyStopped", false);
  st.has_been_started = get_or(j, "HasBeenStarted", false);
  st.shim_active = get_or(j, "ShimActive", false);
  const json& g = j.contains("Origin") ? j["Origin"] : json::object();
  o.image = get_or(g, "Image", "");
  o.image_id = get_or(g, "ImageID", "");
  o.path = get_or(g, "Path", "");
  o.args = get_or(g, "Args", std::vector<std::string>{});
  o.runtime = get_or(g, "Runtime", "");
  o.snapshot_key = get_or(g, "SnapshotKey", "");
  o.driver_lower = get_or(g, "LowerDir", "");
  o.driver_upper = get_or(g, "UpperDir", "");
  o.driver_work = get_or(g, "WorkDir", "");
  o.networking_config = get_or(g, "NetworkingConfig", json::object());
  o.mounts = get_or(g, "Mounts", json::array());
}

// ---- Impl: lookup, names, persistence -------------------------------------------------------

Result<std::shared_ptr<ContainerService::Ctr>> ContainerService::Impl::find(
    const std::string& ref) {
  auto not_found = [&] { return Error::not_found("No such container: " + ref); };
  if (ref.empty()) return not_found();
  std::lock_guard lk(mu);
  if (auto it = by_id.find(ref); it != by_id.end()) return it->second;
  std::string name = ref[0] == '/' ? ref.substr(1) : ref;
  if (auto it = names.find(name); it != names.end()) {
    if (auto c = by_id.find(it->second); c != by_id.end()) return c->second;
  }
  // A unique ID prefix.
  std::shared_ptr<Ctr> found;
  for (auto it = by_id.lower_bound(ref); it != by_id.end() && it->first.starts_with(ref); ++it) {
    if (found) return Error::invalid("Multiple IDs found with provided prefix: " + ref);
    found = it->second;
  }
  if (!found) return not_found();
  return found;
}

Result<void> ContainerService::Impl::reserve_name(const std::string& name, const std::string& id) {
  std::lock_guard lk(mu);
  auto [it, inserted] = names.emplace(name, id);
  if (!inserted && it->second != id)
    return Error::conflict("Conflict. The container name \"/" + name +
                           "\" is already in use by container \"" + it->second +
                           "\". You have to remove (or rename) that container to be able to "
                           "reuse that name.");
  return ok();
}

void ContainerService::Impl::release_name(const std::string& name, const std::string& id) {
  std::lock_guard lk(mu);
  auto it = names.find(name);
  if (it != names.end() && it->second == id) names.erase(it);
}

std::string ContainerService::Impl::generate_name() {
  // Two words, as docker names unnamed containers: a mood and a name from the history of
  // computing and science.
  static const char* const kLeft[] = {
      "amazing", "bold",   "brave",  "calm",    "clever",   "cool",    "eager",    "elated",
      "festive", "gentle", "happy",  "jolly",   "keen",     "kind",    "lucid",    "modest",
      "nifty",   "placid", "quirky", "relaxed", "serene",   "sharp",   "silly",    "stoic",
      "sweet",   "tender", "upbeat", "vibrant", "wizardly", "zealous", "youthful", "focused"};
  static const char* const kRight[] = {
      "babbage", "bardeen", "bohr",     "curie",   "darwin",  "dijkstra", "einstein", "euler",
      "fermat",  "feynman", "gauss",    "goodall", "hopper",  "hypatia",  "johnson",  "kepler",
      "knuth",   "lamarr",  "lovelace", "mayer",   "meitner", "newton",   "noether",  "pascal",
      "ritchie", "shannon", "thompson", "turing",  "wilson",  "wozniak",  "yalow",    "zuse"};
  for (int attempt = 0;; attempt++) {
    uint32_t r[2] = {0, 0};
    (void)getrandom(r, sizeof r, 0);
    std::string name =
        std::string(kLeft[r[0] % std::size(kLeft)]) + "_" + kRight[r[1] % std::size(kRight)];
    if (attempt > 8) name += std::to_string(r[0] % 100);
    std::lock_guard lk(mu);
    if (!names.count(name)) return name;
  }
}

Result<void> ContainerService::Impl::save_state(Ctr& c) {
  return store.update_state(c.id, state_to_json(c.st, c.origin).dump());
}

std::string ContainerService::Impl::shim_dir(const std::string& id) const {
  return config.exec_root + "/shims/" + id;
}

std::string ContainerService::Impl::runtime_root() const { return config.exec_root + "/runtime"; }

Result<std::string> ContainerService::Impl::runtime_binary(const std::string& name) const {
  auto it = config.runtimes.find(name.empty() ? config.default_runtime : name);
  if (it == config.runtimes.end())
    return Error::invalid("unknown or invalid runtime name: " + name);
  return it->second;
}

void ContainerService::Impl::event(const Ctr& c, const std::string& action,
                                   std::map<std::string, std::string> extra) {
  Event e;
  e.type = "container";
  e.action = action;
  e.actor_id = c.id;
  if (c.config.contains("Labels") && c.config["Labels"].is_object())
    for (const auto& [k, v] : c.config["Labels"].items())
      if (v.is_string()) e.attributes[k] = v.get<std::string>();
  e.attributes["image"] = c.origin.image;
  e.attributes["name"] = c.name;
  for (auto& [k, v] : extra) e.attributes[k] = std::move(v);
  events.publish(std::move(e));
}

// ---- public entry points ----------------------------------------------------------------------

namespace {

// Request JSON is checked before use, but nothing thrown below may cross into the API layer.
template <class F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    return Error::internal(std::string("internal error: ") + e.what());
  }
}

}  // namespace

ContainerService::ContainerService(const Config& config, image::ImageService& images,
                                   EventBus& events, Store& store)
    : impl_(std::make_unique<Impl>(config, images, events, store)) {}

ContainerService::~ContainerService() { shutdown(); }

Result<void> ContainerService::recover() { return impl_->recover(); }

void ContainerService::shutdown() {
  Impl& m = *impl_;
  m.stopping = true;
  {
    std::lock_guard lk(m.mu);
    for (auto& [id, c] : m.by_id) {
      std::lock_guard clk(c->mu);
      if (c->monitor_fd >= 0) ::shutdown(c->monitor_fd, SHUT_RDWR);
      c->cv.notify_all();
    }
  }
  shut_down_exec_waiters(&m);
  std::unique_lock lk(m.threads_mu);
  m.threads_cv.wait(lk, [&] { return m.threads == 0; });
  forget_exec_waiters(&m);
}

Result<CreateResult> ContainerService::create(const std::string& name, const nlohmann::json& body) {
  return guarded([&] { return impl_->create(name, body); });
}

Result<bool> ContainerService::start(const std::string& ref) {
  return impl_->start(BERTH_TRY(impl_->find(ref)));
}

Result<bool> ContainerService::stop(const std::string& ref, std::optional<int> timeout,
                                    const std::string& signal) {
  return impl_->stop(BERTH_TRY(impl_->find(ref)), timeout, signal);
}

Result<void> ContainerService::restart(const std::string& ref, std::optional<int> timeout,
                                       const std::string& signal) {
  return impl_->restart(BERTH_TRY(impl_->find(ref)), timeout, signal);
}

Result<void> ContainerService::kill(const std::string& ref, const std::string& signal) {
  int sig = SIGKILL;
  if (!signal.empty()) sig = BERTH_TRY(parse_signal(signal));
  auto c = BERTH_TRY(impl_->find(ref));
  auto r = impl_->kill(c, sig, false);
  if (!r) return std::move(r).error().wrap("Cannot kill container: " + ref);
  return ok();
}

Result<WaitResult> ContainerService::wait(const std::string& ref, WaitCondition condition,
                                          const std::function<bool()>& cancelled) {
  return impl_->wait(BERTH_TRY(impl_->find(ref)), condition, cancelled);
}

Result<void> ContainerService::remove(const std::string& ref, bool force, bool /*volumes*/) {
  // Anonymous volumes live in the bundle and go with it.
  return impl_->remove(BERTH_TRY(impl_->find(ref)), force);
}

Result<nlohmann::json> ContainerService::list(const ListOptions& opts) {
  return guarded([&] { return impl_->list(opts); });
}

Result<nlohmann::json> ContainerService::inspect(const std::string& ref, bool size) {
  auto c = BERTH_TRY(impl_->find(ref));
  std::lock_guard lk(c->mu);
  return impl_->inspect(*c, size);
}

Result<std::string> ContainerService::resolve(const std::string& ref) {
  return BERTH_TRY(impl_->find(ref))->id;
}

Result<bool> ContainerService::tty(const std::string& ref) {
  return BERTH_TRY(impl_->find(ref))->tty();
}

Result<void> ContainerService::logs(const std::string& ref, const LogOptions& opts,
                                    const Sink& sink, int client_fd) {
  return impl_->logs(BERTH_TRY(impl_->find(ref)), opts, sink, client_fd);
}

Result<void> ContainerService::attach(const std::string& ref, const AttachRequest& req,
                                      const Hijack& hijack) {
  return impl_->attach(BERTH_TRY(impl_->find(ref)), req, hijack);
}

Result<void> ContainerService::attach(const std::string& ref, const AttachRequest& req,
                                      UniqueFd fd) {
  return attach(ref, req, [&]() -> Result<UniqueFd> { return std::move(fd); });
}

Result<std::string> ContainerService::exec_create(const std::string& ref,
                                                  const nlohmann::json& body) {
  auto c = BERTH_TRY(impl_->find(ref));
  return guarded([&] { return impl_->exec_create(c, body); });
}

Result<void> ContainerService::exec_start(const std::string& exec_id, bool detach, UniqueFd fd) {
  return guarded([&] { return impl_->exec_start(exec_id, detach, std::move(fd)); });
}

Result<nlohmann::json> ContainerService::exec_inspect(const std::string& exec_id) {
  auto e = BERTH_TRY(impl_->find_exec(exec_id));
  impl_->probe_exec(*e);
  std::lock_guard lk(impl_->exec_mu);
  return impl_->exec_json(*e);
}

Result<bool> ContainerService::exec_tty(const std::string& exec_id) {
  return BERTH_TRY(impl_->find_exec(exec_id))->tty;
}

ContainerCounts ContainerService::counts() {
  ContainerCounts n;
  std::vector<std::shared_ptr<Ctr>> all;
  {
    std::lock_guard lk(impl_->mu);
    for (auto& [id, c] : impl_->by_id) all.push_back(c);
  }
  for (auto& c : all) {
    std::lock_guard lk(c->mu);
    n.total++;
    if (c->st.status == "paused")
      n.paused++;
    else if (c->st.status == "running" || c->st.status == "restarting")
      n.running++;
    else
      n.stopped++;
  }
  return n;
}

}  // namespace berth::engine
