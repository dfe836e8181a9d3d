// Overlayfs snapshotter: one directory per snapshot, stacked as overlayfs lower dirs.
//
// A snapshot is either *committed* (read-only; image layers, keyed by their chain ID
// "sha256:<hex>") or *active* (writable; a container's root, keyed by the caller, e.g. the
// container ID) or a *view* (read-only active). Each has a parent (committed) or none.
//
// Layout under <root>/snapshots:
//   <n>/fs          the snapshot's own files (upper dir when active, a lower dir when committed)
//   <n>/work        overlayfs work dir (active only)
//   <n>/info.json   key, kind, parent key, created, labels — written last, atomically
//   keys/<sha256 of key> -> "<n>"   symlink index from key to id (atomic rename)
// A directory without info.json is an unfinished snapshot and is removed by gc().
// Mutations take an exclusive flock on <root>/snapshots/lock; reads take it shared.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace berth::snapshot {

enum class Kind { Committed, Active, View };
const char* kind_name(Kind k);

struct Info {
  std::string key;
  std::string id;      // the <n> directory name
  std::string parent;  // key of the parent, empty for a base layer
  Kind kind = Kind::Committed;
  int64_t created_ns = 0;
  std::map<std::string, std::string> labels;
};

// A mount to perform, containerd style: overlay with lowerdir/upperdir/workdir options, or a
// bind mount (a snapshot with no parent needs no overlay).
struct Mount {
  std::string type;  // "overlay" | "bind"
  std::string source;
  std::vector<std::string> options;  // "lowerdir=a:b", "upperdir=...", "workdir=...", "ro", "rbind"
};

struct Usage {
  uint64_t bytes = 0;
  uint64_t inodes = 0;
};

class Snapshotter {
 public:
  static Result<Snapshotter> open(const std::string& root);  // creates <root>/snapshots

  // New active (writable) snapshot `key` on top of committed `parent` ("" = empty base).
  // Conflict if `key` exists; NotFound if the parent does not. Returns its mounts.
  Result<std::vector<Mount>> prepare(const std::string& key, const std::string& parent,
                                     const std::map<std::string, std::string>& labels = {});
  // Read-only view of `parent` under `key`.
  Result<std::vector<Mount>> view(const std::string& key, const std::string& parent);
  Result<std::vector<Mount>> mounts(const std::string& key) const;
  // Turns active snapshot `key` into committed snapshot `name` (no copy: a rename of metadata).
  // `parent` re-parents it on the way: image layers are unpacked in parallel, each into a
  // parent-less snapshot (an overlayfs layer's files do not depend on the layers below), and
  // committed in order onto their chain parent, which must be committed by then.
  Result<void> commit(const std::string& name, const std::string& key,
                      const std::optional<std::string>& parent = std::nullopt);
  // Removes a snapshot; Conflict if another snapshot has it as parent.
  Result<void> remove(const std::string& key);
  Result<Info> stat(const std::string& key) const;
  Result<std::vector<Info>> list() const;
  Result<Usage> usage(const std::string& key) const;
  bool exists(const std::string& key) const;

  // The directory an active snapshot's files live in (its upper dir), opened O_PATH|O_DIRECTORY:
  // layer unpacking writes here, through the fd, before commit().
  Result<UniqueFd> open_upper(const std::string& key) const;
  std::string upper_path(const std::string& key) const;

  // Removes unfinished snapshot dirs (no info.json) and dangling key links.
  Result<void> clean_unfinished();

  const std::string& root() const { return root_; }

 private:
  explicit Snapshotter(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// Mounts `mounts` on `target` (overlay: with the new mount API, lower dirs appended one by one
// with "lowerdir+" where the kernel has it, so deep images are not limited by the page-sized
// option string; the classic option string otherwise). Unmount with unmount().
Result<void> mount_all(const std::vector<Mount>& mounts, const std::string& target);
Result<void> unmount(const std::string& target);

}  // namespace berth::snapshot
