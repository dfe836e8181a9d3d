// A new network namespace made beside the parent's own work. Creating one is the dearest
// step of a container start (~0.5 ms of kernel time here: sysctl tables, loopback device),
// and nothing before clone needs it; so a thread makes it while the main thread finishes
// the cgroup, clones the init and saves the state, and the init joins it by fd.
#include <fcntl.h>
#include <linux/futex.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

#include "runtime/internal.h"

namespace berth::runtime {

namespace {

// 0 or the errno; allocates nothing (it runs on the maker thread too).
int loopback_up() {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return errno;
  struct ifreq ifr = {};
  memcpy(ifr.ifr_name, "lo", 3);
  int e = 0;
  if (::ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
    e = errno;
  } else {
    ifr.ifr_flags |= IFF_UP;
    if (::ioctl(s, SIOCSIFFLAGS, &ifr) < 0) e = errno;
  }
  ::close(s);
  return e;
}

void futex_wait(std::atomic<int>& word, int value) {
  while (word.load(std::memory_order_acquire) == value)
    syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAIT_PRIVATE, value, nullptr, nullptr,
            0);
}

void futex_wake(std::atomic<int>& word, int value) {
  word.store(value, std::memory_order_release);
  syscall(SYS_futex, reinterpret_cast<int*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
}

}  // namespace

Result<void> bring_up_loopback() {
  if (int e = loopback_up()) return Error::from_errno(e, "bring lo up");
  return ok();
}

// The thread only makes system calls (no allocation, no lock of libc's), and it is parked
// in a futex wait while the main thread clones: the init's copy of memory holds no lock
// that this thread had taken.
void* NetnsMaker::body(void* arg) {
  auto* self = static_cast<NetnsMaker*>(arg);
  if (::unshare(CLONE_NEWNET) < 0) {
    self->errno_ = errno;
    self->step_ = "create network namespace";
  } else {
    self->fd_ = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (self->fd_ < 0) {
      self->errno_ = errno;
      self->step_ = "open the new network namespace";
    } else if (int e = loopback_up()) {
      self->errno_ = e;
      self->step_ = "bring lo up";
    }
  }
  futex_wake(self->done_, 1);
  futex_wait(self->release_, 0);
  return nullptr;
}

Result<void> NetnsMaker::start() {
  int e = ::pthread_create(&thread_, nullptr, &NetnsMaker::body, this);
  if (e != 0) return Error::from_errno(e, "start the network namespace thread");
  started_ = true;
  return ok();
}

Result<UniqueFd> NetnsMaker::finish() {
  if (!started_) return Error::internal("network namespace thread not started");
  futex_wait(done_, 0);
  futex_wake(release_, 1);
  ::pthread_join(thread_, nullptr);
  started_ = false;
  UniqueFd fd(fd_);
  fd_ = -1;
  if (errno_ != 0) return Error::from_errno(errno_, step_);
  return fd;
}

NetnsMaker::~NetnsMaker() {
  if (started_) (void)finish();
}

namespace init {

Result<void> join_pending_netns(InitContext& ctx) {
  if (!ctx.netns_pending) return ok();
  SyncMsg m = BERTH_TRY(ctx.sync.expect(SyncType::NetNs));
  if (!m.fd) return Error::internal("the network namespace did not come with its message");
  if (::setns(m.fd.get(), CLONE_NEWNET) < 0) return Error::sys("join the new network namespace");
  ctx.netns_pending = false;
  return ok();
}

}  // namespace init

}  // namespace berth::runtime
