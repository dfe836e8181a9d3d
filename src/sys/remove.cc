#include "sys/remove.h"

#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "util/fd.h"

namespace berth::sys {

Result<void> remove_tree_at(int dirfd, const char* name) {
  UniqueFd fd(::openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return ok();
    if (errno == ENOTDIR) {
      if (::unlinkat(dirfd, name, 0) < 0 && errno != ENOENT)
        return Error::sys(std::string("remove ") + name);
      return ok();
    }
    return Error::sys(std::string("open ") + name);
  }
  DIR* d = ::fdopendir(::dup(fd.get()));
  if (!d) return Error::sys(std::string("opendir ") + name);
  while (struct dirent* e = ::readdir(d)) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (e->d_type == DT_DIR) {
      auto r = remove_tree_at(fd.get(), e->d_name);
      if (!r) {
        ::closedir(d);
        return r;
      }
    } else if (::unlinkat(fd.get(), e->d_name, 0) < 0 && errno != ENOENT) {
      ::closedir(d);
      return Error::sys(std::string("remove ") + e->d_name);
    }
  }
  ::closedir(d);
  if (::unlinkat(dirfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
    return Error::sys(std::string("remove ") + name);
  return ok();
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
