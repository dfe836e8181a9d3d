// Global flags and small verbs that callers depend on: --log/--log-format json (containerd reads
// runc's errors from that file), spec, features, annotations in state, --no-pivot.
#include <gmock/gmock.h>
#include <signal.h>
#include <unistd.h>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::HasSubstr;

class CliTest : public RuntimeTest {};

TEST_F(CliTest, LogFormatJsonWritesErrorsToTheLogFile) {
  std::string id = NewId();
  std::string log = tmp_ + "/runtime-log.json";
  WriteBundle(id, Config(id, {"/nonexistent"}));
  Track(id);
  ExecResult r =
      Runtime({"--log", log, "--log-format", "json", "create", "--bundle", BundleDir(id), id});
  ASSERT_NE(r.exit_code, 0) << Describe(r);
  std::string text = ReadFileOr(log);
  ASSERT_FALSE(text.empty()) << "nothing written to --log";
  bool found = false;
  for (auto& line : SplitLines(text)) {
    if (line.empty()) continue;
    json j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << "log line is not JSON: " << line;
    EXPECT_TRUE(j.contains("level") && j.contains("msg") && j.contains("time")) << line;
    if (j["level"] == "error" &&
        j["msg"].get<std::string>().find("/nonexistent") != std::string::npos)
      found = true;
  }
  EXPECT_TRUE(found) << "no error entry naming /nonexistent in:\n" << text;
  ExpectNoTrace(id);
}

