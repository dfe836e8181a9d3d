// The cgroup v2 manager against the kernel: on a pure v2 host at /sys/fs/cgroup, on a hybrid
// host in its cgroup2 at /sys/fs/cgroup/unified (whose controllers are mostly bound to v1, so
// memory/cpu/pids are missing there: the tests check the error that gives), and in a private
// mount namespace where the unified hierarchy is bound over /sys/fs/cgroup so that the host
// looks like pure v2 to host_layout().
//
// Each test works in its own cgroup "/berth-v2-it-<pid>-<n>/c" and removes it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/magic.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "runtime/cgroup/cgroup.h"
#include "runtime/cgroup/impl.h"

namespace berth::runtime::cgroup {
namespace {

using namespace std::chrono_literals;

constexpr const char* kPrivateNsEnv = "BERTH_CGROUP_V2_PRIVATE_NS_BODY";

bool is_cgroup2(const std::string& path) {
  struct statfs st;
  return ::statfs(path.c_str(), &st) == 0 &&
         static_cast<unsigned long>(st.f_type) == CGROUP2_SUPER_MAGIC;
}

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w)
    if (w == word) return true;
  return false;
}

// A child that counts in shared memory until killed, started by clone3 straight into a
// cgroup (the fd from clone_into_fd) or by fork.
class Counter {
 public:
  Counter() {
    void* p = ::mmap(nullptr, sizeof(std::atomic<uint64_t>), PROT_READ | PROT_WRITE,
                     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    count_ = new (p) std::atomic<uint64_t>(0);
  }
  ~Counter() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
    ::munmap(count_, sizeof *count_);
  }
  // Returns false (errno set) if clone3 failed.
  bool start(int cgroup_fd) {
    struct clone_args args;
    std::memset(&args, 0, sizeof args);
    args.exit_signal = SIGCHLD;
    if (cgroup_fd >= 0) {
      args.flags = CLONE_INTO_CGROUP;
      args.cgroup = static_cast<uint64_t>(cgroup_fd);
    }
    long r = ::syscall(SYS_clone3, &args, sizeof args);
    if (r < 0) return false;
    if (r == 0) run();
    pid_ = static_cast<pid_t>(r);
    return true;
  }
  pid_t pid() const { return pid_; }
  uint64_t count() const { return count_->load(); }
  bool advances(std::chrono::milliseconds over = 100ms) const {
    uint64_t a = count();
    std::this_thread::sleep_for(over);
    return count() != a;
  }
  // The raw wait status (the child is then gone).
  int wait() {
    int st = 0;
    ::waitpid(pid_, &st, 0);
    pid_ = -1;
    return st;
  }

 private:
  [[noreturn]] void run() {
    for (;;) count_->fetch_add(1);
  }
  std::atomic<uint64_t>* count_;
  pid_t pid_ = -1;
};

// Where a cgroup2 hierarchy is: /sys/fs/cgroup on pure v2, /sys/fs/cgroup/unified on hybrid.
std::string v2_root() {
  if (is_cgroup2("/sys/fs/cgroup")) return "/sys/fs/cgroup";
  if (is_cgroup2("/sys/fs/cgroup/unified")) return "/sys/fs/cgroup/unified";
  return {};
}

