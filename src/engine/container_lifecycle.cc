// Container lifecycle: start (launch the shim, hand it the held attach streams, start), stop,
// kill, wait, remove, and the monitor that waits on the shim for the exit and applies the
// restart policy and AutoRemove.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

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

// "10m", "1g", "512k", "100" -> bytes (docker's RAMInBytes: binary units).
uint64_t parse_size(std::string s) {
  if (s.empty()) return 0;
  uint64_t mult = 1;
  char last = static_cast<char>(tolower(static_cast<unsigned char>(s.back())));
  if (last == 'b') {
    s.pop_back();
    if (s.empty()) return 0;
    last = static_cast<char>(tolower(static_cast<unsigned char>(s.back())));
  }
  if (last == 'k' || last == 'm' || last == 'g' || last == 't') {
    mult = last == 'k'   ? 1ull << 10
           : last == 'm' ? 1ull << 20
           : last == 'g' ? 1ull << 30
                         : 1ull << 40;
    s.pop_back();
  }
  char* end = nullptr;
  double v = strtod(s.c_str(), &end);
  if (end == s.c_str() || v < 0) return 0;
  return static_cast<uint64_t>(v * static_cast<double>(mult));
}

int exit_code_for_create_error(const std::string& msg) {
  if (msg.find("no such file") != std::string::npos || msg.find("not found") != std::string::npos)
    return 127;
  if (msg.find("permission denied") != std::string::npos) return 126;
  return 128;
}

// Waits for a process to go away (not our child: a pidfd tells us).
void wait_gone(pid_t pid, int timeout_ms) {
  if (pid <= 0) return;
  int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) return;  // already gone
  UniqueFd pfd(fd);
  pollfd p{pfd.get(), POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) < 0 && errno == EINTR) {
  }
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
  }
  auto r = start_locked(c);
  if (!r) {
    // As docker: waiters for the next exit are answered (with the error's exit code), and an
    // AutoRemove container goes away (`docker run --rm` waits for that).
    bool auto_remove = false;
    {
      std::lock_guard lk(c->mu);
      c->exit_seq++;
      c->cv.notify_all();
      auto_remove = get_or(c->host_config, "AutoRemove", false);
    }
    if (auto_remove) (void)remove_locked(c);
    return std::move(r).error();
  }
  return true;
}

