#include "sys/copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "util/fd.h"

namespace berth::sys {
namespace {

Result<void> copy_file(int src_dir, int dst_dir, const char* name, const struct stat& st) {
  UniqueFd in(::openat(src_dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!in) return Error::sys(std::string("open ") + name);
  UniqueFd out(::openat(dst_dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                        st.st_mode & 07777));
  if (!out) return Error::sys(std::string("create ") + name);
  off_t left = st.st_size;
  while (left > 0) {
    ssize_t n = ::sendfile(out.get(), in.get(), nullptr, static_cast<size_t>(left));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys(std::string("copy ") + name);
    }
    if (n == 0) break;
    left -= n;
  }
  if (::fchown(out.get(), st.st_uid, st.st_gid) < 0 || ::fchmod(out.get(), st.st_mode & 07777) < 0)
    return Error::sys(std::string("set owner of ") + name);
  return ok();
}

Result<void> copy_entries(int src, int dst, int depth) {
  if (depth > 256) return Error::from_errno(ELOOP, "directory tree too deep");
  UniqueFd list(::openat(src, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!list) return Error::sys("open directory");
  DIR* d = ::fdopendir(list.release());
  if (!d) return Error::sys("opendir");
  Result<void> r = ok();
  while (struct dirent* e = ::readdir(d)) {
    const char* name = e->d_name;
    if (!strcmp(name, ".") || !strcmp(name, "..")) continue;
    struct stat st;
    if (::fstatat(src, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      r = Error::sys(std::string("stat ") + name);
      break;
    }
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(dst, name, st.st_mode & 07777) < 0) {
        r = Error::sys(std::string("mkdir ") + name);
        break;
      }
      UniqueFd s(::openat(src, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      UniqueFd t(::openat(dst, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!s || !t) {
        r = Error::sys(std::string("open ") + name);
        break;
      }
      r = copy_entries(s.get(), t.get(), depth + 1);
      if (r && (::fchown(t.get(), st.st_uid, st.st_gid) < 0 ||
                ::fchmod(t.get(), st.st_mode & 07777) < 0))
        r = Error::sys(std::string("set owner of ") + name);
    } else if (S_ISREG(st.st_mode)) {
      r = copy_file(src, dst, name, st);
    } else if (S_ISLNK(st.st_mode)) {
      char buf[4096];
      ssize_t n = ::readlinkat(src, name, buf, sizeof buf - 1);
      if (n < 0) {
        r = Error::sys(std::string("readlink ") + name);
        break;
      }
      buf[n] = 0;
      if (::symlinkat(buf, dst, name) < 0 ||
          ::fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        r = Error::sys(std::string("symlink ") + name);
    } else {
      if (::mknodat(dst, name, st.st_mode, st.st_rdev) < 0 ||
          ::fchownat(dst, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0)
        r = Error::sys(std::string("mknod ") + name);
    }
    if (!r) break;
  }
  ::closedir(d);
  return r;
}

}  // namespace

Result<void> copy_tree(int src_dir, int dst_dir) {
  UniqueFd src(::openat(src_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  UniqueFd dst(::openat(dst_dir, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!src || !dst) return Error::sys("open directory to copy");
  struct stat st;
  if (::fstat(src.get(), &st) < 0) return Error::sys("stat");
  BERTH_TRY(copy_entries(src.get(), dst.get(), 0));
  if (::fchown(dst.get(), st.st_uid, st.st_gid) < 0 || ::fchmod(dst.get(), st.st_mode & 07777) < 0)
    return Error::sys("set owner of copy");
  return ok();
}

}  // namespace berth::sys
