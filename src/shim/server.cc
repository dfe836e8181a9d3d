// berth-shim's server: start-up (detach, state dir, socket, `runtime create`), the control ops,
// and reaping. The stdio plumbing is in io.cc.
#include "shim/server.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstring>

#include "shim/console.h"
#include "shim/encode.h"
#include "shim/memory.h"
#include "shim/protocol.h"
#include "shim/server_internal.h"
#include "util/json_escape.h"
#include "util/log.h"
#include "util/strings.h"

namespace berth::shim {

namespace {

constexpr int kMaxDepth = 64;  // of a request's JSON (an OCI process object needs 4)
// After `shutdown`, attach streams get at most this long to take what is buffered for them.
constexpr int64_t kShutdownFlushMs = 5'000;

std::string reply_text(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

Server::Server(const ServerOptions& o)
    : o_(o), runtime_(o.runtime, o.runtime_root, o.runtime_args) {
  signals_.srv = this;
  listener_.srv = this;
  sock_path_ = path_in(o_.state_dir, kSockName);
}

void Signals::on_event(uint32_t) { srv->signal_event(); }
void Listener::on_event(uint32_t) { srv->accept_conn(); }
void Conn::on_event(uint32_t events) { srv->conn_event(*this, events); }

// ---- start-up
// ------------------------------------------------------------------------------------

Result<void> Server::make_state_dir() {
  if (::mkdir(o_.state_dir.c_str(), 0711) == 0) {
    made_state_dir_ = true;
    return ok();
  }
  if (errno != EEXIST) return Error::sys("create state dir " + o_.state_dir);
  struct stat st;
  if (::stat(o_.state_dir.c_str(), &st) < 0 || !S_ISDIR(st.st_mode))
    return Error::invalid("state dir " + o_.state_dir + " is not a directory");
  return ok();
}

Result<void> Server::write_pid_file() {
  return write_file_atomic(path_in(o_.state_dir, kPidName), std::to_string(::getpid()), 0644,
                           false);
}

// Binds `sock` (0600). A socket left by a dead shim is replaced; a live one is a conflict.
Result<void> Server::bind_socket() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::sys("socket");
  sockaddr_un addr;
  UniqueFd dir;
  socklen_t len = BERTH_TRY(socket_address(sock_path_, addr, dir));
  {
    UniqueFd probe(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    if (::connect(probe.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0)
      return Error::conflict("a shim is already serving " + sock_path_);
  }
  ::unlink(sock_path_.c_str());
  mode_t old = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
  ::umask(old);
  if (rc < 0) return Error::sys("bind " + sock_path_);
  if (::listen(fd.get(), 64) < 0) return Error::sys("listen " + sock_path_);
  listener_.fd = std::move(fd);
  return ok();
}

// SIGCHLD, SIGTERM, SIGINT and SIGHUP arrive on a signalfd; SIGPIPE is ignored.
Result<void> Server::set_up_signals() {
  ::signal(SIGPIPE, SIG_IGN);
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
  if (::sigprocmask(SIG_BLOCK, &set, nullptr) < 0) return Error::sys("sigprocmask");
  signals_.fd.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signals_.fd) return Error::sys("signalfd");
  return ok();
}

Result<void> Server::open_container_log() {
  if (o_.log_path.empty()) return ok();
  made_log_ = ::access(o_.log_path.c_str(), F_OK) != 0;
  log_ = BERTH_TRY(JsonFileLog::open(o_.log_path, o_.log_max_size, o_.log_max_files));
  return ok();
}

Result<pid_t> Server::start_up() {
  BERTH_TRY(make_state_dir());
  log::configure(path_in(o_.state_dir, kShimLogName), log::Format::Text, log::Level::Info);
  log::set_program("berth-shim");
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) return Error::sys("PR_SET_CHILD_SUBREAPER");
  BERTH_TRY(loop.init());
  BERTH_TRY(set_up_signals());
  BERTH_TRY(write_pid_file());
  BERTH_TRY(bind_socket());
  BERTH_TRY(open_container_log());
  BERTH_TRY(create_container());
  loop.add(signals_.fd.get(), EPOLLIN, &signals_);
  loop.add(listener_.fd.get(), EPOLLIN, &listener_);
  log::info("container " + o_.id + " created, init pid " + std::to_string(procs_[""]->pid));
  return procs_[""]->pid;
}

// What a failed start-up made goes; the runtime already removed its own state.
void Server::clean_up_after_failure() {
  if (created_) {
    auto r = run_runtime({"delete", "--force", o_.id});
    if (!r || !r->ok()) log::error("delete after a failed start-up failed");
  }
  procs_.clear();
  listener_.fd.reset();
  ::unlink(sock_path_.c_str());
  ::unlink(path_in(o_.state_dir, kPidName).c_str());
  ::unlink(path_in(o_.state_dir, "init.pid").c_str());
  ::unlink(path_in(o_.state_dir, "console.sock").c_str());
  if (made_log_) ::unlink(o_.log_path.c_str());
  if (made_state_dir_) {
    ::unlink(path_in(o_.state_dir, kShimLogName).c_str());
    ::rmdir(o_.state_dir.c_str());
  }
}

// ---- processes
// -----------------------------------------------------------------------------------

Result<RuntimeRun> Server::run_runtime(const std::vector<std::string>& args, RuntimeStdio stdio) {
  return runtime_.run(args, stdio, [this](pid_t pid, int status) { record_exit(pid, status); });
}

void Server::record_exit(pid_t pid, int status) {
  for (auto& [id, p] : procs_) {
    if (p->pid == pid && !p->wait_status && !p->exit) {
      p->wait_status = status;
      return;
    }
  }
  // Not known (yet): an exec whose pid file is still unread, or an orphan (then it is ignored).
  if (unclaimed_.size() < 1024) unclaimed_[pid] = status;
}

void Server::reap_children() {
  for (;;) {
    int status;
    pid_t pid = ::waitpid(-1, &status, WNOHANG | __WALL);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) break;
    record_exit(pid, status);
  }
  unclaimed_.clear();  // outside an op, an unknown pid is an orphan
}

void Server::handle_exits() {
  for (auto& [id, p] : procs_) {
    if (p->wait_status && !p->exit) finish_process(*p);
  }
}

// The process has been reaped: its output is drained and logged, the exit recorded (the init's
// durably, in the exit file) before any waiter hears of it; then its attach streams end.
void Server::finish_process(Proc& p) {
  drain(p);
  int ws = *p.wait_status;
  ExitInfo e;
  e.status = exit_code_of(ws);
  e.signal = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
  e.exited_at = now_time();
  if (p.exec_id.empty()) {
    auto r = write_file_atomic(path_in(o_.state_dir, kExitName), reply_text(exit_to_json(e)));
    if (!r) log::error(r.error().what());
    log::info("container exited with status " + std::to_string(e.status));
  }
  p.exit = e;
  answer_waiters(p);
  end_attaches(p);
}

void Server::answer_waiters(Proc& p) {
  std::string text = reply_text({{"ok", true}, {"exit", exit_to_json(*p.exit)}});
  for (auto& c : conns_) {
    if (!c->waiting || *c->waiting != p.exec_id) continue;
    c->waiting.reset();
    if (!send_message(c->fd.get(), text)) log::warn("a waiter left before its answer");
    loop.mod(c->fd.get(), EPOLLIN, c.get());
  }
}

void Server::signal_event() {
  control_event_ = true;
  signalfd_siginfo si;
  bool child = false;
  while (::read(signals_.fd.get(), &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
    if (si.ssi_signo == SIGCHLD)
      child = true;
    else
      log::info(std::string("ignoring ") + strsignal(static_cast<int>(si.ssi_signo)) +
                ": the container is not the shim's to stop");
  }
  if (child) reap_children();
}

// ---- control connections
// -------------------------------------------------------------------------

void Server::accept_conn() {
  control_event_ = true;
  UniqueFd fd(::accept4(listener_.fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!fd) return;
  auto c = std::make_unique<Conn>();
  c->srv = this;
  c->fd = std::move(fd);
  loop.add(c->fd.get(), EPOLLIN, c.get());
  conns_.push_back(std::move(c));
}

void Server::remove_conn(Conn& c) {
  loop.del(c.fd.get());
  conns_.remove_if([&](const auto& p) { return p.get() == &c; });
}

void Server::conn_event(Conn& c, uint32_t events) {
  control_event_ = true;
  if (c.waiting) {  // only a hang-up can come while its wait is pending
    if (events & (EPOLLHUP | EPOLLERR | EPOLLRDHUP)) remove_conn(c);
    return;
  }
  auto msg = recv_message(c.fd.get());
  if (!msg && msg.error().errno_value() == EAGAIN) return;
  if (!msg) {
    if (msg.error().kind() == ErrorKind::InvalidArgument) {  // too big: answer and go on
      (void)send_message(c.fd.get(), reply_text(error_reply(msg.error())));
      return;
    }
    remove_conn(c);
    return;
  }
  if (msg->eof) {
    remove_conn(c);
    return;
  }
  json req = json_depth_ok(msg->data, kMaxDepth) ? json::parse(msg->data, nullptr, false)
                                                 : json(json::value_t::discarded);
  json reply =
      req.is_object()
          ? handle(c, req, std::move(msg->fd))
          : error_reply(Error::invalid("request is not a JSON object (of depth at most 64)"));
  if (reply.is_null()) {  // a wait: answered when the process exits (maybe already did)
    if (c.waiting) loop.mod(c.fd.get(), EPOLLRDHUP, &c);
    return;
  }
  if (!send_message(c.fd.get(), reply_text(reply))) remove_conn(c);  // it left mid-request
}

// ---- ops ----------------------------------------------------------------------------------------

Result<Proc*> Server::find_proc(const json& req) {
  std::string id = req.value("exec_id", "");
  auto it = procs_.find(id);
  if (it == procs_.end()) return Error::not_found("no such exec: " + id);
  return it->second.get();
}

json Server::handle(Conn& c, const json& req, UniqueFd fd) {
  Result<json> r = Error::internal("no reply");
  std::string op;
  try {
    op = req.value("op", "");
    if (op == "state") {
      r = op_state();
    } else if (op == "start") {
      r = op_start();
    } else if (op == "kill") {
      r = op_kill(req);
    } else if (op == "attach") {
      r = op_attach(req, std::move(fd));
    } else if (op == "exec") {
      r = op_exec(req, std::move(fd));
    } else if (op == "resize") {
      r = op_resize(req);
    } else if (op == "close_stdin") {
      r = op_close_stdin(req);
    } else if (op == "wait") {
      r = op_wait(c, req);
    } else if (op == "shutdown") {
      r = op_shutdown();
    } else {
      r = Error::invalid("unknown op " + berth::quoted(op));
    }
  } catch (const json::exception& e) {
    r = Error::invalid((op.empty() ? "request" : op) + ": " + json_error_text(e.what()));
  }
  handle_exits();
  if (!r) return error_reply(r.error());
  if (r->is_null()) return nullptr;  // a parked wait
  json out = std::move(*r);
  out["ok"] = true;
  return out;
}

Result<json> Server::op_attach(const json& req, UniqueFd fd) {
  Proc* p = BERTH_TRY_CTX(find_proc(req), "attach");
  if (p->exit || p->wait_status) return Error::conflict("container " + o_.id + " is not running");
  BERTH_TRY_CTX(add_attach(*p, req, std::move(fd)), "attach");
  return json::object();
}

Result<json> Server::op_close_stdin(const json& req) {
  Proc* p = BERTH_TRY_CTX(find_proc(req), "close_stdin");
  close_stdin(*p);
  return json::object();
}

// Answered now if the process has exited, else parked (null) until it does.
Result<json> Server::op_wait(Conn& c, const json& req) {
  Proc* p = BERTH_TRY_CTX(find_proc(req), "wait");
  if (p->exit) return json{{"exit", exit_to_json(*p->exit)}};
  c.waiting = p->exec_id;
  return json();
}

Result<json> Server::op_state() {
  Proc& init = *procs_[""];
  json j = {{"pid", init.pid}};
  if (init.exit) {
    j["status"] = "stopped";
    j["exit"] = exit_to_json(*init.exit);
  } else if (!started_) {
    j["status"] = "created";
  } else {
    j["status"] = cgroup_frozen(init.pid) ? "paused" : "running";
  }
  return j;
}

Result<json> Server::op_start() {
  Proc& init = *procs_[""];
  if (init.exit || init.wait_status)
    return Error::conflict("container " + o_.id + " is not running");
  if (started_) return Error::conflict("container " + o_.id + " is already running");
  RuntimeRun run = BERTH_TRY(run_runtime({"start", o_.id}));
  if (!run.ok())
    return Error::internal("OCI runtime start failed: " +
                           runtime_error_text(run.output, run.wait_status));
  started_ = true;
  return json::object();
}

Result<json> Server::op_kill(const json& req) {
  int sig = req.value("signal", SIGKILL);
  bool all = req.value("all", false);
  if (sig <= 0 || sig >= 65) return Error::invalid("invalid signal " + std::to_string(sig));
  Proc& init = *procs_[""];
  auto not_running = [&] { return Error::conflict("container " + o_.id + " is not running"); };
  if (init.exit || init.wait_status) return not_running();
  std::vector<std::string> args = {"kill"};
  if (all) args.push_back("--all");
  args.insert(args.end(), {o_.id, std::to_string(sig)});
  RuntimeRun run = BERTH_TRY(run_runtime(args));
  if (!run.ok()) {
    if (init.wait_status) return not_running();  // it exited meanwhile
    return Error::internal("OCI runtime kill failed: " +
                           runtime_error_text(run.output, run.wait_status));
  }
  return json::object();
}

Result<json> Server::op_resize(const json& req) {
  Proc* p = BERTH_TRY_CTX(find_proc(req), "resize");
  unsigned h = req.value("height", 0u), w = req.value("width", 0u);
  if (!p->tty || !p->out.fd) return json::object();  // no terminal: nothing to size (as docker)
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(h);
  ws.ws_col = static_cast<unsigned short>(w);
  if (::ioctl(p->out.fd.get(), TIOCSWINSZ, &ws) < 0) return Error::sys("resize");
  return json::object();
}

Result<json> Server::op_shutdown() {
  auto run = run_runtime({"delete", "--force", o_.id});
  if (!run) return std::move(run).error();
  if (!run->ok()) {
    return Error::internal("OCI runtime delete failed: " +
                           runtime_error_text(run->output, run->wait_status));
  }
  handle_exits();
  listener_.fd.reset();  // no new connections; the open ones are still answered
  ::unlink(sock_path_.c_str());
  // serve() exits once the attach streams have taken the output still buffered for them.
  stopping_ = true;
  stop_deadline_ms_ = monotonic_ms() + kShutdownFlushMs;
  return json::object();
}

// ---- serving ------------------------------------------------------------------------------------

int Server::serve() {
  drop_clean_code_pages();  // the start-up code is done with
  for (;;) {
    int timeout = check_stuck_attaches();
    if (stopping_) {
      int64_t left = stop_deadline_ms_ - monotonic_ms();
      if (attaches_flushed() || left <= 0) {
        if (!attaches_flushed()) log::warn("shut down with attach output still unsent");
        log::info("shut down");
        ::_exit(0);
      }
      if (timeout < 0 || timeout > left) timeout = static_cast<int>(left);
    }
    auto r = loop.run_once(timeout);
    if (!r) {
      log::error(r.error().what());
      return 1;
    }
    handle_exits();
    if (control_event_) {  // not on the output path: the shim is about to idle again
      drop_clean_code_pages();
      control_event_ = false;
    }
  }
}

// ---- the process
// ----------------------------------------------------------------------------------

namespace {

std::string absolute(const std::string& path, const std::string& cwd) {
  if (path.empty() || path[0] == '/') return path;
  return cwd + "/" + path;
}

void report(int fd, const std::string& text) {
  if (fd < 0) return;
  (void)write_all(fd, text);
  ::close(fd);
}

// The detached shim's stdio: /dev/null (its own words go to shim.log).
void detach_stdio() {
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return;
  for (int i = 0; i < 3; i++) ::dup2(null, i);
  if (null > 2) ::close(null);
}

}  // namespace

int run_server(const ServerOptions& in) {
  ServerOptions o = in;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) != nullptr) {
    for (std::string* p : {&o.bundle, &o.state_dir, &o.runtime_root, &o.log_path}) {
      *p = absolute(*p, cwd);
    }
    if (o.runtime.find('/') != std::string::npos) o.runtime = absolute(o.runtime, cwd);
  }
  ::signal(SIGPIPE, SIG_IGN);
  // Nothing berthd leaked may reach the container; the report pipe is ours alone.
  if (o.ready_fd >= 0) ::fcntl(o.ready_fd, F_SETFD, FD_CLOEXEC);
  if (o.ready_fd > 3) ::close_range(3, static_cast<unsigned>(o.ready_fd) - 1, 0);
  ::close_range(static_cast<unsigned>(std::max(o.ready_fd, 2)) + 1, ~0U, 0);

  pid_t pid = ::fork();
  if (pid < 0) {
    report(o.ready_fd, "error internal\nfork: " + errno_text(errno));
    return 1;
  }
  if (pid > 0) return 0;  // the first process: berthd reaps it at once
  ::setsid();
  detach_stdio();
  if (::chdir("/") < 0) {
    // "/" is always there; nothing to do
  }
  Server server(o);
  auto r = server.start_up();
  if (!r) {
    log::error(r.error().what());
    server.clean_up_after_failure();
    report(o.ready_fd,
           std::string("error ") + error_kind_name(r.error().kind()) + "\n" + r.error().what());
    return 1;
  }
  report(o.ready_fd, "ready " + std::to_string(::getpid()) + " " + std::to_string(*r) + "\n");
  return server.serve();
}

}  // namespace berth::shim
