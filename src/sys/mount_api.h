// Mounting with the new mount API: a mount is built detached (fsopen+fsmount, or open_tree
// for binds), its attributes are set while nobody can see it, and it is attached to an fd that
// was resolved safely inside the container root (move_mount with MOVE_MOUNT_T_EMPTY_PATH). No
// path string is followed at attach time, so a symlink swapped in after the check cannot
// redirect the mount (the CVE-2021-30465 class).
#pragma once

#include <sys/mount.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace berth::sys {

// Mount options of config.json, split by what consumes them.
struct MountOptions {
  bool bind = false;                      // "bind" or "rbind"
  bool recursive = false;                 // "rbind"
  uint64_t attr_set = 0, attr_clr = 0;    // MOUNT_ATTR_* for the top mount
  uint64_t rattr_set = 0, rattr_clr = 0;  // "rro", "rnosuid", ...: the whole tree
  uint64_t propagation = 0;               // MS_SHARED / MS_SLAVE / MS_PRIVATE / MS_UNBINDABLE
  bool propagation_recursive = false;
  std::vector<std::string> sb_flags;  // "sync", "dirsync", "lazytime", "mand" (superblock)
  std::vector<std::pair<std::string, std::string>> data;  // filesystem options; value may be empty
  bool tmpcopyup = false;
  bool idmap = false;  // "idmap" / "ridmap": not supported yet -> clear error
  // Legacy mount(2) flags equivalent to the above (for logging and for remount fallbacks).
  unsigned long legacy_flags() const;
};

// Parses option strings; unknown words that are not key=value become filesystem flags.
MountOptions parse_mount_options(const std::vector<std::string>& options);

// Builds a new filesystem mount, detached. `source` may be empty. Errors carry the kernel's
// fs-context message when it gave one.
// The messages the kernel left in an fs context fd (fsopen), "; "-joined, for errors.
std::string fs_context_message(int fsfd);

Result<UniqueFd> make_fs_mount(const std::string& type, const std::string& source,
                               const MountOptions& opts);
// Clones `source_fd`/`path` (absolute host path, or empty with a source fd) as a detached bind.
Result<UniqueFd> make_bind_mount(int source_dirfd, const std::string& path, bool recursive);
// Applies attributes (top and recursive) to a detached or attached mount fd.
Result<void> set_mount_attrs(int mount_fd, const MountOptions& opts);
Result<void> set_propagation(int mount_fd, uint64_t propagation, bool recursive);
// Attaches a detached mount onto the target fd (an O_PATH fd of the mount point).
Result<void> attach_mount(int mount_fd, int target_fd);
// Makes the mount at `target_fd` (or the tree under it) read-only by binding it over itself.
Result<void> bind_readonly_over(int target_fd);

// Propagation name -> MS_* flag and recursion ("rslave" -> {MS_SLAVE, true}); {0,false} if
// unknown.
std::pair<uint64_t, bool> propagation_from_name(std::string_view name);

}  // namespace berth::sys
