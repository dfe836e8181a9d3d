// The container flows users run every day, through ContainerService with real shims.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "engine_fixture.h"

namespace berth::test {
namespace {

using engine::WaitCondition;

TEST_F(EngineTest, RunRmEchoHi) {
  // docker run --rm busybox echo hi: create, attach, wait(removed), start.
  std::string id = create({{"Cmd", {"echo", "hi"}}, {"HostConfig", {{"AutoRemove", true}}}});
  ASSERT_FALSE(id.empty());
  UniqueFd out = attach(id);
  std::optional<Result<engine::WaitResult>> waited;
  std::thread waiter([&] { waited = containers().wait(id, WaitCondition::Removed); });
  auto t0 = std::chrono::steady_clock::now();
  auto started = containers().start(id);
  ASSERT_TRUE(started) << started.error().what();
  EXPECT_TRUE(*started);
  Output o = demux(out.get());
  waiter.join();
  auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(o.out, "hi\n");
  EXPECT_EQ(o.err, "");
  ASSERT_TRUE(*waited) << waited->error().what();
  EXPECT_EQ((*waited)->status_code, 0);
  auto gone = containers().inspect(id);
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().kind(), ErrorKind::NotFound);
  EXPECT_EQ(gone.error().what(), "No such container: " + id);
  RecordProperty("start_to_removed_ms", std::to_string(ms));
}

TEST_F(EngineTest, ExitCodeLogsAndInspect) {
  std::string id = create(
      {{"Cmd", {"sh", "-c", "echo out; echo err >&2; exit 3"}}, {"Labels", {{"app", "web"}}}},
      "web");
  ASSERT_FALSE(id.empty());
  auto before = containers().inspect("web");
  ASSERT_TRUE(before) << before.error().what();
  EXPECT_EQ((*before)["State"]["Status"], "created");
  EXPECT_EQ((*before)["Name"], "/web");
  EXPECT_EQ((*before)["Path"], "sh");
  EXPECT_EQ((*before)["Args"], json({"-c", "echo out; echo err >&2; exit 3"}));
  EXPECT_EQ((*before)["Config"]["Hostname"], id.substr(0, 12));
  EXPECT_EQ((*before)["Config"]["Labels"]["app"], "web");
  EXPECT_EQ((*before)["HostConfig"]["NetworkMode"], "none");
  EXPECT_EQ((*before)["Driver"], "overlay2");

  ASSERT_TRUE(containers().start("web"));
  auto w = containers().wait(id, WaitCondition::NotRunning);
  // NotRunning right after start may see the exit already or wait for it.
  ASSERT_TRUE(w) << w.error().what();
  auto w2 = containers().wait(id, WaitCondition::NotRunning);
  ASSERT_TRUE(w2);
  EXPECT_EQ(w2->status_code, 3);

  auto after = containers().inspect(id.substr(0, 12));
  ASSERT_TRUE(after);
  EXPECT_EQ((*after)["State"]["Status"], "exited");
  EXPECT_EQ((*after)["State"]["ExitCode"], 3);
  EXPECT_EQ((*after)["State"]["Running"], false);
  EXPECT_NE((*after)["State"]["FinishedAt"], "0001-01-01T00:00:00Z");

  std::string all;
  auto sink = [&](std::string_view d) {
    all.append(d);
    return true;
  };
  engine::LogOptions lo;
  ASSERT_TRUE(containers().logs(id, lo, sink));
  EXPECT_EQ(all.size(), 2 * 8 + 4 + 4u);
  EXPECT_NE(all.find("out\n"), std::string::npos);
  EXPECT_NE(all.find("err\n"), std::string::npos);
  all.clear();
  lo.stderr = false;
  ASSERT_TRUE(containers().logs(id, lo, sink));
  EXPECT_EQ(all, std::string("\x01\0\0\0\0\0\0\x04out\n", 12));
  all.clear();
  lo = {};
  lo.tail = 1;
  lo.timestamps = true;
  ASSERT_TRUE(containers().logs(id, lo, sink));
  ASSERT_GT(all.size(), 8u);
  EXPECT_EQ(all.substr(8, 2), "20");  // "2025-...Z err\n"
  EXPECT_TRUE(all.ends_with("Z err\n") || all.ends_with("Z out\n")) << all.substr(8);
  lo = {};
  lo.stdout = lo.stderr = false;
  auto bad = containers().logs(id, lo, sink);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().what(), "Bad parameters: you must choose at least one stream");

  auto list = containers().list({.all = true});
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0]["Names"], json({"/web"}));
  EXPECT_EQ((*list)[0]["State"], "exited");
  EXPECT_TRUE((*list)[0]["Status"].get<std::string>().starts_with("Exited (3) "));
  EXPECT_EQ((*list)[0]["Command"], "sh -c 'echo out; echo err >&2; exit 3'");
  auto running = containers().list({});
  ASSERT_TRUE(running);
  EXPECT_TRUE(running->empty());
  auto by_label = containers().list({.all = true, .filters = {{"label", {"app=web"}}}});
  ASSERT_TRUE(by_label);
  EXPECT_EQ(by_label->size(), 1u);
  auto by_exit = containers().list({.filters = {{"exited", {"0"}}}});
  ASSERT_TRUE(by_exit);
  EXPECT_TRUE(by_exit->empty());

  ASSERT_TRUE(containers().remove("web", false, false));
  EXPECT_FALSE(containers().inspect(id));
}

