// OCI image-spec 1.1 and Docker image manifest v2 schema 2: descriptors, manifests, indexes
// (manifest lists) and image configs, as plain types.
//
// Everything here comes from registries and tarballs, i.e. untrusted input: the parsers are
// defensive (sizes, counts and string lengths bounded, digests validated, unknown fields
// ignored, wrong types rejected naming the field) and make no syscalls. They are fuzzed by
// tests/fuzz/fuzz_image.cc.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/digest.h"
#include "util/result.h"

namespace berth::oci::image {

// Media types (image-spec "Media Types"; Docker's distribution "manifest v2 schema 2").
inline constexpr std::string_view kOciManifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view kOciIndex = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view kOciConfig = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view kOciLayer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view kOciLayerGzip = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr std::string_view kOciLayerZstd = "application/vnd.oci.image.layer.v1.tar+zstd";
inline constexpr std::string_view kOciLayerNondistributable =
    "application/vnd.oci.image.layer.nondistributable.v1.tar";
inline constexpr std::string_view kOciLayerNondistributableGzip =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";
inline constexpr std::string_view kOciLayerNondistributableZstd =
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd";
inline constexpr std::string_view kDockerManifest =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr std::string_view kDockerManifestList =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view kDockerSchema1 =
    "application/vnd.docker.distribution.manifest.v1+json";
inline constexpr std::string_view kDockerSchema1Signed =
    "application/vnd.docker.distribution.manifest.v1+prettyjws";
inline constexpr std::string_view kDockerConfig = "application/vnd.docker.container.image.v1+json";
inline constexpr std::string_view kDockerLayerGzip =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";
inline constexpr std::string_view kDockerLayerForeignGzip =
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip";
// Less common layer types docker, containerd and buildkit also write.
inline constexpr std::string_view kDockerLayer = "application/vnd.docker.image.rootfs.diff.tar";
inline constexpr std::string_view kDockerLayerZstd =
    "application/vnd.docker.image.rootfs.diff.tar.zstd";
inline constexpr std::string_view kDockerLayerForeign =
    "application/vnd.docker.image.rootfs.foreign.diff.tar";
// The empty blob "{}" artifacts use as their config (image-spec 1.1).
inline constexpr std::string_view kOciEmpty = "application/vnd.oci.empty.v1+json";

// Bounds on untrusted documents.
inline constexpr size_t kMaxManifestBytes = 4 << 20;  // registries cap manifests at 4 MiB
inline constexpr size_t kMaxConfigBytes = 8 << 20;
inline constexpr size_t kMaxManifestLayers = 1000;  // overlayfs stacks ~500 at most
inline constexpr size_t kMaxIndexManifests = 1000;  // real indexes: platforms x 2 (attestations)
inline constexpr size_t kMaxAnnotations = 1000;     // per annotations / labels map
inline constexpr size_t kMaxDescriptorUrls = 32;
inline constexpr size_t kMaxConfigListEntries = 10000;  // Env, Cmd, history, ports, volumes ...
inline constexpr size_t kMaxMediaTypeBytes = 255;
inline constexpr size_t kMaxKeyBytes = 4096;        // annotation and label keys, port names
inline constexpr size_t kMaxStringBytes = 1 << 20;  // any other string (a long RUN line)
inline constexpr int kMaxJsonDepth = 32;            // real documents nest 4 levels

struct Platform {
  std::string os;            // "linux"
  std::string architecture;  // GOARCH names: "amd64", "arm64", "arm", "386", "ppc64le", ...
  std::string variant;       // "v7", "v8", ...
  std::string os_version;
  std::vector<std::string> os_features;
};

struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::vector<std::string> urls;
  std::map<std::string, std::string> annotations;
  std::optional<Platform> platform;  // only in an index
  std::string artifact_type;
};

// What a manifest-ish document is, from its mediaType field and the Content-Type it came with.
enum class DocumentKind { Manifest, Index, DockerSchema1, Unknown };
DocumentKind document_kind(std::string_view media_type);
// Sniffs the kind from the body when the media type is missing or generic (OCI allows
// omitting mediaType): "manifests" means an index, "config"+"layers" a manifest,
// "fsLayers"/"signatures" schema 1.
DocumentKind sniff_document_kind(std::string_view content_type, std::string_view body);

struct Manifest {
  int schema_version = 2;
  std::string media_type;  // OCI or Docker schema 2 (may be empty for OCI)
  std::string artifact_type;
  Descriptor config;
  std::vector<Descriptor> layers;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
};

struct Index {
  int schema_version = 2;
  std::string media_type;  // OCI index or Docker manifest list
  std::vector<Descriptor> manifests;
  std::optional<Descriptor> subject;
  std::map<std::string, std::string> annotations;
};

