// What users see of a container's streams: exec errors, detach keys, logs of big and truncated
// files, attach with logs, and berthd stopping while execs run.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <thread>

#include "engine_fixture.h"

namespace berth::test {
namespace {

using namespace std::chrono_literals;
using engine::WaitCondition;

std::pair<UniqueFd, UniqueFd> stream_pair() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// True once the peer closed the stream (EOF) within `limit`; what came before goes to `got`.
bool ends_within(int fd, std::chrono::milliseconds limit, std::string* got = nullptr) {
  auto end = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return true;
    if (got) got->append(buf, static_cast<size_t>(n));
  }
  return false;
}

long status_kb(const std::string& field) {
  auto text = read_file("/proc/self/status", 1 << 16);
  if (!text) return -1;
  size_t at = text->find("\n" + field + ":");
  if (at == std::string::npos) return -1;
  return atol(text->c_str() + at + field.size() + 2);
}

// Peak resident set (kB) while `f` runs, above what it was before.
long peak_growth_kb(const std::function<void()>& f) {
  {
    UniqueFd fd(::open("/proc/self/clear_refs", O_WRONLY | O_CLOEXEC));
    if (!fd || write(fd.get(), "5", 1) != 1) return -1;  // resets VmHWM to the current VmRSS
  }
  long before = status_kb("VmHWM");
  f();
  return status_kb("VmHWM") - before;
}

std::vector<pid_t> processes_mentioning(const std::string& needle) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    auto text = read_file("/proc/" + std::string(e->d_name) + "/cmdline", 1 << 16);
    if (text && text->find(needle) != std::string::npos) out.push_back(pid);
  }
  closedir(d);
  return out;
}

json exec_info(engine::ContainerService& cs, const std::string& exec_id) {
  json info;
  for (int i = 0; i < 200; i++) {
    auto r = cs.exec_inspect(exec_id);
    if (!r) return json();
    info = *r;
    if (info["Running"] == false) break;
    std::this_thread::sleep_for(10ms);
  }
  return info;
}

TEST_F(EngineTest, ExecThatCannotRunSaysWhyAndExitsWithDockersCodes) {
  std::string id = create({{"Cmd", {"sleep", "1000"}}});
  ASSERT_TRUE(containers().start(id));
  // docker exec ctr /nonexistent: the runtime's error on stderr, exit code 127.
  auto ex = containers().exec_create(
      id, {{"Cmd", {"/nonexistent"}}, {"AttachStdout", true}, {"AttachStderr", true}});
  ASSERT_TRUE(ex) << ex.error().what();
  auto [ours, theirs] = stream_pair();
  auto st = containers().exec_start(*ex, false, std::move(theirs));
  EXPECT_FALSE(st);
  Output o = demux(ours.get());
  EXPECT_EQ(o.out, "");
  EXPECT_NE(o.err.find("OCI runtime exec failed"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("/nonexistent"), std::string::npos) << o.err;
  json info = exec_info(containers(), *ex);
  EXPECT_EQ(info["Running"], false);
  EXPECT_EQ(info["ExitCode"], 127);
  auto again = containers().exec_start(*ex, false, UniqueFd());
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::Conflict);

  // Not executable: 126. With a tty the error is raw output.
  auto notexec = containers().exec_create(
      id, {{"Cmd", {"/etc/passwd"}}, {"Tty", true}, {"AttachStdout", true}});
  ASSERT_TRUE(notexec);
  auto [tty_ours, tty_theirs] = stream_pair();
  EXPECT_FALSE(containers().exec_start(*notexec, false, std::move(tty_theirs)));
  std::string raw = read_until_eof(tty_ours.get());
  EXPECT_NE(raw.find("OCI runtime exec failed"), std::string::npos) << raw;
  EXPECT_TRUE(raw.ends_with("\r\n")) << raw;
  EXPECT_EQ(exec_info(containers(), *notexec)["ExitCode"], 126);

  // Detached: the error is the API's answer; the exit code is recorded all the same.
  auto detached = containers().exec_create(id, {{"Cmd", {"no-such-command"}}});
  ASSERT_TRUE(detached);
  EXPECT_FALSE(containers().exec_start(*detached, true, UniqueFd()));
  EXPECT_EQ(exec_info(containers(), *detached)["ExitCode"], 127);
  ASSERT_TRUE(containers().remove(id, true, false));
}

TEST_F(EngineTest, EngineStopsWhileAnExecRunsAndTheExecGoesOn) {
  std::string id = create({{"Cmd", {"sleep", "1000"}}});
  ASSERT_TRUE(containers().start(id));
  auto ex = containers().exec_create(id, {{"Cmd", {"sleep", "999"}}});
  ASSERT_TRUE(ex);
  ASSERT_TRUE(containers().exec_start(*ex, true, UniqueFd()));
  auto t0 = std::chrono::steady_clock::now();
  auto stopped = std::async(std::launch::async, [&] { engine_.reset(); });
  if (stopped.wait_for(10s) != std::future_status::ready) {
    ADD_FAILURE() << "the engine did not stop within 10 s while an exec ran";
    for (pid_t pid : processes_mentioning(root_ + "/exec")) kill(pid, SIGKILL);  // unblock it
  }
  stopped.get();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
  open_engine();
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["Status"], "running");
  EXPECT_FALSE(processes_mentioning(std::string("sleep\0"
                                                "999",
                                                9))
                   .empty())
      << "the exec did not go on";
  ASSERT_TRUE(containers().remove(id, true, false));
}

