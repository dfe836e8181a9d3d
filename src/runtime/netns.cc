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

#include <atomic>
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

namespace {

// What the thread and the main thread share: static, since the thread outlives the
// NetnsMaker (it is released, not joined).
struct Shared {
  std::atomic<int> used{0}, done{0}, release{0};
  int fd = -1, err = 0, send_to = -1;
  const char* step = "";
};
Shared g_shared;

// The thread only makes system calls (no allocation, no lock of libc's; send_bare is
// allocation-free too), so whenever the main thread clones, the init's copy of memory holds
// no lock this thread had taken. It then parks until take(), and once released touches
// nothing but g_shared.release.
void* netns_thread(void*) {
  Shared& s = g_shared;
  if (::unshare(CLONE_NEWNET) < 0) {
    s.err = errno;
    s.step = "create network namespace";
  } else {
    s.fd = ::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    if (s.fd < 0) {
      s.err = errno;
      s.step = "open the new network namespace";
    } else if (s.send_to >= 0) {
      // The init joins it while this thread brings lo up (~0.15 ms), and takes NetNsUp just
      // before it loads seccomp. A failed send means the init is gone; the parent reads its
      // error instead.
      (void)send_bare(s.send_to, SyncType::NetNs, s.fd);
      ::close(s.fd);
      s.fd = -1;
      int e = loopback_up();
      (void)send_bare(s.send_to, SyncType::NetNsUp, -1, e);
      if (e) {
        s.err = e;
        s.step = "bring lo up";
      }
    } else if (int e = loopback_up()) {
      s.err = e;
      s.step = "bring lo up";
    }
  }
  futex_wake(s.done, 1);
  futex_wait(s.release, 0);
  return nullptr;
}

}  // namespace

Result<void> NetnsMaker::start(int send_to) {
  if (g_shared.used.exchange(1)) return Error::internal("a second network namespace thread");
  g_shared.send_to = send_to;
  pthread_t t;
  int e = ::pthread_create(&t, nullptr, &netns_thread, nullptr);
  if (e != 0) return Error::from_errno(e, "start the network namespace thread");
  ::pthread_detach(t);
  started_ = true;
  return ok();
}

Result<UniqueFd> NetnsMaker::take() {
  if (!started_) return Error::internal("network namespace thread not started");
  started_ = false;
  futex_wait(g_shared.done, 0);
  UniqueFd fd(g_shared.fd);
  g_shared.fd = -1;
  futex_wake(g_shared.release, 1);
  if (g_shared.err != 0) return Error::from_errno(g_shared.err, g_shared.step);
  return fd;
}

NetnsMaker::~NetnsMaker() {
  if (started_) (void)take();
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

Result<void> await_loopback(InitContext& ctx) {
  if (!ctx.loopback_pending) return ok();
  SyncMsg m = BERTH_TRY(ctx.sync.expect(SyncType::NetNsUp));
  if (m.err) return Error::from_errno(m.err, "bring lo up");
  ctx.loopback_pending = false;
  return ok();
}

}  // namespace init

}  // namespace berth::runtime
