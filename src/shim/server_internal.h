// The shim's server, inside: one thread, one epoll loop. Every fd the loop watches belongs to a
// Watch; epoll_wait returns one event at a time, so a handler may free any other Watch without
// leaving a stale pointer behind in a batch.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "shim/client.h"
#include "shim/console.h"
#include "shim/logfile.h"
#include "shim/runtime.h"
#include "shim/server.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::shim {

using json = nlohmann::json;

inline std::string path_in(const std::string& dir, std::string_view name) {
  return dir + "/" + std::string(name);
}

class Server;
struct Proc;

struct Watch {
  virtual ~Watch() = default;
  virtual void on_event(uint32_t events) = 0;
};

class Loop {
 public:
  Result<void> init();
  void add(int fd, uint32_t events, Watch* w);
  void mod(int fd, uint32_t events, Watch* w);
  void del(int fd);
  // Waits for one event and runs its handler; timeout_ms -1 = forever.
  Result<void> run_once(int timeout_ms);

 private:
  UniqueFd ep_;
};

// An attach stream: a client's socket that gets a process's output and feeds its stdin.
struct Attach : Watch {
  Server* srv = nullptr;
  Proc* proc = nullptr;
  UniqueFd fd;
  bool in = false, out = true, err = true, once = false;
  bool is_socket = true;       // sockets get MSG_DONTWAIT; other fds are made non-blocking
  bool input_done = false;     // EOF (or the peer's shutdown) seen on its input
  bool closing = false;        // the process has ended: close once `pending` is written
  std::string pending;         // output not yet written (see kMaxPending in io.cc)
  std::string detach_keys;     // a sequence that ends the stream when read from it
  size_t matched = 0;          // how much of detach_keys the input has matched so far
  int64_t stuck_since_ms = 0;  // when a write last made no progress (0: it did)
  uint32_t mask = 0;
  ~Attach() override;  // leaves the loop
  void on_event(uint32_t events) override;
};

// One output fd of a process (stdout or stderr pipe, or the pty master).
struct OutStream : Watch {
  Server* srv = nullptr;
  Proc* proc = nullptr;
  UniqueFd fd;
  bool err = false;
  bool paused = false;  // out of the loop: every client of this stream is behind (io.cc)
  ~OutStream() override;
  void on_event(uint32_t events) override;
};

// The process's stdin while writes to it are pending.
struct InStream : Watch {
  Server* srv = nullptr;
  Proc* proc = nullptr;
  UniqueFd fd;
  std::string pending;
  bool close_when_done = false;  // close_stdin / stdin_once came while bytes were pending
  bool watching = false;
  ~InStream() override;
  void on_event(uint32_t events) override;
};

// The container's init ("" exec_id) or an exec'd process.
struct Proc {
  std::string exec_id;
  pid_t pid = 0;
  bool tty = false;
  bool logged = false;  // the init's output goes to the json-file log
  OutStream out, err;
  InStream in;
  std::list<std::unique_ptr<Attach>> attaches;
  std::optional<int> wait_status;  // reaped, not yet handled
  std::optional<ExitInfo> exit;    // handled
};

// A control connection from berthd.
struct Conn : Watch {
  Server* srv = nullptr;
  UniqueFd fd;
  std::optional<std::string> waiting;  // exec_id of a pending `wait`
  void on_event(uint32_t events) override;
};

struct Signals : Watch {
  Server* srv = nullptr;
  UniqueFd fd;
  void on_event(uint32_t events) override;
};

struct Listener : Watch {
  Server* srv = nullptr;
  UniqueFd fd;
  void on_event(uint32_t events) override;
};

bool cgroup_frozen(pid_t pid);  // process.cc
int64_t monotonic_ms();         // io.cc

class Server {
 public:
  explicit Server(const ServerOptions& o);
  // In the detached shim: everything up to "ready"; on error, cleans up what it made.
  Result<pid_t> start_up();
  // Serves until `shutdown`.
  int serve();
  void clean_up_after_failure();

