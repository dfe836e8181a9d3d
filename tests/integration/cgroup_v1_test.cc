// The cgroup v1 / hybrid implementation (src/runtime/cgroup/v1.cc) driven directly through
// make_v1 on the real /sys/fs/cgroup: limits land in the right files, forked children are placed,
// frozen, counted, killed and OOM-killed, and nothing is left behind. Needs root and a v1 or
// hybrid host; each test uses its own cgroup path /berth-test-<pid>-<n> and removes it.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/impl.h"
#include "util/fd.h"

namespace berth::runtime::cgroup {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using namespace std::chrono_literals;

constexpr const char* kRoot = "/sys/fs/cgroup";
constexpr int64_t kMiB = 1 << 20;

bool FsIs(const std::string& path, long magic) {
  struct statfs st;
  return ::statfs(path.c_str(), &st) == 0 && st.f_type == magic;
}
bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}
std::string Read(const std::string& path) {
  auto t = read_file(path);
  if (!t) return "<" + t.error().what() + ">";
  std::string s = *t;
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// A forked child that waits for Go() (so the test can put it in the cgroup first), then runs
// `body` and exits with its result. The destructor kills and reaps it.
class Child {
 public:
  // `cgroup_fd` >= 0: cloned straight into that cgroup2 directory (clone3 CLONE_INTO_CGROUP).
  explicit Child(std::function<int()> body, int cgroup_fd = -1) {
    int go[2];
    if (::pipe2(go, O_CLOEXEC) != 0) return;
    if (cgroup_fd >= 0) {
      struct clone_args args = {};
      args.flags = CLONE_INTO_CGROUP;
      args.exit_signal = SIGCHLD;
      args.cgroup = static_cast<uint64_t>(cgroup_fd);
      pid_ = static_cast<pid_t>(::syscall(SYS_clone3, &args, sizeof args));
    } else {
      pid_ = ::fork();
    }
    if (pid_ == 0) {
      ::close(go[1]);
      char c;
      if (::read(go[0], &c, 1) != 1) _exit(100);
      _exit(body());
    }
    ::close(go[0]);
    go_ = UniqueFd(go[1]);
  }
  ~Child() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  pid_t pid() const { return pid_; }
  void Go() {
    char c = 'g';
    (void)!::write(go_.get(), &c, 1);
    go_.reset();
  }
  // Raw wait status, or -1 on timeout.
  int Wait(std::chrono::milliseconds timeout = 5s) {
    auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
      int status;
      pid_t r = ::waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        pid_ = -1;
        return status;
      }
      std::this_thread::sleep_for(2ms);
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd go_;
};

int Block() {
  for (;;) ::pause();
}

class CgroupV1Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    if (FsIs(kRoot, CGROUP2_SUPER_MAGIC)) GTEST_SKIP() << "needs a cgroup v1 or hybrid host";
    if (!Exists(std::string(kRoot) + "/freezer/cgroup.procs"))
      GTEST_SKIP() << "needs cgroup v1 hierarchies under " << kRoot;
    layout_ =
        FsIs(std::string(kRoot) + "/unified", CGROUP2_SUPER_MAGIC) ? Layout::Hybrid : Layout::V1;
    static std::atomic<int> n{0};
    path_ = "/berth-test-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    cg_ = make_v1(path_, kRoot, layout_);
  }
  void TearDown() override {
    if (!cg_) return;
    children_.clear();  // kill and reap before removing the cgroup
    auto r = cg_->destroy();
    EXPECT_TRUE(r) << r.error().what();
    ExpectNothingLeft();
  }
  // Every hierarchy directory under /sys/fs/cgroup (v1 and unified) lacks our path.
  void ExpectNothingLeft() {
    for (const char* h : {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio",
                          "pids", "systemd", "unified", "hugetlb", "net_cls", "perf_event"}) {
      std::string d = std::string(kRoot) + "/" + h + path_;
      EXPECT_FALSE(Exists(d)) << d << " left behind";
    }
  }
  std::string Dir(const std::string& hierarchy) const {
    return std::string(kRoot) + "/" + hierarchy + path_;
  }
  std::string File(const std::string& hierarchy, const std::string& name) const {
    return Dir(hierarchy) + "/" + name;
  }
  Child& Spawn(std::function<int()> body, int cgroup_fd = -1) {
    children_.push_back(std::make_unique<Child>(std::move(body), cgroup_fd));
    return *children_.back();
  }
  // Creates the cgroup with `r`, failing the test on error.
  void Create(const oci::Resources* r) {
    auto res = cg_->create(r);
    ASSERT_TRUE(res) << res.error().what();
  }
  bool HasMemsw() const {
    return Exists(std::string(kRoot) + "/memory/memory.memsw.limit_in_bytes");
  }

  Layout layout_ = Layout::V1;
  std::string path_;
  std::unique_ptr<Cgroup> cg_;
  std::vector<std::unique_ptr<Child>> children_;
};

