// The processes the shim runs through the runtime: the container's init (`runtime create`) and
// exec'd ones (`runtime exec --detach`). Each gets pipes, or a pty whose master comes back over
// the console socket; the shim keeps the other ends and is their only reader and reaper.
#include <fcntl.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <climits>

#include "shim/protocol.h"
#include "shim/server_internal.h"
#include "util/log.h"
#include "util/strings.h"

namespace berth::shim {

namespace {

Result<std::pair<UniqueFd, UniqueFd>> make_pipe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) < 0) return Error::sys("pipe");
  return std::pair{UniqueFd(p[0]), UniqueFd(p[1])};
}

void set_nonblocking(int fd) {
  int fl = ::fcntl(fd, F_GETFL);
  if (fl >= 0) ::fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

Result<pid_t> read_pid_file(const std::string& path) {
  std::string text = BERTH_TRY(read_file(path, 64));
  long pid = std::strtol(text.c_str(), nullptr, 10);
  if (pid <= 0 || pid > INT_MAX) return Error::invalid("bad pid file " + path);
  return static_cast<pid_t>(pid);
}

// What is in a non-blocking pipe now: the runtime's own words, written before the process ran
// anything (create) or when it failed (exec).
std::string read_available(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || out.size() > (1 << 20)) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Removes a file when it goes out of scope.
struct TempFile {
  std::string path;
  ~TempFile() { ::unlink(path.c_str()); }
};

}  // namespace

// Whether the process's cgroup is frozen (paused), read from cgroupfs: v2's cgroup.events
// ("frozen 1"), v1's freezer.state (FROZEN). Cheaper than `runtime state` on every `state` op.
bool cgroup_frozen(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/cgroup", 1 << 16);
  if (!text) return false;
  for (std::string_view line : split(*text, '\n', true)) {
    auto fields = split(line, ':');
    if (fields.size() < 3) continue;
    std::string path(line.substr(fields[0].size() + fields[1].size() + 2));
    if (fields[0] == "0" && fields[1].empty()) {
      auto events = read_file("/sys/fs/cgroup" + path + "/cgroup.events", 4096);
      if (events && events->find("frozen 1") != std::string::npos) return true;
    }
    for (std::string_view c : split(fields[1], ',')) {
      if (c != "freezer") continue;
      auto state = read_file("/sys/fs/cgroup/freezer" + path + "/freezer.state", 64);
      if (state && state->rfind("FROZEN", 0) == 0) return true;
    }
  }
  return false;
}

Result<Server::StdioPlan> Server::prepare_stdio(Proc& p, bool want_stdin,
                                                const std::string& console_path) {
  StdioPlan plan;
  if (p.tty) {
    plan.console = BERTH_TRY(ConsoleSocket::listen(console_path));
    return plan;
  }
  auto [out_r, out_w] = BERTH_TRY(make_pipe());
  auto [err_r, err_w] = BERTH_TRY(make_pipe());
  p.out.fd = std::move(out_r);
  p.err.fd = std::move(err_r);
  set_nonblocking(p.err.fd.get());
  plan.out_w = std::move(out_w);
  plan.err_w = std::move(err_w);
  plan.stdio.out = plan.out_w.get();
  plan.stdio.err = plan.err_w.get();
  if (want_stdin) {
    auto [in_r, in_w] = BERTH_TRY(make_pipe());
    plan.in_r = std::move(in_r);
    p.in.fd = std::move(in_w);
    plan.stdio.in = plan.in_r.get();
  }
  return plan;
}

Result<void> Server::finish_stdio(Proc& p, StdioPlan& plan, bool want_stdin) {
  if (plan.console) {
    UniqueFd master = BERTH_TRY(plan.console->receive());
    if (want_stdin) {
      p.in.fd.reset(::fcntl(master.get(), F_DUPFD_CLOEXEC, 3));
      if (!p.in.fd) return Error::sys("dup");
    }
    p.out.fd = std::move(master);
  }
  for (OutStream* s : {&p.out, &p.err}) {
    s->srv = this;
    s->proc = &p;
    s->err = s == &p.err;
    if (!s->fd) continue;
    set_nonblocking(s->fd.get());
    loop.add(s->fd.get(), EPOLLIN, s);
  }
  p.in.srv = this;
  p.in.proc = &p;
  if (p.in.fd) set_nonblocking(p.in.fd.get());
  return ok();
}

