// berth-shim end to end: real containers (a busybox rootfs) through berth-runtime and runc, the
// shim started by shim::launch() as berthd starts it, driven through shim::Client. Needs root.
// Every test runs against both runtimes (the shim only speaks runc's command line).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

#include "shim/client.h"
#include "util/fd.h"

namespace berth::shim {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string kShim = BERTH_BIN_DIR "/berth-shim";

std::string RuntimePath(const std::string& name) {
  return name == "runc" ? "/usr/sbin/runc" : BERTH_BIN_DIR "/berth-runtime";
}

// ---- one busybox rootfs for the whole run ------------------------------------------------------

std::string g_rootfs_parent;

const std::string& Rootfs() {
  static std::string rootfs = [] {
    char tmpl[] = "/tmp/berth-shim-rootfs-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) return std::string();
    g_rootfs_parent = tmpl;
    std::string dir = g_rootfs_parent + "/rootfs";
    std::string cmd =
        std::string(BERTH_SOURCE_DIR) + "/tests/fixtures/busybox-rootfs.sh " + dir + " >/dev/null";
    return std::system(cmd.c_str()) == 0 ? dir : std::string();
  }();
  return rootfs;
}

class RootfsCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!g_rootfs_parent.empty()) fs::remove_all(g_rootfs_parent);
  }
};
[[maybe_unused]] auto* const g_env = ::testing::AddGlobalTestEnvironment(new RootfsCleanup);

// ---- small helpers ------------------------------------------------------------------------------

bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds limit) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(10ms);
  }
  return cond();
}

