// berth's libcontainer: the OCI runtime operations, one function per runtime-spec verb.
// cmd/berth-runtime/<verb>.cc parses flags and calls these; nothing here prints to stdout
// except where the verb's contract is output (run/exec attach the caller's stdio).
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "oci/spec.h"
#include "util/result.h"

namespace berth::runtime {

struct Globals {
  std::string root = "/run/berth-runtime";  // state directory (runc's --root)
  bool systemd_cgroup = false;
  bool debug = false;
};

struct CreateOptions {
  std::string id;
  std::string bundle = ".";
  std::string pid_file;
  std::string console_socket;
  bool no_pivot = false;
  bool no_new_keyring = false;
  int preserve_fds = 0;
  // `run` only:
  bool detach = false;  // -d: return once started
  bool keep = false;    // --keep: do not delete after the container exits
};

// create: everything but the user process's exec; the init then waits for `start`.
Result<void> create(const Globals& g, const CreateOptions& o);
// run: create + start (+ wait, forwarding signals, unless detached). Returns the container's
// exit code (128+N for a signal).
Result<int> run(const Globals& g, const CreateOptions& o);
// start: releases a created container. Fails with the exec error if the process cannot start.
Result<void> start(const Globals& g, const std::string& id);
// state: the runtime-spec state JSON, pretty-printed like runc.
Result<std::string> state(const Globals& g, const std::string& id);
Result<void> kill(const Globals& g, const std::string& id, int signal, bool all);
Result<void> remove(const Globals& g, const std::string& id, bool force);  // `delete`
// pause / resume: freezes or thaws every process of the container through its cgroup.
Result<void> set_paused(const Globals& g, const std::string& id, bool paused);

struct ContainerSummary {
  std::string id;
  pid_t pid = 0;
  std::string status;
  std::string bundle;
  std::string created;  // RFC 3339
  std::string owner;
  std::map<std::string, std::string> annotations;
};
Result<std::vector<ContainerSummary>> list(const Globals& g);
// The pids of every process in the container, as seen from the host.
Result<std::vector<pid_t>> pids(const Globals& g, const std::string& id);

struct ExecOptions {
  std::string id;
  std::string process_json_path;  // --process
  std::vector<std::string> args;
  bool tty = false;
  bool detach = false;
  std::vector<std::string> env;
  std::optional<std::string> cwd;
  std::optional<std::string> user;  // uid[:gid]
  std::vector<std::string> caps;
  std::vector<uint32_t> additional_gids;
  bool no_new_privs = false;
  std::string console_socket;
  std::string pid_file;
  int preserve_fds = 0;
  bool ignore_paused = false;
};
Result<int> exec(const Globals& g, const ExecOptions& o);

// update: changes the resource limits of a created, running or paused container.
Result<void> update(const Globals& g, const std::string& id, const oci::Resources& r);
// events --stats: one runc-style {"type":"stats","id":...,"data":{...}} line.
Result<std::string> stats_event(const Globals& g, const std::string& id);
// events: a stats line every `interval_ms` and an {"type":"oom"} line per OOM kill, until the
// container stops.
Result<void> events(const Globals& g, const std::string& id, int interval_ms,
                    const std::function<void(const std::string&)>& emit);

// Re-executes this binary from a sealed memfd copy of itself, once (a marker in the
// environment stops the second time). `exec` does it first thing: the process it shows
// inside the container must not have the host's binary as its image (CVE-2019-5736).
// `argv` null: the command line from /proc/self/cmdline.
Result<void> reexec_sealed(char** argv);

// The runtime-spec "features" document describing what this runtime supports.
std::string features_json();

// Signal name ("KILL", "SIGKILL", "9", "SIGRTMIN+1") -> number.
Result<int> parse_signal(const std::string& s);

}  // namespace berth::runtime
