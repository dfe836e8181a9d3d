// linux.cgroupsPath resolution and the v2 value conversions (no cgroupfs needed).
#include <gtest/gtest.h>

#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/impl.h"
#include "runtime/cgroup/v2.h"

namespace berth::runtime::cgroup {
namespace {

std::string resolved(const std::string& p, const std::string& id = "c1") {
  auto r = resolve_path(p, id);
  EXPECT_TRUE(r.has_value()) << p << ": " << r.error().what();
  return r ? *r : std::string();
}

std::string error_of(const std::string& p, const std::string& id = "c1") {
  auto r = resolve_path(p, id);
  EXPECT_FALSE(r.has_value()) << p << " resolved to " << (r ? *r : "");
  return r ? std::string() : r.error().what();
}

TEST(CgroupPath, EmptyIsBerthId) {
  EXPECT_EQ(resolved("", "web"), "/berth/web");
  EXPECT_NE(error_of("", "a/b").find("container id \"a/b\""), std::string::npos);
  error_of("", "..");
  error_of("", "");
}

TEST(CgroupPath, AbsoluteIsCleaned) {
  EXPECT_EQ(resolved("/a/b"), "/a/b");
  EXPECT_EQ(resolved("//a///b/"), "/a/b");
  EXPECT_EQ(resolved("/a/./b/../c"), "/a/c");
  EXPECT_EQ(resolved("/machine.slice/libpod-1.scope"), "/machine.slice/libpod-1.scope");
}

TEST(CgroupPath, RelativeIsUnderTheRoot) {
  EXPECT_EQ(resolved("a/b"), "/a/b");
  EXPECT_EQ(resolved("docker/abc"), "/docker/abc");
  EXPECT_EQ(resolved("./x"), "/x");
}

TEST(CgroupPath, EscapeIsAnError) {
  for (const char* p : {"/..", "/../etc", "/a/../../b", "../x", "a/../../x"}) {
    std::string e = error_of(p);
    EXPECT_NE(e.find("linux.cgroupsPath"), std::string::npos) << e;
    EXPECT_NE(e.find(std::string("\"") + p + "\""), std::string::npos) << e;
  }
}

TEST(CgroupPath, RootIsAnError) {
  for (const char* p : {"/", "//", "/.", "/a/.."}) {
    std::string e = error_of(p);
    EXPECT_NE(e.find("root cgroup"), std::string::npos) << e;
  }
}

TEST(CgroupPath, SystemdStyle) {
  // podman: cgroupsPath "machine.slice:libpod:<id>"
  EXPECT_EQ(resolved("machine.slice:libpod:abc"), "/machine.slice/libpod-abc.scope");
  // docker with the systemd driver: "system.slice:docker:<id>"
  EXPECT_EQ(resolved("system.slice:docker:1234"), "/system.slice/docker-1234.scope");
  // nested slices expand like systemd does
  EXPECT_EQ(resolved("system-foo.slice:prefix:name"),
            "/system.slice/system-foo.slice/prefix-name.scope");
  EXPECT_EQ(resolved("a-b-c.slice:p:n"), "/a.slice/a-b.slice/a-b-c.slice/p-n.scope");
  // kubelet: pod slices
  EXPECT_EQ(resolved("kubepods-besteffort-pod1.slice:cri-containerd:c"),
            "/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice/"
            "cri-containerd-c.scope");
  // the root slice, the default slice, a slice as the name
  EXPECT_EQ(resolved("-.slice:p:n"), "/p-n.scope");
  EXPECT_EQ(resolved(":p:n"), "/system.slice/p-n.scope");
  EXPECT_EQ(resolved("user.slice:p:sub.slice"), "/user.slice/sub.slice");
}

TEST(CgroupPath, SystemdStyleErrors) {
  for (const char* p :
       {"machine:libpod:abc", "-a.slice:p:n", "a--b.slice:p:n", "a-.slice:p:n", ".slice:p:n",
        "machine.slice:libpod:", "machine.slice:a/b:c", "machine.slice:p:..", "x/y.slice:p:n"}) {
    std::string e = error_of(p);
    EXPECT_NE(e.find("linux.cgroupsPath"), std::string::npos) << p << ": " << e;
  }
}

TEST(CgroupPath, OtherColonCountsArePaths) {
  EXPECT_EQ(resolved("a:b"), "/a:b");
  EXPECT_EQ(resolved("a:b:c:d"), "/a:b:c:d");
  EXPECT_EQ(resolved("/a:b:c"), "/a:b:c");  // absolute: a path, even with two colons
}

TEST(CgroupPath, LayoutNames) {
  EXPECT_STREQ(layout_name(Layout::V1), "v1");
  EXPECT_STREQ(layout_name(Layout::Hybrid), "hybrid");
  EXPECT_STREQ(layout_name(Layout::V2), "v2");
}

TEST(CgroupV2Values, SharesToWeight) {
  EXPECT_EQ(cpu_shares_to_weight(0), 0u);  // unset
  EXPECT_EQ(cpu_shares_to_weight(1), 1u);
  EXPECT_EQ(cpu_shares_to_weight(2), 1u);
  EXPECT_EQ(cpu_shares_to_weight(1024), 100u);  // the defaults match
  EXPECT_EQ(cpu_shares_to_weight(262144), 10000u);
  EXPECT_EQ(cpu_shares_to_weight(1u << 20), 10000u);
  // Values crun and runc produce.
  EXPECT_EQ(cpu_shares_to_weight(512), 59u);
  EXPECT_EQ(cpu_shares_to_weight(2048), 174u);
  EXPECT_EQ(cpu_shares_to_weight(100), 17u);
  uint64_t prev = 0;
  for (uint64_t s = 2; s <= 262144; s += 97) {
    uint64_t w = cpu_shares_to_weight(s);
    EXPECT_GE(w, prev) << s;
    EXPECT_GE(w, 1u);
    EXPECT_LE(w, 10000u);
    prev = w;
  }
}

TEST(CgroupV2Values, BlkioWeight) {
  EXPECT_EQ(blkio_weight_to_io_weight(0), 0u);
  EXPECT_EQ(blkio_weight_to_io_weight(10), 1u);
  EXPECT_EQ(blkio_weight_to_io_weight(1000), 10000u);
  EXPECT_EQ(blkio_weight_to_io_weight(500), 4950u);
}

TEST(CgroupV2Values, Swap) {
  using O = std::optional<int64_t>;
  auto v = [](O swap, int64_t limit) {
    auto r = swap_max_value(swap, limit);
    EXPECT_TRUE(r.has_value()) << r.error().what();
    return r ? *r : O(-42);
  };
  EXPECT_EQ(v(std::nullopt, 0), std::nullopt);
  EXPECT_EQ(v(std::nullopt, 100), std::nullopt);
  EXPECT_EQ(v(std::nullopt, -1), O(-1));  // unlimited memory: unlimited swap
  EXPECT_EQ(v(0, -1), O(-1));
  EXPECT_EQ(v(-1, 100), O(-1));
  EXPECT_EQ(v(300, 100), O(200));  // memory+swap 300 = memory 100 + swap 200
  EXPECT_EQ(v(100, 100), O(0));    // no swap
  EXPECT_EQ(v(500, -1), O(500));
  auto e = swap_max_value(50, 100);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().what().find("linux.resources.memory.swap"), std::string::npos);
  EXPECT_FALSE(swap_max_value(50, 0));  // swap without a memory limit
  EXPECT_FALSE(swap_max_value(-5, 100));
}

}  // namespace
}  // namespace berth::runtime::cgroup
