// Integration-test harness: drives an OCI runtime binary through its command line, exactly as
// containerd, podman or berth-shim drive runc. The binary is $BERTH_TEST_RUNTIME when set (e.g.
// `runc`, to check the tests themselves), else the berth-runtime built next to the tests.
//
// Each test gets a fresh --root dir, its own bundles (config.json built here with nlohmann::json,
// independent of berth's own spec code) and container ids; TearDown force-deletes everything the
// test created and then checks nothing is left behind (state entry, init process, cgroup).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace berth::it {

using json = nlohmann::json;
using namespace std::chrono_literals;

// ---- the runtime under test -------------------------------------------------------------------

// Absolute path of the runtime binary under test.
const std::string& RuntimePath();
// Basename of the runtime ("runc", "berth-runtime", ...).
std::string RuntimeName();
bool RuntimeIsRunc();
// `<runtime> features` parsed (runtime-spec features.json), or null if the verb fails.
const json& RuntimeFeatures();
// What `features` says (true when the runtime has no `features` verb: then the tests decide).
bool RuntimeSupportsSeccomp();
bool RuntimeSupportsCgroups();

// ---- processes --------------------------------------------------------------------------------

struct ExecResult {
  int exit_code = -1;      // exit status, or 128+signal (shell convention)
  bool timed_out = false;  // killed by the harness after the timeout
  std::string out;         // everything written to stdout (file-backed, so it survives the call)
  std::string err;
  std::string out_path;  // where stdout/stderr went (a detached container keeps writing there)
  std::string err_path;
  std::chrono::milliseconds elapsed{0};
  bool ok() const { return exit_code == 0 && !timed_out; }
};
// For gtest messages: "exit 1 after 12 ms; stdout: ...; stderr: ...".
std::string Describe(const ExecResult& r);

struct SpawnOptions {
  std::map<std::string, std::string> env;  // added to / overriding the harness's environment
  std::vector<std::string> unset_env;
  int stdin_fd = -1;             // default: /dev/null
  std::map<int, int> extra_fds;  // fd number in the child -> fd in this process
  bool set_listen_pid = false;   // LISTEN_PID=<child pid> (systemd socket activation)
  int controlling_tty = -1;      // a pty slave: setsid, TIOCSCTTY, and it becomes 0/1/2
  std::string cwd;               // default: the test binary's cwd
  std::chrono::milliseconds timeout = 30s;
};

// A child process whose stdout/stderr go to files in `dir`.
class Process {
 public:
  Process() = default;
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  ~Process();  // kills and reaps a child still running

  static Process Spawn(const std::vector<std::string>& argv, const std::string& dir,
                       const SpawnOptions& opts = {});
  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0; }
  // Waits up to `timeout` (default: the spawn timeout), then SIGKILLs it.
  ExecResult Wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  std::string ReadStdout() const;
  std::string ReadStderr() const;

 private:
  pid_t pid_ = -1;
  int pidfd_ = -1;
  std::string out_path_, err_path_;
  std::chrono::milliseconds timeout_{30000};
  std::chrono::steady_clock::time_point start_;
};

// ---- files, text, /proc -----------------------------------------------------------------------

std::string ReadFileOr(const std::string& path, const std::string& fallback = "");
void WriteFile(const std::string& path, const std::string& data, mode_t mode = 0644);
bool PathExists(const std::string& path);  // lstat: a dangling symlink exists
std::string Trim(const std::string& s);
std::vector<std::string> SplitLines(const std::string& s);
std::vector<std::string> SplitWs(const std::string& s);
// Removes a tree; first lazily unmounts anything mounted below it, so a leaked bind mount can
// never make us delete the mount's source.
void RemoveTree(const std::string& path);

struct MountEntry {
  std::string mount_point, fstype, source;
  std::set<std::string> mount_opts;  // per-mount: ro, nosuid, nodev, noexec, relatime ...
  std::set<std::string> super_opts;  // per-superblock: size=..., mode=...
  bool has(const std::string& opt) const { return mount_opts.count(opt) || super_opts.count(opt); }
};
std::vector<MountEntry> ParseMountInfo(const std::string& text);
// The last (topmost) entry for a mount point, if any.
std::optional<MountEntry> FindMount(const std::vector<MountEntry>& mounts, const std::string& mp);
size_t HostMountCount();

// "Key:\tvalue" lines of /proc/<pid>/status.
std::map<std::string, std::string> ParseStatus(const std::string& text);
uint64_t CapMask(const std::vector<std::string>& cap_names);
// Pids of live (non-zombie) processes whose command line contains `token` as one argument.
std::vector<pid_t> ProcessesWithArg(const std::string& token);
// True when no process with that pid exists (or only a zombie is left).
bool ProcessGone(pid_t pid);
// Reaps every exited child of this process (the harness is a child subreaper, like a shim).
void ReapChildren();

