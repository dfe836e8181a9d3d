#include "util/fd.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace berth {

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  if (this != &o) {
    kill_and_reap();
    pid_ = o.release();
  }
  return *this;
}

Result<int> ChildProcess::wait() {
  if (pid_ <= 0) return Error::internal("wait: no child");
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) return Error::sys("waitpid " + std::to_string(pid_));
  }
  pid_ = -1;
  return status;
}

void ChildProcess::kill_and_reap() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

int exit_code_of(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

Result<void> write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys("write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return ok();
}

Result<std::string> read_all(int fd, size_t limit) {
  std::string out;
  char buf[16384];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys("read");
    }
    if (n == 0) break;
    if (out.size() + static_cast<size_t>(n) > limit)
      return Error::invalid("input larger than " + std::to_string(limit) + " bytes");
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> read_file(const std::string& path, size_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) return Error::sys("open " + path);
  auto r = read_all(fd.get(), limit);
  if (!r) return std::move(r).error().wrap("read " + path);
  return r;
}

Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode,
                               bool durable) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return Error::sys("create " + tmp);
  auto r = write_all(fd.get(), data);
  if (r && durable && ::fsync(fd.get()) < 0) r = Error::sys("fsync");
  fd.reset();
  if (r && ::rename(tmp.c_str(), path.c_str()) < 0) r = Error::sys("rename to " + path);
  if (!r) {
    ::unlink(tmp.c_str());
    return std::move(r).error().wrap("write " + path);
  }
  return ok();
}

}  // namespace berth