// Gone, or a zombie waiting for whatever init this machine has.
bool ProcessGone(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

std::string StatusField(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(field + ":", 0) == 0) {
      std::string v = line.substr(field.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "";
}

// Live processes whose command line mentions `needle` (the shim's has its state dir).
std::vector<pid_t> ProcessesMentioning(const std::string& needle) {
  std::vector<pid_t> out;
  for (auto& e : fs::directory_iterator("/proc")) {
    std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(e.path() / "cmdline");
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    pid_t pid = std::stoi(name);
    if (cmd.find(needle) != std::string::npos && pid != getpid() && !ProcessGone(pid))
      out.push_back(pid);
  }
  return out;
}

// The container's cgroup (cgroupsPath /berth-shim-it-<id>) in any hierarchy, v1 or v2.
bool CgroupLeft(const std::string& id) {
  std::string name = "berth-shim-it-" + id;
  if (fs::exists("/sys/fs/cgroup/" + name)) return true;
  std::error_code ec;
  for (auto& h : fs::directory_iterator("/sys/fs/cgroup", ec)) {
    if (fs::exists(h.path() / name)) return true;
  }
  return false;
}

std::pair<UniqueFd, UniqueFd> StreamPair() {
  int sv[2];
  EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  return {UniqueFd(sv[0]), UniqueFd(sv[1])};
}

// Everything until EOF (the shim closes an attach stream after the process's output).
std::string ReadToEof(int fd, std::chrono::milliseconds limit = 20s) {
  std::string out;
  auto end = std::chrono::steady_clock::now() + limit;
  char buf[65536];
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
  ADD_FAILURE() << "no EOF on the attach stream after " << limit.count() << " ms";
  return out;
}

struct Demuxed {
  std::string out, err;
  bool well_formed = true;
};

// docker's multiplexed stream: [stream,0,0,0,len32be] + payload, repeated.
Demuxed Demux(const std::string& raw) {
  Demuxed d;
  size_t i = 0;
  while (i < raw.size()) {
    if (raw.size() - i < 8 || raw[i + 1] || raw[i + 2] || raw[i + 3]) {
      d.well_formed = false;
      break;
    }
    auto b = [&](size_t k) {
      return static_cast<uint32_t>(static_cast<unsigned char>(raw[i + k]));
    };
    uint32_t len = b(4) << 24 | b(5) << 16 | b(6) << 8 | b(7);
    if (raw.size() - i - 8 < len) {
      d.well_formed = false;
      break;
    }
    std::string payload = raw.substr(i + 8, len);
    if (raw[i] == 1)
      d.out += payload;
    else if (raw[i] == 2)
      d.err += payload;
    else
      d.well_formed = false;
    i += 8 + len;
  }
  return d;
}

std::vector<json> JsonLines(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    json j = json::parse(line, nullptr, false);
    EXPECT_FALSE(j.is_discarded()) << path << ": " << line;
    out.push_back(j);
  }
  return out;
}

// ---- the fixture --------------------------------------------------------------------------------

class ShimTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "needs root";
    if (access("/bin/busybox", X_OK) != 0) GTEST_SKIP() << "needs /bin/busybox (busybox-static)";
    runtime_ = RuntimePath(GetParam());
    if (access(runtime_.c_str(), X_OK) != 0) GTEST_SKIP() << runtime_ << " is not there";
    if (access(kShim.c_str(), X_OK) != 0) GTEST_SKIP() << kShim << " is not built";
    ASSERT_FALSE(Rootfs().empty()) << "busybox-rootfs.sh failed";
    char tmpl[] = "/tmp/berth-shim-it-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    tmp_ = tmpl;
    std::mt19937_64 rng(std::random_device{}());
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(rng()));
    id_ = std::string("shimtest") + hex;
    fs::create_directories(tmp_ + "/root");
  }

  void TearDown() override {
    if (tmp_.empty()) return;
    if (auto c = Client::connect(StateDir())) {
      (void)c->kill(SIGKILL);
      (void)c->shutdown();
    }
    for (pid_t pid : ProcessesMentioning(tmp_)) {
      ADD_FAILURE() << "process " << pid << " left behind";
      kill(pid, SIGKILL);
    }
    std::string cmd = runtime_ + " --root " + tmp_ + "/root delete --force " + id_ + " 2>/dev/null";
    if (fs::exists(tmp_ + "/root/" + id_)) {
      ADD_FAILURE() << "runtime state of " << id_ << " left behind";
      (void)std::system(cmd.c_str());
    }
    fs::remove_all(tmp_);
  }

  std::string StateDir() const { return tmp_ + "/shim"; }
  std::string LogPath() const { return tmp_ + "/ctr-json.log"; }

  json Config(std::vector<std::string> args, bool terminal = false) {
    json caps = {"CAP_AUDIT_WRITE", "CAP_KILL",   "CAP_NET_BIND_SERVICE",
                 "CAP_SETUID",      "CAP_SETGID", "CAP_CHOWN"};
    return json{{"ociVersion", "1.0.2"},
                {"process",
                 {{"terminal", terminal},
                  {"user", {{"uid", 0}, {"gid", 0}}},
                  {"args", args},
                  {"env", {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
                  {"cwd", "/"},
                  {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
                  {"noNewPrivileges", true}}},
                {"root", {{"path", Rootfs()}, {"readonly", true}}},
                {"hostname", "shimtest"},
                {"mounts",
                 {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
                  {{"destination", "/dev"},
                   {"type", "tmpfs"},
                   {"source", "tmpfs"},
                   {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
                  {{"destination", "/dev/pts"},
                   {"type", "devpts"},
                   {"source", "devpts"},
                   {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}},
                  {{"destination", "/tmp"}, {"type", "tmpfs"}, {"source", "tmpfs"}}}},
                {"linux",
                 {{"cgroupsPath", "/berth-shim-it-" + id_},
                  {"namespaces",
                   {{{"type", "pid"}},
                    {{"type", "network"}},
                    {{"type", "ipc"}},
                    {{"type", "uts"}},
                    {{"type", "mount"}}}}}}};
  }

  LaunchOptions Options(const std::string& config_text) {
    std::string bundle = tmp_ + "/bundle";
    fs::create_directories(bundle);
    std::ofstream(bundle + "/config.json") << config_text;
    LaunchOptions o;
    o.shim_binary = kShim;
    o.id = id_;
    o.bundle = bundle;
    o.state_dir = StateDir();
    o.runtime = runtime_;
    o.runtime_root = tmp_ + "/root";
    o.log_path = LogPath();
    return o;
  }
  LaunchOptions Options(const json& config) { return Options(config.dump(2)); }

  // Launches and connects; the test fails (fatally) if either does not work.
  Client LaunchAndConnect(const LaunchOptions& o) {
    auto pid = launch(o);
    EXPECT_TRUE(pid) << pid.error().what();
    if (!pid) throw std::runtime_error("launch failed");
    shim_pid_ = *pid;
    auto c = Client::connect(o.state_dir);
    EXPECT_TRUE(c) << c.error().what();
    if (!c) throw std::runtime_error("connect failed");
    return std::move(*c);
  }

  // An attach stream: returns our end, gives the other to the shim.
  UniqueFd Attach(Client& c, AttachOptions a = {}) {
    auto [mine, theirs] = StreamPair();
    auto r = c.attach(a, theirs.get());
    EXPECT_TRUE(r) << r.error().what();
    return std::move(mine);
  }

  void ShutDownAndExpectNothingLeft(Client& c) {
    auto r = c.shutdown();
    EXPECT_TRUE(r) << r.error().what();
    EXPECT_TRUE(WaitUntil([&] { return ProcessGone(shim_pid_); }, 5s)) << "the shim is still up";
    EXPECT_FALSE(fs::exists(StateDir() + "/sock"));
    EXPECT_TRUE(fs::exists(StateDir() + "/exit"));  // the state dir stays for berthd
    EXPECT_FALSE(fs::exists(tmp_ + "/root/" + id_)) << "runtime state left";
    EXPECT_FALSE(CgroupLeft(id_)) << "cgroup left";
  }

  std::string runtime_, tmp_, id_;
  pid_t shim_pid_ = 0;
};

// ---- tests --------------------------------------------------------------------------------------

TEST_P(ShimTest, AttachedOutputIsMultiplexedAndTheExitIsRecorded) {
  Client c = LaunchAndConnect(Options(Config({"sh", "-c", "echo out; echo err >&2; exit 3"})));
  auto st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "created");
  EXPECT_GT(st->pid, 0);
  UniqueFd stream = Attach(c);
  ASSERT_TRUE(c.start());
  auto e = c.wait();
  ASSERT_TRUE(e) << e.error().what();
  EXPECT_EQ(e->status, 3);
  EXPECT_EQ(e->signal, 0);
  EXPECT_TRUE(
      std::regex_match(e->exited_at, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z)")))
      << e->exited_at;
  Demuxed d = Demux(ReadToEof(stream.get()));
  EXPECT_TRUE(d.well_formed);
  EXPECT_EQ(d.out, "out\n");
  EXPECT_EQ(d.err, "err\n");

  auto file = read_exit(StateDir());
  ASSERT_TRUE(file && file->has_value());
  EXPECT_EQ((*file)->status, 3);
  EXPECT_EQ((*file)->exited_at, e->exited_at);
  st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "stopped");
  ASSERT_TRUE(st->exit.has_value());
  EXPECT_EQ(st->exit->status, 3);
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, LogIsDockersJsonFileAndRotates) {
  LaunchOptions o = Options(Config({"sh", "-c",
                                    "i=0; while [ $i -lt 300 ]; do echo line-$i; i=$((i+1)); done; "
                                    "echo oops >&2; printf tail"}));
  o.log_max_size = 3000;
  o.log_max_files = 3;
  Client c = LaunchAndConnect(o);
  ASSERT_TRUE(c.start());
  auto e = c.wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  EXPECT_TRUE(fs::exists(LogPath() + ".1"));
  EXPECT_TRUE(fs::exists(LogPath() + ".2"));
  EXPECT_FALSE(fs::exists(LogPath() + ".3"));
  std::regex time_re(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d*[1-9])?Z)");
  int last = -1;
  bool saw_oops = false, saw_tail = false;
  for (std::string p : {LogPath() + ".2", LogPath() + ".1", LogPath()}) {
    EXPECT_LT(fs::file_size(p), 3000u + 100u) << p;
    for (const json& l : JsonLines(p)) {
      ASSERT_EQ(l.size(), 3u) << l.dump();
      EXPECT_TRUE(std::regex_match(l["time"].get<std::string>(), time_re)) << l.dump();
      std::string text = l["log"], stream = l["stream"];
      if (stream == "stderr") {
        EXPECT_EQ(text, "oops\n");
        saw_oops = true;
      } else if (text == "tail") {
        saw_tail = true;  // the last, unterminated line is written when the stream ends
      } else {
        ASSERT_EQ(text.rfind("line-", 0), 0u) << text;
        ASSERT_EQ(text.back(), '\n');
        int n = std::stoi(text.substr(5));
        if (last >= 0) {
          EXPECT_EQ(n, last + 1);  // nothing lost or reordered between files
        }
        last = n;
      }
    }
  }
  EXPECT_EQ(last, 299);
  EXPECT_TRUE(saw_oops);
  EXPECT_TRUE(saw_tail);
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, TtyOutputIsRawAndResizeReachesTheTerminal) {
  LaunchOptions o = Options(Config({"sh", "-c", "stty size; echo done"}, true));
  o.tty = true;
  Client c = LaunchAndConnect(o);
  UniqueFd stream = Attach(c);
  ASSERT_TRUE(c.resize("", 40, 100));
  ASSERT_TRUE(c.start());
  auto e = c.wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  std::string raw = ReadToEof(stream.get());
  EXPECT_EQ(raw, "40 100\r\ndone\r\n");
  auto lines = JsonLines(LogPath());
  ASSERT_EQ(lines.size(), 2u);
  for (auto& l : lines) EXPECT_EQ(l["stream"], "stdout");
  EXPECT_EQ(lines[0]["log"], "40 100\r\n");
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, StdinThroughAttachClosesAtEofWithStdinOnce) {
  LaunchOptions o = Options(Config({"sh", "-c", "cat; echo cat-done"}));
  o.stdin = true;
  Client c = LaunchAndConnect(o);
  UniqueFd stream = Attach(c, {.stdin = true, .stdout = true, .stderr = true, .stdin_once = true});
  ASSERT_TRUE(c.start());
  ASSERT_EQ(write(stream.get(), "hello\n", 6), 6);
  ASSERT_EQ(shutdown(stream.get(), SHUT_WR), 0);  // EOF of the client's input
  auto e = c.wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  Demuxed d = Demux(ReadToEof(stream.get()));
  EXPECT_EQ(d.out, "hello\ncat-done\n");
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, ExecOutputExitAndKill) {
  Client c = LaunchAndConnect(Options(Config({"sleep", "100"})));
  ASSERT_TRUE(c.start());
  json process = {{"args", {"sh", "-c", "echo exec-out; echo exec-err >&2; exit 7"}},
                  {"cwd", "/"},
                  {"env", {"PATH=/bin"}},
                  {"user", {{"uid", 0}, {"gid", 0}}}};
  auto [mine, theirs] = StreamPair();
  auto pid = c.exec("e1", process.dump(), {}, theirs.get());
  ASSERT_TRUE(pid) << pid.error().what();
  EXPECT_GT(*pid, 0);
  theirs.reset();
  auto e = c.wait("e1");
  ASSERT_TRUE(e) << e.error().what();
  EXPECT_EQ(e->status, 7);
  Demuxed d = Demux(ReadToEof(mine.get()));
  EXPECT_EQ(d.out, "exec-out\n");
  EXPECT_EQ(d.err, "exec-err\n");
  // The exec's pipes, console socket and files are gone once it has ended.
  auto fds = [&] {
    return std::distance(fs::directory_iterator("/proc/" + std::to_string(shim_pid_) + "/fd"),
                         fs::directory_iterator{});
  };
  auto before = fds();
  for (int i = 0; i < 5; i++) {
    auto [m, t] = StreamPair();
    std::string id = "loop" + std::to_string(i);
    ASSERT_TRUE(c.exec(id, process.dump(), {}, t.get()));
    t.reset();
    ASSERT_TRUE(c.wait(id));
    ReadToEof(m.get());
  }
  EXPECT_EQ(fds(), before);
  std::vector<std::string> left;
  for (auto& f : fs::directory_iterator(StateDir())) left.push_back(f.path().filename());
  std::sort(left.begin(), left.end());
  EXPECT_EQ(left, (std::vector<std::string>{"pid", "shim.log", "sock"}));
  auto again = c.exec("e1", process.dump(), {}, -1);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().kind(), ErrorKind::Conflict);
  // exec output is not the container's log
  EXPECT_EQ(JsonLines(LogPath()).size(), 0u);

  ASSERT_TRUE(c.kill(SIGKILL));
  auto init = c.wait();
  ASSERT_TRUE(init);
  EXPECT_EQ(init->status, 137);
  EXPECT_EQ(init->signal, SIGKILL);
  auto k = c.kill(SIGTERM);
  ASSERT_FALSE(k);
  EXPECT_EQ(k.error().kind(), ErrorKind::Conflict);
  EXPECT_NE(k.error().what().find("container " + id_ + " is not running"), std::string::npos)
      << k.error().what();
  EXPECT_FALSE(c.exec("e2", process.dump(), {}, -1));
  auto e1 = c.wait("e1");  // an exec's exit is kept
  ASSERT_TRUE(e1);
  EXPECT_EQ(e1->status, 7);
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, ExecWithATerminalIsRawAndResizable) {
  Client c = LaunchAndConnect(Options(Config({"sleep", "100"})));
  ASSERT_TRUE(c.start());
  // The process waits for a line, so the resize surely comes before `stty size`.
  json process = {{"args", {"sh", "-c", "read x; stty size; exit 5"}},
                  {"terminal", true},
                  {"cwd", "/"},
                  {"env", {"PATH=/bin"}},
                  {"user", {{"uid", 0}, {"gid", 0}}}};
  auto [mine, theirs] = StreamPair();
  auto pid =
      c.exec("t1", process.dump(), {.stdin = true, .stdout = true, .stderr = true}, theirs.get());
  ASSERT_TRUE(pid) << pid.error().what();
  theirs.reset();
  ASSERT_TRUE(c.resize("t1", 30, 90));
  ASSERT_EQ(write(mine.get(), "go\n", 3), 3);
  auto e = c.wait("t1");
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 5);
  std::string raw = ReadToEof(mine.get());
  EXPECT_NE(raw.find("30 90\r\n"), std::string::npos) << raw;  // raw: no frame headers
  EXPECT_NE(raw[0], '\x01');
  ASSERT_TRUE(c.kill(SIGKILL));
  ASSERT_TRUE(c.wait());
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, DetachKeysEndTheStreamAndLeaveTheContainerRunning) {
  LaunchOptions o = Options(Config({"cat"}));
  o.stdin = true;
  Client c = LaunchAndConnect(o);
  UniqueFd first = Attach(c, {.stdin = true, .detach_keys = "\x10\x11"});
  ASSERT_TRUE(c.start());
  // A lone ctrl-p is ordinary input; ctrl-p ctrl-q detaches and is not passed on.
  std::string line =
      "a\x10"
      "b\n";
  ASSERT_EQ(write(first.get(), line.data(), line.size()), 4);
  std::string echoed;
  ASSERT_TRUE(WaitUntil(
      [&] {
        char buf[64];
        ssize_t n = recv(first.get(), buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) echoed.append(buf, n);
        return echoed.size() >= 12;
      },
      10s));
  EXPECT_EQ(Demux(echoed).out, line);
  std::string detach =
      "\x10\x11"
      "lost\n";
  ASSERT_EQ(write(first.get(), detach.data(), detach.size()), 7);
  EXPECT_EQ(ReadToEof(first.get()), "");  // the stream ends
  auto st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "running");
  // stdin is still open: a second client feeds it.
  UniqueFd second = Attach(c, {.stdin = true, .stdin_once = true});
  ASSERT_EQ(write(second.get(), "again\n", 6), 6);
  ASSERT_EQ(shutdown(second.get(), SHUT_WR), 0);
  auto e = c.wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  EXPECT_EQ(Demux(ReadToEof(second.get())).out, "again\n");
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, CloseStdinEndsTheInput) {
  LaunchOptions o = Options(Config({"sh", "-c", "cat; echo eof-seen"}));
  o.stdin = true;
  Client c = LaunchAndConnect(o);
  UniqueFd stream = Attach(c, {.stdin = true, .stdout = true, .stderr = true});
  ASSERT_TRUE(c.start());
  ASSERT_EQ(write(stream.get(), "abc\n", 4), 4);
  // Without stdin_once the client's EOF leaves stdin open; berthd closes it explicitly.
  ASSERT_EQ(shutdown(stream.get(), SHUT_WR), 0);
  std::this_thread::sleep_for(200ms);
  auto st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "running");
  ASSERT_TRUE(c.close_stdin(""));
  auto e = c.wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  EXPECT_EQ(Demux(ReadToEof(stream.get())).out, "abc\neof-seen\n");
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, WaitAfterTheExitAnswersAtOnce) {
  Client c = LaunchAndConnect(Options(Config({"true"})));
  ASSERT_TRUE(c.start());
  ASSERT_TRUE(WaitUntil([&] { return fs::exists(StateDir() + "/exit"); }, 10s));
  auto other = Client::connect(StateDir());  // a berthd that came later
  ASSERT_TRUE(other);
  auto t0 = std::chrono::steady_clock::now();
  auto e = other->wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
  auto st = other->state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "stopped");
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, ShimOutlivesTheProcessThatLaunchedIt) {
  LaunchOptions o = Options(Config({"sh", "-c", "sleep 0.3; echo survived"}));
  int p[2];
  ASSERT_EQ(pipe2(p, O_CLOEXEC), 0);
  UniqueFd r(p[0]), w(p[1]);
  pid_t berthd = fork();
  ASSERT_GE(berthd, 0);
  if (berthd == 0) {  // a "berthd" that launches the shim and then dies
    auto pid = launch(o);
    pid_t v = pid ? *pid : -1;
    (void)!write(w.get(), &v, sizeof v);
    pause();
    _exit(0);
  }
  w.reset();
  pid_t shim = -1;
  ASSERT_EQ(read(r.get(), &shim, sizeof shim), static_cast<ssize_t>(sizeof shim));
  ASSERT_GT(shim, 0) << "launch failed in the child";
  shim_pid_ = shim;
  kill(berthd, SIGKILL);
  int status;
  waitpid(berthd, &status, 0);
  EXPECT_FALSE(ProcessGone(shim));
  EXPECT_NE(StatusField(shim, "PPid"), std::to_string(berthd));
  EXPECT_EQ(StatusField(shim, "NSpid"), std::to_string(shim));  // and in our pid namespace

  auto c = Client::connect(StateDir());
  ASSERT_TRUE(c) << c.error().what();
  UniqueFd stream = Attach(*c);
  ASSERT_TRUE(c->start());
  auto e = c->wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  EXPECT_EQ(Demux(ReadToEof(stream.get())).out, "survived\n");
  ShutDownAndExpectNothingLeft(*c);
}

