// The client half of berth-shim's protocol: launch() and the Client ops (client.h).
#include "shim/client.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <nlohmann/json.hpp>

#include "shim/protocol.h"
#include "util/strings.h"

extern char** environ;

namespace berth::shim {

using json = nlohmann::json;

namespace {

// How long launch() waits for the shim to report `runtime create`'s outcome.
constexpr int kLaunchTimeoutMs = 120'000;
// The fd number of the report pipe in the shim (see cmd/berth-shim/main.cc).
constexpr int kReadyFd = 3;

std::vector<std::string> shim_argv(const LaunchOptions& o) {
  std::vector<std::string> a = {o.shim_binary,
                                "--id",
                                o.id,
                                "--bundle",
                                o.bundle,
                                "--state-dir",
                                o.state_dir,
                                "--runtime",
                                o.runtime,
                                "--runtime-root",
                                o.runtime_root,
                                "--ready-fd",
                                std::to_string(kReadyFd)};
  for (const auto& arg : o.runtime_args) {
    a.push_back("--runtime-arg");
    a.push_back(arg);
  }
  if (o.tty) a.push_back("--tty");
  if (o.stdin) a.push_back("--stdin");
  if (!o.log_path.empty()) {
    a.insert(a.end(), {"--log", o.log_path, "--log-max-size", std::to_string(o.log_max_size),
                       "--log-max-files", std::to_string(o.log_max_files)});
  }
  return a;
}

Result<void> check_options(const LaunchOptions& o) {
  if (o.shim_binary.empty()) return Error::invalid("no shim binary");
  if (o.id.empty() || o.id.find('/') != std::string::npos)
    return Error::invalid("invalid container id " + berth::quoted(o.id));
  if (o.bundle.empty() || o.state_dir.empty() || o.runtime.empty() || o.runtime_root.empty())
    return Error::invalid("bundle, state dir, runtime and runtime root are required");
  if (o.log_max_files < 1) return Error::invalid("log max files must be at least 1");
  return ok();
}

// Runs berth-shim with the write end of `report` as fd kReadyFd. posix_spawn (vfork) is safe in
// berthd's threads and copies no page tables. Returns the pid of the first shim process, which
// exits as soon as it has forked the detached one.
Result<pid_t> spawn_shim(const LaunchOptions& o, int report_w) {
  std::vector<std::string> args = shim_argv(o);
  std::vector<char*> argv;
  for (auto& s : args) argv.push_back(s.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, report_w, kReadyFd);  // clears FD_CLOEXEC on the copy
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &fa, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Error::from_errno(rc, "exec " + o.shim_binary);
  return pid;
}

// Reads the shim's report until EOF (the shim closes it once it is ready or gone).
Result<std::string> read_report(int fd) {
  std::string out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kLaunchTimeoutMs);
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return Error(ErrorKind::Timeout, 0, "timed out waiting for the shim");
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno != EINTR) return Error::sys("poll");
    if (r <= 0) continue;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys("read the shim's report");
    if (n == 0) return out;
    if (out.size() + n > kMaxMessage) return Error::invalid("shim report too large");
    out.append(buf, static_cast<size_t>(n));
  }
}

// "ready <shim pid> <init pid>\n", or "error <kind name>\n<message>".
Result<pid_t> parse_report(const std::string& report, int first_status) {
  if (report.rfind("ready ", 0) == 0) {
    pid_t pid = static_cast<pid_t>(std::strtol(report.c_str() + 6, nullptr, 10));
    if (pid > 0) return pid;
  }
  if (report.rfind("error ", 0) == 0) {
    size_t nl = report.find('\n');
    std::string kind = report.substr(6, nl == std::string::npos ? std::string::npos : nl - 6);
    std::string msg = nl == std::string::npos ? "" : report.substr(nl + 1);
    return Error(error_kind_from_name(kind), 0, msg);
  }
  return Error::internal("berth-shim exited (status " + std::to_string(exit_code_of(first_status)) +
                         ") without reporting" + (report.empty() ? "" : ": " + report));
}

}  // namespace

Result<pid_t> launch(const LaunchOptions& opts) {
  BERTH_TRY(check_options(opts));
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Error::sys("pipe");
  UniqueFd r(p[0]), w(p[1]);
  if (w.get() == kReadyFd) {  // dup2 onto itself would keep FD_CLOEXEC
    w.reset(::fcntl(p[1], F_DUPFD_CLOEXEC, kReadyFd + 1));
    if (!w) return Error::sys("dup");
  }
  pid_t first = BERTH_TRY(spawn_shim(opts, w.get()));
  w.reset();
  // The first shim process exits as soon as it has forked the detached one. A caller that
  // ignores SIGCHLD has it reaped by the kernel (ECHILD): that is fine too.
  int status = 0;
  while (::waitpid(first, &status, 0) < 0 && errno == EINTR) {
  }
  auto report = read_report(r.get());
  if (!report) return std::move(report).error().wrap("start berth-shim");
  return parse_report(*report, status);
}

