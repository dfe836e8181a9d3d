// Seccomp profiles in docker's format, and berth's built-in default profile.
//
// docker's format is the runtime spec's linux.seccomp plus what makes one profile fit every
// container and host: per rule `includes`/`excludes` conditions on the container's
// capabilities, the host's architecture and kernel version; `archMap` (architectures chosen by
// the host's); `name` as well as `names`; `comment`. A profile is resolved for one container
// into a plain linux.seccomp: rules whose conditions do not hold are dropped.
//
// Where profiles come from (docker's rules): `--security-opt seccomp=<profile JSON>` (the CLI
// reads the file and sends its content), `seccomp=unconfined`, `seccomp=builtin`; berthd's
// --seccomp-profile for containers that name none; --privileged means no filter at all.
//
// The built-in profile is an allowlist, like docker's: a syscall not named fails with EPERM,
// except those newer than every syscall named, which fail with ENOSYS (the runtime's stub) so
// libc falls back. What it keeps out, unless the container holds the capability that makes
// the syscall safe to grant:
//   CAP_SYS_ADMIN     mount and the new mount API, umount, pivot_root, swapon/off, setns,
//                     unshare, namespace flags of clone (clone3 returns ENOSYS so libc falls
//                     back to clone, whose flags a filter can see), quotactl, sethostname
//                     and setdomainname, fanotify_init, name_to_handle_at, lookup_dcookie,
//                     bpf and perf_event_open (also CAP_BPF / CAP_PERFMON)
//   CAP_SYS_PTRACE    kcmp, pidfd_getfd, process_madvise, process_vm_readv/writev,
//                     userfaultfd (ptrace itself is allowed: seccomp re-checks since 4.8)
//   CAP_SYS_MODULE    init_module, finit_module, delete_module
//   CAP_SYS_BOOT      reboot
//   CAP_SYS_RAWIO     iopl, ioperm
//   CAP_SYS_TIME      settimeofday, stime, clock_settime (adjtimex and clock_adjtime are
//                     allowed: they only read without the capability)
//   CAP_SYS_NICE      mbind, set_mempolicy, get_mempolicy, migrate_pages, move_pages
//   CAP_SYS_CHROOT    chroot
//   CAP_SYS_PACCT     acct
//   CAP_SYSLOG        syslog
//   CAP_SYS_TTY_CONFIG vhangup
//   CAP_DAC_READ_SEARCH open_by_handle_at
// and always: the keyring (add_key, keyctl, request_key: not namespaced), kexec, io_uring (a
// large attack surface, off in docker too), personality other than the harmless domains,
// AF_VSOCK sockets, and obsolete calls (uselib, ustat, sysfs, _sysctl, vm86, nfsservctl, ...).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "oci/spec.h"
#include "util/result.h"

namespace berth::engine::seccomp {

// What a profile is resolved for.
struct Target {
  std::vector<std::string> caps;  // the container's bounding set, "CAP_..." names
  std::string arch;               // Go's GOARCH name of the host: amd64, arm64, ...
  int kernel_major = 0, kernel_minor = 0;

  // This host: its architecture and running kernel, with `caps`.
  static Target host(std::vector<std::string> caps);
};

// Resolves a profile in docker's JSON format and checks the result as the runtime would.
// Errors read "Decoding seccomp profile failed: <where>: <what>", as docker's do.
Result<oci::Seccomp> resolve_profile(std::string_view json_text, const Target& target);

// The built-in default profile (see above) resolved for `target`.
oci::Seccomp builtin_profile(const Target& target);

// The built-in profile in docker's JSON format, all conditions kept (for tests and users who
// want to start from it, like docker's default.json).
std::string builtin_profile_json();

}  // namespace berth::engine::seccomp
