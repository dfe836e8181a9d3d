// Logs (the json-file log the shim writes, read back with docker's options) and attach.
#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <deque>

#include "engine/containers_internal.h"
#include "util/log.h"

namespace berth::engine {
namespace {

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

std::string frame(bool err, std::string_view payload) {
  std::string out;
  out.reserve(8 + payload.size());
  out += static_cast<char>(err ? 2 : 1);
  out.append(3, '\0');
  uint32_t n = static_cast<uint32_t>(payload.size());
  out += static_cast<char>(n >> 24);
  out += static_cast<char>(n >> 16);
  out += static_cast<char>(n >> 8);
  out += static_cast<char>(n);
  out.append(payload);
  return out;
}

// Reads log files and turns their lines into what the client gets.
class LogReader {
 public:
  LogReader(const LogOptions& o, bool tty) : opts_(o), tty_(tty) {}

  // Feeds raw file bytes; complete lines become output chunks.
  void feed(std::string_view data) {
    pending_.append(data);
    size_t start = 0;
    for (;;) {
      size_t nl = pending_.find('\n', start);
      if (nl == std::string::npos) break;
      line(std::string_view(pending_).substr(start, nl - start));
      start = nl + 1;
    }
    pending_.erase(0, start);
  }
  std::deque<std::string>& out() { return out_; }
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
    out_.push_back(tty_ ? payload : frame(e->err, payload));
  }

  const LogOptions& opts_;
  bool tty_;
  std::string pending_;
  std::deque<std::string> out_;
  bool past_until_ = false;
};

Result<void> read_to_end(int fd, LogReader& r) {
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys("read the log");
    if (n == 0) return ok();
    r.feed(std::string_view(buf, static_cast<size_t>(n)));
  }
}

bool flush(LogReader& r, const Sink& sink) {
  auto& q = r.out();
  while (!q.empty()) {
    if (!sink(q.front())) return false;
    q.pop_front();
  }
  return true;
}

bool same_file(int fd, const std::string& path) {
  struct stat a {
  }, b{};
  if (fstat(fd, &a) != 0 || stat(path.c_str(), &b) != 0) return true;  // nothing new to open
  return a.st_ino == b.st_ino && a.st_dev == b.st_dev;
}

}  // namespace

Result<void> ContainerService::Impl::logs(const std::shared_ptr<Ctr>& c, const LogOptions& opts,
                                          const Sink& sink, int client_fd) {
  if (!opts.stdout && !opts.stderr)
    return Error::invalid("Bad parameters: you must choose at least one stream");
  std::string path;
  int max_files = config.log_max_files;
  UniqueFd watch_exit;
  bool running = false;
  {
    std::lock_guard lk(c->mu);
    const json& lc = get_or(c->host_config, "LogConfig", json::object());
    if (get_or(lc, "Type", "json-file") == "none")
      return Error::invalid("configured logging driver does not support reading");
    const json& cfg = get_or(lc, "Config", json::object());
    if (cfg.contains("max-file") && cfg["max-file"].is_string())
      max_files = std::max(1, atoi(cfg["max-file"].get<std::string>().c_str()));
    path = c->dir + "/" + c->id + "-json.log";
    running = c->running_like();
    if (opts.follow && running) {
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

  LogReader reader(opts, c->tty());
  UniqueFd inotify;
  if (watch_exit) {
    inotify.reset(inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    if (!inotify) return Error::sys("inotify_init");
    if (inotify_add_watch(inotify.get(), c->dir.c_str(), IN_MODIFY | IN_CREATE | IN_MOVED_TO) < 0)
      return Error::sys("inotify_add_watch " + c->dir);
  }
  // The current file first (so that a rotation while reading the old ones is seen), then the
  // rotated ones, oldest first.
  UniqueFd cur(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  for (int i = max_files - 1; i >= 1; i--) {
    UniqueFd f(::open((path + "." + std::to_string(i)).c_str(), O_RDONLY | O_CLOEXEC));
    if (f) BERTH_TRY(read_to_end(f.get(), reader));
  }
  if (cur) BERTH_TRY(read_to_end(cur.get(), reader));
  if (opts.tail) {
    auto& q = reader.out();
    while (q.size() > *opts.tail) q.pop_front();
  }
  if (!flush(reader, sink)) return ok();
  if (!watch_exit || reader.past_until()) return ok();

  // Follow: new lines as the shim writes them, until the container stops.
  for (;;) {
    if (!cur) cur.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (cur) {
      BERTH_TRY(read_to_end(cur.get(), reader));
      if (!same_file(cur.get(), path)) {  // rotated: finish the old file, go on with the new
        BERTH_TRY(read_to_end(cur.get(), reader));
        cur.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        continue;
      }
    }
    if (!flush(reader, sink) || reader.past_until()) return ok();
    {
      std::lock_guard lk(c->mu);
      if ((!c->running_like() || c->removed) && !c->st.shim_active) {
        if (cur) BERTH_TRY(read_to_end(cur.get(), reader));
        flush(reader, sink);
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
  shim::AttachOptions ao;
  ao.stdin = req.stdin && get_or(c->config, "OpenStdin", false);
  ao.stdout = req.stdout;
  ao.stderr = req.stderr;
  ao.stdin_once = get_or(c->config, "StdinOnce", false);
  // Under `op` from before the client learns that it is attached until the stream is held or
  // handed to the shim: a start it sends meanwhile waits, so no output is missed.
  std::lock_guard op(c->op);
  {
    std::lock_guard lk(c->mu);
    if (c->removed) return Error::not_found("No such container: " + c->id);
    if (c->st.status == "paused")
      return Error::conflict("You cannot attach to a paused container, unpause it first");
  }
  UniqueFd fd = BERTH_TRY(hijack());
  if (req.logs && (req.stdout || req.stderr)) {
    LogOptions lo;
    lo.stdout = req.stdout;
    lo.stderr = req.stderr;
    auto r = logs(
        c, lo, [&](std::string_view data) { return write_all(fd.get(), data).has_value(); }, -1);
    if (!r) log::debug("attach logs: " + r.error().what());
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