class CgroupV2Test : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (cgroupfs writes, bpf)";
    root_ = v2_root();
    if (root_.empty()) GTEST_SKIP() << "no cgroup2 hierarchy at /sys/fs/cgroup{,/unified}";
    static int n = 0;
    parent_ = "/berth-v2-it-" + std::to_string(::getpid()) + "-" + std::to_string(++n);
    path_ = parent_ + "/c";
  }
  void TearDown() override {
    if (root_.empty()) return;
    // Whatever a failed test left: kill, then remove the leaf's tree (a test may nest
    // cgroups in it) and the parent.
    std::string leaf = root_ + path_;
    if (exists(leaf)) {
      std::ofstream(leaf + "/cgroup.kill") << "1";
      std::vector<std::string> dirs;  // children before parents
      std::error_code ec;
      for (auto it = std::filesystem::recursive_directory_iterator(leaf, ec);
           !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec))
        if (it->is_directory()) dirs.push_back(it->path());
      std::sort(dirs.begin(), dirs.end(), [](auto& a, auto& b) { return a.size() > b.size(); });
      dirs.push_back(leaf);
      for (const std::string& d : dirs)
        for (int i = 0; i < 100 && ::rmdir(d.c_str()) < 0 && errno == EBUSY; ++i)
          std::this_thread::sleep_for(10ms);
    }
    ::rmdir((root_ + parent_).c_str());
    EXPECT_FALSE(exists(root_ + parent_)) << "left behind: " << root_ + parent_;
  }
  std::unique_ptr<Cgroup> Open() {
    auto cg = open(path_, "unused", root_);
    EXPECT_TRUE(cg.has_value()) << cg.error().what();
    if (!cg) return nullptr;
    EXPECT_EQ((*cg)->layout(), Layout::V2);
    EXPECT_EQ((*cg)->path(), path_);
    return std::move(*cg);
  }
  bool RootHas(const std::string& controller) {
    return has_word(read_text(root_ + "/cgroup.controllers"), controller);
  }
  std::string Leaf(const std::string& file = "") const {
    return root_ + path_ + (file.empty() ? "" : "/" + file);
  }

  std::string root_, parent_, path_;
};

// create, place (clone3 and cgroup.procs), list, freeze, thaw, kill, destroy.
void lifecycle(Cgroup& cg, const std::string& leaf_dir) {
  ASSERT_TRUE(cg.create(nullptr)) << "create";
  ASSERT_TRUE(exists(leaf_dir + "/cgroup.procs"));

  UniqueFd fd = cg.clone_into_fd();
  ASSERT_TRUE(fd.valid()) << "clone_into_fd: " << strerror(errno);
  Counter a, b;
  ASSERT_TRUE(a.start(fd.get())) << "clone3(CLONE_INTO_CGROUP): " << strerror(errno);
  ASSERT_TRUE(b.start(-1));
  auto added = cg.add_process(b.pid());
  ASSERT_TRUE(added) << added.error().what();
  EXPECT_NE(
      read_text("/proc/" + std::to_string(a.pid()) + "/cgroup").find("0::" + cg.path() + "\n"),
      std::string::npos)
      << read_text("/proc/" + std::to_string(a.pid()) + "/cgroup");

  auto pids = cg.pids();
  ASSERT_TRUE(pids) << pids.error().what();
  EXPECT_EQ(pids->size(), 2u);
  EXPECT_NE(std::find(pids->begin(), pids->end(), a.pid()), pids->end());
  EXPECT_NE(std::find(pids->begin(), pids->end(), b.pid()), pids->end());

  EXPECT_TRUE(a.advances());
  EXPECT_FALSE(cg.is_frozen().value_or(true));
  auto frozen = cg.set_frozen(true);
  ASSERT_TRUE(frozen) << frozen.error().what();
  EXPECT_TRUE(cg.is_frozen().value_or(false));
  EXPECT_NE(read_text(leaf_dir + "/cgroup.events").find("frozen 1"), std::string::npos);
  EXPECT_FALSE(a.advances(200ms)) << "frozen child still runs";
  EXPECT_FALSE(b.advances(50ms));
  auto thawed = cg.set_frozen(false);
  ASSERT_TRUE(thawed) << thawed.error().what();
  EXPECT_FALSE(cg.is_frozen().value_or(true));
  EXPECT_TRUE(a.advances()) << "thawed child does not run";

  auto st = cg.stats();
  ASSERT_TRUE(st) << st.error().what();
  EXPECT_GT(st->cpu.usage_total_ns, 0u);  // cpu.stat is there without the cpu controller

  auto killed = cg.kill_all(SIGKILL);
  ASSERT_TRUE(killed) << killed.error().what();
  int sa = a.wait(), sb = b.wait();
  EXPECT_TRUE(WIFSIGNALED(sa) && WTERMSIG(sa) == SIGKILL) << sa;
  EXPECT_TRUE(WIFSIGNALED(sb) && WTERMSIG(sb) == SIGKILL) << sb;

  auto destroyed = cg.destroy();
  ASSERT_TRUE(destroyed) << destroyed.error().what();
  EXPECT_FALSE(exists(leaf_dir));
  EXPECT_TRUE(cg.destroy()) << "destroying twice is fine";
}

