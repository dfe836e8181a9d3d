// `features`: what this runtime implements, per the runtime-spec features document. Kept
// truthful: a field says true only for what create applies.
#include <nlohmann/json.hpp>

#include "runtime/container.h"

namespace berth::runtime {

std::string features_json() {
  using nlohmann::json;
  json caps = json::array();
  for (int c = 0; c <= oci::last_known_capability(); c++)
    caps.push_back(std::string(oci::capability_name(c)));
  json j = {
      {"ociVersionMin", "1.0.0"},
      {"ociVersionMax", oci::kSpecVersion},
      {"hooks", {"prestart", "createRuntime", "createContainer", "startContainer", "poststart",
                 "poststop"}},
      {"mountOptions",
       {"async", "atime", "bind", "defaults", "dev", "diratime", "dirsync", "exec", "lazytime",
        "mand", "noatime", "nodev", "nodiratime", "noexec", "nolazytime", "nomand",
        "norelatime", "nostrictatime", "nosuid", "nosymfollow", "private", "rbind", "relatime",
        "ro", "rprivate", "rro", "rrw", "rshared", "rslave", "runbindable", "rw", "shared",
        "slave", "strictatime", "suid", "symfollow", "sync", "unbindable", "rnosuid", "rsuid",
        "rnodev", "rdev", "rnoexec", "rexec", "rnodiratime", "rdiratime", "rnosymfollow",
        "rsymfollow", "tmpcopyup"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"capabilities", caps},
        {"cgroup", {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false},
                    {"rdma", true}}},
        {"seccomp", {{"enabled", false}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
      {"annotations", {{"org.berth.runtime.version", BERTH_VERSION}}},
  };
  return j.dump(4);
}

}  // namespace berth::runtime
