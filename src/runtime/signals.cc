// Signals: names for `kill`, and the foreground loop of `run`/`exec` that forwards what the
// runtime receives to the container and proxies a terminal.
#include "util/signals.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#include "runtime/container.h"
#include "runtime/internal.h"

namespace berth::runtime {
namespace {

// The signals `run` and `exec` forward (everything catchable but SIGCHLD/SIGWINCH/SIGURG,
// which the loop handles itself or which mean nothing to the container).
sigset_t forwarded_set() {
  sigset_t s;
  sigfillset(&s);
  sigdelset(&s, SIGKILL);
  sigdelset(&s, SIGSTOP);
  sigdelset(&s, SIGSEGV);
  sigdelset(&s, SIGBUS);
  sigdelset(&s, SIGFPE);
  sigdelset(&s, SIGILL);
  return s;
}

struct RawTerminal {
  int fd = -1;
  struct termios saved;
  void enter(int f) {
    if (!::isatty(f) || ::tcgetattr(f, &saved) < 0) return;
    struct termios raw = saved;
    cfmakeraw(&raw);  // the container's pty does the output processing
    if (::tcsetattr(f, TCSANOW, &raw) == 0) fd = f;
  }
  ~RawTerminal() {
    if (fd >= 0) ::tcsetattr(fd, TCSANOW, &saved);
  }
};

void copy_winsize(int from, int to) {
  struct winsize ws;
  if (::ioctl(from, TIOCGWINSZ, &ws) == 0) ::ioctl(to, TIOCSWINSZ, &ws);
}

}  // namespace

Result<int> parse_signal(const std::string& s) {
  if (s.empty()) return Error::invalid("signal cannot be empty");
  if (auto n = signal_from_string(s)) return *n;
  std::string up = s;
  for (auto& c : up) c = static_cast<char>(toupper(static_cast<unsigned char>(c)));
  if (isdigit(static_cast<unsigned char>(s[0])) || up.rfind("RT", 0) == 0 ||
      up.rfind("SIGRT", 0) == 0)
    return Error::invalid("invalid signal: " + s);
  return Error::invalid("unknown signal \"" + s + "\"");
}

// Blocks the forwarded signals (call before clone so none is lost); returns the old mask.
sigset_t block_forwarded_signals() {
  sigset_t set = forwarded_set(), old;
  sigprocmask(SIG_BLOCK, &set, &old);
  return old;
}

Result<void> set_console_size(int fd, unsigned rows, unsigned cols) {
  struct winsize ws = {};
  ws.ws_row = static_cast<unsigned short>(rows);
  ws.ws_col = static_cast<unsigned short>(cols);
  if (::ioctl(fd, TIOCSWINSZ, &ws) < 0) return Error::sys("set console size");
  return ok();
}

Result<int> wait_forwarding(pid_t pid, int master) {
  sigset_t set = forwarded_set();
  sigprocmask(SIG_BLOCK, &set, nullptr);
  UniqueFd sfd(::signalfd(-1, &set, SFD_CLOEXEC));
  if (!sfd) return Error::sys("signalfd");
  RawTerminal raw;
  bool stdin_open = master >= 0;
  if (master >= 0) {
    raw.enter(0);
    copy_winsize(0, master);
  }
  for (;;) {
    int status;
    pid_t w = ::waitpid(pid, &status, WNOHANG);
    if (w == pid) {
      if (master >= 0) {  // drain what the container wrote last
        char buf[8192];
        int fl = ::fcntl(master, F_GETFL);
        ::fcntl(master, F_SETFL, fl | O_NONBLOCK);
        ssize_t n;
        while ((n = ::read(master, buf, sizeof buf)) > 0) (void)write_all(1, {buf, size_t(n)});
      }
      return status;
    }
    if (w < 0 && errno != EINTR) return Error::sys("waitpid");
    struct pollfd p[3] = {
        {sfd.get(), POLLIN, 0}, {master, POLLIN, 0}, {stdin_open ? 0 : -1, POLLIN, 0}};
    int n = ::poll(p, master >= 0 ? 3 : 1, -1);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys("poll");
    }
    if (p[0].revents & POLLIN) {
      struct signalfd_siginfo si;
      if (::read(sfd.get(), &si, sizeof si) == sizeof si) {
        int sig = static_cast<int>(si.ssi_signo);
        if (sig == SIGWINCH) {
          if (master >= 0) copy_winsize(0, master);
        } else if (sig != SIGCHLD && sig != SIGURG) {
          ::kill(pid, sig);
        }
      }
    }
    if (master >= 0 && (p[1].revents & (POLLIN | POLLHUP | POLLERR))) {
      char buf[8192];
      ssize_t r = ::read(master, buf, sizeof buf);
      if (r > 0)
        (void)write_all(1, {buf, size_t(r)});
      else if (r < 0 && errno == EIO) {
        // The slave side closed; wait for the exit without busy-looping on the master.
        master = -1;
        stdin_open = false;
      }
    }
    if (stdin_open && (p[2].revents & (POLLIN | POLLHUP))) {
      char buf[8192];
      ssize_t r = ::read(0, buf, sizeof buf);
      if (r > 0)
        (void)write_all(master, {buf, size_t(r)});
      else
        stdin_open = false;
    }
  }
}

}  // namespace berth::runtime