TEST_F(CgroupV2Test, Lifecycle) {
  auto cg = Open();
  ASSERT_TRUE(cg);
  lifecycle(*cg, Leaf());
}

TEST_F(CgroupV2Test, KillAllWithOtherSignalsSignalsEachProcess) {
  auto cg = Open();
  ASSERT_TRUE(cg && cg->create(nullptr));
  UniqueFd fd = cg->clone_into_fd();
  Counter a, b;
  ASSERT_TRUE(a.start(fd.get()) && b.start(fd.get()));
  ASSERT_TRUE(cg->kill_all(SIGTERM));
  int sa = a.wait(), sb = b.wait();
  EXPECT_TRUE(WIFSIGNALED(sa) && WTERMSIG(sa) == SIGTERM) << sa;
  EXPECT_TRUE(WIFSIGNALED(sb) && WTERMSIG(sb) == SIGTERM) << sb;
  EXPECT_FALSE(cg->is_frozen().value_or(true)) << "the temporary freeze was undone";
  ASSERT_TRUE(cg->destroy());
}

TEST_F(CgroupV2Test, KillAllKeepsAPausedContainerPaused) {
  auto cg = Open();
  ASSERT_TRUE(cg && cg->create(nullptr));
  UniqueFd fd = cg->clone_into_fd();
  Counter a;
  ASSERT_TRUE(a.start(fd.get()));
  ASSERT_TRUE(cg->set_frozen(true));
  ASSERT_TRUE(cg->kill_all(SIGUSR1));  // delivered once thawed
  EXPECT_TRUE(cg->is_frozen().value_or(false));
  ASSERT_TRUE(cg->set_frozen(false));
  int st = a.wait();
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGUSR1) << st;
  ASSERT_TRUE(cg->destroy());
}

