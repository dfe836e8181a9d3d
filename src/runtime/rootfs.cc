// The init's filesystem steps: make the root a mount of its own, mount everything config.json
// asks for, create devices, pivot into it, then lock down masked and read-only paths.
// Every path inside the rootfs is resolved with sys::open_in_root / prepare_mount_target.
#include <fcntl.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "runtime/internal.h"
#include "sys/copy.h"
#include "sys/mount_api.h"
#include "sys/path.h"
#include "util/strings.h"

namespace berth::runtime::init {
namespace {

Result<void> set_root_propagation(const oci::Linux* l) {
  unsigned long flags = MS_SLAVE | MS_REC;
  if (l && !l->rootfs_propagation.empty()) {
    auto [prop, rec] = sys::propagation_from_name(l->rootfs_propagation);
    flags = prop | (rec ? MS_REC : 0);
  }
  if (::mount(nullptr, "/", nullptr, flags, nullptr) < 0)
    return Error::sys("set propagation of \"/\"");
  return ok();
}

// Binds the rootfs onto itself so it is a mount point pivot_root can use; returns the new
// mount's fd, through which everything below resolves.
Result<UniqueFd> bind_rootfs(InitContext& ctx) {
  // Fds opened before the mount namespace was unshared refer to the parent's mounts, which
  // open_tree cannot clone: re-open in ours (the parent checked what the path is).
  ctx.rootfs_fd.reset(::open(ctx.rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!ctx.rootfs_fd) return Error::sys("open rootfs " + quoted(ctx.rootfs));
  ctx.host_devnull.reset(::open("/dev/null", O_PATH | O_CLOEXEC));
  struct stat st;
  if (!ctx.host_devnull || ::fstat(ctx.host_devnull.get(), &st) < 0 || !S_ISCHR(st.st_mode) ||
      st.st_rdev != makedev(1, 3))
    return Error::invalid("/dev/null is not the null device");
  UniqueFd tree = BERTH_TRY_CTX(sys::make_bind_mount(ctx.rootfs_fd.get(), "", true),
                                "bind rootfs " + quoted(ctx.rootfs));
  BERTH_TRY_CTX(sys::attach_mount(tree.get(), ctx.rootfs_fd.get()),
                "bind rootfs " + quoted(ctx.rootfs));
  return tree;  // after move_mount the fd refers to the attached mount
}

struct CgroupHierarchy {
  std::string mountpoint_name;  // "cpu,cpuacct", "unified"
  std::string fstype;           // cgroup | cgroup2
  std::string super_options;    // "rw,cpu,cpuacct"
};

std::vector<CgroupHierarchy> host_cgroup_hierarchies() {
  std::vector<CgroupHierarchy> out;
  auto text = read_file("/proc/self/mountinfo", 16 << 20);
  if (!text) return out;
  for (std::string_view line : split(*text, '\n', true)) {
    // id parent maj:min root mountpoint options [optional...] - fstype source superopts
    size_t dash = line.find(" - ");
    if (dash == std::string_view::npos) continue;
    auto pre = split_fields(line.substr(0, dash)), post = split_fields(line.substr(dash + 3));
    if (pre.size() < 5 || post.size() < 3) continue;
    std::string mp(pre[4]), fstype(post[0]), superopts(post[2]);
    if ((fstype != "cgroup" && fstype != "cgroup2") || mp.rfind("/sys/fs/cgroup/", 0) != 0)
      continue;
    std::string name = mp.substr(strlen("/sys/fs/cgroup/"));
    if (name.empty() || name.find('/') != std::string::npos) continue;
    out.push_back({name, fstype, superopts});
  }
  return out;
}

// The host path of the container's cgroup in the hierarchy mounted at `mountpoint`: its own
// cgroup where the runtime made one, else the cgroup the init inherited (hierarchies the
// runtime does not manage, such as name=systemd).
std::string cgroup_source(const InitContext& ctx, const CgroupHierarchy& h) {
  std::string base = "/sys/fs/cgroup/" + h.mountpoint_name;
  struct stat st;
  if (!ctx.cgroup_path.empty() && ::stat((base + ctx.cgroup_path).c_str(), &st) == 0)
    return base + ctx.cgroup_path;
  std::vector<std::string_view> opts = split(h.super_options, ',');
  for (const auto& [controllers, path] : ctx.inherited_cgroups) {
    if (controllers.empty()) {
      if (h.fstype == "cgroup2") return base + path;
      continue;
    }
    if (h.fstype != "cgroup") continue;
    bool all = true;
    for (std::string_view c : split(controllers, ','))
      all &= std::find(opts.begin(), opts.end(), c) != opts.end();
    if (all) return base + path;
  }
  return base;
}

// A "cgroup" mount shows the container its own cgroup: binds of its directories, which is
// what a cgroup-namespaced mount would show, at a fraction of the cost (mounting a cgroup
// superblock takes over a millisecond; a bind, tens of microseconds). v2 hosts: one bind;
// v1/hybrid hosts: a tmpfs with one bind per hierarchy (the host's layout), made read-only at
// the end if asked.
Result<void> mount_cgroup(InitContext& ctx, int root_fd, const oci::Mount& m,
                          const sys::MountOptions& opts) {
  UniqueFd target = BERTH_TRY(sys::prepare_mount_target(root_fd, m.destination, false));
  sys::MountOptions bind_opts;
  bind_opts.attr_set = (opts.attr_set & MOUNT_ATTR_RDONLY) | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV |
                       MOUNT_ATTR_NOEXEC;
  if (cgroup::host_layout() == cgroup::Layout::V2) {
    std::string src = "/sys/fs/cgroup" + ctx.cgroup_path;
    UniqueFd tree = BERTH_TRY(sys::make_bind_mount(AT_FDCWD, src, true));
    BERTH_TRY(sys::set_mount_attrs(tree.get(), bind_opts));
    return sys::attach_mount(tree.get(), target.get());
  }
  sys::MountOptions tmpfs_opts;
  tmpfs_opts.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
  tmpfs_opts.data = {{"mode", "755"}};
  UniqueFd tmp = BERTH_TRY(sys::make_fs_mount("tmpfs", "tmpfs", tmpfs_opts));
  BERTH_TRY(sys::attach_mount(tmp.get(), target.get()));
  UniqueFd dir = BERTH_TRY(sys::open_in_root(root_fd, m.destination, O_RDONLY | O_DIRECTORY));
  for (const CgroupHierarchy& h : host_cgroup_hierarchies()) {
    if (::mkdirat(dir.get(), h.mountpoint_name.c_str(), 0755) < 0 && errno != EEXIST)
      return Error::sys("mkdir cgroup " + quoted(h.mountpoint_name));
    UniqueFd sub = BERTH_TRY(sys::open_in_root(root_fd, m.destination + "/" + h.mountpoint_name,
                                               O_PATH | O_DIRECTORY | O_NOFOLLOW));
    UniqueFd tree = BERTH_TRY_CTX(sys::make_bind_mount(AT_FDCWD, cgroup_source(ctx, h), true),
                                  "cgroup hierarchy " + quoted(h.mountpoint_name));
    BERTH_TRY(sys::set_mount_attrs(tree.get(), bind_opts));
    BERTH_TRY(sys::attach_mount(tree.get(), sub.get()));
    // Combined hierarchies get the per-controller names docker images expect.
    if (h.mountpoint_name.find(',') != std::string::npos) {
      for (std::string_view cv : split(h.mountpoint_name, ',')) {
        std::string c(cv);
        if (::symlinkat(h.mountpoint_name.c_str(), dir.get(), c.c_str()) < 0 && errno != EEXIST)
          return Error::sys("symlink cgroup " + c);
      }
    }
  }
  if (opts.attr_set & MOUNT_ATTR_RDONLY) {
    sys::MountOptions ro;
    ro.attr_set = MOUNT_ATTR_RDONLY;
    BERTH_TRY(sys::set_mount_attrs(tmp.get(), ro));
  }
  return ok();
}

// Files under /proc that may be mounted over (lxcfs and friends do); any other target inside
// procfs could redirect the runtime's own writes there (CVE-2019-16884 class): refused.
bool proc_overmount_allowed(const std::string& dest) {
  static constexpr const char* kAllowed[] = {"/proc/cpuinfo", "/proc/diskstats",
                                             "/proc/meminfo", "/proc/stat",
                                             "/proc/swaps",   "/proc/uptime",
                                             "/proc/loadavg", "/proc/slabinfo",
                                             "/proc/net/dev", "/proc/sys/kernel/ns_last_pid"};
  for (const char* a : kAllowed)
    if (dest == a) return true;
  return false;
}

Result<void> check_not_in_proc(int target_fd, const std::string& dest) {
  struct statfs sf;
  if (::fstatfs(target_fd, &sf) < 0) return Error::sys("statfs mount target");
  std::string clean = sys::clean_path(dest);
  if (sf.f_type == PROC_SUPER_MAGIC && !proc_overmount_allowed(clean))
    return Error::invalid(quoted(clean) + " cannot be mounted because it is inside /proc");
  return ok();
}

Result<void> mount_one(InitContext& ctx, int root_fd, const oci::Mount& m) {
  sys::MountOptions opts = sys::parse_mount_options(m.options);
  if (opts.idmap || !m.uid_mappings.empty())
    return Error::unsupported("idmapped mounts are not supported yet");
  const std::string& type = m.type;
  bool bind = opts.bind || type == "bind";
  if (bind) {
    struct stat st;
    if (::stat(m.source.c_str(), &st) < 0) return Error::sys("stat " + quoted(m.source));
    UniqueFd target =
        BERTH_TRY(sys::prepare_mount_target(root_fd, m.destination, !S_ISDIR(st.st_mode)));
    BERTH_TRY(check_not_in_proc(target.get(), m.destination));
    UniqueFd tree = BERTH_TRY(sys::make_bind_mount(AT_FDCWD, m.source, opts.recursive));
    BERTH_TRY(sys::set_mount_attrs(tree.get(), opts));
    BERTH_TRY(sys::attach_mount(tree.get(), target.get()));
    BERTH_TRY(sys::set_propagation(tree.get(), opts.propagation, opts.propagation_recursive));
    return ok();
  }
  if (type == "cgroup") return mount_cgroup(ctx, root_fd, m, opts);
  // procfs or sysfs somewhere a symlink chose would escape the masks meant for /proc and
  // /sys (CVE-2019-19921): they go on ordinary directories only, as in runc.
  bool strict = type == "proc" || type == "sysfs";
  auto must_be_ordinary = [&]() -> Result<void> {
    if (!strict || BERTH_TRY(sys::free_of_symlinks(root_fd, m.destination))) return ok();
    return Error::invalid("must be mounted on an ordinary directory, not through a symlink");
  };
  BERTH_TRY(must_be_ordinary());
  UniqueFd target = BERTH_TRY(sys::prepare_mount_target(root_fd, m.destination, false));
  BERTH_TRY(must_be_ordinary());
  if (type != "proc") BERTH_TRY(check_not_in_proc(target.get(), m.destination));
  auto fs = sys::make_fs_mount(type, m.source.empty() ? type : m.source, opts);
  if (!fs && type == "sysfs" && (fs.error().errno_value() == EPERM)) {
    // sysfs cannot be mounted in a user namespace without its own network namespace:
    // bind the host's, read-only as asked (runc does the same).
    fs = sys::make_bind_mount(AT_FDCWD, "/sys", true);
    if (fs) BERTH_TRY(sys::set_mount_attrs(fs->get(), opts));
  }
  if (!fs) return std::move(fs).error();
  if (opts.tmpcopyup) {
    if (type != "tmpfs") return Error::invalid("tmpcopyup is only for tmpfs mounts");
    // The new tmpfs starts with what the directory it covers held.
    BERTH_TRY_CTX(sys::copy_tree(target.get(), fs->get()), "tmpcopyup");
  }
  BERTH_TRY(sys::attach_mount(fs->get(), target.get()));
  BERTH_TRY(sys::set_propagation(fs->get(), opts.propagation, opts.propagation_recursive));
  return ok();
}

struct DefaultDevice {
  const char* name;
  unsigned major, minor;
};
constexpr DefaultDevice kDefaultDevices[] = {
    {"null", 1, 3},   {"zero", 1, 5},    {"full", 1, 7},
    {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
};

bool is_setgid_dir(int dir) {
  struct stat st;
  return ::fstat(dir, &st) < 0 || (st.st_mode & S_ISGID);
}

// Makes `name` in the open directory `dir` (`path` is for errors and the bind source);
// `setgid_dir`: is_setgid_dir(dir).
Result<void> make_device_in(InitContext& ctx, int root_fd, int dir, bool setgid_dir,
                            const std::string& name, const std::string& path, char type,
                            unsigned major, unsigned minor, mode_t mode, uid_t uid, gid_t gid) {
  mode_t kind = type == 'b' ? S_IFBLK : type == 'p' ? S_IFIFO : S_IFCHR;
  if (!ctx.in_userns) {
    // Most often nothing is there yet: mknod first, and remove what is in the way only when
    // it fails for that.
    if (::mknodat(dir, name.c_str(), kind | (mode & 07777), makedev(major, minor)) < 0) {
      if (errno != EEXIST) return Error::sys("mknod " + quoted(path));
      if (::unlinkat(dir, name.c_str(), 0) < 0 && errno != ENOENT)
        return Error::sys("remove existing " + quoted(path));
      if (::mknodat(dir, name.c_str(), kind | (mode & 07777), makedev(major, minor)) < 0)
        return Error::sys("mknod " + quoted(path));
    }
    // The node is ours already unless other ids were asked for or the directory is setgid.
    if ((uid != ::geteuid() || gid != ::getegid() || setgid_dir) &&
        ::fchownat(dir, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
      return Error::sys("chown " + quoted(path));
    return ok();
  }
  if (::unlinkat(dir, name.c_str(), 0) < 0 && errno != ENOENT && errno != EISDIR)
    return Error::sys("remove existing " + quoted(path));
  // Device nodes cannot be created in a user namespace: bind the host's node.
  if (type == 'p') {
    if (::mkfifoat(dir, name.c_str(), mode & 07777) < 0) return Error::sys("mkfifo");
    return ok();
  }
  int f = ::openat(dir, name.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (f < 0) return Error::sys("create " + quoted(path));
  ::close(f);
  UniqueFd target = BERTH_TRY(sys::open_in_root(root_fd, path, O_PATH | O_NOFOLLOW));
  UniqueFd tree = BERTH_TRY(sys::make_bind_mount(AT_FDCWD, path, false));
  return sys::attach_mount(tree.get(), target.get());
}

Result<void> make_device(InitContext& ctx, int root_fd, const std::string& path, char type,
                         unsigned major, unsigned minor, mode_t mode, uid_t uid, gid_t gid) {
  auto [parent, name] = sys::split_parent(sys::clean_path(path));
  BERTH_TRY(sys::mkdir_all_in_root(root_fd, parent, 0755));
  UniqueFd dir = BERTH_TRY(sys::open_in_root(root_fd, parent, O_RDONLY | O_DIRECTORY));
  return make_device_in(ctx, root_fd, dir.get(), is_setgid_dir(dir.get()), name, path, type, major,
                        minor, mode, uid, gid);
}

Result<void> create_devices(InitContext& ctx, int root_fd) {
  const oci::Linux* l = ctx.spec->linux ? &*ctx.spec->linux : nullptr;
  BERTH_TRY(sys::mkdir_all_in_root(root_fd, "/dev", 0755));
  UniqueFd dev = BERTH_TRY(sys::open_in_root(root_fd, "/dev", O_RDONLY | O_DIRECTORY));
  bool dev_setgid = is_setgid_dir(dev.get());
  for (const DefaultDevice& d : kDefaultDevices) {
    std::string path = std::string("/dev/") + d.name;
    bool overridden = false;
    if (l)
      for (const oci::Device& dv : l->devices) overridden |= sys::clean_path(dv.path) == path;
    if (overridden) continue;
    BERTH_TRY_CTX(make_device_in(ctx, root_fd, dev.get(), dev_setgid, d.name, path, 'c', d.major,
                                 d.minor, 0666, 0, 0),
                  "device " + quoted(path));
  }
  if (l) {
    for (const oci::Device& d : l->devices) {
      char t = d.type == 'u' ? 'c' : d.type;
      BERTH_TRY_CTX(make_device(ctx, root_fd, d.path, t, static_cast<unsigned>(d.major),
                                static_cast<unsigned>(d.minor), d.file_mode.value_or(0666),
                                d.uid.value_or(0), d.gid.value_or(0)),
                    "device " + quoted(d.path));
    }
  }
  static constexpr std::pair<const char*, const char*> kLinks[] = {{"fd", "/proc/self/fd"},
                                                                   {"stdin", "/proc/self/fd/0"},
                                                                   {"stdout", "/proc/self/fd/1"},
                                                                   {"stderr", "/proc/self/fd/2"}};
  for (auto [name, target] : kLinks)
    if (::symlinkat(target, dev.get(), name) < 0 && errno != EEXIST)
      return Error::sys(std::string("symlink /dev/") + name);
  // /dev/ptmx must be the container's own devpts instance.
  struct stat st;
  if (::fstatat(dev.get(), "pts", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
    if (::unlinkat(dev.get(), "ptmx", 0) < 0 && errno != ENOENT)
      return Error::sys("remove /dev/ptmx");
    if (::symlinkat("pts/ptmx", dev.get(), "ptmx") < 0) return Error::sys("symlink /dev/ptmx");
  }
  return ok();
}

bool has_mount_at(const oci::Spec& s, const char* dest) {
  for (const oci::Mount& m : s.mounts)
    if (sys::clean_path(m.destination) == dest) return true;
  return false;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> read_self_cgroups() {
  std::vector<std::pair<std::string, std::string>> out;
  auto text = read_file("/proc/self/cgroup", 1 << 20);
  if (!text) return out;
  for (std::string_view line : split(*text, '\n', true)) {
    size_t a = line.find(':'), b = a == std::string_view::npos ? a : line.find(':', a + 1);
    if (b == std::string_view::npos) continue;
    out.emplace_back(line.substr(a + 1, b - a - 1), line.substr(b + 1));
  }
  return out;
}

Result<void> apply_sysctls(const oci::Spec& spec) {
  if (!spec.linux) return ok();
  for (const auto& [key, value] : spec.linux->sysctl) {
    std::string path = "/proc/sys/";
    for (char c : key) path += (c == '.') ? '/' : c;
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return Error::sys("sysctl " + quoted(key));
    auto r = write_all(fd.get(), value);
    if (!r) return std::move(r).error().wrap("sysctl " + quoted(key) + " = " + quoted(value));
  }
  return ok();
}

Result<void> prepare_rootfs(InitContext& ctx) {
  const oci::Spec& spec = *ctx.spec;
  BERTH_TRY(set_root_propagation(spec.linux ? &*spec.linux : nullptr));
  UniqueFd root = BERTH_TRY(bind_rootfs(ctx));
  ctx.rootfs_fd = std::move(root);
  for (const oci::Mount& m : spec.mounts) {
    if (m.type == "sysfs") BERTH_TRY(join_pending_netns(ctx));  // sysfs shows its netns
    auto r = mount_one(ctx, ctx.rootfs_fd.get(), m);
    if (!r) {
      std::string what =
          "mount " + quoted(m.source.empty() ? m.type : m.source) + " on " + quoted(m.destination);
      if (!m.type.empty() && m.type != "bind") what += " (" + m.type + ")";
      return std::move(r).error().wrap(what);
    }
  }
  if (has_mount_at(spec, "/dev")) BERTH_TRY(create_devices(ctx, ctx.rootfs_fd.get()));
  // runc creates a missing cwd; do it while the rootfs is still writable.
  if (ctx.process && ctx.process->cwd != "/") {
    auto r = sys::mkdir_all_in_root(ctx.rootfs_fd.get(), ctx.process->cwd, 0755);
    if (!r) return std::move(r).error().wrap("process.cwd " + quoted(ctx.process->cwd));
  }
  return ok();
}

Result<void> enter_rootfs(InitContext& ctx) {
  if (::fchdir(ctx.rootfs_fd.get()) < 0) return Error::sys("chdir to rootfs");
  if (ctx.no_pivot) {
    if (::mount(".", "/", nullptr, MS_MOVE, nullptr) < 0) return Error::sys("move rootfs to /");
    if (::chroot(".") < 0) return Error::sys("chroot");
  } else {
    if (syscall(SYS_pivot_root, ".", ".") < 0) return Error::sys("pivot_root");
    // The old root is stacked under "."; detach it without propagating to the host.
    if (::mount(nullptr, ".", nullptr, MS_SLAVE | MS_REC, nullptr) < 0)
      return Error::sys("make old root slave");
    if (::umount2(".", MNT_DETACH) < 0) return Error::sys("detach old root");
  }
  if (::chdir("/") < 0) return Error::sys("chdir /");
  ctx.rootfs_fd.reset(::open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!ctx.rootfs_fd) return Error::sys("open /");
  return ok();
}

Result<void> setup_console(InitContext& ctx) {
  UniqueFd master(::open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!master) return Error::sys("open /dev/ptmx");
  if (::unlockpt(master.get()) < 0) return Error::sys("unlockpt");
  UniqueFd slave(::ioctl(master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!slave) return Error::sys("open pty peer");
  if (ctx.process->console_size)
    BERTH_TRY(set_console_size(master.get(), ctx.process->console_size->height,
                               ctx.process->console_size->width));
  // /dev/console is the pty, bound from the fd we hold (never a path the container controls).
  if (has_mount_at(*ctx.spec, "/dev")) {
    UniqueFd target =
        BERTH_TRY(sys::prepare_mount_target(ctx.rootfs_fd.get(), "/dev/console", true));
    struct stat st;
    if (::fstat(target.get(), &st) < 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)))
      return Error::invalid("/dev/console is not a file");
    UniqueFd tree = BERTH_TRY(sys::make_bind_mount(slave.get(), "", false));
    BERTH_TRY_CTX(sys::attach_mount(tree.get(), target.get()), "bind /dev/console");
  }
  if (::setsid() < 0) return Error::sys("setsid");
  if (::ioctl(slave.get(), TIOCSCTTY, 0) < 0) return Error::sys("set controlling terminal");
  for (int i = 0; i < 3; i++)
    if (::dup3(slave.get(), i, 0) < 0) return Error::sys("dup pty");
  char name[64] = "/dev/console";
  ptsname_r(master.get(), name, sizeof name);
  if (ctx.console_socket) {
    BERTH_TRY_CTX(send_fd(ctx.console_socket.get(), master.get(), name), "console socket");
    ctx.console_socket.reset();
  } else {
    BERTH_TRY(ctx.sync.send(SyncType::ConsoleMaster, 0, name, master.get()));
  }
  return ok();
}

Result<void> finalize_rootfs(InitContext& ctx) {
  const oci::Spec& spec = *ctx.spec;
  int root = ctx.rootfs_fd.get();
  if (spec.linux) {
    UniqueFd empty_dir;
    for (const std::string& p : spec.linux->masked_paths) {
      auto fd = sys::open_in_root(root, p, O_PATH | O_NOFOLLOW);
      if (!fd) {
        if (fd.error().errno_value() == ENOENT) continue;
        return std::move(fd).error().wrap("masked path " + quoted(p));
      }
      struct stat st;
      if (::fstat(fd->get(), &st) < 0) return Error::sys("stat masked path " + quoted(p));
      Result<UniqueFd> cover = Error::internal("unset");
      bool dir = S_ISDIR(st.st_mode);
      if (dir && empty_dir) {
        // Every masked directory shows the same empty read-only tmpfs: clone the first.
        cover = sys::make_bind_mount(empty_dir.get(), "", false);
      } else if (dir) {
        sys::MountOptions o;
        o.attr_set = MOUNT_ATTR_RDONLY;
        o.data = {{"size", "0"}};
        cover = sys::make_fs_mount("tmpfs", "tmpfs", o);
      } else {
        cover = sys::make_bind_mount(ctx.host_devnull.get(), "", false);
      }
      if (!cover) return std::move(cover).error().wrap("masked path " + quoted(p));
      BERTH_TRY_CTX(sys::attach_mount(cover->get(), fd->get()), "masked path " + quoted(p));
      if (dir && !empty_dir) empty_dir = std::move(*cover);  // now attached: clonable
    }
    for (const std::string& p : spec.linux->readonly_paths) {
      auto fd = sys::open_in_root(root, p, O_PATH | O_NOFOLLOW);
      if (!fd) {
        if (fd.error().errno_value() == ENOENT) continue;
        return std::move(fd).error().wrap("readonly path " + quoted(p));
      }
      BERTH_TRY_CTX(sys::bind_readonly_over(fd->get()), "readonly path " + quoted(p));
    }
  }
  if (spec.root.readonly) {
    sys::MountOptions ro;
    ro.attr_set = MOUNT_ATTR_RDONLY;
    BERTH_TRY_CTX(sys::set_mount_attrs(root, ro), "make rootfs read-only");
  }
  return ok();
}

}  // namespace berth::runtime::init