// The parts of an image config berth uses (image-spec "config.md", Docker's container config
// fields). `raw` keeps the whole document so `inspect` can show what berth does not model.
struct HealthCheck {
  std::vector<std::string> test;
  int64_t interval_ns = 0, timeout_ns = 0, start_period_ns = 0, start_interval_ns = 0;
  int retries = 0;
};

struct ContainerConfig {
  std::string user;
  std::vector<std::string> exposed_ports;  // "80/tcp", sorted
  std::vector<std::string> env;
  std::optional<std::vector<std::string>> entrypoint;  // null and [] differ for docker
  std::optional<std::vector<std::string>> cmd;
  std::vector<std::string> volumes;  // sorted paths
  std::string working_dir;
  std::map<std::string, std::string> labels;
  std::string stop_signal;
  std::optional<HealthCheck> healthcheck;
  std::vector<std::string> shell;
  bool args_escaped = false;
};

struct History {
  std::string created, created_by, author, comment;
  bool empty_layer = false;
};

struct ImageConfig {
  std::string created;  // RFC 3339, as given
  std::string author;
  std::string architecture;
  std::string os;
  std::string variant;
  std::string os_version;  // "os.version"
  std::vector<std::string> os_features;
  ContainerConfig config;
  std::string rootfs_type;  // "layers"
  std::vector<Digest> diff_ids;
  std::vector<History> history;
  std::string raw;
};

// Parsers. `body` is the exact bytes (digests are over them; nothing is re-serialised).
// Errors name the field: `manifest: layers[2].digest: invalid digest "sha256:zz"`.
// Duplicate keys are rejected (a registry and berth must not read different values), and so
// are a manifest that is really an index and the reverse. parse_manifest on a schema 1
// document fails with an Unsupported error.
Result<Manifest> parse_manifest(std::string_view body);
Result<Index> parse_index(std::string_view body);
Result<ImageConfig> parse_image_config(std::string_view body);
Result<Descriptor> parse_descriptor(std::string_view body);

// Serialisers (canonical: keys sorted, no whitespace) for documents berth writes itself.
std::string serialize(const Descriptor& d);
std::string serialize(const Manifest& m);
std::string serialize(const Index& i);
// The modelled fields only, Docker's key names; parse_image_config reads it back as equal.
std::string serialize(const ImageConfig& c);

// Layer media types: which compression, and whether berth should fetch it at all.
enum class Compression { None, Gzip, Zstd };
struct LayerType {
  Compression compression = Compression::None;
  bool non_distributable = false;  // foreign / nondistributable: skipped on push, noted on pull
};
Result<LayerType> layer_type(std::string_view media_type);  // unknown: Unsupported error

// Chain IDs (image-spec "config.md#layer-chainid"): ChainID(L0) = DiffID(L0),
// ChainID(Ln) = sha256(ChainID(Ln-1) + " " + DiffID(Ln)).
std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids);

// The platform of this process ("linux", "amd64", variant from the CPU where it matters).
Platform host_platform();
// uname(2)'s machine name -> Go's GOARCH and variant: "x86_64" -> amd64, "aarch64" -> arm64/v8,
// "armv7l" -> arm/v7, "i686" -> 386. Unknown names pass through.
Platform platform_for_machine(std::string_view machine);
// Lower-cases os, architecture and variant, maps aliases (x86_64, aarch64, armhf, i386 ...) to
// Go's names and writes implied variants one way, as containerd does (arm -> arm/v7,
// arm64/v8 -> arm64, amd64/v1 -> amd64, "7" -> "v7"), so that equal platforms compare equal.
Platform normalize_platform(const Platform& p);
// Whether an image for `have` runs on `want` by the rules of select_platform.
bool platform_matches(const Platform& want, const Platform& have);
// Picks the manifest for `want` from an index, docker's rules: os and architecture must match,
// variant matches or is compatible (arm64 without variant == v8; arm v7 accepts v6/v5 as
// fallbacks, best first; amd64/v3 accepts v2, v1). Ties go to the first entry. An entry without
// a platform is taken only when nothing matches (containerd does; the caller should then check
// the config's platform). Error lists the platforms the index has:
//   no matching manifest for linux/arm64/v8 in the manifest list entries (available: ...)
Result<Descriptor> select_platform(const Index& index, const Platform& want);
// "linux/arm64/v8" -> Platform; errors name the string. Architecture aliases are mapped to Go's
// names (x86_64 -> amd64); one component is an os (with the host's architecture) or an
// architecture (on linux), as docker's --platform takes it.
Result<Platform> parse_platform(std::string_view s);
std::string platform_string(const Platform& p);

}  // namespace berth::oci::image
