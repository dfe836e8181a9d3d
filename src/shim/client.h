// berth-shim's control protocol, client side: what berthd (src/engine) calls. The server side
// is in src/shim/server.{h,cc}, run by cmd/berth-shim.
//
// One berth-shim per container (ARCHITECTURE.md). It outlives berthd: berthd may be killed
// and restarted at any time and reconnects to every live shim through its socket.
//
// Layout of a shim's state dir (given by berthd, usually <exec-root>/shims/<id>/):
//   sock       the control socket (SOCK_SEQPACKET, mode 0600)
//   pid        the shim's pid (written before `sock` is bound)
//   exit       the container's exit, written atomically (temp, fsync, rename) when the init has
//              been reaped, before any waiter is answered:
//                {"status":N,"signal":S,"exited_at":"<RFC 3339 nano>","reason":"..."}
//              status is the shell-style code (128+signal when killed); reason is empty for a
//              normal exit, a sentence otherwise ("runtime create failed: ...").
//   shim.log   the shim's own diagnostics (it has no stderr once detached)
//
// Wire format on `sock`: one request per SEQPACKET message, a JSON object {"op": "...", ...};
// one reply per request, {"ok": true, ...} or {"ok": false, "error": "...", "kind": "..."} where
// kind is an ErrorKind name. File descriptors ride along as SCM_RIGHTS on the request message.
// Requests on one connection are answered in order; `wait` is answered only when the process
// has exited, so berthd keeps one connection per waiter.
//
// Ops:
//   state                         -> {"pid":N,"status":"created|running|paused|stopped",
//                                     "exit":{...as the exit file...}}   (exit once stopped)
//   start                         runs `runtime start`; output that the container writes
//                                  after this goes to every stream attached before it
//   kill {"signal":N,"all":bool}  `runtime kill [--all] id N`; once the init has exited:
//                                  Conflict "container <id> is not running"
//   attach {"exec_id":"", "stdin":b,"stdout":b,"stderr":b,"stdin_once":b} + 1 fd
//                                  the fd (a connected stream socket, usually the client's
//                                  hijacked HTTP connection itself) receives the output:
//                                  raw bytes with a tty, else docker's multiplexed frames
//                                  ([stream,0,0,0,len32be] + payload; 1 stdout, 2 stderr);
//                                  bytes read from it go to the process's stdin when "stdin".
//                                  The shim closes it when the process has exited and its
//                                  output is drained. EOF on it closes the process's stdin
//                                  if stdin_once. "detach_keys" (optional): when read from it,
//                                  the shim closes the stream and leaves stdin open.
//   exec {"exec_id":"x","process":{OCI process JSON},"stdin":b} + 0..1 fds (as attach)
//                                  `runtime exec --process … [--console-socket]`; the shim
//                                  owns its stdio, reaps it and keeps its exit code until
//                                  the container is deleted. -> {"pid":N}
//   resize {"exec_id":"", "height":H, "width":W}   TIOCSWINSZ on the pty master (no-op
//                                  without a tty)
//   close_stdin {"exec_id":""}
//   wait {"exec_id":""}            -> {"exit":{...}} once the process has exited
//   shutdown                       the container must be stopped: `runtime delete`, remove
//                                  the socket, reply, exit once the attach streams have
//                                  taken their output (5 s at most; the state dir stays for
//                                  berthd)
//
// The container's stdout/stderr also go to its log (docker's json-file format, one JSON
// object per line {"log":"...","stream":"stdout","time":"..."} with rotation), written by the
// shim so logs keep flowing while berthd is down. exec processes are not logged (as docker).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace berth::shim {

// How berthd starts a shim (the berth-shim command line is built from this).
struct LaunchOptions {
  std::string shim_binary;                // path of berth-shim
  std::string id;                         // container ID (64 hex)
  std::string bundle;                     // OCI bundle dir (config.json, rootfs)
  std::string state_dir;                  // see above; created by the shim if missing
  std::string runtime;                    // OCI runtime binary (berth-runtime, runc, crun)
  std::string runtime_root;               // the runtime's --root
  std::vector<std::string> runtime_args;  // extra global runtime args
  bool tty = false;                       // process.terminal: the shim gets the pty master through
                                          // --console-socket
  bool stdin = false;                     // keep a stdin pipe/pty input open (docker's OpenStdin)
  std::string log_path;                   // json-file log; empty = no log
  uint64_t log_max_size = 0;              // bytes; 0 = unlimited
  int log_max_files = 1;                  // rotated files kept, including the current one
};

struct ExitInfo {
  int status = 0;         // shell-style: exit code, or 128+signal
  int signal = 0;         // the killing signal, 0 for a normal exit
  std::string exited_at;  // RFC 3339 nano
  std::string reason;     // empty for a normal exit
};

struct State {
  pid_t pid = 0;
  std::string status;  // created, running, paused, stopped
  std::optional<ExitInfo> exit;
};

struct AttachOptions {
  std::string exec_id;  // "" = the container's init
  bool stdin = false, stdout = true, stderr = true, stdin_once = false;
  // Bytes that detach this stream when read from it (docker's --detach-keys, already parsed:
  // "ctrl-p,ctrl-q" is "\x10\x11"); they are not passed to the process. Empty: none.
  std::string detach_keys;
};

// Starts berth-shim for a container and returns once the shim has run `runtime create`
// (the container exists, its init blocked before start) and listens on its socket, or with
// the runtime's own error message if create failed (the shim then exits, leaving nothing).
// The shim is fully detached (own session, reparented to init); berthd never reaps it.
// Returns the shim's pid (the container's init pid is State::pid). A failed create reads like
// docker's: "OCI runtime create failed: <the runtime's last error line>".
Result<pid_t> launch(const LaunchOptions& opts);

// Reads <state_dir>/exit, if the shim wrote it.
Result<std::optional<ExitInfo>> read_exit(const std::string& state_dir);

// One connection to a shim's control socket. Not thread-safe: one request at a time.
class Client {
 public:
  // Fails with NotFound if the socket is gone or refuses (the shim is dead).
  static Result<Client> connect(const std::string& state_dir);

  Result<State> state();
  Result<void> start();
  Result<void> kill(int signal, bool all = false);
  // Passes `fd` (duplicated; the caller keeps its own) to the shim as an attach stream.
  Result<void> attach(const AttachOptions& opts, int fd);
  // process_json: an OCI runtime-spec "process" object. fd: as attach, or -1 (detached exec).
  Result<pid_t> exec(const std::string& exec_id, const std::string& process_json,
                     const AttachOptions& opts, int fd);
  Result<void> resize(const std::string& exec_id, unsigned height, unsigned width);
  Result<void> close_stdin(const std::string& exec_id);
  // Blocks until the process has exited (or the shim died: an error of kind Io).
  Result<ExitInfo> wait(const std::string& exec_id = "");
  Result<void> shutdown();

  int fd() const { return fd_.get(); }

 private:
  explicit Client(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace berth::shim
