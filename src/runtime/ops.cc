// start, state, kill, delete, list and ps: each reads the recorded state, computes the status
// from the live process, and acts on the init through a pidfd (never a bare, maybe recycled,
// pid).
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "runtime/container.h"
#include "runtime/internal.h"
#include "util/log.h"
#include "util/strings.h"

namespace berth::runtime {
namespace {

Result<UniqueFd> connect_start_socket(const std::string& dir) {
  UniqueFd d(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!d) return Error::sys("open " + dir);
  struct sockaddr_un sa = {};
  sa.sun_family = AF_UNIX;
  snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s", d.get(), kStartSocket);
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::sys("socket");
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
    return Error::sys("connect to container init");
  return s;
}

Result<oci::Spec> load_saved_spec(const std::string& dir) {
  std::string text = BERTH_TRY(read_file(dir + "/" + kConfigFile, 32 << 20));
  return oci::parse_spec(text);
}

// Waits until the pidfd's process has exited (it may stay a zombie of someone else).
void wait_exited(int pidfd, int timeout_ms) {
  struct pollfd p = {pidfd, POLLIN, 0};
  while (::poll(&p, 1, timeout_ms) < 0 && errno == EINTR) {
  }
}

Result<void> signal_pidfd(int pidfd, int sig) {
  if (syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0) < 0) return Error::sys("kill");
  return ok();
}

// The user name of the state dir's owner, from /etc/passwd (no NSS: the binary is static).
std::string owner_of(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) < 0) return "";
  std::string uid = std::to_string(st.st_uid);
  if (auto pw = read_file("/etc/passwd", 4 << 20)) {
    size_t pos = 0;
    while (pos < pw->size()) {
      size_t end = pw->find('\n', pos);
      if (end == std::string::npos) end = pw->size();
      std::string_view line(pw->data() + pos, end - pos);
      size_t c1 = line.find(':'), c2 = line.find(':', c1 + 1), c3 = line.find(':', c2 + 1);
      if (c3 != std::string_view::npos && line.substr(c2 + 1, c3 - c2 - 1) == uid)
        return std::string(line.substr(0, c1));
      pos = end + 1;
    }
  }
  return "#" + uid;
}

Result<void> destroy(const Globals& g, const State& s) {
  std::string dir = state_dir(g.root, s.id);
  auto spec = load_saved_spec(dir);
  if (spec && spec->hooks && !spec->hooks->poststop.empty()) {
    auto r = run_hooks(spec->hooks->poststop, "poststop", state_json(s, Status::Stopped, -1));
    if (!r) log::warn(r.error().what());
  }
  return remove_state_dir(g.root, s.id);
}

}  // namespace

Result<std::unique_ptr<cgroup::Cgroup>> container_cgroup(const State& s) {
  return cgroup::open(s.cgroups_path, s.id);
}

Status live_status(const std::string& root, const State& s) {
  Status st = current_status(root, s);
  if (st != Status::Running && st != Status::Created) return st;
  auto cg = container_cgroup(s);
  if (cg) {
    auto frozen = (*cg)->is_frozen();
    if (frozen && *frozen) return Status::Paused;
  }
  return st;
}

Result<void> start(const Globals& g, const std::string& id) {
  State s = BERTH_TRY(load_state(g.root, id));
  Status st = live_status(g.root, s);
  if (st == Status::Stopped) return Error::conflict("cannot start a container that has stopped");
  if (st != Status::Created)
    return Error::conflict("cannot start a container in the " + std::string(status_name(st)) +
                           " state");
  std::string dir = state_dir(g.root, id);
  UniqueFd conn = BERTH_TRY_CTX(connect_start_socket(dir), "start " + quoted(id));
  BERTH_TRY(write_all(conn.get(), "s"));
  // From here the container counts as running; the init removes nothing on the host.
  ::unlink((dir + "/" + kStartSocket).c_str());
  std::string result = BERTH_TRY(read_all(conn.get(), 65536));
  if (auto r = parse_failure(result); !r) return std::move(r).error().wrap("start " + quoted(id));
  auto spec = load_saved_spec(dir);
  if (spec && spec->hooks && !spec->hooks->poststart.empty()) {
    auto r = run_hooks(spec->hooks->poststart, "poststart", state_json(s, Status::Running, -1));
    if (!r) log::warn(r.error().what());
  }
  return ok();
}