TEST_F(CgroupV2Test, DestroyRemovesNestedCgroupsAndWaitsForExits) {
  auto cg = Open();
  ASSERT_TRUE(cg && cg->create(nullptr));
  ASSERT_EQ(::mkdir(Leaf("inner").c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Leaf("inner/deeper").c_str(), 0755), 0);
  UniqueFd fd(::open(Leaf("inner/deeper").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  Counter a;
  ASSERT_TRUE(a.start(fd.get()));
  auto pids = cg->pids();
  ASSERT_TRUE(pids);
  EXPECT_EQ(*pids, std::vector<pid_t>{a.pid()}) << "pids() descends into nested cgroups";
  ASSERT_TRUE(cg->kill_all(SIGKILL));
  // No wait for the child: destroy retries while it exits (it stays a zombie, which does not
  // keep the cgroup busy once it has left it).
  auto d = cg->destroy();
  EXPECT_TRUE(d) << d.error().what();
  EXPECT_FALSE(exists(Leaf()));
  a.wait();
}

TEST_F(CgroupV2Test, DestroyOfABusyCgroupNamesIt) {
  auto cg = Open();
  ASSERT_TRUE(cg && cg->create(nullptr));
  UniqueFd fd = cg->clone_into_fd();
  Counter a;
  ASSERT_TRUE(a.start(fd.get()));
  auto t0 = std::chrono::steady_clock::now();
  auto d = cg->destroy();
  ASSERT_FALSE(d);
  EXPECT_NE(d.error().what().find("cgroup \"" + path_ + "\""), std::string::npos)
      << d.error().what();
  EXPECT_NE(d.error().what().find("busy"), std::string::npos) << d.error().what();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
  ASSERT_TRUE(cg->kill_all(SIGKILL));
  a.wait();
  EXPECT_TRUE(cg->destroy());
}

TEST_F(CgroupV2Test, HugetlbLimit) {
  if (!RootHas("hugetlb")) GTEST_SKIP() << "no hugetlb controller in " << root_;
  if (!exists("/sys/kernel/mm/hugepages/hugepages-2048kB")) GTEST_SKIP() << "no 2MB huge pages";
  auto cg = Open();
  ASSERT_TRUE(cg);
  oci::Resources r;
  r.hugepage_limits.push_back({"2MB", 4u << 20});
  auto c = cg->create(&r);
  ASSERT_TRUE(c) << c.error().what();
  EXPECT_EQ(read_text(Leaf("hugetlb.2MB.max")), "4194304\n");
  if (exists(Leaf("hugetlb.2MB.rsvd.max"))) {
    EXPECT_EQ(read_text(Leaf("hugetlb.2MB.rsvd.max")), "4194304\n");
  }
  auto st = cg->stats();
  ASSERT_TRUE(st);
  ASSERT_TRUE(st->hugetlb.count("2MB"));
  EXPECT_EQ(st->hugetlb["2MB"].max, 4u << 20);
  // update: only what is given
  oci::Resources u;
  u.hugepage_limits.push_back({"2MB", 8u << 20});
  ASSERT_TRUE(cg->update(u));
  EXPECT_EQ(read_text(Leaf("hugetlb.2MB.max")), "8388608\n");
  // a page size the host does not have names the field
  oci::Resources bad;
  bad.hugepage_limits.push_back({"3MB", 1});
  auto e = cg->update(bad);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().what().find("linux.resources.hugepageLimits[0].pageSize: \"3MB\""),
            std::string::npos)
      << e.error().what();
  ASSERT_TRUE(cg->destroy());
}

TEST_F(CgroupV2Test, UnifiedKeys) {
  auto cg = Open();
  ASSERT_TRUE(cg);
  oci::Resources r;
  r.unified["cgroup.max.descendants"] = "7";
  ASSERT_TRUE(cg->create(&r));
  EXPECT_EQ(read_text(Leaf("cgroup.max.descendants")), "7\n");
  ASSERT_TRUE(cg->destroy());
  ASSERT_EQ(::rmdir((root_ + parent_).c_str()), 0);  // destroy removes the leaf only

  oci::Resources unknown;
  unknown.unified["cgroup.nosuchfile"] = "1";
  auto e = cg->create(&unknown);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().what().find("linux.resources.unified[\"cgroup.nosuchfile\"]"),
            std::string::npos)
      << e.error().what();
  EXPECT_FALSE(exists(Leaf())) << "a failed create removes what it made";
  EXPECT_FALSE(exists(root_ + parent_));

  for (const char* key : {"../cgroup.procs", "a/b.c", "nodot", ".x", "x."}) {
    oci::Resources bad;
    bad.unified[key] = "1";
    auto b = cg->create(&bad);
    ASSERT_FALSE(b) << key;
    EXPECT_NE(b.error().what().find(std::string("\"") + key + "\""), std::string::npos)
        << b.error().what();
    EXPECT_FALSE(exists(Leaf()));
  }

  if (!RootHas("memory")) {
    oci::Resources mem;
    mem.unified["memory.high"] = "100M";
    auto m = cg->create(&mem);
    ASSERT_FALSE(m);
    EXPECT_NE(m.error().what().find("the memory controller is not available"), std::string::npos)
        << m.error().what();
  }
}

TEST_F(CgroupV2Test, MissingControllerIsAnErrorNamingTheField) {
  if (RootHas("memory")) GTEST_SKIP() << "the memory controller is available in " << root_;
  auto cg = Open();
  ASSERT_TRUE(cg);
  oci::Resources r;
  r.memory.emplace().limit = 64 << 20;
  auto e = cg->create(&r);
  ASSERT_FALSE(e);
  EXPECT_EQ(e.error().what(),
            "linux.resources.memory: the memory controller is not available in "
            "cgroup \"" +
                path_ + "\" (cgroup v2)");
  EXPECT_FALSE(exists(Leaf()));
  EXPECT_FALSE(exists(root_ + parent_));

  if (!RootHas("pids")) {
    oci::Resources p;
    p.pids_limit = 10;
    auto pe = cg->create(&p);
    ASSERT_FALSE(pe);
    EXPECT_NE(pe.error().what().find("linux.resources.pids: the pids controller"),
              std::string::npos)
        << pe.error().what();
  }
}

