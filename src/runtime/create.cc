// create and run, the parent's side: prepare everything the init needs, clone it into its new
// namespaces, map its ids, run the runtime-side hooks when it asks, and record its state once
// it reports Ready. Any failure on the way kills the init and removes the state dir, so a
// failed create leaves nothing behind.
#include <fcntl.h>
#include <linux/nsfs.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "runtime/cgroup/cgroup.h"
#include "runtime/container.h"
#include "runtime/internal.h"
#include "util/log.h"
#include "util/strings.h"

namespace berth::runtime {
namespace {

std::string now_rfc3339() {
  char buf[40];
  return std::string(log::now_rfc3339(buf));
}

// A unix socket address for `path`; long paths go through /proc/self/fd of their directory.
struct SockAddr {
  struct sockaddr_un sa = {};
  socklen_t len = 0;
  UniqueFd dir;  // keeps the directory open while the address is used
};

Result<SockAddr> unix_address(const std::string& path) {
  SockAddr a;
  a.sa.sun_family = AF_UNIX;
  std::string p = path;
  if (p.size() >= sizeof a.sa.sun_path) {
    size_t slash = p.rfind('/');
    std::string dir = slash == std::string::npos ? "." : p.substr(0, slash);
    a.dir.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!a.dir) return Error::sys("open " + dir);
    p = "/proc/self/fd/" + std::to_string(a.dir.get()) + "/" + p.substr(slash + 1);
    if (p.size() >= sizeof a.sa.sun_path) return Error::invalid("socket path too long: " + path);
  }
  memcpy(a.sa.sun_path, p.c_str(), p.size() + 1);
  a.len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + p.size() + 1);
  return a;
}

Result<UniqueFd> listen_unix(const std::string& path) {
  SockAddr a = BERTH_TRY(unix_address(path));
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!s) return Error::sys("socket");
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a.sa), a.len) < 0)
    return Error::sys("bind " + path);
  if (::listen(s.get(), 4) < 0) return Error::sys("listen " + path);
  return s;
}

Result<UniqueFd> namespace_fd(const oci::Namespace& ns) {
  UniqueFd fd(::open(ns.path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd)
    return Error::sys(std::string(oci::json_name(ns.type)) + " namespace " + quoted(ns.path));
  int type = ::ioctl(fd.get(), NS_GET_NSTYPE);
  if (type < 0 || type != oci::clone_flag(ns.type))
    return Error::invalid(quoted(ns.path) + " is not a " + oci::json_name(ns.type) + " namespace");
  return fd;
}

Result<void> write_id_map(pid_t pid, const char* file, const std::vector<oci::IdMapping>& m) {
  std::string text;
  for (const oci::IdMapping& e : m)
    text += std::to_string(e.container_id) + " " + std::to_string(e.host_id) + " " +
            std::to_string(e.size) + "\n";
  std::string path = "/proc/" + std::to_string(pid) + "/" + file;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd) return Error::sys("open " + path);
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    return Error::sys(std::string("write ") + file);
  return ok();
}

Result<void> write_time_offsets(const oci::Linux& l) {
  std::string text;
  for (const char* clock : {"monotonic", "boottime"}) {
    auto s = l.time_offsets_secs.find(clock);
    auto ns = l.time_offsets_nanosecs.find(clock);
    if (s == l.time_offsets_secs.end() && ns == l.time_offsets_nanosecs.end()) continue;
    text += std::string(clock) + " " +
            std::to_string(s == l.time_offsets_secs.end() ? 0 : s->second) + " " +
            std::to_string(ns == l.time_offsets_nanosecs.end() ? 0 : ns->second) + "\n";
  }
  if (text.empty()) return ok();
  UniqueFd fd(::open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC));
  if (!fd || ::write(fd.get(), text.data(), text.size()) < 0)
    return Error::sys("linux.timeOffsets: write timens_offsets");
  return ok();
}

