// The --console-socket of runc's CLI: the runtime connects to it and sends the pty master it
// made for the container (SCM_RIGHTS). The shim listens before `create`/`exec` and takes the
// fd after the runtime has exited (the connection waits in the backlog until then).
#pragma once

#include <string>

#include "util/fd.h"
#include "util/result.h"

namespace berth::shim {

class ConsoleSocket {
 public:
  // At `path` when it fits in sockaddr_un (runtimes connect to the path they are given, so no
  // /proc/self/fd detour), else in a private directory made under $TMPDIR or /tmp (mode 0700,
  // removed with the socket), as containerd's shim does.
  static Result<ConsoleSocket> listen(const std::string& path);
  ConsoleSocket(ConsoleSocket&& o) noexcept
      : fd_(std::move(o.fd_)), path_(std::move(o.path_)), temp_dir_(std::move(o.temp_dir_)) {
    o.path_.clear();
    o.temp_dir_.clear();
  }
  ConsoleSocket& operator=(ConsoleSocket&& o) noexcept;
  ~ConsoleSocket();  // removes the socket file

  const std::string& path() const { return path_; }
  // The master the runtime sent; an error if it sent none.
  Result<UniqueFd> receive();

 private:
  ConsoleSocket(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  void remove_files();
  UniqueFd fd_;
  std::string path_;
  std::string temp_dir_;  // set when the socket lives in a private temp dir
};

}  // namespace berth::shim
