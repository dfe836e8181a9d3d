#include "runtime/state.h"

#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "oci/spec.h"
#include "sys/remove.h"

namespace berth::runtime {

using nlohmann::json;

const char* status_name(Status s) {
  switch (s) {
    case Status::Creating: return "creating";
    case Status::Created: return "created";
    case Status::Running: return "running";
    case Status::Paused: return "paused";
    case Status::Stopped: return "stopped";
  }
  return "unknown";
}

std::string state_dir(const std::string& root, const std::string& id) { return root + "/" + id; }

Result<void> validate_id(const std::string& id) {
  if (id.empty()) return Error::invalid("container id cannot be empty");
  if (id == "." || id == ".." || id.size() > 1024)
    return Error::invalid("invalid container id format: " + id);
  for (char c : id) {
    bool okc = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '_' || c == '+' || c == '-' || c == '.';
    if (!okc) return Error::invalid("invalid container id format: " + id);
  }
  return ok();
}

unsigned long long process_start_time(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return 0;
  char buf[1024];
  ssize_t n = ::read(fd.get(), buf, sizeof buf - 1);
  if (n <= 0) return 0;
  buf[n] = 0;
  // The command name may contain spaces and parentheses: parse after the last ')'.
  char* p = strrchr(buf, ')');
  if (!p || p[1] != ' ') return 0;
  char state = p[2];
  if (state == 'Z' || state == 'X') return 0;
  p += 2;
  // p is at field 3 (state); start time is field 22.
  for (int field = 3; field < 22; field++) {
    p = strchr(p, ' ');
    if (!p) return 0;
    p++;
  }
  return strtoull(p, nullptr, 10);
}

UniqueFd open_init_pidfd(const State& s) {
  if (s.pid <= 0) return {};
  UniqueFd fd(static_cast<int>(syscall(SYS_pidfd_open, s.pid, 0)));
  if (!fd) return {};
  // The pidfd pins the pid: if the start time still matches now, it is our process.
  if (process_start_time(s.pid) != s.pid_start_time) return {};
  return fd;
}

Status current_status(const std::string& root, const State& s) {
  if (s.pid <= 0) return Status::Creating;
  if (process_start_time(s.pid) != s.pid_start_time || s.pid_start_time == 0)
    return Status::Stopped;
  std::string sock = state_dir(root, s.id) + "/" + kStartSocket;
  if (::access(sock.c_str(), F_OK) == 0) return Status::Created;
  return Status::Running;
}

std::string state_json(const State& s, Status status, int indent) {
  json j;
  j["ociVersion"] = oci::kSpecVersion;
  j["id"] = s.id;
  j["pid"] = status == Status::Stopped ? 0 : s.pid;
  j["status"] = status_name(status);
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  j["owner"] = s.owner;
  if (!s.annotations.empty()) j["annotations"] = s.annotations;
  return j.dump(indent);
}

Result<void> save_state(const std::string& dir, const State& s) {
  json j;
  j["id"] = s.id;
  j["pid"] = s.pid;
  j["pid_start_time"] = s.pid_start_time;
  j["bundle"] = s.bundle;
  j["rootfs"] = s.rootfs;
  j["created"] = s.created;
  j["owner"] = s.owner;
  j["annotations"] = s.annotations;
  j["own_pid_ns"] = s.own_pid_ns;
  j["cgroups_path"] = s.cgroups_path;
  return write_file_atomic(dir + "/" + kStateFile, j.dump(), 0600, false);
}

Result<State> load_state(const std::string& root, const std::string& id) {
  BERTH_TRY(validate_id(id));
  std::string dir = state_dir(root, id);
  struct stat st;
  if (::stat(dir.c_str(), &st) < 0)
    return Error::not_found("container \"" + id + "\" does not exist");
  auto text = read_file(dir + "/" + kStateFile, 1 << 20);
  State s;
  s.id = id;
  if (!text) {
    if (text.error().errno_value() == ENOENT) return s;  // still being created
    return std::move(text).error();
  }
  try {
    json j = json::parse(*text);
    s.pid = j.value("pid", 0);
    s.pid_start_time = j.value("pid_start_time", 0ULL);
    s.bundle = j.value("bundle", "");
    s.rootfs = j.value("rootfs", "");
    s.created = j.value("created", "");
    s.owner = j.value("owner", "");
    s.annotations = j.value("annotations", std::map<std::string, std::string>{});
    s.own_pid_ns = j.value("own_pid_ns", false);
    s.cgroups_path = j.value("cgroups_path", "");
  } catch (const std::exception& e) {
    return Error::internal(dir + "/" + kStateFile + ": corrupt state: " + e.what());
  }
  return s;
}

Result<void> remove_state_dir(const std::string& root, const std::string& id) {
  UniqueFd rootfd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!rootfd) return errno == ENOENT ? ok() : Error::sys("open " + root);
  // What a container's dir usually holds, removed by name; anything else (a start socket,
  // a seccomp listener's leftovers) by the general walk below.
  {
    UniqueFd dir(::openat(rootfd.get(), id.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!dir && errno == ENOENT) return ok();
    if (dir) {
      for (const char* f : {kStateFile, kConfigFile}) (void)::unlinkat(dir.get(), f, 0);
      dir.reset();
      if (::unlinkat(rootfd.get(), id.c_str(), AT_REMOVEDIR) == 0) return ok();
    }
  }
  auto r = sys::remove_tree_at(rootfd.get(), id.c_str());
  if (!r) return std::move(r).error().wrap("remove state of \"" + id + "\"");
  return ok();
}

}  // namespace berth::runtime
