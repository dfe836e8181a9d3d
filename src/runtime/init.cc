// The container's init, from clone to exec. A flat list of steps, each returning on failure;
// the first failure goes to the parent as errno + message and the init exits.
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "runtime/internal.h"

namespace berth::runtime {
namespace {

Result<void> become_namespace_root() {
  // Root of a new user namespace if it is mapped (it is unless the mapping leaves out 0).
  // Raw system calls, as in apply_user_and_caps (process.cc).
  if (syscall(SYS_setresgid, 0, 0, 0) < 0 && errno != EINVAL)
    return Error::sys("setgid 0 in user namespace");
  if (syscall(SYS_setresuid, 0, 0, 0) < 0 && errno != EINVAL)
    return Error::sys("setuid 0 in user namespace");
  return ok();
}

// The init was cloned in the runtime's namespaces: join the given ones (a user namespace
// first, so the rest are entered with its privileges), then unshare the new ones. A new pid
// namespace applies to children only, so an intermediate forks the real init and exits.
Result<void> join_and_unshare(InitContext& ctx) {
  if (ctx.await_placement) BERTH_TRY(ctx.sync.expect(SyncType::Placed));
  for (auto& [type, fd] : ctx.join)
    if (type == oci::NamespaceType::User && ::setns(fd.get(), CLONE_NEWUSER) < 0)
      return Error::sys("join user namespace");
  for (auto& [type, fd] : ctx.join) {
    if (type != oci::NamespaceType::User && ::setns(fd.get(), oci::clone_flag(type)) < 0)
      return Error::sys(std::string("join ") + oci::json_name(type) + " namespace");
    fd.reset();
  }
  if (ctx.unshare_flags && ::unshare(ctx.unshare_flags) < 0) return Error::sys("create namespaces");
  if (ctx.unshare_flags & CLONE_NEWUSER) {
    BERTH_TRY(ctx.sync.send(SyncType::MapRequest));
    BERTH_TRY(ctx.sync.expect(SyncType::MapDone));
    BERTH_TRY(become_namespace_root());
  }
  if (!(ctx.unshare_flags & CLONE_NEWPID)) return ctx.sync.send(SyncType::Joined);
  pid_t pid = ::fork();
  if (pid < 0) return Error::sys("fork init into its pid namespace");
  if (pid > 0) {
    (void)ctx.sync.send(SyncType::Joined, 0, std::to_string(pid));
    _exit(0);
  }
  return ok();
}

Result<void> set_names(const oci::Spec& spec) {
  if (!spec.hostname.empty() && ::sethostname(spec.hostname.data(), spec.hostname.size()) < 0)
    return Error::sys("set hostname");
  if (!spec.domainname.empty() &&
      ::setdomainname(spec.domainname.data(), spec.domainname.size()) < 0)
    return Error::sys("set domainname");
  return ok();
}

// Waits for `start` on the listening socket. Returns the connection, over which an exec
// failure is reported (success closes it: it is O_CLOEXEC).
Result<UniqueFd> wait_for_start(InitContext& ctx) {
  for (;;) {
    UniqueFd c(::accept4(ctx.start_listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!c) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return Error::sys("wait for start");
    }
    char b;
    ssize_t n = ::read(c.get(), &b, 1);
    if (n == 1) {
      ctx.start_listener.reset();
      return c;
    }
  }
}

Result<void> run_init(InitContext& ctx, UniqueFd* start_conn) {
  const oci::Spec& spec = *ctx.spec;
  const oci::Process& proc = *ctx.process;
  if (!ctx.join.empty()) BERTH_TRY(join_and_unshare(ctx));
  // The parent sends the state JSON (pid known only to it) for the in-container hooks.
  std::string hook_state;
  if (!ctx.skip_go) hook_state = BERTH_TRY(ctx.sync.expect(SyncType::Go)).text;
  if (ctx.unshare_cgroupns_late && ::unshare(CLONE_NEWCGROUP) < 0)
    return Error::sys("create cgroup namespace");
  if (ctx.new_userns && ctx.join.empty()) BERTH_TRY(become_namespace_root());
  ::umask(0);
  if (spec.linux && !spec.linux->sysctl.empty()) BERTH_TRY(init::join_pending_netns(ctx));
  BERTH_TRY(init::apply_sysctls(spec));
  BERTH_TRY(set_names(spec));
  if (ctx.new_netns) BERTH_TRY(bring_up_loopback());
  BERTH_TRY(init::apply_oom_score_adj(proc));
  BERTH_TRY(init::prepare_rootfs(ctx));
  BERTH_TRY(init::join_pending_netns(ctx));
  if (ctx.create_runtime_hooks) {
    // NetNsUp comes from the thread whenever lo is up: take it before HooksDone can come.
    BERTH_TRY(init::await_loopback(ctx));
    BERTH_TRY(ctx.sync.send(SyncType::CreateRuntimeHooks));
    BERTH_TRY(ctx.sync.expect(SyncType::HooksDone));
  }
  if (spec.hooks && !spec.hooks->create_container.empty()) {
    // In the container's namespaces, before pivot_root: paths resolve in the runtime's view.
    BERTH_TRY(run_hooks(spec.hooks->create_container, "createContainer", hook_state));
  }
  // Masked and read-only paths resolve inside the root just as they would after pivot_root;
  // doing them before lets the masks bind from the host's /dev/null, which is gone after it.
  BERTH_TRY(init::finalize_rootfs(ctx));
  BERTH_TRY(init::enter_rootfs(ctx));
  if (ctx.late_pid_join) {
    if (::setns(ctx.late_pid_join.get(), CLONE_NEWPID) < 0) return Error::sys("join pid namespace");
    ctx.late_pid_join.reset();
    pid_t pid = ::fork();
    if (pid < 0) return Error::sys("fork into the pid namespace");
    if (pid > 0) {
      (void)ctx.sync.send(SyncType::Joined, 0, std::to_string(pid));
      _exit(0);
    }
  }
  if (proc.terminal) BERTH_TRY_CTX(init::setup_console(ctx), "set up terminal");
  ctx.host_devnull.reset();  // the masks are done: no host fd stays in the init
  BERTH_TRY(init::enter_cwd(proc.cwd));
  BERTH_TRY(init::apply_rlimits(proc));
  if (spec.linux) BERTH_TRY(init::apply_personality(*spec.linux));
  if (!ctx.no_new_keyring) BERTH_TRY(init::join_session_keyring(ctx.id));
  BERTH_TRY(init::preserve_fds(ctx.preserve_fds));
  std::vector<std::string> env = init::process_env(proc, ctx.extra_env);
  // Seccomp as late as it can be while the parent is still here (a notify listener goes to
  // it): without no_new_privs loading needs CAP_SYS_ADMIN, so before the capabilities drop.
  BERTH_TRY(init::await_loopback(ctx));
  bool nnp = proc.no_new_privileges;
  if (ctx.seccomp && !nnp) BERTH_TRY(init::load_seccomp(*ctx.seccomp, ctx.sync.fd()));
  BERTH_TRY(init::apply_user_and_caps(proc, ctx.last_cap));
  std::string path = BERTH_TRY(init::lookup_executable(proc, env));
  if (ctx.seccomp && nnp) BERTH_TRY(init::load_seccomp(*ctx.seccomp, ctx.sync.fd()));

  // From here the init must outlive create, which exits once it reads Ready.
  ::prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0);
  BERTH_TRY(ctx.sync.send(SyncType::Ready));
  bool start_hooks = spec.hooks && !spec.hooks->start_container.empty();
  if (!start_hooks && ctx.exec_stub) {
    // The wait for start happens in the sealed stub: while "created", the init's image is
    // not the runtime binary (CVE-2019-5736), whoever shares its pid namespace.
    if (ctx.run_mode)
      init::exec_process(path, proc, env, ctx.sync.fd(), ctx.exec_stub.get(),
                         ctx.exec_at_ready ? "-" : "r" + std::to_string(ctx.sync.fd()));
    int listener = ctx.start_listener.get();
    ctx.sync.close();
    init::exec_process(path, proc, env, listener, ctx.exec_stub.get(),
                       "a" + std::to_string(listener));
  }
  if (ctx.run_mode) {
    if (!ctx.exec_at_ready) BERTH_TRY(ctx.sync.expect(SyncType::Start));
  } else {
    ctx.sync.close();  // the parent is gone once create returns
    *start_conn = BERTH_TRY(wait_for_start(ctx));
  }
  if (spec.hooks && !spec.hooks->start_container.empty()) {
    const std::string from = "\"status\":\"creating\"", to = "\"status\":\"created\"";
    if (size_t at = hook_state.find(from); at != std::string::npos)
      hook_state.replace(at, from.size(), to);
    auto r = run_hooks(spec.hooks->start_container, "startContainer", hook_state);
    if (!r) return r;
  }
  init::exec_process(path, proc, env, ctx.run_mode ? ctx.sync.fd() : start_conn->get(),
                     ctx.exec_stub.get());
}

}  // namespace

void init_main(InitContext& ctx) {
  // Die with the parent while it still drives us (cleared just before Ready). Not dumpable:
  // nothing that later joins the container may open this process's /proc files (its fds,
  // its exe); the exec of the user's program makes the process dumpable again.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  UniqueFd start_conn;
  Result<void> r = ok();
  if (ctx.self_place) {
    r = ctx.self_place->add_process(0);
    if (!r) r = std::move(r).error().wrap("join cgroup");
  }
  if (r && ctx.early_unshare && ::unshare(ctx.early_unshare) < 0)
    r = Error::sys("create namespaces");
  if (r) r = run_init(ctx, &start_conn);
  const Error& e = r.error();
  report_failure(start_conn ? start_conn.get() : ctx.sync.fd(), e.errno_value(), e.message());
  _exit(1);
}

}  // namespace berth::runtime
