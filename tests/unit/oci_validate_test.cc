// validate / validate_process: each check starts from a valid spec, breaks one thing, and expects
// an error that names the field.
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <sstream>

#include "oci/spec.h"

namespace berth::oci {
namespace {

Spec valid_spec() { return default_spec(false); }

// validate() of the default spec after `mutate`; "" when it is valid.
std::string error_after(const std::function<void(Spec&)>& mutate) {
  Spec s = valid_spec();
  mutate(s);
  Result<void> r = validate(s);
  return r ? "" : r.error().message();
}

Namespace* find_ns(Spec& s, NamespaceType t) {
  for (Namespace& ns : s.linux->namespaces)
    if (ns.type == t) return &ns;
  return nullptr;
}

void remove_ns(Spec& s, NamespaceType t) {
  std::erase_if(s.linux->namespaces, [t](const Namespace& ns) { return ns.type == t; });
}

void add_userns(Spec& s) {
  s.linux->namespaces.push_back({NamespaceType::User, ""});
  s.linux->uid_mappings = {{0, 100000, 65536}};
  s.linux->gid_mappings = {{0, 100000, 65536}};
}

TEST(OciValidate, DefaultSpecsAreValid) {
  EXPECT_TRUE(validate(default_spec(false)));
  Result<void> r = validate(default_spec(true, 1000, 1000));
  EXPECT_TRUE(r) << r.error().what();
}

TEST(OciValidate, FullConfigIsValid) {
  std::ifstream in(std::string(BERTH_TEST_DATA) + "/oci/full.json");
  std::stringstream ss;
  ss << in.rdbuf();
  Result<Spec> spec = parse_spec(ss.str());
  ASSERT_TRUE(spec) << spec.error().what();
  Result<void> r = validate(*spec);
  EXPECT_TRUE(r) << r.error().what();
}

TEST(OciValidate, Version) {
  EXPECT_EQ(error_after([](Spec& s) { s.oci_version = ""; }), "ociVersion: required");
  EXPECT_EQ(error_after([](Spec& s) { s.oci_version = "2.0.0"; }),
            "ociVersion: unsupported version \"2.0.0\" (berth supports 1.x)");
  EXPECT_EQ(error_after([](Spec& s) { s.oci_version = "10.0"; }),
            "ociVersion: unsupported version \"10.0\" (berth supports 1.x)");
  EXPECT_EQ(error_after([](Spec& s) { s.oci_version = "abc"; }),
            "ociVersion: \"abc\" is not a version");
  EXPECT_EQ(error_after([](Spec& s) { s.oci_version = "1x"; }),
            "ociVersion: \"1x\" is not a version");
  EXPECT_EQ(error_after([](Spec& s) { s.oci_version = "1.0.2-dev"; }), "");
  EXPECT_EQ(error_after([](Spec& s) { s.oci_version = "1.1.0-rc.1"; }), "");
}

TEST(OciValidate, RootAndProcessRequired) {
  EXPECT_EQ(error_after([](Spec& s) { s.root.path.clear(); }), "root.path: required");
  EXPECT_EQ(error_after([](Spec& s) { s.process.reset(); }), "process: required");
}

TEST(OciValidate, Process) {
  EXPECT_EQ(error_after([](Spec& s) { s.process->args.clear(); }),
            "process.args: must not be empty");
  EXPECT_EQ(error_after([](Spec& s) { s.process->args.push_back(std::string("a\0b", 3)); }),
            "process.args[1]: must not contain a NUL byte");
  EXPECT_EQ(error_after([](Spec& s) { s.process->cwd = "srv"; }),
            "process.cwd: \"srv\" must be an absolute path");
  EXPECT_EQ(error_after([](Spec& s) { s.process->cwd = ""; }),
            "process.cwd: \"\" must be an absolute path");
  EXPECT_EQ(error_after([](Spec& s) { s.process->env.push_back("FOO"); }),
            "process.env[2]: \"FOO\" must be of the form KEY=value");
  EXPECT_EQ(error_after([](Spec& s) { s.process->env.push_back("=x"); }),
            "process.env[2]: \"=x\" must be of the form KEY=value");
  EXPECT_EQ(error_after([](Spec& s) { s.process->env.push_back("A="); }), "");
  EXPECT_EQ(error_after([](Spec& s) { s.process->user.umask = 0777; }), "");
  EXPECT_EQ(error_after([](Spec& s) { s.process->user.umask = 01000; }),
            "process.user.umask: 512 out of range (0..0777)");
  EXPECT_EQ(error_after([](Spec& s) { s.process->oom_score_adj = 1001; }),
            "process.oomScoreAdj: 1001 out of range (-1000..1000)");
  EXPECT_EQ(error_after([](Spec& s) { s.process->oom_score_adj = -1000; }), "");
  EXPECT_EQ(error_after([](Spec& s) { s.process->apparmor_profile = std::string("a\0b", 3); }),
            "process.apparmorProfile: must not contain a NUL byte");
  EXPECT_EQ(error_after([](Spec& s) { s.process->selinux_label = std::string("a\0b", 3); }),
            "process.selinuxLabel: must not contain a NUL byte");
  EXPECT_EQ(error_after([](Spec& s) { s.linux->mount_label = std::string("a\0b", 3); }),
            "linux.mountLabel: must not contain a NUL byte");
}

TEST(OciValidate, Capabilities) {
  EXPECT_EQ(error_after([](Spec& s) { s.process->capabilities->bounding.push_back("CAP_FOO"); }),
            "process.capabilities.bounding[3]: unknown capability \"CAP_FOO\"");
  EXPECT_EQ(error_after([](Spec& s) { s.process->capabilities->effective.push_back("CAP_FOO"); }),
            "process.capabilities.effective[3]: unknown capability \"CAP_FOO\"");
  EXPECT_EQ(error_after([](Spec& s) { s.process->capabilities->inheritable = {"nope"}; }),
            "process.capabilities.inheritable[0]: unknown capability \"nope\"");
  EXPECT_EQ(error_after([](Spec& s) { s.process->capabilities->permitted.push_back(""); }),
            "process.capabilities.permitted[3]: unknown capability \"\"");
  EXPECT_EQ(error_after([](Spec& s) {
              s.process->capabilities->ambient = {"CAP_KILL", "CAP_X"};
            }),
            "process.capabilities.ambient[1]: unknown capability \"CAP_X\"");
  EXPECT_EQ(
      error_after([](Spec& s) { s.process->capabilities->ambient = {"CAP_CHECKPOINT_RESTORE"}; }),
      "");
}

TEST(OciValidate, Rlimits) {
  EXPECT_EQ(error_after([](Spec& s) {
              s.process->rlimits.push_back({"RLIMIT_FOO", 1, 1});
            }),
            "process.rlimits[1].type: unknown rlimit \"RLIMIT_FOO\"");
  EXPECT_EQ(error_after([](Spec& s) {
              s.process->rlimits.push_back({"RLIMIT_NOFILE", 1, 1});
            }),
            "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"");
  EXPECT_EQ(error_after([](Spec& s) { s.process->rlimits[0].soft = 2048; }),
            "process.rlimits[0]: soft limit 2048 is greater than hard limit 1024");
  EXPECT_EQ(error_after([](Spec& s) {
              s.process->rlimits.push_back({"RLIMIT_CORE", UINT64_MAX, 0});
            }),
            "");
}

TEST(OciValidate, IoPriorityAndScheduler) {
  EXPECT_EQ(error_after([](Spec& s) {
              s.process->io_priority = IoPriority{"IOPRIO_CLASS_X", 1};
            }),
            "process.ioPriority.class: unknown class \"IOPRIO_CLASS_X\"");
  EXPECT_EQ(error_after([](Spec& s) {
              s.process->io_priority = IoPriority{"IOPRIO_CLASS_RT", 8};
            }),
            "process.ioPriority.priority: 8 out of range (0..7)");
  EXPECT_EQ(error_after([](Spec& s) {
              s.process->io_priority = IoPriority{"IOPRIO_CLASS_IDLE", 7};
            }),
            "");
  auto sched = [](auto f) {
    return error_after([&](Spec& s) {
      s.process->scheduler.emplace().policy = "SCHED_OTHER";
      f(*s.process->scheduler);
    });
  };
  EXPECT_EQ(sched([](Scheduler& s) { s.policy = ""; }), "process.scheduler.policy: required");
  EXPECT_EQ(sched([](Scheduler& s) { s.policy = "SCHED_FAST"; }),
            "process.scheduler.policy: unknown policy \"SCHED_FAST\"");
  EXPECT_EQ(sched([](Scheduler& s) { s.nice = 20; }),
            "process.scheduler.nice: 20 out of range (-20..19)");
  EXPECT_EQ(sched([](Scheduler& s) { s.priority = 5; }),
            "process.scheduler.priority: only valid with SCHED_FIFO or SCHED_RR");
  EXPECT_EQ(sched([](Scheduler& s) {
              s.policy = "SCHED_RR";
              s.priority = 5;
            }),
            "");
  EXPECT_EQ(sched([](Scheduler& s) { s.runtime = 5; }),
            "process.scheduler: runtime, deadline and period are only valid with SCHED_DEADLINE");
  EXPECT_EQ(sched([](Scheduler& s) { s.flags = {"SCHED_FLAG_FOO"}; }),
            "process.scheduler.flags[0]: unknown flag \"SCHED_FLAG_FOO\"");
}

TEST(OciValidate, ValidateProcessForExec) {
  Process p;
  EXPECT_EQ(validate_process(p).error().message(), "process.args: must not be empty");
  p.args = {"ls"};
  EXPECT_TRUE(validate_process(p));
  p.env = {"NOEQUALS"};
  EXPECT_EQ(validate_process(p).error().message(),
            "process.env[0]: \"NOEQUALS\" must be of the form KEY=value");
}

TEST(OciValidate, HostnameNeedsUtsNamespace) {
  EXPECT_EQ(error_after([](Spec& s) { remove_ns(s, NamespaceType::Uts); }),
            "hostname: unable to set hostname without a private UTS namespace");
  EXPECT_EQ(error_after([](Spec& s) {
              remove_ns(s, NamespaceType::Uts);
              s.hostname.clear();
              s.domainname = "example.org";
            }),
            "domainname: unable to set domainname without a private UTS namespace");
  EXPECT_EQ(error_after([](Spec& s) { s.linux.reset(); }),
            "hostname: unable to set hostname without a private UTS namespace");
  EXPECT_EQ(error_after([](Spec& s) { find_ns(s, NamespaceType::Uts)->path = "/proc/1/ns/uts"; }),
            "");
  EXPECT_EQ(error_after([](Spec& s) { s.hostname = std::string(65, 'h'); }),
            "hostname: longer than 64 bytes");
}

TEST(OciValidate, MountDestinations) {
  auto with_dest = [](std::string dest) {
    return error_after(
        [&](Spec& s) { s.mounts.push_back({.destination = dest, .type = "tmpfs"}); });
  };
  EXPECT_EQ(with_dest("relative"), "mounts[7].destination: \"relative\" must be an absolute path");
  EXPECT_EQ(with_dest(""), "mounts[7].destination: required");
  EXPECT_EQ(with_dest("/a/../b"), "mounts[7].destination: \"/a/../b\" must not contain \"..\"");
  EXPECT_EQ(with_dest("/.."), "mounts[7].destination: \"/..\" must not contain \"..\"");
  EXPECT_EQ(with_dest("/proc/.."), "mounts[7].destination: \"/proc/..\" must not contain \"..\"");
  EXPECT_EQ(with_dest("/"), "mounts[7].destination: cannot mount over \"/\"");
  EXPECT_EQ(with_dest("//./"), "mounts[7].destination: cannot mount over \"/\"");
  EXPECT_EQ(with_dest(std::string("/a\0b", 4)),
            "mounts[7].destination: must not contain a NUL byte");
  EXPECT_EQ(with_dest("/a/..b/c.."), "");
  EXPECT_EQ(with_dest("/..."), "");
  EXPECT_EQ(error_after([](Spec& s) { s.mounts[2].options.push_back(std::string("x\0", 2)); }),
            "mounts[2].options[6]: must not contain a NUL byte");
  EXPECT_EQ(error_after([](Spec& s) {
              s.mounts[0].uid_mappings = {{0, 1000, 0}};
            }),
            "mounts[0].uidMappings[0].size: must be greater than 0");
}

TEST(OciValidate, Hooks) {
  auto with_hook = [](Hook h) {
    return error_after([&](Spec& s) { s.hooks.emplace().poststop.push_back(h); });
  };
  EXPECT_EQ(with_hook({.path = "hook"}),
            "hooks.poststop[0].path: \"hook\" must be an absolute path");
  EXPECT_EQ(with_hook({.path = ""}), "hooks.poststop[0].path: required");
  EXPECT_EQ(with_hook({.path = "/bin/h", .timeout = 0}),
            "hooks.poststop[0].timeout: must be positive, got 0");
  EXPECT_EQ(with_hook({.path = "/bin/h", .timeout = -3}),
            "hooks.poststop[0].timeout: must be positive, got -3");
  EXPECT_EQ(with_hook({.path = "/bin/h", .env = {"X"}}),
            "hooks.poststop[0].env[0]: \"X\" must be of the form KEY=value");
  EXPECT_EQ(with_hook({.path = "/bin/h", .args = {"h"}, .env = {"X=1"}, .timeout = 5}), "");
  EXPECT_EQ(error_after([](Spec& s) { s.hooks.emplace().prestart = {{.path = "x"}}; }),
            "hooks.prestart[0].path: \"x\" must be an absolute path");
  EXPECT_EQ(error_after([](Spec& s) { s.hooks.emplace().create_runtime = {{.path = "x"}}; }),
            "hooks.createRuntime[0].path: \"x\" must be an absolute path");
  EXPECT_EQ(error_after([](Spec& s) { s.hooks.emplace().create_container = {{.path = "x"}}; }),
            "hooks.createContainer[0].path: \"x\" must be an absolute path");
  EXPECT_EQ(error_after([](Spec& s) { s.hooks.emplace().start_container = {{.path = "x"}}; }),
            "hooks.startContainer[0].path: \"x\" must be an absolute path");
  EXPECT_EQ(error_after([](Spec& s) { s.hooks.emplace().poststart = {{.path = "x"}}; }),
            "hooks.poststart[0].path: \"x\" must be an absolute path");
}

TEST(OciValidate, Namespaces) {
  EXPECT_EQ(error_after([](Spec& s) {
              s.linux->namespaces.push_back({NamespaceType::Pid, ""});
            }),
            "linux.namespaces[6].type: duplicate namespace \"pid\"");
  EXPECT_EQ(error_after([](Spec& s) { s.linux->namespaces[0].path = "proc/1/ns/pid"; }),
            "linux.namespaces[0].path: \"proc/1/ns/pid\" must be an absolute path");
  EXPECT_EQ(error_after([](Spec& s) { s.linux->namespaces[0].path = "/proc/1/ns/pid"; }), "");
}

TEST(OciValidate, UserNamespaceMappings) {
  EXPECT_EQ(error_after(add_userns), "");
  EXPECT_EQ(error_after([](Spec& s) {
              add_userns(s);
              s.linux->uid_mappings.clear();
            }),
            "linux.uidMappings: a new user namespace needs at least one mapping");
  EXPECT_EQ(error_after([](Spec& s) {
              add_userns(s);
              s.linux->gid_mappings.clear();
            }),
            "linux.gidMappings: a new user namespace needs at least one mapping");
  EXPECT_EQ(
      error_after([](Spec& s) {
        s.linux->uid_mappings = {{0, 1000, 1}};
      }),
      "linux.uidMappings: user namespace mappings specified, but no user namespace is configured");
  EXPECT_EQ(
      error_after([](Spec& s) {
        s.linux->gid_mappings = {{0, 1000, 1}};
      }),
      "linux.gidMappings: user namespace mappings specified, but no user namespace is configured");
  // Joining a user namespace: its mappings already exist.
  EXPECT_EQ(error_after([](Spec& s) {
              s.linux->namespaces.push_back({NamespaceType::User, "/proc/7/ns/user"});
            }),
            "");
}

TEST(OciValidate, MappingRanges) {
  auto with_uid_maps = [](std::vector<IdMapping> m) {
    return error_after([&](Spec& s) {
      add_userns(s);
      s.linux->uid_mappings = m;
    });
  };
  EXPECT_EQ(with_uid_maps({{0, 1000, 0}}), "linux.uidMappings[0].size: must be greater than 0");
  EXPECT_EQ(with_uid_maps({{4294967295u, 1000, 2}}),
            "linux.uidMappings[0]: containerID 4294967295 + size 2 overflows 32 bits");
  EXPECT_EQ(with_uid_maps({{0, 4294967295u, 1}}), "");
  EXPECT_EQ(with_uid_maps({{0, 4294967295u, 4294967295u}}),
            "linux.uidMappings[0]: hostID 4294967295 + size 4294967295 overflows 32 bits");
  EXPECT_EQ(with_uid_maps({{0, 1000, 1}, {1, 2000, 10}, {5, 3000, 1}}),
            "linux.uidMappings[2]: overlaps linux.uidMappings[1]");
  EXPECT_EQ(with_uid_maps({{0, 1000, 10}, {10, 1005, 1}}),
            "linux.uidMappings[1]: overlaps linux.uidMappings[0]");
  EXPECT_EQ(with_uid_maps({{0, 1000, 10}, {10, 1010, 1}}), "");
  std::vector<IdMapping> many;
  for (uint32_t i = 0; i < 341; ++i) many.push_back({i, 1000 + i, 1});
  EXPECT_EQ(with_uid_maps(many),
            "linux.uidMappings: 341 mappings, more than the kernel's limit of 340");
  many.pop_back();
  EXPECT_EQ(with_uid_maps(many), "");
}

TEST(OciValidate, TimeOffsets) {
  EXPECT_EQ(
      error_after([](Spec& s) { s.linux->time_offsets_secs["monotonic"] = 5; }),
      "linux.timeOffsets: time namespace offsets specified, but no time namespace is configured");
  auto with_timens = [](auto f) {
    return error_after([&](Spec& s) {
      s.linux->namespaces.push_back({NamespaceType::Time, ""});
      f(*s.linux);
    });
  };
  EXPECT_EQ(with_timens([](Linux& l) { l.time_offsets_secs["monotonic"] = -5; }), "");
  EXPECT_EQ(with_timens([](Linux& l) { l.time_offsets_secs["realtime"] = 5; }),
            "linux.timeOffsets: unknown clock \"realtime\"");
  EXPECT_EQ(with_timens([](Linux& l) { l.time_offsets_nanosecs["boottime"] = 1000000000; }),
            "linux.timeOffsets.boottime.nanosecs: 1000000000 out of range (0..999999999)");
  EXPECT_EQ(with_timens([](Linux& l) {
              l.namespaces.back().path = "/proc/1/ns/time";
              l.time_offsets_secs["boottime"] = 1;
            }),
            "linux.timeOffsets: offsets can only be set on a new time namespace, not a joined one");
}

TEST(OciValidate, Sysctl) {
  auto with_sysctl = [](std::string key, auto f) {
    return error_after([&](Spec& s) {
      s.linux->sysctl[key] = "1";
      f(s);
    });
  };
  auto nothing = [](Spec&) {};
  EXPECT_EQ(with_sysctl("vm.swappiness", nothing),
            "linux.sysctl: \"vm.swappiness\" is not namespaced and cannot be set in a container");
  EXPECT_EQ(with_sysctl("kernel.pid_max", nothing),
            "linux.sysctl: \"kernel.pid_max\" is not namespaced and cannot be set in a container");
  for (const char* ipc :
       {"kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall",
        "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced", "fs.mqueue.msg_max"}) {
    EXPECT_EQ(with_sysctl(ipc, nothing), "") << ipc;
    EXPECT_EQ(
        with_sysctl(ipc, [](Spec& s) { remove_ns(s, NamespaceType::Ipc); }),
        "linux.sysctl: \"" + std::string(ipc) + "\" is not allowed in the host's IPC namespace");
  }
  EXPECT_EQ(with_sysctl("fs.file-max", nothing),
            "linux.sysctl: \"fs.file-max\" is not namespaced and cannot be set in a container");
  EXPECT_EQ(with_sysctl("net.ipv4.ip_forward", nothing), "");
  EXPECT_EQ(with_sysctl("net/ipv4/ip_forward", nothing), "");
  EXPECT_EQ(with_sysctl("net.ipv4.conf.eth0/100.rp_filter", nothing), "");
  EXPECT_EQ(
      with_sysctl("net.ipv4.ip_forward", [](Spec& s) { remove_ns(s, NamespaceType::Network); }),
      "linux.sysctl: \"net.ipv4.ip_forward\" is not allowed in the host's network namespace");
  EXPECT_EQ(
      with_sysctl("net.ipv4.ip_forward",
                  [](Spec& s) { find_ns(s, NamespaceType::Network)->path = "/var/run/netns/a"; }),
      "");
  EXPECT_EQ(with_sysctl("kernel.domainname", nothing), "");
  EXPECT_EQ(with_sysctl("kernel.hostname", nothing),
            "linux.sysctl: \"kernel.hostname\" conflicts with the \"hostname\" field");
  EXPECT_EQ(with_sysctl("kernel.hostname", [](Spec& s) { s.hostname.clear(); }), "");
  EXPECT_EQ(with_sysctl("kernel.domainname",
                        [](Spec& s) {
                          s.hostname.clear();
                          remove_ns(s, NamespaceType::Uts);
                        }),
            "linux.sysctl: \"kernel.domainname\" is not allowed in the host's UTS namespace");
  // Components are single names: no way out of the namespaced subtree.
  EXPECT_EQ(with_sysctl("net.//.vm.swappiness", nothing),
            "linux.sysctl: \"net.//.vm.swappiness\" is not a valid sysctl name");
  EXPECT_EQ(with_sysctl("net/../../vm/swappiness", nothing),
            "linux.sysctl: \"net/../../vm/swappiness\" is not a valid sysctl name");
  EXPECT_EQ(with_sysctl("net..ipv4", nothing),
            "linux.sysctl: \"net..ipv4\" is not a valid sysctl name");
  EXPECT_EQ(with_sysctl("", nothing), "linux.sysctl: \"\" is not a valid sysctl name");
  EXPECT_EQ(with_sysctl("net.ipv4 x", nothing),
            "linux.sysctl: \"net.ipv4 x\" is not a valid sysctl name");
}

TEST(OciValidate, Devices) {
  auto with_device = [](Device d) {
    return error_after([&](Spec& s) { s.linux->devices.push_back(d); });
  };
  EXPECT_EQ(with_device({.path = "/dev/fuse", .type = 'c', .major = 10, .minor = 229}), "");
  EXPECT_EQ(with_device({.path = "dev/fuse", .type = 'c'}),
            "linux.devices[0].path: \"dev/fuse\" must be an absolute path");
  EXPECT_EQ(with_device({.path = "/dev/../etc/shadow", .type = 'c'}),
            "linux.devices[0].path: \"/dev/../etc/shadow\" must not contain \"..\"");
  EXPECT_EQ(with_device({.path = "/", .type = 'c'}),
            "linux.devices[0].path: cannot create a device at \"/\"");
  EXPECT_EQ(with_device({.path = "/dev/x", .type = 'x'}),
            "linux.devices[0].type: unknown device type \"x\" (want c, b, u or p)");
  EXPECT_EQ(with_device({.path = "/dev/f", .type = 'p', .major = 1}),
            "linux.devices[0]: a fifo (type \"p\") must have major and minor 0");
  EXPECT_EQ(with_device({.path = "/dev/f", .type = 'p'}), "");
  EXPECT_EQ(with_device({.path = "/dev/x", .type = 'b', .major = -1}),
            "linux.devices[0].major: -1 out of range");
  EXPECT_EQ(with_device({.path = "/dev/x", .type = 'u', .minor = 1ll << 40}),
            "linux.devices[0].minor: 1099511627776 out of range");
}

TEST(OciValidate, Resources) {
  auto with_res = [](auto f) { return error_after([&](Spec& s) { f(*s.linux->resources); }); };
  EXPECT_EQ(with_res([](Resources& r) { r.devices.push_back({.allow = true, .type = "x"}); }),
            "linux.resources.devices[1].type: unknown device type \"x\" (want a, b or c)");
  EXPECT_EQ(with_res([](Resources& r) { r.devices.push_back({.allow = true, .access = "rwx"}); }),
            "linux.resources.devices[1].access: \"rwx\" must be made of r, w and m");
  EXPECT_EQ(with_res([](Resources& r) { r.devices.push_back({.allow = true, .major = -2}); }),
            "linux.resources.devices[1].major: -2 out of range");
  EXPECT_EQ(with_res([](Resources& r) { r.memory.emplace().swappiness = 101; }),
            "linux.resources.memory.swappiness: 101 out of range (0..100)");
  EXPECT_EQ(with_res([](Resources& r) { r.hugepage_limits.push_back({"2MB", 1}); }), "");
  EXPECT_EQ(
      with_res([](Resources& r) {
        r.hugepage_limits.push_back({"../../x", 1});
      }),
      "linux.resources.hugepageLimits[0].pageSize: \"../../x\" is not a page size like \"2MB\"");
  EXPECT_EQ(with_res([](Resources& r) {
              r.hugepage_limits.push_back({"2XB", 1});
            }),
            "linux.resources.hugepageLimits[0].pageSize: \"2XB\" is not a page size like \"2MB\"");
  EXPECT_EQ(with_res([](Resources& r) {
              r.network.emplace().priorities = {{"eth0\n", 1}};
            }),
            "linux.resources.network.priorities[0].name: \"eth0\\n\" is not an interface name");
  EXPECT_EQ(with_res([](Resources& r) { r.rdma["mlx5_1"] = {}; }),
            "linux.resources.rdma: \"mlx5_1\" needs hcaHandles or hcaObjects");
  EXPECT_EQ(with_res([](Resources& r) { r.rdma["../x"] = {.hca_handles = 1}; }),
            "linux.resources.rdma: \"../x\" is not a device name");
  EXPECT_EQ(with_res([](Resources& r) { r.unified["../cgroup.procs"] = "1"; }),
            "linux.resources.unified: \"../cgroup.procs\" is not a cgroup file name");
  EXPECT_EQ(with_res([](Resources& r) { r.unified[".."] = "1"; }),
            "linux.resources.unified: \"..\" is not a cgroup file name");
  EXPECT_EQ(with_res([](Resources& r) { r.unified["memory.max"] = "max"; }), "");
}

TEST(OciValidate, RootfsPropagation) {
  for (const char* p : {"", "shared", "slave", "private", "unbindable", "rshared", "rslave",
                        "rprivate", "runbindable"})
    EXPECT_EQ(error_after([&](Spec& s) { s.linux->rootfs_propagation = p; }), "") << p;
  EXPECT_EQ(error_after([](Spec& s) { s.linux->rootfs_propagation = "bogus"; }),
            "linux.rootfsPropagation: unknown propagation \"bogus\"");
}

TEST(OciValidate, Seccomp) {
  auto with_seccomp = [](auto f) {
    return error_after([&](Spec& s) {
      Seccomp& sc = s.linux->seccomp.emplace();
      sc.default_action = "SCMP_ACT_ERRNO";
      sc.syscalls = {{.names = {"read"}, .action = "SCMP_ACT_ALLOW"}};
      f(sc);
    });
  };
  EXPECT_EQ(with_seccomp([](Seccomp&) {}), "");
  EXPECT_EQ(with_seccomp([](Seccomp& s) { s.default_action = ""; }),
            "linux.seccomp.defaultAction: required");
  EXPECT_EQ(with_seccomp([](Seccomp& s) { s.default_action = "SCMP_ACT_FOO"; }),
            "linux.seccomp.defaultAction: unknown action \"SCMP_ACT_FOO\"");
  EXPECT_EQ(with_seccomp([](Seccomp& s) {
              s.default_action = "SCMP_ACT_NOTIFY";
              s.listener_path = "/run/agent.sock";
            }),
            "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action");
  EXPECT_EQ(with_seccomp([](Seccomp& s) {
              s.default_action = "SCMP_ACT_ALLOW";
              s.default_errno_ret = 1;
            }),
            "linux.seccomp.defaultErrnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
  EXPECT_EQ(with_seccomp([](Seccomp& s) {
              s.architectures = {"SCMP_ARCH_X86_64", "SCMP_ARCH_Z80"};
            }),
            "linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"");
  EXPECT_EQ(with_seccomp([](Seccomp& s) { s.flags = {"SECCOMP_FILTER_FLAG_FOO"}; }),
            "linux.seccomp.flags[0]: unknown flag \"SECCOMP_FILTER_FLAG_FOO\"");
  EXPECT_EQ(with_seccomp([](Seccomp& s) { s.listener_metadata = "m"; }),
            "linux.seccomp.listenerMetadata: set, but listenerPath is not");
  EXPECT_EQ(with_seccomp([](Seccomp& s) { s.syscalls[0].names.clear(); }),
            "linux.seccomp.syscalls[0].names: must not be empty");
  EXPECT_EQ(with_seccomp([](Seccomp& s) { s.syscalls[0].names.push_back(""); }),
            "linux.seccomp.syscalls[0].names[1]: must not be empty");
  EXPECT_EQ(with_seccomp([](Seccomp& s) { s.syscalls[0].action = "ALLOW"; }),
            "linux.seccomp.syscalls[0].action: unknown action \"ALLOW\"");
  EXPECT_EQ(with_seccomp([](Seccomp& s) { s.syscalls[0].action = "SCMP_ACT_NOTIFY"; }),
            "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used");
  EXPECT_EQ(with_seccomp([](Seccomp& s) {
              s.syscalls[0].action = "SCMP_ACT_NOTIFY";
              s.listener_path = "/run/agent.sock";
            }),
            "");
  EXPECT_EQ(with_seccomp([](Seccomp& s) { s.syscalls[0].errno_ret = 1; }),
            "linux.seccomp.syscalls[0].errnoRet: only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE");
  EXPECT_EQ(
      with_seccomp([](Seccomp& s) { s.syscalls[0].args = {{.index = 6, .op = "SCMP_CMP_EQ"}}; }),
      "linux.seccomp.syscalls[0].args[0].index: 6 out of range (0..5)");
  EXPECT_EQ(
      with_seccomp([](Seccomp& s) { s.syscalls[0].args = {{.index = 0, .op = "SCMP_CMP_XX"}}; }),
      "linux.seccomp.syscalls[0].args[0].op: unknown operator \"SCMP_CMP_XX\"");
  EXPECT_EQ(with_seccomp([](Seccomp& s) {
              s.syscalls[0].args.assign(7, {.index = 0, .op = "SCMP_CMP_EQ"});
            }),
            "linux.seccomp.syscalls[0].args: a syscall has at most 6 arguments");
}

TEST(OciValidate, MaskedAndReadonlyPaths) {
  EXPECT_EQ(error_after([](Spec& s) { s.linux->masked_paths.push_back("proc/kcore"); }),
            "linux.maskedPaths[11]: \"proc/kcore\" must be an absolute path");
  EXPECT_EQ(error_after([](Spec& s) { s.linux->readonly_paths[0] = "/proc/../etc"; }),
            "linux.readonlyPaths[0]: \"/proc/../etc\" must not contain \"..\"");
  EXPECT_EQ(error_after([](Spec& s) { remove_ns(s, NamespaceType::Mount); }),
            "linux.maskedPaths: unable to restrict paths without a private mount namespace");
}

TEST(OciValidate, Personality) {
  EXPECT_EQ(error_after([](Spec& s) { s.linux->personality = Personality{"LINUX32", {}}; }), "");
  EXPECT_EQ(error_after([](Spec& s) {
              s.linux->personality = Personality{"LINUX64", {}};
            }),
            "linux.personality.domain: unknown domain \"LINUX64\" (want LINUX or LINUX32)");
  EXPECT_EQ(error_after([](Spec& s) {
              s.linux->personality = Personality{"LINUX", {"ADDR_NO_RANDOMIZE"}};
            }),
            "linux.personality.flags: no flags are supported");
}

TEST(OciValidate, IntelRdtIsUnsupported) {
  Spec s = valid_spec();
  s.linux->intel_rdt = true;
  Result<void> r = validate(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind(), ErrorKind::Unsupported);
  EXPECT_EQ(r.error().message(), "linux.intelRdt: Intel RDT is not supported");
  s.linux->intel_rdt = false;
  s.linux->intel_rdt_clos_id = "gold";
  EXPECT_FALSE(validate(s));
}

TEST(OciValidate, CgroupsPath) {
  EXPECT_EQ(error_after([](Spec& s) { s.linux->cgroups_path = "/berth/abc"; }), "");
  EXPECT_EQ(error_after([](Spec& s) { s.linux->cgroups_path = "system.slice:berth:abc"; }), "");
  EXPECT_EQ(error_after([](Spec& s) { s.linux->cgroups_path = "../../x"; }),
            "linux.cgroupsPath: \"../../x\" must not contain \"..\"");
}

TEST(OciValidate, ErrorsAreInvalidArgument) {
  Spec s = valid_spec();
  s.process->cwd = "x";
  EXPECT_EQ(validate(s).error().kind(), ErrorKind::InvalidArgument);
}

}  // namespace
}  // namespace berth::oci
