#include "runtime/sync.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstring>

namespace berth::runtime {
namespace {
struct Header {
  uint32_t type;
  int32_t err;
};
constexpr size_t kMaxText = 8192;
}  // namespace

Result<std::pair<SyncSocket, SyncSocket>> SyncSocket::make_pair() {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
    return Error::sys("socketpair");
  return std::make_pair(SyncSocket(UniqueFd(sv[0])), SyncSocket(UniqueFd(sv[1])));
}

namespace {
// sendmsg with `fd` as SCM_RIGHTS (when >= 0), EINTR retried, no SIGPIPE; -1 and errno on
// failure. Allocates nothing.
ssize_t sendmsg_fd(int sock, const struct iovec* iov, size_t iovcnt, int fd) {
  struct msghdr msg = {};
  msg.msg_iov = const_cast<struct iovec*>(iov);
  msg.msg_iovlen = iovcnt;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))] = {};
  if (fd >= 0) {
    msg.msg_control = cbuf;
    msg.msg_controllen = sizeof cbuf;
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
  }
  ssize_t n;
  while ((n = ::sendmsg(sock, &msg, MSG_NOSIGNAL)) < 0 && errno == EINTR) {
  }
  return n;
}
}  // namespace

Result<size_t> send_with_fd(int sock, const struct iovec* iov, size_t iovcnt, int fd) {
  ssize_t n = sendmsg_fd(sock, iov, iovcnt, fd);
  if (n < 0) return Error::sys("sendmsg");
  return static_cast<size_t>(n);
}

int send_bare(int sock, SyncType t, int pass_fd, int err) {
  Header h{static_cast<uint32_t>(t), err};
  struct iovec iov = {&h, sizeof h};
  return sendmsg_fd(sock, &iov, 1, pass_fd) < 0 ? errno : 0;
}

Result<void> SyncSocket::send(SyncType t, int err, std::string_view text, int pass_fd) {
  Header h{static_cast<uint32_t>(t), err};
  if (text.size() > kMaxText) text = text.substr(0, kMaxText);
  struct iovec iov[2] = {{&h, sizeof h}, {const_cast<char*>(text.data()), text.size()}};
  BERTH_TRY_CTX(send_with_fd(fd_.get(), iov, text.empty() ? 1 : 2, pass_fd), "sync: send");
  return ok();
}

Result<SyncMsg> SyncSocket::recv() {
  char buf[sizeof(Header) + kMaxText];
  struct iovec iov = {buf, sizeof buf};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  // A peer that exits with a message of ours unread (the init failing before it read
  // NetNs) resets the socket: reported once, then what it sent before is still queued.
  bool reset_seen = false;
  while ((n = ::recvmsg(fd_.get(), &msg, MSG_CMSG_CLOEXEC)) < 0) {
    if (errno == ECONNRESET && !reset_seen) {
      reset_seen = true;
      continue;
    }
    if (errno != EINTR) return Error::sys("sync: receive");
  }
  if (n == 0) return Error(ErrorKind::NotFound, 0, "sync: peer closed");
  if (static_cast<size_t>(n) < sizeof(Header)) return Error::internal("sync: short message");
  SyncMsg m;
  Header h;
  memcpy(&h, buf, sizeof h);
  m.type = static_cast<SyncType>(h.type);
  m.err = h.err;
  m.text.assign(buf + sizeof h, static_cast<size_t>(n) - sizeof h);
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      m.fd.reset(fd);
    }
  }
  return m;
}

Result<SyncMsg> SyncSocket::expect(SyncType t) {
  SyncMsg m = BERTH_TRY(recv());
  if (m.type == SyncType::Error) return Error::from_errno(m.err, m.text);
  if (m.type != t)
    return Error::internal("sync: expected step " + std::to_string(static_cast<int>(t)) + ", got " +
                           std::to_string(static_cast<int>(m.type)));
  return m;
}

Result<void> send_fd(int sock, int fd, std::string_view payload) {
  struct iovec iov = {const_cast<char*>(payload.data()), payload.size()};
  BERTH_TRY_CTX(send_with_fd(sock, &iov, 1, fd), "send console fd");
  return ok();
}

Result<UniqueFd> recv_fd(int sock) {
  char buf[4096];
  struct iovec iov = {buf, sizeof buf};
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  while (::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) < 0) {
    if (errno != EINTR) return Error::sys("receive fd");
  }
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
      int fd;
      memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return UniqueFd(fd);
    }
  }
  return Error::internal("receive fd: no fd in message");
}

}  // namespace berth::runtime
