#include "engine/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>
#include <memory>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "image/unpack.h"
#include "util/fd.h"
#include "util/strings.h"

namespace berth::engine {

namespace {

constexpr size_t kMaxDepth = 256;

// Go's os.FileMode type bits.
constexpr uint32_t kGoModeDir = 1u << 31, kGoModeSymlink = 1u << 27, kGoModeDevice = 1u << 26,
                   kGoModeNamedPipe = 1u << 25, kGoModeSocket = 1u << 24, kGoModeSetuid = 1u << 23,
                   kGoModeSetgid = 1u << 22, kGoModeCharDevice = 1u << 21, kGoModeSticky = 1u << 20;

uint32_t go_mode(mode_t m) {
  uint32_t g = m & 0777;
  switch (m & S_IFMT) {
    case S_IFDIR: g |= kGoModeDir; break;
    case S_IFLNK: g |= kGoModeSymlink; break;
    case S_IFBLK: g |= kGoModeDevice; break;
    case S_IFCHR: g |= kGoModeDevice | kGoModeCharDevice; break;
    case S_IFIFO: g |= kGoModeNamedPipe; break;
    case S_IFSOCK: g |= kGoModeSocket; break;
    default: break;
  }
  if (m & S_ISUID) g |= kGoModeSetuid;
  if (m & S_ISGID) g |= kGoModeSetgid;
  if (m & S_ISVTX) g |= kGoModeSticky;
  return g;
}

std::string rfc3339(const struct timespec& ts) {
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = buf;
  if (ts.tv_nsec) {
    char frac[16];
    snprintf(frac, sizeof frac, ".%09ld", ts.tv_nsec);
    std::string f = frac;
    while (f.back() == '0') f.pop_back();
    out += f;
  }
  return out + "Z";
}

Result<UniqueFd> open_root(const std::string& rootfs) {
  UniqueFd fd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::sys("open the container's root filesystem " + berth::quoted(rootfs));
  return fd;
}

// `path` (cleaned) inside the root; the last component is not followed when nofollow.
// `shown` is the client's path, for the messages.
Result<UniqueFd> resolve(int root, const std::string& path, int flags, bool nofollow,
                         std::string_view ref, const std::string& shown) {
  std::string rel = path;
  while (!rel.empty() && rel.front() == '/') rel.erase(0, 1);
  while (rel.size() > 1 && rel.back() == '/') rel.pop_back();
  if (rel.empty()) rel = ".";
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC | (nofollow ? O_NOFOLLOW : 0));
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  int fd = static_cast<int>(::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how));
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ENOTDIR)
      return Error::not_found("Could not find the file " + shown + " in container " +
                              std::string(ref));
    return Error::from_errno(err, "open " + berth::quoted(shown) + " in the container");
  }
  return UniqueFd(fd);
}

