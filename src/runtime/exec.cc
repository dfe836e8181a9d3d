// exec: a new process in a running container. The parent enters the container's pid
// namespace for its children only; the child joins the rest in one setns(pidfd, ...) call,
// makes itself non-dumpable first (so nothing in the container can open the runtime's image
// through /proc/<pid>/exe while it is still the runtime), then sets up and execs.
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>

#include "runtime/container.h"
#include "runtime/internal.h"
#include "util/strings.h"

namespace berth::runtime {
namespace {

ino_t ns_inode(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

Result<oci::Process> exec_process_spec(const ExecOptions& o, const oci::Spec& spec) {
  oci::Process p;
  if (!o.process_json_path.empty()) {
    std::string text = BERTH_TRY_CTX(read_file(o.process_json_path, 4 << 20), "--process");
    p = BERTH_TRY_CTX(oci::parse_process(text), o.process_json_path);
  } else {
    if (!spec.process) return Error::invalid("container has no process to derive from");
    p = *spec.process;
    p.args = o.args;
    p.terminal = o.tty;
    p.console_size.reset();
    for (const std::string& e : o.env) p.env.push_back(e);
    if (o.cwd) p.cwd = *o.cwd;
    if (o.user) {
      char* end;
      unsigned long uid = strtoul(o.user->c_str(), &end, 10);
      if (end == o.user->c_str() || (*end && *end != ':'))
        return Error::invalid("--user " + quoted(*o.user) + ": must be uid[:gid]");
      p.user.uid = static_cast<uint32_t>(uid);
      if (*end == ':') {
        char* gend;
        unsigned long gid = strtoul(end + 1, &gend, 10);
        if (*gend || gend == end + 1)
          return Error::invalid("--user " + quoted(*o.user) + ": must be uid[:gid]");
        p.user.gid = static_cast<uint32_t>(gid);
      }
    }
    if (!o.additional_gids.empty()) p.user.additional_gids = o.additional_gids;
    if (o.no_new_privs) p.no_new_privileges = true;
    if (!o.caps.empty()) {
      if (!p.capabilities) p.capabilities = oci::Capabilities{};
      for (const std::string& c : o.caps) {
        auto n = oci::capability_number(c);
        if (!n) return Error::invalid("--cap: unknown capability " + quoted(c));
        std::string name(oci::capability_name(*n));
        for (auto* set : {&p.capabilities->bounding, &p.capabilities->effective,
                          &p.capabilities->permitted, &p.capabilities->inheritable})
          set->push_back(name);
      }
    }
  }
  BERTH_TRY_CTX(oci::validate_process(p), "process");
  return p;
}

// The child: join, set up, exec. Reports errors over `sync`.
//
// It starts outside the container's pid namespace, invisible to the container, and joins
// every other namespace first (so its root and cwd are the container's); only then does it
// fork the process that is seen in the container, which goes on while the child exits
// (CVE-2019-5736: nothing in the container ever sees the host's root or cwd through it).
[[noreturn]] void exec_child(int pidfd, int ns_flags, bool join_pid, const oci::Process& p,
                             int last_cap, SyncSocket& sync, int console_socket, int preserve,
                             int stub_fd, const seccomp::Filter* filter,
                             cgroup::Cgroup* self_place) {
  auto step = [&]() -> Result<void> {
    ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    if (self_place) BERTH_TRY_CTX(self_place->add_process(0), "join the container's cgroup");
    if (ns_flags && ::setns(pidfd, ns_flags) < 0) return Error::sys("join container namespaces");
    if (!join_pid) {
      BERTH_TRY(sync.send(SyncType::Joined));
    } else {
      if (::setns(pidfd, CLONE_NEWPID) < 0) return Error::sys("join pid namespace");
      pid_t pid = ::fork();
      if (pid < 0) return Error::sys("fork into the pid namespace");
      if (pid > 0) {
        (void)sync.send(SyncType::Joined, 0, std::to_string(pid));
        _exit(0);
      }
      // No parent-death signal here: the parent is the intermediate, which exits now.
    }
    if (p.terminal) {
      UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
      if (!master) return Error::sys("open /dev/ptmx");
      if (::unlockpt(master.get()) < 0) return Error::sys("unlockpt");
      UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
      if (!slave) return Error::sys("open pty peer");
      if (p.console_size)
        BERTH_TRY(set_console_size(master.get(), p.console_size->height, p.console_size->width));
      if (::setsid() < 0) return Error::sys("setsid");
      if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) return Error::sys("set controlling terminal");
      for (int i = 0; i < 3; i++)
        if (::dup3(slave.get(), i, 0) < 0) return Error::sys("dup pty");
      char name[64] = "";
      ptsname_r(master.get(), name, sizeof name);
      if (console_socket >= 0)
        BERTH_TRY_CTX(send_fd(console_socket, master.get(), name), "console socket");
      else
        BERTH_TRY(sync.send(SyncType::ConsoleMaster, 0, name, master.get()));
    }
    BERTH_TRY(init::enter_cwd(p.cwd));
    BERTH_TRY(init::apply_rlimits(p));
    BERTH_TRY(init::preserve_fds(preserve));
    std::vector<std::string> env = init::process_env(p, {});
    if (filter && !p.no_new_privileges) BERTH_TRY(init::load_seccomp(*filter, sync.fd()));
    BERTH_TRY(init::apply_user_and_caps(p, last_cap));
    std::string path = BERTH_TRY(init::lookup_executable(p, env));
    if (filter && p.no_new_privileges) BERTH_TRY(init::load_seccomp(*filter, sync.fd()));
    ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);  // `exec -d` returns while the process runs
    init::exec_process(path, p, env, sync.fd(), stub_fd);
  };
  auto r = step();
  (void)sync.send(SyncType::Error, r.error().errno_value(), r.error().message());
  _exit(127);
}

}  // namespace