TEST_F(EngineTest, LogsOfABigLogAreStreamedAndTailKeepsOnlyWhatItShows) {
  // About 40 MB of log: 40000 lines of 1000 characters, then one more.
  std::string id =
      create({{"Cmd",
               {"sh", "-c",
                "yes $(head -c 1000 /dev/zero | tr '\\0' a) | head -n 40000; echo last-line"}}});
  ASSERT_TRUE(containers().start(id));
  auto w = containers().wait(id, WaitCondition::NotRunning);
  ASSERT_TRUE(w);
  ASSERT_EQ(w->status_code, 0);

  std::string tail;
  engine::LogOptions one;
  one.tail = 1;
  long tail_growth = peak_growth_kb([&] {
    auto r = containers().logs(id, one, [&](std::string_view d) {
      tail.append(d);
      return true;
    });
    EXPECT_TRUE(r) << r.error().what();
  });
  EXPECT_EQ(tail, std::string("\x01\0\0\0\0\0\0\x0alast-line\n", 18));

  size_t total = 0, chunks = 0;
  long all_growth = peak_growth_kb([&] {
    auto r = containers().logs(id, {}, [&](std::string_view d) {
      total += d.size();
      chunks++;
      return true;
    });
    EXPECT_TRUE(r) << r.error().what();
  });
  EXPECT_EQ(total, 40000u * (8 + 1001) + 8 + 10);
  EXPECT_GT(chunks, 100u) << "the log was not streamed";
  std::cout << "[ RSS      ] peak growth: logs --tail 1 " << tail_growth << " kB, logs "
            << all_growth << " kB (the log is about 45000 kB)\n";
  EXPECT_LT(tail_growth, 16 * 1024) << "logs --tail 1 held the log in memory";
  EXPECT_LT(all_growth, 16 * 1024) << "logs held the log in memory";
}

TEST_F(EngineTest, LogsFollowGoesOnAfterTheShimTruncatesTheLog) {
  // max-file 1: at 2 KiB the shim truncates the file in place, many times over.
  std::string id = create(
      {{"Cmd",
        {"sh", "-c", "i=0; while [ $i -lt 150 ]; do echo line-$i; i=$((i+1)); sleep 0.01; done"}},
       {"HostConfig",
        {{"LogConfig",
          {{"Type", "json-file"}, {"Config", {{"max-size", "2k"}, {"max-file", "1"}}}}}}}});
  UniqueFd out = attach(id);  // the container's own output, to compare
  ASSERT_TRUE(containers().start(id));
  std::string followed;
  engine::LogOptions lo;
  lo.follow = true;
  auto r = containers().logs(id, lo, [&](std::string_view d) {
    followed.append(d);
    return true;
  });
  ASSERT_TRUE(r) << r.error().what();
  std::string text;
  for (size_t i = 0; i + 8 <= followed.size();) {
    uint32_t len = (static_cast<uint8_t>(followed[i + 4]) << 24) |
                   (static_cast<uint8_t>(followed[i + 5]) << 16) |
                   (static_cast<uint8_t>(followed[i + 6]) << 8) |
                   static_cast<uint8_t>(followed[i + 7]);
    text += followed.substr(i + 8, len);
    i += 8 + len;
  }
  // line-0..9: 7 bytes each, line-10..99: 8, line-100..149: 9.
  EXPECT_EQ(demux(out.get()).out.size(), 10u * 7 + 90 * 8 + 50 * 9) << "the container's output";
  EXPECT_TRUE(text.ends_with("line-149\n")) << "the follower stopped at the first truncation";
  size_t lines = std::count(text.begin(), text.end(), '\n');
  EXPECT_GT(lines, 100u) << text;
}

