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

#include <string>
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

// Reads a tar stream from `fd` (a file or pipe; may be gzip-compressed, as docker load
// accepts) and loads every image in it. Prints docker's lines through `progress`
// ("Loaded image: busybox:latest", "Loaded image ID: sha256:...").
Result<LoadResult> load_archive(ImageService& images, int fd, const ProgressFn& progress = {});

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
