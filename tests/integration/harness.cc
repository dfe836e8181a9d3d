#include "harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
// Not <sys/mount.h>: berth's src/sys/mount.h shadows it on the include path.
#include <poll.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace berth::it {

namespace {

std::string FindInPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return fs::absolute(name).string();
  const char* path = getenv("PATH");
  std::string p = path ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  p += ":/usr/sbin:/sbin";
  std::stringstream ss(p);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string cand = dir + "/" + name;
    if (access(cand.c_str(), X_OK) == 0) return cand;
  }
  return name;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = "/tmp/" + prefix + "XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    ADD_FAILURE() << "mkdtemp: " << strerror(errno);
    return "/tmp";
  }
  // Traversable by a container's mapped root (user-namespace tests).
  chmod(buf.data(), 0755);
  return buf.data();
}

// The shared dir for this binary run: holds the shared rootfs; removed at exit.
struct SuiteEnvironment : public ::testing::Environment {
  void SetUp() override {
    // Like a shim: orphaned container processes reparent to us, and we reap them.
    prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
  }
  void TearDown() override {
    ReapChildren();
    if (!dir.empty()) RemoveTree(dir);
  }
  std::string dir;
};
SuiteEnvironment* g_env =
    static_cast<SuiteEnvironment*>(::testing::AddGlobalTestEnvironment(new SuiteEnvironment));

std::atomic<int> g_counter{0};
// Children the harness spawned and waits for itself; ReapChildren leaves them alone.
std::set<pid_t> g_owned;

}  // namespace

// ---- the runtime under test -------------------------------------------------------------------

const std::string& RuntimePath() {
  static const std::string path = [] {
    const char* env = getenv("BERTH_TEST_RUNTIME");
    if (env && *env) return FindInPath(env);
    return std::string(BERTH_RUNTIME_BIN);
  }();
  return path;
}

std::string RuntimeName() { return fs::path(RuntimePath()).filename().string(); }

bool RuntimeIsRunc() { return RuntimeName() == "runc"; }

const json& RuntimeFeatures() {
  static const json features = [] {
    std::string dir = MakeTempDir("berth-it-features-");
    ExecResult r = Process::Spawn({RuntimePath(), "features"}, dir).Wait(10s);
    RemoveTree(dir);
    if (!r.ok()) return json(nullptr);
    json j = json::parse(r.out, nullptr, false);
    return j.is_discarded() ? json(nullptr) : j;
  }();
  return features;
}

bool RuntimeSupportsSeccomp() {
  const json& f = RuntimeFeatures();
  if (!f.is_object()) return true;
  auto ptr = json::json_pointer("/linux/seccomp/enabled");
  return !f.contains(ptr) || f[ptr] == true;
}

bool RuntimeSupportsCgroups() {
  const json& f = RuntimeFeatures();
  if (!f.is_object()) return true;
  auto v1 = json::json_pointer("/linux/cgroup/v1"), v2 = json::json_pointer("/linux/cgroup/v2");
  if (!f.contains(v1) && !f.contains(v2)) return true;
  return (f.contains(v1) && f[v1] == true) || (f.contains(v2) && f[v2] == true);
}

// ---- processes --------------------------------------------------------------------------------

std::string Describe(const ExecResult& r) {
  std::ostringstream os;
  os << (r.timed_out ? "TIMED OUT, " : "") << "exit " << r.exit_code << " after "
     << r.elapsed.count() << " ms\n--- stdout ---\n"
     << r.out << "\n--- stderr ---\n"
     << r.err << "\n---";
  return os.str();
}

Process::Process(Process&& o) noexcept { *this = std::move(o); }

Process& Process::operator=(Process&& o) noexcept {
  if (this != &o) {
    std::swap(pid_, o.pid_);
    std::swap(pidfd_, o.pidfd_);
    std::swap(out_path_, o.out_path_);
    std::swap(err_path_, o.err_path_);
    std::swap(timeout_, o.timeout_);
    std::swap(start_, o.start_);
  }
  return *this;
}

Process::~Process() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    g_owned.erase(pid_);
  }
  if (pidfd_ >= 0) close(pidfd_);
}

