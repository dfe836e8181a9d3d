// hooks: each of the six kinds runs at its point of the lifecycle, in order, with the state on
// stdin and its own env; a failing or timed-out hook fails the operation and leaves nothing.
#include <gmock/gmock.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

class HooksTest : public RuntimeTest {
 protected:
  void SetUp() override {
    RuntimeTest::SetUp();
    if (IsSkipped()) return;
    // The hook dir is bind-mounted at the same path inside the container, so hooks that run in
    // the container's mount namespace (createContainer, startContainer) write to the same files.
    hooks_ = MakeDir("hooks");
  }
  // A hook that appends its name to `order`, saves its stdin (the state) and its env.
  json MarkerHook(const std::string& name, std::vector<std::string> env = {}) {
    env.push_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
    env.push_back("HOOK_NAME=" + name);
    return {{"path", "/bin/sh"},
            {"args",
             {"sh", "-c",
              "cat > " + hooks_ + "/" + name + ".json; env > " + hooks_ + "/" + name +
                  ".env; echo " + name + " >> " + hooks_ + "/order"}},
            {"env", env}};
  }
  json WithHooks(json c) {
    c["mounts"].push_back({{"destination", hooks_},
                           {"type", "bind"},
                           {"source", hooks_},
                           {"options", {"rbind", "rw"}}});
    return c;
  }
  std::vector<std::string> Order() { return SplitLines(ReadFileOr(hooks_ + "/order")); }
  json HookState(const std::string& name) {
    return json::parse(ReadFileOr(hooks_ + "/" + name + ".json"), nullptr, false);
  }

  std::string hooks_;
};

