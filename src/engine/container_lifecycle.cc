// Container lifecycle: start (launch the shim, hand it the held attach streams, start), stop,
// kill, wait, remove, and the monitor that waits on the shim for the exit and applies the
// restart policy and AutoRemove.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "engine/containers_internal.h"
#include "sys/remove.h"
#include "util/log.h"
#include "util/strings.h"

extern char** environ;

namespace berth::engine {
namespace {

constexpr int kFirstBackoffMs = 100;
constexpr int kMaxBackoffMs = 60'000;
constexpr int64_t kBackoffResetNs = 10'000'000'000;  // ran 10 s: the next back-off starts over
constexpr int kShimExitWaitMs = 5'000;
constexpr int kKillWaitSeconds = 30;

int exit_code_for_create_error(const std::string& msg) {
  if (msg.find("no such file") != std::string::npos || msg.find("not found") != std::string::npos)
    return 127;
  if (msg.find("permission denied") != std::string::npos) return 126;
  return 128;
}

// Waits up to timeout_ms for the process behind `pidfd` to exit.
void wait_pidfd(int pidfd, int timeout_ms) {
  if (pidfd < 0) return;
  pollfd p{pidfd, POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) < 0 && errno == EINTR) {
  }
}

bool pidfd_alive(int pidfd) {
  pollfd p{pidfd, POLLIN, 0};
  return ::poll(&p, 1, 0) == 0;
}

// Whether the NUL-separated command line `cmdline` is berth-shim's for container `id` with state
// dir `state_dir` (launch() runs it as `<shim> --id ID ... --state-dir DIR ...`).
bool is_shim_cmdline(const std::string& cmdline, const std::string& shim_binary,
                     const std::string& id, const std::string& state_dir) {
  std::vector<std::string_view> argv = split(cmdline, '\0');
  if (argv.empty()) return false;
  auto base = [](std::string_view p) { return p.substr(p.rfind('/') + 1); };
  if (base(argv[0]) != base(shim_binary) && base(argv[0]) != "berth-shim") return false;
  bool id_ok = false, dir_ok = false;
  for (size_t i = 1; i + 1 < argv.size(); i++) {
    if (argv[i] == "--id" && argv[i + 1] == id) id_ok = true;
    if (argv[i] == "--state-dir" && argv[i + 1] == state_dir) dir_ok = true;
  }
  return id_ok && dir_ok;
}

pid_t read_pid_file(const std::string& path) {
  auto text = read_file(path, 64);
  if (!text) return 0;
  return static_cast<pid_t>(strtol(text->c_str(), nullptr, 10));
}

}  // namespace