Process Process::Spawn(const std::vector<std::string>& argv, const std::string& dir,
                       const SpawnOptions& opts) {
  Process p;
  int n = g_counter++;
  p.out_path_ = dir + "/proc" + std::to_string(n) + ".out";
  p.err_path_ = dir + "/proc" + std::to_string(n) + ".err";
  p.timeout_ = opts.timeout;

  // Everything the child needs is prepared before fork.
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    std::string key = kv.substr(0, kv.find('='));
    if (opts.env.count(key) ||
        std::find(opts.unset_env.begin(), opts.unset_env.end(), key) != opts.unset_env.end() ||
        (opts.set_listen_pid && key == "LISTEN_PID"))
      continue;
    env_store.push_back(kv);
  }
  for (auto& [k, v] : opts.env) env_store.push_back(k + "=" + v);
  static char listen_pid_buf[64];
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  if (opts.set_listen_pid) envp.push_back(listen_pid_buf);
  envp.push_back(nullptr);
  std::vector<std::string> argv_store = argv;
  std::vector<char*> argvp;
  for (auto& s : argv_store) argvp.push_back(s.data());
  argvp.push_back(nullptr);

  int out = open(p.out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err = open(p.err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (out < 0 || err < 0 || devnull < 0) {
    ADD_FAILURE() << "open output files in " << dir << ": " << strerror(errno);
    return p;
  }

  p.start_ = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    if (opts.set_listen_pid)
      snprintf(listen_pid_buf, sizeof listen_pid_buf, "LISTEN_PID=%d", getpid());
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    int in = opts.stdin_fd >= 0 ? opts.stdin_fd : devnull;
    int o = out, e = err;
    if (opts.controlling_tty >= 0) {
      setsid();
      if (ioctl(opts.controlling_tty, TIOCSCTTY, 0) < 0) _exit(126);
      in = o = e = opts.controlling_tty;
    }
    // Move every source fd out of the way first, so dup2 onto small numbers cannot clobber one.
    int hi = 200;
    int in2 = fcntl(in, F_DUPFD, hi), o2 = fcntl(o, F_DUPFD, hi), e2 = fcntl(e, F_DUPFD, hi);
    std::vector<std::pair<int, int>> extras;
    for (auto& [target, source] : opts.extra_fds)
      extras.push_back({target, fcntl(source, F_DUPFD, hi)});
    dup2(in2, 0);
    dup2(o2, 1);
    dup2(e2, 2);
    int max_target = 2;
    for (auto& [target, src] : extras) {
      dup2(src, target);
      max_target = std::max(max_target, target);
    }
    for (int fd = 3; fd <= max_target; ++fd)
      if (!opts.extra_fds.count(fd)) close(fd);
    syscall(SYS_close_range, max_target + 1, ~0U, 0);
    if (!opts.cwd.empty() && chdir(opts.cwd.c_str()) != 0) _exit(125);
    execve(argvp[0], argvp.data(), envp.data());
    dprintf(2, "harness: exec %s: %s\n", argvp[0], strerror(errno));
    _exit(127);
  }
  close(out);
  close(err);
  close(devnull);
  if (pid < 0) {
    ADD_FAILURE() << "fork: " << strerror(errno);
    return p;
  }
  p.pid_ = pid;
  g_owned.insert(pid);
  p.pidfd_ = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  return p;
}

ExecResult Process::Wait(std::optional<std::chrono::milliseconds> timeout) {
  ExecResult r;
  r.out_path = out_path_;
  r.err_path = err_path_;
  if (pid_ <= 0) {
    r.err = "harness: process was not started";
    return r;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout.value_or(timeout_);
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      r.timed_out = true;
      kill(pid_, SIGKILL);
      break;
    }
    struct pollfd pfd {
      pidfd_, POLLIN, 0
    };
    int rc = poll(&pfd, 1, static_cast<int>(std::min<long>(left.count(), 50)));
    if (rc > 0) break;
    if (rc < 0 && errno != EINTR) break;
    // Like a shim, reap orphaned container processes promptly while the runtime runs: a
    // runtime waiting for a container's cgroup to empty would otherwise wait on our zombies.
    ReapChildren();
  }
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  g_owned.erase(pid_);
  pid_ = -1;
  close(pidfd_);
  pidfd_ = -1;
  r.elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start_);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  r.out = ReadStdout();
  r.err = ReadStderr();
  return r;
}

std::string Process::ReadStdout() const { return ReadFileOr(out_path_); }
std::string Process::ReadStderr() const { return ReadFileOr(err_path_); }

// ---- files, text, /proc -----------------------------------------------------------------------