TEST_F(HooksTest, AllHookKindsRunInLifecycleOrder) {
  SKIP_ON_RUNC(
      "runc 1.1 runs poststart hooks during create (before startContainer); runtime-spec "
      "says after the user process starts, before start returns");
  std::string id = NewId();
  json c = WithHooks(Config(id, {"sleep", "30"}));
  for (auto kind :
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"})
    c["hooks"][kind] = {MarkerHook(kind)};
  ExecResult cr = Create(id, c);
  ASSERT_EQ(cr.exit_code, 0) << Describe(cr);
  EXPECT_THAT(Order(), ElementsAre("prestart", "createRuntime", "createContainer"))
      << "after create";

  ExecResult st = Runtime({"start", id});
  ASSERT_EQ(st.exit_code, 0) << Describe(st);
  // Both have run by the time start returns.
  EXPECT_THAT(Order(), ElementsAre("prestart", "createRuntime", "createContainer", "startContainer",
                                   "poststart"))
      << "after start";

  ASSERT_EQ(Runtime({"kill", id, "KILL"}).exit_code, 0);
  ASSERT_TRUE(WaitForStatus(id, "stopped"));
  EXPECT_EQ(Order().size(), 5u) << "poststop must wait for delete";
  ExecResult d = Runtime({"delete", id});
  ASSERT_EQ(d.exit_code, 0) << Describe(d);
  EXPECT_THAT(Order(), ElementsAre("prestart", "createRuntime", "createContainer", "startContainer",
                                   "poststart", "poststop"));
}

TEST_F(HooksTest, CreateStartAndDeleteHooksRunAtTheirPhase) {
  // The same as above without poststart, so it holds for runc 1.1 too.
  std::string id = NewId();
  json c = WithHooks(Config(id, {"sleep", "30"}));
  for (auto kind : {"prestart", "createRuntime", "createContainer", "startContainer", "poststop"})
    c["hooks"][kind] = {MarkerHook(kind)};
  ExecResult cr = Create(id, c);
  ASSERT_EQ(cr.exit_code, 0) << Describe(cr);
  EXPECT_THAT(Order(), ElementsAre("prestart", "createRuntime", "createContainer"))
      << "after create";
  ExecResult st = Runtime({"start", id});
  ASSERT_EQ(st.exit_code, 0) << Describe(st);
  EXPECT_TRUE(WaitUntil([&] { return Order().size() >= 4; }, 3s));
  EXPECT_THAT(Order(),
              ElementsAre("prestart", "createRuntime", "createContainer", "startContainer"));
  ASSERT_EQ(Runtime({"kill", id, "KILL"}).exit_code, 0);
  ASSERT_TRUE(WaitForStatus(id, "stopped"));
  EXPECT_EQ(Order().size(), 4u) << "poststop must wait for delete";
  ASSERT_EQ(Runtime({"delete", id}).exit_code, 0);
  EXPECT_THAT(Order(), ElementsAre("prestart", "createRuntime", "createContainer", "startContainer",
                                   "poststop"));
}

TEST_F(HooksTest, HooksReceiveTheStateOnStdin) {
  std::string id = NewId();
  json c = WithHooks(Config(id, {"sleep", "30"}));
  for (auto kind :
       {"prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"})
    c["hooks"][kind] = {MarkerHook(kind)};
  CreateAndStart(id, c);
  ASSERT_TRUE(WaitUntil([&] { return Order().size() >= 5; }, 3s));
  pid_t pid = State(id)["pid"].get<pid_t>();
  ASSERT_EQ(Runtime({"delete", "--force", id}).exit_code, 0);

  // The status each kind sees (runtime-spec: creating/created/running/stopped); runc 1.1 passes
  // "created" to the create-phase hooks and to poststart (which it runs at create), "stopped" to
  // poststop.
  std::map<std::string, std::set<std::string>> statuses = {
      {"prestart", {"creating", "created"}},
      {"createRuntime", {"creating", "created"}},
      {"createContainer", {"creating", "created"}},
      {"startContainer", {"created", "running"}},
      {"poststart", {"running"}},
      {"poststop", {"stopped"}}};
  if (RuntimeIsRunc()) statuses["poststart"].insert("created");
  for (auto& [kind, allowed] : statuses) {
    SCOPED_TRACE(kind);
    json st = HookState(kind);
    ASSERT_TRUE(st.is_object()) << "hook stdin was not a JSON state: "
                                << ReadFileOr(hooks_ + "/" + kind + ".json");
    EXPECT_EQ(st["id"], id);
    EXPECT_TRUE(st["ociVersion"].is_string());
    EXPECT_EQ(st["bundle"], BundleDir(id));
    ASSERT_TRUE(st["status"].is_string());
    EXPECT_TRUE(allowed.count(st["status"].get<std::string>())) << "status " << st["status"];
    if (kind == "createContainer" || kind == "startContainer") {
      // Run inside the container: runc 1.1 reports the init's pid as seen there (1).
      EXPECT_TRUE(st["pid"] == pid || st["pid"] == 1) << st["pid"];
    } else if (kind != "poststop") {
      EXPECT_EQ(st["pid"], pid) << "pid of the container's init, as seen from the host";
    }
  }
}

TEST_F(HooksTest, HookGetsItsEnvAndArgs) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["hooks"]["createRuntime"] = {
      {{"path", "/bin/sh"},
       {"args",
        {"sh", "-c", "env > " + hooks_ + "/env; echo \"$0|$1|$2\" > " + hooks_ + "/args", "zero",
         "one", "two words"}},
       {"env", {"HOOK_VAR=hook value", "OTHER=1"}}}};
  ExecResult r = RunContainer(id, c);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto env = SplitLines(ReadFileOr(hooks_ + "/env"));
  EXPECT_THAT(env, ::testing::Contains("HOOK_VAR=hook value"));
  EXPECT_THAT(env, ::testing::Contains("OTHER=1"));
  // Only the hook's env: nothing leaks from the runtime's own environment.
  for (auto& kv : env) EXPECT_EQ(kv.rfind("BERTH_", 0), std::string::npos) << kv;
  EXPECT_EQ(ReadFileOr(hooks_ + "/args"), "zero|one|two words\n");
}

TEST_F(HooksTest, RunAlsoRunsPoststopHooks) {
  std::string id = NewId();
  json c = WithHooks(Config(id, {"true"}));
  for (auto kind : {"prestart", "createRuntime", "poststart", "poststop"})
    c["hooks"][kind] = {MarkerHook(kind)};
  ExecResult r = RunContainer(id, c);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(Order(), ElementsAre("prestart", "createRuntime", "poststart", "poststop"));
}

