#include "engine_fixture.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "image/archive.h"
#include "image/images.h"
#include "sys/remove.h"

namespace berth::test {

std::string EngineTest::archive_dir_;

namespace {

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

std::string make_temp(const char* prefix) {
  std::string tmpl = std::string("/tmp/") + prefix + "-XXXXXX";
  char* p = mkdtemp(tmpl.data());
  return p ? std::string(p) : std::string();
}

std::vector<pid_t> shims_for(const std::string& exec_root) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (dirent* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0) continue;
    auto text = read_file("/proc/" + std::string(e->d_name) + "/cmdline", 1 << 16);
    if (!text) continue;
    std::string cmd = *text;
    for (char& ch : cmd)
      if (ch == '\0') ch = ' ';
    if (cmd.find("berth-shim") != std::string::npos && cmd.find(exec_root) != std::string::npos)
      out.push_back(pid);
  }
  closedir(d);
  return out;
}

}  // namespace

void EngineTest::SetUpTestSuite() {
  if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0) return;
  std::string dir = make_temp("berth-engine-img");
  if (dir.empty()) return;
  // The compat suite's image: a static busybox rootfs as a `docker save` archive.
  int rc = sh("bash -c 'source " BERTH_SOURCE_DIR "/tests/compat/lib.sh && build_image_archive " +
              dir + "' >/dev/null 2>&1");
  if (rc != 0 || access((dir + "/image.tar").c_str(), R_OK) != 0) {
    (void)sys::remove_tree(dir);
    return;
  }
  archive_dir_ = dir;
}

void EngineTest::TearDownTestSuite() {
  if (!archive_dir_.empty()) (void)sys::remove_tree(archive_dir_);
  archive_dir_.clear();
}

void EngineTest::SetUp() {
  BERTH_SKIP_UNLESS_ENGINE();
  root_ = make_temp("bt");  // short: unix socket paths under it must fit 108 bytes
  ASSERT_FALSE(root_.empty());
  config_.data_root = root_ + "/data";
  config_.exec_root = root_ + "/exec";
  config_.shim_binary = BERTH_BIN_DIR "/berth-shim";
  config_.runtimes["berth"] = BERTH_BIN_DIR "/berth-runtime";
  open_engine();
  ASSERT_TRUE(engine_);
  UniqueFd fd(::open((archive_dir_ + "/image.tar").c_str(), O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(fd);
  auto loaded = image::load_archive(engine_->images(), fd.get());
  ASSERT_TRUE(loaded) << loaded.error().what();
  ASSERT_FALSE(loaded->names.empty());
  auto tagged = engine_->images().tag(loaded->names.front(), "busybox:latest");
  ASSERT_TRUE(tagged) << tagged.error().what();
}

void EngineTest::TearDown() {
  if (root_.empty()) return;
  if (engine_) {
    for (const auto& id : ids_) (void)containers().remove(id, true, true);
    engine_.reset();
  }
  expect_no_leaks();
  // Whatever a failed test left: kill shims, unmount, then remove the tree.
  for (pid_t pid : shims_for(root_)) kill(pid, SIGKILL);
  sh("grep -o ' " + root_ +
     "[^ ]*' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null");
  (void)sys::remove_tree(root_);
}

void EngineTest::open_engine() {
  auto e = engine::Engine::open(config_);
  ASSERT_TRUE(e) << e.error().what();
  engine_ = std::move(*e);
}

void EngineTest::reopen_engine() {
  engine_.reset();
  open_engine();
}

std::string EngineTest::create(json body, const std::string& name) {
  if (!body.contains("Image")) body["Image"] = "busybox";
  auto r = containers().create(name, body);
  EXPECT_TRUE(r) << r.error().what();
  if (!r) return {};
  ids_.insert(r->id);
  return r->id;
}

UniqueFd EngineTest::attach(const std::string& id, bool stdin) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return {};
  UniqueFd ours(sv[0]), theirs(sv[1]);
  engine::AttachRequest req{.stdin = stdin, .stdout = true, .stderr = true};
  auto r = containers().attach(id, req, std::move(theirs));
  EXPECT_TRUE(r) << r.error().what();
  return ours;
}

std::string EngineTest::read_until_eof(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

Output EngineTest::demux(int fd) {
  std::string raw = read_until_eof(fd);
  Output o;
  size_t i = 0;
  while (i + 8 <= raw.size()) {
    uint32_t len = (static_cast<uint8_t>(raw[i + 4]) << 24) |
                   (static_cast<uint8_t>(raw[i + 5]) << 16) |
                   (static_cast<uint8_t>(raw[i + 6]) << 8) | static_cast<uint8_t>(raw[i + 7]);
    std::string payload = raw.substr(i + 8, len);
    (raw[i] == 2 ? o.err : o.out) += payload;
    i += 8 + len;
  }
  return o;
}

std::string EngineTest::shim_pid_file(const std::string& id) const {
  return config_.exec_root + "/shims/" + id + "/pid";
}

void EngineTest::expect_no_leaks() {
  // Shims exit right after answering shutdown; give them a moment to be reaped by init.
  std::vector<pid_t> shims;
  for (int i = 0; i < 100; i++) {
    shims = shims_for(root_);
    if (shims.empty()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(shims.empty()) << shims.size() << " berth-shim process(es) left";
  auto mi = read_file("/proc/self/mountinfo", 16 << 20);
  ASSERT_TRUE(mi);
  EXPECT_EQ(mi->find(" " + root_), std::string::npos) << "a mount under " << root_ << " is left";
  for (const auto& id : ids_) {
    for (const char* ctl : {"memory", "pids", "cpu", "freezer", "devices", "unified", ""}) {
      std::string p = std::string("/sys/fs/cgroup/") + ctl + (*ctl ? "/" : "") + "berth/" + id;
      EXPECT_NE(access(p.c_str(), F_OK), 0) << "cgroup left: " << p;
    }
  }
}

}  // namespace berth::test
