// process.terminal: the pty master handed over --console-socket (SCM_RIGHTS), and `run` with a
// terminal from a tty the caller owns.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <poll.h>
#include <pty.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>

#include "harness.h"

namespace berth::it {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

// Reads from `fd` until `done(buffer)` or EOF/EIO or the timeout.
std::string ReadUntil(int fd, const std::function<bool(const std::string&)>& done,
                      std::chrono::milliseconds timeout = 10s) {
  std::string buf;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done(buf)) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) break;
    struct pollfd p {
      fd, POLLIN, 0
    };
    int rc = poll(&p, 1, static_cast<int>(std::min<long>(left.count(), 100)));
    if (rc < 0 && errno != EINTR) break;
    if (rc <= 0) continue;
    char tmp[4096];
    ssize_t n = read(fd, tmp, sizeof tmp);
    if (n <= 0) break;  // EOF, or EIO once every slave fd is closed
    buf.append(tmp, n);
  }
  return buf;
}

class TerminalTest : public RuntimeTest {
 protected:
  // A listening unix socket at <tmp>/console.sock.
  int ListenConsoleSocket(std::string& path) {
    path = tmp_ + "/console.sock";
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un addr {};
    addr.sun_family = AF_UNIX;
    strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    EXPECT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0) << strerror(errno);
    EXPECT_EQ(listen(s, 1), 0);
    return s;
  }
  // Accepts one connection and receives one fd over SCM_RIGHTS; -1 on failure.
  int ReceivePtyMaster(int listener, std::chrono::milliseconds timeout = 10s) {
    struct pollfd p {
      listener, POLLIN, 0
    };
    if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return -1;
    int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (conn < 0) return -1;
    char data[256];
    char control[CMSG_SPACE(sizeof(int))] = {};
    struct iovec iov {
      data, sizeof data
    };
    struct msghdr msg {};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    int fd = -1;
    if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) >= 0) {
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
          memcpy(&fd, CMSG_DATA(c), sizeof fd);
    }
    close(conn);
    return fd;
  }
};

TEST_F(TerminalTest, ConsoleSocketReceivesThePtyMaster) {
  std::string sock;
  int listener = ListenConsoleSocket(sock);
  std::string id = NewId();
  json c = Config(
      id,
      {"sh", "-c",
       "tty; readlink /proc/self/fd/0; readlink /proc/self/fd/1; stty size; echo ok; sleep 0.2"});
  c["process"]["terminal"] = true;
  c["process"]["consoleSize"] = {{"height", 40}, {"width", 132}};
  WriteBundle(id, c);
  Process create =
      SpawnRuntime({"create", "--bundle", BundleDir(id), "--console-socket", sock, id});
  int master = ReceivePtyMaster(listener);
  close(listener);
  ExecResult cr = create.Wait();
  ASSERT_EQ(cr.exit_code, 0) << Describe(cr);
  ASSERT_GE(master, 0) << "no fd received on the console socket";
  TrackPid(State(id)["pid"].get<pid_t>());
  EXPECT_TRUE(isatty(master)) << "the received fd is not a terminal";

  ExecResult st = Runtime({"start", id});
  ASSERT_EQ(st.exit_code, 0) << Describe(st);
  std::string out =
      ReadUntil(master, [](const std::string& b) { return b.find("ok\r\n") != std::string::npos; });
  close(master);
  auto lines = SplitLines(out);
  ASSERT_GE(lines.size(), 5u) << out;
  // The pty slave is the container's own devpts' pts/0 (and bind-mounted at /dev/console).
  EXPECT_EQ(lines[0], "/dev/pts/0");
  EXPECT_EQ(lines[1], "/dev/pts/0");
  EXPECT_EQ(lines[2], "/dev/pts/0");
  EXPECT_EQ(lines[3], "40 132") << "process.consoleSize";
  EXPECT_EQ(lines[4], "ok");
}

