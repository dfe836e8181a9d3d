// Logs (the json-file log the shim writes, read back with docker's options) and attach.
//
// The log is streamed: entries go to the client as they are parsed, a few KiB at a time; only
// --tail holds entries back, the last N of them. A follower tracks the current file across
// rotations (renamed to .1) and truncations (max-file 1: the shim truncates in place).
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <deque>

#include "engine/containers_internal.h"
#include "engine/detach_keys.h"
#include "util/log.h"

namespace berth::engine {
namespace {

// Output is handed to the sink in pieces of about this size.
constexpr size_t kSinkChunk = 64 << 10;
// A "line" longer than this without a newline is not the shim's: dropped.
constexpr size_t kMaxLogLine = 4 << 20;
// How much of a log file's start is remembered to see it truncated and written again.
constexpr size_t kHeadBytes = 256;
// attach?logs=1: the last part of the replay is written under the container's `op` (so that no
// output falls between the replay and the stream); a client gets this long to take it.
constexpr int kReplayUnderOpMs = 200;

struct Entry {
  bool err = false;
  std::string text;
  int64_t time_ns = 0;
};

std::optional<Entry> parse_entry(std::string_view line) {
  json j = json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::nullopt;
  Entry e;
  e.err = get_or(j, "stream", "stdout") == "stderr";
  e.text = get_or(j, "log", "");
  e.time_ns = parse_rfc3339(get_or(j, "time", ""));
  return e;
}

// docker's RFC3339NanoFixed: always nine fraction digits.
std::string fixed_time(int64_t ns) {
  std::string t = rfc3339_nano(ns - ns % 1'000'000'000);  // "...:05Z"
  char frac[16];
  snprintf(frac, sizeof frac, ".%09lld", static_cast<long long>(ns % 1'000'000'000));
  return t.substr(0, t.size() - 1) + frac + "Z";
}

void append_frame(std::string& out, bool err, std::string_view payload) {
  out += static_cast<char>(err ? 2 : 1);
  out.append(3, '\0');
  uint32_t n = static_cast<uint32_t>(payload.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  out.append(payload);
}

// Turns log file bytes into what the client gets, and hands it to the sink as it goes (or, for
// --tail, keeps the last N entries until release()).
class LogReader {
 public:
  LogReader(const LogOptions& o, bool tty, const Sink& sink) : opts_(o), tty_(tty), sink_(sink) {}

  // Holds back all but the last `n` entries read until release() (--tail n).
  void hold_last(size_t n) {
    holding_ = true;
    keep_ = n;
  }

  // Feeds raw file bytes; complete lines become entries.
  void feed(std::string_view data) {
    pending_.append(data);
    size_t start = 0;
    for (;;) {
      size_t nl = pending_.find('\n', start);
      if (nl == std::string::npos) break;
      if (!past_until_) line(std::string_view(pending_).substr(start, nl - start));
      start = nl + 1;
    }
    pending_.erase(0, start);
    if (pending_.size() > kMaxLogLine) std::string().swap(pending_);
  }
  // The file being read was truncated or replaced: a line it left unfinished is dropped.
  void drop_partial_line() { std::string().swap(pending_); }

  // Sends the held entries; from then on entries go out as they are read. false: the client
  // has gone.
  bool release() {
    holding_ = false;
    for (auto& e : ring_) out_.append(e);
    std::deque<std::string>().swap(ring_);
    return flush();
  }
  // Hands what is buffered to the sink. false: the client has gone.
  bool flush() {
    if (!gone_ && !out_.empty() && !sink_(out_)) gone_ = true;
    std::string().swap(out_);
    return !gone_;
  }
  bool gone() const { return gone_; }
  bool past_until() const { return past_until_; }

 private:
  void line(std::string_view l) {
    auto e = parse_entry(l);
    if (!e) return;
    if (e->err ? !opts_.stderr : !opts_.stdout) return;
    if (opts_.since_ns && e->time_ns < opts_.since_ns) return;
    if (opts_.until_ns && e->time_ns > opts_.until_ns) {
      past_until_ = true;
      return;
    }
    std::string payload = opts_.timestamps ? fixed_time(e->time_ns) + " " + e->text : e->text;
    if (holding_) {
      if (keep_ == 0) return;
      if (ring_.size() == keep_) ring_.pop_front();
      std::string item;
      if (tty_)
        item = std::move(payload);
      else
        append_frame(item, e->err, payload);
      ring_.push_back(std::move(item));
      return;
    }
    if (tty_)
      out_.append(payload);
    else
      append_frame(out_, e->err, payload);
    if (out_.size() >= kSinkChunk) flush();
  }

  const LogOptions& opts_;
  bool tty_;
  const Sink& sink_;
  std::string pending_;  // an unfinished line
  std::string out_;      // output not yet handed to the sink
  bool holding_ = false;
  size_t keep_ = 0;
  std::deque<std::string> ring_;  // --tail: the last keep_ entries
  bool past_until_ = false;
  bool gone_ = false;
};

bool same_file(int fd, const std::string& path) {
  struct stat a {
  }, b{};
  if (fstat(fd, &a) != 0 || stat(path.c_str(), &b) != 0) return true;  // nothing new to open
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

// A container's log files: <path>.(max_files-1) ... <path>.1 (rotated, oldest first), then
// <path>, the one the shim writes, which is followed from where the last read stopped.
class LogFiles {
 public:
  LogFiles(std::string path, int max_files) : path_(std::move(path)), max_files_(max_files) {}

  // Everything there is now, oldest first. The current file is opened before the rotated ones
  // are read, so that a rotation meanwhile is seen (its old file is read to the end first).
  Result<void> read_all(LogReader& r) {
    cur_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    for (int i = max_files_ - 1; i >= 1 && !r.gone() && !r.past_until(); i--) {
      UniqueFd f(::open((path_ + "." + std::to_string(i)).c_str(), O_RDONLY | O_CLOEXEC));
      if (!f) continue;
      BERTH_TRY(read_to_end(f.get(), r, nullptr));
      r.drop_partial_line();
    }
    if (!cur_) return ok();
    return read_current(r);
  }

  // What the current file got since the last read: across a rotation (the old file is
  // finished, then the new one read), and from the start again after a truncation.
  Result<void> read_current(LogReader& r) {
    for (int rounds = 0; rounds < 8 && !r.gone() && !r.past_until(); rounds++) {
      if (!cur_) {
        cur_.reset(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
        offset_ = 0;
        head_.clear();
        if (!cur_) return ok();
      }
      if (truncated()) {
        if (::lseek(cur_.get(), 0, SEEK_SET) < 0) return Error::sys("seek the log");
        offset_ = 0;
        head_.clear();
        r.drop_partial_line();
      }
      BERTH_TRY(read_to_end(cur_.get(), r, &offset_));
      remember_head();
      if (same_file(cur_.get(), path_)) return ok();
      BERTH_TRY(read_to_end(cur_.get(), r, &offset_));  // written before the rename
      cur_.reset();
      r.drop_partial_line();
    }
    return ok();
  }

 private:
  static Result<void> read_to_end(int fd, LogReader& r, off_t* offset) {
    char buf[65536];
    while (!r.gone() && !r.past_until()) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::sys("read the log");
      if (n == 0) break;
      if (offset) *offset += n;
      r.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
    return ok();
  }

  // The shim truncated the file (max-file 1): it is shorter than what was read, or it has been
  // written again past that point and its first bytes are not the ones read before.
  bool truncated() {
    struct stat st {};
    if (fstat(cur_.get(), &st) != 0) return false;
    if (st.st_size < offset_) return true;
    if (head_.empty()) return false;
    char buf[kHeadBytes];
    ssize_t n = ::pread(cur_.get(), buf, head_.size(), 0);
    return n != static_cast<ssize_t>(head_.size()) || memcmp(buf, head_.data(), head_.size()) != 0;
  }

  void remember_head() {
    size_t want = std::min<size_t>(kHeadBytes, static_cast<size_t>(offset_));
    if (head_.size() >= want) return;
    char buf[kHeadBytes];
    ssize_t n = ::pread(cur_.get(), buf, want, 0);
    if (n > 0) head_.assign(buf, static_cast<size_t>(n));
  }

  std::string path_;
  int max_files_;
  UniqueFd cur_;
  off_t offset_ = 0;  // how much of cur_ has been read
  std::string head_;  // cur_'s first bytes, as read
};

struct LogLocation {
  std::string path;
  int max_files = 1;
};

// Where the container's log is (c.mu held); InvalidArgument with docker's words when its
// driver keeps none.
Result<LogLocation> log_location(const ContainerService::Ctr& c, int default_max_files) {
  const json& lc = get_or(c.host_config, "LogConfig", json::object());
  if (get_or(lc, "Type", "json-file") == "none")
    return Error::invalid("configured logging driver does not support reading");
  LogLocation l;
  l.max_files = default_max_files;
  const json& cfg = get_or(lc, "Config", json::object());
  if (cfg.contains("max-file") && cfg["max-file"].is_string())
    l.max_files = std::max(1, atoi(cfg["max-file"].get<std::string>().c_str()));
  l.path = c.dir + "/" + c.id + "-json.log";
  return l;
}

// Writes all of `data` to the client, blocking; false when it has gone (no SIGPIPE).
bool send_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == ENOTSOCK) return write_all(fd, data).has_value();
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

// Writes as much of `data` as the client takes within `ms`; returns how much that was (all of
// it unless the client is slow or gone).
size_t send_within(int fd, std::string_view data, int ms) {
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN) break;
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t spent = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1'000'000;
    if (spent >= ms) break;
    pollfd p{fd, POLLOUT, 0};
    ::poll(&p, 1, static_cast<int>(ms - spent));
  }
  return done;
}

// attach?logs=1: the log goes to the client before its stream. The bulk is written without
// `op` (a client that does not read must not hold up stop, kill or the exit's handling); the
// last entries, those written since, are written under `op` within a short time, so that the
// stream can be put in place right after them with nothing missed in between. A client too
// slow for that gets them without `op`, and the round starts again. false: the client has
// gone. Else, with req.stream, it returns with `op` held. (A log that cannot be read is
// logged, and the stream goes on.)
bool replay_log_for_attach(ContainerService::Ctr* c, int default_max_files,
                           const AttachRequest& req, int fd, std::unique_lock<std::mutex>& op) {
  LogOptions lo;
  lo.stdout = req.stdout;
  lo.stderr = req.stderr;
  LogLocation where;
  {
    std::lock_guard lk(c->mu);
    auto l = log_location(*c, default_max_files);
    if (!l) {  // no log to replay: the stream alone
      if (req.stream) op.lock();
      return true;
    }
    where = std::move(*l);
  }
  std::string held;  // under `op`: output not yet written
  bool under_op = false;
  Sink sink = [&](std::string_view data) {
    if (under_op) {
      held.append(data);
      return true;
    }
    return send_all(fd, data);
  };
  LogReader reader(lo, c->tty(), sink);
  LogFiles files(where.path, where.max_files);
  auto r = files.read_all(reader);
  if (!r) log::debug("attach logs: " + r.error().what());
  if (!reader.release()) return false;
  if (!req.stream) return true;
  for (;;) {
    op.lock();
    under_op = true;
    r = files.read_current(reader);
    if (!r) log::debug("attach logs: " + r.error().what());
    reader.flush();
    under_op = false;
    size_t sent = send_within(fd, held, kReplayUnderOpMs);
    if (sent == held.size()) return true;
    op.unlock();
    if (!send_all(fd, std::string_view(held).substr(sent))) return false;
    held.clear();
  }
}

}  // namespace

Result<void> ContainerService::Impl::logs(const std::shared_ptr<Ctr>& c, const LogOptions& opts,
                                          const Sink& sink, int client_fd) {
  if (!opts.stdout && !opts.stderr)
    return Error::invalid("Bad parameters: you must choose at least one stream");
  LogLocation where;
  UniqueFd watch_exit;
  {
    std::lock_guard lk(c->mu);
    where = BERTH_TRY(log_location(*c, config.log_max_files));
    if (opts.follow && c->running_like()) {
      watch_exit.reset(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
      if (!watch_exit) return Error::sys("eventfd");
      c->exit_watchers.push_back(watch_exit.get());
    }
  }
  struct Unwatch {
    Ctr& c;
    int fd;
    ~Unwatch() {
      if (fd < 0) return;
      std::lock_guard lk(c.mu);
      std::erase(c.exit_watchers, fd);
    }
  } unwatch{*c, watch_exit.get()};

  LogReader reader(opts, c->tty(), sink);
  if (opts.tail) reader.hold_last(*opts.tail);
  UniqueFd inotify;
  if (watch_exit) {
    inotify.reset(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!inotify) return Error::sys("inotify_init");
    if (inotify_add_watch(inotify.get(), c->dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
      return Error::sys("inotify_add_watch " + c->dir);
  }
  LogFiles files(where.path, where.max_files);
  BERTH_TRY(files.read_all(reader));
  if (!reader.release()) return ok();
  if (!watch_exit || reader.past_until()) return ok();

  // Follow: new lines as the shim writes them, until the container stops.
  for (;;) {
    BERTH_TRY(files.read_current(reader));
    if (!reader.flush() || reader.past_until()) return ok();
    {
      std::lock_guard lk(c->mu);
      if ((!c->running_like() || c->removed) && !c->st.shim_active) {
        BERTH_TRY(files.read_current(reader));
        reader.flush();
        return ok();
      }
    }
    pollfd p[3] = {
        {inotify.get(), POLLIN, 0}, {watch_exit.get(), POLLIN, 0}, {client_fd, POLLRDHUP, 0}};
    int n = ::poll(p, client_fd >= 0 ? 3 : 2, -1);
    if (n < 0 && errno != EINTR) return Error::sys("poll");
    if (client_fd >= 0 && (p[2].revents & (POLLRDHUP | POLLHUP | POLLERR))) return ok();
    char buf[4096];
    while (::read(inotify.get(), buf, sizeof buf) > 0) {
    }
    uint64_t exits = 0;  // an exit: the next round sees the stopped state and finishes
    (void)!::read(watch_exit.get(), &exits, sizeof exits);
  }
}

Result<void> ContainerService::Impl::attach(const std::shared_ptr<Ctr>& c, const AttachRequest& req,
                                            const Hijack& hijack) {
  if (!req.detach_keys.empty() && !parse_detach_keys(req.detach_keys))
    return Error::invalid("Invalid detach keys (" + req.detach_keys + ") provided");
  shim::AttachOptions ao;
  ao.stdin = req.stdin && get_or(c->config, "OpenStdin", false);
  ao.stdout = req.stdout;
  ao.stderr = req.stderr;
  ao.stdin_once = get_or(c->config, "StdinOnce", false);
  ao.detach_keys = detach_sequence(req.detach_keys, c->tty(), ao.stdin);
  // Under `op` from before the client learns that it is attached until the stream is held or
  // handed to the shim: a start it sends meanwhile waits, so no output is missed. A log replay
  // lets go of `op` while it writes (replay_log_for_attach).
  std::unique_lock op(c->op);
  {
    std::lock_guard lk(c->mu);
    if (c->removed) return Error::not_found("No such container: " + c->id);
    if (c->st.status == "paused")
      return Error::conflict("You cannot attach to a paused container, unpause it first");
  }
  UniqueFd fd = BERTH_TRY(hijack());
  if (req.logs && (req.stdout || req.stderr)) {
    op.unlock();
    if (!replay_log_for_attach(c.get(), config.log_max_files, req, fd.get(), op)) return ok();
  }
  if (!req.stream) return ok();
  std::unique_lock lk(c->mu);
  if (c->removed) return ok();  // the stream just ends
  event(*c, "attach");
  if (c->st.status != "running") {
    c->held.push_back(HeldAttach{ao, std::move(fd)});
    return ok();
  }
  lk.unlock();
  auto client = BERTH_TRY(shim::Client::connect(shim_dir(c->id)));
  return client.attach(ao, fd.get());
}

}  // namespace berth::engine
