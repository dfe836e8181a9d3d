// Safe path resolution inside a root (a container rootfs or an image layer).
//
// A path taken from config.json or an image is never string-joined to a host path and
// followed: it is resolved with openat2(RESOLVE_IN_ROOT), so ".." and symlinks (absolute or
// relative) are resolved as if the root were "/", and nothing can lead outside it. Magic links
// (/proc/<pid>/fd/...) are refused on the way (RESOLVE_NO_MAGICLINKS).
#pragma once

#include <fcntl.h>
#include <sys/stat.h>

#include <string>
#include <string_view>

#include "util/fd.h"
#include "util/result.h"

namespace berth::sys {

// openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS relative to `root_fd`. `flags` gets
// O_CLOEXEC added. Errors name the path.
Result<UniqueFd> open_in_root(int root_fd, std::string_view path, int flags, mode_t mode = 0);

// Makes every missing directory of `path` inside `root_fd` (mode `mode`), each step resolved
// in the root, and returns an O_PATH fd of the final directory.
Result<UniqueFd> mkdir_all_in_root(int root_fd, std::string_view path, mode_t mode = 0755);

// Ensures a mount target exists inside the root: a directory, or (when `file` is true) an
// empty regular file whose missing parents are created. Returns an O_PATH fd of the target,
// which is where a mount is attached (move_mount with MOVE_MOUNT_T_EMPTY_PATH), so the kernel
// attaches to exactly the inode that was checked.
Result<UniqueFd> prepare_mount_target(int root_fd, std::string_view path, bool file);

// True if `path` resolves inside the root without meeting any symlink (ENOENT counts as
// "no symlink met so far"). Used for proc/sysfs targets, which must be ordinary directories.
Result<bool> free_of_symlinks(int root_fd, std::string_view path);

// Splits a path into components, dropping "" and "."; ".." kept (resolution handles it).
std::string clean_path(std::string_view path);  // lexical: "/a//b/./c/" -> "/a/b/c"
std::pair<std::string, std::string> split_parent(std::string_view clean_abs_path);

// The path an fd refers to, as /proc/self/fd shows it (for messages and checks).
std::string fd_path(int fd);

}  // namespace berth::sys
