// parse_spec / parse_process: every field of tests/data/oci/full.json is read; every error names
// its field; hostile text is rejected without throwing.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "oci/spec.h"

namespace berth::oci {
namespace {

using nlohmann::json;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string full_config() { return read_text(std::string(BERTH_TEST_DATA) + "/oci/full.json"); }

json minimal() {
  return json::parse(R"({
    "ociVersion": "1.2.0",
    "root": {"path": "rootfs"},
    "process": {"args": ["sh"], "cwd": "/"},
    "linux": {"namespaces": [{"type": "mount"}]}
  })");
}

// The error of parse_spec on the minimal config with `pointer` set to `value`; "" if it parsed.
std::string error_with(const std::string& pointer, const json& value) {
  json j = minimal();
  j[json::json_pointer(pointer)] = value;
  Result<Spec> r = parse_spec(j.dump());
  if (r) return "";
  EXPECT_EQ(r.error().kind(), ErrorKind::InvalidArgument);
  return r.error().message();
}

std::string error_of(std::string_view text) {
  Result<Spec> r = parse_spec(text);
  return r ? "" : r.error().message();
}

TEST(OciParse, MinimalConfig) {
  Result<Spec> r = parse_spec(minimal().dump());
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->oci_version, "1.2.0");
  EXPECT_EQ(r->root.path, "rootfs");
  EXPECT_FALSE(r->root.readonly);
  ASSERT_TRUE(r->process);
  EXPECT_EQ(r->process->args, std::vector<std::string>{"sh"});
  EXPECT_FALSE(r->process->capabilities);
  EXPECT_FALSE(r->hooks);
  ASSERT_TRUE(r->linux);
  ASSERT_EQ(r->linux->namespaces.size(), 1u);
  EXPECT_EQ(r->linux->namespaces[0].type, NamespaceType::Mount);
  EXPECT_FALSE(r->linux->resources);
  EXPECT_FALSE(r->linux->seccomp);
  EXPECT_FALSE(r->linux->intel_rdt);
}