TEST_F(TerminalTest, ConsoleIsBindMountedPtySlave) {
  std::string sock;
  int listener = ListenConsoleSocket(sock);
  std::string id = NewId();
  json c = Config(id, {"sh", "-c", "stat -c '%t:%T' /dev/console /dev/pts/0; echo ok"});
  c["process"]["terminal"] = true;
  WriteBundle(id, c);
  Process create =
      SpawnRuntime({"create", "--bundle", BundleDir(id), "--console-socket", sock, id});
  int master = ReceivePtyMaster(listener);
  close(listener);
  ExecResult cr = create.Wait();
  ASSERT_EQ(cr.exit_code, 0) << Describe(cr);
  ASSERT_GE(master, 0);
  ASSERT_EQ(Runtime({"start", id}).exit_code, 0);
  std::string out =
      ReadUntil(master, [](const std::string& b) { return b.find("ok\r\n") != std::string::npos; });
  close(master);
  auto lines = SplitLines(out);
  ASSERT_GE(lines.size(), 3u) << out;
  EXPECT_EQ(lines[0], lines[1]) << "/dev/console must be the container's pty slave";
  EXPECT_EQ(lines[0].substr(0, 3), "88:") << "a devpts device (major 136 = 0x88)";
}

TEST_F(TerminalTest, ExecWithTtyOverConsoleSocket) {
  // What containerd does for `exec -it`: exec --tty --detach --console-socket.
  std::string id = NewId();
  CreateAndStart(id, Config(id, {"sleep", "30"}));
  std::string sock;
  int listener = ListenConsoleSocket(sock);
  std::string pid_file = tmp_ + "/exec.pid";
  Process exec = SpawnRuntime({"exec", "--tty", "--detach", "--console-socket", sock, "--pid-file",
                               pid_file, id, "sh", "-c", "tty; echo exec-ok; sleep 0.2"});
  int master = ReceivePtyMaster(listener);
  close(listener);
  ExecResult er = exec.Wait();
  ASSERT_EQ(er.exit_code, 0) << Describe(er);
  ASSERT_GE(master, 0) << "no pty master received";
  if (!Trim(ReadFileOr(pid_file)).empty()) TrackPid(std::stoi(Trim(ReadFileOr(pid_file))));
  std::string out = ReadUntil(
      master, [](const std::string& b) { return b.find("exec-ok\r\n") != std::string::npos; });
  close(master);
  auto lines = SplitLines(out);
  ASSERT_GE(lines.size(), 2u) << out;
  EXPECT_THAT(lines[0], ::testing::StartsWith("/dev/pts/"));
  EXPECT_EQ(lines[1], "exec-ok");
}

TEST_F(TerminalTest, TerminalWithoutConsoleSocketFailsCreate) {
  std::string id = NewId();
  json c = Config(id, {"true"});
  c["process"]["terminal"] = true;
  ExecResult r = Create(id, c);
  EXPECT_NE(r.exit_code, 0) << Describe(r);
  // runc: "cannot allocate tty if runc will detach without setting console socket"
  EXPECT_THAT(r.err, HasSubstr("console socket"));
  ExpectNoTrace(id);
}

TEST_F(TerminalTest, RunWithTerminalFromTheCallersTty) {
  int master = -1, slave = -1;
  struct winsize ws {};
  ws.ws_row = 30;
  ws.ws_col = 100;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, &ws), 0) << strerror(errno);
  fcntl(master, F_SETFD, FD_CLOEXEC);
  std::string id = NewId();
  json c = Config(id, {"sh"});
  c["process"]["terminal"] = true;
  c["process"]["env"].push_back("PS1=prompt# ");
  Track(id);
  WriteBundle(id, c);
  Process run = SpawnRuntime({"run", "--bundle", BundleDir(id), id}, {.controlling_tty = slave});
  close(slave);
  std::string out = ReadUntil(
      master, [](const std::string& b) { return b.find("prompt# ") != std::string::npos; });
  ASSERT_THAT(out, HasSubstr("prompt# ")) << "no shell prompt on the terminal";
  const char cmd[] = "echo hello; tty; stty size; exit 7\n";
  ASSERT_EQ(write(master, cmd, sizeof cmd - 1), static_cast<ssize_t>(sizeof cmd - 1));
  out += ReadUntil(
      master, [](const std::string&) { return false; }, 10s);
  close(master);
  ExecResult r = run.Wait();
  EXPECT_EQ(r.exit_code, 7) << Describe(r) << "\n--- terminal ---\n" << out;
  auto lines = SplitLines(out);
  EXPECT_THAT(lines, Contains("hello")) << out;
  EXPECT_THAT(lines, Contains("/dev/pts/0")) << out;
  EXPECT_THAT(lines, Contains("30 100")) << "the caller's window size is copied: " << out;
}

}  // namespace
}  // namespace berth::it
