// Layer unpacking: a (compressed) tar layer into a snapshot directory, overlayfs form.
//
// The input is untrusted. Every entry is created relative to the destination directory fd
// with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) for its parent, so `../`, absolute
// paths, symlinked parents and hardlinks leading out all stay inside (or fail with an error
// naming the entry); sizes and name lengths are bounded.
//
// Whiteouts become overlayfs form: ".wh.<name>" -> a 0/0 character device <name>,
// ".wh..wh..opq" -> xattr trusted.overlay.opaque="y" on its directory. Ownership, modes,
// times (atime/mtime, directories fixed up at the end), xattrs (including security.capability),
// hardlinks, symlinks and device nodes are kept.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "util/digest.h"
#include "util/result.h"

namespace berth::image {

struct UnpackOptions {
  // Hard cap on the total uncompressed bytes and on the number of entries.
  uint64_t max_bytes = uint64_t{1} << 40;
  uint64_t max_entries = 10'000'000;
  // Root is needed for chown/mknod; when false (tests without root) those are skipped.
  bool preserve_ownership = true;
  // Layer whiteouts (".wh.*") become overlayfs whiteouts; false keeps them as plain names
  // (a tar copied into a container, `docker cp`).
  bool whiteouts = true;
};

struct UnpackResult {
  Digest diff_id;  // sha256 of the uncompressed tar stream
  uint64_t uncompressed_bytes = 0;
  uint64_t entries = 0;
  // What was skipped and why, once per kind (device nodes without root, an xattr namespace
  // the filesystem lacks, overlay xattrs found in the layer, sockets); at most 32.
  std::vector<std::string> notes;
};

// Reads the layer from `src_fd` (a file or a pipe; gzip, zstd or plain tar auto-detected)
// to EOF and writes its entries under `dest_dir_fd` (a directory fd; O_PATH is fine). The diff
// ID is computed over the uncompressed stream. Errors name the entry:
//   unpack layer: entry "../../etc/passwd": path escapes the layer
// A ".." climbing above the root is refused; an absolute name is taken from the layer root and
// a symlinked parent is followed inside the layer (as docker and containerd do). Safe to call
// from several threads at once (one per layer); each call runs one helper thread, the
// decompressor. On a pipe, an error returns without waiting for the writer's EOF.
Result<UnpackResult> unpack_layer(int src_fd, int dest_dir_fd, const UnpackOptions& opts = {});

}  // namespace berth::image
