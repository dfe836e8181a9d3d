// The smaller operations: pause, top, stats, rename, prune, logs -f, attach with stdin,
// events, wait conditions.
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "engine_fixture.h"

namespace berth::test {
namespace {

using engine::WaitCondition;

TEST_F(EngineTest, PauseTopStatsRename) {
  std::string id = create({{"Cmd", {"sh", "-c", "sleep 1000 & wait"}}}, "ops");
  ASSERT_TRUE(containers().start(id));
  auto top = containers().top(id, "");
  for (int i = 0; i < 100 && top && (*top)["Processes"].size() < 2; i++) {  // sleep forked yet?
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    top = containers().top(id, "");
  }
  ASSERT_TRUE(top) << top.error().what();
  EXPECT_EQ((*top)["Titles"][1], "PID");
  ASSERT_EQ((*top)["Processes"].size(), 2u) << top->dump();
  EXPECT_EQ((*top)["Processes"][0].back(), "sh -c sleep 1000 & wait");
  auto custom = containers().top(id, "-o pid,comm");
  ASSERT_TRUE(custom) << custom.error().what();
  EXPECT_EQ((*custom)["Titles"], json({"PID", "COMMAND"}));

  std::string stats;
  ASSERT_TRUE(containers().stats(id, false, true, [&](std::string_view d) {
    stats.append(d);
    return true;
  }));
  json s = json::parse(stats);
  EXPECT_EQ(s["name"], "/ops");
  EXPECT_GT(s["memory_stats"]["usage"].get<uint64_t>(), 0u);
  EXPECT_EQ(s["pids_stats"]["current"], 2);
  EXPECT_GT(s["cpu_stats"]["system_cpu_usage"].get<uint64_t>(), 0u);

  ASSERT_TRUE(containers().pause(id));
  auto again = containers().pause(id);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().what(), "container " + id + " is already paused");
  auto info = containers().inspect(id);
  EXPECT_EQ((*info)["State"]["Status"], "paused");
  EXPECT_EQ((*info)["State"]["Paused"], true);
  auto rm = containers().remove(id, false, false);
  ASSERT_FALSE(rm);
  EXPECT_EQ(rm.error().kind(), ErrorKind::Conflict);
  auto ex = containers().exec_create(id, {{"Cmd", {"true"}}});
  ASSERT_FALSE(ex);
  EXPECT_EQ(ex.error().what(), "container " + id + " is paused, unpause the container before exec");
  ASSERT_TRUE(containers().unpause(id));
  auto not_paused = containers().unpause(id);
  ASSERT_FALSE(not_paused);
  EXPECT_EQ(not_paused.error().what(), "container " + id + " is not paused");

  std::string other = create({{"Cmd", {"true"}}}, "other");
  auto taken = containers().rename(id, "other");
  ASSERT_FALSE(taken);
  EXPECT_EQ(taken.error().kind(), ErrorKind::Conflict);
  auto same = containers().rename(id, "ops");
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().what(), "Renaming a container with the same name as its current name");
  ASSERT_TRUE(containers().rename(id, "renamed"));
  EXPECT_TRUE(containers().inspect("renamed"));
  EXPECT_FALSE(containers().inspect("ops"));
  // The old name is free again; the new one survives an engine restart.
  std::string reuse = create({{"Cmd", {"true"}}}, "ops");
  EXPECT_FALSE(reuse.empty());
  reopen_engine();
  info = containers().inspect("renamed");
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["Name"], "/renamed");
  ASSERT_TRUE(containers().remove(id, true, false));
}

TEST_F(EngineTest, PruneRemovesStoppedOnly) {
  std::string stopped = create({{"Cmd", {"true"}}, {"Labels", {{"keep", "no"}}}});
  std::string kept = create({{"Cmd", {"true"}}, {"Labels", {{"keep", "yes"}}}});
  std::string running = create({{"Cmd", {"sleep", "1000"}}});
  ASSERT_TRUE(containers().start(running));
  auto bad = containers().prune({{"bogus", {"1"}}});
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().what(), "invalid filter 'bogus'");
  auto r = containers().prune({{"label", {"keep=no"}}});
  ASSERT_TRUE(r) << r.error().what();
  EXPECT_EQ((*r)["ContainersDeleted"], json({stopped}));
  r = containers().prune({});
  ASSERT_TRUE(r);
  EXPECT_EQ((*r)["ContainersDeleted"], json({kept}));
  EXPECT_TRUE(containers().inspect(running));
  ASSERT_TRUE(containers().remove(running, true, false));
}

TEST_F(EngineTest, LogsFollowEndsWithTheContainer) {
  std::string id = create(
      {{"Cmd", {"sh", "-c", "for i in 1 2 3; do echo line$i; sleep 0.1; done"}}, {"Tty", true}});
  auto started = containers().start(id);
  ASSERT_TRUE(started) << started.error().what();
  std::string got;
  engine::LogOptions lo;
  lo.follow = true;
  auto r = containers().logs(id, lo, [&](std::string_view d) {
    got.append(d);
    return true;
  });
  ASSERT_TRUE(r) << r.error().what();
  // A tty's output is raw (no frames) and keeps its \r\n.
  EXPECT_EQ(got, "line1\r\nline2\r\nline3\r\n");
}

TEST_F(EngineTest, AttachBeforeStartGetsStdinAndOutput) {
  std::string id = create({{"Cmd", {"sh", "-c", "read x; echo got:$x; echo oops >&2; exit 2"}},
                           {"OpenStdin", true},
                           {"StdinOnce", true},
                           {"AttachStdin", true}});
  UniqueFd io = attach(id, true);
  ASSERT_TRUE(containers().start(id));
  ASSERT_EQ(write(io.get(), "hello\n", 6), 6);
  shutdown(io.get(), SHUT_WR);
  Output o = demux(io.get());
  EXPECT_EQ(o.out, "got:hello\n");
  EXPECT_EQ(o.err, "oops\n");
  auto w = containers().wait(id, WaitCondition::NotRunning);
  ASSERT_TRUE(w);
  EXPECT_EQ(w->status_code, 2);
}

TEST_F(EngineTest, EventsAndWaitConditions) {
  auto sub = engine_->events().subscribe();
  std::string id = create({{"Cmd", {"sh", "-c", "exit 0"}}}, "evt");
  // not-running on a created container answers at once.
  auto created = containers().wait(id, WaitCondition::NotRunning);
  ASSERT_TRUE(created);
  EXPECT_EQ(created->status_code, 0);
  std::optional<Result<engine::WaitResult>> next, removed;
  std::thread t1([&] { next = containers().wait(id, WaitCondition::NextExit); });
  std::thread t2([&] { removed = containers().wait(id, WaitCondition::Removed); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(containers().start(id));
  t1.join();
  ASSERT_TRUE(*next);
  ASSERT_TRUE(containers().remove(id, false, false));
  t2.join();
  ASSERT_TRUE(*removed);
  std::vector<std::string> actions;
  while (auto e = sub->next(100)) {
    if (e->actor_id != id) continue;
    actions.push_back(e->action);
    EXPECT_EQ(e->attributes["name"], "evt");
    EXPECT_EQ(e->attributes["image"], "busybox");
    if (e->action == "die") EXPECT_EQ(e->attributes["exitCode"], "0");
  }
  EXPECT_EQ(actions, (std::vector<std::string>{"create", "start", "die", "destroy"}));
}

}  // namespace
}  // namespace berth::test