TEST_F(EngineTest, BadInputGetsDockersErrors) {
  std::string id = create({{"Cmd", {"true"}}}, "taken");
  ASSERT_FALSE(id.empty());
  auto dup = containers().create("taken", {{"Image", "busybox"}});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().kind(), ErrorKind::Conflict);
  EXPECT_EQ(dup.error().what(),
            "Conflict. The container name \"/taken\" is already in use by container \"" + id +
                "\". You have to remove (or rename) that container to be able to reuse that "
                "name.");
  auto slash = containers().create("a/b", {{"Image", "busybox"}});
  ASSERT_FALSE(slash);
  EXPECT_EQ(slash.error().kind(), ErrorKind::InvalidArgument);
  EXPECT_EQ(slash.error().what(),
            "Invalid container name (a/b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
  auto noimg = containers().create("", {{"Image", "nope"}});
  ASSERT_FALSE(noimg);
  EXPECT_EQ(noimg.error().kind(), ErrorKind::NotFound);
  EXPECT_EQ(noimg.error().what(), "No such image: nope:latest");
  auto wrong = containers().create("", {{"Image", "busybox"}, {"Env", "A=1"}});
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().what(),
            "json: cannot unmarshal string into Go struct field ContainerConfigWrapper.Env of "
            "type []string");
  auto mem = containers().create("", {{"Image", "busybox"}, {"HostConfig", {{"Memory", 1024}}}});
  ASSERT_FALSE(mem);
  EXPECT_EQ(mem.error().what(), "Minimum memory limit allowed is 6MB");
  auto policy = containers().create(
      "", {{"Image", "busybox"},
           {"HostConfig", {{"AutoRemove", true}, {"RestartPolicy", {{"Name", "always"}}}}}});
  ASSERT_FALSE(policy);
  EXPECT_EQ(policy.error().kind(), ErrorKind::InvalidArgument);
  auto runtime =
      containers().create("", {{"Image", "busybox"}, {"HostConfig", {{"Runtime", "nope"}}}});
  ASSERT_FALSE(runtime);
  EXPECT_EQ(runtime.error().what(), "unknown or invalid runtime name: nope");
  auto missing = containers().start("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().what(), "No such container: nope");
  // A command that does not exist fails at start, with the runtime's reason.
  std::string bad = create({{"Cmd", {"/no/such/binary"}}});
  auto st = containers().start(bad);
  ASSERT_FALSE(st);
  auto info = containers().inspect(bad);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["Status"], "created");
  EXPECT_NE((*info)["State"]["Error"], "");
  // Nothing half-created: only the two containers exist.
  auto list = containers().list({.all = true});
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(EngineTest, StopKillRemove) {
  std::string id = create({{"Cmd", {"sleep", "1000"}}}, "sleeper");
  ASSERT_TRUE(containers().start(id));
  auto again = containers().start(id);
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);  // 304
  auto rm = containers().remove(id, false, false);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().kind(), ErrorKind::Conflict);
  EXPECT_EQ(rm.error().what(),
            "cannot remove container \"/sleeper\": container is running: stop the container "
            "before removing or force remove");
  // sleep as PID 1 ignores SIGTERM: stop falls back to SIGKILL after the timeout.
  auto t0 = std::chrono::steady_clock::now();
  auto stopped = containers().stop(id, 1);
  ASSERT_TRUE(stopped) << stopped.error().what();
  EXPECT_TRUE(*stopped);
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(900));
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["ExitCode"], 137);
  auto again_stop = containers().stop(id, 1);
  ASSERT_TRUE(again_stop);
  EXPECT_FALSE(*again_stop);  // 304
  auto k = containers().kill(id, "");
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().what(),
            "Cannot kill container: " + id + ": container " + id + " is not running");

  // kill with a signal the shell traps.
  std::string trap =
      create({{"Cmd", {"sh", "-c", "trap 'exit 42' USR1; while :; do sleep 0.1; done"}}});
  ASSERT_TRUE(containers().start(trap));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // let the trap be set
  auto bad_sig = containers().kill(trap, "NOPE");
  ASSERT_FALSE(bad_sig);
  EXPECT_EQ(bad_sig.error().what(), "Invalid signal: NOPE");
  ASSERT_TRUE(containers().kill(trap, "SIGUSR1"));
  auto w = containers().wait(trap, WaitCondition::NotRunning);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status_code, 42);

  // Force removal of a running container.
  std::string run = create({{"Cmd", {"sleep", "1000"}}});
  ASSERT_TRUE(containers().start(run));
  auto forced = containers().remove(run, true, false);
  ASSERT_TRUE(forced) << forced.error().what();
  EXPECT_FALSE(containers().inspect(run));
}

