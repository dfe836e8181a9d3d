// The seccomp module against the kernel, without the runtime binary: a forked child loads a
// compiled filter with seccomp::install() and checks what its syscalls return; the notify tests
// play the agent (listenerPath socket, SECCOMP_IOCTL_NOTIF_RECV / SEND).
//
// A child reports through its exit status: 0 when every check held, else the number of the
// first check that failed (so a failure names it), or death by a signal.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "oci/spec.h"
#include "runtime/seccomp.h"
#include "util/fd.h"

namespace berth::runtime::seccomp {
namespace {

using nlohmann::json;

#define SKIP_UNLESS_ROOT() \
  if (::geteuid() != 0) GTEST_SKIP() << "needs root"

std::string fixture(const std::string& name) {
  std::string here = __FILE__;
  std::string path = here.substr(0, here.rfind('/')) + "/../data/seccomp/" + name;
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The profile as the runtime gets it: through parse_spec.
Filter compile_profile(const json& profile) {
  json config = {{"ociVersion", "1.2.0"},
                 {"root", {{"path", "rootfs"}}},
                 {"process", {{"args", {"sh"}}, {"cwd", "/"}}},
                 {"linux", {{"seccomp", profile}}}};
  Result<oci::Spec> spec = oci::parse_spec(config.dump());
  EXPECT_TRUE(spec) << spec.error().what();
  if (!spec) return {};
  Result<Filter> f = compile(*spec->linux->seccomp);
  EXPECT_TRUE(f) << f.error().what();
  return f ? std::move(*f) : Filter{};
}

json allow_but(json syscalls) {
  return {{"defaultAction", "SCMP_ACT_ALLOW"},
          {"architectures", {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"}},
          {"syscalls", std::move(syscalls)}};
}

// Forks; the child runs `body` and _exits with its result. Returns the child's wait status.
int in_child(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) ::_exit(body());
  ChildProcess child(pid);
  Result<int> status = child.wait();
  return status ? *status : -1;
}

// The checks a child makes: the first that fails decides the exit code.
#define CHECK_OR_EXIT(n, cond) \
  if (!(cond)) return (n)

// Loads `f` the way the init does with noNewPrivileges.
int load(const Filter& f) {
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return 100;
  Result<UniqueFd> r = install(f);
  if (!r) return 101;
  return 0;
}

std::string describe(int status) {
  if (status < 0) return "fork/wait failed";
  if (WIFEXITED(status)) return "exit " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

TEST(SeccompLib, ErrnoRuleDeniesTheCallOthersWork) {
  SKIP_UNLESS_ROOT();
  Filter f = compile_profile(allow_but({
      {{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}},  // EPERM by default
      {{"names", {"rmdir"}}, {"action", "SCMP_ACT_ERRNO"}, {"errnoRet", ENOSPC}},
  }));
  int status = in_child([&] {
    pid_t me = ::getpid();
    if (int rc = load(f)) return rc;
    CHECK_OR_EXIT(1, ::mkdir("/tmp/berth-seccomp-never", 0700) == -1 && errno == EPERM);
    CHECK_OR_EXIT(2, ::rmdir("/tmp/berth-seccomp-never") == -1 && errno == ENOSPC);
    CHECK_OR_EXIT(3, ::syscall(SYS_getpid) == me);
    CHECK_OR_EXIT(4, ::access("/", F_OK) == 0);
    return 0;
  });
  EXPECT_EQ(describe(status), "exit 0");
}

TEST(SeccompLib, KillActionsDieOfSigsys) {
  SKIP_UNLESS_ROOT();
  for (const char* action : {"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"}) {
    Filter f = compile_profile(allow_but({{{"names", {"mkdir", "mkdirat"}}, {"action", action}}}));
    int status = in_child([&] {
      if (int rc = load(f)) return rc;
      ::mkdir("/tmp/berth-seccomp-never", 0700);
      return 1;  // not reached
    });
    EXPECT_EQ(describe(status), std::string("signal ") + strsignal(SIGSYS)) << action;
  }
}

TEST(SeccompLib, TrapActionRaisesSigsys) {
  SKIP_UNLESS_ROOT();
  Filter f = compile_profile(allow_but({{{"names", {"getppid"}}, {"action", "SCMP_ACT_TRAP"}}}));
  int status = in_child([&] {
    if (int rc = load(f)) return rc;
    ::syscall(SYS_getppid);  // SIGSYS, default disposition: core/terminate
    return 1;
  });
  EXPECT_EQ(describe(status), std::string("signal ") + strsignal(SIGSYS));
}

TEST(SeccompLib, ArgumentConditions) {
  SKIP_UNLESS_ROOT();
  Filter f = compile_profile(allow_but({
      // personality: only the query (0xffffffff) passes.
      {{"names", {"personality"}},
       {"action", "SCMP_ACT_ERRNO"},
       {"args", {{{"index", 0}, {"value", 0xffffffffu}, {"op", "SCMP_CMP_NE"}}}}},
      // socket(AF_INET, SOCK_DGRAM...) refused with EACCES; the type is masked (SOCK_CLOEXEC).
      {{"names", {"socket"}},
       {"action", "SCMP_ACT_ERRNO"},
       {"errnoRet", EACCES},
       {"args",
        {{{"index", 0}, {"value", AF_INET}, {"op", "SCMP_CMP_EQ"}},
         {{"index", 1}, {"value", 0xf}, {"valueTwo", SOCK_DGRAM}, {"op", "SCMP_CMP_MASKED_EQ"}}}}},
  }));
  int status = in_child([&] {
    if (int rc = load(f)) return rc;
    CHECK_OR_EXIT(1, ::personality(0xffffffff) >= 0);
    CHECK_OR_EXIT(2, ::personality(PER_LINUX) == -1 && errno == EPERM);
    CHECK_OR_EXIT(3, ::personality(PER_LINUX32) == -1 && errno == EPERM);
    CHECK_OR_EXIT(4, ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) == -1 && errno == EACCES);
    int tcp = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_OR_EXIT(5, tcp >= 0);  // same family, other type: both conditions must hold
    ::close(tcp);
    int unix_dgram = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    CHECK_OR_EXIT(6, unix_dgram >= 0);
    ::close(unix_dgram);
    return 0;
  });
  EXPECT_EQ(describe(status), "exit 0");
}

#if defined(__x86_64__)
// The fixture under the kernel: a default-deny profile a process can live under.
TEST(SeccompLib, DockerLikeProfile) {
  SKIP_UNLESS_ROOT();
  std::string text = fixture("docker_like.json");
  ASSERT_FALSE(text.empty());
  Filter f = compile_profile(json::parse(text));
  int status = in_child([&] {
    pid_t me = ::getpid();
    if (int rc = load(f)) return rc;
    CHECK_OR_EXIT(1, ::syscall(SYS_getpid) == me);
    CHECK_OR_EXIT(2, ::write(STDERR_FILENO, "", 0) == 0);
    CHECK_OR_EXIT(3, ::syscall(SYS_mount, "none", "/mnt", "tmpfs", 0, nullptr) == -1 &&
                         errno == EPERM);  // not listed: defaultErrnoRet 1
    CHECK_OR_EXIT(4, ::syscall(SYS_clone3, nullptr, 0) == -1 && errno == ENOSYS);  // errnoRet 38
    // Above every number the profile names: ENOSYS from the stub, not EPERM.
    CHECK_OR_EXIT(5, ::syscall(1000) == -1 && errno == ENOSYS);
    CHECK_OR_EXIT(6, ::syscall(SYS_futex_waitv + 1, 0, 0, 0, 0, 0) == -1 && errno == ENOSYS);
    CHECK_OR_EXIT(7, ::socket(40 /* AF_VSOCK */, SOCK_STREAM, 0) == -1 && errno == EPERM);
    int s = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK_OR_EXIT(8, s >= 0);
    ::close(s);
    CHECK_OR_EXIT(9, ::personality(0xffffffff) >= 0);
    CHECK_OR_EXIT(10, ::personality(0x0400000) == -1 && errno == EPERM);
    return 0;
  });
  EXPECT_EQ(describe(status), "exit 0");
}
#endif

TEST(SeccompLib, FlagsAreAccepted) {
  SKIP_UNLESS_ROOT();
  json p = allow_but({{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}}});
  p["flags"] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG",
                "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  Filter f = compile_profile(p);
  int status = in_child([&] {
    if (int rc = load(f)) return rc;
    CHECK_OR_EXIT(1, ::mkdir("/tmp/berth-seccomp-never", 0700) == -1 && errno == EPERM);
    return 0;
  });
  EXPECT_EQ(describe(status), "exit 0");
}

TEST(SeccompLib, WithoutNoNewPrivsOrCapSysAdminTheLoadIsRefused) {
  SKIP_UNLESS_ROOT();
  Filter f = compile_profile(allow_but({{{"names", {"mkdir"}}, {"action", "SCMP_ACT_ERRNO"}}}));
  int pipefd[2];
  ASSERT_EQ(::pipe2(pipefd, O_CLOEXEC), 0);
  UniqueFd rd(pipefd[0]), wr(pipefd[1]);
  int status = in_child([&] {
    // nobody, all capabilities gone, no no_new_privs.
    if (::setresgid(65534, 65534, 65534) < 0 || ::setresuid(65534, 65534, 65534) < 0) return 100;
    Result<UniqueFd> r = install(f);
    if (r) return 1;
    std::string what = r.error().what();
    (void)!::write(wr.get(), what.data(), what.size());
    return r.error().errno_value() == EACCES ? 0 : 2;
  });
  wr.reset();
  Result<std::string> what = read_all(rd.get());
  EXPECT_EQ(describe(status), "exit 0");
  ASSERT_TRUE(what);
  EXPECT_EQ(*what,
            "loading the seccomp filter: the process has neither no_new_privs nor CAP_SYS_ADMIN: "
            "permission denied");
}

TEST(SeccompLib, CapSysAdminLoadsWithoutNoNewPrivs) {
  SKIP_UNLESS_ROOT();
  Filter f =
      compile_profile(allow_but({{{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_ERRNO"}}}));
  int status = in_child([&] {
    if (!install(f)) return 1;
    CHECK_OR_EXIT(2, ::prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
    CHECK_OR_EXIT(3, ::mkdir("/tmp/berth-seccomp-never", 0700) == -1 && errno == EPERM);
    return 0;
  });
  EXPECT_EQ(describe(status), "exit 0");
}

// ---------------------------------------------------------------------------------------------
// SCMP_ACT_NOTIFY: the parent is the agent.

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/berth-seccomp-XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)!::system(("rm -rf '" + path_ + "'").c_str());
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Waits up to 10 s for `fd` to be readable.
bool readable(int fd) {
  struct pollfd p = {fd, POLLIN, 0};
  return ::poll(&p, 1, 10000) == 1;
}

// The agent's side of the handover: one connection, JSON + SCM_RIGHTS, then EOF.
struct Received {
  json state;
  UniqueFd fd;
};
Received receive_state(int server) {
  Received out;
  if (!readable(server)) return out;
  UniqueFd conn(::accept4(server, nullptr, nullptr, SOCK_CLOEXEC));
  if (!conn) return out;
  std::string text;
  char buf[4096];
  struct iovec iov = {buf, sizeof buf};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  if (!readable(conn.get())) return out;
  ssize_t n = ::recvmsg(conn.get(), &msg, MSG_CMSG_CLOEXEC);
  if (n <= 0) return out;
  text.append(buf, static_cast<size_t>(n));
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      out.fd = UniqueFd(fd);
    }
  while (readable(conn.get()) && (n = ::read(conn.get(), buf, sizeof buf)) > 0)
    text.append(buf, static_cast<size_t>(n));
  out.state = json::parse(text, nullptr, false);
  return out;
}

// Receives one notification and answers it with `val` or `error` (a negative errno).
struct Notification {
  int nr = -1;
  pid_t pid = 0;
};
Notification answer_one(int listener, int64_t val, int error) {
  Notification seen;
  struct seccomp_notif_sizes sizes = {};
  if (::syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0) return seen;
  std::vector<char> req_buf(std::max<size_t>(sizes.seccomp_notif, sizeof(seccomp_notif)));
  std::vector<char> resp_buf(
      std::max<size_t>(sizes.seccomp_notif_resp, sizeof(seccomp_notif_resp)));
  auto* req = reinterpret_cast<seccomp_notif*>(req_buf.data());
  auto* resp = reinterpret_cast<seccomp_notif_resp*>(resp_buf.data());
  if (!readable(listener)) return seen;
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) return seen;
  seen.nr = req->data.nr;
  seen.pid = static_cast<pid_t>(req->pid);
  resp->id = req->id;
  resp->val = val;
  resp->error = error;
  resp->flags = 0;
  if (::ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0) seen.nr = -2;
  return seen;
}

UniqueFd listen_unix(const std::string& path) {
  UniqueFd s(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return UniqueFd();
  memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  if (::bind(s.get(), reinterpret_cast<struct sockaddr*>(&addr), sizeof addr) < 0 ||
      ::listen(s.get(), 4) < 0)
    return UniqueFd();
  return s;
}

TEST(SeccompLib, NotifyHandsTheListenerToTheAgent) {
  SKIP_UNLESS_ROOT();
  TempDir tmp;
  ASSERT_FALSE(tmp.path().empty());
  std::string agent_path = tmp.path() + "/agent.sock";
  UniqueFd server = listen_unix(agent_path);
  ASSERT_TRUE(server);
  json p = allow_but({{{"names", {"getppid"}}, {"action", "SCMP_ACT_NOTIFY"}},
                      {{"names", {"mkdir", "mkdirat"}}, {"action", "SCMP_ACT_NOTIFY"}}});
  p["listenerPath"] = agent_path;
  p["listenerMetadata"] = "MKNOD=/dev/null";
  Filter f = compile_profile(p);
  ASSERT_TRUE(f.notify);
  json state = {{"ociVersion", "1.2.0"}, {"id", "web"},
                {"status", "creating"},  {"pid", 0},
                {"bundle", "/bundle"},   {"annotations", {{"k", "v"}}}};

  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    int rc = [&]() -> int {
      // As the init does it: connect on the host side, load, hand over, continue.
      Result<UniqueFd> agent = connect_listener(agent_path);
      if (!agent) return 100;
      if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return 101;
      Result<UniqueFd> listener = install(f);
      if (!listener || !listener->valid()) return 102;
      if ((::fcntl(listener->get(), F_GETFD) & FD_CLOEXEC) == 0) return 103;
      json st = state;
      st["pid"] = ::getpid();
      if (!send_listener(agent->get(), listener->get(), st.dump(), "MKNOD=/dev/null")) return 104;
      agent->reset();
      listener->reset();
      CHECK_OR_EXIT(1, ::syscall(SYS_getppid) == 4242);
      CHECK_OR_EXIT(2, ::mkdir("/tmp/berth-seccomp-never", 0700) == -1 && errno == EROFS);
      return 0;
    }();
    ::_exit(rc);
  }
  ChildProcess child(pid);

  Received got = receive_state(server.get());
  ASSERT_TRUE(got.fd) << "no listener fd from the child";
  ASSERT_FALSE(got.state.is_discarded());
  EXPECT_EQ(got.state["ociVersion"], oci::kSpecVersion);
  EXPECT_EQ(got.state["fds"], json::array({"seccompFd"}));
  EXPECT_EQ(got.state["pid"], pid);
  EXPECT_EQ(got.state["metadata"], "MKNOD=/dev/null");
  json want = state;
  want["pid"] = pid;
  EXPECT_EQ(got.state["state"], want);

  Notification first = answer_one(got.fd.get(), 4242, 0);
  EXPECT_EQ(first.nr, SYS_getppid);
  EXPECT_EQ(first.pid, pid);
  Notification second = answer_one(got.fd.get(), 0, -EROFS);
  EXPECT_TRUE(second.nr == SYS_mkdir || second.nr == SYS_mkdirat) << second.nr;

  Result<int> status = child.wait();
  ASSERT_TRUE(status);
  EXPECT_EQ(describe(*status), "exit 0");
}

TEST(SeccompLib, NotifyWithTsync) {
  SKIP_UNLESS_ROOT();
  json p = allow_but({{{"names", {"getppid"}}, {"action", "SCMP_ACT_NOTIFY"}}});
  p["listenerPath"] = "/unused";
  p["flags"] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
  Filter f = compile_profile(p);
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  UniqueFd ours(sv[0]), theirs(sv[1]);
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ours.reset();
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) ::_exit(100);
    Result<UniqueFd> listener = install(f);
    if (!listener) ::_exit(101);
    if (!send_listener(theirs.get(), listener->get(), R"({"pid": 1})", "")) ::_exit(102);
    theirs.reset();
    listener->reset();
    ::_exit(::syscall(SYS_getppid) == 7 ? 0 : 1);
  }
  ChildProcess child(pid);
  theirs.reset();
  Received got;
  {
    // A socketpair instead of a listening socket: read it directly.
    char buf[4096];
    struct iovec iov = {buf, sizeof buf};
    struct msghdr msg = {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    ASSERT_TRUE(readable(ours.get()));
    ASSERT_GT(::recvmsg(ours.get(), &msg, MSG_CMSG_CLOEXEC), 0);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    ASSERT_NE(c, nullptr);
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    got.fd = UniqueFd(fd);
  }
  EXPECT_EQ(answer_one(got.fd.get(), 7, 0).nr, SYS_getppid);
  Result<int> status = child.wait();
  ASSERT_TRUE(status);
  EXPECT_EQ(describe(*status), "exit 0");
}

}  // namespace
}  // namespace berth::runtime::seccomp
