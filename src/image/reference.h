// Docker-style image references, normalised as docker does:
//   busybox                 -> docker.io/library/busybox:latest
//   me/app:1.0              -> docker.io/me/app:1.0
//   localhost:5000/ns/app   -> localhost:5000/ns/app:latest
//   app@sha256:<hex>        -> docker.io/library/app@sha256:<hex> (no implied tag)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/digest.h"
#include "util/result.h"

namespace berth::image {

inline constexpr std::string_view kDefaultDomain = "docker.io";
inline constexpr std::string_view kDefaultTag = "latest";

struct Reference {
  std::string domain;  // "docker.io", "localhost:5000", "[::1]:5000"
  std::string path;    // "library/busybox"
  std::string tag;     // empty when only a digest was given
  std::optional<Digest> digest;

  std::string name() const;      // domain + "/" + path
  std::string str() const;       // name[:tag][@digest], fully qualified
  std::string familiar() const;  // as docker prints it: "busybox:latest", "me/app:1.0"
  // The tag or the digest, whichever addresses the manifest (digest wins).
  std::string object() const;
  // Registry host to contact: docker.io means registry-1.docker.io.
  std::string registry_host() const;
};

// Parses and normalises. Errors say what is wrong like docker does:
//   invalid reference format: repository name (library/Busybox) must be lowercase
// `add_default_tag`: a reference with neither tag nor digest gets ":latest" (pull, run);
// without it the tag stays empty (e.g. `docker images busybox`).
Result<Reference> parse_reference(std::string_view s, bool add_default_tag = true);

// True when `s` could be a short image ID or digest prefix rather than a name: 12-64 lower-case
// hex digits, or "sha256:" and 1-64 of them.
bool looks_like_id(std::string_view s);

}  // namespace berth::image
