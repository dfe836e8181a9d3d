// The init's last steps before exec: limits, identity, capabilities, environment, and the
// executable's lookup, each an error that names the field and what the host allowed.
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/close_range.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "runtime/internal.h"
#include "sys/path.h"
#include "util/log.h"
#include "util/strings.h"

namespace berth::runtime::init {
namespace {

std::string rlimit_label(const std::string& name) { return "rlimit " + name; }

uint64_t cap_mask(const std::vector<std::string>& names) {
  uint64_t m = 0;
  for (const std::string& n : names)
    if (auto c = oci::capability_number(n)) m |= 1ULL << *c;
  return m;
}

std::string cap_names(uint64_t mask) {
  std::string out;
  for (int c = 0; c < 64; c++)
    if (mask & (1ULL << c)) {
      if (!out.empty()) out += ", ";
      std::string_view n = oci::capability_name(c);
      out += n.empty() ? "CAP_" + std::to_string(c) : std::string(n);
    }
  return out;
}

Result<uint64_t> current_permitted() {
  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {};
  if (syscall(SYS_capget, &h, d) < 0) return Error::sys("capget");
  return static_cast<uint64_t>(d[0].permitted) | (static_cast<uint64_t>(d[1].permitted) << 32);
}

}  // namespace

Result<void> apply_rlimits(const oci::Process& p) {
  for (const oci::Rlimit& r : p.rlimits) {
    auto num = oci::rlimit_number(r.type);
    if (!num) return Error::invalid(rlimit_label(r.type) + ": unknown limit");
    struct rlimit want = {r.soft, r.hard};
    if (::setrlimit(static_cast<__rlimit_resource>(*num), &want) == 0) continue;
    int e = errno;
    struct rlimit cur = {};
    ::getrlimit(static_cast<__rlimit_resource>(*num), &cur);
    if (e == EPERM && r.hard > cur.rlim_max)
      return Error::from_errno(
          e, rlimit_label(r.type) + ": hard limit " + std::to_string(r.hard) +
                 " is above the host's hard limit " + std::to_string(cur.rlim_max) +
                 " (raising it needs CAP_SYS_RESOURCE, which the runtime does not have)");
    return Error::from_errno(e, rlimit_label(r.type) + " soft " + std::to_string(r.soft) +
                                    " hard " + std::to_string(r.hard));
  }
  return ok();
}

Result<void> apply_oom_score_adj(const oci::Process& p) {
  if (!p.oom_score_adj) return ok();
  UniqueFd fd(::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC));
  if (!fd) return Error::sys("open /proc/self/oom_score_adj");
  auto r = write_all(fd.get(), std::to_string(*p.oom_score_adj));
  if (!r) {
    Error e = std::move(r).error();
    std::string msg = "process.oomScoreAdj " + std::to_string(*p.oom_score_adj);
    if (e.errno_value() == EACCES || e.errno_value() == EPERM)
      msg += " (lowering it below the runtime's own value needs CAP_SYS_RESOURCE)";
    return Error::from_errno(e.errno_value(), msg);
  }
  return ok();
}

Result<void> apply_personality(const oci::Linux& l) {
  if (!l.personality) return ok();
  unsigned long persona = l.personality->domain == "LINUX32" ? PER_LINUX32 : PER_LINUX;
  if (::personality(persona) < 0) return Error::sys("personality " + l.personality->domain);
  return ok();
}

Result<void> join_session_keyring(const std::string& id) {
  constexpr int kKeyctlJoinSessionKeyring = 1;
  std::string name = "_ses." + id;
  if (syscall(SYS_keyctl, kKeyctlJoinSessionKeyring, name.c_str()) < 0) {
    if (errno == ENOSYS || errno == EACCES || errno == EDQUOT) return ok();  // best effort
    return Error::sys("join session keyring");
  }
  return ok();
}

