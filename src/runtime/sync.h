// The parent <-> init handshake: numbered steps over one SOCK_SEQPACKET pair (crun's and
// youki's design). Each message is one packet; an error crosses as errno + message so the
// parent can print it with full context instead of a bare string.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "util/fd.h"
#include "util/result.h"

namespace berth::runtime {

enum class SyncType : uint32_t {
  Go = 1,              // parent -> init: ids mapped, continue
  CreateRuntimeHooks,  // init -> parent: mounts done, run prestart/createRuntime hooks
  HooksDone,           // parent -> init
  Ready,               // init -> parent: fully set up, waiting for start
  Start,               // parent -> init (run): exec now
  Error,               // init -> parent: errno + message
  ConsoleMaster,       // init -> parent: pty master attached as SCM_RIGHTS
  // Only when the init joins namespaces by path (it unshares the new ones itself):
  MapRequest,       // init -> parent: user namespace unshared, write its id maps
  MapDone,          // parent -> init
  Joined,           // init -> parent: namespaces set; text = pid of the real init if
                    // a new pid namespace needed an intermediate fork, else empty
  Placed,           // parent -> init: it is in its cgroup (v1: placed after clone)
  SeccompListener,  // init -> parent: err = the notify listener's fd number in the
                    // init (sent with write(2) only); the parent takes it with
                    // pidfd_getfd and hands it to linux.seccomp.listenerPath
  NetNs,            // parent -> init: the new network namespace as SCM_RIGHTS (netns.cc)
  NetNsUp,          // parent -> init: its loopback is up (err: the errno if it is not)
};

struct SyncMsg {
  SyncType type;
  int32_t err = 0;
  std::string text;
  UniqueFd fd;  // ConsoleMaster only
};

class SyncSocket {
 public:
  SyncSocket() = default;
  explicit SyncSocket(UniqueFd fd) : fd_(std::move(fd)) {}
  static Result<std::pair<SyncSocket, SyncSocket>> make_pair();

  int fd() const { return fd_.get(); }
  void close() { fd_.reset(); }

  Result<void> send(SyncType t, int err = 0, std::string_view text = {}, int pass_fd = -1);
  // Receives one message; EOF (peer gone, or exec'd with the socket CLOEXEC) is an error of
  // kind NotFound with errno 0, so callers can tell it apart.
  Result<SyncMsg> recv();
  // Receives and checks the type; an Error message becomes this side's Error.
  Result<SyncMsg> expect(SyncType t);

 private:
  UniqueFd fd_;
};

// One sendmsg of `iov` carrying `fd` (when >= 0) as SCM_RIGHTS; retries EINTR, never raises
// SIGPIPE. Returns how many bytes went (a stream socket may take fewer).
Result<size_t> send_with_fd(int sock, const struct iovec* iov, size_t iovcnt, int fd);

// A message with no text (and `pass_fd` when >= 0) on a sync socket's fd: 0 or the errno.
// Allocates nothing, for a thread that may run while the process clones (netns.cc).
int send_bare(int sock, SyncType t, int pass_fd, int err = 0);

// Sends/receives one fd over a unix socket (console socket protocol: SCM_RIGHTS with the
// pty's name as payload, like runc).
Result<void> send_fd(int sock, int fd, std::string_view payload);
Result<UniqueFd> recv_fd(int sock);

}  // namespace berth::runtime
