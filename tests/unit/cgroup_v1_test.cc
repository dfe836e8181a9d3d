// The pure parts of the cgroup v1 implementation: mountinfo parsing and the devices cgroup model
// (which writes take a devices cgroup from what devices.list reports to what the rules say).
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "oci/spec.h"
#include "util/result.h"

namespace berth::runtime::cgroup::v1_internal {
// Defined in src/runtime/cgroup/v1.cc (not in a header: only this test uses them).
std::vector<std::pair<std::string, std::string>> parse_cgroup_mounts(std::string_view mountinfo);
Result<std::vector<std::string>> device_transition(std::string_view current,
                                                   const std::vector<oci::DeviceCgroupRule>& rules);
}  // namespace berth::runtime::cgroup::v1_internal

namespace berth::runtime::cgroup {
namespace {

using v1_internal::device_transition;
using v1_internal::parse_cgroup_mounts;
using Mounts = std::vector<std::pair<std::string, std::string>>;

TEST(CgroupV1Mounts, HybridHost) {
  const char* info =
      "25 30 0:23 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
      "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
      "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:9 - cgroup cgroup rw,cpu,cpuacct\n"
      "33 31 0:30 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
      "34 31 0:31 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset,clone_children\n"
      "40 31 0:37 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n"
      "41 31 0:38 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate\n"
      "42 31 0:39 / /sys/fs/cgroup/empty rw - cgroup cgroup rw,xattr\n";
  Mounts want = {{"/sys/fs/cgroup/cpu,cpuacct", "cpu,cpuacct"},
                 {"/sys/fs/cgroup/net_cls,net_prio", "net_cls,net_prio"},
                 {"/sys/fs/cgroup/cpuset", "cpuset"},
                 {"/sys/fs/cgroup/systemd", "name=systemd"},
                 {"/sys/fs/cgroup/unified", ""}};
  EXPECT_EQ(parse_cgroup_mounts(info), want);
}

TEST(CgroupV1Mounts, OptionalFieldsAndEscapedMountPoints) {
  const char* info =
      "50 31 0:40 / /tmp/my\\040cg/memory rw shared:1 master:2 - cgroup none rw,memory\n"
      "garbage line without separator\n"
      "51 31 0:41 / /x rw - cgroup\n";
  Mounts want = {{"/tmp/my cg/memory", "memory"}};
  EXPECT_EQ(parse_cgroup_mounts(info), want);
}

oci::DeviceCgroupRule Rule(bool allow, std::string type, std::optional<int64_t> major,
                           std::optional<int64_t> minor, std::string access) {
  return {allow, std::move(type), major, minor, std::move(access)};
}
oci::DeviceCgroupRule DenyAll() { return Rule(false, "", std::nullopt, std::nullopt, "rwm"); }

std::vector<std::string> Transition(std::string_view list,
                                    const std::vector<oci::DeviceCgroupRule>& rules) {
  auto r = device_transition(list, rules);
  EXPECT_TRUE(r) << r.error().what();
  return r ? *r : std::vector<std::string>{};
}

TEST(CgroupV1Devices, FreshCgroupGetsDenyAllThenAllows) {
  std::vector<std::string> want = {"deny a", "allow c 1:3 rwm", "allow c 1:5 rw",
                                   "allow c 136:* rwm"};
  EXPECT_EQ(Transition("a *:* rwm\n",
                       {DenyAll(), Rule(true, "c", 1, 3, "rwm"),
                        Rule(true, "c", 136, std::nullopt, "rwm"), Rule(true, "c", 1, 5, "rw")}),
            want);
}

TEST(CgroupV1Devices, EmptyAccessMeansRwmAndDuplicatesMerge) {
  std::vector<std::string> want = {"deny a", "allow c 1:3 rwm"};
  EXPECT_EQ(
      Transition("a *:* rwm", {DenyAll(), Rule(true, "c", 1, 3, "r"), Rule(true, "c", 1, 3, "")}),
      want);
}

TEST(CgroupV1Devices, UpdateWritesOnlyTheDifference) {
  // Already a whitelist with 1:3 rwm and 1:5 rwm; the target drops 1:5 and w of 1:3, adds 1:9.
  std::vector<std::string> want = {"deny c 1:3 w", "deny c 1:5 rwm", "allow c 1:9 rwm"};
  EXPECT_EQ(Transition("c 1:3 rwm\nc 1:5 rwm\n",
                       {DenyAll(), Rule(true, "c", 1, 3, "rm"), Rule(true, "c", 1, 9, "rwm")}),
            want);
  EXPECT_TRUE(Transition("c 1:3 rwm\n", {DenyAll(), Rule(true, "c", 1, 3, "rwm")}).empty());
}

TEST(CgroupV1Devices, RulesApplyInOrder) {
  // A later deny removes an earlier allow; a later deny-all forgets everything before it.
  std::vector<std::string> want = {"deny a", "allow b 8:0 r"};
  EXPECT_EQ(Transition("a *:* rwm",
                       {Rule(true, "c", 1, 3, "rwm"), Rule(false, "c", 1, 3, "rwm"),
                        Rule(true, "c", 1, 7, "rwm"), DenyAll(), Rule(true, "b", 8, 0, "r")}),
            want);
}

TEST(CgroupV1Devices, BlacklistTarget) {
  // allow-all, then deny one device: from a whitelist the mode flips first.
  std::vector<std::string> want = {"allow a", "deny c 10:200 rwm"};
  auto allow_all = Rule(true, "a", std::nullopt, std::nullopt, "rwm");
  EXPECT_EQ(Transition("c 1:3 rwm", {allow_all, Rule(false, "c", 10, 200, "rwm")}), want);
  // From a blacklist the exceptions are invisible, so the reset is written again.
  EXPECT_EQ(Transition("a *:* rwm", {allow_all, Rule(false, "c", 10, 200, "rwm")}), want);
}

TEST(CgroupV1Devices, NoRulesMeansDenyAll) {
  std::vector<std::string> want = {"deny a"};
  EXPECT_EQ(Transition("a *:* rwm", {DenyAll()}), want);
  EXPECT_EQ(Transition("c 1:3 rwm", {DenyAll()}), std::vector<std::string>{"deny c 1:3 rwm"});
}

TEST(CgroupV1Devices, CannotPunchAHoleInAWildcard) {
  auto r = device_transition("a *:* rwm", {DenyAll(), Rule(true, "c", 136, std::nullopt, "rwm"),
                                           Rule(false, "c", 136, 2, "w")});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().what().find("linux.resources.devices[2]"), std::string::npos)
      << r.error().what();
}

TEST(CgroupV1Devices, MalformedListIsAnError) {
  EXPECT_FALSE(device_transition("x 1:3 rwm\n", {DenyAll()}));
  EXPECT_FALSE(device_transition("c 13 rwm\n", {DenyAll()}));
}

}  // namespace
}  // namespace berth::runtime::cgroup