TEST(OciParse, FullConfigReadsEveryField) {
  Result<Spec> parsed = parse_spec(full_config());
  ASSERT_TRUE(parsed) << parsed.error().what();
  const Spec& s = *parsed;
  EXPECT_EQ(s.oci_version, "1.2.0");
  EXPECT_EQ(s.hostname, "web");
  EXPECT_EQ(s.domainname, "example.org");
  EXPECT_EQ(s.root.path, "rootfs");
  EXPECT_TRUE(s.root.readonly);

  ASSERT_TRUE(s.process);
  const Process& p = *s.process;
  EXPECT_TRUE(p.terminal);
  ASSERT_TRUE(p.console_size);
  EXPECT_EQ(p.console_size->height, 25u);
  EXPECT_EQ(p.console_size->width, 80u);
  EXPECT_EQ(p.user.uid, 1000u);
  EXPECT_EQ(p.user.gid, 1001u);
  EXPECT_EQ(p.user.umask, 18u);
  EXPECT_EQ(p.user.additional_gids, (std::vector<uint32_t>{5, 6}));
  EXPECT_EQ(p.user.username, "app");
  EXPECT_EQ(p.args, (std::vector<std::string>{"/bin/app", "--flag", "x y"}));
  EXPECT_EQ(p.command_line, "app.exe");
  EXPECT_EQ(p.env.size(), 3u);
  EXPECT_EQ(p.env[2], "EMPTY=");
  EXPECT_EQ(p.cwd, "/srv");
  ASSERT_TRUE(p.capabilities);
  EXPECT_EQ(p.capabilities->bounding, (std::vector<std::string>{"CAP_CHOWN", "CAP_KILL"}));
  EXPECT_EQ(p.capabilities->effective, std::vector<std::string>{"CAP_KILL"});
  EXPECT_EQ(p.capabilities->inheritable, std::vector<std::string>{"CAP_NET_RAW"});
  EXPECT_EQ(p.capabilities->permitted.size(), 2u);
  EXPECT_EQ(p.capabilities->ambient, std::vector<std::string>{"CAP_KILL"});
  ASSERT_EQ(p.rlimits.size(), 2u);
  EXPECT_EQ(p.rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_EQ(p.rlimits[0].hard, 4096u);
  EXPECT_EQ(p.rlimits[0].soft, 1024u);
  EXPECT_EQ(p.rlimits[1].hard, UINT64_MAX);
  EXPECT_TRUE(p.no_new_privileges);
  EXPECT_EQ(p.apparmor_profile, "berth-default");
  EXPECT_EQ(p.oom_score_adj, -500);
  ASSERT_TRUE(p.scheduler);
  EXPECT_EQ(p.scheduler->policy, "SCHED_DEADLINE");
  EXPECT_EQ(p.scheduler->nice, 0);
  EXPECT_FALSE(p.scheduler->priority);
  EXPECT_EQ(p.scheduler->flags, std::vector<std::string>{"SCHED_FLAG_RESET_ON_FORK"});
  EXPECT_EQ(p.scheduler->runtime, 1000000u);
  EXPECT_EQ(p.scheduler->deadline, 2000000u);
  EXPECT_EQ(p.scheduler->period, 3000000u);
  EXPECT_EQ(p.selinux_label, "system_u:system_r:container_t:s0");
  ASSERT_TRUE(p.io_priority);
  EXPECT_EQ(p.io_priority->klass, "IOPRIO_CLASS_BE");
  EXPECT_EQ(p.io_priority->priority, 4);

  ASSERT_EQ(s.mounts.size(), 3u);
  EXPECT_EQ(s.mounts[0].destination, "/proc");
  EXPECT_TRUE(s.mounts[0].options.empty());
  EXPECT_EQ(s.mounts[1].type, "bind");
  EXPECT_EQ(s.mounts[1].source, "/srv/data");
  EXPECT_EQ(s.mounts[1].options, (std::vector<std::string>{"rbind", "ro"}));
  ASSERT_EQ(s.mounts[1].uid_mappings.size(), 1u);
  EXPECT_EQ(s.mounts[1].uid_mappings[0].host_id, 100000u);
  EXPECT_EQ(s.mounts[1].gid_mappings[0].size, 65536u);

  ASSERT_TRUE(s.hooks);
  EXPECT_EQ(s.hooks->prestart.size(), 1u);
  ASSERT_EQ(s.hooks->create_runtime.size(), 1u);
  EXPECT_EQ(s.hooks->create_runtime[0].path, "/usr/bin/netns-setup");
  EXPECT_EQ(s.hooks->create_runtime[0].args, (std::vector<std::string>{"netns-setup", "up"}));
  EXPECT_EQ(s.hooks->create_runtime[0].env, std::vector<std::string>{"A=1"});
  EXPECT_EQ(s.hooks->create_runtime[0].timeout, 10);
  EXPECT_FALSE(s.hooks->prestart[0].timeout);
  EXPECT_EQ(s.hooks->create_container.size(), 1u);
  EXPECT_EQ(s.hooks->start_container[0].path, "/bin/sc");
  EXPECT_EQ(s.hooks->poststart[0].timeout, 3);
  EXPECT_EQ(s.hooks->poststop[0].args.size(), 2u);

  EXPECT_EQ(s.annotations.at("org.example.key"), "value");
  EXPECT_EQ(s.annotations.at("empty"), "");

  ASSERT_TRUE(s.linux);
  const Linux& l = *s.linux;
  ASSERT_EQ(l.namespaces.size(), 8u);
  EXPECT_EQ(l.namespaces[1].type, NamespaceType::Network);
  EXPECT_EQ(l.namespaces[1].path, "/var/run/netns/web");
  EXPECT_EQ(l.namespaces[7].type, NamespaceType::Time);
  EXPECT_EQ(l.uid_mappings.size(), 1u);
  EXPECT_EQ(l.gid_mappings[0].container_id, 0u);
  EXPECT_EQ(l.time_offsets_secs.at("monotonic"), -3600);
  EXPECT_EQ(l.time_offsets_nanosecs.at("monotonic"), 500u);
  EXPECT_EQ(l.time_offsets_secs.at("boottime"), 86400);
  EXPECT_EQ(l.time_offsets_nanosecs.count("boottime"), 0u);
  ASSERT_EQ(l.devices.size(), 3u);
  EXPECT_EQ(l.devices[0].path, "/dev/fuse");
  EXPECT_EQ(l.devices[0].type, 'c');
  EXPECT_EQ(l.devices[0].major, 10);
  EXPECT_EQ(l.devices[0].minor, 229);
  EXPECT_EQ(l.devices[0].file_mode, 438u);
  EXPECT_EQ(l.devices[0].uid, 0u);
  EXPECT_EQ(l.devices[1].type, 'b');
  EXPECT_FALSE(l.devices[1].file_mode);
  EXPECT_EQ(l.devices[2].type, 'p');
  EXPECT_EQ(l.cgroups_path, "/berth/web");

  ASSERT_TRUE(l.resources);
  const Resources& r = *l.resources;
  ASSERT_EQ(r.devices.size(), 2u);
  EXPECT_FALSE(r.devices[0].allow);
  EXPECT_EQ(r.devices[0].access, "rwm");
  EXPECT_FALSE(r.devices[0].major);
  EXPECT_TRUE(r.devices[1].allow);
  EXPECT_EQ(r.devices[1].type, "c");
  EXPECT_EQ(r.devices[1].major, 10);
  ASSERT_TRUE(r.memory);
  EXPECT_EQ(r.memory->limit, 536870912);
  EXPECT_EQ(r.memory->reservation, 268435456);
  EXPECT_EQ(r.memory->swap, 1073741824);
  EXPECT_EQ(r.memory->kernel, -1);
  EXPECT_EQ(r.memory->kernel_tcp, -1);
  EXPECT_EQ(r.memory->swappiness, 60u);
  EXPECT_EQ(r.memory->disable_oom_killer, false);
  EXPECT_EQ(r.memory->use_hierarchy, true);
  EXPECT_EQ(r.memory->check_before_update, true);
  ASSERT_TRUE(r.cpu);
  EXPECT_EQ(r.cpu->shares, 1024u);
  EXPECT_EQ(r.cpu->quota, 100000);
  EXPECT_EQ(r.cpu->burst, 5000u);
  EXPECT_EQ(r.cpu->period, 100000u);
  EXPECT_EQ(r.cpu->realtime_runtime, 950000);
  EXPECT_EQ(r.cpu->realtime_period, 1000000u);
  EXPECT_EQ(r.cpu->cpus, "0-3,7");
  EXPECT_EQ(r.cpu->mems, "0");
  EXPECT_EQ(r.cpu->idle, 0);
  EXPECT_EQ(r.pids_limit, -1);
  ASSERT_TRUE(r.block_io);
  EXPECT_EQ(r.block_io->weight, 500);
  EXPECT_EQ(r.block_io->leaf_weight, 300);
  ASSERT_EQ(r.block_io->weight_device.size(), 1u);
  EXPECT_EQ(r.block_io->weight_device[0].weight, 600);
  EXPECT_EQ(r.block_io->weight_device[0].leaf_weight, 200);
  EXPECT_EQ(r.block_io->throttle_read_bps[0].rate, 104857600u);
  EXPECT_EQ(r.block_io->throttle_write_bps[0].rate, 52428800u);
  EXPECT_EQ(r.block_io->throttle_read_iops[0].rate, 1000u);
  EXPECT_EQ(r.block_io->throttle_write_iops[0].major, 8);
  ASSERT_EQ(r.hugepage_limits.size(), 1u);
  EXPECT_EQ(r.hugepage_limits[0].page_size, "2MB");
  EXPECT_EQ(r.hugepage_limits[0].limit, 209715200u);
  ASSERT_TRUE(r.network);
  EXPECT_EQ(r.network->class_id, 1048577u);
  ASSERT_EQ(r.network->priorities.size(), 1u);
  EXPECT_EQ(r.network->priorities[0].first, "eth0");
  EXPECT_EQ(r.network->priorities[0].second, 500u);
  EXPECT_EQ(r.rdma.at("mlx5_1").hca_handles, 3u);
  EXPECT_EQ(r.rdma.at("mlx5_1").hca_objects, 10000u);
  EXPECT_FALSE(r.rdma.at("mlx4_0").hca_handles);
  EXPECT_EQ(r.unified.at("io.weight"), "default 100");

  EXPECT_EQ(l.rootfs_propagation, "rslave");
  ASSERT_TRUE(l.seccomp);
  const Seccomp& sc = *l.seccomp;
  EXPECT_EQ(sc.default_action, "SCMP_ACT_ERRNO");
  EXPECT_EQ(sc.default_errno_ret, 1u);
  EXPECT_EQ(sc.architectures.size(), 2u);
  EXPECT_EQ(sc.flags, std::vector<std::string>{"SECCOMP_FILTER_FLAG_LOG"});
  EXPECT_EQ(sc.listener_path, "/run/seccomp-agent.sock");
  EXPECT_EQ(sc.listener_metadata, "meta");
  ASSERT_EQ(sc.syscalls.size(), 4u);
  EXPECT_EQ(sc.syscalls[0].names, (std::vector<std::string>{"read", "write"}));
  ASSERT_EQ(sc.syscalls[1].args.size(), 2u);
  EXPECT_EQ(sc.syscalls[1].args[1].index, 1u);
  EXPECT_EQ(sc.syscalls[1].args[1].value, 255u);
  EXPECT_EQ(sc.syscalls[1].args[1].value_two, 8u);
  EXPECT_EQ(sc.syscalls[1].args[1].op, "SCMP_CMP_MASKED_EQ");
  EXPECT_EQ(sc.syscalls[2].errno_ret, 38u);
  EXPECT_EQ(l.sysctl.at("net.ipv4.ip_forward"), "1");
  EXPECT_EQ(l.sysctl.size(), 4u);
  EXPECT_EQ(l.masked_paths.size(), 2u);
  EXPECT_EQ(l.readonly_paths, std::vector<std::string>{"/proc/sys"});
  EXPECT_EQ(l.mount_label, "system_u:object_r:container_file_t:s0");
  ASSERT_TRUE(l.personality);
  EXPECT_EQ(l.personality->domain, "LINUX32");
  EXPECT_FALSE(l.intel_rdt);
}

struct FieldCase {
  const char* pointer;
  json value;
  const char* message;
};

TEST(OciParse, ErrorsNameTheField) {
  const FieldCase cases[] = {
      {"/ociVersion", 1, "ociVersion: must be a string, got 1"},
      {"/process", "sh", "process: must be an object, got string \"sh\""},
      {"/process/args", "sh", "process.args: must be an array, got string \"sh\""},
      {"/process/args", {"sh", 5}, "process.args[1]: must be a string, got 5"},
      {"/process/args", {"sh", nullptr}, "process.args[1]: must be a string, got null"},
      {"/process/terminal", "yes", "process.terminal: must be a boolean, got string \"yes\""},
      {"/process/noNewPrivileges", 1, "process.noNewPrivileges: must be a boolean, got 1"},
      {"/process/consoleSize", {{"height", 1}}, "process.consoleSize.width: required"},
      {"/process/consoleSize",
       {{"height", -1}, {"width", 1}},
       "process.consoleSize.height: must be an unsigned integer, got -1"},
      {"/process/user", 0, "process.user: must be an object, got 0"},
      {"/process/user/uid", 5000000000, "process.user.uid: 5000000000 out of range"},
      {"/process/user/uid", -1, "process.user.uid: must be an unsigned integer, got -1"},
      {"/process/user/uid", 1.5, "process.user.uid: must be an unsigned integer, got 1.5"},
      {"/process/user/uid", 1e30, "process.user.uid: 1e+30 out of range"},
      {"/process/user/gid", "0", "process.user.gid: must be an unsigned integer, got string \"0\""},
      {"/process/user/umask", true, "process.user.umask: must be an unsigned integer, got true"},
      {"/process/user/additionalGids",
       {1, -2},
       "process.user.additionalGids[1]: must be an unsigned integer, got -2"},
      {"/process/user/username", 3, "process.user.username: must be a string, got 3"},
      {"/process/env", {{{"PATH", "/bin"}}}, "process.env[0]: must be a string, got an object"},
      {"/process/cwd", json::array(), "process.cwd: must be a string, got an array"},
      {"/process/commandLine", 1, "process.commandLine: must be a string, got 1"},
      {"/process/capabilities",
       {{"bounding", {1}}},
       "process.capabilities.bounding[0]: must be a string, got 1"},
      {"/process/capabilities",
       {{"ambient", "CAP_KILL"}},
       "process.capabilities.ambient: must be an array, got string \"CAP_KILL\""},
      {"/process/rlimits",
       {{{"type", "RLIMIT_NOFILE"}, {"hard", 1}, {"soft", 1}},
        {{"type", "RLIMIT_CORE"}, {"hard", "x"}, {"soft", 0}}},
       "process.rlimits[1].hard: must be an unsigned integer, got string \"x\""},
      {"/process/rlimits",
       {{{"type", "RLIMIT_CORE"}, {"hard", -1}, {"soft", 0}}},
       "process.rlimits[0].hard: must be an unsigned integer, got -1"},
      {"/process/rlimits",
       {{{"type", "RLIMIT_CORE"}, {"hard", 1}}},
       "process.rlimits[0].soft: required"},
      {"/process/rlimits", {{{"hard", 1}, {"soft", 1}}}, "process.rlimits[0].type: required"},
      {"/process/oomScoreAdj", 3000000000, "process.oomScoreAdj: 3000000000 out of range"},
      {"/process/oomScoreAdj", -3000000000, "process.oomScoreAdj: -3000000000 out of range"},
      {"/process/apparmorProfile", false, "process.apparmorProfile: must be a string, got false"},
      {"/process/selinuxLabel", 0, "process.selinuxLabel: must be a string, got 0"},
      {"/process/ioPriority",
       {{"class", "IOPRIO_CLASS_BE"}},
       "process.ioPriority.priority: required"},
      {"/process/ioPriority",
       {{"class", 1}, {"priority", 1}},
       "process.ioPriority.class: must be a string, got 1"},
      {"/process/scheduler", {{"nice", 1}}, "process.scheduler.policy: required"},
      {"/process/scheduler",
       {{"policy", "SCHED_OTHER"}, {"nice", 2147483648}},
       "process.scheduler.nice: 2147483648 out of range"},
      {"/process/scheduler",
       {{"policy", "SCHED_DEADLINE"}, {"runtime", -5}},
       "process.scheduler.runtime: must be an unsigned integer, got -5"},
      {"/root", "rootfs", "root: must be an object, got string \"rootfs\""},
      {"/root/readonly", "true", "root.readonly: must be a boolean, got string \"true\""},
      {"/root/path", 1, "root.path: must be a string, got 1"},
      {"/hostname", 7, "hostname: must be a string, got 7"},
      {"/domainname", json::object(), "domainname: must be a string, got an object"},
      {"/mounts", json::object(), "mounts: must be an array, got an object"},
      {"/mounts",
       {{{"destination", "/a"}, {"options", "ro"}}},
       "mounts[0].options: must be an array, got string \"ro\""},
      {"/mounts", {{{"destination", 1}}}, "mounts[0].destination: must be a string, got 1"},
      {"/mounts",
       {{{"destination", "/a"}, {"uidMappings", {{{"containerID", 0}, {"hostID", 1}}}}}},
       "mounts[0].uidMappings[0].size: required"},
      {"/mounts", {"/proc"}, "mounts[0]: must be an object, got string \"/proc\""},
      {"/hooks", json::array(), "hooks: must be an object, got an array"},
      {"/hooks/poststop",
       {{{"path", "/x"}, {"timeout", "5"}}},
       "hooks.poststop[0].timeout: must be an integer, got string \"5\""},
      {"/hooks/createRuntime",
       {{{"path", 5}}},
       "hooks.createRuntime[0].path: must be a string, got 5"},
      {"/hooks/prestart",
       {{{"path", "/x"}, {"env", {1}}}},
       "hooks.prestart[0].env[0]: must be a string, got 1"},
      {"/annotations", {{"a", 1}}, "annotations.a: must be a string, got 1"},
      {"/annotations",
       {{"org.example/key", 1}},
       "annotations[\"org.example/key\"]: must be a string, got 1"},
      {"/linux", json::array(), "linux: must be an object, got an array"},
      {"/linux/namespaces",
       {{{"type", "pid"}}, {{"type", "ipc"}}, {{"type", "foo"}}},
       "linux.namespaces[2].type: unknown namespace \"foo\""},
      {"/linux/namespaces", {{{"path", "/proc/1/ns/net"}}}, "linux.namespaces[0].type: required"},
      {"/linux/namespaces",
       {{{"type", "NET"}}},
       "linux.namespaces[0].type: unknown namespace \"NET\""},
      {"/linux/namespaces",
       {{{"type", "pid"}, {"path", 1}}},
       "linux.namespaces[0].path: must be a string, got 1"},
      {"/linux/uidMappings",
       {{{"containerID", 0}, {"hostID", -1}, {"size", 1}}},
       "linux.uidMappings[0].hostID: must be an unsigned integer, got -1"},
      {"/linux/gidMappings",
       {{{"containerID", 4294967296}, {"hostID", 1}, {"size", 1}}},
       "linux.gidMappings[0].containerID: 4294967296 out of range"},
      {"/linux/timeOffsets",
       {{"monotonic", {{"secs", "1"}}}},
       "linux.timeOffsets.monotonic.secs: must be an integer, got string \"1\""},
      {"/linux/timeOffsets",
       {{"boottime", {{"nanosecs", -1}}}},
       "linux.timeOffsets.boottime.nanosecs: must be an unsigned integer, got -1"},
      {"/linux/timeOffsets",
       {{"boottime", 5}},
       "linux.timeOffsets.boottime: must be an object, got 5"},
      {"/linux/devices",
       {{{"path", "/dev/x"}, {"type", "cc"}}},
       "linux.devices[0].type: unknown device type \"cc\" (want c, b, u or p)"},
      {"/linux/devices", {{{"path", "/dev/x"}}}, "linux.devices[0].type: required"},
      {"/linux/devices",
       {{{"path", "/dev/x"}, {"type", "c"}, {"major", "1"}}},
       "linux.devices[0].major: must be an integer, got string \"1\""},
      {"/linux/devices",
       {{{"path", "/dev/x"}, {"type", "c"}, {"fileMode", -1}}},
       "linux.devices[0].fileMode: must be an unsigned integer, got -1"},
      {"/linux/cgroupsPath", false, "linux.cgroupsPath: must be a string, got false"},
      {"/linux/resources", 1, "linux.resources: must be an object, got 1"},
      {"/linux/resources/devices",
       {{{"access", "rwm"}}},
       "linux.resources.devices[0].allow: required"},
      {"/linux/resources/devices",
       {{{"allow", "no"}}},
       "linux.resources.devices[0].allow: must be a boolean, got string \"no\""},
      {"/linux/resources/memory/limit", "1g",
       "linux.resources.memory.limit: must be an integer, got string \"1g\""},
      {"/linux/resources/memory/swappiness", -1,
       "linux.resources.memory.swappiness: must be an unsigned integer, got -1"},
      {"/linux/resources/memory/disableOOMKiller", 0,
       "linux.resources.memory.disableOOMKiller: must be a boolean, got 0"},
      {"/linux/resources/cpu/shares", -5,
       "linux.resources.cpu.shares: must be an unsigned integer, got -5"},
      {"/linux/resources/cpu/quota", 9.5e18, "linux.resources.cpu.quota: 9.5e+18 out of range"},
      {"/linux/resources/cpu/cpus", 3, "linux.resources.cpu.cpus: must be a string, got 3"},
      {"/linux/resources/pids", 5, "linux.resources.pids: must be an object, got 5"},
      {"/linux/resources/pids/limit", "max",
       "linux.resources.pids.limit: must be an integer, got string \"max\""},
      {"/linux/resources/blockIO/weight", 70000,
       "linux.resources.blockIO.weight: 70000 out of range"},
      {"/linux/resources/blockIO/weightDevice",
       {{{"major", 8}, {"minor", 0}, {"weight", 65536}}},
       "linux.resources.blockIO.weightDevice[0].weight: 65536 out of range"},
      {"/linux/resources/blockIO/throttleReadBpsDevice",
       {{{"major", 8}, {"minor", 0}}},
       "linux.resources.blockIO.throttleReadBpsDevice[0].rate: required"},
      {"/linux/resources/blockIO/throttleWriteIOPSDevice",
       {{{"minor", 0}, {"rate", 1}}},
       "linux.resources.blockIO.throttleWriteIOPSDevice[0].major: required"},
      {"/linux/resources/hugepageLimits",
       {{{"pageSize", "2MB"}}},
       "linux.resources.hugepageLimits[0].limit: required"},
      {"/linux/resources/network/classID", -1,
       "linux.resources.network.classID: must be an unsigned integer, got -1"},
      {"/linux/resources/network/priorities",
       {{{"name", "eth0"}, {"priority", -1}}},
       "linux.resources.network.priorities[0].priority: must be an unsigned integer, got -1"},
      {"/linux/resources/rdma",
       {{"mlx5_1", {{"hcaHandles", "3"}}}},
       "linux.resources.rdma.mlx5_1.hcaHandles: must be an unsigned integer, got string \"3\""},
      {"/linux/resources/unified",
       {{"memory.max", 5}},
       "linux.resources.unified[\"memory.max\"]: must be a string, got 5"},
      {"/linux/rootfsPropagation", 1, "linux.rootfsPropagation: must be a string, got 1"},
      {"/linux/seccomp", "unconfined",
       "linux.seccomp: must be an object, got string \"unconfined\""},
      {"/linux/seccomp/defaultErrnoRet", -1,
       "linux.seccomp.defaultErrnoRet: must be an unsigned integer, got -1"},
      {"/linux/seccomp/syscalls",
       {{{"action", "SCMP_ACT_ALLOW"}}},
       "linux.seccomp.syscalls[0].names: required"},
      {"/linux/seccomp/syscalls",
       {{{"names", {"read"}}}},
       "linux.seccomp.syscalls[0].action: required"},
      {"/linux/seccomp/syscalls",
       {{{"names", {"read"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"args", {{{"index", 0}, {"value", -1}, {"op", "SCMP_CMP_EQ"}}}}}},
       "linux.seccomp.syscalls[0].args[0].value: must be an unsigned integer, got -1"},
      {"/linux/seccomp/syscalls",
       {{{"names", {"read"}},
         {"action", "SCMP_ACT_ALLOW"},
         {"args", {{{"index", 0}, {"value", 1}}}}}},
       "linux.seccomp.syscalls[0].args[0].op: required"},
      {"/linux/sysctl",
       {{"net.ipv4.ip_forward", 1}},
       "linux.sysctl[\"net.ipv4.ip_forward\"]: must be a string, got 1"},
      {"/linux/maskedPaths", {nullptr}, "linux.maskedPaths[0]: must be a string, got null"},
      {"/linux/readonlyPaths", "/proc",
       "linux.readonlyPaths: must be an array, got string \"/proc\""},
      {"/linux/mountLabel", 1, "linux.mountLabel: must be a string, got 1"},
      {"/linux/personality", {{"domain", 1}}, "linux.personality.domain: must be a string, got 1"},
      {"/linux/personality/flags", "x",
       "linux.personality.flags: must be an array, got string \"x\""},
      {"/linux/intelRdt", "x", "linux.intelRdt: must be an object, got string \"x\""},
      {"/linux/intelRdt", {{"closID", 5}}, "linux.intelRdt.closID: must be a string, got 5"},
  };
  for (const FieldCase& c : cases)
    EXPECT_EQ(error_with(c.pointer, c.value), c.message) << "at " << c.pointer;
}

TEST(OciParse, NullMeansAbsent) {
  Result<Spec> r = parse_spec(R"({"ociVersion": "1.0.0", "process": null, "hooks": null,
      "linux": {"namespaces": null, "resources": {"memory": null, "pids": null}}})");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_FALSE(r->process);
  EXPECT_FALSE(r->hooks);
  ASSERT_TRUE(r->linux);
  EXPECT_TRUE(r->linux->namespaces.empty());
  ASSERT_TRUE(r->linux->resources);
  EXPECT_FALSE(r->linux->resources->memory);
  EXPECT_FALSE(r->linux->resources->pids_limit);
}

TEST(OciParse, UnknownFieldsAreIgnored) {
  Result<Spec> r = parse_spec(R"({"ociVersion": "1.0.0", "vm": {"hypervisor": {}},
      "process": {"args": ["sh"], "execCPUAffinity": {"initial": "0"}, "x": [1, {"y": null}]},
      "linux": {"netDevices": {"eth0": {}}, "memoryPolicy": {"mode": "MPOL_BIND"}}})");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->process->args, std::vector<std::string>{"sh"});
}