Result<void> write_id_maps(pid_t pid, const oci::Linux& l) {
  BERTH_TRY_CTX(write_id_map(pid, "uid_map", l.uid_mappings), "linux.uidMappings");
  BERTH_TRY_CTX(write_id_map(pid, "gid_map", l.gid_mappings), "linux.gidMappings");
  return ok();
}

// The device rules the cgroup gets: the config's, then (last match wins) what the runtime
// itself needs, as runc does: mknod of any node, and use of the default devices and ptys.
// Only when the config restricts devices at all.
oci::Resources effective_resources(const oci::Spec& spec) {
  oci::Resources r = without_zero_values(*spec.linux->resources);
  if (r.devices.empty()) return r;
  auto rule = [](const char* type, std::optional<int64_t> major, std::optional<int64_t> minor,
                 const char* access) {
    oci::DeviceCgroupRule d;
    d.allow = true;
    d.type = type;
    d.major = major;
    d.minor = minor;
    d.access = access;
    return d;
  };
  r.devices.push_back(rule("c", std::nullopt, std::nullopt, "m"));
  r.devices.push_back(rule("b", std::nullopt, std::nullopt, "m"));
  static constexpr std::pair<int, int> kDefault[] = {{1, 3}, {1, 5}, {1, 7}, {1, 8},
                                                     {1, 9}, {5, 0}, {5, 1}, {5, 2}};
  for (auto [major, minor] : kDefault) r.devices.push_back(rule("c", major, minor, "rwm"));
  r.devices.push_back(rule("c", 136, std::nullopt, "rwm"));  // /dev/pts/*
  // Nodes in linux.devices are created, not allowed: access is what the rules say (runc).
  return r;
}

}  // namespace

oci::Resources without_zero_values(oci::Resources r) {
  auto unset_zero = [](auto& v) {
    if (v && *v == 0) v.reset();
  };
  if (r.memory) {
    unset_zero(r.memory->limit);
    unset_zero(r.memory->reservation);
    unset_zero(r.memory->swap);
    unset_zero(r.memory->kernel);
    unset_zero(r.memory->kernel_tcp);
  }
  if (r.cpu) {
    unset_zero(r.cpu->shares);
    unset_zero(r.cpu->quota);
    unset_zero(r.cpu->period);
    unset_zero(r.cpu->realtime_period);
    unset_zero(r.cpu->realtime_runtime);
    unset_zero(r.cpu->burst);
  }
  unset_zero(r.pids_limit);
  if (r.block_io) {
    unset_zero(r.block_io->weight);
    unset_zero(r.block_io->leaf_weight);
  }
  return r;
}

namespace {

Result<void> make_dirs(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), mode) == 0 || errno == EEXIST) return ok();
  if (errno != ENOENT) return Error::sys("mkdir");
  size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) return Error::sys("mkdir");
  BERTH_TRY(make_dirs(path.substr(0, slash), 0755));
  if (::mkdir(path.c_str(), mode) < 0 && errno != EEXIST) return Error::sys("mkdir");
  return ok();
}

// NetnsMaker's case: a new network namespace, nothing joined (the init then unshares after
// its joins, in their order), no user namespace (the network namespace must be owned by it,
// so the init makes it inside) and no time namespace (the parent enters that one itself
// around clone, which wants it single-threaded).
bool netns_on_thread(const oci::Spec& spec) {
  if (!spec.linux) return false;
  bool new_net = false;
  for (const oci::Namespace& ns : spec.linux->namespaces) {
    if (!ns.path.empty() || ns.type == oci::NamespaceType::User ||
        ns.type == oci::NamespaceType::Time)
      return false;
    new_net |= ns.type == oci::NamespaceType::Network;
  }
  return new_net;
}

int read_last_cap() {
  auto t = read_file("/proc/sys/kernel/cap_last_cap", 64);
  if (!t) return oci::last_known_capability();
  return atoi(t->c_str());
}

}  // namespace

pid_t clone_into(int flags, int cgroup_fd) {
  struct clone_args args = {};
  args.flags = static_cast<uint64_t>(flags);
  args.exit_signal = SIGCHLD;
  if (cgroup_fd >= 0) {
    args.flags |= CLONE_INTO_CGROUP;
    args.cgroup = static_cast<uint64_t>(cgroup_fd);
  }
  return static_cast<pid_t>(syscall(SYS_clone3, &args, sizeof args));
}

