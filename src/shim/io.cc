// The shim's stdio plumbing: a process's output to its log and to every attach stream, attach
// input to the process's stdin. Nothing here blocks. A slow client gets a buffer; while every
// client of a stream is behind, the shim stops reading that stream (the pipe fills and the
// process blocks on its writes, as under docker), and reading resumes when one catches up.
#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "shim/encode.h"
#include "shim/server_internal.h"
#include "util/log.h"

namespace berth::shim {

namespace {

constexpr size_t kReadChunk = 16 * 1024;
// A client with this much output waiting is behind: while every client of a stream is, the
// stream is not read.
constexpr size_t kMaxPending = 4 << 20;
// A client this far behind while another client of the stream keeps taking output (so the
// stream is still read) is dropped: the others are not made to wait for it, and the shim does
// not buffer without bound.
constexpr size_t kMaxLagging = 16 << 20;
// After the process has ended, a client gets this long to take the rest of its output (each
// write that makes progress starts the time again; shutdown caps the total, see server.cc).
constexpr int64_t kClosingMs = 5'000;
// Drain at most this much from a process's pipes after it has exited.
constexpr size_t kMaxDrain = 64 << 20;

char g_buf[kReadChunk];  // one read buffer for the whole (single-threaded) shim

}  // namespace

int64_t monotonic_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// ---- Loop
// ----------------------------------------------------------------------------------------

Result<void> Loop::init() {
  ep_.reset(::epoll_create1(EPOLL_CLOEXEC));
  if (!ep_) return Error::sys("epoll_create1");
  return ok();
}

void Loop::add(int fd, uint32_t events, Watch* w) {
  epoll_event ev{events, {.ptr = w}};
  if (::epoll_ctl(ep_.get(), EPOLL_CTL_ADD, fd, &ev) < 0)
    log::error("epoll add fd " + std::to_string(fd) + ": " + errno_text(errno));
}

void Loop::mod(int fd, uint32_t events, Watch* w) {
  epoll_event ev{events, {.ptr = w}};
  if (::epoll_ctl(ep_.get(), EPOLL_CTL_MOD, fd, &ev) < 0)
    log::error("epoll mod fd " + std::to_string(fd) + ": " + errno_text(errno));
}

void Loop::del(int fd) {
  if (fd >= 0) ::epoll_ctl(ep_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

Result<void> Loop::run_once(int timeout_ms) {
  epoll_event ev;
  int n = ::epoll_wait(ep_.get(), &ev, 1, timeout_ms);
  if (n < 0) return errno == EINTR ? ok() : Error::sys("epoll_wait");
  if (n == 1) static_cast<Watch*>(ev.data.ptr)->on_event(ev.events);
  return ok();
}

void OutStream::on_event(uint32_t) { srv->read_output(*this); }
OutStream::~OutStream() {
  if (srv && fd) srv->loop.del(fd.get());
}
InStream::~InStream() {
  if (srv && fd && watching) srv->loop.del(fd.get());
}
Attach::~Attach() {
  if (srv && fd) srv->loop.del(fd.get());
}
void Attach::on_event(uint32_t events) { srv->attach_event(*this, events); }
void InStream::on_event(uint32_t) { srv->stdin_writable(*this); }

// ---- output
// --------------------------------------------------------------------------------------

// One read per event (level-triggered), so a chatty process cannot starve the others.
void Server::read_output(OutStream& s) {
  ssize_t n = ::read(s.fd.get(), g_buf, sizeof g_buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {  // EOF, or EIO from a pty master whose slave side is closed
    loop.del(s.fd.get());
    s.fd.reset();
    return;
  }
  dispatch_output(*s.proc, s.err, std::string_view(g_buf, static_cast<size_t>(n)));
}

void Server::dispatch_output(Proc& p, bool err, std::string_view data) {
  if (p.logged) log_.write(err, data);
  for (auto it = p.attaches.begin(); it != p.attaches.end();) {
    Attach& a = **it++;  // flush_attach and drop_attach may erase `a`
    if (err ? !a.err : !a.out) continue;
    if (p.tty)
      a.pending.append(data);
    else
      append_frame(a.pending, err ? Stream::Stderr : Stream::Stdout, data);
    if (flush_attach(a) && a.pending.size() > kMaxLagging)
      drop_attach(a, "fell " + std::to_string(a.pending.size()) +
                         " bytes behind while other clients took the output");
  }
  update_output_flow(p);
}

namespace {

// Whether every attach stream that gets this output is behind (false when there is none: the
// output is then only logged, and read as fast as it comes).
bool all_clients_behind(const Proc& p, bool err) {
  bool any = false;
  for (const auto& a : p.attaches) {
    if (err ? !a->err : !a->out) continue;
    if (a->pending.size() < kMaxPending) return false;
    any = true;
  }
  return any;
}

}  // namespace

void Server::update_output_flow(Proc& p) {
  for (OutStream* s : {&p.out, &p.err}) {
    if (!s->fd) continue;
    // With a tty both streams are the pty master, read as `out`; its clients are the ones that
    // take stdout.
    bool behind = all_clients_behind(p, s->err);
    if (behind && !s->paused) {
      loop.del(s->fd.get());  // not EPOLL events 0: a hang-up would still be reported
      s->paused = true;
    } else if (!behind && s->paused) {
      loop.add(s->fd.get(), EPOLLIN, s);
      s->paused = false;
    }
  }
}

bool Server::flush_attach(Attach& a) {
  while (!a.pending.empty()) {
    ssize_t n = a.is_socket ? ::send(a.fd.get(), a.pending.data(), a.pending.size(),
                                     MSG_DONTWAIT | MSG_NOSIGNAL)
                            : ::write(a.fd.get(), a.pending.data(), a.pending.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      if (a.stuck_since_ms == 0) a.stuck_since_ms = monotonic_ms();
      break;
    }
    if (n < 0) {  // EPIPE, ECONNRESET: the client is gone, nothing more to write
      a.pending.clear();
      a.closing = true;
      break;
    }
    a.stuck_since_ms = 0;
    a.pending.erase(0, static_cast<size_t>(n));
  }
  if (a.pending.empty()) {
    std::string().swap(a.pending);  // an idle shim keeps no buffers
    a.stuck_since_ms = 0;
  }
  return update_attach_mask(a);
}

// ---- attach streams
// ------------------------------------------------------------------------------

Result<void> Server::add_attach(Proc& p, const json& req, UniqueFd fd) {
  if (!fd) return Error::invalid("attach: no fd came with the request");
  auto a = std::make_unique<Attach>();
  a->srv = this;
  a->proc = &p;
  a->in = req.value("stdin", false);
  a->out = req.value("stdout", true);
  a->err = req.value("stderr", true);
  a->once = req.value("stdin_once", false);
  a->detach_keys = req.value("detach_keys", "");
  int type = 0;
  socklen_t len = sizeof type;
  a->is_socket = ::getsockopt(fd.get(), SOL_SOCKET, SO_TYPE, &type, &len) == 0;
  if (!a->is_socket) {
    int fl = ::fcntl(fd.get(), F_GETFL);
    if (fl >= 0) ::fcntl(fd.get(), F_SETFL, fl | O_NONBLOCK);
  }
  if (a->in && !p.in.fd) a->in = false;  // no stdin to feed (not opened, or closed)
  a->fd = std::move(fd);
  Attach& ref = *a;
  p.attaches.push_back(std::move(a));
  ref.mask = 0;
  loop.add(ref.fd.get(), 0, &ref);
  update_attach_mask(ref);
  update_output_flow(p);  // a client that is not behind: the output flows again
  return ok();
}

bool Server::update_attach_mask(Attach& a) {
  if (a.closing && a.pending.empty()) {
    drop_attach(a, "");
    return false;
  }
  uint32_t m = 0;
  if (!a.pending.empty()) m |= EPOLLOUT;
  if (a.in && !a.input_done && !a.closing && a.proc->in.pending.empty()) m |= EPOLLIN | EPOLLRDHUP;
  if (m != a.mask) {
    a.mask = m;
    loop.mod(a.fd.get(), m, &a);
  }
  return true;
}

void Server::attach_event(Attach& a, uint32_t events) {
  if (events & EPOLLIN) {
    read_attach_input(a);
    return;  // level-triggered: the rest comes next round
  }
  if (events & EPOLLOUT) {
    Proc& p = *a.proc;
    flush_attach(a);  // may drop `a`
    update_output_flow(p);
    return;
  }
  if (events & EPOLLRDHUP) {
    read_attach_input(a);  // reads the EOF
    return;
  }
  if (events & (EPOLLHUP | EPOLLERR)) drop_attach(a, "");
}

void Server::read_attach_input(Attach& a) {
  ssize_t n = a.is_socket ? ::recv(a.fd.get(), g_buf, sizeof g_buf, MSG_DONTWAIT)
                          : ::read(a.fd.get(), g_buf, sizeof g_buf);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    a.input_done = true;
    if (a.once) close_stdin(*a.proc);
    update_attach_mask(a);
    return;
  }
  std::string_view data(g_buf, static_cast<size_t>(n));
  if (a.detach_keys.empty()) {
    write_stdin(*a.proc, data);
    return;
  }
  std::string out;
  bool detach = filter_detach_keys(a, data, out);
  write_stdin(*a.proc, out);
  if (detach) {
    log::info("attach stream detached by its detach keys");
    drop_attach(a, "");
  }
}

// Passes input through, holding back a prefix of the detach sequence until it either completes
// (true: the rest of the input is dropped) or turns out to be ordinary input (then it goes on).
bool Server::filter_detach_keys(Attach& a, std::string_view in, std::string& out) {
  const std::string& keys = a.detach_keys;
  for (char b : in) {
    if (b == keys[a.matched]) {
      if (++a.matched == keys.size()) return true;
      continue;
    }
    if (a.matched > 0) {
      out.append(keys, 0, a.matched);
      a.matched = 0;
      if (b == keys[0]) {
        a.matched = 1;
        if (keys.size() == 1) return true;
        continue;
      }
    }
    out.push_back(b);
  }
  return false;
}

void Server::drop_attach(Attach& a, const std::string& why) {
  if (!why.empty()) log::warn("attach stream dropped: " + why);
  Proc& p = *a.proc;
  loop.del(a.fd.get());
  for (auto it = p.attaches.begin(); it != p.attaches.end(); ++it) {
    if (it->get() == &a) {
      p.attaches.erase(it);  // closes the fd
      break;
    }
  }
  update_output_flow(p);
}

int Server::check_stuck_attaches() {
  int64_t now = monotonic_ms();
  int64_t next = -1;
  for (auto& [id, p] : procs_) {
    for (auto it = p->attaches.begin(); it != p->attaches.end();) {
      Attach& a = **it++;
      // A running process's client is never dropped for being slow: the process waits for it.
      if (!a.closing || a.stuck_since_ms == 0) continue;
      int64_t left = a.stuck_since_ms + kClosingMs - now;
      if (left <= 0) {
        drop_attach(a, "the client took no output for " + std::to_string(kClosingMs / 1000) +
                           " s after the process ended");
        continue;
      }
      if (next < 0 || left < next) next = left;
    }
  }
  return static_cast<int>(next);
}

bool Server::attaches_flushed() const {
  for (const auto& [id, p] : procs_) {
    if (!p->attaches.empty()) return false;
  }
  return true;
}

// ---- stdin
// ---------------------------------------------------------------------------------------

void Server::write_stdin(Proc& p, std::string_view data) {
  InStream& in = p.in;
  if (!in.fd) return;  // closed: the input is dropped
  if (in.pending.empty()) {
    while (!data.empty()) {
      ssize_t n = ::write(in.fd.get(), data.data(), data.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) break;
      if (n < 0) {  // EPIPE: the process closed its stdin
        loop.del(in.fd.get());
        in.fd.reset();
        in.watching = false;
        return;
      }
      data.remove_prefix(static_cast<size_t>(n));
    }
    if (data.empty()) return;
  }
  in.pending.append(data);
  if (!in.watching) {
    loop.add(in.fd.get(), EPOLLOUT, &in);
    in.watching = true;
  }
  pause_stdin_readers(p, true);
}

void Server::stdin_writable(InStream& in) {
  Proc& p = *in.proc;
  while (!in.pending.empty()) {
    ssize_t n = ::write(in.fd.get(), in.pending.data(), in.pending.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n < 0) {
      in.pending.clear();
      in.close_when_done = true;
      break;
    }
    in.pending.erase(0, static_cast<size_t>(n));
  }
  std::string().swap(in.pending);
  loop.del(in.fd.get());
  in.watching = false;
  if (in.close_when_done) in.fd.reset();
  pause_stdin_readers(p, false);
}

void Server::pause_stdin_readers(Proc& p, bool) {
  for (auto it = p.attaches.begin(); it != p.attaches.end();) update_attach_mask(**it++);
}

void Server::close_stdin(Proc& p) {
  InStream& in = p.in;
  if (!in.fd) return;
  if (p.tty) return;  // the pty master is also the output: a terminal has no stdin to close
  if (!in.pending.empty()) {
    in.close_when_done = true;
    return;
  }
  if (in.watching) loop.del(in.fd.get());
  in.watching = false;
  in.fd.reset();
}

// ---- the end of a process
// ------------------------------------------------------------------------

// Reads what the exited process left in its pipes (or pty) without waiting for writers that
// may outlive it (an exec's background children).
void Server::drain(Proc& p) {
  for (OutStream* s : {&p.out, &p.err}) {
    if (!s->fd) continue;
    size_t total = 0;
    while (total < kMaxDrain) {
      ssize_t n = ::read(s->fd.get(), g_buf, sizeof g_buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      total += static_cast<size_t>(n);
      dispatch_output(p, s->err, std::string_view(g_buf, static_cast<size_t>(n)));
    }
    loop.del(s->fd.get());
    s->fd.reset();
  }
  if (p.logged) log_.flush();
  if (p.in.watching) loop.del(p.in.fd.get());
  p.in.watching = false;
  p.in.fd.reset();
  std::string().swap(p.in.pending);
}

// Closes every attach stream of an ended process once its output is written.
void Server::end_attaches(Proc& p) {
  for (auto it = p.attaches.begin(); it != p.attaches.end();) {
    Attach& a = **it++;
    a.closing = true;
    if (!a.pending.empty() && a.stuck_since_ms == 0) a.stuck_since_ms = monotonic_ms();
    update_attach_mask(a);  // drops it at once when nothing is pending
  }
}

}  // namespace berth::shim
