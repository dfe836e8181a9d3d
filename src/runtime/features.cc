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
      {"hooks",
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"}},
      {"mountOptions",
       {"async",      "atime",       "bind",        "defaults",    "dev",          "diratime",
        "dirsync",    "exec",        "lazytime",    "mand",        "noatime",      "nodev",
        "nodiratime", "noexec",      "nolazytime",  "nomand",      "norelatime",   "nostrictatime",
        "nosuid",     "nosymfollow", "private",     "rbind",       "relatime",     "ro",
        "rprivate",   "rro",         "rrw",         "rshared",     "rslave",       "runbindable",
        "rw",         "shared",      "slave",       "strictatime", "suid",         "symfollow",
        "sync",       "unbindable",  "rnosuid",     "rsuid",       "rnodev",       "rdev",
        "rnoexec",    "rexec",       "rnodiratime", "rdiratime",   "rnosymfollow", "rsymfollow",
        "tmpcopyup"}},
      {"linux",
       {{"namespaces", {"cgroup", "ipc", "mount", "network", "pid", "time", "user", "uts"}},
        {"capabilities", caps},
        {"cgroup",
         {{"v1", true}, {"v2", true}, {"systemd", false}, {"systemdUser", false}, {"rdma", true}}},
        {"seccomp",
         {{"enabled", true},
          {"actions",
           {"SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO", "SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS",
            "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE",
            "SCMP_ACT_TRAP"}},
          {"operators",
           {"SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_LE", "SCMP_CMP_LT",
            "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE"}},
          {"archs",
           {"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64",
            "SCMP_ARCH_ARM"}},
          {"knownFlags",
           {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}},
          {"supportedFlags",
           {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
            "SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"}}}},
        {"apparmor", {{"enabled", false}}},
        {"selinux", {{"enabled", false}}},
        {"intelRdt", {{"enabled", false}}},
        {"mountExtensions", {{"idmap", {{"enabled", false}}}}}}},
      {"annotations", {{"org.berth.runtime.version", BERTH_VERSION}}},
  };
  return j.dump(4);
}

}  // namespace berth::runtime
