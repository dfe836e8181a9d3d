#include "shim/console.h"

#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "shim/protocol.h"

namespace berth::shim {

Result<ConsoleSocket> ConsoleSocket::listen(const std::string& wanted) {
  std::string path = wanted, temp_dir;
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    const char* tmp = ::getenv("TMPDIR");
    std::string tmpl = std::string(tmp && *tmp == '/' ? tmp : "/tmp") + "/berth-console-XXXXXX";
    if (!::mkdtemp(tmpl.data())) return Error::sys("make a directory for the console socket");
    temp_dir = tmpl;
    path = temp_dir + "/console.sock";
  }
  sockaddr_un addr;
  UniqueFd dir;
  auto len = socket_address(path, addr, dir);
  if (!len || dir) {
    if (!temp_dir.empty()) ::rmdir(temp_dir.c_str());
    if (!len) return std::move(len).error();
    return Error::invalid("console socket path too long: " + path);  // runtimes need it
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  ConsoleSocket s(std::move(fd), path);
  s.temp_dir_ = temp_dir;
  if (!s.fd_) return Error::sys("socket");
  ::unlink(path.c_str());
  mode_t old = ::umask(0177);
  int rc = ::bind(s.fd_.get(), reinterpret_cast<sockaddr*>(&addr), *len);
  ::umask(old);
  if (rc < 0) return Error::sys("bind " + path);
  if (::listen(s.fd_.get(), 4) < 0) return Error::sys("listen " + path);
  return s;
}

void ConsoleSocket::remove_files() {
  if (!path_.empty()) ::unlink(path_.c_str());
  if (!temp_dir_.empty()) ::rmdir(temp_dir_.c_str());
}

ConsoleSocket& ConsoleSocket::operator=(ConsoleSocket&& o) noexcept {
  if (this != &o) {
    remove_files();
    fd_ = std::move(o.fd_);
    path_ = std::move(o.path_);
    temp_dir_ = std::move(o.temp_dir_);
    o.path_.clear();
    o.temp_dir_.clear();
  }
  return *this;
}

ConsoleSocket::~ConsoleSocket() { remove_files(); }

Result<UniqueFd> ConsoleSocket::receive() {
  UniqueFd conn(::accept4(fd_.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!conn) return Error::sys("the runtime did not connect to the console socket");
  auto msg = recv_message(conn.get());
  if (!msg) return std::move(msg).error().wrap("console socket");
  if (!msg->fd) return Error::invalid("the runtime sent no terminal on the console socket");
  return std::move(msg->fd);
}

}  // namespace berth::shim
