#include "cli/stream.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>

#include "client/stdcopy.h"
#include "util/fd.h"

namespace berth::cli {

RawTerminal::RawTerminal(int fd) : fd_(fd) {
  termios t{};
  if (tcgetattr(fd, &t) != 0) return;
  saved_ = t;
  // docker's MakeRaw: no echo, no canonical mode, no signals from keys, 8-bit, no CR mapping.
  t.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  t.c_oflag &= ~OPOST;
  t.c_lflag &= ~(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  t.c_cflag &= ~(CSIZE | PARENB);
  t.c_cflag |= CS8;
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  tcsetattr(fd, TCSANOW, &t);
}

RawTerminal::~RawTerminal() {
  if (saved_) tcsetattr(fd_, TCSANOW, &*saved_);
}

std::optional<std::pair<int, int>> terminal_size(int fd) {
  winsize ws{};
  if (ioctl(fd, TIOCGWINSZ, &ws) != 0 || (ws.ws_row == 0 && ws.ws_col == 0)) return std::nullopt;
  return std::make_pair(static_cast<int>(ws.ws_row), static_cast<int>(ws.ws_col));
}

namespace {
int g_signal_pipe[2] = {-1, -1};
struct sigaction g_saved[65];

void on_signal(int sig) {
  int saved = errno;
  unsigned char b = static_cast<unsigned char>(sig);
  if (g_signal_pipe[1] >= 0) (void)!write(g_signal_pipe[1], &b, 1);
  errno = saved;
}
}  // namespace

SignalPipe::SignalPipe(const std::vector<int>& signals) : signals_(signals) {
  if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
    g_signal_pipe[0] = g_signal_pipe[1] = -1;
    signals_.clear();
    return;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESTART;
  for (int s : signals_) sigaction(s, &sa, &g_saved[s]);
}

SignalPipe::~SignalPipe() {
  for (int s : signals_) sigaction(s, &g_saved[s], nullptr);
  for (int& fd : g_signal_pipe) {
    if (fd >= 0) close(fd);
    fd = -1;
  }
}

int SignalPipe::fd() const { return g_signal_pipe[0]; }

std::vector<int> SignalPipe::drain() {
  std::vector<int> out;
  unsigned char buf[64];
  for (;;) {
    ssize_t n = read(g_signal_pipe[0], buf, sizeof(buf));
    if (n <= 0) break;
    for (ssize_t i = 0; i < n; i++) out.push_back(buf[i]);
  }
  return out;
}

std::vector<int> proxied_signals() {
  std::vector<int> out;
  for (int s = 1; s < 32; s++) {
    if (s == SIGKILL || s == SIGSTOP || s == SIGCHLD || s == SIGPIPE || s == SIGURG ||
        s == SIGWINCH || s == SIGSEGV || s == SIGBUS || s == SIGFPE || s == SIGILL ||
        s == SIGTTIN || s == SIGTTOU || s == SIGTSTP || s == SIGCONT || s == SIGPROF ||
        s == SIGVTALRM)
      continue;
    out.push_back(s);
  }
  return out;
}

Result<void> pump(client::Hijacked& h, const PumpOptions& o) {
  auto sink = [](int fd) {
    return [fd](std::string_view d) -> Result<void> {
      auto r = write_all(fd, d);
      // A closed stdout (| head) ends our interest, not the container.
      if (!r && r.error().errno_value() == EPIPE) return ok();
      return r;
    };
  };
  client::StdcopyDemuxer demux(sink(STDOUT_FILENO), sink(STDERR_FILENO));
  auto deliver = [&](std::string_view d) -> Result<void> {
    if (o.tty) return sink(STDOUT_FILENO)(d);
    return demux.feed(d);
  };
  if (!h.pending.empty()) {
    BERTH_TRY(deliver(h.pending));
    h.pending.clear();
  }
  client::Transport& conn = *h.stream;
  bool stdin_open = o.forward_stdin;
  bool prev_ctrl_p = false;
  std::vector<char> buf(65536);
  for (;;) {
    pollfd fds[3];
    int n = 0;
    fds[n++] = {conn.fd(), POLLIN, 0};
    int stdin_idx = -1, sig_idx = -1;
    if (stdin_open) {
      stdin_idx = n;
      fds[n++] = {STDIN_FILENO, POLLIN, 0};
    }
    if (o.signals && o.signals->fd() >= 0) {
      sig_idx = n;
      fds[n++] = {o.signals->fd(), POLLIN, 0};
    }
    // Output the transport holds already (decrypted TLS) is not seen by poll(): no waiting.
    bool output_ready = conn.buffered() > 0;
    if (poll(fds, static_cast<nfds_t>(n), output_ready ? 0 : -1) < 0) {
      if (errno == EINTR) continue;
      return Error::sys("poll");
    }
    if (sig_idx >= 0 && (fds[sig_idx].revents & POLLIN)) {
      for (int s : o.signals->drain()) {
        if (o.on_signal) o.on_signal(s);
      }
    }
    if (stdin_idx >= 0 && fds[stdin_idx].revents) {
      ssize_t r = read(STDIN_FILENO, buf.data(), buf.size());
      if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (r <= 0) {
        stdin_open = false;
        // The container sees EOF on its stdin; its output keeps coming.
        (void)conn.close_write();
      } else {
        if (o.tty && o.detached) {
          // docker's default detach keys; the daemon acts on them, we only remember.
          for (ssize_t i = 0; i < r; i++) {
            if (prev_ctrl_p && buf[i] == 0x11) *o.detached = true;
            prev_ctrl_p = buf[i] == 0x10;
          }
        }
        // A daemon that went away ends the copy of stdin; its output is read to the end.
        if (!conn.write(std::string_view(buf.data(), static_cast<size_t>(r)))) stdin_open = false;
      }
    }
    if (output_ready || fds[0].revents) {
      auto r = conn.read(buf.data(), buf.size());
      if (!r) {
        if (r.error().errno_value() == ECONNRESET) return ok();
        return std::move(r).error();
      }
      if (*r == 0) return ok();
      BERTH_TRY(deliver(std::string_view(buf.data(), *r)));
    }
  }
}

}  // namespace berth::cli
