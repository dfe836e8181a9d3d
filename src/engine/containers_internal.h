// The container service's insides, shared by its .cc files (one per step of the flow):
//   containers.cc          lookup, names, the public methods' entry points, persistence
//   container_create.cc    POST /containers/create: validation, bundle, etc files
//   container_spec.cc      HostConfig -> OCI runtime spec
//   container_lifecycle.cc start, stop, kill, wait, remove, the monitor and restart policies
//   container_inspect.cc   inspect and list JSON
//   container_logs.cc      json-file logs, attach
//   container_exec.cc      exec instances
//   container_ops.cc       pause, top, stats, rename, prune, resize, disk usage
//   recovery.cc            reconnecting to shims at start-up
#pragma once

#include <sys/types.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/containers.h"
#include "engine/engine.h"
#include "engine/events.h"
#include "engine/store.h"
#include "image/images.h"
#include "shim/client.h"
#include "util/fd.h"

namespace berth::engine {

using json = nlohmann::json;

// A field of a JSON object, or `def` when the object, the field or its type is not there
// (request JSON may hold null anywhere; nlohmann's value() throws on it).
template <class T>
T get_or(const json& j, std::string_view key, T def) {
  if (!j.is_object()) return def;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return def;
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    return def;
  }
}
inline std::string get_or(const json& j, std::string_view key, const char* def) {
  return get_or<std::string>(j, key, std::string(def));
}
inline int get_or(const json& j, std::string_view key, int def) { return get_or<int>(j, key, def); }

inline constexpr const char* kZeroTime = "0001-01-01T00:00:00Z";

// docker's State, plus what the engine needs to carry across restarts. Persisted as the
// "state" column.
struct RunState {
  std::string status = "created";  // created running paused restarting removing exited dead
  pid_t pid = 0;
  int exit_code = 0;
  std::string error;
  bool oom_killed = false;
  std::string started_at = kZeroTime, finished_at = kZeroTime;
  int restart_count = 0;
  bool manually_stopped = false;
  bool has_been_started = false;
  bool shim_active = false;  // a shim was launched and not yet shut down
};

// What the container was made from, fixed at create (persisted in the "state" column too).
struct Origin {
  std::string image;     // as the client named it (Config.Image)
  std::string image_id;  // "sha256:<hex>"
  std::string path;      // the command, as inspect shows it
  std::vector<std::string> args;
  std::string runtime;  // runtime name (the Config::runtimes key)
  std::string snapshot_key;
  std::string driver_lower, driver_upper, driver_work;  // GraphDriver.Data
  json networking_config = json::object();
  json mounts = json::array();  // inspect's Mounts
};

struct HeldAttach {
  shim::AttachOptions opts;
  UniqueFd fd;
};

struct ContainerService::Ctr {
  // Fixed at create.
  std::string id;
  int64_t created_ns = 0;
  json config;  // docker's Config, merged with the image's
  Origin origin;
  std::string dir;  // <data_root>/containers/<id>

  // Under mu.
  std::mutex mu;
  std::condition_variable cv;
  std::string name;  // without '/'
  json host_config;
  RunState st;
  uint64_t exit_seq = 0;  // +1 at every exit (and failed start)
  WaitResult last_exit;   // what that exit was (wait answers with it: a restart may follow)
  bool removed = false;
  bool removing = false;        // remove in progress: no restart, no auto-remove
  bool cancel_restart = false;  // a stop/remove/kill during a restart back-off
  // stop or kill turned the restart policy off until the next start (docker's ExitOnNext,
  // which cancels its restart manager). Not persisted: a loaded container starts with it
  // set when it was manually stopped.
  bool exit_on_next = false;
  // `docker restart` is stopping it: that exit neither restarts it nor removes it (AutoRemove),
  // as docker's HasBeenManuallyRestarted. Set under `op`, cleared when it runs again.
  bool manual_restart = false;
  std::vector<HeldAttach> held;  // attach streams waiting for start
  std::vector<std::string> exec_ids;
  std::vector<int> exit_watchers;  // eventfds poked at every exit (logs -f)
  int monitor_fd = -1;             // the monitor's wait connection (shutdown() unblocks it)
  int restart_backoff_ms = 0;      // the restart policy's current back-off

