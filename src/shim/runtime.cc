#include "shim/runtime.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "util/strings.h"

extern char** environ;

namespace berth::shim {

namespace {

constexpr size_t kMaxCapture = 1 << 20;

Result<std::string> read_capture(int fd) {
  if (::lseek(fd, 0, SEEK_SET) < 0) return Error::sys("seek");
  auto text = read_all(fd, kMaxCapture);
  if (!text) return std::string("(runtime output too large)");
  return text;
}

// Reaps children until `pid` has exited; returns its wait status.
Result<int> reap_until(pid_t pid, const std::function<void(pid_t, int)>& on_other_exit) {
  for (;;) {
    int status = 0;
    pid_t got = ::waitpid(-1, &status, __WALL);
    if (got < 0) {
      if (errno == EINTR) continue;
      return Error::sys("wait for the runtime");
    }
    if (got == pid) return status;
    if (on_other_exit) on_other_exit(got, status);
  }
}

}  // namespace

Result<RuntimeRun> Runtime::run(const std::vector<std::string>& args, RuntimeStdio stdio,
                                const std::function<void(pid_t, int)>& on_other_exit) {
  std::vector<std::string> all = {binary_, "--root", root_};
  all.insert(all.end(), global_.begin(), global_.end());
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : all) argv.push_back(s.data());
  argv.push_back(nullptr);

  UniqueFd capture;
  if (stdio.out < 0 || stdio.err < 0) {
    capture.reset(::memfd_create("runtime-output", MFD_CLOEXEC));
    if (!capture) return Error::sys("memfd_create");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (stdio.in >= 0)
    posix_spawn_file_actions_adddup2(&fa, stdio.in, 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, stdio.out >= 0 ? stdio.out : capture.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, stdio.err >= 0 ? stdio.err : capture.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all_signals;
  sigemptyset(&none);
  sigfillset(&all_signals);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all_signals);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, argv[0], &fa, &attr, argv.data(), environ);  // "runc" works too
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Error::from_errno(rc, "exec " + binary_);

  RuntimeRun out;
  out.wait_status = BERTH_TRY(reap_until(pid, on_other_exit));
  if (capture) out.output = BERTH_TRY(read_capture(capture.get()));
  return out;
}

namespace {

// Go's strconv.Quote text back to bytes (enough of it for error messages).
std::string unquote_go(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '"') break;
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    char c = s[++i];
    switch (c) {
      case 'n': out.push_back('\n'); break;
      case 't': out.push_back('\t'); break;
      case 'r': out.push_back('\r'); break;
      default: out.push_back(c); break;
    }
  }
  return out;
}

// The message of one line of runtime output.
std::string line_message(std::string_view line) {
  if (!line.empty() && line.front() == '{') {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object()) {
      auto it = j.find("msg");
      if (it != j.end() && it->is_string()) return it->get<std::string>();
    }
  }
  size_t m = line.find(" msg=\"");
  if (line.rfind("time=", 0) == 0 && m != std::string_view::npos)
    return unquote_go(line.substr(m + 6));
  return std::string(line);
}

bool is_error_line(std::string_view line) {
  if (line.rfind("time=", 0) == 0 || line.front() == '{') {
    return line.find("level=error") != std::string_view::npos ||
           line.find("level=fatal") != std::string_view::npos ||
           line.find("\"level\":\"error\"") != std::string_view::npos ||
           line.find("\"level\":\"fatal\"") != std::string_view::npos;
  }
  return true;  // plain text: runc's and berth-runtime's error line on stderr
}

}  // namespace

std::string runtime_error_text(std::string_view output, int wait_status) {
  std::string best;
  for (std::string_view line : split(output, '\n', true)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
    if (line.empty() || !is_error_line(line)) continue;
    best = line_message(line);
  }
  if (!best.empty()) return best;
  if (WIFSIGNALED(wait_status))
    return "runtime killed by signal " + std::to_string(WTERMSIG(wait_status));
  return "exit status " + std::to_string(exit_code_of(wait_status));
}

}  // namespace berth::shim