TEST(OciParse, DuplicateKeysLastWins) {
  Result<Spec> r = parse_spec(R"({"hostname": "a", "ociVersion": "1.0.0", "hostname": "b"})");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->hostname, "b");
}

TEST(OciParse, ProcessCwdDefaultsToRoot) {
  Result<Spec> r = parse_spec(R"({"process": {"args": ["sh"]}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->process->cwd, "/");
}

TEST(OciParse, TimeOffsetClockWithoutFieldsIsKept) {
  Result<Spec> r = parse_spec(R"({"linux": {"timeOffsets": {"monotonic": {}}}})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->linux->time_offsets_secs.at("monotonic"), 0);
}

TEST(OciParse, IntelRdtPresenceIsRecorded) {
  Result<Spec> r = parse_spec(R"({"linux": {"intelRdt": {}}})");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->linux->intel_rdt);
  EXPECT_EQ(r->linux->intel_rdt_clos_id, "");
}

TEST(OciParse, IntegerLimits) {
  EXPECT_EQ(error_with("/process/rlimits",
                       {{{"type", "RLIMIT_CORE"}, {"hard", 18446744073709551615ull}, {"soft", 0}}}),
            "");
  EXPECT_EQ(error_with("/process/user/uid", 4294967295u), "");
  EXPECT_EQ(error_with("/process/oomScoreAdj", -2147483648ll), "");
  EXPECT_EQ(error_with("/linux/resources/cpu/quota", INT64_MIN), "");
  EXPECT_EQ(error_with("/linux/resources/cpu/quota", INT64_MAX), "");
  EXPECT_EQ(error_with("/linux/resources/blockIO/weight", 65535), "");
  // 2^64 does not fit any integer type: nlohmann reads it as a double.
  EXPECT_EQ(
      error_of(R"({"process": {"rlimits": [{"type": "RLIMIT_CORE", "hard": 18446744073709551616,
                         "soft": 0}]}})"),
      "process.rlimits[0].hard: 1.8446744073709552e+19 out of range");
  EXPECT_EQ(error_of(R"({"process": {"user": {"uid": 1.0}}})"),
            "process.user.uid: must be an unsigned integer, got 1.0");
  EXPECT_EQ(error_of(R"({"process": {"user": {"uid": -0.5}}})"),
            "process.user.uid: must be an unsigned integer, got -0.5");
  EXPECT_EQ(error_of(R"({"process": {"oomScoreAdj": 1e3}})"),
            "process.oomScoreAdj: must be an integer, got 1000.0");
}