  // ---- io.cc: output, attach streams, stdin --------------------------------------------------
  void read_output(OutStream& s);
  void attach_event(Attach& a, uint32_t events);
  void stdin_writable(InStream& in);
  Result<void> add_attach(Proc& p, const json& req, UniqueFd fd);
  void close_stdin(Proc& p);
  void drain(Proc& p);
  void end_attaches(Proc& p);
  // Drops clients of ended processes that took nothing for 5 s; returns the next timeout (ms
  // or -1).
  int check_stuck_attaches();
  bool attaches_flushed() const;  // no attach stream is left (shutdown's linger is over)

  // ---- server.cc ------------------------------------------------------------------------------
  void conn_event(Conn& c, uint32_t events);
  void accept_conn();
  void signal_event();

  Loop loop;

 private:
  // io.cc
  void dispatch_output(Proc& p, bool err, std::string_view data);
  bool flush_attach(Attach& a);  // false: `a` was dropped (freed)
  void read_attach_input(Attach& a);
  void write_stdin(Proc& p, std::string_view data);
  bool filter_detach_keys(Attach& a, std::string_view in, std::string& out);
  bool update_attach_mask(Attach& a);  // false: `a` was dropped (freed)
  void drop_attach(Attach& a, const std::string& why);
  void pause_stdin_readers(Proc& p, bool paused);
  // Stops reading a process's output while every client of it is behind, resumes once one is
  // not (backpressure: the pipe fills and the process blocks, as under docker).
  void update_output_flow(Proc& p);

  // server.cc: start-up
  Result<void> make_state_dir();
  Result<void> write_pid_file();
  Result<void> bind_socket();
  Result<void> set_up_signals();
  Result<void> create_container();

  // process.cc: a process's stdio around `runtime create`/`runtime exec`
  struct StdioPlan {
    UniqueFd out_w, err_w, in_r;  // the runtime's (and so the process's) ends
    std::optional<ConsoleSocket> console;
    RuntimeStdio stdio;
  };
  Result<StdioPlan> prepare_stdio(Proc& p, bool want_stdin, const std::string& console_path);
  // After the runtime succeeded: takes the pty master, watches the output.
  Result<void> finish_stdio(Proc& p, StdioPlan& plan, bool want_stdin);
  Result<void> open_container_log();

  // server.cc: the ops
  json handle(Conn& c, const json& req, UniqueFd fd);  // null: a wait, answered later
  Result<json> op_state();
  Result<json> op_start();
  Result<json> op_kill(const json& req);
  Result<json> op_exec(const json& req, UniqueFd fd);
  Result<json> op_resize(const json& req);
  Result<json> op_attach(const json& req, UniqueFd fd);
  Result<json> op_close_stdin(const json& req);
  Result<json> op_wait(Conn& c, const json& req);
  Result<json> op_shutdown();
  Result<Proc*> find_proc(const json& req);

  // server.cc: processes
  void record_exit(pid_t pid, int status);
  void reap_children();
  void handle_exits();
  void finish_process(Proc& p);
  void answer_waiters(Proc& p);
  Result<RuntimeRun> run_runtime(const std::vector<std::string>& args, RuntimeStdio stdio = {});
  void remove_conn(Conn& c);

  ServerOptions o_;
  Runtime runtime_;
  JsonFileLog log_;
  Signals signals_;
  Listener listener_;
  std::string sock_path_;
  bool made_state_dir_ = false;
  bool made_log_ = false;  // the container log did not exist before this shim
  bool started_ = false;   // `runtime start` ran
  bool created_ = false;   // `runtime create` succeeded
  bool stopping_ = false;  // shutdown done: serve() exits once the attach streams are flushed
  int64_t stop_deadline_ms_ = 0;                        // ... or at this time (CLOCK_MONOTONIC ms)
  std::map<std::string, std::unique_ptr<Proc>> procs_;  // "" = the init
  std::list<std::unique_ptr<Conn>> conns_;
  std::map<pid_t, int> unclaimed_;  // exits of pids not (yet) known, kept during an op
  int exec_seq_ = 0;
  bool control_event_ = false;  // a request, connection or signal came (see memory.h)
};

}  // namespace berth::shim