  // Serialises start, stop's signalling, kill, pause, remove and the exit handling.
  std::mutex op;

  bool tty() const { return config.value("Tty", false); }
  bool running_like() const {
    return st.status == "running" || st.status == "paused" || st.status == "restarting";
  }
};

struct ContainerService::Exec {
  std::string id;
  std::string container_id;
  json process_config;  // {tty, entrypoint, arguments, privileged, user}
  std::vector<std::string> cmd, env;
  std::string user, working_dir;
  bool tty = false, privileged = false;
  bool attach_stdin = false, attach_stdout = false, attach_stderr = false;
  std::string detach_keys;
  std::optional<std::pair<unsigned, unsigned>> console_size;
  // Under the service's exec_mu.
  bool running = false, started = false;
  std::optional<int> exit_code;
  pid_t pid = 0;
};

struct ContainerService::Impl {
  const Config& config;
  image::ImageService& images;
  EventBus& events;
  Store& store;

  std::mutex mu;  // the maps below
  std::map<std::string, std::shared_ptr<Ctr>> by_id;
  std::map<std::string, std::string> names;  // name -> id, also names reserved by creates
  std::mutex exec_mu;
  std::map<std::string, std::shared_ptr<Exec>> execs;

  // Background threads (monitors, exec waiters) are detached and counted here.
  std::mutex threads_mu;
  std::condition_variable threads_cv;
  int threads = 0;
  std::atomic<bool> stopping{false};

  Impl(const Config& c, image::ImageService& i, EventBus& e, Store& s)
      : config(c), images(i), events(e), store(s) {}

  // --- containers.cc
  Result<std::shared_ptr<Ctr>> find(const std::string& ref);
  Result<void> reserve_name(const std::string& name, const std::string& id);
  void release_name(const std::string& name, const std::string& id);
  std::string generate_name();
  Result<void> save_state(Ctr& c);  // c.mu held
  std::string shim_dir(const std::string& id) const;
  std::string runtime_root() const;
  Result<std::string> runtime_binary(const std::string& name) const;
  void event(const Ctr& c, const std::string& action,
             std::map<std::string, std::string> extra = {});  // c.mu held
  template <class F>
  void spawn(F&& f);

  // --- container_create.cc
  Result<CreateResult> create(const std::string& name, const json& body);
  Result<std::shared_ptr<Ctr>> load(const ContainerRow& row);

  // --- container_lifecycle.cc
  Result<bool> start(const std::shared_ptr<Ctr>& c);
  Result<void> start_locked(const std::shared_ptr<Ctr>& c);  // c->op held
  Result<bool> stop(const std::shared_ptr<Ctr>& c, std::optional<int> timeout,
                    const std::string& signal);
  Result<void> kill(const std::shared_ptr<Ctr>& c, int signal, bool all);
  // docker restart: stop (as a manual restart), then start.
  Result<void> restart(const std::shared_ptr<Ctr>& c, std::optional<int> timeout,
                       const std::string& signal);
  Result<WaitResult> wait(const std::shared_ptr<Ctr>& c, WaitCondition cond,
                          const std::function<bool()>& cancelled);
  Result<void> remove(const std::shared_ptr<Ctr>& c, bool force);
  // c->op held, not running. early: forget the container before removing its files.
  Result<void> remove_locked(const std::shared_ptr<Ctr>& c, bool early = false);
  void monitor(const std::shared_ptr<Ctr>& c);
  void handle_exit(const std::shared_ptr<Ctr>& c, const shim::ExitInfo& exit);
  // c->op held, c->mu not (it waits for the shim): shut the shim down, remove its state dir.
  void release_shim(Ctr& c);
  void cleanup_orphan(Ctr& c);  // c->mu not held
  // The shim's process, as a pidfd, if the pid file names a live berth-shim of this container.
  UniqueFd shim_pidfd(const Ctr& c) const;
  void start_monitor(const std::shared_ptr<Ctr>& c);

  // --- container_logs.cc
  Result<void> logs(const std::shared_ptr<Ctr>& c, const LogOptions& opts, const Sink& sink,
                    int client_fd);
  Result<void> attach(const std::shared_ptr<Ctr>& c, const AttachRequest& req,
                      const Hijack& hijack);