Result<void> Server::create_container() {
  auto init = std::make_unique<Proc>();
  Proc& p = *init;
  p.tty = o_.tty;
  p.logged = true;
  TempFile pid_file{path_in(o_.state_dir, "init.pid")};
  StdioPlan plan = BERTH_TRY(prepare_stdio(p, o_.stdin, path_in(o_.state_dir, "console.sock")));
  std::vector<std::string> args = {"create", "--bundle", o_.bundle, "--pid-file", pid_file.path};
  if (plan.console) args.insert(args.end(), {"--console-socket", plan.console->path()});
  args.push_back(o_.id);
  RuntimeRun run = BERTH_TRY_CTX(run_runtime(args, plan.stdio), "OCI runtime create failed");
  plan.out_w.reset();
  plan.err_w.reset();
  plan.in_r.reset();
  std::string said = run.output;
  if (p.err.fd) said += read_available(p.err.fd.get());
  if (!run.ok()) {
    return Error::internal("OCI runtime create failed: " +
                           runtime_error_text(said, run.wait_status));
  }
  created_ = true;
  if (!said.empty()) log::info("runtime create said: " + said);
  p.pid = BERTH_TRY(read_pid_file(pid_file.path));
  BERTH_TRY(finish_stdio(p, plan, o_.stdin));
  if (auto it = unclaimed_.find(p.pid); it != unclaimed_.end()) p.wait_status = it->second;
  unclaimed_.clear();
  procs_[""] = std::move(init);
  return ok();
}

Result<json> Server::op_exec(const json& req, UniqueFd fd) {
  std::string exec_id = req.at("exec_id").get<std::string>();
  const json& process = req.at("process");
  if (exec_id.empty()) return Error::invalid("exec: no exec_id");
  if (!process.is_object()) return Error::invalid("exec: process is not a JSON object");
  if (procs_.count(exec_id)) return Error::conflict("exec " + exec_id + " already exists");
  Proc& init = *procs_[""];
  if (!started_ || init.exit || init.wait_status)
    return Error::conflict("container " + o_.id + " is not running");

  auto proc = std::make_unique<Proc>();
  Proc& p = *proc;
  p.exec_id = exec_id;
  p.tty = process.value("terminal", false);
  bool want_stdin = fd.valid() && req.value("stdin", false);
  std::string base = path_in(o_.state_dir, "exec-" + std::to_string(++exec_seq_));
  TempFile process_file{base + ".json"}, pid_file{base + ".pid"};
  BERTH_TRY(write_file_atomic(process_file.path,
                              process.dump(-1, ' ', false, json::error_handler_t::replace), 0600,
                              false));
  StdioPlan plan = BERTH_TRY(prepare_stdio(p, want_stdin, base + ".sock"));
  std::vector<std::string> args = {"exec",     "--process",  process_file.path,
                                   "--detach", "--pid-file", pid_file.path};
  if (plan.console) args.insert(args.end(), {"--console-socket", plan.console->path()});
  args.push_back(o_.id);
  RuntimeRun run = BERTH_TRY_CTX(run_runtime(args, plan.stdio), "OCI runtime exec failed");
  plan.out_w.reset();
  plan.err_w.reset();
  plan.in_r.reset();
  if (!run.ok()) {
    std::string said = run.output;
    if (p.err.fd) said += read_available(p.err.fd.get());
    unclaimed_.clear();
    return Error::internal("OCI runtime exec failed: " + runtime_error_text(said, run.wait_status));
  }
  p.pid = BERTH_TRY(read_pid_file(pid_file.path));
  BERTH_TRY(finish_stdio(p, plan, want_stdin));
  if (auto it = unclaimed_.find(p.pid); it != unclaimed_.end()) p.wait_status = it->second;
  unclaimed_.clear();
  if (fd) BERTH_TRY(add_attach(p, req, std::move(fd)));
  procs_[exec_id] = std::move(proc);
  return json{{"pid", p.pid}};
}

}  // namespace berth::shim