TEST(OciParse, InvalidJson) {
  EXPECT_EQ(error_of("").rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(error_of("{").rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(error_of("{\"a\": 1,}").rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(error_of("{} {}").rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(error_of("{/* comment */}").rfind("invalid JSON: ", 0), 0u);
  EXPECT_NE(error_of(R"({"process": {"rlimits": [{"hard": 1e400}]}})").find("number overflow"),
            std::string::npos);
  EXPECT_EQ(error_of("[]"), "invalid config: must be a JSON object, got an array");
  EXPECT_EQ(error_of("\"x\""), "invalid config: must be a JSON object, got string \"x\"");
  EXPECT_EQ(error_of("null"), "invalid config: must be a JSON object, got null");
}

TEST(OciParse, InvalidUtf8IsRejectedAndNotEchoedRaw) {
  std::string text = "{\"hostname\": \"a\xff\xfe\"}";
  std::string m = error_of(text);
  EXPECT_EQ(m.rfind("invalid JSON: ", 0), 0u) << m;
  EXPECT_NE(m.find("UTF-8"), std::string::npos) << m;
  for (char c : m) EXPECT_LT(static_cast<unsigned char>(c), 0x80) << m;
}

TEST(OciParse, RawControlCharacterInString) {
  std::string text = "{\"hostname\": \"a\nb\"}";
  EXPECT_NE(error_of(text).find("control character"), std::string::npos) << error_of(text);
}

std::string nested(int depth) {
  std::string s = "{\"x\": ";
  s.append(depth, '[');
  s.append(depth, ']');
  s += "}";
  return s;
}

TEST(OciParse, DepthLimit) {
  EXPECT_EQ(error_of(nested(63)), "");  // 64 levels with the outer object
  EXPECT_EQ(error_of(nested(64)), "invalid JSON: nested deeper than 64 levels");
  EXPECT_EQ(error_of(nested(10000)), "invalid JSON: nested deeper than 64 levels");
  // Brackets inside strings do not count.
  std::string s = "{\"x\": \"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"}";
  EXPECT_EQ(error_of(s), "");
}

TEST(OciParse, SizeLimit) {
  std::string big = "{\"annotations\": {\"a\": \"" + std::string(16u << 20, 'x') + "\"}}";
  std::string m = error_of(big);
  EXPECT_NE(m.find("more than the limit"), std::string::npos) << m.substr(0, 200);
}

TEST(OciParse, LongValuesAreCutInMessages) {
  std::string m = error_with("/process/user/uid", std::string(100000, 'z'));
  EXPECT_LT(m.size(), 300u);
  EXPECT_NE(m.find("zzz\"..."), std::string::npos) << m;  // the cut is marked after the quote
}

TEST(OciParse, EveryPrefixOfAValidConfigFailsCleanly) {
  std::string text = full_config();
  ASSERT_FALSE(text.empty());
  for (size_t n = 0; n + 1 < text.size(); n += 7) {
    Result<Spec> r = parse_spec(std::string_view(text).substr(0, n));
    EXPECT_FALSE(r) << n;
  }
}

TEST(OciParseProcess, ParsesProcessJson) {
  Result<Process> r = parse_process(R"({"args": ["ls", "-l"], "cwd": "/tmp", "env": ["A=b"],
      "user": {"uid": 7}, "terminal": false, "capabilities": {"bounding": ["CAP_KILL"]}})");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(r->args, (std::vector<std::string>{"ls", "-l"}));
  EXPECT_EQ(r->cwd, "/tmp");
  EXPECT_EQ(r->user.uid, 7u);
  EXPECT_TRUE(validate_process(*r));
}

TEST(OciParseProcess, ErrorsNameTheField) {
  EXPECT_EQ(parse_process(R"({"args": [1]})").error().message(),
            "process.args[0]: must be a string, got 1");
  EXPECT_EQ(parse_process("[]").error().message(), "process: must be an object, got an array");
  EXPECT_EQ(parse_process(R"({"rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1, "soft": -1}]})")
                .error()
                .message(),
            "process.rlimits[0].soft: must be an unsigned integer, got -1");
  EXPECT_EQ(parse_process("{").error().message().rfind("invalid JSON: ", 0), 0u);
  EXPECT_EQ(parse_process(nested(100)).error().message(),
            "invalid JSON: nested deeper than 64 levels");
}

}  // namespace
}  // namespace berth::oci