TEST_F(EngineTest, AttachWithLogsDoesNotHoldUpStopAndThenStreams) {
  // A log bigger than any socket buffer, then a container that keeps running.
  std::string id = create({{"Cmd",
                            {"sh", "-c",
                             "head -c 8000000 /dev/zero | tr '\\0' a; echo; "
                             "echo logged; sleep 1000"}}});
  ASSERT_TRUE(containers().start(id));
  for (int i = 0; i < 500; i++) {
    std::string all;
    engine::LogOptions tail;
    tail.tail = 1;
    (void)containers().logs(id, tail, [&](std::string_view d) {
      all.append(d);
      return true;
    });
    if (all.find("logged") != std::string::npos) break;
    std::this_thread::sleep_for(10ms);
  }
  // A client that asks for the logs and never reads them.
  auto [stuck, theirs] = stream_pair();
  engine::AttachRequest req{.stdout = true, .stderr = true, .stream = true, .logs = true};
  auto attached = std::async(std::launch::async, [&, fd = std::move(theirs)]() mutable {
    return containers().attach(id, req, std::move(fd));
  });
  std::this_thread::sleep_for(300ms);
  auto t0 = std::chrono::steady_clock::now();
  auto stopped = std::async(std::launch::async, [&] { return containers().stop(id, 1); });
  bool in_time = stopped.wait_for(10s) == std::future_status::ready;
  EXPECT_TRUE(in_time) << "stop waited for the attach client";
  stuck.reset();  // the client goes: the replay ends
  ASSERT_TRUE(stopped.get());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 6s);
  EXPECT_TRUE(attached.get());

  // A client that reads gets the log, then the live output, each line once.
  std::string id2 = create({{"Cmd", {"sh", "-c", "echo one; sleep 1; echo two"}}});
  ASSERT_TRUE(containers().start(id2));
  std::this_thread::sleep_for(400ms);  // "one" is in the log
  auto [reader, theirs2] = stream_pair();
  ASSERT_TRUE(containers().attach(id2, req, std::move(theirs2)));
  Output o = demux(reader.get());
  EXPECT_EQ(o.out, "one\ntwo\n");
}

TEST_F(EngineTest, DetachKeysEndTheStreamAndTheContainerGoesOn) {
  std::string id =
      create({{"Cmd", {"sh"}}, {"Tty", true}, {"OpenStdin", true}, {"AttachStdin", true}});
  ASSERT_TRUE(containers().start(id));
  auto attach_with = [&](const std::string& keys) {
    auto [ours, theirs] = stream_pair();
    engine::AttachRequest req{
        .stdin = true, .stdout = true, .stderr = true, .stream = true, .detach_keys = keys};
    auto r = containers().attach(id, req, std::move(theirs));
    EXPECT_TRUE(r) << r.error().what();
    return std::move(ours);
  };
  // docker's default: ctrl-p ctrl-q.
  UniqueFd first = attach_with("");
  ASSERT_EQ(write(first.get(), "echo hi-$((1+1))\n", 17), 17);
  std::string got;
  for (int i = 0; i < 100 && got.find("hi-2") == std::string::npos; i++) {
    pollfd p{first.get(), POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    ssize_t n = read(first.get(), buf, sizeof buf);
    ASSERT_GT(n, 0) << "the stream ended early: " << got;
    got.append(buf, static_cast<size_t>(n));
  }
  ASSERT_NE(got.find("hi-2"), std::string::npos) << "the shell did not answer: " << got;
  ASSERT_EQ(write(first.get(), "\x10\x11", 2), 2);
  EXPECT_TRUE(ends_within(first.get(), 5s)) << "ctrl-p ctrl-q did not end the stream";
  // docker's notation for others.
  UniqueFd second = attach_with("ctrl-a,x");
  ASSERT_EQ(write(second.get(), "\x01x", 2), 2);
  EXPECT_TRUE(ends_within(second.get(), 5s)) << "ctrl-a,x did not end the stream";
  auto info = containers().inspect(id);
  ASSERT_TRUE(info);
  EXPECT_EQ((*info)["State"]["Status"], "running");

  auto [bad_ours, bad_theirs] = stream_pair();
  engine::AttachRequest bad{.stdin = true, .stdout = true, .detach_keys = "ctrl-P"};
  auto refused = containers().attach(id, bad, std::move(bad_theirs));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind(), ErrorKind::InvalidArgument);
  EXPECT_EQ(refused.error().what(), "Invalid detach keys (ctrl-P) provided");
  auto bad_exec = containers().exec_create(id, {{"Cmd", {"sh"}}, {"DetachKeys", "ctrl-p,,"}});
  ASSERT_FALSE(bad_exec);
  EXPECT_EQ(bad_exec.error().kind(), ErrorKind::InvalidArgument);
  EXPECT_EQ(bad_exec.error().what(), "Invalid escape keys (ctrl-p,,) provided");

  // An exec with a terminal: its detach keys end its stream, the exec goes on.
  auto ex = containers().exec_create(id, {{"Cmd", {"sh"}},
                                          {"Tty", true},
                                          {"AttachStdin", true},
                                          {"AttachStdout", true},
                                          {"DetachKeys", "ctrl-e,e"}});
  ASSERT_TRUE(ex) << ex.error().what();
  auto [exec_ours, exec_theirs] = stream_pair();
  ASSERT_TRUE(containers().exec_start(*ex, false, std::move(exec_theirs)));
  ASSERT_EQ(write(exec_ours.get(),
                  "\x05"
                  "e",
                  2),
            2);
  EXPECT_TRUE(ends_within(exec_ours.get(), 5s)) << "the exec's detach keys did not end it";
  auto exec_state = containers().exec_inspect(*ex);
  ASSERT_TRUE(exec_state);
  EXPECT_EQ((*exec_state)["Running"], true);
  ASSERT_TRUE(containers().remove(id, true, false));
}

}  // namespace
}  // namespace berth::test
