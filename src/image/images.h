// The image service: what berthd's image endpoints (and `berth-image`) call. It ties the
// content store, the snapshotter and the image names together:
//   pull    registry -> content store (verified) -> one overlayfs snapshot per layer, layers
//           downloaded and unpacked in parallel, each unpacked while it streams in
//   push    content store -> registry
//   resolve a name, full or short ID to its manifest and config
//   bundle  image -> OCI runtime bundle (rootfs mounted from a new active snapshot,
//           config.json from the image config merged with the caller's overrides)
//   remove / gc / usage
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "image/content_store.h"
#include "image/image_store.h"
#include "image/reference.h"
#include "image/registry.h"
#include "oci/image.h"
#include "oci/spec.h"
#include "snapshot/snapshotter.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::image {

// Progress of a pull or push, docker-style: one line per layer ("Downloading", "Extracting",
// "Pull complete", "Already exists"), with byte counts while it streams. Called from worker
// threads, never concurrently (the service serialises calls).
struct Progress {
  std::string id;      // short layer digest (12 hex) or "" for the image as a whole
  std::string status;  // "Pulling fs layer", "Downloading", "Download complete", ...
  uint64_t current = 0, total = 0;
};
using ProgressFn = std::function<void(const Progress&)>;

struct PullOptions {
  std::optional<oci::image::Platform> platform;  // default: the host's
  RegistryOptions registry;
  ProgressFn progress;
  int max_parallel = 0;  // concurrent layer jobs; 0 = automatic
};

// An image with its documents parsed: what run/create/inspect need.
struct Image {
  ImageRecord record;  // name may be empty when resolved by ID only
  oci::image::Manifest manifest;
  oci::image::ImageConfig config;
  std::vector<Digest> chain_ids;  // one per layer; back() is the top snapshot
};

// What a container asks of its image in the bundle (docker run's flags that change
// config.json); everything unset comes from the image config.
struct BundleOptions {
  std::optional<std::vector<std::string>> entrypoint;  // set (even empty) replaces the image's
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> env;  // "K=V" added/overriding the image's
  std::optional<std::string> user;
  std::optional<std::string> working_dir;
  std::string hostname;
  bool tty = false;
  bool read_only = false;
};

// Key prefix of the snapshots layers are unpacked into during a pull: "extract-<pid>-...".
inline constexpr std::string_view kExtractPrefix = "extract-";

struct Usage {
  uint64_t content_bytes = 0;
  uint64_t snapshot_bytes = 0;
  size_t images = 0, blobs = 0, snapshots = 0;
};

struct GcResult {
  std::vector<Digest> removed_blobs;
  std::vector<std::string> removed_snapshots;
  uint64_t reclaimed_bytes = 0;
};

class ImageService {
 public:
  // Opens (creating) content/, snapshots/ and images/ under `root`, cleans up what a crash
  // left (unfinished snapshots, stale ingests stay resumable).
  static Result<std::unique_ptr<ImageService>> open(const std::string& root);

  Result<Image> pull(const std::string& reference, const PullOptions& opts = {});
  Result<void> push(const std::string& name, const std::string& target_reference,
                    const RegistryOptions& registry = {}, const ProgressFn& progress = {});

  // A name ("busybox", "busybox:latest", full reference), an image ID ("sha256:<hex>") or a
  // unique ID prefix (≥ 4 hex). Error as docker's: "No such image: busybox:latest".
  Result<Image> resolve(const std::string& name_or_id) const;
  Result<std::vector<Image>> list() const;
  // Gives the image an additional name (docker tag).
  Result<void> tag(const std::string& source, const std::string& target);
  // Removes a name; the content stays until gc() (docker rmi untags, then deletes when no
  // name is left — callers run gc() for that).
  Result<void> untag(const std::string& name);

  // Makes sure every layer of `image` has its snapshot (from blobs in the content store);
  // used after load/import and when a snapshot was removed.
  Result<void> unpack(const Image& image, const ProgressFn& progress = {});

  // Writes an OCI runtime bundle at `bundle_dir`: a new active snapshot `snapshot_key` on
  // top of the image, mounted at <bundle_dir>/rootfs, and config.json. Undo with
  // remove_bundle().
  Result<oci::Spec> create_bundle(const Image& image, const std::string& snapshot_key,
                                  const std::string& bundle_dir, const BundleOptions& opts);
  Result<void> remove_bundle(const std::string& snapshot_key, const std::string& bundle_dir);

  // Removes blobs and snapshots no image name (and no active snapshot) references.
  Result<GcResult> gc();
  // Held (shared) while content is added that no name references yet — pull, load — so that
  // gc(), which takes it exclusively, never sweeps a blob between its commit and its naming.
  // Across processes too: an flock on <root>/gc.lock.
  Result<UniqueFd> hold_off_gc() const;
  // Removes the layer snapshots a killed pull left (run by open() and gc()).
  Result<void> remove_abandoned_extractions();
  Result<Usage> usage() const;

  ContentStore& content() { return content_; }
  snapshot::Snapshotter& snapshots() { return snapshots_; }
  ImageStore& names() { return names_; }
  const std::string& root() const { return root_; }

 private:
  Result<UniqueFd> lock_gc(bool exclusive) const;
  ImageService(std::string root, ContentStore c, snapshot::Snapshotter s, ImageStore n)
      : root_(std::move(root)),
        content_(std::move(c)),
        snapshots_(std::move(s)),
        names_(std::move(n)) {}
  std::string root_;
  ContentStore content_;
  snapshot::Snapshotter snapshots_;
  ImageStore names_;
};

// The runtime config for an image: default_spec() with the image's process settings and the
// caller's overrides applied. The user ("name", "uid", "name:group", "uid:gid") is resolved
// through <rootfs_fd>/etc/passwd and /etc/group (opened inside the root), adding HOME and the
// supplementary groups as docker does. Errors as docker's:
//   unable to find user app: no matching entries in passwd file
Result<oci::Spec> spec_from_image(const oci::image::ImageConfig& config, int rootfs_fd,
                                  const BundleOptions& opts);

}  // namespace berth::image
