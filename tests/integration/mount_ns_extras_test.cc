// Paths of the runtime that the other suites do not reach: tmpfs "tmpcopyup", and a new pid
// namespace inside a user namespace joined by path (the init forks through an intermediate).
#include <gmock/gmock.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;

class ExtrasTest : public RuntimeTest {};

TEST_F(ExtrasTest, TmpcopyupStartsTheTmpfsWithTheDirectorysContent) {
  std::string id = NewId();
  json c = Config(id, {"sh", "-c",
                       "cat /etc/passwd | head -1; touch /etc/new && echo writable; "
                       "grep ' /etc ' /proc/self/mountinfo | grep -c tmpfs"});
  c["root"]["readonly"] = true;
  c["mounts"].push_back({{"destination", "/etc"},
                         {"type", "tmpfs"},
                         {"source", "tmpfs"},
                         {"options", {"tmpcopyup", "nosuid", "mode=755"}}});
  ExecResult r = RunContainer(id, c);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  EXPECT_THAT(lines[0], HasSubstr("root:x:0:0")) << "the image's /etc content was copied up";
  EXPECT_EQ(lines[1], "writable") << "a tmpfs over a read-only root";
  EXPECT_EQ(lines[2], "1");
  EXPECT_FALSE(PathExists(SharedRootfs() + "/etc/new")) << "writes land in the tmpfs only";
}

TEST_F(ExtrasTest, TmpcopyupOnANonTmpfsMountIsRefused) {
  if (RuntimeName() == "runc") GTEST_SKIP() << "berth's error message";
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["mounts"].push_back(
      {{"destination", "/mnt"}, {"type", "proc"}, {"source", "proc"}, {"options", {"tmpcopyup"}}});
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_THAT(r.err, HasSubstr("tmpcopyup is only for tmpfs mounts"));
  ExpectNoTrace(id);
}

TEST_F(ExtrasTest, NewPidNamespaceInsideAJoinedUserNamespace) {
  // Container A owns a user namespace; B joins it by path and still gets its own pid 1.
  if (RuntimeName() == "runc")
    GTEST_SKIP() << "runc 1.1 wants uid mappings even for a joined user namespace";
  std::string a = NewId();
  json ca = Config(a, {"sleep", "30"});
  ca["linux"]["namespaces"].push_back({{"type", "user"}});
  ca["linux"]["uidMappings"] = {{{"containerID", 0}, {"hostID", 0}, {"size", 65536}}};
  ca["linux"]["gidMappings"] = {{{"containerID", 0}, {"hostID", 0}, {"size", 65536}}};
  CreateAndStart(a, ca);
  pid_t a_init = State(a)["pid"].get<pid_t>();
  ASSERT_GT(a_init, 0);
  std::string b = NewId();
  json cb = Config(b, {"sh", "-c", "echo $$; readlink /proc/self/ns/user"});
  cb["linux"]["namespaces"].push_back(
      {{"type", "user"}, {"path", "/proc/" + std::to_string(a_init) + "/ns/user"}});
  ExecResult r = RunContainer(b, cb);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0], "1") << "pid 1 of its own pid namespace";
  char link[128] = {};
  std::string a_user = "/proc/" + std::to_string(a_init) + "/ns/user";
  ASSERT_GT(readlink(a_user.c_str(), link, sizeof link - 1), 0);
  EXPECT_EQ(lines[1], link) << "in A's user namespace";
}

}  // namespace
}  // namespace berth::it
