// OCI hooks: each runs with the state JSON on stdin, its env and args, and an optional
// timeout; its output is kept for the error message when it fails.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runtime/internal.h"

namespace berth::runtime {
namespace {

long long now_ms() {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

Result<void> run_hook(const oci::Hook& h, const std::string& state) {
  int in[2], out[2];
  if (::pipe2(in, O_CLOEXEC) < 0) return Error::sys("pipe");
  UniqueFd in_r(in[0]), in_w(in[1]);
  if (::pipe2(out, O_CLOEXEC) < 0) return Error::sys("pipe");
  UniqueFd out_r(out[0]), out_w(out[1]);
  std::vector<std::string> args = h.args.empty() ? std::vector<std::string>{h.path} : h.args;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = h.env;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  pid_t pid = ::fork();
  if (pid < 0) return Error::sys("fork");
  if (pid == 0) {
    ::dup2(in_r.get(), 0);
    ::dup2(out_w.get(), 1);
    ::dup2(out_w.get(), 2);
    sigset_t all;
    sigemptyset(&all);
    sigprocmask(SIG_SETMASK, &all, nullptr);
    ::execve(h.path.c_str(), argv.data(), envp.data());
    dprintf(2, "exec %s: %s", h.path.c_str(), errno_text(errno).c_str());
    _exit(127);
  }
  ChildProcess child(pid);
  in_r.reset();
  out_w.reset();
  ::signal(SIGPIPE, SIG_IGN);
  (void)write_all(in_w.get(), state);  // a hook may not read its stdin
  in_w.reset();

  UniqueFd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  long long deadline = h.timeout ? now_ms() + *h.timeout * 1000LL : -1;
  std::string output;
  bool out_open = true, exited = false;
  while (!exited) {
    struct pollfd p[2] = {{pidfd.get(), POLLIN, 0}, {out_r.get(), POLLIN, 0}};
    int wait = deadline < 0 ? -1 : static_cast<int>(std::max(0LL, deadline - now_ms()));
    int n = ::poll(p, out_open ? 2 : 1, wait);
    if (n < 0 && errno != EINTR) return Error::sys("poll hook");
    if (n == 0) {
      child.kill_and_reap();
      return Error(ErrorKind::Timeout, 0,
                   "killed after its timeout of " + std::to_string(*h.timeout) + "s");
    }
    if (out_open && (p[1].revents & (POLLIN | POLLHUP))) {
      char buf[4096];
      ssize_t r = ::read(out_r.get(), buf, sizeof buf);
      if (r <= 0)
        out_open = false;
      else if (output.size() < 65536)
        output.append(buf, static_cast<size_t>(r));
    }
    if (p[0].revents & POLLIN) exited = true;
  }
  int status = BERTH_TRY(child.wait());
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return ok();
  while (!output.empty() && (output.back() == '\n' || output.back() == ' ')) output.pop_back();
  std::string why = WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                        : "exit status " + std::to_string(WEXITSTATUS(status));
  return Error::internal(why + (output.empty() ? "" : ", output: " + output));
}

}  // namespace

Result<void> run_hooks(const std::vector<oci::Hook>& hooks, const char* kind,
                       const std::string& state_json) {
  for (size_t i = 0; i < hooks.size(); i++) {
    auto r = run_hook(hooks[i], state_json);
    if (!r)
      return std::move(r).error().wrap(std::string(kind) + " hook #" + std::to_string(i) + " (\"" +
                                       hooks[i].path + "\")");
  }
  return ok();
}

}  // namespace berth::runtime