TEST_P(ShimTest, SigtermToTheShimLeavesTheContainerAlone) {
  Client c = LaunchAndConnect(Options(Config({"sleep", "100"})));
  ASSERT_TRUE(c.start());
  ASSERT_EQ(kill(shim_pid_, SIGTERM), 0);
  std::this_thread::sleep_for(200ms);
  EXPECT_FALSE(ProcessGone(shim_pid_));
  auto st = c.state();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->status, "running");
  EXPECT_FALSE(ProcessGone(st->pid));
  ASSERT_TRUE(c.kill(SIGKILL));
  ASSERT_TRUE(c.wait());
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, StateShowsAPausedContainer) {
  Client c = LaunchAndConnect(Options(Config({"sleep", "100"})));
  ASSERT_TRUE(c.start());
  std::string rt = runtime_ + " --root " + tmp_ + "/root ";
  ASSERT_EQ(std::system((rt + "pause " + id_).c_str()), 0);  // berthd pauses through the runtime
  auto st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "paused");
  ASSERT_EQ(std::system((rt + "resume " + id_).c_str()), 0);
  st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "running");
  ASSERT_TRUE(c.kill(SIGKILL));
  ASSERT_TRUE(c.wait());
  ShutDownAndExpectNothingLeft(c);
}

// A failed create reports the runtime's own words, like docker, and leaves nothing.
void ExpectCreateFailure(ShimTest* t, const LaunchOptions& o, const std::string& mention) {
  auto pid = launch(o);
  ASSERT_FALSE(pid);
  std::string msg = pid.error().what();
  std::cout << "[ ERROR    ] " << msg << "\n";
  EXPECT_EQ(msg.rfind("OCI runtime create failed: ", 0), 0u) << msg;
  EXPECT_NE(msg.find(mention), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(o.state_dir)) << "state dir left";
  EXPECT_FALSE(fs::exists(o.log_path)) << "container log left";
  EXPECT_FALSE(CgroupLeft(o.id)) << "cgroup left";
  EXPECT_FALSE(fs::exists(o.runtime_root + "/" + o.id)) << "runtime state left";
  EXPECT_TRUE(WaitUntil([&] { return ProcessesMentioning(o.state_dir).empty(); }, 2s));
  (void)t;
}