std::string ReadFileOr(const std::string& path, const std::string& fallback) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return fallback;
  std::ostringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& data, mode_t mode) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    ADD_FAILURE() << "open " << path << ": " << strerror(errno);
    return;
  }
  fchmod(fd, mode);
  if (write(fd, data.data(), data.size()) != static_cast<ssize_t>(data.size()))
    ADD_FAILURE() << "write " << path << ": " << strerror(errno);
  close(fd);
}

bool PathExists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> SplitLines(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string line;
  while (std::getline(ss, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    out.push_back(line);
  }
  return out;
}

std::vector<std::string> SplitWs(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string w;
  while (ss >> w) out.push_back(w);
  return out;
}

static std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  std::string w;
  while (std::getline(ss, w, sep)) out.push_back(w);
  return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
static std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 3), nullptr, 8));
      i += 3;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::vector<MountEntry> ParseMountInfo(const std::string& text) {
  std::vector<MountEntry> out;
  for (auto& line : SplitLines(text)) {
    auto f = SplitWs(line);
    auto dash = std::find(f.begin(), f.end(), "-");
    if (f.size() < 7 || dash == f.end() || dash + 3 > f.end()) continue;
    MountEntry m;
    m.mount_point = Unescape(f[4]);
    for (auto& o : Split(f[5], ',')) m.mount_opts.insert(o);
    m.fstype = *(dash + 1);
    m.source = Unescape(*(dash + 2));
    if (dash + 3 < f.end())
      for (auto& o : Split(*(dash + 3), ',')) m.super_opts.insert(o);
    out.push_back(std::move(m));
  }
  return out;
}

std::optional<MountEntry> FindMount(const std::vector<MountEntry>& mounts, const std::string& mp) {
  std::optional<MountEntry> found;
  for (auto& m : mounts)
    if (m.mount_point == mp) found = m;
  return found;
}

size_t HostMountCount() { return SplitLines(ReadFileOr("/proc/self/mountinfo")).size(); }

void RemoveTree(const std::string& path) {
  if (path.empty() || path == "/" || path.rfind("/tmp/", 0) != 0) return;
  auto mounts = ParseMountInfo(ReadFileOr("/proc/self/mountinfo"));
  std::vector<std::string> below;
  for (auto& m : mounts)
    if (m.mount_point == path || m.mount_point.rfind(path + "/", 0) == 0)
      below.push_back(m.mount_point);
  std::sort(below.rbegin(), below.rend());
  for (auto& mp : below) {
    ADD_FAILURE() << "a mount was left on the host at " << mp;
    syscall(SYS_umount2, mp.c_str(), 2 /* MNT_DETACH */);
  }
  std::error_code ec;
  fs::remove_all(path, ec);
}

std::map<std::string, std::string> ParseStatus(const std::string& text) {
  std::map<std::string, std::string> out;
  for (auto& line : SplitLines(text)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    out[line.substr(0, colon)] = Trim(line.substr(colon + 1));
  }
  return out;
}

uint64_t CapMask(const std::vector<std::string>& cap_names) {
  static const std::map<std::string, int> kCaps = {{"CAP_CHOWN", 0},
                                                   {"CAP_DAC_OVERRIDE", 1},
                                                   {"CAP_DAC_READ_SEARCH", 2},
                                                   {"CAP_FOWNER", 3},
                                                   {"CAP_FSETID", 4},
                                                   {"CAP_KILL", 5},
                                                   {"CAP_SETGID", 6},
                                                   {"CAP_SETUID", 7},
                                                   {"CAP_SETPCAP", 8},
                                                   {"CAP_LINUX_IMMUTABLE", 9},
                                                   {"CAP_NET_BIND_SERVICE", 10},
                                                   {"CAP_NET_BROADCAST", 11},
                                                   {"CAP_NET_ADMIN", 12},
                                                   {"CAP_NET_RAW", 13},
                                                   {"CAP_IPC_LOCK", 14},
                                                   {"CAP_IPC_OWNER", 15},
                                                   {"CAP_SYS_MODULE", 16},
                                                   {"CAP_SYS_RAWIO", 17},
                                                   {"CAP_SYS_CHROOT", 18},
                                                   {"CAP_SYS_PTRACE", 19},
                                                   {"CAP_SYS_PACCT", 20},
                                                   {"CAP_SYS_ADMIN", 21},
                                                   {"CAP_SYS_BOOT", 22},
                                                   {"CAP_SYS_NICE", 23},
                                                   {"CAP_SYS_RESOURCE", 24},
                                                   {"CAP_SYS_TIME", 25},
                                                   {"CAP_SYS_TTY_CONFIG", 26},
                                                   {"CAP_MKNOD", 27},
                                                   {"CAP_LEASE", 28},
                                                   {"CAP_AUDIT_WRITE", 29},
                                                   {"CAP_AUDIT_CONTROL", 30},
                                                   {"CAP_SETFCAP", 31},
                                                   {"CAP_MAC_OVERRIDE", 32},
                                                   {"CAP_MAC_ADMIN", 33},
                                                   {"CAP_SYSLOG", 34},
                                                   {"CAP_WAKE_ALARM", 35},
                                                   {"CAP_BLOCK_SUSPEND", 36},
                                                   {"CAP_AUDIT_READ", 37},
                                                   {"CAP_PERFMON", 38},
                                                   {"CAP_BPF", 39},
                                                   {"CAP_CHECKPOINT_RESTORE", 40}};
  uint64_t mask = 0;
  for (auto& n : cap_names) {
    auto it = kCaps.find(n);
    if (it == kCaps.end()) {
      ADD_FAILURE() << "unknown capability " << n;
      continue;
    }
    mask |= uint64_t{1} << it->second;
  }
  return mask;
}

