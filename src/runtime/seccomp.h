// Seccomp for the container process, from linux.seccomp (libseccomp).
//
// The filter is compiled in the parent, before clone, while nothing waits on it (crun's
// design); the init only loads the ready BPF program. It is loaded as late as possible: right
// before execve when no_new_privs is set, otherwise just before the capabilities are dropped
// (loading a filter without no_new_privs needs CAP_SYS_ADMIN). SCMP_ACT_NOTIFY rules create a
// listener fd that is sent to linux.seccomp.listenerPath as the runtime-spec describes.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "oci/spec.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::runtime::seccomp {

struct Filter {
  std::vector<struct sock_filter> program;  // ready for SECCOMP_SET_MODE_FILTER
  unsigned flags = 0;                       // SECCOMP_FILTER_FLAG_*
  bool notify = false;                      // has SCMP_ACT_NOTIFY rules: yields a listener
};

// Compiles linux.seccomp. Errors name the field (`linux.seccomp.syscalls[3].action: ...`).
// Syscall names this libseccomp does not know on an architecture are skipped, as runc does
// (profiles such as docker's list syscalls newer than the library).
Result<Filter> compile(const oci::Seccomp& config);

// Loads the filter into the calling thread. Returns the notify listener fd when
// filter.notify, else an empty fd.
Result<UniqueFd> install(const Filter& filter);

// The seccomp-notify handover (runtime-spec config-linux "seccomp" listenerPath): connect to
// the agent's unix socket (done before pivot_root, the path is on the host), then send the
// listener fd with the container process state JSON and listenerMetadata.
Result<UniqueFd> connect_listener(const std::string& listener_path);
Result<void> send_listener(int agent_socket, int listener_fd, const std::string& state_json,
                           const std::string& metadata);

}  // namespace berth::runtime::seccomp