// A child placed in the cgroup tries to open two devices and reports errno (0 = opened).
std::pair<int, int> open_null_and_zero(Cgroup& cg) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return {-1, -1};
  UniqueFd fd = cg.clone_into_fd();
  struct clone_args args;
  std::memset(&args, 0, sizeof args);
  args.exit_signal = SIGCHLD;
  args.flags = CLONE_INTO_CGROUP;
  args.cgroup = static_cast<uint64_t>(fd.get());
  long pid = ::syscall(SYS_clone3, &args, sizeof args);
  if (pid == 0) {
    int res[2];
    const char* devs[2] = {"/dev/null", "/dev/zero"};
    for (int i = 0; i < 2; ++i) {
      int f = ::open(devs[i], O_RDWR | O_CLOEXEC);
      res[i] = f < 0 ? errno : 0;
    }
    (void)!::write(p[1], res, sizeof res);
    _exit(0);
  }
  ::close(p[1]);
  int res[2] = {-1, -1};
  if (pid > 0) {
    (void)!::read(p[0], res, sizeof res);
    ::waitpid(static_cast<pid_t>(pid), nullptr, 0);
  }
  ::close(p[0]);
  return {res[0], res[1]};
}

oci::DeviceCgroupRule dev_rule(bool allow, const char* type, std::optional<int64_t> major,
                               std::optional<int64_t> minor, const char* access) {
  oci::DeviceCgroupRule r;
  r.allow = allow;
  r.type = type;
  r.major = major;
  r.minor = minor;
  r.access = access;
  return r;
}

TEST_F(CgroupV2Test, DeviceProgramIsEnforcedAndReplacedOnUpdate) {
  auto cg = Open();
  ASSERT_TRUE(cg);
  oci::Resources r;
  r.devices = {dev_rule(false, "a", {}, {}, "rwm"), dev_rule(true, "c", 1, 3, "rwm")};
  auto c = cg->create(&r);
  ASSERT_TRUE(c) << c.error().what();
  auto [null_err, zero_err] = open_null_and_zero(*cg);
  EXPECT_EQ(null_err, 0) << "/dev/null: " << strerror(null_err);
  EXPECT_EQ(zero_err, EPERM) << "/dev/zero: " << strerror(zero_err);

  // update replaces the program (two attached programs would deny both devices)
  oci::Resources u;
  u.devices = {dev_rule(false, "a", {}, {}, "rwm"), dev_rule(true, "c", 1, 5, "rw")};
  auto up = cg->update(u);
  ASSERT_TRUE(up) << up.error().what();
  std::tie(null_err, zero_err) = open_null_and_zero(*cg);
  EXPECT_EQ(null_err, EPERM);
  EXPECT_EQ(zero_err, 0) << strerror(zero_err);

  // partial access: read-only /dev/zero is not enough for O_RDWR
  oci::Resources ro;
  ro.devices = {dev_rule(true, "a", {}, {}, "rwm"), dev_rule(false, "c", 1, 5, "w")};
  ASSERT_TRUE(cg->update(ro));
  std::tie(null_err, zero_err) = open_null_and_zero(*cg);
  EXPECT_EQ(null_err, 0);
  EXPECT_EQ(zero_err, EPERM);

  ASSERT_TRUE(cg->destroy());
}

TEST_F(CgroupV2Test, BadDeviceRuleFailsCreateAndCleansUp) {
  auto cg = Open();
  ASSERT_TRUE(cg);
  oci::Resources r;
  r.devices = {dev_rule(true, "c", 1, 3, "rwq")};
  auto e = cg->create(&r);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().what().find("linux.resources.devices[0].access"), std::string::npos)
      << e.error().what();
  EXPECT_FALSE(exists(Leaf()));
}

