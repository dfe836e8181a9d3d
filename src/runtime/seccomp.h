// Seccomp for the container process, from linux.seccomp (libseccomp).
//
// The filter is compiled in the parent, before clone, while nothing waits on it (crun's
// design); the init only loads the ready BPF program. It is loaded as late as possible: right
// before execve when no_new_privs is set, otherwise just before the capabilities are dropped
// (loading a filter without no_new_privs needs CAP_SYS_ADMIN). SCMP_ACT_NOTIFY rules create a
// listener fd that is sent to linux.seccomp.listenerPath as the runtime-spec describes.
//
// Flow for the integrator (runc's order):
//   parent, before clone:   Filter f = BERTH_TRY(seccomp::compile(*spec.linux->seccomp));
//   init, late:             UniqueFd l = BERTH_TRY(seccomp::install(f));
//                           (when f.notify: hand l to the parent with write(2) only, see
//                           install() — every later syscall may block on the agent)
//   parent, on handover:    UniqueFd s = BERTH_TRY(seccomp::connect_listener(path));
//                           BERTH_TRY(seccomp::send_listener(s.get(), l, state_json, meta, pid));
#pragma once

#include <linux/filter.h>
#include <sys/types.h>

#include <string>
#include <vector>

#include "oci/spec.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::runtime::seccomp {

struct Filter {
  std::vector<struct sock_filter> program;  // ready for SECCOMP_SET_MODE_FILTER
  unsigned flags = 0;                       // SECCOMP_FILTER_FLAG_* from linux.seccomp.flags
  bool notify = false;                      // has SCMP_ACT_NOTIFY rules: yields a listener
};

// Compiles linux.seccomp. Errors name the field (`linux.seccomp.syscalls[3].action: ...`).
// Syscall names this libseccomp does not know are skipped, as runc does (profiles such as
// docker's list syscalls newer than the library); so are architectures this libseccomp does
// not know, other than the native one (their system calls meet the filter's bad-arch kill).
//
// As in runc: SCMP_ACT_KILL is KILL_THREAD; ERRNO and TRACE default to EPERM; a rule whose
// action is the default action is dropped; several conditions on one argument index make one
// rule per condition (OR), otherwise a rule's conditions are ANDed; SCMP_ACT_NOTIFY may not
// be used for write(2). Unless the default action is ALLOW/LOG/TRACE (or ERRNO(ENOSYS)), a
// stub in front of the filter returns ENOSYS for syscall numbers above the largest one the
// profile names on each architecture, so libc falls back from syscalls newer than the profile
// instead of failing with the default errno (runc's patchbpf).
// No no_new_privs attribute: the runtime decides NNP. Needs no privileges and no kernel
// support beyond libseccomp's probes; safe to call from any thread.
Result<Filter> compile(const oci::Seccomp& config);

// Loads the filter into the calling thread with seccomp(2) (no libseccomp work: safe right
// after clone). Returns the notify listener fd (O_CLOEXEC) when filter.notify, else an empty
// fd. SECCOMP_FILTER_FLAG_TSYNC with a listener adds TSYNC_ESRCH, as the kernel requires.
// Needs no_new_privs or CAP_SYS_ADMIN (EACCES otherwise, with a message saying so).
//
// Once a listener exists, any syscall of a notify rule blocks until the agent has the fd: the
// caller must hand it over using only write(2) (which compile() refuses to notify), e.g. the
// init writes the fd number on its sync socket and the parent takes it with pidfd_getfd(2).
Result<UniqueFd> install(const Filter& filter);

// The seccomp-notify handover (runtime-spec config-linux "seccomp" listenerPath): connect to
// the agent's unix socket (SOCK_STREAM, on the host: connect before pivot_root if the init
// does it), then send the listener fd with the container process state JSON:
//   {"ociVersion", "fds": ["seccompFd"], "pid", "metadata" (when not empty), "state": {...}}
// with the fd as SCM_RIGHTS on the first sendmsg. `state_json` is the state object (as
// `berth-runtime state` prints it); `pid` is the process the filter was installed in, as the
// runtime sees it (0: take state.pid). The agent socket should be closed afterwards (one
// state per connection).
Result<UniqueFd> connect_listener(const std::string& listener_path);
Result<void> send_listener(int agent_socket, int listener_fd, const std::string& state_json,
                           const std::string& metadata, pid_t pid = 0);

// The JSON send_listener sends (exposed for tests and for callers that send it themselves).
Result<std::string> container_process_state(const std::string& state_json,
                                            const std::string& metadata, pid_t pid = 0);

}  // namespace berth::runtime::seccomp
