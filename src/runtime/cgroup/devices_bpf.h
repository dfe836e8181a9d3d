// linux.resources.devices on cgroup v2: the rule list compiled by hand into a
// BPF_PROG_TYPE_CGROUP_DEVICE program and attached to the container's cgroup (v2 has no
// devices.allow file; the kernel asks the program on every open/mknod of a device node).
//
// Semantics (those of the v1 devices controller, which runc and crun reproduce): rules are
// read in order and a later rule overrides an earlier one; nothing matched means denied.
// Decided per access bit: for each of r, w, m that a request asks for, the last rule that
// matches the device and names that bit allows or denies it; the request is allowed when
// every bit it asks for is. So [allow c 1:3 r, allow c 1:3 w] allows "rw", and
// [allow a rwm, deny c 1:3 w] still allows reading 1:3 but not opening it read-write.
#pragma once

#include <linux/bpf.h>

#include <cstdint>
#include <vector>

#include "oci/spec.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::runtime::cgroup {

// Access bits as the kernel passes them (BPF_DEVCG_ACC_*).
constexpr unsigned kDevMknod = BPF_DEVCG_ACC_MKNOD;
constexpr unsigned kDevRead = BPF_DEVCG_ACC_READ;
constexpr unsigned kDevWrite = BPF_DEVCG_ACC_WRITE;

// A rule checked and normalised: type 'a' (any), 'b' or 'c'; major/minor -1 = any.
struct DeviceRule {
  bool allow = false;
  char type = 'a';
  int64_t major = -1, minor = -1;
  unsigned access = 0;  // kDev* bits, never 0
};

// Checks linux.resources.devices; errors name the entry (`linux.resources.devices[2].access`).
// An empty access string means "rwm", like runc.
Result<std::vector<DeviceRule>> normalize_device_rules(
    const std::vector<oci::DeviceCgroupRule>& rules);

// The reference semantics the program implements (see above). `type` is 'b' or 'c'.
bool device_access_allowed(const std::vector<DeviceRule>& rules, char type, uint32_t major,
                           uint32_t minor, unsigned access);

// The program: straight-line code with forward jumps only, r0 = 1 allow / 0 deny.
std::vector<bpf_insn> build_device_program(const std::vector<DeviceRule>& rules);

// BPF_PROG_LOAD of a CGROUP_DEVICE program; the error carries the verifier's log.
Result<UniqueFd> load_device_program(const std::vector<bpf_insn>& program);

// Attaches `prog_fd` to the cgroup (`cgroup_fd`: its directory opened O_RDONLY|O_DIRECTORY)
// with BPF_F_ALLOW_MULTI, then detaches the device programs attached before, so that an
// update replaces the filter. Between the two steps both apply (the stricter result).
Result<void> attach_device_program(int cgroup_fd, int prog_fd);

// normalize + build + load + attach, errors prefixed with "linux.resources.devices".
Result<void> apply_device_rules(int cgroup_fd, const std::vector<oci::DeviceCgroupRule>& rules);

}  // namespace berth::runtime::cgroup
