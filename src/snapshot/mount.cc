// mount_all / unmount: snapshot mounts with the new mount API.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "snapshot/snapshotter.h"
#include "sys/mount_api.h"
#include "util/strings.h"

namespace berth::snapshot {
namespace {

int fsconfig_(int fd, unsigned cmd, const char* key, const void* val, int aux) {
  return static_cast<int>(syscall(SYS_fsconfig, fd, cmd, key, val, aux));
}

struct OverlayOptions {
  std::vector<std::string> lowers;  // nearest first
  std::string upper, work;
  bool ro = false;
  std::vector<std::string> other;  // passed through as given ("index=off", "userxattr" ...)
};

OverlayOptions parse_overlay(const std::vector<std::string>& options) {
  OverlayOptions o;
  for (const std::string& w : options) {
    if (w.starts_with("lowerdir=")) {
      for (std::string_view d : split(std::string_view(w).substr(9), ':', true))
        o.lowers.emplace_back(d);
    } else if (w.starts_with("upperdir=")) {
      o.upper = w.substr(9);
    } else if (w.starts_with("workdir=")) {
      o.work = w.substr(8);
    } else if (w == "ro") {
      o.ro = true;
    } else if (w != "rw") {
      o.other.push_back(w);
    }
  }
  return o;
}

// -1: not known yet; 0: the kernel lacks "lowerdir+" (before 6.8); 1: it has it.
std::atomic<int> g_lowerdir_append{-1};

// fsopen("overlay") with one "lowerdir+" per layer: no option-string length limit.
Result<UniqueFd> overlay_new_api(const OverlayOptions& o, bool* unsupported) {
  *unsupported = false;
  UniqueFd fs(static_cast<int>(syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
  if (!fs) return Error::sys("fsopen overlay");
  auto fail = [&](const std::string& what) {
    int e = errno;
    std::string msg = sys::fs_context_message(fs.get());
    return Error::from_errno(e, what + (msg.empty() ? "" : " (" + msg + ")"));
  };
  auto set = [&](const char* k, const std::string& v) {
    return fsconfig_(fs.get(), FSCONFIG_SET_STRING, k, v.c_str(), 0) == 0;
  };
  for (size_t i = 0; i < o.lowers.size(); ++i) {
    if (!set("lowerdir+", o.lowers[i])) {
      if (i == 0 && errno == EINVAL &&
          sys::fs_context_message(fs.get()).find("Unknown parameter") != std::string::npos) {
        *unsupported = true;
        return Error::from_errno(EINVAL, "overlay: no lowerdir+");
      }
      return fail("overlay: add lower dir " + berth::quoted(o.lowers[i]));
    }
  }
  if (!o.upper.empty() && !set("upperdir", o.upper))
    return fail("overlay: upper dir " + berth::quoted(o.upper));
  if (!o.work.empty() && !set("workdir", o.work))
    return fail("overlay: work dir " + berth::quoted(o.work));
  for (const std::string& w : o.other) {
    size_t eq = w.find('=');
    int r = eq == std::string::npos ? fsconfig_(fs.get(), FSCONFIG_SET_FLAG, w.c_str(), nullptr, 0)
                                    : fsconfig_(fs.get(), FSCONFIG_SET_STRING,
                                                w.substr(0, eq).c_str(), w.c_str() + eq + 1, 0);
    if (r < 0) return fail("overlay: option " + berth::quoted(w));
  }
  if (o.ro && fsconfig_(fs.get(), FSCONFIG_SET_FLAG, "ro", nullptr, 0) < 0)
    return fail("overlay: option \"ro\"");
  if (fsconfig_(fs.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) < 0)
    return fail("create overlay");
  UniqueFd mnt(static_cast<int>(
      syscall(SYS_fsmount, fs.get(), FSMOUNT_CLOEXEC, o.ro ? MOUNT_ATTR_RDONLY : 0)));
  if (!mnt) return fail("fsmount overlay");
  return mnt;
}

// The classic mount(2) with one option string (at most a page long).
Result<void> overlay_legacy(const OverlayOptions& o, const std::string& target) {
  std::string data = "lowerdir=";
  for (size_t i = 0; i < o.lowers.size(); ++i) data += (i ? ":" : "") + o.lowers[i];
  if (!o.upper.empty()) data += ",upperdir=" + o.upper;
  if (!o.work.empty()) data += ",workdir=" + o.work;
  for (const std::string& w : o.other) data += "," + w;
  if (data.size() >= static_cast<size_t>(::getpagesize()))
    return Error::from_errno(E2BIG, "mount overlay on " + berth::quoted(target) + ": " +
                                        std::to_string(o.lowers.size()) +
                                        " lower dirs do not fit in one option string");
  if (::mount("overlay", target.c_str(), "overlay", o.ro ? MS_RDONLY : 0, data.c_str()) < 0)
    return Error::sys("mount overlay on " + berth::quoted(target));
  return ok();
}

Result<void> mount_overlay(const Mount& m, const std::string& target) {
  OverlayOptions o = parse_overlay(m.options);
  if (o.lowers.empty())
    return Error::invalid("mount overlay on " + berth::quoted(target) + ": no lowerdir");
  // BERTH_OVERLAY_LEGACY=1 forces the mount(2) path (tests of the pre-6.8 fallback).
  const char* legacy_env = ::getenv("BERTH_OVERLAY_LEGACY");
  bool force_legacy = legacy_env && *legacy_env == '1';
  if (!force_legacy && g_lowerdir_append.load() != 0) {
    bool unsupported = false;
    auto mnt = overlay_new_api(o, &unsupported);
    if (mnt) {
      g_lowerdir_append.store(1);
      UniqueFd tfd(::open(target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!tfd) return Error::sys("mount overlay on " + berth::quoted(target) + ": open target");
      BERTH_TRY_CTX(sys::attach_mount(mnt->get(), tfd.get()),
                    "mount overlay on " + berth::quoted(target));
      return ok();
    }
    if (!unsupported)
      return std::move(mnt).error().wrap("mount overlay on " + berth::quoted(target));
    g_lowerdir_append.store(0);
  }
  return overlay_legacy(o, target);
}

Result<void> mount_bind(const Mount& m, const std::string& target) {
  bool recursive = false, ro = false;
  for (const std::string& w : m.options) {
    if (w == "rbind") recursive = true;
    if (w == "ro") ro = true;
  }
  std::string what = "bind mount " + berth::quoted(m.source) + " on " + berth::quoted(target);
  UniqueFd mnt = BERTH_TRY_CTX(sys::make_bind_mount(AT_FDCWD, m.source, recursive), what);
  if (ro) {
    sys::MountOptions mo;
    mo.attr_set = MOUNT_ATTR_RDONLY;
    BERTH_TRY_CTX(sys::set_mount_attrs(mnt.get(), mo), what);
  }
  UniqueFd tfd(::open(target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!tfd) return Error::sys(what + ": open target");
  BERTH_TRY_CTX(sys::attach_mount(mnt.get(), tfd.get()), what);
  return ok();
}

}  // namespace

Result<void> mount_all(const std::vector<Mount>& mounts, const std::string& target) {
  size_t done = 0;
  for (const Mount& m : mounts) {
    Result<void> r;
    if (m.type == "overlay")
      r = mount_overlay(m, target);
    else if (m.type == "bind")
      r = mount_bind(m, target);
    else
      r = Error::unsupported("mount " + berth::quoted(m.type) + " on " + berth::quoted(target) +
                             ": unknown mount type");
    if (!r) {
      for (; done > 0; --done) ::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW);
      return r;
    }
    ++done;
  }
  return ok();
}

Result<void> unmount(const std::string& target) {
  for (int attempt = 0;; ++attempt) {
    if (::umount2(target.c_str(), UMOUNT_NOFOLLOW) == 0) return ok();
    if (errno == EINVAL) return ok();  // not a mount point (any more)
    if (errno != EBUSY || attempt >= 50) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (errno == EBUSY && ::umount2(target.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) return ok();
  return Error::sys("unmount " + berth::quoted(target));
}

}  // namespace berth::snapshot