// Runs `runtime --root <root> args...` to completion, output discarded.
Result<void> run_runtime(const std::string& runtime, const std::string& root,
                         const std::vector<std::string>& args) {
  std::vector<std::string> argv = {runtime, "--root", root};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargv;
  for (auto& s : argv) cargv.push_back(s.data());
  cargv.push_back(nullptr);
  int err[2];
  if (pipe2(err, O_CLOEXEC) != 0) return Error::sys("pipe");
  UniqueFd er(err[0]), ew(err[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, ew.get(), 2);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, cargv[0], &fa, nullptr, cargv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return Error::from_errno(rc, "exec " + runtime);
  ChildProcess child(pid);
  ew.reset();
  std::string out = read_all(er.get(), 64 << 10).value_or(std::string());
  int status = BERTH_TRY(child.wait());
  if (exit_code_of(status) != 0) {
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return Error::internal(args.empty() ? out : args[0] + ": " + out);
  }
  return ok();
}

Result<shim::Client> connect_shim(const std::string& state_dir) {
  auto client = BERTH_TRY(shim::Client::connect(state_dir));
  timeval tv{.tv_sec = kShimCallTimeoutMs / 1000, .tv_usec = (kShimCallTimeoutMs % 1000) * 1000};
  if (::setsockopt(client.fd(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0 ||
      ::setsockopt(client.fd(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) != 0)
    return Error::sys("set a timeout on the shim's connection");
  return client;
}

// ---- start ----------------------------------------------------------------------------------

Result<bool> ContainerService::Impl::start(const std::shared_ptr<Ctr>& c) {
  std::lock_guard op(c->op);
  {
    std::lock_guard lk(c->mu);
    if (c->removed || c->st.status == "removing")
      return Error::not_found("No such container: " + c->id);
    if (c->st.status == "paused")
      return Error::conflict("cannot start a paused container, try unpause instead");
    if (c->st.status == "running" || c->st.status == "restarting") return false;
    if (c->st.status == "dead") return Error::conflict("cannot start a dead container: " + c->id);
    c->st.manually_stopped = false;
    c->exit_on_next = false;
  }
  auto r = start_locked(c);
  if (!r) {
    // As docker: waiters for the next exit are answered (with the error's exit code), and an
    // AutoRemove container goes away (`docker run --rm` waits for that).
    bool auto_remove = false;
    {
      std::lock_guard lk(c->mu);
      c->exit_seq++;
      c->last_exit = WaitResult{.status_code = c->st.exit_code, .error = c->st.error};
      c->cv.notify_all();
      auto_remove = get_or(c->host_config, "AutoRemove", false);
    }
    if (auto_remove) (void)remove_locked(c);
    return std::move(r).error();
  }
  return true;
}

namespace {

// The shim's log options from the container's LogConfig (checked at create; a row written by an
// older berthd that holds a bad value gets the daemon's defaults for it).
void log_options(const json& log_opts, const Config& config, const std::string& id,
                 shim::LaunchOptions& lo) {
  lo.log_max_size = config.log_max_size;
  lo.log_max_files = std::clamp(config.log_max_files, 1, kMaxLogFiles);
  if (auto it = log_opts.find("max-size"); it != log_opts.end() && it->is_string()) {
    auto size = parse_log_size(it->get<std::string>());
    if (size && *size > 0)
      lo.log_max_size = static_cast<uint64_t>(*size);
    else
      log::warn("container " + id + ": ignoring log opt max-size " + it->dump());
  }
  if (auto it = log_opts.find("max-file"); it != log_opts.end() && it->is_string()) {
    char* end = nullptr;
    const std::string v = it->get<std::string>();
    long n = strtol(v.c_str(), &end, 10);
    if (!v.empty() && *end == '\0' && n >= 1 && n <= kMaxLogFiles)
      lo.log_max_files = static_cast<int>(n);
    else
      log::warn("container " + id + ": ignoring log opt max-file " + it->dump());
  }
}

}  // namespace

Result<void> ContainerService::Impl::start_locked(const std::shared_ptr<Ctr>& c) {
  std::string runtime = BERTH_TRY(runtime_binary(c->origin.runtime));
  const std::string sdir = shim_dir(c->id);
  // A previous run's exit file and socket; a shim a crashed berthd launched but never recorded
  // as running is shut down first (its directory is never removed under it).
  release_shim(*c);
  shim::LaunchOptions lo;
  {
    std::lock_guard lk(c->mu);
    const json& log_cfg = get_or(c->host_config, "LogConfig", json::object());
    if (get_or(log_cfg, "Type", "json-file") != "none")
      lo.log_path = c->dir + "/" + c->id + "-json.log";
    log_options(get_or(log_cfg, "Config", json::object()), config, c->id, lo);
  }
  lo.shim_binary = config.shim_binary;
  lo.id = c->id;
  lo.bundle = c->dir + "/bundle";
  lo.state_dir = sdir;
  lo.runtime = runtime;
  lo.runtime_root = runtime_root();
  lo.tty = c->tty();
  lo.stdin = get_or(c->config, "OpenStdin", false);

  auto launched = shim::launch(lo);
  if (!launched) {
    std::lock_guard lk(c->mu);
    std::string msg = launched.error().what();
    c->st.error = msg;
    c->st.exit_code = exit_code_for_create_error(msg);
    c->held.clear();  // the attached clients get EOF
    (void)save_state(*c);
    (void)sys::remove_tree(sdir);
    return std::move(launched).error();
  }
  {
    // Recorded before the container runs: a berthd that dies from here on finds the shim at
    // recovery instead of a "created" row with an unmanaged container behind it.
    std::lock_guard lk(c->mu);
    c->st.shim_active = true;
    if (auto saved = save_state(*c); !saved)
      log::warn("container " + c->id + ": record its shim: " + saved.error().what());
  }
  auto started = [&]() -> Result<pid_t> {
    auto client = BERTH_TRY(connect_shim(sdir));
    std::vector<HeldAttach> held;
    {
      std::lock_guard lk(c->mu);
      held.swap(c->held);
    }
    for (auto& h : held) {
      auto r = client.attach(h.opts, h.fd.get());
      if (!r) log::warn("container " + c->id + ": attach: " + r.error().what());
    }
    BERTH_TRY(client.start());
    auto st = BERTH_TRY(client.state());
    return st.pid;
  }();
  if (!started) {
    release_shim(*c);
    std::lock_guard lk(c->mu);
    c->st.error = started.error().what();
    c->st.exit_code = 128;
    (void)save_state(*c);
    return std::move(started).error();
  }
  {
    std::lock_guard lk(c->mu);
    c->st.status = "running";
    c->st.pid = *started;
    c->st.started_at = rfc3339_nano(now_ns());
    c->st.exit_code = 0;
    c->st.error.clear();
    c->st.oom_killed = false;
    c->st.has_been_started = true;
    c->cancel_restart = false;
    c->manual_restart = false;
    // The container runs: it must be monitored whatever the store says. The row is written
    // again at its exit.
    if (auto saved = save_state(*c); !saved)
      log::warn("container " + c->id + ": record its start: " + saved.error().what());
    event(*c, "start");
  }
  start_monitor(c);
  return ok();
}

void ContainerService::Impl::start_monitor(const std::shared_ptr<Ctr>& c) {
  spawn([this, c] { monitor(c); });
}

// ---- the monitor: one per running container ------------------------------------------------

void ContainerService::Impl::monitor(const std::shared_ptr<Ctr>& c) {
  const std::string sdir = shim_dir(c->id);
  std::optional<shim::ExitInfo> exit;
  auto client = shim::Client::connect(sdir);  // no timeout: `wait` lasts as long as the container
  if (client) {
    {
      std::lock_guard lk(c->mu);
      c->monitor_fd = client->fd();
    }
    if (stopping) return;
    auto r = client->wait();
    {
      std::lock_guard lk(c->mu);
      c->monitor_fd = -1;
    }
    if (stopping) return;
    if (r) exit = *r;
  }
  if (!exit) {
    // The shim is gone. It may have recorded the exit before dying.
    auto recorded = shim::read_exit(sdir);
    if (recorded && *recorded) {
      exit = **recorded;
    } else {
      exit = shim::ExitInfo{.status = 137,
                            .signal = SIGKILL,
                            .exited_at = rfc3339_nano(now_ns()),
                            .reason = "shim exited unexpectedly (killed?)"};
    }
  }
  handle_exit(c, *exit);
}

void ContainerService::Impl::handle_exit(const std::shared_ptr<Ctr>& c,
                                         const shim::ExitInfo& exit) {
  std::unique_lock op(c->op);
  bool restart = false, auto_remove = false;
  int delay_ms = 0;
  {
    std::lock_guard lk(c->mu);
    if (c->removed || !c->running_like()) return;
    int64_t started = parse_rfc3339(c->st.started_at);
    c->st.status = "exited";
    c->st.pid = 0;
    c->st.exit_code = exit.status;
    c->st.error = exit.reason;
    c->st.oom_killed = exit.reason.find("OOM") != std::string::npos ||
                       exit.reason.find("out of memory") != std::string::npos;
    c->st.finished_at = exit.exited_at.empty() ? rfc3339_nano(now_ns()) : exit.exited_at;

    const json& policy = get_or(c->host_config, "RestartPolicy", json::object());
    std::string name = get_or(policy, "Name", "no");
    int max = get_or(policy, "MaximumRetryCount", 0);
    // As docker: stop and kill cancel the policy until the next start; unless-stopped also
    // stays down once manually stopped; a manual restart's own stop is not an exit to act on.
    if (!c->removing && !c->exit_on_next && !c->manual_restart && !stopping) {
      if (name == "always")
        restart = true;
      else if (name == "unless-stopped")
        restart = !c->st.manually_stopped;
      else if (name == "on-failure")
        restart = exit.status != 0 && (max == 0 || c->st.restart_count < max);
    }
    auto_remove = !restart && !c->removing && !c->manual_restart &&
                  get_or(c->host_config, "AutoRemove", false);
    if (restart) {
      // docker's back-off: 100 ms, doubling, at most a minute; reset after 10 s of running.
      int64_t ran = parse_rfc3339(c->st.finished_at) - started;
      int& backoff = c->restart_backoff_ms;
      if (ran >= kBackoffResetNs || backoff == 0)
        backoff = kFirstBackoffMs;
      else
        backoff = std::min(backoff * 2, kMaxBackoffMs);
      delay_ms = backoff;
      c->st.status = "restarting";
    }
    // Waiters go first (every exit wakes them, a restart or not, as docker's); the shim is
    // shut down after (every later lifecycle step waits for `op`, so none sees it
    // half-released).
    c->exit_seq++;
    c->last_exit = WaitResult{.status_code = exit.status, .error = exit.reason};
    (void)save_state(*c);
    event(*c, "die", {{"exitCode", std::to_string(exit.status)}});
    c->cv.notify_all();
  }
  release_shim(*c);  // without c->mu: list and inspect do not wait for the shim
  {
    std::lock_guard lk(c->mu);
    if (!auto_remove) (void)save_state(*c);
    for (int fd : c->exit_watchers) {  // log followers: the log is complete now
      uint64_t one = 1;
      (void)!::write(fd, &one, sizeof one);
    }
  }
  if (restart) {
    op.unlock();
    {
      std::unique_lock lk(c->mu);
      c->cv.wait_for(lk, std::chrono::milliseconds(delay_ms),
                     [&] { return c->cancel_restart || c->removed || c->removing || stopping; });
      if (c->cancel_restart || c->removed || c->removing || stopping) {
        if (c->st.status == "restarting") c->st.status = "exited";
        (void)save_state(*c);
        c->cv.notify_all();
        return;
      }
    }
    op.lock();
    {
      std::lock_guard lk(c->mu);
      if (c->st.status != "restarting") return;  // stopped or removed meanwhile
      c->st.restart_count++;
    }
    auto r = start_locked(c);
    if (!r) {
      std::lock_guard lk(c->mu);
      c->st.status = "exited";
      (void)save_state(*c);
      c->cv.notify_all();
      log::warn("container " + c->id + ": restart: " + r.error().what());
    }
    return;
  }
  if (auto_remove) {
    auto r = remove_locked(c, true);
    if (!r) log::warn("container " + c->id + ": auto-remove: " + r.error().what());
  }
}

UniqueFd ContainerService::Impl::shim_pidfd(const Ctr& c) const {
  const std::string sdir = shim_dir(c.id);
  pid_t pid = read_pid_file(sdir + "/pid");
  if (pid <= 0) return {};
  UniqueFd pidfd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return {};  // gone
  // The pid may have been reused since the shim died: only a process that is still this
  // container's shim counts. Read after pidfd_open and checked alive after the read, the
  // command line is the pidfd's process's (a pid is not reused while its process lives).
  auto cmdline = read_file("/proc/" + std::to_string(pid) + "/cmdline", 1 << 16);
  if (!cmdline || !is_shim_cmdline(*cmdline, config.shim_binary, c.id, sdir) ||
      !pidfd_alive(pidfd.get()))
    return {};
  return pidfd;
}

// c->op held, c->mu not: the container is stopped; shut its shim down.
void ContainerService::Impl::release_shim(Ctr& c) {
  const std::string sdir = shim_dir(c.id);
  bool active = false;
  {
    std::lock_guard lk(c.mu);
    active = c.st.shim_active;
  }
  if (active) {
    UniqueFd pidfd = shim_pidfd(c);
    auto client = connect_shim(sdir);
    bool done = false;
    if (client) {
      auto r = client->shutdown();
      done = r.has_value();
      if (!r) log::warn("container " + c.id + ": shim shutdown: " + r.error().what());
    }
    if (done)
      wait_pidfd(pidfd.get(), kShimExitWaitMs);
    else
      cleanup_orphan(c);
    std::lock_guard lk(c.mu);
    c.st.shim_active = false;
  }
  (void)sys::remove_tree(sdir);
}

// The shim died or does not answer: remove what it would have (the runtime's container and its
// cgroup).
void ContainerService::Impl::cleanup_orphan(Ctr& c) {
  auto runtime = runtime_binary(c.origin.runtime);
  if (!runtime) return;
  if (UniqueFd pidfd = shim_pidfd(c); pidfd) {
    // Alive but not answering: it must not outlive its container.
    if (::syscall(SYS_pidfd_send_signal, pidfd.get(), SIGKILL, nullptr, 0) == 0)
      wait_pidfd(pidfd.get(), kShimExitWaitMs);
  }
  (void)run_runtime(*runtime, runtime_root(), {"kill", c.id, "KILL"});
  auto r = run_runtime(*runtime, runtime_root(), {"delete", "--force", c.id});
  if (!r && r.error().message().find("does not exist") == std::string::npos &&
      r.error().message().find("not exist") == std::string::npos)
    log::warn("container " + c.id + ": runtime delete: " + r.error().what());
}

// ---- stop, kill, restart, wait ---------------------------------------------------------------

Result<void> ContainerService::Impl::kill(const std::shared_ptr<Ctr>& c, int signal, bool all) {
  std::unique_lock op(c->op);
  uint64_t seq = 0;
  bool unpause = false;
  {
    std::lock_guard lk(c->mu);
    // As docker's kill: SIGKILL, the container's stop signal, or any signal when it has none,
    // also turns the restart policy off until the next start; every kill counts as a manual
    // stop (unless-stopped stays down).
    std::string stop_name = get_or(c->config, "StopSignal", "");
    auto stop_sig = stop_name.empty() ? std::optional<int>() : parse_signal(stop_name).value_or(0);
    bool ends_policy = signal == SIGKILL || !stop_sig || *stop_sig == signal;
    if (c->st.status == "restarting") {
      // Nothing runs to signal: the pending restart is what the kill ends.
      if (!stopping) c->st.manually_stopped = true;
      if (ends_policy) {
        c->exit_on_next = true;
        c->cancel_restart = true;
        c->st.status = "exited";
      }
      (void)save_state(*c);
      c->cv.notify_all();
      return ok();
    }
    if (c->st.status != "running" && c->st.status != "paused")
      return Error::conflict("container " + c->id + " is not running");
    if (ends_policy) c->exit_on_next = true;
    if (!stopping) c->st.manually_stopped = true;
    if (auto saved = save_state(*c); !saved)
      log::warn("container " + c->id + ": kill: " + saved.error().what());
    seq = c->exit_seq;
    unpause = ends_policy && c->st.status == "paused";
  }
  auto client = BERTH_TRY(connect_shim(shim_dir(c->id)));
  // The shim's Conflict: the process has exited and its exit is on its way to handle_exit
  // (waiting for `op`). As docker's, the kill still counts: the policy stays off.
  if (auto k = client.kill(signal, all); !k && k.error().kind() != ErrorKind::Conflict)
    return std::move(k).error();
  if (unpause) {
    // A frozen process acts on no signal; docker thaws it for the one that ends it.
    if (auto runtime = runtime_binary(c->origin.runtime); runtime)
      if (auto r = run_runtime(*runtime, runtime_root(), {"resume", c->id}); !r)
        log::warn("container " + c->id + ": kill: " + r.error().what());
  }
  std::unique_lock lk(c->mu);
  event(*c, "kill", {{"signal", std::to_string(signal)}});
  if (signal != SIGKILL) return ok();
  // docker kill (SIGKILL) returns once the container has stopped.
  lk.unlock();
  op.unlock();
  lk.lock();
  c->cv.wait_for(lk, std::chrono::seconds(kKillWaitSeconds),
                 [&] { return c->exit_seq != seq || c->removed || stopping; });
  return ok();
}

Result<bool> ContainerService::Impl::stop(const std::shared_ptr<Ctr>& c, std::optional<int> timeout,
                                          const std::string& signal) {
  int sig = SIGTERM;
  std::string name = signal.empty() ? get_or(c->config, "StopSignal", "") : signal;
  if (!name.empty()) sig = BERTH_TRY(parse_signal(name));
  int secs = timeout ? *timeout : get_or(c->config, "StopTimeout", 10);
  uint64_t seq = 0;
  bool paused = false;
  {
    std::lock_guard op(c->op);
    {
      std::lock_guard lk(c->mu);
      if (c->st.status == "restarting") {
        c->st.manually_stopped = true;
        c->exit_on_next = true;
        c->cancel_restart = true;
        c->st.status = "exited";
        (void)save_state(*c);
        c->cv.notify_all();
        return true;
      }
      if (c->st.status != "running" && c->st.status != "paused") return false;
      c->st.manually_stopped = true;
      c->exit_on_next = true;
      (void)save_state(*c);
      seq = c->exit_seq;
      paused = c->st.status == "paused";
    }
    auto client = BERTH_TRY(connect_shim(shim_dir(c->id)));
    auto k = client.kill(sig, false);
    if (!k) log::warn("container " + c->id + ": stop: " + k.error().what());
    {
      std::lock_guard lk(c->mu);
      event(*c, "kill", {{"signal", std::to_string(sig)}});
    }
    if (paused) {
      // A frozen process cannot act on the signal.
      auto runtime = runtime_binary(c->origin.runtime);
      if (runtime) (void)run_runtime(*runtime, runtime_root(), {"resume", c->id});
    }
  }
  auto exited = [&] { return c->exit_seq != seq || c->removed; };
  std::unique_lock lk(c->mu);
  bool done = secs < 0 ? (c->cv.wait(lk, exited), true)
                       : c->cv.wait_for(lk, std::chrono::seconds(secs), exited);
  if (!done) {
    lk.unlock();
    {
      std::lock_guard op(c->op);
      auto client = connect_shim(shim_dir(c->id));
      if (client) (void)client->kill(SIGKILL, true);
      std::lock_guard l2(c->mu);
      event(*c, "kill", {{"signal", std::to_string(SIGKILL)}});
    }
    lk.lock();
    if (!c->cv.wait_for(lk, std::chrono::seconds(kKillWaitSeconds), exited))
      return Error(ErrorKind::Timeout, 0,
                   "container " + c->id + " did not exit within " +
                       std::to_string(kKillWaitSeconds) + " seconds of SIGKILL");
  }
  event(*c, "stop");
  return true;
}

Result<void> ContainerService::Impl::restart(const std::shared_ptr<Ctr>& c,
                                             std::optional<int> timeout,
                                             const std::string& signal) {
  {
    std::lock_guard op(c->op);
    std::lock_guard lk(c->mu);
    // The exit this stop causes is the restart's: no AutoRemove, no restart policy (docker's
    // HasBeenManuallyRestarted).
    if (c->running_like()) c->manual_restart = true;
  }
  auto done = [&](Result<void> r) -> Result<void> {
    std::lock_guard lk(c->mu);
    c->manual_restart = false;  // cleared by a start that ran; here also when none did
    if (r) event(*c, "restart");
    return r;
  };
  if (auto stopped = stop(c, timeout, signal); !stopped) return done(std::move(stopped).error());
  {
    std::lock_guard lk(c->mu);
    c->st.manually_stopped = false;
  }
  if (auto started = start(c); !started) return done(std::move(started).error());
  return done(ok());
}

Result<WaitResult> ContainerService::Impl::wait(const std::shared_ptr<Ctr>& c, WaitCondition cond,
                                                const std::function<bool()>& cancelled) {
  std::unique_lock lk(c->mu);
  const uint64_t seq = c->exit_seq;
  auto done = [&] {
    switch (cond) {
      // docker wakes not-running waiters at every exit, also one a restart policy follows
      // (a "restarting" container counts as running when the wait begins).
      case WaitCondition::NotRunning: return !c->running_like() || c->exit_seq != seq || c->removed;
      case WaitCondition::NextExit: return c->exit_seq != seq || c->removed;
      case WaitCondition::Removed: return c->removed;
    }
    return true;
  };
  while (!done()) {
    c->cv.wait_for(lk, std::chrono::milliseconds(500), done);
    if (done()) break;
    if (stopping) return Error(ErrorKind::Unknown, 0, "berthd is shutting down");
    if (cancelled) {
      lk.unlock();
      bool gone = cancelled();
      lk.lock();
      if (gone) return Error(ErrorKind::Unknown, 0, "the client went away");
    }
  }
  // An exit since the wait began answers with that exit's code (the container may already be
  // restarting, its state reset).
  if (cond != WaitCondition::Removed && c->exit_seq != seq) return c->last_exit;
  return WaitResult{.status_code = c->st.exit_code, .error = c->st.error};
}

// ---- remove ---------------------------------------------------------------------------------

Result<void> ContainerService::Impl::remove(const std::shared_ptr<Ctr>& c, bool force) {
  uint64_t seq = 0;
  bool must_wait = false, paused = false;
  {
    std::lock_guard op(c->op);
    {
      std::lock_guard lk(c->mu);
      if (c->removed) return Error::not_found("No such container: " + c->id);
      if (c->st.status == "removing")
        return Error::conflict("removal of container " + c->id + " is already in progress");
      if (c->running_like()) {
        if (!force) {
          if (c->st.status == "paused")
            return Error::conflict("cannot remove container \"/" + c->name +
                                   "\": container is paused and must be unpaused first");
          return Error::conflict("cannot remove container \"/" + c->name +
                                 "\": container is running: stop the container before "
                                 "removing or force remove");
        }
        c->removing = true;
        c->cancel_restart = true;
        if (c->st.status == "restarting") {
          c->st.status = "exited";
        } else {
          must_wait = true;
          seq = c->exit_seq;
          paused = c->st.status == "paused";
        }
        c->cv.notify_all();
      }
    }
    if (!must_wait) return remove_locked(c);
    auto client = connect_shim(shim_dir(c->id));
    if (client) {
      (void)client->kill(SIGKILL, true);
      if (auto runtime = runtime_binary(c->origin.runtime); runtime && paused)
        (void)run_runtime(*runtime, runtime_root(), {"resume", c->id});
    }
    std::lock_guard lk(c->mu);
    event(*c, "kill", {{"signal", std::to_string(SIGKILL)}});
  }
  {
    std::unique_lock lk(c->mu);
    if (!c->cv.wait_for(lk, std::chrono::seconds(kKillWaitSeconds),
                        [&] { return c->exit_seq != seq || c->removed; })) {
      // It stays. Its later exit is handled as any other: the SIGKILL was a kill (no restart
      // policy; AutoRemove still applies), not part of a removal.
      c->removing = false;
      c->cancel_restart = false;
      c->exit_on_next = true;
      c->st.manually_stopped = true;
      (void)save_state(*c);
      return Error(ErrorKind::Timeout, 0,
                   "could not kill container " + c->id + ": it did not exit");
    }
    if (c->removed) return ok();
  }
  std::lock_guard op(c->op);
  return remove_locked(c);
}

Result<void> ContainerService::Impl::remove_locked(const std::shared_ptr<Ctr>& c, bool early) {
  {
    std::lock_guard lk(c->mu);
    if (c->removed) return ok();
    c->st.status = "removing";
  }
  release_shim(*c);
  auto undo = [&](Error e) -> Result<void> {
    std::lock_guard lk(c->mu);
    c->st.status = "dead";
    c->st.error = e.what();
    (void)save_state(*c);
    c->cv.notify_all();
    return std::move(e).wrap("cannot remove container \"/" + c->name + "\"");
  };
  // Unmounting the root syncs the upper file system (tens of ms). An explicit remove does it
  // first, so that an error leaves the container "dead" and listed; AutoRemove forgets the
  // container first and lets its waiters go (a crash in between leaves a directory without a
  // row, which recovery removes).
  auto remove_files = [&]() -> Result<void> {
    BERTH_TRY(images.remove_bundle(c->origin.snapshot_key, c->dir + "/bundle"));
    return sys::remove_tree(c->dir);
  };
  if (!early)
    if (auto r = remove_files(); !r) return undo(std::move(r).error());
  if (auto r = store.remove(c->id); !r) return undo(std::move(r).error());
  drop_execs(*c);
  {
    std::lock_guard lk(mu);
    by_id.erase(c->id);
    auto it = names.find(c->name);
    if (it != names.end() && it->second == c->id) names.erase(it);
  }
  {
    std::lock_guard lk(c->mu);
    c->removed = true;
    c->held.clear();
    for (int fd : c->exit_watchers) {
      uint64_t one = 1;
      (void)!::write(fd, &one, sizeof one);
    }
    event(*c, "destroy");
    c->cv.notify_all();
  }
  if (early)
    if (auto r = remove_files(); !r)
      log::warn("container " + c->id + ": remove its files: " + r.error().what());
  return ok();
}

}  // namespace berth::engine