namespace {

// A created container while create/run still drives it.
struct Created {
  std::unique_ptr<cgroup::Cgroup> cgroup;
  ChildProcess init;
  SyncSocket sync;
  UniqueFd master;  // run with a terminal and no console socket
  State state;
  oci::Spec spec;
  std::string dir;
  bool exec_at_ready = false;  // run: the init execs right after Ready (no Start)
};

// Undoes a create unless dismissed: kills the init, removes its cgroup and the state dir.
struct CreateGuard {
  std::string root, id;
  Created& c;
  bool armed = true;
  ~CreateGuard() {
    if (!armed) return;
    c.init.kill_and_reap();
    if (c.cgroup) (void)c.cgroup->destroy();
    (void)remove_state_dir(root, id);
  }
};

Result<void> check_terminal_options(const oci::Process& p, const CreateOptions& o, bool run_mode) {
  bool detached = !run_mode || o.detach;
  if (p.terminal && detached && o.console_socket.empty())
    return Error::invalid(
        "cannot allocate tty if berth-runtime will detach without setting "
        "console socket");
  if (!p.terminal && !o.console_socket.empty())
    return Error::invalid("cannot use console socket if berth-runtime will not allocate tty");
  return ok();
}

Result<pid_t> await_joined(Created& c, const oci::Linux& l);

Result<Created> create_container(const Globals& g, const CreateOptions& o, bool run_mode) {
  BERTH_TRY(validate_id(o.id));
  char bundle_buf[PATH_MAX];
  if (!::realpath(o.bundle.c_str(), bundle_buf)) return Error::sys("bundle " + quoted(o.bundle));
  std::string bundle = bundle_buf;

  Created c;
  std::string spec_text;
  c.spec = BERTH_TRY(load_bundle_spec(bundle + "/config.json", &spec_text));
  const oci::Spec& spec = c.spec;
  // An init that joins an existing pid namespace is seen by the processes already there
  // while it sets up, and one that runs startContainer hooks waits for start as the runtime
  // (not in the stub): either way it must not be the host's runtime binary (CVE-2019-5736).
  const oci::Namespace* pidns =
      spec.linux ? spec.linux->find_namespace(oci::NamespaceType::Pid) : nullptr;
  bool start_hooks = spec.hooks && !spec.hooks->start_container.empty();
  if (!pidns || !pidns->path.empty() || start_hooks) BERTH_TRY(reexec_sealed(nullptr));
  if (::chdir(bundle.c_str()) < 0) return Error::sys("chdir to bundle " + quoted(bundle));
  // From here a thread makes the new network namespace (netns.cc) while this one carries
  // on; without it (not that case, or it could not start) the init unshares it itself.
  // The thread sends it to the init itself, unless the init first waits for Go, which
  // carries the state for in-container hooks (see skip_go below: then the parent sends it
  // after Go, so that it cannot overtake Go).
  bool hooks_in_init = spec.hooks && (!spec.hooks->create_container.empty() || start_hooks);
  auto [parent_sync, child_sync] = BERTH_TRY(SyncSocket::make_pair());
  NetnsMaker netns;
  bool thread_sends = !hooks_in_init;
  if (netns_on_thread(spec)) (void)netns.start(thread_sends ? parent_sync.fd() : -1);
  const oci::Process& proc = *spec.process;
  BERTH_TRY(check_terminal_options(proc, o, run_mode));

  BERTH_TRY_CTX(make_dirs(g.root, 0700), "create state root " + quoted(g.root));
  c.dir = state_dir(g.root, o.id);
  if (::mkdir(c.dir.c_str(), 0700) < 0) {
    if (errno == EEXIST)
      return Error::conflict("container with id \"" + o.id + "\" already exists");
    return Error::sys("create state dir " + quoted(c.dir));
  }
  CreateGuard guard{g.root, o.id, c};

  InitContext ctx;
  ctx.spec = &spec;
  ctx.process = &proc;
  ctx.id = o.id;
  ctx.bundle = bundle;
  ctx.state_dir = c.dir;
  ctx.run_mode = run_mode;
  ctx.no_pivot = o.no_pivot;
  ctx.no_new_keyring = o.no_new_keyring;
  ctx.last_cap = read_last_cap();
  char root_buf[PATH_MAX];
  if (!::realpath(spec.root.path.c_str(), root_buf))
    return Error::sys("root.path " + quoted(spec.root.path));
  ctx.rootfs = root_buf;
  ctx.rootfs_fd.reset(::open(ctx.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!ctx.rootfs_fd) return Error::sys("root.path " + quoted(ctx.rootfs));
  ctx.preserve_fds = o.preserve_fds;
  if (const char* lf = ::getenv("LISTEN_FDS")) {
    int n = atoi(lf);
    if (n > 0) {
      ctx.preserve_fds += n;
      ctx.extra_env = {"LISTEN_FDS=" + std::to_string(n), "LISTEN_PID=1"};
    }
  }
  if (spec.hooks)
    ctx.create_runtime_hooks = !spec.hooks->prestart.empty() || !spec.hooks->create_runtime.empty();

  // The init waits for start in, and execs through, the sealed stub (stub/stub.c): even a
  // program that is a "#!/proc/self/exe" script never runs the runtime binary as the
  // container's process. It costs one execve of a 5 KB image.
  ctx.exec_stub = BERTH_TRY(make_exec_stub());

  if (spec.linux && spec.linux->seccomp)
    ctx.seccomp = BERTH_TRY_CTX(
        seccomp::compile_cached(*spec.linux->seccomp, g.root + "/" + kSeccompCacheDir),
        "linux.seccomp");

  ctx.sync = std::move(child_sync);
  if (!run_mode) ctx.start_listener = BERTH_TRY(listen_unix(c.dir + "/" + kStartSocket));
  if (!o.console_socket.empty()) {
    SockAddr a = BERTH_TRY(unix_address(o.console_socket));
    ctx.console_socket.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!ctx.console_socket ||
        ::connect(ctx.console_socket.get(), reinterpret_cast<sockaddr*>(&a.sa), a.len) < 0)
      return Error::sys("connect to console socket " + quoted(o.console_socket));
  }

  // Namespaces: new ones are clone flags; joined ones are fds. The pid and time namespaces
  // apply to children only, so the parent enters those itself just around clone.
  int clone_flags = 0;
  UniqueFd time_join, own_pid_ns, own_time_ns;
  bool user_joined = false, new_time = false;
  if (spec.linux) {
    for (const oci::Namespace& ns : spec.linux->namespaces) {
      if (ns.path.empty()) {
        if (ns.type == oci::NamespaceType::Time)
          new_time = true;
        else
          clone_flags |= oci::clone_flag(ns.type);
        continue;
      }
      UniqueFd fd = BERTH_TRY_CTX(namespace_fd(ns), "linux.namespaces");
      if (ns.type == oci::NamespaceType::Pid)
        ctx.late_pid_join = std::move(fd);
      else if (ns.type == oci::NamespaceType::Time)
        time_join = std::move(fd);
      else {
        user_joined |= ns.type == oci::NamespaceType::User;
        ctx.join.emplace_back(ns.type, std::move(fd));
      }
    }
  }
  ctx.new_userns = (clone_flags & CLONE_NEWUSER) != 0;
  ctx.new_netns = clone_flags & CLONE_NEWNET;
  ctx.in_userns = ctx.new_userns || user_joined;
  c.state.own_pid_ns = (clone_flags & CLONE_NEWPID) || ctx.late_pid_join;
  // The init enters a joined pid namespace only after pivot_root, by forking the real init:
  // it is never seen there with the host as its root. We reap that grandchild.
  if (ctx.late_pid_join && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
    return Error::sys("become child subreaper");
  bool init_joins = !ctx.join.empty();
  if (init_joins) {
    ctx.unshare_flags = clone_flags;
    clone_flags = 0;
    // The real init will be a grandchild: become its subreaper so we can still reap it.
    if ((ctx.unshare_flags & CLONE_NEWPID) && ::prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
      return Error::sys("become child subreaper");
  }
  if (new_time || time_join) {
    own_pid_ns.reset(::open("/proc/self/ns/pid_for_children", O_RDONLY | O_CLOEXEC));
    own_time_ns.reset(::open("/proc/self/ns/time_for_children", O_RDONLY | O_CLOEXEC));
  }
  if (time_join && ::setns(time_join.get(), CLONE_NEWTIME) < 0)
    return Error::sys("join time namespace");
  if (new_time) {
    if (::unshare(CLONE_NEWTIME) < 0) return Error::sys("create time namespace");
    BERTH_TRY(write_time_offsets(*spec.linux));
  }

  // The cgroup exists before the init does; on v2 the init is cloned straight into it.
  std::optional<oci::Resources> resources;
  if (spec.linux && spec.linux->resources) resources = effective_resources(spec);
  c.cgroup = BERTH_TRY_CTX(
      cgroup::open(spec.linux ? spec.linux->cgroups_path : std::string(), o.id), "cgroup");
  {
    auto made = c.cgroup->create(resources ? &*resources : nullptr);
    if (!made) {
      c.cgroup.reset();  // create() removed what it made
      return std::move(made).error();
    }
  }
  ctx.cgroup_path = c.cgroup->path();
  if (cgroup::host_layout() != cgroup::Layout::V2)
    for (const oci::Mount& m : spec.mounts)
      if (m.type == "cgroup") ctx.inherited_cgroups = init::read_self_cgroups();
  UniqueFd into = c.cgroup->clone_into_fd();
  bool placed_by_clone = into.valid();
  bool parent_places = false;
  if (!placed_by_clone) {
    into = c.cgroup->partial_clone_into_fd();
    // Placed after clone: the cgroup namespace must be made after that, by the init.
    int* flags = init_joins ? &ctx.unshare_flags : &clone_flags;
    if (*flags & CLONE_NEWCGROUP) {
      *flags &= ~CLONE_NEWCGROUP;
      ctx.unshare_cgroupns_late = true;
    }
    // An init cloned into a new user namespace cannot write the host's cgroup files: the
    // parent moves it. Otherwise the init moves itself, before it joins anything.
    parent_places = clone_flags & CLONE_NEWUSER;
    if (parent_places)
      ctx.await_placement = init_joins;
    else
      ctx.self_place = c.cgroup.get();
  }

  if (!init_joins && !(clone_flags & CLONE_NEWUSER)) {
    ctx.early_unshare = clone_flags & ~CLONE_NEWPID;
    clone_flags &= CLONE_NEWPID;
    if (netns.started()) {
      ctx.early_unshare &= ~CLONE_NEWNET;
      ctx.netns_pending = true;
      ctx.loopback_pending = thread_sends;
      ctx.new_netns = false;  // made, loopback up, by the maker
    }
  }
  // The pid the state records is final unless the init forks into a joined pid namespace;
  // then state.json and the pid file are written while the init sets up, and nothing the
  // init does waits on the parent unless it needs id maps or runs hooks with the state
  // (createContainer/startContainer get it in Go): no Go then. `run` then has nothing to do
  // between Ready and Start either: the init execs at once. Each message saved is a
  // cross-CPU wake-up (~0.1 ms here) off the start path.
  bool pid_final = !init_joins && !ctx.late_pid_join;
  ctx.skip_go = pid_final && !ctx.new_userns && !hooks_in_init;
  ctx.exec_at_ready = c.exec_at_ready = run_mode && pid_final && !start_hooks;

  pid_t pid = clone_into(clone_flags, into.get());
  if (pid == 0) {
    parent_sync.close();
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    init_main(ctx);
  }
  int clone_errno = errno;
  if (own_pid_ns) (void)::setns(own_pid_ns.get(), CLONE_NEWPID);
  if (own_time_ns) (void)::setns(own_time_ns.get(), CLONE_NEWTIME);
  if (pid < 0) return Error::from_errno(clone_errno, "clone container init");
  c.init = ChildProcess(pid);
  c.sync = std::move(parent_sync);
  if (parent_places) {
    BERTH_TRY_CTX(c.cgroup->add_process(pid), "join cgroup");
    if (ctx.await_placement) BERTH_TRY(c.sync.send(SyncType::Placed));
  }
  ctx.sync.close();
  ctx.start_listener.reset();
  ctx.console_socket.reset();

  if (ctx.new_userns && !init_joins) BERTH_TRY(write_id_maps(pid, *spec.linux));
  if (init_joins) pid = BERTH_TRY(await_joined(c, *spec.linux));

  State& s = c.state;
  s.id = o.id;
  s.pid = pid;
  s.pid_start_time = process_start_time(pid);
  s.bundle = bundle;
  s.rootfs = ctx.rootfs;
  s.created = now_rfc3339();
  s.annotations = spec.annotations;
  s.cgroups_path = spec.linux ? spec.linux->cgroups_path : std::string();
  std::string hook_state = state_json(s, Status::Creating, -1);
  if (!ctx.skip_go) {
    // A failed send means the init is gone (it failed to place itself or unshare): the
    // loop below reads its error.
    (void)c.sync.send(SyncType::Go, 0, hook_state);
    if (netns.started() && !thread_sends) {
      UniqueFd fd = BERTH_TRY(netns.take());
      (void)c.sync.send(SyncType::NetNs, 0, {}, fd.get());  // likewise
    }
  }
  // Saved while the init sets up (a failure removes the dir again, see CreateGuard).
  auto save = [&]() -> Result<void> {
    BERTH_TRY_CTX(save_state(c.dir, s), "save state");
    BERTH_TRY_CTX(write_file_atomic(c.dir + "/" + kConfigFile, spec_text, 0600, false),
                  "save config");
    if (!o.pid_file.empty())
      BERTH_TRY_CTX(write_file_atomic(o.pid_file, std::to_string(s.pid), 0644, false),
                    "write pid file");
    return ok();
  };
  if (pid_final) BERTH_TRY(save());
  if (netns.started()) BERTH_TRY(netns.take());  // its error, if it had one (sent already)

  for (;;) {
    auto m = c.sync.recv();
    if (!m) {
      if (m.error().kind() != ErrorKind::NotFound || m.error().errno_value() != 0)
        return std::move(m).error();
      int status = BERTH_TRY(c.init.wait());
      return Error::internal("container init exited before it was ready (status " +
                             std::to_string(exit_code_of(status)) + ")");
    }
    if (m->type == SyncType::Error) return Error::from_errno(m->err, m->text);
    if (m->type == SyncType::Joined && !m->text.empty()) {
      // The init forked into its joined pid namespace: that child is the container's init.
      pid_t init = static_cast<pid_t>(atoi(m->text.c_str()));
      (void)c.init.wait();
      c.init = ChildProcess(init);
      s.pid = init;
      s.pid_start_time = process_start_time(init);
      hook_state = state_json(s, Status::Creating, -1);
    } else if (m->type == SyncType::ConsoleMaster) {
      c.master = std::move(m->fd);
    } else if (m->type == SyncType::SeccompListener) {
      BERTH_TRY(hand_over_listener(s.pid, m->err, *spec.linux->seccomp, hook_state));
    } else if (m->type == SyncType::CreateRuntimeHooks) {
      BERTH_TRY(run_hooks(spec.hooks->prestart, "prestart", hook_state));
      BERTH_TRY(run_hooks(spec.hooks->create_runtime, "createRuntime", hook_state));
      (void)c.sync.send(SyncType::HooksDone);  // failing: the init is gone; recv says why
    } else if (m->type == SyncType::Ready) {
      break;
    } else {
      return Error::internal("unexpected message from container init");
    }
  }
  if (!pid_final) BERTH_TRY(save());
  guard.armed = false;
  return c;
}

// An init that joins namespaces asks for its id maps after unsharing a user namespace, and
// reports the pid of the real init when a new pid namespace made it fork. Returns that pid.
Result<pid_t> await_joined(Created& c, const oci::Linux& l) {
  for (;;) {
    SyncMsg m = BERTH_TRY(c.sync.recv());
    if (m.type == SyncType::Error) return Error::from_errno(m.err, m.text);
    if (m.type == SyncType::MapRequest) {
      BERTH_TRY(write_id_maps(c.init.pid(), l));
      BERTH_TRY(c.sync.send(SyncType::MapDone));
      continue;
    }
    if (m.type != SyncType::Joined)
      return Error::internal("unexpected message from container init");
    if (m.text.empty()) return c.init.pid();
    pid_t init = static_cast<pid_t>(atoi(m.text.c_str()));
    (void)c.init.wait();  // the intermediate exits right after sending
    c.init = ChildProcess(init);
    return init;
  }
}

// Kills what create left and forgets it: for failures after Ready.
void abandon(const Globals& g, Created& c) {
  c.init.kill_and_reap();
  if (c.cgroup) (void)c.cgroup->destroy();
  (void)remove_state_dir(g.root, c.state.id);
}

}  // namespace

Result<oci::Spec> load_bundle_spec(const std::string& path, std::string* text_out) {
  std::string text = BERTH_TRY_CTX(read_file(path, 32 << 20), "load config");
  oci::Spec spec = BERTH_TRY_CTX(oci::parse_spec(text), "config.json");
  BERTH_TRY_CTX(oci::validate(spec), "config.json");
  if (text_out) *text_out = std::move(text);
  return spec;
}

Result<void> create(const Globals& g, const CreateOptions& o) {
  auto c = create_container(g, o, false);
  if (!c) return std::move(c).error().wrap("create " + quoted(o.id));
  c->init.release();  // the init waits for `start`; whoever reaps it now is not us
  return ok();
}

Result<int> run(const Globals& g, const CreateOptions& o) {
  if (!o.detach) block_forwarded_signals();
  auto cr = create_container(g, o, true);
  if (!cr) return std::move(cr).error().wrap("run " + quoted(o.id));
  Created& c = *cr;
  if (!c.exec_at_ready) BERTH_TRY(c.sync.send(SyncType::Start));
  // Exec success closes the init's end (O_CLOEXEC); anything else is its error.
  auto m = c.sync.recv();
  if (m) {
    abandon(g, c);
    std::string text = m->text.empty() ? "exec: \"" + c.spec.process->args[0] + "\"" : m->text;
    Error e = m->type == SyncType::Error ? Error::from_errno(m->err, text)
                                         : Error::internal("unexpected message from init");
    return std::move(e).wrap("run " + quoted(o.id));
  }
  std::string st = state_json(c.state, Status::Running, -1);
  if (c.spec.hooks) {
    auto r = run_hooks(c.spec.hooks->poststart, "poststart", st);
    if (!r) log::warn(r.error().what());
  }
  if (o.detach) {
    c.init.release();
    return 0;
  }
  pid_t pid = c.init.release();
  auto status = wait_forwarding(pid, c.master.get());
  if (!status) return std::move(status).error();
  if (!o.keep) {
    // What `delete` would do, from what is still in memory (no state or config re-read).
    if (c.cgroup) {
      if (!c.state.own_pid_ns) (void)c.cgroup->kill_all(SIGKILL);
      auto r = c.cgroup->destroy();
      if (!r) log::warn(r.error().what());
    }
    if (c.spec.hooks && !c.spec.hooks->poststop.empty()) {
      auto r =
          run_hooks(c.spec.hooks->poststop, "poststop", state_json(c.state, Status::Stopped, -1));
      if (!r) log::warn(r.error().what());
    }
    auto r = remove_state_dir(g.root, o.id);
    if (!r) log::warn(r.error().what());
  }
  return exit_code_of(*status);
}

}  // namespace berth::runtime
