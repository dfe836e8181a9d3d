#include "sys/mount_api.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstring>

namespace berth::sys {
namespace {

int fsopen_(const char* fs, unsigned flags) {
  return static_cast<int>(syscall(SYS_fsopen, fs, flags));
}
int fsconfig_(int fd, unsigned cmd, const char* key, const void* val, int aux) {
  return static_cast<int>(syscall(SYS_fsconfig, fd, cmd, key, val, aux));
}
int fsmount_(int fd, unsigned flags, unsigned attrs) {
  return static_cast<int>(syscall(SYS_fsmount, fd, flags, attrs));
}
int open_tree_(int dfd, const char* path, unsigned flags) {
  return static_cast<int>(syscall(SYS_open_tree, dfd, path, flags));
}
int move_mount_(int from_dfd, const char* from, int to_dfd, const char* to, unsigned flags) {
  return static_cast<int>(syscall(SYS_move_mount, from_dfd, from, to_dfd, to, flags));
}
int mount_setattr_(int dfd, const char* path, unsigned flags, struct mount_attr* attr) {
  return static_cast<int>(syscall(SYS_mount_setattr, dfd, path, flags, attr, sizeof *attr));
}

struct AttrWord {
  const char* name;
  uint64_t attr;
  bool clear;  // the word clears the attribute
};

// MOUNT_ATTR_NOATIME etc. live in the MOUNT_ATTR__ATIME field: setting one means clearing the
// whole field first.
constexpr AttrWord kAttrWords[] = {
    {"ro", MOUNT_ATTR_RDONLY, false},
    {"rw", MOUNT_ATTR_RDONLY, true},
    {"nosuid", MOUNT_ATTR_NOSUID, false},
    {"suid", MOUNT_ATTR_NOSUID, true},
    {"nodev", MOUNT_ATTR_NODEV, false},
    {"dev", MOUNT_ATTR_NODEV, true},
    {"noexec", MOUNT_ATTR_NOEXEC, false},
    {"exec", MOUNT_ATTR_NOEXEC, true},
    {"nodiratime", MOUNT_ATTR_NODIRATIME, false},
    {"diratime", MOUNT_ATTR_NODIRATIME, true},
    {"nosymfollow", MOUNT_ATTR_NOSYMFOLLOW, false},
    {"symfollow", MOUNT_ATTR_NOSYMFOLLOW, true},
};

constexpr const char* kSbFlags[] = {"sync", "dirsync", "lazytime", "mand", "silent"};
// Words that are accepted and mean nothing more here.
constexpr const char* kIgnored[] = {"async", "nomand", "defaults", "nolazytime", "loud"};

bool set_atime(std::string_view w, uint64_t& set, uint64_t& clr) {
  uint64_t v;
  if (w == "noatime")
    v = MOUNT_ATTR_NOATIME;
  else if (w == "relatime")
    v = MOUNT_ATTR_RELATIME;
  else if (w == "strictatime")
    v = MOUNT_ATTR_STRICTATIME;
  else if (w == "atime" || w == "norelatime" || w == "nostrictatime")
    v = MOUNT_ATTR_RELATIME;
  else
    return false;
  set = (set & ~static_cast<uint64_t>(MOUNT_ATTR__ATIME)) | v;
  clr |= MOUNT_ATTR__ATIME;
  return true;
}

}  // namespace

std::string fs_context_message(int fsfd) {
  std::string out;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(fsfd, buf, sizeof buf - 1);
    if (n <= 0) break;
    buf[n] = 0;
    // Lines look like "e tmpfs: Bad value for 'size'"; keep the text after the level letter.
    const char* text = (n > 2 && buf[1] == ' ') ? buf + 2 : buf;
    if (!out.empty()) out += "; ";
    out += text;
    while (!out.empty() && out.back() == '\n') out.pop_back();
  }
  return out;
}

std::pair<uint64_t, bool> propagation_from_name(std::string_view n) {
  bool rec = false;
  if (n.size() > 1 && n[0] == 'r' && n != "rw" && n != "ro") {
    std::string_view rest = n.substr(1);
    if (rest == "shared" || rest == "slave" || rest == "private" || rest == "unbindable") {
      rec = true;
      n = rest;
    }
  }
  if (n == "shared") return {MS_SHARED, rec};
  if (n == "slave") return {MS_SLAVE, rec};
  if (n == "private") return {MS_PRIVATE, rec};
  if (n == "unbindable") return {MS_UNBINDABLE, rec};
  return {0, false};
}

