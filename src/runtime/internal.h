// Declarations shared by the runtime's own files; not part of its API.
//
// Naming follows nsjail: functions that run in the container's init (after clone) are in
// namespace `init`, the parent's steps live in create.cc / exec.cc.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "oci/spec.h"
#include "runtime/cgroup/cgroup.h"
#include "runtime/seccomp.h"
#include "runtime/state.h"
#include "runtime/sync.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::runtime {

// Everything the init needs, prepared by the parent before clone. The init runs on a
// copy-on-write image of the parent, so it reads this directly: no serialisation.
struct InitContext {
  const oci::Spec* spec = nullptr;
  const oci::Process* process = nullptr;
  std::string id, bundle, rootfs, state_dir;
  UniqueFd rootfs_fd;       // O_PATH of root.path
  UniqueFd host_devnull;    // O_PATH of the host's /dev/null, checked to be 1:3 (init opens)
  SyncSocket sync;          // init's end
  UniqueFd start_listener;  // create: the init accepts `start` here
  UniqueFd console_socket;  // --console-socket, connected
  std::vector<std::pair<oci::NamespaceType, UniqueFd>> join;  // setns in the init
  // When the init joins namespaces by path, it is cloned with no namespace flags and
  // unshares the new ones itself after joining (runc's order), so the new ones nest right.
  int unshare_flags = 0;
  // With no namespace to join and no user namespace, the init is cloned with only its new
  // pid namespace and unshares these (network, mount, uts, ipc, cgroup) itself, first thing:
  // the kernel's ~0.5 ms for a network namespace then runs while the parent saves the state.
  int early_unshare = 0;
  // The new network namespace (made by a NetnsMaker, loopback up) comes after Go, in a
  // NetNs message: the init sets up what does not need it (names, the first mounts) in the
  // meantime and joins it just before a sysfs mount, a sysctl, or the end of the mounts.
  bool netns_pending = false;
  // Then NetNsUp follows from the thread once lo is up (init::await_loopback).
  bool loopback_pending = false;
  bool skip_go = false;        // no Go comes (create.cc says when)
  bool exec_at_ready = false;  // run: exec right after Ready, no Start comes
  bool new_userns = false;
  bool new_netns = false;
  bool in_userns = false;  // new or joined: devices are bind-mounted, not mknod'ed
  bool run_mode = false;
  bool no_pivot = false;
  bool no_new_keyring = false;
  bool create_runtime_hooks = false;
  int preserve_fds = 0;  // fds 3 .. 3+preserve_fds-1 stay open (LISTEN_FDS included)
  std::vector<std::string> extra_env;
  int last_cap = 40;
  UniqueFd exec_stub;  // when set, exec goes through the stub (shared pid namespace)
  // The init was placed in its cgroup after clone (v1): it waits for Placed before anything
  // that forks, and unshares its cgroup namespace only then, so the namespace's root is the
  // container's cgroup.
  bool await_placement = false;
  // Set when the init moves itself into its cgroup (first thing after clone; cheaper than
  // the parent moving it). Points into the parent's Created, which the init has a copy of.
  cgroup::Cgroup* self_place = nullptr;
  UniqueFd late_pid_join;  // a pid namespace to enter after pivot_root (fork; see create.cc)
  bool unshare_cgroupns_late = false;
  std::optional<seccomp::Filter> seccomp;  // compiled by the parent before clone
  std::string cgroup_path;  // the container's cgroup ("/berth/<id>"), for the cgroup mount
  // The runtime's own cgroups (/proc/self/cgroup: controllers, path), which the init
  // inherits in hierarchies the runtime does not manage.
  std::vector<std::pair<std::string, std::string>> inherited_cgroups;
};

// netns.cc: makes a new network namespace (loopback up) on a thread of its own, so that it
// overlaps with what the main thread does before and after clone. With `send_to` (the
// parent's sync socket) the thread itself sends it to the init as NetNs the moment it is
// made, then NetNsUp once lo is up; take() then returns no fd. Otherwise take() waits for it and
// returns its fd. Either way take() reports the thread's error and lets it end on its own (joining
// would cost two cross-CPU wake-ups on the start path). At most one per process (the thread's state
// is static: the thread may outlive this object).
class NetnsMaker {
 public:
  NetnsMaker() = default;
  NetnsMaker(const NetnsMaker&) = delete;
  NetnsMaker& operator=(const NetnsMaker&) = delete;
  ~NetnsMaker();  // take()s (and closes) a namespace nobody took
  Result<void> start(int send_to = -1);
  Result<UniqueFd> take();
  bool started() const { return started_; }

