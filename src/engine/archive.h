// `docker cp`: files into and out of a container's root filesystem, as tar streams
// (GET/HEAD/PUT /containers/{id}/archive).
//
// The container's root is <data_root>/containers/<id>/bundle/rootfs, mounted from its
// snapshot for as long as the container exists, running or not. Paths come from the client
// and the tree may be changed by the container's processes while we read or write it, so
// nothing is string-joined and followed: the path is resolved with openat2(RESOLVE_IN_ROOT),
// the walk below it opens every entry relative to its parent with O_NOFOLLOW, and extraction
// goes through image::unpack_layer (every entry resolved inside the destination).
// Left out: the container's volumes and bind mounts are not visible at that path (docker
// shows them); copying works on the root filesystem only.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "util/result.h"

namespace berth::engine {

// docker's container path stat (the X-Docker-Container-Path-Stat header, base64 JSON):
// mode is Go's os.FileMode (permission bits plus type bits: ModeDir 1<<31, ModeSymlink 1<<27,
// ...).
struct PathStat {
  std::string name;
  int64_t size = 0;
  uint32_t mode = 0;
  std::string mtime;  // RFC 3339
  std::string link_target;
};
std::string path_stat_header(const PathStat& st);

// The entry at `path` (absolute, inside `rootfs`; a trailing symlink is not followed).
// NotFound reads like docker's: Could not find the file /x in container <ref>
Result<PathStat> stat_in_root(const std::string& rootfs, const std::string& path,
                              std::string_view ref);

// Writes a tar of `path` (the entry itself, named by its base name, and everything below a
// directory) to `sink`; false from the sink stops (the client left).
Result<void> tar_from_root(const std::string& rootfs, const std::string& path,
                           const std::function<bool(std::string_view)>& sink);

// Extracts a (possibly compressed) tar read through `read` (returns 0 at the end) into the
// directory `path` inside `rootfs`. The directory must exist: NotFound / InvalidArgument
// ("extraction point is not a directory") otherwise.
Result<void> untar_into_root(const std::string& rootfs, const std::string& path,
                             std::string_view ref,
                             const std::function<Result<size_t>(char*, size_t)>& read);

}  // namespace berth::engine
