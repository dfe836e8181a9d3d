#include "shim/console.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim/protocol.h"

namespace berth::shim {

Result<ConsoleSocket> ConsoleSocket::listen(const std::string& path) {
  sockaddr_un addr;
  UniqueFd dir;
  socklen_t len = BERTH_TRY(socket_address(path, addr, dir));
  if (dir) return Error::invalid("console socket path too long: " + path);  // runtimes need it
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return Error::sys("socket");
  ::unlink(path.c_str());
  mode_t old = ::umask(0177);
  int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len);
  ::umask(old);
  if (rc < 0) return Error::sys("bind " + path);
  ConsoleSocket s(std::move(fd), path);
  if (::listen(s.fd_.get(), 4) < 0) return Error::sys("listen " + path);
  return s;
}

ConsoleSocket& ConsoleSocket::operator=(ConsoleSocket&& o) noexcept {
  if (this != &o) {
    if (!path_.empty()) ::unlink(path_.c_str());
    fd_ = std::move(o.fd_);
    path_ = std::move(o.path_);
    o.path_.clear();
  }
  return *this;
}

ConsoleSocket::~ConsoleSocket() {
  if (!path_.empty()) ::unlink(path_.c_str());
}

Result<UniqueFd> ConsoleSocket::receive() {
  UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!conn) return Error::sys("the runtime did not connect to the console socket");
  auto msg = recv_message(conn.get());
  if (!msg) return std::move(msg).error().wrap("console socket");
  if (!msg->fd) return Error::invalid("the runtime sent no terminal on the console socket");
  return std::move(msg->fd);
}

}  // namespace berth::shim