TEST_F(CgroupV1Test, CreateWritesTheLimits) {
  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = 64 * kMiB;
  r.memory->reservation = 32 * kMiB;
  if (HasMemsw()) r.memory->swap = 128 * kMiB;
  r.memory->swappiness = 10;
  r.memory->kernel = 8 * kMiB;  // ignored (not enforced by current kernels)
  r.pids_limit = 64;
  r.cpu.emplace();
  r.cpu->shares = 512;
  r.cpu->quota = 50000;
  r.cpu->period = 100000;
  r.cpu->cpus = "0";
  r.cpu->mems = "0";
  ASSERT_NO_FATAL_FAILURE(Create(&r));
  EXPECT_EQ(cg_->path(), path_);
  EXPECT_EQ(Read(File("memory", "memory.limit_in_bytes")), std::to_string(64 * kMiB));
  EXPECT_EQ(Read(File("memory", "memory.soft_limit_in_bytes")), std::to_string(32 * kMiB));
  if (HasMemsw()) {
    EXPECT_EQ(Read(File("memory", "memory.memsw.limit_in_bytes")), std::to_string(128 * kMiB));
  }
  EXPECT_EQ(Read(File("memory", "memory.swappiness")), "10");
  EXPECT_EQ(Read(File("pids", "pids.max")), "64");
  EXPECT_EQ(Read(File("cpu", "cpu.shares")), "512");
  EXPECT_EQ(Read(File("cpu", "cpu.cfs_quota_us")), "50000");
  EXPECT_EQ(Read(File("cpu", "cpu.cfs_period_us")), "100000");
  EXPECT_EQ(Read(File("cpuset", "cpuset.cpus")), "0");
  EXPECT_EQ(Read(File("cpuset", "cpuset.mems")), "0");
  // Every hierarchy has the directory, the unified one too on a hybrid host.
  for (const char* h :
       {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids"}) {
    EXPECT_TRUE(Exists(Dir(h))) << h;
  }
  if (layout_ == Layout::Hybrid) {
    EXPECT_TRUE(Exists(Dir("unified")));
  }
}

TEST_F(CgroupV1Test, CpusetIsCopiedFromTheParentWhenNotGiven) {
  ASSERT_NO_FATAL_FAILURE(Create(nullptr));
  EXPECT_EQ(Read(File("cpuset", "cpuset.cpus")), Read(std::string(kRoot) + "/cpuset/cpuset.cpus"));
  EXPECT_EQ(Read(File("cpuset", "cpuset.mems")), Read(std::string(kRoot) + "/cpuset/cpuset.mems"));
}

TEST_F(CgroupV1Test, NestedPathCreatesParentsAndCopiesCpuset) {
  std::string leaf = path_ + "/inner/leaf";
  cg_ = make_v1(leaf, kRoot, layout_);
  oci::Resources r;
  r.pids_limit = 5;
  ASSERT_NO_FATAL_FAILURE(Create(&r));
  Child& c = Spawn(Block);
  auto add = cg_->add_process(c.pid());
  ASSERT_TRUE(add) << add.error().what();  // would be ENOSPC with empty cpuset.mems
  EXPECT_EQ(Read(std::string(kRoot) + "/pids" + leaf + "/pids.max"), "5");
  children_.clear();
  auto d = cg_->destroy();
  EXPECT_TRUE(d) << d.error().what();
  EXPECT_FALSE(Exists(std::string(kRoot) + "/pids" + leaf));
  // The parents were made for this test; the fixture's cgroup (the top) removes them.
  cg_ = make_v1(path_, kRoot, layout_);
}

TEST_F(CgroupV1Test, ProcessIsPlacedInEveryHierarchy) {
  ASSERT_NO_FATAL_FAILURE(Create(nullptr));
  Child& c = Spawn(Block);
  auto add = cg_->add_process(c.pid());
  ASSERT_TRUE(add) << add.error().what();
  std::string lines = Read("/proc/" + std::to_string(c.pid()) + "/cgroup");
  int v1 = 0;
  bool unified = false;
  size_t start = 0;
  while (start < lines.size()) {
    size_t nl = lines.find('\n', start);
    std::string line =
        lines.substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? lines.size() : nl + 1;
    size_t a = line.find(':'), b = line.find(':', a + 1);
    std::string ctrls = line.substr(a + 1, b - a - 1), where = line.substr(b + 1);
    EXPECT_EQ(where, path_) << line;
    if (ctrls.empty())
      unified = true;
    else
      ++v1;
  }
  EXPECT_GE(v1, 8) << lines;
  if (layout_ == Layout::Hybrid) {
    EXPECT_TRUE(unified) << lines;
  }
  auto pids = cg_->pids();
  ASSERT_TRUE(pids) << pids.error().what();
  EXPECT_EQ(*pids, std::vector<pid_t>{c.pid()});
}

TEST_F(CgroupV1Test, PidsIncludeChildCgroupsAndDestroyRemovesThem) {
  ASSERT_NO_FATAL_FAILURE(Create(nullptr));
  Child& a = Spawn(Block);
  Child& b = Spawn(Block);
  ASSERT_TRUE(cg_->add_process(a.pid()));
  ASSERT_TRUE(cg_->add_process(b.pid()));
  // What a container's own systemd would do: a cgroup below the container's.
  ASSERT_EQ(::mkdir((Dir("freezer") + "/sub").c_str(), 0755), 0);
  ASSERT_TRUE(write_all(
      UniqueFd(::open((Dir("freezer") + "/sub/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC)).get(),
      std::to_string(b.pid())));
  auto pids = cg_->pids();
  ASSERT_TRUE(pids) << pids.error().what();
  EXPECT_THAT(*pids, Contains(a.pid()));
  EXPECT_THAT(*pids, Contains(b.pid()));
  EXPECT_EQ(pids->size(), 2u);
}

TEST_F(CgroupV1Test, FreezeStopsProgressAndThawResumesIt) {
  ASSERT_NO_FATAL_FAILURE(Create(nullptr));
  auto* counter = static_cast<std::atomic<uint64_t>*>(
      ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
  ASSERT_NE(counter, MAP_FAILED);
  Child& c = Spawn([counter] {
    for (;;) counter->fetch_add(1, std::memory_order_relaxed);
    return 0;
  });
  ASSERT_TRUE(cg_->add_process(c.pid()));
  c.Go();
  std::this_thread::sleep_for(20ms);
  auto f = cg_->set_frozen(true);
  ASSERT_TRUE(f) << f.error().what();
  EXPECT_EQ(cg_->is_frozen().value_or(false), true);
  uint64_t frozen_at = counter->load();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(counter->load(), frozen_at) << "a frozen process made progress";
  ASSERT_TRUE(cg_->set_frozen(false));
  EXPECT_EQ(cg_->is_frozen().value_or(true), false);
  std::this_thread::sleep_for(50ms);
  EXPECT_GT(counter->load(), frozen_at) << "a thawed process made no progress";
  ::munmap(counter, 4096);
}

TEST_F(CgroupV1Test, KillAllSignalsEveryProcess) {
  ASSERT_NO_FATAL_FAILURE(Create(nullptr));
  std::vector<Child*> kids;
  for (int i = 0; i < 3; ++i) {
    kids.push_back(&Spawn(Block));
    ASSERT_TRUE(cg_->add_process(kids.back()->pid()));
  }
  auto k = cg_->kill_all(SIGKILL);
  ASSERT_TRUE(k) << k.error().what();
  for (Child* c : kids) {
    int status = c->Wait();
    ASSERT_NE(status, -1) << "process " << c->pid() << " survived";
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }
  EXPECT_EQ(cg_->is_frozen().value_or(true), false) << "kill_all left the cgroup frozen";
}

TEST_F(CgroupV1Test, KillAllKeepsAPausedContainerPausedForOtherSignals) {
  ASSERT_NO_FATAL_FAILURE(Create(nullptr));
  Child& c = Spawn(Block);
  ASSERT_TRUE(cg_->add_process(c.pid()));
  c.Go();
  ASSERT_TRUE(cg_->set_frozen(true));
  ASSERT_TRUE(cg_->kill_all(SIGTERM));
  EXPECT_EQ(cg_->is_frozen().value_or(false), true);
  EXPECT_EQ(c.Wait(100ms), -1) << "a frozen process handled a signal";
  ASSERT_TRUE(cg_->set_frozen(false));
  int status = c.Wait();
  EXPECT_TRUE(status != -1 && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM) << status;
}

TEST_F(CgroupV1Test, StatsReportUsage) {
  oci::Resources r;
  r.memory.emplace().limit = 256 * kMiB;
  r.pids_limit = 10;
  ASSERT_NO_FATAL_FAILURE(Create(&r));
  int ready[2];
  ASSERT_EQ(::pipe2(ready, O_CLOEXEC), 0);
  UniqueFd ready_r(ready[0]), ready_w(ready[1]);
  Child& c = Spawn([w = ready[1]] {
    size_t n = 16 * kMiB;
    char* p = static_cast<char*>(
        ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    auto end = std::chrono::steady_clock::now() + 20ms;  // some cpu time
    while (std::chrono::steady_clock::now() < end) {
    }
    (void)!::write(w, "x", 1);
    return Block();
  });
  ready_w.reset();
  ASSERT_TRUE(cg_->add_process(c.pid()));
  c.Go();
  char x;
  ASSERT_EQ(::read(ready_r.get(), &x, 1), 1);
  auto s = cg_->stats();
  ASSERT_TRUE(s) << s.error().what();
  EXPECT_GE(s->memory.usage, uint64_t(16 * kMiB));
  EXPECT_GE(s->memory.max_usage, s->memory.usage);
  EXPECT_EQ(s->memory.limit, uint64_t(256 * kMiB));
  EXPECT_FALSE(s->memory.stat.empty());
  EXPECT_EQ(s->pids.current, 1u);
  EXPECT_EQ(s->pids.limit, 10u);
  EXPECT_GT(s->cpu.usage_total_ns, 10'000'000u);
  EXPECT_FALSE(s->cpu.per_cpu_ns.empty());
  EXPECT_GT(s->cpu.usage_user_ns + s->cpu.usage_kernel_ns, 0u);
  if (layout_ == Layout::Hybrid && Exists("/sys/kernel/mm/hugepages/hugepages-2048kB")) {
    EXPECT_EQ(s->hugetlb.count("2MB"), 1u);
  }
}

TEST_F(CgroupV1Test, DevicesAllowNullButNotZero) {
  oci::Resources r;
  r.devices = {{.allow = false, .access = "rwm"},
               {.allow = true, .type = "c", .major = 1, .minor = 3, .access = "rwm"}};
  ASSERT_NO_FATAL_FAILURE(Create(&r));
  EXPECT_EQ(Read(File("devices", "devices.list")), "c 1:3 rwm");
  Child& c = Spawn([] {
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null < 0) return 1;
    int zero = ::open("/dev/zero", O_RDONLY | O_CLOEXEC);
    if (zero >= 0) return 2;
    return errno == EPERM ? 0 : 3;
  });
  ASSERT_TRUE(cg_->add_process(c.pid()));
  c.Go();
  int status = c.Wait();
  ASSERT_TRUE(status != -1 && WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: /dev/null refused, 2: /dev/zero opened, 3: not EPERM";
}

TEST_F(CgroupV1Test, DevicesUpdateWritesOnlyTheDifference) {
  oci::Resources r;
  r.devices = {{.allow = false, .access = "rwm"},
               {.allow = true, .type = "c", .major = 1, .minor = 3, .access = "rwm"},
               {.allow = true, .type = "c", .major = 1, .minor = 5, .access = "rwm"}};
  ASSERT_NO_FATAL_FAILURE(Create(&r));
  r.devices[2] = {.allow = true, .type = "c", .major = 1, .minor = 9, .access = "r"};
  auto u = cg_->update(r);
  ASSERT_TRUE(u) << u.error().what();
  EXPECT_EQ(Read(File("devices", "devices.list")), "c 1:3 rwm\nc 1:9 r");
}

TEST_F(CgroupV1Test, HugetlbLimitLandsInTheUnifiedHierarchy) {
  if (layout_ != Layout::Hybrid || Exists(std::string(kRoot) + "/hugetlb"))
    GTEST_SKIP() << "needs a hybrid host whose hugetlb controller is in the unified hierarchy";
  if (!Exists("/sys/kernel/mm/hugepages/hugepages-2048kB")) GTEST_SKIP() << "no 2MB huge pages";
  oci::Resources r;
  r.hugepage_limits = {{"2MB", uint64_t(4 * kMiB)}};
  ASSERT_NO_FATAL_FAILURE(Create(&r));
  EXPECT_EQ(Read(File("unified", "hugetlb.2MB.max")), std::to_string(4 * kMiB));
  Child& c = Spawn(Block);
  ASSERT_TRUE(cg_->add_process(c.pid()));
  EXPECT_THAT(Read(File("unified", "cgroup.procs")), HasSubstr(std::to_string(c.pid())));
}

TEST_F(CgroupV1Test, HugetlbBelowANestedParentEnablesTheController) {
  if (layout_ != Layout::Hybrid || Exists(std::string(kRoot) + "/hugetlb"))
    GTEST_SKIP() << "needs a hybrid host whose hugetlb controller is in the unified hierarchy";
  if (!Exists("/sys/kernel/mm/hugepages/hugepages-2048kB")) GTEST_SKIP() << "no 2MB huge pages";
  std::string leaf = path_ + "/ctr";
  auto inner = make_v1(leaf, kRoot, layout_);
  oci::Resources r;
  r.hugepage_limits = {{"2MB", uint64_t(2 * kMiB)}};
  auto res = inner->create(&r);
  ASSERT_TRUE(res) << res.error().what();
  EXPECT_EQ(Read(std::string(kRoot) + "/unified" + leaf + "/hugetlb.2MB.max"),
            std::to_string(2 * kMiB));
  EXPECT_TRUE(inner->destroy());
}

TEST_F(CgroupV1Test, UnifiedKeysGoToTheUnifiedCgroup) {
  if (layout_ != Layout::Hybrid) GTEST_SKIP() << "needs a hybrid host";
  oci::Resources r;
  r.unified = {{"cgroup.max.descendants", "5"}};
  ASSERT_NO_FATAL_FAILURE(Create(&r));
  EXPECT_EQ(Read(File("unified", "cgroup.max.descendants")), "5");
}

TEST_F(CgroupV1Test, UnifiedKeyOfAControllerTheUnifiedHierarchyLacksFails) {
  if (layout_ != Layout::Hybrid) GTEST_SKIP() << "needs a hybrid host";
  oci::Resources r;
  r.unified = {{"memory.max", "1000000"}};  // memory is a v1 controller here
  auto res = cg_->create(&r);
  ASSERT_FALSE(res);
  EXPECT_THAT(res.error().what(), HasSubstr("linux.resources.unified[\"memory.max\"]"));
  ExpectNothingLeft();
}

TEST_F(CgroupV1Test, UnifiedMapOnAPureV1LayoutFails) {
  auto v1 = make_v1(path_, kRoot, Layout::V1);
  oci::Resources r;
  r.unified = {{"pids.max", "5"}};
  auto res = v1->create(&r);
  ASSERT_FALSE(res);
  EXPECT_THAT(res.error().what(), HasSubstr("linux.resources.unified requires cgroup v2"));
  ExpectNothingLeft();
}

TEST_F(CgroupV1Test, InvalidCpusFailsNamingTheFieldAndLeavesNothing) {
  oci::Resources r;
  r.pids_limit = 10;
  r.cpu.emplace().cpus = "999";
  auto res = cg_->create(&r);
  ASSERT_FALSE(res);
  EXPECT_THAT(res.error().what(), HasSubstr("linux.resources.cpu.cpus"));
  ExpectNothingLeft();
}

TEST_F(CgroupV1Test, InvalidValueLateInCreateLeavesNothing) {
  oci::Resources r;
  r.memory.emplace().limit = 64 * kMiB;
  r.cpu.emplace().shares = 1 << 30;  // clamped by the kernel: reported
  auto res = cg_->create(&r);
  ASSERT_FALSE(res);
  EXPECT_THAT(res.error().what(), HasSubstr("linux.resources.cpu.shares"));
  ExpectNothingLeft();
}

TEST_F(CgroupV1Test, MissingHierarchyFailsBeforeCreatingAnything) {
  if (Exists(std::string(kRoot) + "/net_cls")) GTEST_SKIP() << "net_cls is mounted here";
  oci::Resources r;
  r.network.emplace().class_id = 0x100001;
  auto res = cg_->create(&r);
  ASSERT_FALSE(res);
  EXPECT_THAT(res.error().what(), HasSubstr("linux.resources.network.classID"));
  ExpectNothingLeft();
}

TEST_F(CgroupV1Test, SwapBelowTheLimitIsRejected) {
  if (!HasMemsw()) GTEST_SKIP() << "no swap accounting";
  oci::Resources r;
  r.memory.emplace();
  r.memory->limit = 64 * kMiB;
  r.memory->swap = 32 * kMiB;
  auto res = cg_->create(&r);
  ASSERT_FALSE(res);
  EXPECT_THAT(res.error().what(), HasSubstr("linux.resources.memory.swap"));
  ExpectNothingLeft();
}

TEST_F(CgroupV1Test, UpdateWritesTheGivenFieldsOnly) {
  oci::Resources r;
  r.pids_limit = 10;
  r.memory.emplace().limit = 64 * kMiB;
  if (HasMemsw()) r.memory->swap = 64 * kMiB;
  ASSERT_NO_FATAL_FAILURE(Create(&r));
  std::string shares = Read(File("cpu", "cpu.shares"));
  oci::Resources u;
  u.pids_limit = -1;
  u.memory.emplace().limit = 128 * kMiB;  // above the old memsw: memsw must move first
  if (HasMemsw()) u.memory->swap = 256 * kMiB;
  auto res = cg_->update(u);
  ASSERT_TRUE(res) << res.error().what();
  EXPECT_EQ(Read(File("pids", "pids.max")), "max");
  EXPECT_EQ(Read(File("memory", "memory.limit_in_bytes")), std::to_string(128 * kMiB));
  if (HasMemsw()) {
    EXPECT_EQ(Read(File("memory", "memory.memsw.limit_in_bytes")), std::to_string(256 * kMiB));
  }
  EXPECT_EQ(Read(File("cpu", "cpu.shares")), shares);
  // And back down: the limit must move first.
  u.memory->limit = 32 * kMiB;
  if (HasMemsw()) u.memory->swap = 48 * kMiB;
  res = cg_->update(u);
  ASSERT_TRUE(res) << res.error().what();
  EXPECT_EQ(Read(File("memory", "memory.limit_in_bytes")), std::to_string(32 * kMiB));
}

TEST_F(CgroupV1Test, OomKillIsReportedOnTheEventFd) {
  oci::Resources r;
  r.memory.emplace().limit = 16 * kMiB;
  if (HasMemsw()) r.memory->swap = 16 * kMiB;  // no swapping out of the OOM
  ASSERT_NO_FATAL_FAILURE(Create(&r));
  auto efd = cg_->oom_event_fd();
  ASSERT_TRUE(efd) << efd.error().what();
  ASSERT_TRUE(efd->valid());
  Child& c = Spawn([] {
    size_t n = 64 * kMiB;
    char* p = static_cast<char*>(
        ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 1;
    for (size_t i = 0; i < n; i += 4096) p[i] = 1;
    return 0;
  });
  ASSERT_TRUE(cg_->add_process(c.pid()));
  c.Go();
  int status = c.Wait(10s);
  ASSERT_NE(status, -1) << "the child was not killed";
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  struct pollfd p = {efd->get(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 5000), 1) << "no OOM event";
  uint64_t count = 0;
  EXPECT_EQ(::read(efd->get(), &count, sizeof count), ssize_t(sizeof count));
  EXPECT_GE(count, 1u);
  auto s = cg_->stats();
  ASSERT_TRUE(s);
  EXPECT_GE(s->memory.oom_kill, 1u);
}

// /proc/<pid>/cgroup of `pid` names `path` on every line (v1 hierarchies and the unified one).
bool PlacedEverywhere(pid_t pid, const std::string& path) {
  auto t = read_file("/proc/" + std::to_string(pid) + "/cgroup");
  if (!t) return false;
  int lines = 0;
  size_t start = 0;
  while (start < t->size()) {
    size_t nl = t->find('\n', start);
    std::string line = t->substr(start, nl == std::string::npos ? std::string::npos : nl - start);
    start = nl == std::string::npos ? t->size() : nl + 1;
    if (line.substr(line.rfind(':') + 1) != path) return false;
    ++lines;
  }
  return lines > 0;
}

TEST_F(CgroupV1Test, AddProcessZeroMovesTheCallerItself) {
  ASSERT_NO_FATAL_FAILURE(Create(nullptr));
  Cgroup* cg = cg_.get();
  std::string path = path_;
  Child& c = Spawn([cg, path] {
    if (!cg->add_process(0)) return 1;
    if (!PlacedEverywhere(::getpid(), path)) return 2;
    if (!cg->add_process(0)) return 3;  // already there: nothing to do, no error
    return 0;
  });
  c.Go();
  int status = c.Wait();
  ASSERT_TRUE(status != -1 && WIFEXITED(status)) << status;
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: join failed, 2: not placed, 3: second join failed";
}

// Not a pass/fail benchmark: moving a process into the cgroups from outside (the parent after
// clone), the process moving itself, and (hybrid) cloned into the unified cgroup then moving
// itself into the v1 ones; each after an idle pause, as on a container start.
TEST_F(CgroupV1Test, AddProcessCost) {
  ASSERT_NO_FATAL_FAILURE(Create(nullptr));
  UniqueFd unified;
  if (layout_ == Layout::Hybrid)
    unified.reset(::open(Dir("unified").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  constexpr int kRounds = 8;
  using Us = std::chrono::duration<double, std::micro>;
  Us by_parent{0}, by_self{0}, into_then_self{0};
  // A child that times its own add_process(0) and reports it.
  auto self_join = [&](int cgroup_fd) -> double {
    int res[2];
    if (::pipe2(res, O_CLOEXEC) != 0) return -1;
    UniqueFd res_r(res[0]), res_w(res[1]);
    Cgroup* cg = cg_.get();
    std::string path = path_;
    Child& c = Spawn(
        [cg, path, w = res[1]] {
          auto t0 = std::chrono::steady_clock::now();
          bool ok = cg->add_process(0).has_value();
          double us = Us(std::chrono::steady_clock::now() - t0).count();
          if (!ok || !PlacedEverywhere(::getpid(), path)) us = -1;
          (void)!::write(w, &us, sizeof us);
          return 0;
        },
        cgroup_fd);
    res_w.reset();
    c.Go();
    double us = -1;
    if (::read(res_r.get(), &us, sizeof us) != ssize_t(sizeof us)) us = -1;
    children_.clear();
    return us;
  };
  for (int i = 0; i < kRounds; ++i) {
    std::this_thread::sleep_for(30ms);
    Child& c = Spawn(Block);
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(cg_->add_process(c.pid()));
    by_parent += std::chrono::steady_clock::now() - t0;
    children_.clear();
    std::this_thread::sleep_for(30ms);
    double us = self_join(-1);
    ASSERT_GE(us, 0) << "add_process(0) failed or did not place the child";
    by_self += Us(us);
    if (unified) {
      std::this_thread::sleep_for(30ms);
      us = self_join(unified.get());
      ASSERT_GE(us, 0) << "clone3 into unified + add_process(0) did not place the child";
      into_then_self += Us(us);
    }
  }
  std::printf(
      "cgroup v1 (%s), after 30 ms idle: add_process(pid) from the parent %.0f us; "
      "add_process(0) by the process itself %.0f us",
      layout_ == Layout::Hybrid ? "hybrid" : "v1", by_parent.count() / kRounds,
      by_self.count() / kRounds);
  if (unified)
    std::printf("; cloned into the unified cgroup, then add_process(0) %.0f us",
                into_then_self.count() / kRounds);
  std::printf("\n");
}

// Not a pass/fail benchmark: prints what create() costs on this host (it is on the container
// start path) and fails only if it is absurdly slow.
TEST_F(CgroupV1Test, CreateCost) {
  oci::Resources r;
  r.memory.emplace().limit = 256 * kMiB;
  r.pids_limit = 1024;
  r.cpu.emplace().shares = 512;
  r.devices = {{.allow = false, .access = "rwm"}};
  for (auto [maj, min] : std::vector<std::pair<int64_t, int64_t>>{
           {1, 3}, {1, 5}, {1, 7}, {1, 8}, {1, 9}, {5, 0}, {5, 1}, {5, 2}, {10, 200}})
    r.devices.push_back({.allow = true, .type = "c", .major = maj, .minor = min, .access = "rwm"});
  r.devices.push_back({.allow = true, .type = "c", .major = 136, .access = "rwm"});
  constexpr int kRounds = 30;
  using Us = std::chrono::duration<double, std::micro>;
  Us create_bare{0}, create_full{0}, add{0}, destroy{0};
  for (int i = 0; i < kRounds; ++i) {
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(cg_->create(nullptr));
    auto t1 = std::chrono::steady_clock::now();
    ASSERT_TRUE(cg_->destroy());
    auto t2 = std::chrono::steady_clock::now();
    ASSERT_NO_FATAL_FAILURE(Create(&r));
    auto t3 = std::chrono::steady_clock::now();
    Child& c = Spawn(Block);
    auto t4 = std::chrono::steady_clock::now();
    ASSERT_TRUE(cg_->add_process(c.pid()));
    auto t5 = std::chrono::steady_clock::now();
    children_.clear();
    ASSERT_TRUE(cg_->destroy());
    create_bare += t1 - t0;
    destroy += t2 - t1;
    create_full += t3 - t2;
    add += t5 - t4;
  }
  std::printf(
      "cgroup v1 (%s): create() %.0f us bare, %.0f us with memory+pids+cpu+11 device "
      "rules; add_process %.0f us; destroy (empty) %.0f us\n",
      layout_ == Layout::Hybrid ? "hybrid" : "v1", create_bare.count() / kRounds,
      create_full.count() / kRounds, add.count() / kRounds, destroy.count() / kRounds);
  EXPECT_LT(create_full.count() / kRounds, 20000.0);
}

}  // namespace
}  // namespace berth::runtime::cgroup