TEST_F(CgroupV2Test, OomEventFdAndStatsWithoutMemoryController) {
  auto cg = Open();
  ASSERT_TRUE(cg && cg->create(nullptr));
  auto fd = cg->oom_event_fd();
  ASSERT_TRUE(fd) << fd.error().what();
  EXPECT_EQ(fd->valid(), exists(Leaf("memory.events")));
  auto st = cg->stats();
  ASSERT_TRUE(st) << st.error().what();
  if (!exists(Leaf("pids.current"))) {
    EXPECT_EQ(st->pids.current, 0u);
  }
  ASSERT_TRUE(cg->destroy());
  EXPECT_FALSE(cg->stats()) << "stats of a removed cgroup is an error";
}

TEST_F(CgroupV2Test, ExistingCgroupIsReusedAndKeptOnFailure) {
  // A cgroup made by someone else (podman's pod, a systemd scope) is joined, and a failed
  // create does not remove it.
  ASSERT_EQ(::mkdir((root_ + parent_).c_str(), 0755), 0);
  ASSERT_EQ(::mkdir(Leaf().c_str(), 0755), 0);
  auto cg = Open();
  ASSERT_TRUE(cg);
  oci::Resources bad;
  bad.unified["cgroup.nosuchfile"] = "1";
  ASSERT_FALSE(cg->create(&bad));
  EXPECT_TRUE(exists(Leaf()));
  ASSERT_TRUE(cg->create(nullptr));
  ASSERT_TRUE(cg->destroy());
}

// ---- a pure v2 host, simulated: the unified hierarchy bound over /sys/fs/cgroup in a private
// mount namespace. The body runs in a fresh exec of this binary (host_layout() caches per
// process), started by the test below.

TEST(CgroupV2PrivateNs, Body) {
  const char* parent = ::getenv(kPrivateNsEnv);
  if (!parent) GTEST_SKIP() << "runs only inside CgroupV2PrivateNs.PureV2Host";
  ASSERT_EQ(host_layout(), Layout::V2) << layout_name(host_layout());
  std::string path = std::string(parent) + "/c";
  auto cg = open(path, "unused");  // the default mount root, /sys/fs/cgroup
  ASSERT_TRUE(cg) << cg.error().what();
  EXPECT_EQ((*cg)->layout(), Layout::V2);
  lifecycle(**cg, "/sys/fs/cgroup" + path);

  // The default path, /berth/<id>.
  std::string id = std::string(parent).substr(1) + "-id";
  auto def = open("", id);
  ASSERT_TRUE(def);
  EXPECT_EQ((*def)->path(), "/berth/" + id);
  ASSERT_TRUE((*def)->create(nullptr));
  EXPECT_TRUE(exists("/sys/fs/cgroup/berth/" + id));
  ASSERT_TRUE((*def)->destroy());
  ::rmdir("/sys/fs/cgroup/berth");  // only if empty: other users may have containers there
  ASSERT_EQ(::rmdir(("/sys/fs/cgroup" + std::string(parent)).c_str()), 0) << strerror(errno);
}

TEST(CgroupV2PrivateNs, PureV2Host) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  if (is_cgroup2("/sys/fs/cgroup"))
    GTEST_SKIP() << "a pure v2 host already (CgroupV2Test covers it)";
  if (!is_cgroup2("/sys/fs/cgroup/unified")) GTEST_SKIP() << "no /sys/fs/cgroup/unified";
  std::string parent = "/berth-v2-pns-" + std::to_string(::getpid());
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) < 0 ||
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0 ||
        ::mount("/sys/fs/cgroup/unified", "/sys/fs/cgroup", nullptr, MS_BIND, nullptr) < 0) {
      perror("private mount namespace");
      _exit(2);
    }
    ::setenv(kPrivateNsEnv, parent.c_str(), 1);
    char filter[] = "--gtest_filter=CgroupV2PrivateNs.Body";
    char* argv[] = {const_cast<char*>("berth_integration_tests"), filter, nullptr};
    ::execv("/proc/self/exe", argv);
    perror("exec");
    _exit(3);
  }
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "the body failed (its output is above)";
  // Nothing left in the real hierarchy, and the host's view is unchanged.
  EXPECT_FALSE(exists("/sys/fs/cgroup/unified" + parent));
  EXPECT_FALSE(is_cgroup2("/sys/fs/cgroup"));
}

}  // namespace
}  // namespace berth::runtime::cgroup
