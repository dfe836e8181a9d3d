// Restart recovery (ARCHITECTURE.md): berth.db says what should exist; the shims say what
// runs. Live shims are monitored again; a dead shim's container gets the exit the shim
// recorded, or an error saying the shim died, and its runtime leftovers are removed.
#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include "engine/containers_internal.h"
#include "sys/remove.h"
#include "util/log.h"

namespace berth::engine {
namespace {

std::vector<std::string> dir_entries(const std::string& path) {
  std::vector<std::string> out;
  DIR* d = opendir(path.c_str());
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  closedir(d);
  return out;
}

}  // namespace

Result<void> ContainerService::Impl::recover() {
  auto rows = BERTH_TRY(store.list());
  std::vector<std::shared_ptr<Ctr>> loaded;
  for (const auto& row : rows) {
    auto c = load(row);
    if (!c) {
      log::error(c.error().what());
      continue;
    }
    std::lock_guard lk(mu);
    by_id[(*c)->id] = *c;
    names[(*c)->name] = (*c)->id;
    loaded.push_back(*c);
  }
  // Directories a create interrupted by a crash left behind (no row in berth.db).
  for (const auto& id : dir_entries(config.data_root + "/containers")) {
    if (by_id.count(id)) continue;
    std::string dir = config.data_root + "/containers/" + id;
    log::warn("removing the leftovers of an unfinished container " + id);
    (void)images.remove_bundle(id, dir + "/bundle");
    (void)sys::remove_tree(dir);
  }
  for (auto& c : loaded) {
    std::string status;
    {
      std::lock_guard lk(c->mu);
      status = c->st.status;
    }
    if (status == "removing") {
      spawn([this, c] {
        std::lock_guard op(c->op);
        (void)remove_locked(c);
      });
      continue;
    }
    // Every shim whose socket is there is asked, whatever the row says: berthd may have died
    // between launching a shim and recording it (a "created" row with a running container
    // behind it), or between starting a restart and recording that.
    const std::string sdir = shim_dir(c->id);
    std::optional<shim::State> live;
    if (access((sdir + "/sock").c_str(), F_OK) == 0)
      if (auto client = connect_shim(sdir); client)
        if (auto st = client->state(); st) live = *st;
    if (live) {
      std::lock_guard lk(c->mu);
      c->st.shim_active = true;
      bool was_running = status == "running" || status == "paused";
      if (live->status == "running" || live->status == "paused") {
        if (!was_running) {  // started by a berthd that died before recording it
          log::warn("container " + c->id + ": running, but recorded as " + status);
          c->st.started_at = rfc3339_nano(now_ns());
          c->st.exit_code = 0;
          c->st.error.clear();
          c->st.has_been_started = true;
        }
        c->st.status = live->status;
        c->st.pid = live->pid;
        (void)save_state(*c);
        start_monitor(c);
        continue;
      }
      if (was_running || (live->status == "stopped" && status == "created")) {
        // It ran and exited while berthd was down (or is about to): the monitor's wait answers
        // at once and the exit is handled as any other (restart policy, AutoRemove).
        if (!was_running) {
          c->st.status = "running";
          c->st.has_been_started = true;
        }
        start_monitor(c);
        continue;
      }
      // Created but never started, or an exit already recorded: the shim is shut down below
      // (or by the restart).
    } else if (status == "running" || status == "paused") {
      spawn([this, c] {
        auto recorded = shim::read_exit(shim_dir(c->id));
        shim::ExitInfo exit;
        if (recorded && *recorded) {
          exit = **recorded;
        } else {
          exit = shim::ExitInfo{.status = 137,
                                .signal = SIGKILL,
                                .exited_at = rfc3339_nano(now_ns()),
                                .reason = "shim exited unexpectedly (killed?)"};
        }
        handle_exit(c, exit);
      });
      continue;
    }
    if (status == "restarting") {
      // berthd died during a restart back-off: start it now (start_locked shuts down a shim
      // left from the interrupted attempt first).
      spawn([this, c] {
        std::lock_guard op(c->op);
        {
          std::lock_guard lk(c->mu);
          if (c->st.status != "restarting") return;
          c->st.restart_count++;
        }
        if (auto r = start_locked(c); !r) {
          std::lock_guard lk(c->mu);
          c->st.status = "exited";
          (void)save_state(*c);
          c->cv.notify_all();
        }
      });
      continue;
    }
    bool shim_active = false;
    {
      std::lock_guard lk(c->mu);
      shim_active = c->st.shim_active;
    }
    if (shim_active) {  // stopped, but its shim was never shut down
      std::lock_guard op(c->op);
      release_shim(*c);
      std::lock_guard lk(c->mu);
      (void)save_state(*c);
    }
  }
  return ok();
}

}  // namespace berth::engine
