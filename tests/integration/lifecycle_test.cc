// The runtime-spec lifecycle through the CLI: create, state, start, kill, delete, list, ps, and the
// errors of each for wrong states and unknown ids.
#include <gmock/gmock.h>
#include <signal.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

class LifecycleTest : public RuntimeTest {
 protected:
  // A container whose /out is a host dir the test can watch.
  json WithOut(json c, const std::string& out) {
    c["mounts"].push_back(
        {{"destination", "/out"}, {"type", "bind"}, {"source", out}, {"options", {"rbind", "rw"}}});
    return c;
  }
};

TEST_F(LifecycleTest, CreateWritesPidFileAndStateIsCreated) {
  std::string id = NewId();
  std::string pid_file = tmp_ + "/init.pid";
  ExecResult r = Create(id, Config(id, {"sleep", "30"}), {"--pid-file", pid_file});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  json st = State(id);
  ASSERT_TRUE(st.is_object()) << "state printed no JSON object";
  EXPECT_TRUE(st["ociVersion"].is_string() && !st["ociVersion"].get<std::string>().empty())
      << st.dump();
  EXPECT_EQ(st["id"], id);
  EXPECT_EQ(st["status"], "created");
  ASSERT_TRUE(st["pid"].is_number_integer()) << st.dump();
  pid_t pid = st["pid"].get<pid_t>();
  EXPECT_GT(pid, 0);
  EXPECT_EQ(st["bundle"], BundleDir(id));
  EXPECT_EQ(Trim(ReadFileOr(pid_file)), std::to_string(pid)) << "--pid-file must hold the init pid";
  EXPECT_EQ(kill(pid, 0), 0) << "init process is not alive";
  EXPECT_FALSE(ProcessGone(pid));
}

TEST_F(LifecycleTest, StartMakesStateRunningWithTheSamePid) {
  std::string id = NewId();
  ASSERT_EQ(Create(id, Config(id, {"sleep", "30"})).exit_code, 0);
  json created = State(id);
  ExecResult s = Runtime({"start", id});
  ASSERT_EQ(s.exit_code, 0) << Describe(s);
  json st = State(id);
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st["status"], "running");
  EXPECT_EQ(st["pid"], created["pid"]);
  EXPECT_EQ(st["id"], id);
  EXPECT_EQ(ReadFileOr("/proc/" + std::to_string(st["pid"].get<int>()) + "/comm"), "sleep\n");
}

TEST_F(LifecycleTest, ProcessRunsOnlyAfterStart) {
  std::string out = MakeDir("out");
  std::string id = NewId();
  ASSERT_EQ(
      Create(id, WithOut(Config(id, {"sh", "-c", "echo started > /out/marker; sleep 30"}), out))
          .exit_code,
      0);
  usleep(300 * 1000);
  EXPECT_FALSE(PathExists(out + "/marker")) << "the process ran before start";
  EXPECT_EQ(Status(id), "created");
  ExecResult s = Runtime({"start", id});
  ASSERT_EQ(s.exit_code, 0) << Describe(s);
  EXPECT_TRUE(WaitUntil([&] { return ReadFileOr(out + "/marker") == "started\n"; }, 5s))
      << "start did not release the process";
}

TEST_F(LifecycleTest, ContainerStdoutAfterStartGoesToCreatesStdout) {
  std::string id = NewId();
  ExecResult c = Create(id, Config(id, {"sh", "-c", "echo hello-out; echo hello-err >&2"}));
  ASSERT_EQ(c.exit_code, 0) << Describe(c);
  ASSERT_EQ(Runtime({"start", id}).exit_code, 0);
  ASSERT_TRUE(WaitForStatus(id, "stopped"));
  EXPECT_EQ(ReadFileOr(c.out_path), "hello-out\n");
  EXPECT_THAT(ReadFileOr(c.err_path), HasSubstr("hello-err\n"));
}

TEST_F(LifecycleTest, StateIsStoppedAfterInitExitsAndDeleteRemovesIt) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "0.2"}));
  EXPECT_TRUE(WaitForStatus(id, "stopped", 5s)) << "status is " << Status(id);
  json st = State(id);
  EXPECT_EQ(st["id"], id);
  ExecResult d = Runtime({"delete", id});
  EXPECT_EQ(d.exit_code, 0) << Describe(d);
  ExecResult s = Runtime({"state", id});
  EXPECT_NE(s.exit_code, 0);
  EXPECT_THAT(s.err, HasSubstr("does not exist"));
  ExpectNoTrace(id);
}

