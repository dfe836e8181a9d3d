// Image archives: `docker save` / `docker load` tarballs and OCI image layouts (a directory or
// a tar of one), both ways, interoperable with docker, podman and skopeo.
//
// save writes what docker ≥ 25 writes: an OCI image layout (oci-layout, index.json,
// blobs/sha256/...) plus docker's manifest.json and repositories, so both `docker load` and
// OCI tools read it. load accepts either form (and docker's older layout with <id>/layer.tar,
// layers compressed or not); every blob is verified against its digest as it is ingested, and
// the layers are unpacked into snapshots. Archives are untrusted input: entry names are
// checked, sizes bounded, digests verified, nothing written outside the content store.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "image/images.h"

namespace berth::image {

enum class ArchiveFormat {
  Docker,  // docker save: OCI layout + manifest.json + repositories, as a tar
  Oci,     // OCI image layout only, as a tar
};

struct LoadResult {
  std::vector<std::string> names;  // "docker.io/library/busybox:latest" for each tag loaded
  std::vector<Digest> ids;         // image IDs (config digests), also of untagged images
};

struct LoadOptions {
  // false: blobs and names only, no snapshots (fuzzing; ImageService::unpack() can follow).
  bool unpack = true;
  // Bounds on the tar stream: bytes of entry data read, and entries.
  uint64_t max_bytes = uint64_t{1} << 40;
  uint64_t max_entries = 1'000'000;
};

// Reads a tar stream from `fd` (a file or pipe; may be gzip- or zstd-compressed, as docker load
// accepts) and loads every image in it. Prints docker's lines through `progress`
// ("Loaded image: busybox:latest", "Loaded image ID: sha256:...").
//
// Accepted: docker save (manifest.json with <id>/layer.tar, <hex>.tar or blobs/sha256/<hex>
// paths; layers plain or compressed; a legacy <id>/layer.tar may be a link to another entry)
// and OCI image layout tars (names from the io.containerd.image.name annotation, else from
// org.opencontainers.image.ref.name when it is a full name; a bare tag means untagged).
// Entries are never extracted: regular files become blobs in the content store (hashed while
// they stream; a blobs/<alg>/<hex> entry is verified against its name), manifest.json and
// index.json are read into memory (size-capped). Names are recorded only after every blob and
// snapshot is in place; on failure the snapshots this load made are removed and no name is set
// (blobs stay until gc()).
Result<LoadResult> load_archive(ImageService& images, int fd, const ProgressFn& progress = {});
Result<LoadResult> load_archive(ImageService& images, int fd, const ProgressFn& progress,
                                const LoadOptions& opts);

// An image loaded without a tag is recorded under this name (so that gc() keeps it and its ID
// resolves), as docker's containerd store does with "moby-dangling@<digest>". The name is not a
// valid reference, so it never collides with a tag. `target` is the manifest (or index) digest.
std::string dangling_name(const Digest& target);  // "<none>@sha256:<hex>"
bool is_dangling_name(std::string_view name);

// Writes the named images (names or IDs; several tags of one image share its blobs) as a tar
// stream to `fd`.
Result<void> save_archive(ImageService& images, const std::vector<std::string>& names, int fd,
                          ArchiveFormat format = ArchiveFormat::Docker);

// OCI image layout directories (skopeo's oci:DIR:TAG). Import: every manifest in index.json
// (or only the one whose org.opencontainers.image.ref.name is `tag`), named `name` when given,
// else by its ref.name annotation. Export: adds to (or creates) the layout at `dir`, tagging
// the manifest with `tag` (default: the image's tag).
Result<LoadResult> import_oci_layout(ImageService& images, const std::string& dir,
                                     const std::string& tag = "", const std::string& name = "");
Result<void> export_oci_layout(ImageService& images, const std::string& image,
                               const std::string& dir, const std::string& tag = "");

}  // namespace berth::image
