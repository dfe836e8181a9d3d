// The small lookups of spec.h: namespace flags and names, capabilities, rlimits.
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/resource.h>

#include "oci/spec.h"

namespace berth::oci {
namespace {

constexpr NamespaceType kAllNamespaces[] = {
    NamespaceType::Pid, NamespaceType::Network, NamespaceType::Mount,  NamespaceType::Ipc,
    NamespaceType::Uts, NamespaceType::User,    NamespaceType::Cgroup, NamespaceType::Time};

TEST(OciSpec, CloneFlags) {
  EXPECT_EQ(clone_flag(NamespaceType::Pid), CLONE_NEWPID);
  EXPECT_EQ(clone_flag(NamespaceType::Network), CLONE_NEWNET);
  EXPECT_EQ(clone_flag(NamespaceType::Mount), CLONE_NEWNS);
  EXPECT_EQ(clone_flag(NamespaceType::Ipc), CLONE_NEWIPC);
  EXPECT_EQ(clone_flag(NamespaceType::Uts), CLONE_NEWUTS);
  EXPECT_EQ(clone_flag(NamespaceType::User), CLONE_NEWUSER);
  EXPECT_EQ(clone_flag(NamespaceType::Cgroup), CLONE_NEWCGROUP);
  EXPECT_EQ(clone_flag(NamespaceType::Time), 0x80);
  int all = 0;
  for (NamespaceType t : kAllNamespaces) {
    EXPECT_EQ(all & clone_flag(t), 0) << json_name(t);
    all |= clone_flag(t);
  }
}

TEST(OciSpec, NamespaceNames) {
  const char* json[] = {"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"};
  const char* proc[] = {"pid", "net", "mnt", "ipc", "uts", "user", "cgroup", "time"};
  for (size_t i = 0; i < std::size(kAllNamespaces); ++i) {
    EXPECT_STREQ(json_name(kAllNamespaces[i]), json[i]);
    EXPECT_STREQ(proc_name(kAllNamespaces[i]), proc[i]);
  }
}

TEST(OciSpec, FindNamespace) {
  Linux l;
  EXPECT_FALSE(l.has_namespace(NamespaceType::Pid));
  EXPECT_EQ(l.find_namespace(NamespaceType::Pid), nullptr);
  l.namespaces = {{NamespaceType::Pid, ""}, {NamespaceType::Network, "/var/run/netns/x"}};
  EXPECT_TRUE(l.has_namespace(NamespaceType::Pid));
  EXPECT_TRUE(l.has_namespace(NamespaceType::Network));
  EXPECT_FALSE(l.has_namespace(NamespaceType::User));
  ASSERT_NE(l.find_namespace(NamespaceType::Network), nullptr);
  EXPECT_EQ(l.find_namespace(NamespaceType::Network)->path, "/var/run/netns/x");
  EXPECT_EQ(l.find_namespace(NamespaceType::Network), &l.namespaces[1]);
}

TEST(OciSpec, CapabilityNumbers) {
  EXPECT_EQ(capability_number("CAP_CHOWN"), 0);
  EXPECT_EQ(capability_number("CAP_SYS_ADMIN"), 21);
  EXPECT_EQ(capability_number("sys_admin"), 21);
  EXPECT_EQ(capability_number("SYS_ADMIN"), 21);
  EXPECT_EQ(capability_number("cap_sys_admin"), 21);
  EXPECT_EQ(capability_number("Cap_Sys_Admin"), 21);
  EXPECT_EQ(capability_number("CAP_NET_BIND_SERVICE"), 10);
  EXPECT_EQ(capability_number("CAP_AUDIT_WRITE"), 29);
  EXPECT_EQ(capability_number("CAP_PERFMON"), 38);
  EXPECT_EQ(capability_number("CAP_BPF"), 39);
  EXPECT_EQ(capability_number("CAP_CHECKPOINT_RESTORE"), 40);
  EXPECT_EQ(capability_number("checkpoint_restore"), 40);
  EXPECT_EQ(capability_number("CAP_FOO"), std::nullopt);
  EXPECT_EQ(capability_number(""), std::nullopt);
  EXPECT_EQ(capability_number("CAP_"), std::nullopt);
  EXPECT_EQ(capability_number("CAP_CAP_CHOWN"), std::nullopt);
  EXPECT_EQ(capability_number("CAP_SYS_ADMIN "), std::nullopt);
  EXPECT_EQ(capability_number(std::string_view("CAP_CHOWN\0", 10)), std::nullopt);
}

TEST(OciSpec, CapabilityNames) {
  EXPECT_EQ(last_known_capability(), 40);
  EXPECT_EQ(capability_name(21), "CAP_SYS_ADMIN");
  EXPECT_EQ(capability_name(40), "CAP_CHECKPOINT_RESTORE");
  EXPECT_EQ(capability_name(41), "");
  EXPECT_EQ(capability_name(-1), "");
  for (int i = 0; i <= last_known_capability(); ++i) {
    std::string_view name = capability_name(i);
    EXPECT_TRUE(name.starts_with("CAP_")) << i;
    EXPECT_EQ(capability_number(name), i) << name;
  }
}

TEST(OciSpec, RlimitNumbers) {
  const std::pair<const char*, int> all[] = {
      {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
      {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
      {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
      {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
      {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
      {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
      {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
      {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
  };
  for (const auto& [name, number] : all) EXPECT_EQ(rlimit_number(name), number) << name;
  EXPECT_EQ(rlimit_number("nofile"), RLIMIT_NOFILE);
  EXPECT_EQ(rlimit_number("NOFILE"), RLIMIT_NOFILE);
  EXPECT_EQ(rlimit_number("RLIMIT_FOO"), std::nullopt);
  EXPECT_EQ(rlimit_number(""), std::nullopt);
  EXPECT_EQ(rlimit_number("RLIMIT_"), std::nullopt);
}

TEST(OciSpec, QuoteForMessage) {
  EXPECT_EQ(quote_for_message("abc"), "\"abc\"");
  EXPECT_EQ(quote_for_message("a\"b\n"), "\"a\\\"b\\n\"");
  EXPECT_EQ(quote_for_message(std::string(128, 'x')), "\"" + std::string(128, 'x') + "\"");
  EXPECT_EQ(quote_for_message(std::string(129, 'x')), "\"" + std::string(128, 'x') + "\"...");
  // A 2-byte character straddling the cut is dropped whole.
  std::string s = std::string(127, 'x') + "\xC3\xA9" + "yyy";
  EXPECT_EQ(quote_for_message(s), "\"" + std::string(127, 'x') + "\"...");
}

}  // namespace
}  // namespace berth::oci
