#include "sys/remove.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vector>

#include "util/fd.h"

namespace berth::sys {

namespace {

Result<void> remove_tree_below(int pfd, const char* name, int depth) {
  if (depth > 4096) return Error::from_errno(ELOOP, std::string("remove ") + name);
  int dfd = ::openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    if (errno == ENOENT) return ok();
    if (errno == ENOTDIR || errno == ELOOP) {
      if (::unlinkat(pfd, name, 0) < 0 && errno != ENOENT)
        return Error::sys(std::string("remove ") + name);
      return ok();
    }
    return Error::sys(std::string("open ") + name);
  }
  DIR* dp = ::fdopendir(dfd);
  if (!dp) {
    ::close(dfd);
    return Error::sys(std::string("open ") + name);
  }
  std::vector<std::pair<std::string, bool>> kids;
  while (struct dirent* de = ::readdir(dp)) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    bool dir = de->d_type == DT_DIR;
    if (de->d_type == DT_UNKNOWN) {
      struct stat st;
      dir = ::fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    kids.emplace_back(de->d_name, dir);
  }
  Result<void> r;
  for (auto& [k, dir] : kids) {
    if (dir) {
      r = remove_tree_below(dfd, k.c_str(), depth + 1);
    } else if (::unlinkat(dfd, k.c_str(), 0) < 0 && errno != ENOENT) {
      r = Error::sys("remove " + k);
    }
    if (!r) break;
  }
  ::closedir(dp);
  if (!r) return r;
  if (::unlinkat(pfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return Error::sys(std::string("remove ") + name);
  return ok();
}

}  // namespace

Result<void> remove_tree_at(int dirfd, const char* name) {
  return remove_tree_below(dirfd, name, 0);
}

Result<void> remove_tree(const std::string& path) {
  std::string parent = ".", name = path;
  if (size_t slash = path.find_last_of('/'); slash != std::string::npos) {
    parent = slash == 0 ? "/" : path.substr(0, slash);
    name = path.substr(slash + 1);
  }
  if (name.empty() || name == "." || name == "..")
    return Error::invalid("remove \"" + path + "\": not a removable path");
  UniqueFd dir(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir) return errno == ENOENT ? ok() : Error::sys("open \"" + parent + "\"");
  auto r = remove_tree_at(dir.get(), name.c_str());
  if (!r) return std::move(r).error().wrap("remove \"" + path + "\"");
  return ok();
}

}  // namespace berth::sys
