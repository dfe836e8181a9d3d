// Lifecycle edges: restart of an --rm container, kill and the restart policy, wait on a
// container that restarts, exits while the shim is slow to go, a start whose bookkeeping fails,
// a force remove that times out, and berthd dying at the wrong moment.
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "engine/store.h"
#include "engine_fixture.h"

namespace berth::test {
namespace {

using engine::WaitCondition;
using Clock = std::chrono::steady_clock;

class LifecycleTest : public EngineTest {
 protected:
  std::string status(const std::string& id) {
    auto info = containers().inspect(id);
    return info ? (*info)["State"]["Status"].get<std::string>() : "gone";
  }
  int restart_count(const std::string& id) {
    auto info = containers().inspect(id);
    return info ? (*info)["RestartCount"].get<int>() : -1;
  }
  // Polls until pred() or `ms` pass.
  template <class F>
  bool eventually(F pred, int ms = 5000) {
    auto until = Clock::now() + std::chrono::milliseconds(ms);
    while (Clock::now() < until) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return pred();
  }
  // Adds runtime `name`: berth-runtime behind a shell wrapper that runs `shell_case` (a case
  // item on " $* ", e.g. *" delete "*) sleep 3;;) first; the engine is reopened with it.
  void add_runtime(const std::string& name, const std::string& shell_case) {
    std::string wrapper = root_ + "/" + name + "-runtime";
    {
      std::ofstream f(wrapper);
      f << "#!/bin/sh\ncase \" $* \" in " << shell_case
        << " esac\nexec " BERTH_BIN_DIR "/berth-runtime \"$@\"\n";
    }
    ASSERT_EQ(chmod(wrapper.c_str(), 0755), 0);
    config_.runtimes[name] = wrapper;
    reopen_engine();
  }
  // wait() that gives up after `secs` (an error) instead of hanging the test.
  Result<engine::WaitResult> wait_for(const std::string& id, WaitCondition cond, int secs) {
    auto until = Clock::now() + std::chrono::seconds(secs);
    return containers().wait(id, cond, [&] { return Clock::now() > until; });
  }
};

TEST_F(LifecycleTest, RestartKeepsAnAutoRemoveContainer) {
  // docker restart of a `docker run --rm` container: stopped and started again, not removed.
  std::string id = create({{"Cmd", {"sleep", "1000"}}, {"HostConfig", {{"AutoRemove", true}}}});
  ASSERT_TRUE(containers().start(id));
  auto r = containers().restart(id, 0, "");
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ(status(id), "running");
  // Its next exit is an ordinary one again: AutoRemove applies.
  ASSERT_TRUE(containers().kill(id, ""));
  ASSERT_TRUE(wait_for(id, WaitCondition::Removed, 10));
  EXPECT_EQ(status(id), "gone");
}

TEST_F(LifecycleTest, KillEndsTheRestartPolicy) {
  std::string id = create(
      {{"Cmd", {"sleep", "1000"}}, {"HostConfig", {{"RestartPolicy", {{"Name", "always"}}}}}});
  ASSERT_TRUE(containers().start(id));
  auto k = containers().kill(id, "");
  ASSERT_TRUE(k) << k.error().what();
  // docker kill returns once the container has stopped, and it stays stopped.
  EXPECT_EQ(status(id), "exited");
  std::this_thread::sleep_for(std::chrono::milliseconds(800));
  EXPECT_EQ(status(id), "exited");
  EXPECT_EQ(restart_count(id), 0);
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["ExitCode"], 137);
  // A start turns the policy on again.
  ASSERT_TRUE(containers().start(id));
  EXPECT_EQ(status(id), "running");
}

TEST_F(LifecycleTest, KillCancelsAPendingRestart) {
  // Exits at once, restarts with a growing back-off: mostly "restarting".
  std::string id = create(
      {{"Cmd", {"sh", "-c", "exit 1"}}, {"HostConfig", {{"RestartPolicy", {{"Name", "always"}}}}}});
  ASSERT_TRUE(containers().start(id));
  ASSERT_TRUE(eventually([&] { return restart_count(id) >= 3 && status(id) == "restarting"; }))
      << status(id);
  auto k = containers().kill(id, "");
  ASSERT_TRUE(k) << k.error().what();
  EXPECT_EQ(status(id), "exited");
  int count = restart_count(id);
  std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // longer than the back-off
  EXPECT_EQ(status(id), "exited");
  EXPECT_EQ(restart_count(id), count);
  // Not running any more: a second kill is docker's 409.
  auto again = containers().kill(id, "");
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::Conflict);
}

TEST_F(LifecycleTest, WaitReturnsAtEachExitOfARestartingContainer) {
  std::string id = create({{"Cmd", {"sh", "-c", "sleep 0.3; exit 3"}},
                           {"HostConfig", {{"RestartPolicy", {{"Name", "always"}}}}}});
  ASSERT_TRUE(containers().start(id));
  auto t0 = Clock::now();
  auto w = wait_for(id, WaitCondition::NotRunning, 10);
  ASSERT_TRUE(w) << w.error().what();
  EXPECT_EQ(w->status_code, 3);
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(5));
  // And again at the next exit (the wait may begin while it is "restarting").
  auto w2 = wait_for(id, WaitCondition::NotRunning, 10);
  ASSERT_TRUE(w2) << w2.error().what();
  EXPECT_EQ(w2->status_code, 3);
  EXPECT_GE(restart_count(id), 1);
  ASSERT_TRUE(containers().stop(id, 1));
}

