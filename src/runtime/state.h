// The runtime's record of a container: <root>/<id>/state.json plus a private copy of the
// config it was created from. Nothing is kept in memory between invocations; the status is
// computed each time from the recorded init pid (and its start time, so a recycled pid is
// never mistaken for the container).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>

#include "util/fd.h"
#include "util/result.h"

namespace berth::runtime {

enum class Status { Creating, Created, Running, Paused, Stopped };
const char* status_name(Status s);

struct State {
  std::string id;
  pid_t pid = 0;
  unsigned long long pid_start_time = 0;  // /proc/<pid>/stat field 22
  std::string bundle;
  std::string rootfs;
  std::string created;  // RFC 3339 UTC
  std::string owner;
  std::map<std::string, std::string> annotations;
  bool own_pid_ns = false;
  std::string cgroups_path;  // linux.cgroupsPath as configured (reopens the cgroup)
};

// Paths inside the state dir.
std::string state_dir(const std::string& root, const std::string& id);
inline constexpr const char* kStateFile = "state.json";
inline constexpr const char* kConfigFile = "config.json";
inline constexpr const char* kStartSocket = "start.sock";
// Compiled seccomp programs, under --root; not a valid container id, so never listed.
inline constexpr const char* kSeccompCacheDir = "cache:seccomp";

// Checks a container id like runc: letters, digits, and _ + - . ; not "." or "..".
Result<void> validate_id(const std::string& id);

Result<State> load_state(const std::string& root, const std::string& id);
Result<void> save_state(const std::string& dir, const State& s);
Status current_status(const std::string& root, const State& s);
// runtime-spec state JSON (plus runc's rootfs/created/owner), pretty-printed.
std::string state_json(const State& s, Status status, int indent = 2);

// Identity of a live process: its start time in clock ticks since boot; 0 if it is gone or a
// zombie.
unsigned long long process_start_time(pid_t pid);
// A pidfd for the container's init if it is still the recorded process; empty otherwise.
UniqueFd open_init_pidfd(const State& s);

Result<void> remove_state_dir(const std::string& root, const std::string& id);

}  // namespace berth::runtime