 private:
  bool started_ = false;
};
Result<void> bring_up_loopback();
namespace init {
// Joins the network namespace the parent sends (NetNs) if it has not come yet.
Result<void> join_pending_netns(InitContext& ctx);
// Waits for NetNsUp (its loopback is up) if the thread sends one. It may come at any time
// after NetNs: the init takes it before it waits for anything else from the parent.
Result<void> await_loopback(InitContext& ctx);
}  // namespace init

// Entry of the cloned init. Never returns: execs the user process or _exits.
[[noreturn]] void init_main(InitContext& ctx);

namespace init {
// rootfs.cc
Result<void> prepare_rootfs(InitContext& ctx);
Result<void> finalize_rootfs(InitContext& ctx);  // masked/read-only paths, read-only root
Result<void> enter_rootfs(InitContext& ctx);     // pivot_root (or MS_MOVE + chroot)
Result<void> setup_console(InitContext& ctx);    // after enter_rootfs, when process.terminal
Result<void> apply_sysctls(const oci::Spec& spec);
std::vector<std::pair<std::string, std::string>> read_self_cgroups();
// process.cc
Result<void> apply_rlimits(const oci::Process& p);
Result<void> apply_oom_score_adj(const oci::Process& p);
Result<void> apply_personality(const oci::Linux& l);
Result<void> join_session_keyring(const std::string& id);
Result<void> apply_user_and_caps(const oci::Process& p, int last_cap);
Result<void> preserve_fds(int count);
std::vector<std::string> process_env(const oci::Process& p, const std::vector<std::string>& extra);
Result<std::string> lookup_executable(const oci::Process& p, const std::vector<std::string>& env);
// Execs the process. When `stub_fd` >= 0 (a sealed memfd of the exec stub, see
// stub/stub.c) it goes through the stub. A failure is written to `report_fd` as a sync
// message (header + text); success closes it (O_CLOEXEC).
// `wait` is the stub's wait argument ("-", "a<fd>", "r<fd>"; see stub.c); only with a stub.
[[noreturn]] void exec_process(const std::string& path, const oci::Process& p,
                               const std::vector<std::string>& env, int report_fd, int stub_fd,
                               const std::string& wait = "-");
// Changes to the process's cwd, resolved inside the root ("/" of the caller): magic links
// such as /proc/self/fd/N are refused, so no fd of the runtime can become the cwd
// (CVE-2024-21626).
Result<void> enter_cwd(const std::string& cwd);
}  // namespace init

// A sealed, executable memfd holding the exec stub (CVE-2019-5736 defence).
Result<UniqueFd> make_exec_stub();
// Writes an exec/init failure as a sync message on a stream or packet fd.
void report_failure(int fd, int err, const std::string& text);
// Parses what `report_failure` (or the stub) wrote; empty input means success.
Result<void> parse_failure(const std::string& data);

namespace init {}  // namespace init

// hooks.cc: runs hooks in order with the state JSON on stdin; the first failure is the error.
Result<void> run_hooks(const std::vector<oci::Hook>& hooks, const char* kind,
                       const std::string& state_json);

Result<void> set_console_size(int fd, unsigned rows, unsigned cols);

// signals.cc: forwards signals received by the runtime to a pid until it exits; returns the
// wait status. `master_fd` >= 0 also proxies a terminal.
Result<int> wait_forwarding(pid_t pid, int master_fd);
// Blocks the forwarded signals (before clone, so none is lost); returns the previous mask.
sigset_t block_forwarded_signals();

// The cgroup of a created container, from its recorded linux.cgroupsPath and id: no config
// parse, so `state` and `list` stay cheap.
Result<std::unique_ptr<cgroup::Cgroup>> container_cgroup(const State& s);

// linux.resources as runc reads them: a zero limit, weight, share, quota or period means
// "not set" (docker sends cpu.shares 0 and blockIO.weight 0 in every config and update).
oci::Resources without_zero_values(oci::Resources r);

// Status including "paused" (a frozen cgroup), which the state file alone cannot tell.
Status live_status(const std::string& root, const State& s);
// clone3, optionally straight into a cgroup (fd from Cgroup::clone_into_fd, or -1).
pid_t clone_into(int flags, int cgroup_fd);

namespace init {
// Loads the seccomp filter; a notify listener is announced to the parent over `sync_fd`
// with write(2) only (see seccomp.h), the parent then takes it with pidfd_getfd.
Result<void> load_seccomp(const seccomp::Filter& filter, int sync_fd);
}  // namespace init
// The parent's side of that handover: takes the fd from `pid` and sends it to the agent.
Result<void> hand_over_listener(pid_t pid, int fd_in_child, const oci::Seccomp& config,
                                const std::string& state_json);

// Reads config.json of a bundle (chdir'ed into it) and validates it; `text`, when given,
// receives the file as read (what the state dir keeps: no second serialisation).
Result<oci::Spec> load_bundle_spec(const std::string& path, std::string* text = nullptr);

}  // namespace berth::runtime
