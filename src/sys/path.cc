#include "sys/path.h"

#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <vector>

namespace berth::sys {
namespace {

long openat2_raw(int dirfd, const char* path, int flags, mode_t mode, uint64_t resolve) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = resolve;
  long r;
  do {
    r = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
  } while (r < 0 && (errno == EINTR || errno == EAGAIN));
  return r;
}

constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

}  // namespace

std::string clean_path(std::string_view path) {
  std::string out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view comp = path.substr(i, j - i);
    if (!comp.empty() && comp != ".") {
      out += '/';
      out += comp;
    }
    i = j + 1;
  }
  return out.empty() ? "/" : out;
}

std::pair<std::string, std::string> split_parent(std::string_view p) {
  size_t slash = p.rfind('/');
  if (slash == std::string_view::npos) return {".", std::string(p)};
  std::string parent(p.substr(0, slash));
  if (parent.empty()) parent = "/";
  return {parent, std::string(p.substr(slash + 1))};
}

std::string fd_path(int fd) {
  char link[64], buf[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, buf, sizeof buf - 1);
  if (n < 0) return "?";
  return std::string(buf, static_cast<size_t>(n));
}

Result<UniqueFd> open_in_root(int root_fd, std::string_view path, int flags, mode_t mode) {
  std::string p = clean_path(path);
  long fd = openat2_raw(root_fd, p.c_str(), flags | O_CLOEXEC, mode, kInRoot);
  if (fd < 0) return Error::sys("open \"" + p + "\" in container root");
  return UniqueFd(static_cast<int>(fd));
}

namespace {

// If `name` in `dirfd` is a symlink, the path to continue with instead of `prefix/name/rest`:
// its target taken inside the root (absolute targets from the root, relative ones from
// `parent`). Empty if it is not a symlink.
std::string follow_dangling(int dirfd, const std::string& name, const std::string& parent,
                            std::string_view rest) {
  char buf[4096];
  ssize_t n = ::readlinkat(dirfd, name.c_str(), buf, sizeof buf - 1);
  if (n <= 0) return {};
  std::string target(buf, static_cast<size_t>(n));
  std::string next = target[0] == '/' ? target : parent + "/" + target;
  if (!rest.empty()) next += "/" + std::string(rest);
  return next;
}

Result<UniqueFd> mkdir_all_depth(int root_fd, std::string_view path, mode_t mode, int depth) {
  if (depth > 40)
    return Error::from_errno(ELOOP, "mkdir \"" + std::string(path) + "\" in container root");
  std::string p = clean_path(path);
  // Fast path: it already exists.
  long fd = openat2_raw(root_fd, p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  if (errno != ENOENT) return Error::sys("open \"" + p + "\" in container root");
  // Common case: only the last component is missing (/dev/pts on a fresh /dev).
  if (auto [parent, name] = split_parent(p); name != ".." && name != ".") {
    long dir = openat2_raw(root_fd, parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
    if (dir >= 0) {
      UniqueFd d(static_cast<int>(dir));
      if (::mkdirat(d.get(), name.c_str(), mode) == 0) {
        fd = openat2_raw(root_fd, p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
        if (fd >= 0) return UniqueFd(static_cast<int>(fd));
      }
    }  // otherwise (a dangling symlink on the way, a race): the walk below sorts it out
  }

  // Walk component by component; each step re-resolves the prefix inside the root, so a
  // symlink met on the way is followed within the root only. A dangling symlink is followed
  // by creating its target (inside the root), as runc does.
  UniqueFd cur(::dup(root_fd));
  if (!cur) return Error::sys("dup");
  std::string prefix;
  size_t i = 1;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string comp = p.substr(i, j - i);
    std::string parent = prefix.empty() ? "/" : prefix;
    i = j + 1;
    if (comp.empty()) continue;
    prefix += "/" + comp;
    long next = openat2_raw(root_fd, prefix.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
    if (next < 0 && errno == ENOENT) {
      if (comp == "..") return Error::from_errno(ENOENT, "mkdir \"" + p + "\" in container root");
      if (::mkdirat(cur.get(), comp.c_str(), mode) < 0) {
        if (errno != EEXIST) return Error::sys("mkdir \"" + prefix + "\" in container root");
        std::string via = follow_dangling(cur.get(), comp, parent,
                                          i < p.size() ? std::string_view(p).substr(i) : "");
        if (!via.empty()) return mkdir_all_depth(root_fd, via, mode, depth + 1);
      }
      next = openat2_raw(root_fd, prefix.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
    }
    if (next < 0) return Error::sys("open \"" + prefix + "\" in container root");
    cur.reset(static_cast<int>(next));
  }
  return cur;
}

}  // namespace

Result<UniqueFd> mkdir_all_in_root(int root_fd, std::string_view path, mode_t mode) {
  return mkdir_all_depth(root_fd, path, mode, 0);
}

Result<bool> free_of_symlinks(int root_fd, std::string_view path) {
  std::string p = clean_path(path);
  long fd = openat2_raw(root_fd, p.c_str(), O_PATH | O_CLOEXEC, 0, kInRoot | RESOLVE_NO_SYMLINKS);
  if (fd >= 0) {
    ::close(static_cast<int>(fd));
    return true;
  }
  if (errno == ELOOP) return false;
  if (errno == ENOENT) return true;
  return Error::sys("open \"" + p + "\" in container root");
}

Result<UniqueFd> prepare_mount_target(int root_fd, std::string_view path, bool file) {
  std::string p = clean_path(path);
  if (!file) return mkdir_all_in_root(root_fd, p, 0755);

  long fd = openat2_raw(root_fd, p.c_str(), O_PATH | O_CLOEXEC, 0, kInRoot);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  if (errno != ENOENT) return Error::sys("open \"" + p + "\" in container root");
  auto [parent, name] = split_parent(p);
  BERTH_TRY(mkdir_all_in_root(root_fd, parent, 0755));
  // The parent is an O_PATH fd; create the file relative to a real directory fd.
  UniqueFd dirfd = BERTH_TRY(open_in_root(root_fd, parent, O_RDONLY | O_DIRECTORY));
  int f = ::openat(dirfd.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                   0644);
  if (f < 0 && errno != EEXIST) return Error::sys("create \"" + p + "\" in container root");
  if (f >= 0) ::close(f);
  if (f < 0) {
    static thread_local int depth = 0;
    std::string via = follow_dangling(dirfd.get(), name, parent, "");
    if (!via.empty() && depth < 40) {
      depth++;
      auto r = prepare_mount_target(root_fd, via, true);
      depth--;
      return r;
    }
  }
  fd = openat2_raw(root_fd, p.c_str(), O_PATH | O_CLOEXEC, 0, kInRoot);
  if (fd < 0) return Error::sys("open \"" + p + "\" in container root");
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace berth::sys
