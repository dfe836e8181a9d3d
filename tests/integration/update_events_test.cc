// update and events: limits changed on a live container (read back from its cgroup), and the
// runc-format stats events engines parse.
#include <gmock/gmock.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;

class UpdateEventsTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    if (!PathExists("/sys/fs/cgroup/pids/cgroup.procs"))
      GTEST_SKIP() << "needs the cgroup v1 pids controller";
  }
  std::string Cg(const std::string& ctrl, const std::string& id, const std::string& file) {
    return "/sys/fs/cgroup/" + ctrl + "/berth-it-" + id + "/" + file;
  }
};

TEST_F(UpdateEventsTest, UpdateFlagsChangeTheLiveCgroup) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string id = NewId();
  json c = Config(id, {"sleep", "30"});
  c["linux"]["resources"]["pids"]["limit"] = 100;
  CreateAndStart(id, c);
  EXPECT_EQ(Trim(ReadFileOr(Cg("pids", id, "pids.max"))), "100");
  ExecResult u = Runtime({"update", "--pids-limit", "42", "--cpu-shares", "512", id});
  ASSERT_EQ(u.exit_code, 0) << Describe(u);
  EXPECT_EQ(Trim(ReadFileOr(Cg("pids", id, "pids.max"))), "42");
  EXPECT_EQ(Trim(ReadFileOr(Cg("cpu", id, "cpu.shares"))), "512");
}

TEST_F(UpdateEventsTest, UpdateFromAResourcesFileAndZeroMeansUnset) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  // docker sends zeros for what it does not set: they must not be written.
  std::string file = MakeDir("res") + "/r.json";
  WriteFile(file, R"({"pids":{"limit":33},"cpu":{"shares":0,"quota":0},"blockIO":{"weight":0}})");
  ExecResult u = Runtime({"update", "-r", file, id});
  ASSERT_EQ(u.exit_code, 0) << Describe(u);
  EXPECT_EQ(Trim(ReadFileOr(Cg("pids", id, "pids.max"))), "33");
  EXPECT_NE(Trim(ReadFileOr(Cg("cpu", id, "cpu.shares"))), "0");
}

TEST_F(UpdateEventsTest, UpdateWithABadValueNamesIt) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  ExecResult u = Runtime({"update", "--memory", "12zz", id});
  EXPECT_NE(u.exit_code, 0);
  EXPECT_THAT(u.err, HasSubstr("--memory"));
  ExecResult s = Runtime({"update", "--pids-limit", "5", "no-such-container"});
  EXPECT_NE(s.exit_code, 0);
  EXPECT_THAT(s.err, HasSubstr("does not exist"));
}

TEST_F(UpdateEventsTest, EventsStatsPrintsOneRuncStatsObject) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string id = NewId();
  json c = Config(id, {"sh", "-c", "sleep 30 & sleep 30"});
  c["linux"]["resources"]["pids"]["limit"] = 64;
  CreateAndStart(id, c);
  std::string current;
  ASSERT_TRUE(WaitUntil([&] {
    current = Trim(ReadFileOr(Cg("pids", id, "pids.current")));
    return !current.empty() && std::stoi(current) >= 2;
  }));
  ExecResult e = Runtime({"events", "--stats", id});
  ASSERT_EQ(e.exit_code, 0) << Describe(e);
  json ev = json::parse(e.out);
  EXPECT_EQ(ev["type"], "stats");
  EXPECT_EQ(ev["id"], id);
  EXPECT_EQ(ev["data"]["pids"]["current"], std::stoi(current));
  EXPECT_EQ(ev["data"]["pids"]["limit"], 64);
  EXPECT_GT(ev["data"]["memory"]["usage"]["usage"].get<uint64_t>(), 0u);
  EXPECT_TRUE(ev["data"]["cpu"]["usage"].contains("total"));
}

TEST_F(UpdateEventsTest, EventsStreamsUntilTheContainerStops) {
  SKIP_UNLESS_FEATURE(RuntimeSupportsCgroups(), "cgroup support");
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "1"}));
  ExecResult e = Runtime({"events", "--interval", "200ms", id});
  EXPECT_EQ(e.exit_code, 0) << Describe(e);
  size_t lines = 0;
  for (auto& l : SplitLines(e.out)) {
    if (l.empty()) continue;
    EXPECT_EQ(json::parse(l)["type"], "stats") << l;
    lines++;
  }
  EXPECT_GE(lines, 2u) << e.out;
}

}  // namespace
}  // namespace berth::it