TEST_P(ShimTest, CreateFailureBadConfigLeavesNothing) {
  // Each runtime's own words: berth-runtime names the file, runc 1.1 only says "unexpected EOF".
  ExpectCreateFailure(this, Options(std::string("{\"ociVersion\": \"1.0.2\", \"process\": ")),
                      GetParam() == "runc" ? "runc create failed: unexpected EOF" : "config.json");
}

TEST_P(ShimTest, CreateFailureMissingBinaryLeavesNothing) {
  ExpectCreateFailure(this, Options(Config({"/no/such/binary"})), "/no/such/binary");
}

TEST_P(ShimTest, CreateFailureMissingRuntimeLeavesNothing) {
  LaunchOptions o = Options(Config({"true"}));
  o.runtime = tmp_ + "/no-such-runtime";
  ExpectCreateFailure(this, o, "no-such-runtime: no such file or directory");
}

TEST_P(ShimTest, HostileRequestsGetErrorsAndTheShimGoesOn) {
  Client c = LaunchAndConnect(Options(Config({"sleep", "100"})));
  UniqueFd raw(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = StateDir() + "/sock";
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(connect(raw.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  auto ask = [&](const std::string& req) {
    EXPECT_EQ(send(raw.get(), req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
    char buf[4096];
    ssize_t n = recv(raw.get(), buf, sizeof buf, 0);
    return n > 0 ? json::parse(std::string(buf, n), nullptr, false) : json();
  };
  json r = ask("not json");
  EXPECT_EQ(r["ok"], false);
  EXPECT_EQ(r["kind"], "invalid argument");
  r = ask(R"({"op":"exec","exec_id":"deep","process":)" + std::string(100000, '[') +
          std::string(100000, ']') + "}");
  EXPECT_EQ(r["kind"], "invalid argument") << r.dump();
  r = ask(R"({"op":"bogus"})");
  EXPECT_EQ(r["error"], "unknown op \"bogus\"");
  r = ask(R"({"op":"kill","signal":"nine"})");
  EXPECT_EQ(r["kind"], "invalid argument") << r.dump();
  r = ask(R"({"op":"attach"})");  // no fd
  EXPECT_EQ(r["ok"], false);
  r = ask(R"({"op":"wait","exec_id":"nope"})");
  EXPECT_EQ(r["kind"], "not found");
  // A client that leaves in the middle of a wait, another mid-send.
  std::string wait = R"({"op":"wait"})";
  ASSERT_GT(send(raw.get(), wait.data(), wait.size(), 0), 0);
  raw.reset();
  auto st = c.state();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_EQ(st->status, "created");
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, StuckAttachClientDoesNotBlockTheContainerOrOthers) {
  // 24 MiB of output; one client never reads, one does: the one that reads gets everything and
  // the container does not wait for the stuck one, which is cut off once 16 MiB behind.
  Client c = LaunchAndConnect(
      Options(Config({"sh", "-c", "dd if=/dev/zero bs=65536 count=384 2>/dev/null; echo end"})));
  UniqueFd stuck = Attach(c);
  UniqueFd good = Attach(c);
  std::string got;
  std::thread reader([&] { got = ReadToEof(good.get(), 60s); });
  ASSERT_TRUE(c.start());
  auto e = c.wait();
  reader.join();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  Demuxed d = Demux(got);
  EXPECT_EQ(d.out.size(), 24u * 1024 * 1024 + 4);
  EXPECT_EQ(d.out.substr(d.out.size() - 4), "end\n");
  // The stuck one was cut off (it got at most the socket buffer and the shim's 16 MiB).
  std::string partial = ReadToEof(stuck.get(), 10s);
  EXPECT_LT(partial.size(), 24u * 1024 * 1024);
  auto log = read_file(StateDir() + "/shim.log");
  ASSERT_TRUE(log);
  EXPECT_NE(log->find("attach stream dropped"), std::string::npos) << *log;
  ShutDownAndExpectNothingLeft(c);
}

// Total payload of the container's json-file log.
size_t LoggedBytes(const std::string& path) {
  size_t n = 0;
  for (const json& l : JsonLines(path)) n += l["log"].get<std::string>().size();
  return n;
}

TEST_P(ShimTest, SlowAttachClientMakesTheContainerWaitAndGetsEverything) {
  // 8 MiB, more than the shim buffers for a client (4 MiB) plus the socket and the pipe: with
  // nobody reading, the container blocks on its writes (as under docker) instead of the client
  // losing output.
  Client c = LaunchAndConnect(
      Options(Config({"sh", "-c", "dd if=/dev/zero bs=65536 count=128 2>/dev/null; echo end"})));
  UniqueFd slow = Attach(c);
  ASSERT_TRUE(c.start());
  std::this_thread::sleep_for(1500ms);
  auto st = c.state();
  ASSERT_TRUE(st);
  EXPECT_EQ(st->status, "running") << "the container did not wait for its only client";
  Demuxed d = Demux(ReadToEof(slow.get(), 60s));
  EXPECT_TRUE(d.well_formed);
  EXPECT_EQ(d.out.size(), 8u * 1024 * 1024 + 4);
  EXPECT_EQ(d.out.substr(d.out.size() - 4), "end\n");
  auto e = c.wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  EXPECT_EQ(LoggedBytes(LogPath()), 8u * 1024 * 1024 + 4);  // the log got everything too
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, AttachClientThatLeftIsDroppedAndTheContainerGoesOn) {
  Client c = LaunchAndConnect(
      Options(Config({"sh", "-c", "dd if=/dev/zero bs=65536 count=128 2>/dev/null; echo end"})));
  UniqueFd gone = Attach(c);
  gone.reset();  // the client went away (EPIPE on the first write)
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.start());
  auto e = c.wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->status, 0);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 10s);
  EXPECT_EQ(LoggedBytes(LogPath()), 8u * 1024 * 1024 + 4);
  ShutDownAndExpectNothingLeft(c);
}

TEST_P(ShimTest, ShutdownLetsAttachClientsTakeTheirOutputFirst) {
  // 3 MiB that the client only reads after the container has exited and berthd has shut the
  // shim down (docker run ... | slow-reader): nothing is cut off.
  Client c = LaunchAndConnect(
      Options(Config({"sh", "-c", "dd if=/dev/zero bs=65536 count=48 2>/dev/null; echo end"})));
  UniqueFd late = Attach(c);
  ASSERT_TRUE(c.start());
  auto e = c.wait();
  ASSERT_TRUE(e);
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.shutdown());
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "shutdown waited for the client";
  EXPECT_FALSE(fs::exists(StateDir() + "/sock"));  // no new connections
  std::this_thread::sleep_for(500ms);
  EXPECT_FALSE(ProcessGone(shim_pid_)) << "the shim left with output unsent";
  Demuxed d = Demux(ReadToEof(late.get(), 10s));
  EXPECT_TRUE(d.well_formed);
  EXPECT_EQ(d.out.size(), 3u * 1024 * 1024 + 4);
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(shim_pid_); }, 2s)) << "the shim is still up";
  EXPECT_FALSE(fs::exists(tmp_ + "/root/" + id_)) << "runtime state left";
  EXPECT_FALSE(CgroupLeft(id_)) << "cgroup left";
}

