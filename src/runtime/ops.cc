// start, state, kill, delete, list and ps: each reads the recorded state, computes the status
// from the live process, and acts on the init through a pidfd (never a bare, maybe recycled,
// pid).
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
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

namespace berth::runtime {
namespace {

std::string quoted(const std::string& s) { return "\"" + s + "\""; }

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

std::string pid_ns_of(pid_t pid) {
  char path[64], buf[128];
  snprintf(path, sizeof path, "/proc/%d/ns/pid", pid);
  ssize_t n = ::readlink(path, buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

pid_t parent_of(pid_t pid) {
  auto t = read_file("/proc/" + std::to_string(pid) + "/stat", 4096);
  if (!t) return 0;
  size_t p = t->rfind(')');
  if (p == std::string::npos || p + 4 >= t->size()) return 0;
  return static_cast<pid_t>(atoi(t->c_str() + p + 4));
}

std::vector<pid_t> all_pids() {
  std::vector<pid_t> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    char* end;
    long v = strtol(e->d_name, &end, 10);
    if (*end == 0 && v > 0) out.push_back(static_cast<pid_t>(v));
  }
  ::closedir(d);
  return out;
}

// Processes of a container: those in its pid namespace when it has its own, else the init
// and its descendants. (With cgroups, the cgroup will be the source.)
std::vector<pid_t> container_pids(const State& s) {
  std::vector<pid_t> out;
  if (process_start_time(s.pid) != s.pid_start_time) return out;
  std::vector<pid_t> pids = all_pids();
  if (s.own_pid_ns) {
    std::string ns = pid_ns_of(s.pid);
    for (pid_t p : pids)
      if (!ns.empty() && pid_ns_of(p) == ns) out.push_back(p);
    return out;
  }
  out.push_back(s.pid);
  bool grew = true;
  while (grew) {
    grew = false;
    for (pid_t p : pids) {
      if (std::find(out.begin(), out.end(), p) != out.end()) continue;
      pid_t pp = parent_of(p);
      if (std::find(out.begin(), out.end(), pp) != out.end()) {
        out.push_back(p);
        grew = true;
      }
    }
  }
  return out;
}

std::string owner_of(const std::string& dir) {
  struct stat st;
  if (::stat(dir.c_str(), &st) < 0) return "";
  struct passwd pw, *res = nullptr;
  char buf[1024];
  if (getpwuid_r(st.st_uid, &pw, buf, sizeof buf, &res) == 0 && res) return res->pw_name;
  return "#" + std::to_string(st.st_uid);
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

Result<void> start(const Globals& g, const std::string& id) {
  State s = BERTH_TRY(load_state(g.root, id));
  Status st = current_status(g.root, s);
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
  return state_json(s, current_status(g.root, s));
}

Result<void> kill(const Globals& g, const std::string& id, int sig, bool all) {
  State s = BERTH_TRY(load_state(g.root, id));
  Status st = current_status(g.root, s);
  if (st == Status::Stopped || st == Status::Creating)
    return Error::conflict("container not running");
  if (all) {
    for (pid_t p : container_pids(s)) ::kill(p, sig);  // best effort: some may be exiting
    return ok();
  }
  UniqueFd pidfd = open_init_pidfd(s);
  if (!pidfd) return Error::conflict("container not running");
  return signal_pidfd(pidfd.get(), sig);
}

Result<void> remove(const Globals& g, const std::string& id, bool force) {
  State s = BERTH_TRY(load_state(g.root, id));
  Status st = current_status(g.root, s);
  if (st == Status::Running || st == Status::Paused) {
    if (!force)
      return Error::conflict("cannot delete container " + id + " that is not stopped: " +
                             status_name(st));
  }
  if (st != Status::Stopped && st != Status::Creating) {
    UniqueFd pidfd = open_init_pidfd(s);
    if (pidfd) {
      if (!s.own_pid_ns)
        for (pid_t p : container_pids(s)) ::kill(p, SIGKILL);
      (void)signal_pidfd(pidfd.get(), SIGKILL);  // ends its whole pid namespace
      wait_exited(pidfd.get(), 10000);
    }
  }
  return destroy(g, s);
}

Result<void> set_paused(const Globals& g, const std::string& id, bool paused) {
  State s = BERTH_TRY(load_state(g.root, id));
  Status st = current_status(g.root, s);
  if (st == Status::Stopped) return Error::conflict("container not running");
  // The freezer lives in the container's cgroup, which this version does not create yet.
  return Error::unsupported(std::string(paused ? "pause" : "resume") +
                            ": needs the container's cgroup (freezer), not supported yet");
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
    Status st = current_status(g.root, *s);
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
  return container_pids(s);
}

}  // namespace berth::runtime