// Polls `pred` every 10 ms until it is true or `timeout` passes.
template <class Pred>
bool WaitUntil(Pred pred, std::chrono::milliseconds timeout = 5s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    ReapChildren();
    struct timespec ts {
      0, 10 * 1000 * 1000
    };
    nanosleep(&ts, nullptr);
  }
}

// ---- rootfs and config ------------------------------------------------------------------------

// The shared busybox rootfs, created once per test-binary run.
const std::string& SharedRootfs();
// Populates `dir` as a busybox rootfs (used for per-test copies that a test may poison/chown).
void BuildRootfs(const std::string& dir);
// Recursively lchowns a tree.
void ChownTree(const std::string& dir, uid_t uid, gid_t gid);

// A runc-spec-like default config: pid/network/ipc/uts/mount namespaces, the usual mounts,
// masked and readonly paths, caps AUDIT_WRITE/KILL/NET_BIND_SERVICE, RLIMIT_NOFILE 1024,
// noNewPrivileges, terminal false. root.readonly is false (tests write to /tmp).
json DefaultConfig(const std::string& rootfs, const std::string& id);

// ---- the fixture ------------------------------------------------------------------------------

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // A new container id, unique across runs; TearDown cleans it up.
  std::string NewId();
  // A default config for container `id` (cgroupsPath unique to it).
  json Config(const std::string& id, std::vector<std::string> args = {"true"});
  // Writes <tmp>/bundle-<id>/config.json; returns the bundle dir.
  std::string WriteBundle(const std::string& id, const json& config);
  std::string WriteBundleRaw(const std::string& id, const std::string& config_text);
  std::string BundleDir(const std::string& id) const { return tmp_ + "/bundle-" + id; }
  // A fresh directory under the test's temp dir (mode 0755).
  std::string MakeDir(const std::string& name);

  // `<runtime> --root <root> args...`
  ExecResult Runtime(const std::vector<std::string>& args, const SpawnOptions& opts = {});
  Process SpawnRuntime(const std::vector<std::string>& args, const SpawnOptions& opts = {});
  std::vector<std::string> RuntimeArgv(const std::vector<std::string>& args) const;

  // `run --bundle <bundle> <id>` for a config (the id is registered for cleanup).
  ExecResult RunContainer(const std::string& id, const json& config,
                          const std::vector<std::string>& extra_args = {},
                          const SpawnOptions& opts = {});
  // Shorthand: a default config running `sh -c script`, plus a modifier applied first.
  ExecResult RunSh(const std::string& script, const std::function<void(json&)>& modify = {});
  // `create --bundle <bundle> [extra] <id>`; on success records the init pid for TearDown.
  ExecResult Create(const std::string& id, const json& config,
                    const std::vector<std::string>& extra_args = {}, const SpawnOptions& opts = {});
  // Create + start; fails the test (ADD_FAILURE) on error. Returns the create result, whose
  // out_path receives the container's stdout.
  ExecResult CreateAndStart(const std::string& id, const json& config);
  // `state <id>` parsed; null when it fails.
  json State(const std::string& id);
  std::string Status(const std::string& id);
  bool WaitForStatus(const std::string& id, const std::string& status,
                     std::chrono::milliseconds timeout = 5s);
  // Remember a container id / pid so TearDown deletes it and checks the process is gone.
  void Track(const std::string& id) { ids_.insert(id); }
  void TrackPid(pid_t pid) { pids_.insert(pid); }

  // Asserts (non-fatal) that nothing of `id` is left: no --root entry, no cgroup dir.
  void ExpectNoTrace(const std::string& id);

  std::string tmp_;   // per-test temp dir (0755)
  std::string root_;  // --root
  std::set<std::string> ids_;
  std::set<pid_t> pids_;
};

}  // namespace berth::it

// Skips a test of a feature the runtime's `features` output says it does not have (yet).
#define SKIP_UNLESS_FEATURE(supported, what)                                             \
  do {                                                                                   \
    if (!(supported))                                                                    \
      GTEST_SKIP() << ::berth::it::RuntimeName() << " `features` reports no " << (what); \
  } while (0)

// Skips the test when the runtime under test is runc and the behaviour is berth's own.
#define SKIP_ON_RUNC(why)                                                        \
  do {                                                                           \
    if (::berth::it::RuntimeIsRunc()) GTEST_SKIP() << "runc differs: " << (why); \
  } while (0)