TEST_F(LifecycleTest, KillAcceptsSignalNamesAndNumbers) {
  for (std::string sig : {"KILL", "SIGKILL", "9"}) {
    SCOPED_TRACE("kill " + sig);
    std::string id = NewId();
    CreateAndStart(id, Config(id, {"sleep", "30"}));
    pid_t pid = State(id)["pid"].get<pid_t>();
    ExecResult k = Runtime({"kill", id, sig});
    EXPECT_EQ(k.exit_code, 0) << Describe(k);
    EXPECT_TRUE(WaitForStatus(id, "stopped")) << "status is " << Status(id);
    EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }));
    EXPECT_EQ(Runtime({"delete", id}).exit_code, 0);
  }
}

TEST_F(LifecycleTest, KillDefaultsToSigterm) {
  std::string out = MakeDir("out");
  std::string id = NewId();
  CreateAndStart(
      id, WithOut(Config(id, {"sh", "-c",
                              "trap 'echo TERM > /out/got; exit 0' TERM; echo ready > /out/ready; "
                              "while :; do sleep 0.05; done"}),
                  out));
  ASSERT_TRUE(WaitUntil([&] { return PathExists(out + "/ready"); }))
      << "container never became ready";
  ExecResult k = Runtime({"kill", id});
  EXPECT_EQ(k.exit_code, 0) << Describe(k);
  EXPECT_TRUE(WaitForStatus(id, "stopped")) << "status is " << Status(id);
  EXPECT_EQ(ReadFileOr(out + "/got"), "TERM\n");
}

TEST_F(LifecycleTest, KillWithAnUnknownSignalFails) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  ExecResult k = Runtime({"kill", id, "SIGNOTASIGNAL"});
  EXPECT_NE(k.exit_code, 0) << Describe(k);
  EXPECT_EQ(Status(id), "running");
}

TEST_F(LifecycleTest, KillAStoppedContainerFails) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"true"}));
  ASSERT_TRUE(WaitForStatus(id, "stopped"));
  ExecResult k = Runtime({"kill", id, "KILL"});
  EXPECT_NE(k.exit_code, 0) << Describe(k);
  EXPECT_THAT(k.err, HasSubstr("not running"));  // runc: "container not running"
}

TEST_F(LifecycleTest, DeleteRunningContainerFailsWithoutForce) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  pid_t pid = State(id)["pid"].get<pid_t>();
  ExecResult d = Runtime({"delete", id});
  EXPECT_NE(d.exit_code, 0) << Describe(d);
  // runc: "cannot delete container <id> that is not stopped: running"
  EXPECT_THAT(d.err, HasSubstr("not stopped"));
  EXPECT_EQ(Status(id), "running");
  EXPECT_FALSE(ProcessGone(pid));

  ExecResult f = Runtime({"delete", "--force", id});
  EXPECT_EQ(f.exit_code, 0) << Describe(f);
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); })) << "init survived delete --force";
  EXPECT_NE(Runtime({"state", id}).exit_code, 0);
  ExpectNoTrace(id);
}

TEST_F(LifecycleTest, DeleteACreatedContainerKillsItsInit) {
  std::string id = NewId();
  ASSERT_EQ(Create(id, Config(id, {"sleep", "30"})).exit_code, 0);
  pid_t pid = State(id)["pid"].get<pid_t>();
  ExecResult d = Runtime({"delete", id});
  EXPECT_EQ(d.exit_code, 0) << Describe(d);
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }));
  ExpectNoTrace(id);
}

TEST_F(LifecycleTest, DeleteForceOfAnUnknownIdSucceeds) {
  ExecResult d = Runtime({"delete", "--force", "no-such-container"});
  EXPECT_EQ(d.exit_code, 0) << Describe(d);
}