Result<void> ContainerService::Impl::start_locked(const std::shared_ptr<Ctr>& c) {
  std::string runtime = BERTH_TRY(runtime_binary(c->origin.runtime));
  const std::string sdir = shim_dir(c->id);
  (void)sys::remove_tree(sdir);  // a previous run's exit file and socket
  const json& log_cfg = get_or(c->host_config, "LogConfig", json::object());
  const json& log_opts = get_or(log_cfg, "Config", json::object());
  shim::LaunchOptions lo;
  lo.shim_binary = config.shim_binary;
  lo.id = c->id;
  lo.bundle = c->dir + "/bundle";
  lo.state_dir = sdir;
  lo.runtime = runtime;
  lo.runtime_root = runtime_root();
  lo.tty = c->tty();
  lo.stdin = get_or(c->config, "OpenStdin", false);
  if (get_or(log_cfg, "Type", "json-file") != "none")
    lo.log_path = c->dir + "/" + c->id + "-json.log";
  lo.log_max_size = config.log_max_size;
  lo.log_max_files = config.log_max_files;
  if (log_opts.contains("max-size") && log_opts["max-size"].is_string())
    lo.log_max_size = parse_size(log_opts["max-size"].get<std::string>());
  if (log_opts.contains("max-file") && log_opts["max-file"].is_string())
    lo.log_max_files = std::max(1, atoi(log_opts["max-file"].get<std::string>().c_str()));

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
    std::lock_guard lk(c->mu);
    c->st.shim_active = true;
  }
  auto started = [&]() -> Result<pid_t> {
    auto client = BERTH_TRY(shim::Client::connect(sdir));
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
    std::lock_guard lk(c->mu);
    release_shim(*c);
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
    BERTH_TRY(save_state(*c));
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
  auto client = shim::Client::connect(sdir);
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
    if (!c->removing && !c->st.manually_stopped && !stopping) {
      if (name == "always" || name == "unless-stopped")
        restart = true;
      else if (name == "on-failure")
        restart = exit.status != 0 && (max == 0 || c->st.restart_count < max);
    }
    auto_remove = !restart && !c->removing && get_or(c->host_config, "AutoRemove", false);
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
    // Waiters go first; the shim is shut down after (every later lifecycle step waits for
    // `op`, so none sees it half-released).
    c->exit_seq++;
    (void)save_state(*c);
    event(*c, "die", {{"exitCode", std::to_string(exit.status)}});
    c->cv.notify_all();
  }
  {
    std::lock_guard lk(c->mu);
    release_shim(*c);
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

// c->mu held (and c->op): the container is stopped; shut its shim down.
void ContainerService::Impl::release_shim(Ctr& c) {
  const std::string sdir = shim_dir(c.id);
  if (c.st.shim_active) {
    pid_t shim_pid = read_pid_file(sdir + "/pid");
    auto client = shim::Client::connect(sdir);
    bool done = false;
    if (client) {
      auto r = client->shutdown();
      done = r.has_value();
      if (!r) log::warn("container " + c.id + ": shim shutdown: " + r.error().what());
    }
    if (done)
      wait_gone(shim_pid, kShimExitWaitMs);
    else
      cleanup_orphan(c);
    c.st.shim_active = false;
  }
  (void)sys::remove_tree(sdir);
}

// The shim died: remove what it would have (the runtime's container and its cgroup).
void ContainerService::Impl::cleanup_orphan(Ctr& c) {
  auto runtime = runtime_binary(c.origin.runtime);
  if (!runtime) return;
  pid_t shim_pid = read_pid_file(shim_dir(c.id) + "/pid");
  if (shim_pid > 0 && ::kill(shim_pid, 0) == 0) {
    // Alive but not answering: it must not outlive its container.
    ::kill(shim_pid, SIGKILL);
    wait_gone(shim_pid, kShimExitWaitMs);
  }
  (void)run_runtime(*runtime, runtime_root(), {"kill", c.id, "KILL"});
  auto r = run_runtime(*runtime, runtime_root(), {"delete", "--force", c.id});
  if (!r && r.error().message().find("does not exist") == std::string::npos &&
      r.error().message().find("not exist") == std::string::npos)
    log::warn("container " + c.id + ": runtime delete: " + r.error().what());
}

// ---- stop, kill, wait -----------------------------------------------------------------------

Result<void> ContainerService::Impl::kill(const std::shared_ptr<Ctr>& c, int signal, bool all) {
  std::lock_guard op(c->op);
  {
    std::lock_guard lk(c->mu);
    if (c->st.status != "running" && c->st.status != "paused")
      return Error::conflict("container " + c->id + " is not running");
  }
  auto client = BERTH_TRY(shim::Client::connect(shim_dir(c->id)));
  BERTH_TRY(client.kill(signal, all));
  std::lock_guard lk(c->mu);
  event(*c, "kill", {{"signal", std::to_string(signal)}});
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
        c->cancel_restart = true;
        c->st.status = "exited";
        (void)save_state(*c);
        c->cv.notify_all();
        return true;
      }
      if (c->st.status != "running" && c->st.status != "paused") return false;
      c->st.manually_stopped = true;
      (void)save_state(*c);
      seq = c->exit_seq;
      paused = c->st.status == "paused";
    }
    auto client = BERTH_TRY(shim::Client::connect(shim_dir(c->id)));
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
      auto client = shim::Client::connect(shim_dir(c->id));
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

Result<WaitResult> ContainerService::Impl::wait(const std::shared_ptr<Ctr>& c, WaitCondition cond,
                                                const std::function<bool()>& cancelled) {
  std::unique_lock lk(c->mu);
  const uint64_t seq = c->exit_seq;
  auto done = [&] {
    switch (cond) {
      case WaitCondition::NotRunning: return !c->running_like() || c->removed;
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
  return WaitResult{.status_code = c->st.exit_code, .error = c->st.error};
}

// ---- remove ---------------------------------------------------------------------------------

Result<void> ContainerService::Impl::remove(const std::shared_ptr<Ctr>& c, bool force) {
  uint64_t seq = 0;
  bool must_wait = false;
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
        }
        c->cv.notify_all();
      }
    }
    if (!must_wait) return remove_locked(c);
    auto client = shim::Client::connect(shim_dir(c->id));
    if (client) {
      (void)client->kill(SIGKILL, true);
      if (auto runtime = runtime_binary(c->origin.runtime); runtime) {
        std::lock_guard lk(c->mu);
        if (c->st.status == "paused")
          (void)run_runtime(*runtime, runtime_root(), {"resume", c->id});
      }
    }
    std::lock_guard lk(c->mu);
    event(*c, "kill", {{"signal", std::to_string(SIGKILL)}});
  }
  {
    std::unique_lock lk(c->mu);
    if (!c->cv.wait_for(lk, std::chrono::seconds(kKillWaitSeconds),
                        [&] { return c->exit_seq != seq || c->removed; }))
      return Error(ErrorKind::Timeout, 0,
                   "could not kill container " + c->id + ": it did not exit");
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
    release_shim(*c);
  }
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