MountOptions parse_mount_options(const std::vector<std::string>& options) {
  MountOptions o;
  for (const std::string& w : options) {
    if (w == "bind") {
      o.bind = true;
      continue;
    }
    if (w == "rbind") {
      o.bind = true;
      o.recursive = true;
      continue;
    }
    if (w == "tmpcopyup") {
      o.tmpcopyup = true;
      continue;
    }
    if (w == "idmap" || w == "ridmap") {
      o.idmap = true;
      continue;
    }
    if (auto [prop, rec] = propagation_from_name(w); prop) {
      o.propagation = prop;
      o.propagation_recursive = rec;
      continue;
    }
    if (set_atime(w, o.attr_set, o.attr_clr)) continue;
    bool done = false;
    for (const AttrWord& a : kAttrWords) {
      if (w == a.name) {
        (a.clear ? o.attr_clr : o.attr_set) |= a.attr;
        (a.clear ? o.attr_set : o.attr_clr) &= ~a.attr;
        done = true;
      } else if (w.size() > 1 && w[0] == 'r' && w.substr(1) == a.name) {
        (a.clear ? o.rattr_clr : o.rattr_set) |= a.attr;
        (a.clear ? o.rattr_set : o.rattr_clr) &= ~a.attr;
        done = true;
      }
    }
    if (done) continue;
    for (const char* f : kSbFlags)
      if (w == f) {
        o.sb_flags.push_back(w);
        done = true;
      }
    for (const char* f : kIgnored)
      if (w == f) done = true;
    if (done) continue;
    size_t eq = w.find('=');
    if (eq == std::string::npos)
      o.data.emplace_back(w, std::string());
    else
      o.data.emplace_back(w.substr(0, eq), w.substr(eq + 1));
  }
  return o;
}

unsigned long MountOptions::legacy_flags() const {
  unsigned long f = 0;
  uint64_t a = attr_set | rattr_set;
  if (a & MOUNT_ATTR_RDONLY) f |= MS_RDONLY;
  if (a & MOUNT_ATTR_NOSUID) f |= MS_NOSUID;
  if (a & MOUNT_ATTR_NODEV) f |= MS_NODEV;
  if (a & MOUNT_ATTR_NOEXEC) f |= MS_NOEXEC;
  if (bind) f |= MS_BIND | (recursive ? MS_REC : 0);
  return f;
}

Result<UniqueFd> make_fs_mount(const std::string& type, const std::string& source,
                               const MountOptions& opts) {
  UniqueFd fs(fsopen_(type.c_str(), FSOPEN_CLOEXEC));
  if (!fs) return Error::sys("fsopen " + type);
  auto fail = [&](const std::string& what) {
    int e = errno;
    std::string msg = fs_context_message(fs.get());
    return Error::from_errno(e, what + (msg.empty() ? "" : " (" + msg + ")"));
  };
  if (!source.empty() && fsconfig_(fs.get(), FSCONFIG_SET_STRING, "source", source.c_str(), 0) < 0)
    return fail("set source \"" + source + "\"");
  for (const std::string& f : opts.sb_flags)
    if (fsconfig_(fs.get(), FSCONFIG_SET_FLAG, f.c_str(), nullptr, 0) < 0)
      return fail("set option \"" + f + "\"");
  for (const auto& [k, v] : opts.data) {
    int r = v.empty() ? fsconfig_(fs.get(), FSCONFIG_SET_FLAG, k.c_str(), nullptr, 0)
                      : fsconfig_(fs.get(), FSCONFIG_SET_STRING, k.c_str(), v.c_str(), 0);
    if (r < 0) return fail("set option \"" + k + (v.empty() ? "" : "=" + v) + "\"");
  }
  if (fsconfig_(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return fail("create " + type + " filesystem");
  unsigned attrs = static_cast<unsigned>(opts.attr_set | opts.rattr_set);
  UniqueFd mnt(fsmount_(fs.get(), FSMOUNT_CLOEXEC, attrs));
  if (!mnt) return fail("fsmount " + type);
  return mnt;
}

Result<UniqueFd> make_bind_mount(int source_dirfd, const std::string& path, bool recursive) {
  unsigned flags = OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | (recursive ? AT_RECURSIVE : 0);
  if (path.empty()) flags |= AT_EMPTY_PATH;
  UniqueFd t(open_tree_(source_dirfd, path.c_str(), flags));
  if (!t) return Error::sys("bind \"" + (path.empty() ? std::string("fd") : path) + "\"");
  return t;
}

Result<void> set_mount_attrs(int mount_fd, const MountOptions& o) {
  if (o.attr_set || o.attr_clr) {
    struct mount_attr a = {};
    a.attr_set = o.attr_set;
    a.attr_clr = o.attr_clr;
    if (mount_setattr_(mount_fd, "", AT_EMPTY_PATH, &a) < 0)
      return Error::sys("set mount attributes");
  }
  if (o.rattr_set || o.rattr_clr) {
    struct mount_attr a = {};
    a.attr_set = o.rattr_set;
    a.attr_clr = o.rattr_clr;
    if (mount_setattr_(mount_fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &a) < 0)
      return Error::sys("set recursive mount attributes");
  }
  return ok();
}

Result<void> set_propagation(int mount_fd, uint64_t propagation, bool recursive) {
  if (!propagation) return ok();
  struct mount_attr a = {};
  a.propagation = propagation;
  if (mount_setattr_(mount_fd, "", AT_EMPTY_PATH | (recursive ? AT_RECURSIVE : 0), &a) < 0)
    return Error::sys("set mount propagation");
  return ok();
}

Result<void> attach_mount(int mount_fd, int target_fd) {
  if (move_mount_(mount_fd, "", target_fd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) <
      0)
    return Error::sys("move_mount");
  return ok();
}

Result<void> bind_readonly_over(int target_fd) {
  UniqueFd t(open_tree_(target_fd, "",
                        OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE));
  if (!t) return Error::sys("clone mount");
  struct mount_attr a = {};
  a.attr_set = MOUNT_ATTR_RDONLY;
  if (mount_setattr_(t.get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &a) < 0)
    return Error::sys("set read-only");
  return attach_mount(t.get(), target_fd);
}

}  // namespace berth::sys
