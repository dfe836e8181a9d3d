// Copying a directory tree between two directory fds without following symlinks (for tmpfs
// "tmpcopyup": a tmpfs over a directory starts with that directory's content).
#pragma once

#include "util/result.h"

namespace berth::sys {

// Copies the entries of `src_dir` into `dst_dir` (both directory fds; O_PATH is fine):
// directories, regular files, symlinks, device nodes and fifos, with modes and owners. The
// root's own mode and owner are copied too. Symlinks are copied as links, never followed.
Result<void> copy_tree(int src_dir, int dst_dir);

}  // namespace berth::sys