std::vector<pid_t> ProcessesWithArg(const std::string& token) {
  std::vector<pid_t> out;
  DIR* d = opendir("/proc");
  if (!d) return out;
  while (auto* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0 || pid == getpid()) continue;
    std::string cmdline = ReadFileOr("/proc/" + std::to_string(pid) + "/cmdline");
    bool match = false;
    for (auto& arg : Split(cmdline, '\0'))
      if (arg == token) match = true;
    if (match && !ProcessGone(pid)) out.push_back(pid);
  }
  closedir(d);
  return out;
}

bool ProcessGone(pid_t pid) {
  std::string stat = ReadFileOr("/proc/" + std::to_string(pid) + "/stat");
  if (stat.empty()) return true;
  auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return true;
  char state = stat[paren + 2];
  return state == 'Z' || state == 'X';
}

void ReapChildren() {
  // Only zombies that are not the harness's own spawned children (whose status Wait needs).
  DIR* d = opendir("/proc");
  if (!d) return;
  std::string self = std::to_string(getpid());
  while (auto* e = readdir(d)) {
    pid_t pid = atoi(e->d_name);
    if (pid <= 0 || g_owned.count(pid)) continue;
    std::string stat = ReadFileOr(std::string("/proc/") + e->d_name + "/stat");
    auto paren = stat.rfind(')');
    if (paren == std::string::npos) continue;
    auto f = SplitWs(stat.substr(paren + 1));  // state ppid ...
    if (f.size() >= 2 && f[0] == "Z" && f[1] == self) waitpid(pid, nullptr, WNOHANG);
  }
  closedir(d);
}

// ---- rootfs and config ------------------------------------------------------------------------

void BuildRootfs(const std::string& dir) {
  std::error_code mk;
  fs::create_directories(dir, mk);
  for (auto sub : {"", "/bin", "/sbin", "/etc", "/root", "/home", "/home/user", "/usr", "/usr/bin",
                   "/proc", "/dev", "/sys", "/tmp", "/var", "/mnt"})
    mkdir((dir + sub).c_str(), 0755);
  chmod((dir + "/tmp").c_str(), 01777);
  std::error_code ec;
  fs::copy_file("/bin/busybox", dir + "/bin/busybox", fs::copy_options::overwrite_existing, ec);
  if (ec) ADD_FAILURE() << "copy /bin/busybox: " << ec.message();
  chmod((dir + "/bin/busybox").c_str(), 0755);
  // Every applet busybox has, as a symlink in /bin (busybox itself excluded).
  std::string list;
  {
    FILE* f = popen("/bin/busybox --list", "r");
    char buf[4096];
    size_t n;
    while (f && (n = fread(buf, 1, sizeof buf, f)) > 0) list.append(buf, n);
    if (f) pclose(f);
  }
  for (auto& applet : SplitLines(list)) {
    if (applet.empty() || applet == "busybox") continue;
    symlink("busybox", (dir + "/bin/" + applet).c_str());
  }
  WriteFile(dir + "/etc/passwd",
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
            "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
  WriteFile(dir + "/etc/group",
            "root:x:0:\ntty:x:5:\nwheel:x:10:\nusers:x:100:\nuser:x:1000:\nnogroup:x:65534:\n");
  WriteFile(dir + "/etc/hostname", "rootfs\n");
  chown((dir + "/home/user").c_str(), 1000, 1000);
}

void ChownTree(const std::string& dir, uid_t uid, gid_t gid) {
  lchown(dir.c_str(), uid, gid);
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    struct stat st;
    if (lstat(it->path().c_str(), &st) != 0) continue;
    uid_t u = st.st_uid == 0 ? uid : uid + st.st_uid;
    gid_t g = st.st_gid == 0 ? gid : gid + st.st_gid;
    lchown(it->path().c_str(), u, g);
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) chmod(it->path().c_str(), st.st_mode & 07777);
  }
}