Result<int> exec(const Globals& g, const ExecOptions& o) {
  State s = BERTH_TRY(load_state(g.root, o.id));
  Status st = live_status(g.root, s);
  if (st == Status::Stopped || st == Status::Creating)
    return Error::conflict("cannot exec in a stopped container");
  if (st == Status::Paused && !o.ignore_paused)
    return Error::conflict("cannot exec in a paused container (use --ignore-paused to override)");
  std::string dir = state_dir(g.root, o.id);
  std::string text = BERTH_TRY(read_file(dir + "/" + kConfigFile, 32 << 20));
  oci::Spec spec = BERTH_TRY_CTX(oci::parse_spec(text), "saved config");
  oci::Process p = BERTH_TRY(exec_process_spec(o, spec));
  if (p.terminal && o.detach && o.console_socket.empty())
    return Error::invalid(
        "cannot allocate tty if berth-runtime will detach without setting "
        "console socket");

  UniqueFd pidfd = open_init_pidfd(s);
  if (!pidfd) return Error::conflict("cannot exec in a stopped container");
  std::string self = "/proc/self/ns/", them = "/proc/" + std::to_string(s.pid) + "/ns/";
  int flags = 0;
  bool join_pid = false;
  for (auto t : {oci::NamespaceType::User, oci::NamespaceType::Mount, oci::NamespaceType::Network,
                 oci::NamespaceType::Ipc, oci::NamespaceType::Uts, oci::NamespaceType::Cgroup,
                 oci::NamespaceType::Time, oci::NamespaceType::Pid}) {
    std::string name = oci::proc_name(t);
    ino_t mine = ns_inode(self + name), theirs = ns_inode(them + name);
    if (!theirs || mine == theirs) continue;
    if (t == oci::NamespaceType::Pid)
      join_pid = true;
    else
      flags |= oci::clone_flag(t);
  }
  UniqueFd console;
  if (!o.console_socket.empty()) {
    console.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    struct sockaddr_un sa = {};
    sa.sun_family = AF_UNIX;
    if (o.console_socket.size() >= sizeof sa.sun_path)
      return Error::invalid("console socket path too long");
    memcpy(sa.sun_path, o.console_socket.c_str(), o.console_socket.size() + 1);
    if (!console || ::connect(console.get(), reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
      return Error::sys("connect to console socket " + quoted(o.console_socket));
  }
  int last_cap = 40;
  if (auto t = read_file("/proc/sys/kernel/cap_last_cap", 64)) last_cap = atoi(t->c_str());
  int preserve = o.preserve_fds;
  if (!o.detach) block_forwarded_signals();

  std::optional<seccomp::Filter> filter;
  if (spec.linux && spec.linux->seccomp)
    filter = BERTH_TRY_CTX(
        seccomp::compile_cached(*spec.linux->seccomp, g.root + "/" + kSeccompCacheDir),
        "linux.seccomp");
  // The process joins a container where others already run: exec through the stub.
  UniqueFd stub = BERTH_TRY(make_exec_stub());
  auto [parent_sync, child_sync] = BERTH_TRY(SyncSocket::make_pair());
  // The process will be our grandchild (see exec_child): reap it as its subreaper.
  if (join_pid && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return Error::sys("become child subreaper");
  auto cg = BERTH_TRY(container_cgroup(s));
  // Cloned into the cgroup (v2), or the child moves itself in (v1) before joining anything.
  UniqueFd into = cg->clone_into_fd();
  cgroup::Cgroup* self_place = into ? nullptr : cg.get();
  if (!into) into = cg->partial_clone_into_fd();
  pid_t pid = clone_into(0, into.get());
  if (pid == 0) {
    parent_sync.close();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    exec_child(pidfd.get(), flags, join_pid, p, last_cap, child_sync, console.get(), preserve,
               stub.get(), filter ? &*filter : nullptr, self_place);
  }
  if (pid < 0) return Error::sys("clone");
  ChildProcess child(pid);
  child_sync.close();
  console.reset();

  UniqueFd master;
  for (;;) {
    auto m = parent_sync.recv();
    if (!m) {
      if (m.error().kind() == ErrorKind::NotFound && m.error().errno_value() == 0) break;  // exec'd
      return std::move(m).error();
    }
    if (m->type == SyncType::Joined) {
      if (m->text.empty()) continue;
      pid_t grandchild = static_cast<pid_t>(atoi(m->text.c_str()));
      (void)child.wait();  // the intermediate exits right after sending
      child = ChildProcess(grandchild);
      pid = grandchild;
    } else if (m->type == SyncType::ConsoleMaster)
      master = std::move(m->fd);
    else if (m->type == SyncType::SeccompListener)
      BERTH_TRY(hand_over_listener(pid, m->err, *spec.linux->seccomp,
                                   state_json(s, Status::Running, -1)));
    else if (m->type == SyncType::Error) {
      std::string text = m->text.empty() ? "exec: \"" + p.args[0] + "\"" : m->text;
      return Error::from_errno(m->err, text).wrap("exec " + quoted(o.id));
    }
  }
  if (!o.pid_file.empty())
    BERTH_TRY_CTX(write_file_atomic(o.pid_file, std::to_string(pid), 0644, false),
                  "write pid file");
  if (o.detach) {
    child.release();
    return 0;
  }
  auto status = wait_forwarding(child.release(), master.get());
  if (!status) return std::move(status).error();
  return exit_code_of(*status);
}

}  // namespace berth::runtime
