// Removing a directory tree without following symlinks (state dirs, bundles, snapshots).
#pragma once

#include <string>

#include "util/result.h"

namespace berth::sys {

// Removes `name` in `dirfd` and everything below it, walking by fd. Symlinks are removed,
// never followed; an absent entry is success; a non-directory is unlinked. A mount point
// inside fails (EBUSY) naming it; nesting deeper than 4096 fails with ELOOP.
Result<void> remove_tree_at(int dirfd, const char* name);
Result<void> remove_tree(const std::string& path);

}  // namespace berth::sys