TEST_F(LifecycleTest, CreatingAnExistingIdFails) {
  std::string id = NewId();
  ASSERT_EQ(Create(id, Config(id, {"sleep", "30"})).exit_code, 0);
  pid_t pid = State(id)["pid"].get<pid_t>();
  ExecResult again = Runtime({"create", "--bundle", BundleDir(id), id});
  EXPECT_NE(again.exit_code, 0) << Describe(again);
  // runc: "container with given ID already exists"
  EXPECT_THAT(again.err, HasSubstr("already exists"));
  json st = State(id);
  EXPECT_EQ(st["status"], "created") << "the first container must be untouched";
  EXPECT_EQ(st["pid"], pid);
}

TEST_F(LifecycleTest, StartingTwiceFails) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  ExecResult s = Runtime({"start", id});
  EXPECT_NE(s.exit_code, 0) << Describe(s);
  // runc: "cannot start an already running container"
  EXPECT_THAT(s.err, HasSubstr("running"));
  EXPECT_EQ(Status(id), "running");
}

TEST_F(LifecycleTest, StartingAStoppedContainerFails) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"true"}));
  ASSERT_TRUE(WaitForStatus(id, "stopped"));
  ExecResult s = Runtime({"start", id});
  EXPECT_NE(s.exit_code, 0) << Describe(s);
  // runc: "cannot start a container that has stopped"
  EXPECT_THAT(s.err, HasSubstr("stopped"));
}

TEST_F(LifecycleTest, OperationsOnAnUnknownIdFailWithDoesNotExist) {
  std::vector<std::vector<std::string>> cmds = {
      {"state", "ghost"},  {"start", "ghost"}, {"kill", "ghost", "KILL"},
      {"delete", "ghost"}, {"ps", "ghost"},    {"exec", "ghost", "true"},
      {"pause", "ghost"},  {"resume", "ghost"}};
  for (auto& cmd : cmds) {
    ExecResult r = Runtime(cmd);
    EXPECT_NE(r.exit_code, 0) << cmd[0] << ": " << Describe(r);
    // runc: "container does not exist"
    EXPECT_THAT(r.err, HasSubstr("does not exist")) << cmd[0];
  }
}

TEST_F(LifecycleTest, InvalidIdIsRejected) {
  for (std::string bad : {"../escape", "a/b", ".", ".."}) {
    SCOPED_TRACE(bad);
    std::string id = NewId();
    WriteBundle(id, Config(id, {"true"}));
    ExecResult r = Runtime({"create", "--bundle", BundleDir(id), bad});
    EXPECT_NE(r.exit_code, 0) << Describe(r);
    // runc: "invalid container ID format"
    EXPECT_THAT(r.err, HasSubstr("invalid"));
    EXPECT_FALSE(PathExists(tmp_ + "/escape"));
    EXPECT_FALSE(PathExists(root_ + "/a"));
  }
}

TEST_F(LifecycleTest, ListShowsTableQuietAndJson) {
  std::string created = NewId(), running = NewId();
  ASSERT_EQ(Create(created, Config(created, {"sleep", "30"})).exit_code, 0);
  CreateAndStart(running, Config(running, {"sleep", "30"}));
  json s_created = State(created), s_running = State(running);

  ExecResult t = Runtime({"list"});
  ASSERT_EQ(t.exit_code, 0) << Describe(t);
  auto lines = SplitLines(t.out);
  ASSERT_EQ(lines.size(), 3u) << t.out;
  EXPECT_EQ(SplitWs(lines[0]),
            (std::vector<std::string>{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}));
  // Columns are aligned: every header column starts where its values start.
  for (size_t i = 1; i < lines.size(); ++i) {
    auto f = SplitWs(lines[i]);
    ASSERT_EQ(f.size(), 6u) << lines[i];
    EXPECT_EQ(lines[i].find(f[2]), lines[0].find("STATUS")) << "misaligned: " << lines[i];
    json& st = f[0] == created ? s_created : s_running;
    EXPECT_EQ(f[0], st["id"]);
    EXPECT_EQ(f[1], std::to_string(st["pid"].get<int>()));
    EXPECT_EQ(f[2], f[0] == created ? "created" : "running");
    EXPECT_EQ(f[3], BundleDir(f[0]));
    EXPECT_EQ(f[4], st["created"]);
    EXPECT_EQ(f[5], "root");
  }
  // Rows are sorted by id? runc lists in directory order; only check both are present.
  EXPECT_THAT((std::vector<std::string>{SplitWs(lines[1])[0], SplitWs(lines[2])[0]}),
              UnorderedElementsAre(created, running));

  ExecResult q = Runtime({"list", "-q"});
  ASSERT_EQ(q.exit_code, 0) << Describe(q);
  EXPECT_THAT(SplitLines(q.out), UnorderedElementsAre(created, running));

  ExecResult j = Runtime({"list", "--format", "json"});
  ASSERT_EQ(j.exit_code, 0) << Describe(j);
  json arr = json::parse(j.out, nullptr, false);
  ASSERT_TRUE(arr.is_array()) << j.out;
  ASSERT_EQ(arr.size(), 2u);
  for (auto& e : arr) {
    std::string eid = e["id"];
    EXPECT_EQ(e["status"], eid == created ? "created" : "running");
    EXPECT_EQ(e["pid"], (eid == created ? s_created : s_running)["pid"]);
    EXPECT_EQ(e["bundle"], BundleDir(eid));
    EXPECT_TRUE(e["created"].is_string());
    EXPECT_EQ(e["owner"], "root");
  }
}