// The client's path as docker sees it: absolute and cleaned lexically (Go's filepath.Clean:
// "." and empty components dropped, ".." removes the one before it and stays at the root), then
// a trailing "/" or "/." the client gave put back (they mean "the directory's contents").
// "/..", "/etc/../.." and "../x" all stay inside the root: "/" and "/x".
std::string clean_path(std::string_view path) {
  std::vector<std::string_view> parts;
  for (std::string_view p : berth::split(path, '/', true)) {
    if (p == ".") continue;
    if (p == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(p);
  }
  std::string out;
  for (std::string_view p : parts) {
    out += '/';
    out += p;
  }
  if (out.empty()) out = "/";
  std::string_view last = path;
  while (last.size() > 1 && last.back() == '/') last.remove_suffix(1);
  if (last == "." || last.ends_with("/.")) out += out.back() == '/' ? "." : "/.";
  if (path.ends_with('/') && out.back() != '/') out += '/';
  return out;
}

std::string base_name(const std::string& path) {
  std::string p = path;
  while (p.size() > 1 && p.back() == '/') p.pop_back();
  size_t slash = p.rfind('/');
  std::string b = slash == std::string::npos ? p : p.substr(slash + 1);
  return b.empty() || b == "/" ? "/" : b;
}

// A readable fd for the object open as the O_PATH fd `path_fd`, whose fstat is `st`. The
// object is reopened through the fd itself (/proc/self/fd), never by name: a process in the
// container may rename another file (a FIFO, a device node, a symlink) into its place between
// our stat and the open, and a name would then lead us to it (a FIFO would block berthd). The
// fd's inode cannot change; the dev/ino check makes sure of what was opened.
Result<UniqueFd> reopen(int path_fd, const struct stat& st, int flags, const std::string& name) {
  std::string proc = "/proc/self/fd/" + std::to_string(path_fd);
  UniqueFd fd(::open(proc.c_str(), flags | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (!fd) return Error::sys("open " + berth::quoted(name));
  struct stat now;
  if (::fstat(fd.get(), &now) != 0) return Error::sys("stat " + berth::quoted(name));
  if (now.st_dev != st.st_dev || now.st_ino != st.st_ino ||
      (now.st_mode & S_IFMT) != (st.st_mode & S_IFMT))
    return Error(ErrorKind::Io, 0, "open " + berth::quoted(name) + ": the file changed");
  // Reads of a regular file never block; O_NONBLOCK only guarded the open.
  int fl = ::fcntl(fd.get(), F_GETFL);
  if (fl >= 0) (void)::fcntl(fd.get(), F_SETFL, fl & ~O_NONBLOCK);
  return fd;
}

// libarchive writer into a sink.
struct TarWriter {
  const std::function<bool(std::string_view)>& sink;
  struct archive* a = nullptr;
  bool client_gone = false;

  static la_ssize_t write_cb(struct archive*, void* self, const void* buf, size_t len) {
    auto* w = static_cast<TarWriter*>(self);
    if (!w->sink(std::string_view(static_cast<const char*>(buf), len))) {
      w->client_gone = true;
      return -1;
    }
    return static_cast<la_ssize_t>(len);
  }

  Error error(std::string_view what) const {
    if (client_gone) return Error(ErrorKind::Io, 0, "the client went away");
    return Error(ErrorKind::Io, archive_errno(a),
                 std::string(what) + ": " + (archive_error_string(a) ?: "tar error"));
  }

  // One entry (named `name` in the tar) for the object open as `fd` (O_PATH, not followed);
  // recurses into directories.
  Result<void> add(int fd, const std::string& name, size_t depth) {
    if (depth > kMaxDepth)
      return Error::invalid("directory tree too deep at " + berth::quoted(name));
    struct stat st;
    if (::fstatat(fd, "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
      return Error::sys("stat " + berth::quoted(name));
    std::unique_ptr<archive_entry, void (*)(archive_entry*)> e(archive_entry_new(),
                                                               archive_entry_free);
    archive_entry_copy_stat(e.get(), &st);
    archive_entry_set_pathname(e.get(), S_ISDIR(st.st_mode) ? (name + "/").c_str() : name.c_str());
    if (S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t n = ::readlinkat(fd, "", target, sizeof target - 1);
      if (n < 0) return Error::sys("readlink " + berth::quoted(name));
      target[n] = 0;
      archive_entry_set_symlink(e.get(), target);
      archive_entry_set_size(e.get(), 0);
    } else if (!S_ISREG(st.st_mode)) {
      archive_entry_set_size(e.get(), 0);
    }
    UniqueFd data;
    if (S_ISREG(st.st_mode)) data = BERTH_TRY(reopen(fd, st, O_RDONLY, name));
    if (archive_write_header(a, e.get()) != ARCHIVE_OK) return error("write tar header");
    if (data) {
      char buf[64 << 10];
      int64_t left = st.st_size;  // what the header promised
      while (left > 0) {
        ssize_t n =
            ::read(data.get(), buf, static_cast<size_t>(std::min<int64_t>(left, sizeof buf)));
        if (n < 0) {
          if (errno == EINTR) continue;
          return Error::sys("read " + berth::quoted(name));
        }
        if (n == 0) break;  // shrank while we read: libarchive pads the entry
        if (archive_write_data(a, buf, static_cast<size_t>(n)) < 0) return error("write tar data");
        left -= n;
      }
    }
    if (!S_ISDIR(st.st_mode)) return ok();
    UniqueFd d = BERTH_TRY(reopen(fd, st, O_RDONLY | O_DIRECTORY, name));
    std::vector<std::string> names;
    {
      int copy = ::fcntl(d.get(), F_DUPFD_CLOEXEC, 0);
      DIR* dp = copy < 0 ? nullptr : ::fdopendir(copy);
      if (!dp) {
        int err = errno;
        if (copy >= 0) ::close(copy);
        return Error::from_errno(err, "read directory " + berth::quoted(name));
      }
      while (struct dirent* de = ::readdir(dp)) {
        std::string n = de->d_name;
        if (n != "." && n != "..") names.push_back(std::move(n));
      }
      ::closedir(dp);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& n : names) {
      UniqueFd child(::openat(d.get(), n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
      if (!child) {
        if (errno == ENOENT) continue;  // removed meanwhile
        return Error::sys("open " + berth::quoted(name + "/" + n));
      }
      BERTH_TRY(add(child.get(), name + "/" + n, depth + 1));
    }
    return ok();
  }
};

}  // namespace

std::string path_stat_header(const PathStat& st) {
  nlohmann::json j = {{"name", st.name},
                      {"size", st.size},
                      {"mode", st.mode},
                      {"mtime", st.mtime},
                      {"linkTarget", st.link_target}};
  return base64_encode(j.dump());
}

Result<PathStat> stat_in_root(const std::string& rootfs, const std::string& client_path,
                              std::string_view ref) {
  const std::string path = clean_path(client_path);
  UniqueFd root = BERTH_TRY(open_root(rootfs));
  UniqueFd fd = BERTH_TRY(resolve(root.get(), path, O_PATH, true, ref, client_path));
  struct stat st;
  if (::fstatat(fd.get(), "", &st, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW) != 0)
    return Error::sys("stat " + berth::quoted(client_path));
  PathStat out;
  out.name = base_name(path);
  out.size = st.st_size;
  out.mode = go_mode(st.st_mode);
  out.mtime = rfc3339(st.st_mtim);
  if (S_ISLNK(st.st_mode)) {
    char target[4096];
    ssize_t n = ::readlinkat(fd.get(), "", target, sizeof target - 1);
    if (n >= 0) out.link_target.assign(target, static_cast<size_t>(n));
  }
  return out;
}

Result<void> tar_from_root(const std::string& rootfs, const std::string& client_path,
                           const std::function<bool(std::string_view)>& sink) {
  const std::string path = clean_path(client_path);
  UniqueFd root = BERTH_TRY(open_root(rootfs));
  std::string base = base_name(path);
  // The parent, resolved in the root; the entry itself is then opened without following. A
  // clean path has no ".." left, so the entry is the parent's child or ("/." and "/x/.") the
  // parent itself: never above the root.
  if (base == "..") return Error::invalid("invalid path " + berth::quoted(client_path));
  std::string parent = path;
  while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  parent = parent.substr(0, parent.rfind('/') + 1);
  UniqueFd dir = BERTH_TRY(resolve(root.get(), parent, O_PATH | O_DIRECTORY, false, "", parent));
  UniqueFd entry;
  std::string name = base;
  if (base == "/") {
    dir = BERTH_TRY(resolve(root.get(), "/", O_PATH | O_DIRECTORY, false, "", "/"));
    name = base_name(rootfs);
    base = ".";
  }
  entry.reset(::openat(dir.get(), base.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!entry) return Error::sys("open " + berth::quoted(client_path));
  TarWriter w{sink};
  w.a = archive_write_new();
  std::unique_ptr<struct archive, int (*)(struct archive*)> guard(w.a, archive_write_free);
  archive_write_set_format_pax_restricted(w.a);
  archive_write_set_bytes_in_last_block(w.a, 1);
  if (archive_write_open2(w.a, &w, nullptr, &TarWriter::write_cb, nullptr, nullptr) != ARCHIVE_OK)
    return w.error("start tar");
  BERTH_TRY(w.add(entry.get(), name, 0));
  if (archive_write_close(w.a) != ARCHIVE_OK) return w.error("finish tar");
  return ok();
}

Result<void> untar_into_root(const std::string& rootfs, const std::string& client_path,
                             std::string_view ref,
                             const std::function<Result<size_t>(char*, size_t)>& read) {
  const std::string path = clean_path(client_path);
  UniqueFd root = BERTH_TRY(open_root(rootfs));
  UniqueFd dest = BERTH_TRY(resolve(root.get(), path, O_PATH, false, ref, client_path));
  struct stat st;
  if (::fstat(dest.get(), &st) != 0) return Error::sys("stat " + berth::quoted(client_path));
  if (!S_ISDIR(st.st_mode)) return Error::invalid("extraction point is not a directory");
  // unpack_layer reads an fd: the body goes through a pipe from a feeder thread.
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return Error::sys("pipe");
  UniqueFd rd(p[0]), wr(p[1]);
  Result<void> fed = ok();
  std::thread feeder([&] {
    char buf[64 << 10];
    for (;;) {
      Result<size_t> n = read(buf, sizeof buf);
      if (!n) {
        fed = std::move(n).error();
        break;
      }
      if (*n == 0) break;
      if (!write_all(wr.get(), std::string_view(buf, *n))) break;  // the reader stopped
    }
    wr.reset();
  });
  image::UnpackOptions opts;
  opts.whiteouts = false;
  Result<image::UnpackResult> r = image::unpack_layer(rd.get(), dest.get(), opts);
  rd.reset();  // unblocks a feeder stuck writing after an error
  feeder.join();
  if (!fed) return std::move(fed).error().wrap("read the request body");
  if (!r) {
    Error e = std::move(r).error();
    return Error(ErrorKind::InvalidArgument, e.errno_value(),
                 "extract the archive into " + berth::quoted(client_path) + ": " + e.message());
  }
  return ok();
}

}  // namespace berth::engine
