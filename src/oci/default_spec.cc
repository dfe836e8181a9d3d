// The config.json that `berth-runtime spec` writes: the same as `runc spec` (and, when rootless,
// `runc spec --rootless`), except for the hostname.
#include <algorithm>

#include "oci/spec.h"

namespace berth::oci {
namespace {

Spec base_spec() {
  Spec s;
  s.oci_version = kSpecVersion;
  s.root = Root{.path = "rootfs", .readonly = true};
  s.hostname = "berth";

  Process& p = s.process.emplace();
  p.terminal = true;
  p.args = {"sh"};
  p.env = {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"};
  p.cwd = "/";
  p.no_new_privileges = true;
  const std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  p.capabilities = Capabilities{.bounding = caps, .effective = caps, .permitted = caps};
  p.rlimits = {Rlimit{.type = "RLIMIT_NOFILE", .hard = 1024, .soft = 1024}};

  s.mounts = {
      {.destination = "/proc", .type = "proc", .source = "proc"},
      {.destination = "/dev",
       .type = "tmpfs",
       .source = "tmpfs",
       .options = {"nosuid", "strictatime", "mode=755", "size=65536k"}},
      {.destination = "/dev/pts",
       .type = "devpts",
       .source = "devpts",
       .options = {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
      {.destination = "/dev/shm",
       .type = "tmpfs",
       .source = "shm",
       .options = {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
      {.destination = "/dev/mqueue",
       .type = "mqueue",
       .source = "mqueue",
       .options = {"nosuid", "noexec", "nodev"}},
      {.destination = "/sys",
       .type = "sysfs",
       .source = "sysfs",
       .options = {"nosuid", "noexec", "nodev", "ro"}},
      {.destination = "/sys/fs/cgroup",
       .type = "cgroup",
       .source = "cgroup",
       .options = {"nosuid", "noexec", "nodev", "relatime", "ro"}},
  };

  Linux& l = s.linux.emplace();
  l.masked_paths = {"/proc/acpi",
                    "/proc/asound",
                    "/proc/kcore",
                    "/proc/keys",
                    "/proc/latency_stats",
                    "/proc/timer_list",
                    "/proc/timer_stats",
                    "/proc/sched_debug",
                    "/sys/firmware",
                    "/proc/scsi",
                    "/sys/devices/virtual/tpm"};
  l.readonly_paths = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"};
  l.resources.emplace().devices = {DeviceCgroupRule{.allow = false, .access = "rwm"}};
  l.namespaces = {{NamespaceType::Pid, ""},   {NamespaceType::Network, ""},
                  {NamespaceType::Ipc, ""},   {NamespaceType::Uts, ""},
                  {NamespaceType::Mount, ""}, {NamespaceType::Cgroup, ""}};
  return s;
}

// What `runc spec --rootless` changes: no network namespace (an unprivileged user cannot
// connect a new one to anything), a user namespace mapping root to the caller, /sys bound from
// the host (sysfs cannot be mounted without owning the network namespace), no uid=/gid= mount
// options (the ids may not be mapped), and no cgroup resources (the caller may not own any).
void make_rootless(Spec& s, uid_t uid, gid_t gid) {
  Linux& l = *s.linux;
  std::erase_if(l.namespaces, [](const Namespace& ns) {
    return ns.type == NamespaceType::Network || ns.type == NamespaceType::User;
  });
  l.namespaces.push_back({NamespaceType::User, ""});
  l.uid_mappings = {IdMapping{.container_id = 0, .host_id = uid, .size = 1}};
  l.gid_mappings = {IdMapping{.container_id = 0, .host_id = gid, .size = 1}};

  for (Mount& m : s.mounts) {
    if (m.destination == "/sys") {
      m = Mount{.destination = "/sys",
                .type = "none",
                .source = "/sys",
                .options = {"rbind", "nosuid", "noexec", "nodev", "ro"}};
      continue;
    }
    std::erase_if(m.options, [](const std::string& o) {
      return o.starts_with("uid=") || o.starts_with("gid=");
    });
  }
  l.resources.reset();
}

}  // namespace

Spec default_spec(bool rootless, uid_t uid, gid_t gid) {
  Spec s = base_spec();
  if (rootless) make_rootless(s, uid, gid);
  return s;
}

}  // namespace berth::oci