const std::string& SharedRootfs() {
  static const std::string rootfs = [] {
    g_env->dir = MakeTempDir("berth-it-shared-");
    std::string r = g_env->dir + "/rootfs";
    BuildRootfs(r);
    return r;
  }();
  return rootfs;
}

json DefaultConfig(const std::string& rootfs, const std::string& id) {
  json caps = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"};
  return json{
      {"ociVersion", "1.0.2"},
      {"process",
       {{"terminal", false},
        {"user", {{"uid", 0}, {"gid", 0}}},
        {"args", {"sh"}},
        {"env",
         {"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "TERM=xterm"}},
        {"cwd", "/"},
        {"capabilities", {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
        {"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"hard", 1024}, {"soft", 1024}}}},
        {"noNewPrivileges", true}}},
      {"root", {{"path", rootfs}, {"readonly", false}}},
      {"hostname", "berth"},
      {"mounts",
       {{{"destination", "/proc"}, {"type", "proc"}, {"source", "proc"}},
        {{"destination", "/dev"},
         {"type", "tmpfs"},
         {"source", "tmpfs"},
         {"options", {"nosuid", "strictatime", "mode=755", "size=65536k"}}},
        {{"destination", "/dev/pts"},
         {"type", "devpts"},
         {"source", "devpts"},
         {"options", {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}}},
        {{"destination", "/dev/shm"},
         {"type", "tmpfs"},
         {"source", "shm"},
         {"options", {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}}},
        {{"destination", "/dev/mqueue"},
         {"type", "mqueue"},
         {"source", "mqueue"},
         {"options", {"nosuid", "noexec", "nodev"}}},
        {{"destination", "/sys"},
         {"type", "sysfs"},
         {"source", "sysfs"},
         {"options", {"nosuid", "noexec", "nodev", "ro"}}}}},
      {"linux",
       {{"cgroupsPath", "/berth-it-" + id},
        {"namespaces",
         {{{"type", "pid"}},
          {{"type", "network"}},
          {{"type", "ipc"}},
          {{"type", "uts"}},
          {{"type", "mount"}}}},
        {"maskedPaths",
         {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
          "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/sys/firmware",
          "/proc/scsi"}},
        {"readonlyPaths",
         {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}}}}};
}

// ---- the fixture ------------------------------------------------------------------------------

void RuntimeTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  if (access("/bin/busybox", X_OK) != 0)
    GTEST_SKIP() << "needs /bin/busybox (busybox-static) for the rootfs";
  if (access(RuntimePath().c_str(), X_OK) != 0)
    GTEST_SKIP() << "runtime " << RuntimePath()
                 << " not built (set BERTH_TEST_RUNTIME=runc to check the tests)";
  SharedRootfs();
  tmp_ = MakeTempDir("berth-it-");
  root_ = tmp_ + "/root";
  mkdir(root_.c_str(), 0700);
}

void RuntimeTest::TearDown() {
  if (tmp_.empty()) return;
  for (auto& id : ids_) Runtime({"delete", "--force", id}, {.timeout = 20s});
  for (auto& id : ids_) ExpectNoTrace(id);
  for (pid_t pid : pids_)
    EXPECT_TRUE(WaitUntil([&] { return ProcessGone(pid); }, 5s))
        << "container process " << pid << " still alive after delete --force";
  ReapChildren();
  RemoveTree(tmp_);
}

std::string RuntimeTest::NewId() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  (void)info;
  std::string id = "bt" + std::to_string(getpid()) + "-" + std::to_string(g_counter++);
  ids_.insert(id);
  return id;
}

json RuntimeTest::Config(const std::string& id, std::vector<std::string> args) {
  json c = DefaultConfig(SharedRootfs(), id);
  c["process"]["args"] = args;
  return c;
}

std::string RuntimeTest::WriteBundle(const std::string& id, const json& config) {
  return WriteBundleRaw(id, config.dump(2));
}

std::string RuntimeTest::WriteBundleRaw(const std::string& id, const std::string& config_text) {
  std::string b = BundleDir(id);
  mkdir(b.c_str(), 0755);
  WriteFile(b + "/config.json", config_text);
  return b;
}

std::string RuntimeTest::MakeDir(const std::string& name) {
  std::string d = tmp_ + "/" + name;
  std::error_code ec;
  fs::create_directories(d, ec);
  chmod(d.c_str(), 0755);
  return d;
}

std::vector<std::string> RuntimeTest::RuntimeArgv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {RuntimePath(), "--root", root_};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

Process RuntimeTest::SpawnRuntime(const std::vector<std::string>& args, const SpawnOptions& opts) {
  return Process::Spawn(RuntimeArgv(args), tmp_, opts);
}

ExecResult RuntimeTest::Runtime(const std::vector<std::string>& args, const SpawnOptions& opts) {
  return SpawnRuntime(args, opts).Wait();
}

ExecResult RuntimeTest::RunContainer(const std::string& id, const json& config,
                                     const std::vector<std::string>& extra_args,
                                     const SpawnOptions& opts) {
  Track(id);
  std::string bundle = WriteBundle(id, config);
  std::vector<std::string> args = {"run", "--bundle", bundle};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  args.push_back(id);
  return Runtime(args, opts);
}

ExecResult RuntimeTest::RunSh(const std::string& script, const std::function<void(json&)>& modify) {
  std::string id = NewId();
  json c = Config(id, {"sh", "-c", script});
  if (modify) modify(c);
  return RunContainer(id, c);
}

ExecResult RuntimeTest::Create(const std::string& id, const json& config,
                               const std::vector<std::string>& extra_args,
                               const SpawnOptions& opts) {
  Track(id);
  std::string bundle = WriteBundle(id, config);
  std::vector<std::string> args = {"create", "--bundle", bundle};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  args.push_back(id);
  ExecResult r = Runtime(args, opts);
  if (r.ok()) {
    json st = State(id);
    if (st.is_object() && st.contains("pid") && st["pid"].is_number_integer() &&
        st["pid"].get<int>() > 0)
      TrackPid(st["pid"].get<pid_t>());
  }
  return r;
}

ExecResult RuntimeTest::CreateAndStart(const std::string& id, const json& config) {
  ExecResult c = Create(id, config);
  if (!c.ok()) {
    ADD_FAILURE() << "create " << id << ": " << Describe(c);
    return c;
  }
  ExecResult s = Runtime({"start", id});
  if (!s.ok()) ADD_FAILURE() << "start " << id << ": " << Describe(s);
  return c;
}

json RuntimeTest::State(const std::string& id) {
  ExecResult r = Runtime({"state", id});
  if (!r.ok()) return nullptr;
  json j = json::parse(r.out, nullptr, false);
  if (j.is_discarded()) {
    ADD_FAILURE() << "state " << id << " printed invalid JSON: " << r.out;
    return nullptr;
  }
  return j;
}

std::string RuntimeTest::Status(const std::string& id) {
  json st = State(id);
  if (!st.is_object() || !st.contains("status") || !st["status"].is_string()) return "";
  return st["status"].get<std::string>();
}

bool RuntimeTest::WaitForStatus(const std::string& id, const std::string& status,
                                std::chrono::milliseconds timeout) {
  return WaitUntil([&] { return Status(id) == status; }, timeout);
}

void RuntimeTest::ExpectNoTrace(const std::string& id) {
  DIR* d = opendir(root_.c_str());
  if (d) {
    while (auto* e = readdir(d)) {
      std::string name = e->d_name;
      EXPECT_EQ(name.find(id), std::string::npos)
          << "--root " << root_ << " still has an entry " << name << " for container " << id;
    }
    closedir(d);
  }
  for (auto ctrl : {"pids", "freezer", "cpu", "devices"}) {
    std::string cg = std::string("/sys/fs/cgroup/") + ctrl + "/berth-it-" + id;
    EXPECT_TRUE(WaitUntil([&] { return !PathExists(cg); }, 2s)) << "cgroup left behind: " << cg;
  }
}

}  // namespace berth::it
