// Restart recovery: berthd (the Engine) dropped without stopping anything, a shim killed -9.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "engine_fixture.h"

namespace berth::test {
namespace {

using engine::WaitCondition;

TEST_F(EngineTest, ContainersKeepRunningAcrossEngineRestart) {
  std::string id = create({{"Cmd", {"sh", "-c", "echo before; sleep 1000"}}}, "survivor");
  ASSERT_TRUE(containers().start(id));
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  int pid = (*info)["State"]["Pid"];
  ASSERT_GT(pid, 0);

  reopen_engine();
  info = containers().inspect("survivor");
  ASSERT_TRUE(info) << info.error().what();
  EXPECT_EQ((*info)["State"]["Status"], "running");
  EXPECT_EQ((*info)["State"]["Pid"], pid);
  EXPECT_EQ(kill(pid, 0), 0);
  // exec, stop and wait work on the recovered container.
  auto ex = containers().exec_create(id, {{"Cmd", {"true"}}});
  ASSERT_TRUE(ex) << ex.error().what();
  ASSERT_TRUE(containers().exec_start(*ex, true, UniqueFd()));
  std::optional<Result<engine::WaitResult>> waited;
  std::thread waiter([&] { waited = containers().wait(id, WaitCondition::NextExit); });
  auto stopped = containers().stop(id, 0);
  ASSERT_TRUE(stopped) << stopped.error().what();
  waiter.join();
  ASSERT_TRUE(*waited);
  EXPECT_EQ((*waited)->status_code, 137);
  std::string logs;
  ASSERT_TRUE(containers().logs(id, {}, [&](std::string_view d) {
    logs.append(d);
    return true;
  }));
  EXPECT_NE(logs.find("before\n"), std::string::npos);
}

TEST_F(EngineTest, ExitWhileEngineDownKeepsTheRealExitCode) {
  std::string id = create({{"Cmd", {"sh", "-c", "read x; exit 7"}}, {"OpenStdin", true}});
  UniqueFd io = attach(id, true);
  ASSERT_TRUE(containers().start(id));
  engine_.reset();  // berthd is gone
  ASSERT_EQ(write(io.get(), "go\n", 3), 3);
  // The shim records the exit while nobody listens.
  std::string exit_file = config_.exec_root + "/shims/" + id + "/exit";
  for (int i = 0; i < 200 && access(exit_file.c_str(), F_OK) != 0; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  open_engine();
  auto w = containers().wait(id, WaitCondition::NotRunning);
  ASSERT_TRUE(w) << w.error().what();
  EXPECT_EQ(w->status_code, 7);
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["Status"], "exited");
  EXPECT_EQ((*info)["State"]["ExitCode"], 7);
}

TEST_F(EngineTest, ShimKilledMarksTheContainerExited) {
  std::string id = create({{"Cmd", {"sleep", "1000"}}});
  ASSERT_TRUE(containers().start(id));
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  int init = (*info)["State"]["Pid"];
  auto pid_text = read_file(shim_pid_file(id));
  ASSERT_TRUE(pid_text);
  pid_t shim = atoi(pid_text->c_str());
  ASSERT_GT(shim, 0);
  ASSERT_EQ(kill(shim, SIGKILL), 0);
  auto w = containers().wait(id, WaitCondition::NotRunning);
  ASSERT_TRUE(w) << w.error().what();
  info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["Status"], "exited");
  EXPECT_EQ((*info)["State"]["Error"], "shim exited unexpectedly (killed?)");
  EXPECT_EQ(w->error, "shim exited unexpectedly (killed?)");
  // The orphaned container was killed and deleted.
  // (Reparented to init, it may stay a zombie for a while: dead is what counts.)
  auto alive = [&] {
    auto stat = read_file("/proc/" + std::to_string(init) + "/stat");
    return stat && stat->find(") Z ") == std::string::npos;
  };
  for (int i = 0; i < 100 && alive(); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(alive());
  // It can run again.
  ASSERT_TRUE(containers().start(id));
  ASSERT_TRUE(containers().remove(id, true, false));
}

TEST_F(EngineTest, ShimKilledWhileEngineDown) {
  std::string id = create({{"Cmd", {"sleep", "1000"}}});
  ASSERT_TRUE(containers().start(id));
  auto pid_text = read_file(shim_pid_file(id));
  ASSERT_TRUE(pid_text);
  engine_.reset();
  ASSERT_EQ(kill(atoi(pid_text->c_str()), SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  open_engine();
  auto w = containers().wait(id, WaitCondition::NotRunning);
  ASSERT_TRUE(w);
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["Status"], "exited");
  EXPECT_EQ((*info)["State"]["Error"], "shim exited unexpectedly (killed?)");
}

}  // namespace
}  // namespace berth::test