TEST_F(HooksTest, FailingPrestartHookFailsCreateAndLeavesNothing) {
  std::string id = NewId();
  std::string token = "77001" + std::to_string(getpid() % 1000);
  json c = WithHooks(Config(id, {"sleep", token}));
  c["hooks"]["prestart"] = {
      {{"path", "/bin/sh"}, {"args", {"sh", "-c", "echo hook-says-no >&2; exit 3"}}}};
  c["hooks"]["poststop"] = {MarkerHook("poststop")};
  size_t mounts_before = HostMountCount();
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  // runc: "error running hook #0: error running hook: exit status 3, stdout: , stderr:
  // hook-says-no"
  EXPECT_THAT(r.err, HasSubstr("hook"));
  EXPECT_THAT(r.err, HasSubstr("hook-says-no")) << "the hook's stderr belongs in the error";
  ExpectNoTrace(id);
  EXPECT_TRUE(WaitUntil([&] { return ProcessesWithArg(token).empty(); }, 3s))
      << "container process left behind";
  EXPECT_EQ(HostMountCount(), mounts_before);
  EXPECT_NE(Runtime({"state", id}).exit_code, 0);
}

TEST_F(HooksTest, AnInitKilledDuringAPrestartHookIsReportedAsSuch) {
  SKIP_ON_RUNC("the message is berth's");
  // The hook kills the init (its pid is in the state) while the init waits for HooksDone:
  // the runtime's send of HooksDone then fails, and what create reports is the init's end.
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["hooks"]["prestart"] = {
      {{"path", "/bin/sh"},
       {"args",
        {"sh", "-c",
         // ... and waits until it is a zombie: its end of the sync socket is closed then.
         "p=$(tr , '\\n' | grep '\"pid\"' | tr -dc 0-9); kill -9 $p; "
         "until grep -q '^[0-9]* ([^)]*) Z' /proc/$p/stat; do sleep 0.01; done"}}}};
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("container init exited before it was ready")) << Describe(r);
  EXPECT_THAT(r.err, Not(HasSubstr("broken pipe"))) << Describe(r);
  ExpectNoTrace(id);
}

TEST_F(HooksTest, FailingCreateRuntimeHookFailsCreate) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["hooks"]["createRuntime"] = {{{"path", "/bin/false"}}};
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  ExpectNoTrace(id);
}

TEST_F(HooksTest, FailingPoststartHookOnlyWarns) {
  SKIP_ON_RUNC(
      "runc 1.1 runs poststart at create and fails it; runtime-spec: a failing poststart hook "
      "is logged as a warning and the lifecycle continues");
  std::string id = NewId();
  json c = Config(id, {"sleep", "30"});
  c["hooks"]["poststart"] = {{{"path", "/bin/false"}}};
  ExecResult cr = Create(id, c);
  ASSERT_EQ(cr.exit_code, 0) << Describe(cr);
  ExecResult s = Runtime({"start", id});
  EXPECT_EQ(s.exit_code, 0) << Describe(s);
  EXPECT_EQ(Status(id), "running");
}

TEST_F(HooksTest, FailingPoststopHookDoesNotFailDelete) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["hooks"]["poststop"] = {{{"path", "/bin/false"}}};
  CreateAndStart(id, c);
  ASSERT_TRUE(WaitForStatus(id, "stopped"));
  ExecResult d = Runtime({"delete", id});
  EXPECT_EQ(d.exit_code, 0) << Describe(d);
  ExpectNoTrace(id);
}

TEST_F(HooksTest, HookThatOutlivesItsTimeoutFailsCreate) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["hooks"]["prestart"] = {{{"path", "/bin/sleep"}, {"args", {"sleep", "10"}}, {"timeout", 1}}};
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_LT(r.elapsed.count(), 5000) << "the hook was not killed at its timeout";
  EXPECT_THAT(r.err, HasSubstr("timeout"));
  ExpectNoTrace(id);
}

TEST_F(HooksTest, NonexistentHookPathFailsCreate) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["hooks"]["createRuntime"] = {{{"path", "/no/such/hook"}}};
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.err, HasSubstr("/no/such/hook"));
  ExpectNoTrace(id);
}

}  // namespace
}  // namespace berth::it