Result<std::optional<ExitInfo>> read_exit(const std::string& state_dir) {
  auto text = read_file(state_dir + "/" + kExitName, 1 << 16);
  if (!text) {
    if (text.error().errno_value() == ENOENT) return std::optional<ExitInfo>{};
    return std::move(text).error();
  }
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    return Error::invalid("read " + state_dir + "/" + kExitName + ": not a JSON object");
  return std::optional<ExitInfo>(exit_from_json(j));
}

// ---- Client --------------------------------------------------------------------------------

namespace {

Result<json> round_trip(int fd, const json& request, int pass_fd = -1) {
  std::string text = request.dump(-1, ' ', false, json::error_handler_t::replace);
  auto sent = send_message(fd, text, pass_fd);
  if (!sent)
    return Error(ErrorKind::Io, sent.error().errno_value(), "shim: " + sent.error().what());
  auto reply = recv_message(fd);
  if (!reply) return Error(ErrorKind::Io, 0, "shim: " + reply.error().what());
  if (reply->eof) return Error(ErrorKind::Io, 0, "shim closed the connection");
  json j = json::parse(reply->data, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error(ErrorKind::Io, 0, "shim: bad reply");
  if (auto it = j.find("ok"); it == j.end() || *it != true) return error_from_reply(j);
  return j;
}

json attach_fields(const AttachOptions& o) {
  json j = {{"exec_id", o.exec_id},
            {"stdin", o.stdin},
            {"stdout", o.stdout},
            {"stderr", o.stderr},
            {"stdin_once", o.stdin_once}};
  if (!o.detach_keys.empty()) j["detach_keys"] = o.detach_keys;
  return j;
}

}  // namespace

Result<Client> Client::connect(const std::string& state_dir) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return Error::sys("socket");
  sockaddr_un addr;
  UniqueFd dir;
  socklen_t len = BERTH_TRY(socket_address(state_dir + "/" + kSockName, addr, dir));
  while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) < 0) {
    if (errno == EINTR) continue;
    int e = errno;
    return Error(ErrorKind::NotFound, e, "connect to shim " + state_dir + "/" + kSockName);
  }
  return Client(std::move(fd));
}

Result<State> Client::state() {
  json j = BERTH_TRY(round_trip(fd_.get(), {{"op", "state"}}));
  State s;
  if (auto it = j.find("pid"); it != j.end() && it->is_number_integer()) s.pid = *it;
  if (auto it = j.find("status"); it != j.end() && it->is_string()) s.status = *it;
  if (auto it = j.find("exit"); it != j.end() && it->is_object()) s.exit = exit_from_json(*it);
  return s;
}

Result<void> Client::start() {
  BERTH_TRY(round_trip(fd_.get(), {{"op", "start"}}));
  return ok();
}

Result<void> Client::kill(int signal, bool all) {
  BERTH_TRY(round_trip(fd_.get(), {{"op", "kill"}, {"signal", signal}, {"all", all}}));
  return ok();
}

Result<void> Client::attach(const AttachOptions& opts, int fd) {
  if (fd < 0) return Error::invalid("attach: no fd");
  json req = attach_fields(opts);
  req["op"] = "attach";
  BERTH_TRY(round_trip(fd_.get(), req, fd));
  return ok();
}

Result<pid_t> Client::exec(const std::string& exec_id, const std::string& process_json,
                           const AttachOptions& opts, int fd) {
  json process = json::parse(process_json, nullptr, false);
  if (process.is_discarded() || !process.is_object())
    return Error::invalid("exec: the process is not a JSON object");
  json req = attach_fields(opts);
  req["op"] = "exec";
  req["exec_id"] = exec_id;
  req["process"] = std::move(process);
  json j = BERTH_TRY(round_trip(fd_.get(), req, fd));
  auto it = j.find("pid");
  return it != j.end() && it->is_number_integer() ? it->get<pid_t>() : 0;
}

Result<void> Client::resize(const std::string& exec_id, unsigned height, unsigned width) {
  BERTH_TRY(round_trip(
      fd_.get(), {{"op", "resize"}, {"exec_id", exec_id}, {"height", height}, {"width", width}}));
  return ok();
}

Result<void> Client::close_stdin(const std::string& exec_id) {
  BERTH_TRY(round_trip(fd_.get(), {{"op", "close_stdin"}, {"exec_id", exec_id}}));
  return ok();
}

Result<ExitInfo> Client::wait(const std::string& exec_id) {
  json j = BERTH_TRY(round_trip(fd_.get(), {{"op", "wait"}, {"exec_id", exec_id}}));
  auto it = j.find("exit");
  return it != j.end() ? exit_from_json(*it) : ExitInfo{};
}

Result<void> Client::shutdown() {
  BERTH_TRY(round_trip(fd_.get(), {{"op", "shutdown"}}));
  return ok();
}

}  // namespace berth::shim
