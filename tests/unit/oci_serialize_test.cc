// to_json and default_spec: round trips, omitted optionals, and the `runc spec` defaults.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "oci/spec.h"

namespace berth::oci {
namespace {

using nlohmann::json;

std::string read_data(const std::string& name) {
  std::ifstream in(std::string(BERTH_TEST_DATA) + "/" + name, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// to_json -> parse_spec -> to_json is a fixed point, and the reparsed spec validates iff the
// original did. Returns the reparsed spec.
Spec round_trip(const Spec& s) {
  std::string text = to_json(s);
  Result<Spec> back = parse_spec(text);
  EXPECT_TRUE(back) << back.error().what() << "\n" << text;
  if (!back) return {};
  EXPECT_EQ(to_json(*back), text);
  EXPECT_EQ(validate(*back).has_value(), validate(s).has_value());
  return std::move(back).value();
}

TEST(OciSerialize, DefaultSpecRoundTrips) {
  Spec s = default_spec(false);
  Spec back = round_trip(s);
  ASSERT_TRUE(validate(back));
  EXPECT_EQ(back.oci_version, kSpecVersion);
  EXPECT_EQ(back.root.path, "rootfs");
  EXPECT_TRUE(back.root.readonly);
  EXPECT_EQ(back.hostname, "berth");
  ASSERT_TRUE(back.process);
  EXPECT_TRUE(back.process->terminal);
  EXPECT_EQ(back.process->args, s.process->args);
  EXPECT_EQ(back.process->env, s.process->env);
  EXPECT_EQ(back.process->cwd, "/");
  EXPECT_EQ(back.process->capabilities->bounding, s.process->capabilities->bounding);
  EXPECT_EQ(back.process->capabilities->effective, s.process->capabilities->effective);
  EXPECT_EQ(back.process->capabilities->permitted, s.process->capabilities->permitted);
  EXPECT_TRUE(back.process->capabilities->inheritable.empty());
  ASSERT_EQ(back.process->rlimits.size(), 1u);
  EXPECT_EQ(back.process->rlimits[0].type, "RLIMIT_NOFILE");
  EXPECT_TRUE(back.process->no_new_privileges);
  ASSERT_EQ(back.mounts.size(), s.mounts.size());
  for (size_t i = 0; i < s.mounts.size(); ++i) {
    EXPECT_EQ(back.mounts[i].destination, s.mounts[i].destination);
    EXPECT_EQ(back.mounts[i].type, s.mounts[i].type);
    EXPECT_EQ(back.mounts[i].source, s.mounts[i].source);
    EXPECT_EQ(back.mounts[i].options, s.mounts[i].options);
  }
  ASSERT_TRUE(back.linux);
  ASSERT_EQ(back.linux->namespaces.size(), s.linux->namespaces.size());
  for (size_t i = 0; i < s.linux->namespaces.size(); ++i)
    EXPECT_EQ(back.linux->namespaces[i].type, s.linux->namespaces[i].type);
  EXPECT_EQ(back.linux->masked_paths, s.linux->masked_paths);
  EXPECT_EQ(back.linux->readonly_paths, s.linux->readonly_paths);
  ASSERT_TRUE(back.linux->resources);
  ASSERT_EQ(back.linux->resources->devices.size(), 1u);
  EXPECT_FALSE(back.linux->resources->devices[0].allow);
  EXPECT_EQ(back.linux->resources->devices[0].access, "rwm");
}

TEST(OciSerialize, RootlessSpecRoundTrips) {
  Spec back = round_trip(default_spec(true, 1000, 1001));
  Result<void> r = validate(back);
  ASSERT_TRUE(r) << r.error().what();
  ASSERT_EQ(back.linux->uid_mappings.size(), 1u);
  EXPECT_EQ(back.linux->uid_mappings[0].host_id, 1000u);
  EXPECT_EQ(back.linux->gid_mappings[0].host_id, 1001u);
}

TEST(OciSerialize, FullConfigRoundTrips) {
  Result<Spec> s = parse_spec(read_data("oci/full.json"));
  ASSERT_TRUE(s) << s.error().what();
  Spec back = round_trip(*s);
  // Spot checks on fields that have their own encoding.
  EXPECT_EQ(back.linux->time_offsets_secs, s->linux->time_offsets_secs);
  EXPECT_EQ(back.linux->time_offsets_nanosecs, s->linux->time_offsets_nanosecs);
  EXPECT_EQ(back.linux->devices[2].type, 'p');
  EXPECT_EQ(back.linux->seccomp->syscalls[1].args[1].value_two, 8u);
  EXPECT_EQ(back.linux->resources->pids_limit, -1);
  EXPECT_EQ(back.linux->resources->network->priorities, s->linux->resources->network->priorities);
  EXPECT_EQ(back.linux->resources->rdma.size(), 2u);
  EXPECT_EQ(back.process->rlimits[1].hard, UINT64_MAX);
  EXPECT_EQ(back.process->user.umask, 18u);
  EXPECT_EQ(back.annotations, s->annotations);
  EXPECT_EQ(back.linux->sysctl, s->linux->sysctl);
  EXPECT_EQ(back.hooks->create_runtime[0].timeout, 10);
}

TEST(OciSerialize, IntelRdtPresenceRoundTrips) {
  Result<Spec> s = parse_spec(R"({"ociVersion": "1.2.0", "linux": {"intelRdt": {}}})");
  ASSERT_TRUE(s);
  Spec back = round_trip(*s);
  EXPECT_TRUE(back.linux->intel_rdt);
}

TEST(OciSerialize, AbsentOptionalsAreOmitted) {
  Spec s;
  s.oci_version = "1.2.0";
  json j = json::parse(to_json(s));
  EXPECT_EQ(j, json::parse(R"({"ociVersion": "1.2.0"})"));

  s.process.emplace().args = {"sh"};
  s.linux.emplace();
  j = json::parse(to_json(s));
  EXPECT_EQ(j["process"],
            json::parse(R"({"user": {"uid": 0, "gid": 0}, "args": ["sh"], "cwd": "/"})"));
  EXPECT_EQ(j["linux"], json::object());
  EXPECT_FALSE(j.contains("hooks"));
  EXPECT_FALSE(j.contains("root"));
  EXPECT_FALSE(j.contains("mounts"));

  s.process->capabilities.emplace();
  s.process->oom_score_adj = 0;
  s.linux->resources.emplace().memory.emplace().limit = 0;
  j = json::parse(to_json(s));
  EXPECT_EQ(j["process"]["capabilities"], json::object());  // present but empty stays present
  EXPECT_EQ(j["process"]["oomScoreAdj"], 0);                // set to zero is not absent
  EXPECT_EQ(j["linux"]["resources"], json::parse(R"({"memory": {"limit": 0}})"));
}

TEST(OciSerialize, FieldOrderAndIndent) {
  Spec s = default_spec(false);
  std::string two = to_json(s);
  EXPECT_EQ(two.rfind("{\n  \"ociVersion\": \"1.2.0\",\n  \"process\": {", 0), 0u)
      << two.substr(0, 80);
  std::string four = to_json(s, 4);
  EXPECT_EQ(four.rfind("{\n    \"ociVersion\"", 0), 0u);
  std::string compact = to_json(s, -1);
  EXPECT_EQ(compact.find('\n'), std::string::npos);
  EXPECT_EQ(json::parse(compact), json::parse(two));
}

TEST(OciSerialize, InvalidUtf8IsReplacedNotThrown) {
  Spec s = default_spec(false);
  s.hostname = "bad\xff";
  std::string text = to_json(s);
  EXPECT_NE(text.find("bad\xEF\xBF\xBD"), std::string::npos);
  EXPECT_TRUE(parse_spec(text));
}

TEST(OciSerialize, StringsAreEscaped) {
  Spec s = default_spec(false);
  s.process->args = {std::string("a\0b\"\n", 5)};
  Result<Spec> back = parse_spec(to_json(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->process->args[0], std::string("a\0b\"\n", 5));
}

// The defaults, field for field, against golden files reviewed against `runc spec` output.
TEST(OciDefaultSpec, MatchesGoldenFiles) {
  EXPECT_EQ(json::parse(to_json(default_spec(false))),
            json::parse(read_data("oci/default_spec.json")));
  EXPECT_EQ(json::parse(to_json(default_spec(true, 1000, 1000))),
            json::parse(read_data("oci/default_spec_rootless.json")));
}

TEST(OciDefaultSpec, LikeRuncSpec) {
  Spec s = default_spec(false);
  ASSERT_TRUE(s.process && s.linux);
  EXPECT_EQ(s.process->env, (std::vector<std::string>{
                                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                "TERM=xterm"}));
  std::vector<std::string> caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  EXPECT_EQ(s.process->capabilities->bounding, caps);
  EXPECT_EQ(s.process->capabilities->effective, caps);
  EXPECT_EQ(s.process->capabilities->permitted, caps);
  EXPECT_EQ(s.process->rlimits[0].hard, 1024u);
  EXPECT_EQ(s.process->rlimits[0].soft, 1024u);
  EXPECT_EQ(s.mounts[1].options,
            (std::vector<std::string>{"nosuid", "strictatime", "mode=755", "size=65536k"}));
  EXPECT_EQ(s.mounts[2].options, (std::vector<std::string>{"nosuid", "noexec", "newinstance",
                                                           "ptmxmode=0666", "mode=0620", "gid=5"}));
  EXPECT_EQ(s.mounts[5].destination, "/sys");
  EXPECT_EQ(s.mounts[5].type, "sysfs");
  EXPECT_EQ(s.mounts[6].type, "cgroup");
  EXPECT_EQ(s.mounts[6].options,
            (std::vector<std::string>{"nosuid", "noexec", "nodev", "relatime", "ro"}));
  std::vector<NamespaceType> ns;
  for (const Namespace& n : s.linux->namespaces) ns.push_back(n.type);
  EXPECT_EQ(ns, (std::vector<NamespaceType>{NamespaceType::Pid, NamespaceType::Network,
                                            NamespaceType::Ipc, NamespaceType::Uts,
                                            NamespaceType::Mount, NamespaceType::Cgroup}));
  EXPECT_TRUE(s.linux->uid_mappings.empty());
}

TEST(OciDefaultSpec, RootlessLikeRuncSpecRootless) {
  Spec s = default_spec(true, 1234, 5678);
  ASSERT_TRUE(s.linux);
  EXPECT_FALSE(s.linux->has_namespace(NamespaceType::Network));
  ASSERT_TRUE(s.linux->has_namespace(NamespaceType::User));
  EXPECT_EQ(s.linux->find_namespace(NamespaceType::User)->path, "");
  EXPECT_EQ(s.linux->namespaces.back().type, NamespaceType::User);
  ASSERT_EQ(s.linux->uid_mappings.size(), 1u);
  EXPECT_EQ(s.linux->uid_mappings[0].container_id, 0u);
  EXPECT_EQ(s.linux->uid_mappings[0].host_id, 1234u);
  EXPECT_EQ(s.linux->uid_mappings[0].size, 1u);
  EXPECT_EQ(s.linux->gid_mappings[0].host_id, 5678u);
  EXPECT_FALSE(s.linux->resources);
  const Mount& sys = s.mounts[5];
  EXPECT_EQ(sys.destination, "/sys");
  EXPECT_EQ(sys.type, "none");
  EXPECT_EQ(sys.source, "/sys");
  EXPECT_EQ(sys.options, (std::vector<std::string>{"rbind", "nosuid", "noexec", "nodev", "ro"}));
  // No uid=/gid= options: the ids may not be mapped.
  EXPECT_EQ(s.mounts[2].options, (std::vector<std::string>{"nosuid", "noexec", "newinstance",
                                                           "ptmxmode=0666", "mode=0620"}));
  // runc keeps the cgroup mount (with a cgroup namespace it is the container's own subtree).
  EXPECT_EQ(s.mounts[6].destination, "/sys/fs/cgroup");
}

}  // namespace
}  // namespace berth::oci
