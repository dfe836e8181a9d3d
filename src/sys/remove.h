// Removing a directory tree without following symlinks (state dirs, bundles, snapshots).
#pragma once

#include <string>

#include "util/result.h"

namespace berth::sys {

// Removes `name` in `dirfd` and everything below it. Symlinks are removed, never followed;
// an absent entry is success. A mount point inside fails (EBUSY) naming it.
Result<void> remove_tree_at(int dirfd, const char* name);
Result<void> remove_tree(const std::string& path);

}  // namespace berth::sys
