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

Result<UniqueFd> mkdir_all_in_root(int root_fd, std::string_view path, mode_t mode) {
  std::string p = clean_path(path);
  // Fast path: it already exists.
  long fd = openat2_raw(root_fd, p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  if (errno != ENOENT) return Error::sys("open \"" + p + "\" in container root");

  // Walk component by component; each step re-resolves the prefix inside the root, so a
  // symlink met on the way is followed within the root only.
  UniqueFd cur(::dup(root_fd));
  if (!cur) return Error::sys("dup");
  std::string prefix;
  size_t i = 1;
  while (i <= p.size()) {
    size_t j = p.find('/', i);
    if (j == std::string::npos) j = p.size();
    std::string comp = p.substr(i, j - i);
    i = j + 1;
    if (comp.empty()) continue;
    prefix += "/" + comp;
    long next = openat2_raw(root_fd, prefix.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
    if (next < 0 && errno == ENOENT) {
      if (comp == "..") return Error::from_errno(ENOENT, "mkdir \"" + p + "\" in container root");
      if (::mkdirat(cur.get(), comp.c_str(), mode) < 0 && errno != EEXIST)
        return Error::sys("mkdir \"" + prefix + "\" in container root");
      next = openat2_raw(root_fd, prefix.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC, 0, kInRoot);
    }
    if (next < 0) return Error::sys("open \"" + prefix + "\" in container root");
    cur.reset(static_cast<int>(next));
  }
  return cur;
}

Result<UniqueFd> prepare_mount_target(int root_fd, std::string_view path, bool file) {
  std::string p = clean_path(path);
  if (!file) return mkdir_all_in_root(root_fd, p, 0755);

  long fd = openat2_raw(root_fd, p.c_str(), O_PATH | O_CLOEXEC, 0, kInRoot);
  if (fd >= 0) return UniqueFd(static_cast<int>(fd));
  if (errno != ENOENT) return Error::sys("open \"" + p + "\" in container root");
  auto [parent, name] = split_parent(p);
  UniqueFd dir = BERTH_TRY(mkdir_all_in_root(root_fd, parent, 0755));
  // The parent is an O_PATH fd; create the file relative to a real directory fd.
  UniqueFd dirfd = BERTH_TRY(open_in_root(root_fd, parent, O_RDONLY | O_DIRECTORY));
  int f = ::openat(dirfd.get(), name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW,
                   0644);
  if (f < 0 && errno != EEXIST) return Error::sys("create \"" + p + "\" in container root");
  if (f >= 0) ::close(f);
  fd = openat2_raw(root_fd, p.c_str(), O_PATH | O_CLOEXEC, 0, kInRoot);
  if (fd < 0) return Error::sys("open \"" + p + "\" in container root");
  return UniqueFd(static_cast<int>(fd));
}

}  // namespace berth::sys