TEST_F(LifecycleTest, ListWithNoContainers) {
  ExecResult t = Runtime({"list"});
  ASSERT_EQ(t.exit_code, 0) << Describe(t);
  auto lines = SplitLines(t.out);
  ASSERT_EQ(lines.size(), 1u) << t.out;
  EXPECT_EQ(SplitWs(lines[0]),
            (std::vector<std::string>{"ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"}));
  ExecResult q = Runtime({"list", "-q"});
  EXPECT_EQ(q.out, "");
  ExecResult j = Runtime({"list", "--format", "json"});
  ASSERT_EQ(j.exit_code, 0);
  // runc prints `null` for no containers; `[]` is accepted too.
  EXPECT_TRUE(Trim(j.out) == "null" || Trim(j.out) == "[]") << j.out;
}

TEST_F(LifecycleTest, PsListsTheContainersProcesses) {
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sh", "-c", "sleep 30 & sleep 31; wait"}));
  pid_t init = State(id)["pid"].get<pid_t>();
  std::vector<json> pids;
  ASSERT_TRUE(WaitUntil([&] {
    ExecResult p = Runtime({"ps", "--format", "json", id});
    json arr = json::parse(p.out, nullptr, false);
    if (!arr.is_array() || arr.size() != 3) return false;
    pids.assign(arr.begin(), arr.end());
    return true;
  })) << "ps --format json never listed 3 processes";
  std::vector<json> want = {init};
  for (auto& p : pids) EXPECT_FALSE(ProcessGone(p.get<pid_t>())) << p;
  EXPECT_TRUE(std::find(pids.begin(), pids.end(), json(init)) != pids.end())
      << "init pid missing from ps";

  ExecResult table = Runtime({"ps", id});
  ASSERT_EQ(table.exit_code, 0) << Describe(table);
  auto lines = SplitLines(table.out);
  ASSERT_GE(lines.size(), 4u) << table.out;
  EXPECT_THAT(lines[0], HasSubstr("PID"));
  EXPECT_THAT(lines[0], HasSubstr("CMD"));
  EXPECT_THAT(table.out, HasSubstr("sleep 30"));
}

TEST_F(LifecycleTest, BundleDefaultsToTheCurrentDirectory) {
  std::string id = NewId();
  Track(id);
  std::string bundle = WriteBundle(id, Config(id, {"echo", "from cwd bundle"}));
  ExecResult r = Runtime({"run", id}, {.cwd = bundle});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "from cwd bundle\n");
}

TEST_F(LifecycleTest, RootDirIsCreatedWhenMissing) {
  std::string id = NewId();
  std::string nested = tmp_ + "/new/nested/root";
  WriteBundle(id, Config(id, {"sleep", "30"}));
  ExecResult r =
      Process::Spawn({RuntimePath(), "--root", nested, "create", "--bundle", BundleDir(id), id},
                     tmp_)
          .Wait();
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_TRUE(PathExists(nested + "/" + id));
  ExecResult d =
      Process::Spawn({RuntimePath(), "--root", nested, "delete", "--force", id}, tmp_).Wait();
  EXPECT_EQ(d.exit_code, 0) << Describe(d);
  EXPECT_FALSE(PathExists(nested + "/" + id));
}

}  // namespace
}  // namespace berth::it