Result<void> apply_user_and_caps(const oci::Process& p, int last_cap) {
  const oci::Capabilities none;
  const oci::Capabilities& caps = p.capabilities ? *p.capabilities : none;
  uint64_t bounding = cap_mask(caps.bounding), effective = cap_mask(caps.effective),
           permitted = cap_mask(caps.permitted), inheritable = cap_mask(caps.inheritable),
           ambient = cap_mask(caps.ambient);

  uint64_t have = BERTH_TRY(current_permitted());
  uint64_t missing = (effective | permitted | inheritable | ambient) & ~have;
  if (missing)
    return Error::from_errno(EPERM, "process.capabilities: " + cap_names(missing) +
                                        " not available to the runtime (not in the host's "
                                        "capability bounding set)");

  for (int c = 0; c <= last_cap; c++) {
    if (bounding & (1ULL << c)) continue;
    if (::prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
      return Error::sys("drop capability " + std::string(oci::capability_name(c)) +
                        " from the bounding set");
  }
  if (::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0) return Error::sys("keep capabilities");

  const oci::User& u = p.user;
  std::vector<gid_t> groups(u.additional_gids.begin(), u.additional_gids.end());
  // Raw system calls: libc's wrappers apply ids to every thread it knows of, and the init
  // may be the clone of a process that had a second thread (netns.cc), which it has not.
  if (syscall(SYS_setgroups, groups.size(), groups.data()) < 0) {
    // In a user namespace whose setgroups is denied, only an empty list is allowed anyway.
    if (!(errno == EPERM && groups.empty())) return Error::sys("setgroups");
  }
  if (syscall(SYS_setresgid, u.gid, u.gid, u.gid) < 0)
    return Error::sys("setgid " + std::to_string(u.gid));
  if (syscall(SYS_setresuid, u.uid, u.uid, u.uid) < 0)
    return Error::sys("setuid " + std::to_string(u.uid));

  struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct d[2] = {};
  d[0].effective = static_cast<uint32_t>(effective);
  d[1].effective = static_cast<uint32_t>(effective >> 32);
  d[0].permitted = static_cast<uint32_t>(permitted);
  d[1].permitted = static_cast<uint32_t>(permitted >> 32);
  d[0].inheritable = static_cast<uint32_t>(inheritable);
  d[1].inheritable = static_cast<uint32_t>(inheritable >> 32);
  if (syscall(SYS_capset, &h, d) < 0) return Error::sys("set capabilities");
  for (int c = 0; c <= last_cap; c++) {
    if (!(ambient & (1ULL << c))) continue;
    // Like runc: an ambient capability that is not also permitted and inheritable cannot be
    // raised, and is skipped rather than failing (`runc spec` itself asks for such ones).
    if (::prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0)
      log::debug("ambient capability " + std::string(oci::capability_name(c)) +
                 " not raised: it must also be permitted and inheritable");
  }
  if (::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0) return Error::sys("clear keep-capabilities");
  ::umask(u.umask.value_or(022));
  if (p.no_new_privileges && ::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return Error::sys("set no_new_privs");
  return ok();
}

Result<void> preserve_fds(int count) {
  // Everything from 3+count up is closed at exec; the preserved ones are handed over.
  unsigned first_closed = 3u + static_cast<unsigned>(count);
  if (syscall(SYS_close_range, first_closed, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
    return Error::sys("mark fds close-on-exec");
  for (int fd = 3; fd < 3 + count; fd++) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  return ok();
}

std::vector<std::string> process_env(const oci::Process& p, const std::vector<std::string>& extra) {
  std::vector<std::string> env = p.env;
  for (const std::string& e : extra) env.push_back(e);
  bool has_home = false;
  for (const std::string& e : env) has_home |= e.rfind("HOME=", 0) == 0;
  if (!has_home) {
    // Like runc: HOME from the container's /etc/passwd, else "/".
    std::string home = "/";
    std::string uid = std::to_string(p.user.uid);
    if (auto pw = read_file("/etc/passwd", 4 << 20)) {
      for (std::string_view line : split(*pw, '\n', true)) {
        auto f = split(line, ':');  // name:pw:uid:gid:gecos:home:shell
        if (f.size() >= 6 && f[2] == uid) {
          home = std::string(f[5]);
          break;
        }
      }
    }
    env.push_back("HOME=" + home);
  }
  return env;
}

static bool is_executable_file(const std::string& path, int* err) {
  struct stat st;
  if (::stat(path.c_str(), &st) < 0) {
    *err = errno;
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    *err = EISDIR;
    return false;
  }
  if (::faccessat(AT_FDCWD, path.c_str(), X_OK, AT_EACCESS) < 0) {
    *err = errno;
    return false;
  }
  return true;
}

Result<std::string> lookup_executable(const oci::Process& p, const std::vector<std::string>& env) {
  const std::string& name = p.args.at(0);
  int err = 0;
  if (name.find('/') != std::string::npos) {
    if (is_executable_file(name, &err)) return name;
    return Error::from_errno(err, "exec: \"" + name + "\": stat " + name);
  }
  std::string path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (const std::string& e : env)
    if (e.rfind("PATH=", 0) == 0) path = e.substr(5);
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find(':', i);
    if (j == std::string::npos) j = path.size();
    std::string dir = path.substr(i, j - i);
    if (dir.empty()) dir = ".";
    std::string cand = dir + "/" + name;
    if (is_executable_file(cand, &err)) return cand;
    i = j + 1;
  }
  return Error::not_found("exec: \"" + name + "\": executable file not found in $PATH");
}

Result<void> enter_cwd(const std::string& cwd) {
  UniqueFd root(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Error::sys("open /");
  auto dir = sys::open_in_root(root.get(), cwd, O_PATH | O_DIRECTORY);
  if (!dir) {
    Error e = std::move(dir).error();
    return Error::from_errno(
        e.errno_value(),
        "process.cwd \"" + cwd + "\"" +
            (e.errno_value() == ELOOP ? " (symlinks through /proc are refused)" : ""));
  }
  if (::fchdir(dir->get()) < 0) return Error::sys("chdir to cwd \"" + cwd + "\"");
  return ok();
}

void exec_process(const std::string& path, const oci::Process& p,
                  const std::vector<std::string>& env, int report_fd, int stub_fd,
                  const std::string& wait) {
  std::vector<char*> argv, envp;
  std::string fd_arg = std::to_string(report_fd);
  if (stub_fd >= 0) {
    argv.push_back(const_cast<char*>("berth-exec"));
    argv.push_back(fd_arg.data());
    argv.push_back(const_cast<char*>(wait.c_str()));
    argv.push_back(const_cast<char*>(path.c_str()));
  }
  for (const std::string& a : p.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const std::string& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  if (stub_fd >= 0) {
    // The stub reports its own exec failure on report_fd, then marks it close-on-exec; a
    // wait fd ("a<fd>"/"r<fd>") must survive into the stub too.
    ::fcntl(report_fd, F_SETFD, 0);
    if (wait.size() > 1) ::fcntl(atoi(wait.c_str() + 1), F_SETFD, 0);
    syscall(SYS_execveat, stub_fd, "", argv.data(), envp.data(), AT_EMPTY_PATH);
    ::fcntl(report_fd, F_SETFD, FD_CLOEXEC);
  } else {
    ::execve(path.c_str(), argv.data(), envp.data());
  }
  report_failure(report_fd, errno, "exec: \"" + p.args[0] + "\"");
  _exit(127);
}

}  // namespace berth::runtime::init

namespace berth::runtime {

extern const unsigned char kExecStub[];
extern const size_t kExecStubSize;

Result<UniqueFd> make_exec_stub() {
  UniqueFd fd(::memfd_create("berth-exec", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd) return Error::sys("memfd_create for the exec stub");
  BERTH_TRY_CTX(write_all(fd.get(), {reinterpret_cast<const char*>(kExecStub), kExecStubSize}),
                "write exec stub");
  if (::fchmod(fd.get(), 0555) < 0 ||
      ::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0)
    return Error::sys("seal exec stub");
  return fd;
}

void report_failure(int fd, int err, const std::string& text) {
  if (fd < 0) return;
  struct {
    uint32_t type;
    int32_t err;
  } hdr = {static_cast<uint32_t>(SyncType::Error), err};
  std::string msg(reinterpret_cast<const char*>(&hdr), sizeof hdr);
  msg += text;
  (void)::send(fd, msg.data(), msg.size(), MSG_NOSIGNAL);
}

Result<void> parse_failure(const std::string& data) {
  if (data.empty()) return ok();
  if (data.size() < 8) return Error::internal("container init: malformed report");
  int32_t err;
  memcpy(&err, data.data() + 4, sizeof err);
  std::string text = data.substr(8);
  if (text.empty()) text = "exec";
  return Error::from_errno(err, text);
}

}  // namespace berth::runtime

namespace berth::runtime {

Result<void> init::load_seccomp(const seccomp::Filter& filter, int sync_fd) {
  UniqueFd listener = BERTH_TRY_CTX(seccomp::install(filter), "load seccomp filter");
  if (!listener) return ok();
  // Only write(2) from here until the agent has the listener (see seccomp.h).
  struct {
    uint32_t type;
    int32_t err;
  } hdr = {static_cast<uint32_t>(SyncType::SeccompListener), listener.get()};
  if (::write(sync_fd, &hdr, sizeof hdr) != sizeof hdr) return Error::sys("announce listener");
  listener.release();  // stays open (O_CLOEXEC) until exec, for the parent to take
  return ok();
}

Result<void> hand_over_listener(pid_t pid, int fd_in_child, const oci::Seccomp& config,
                                const std::string& state_json) {
  if (config.listener_path.empty())
    return Error::invalid("linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath");
  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (!pidfd) return Error::sys("pidfd_open");
  UniqueFd listener(static_cast<int>(syscall(SYS_pidfd_getfd, pidfd.get(), fd_in_child, 0)));
  if (!listener) return Error::sys("take the seccomp listener");
  UniqueFd agent =
      BERTH_TRY_CTX(seccomp::connect_listener(config.listener_path), "linux.seccomp.listenerPath");
  return seccomp::send_listener(agent.get(), listener.get(), state_json, config.listener_metadata,
                                pid);
}

}  // namespace berth::runtime