Result<std::string> state(const Globals& g, const std::string& id) {
  State s = BERTH_TRY(load_state(g.root, id));
  s.owner = "";
  return state_json(s, live_status(g.root, s));
}

Result<void> kill(const Globals& g, const std::string& id, int sig, bool all) {
  State s = BERTH_TRY(load_state(g.root, id));
  Status st = current_status(g.root, s);
  if (st == Status::Stopped || st == Status::Creating)
    return Error::conflict("container not running");
  if (all) {
    auto cg = BERTH_TRY(container_cgroup(s));
    return cg->kill_all(sig);
  }
  UniqueFd pidfd = open_init_pidfd(s);
  if (!pidfd) return Error::conflict("container not running");
  return signal_pidfd(pidfd.get(), sig);
}

Result<void> remove(const Globals& g, const std::string& id, bool force) {
  State s = BERTH_TRY(load_state(g.root, id));
  std::string dir = state_dir(g.root, id);
  Status st = live_status(g.root, s);
  if ((st == Status::Running || st == Status::Paused) && !force)
    return Error::conflict("cannot delete container " + id +
                           " that is not stopped: " + status_name(st));
  auto cg = container_cgroup(s);
  if (st != Status::Stopped && st != Status::Creating) {
    UniqueFd pidfd = open_init_pidfd(s);
    if (cg) {
      (void)(*cg)->kill_all(SIGKILL);
      if (st == Status::Paused) (void)(*cg)->set_frozen(false);  // frozen tasks die on thaw
    }
    if (pidfd) {
      (void)signal_pidfd(pidfd.get(), SIGKILL);  // also ends its whole pid namespace
      wait_exited(pidfd.get(), 10000);
    }
  }
  if (cg) {
    auto r = (*cg)->destroy();
    if (!r) log::warn(r.error().what());
  }
  return destroy(g, s);
}

Result<void> set_paused(const Globals& g, const std::string& id, bool paused) {
  State s = BERTH_TRY(load_state(g.root, id));
  Status st = live_status(g.root, s);
  if (paused && st != Status::Running) return Error::conflict("container not running");
  if (!paused && st != Status::Paused) return Error::conflict("container not paused");
  auto cg = BERTH_TRY(container_cgroup(s));
  return cg->set_frozen(paused);
}

Result<std::vector<ContainerSummary>> list(const Globals& g) {
  std::vector<ContainerSummary> out;
  DIR* d = ::opendir(g.root.c_str());
  if (!d) {
    if (errno == ENOENT) return out;
    return Error::sys("open " + g.root);
  }
  std::vector<std::string> ids;
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.' || e->d_type != DT_DIR) continue;
    ids.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(ids.begin(), ids.end());
  for (const std::string& id : ids) {
    auto s = load_state(g.root, id);
    if (!s) continue;
    ContainerSummary c;
    c.id = id;
    Status st = live_status(g.root, *s);
    c.status = status_name(st);
    c.pid = st == Status::Stopped ? 0 : s->pid;
    c.bundle = s->bundle;
    c.created = s->created;
    c.owner = owner_of(state_dir(g.root, id));
    c.annotations = s->annotations;
    out.push_back(std::move(c));
  }
  return out;
}

Result<std::vector<pid_t>> pids(const Globals& g, const std::string& id) {
  State s = BERTH_TRY(load_state(g.root, id));
  if (current_status(g.root, s) == Status::Stopped) return std::vector<pid_t>{};
  auto cg = BERTH_TRY(container_cgroup(s));
  return cg->pids();
}

}  // namespace berth::runtime
