// Media types (what a document or a layer is) and chain IDs.
#include <array>
#include <cctype>

#include "oci/image.h"

namespace berth::oci::image {
namespace {

// "Application/VND.OCI...+json; charset=utf-8" -> "application/vnd.oci...+json": a
// Content-Type's parameters dropped, case folded (media types are case-insensitive).
std::string bare_media_type(std::string_view s) {
  size_t semi = s.find(';');
  if (semi != std::string_view::npos) s = s.substr(0, semi);
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct KnownLayer {
  std::string_view media_type;
  LayerType type;
};

constexpr std::array<KnownLayer, 11> kLayers = {{
    {kOciLayer, {Compression::None, false}},
    {kOciLayerGzip, {Compression::Gzip, false}},
    {kOciLayerZstd, {Compression::Zstd, false}},
    {kOciLayerNondistributable, {Compression::None, true}},
    {kOciLayerNondistributableGzip, {Compression::Gzip, true}},
    {kOciLayerNondistributableZstd, {Compression::Zstd, true}},
    {kDockerLayer, {Compression::None, false}},
    {kDockerLayerGzip, {Compression::Gzip, false}},
    {kDockerLayerZstd, {Compression::Zstd, false}},
    {kDockerLayerForeign, {Compression::None, true}},
    {kDockerLayerForeignGzip, {Compression::Gzip, true}},
}};

}  // namespace

DocumentKind document_kind(std::string_view media_type) {
  std::string mt = bare_media_type(media_type);
  if (mt == kOciManifest || mt == kDockerManifest) return DocumentKind::Manifest;
  if (mt == kOciIndex || mt == kDockerManifestList) return DocumentKind::Index;
  if (mt == kDockerSchema1 || mt == kDockerSchema1Signed) return DocumentKind::DockerSchema1;
  return DocumentKind::Unknown;
}

Result<LayerType> layer_type(std::string_view media_type) {
  for (const KnownLayer& known : kLayers)
    if (media_type == known.media_type) return known.type;
  std::string shown(media_type.substr(0, 256));
  for (char& c : shown)
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  if (media_type.find("+encrypted") != std::string_view::npos)
    return Error::unsupported("unsupported layer media type \"" + shown +
                              "\": encrypted layers are not supported");
  return Error::unsupported("unsupported layer media type \"" + shown + "\"");
}

std::vector<Digest> chain_ids(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  out.reserve(diff_ids.size());
  for (const Digest& diff_id : diff_ids) {
    if (out.empty()) {
      out.push_back(diff_id);
      continue;
    }
    out.push_back(sha256_of(out.back().str() + " " + diff_id.str()));
  }
  return out;
}

}  // namespace berth::oci::image