  // --- container_inspect.cc
  json inspect(Ctr& c, bool size);  // c.mu held
  json summary(Ctr& c, bool size);  // c.mu held: one /containers/json entry
  Result<json> list(const ListOptions& opts);

  // --- container_exec.cc
  Result<std::string> exec_create(const std::shared_ptr<Ctr>& c, const json& body);
  Result<void> exec_start(const std::string& exec_id, bool detach, UniqueFd fd);
  Result<std::shared_ptr<Exec>> find_exec(const std::string& exec_id);
  json exec_json(const Exec& e);
  // A running exec whose exit the waiter has not recorded yet (a client inspecting right after
  // its stream ended): asks the shim, briefly.
  void probe_exec(Exec& e);
  void drop_execs(Ctr& c);

  // --- recovery.cc
  Result<void> recover();
};

// Signal names ("KILL", "SIGKILL", "9") -> number; InvalidArgument "Invalid signal: X".
Result<int> parse_signal(std::string_view s);
// "2024-01-02T03:04:05.123456789Z" for a time in nanoseconds.
std::string rfc3339_nano(int64_t ns);
int64_t now_ns();
int64_t parse_rfc3339(std::string_view s);  // 0 if unparsable
// Docker's HostConfig as inspect shows it: the request's fields over docker's defaults.
json host_config_defaults();
// State / Origin <-> JSON (the "state" column).
json state_to_json(const RunState& st, const Origin& o);
void state_from_json(const json& j, RunState& st, Origin& o);
// The spec changes a HostConfig asks for (container_spec.cc).
struct SpecContext {
  std::string id;
  std::string dir;  // containers/<id>
  std::string data_root;
  bool tty = false;
  std::string runtime;  // the runtime's name in Config::runtimes
  // The daemon's seccomp profile for containers that name none: "" (built-in), "unconfined"
  // or a profile's JSON (Config::seccomp_profile).
  std::string seccomp_profile;
};
// A host directory a container needs (a missing -v source, a named volume's _data), with the
// context its error reads with.
struct HostDir {
  std::string path, context;
};
// dirs_out: the host directories to make; apply_host_config only checks and describes, so that
// a create that fails later leaves nothing on the host (create makes them last).
Result<void> apply_host_config(const json& hc, const json& config, const SpecContext& ctx,
                               oci::Spec& spec, json& mounts_out, std::vector<HostDir>& dirs_out);
// mkdir -p: every missing directory of the absolute `path`, with `mode`; the ones it made are
// appended to `created` (outermost first).
Result<void> mkdir_all(const std::string& path, mode_t mode,
                       std::vector<std::string>* created = nullptr);
// Makes `dirs`, recording what it made in `created` (also on failure).
Result<void> make_host_dirs(const std::vector<HostDir>& dirs, std::vector<std::string>& created);
// Removes what make_host_dirs made (empty directories only), deepest first.
void remove_host_dirs(std::vector<std::string>& created);
// json-file's max-size ("10m", "1.5g", "100k", "1024"): docker's units.FromHumanSize, decimal.
Result<int64_t> parse_log_size(std::string_view s);
// berth-shim takes at most this many rotated log files (--log-max-files).
inline constexpr int kMaxLogFiles = 1000;
// Checks a HostConfig before anything is created (restart policy, resources, runtime, ...).
Result<void> validate_host_config(const json& hc, const Config& engine_config);
// A connection to a container's shim for control requests (not `wait`): a shim that does not
// answer within kShimCallTimeoutMs gives an error instead of holding the caller.
inline constexpr int kShimCallTimeoutMs = 30'000;
Result<shim::Client> connect_shim(const std::string& state_dir);
// Runs `runtime --root <root> args...` to completion (pause, resume, ps, delete).
Result<void> run_runtime(const std::string& runtime, const std::string& root,
                         const std::vector<std::string>& args);
// Finds the init binary for --init (docker-init, tini-static, tini).
Result<std::string> find_init_binary();

template <class F>
void ContainerService::Impl::spawn(F&& f) {
  {
    std::lock_guard lk(threads_mu);
    threads++;
  }
  std::thread([this, f = std::forward<F>(f)]() mutable {
    f();
    std::lock_guard lk(threads_mu);
    threads--;
    threads_cv.notify_all();
  }).detach();
}

}  // namespace berth::engine