// create/run read their usual spellings without CLI11 (main.cc, parse_start_fast); what that
// reader does not take goes to CLI11, whose errors callers see.
TEST_F(CliTest, RunTakesRuncSpellingsAndOddOnesGetCli11Errors) {
  std::string id = NewId();
  WriteBundle(id, Config(id, {"sh", "-c", "echo spelled"}));
  Track(id);
  ExecResult r = Runtime({"run", "-bundle=" + BundleDir(id), id, "--no-new-keyring"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(Trim(r.out), "spelled");
  ExecResult twice = Runtime({"run", "-b", BundleDir(id), "--bundle", BundleDir(id), id});
  EXPECT_NE(twice.exit_code, 0) << Describe(twice);
  EXPECT_THAT(twice.err, HasSubstr("--bundle"));
  ExecResult no_id = Runtime({"run", "-b", BundleDir(id)});
  EXPECT_NE(no_id.exit_code, 0) << Describe(no_id);
  EXPECT_THAT(no_id.err, HasSubstr("id is required"));
  ExecResult keep = Runtime({"create", "--keep", "-b", BundleDir(id), id});
  EXPECT_NE(keep.exit_code, 0) << Describe(keep);
  EXPECT_THAT(keep.err, HasSubstr("--keep"));
  ExpectNoTrace(id);
}

TEST_F(CliTest, LogFileGetsTextByDefault) {
  std::string id = NewId();
  std::string log = tmp_ + "/runtime.log";
  WriteBundle(id, Config(id, {"/nonexistent"}));
  Track(id);
  ExecResult r = Runtime({"--log", log, "create", "--bundle", BundleDir(id), id});
  ASSERT_NE(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(ReadFileOr(log), HasSubstr("/nonexistent"));
}

TEST_F(CliTest, SpecWritesADefaultConfig) {
  std::string bundle = MakeDir("spec-bundle");
  ExecResult r = Runtime({"spec", "--bundle", bundle});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  json c = json::parse(ReadFileOr(bundle + "/config.json"), nullptr, false);
  ASSERT_TRUE(c.is_object()) << "spec wrote no valid config.json";
  EXPECT_TRUE(c["ociVersion"].is_string());
  EXPECT_EQ(c["root"]["path"], "rootfs");
  EXPECT_EQ(c["process"]["args"], json({"sh"}));
  EXPECT_EQ(c["process"]["terminal"], true);
  std::set<std::string> ns;
  for (auto& n : c["linux"]["namespaces"]) ns.insert(n["type"]);
  // runc 1.1: these five; a cgroup namespace is fine too (runc 1.2 adds it on cgroup v2 hosts).
  ns.erase("cgroup");
  EXPECT_EQ(ns, (std::set<std::string>{"pid", "network", "ipc", "uts", "mount"}));
  // A second spec refuses to overwrite it.
  ExecResult again = Runtime({"spec", "--bundle", bundle});
  EXPECT_NE(again.exit_code, 0) << Describe(again);
  EXPECT_THAT(again.err, HasSubstr("exists"));
}

TEST_F(CliTest, SpecOutputRunsWithARootfs) {
  // The default spec, with the busybox rootfs and no terminal, runs as-is.
  std::string bundle = MakeDir("spec-run");
  ASSERT_EQ(Runtime({"spec", "--bundle", bundle}).exit_code, 0);
  json c = json::parse(ReadFileOr(bundle + "/config.json"));
  c["root"]["path"] = SharedRootfs();
  c["root"]["readonly"] = false;
  c["process"]["terminal"] = false;
  c["process"]["args"] = {"sh", "-c", "echo from-spec"};
  WriteFile(bundle + "/config.json", c.dump());
  std::string id = NewId();
  ExecResult r = Runtime({"run", "--bundle", bundle, id});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "from-spec\n");
}

TEST_F(CliTest, FeaturesPrintsJson) {
  ExecResult r = Runtime({"features"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  json f = json::parse(r.out, nullptr, false);
  ASSERT_TRUE(f.is_object()) << r.out;
  EXPECT_TRUE(f["ociVersionMin"].is_string());
  EXPECT_TRUE(f["ociVersionMax"].is_string());
  std::set<std::string> hooks;
  for (auto& h : f["hooks"]) hooks.insert(h);
  EXPECT_EQ(hooks, (std::set<std::string>{"prestart", "createRuntime", "createContainer",
                                          "startContainer", "poststart", "poststop"}));
  std::set<std::string> ns;
  for (auto& n : f["linux"]["namespaces"]) ns.insert(n);
  for (auto want : {"pid", "network", "ipc", "uts", "mount", "user", "cgroup"})
    EXPECT_TRUE(ns.count(want)) << want;
}

TEST_F(CliTest, VersionPrintsTheSpecVersion) {
  ExecResult r = Runtime({"--version"});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, HasSubstr("version"));
  EXPECT_THAT(r.out, HasSubstr("spec: 1."));
}

TEST_F(CliTest, UnknownCommandFails) {
  ExecResult r = Runtime({"no-such-verb"});
  EXPECT_NE(r.exit_code, 0) << Describe(r);
}

TEST_F(CliTest, StateIncludesAnnotations) {
  std::string id = NewId();
  json c = Config(id, {"sleep", "30"});
  c["annotations"] = {{"org.example.key", "value"}, {"io.berth.test", "1"}};
  ASSERT_EQ(Create(id, c).exit_code, 0);
  json st = State(id);
  ASSERT_TRUE(st.is_object());
  EXPECT_EQ(st["annotations"], c["annotations"]);
}

TEST_F(CliTest, StateCreatedIsAnRfc3339Timestamp) {
  std::string id = NewId();
  ASSERT_EQ(Create(id, Config(id, {"sleep", "30"})).exit_code, 0);
  json st = State(id);
  ASSERT_TRUE(st["created"].is_string()) << st.dump();
  std::string created = st["created"];
  // 2026-11-22T05:35:58.975420775Z
  ASSERT_GE(created.size(), 20u) << created;
  EXPECT_EQ(created[4], '-');
  EXPECT_EQ(created[7], '-');
  EXPECT_EQ(created[10], 'T');
  EXPECT_EQ(created[13], ':');
  EXPECT_EQ(created.back(), 'Z') << created;
  time_t now = time(nullptr);
  struct tm tm {};
  ASSERT_NE(strptime(created.c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr) << created;
  EXPECT_LT(std::abs(static_cast<long>(timegm(&tm) - now)), 60L)
      << "created is not now: " << created;
}

TEST_F(CliTest, RunWithNoPivot) {
  std::string id = NewId();
  ExecResult r = RunContainer(
      id, Config(id, {"sh", "-c", "cat /proc/self/mountinfo | wc -l >/dev/null; echo ok"}),
      {"--no-pivot"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(r.out, "ok\n");
}

TEST_F(CliTest, RunWithPidFile) {
  std::string id = NewId();
  std::string pid_file = tmp_ + "/run.pid";
  ExecResult r = RunContainer(id, Config(id, {"true"}), {"--pid-file", pid_file});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  std::string pid = Trim(ReadFileOr(pid_file));
  EXPECT_FALSE(pid.empty());
  EXPECT_GT(std::atoi(pid.c_str()), 1);
}

}  // namespace
}  // namespace berth::it