TEST_P(ShimTest, ShutdownGivesUpOnAClientThatTakesNothing) {
  Client c = LaunchAndConnect(
      Options(Config({"sh", "-c", "dd if=/dev/zero bs=65536 count=48 2>/dev/null; sleep 100"})));
  UniqueFd never = Attach(c);
  ASSERT_TRUE(c.start());
  std::this_thread::sleep_for(500ms);  // the client's socket and its buffer fill
  ASSERT_TRUE(c.kill(SIGKILL));
  ASSERT_TRUE(c.wait());
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.shutdown());
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(shim_pid_); }, 8s)) << "the shim is still up";
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 7s);
  EXPECT_FALSE(fs::exists(tmp_ + "/root/" + id_)) << "runtime state left";
}

TEST_P(ShimTest, ShutdownWhoseReplyCannotBeSentStillEndsTheShim) {
  Client c = LaunchAndConnect(Options(Config({"true"})));
  ASSERT_TRUE(c.start());
  ASSERT_TRUE(c.wait());
  UniqueFd raw(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string path = StateDir() + "/sock";
  ASSERT_LT(path.size(), sizeof addr.sun_path);
  memcpy(addr.sun_path, path.c_str(), path.size());
  ASSERT_EQ(connect(raw.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  std::string req = R"({"op":"shutdown"})";
  ASSERT_EQ(send(raw.get(), req.data(), req.size(), 0), static_cast<ssize_t>(req.size()));
  raw.reset();  // gone before the reply
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(shim_pid_); }, 5s))
      << "the shim kept running without a socket";
  EXPECT_FALSE(fs::exists(StateDir() + "/sock"));
  EXPECT_FALSE(fs::exists(tmp_ + "/root/" + id_)) << "runtime state left";
}

