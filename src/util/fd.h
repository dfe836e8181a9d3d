// Owning handles for file descriptors and child processes: every fd and every child has
// exactly one owner, which closes / reaps it (ARCHITECTURE.md "Conventions").
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>
#include <utility>

#include "util/result.h"

namespace berth {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  explicit operator bool() const { return valid(); }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// A child this process forked. Unless released, the destructor kills (SIGKILL) and reaps it,
// so an error path can never leave a stray process behind.
class ChildProcess {
 public:
  ChildProcess() = default;
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(ChildProcess&& o) noexcept : pid_(o.release()) {}
  ChildProcess& operator=(ChildProcess&& o) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  ~ChildProcess() { kill_and_reap(); }

  pid_t pid() const { return pid_; }
  pid_t release() { return std::exchange(pid_, -1); }
  // Waits for the child and returns its raw wait status; the handle is then empty.
  Result<int> wait();
  void kill_and_reap();

 private:
  pid_t pid_ = -1;
};

// Converts a wait status to a shell-style exit code: the exit status, or 128+signal.
int exit_code_of(int wait_status);

// Small helpers over read/write that retry on EINTR and handle short transfers.
Result<void> write_all(int fd, std::string_view data);
Result<std::string> read_all(int fd, size_t limit = 64 << 20);
// Reads a whole file (at most `limit` bytes; bigger is an error naming the file).
Result<std::string> read_file(const std::string& path, size_t limit = 64 << 20);
// Writes a file atomically: temp file in the same directory, fsync (when `durable`), rename.
// Runtime state under /run needs no fsync: it does not outlive a reboot anyway.
Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode = 0644,
                               bool durable = true);

}  // namespace berth