TEST_F(LifecycleTest, ListAndInspectDoNotWaitForTheShimToGo) {
  // A runtime whose `delete` takes 3 s: the shim's shutdown after the exit is slow. docker ps
  // and inspect must not wait for it.
  std::string marker = root_ + "/deleted";
  add_runtime("slow", "*\" delete \"*) touch " + marker + "; sleep 3;;");
  std::string id = create({{"Cmd", {"true"}}, {"HostConfig", {{"Runtime", "slow"}}}});
  ASSERT_TRUE(containers().start(id));
  // Watched from outside the engine: the container has exited and its shim is in its 3 s
  // delete.
  ASSERT_TRUE(eventually([&] { return access(marker.c_str(), F_OK) == 0; }, 10000));
  auto t0 = Clock::now();
  auto list = containers().list({.all = true});
  auto info = containers().inspect(id);
  auto took = Clock::now() - t0;
  ASSERT_TRUE(list);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["Status"], "exited");
  EXPECT_LT(took, std::chrono::milliseconds(1000))
      << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
}

TEST_F(LifecycleTest, AStartWhoseStateCannotBeSavedIsStillMonitored) {
  // berth.db is locked by another writer while the container starts: recording the start fails
  // (after SQLite's 5 s busy timeout), but the container runs and its exit must still be seen.
  std::string id = create({{"Cmd", {"sh", "-c", "sleep 1; exit 3"}}});
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((config_.data_root + "/berth.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto started = containers().start(id);
  ASSERT_EQ(sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  EXPECT_TRUE(started) << started.error().what();
  auto w = wait_for(id, WaitCondition::NotRunning, 15);
  ASSERT_TRUE(w) << w.error().what();
  EXPECT_EQ(w->status_code, 3);
  EXPECT_EQ(status(id), "exited");
}

TEST_F(LifecycleTest, AForceRemoveThatTimesOutLeavesTheContainerManaged) {
  // A runtime whose `kill` does nothing: rm -f's SIGKILL never arrives and it times out (30 s).
  add_runtime("nokill", "*\" kill \"*) exit 0;;");
  std::string id = create(
      {{"Cmd", {"sleep", "1000"}}, {"HostConfig", {{"AutoRemove", true}, {"Runtime", "nokill"}}}});
  ASSERT_TRUE(containers().start(id));
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  int pid = (*info)["State"]["Pid"];
  auto rm = containers().remove(id, true, false);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().kind(), ErrorKind::Timeout);
  EXPECT_EQ(status(id), "running");
  // When it does exit, that is an ordinary exit again: AutoRemove removes it.
  ASSERT_EQ(kill(pid, SIGKILL), 0);
  auto w = wait_for(id, WaitCondition::Removed, 10);
  EXPECT_TRUE(w) << w.error().what();
  EXPECT_EQ(status(id), "gone");
}

TEST_F(LifecycleTest, RecoveryFindsAShimTheRowDoesNotMention) {
  // berthd died after launching the shim and starting the container, before recording either:
  // the row still says "created".
  std::string id = create({{"Cmd", {"sleep", "1000"}}});
  ASSERT_TRUE(containers().start(id));
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  int pid = (*info)["State"]["Pid"];
  engine_.reset();
  {
    auto store = engine::Store::open(config_.data_root + "/berth.db");
    ASSERT_TRUE(store) << store.error().what();
    auto row = (*store)->get(id);
    ASSERT_TRUE(row && *row);
    json st = json::parse((*row)->state);
    st["Status"] = "created";
    st["Pid"] = 0;
    st["ShimActive"] = false;
    st["HasBeenStarted"] = false;
    st["StartedAt"] = "0001-01-01T00:00:00Z";
    ASSERT_TRUE((*store)->update_state(id, st.dump()));
  }
  open_engine();
  info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["Status"], "running");
  EXPECT_EQ((*info)["State"]["Pid"], pid);
  EXPECT_EQ(kill(pid, 0), 0);
  // Managed: stop reaches it, and nothing is left at the end (the fixture checks).
  auto stopped = containers().stop(id, 0);
  ASSERT_TRUE(stopped) << stopped.error().what();
  EXPECT_TRUE(*stopped);
  EXPECT_EQ(status(id), "exited");
}

TEST_F(LifecycleTest, AStalePidFileDoesNotKillAnotherProcess) {
  // The shim died while berthd was down and its pid now belongs to someone else (here: a
  // process of ours, named by the pid file). Cleaning up the orphan must not kill it.
  std::string id = create({{"Cmd", {"sleep", "1000"}}});
  ASSERT_TRUE(containers().start(id));
  auto pid_text = read_file(shim_pid_file(id));
  ASSERT_TRUE(pid_text);
  engine_.reset();
  ASSERT_EQ(kill(atoi(pid_text->c_str()), SIGKILL), 0);
  pid_t other = fork();
  ASSERT_GE(other, 0);
  if (other == 0) {
    execl("/bin/sleep", "sleep", "100", nullptr);
    _exit(127);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(write_file_atomic(shim_pid_file(id), std::to_string(other) + "\n"));
  open_engine();
  auto w = wait_for(id, WaitCondition::NotRunning, 15);
  EXPECT_TRUE(w) << w.error().what();
  EXPECT_EQ(status(id), "exited");
  int wstatus = 0;
  EXPECT_EQ(waitpid(other, &wstatus, WNOHANG), 0) << "the unrelated process was killed";
  kill(other, SIGKILL);
  waitpid(other, &wstatus, 0);
}

}  // namespace
}  // namespace berth::test
