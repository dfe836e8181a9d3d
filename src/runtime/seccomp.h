// Seccomp for the container process, from linux.seccomp (libseccomp).
//
// The filter is compiled in the parent, before clone, while nothing waits on it (crun's
// design); the init only loads the ready BPF program. It is loaded as late as possible: right
// before execve when no_new_privs is set, otherwise just before the capabilities are dropped
// (loading a filter without no_new_privs needs CAP_SYS_ADMIN). SCMP_ACT_NOTIFY rules create a
// listener fd that is sent to linux.seccomp.listenerPath as the runtime-spec describes.
//
// Flow for the integrator (runc's order):
//   parent, before clone:   Filter f = BERTH_TRY(seccomp::compile_cached(*spec.linux->seccomp,
//                                                                  root + "/cache:seccomp"));
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
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV is dropped when there is no notify rule (the kernel
// refuses it without a listener). No no_new_privs attribute: the runtime decides NNP. Needs no
// privileges and no kernel support beyond libseccomp's probes; safe to call from any thread.
Result<Filter> compile(const oci::Seccomp& config);

// compile() through a cache of compiled programs in `cache_dir` (crun's design): libseccomp
// takes 10-20 ms for docker's default profile on x86_64 (three architectures), a cache hit
// well under 0.1 ms. The entry is keyed by the whole profile, the libseccomp version and this
// code's format version, and holds the key, so a hit is exact. `cache_dir` is created (0700)
// if missing; it must be private to the runtime (root-owned, e.g. under the runtime's --root).
// Cache failures never fail the compile: a bad or unreadable entry is recompiled, an entry
// that cannot be written is skipped. At most 256 entries are kept (then nothing new is stored).
Result<Filter> compile_cached(const oci::Seccomp& config, const std::string& cache_dir);

// Loads the filter into the calling thread with seccomp(2) (no libseccomp work: safe right
// after clone). Returns the notify listener fd (O_CLOEXEC) when filter.notify, else an empty
// fd. SECCOMP_FILTER_FLAG_TSYNC with a listener adds TSYNC_ESRCH, as the kernel requires.
// Needs no_new_privs or CAP_SYS_ADMIN (EACCES otherwise, with a message saying so).
//
// Once a listener exists, any syscall of a notify rule blocks until the agent has the fd, so
// the caller must hand it over using only write(2), the one syscall compile() refuses to
// notify (runc's rule): e.g. the init write()s the fd number on its sync socket (not
// SyncSocket::send, which is sendmsg) and the parent copies the fd with pidfd_getfd(2), then
// sends it on with send_listener(). Other syscalls after that may block until the agent
// answers, which is fine once the parent has the fd.
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
