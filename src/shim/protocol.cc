#include "shim/protocol.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace berth::shim {

Result<socklen_t> socket_address(const std::string& path, sockaddr_un& addr, UniqueFd& dir_keep) {
  std::memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  std::string target = path;
  if (path.size() >= sizeof addr.sun_path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return Error::invalid("socket path too long: " + path);
    std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    dir_keep.reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir_keep) return Error::sys("open " + dir);
    target = "/proc/self/fd/" + std::to_string(dir_keep.get()) + path.substr(slash);
    if (target.size() >= sizeof addr.sun_path)
      return Error::invalid("socket name too long: " + path);
  }
  std::memcpy(addr.sun_path, target.data(), target.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + target.size() + 1);
}

Result<void> send_message(int sock, std::string_view data, int fd) {
  if (data.size() > kMaxMessage) return Error::invalid("message too large");
  iovec iov{const_cast<char*>(data.data()), data.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  if (fd >= 0) {
    std::memset(cbuf, 0, sizeof cbuf);
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    std::memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  for (;;) {
    ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return ok();
    if (errno != EINTR) return Error::sys("send");
  }
}

namespace {

// Keeps the first fd of an SCM_RIGHTS message and closes any others.
UniqueFd take_fds(msghdr& msg) {
  UniqueFd first;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < n; i++) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (!first)
        first.reset(fd);
      else
        ::close(fd);
    }
  }
  return first;
}

Result<ssize_t> peek_size(int sock) {
  for (;;) {
    ssize_t n = ::recv(sock, nullptr, 0, MSG_PEEK | MSG_TRUNC);
    if (n >= 0) return n;
    if (errno != EINTR) return Error::sys("receive");
  }
}

}  // namespace

Result<Message> recv_message(int sock) {
  ssize_t size = BERTH_TRY(peek_size(sock));
  bool too_big = static_cast<size_t>(size) > kMaxMessage;
  Message out;
  // A message of zero bytes and EOF look alike to the peek; the real read tells them apart.
  out.data.resize(too_big ? 1 : static_cast<size_t>(size) + 1);
  iovec iov{out.data.data(), out.data.size()};
  alignas(cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 4)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::sys("receive");
  out.fd = take_fds(msg);
  if (too_big) {
    return Error::invalid("message of " + std::to_string(size) + " bytes is larger than " +
                          std::to_string(kMaxMessage));
  }
  if (n == 0 && size == 0) {
    out.eof = true;  // an empty message is not part of the protocol: treat it as the end
    out.data.clear();
    return out;
  }
  out.data.resize(static_cast<size_t>(n));
  return out;
}

bool json_depth_ok(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return false;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return true;
}

nlohmann::json exit_to_json(const ExitInfo& e) {
  return {
      {"status", e.status}, {"signal", e.signal}, {"exited_at", e.exited_at}, {"reason", e.reason}};
}

ExitInfo exit_from_json(const nlohmann::json& j) {
  ExitInfo e;
  if (!j.is_object()) return e;
  if (auto it = j.find("status"); it != j.end() && it->is_number_integer()) e.status = *it;
  if (auto it = j.find("signal"); it != j.end() && it->is_number_integer()) e.signal = *it;
  if (auto it = j.find("exited_at"); it != j.end() && it->is_string()) e.exited_at = *it;
  if (auto it = j.find("reason"); it != j.end() && it->is_string()) e.reason = *it;
  return e;
}

nlohmann::json error_reply(const Error& e) {
  return {{"ok", false}, {"error", e.what()}, {"kind", error_kind_name(e.kind())}};
}

ErrorKind error_kind_from_name(std::string_view name) {
  for (ErrorKind k : {ErrorKind::NotFound, ErrorKind::Conflict, ErrorKind::InvalidArgument,
                      ErrorKind::PermissionDenied, ErrorKind::Unsupported, ErrorKind::Io,
                      ErrorKind::Timeout, ErrorKind::Internal}) {
    if (name == error_kind_name(k)) return k;
  }
  return ErrorKind::Unknown;
}

Error error_from_reply(const nlohmann::json& reply) {
  std::string msg = "shim error";
  std::string kind;
  if (auto it = reply.find("error"); it != reply.end() && it->is_string()) msg = *it;
  if (auto it = reply.find("kind"); it != reply.end() && it->is_string()) kind = *it;
  return Error(error_kind_from_name(kind), 0, msg);
}

}  // namespace berth::shim