// Not a benchmark (bench/engine.sh is), but the shim's share of `run --rm` shows here.
TEST_P(ShimTest, LifecycleLatency) {
  LaunchOptions o = Options(Config({"true"}));
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  auto t0 = std::chrono::steady_clock::now();
  Client c = LaunchAndConnect(o);
  auto t1 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.start());
  auto t2 = std::chrono::steady_clock::now();
  auto e = c.wait();
  ASSERT_TRUE(e);
  auto t3 = std::chrono::steady_clock::now();
  ASSERT_TRUE(c.shutdown());
  auto t4 = std::chrono::steady_clock::now();
  std::cout << "[ TIMING   ] " << GetParam() << ": launch+create " << ms(t1 - t0) << " ms, start "
            << ms(t2 - t1) << " ms, run+wait " << ms(t3 - t2) << " ms, shutdown (delete) "
            << ms(t4 - t3) << " ms\n";
  EXPECT_TRUE(WaitUntil([&] { return ProcessGone(shim_pid_); }, 5s));
}

TEST_P(ShimTest, IdleShimRss) {
  Client c = LaunchAndConnect(Options(Config({"sleep", "100"})));
  ASSERT_TRUE(c.start());
  std::this_thread::sleep_for(300ms);
  std::string rss = StatusField(shim_pid_, "VmRSS");
  long kb = std::stol(rss);
  std::cout << "[ RSS      ] idle berth-shim (" << GetParam() << "): " << kb << " kB ("
            << StatusField(shim_pid_, "RssAnon") << " anon, " << StatusField(shim_pid_, "RssFile")
            << " file)\n";
  RecordProperty("shim_rss_kb", static_cast<int>(kb));
  EXPECT_LT(kb, 1024) << "target: under 1 MiB";
  ASSERT_TRUE(c.kill(SIGKILL));
  ASSERT_TRUE(c.wait());
  ShutDownAndExpectNothingLeft(c);
}

INSTANTIATE_TEST_SUITE_P(Runtimes, ShimTest, ::testing::Values("berth-runtime", "runc"),
                         [](const auto& info) {
                           return info.param == "runc" ? std::string("runc")
                                                       : std::string("berth_runtime");
                         });

}  // namespace
}  // namespace berth::shim