TEST_F(EngineTest, RestartPolicyOnFailure) {
  std::string id = create(
      {{"Cmd", {"sh", "-c", "exit 1"}},
       {"HostConfig", {{"RestartPolicy", {{"Name", "on-failure"}, {"MaximumRetryCount", 2}}}}}});
  ASSERT_TRUE(containers().start(id));
  // Three runs (the first and two restarts), then it stays exited.
  for (int i = 0; i < 100; i++) {
    auto info = containers().inspect(id);
    ASSERT_TRUE(info);
    if ((*info)["RestartCount"] == 2 && (*info)["State"]["Status"] == "exited") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["RestartCount"], 2);
  EXPECT_EQ((*info)["State"]["Status"], "exited");
  EXPECT_EQ((*info)["State"]["ExitCode"], 1);
}

TEST_F(EngineTest, RestartAlwaysStopsOnStop) {
  std::string id = create({{"Cmd", {"sh", "-c", "sleep 0.2"}},
                           {"HostConfig", {{"RestartPolicy", {{"Name", "always"}}}}}});
  ASSERT_TRUE(containers().start(id));
  for (int i = 0; i < 100; i++) {
    auto info = containers().inspect(id);
    if ((*info)["RestartCount"] >= 1) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  auto stopped = containers().stop(id, 5);
  ASSERT_TRUE(stopped) << stopped.error().what();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["Status"], "exited");
  EXPECT_GE((*info)["RestartCount"], 1);
}

TEST_F(EngineTest, ExecRunsInTheContainer) {
  std::string id = create({{"Cmd", {"sleep", "1000"}}, {"Env", {"FOO=bar"}}});
  auto notrunning = containers().exec_create(id, {{"Cmd", {"true"}}});
  ASSERT_FALSE(notrunning);
  EXPECT_EQ(notrunning.error().what(), "container " + id + " is not running");
  ASSERT_TRUE(containers().start(id));
  auto ex = containers().exec_create(id, {{"Cmd", {"sh", "-c", "echo $FOO $BAR; hostname; exit 5"}},
                                          {"Env", {"BAR=baz"}},
                                          {"AttachStdout", true},
                                          {"AttachStderr", true}});
  ASSERT_TRUE(ex) << ex.error().what();
  int sv[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd ours(sv[0]);
  auto st = containers().exec_start(*ex, false, UniqueFd(sv[1]));
  ASSERT_TRUE(st) << st.error().what();
  Output o = demux(ours.get());
  EXPECT_EQ(o.out, "bar baz\n" + id.substr(0, 12) + "\n");
  json info;
  for (int i = 0; i < 100; i++) {
    info = *containers().exec_inspect(*ex);
    if (info["Running"] == false) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(info["ExitCode"], 5);
  EXPECT_EQ(info["ContainerID"], id);
  EXPECT_EQ(info["ProcessConfig"]["entrypoint"], "sh");
  auto cinfo = containers().inspect(id);
  ASSERT_TRUE(cinfo);
  EXPECT_EQ((*cinfo)["ExecIDs"], json({*ex}));
  auto missing = containers().exec_inspect("nope");
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().what(), "No such exec instance: nope");
  ASSERT_TRUE(containers().remove(id, true, false));
}

TEST_F(EngineTest, HostConfigReachesTheContainer) {
  std::string vol = root_ + "/vol";
  ASSERT_EQ(mkdir(vol.c_str(), 0755), 0);
  ASSERT_TRUE(write_file_atomic(vol + "/f", "from host\n"));
  std::string id =
      create({{"Cmd",
               {"sh", "-c",
                "cat /data/f; touch /data/x 2>/dev/null || echo ro; cat /etc/hostname; "
                "grep -c CapEff /proc/self/status; ulimit -n; id -u; pwd; "
                "touch /rootfs-file 2>/dev/null || echo rofs; echo t > /tmp/t && echo tmpfs"}},
              {"User", "65534"},
              {"WorkingDir", "/tmp"},
              {"Hostname", "box"},
              {"HostConfig",
               {{"Binds", {vol + ":/data:ro"}},
                {"ReadonlyRootfs", true},
                {"Tmpfs", {{"/tmp", "rw,size=1m,mode=1777"}}},
                {"Ulimits", {{{"Name", "nofile"}, {"Soft", 123}, {"Hard", 456}}}},
                {"Memory", 64 << 20},
                {"PidsLimit", 50}}}});
  UniqueFd out = attach(id);
  auto started = containers().start(id);
  ASSERT_TRUE(started) << started.error().what();
  Output o = demux(out.get());
  EXPECT_EQ(o.out, "from host\nro\nbox\n1\n123\n65534\n/tmp\nrofs\ntmpfs\n") << o.err;
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["HostConfig"]["Memory"], 64 << 20);
  EXPECT_EQ((*info)["Mounts"][0]["Destination"], "/data");
  EXPECT_EQ((*info)["Mounts"][0]["RW"], false);
}

}  // namespace
}  // namespace berth::test
