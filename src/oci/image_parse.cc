// Image-spec documents (manifests, indexes, configs, descriptors) -> oci::image types.
//
// The bytes come from registries and tarballs, so everything is bounded before it is trusted:
// the body size, the nesting depth (checked while nlohmann parses, so a deep document is
// stopped early), duplicate keys (rejected: two readers of one document must never see two
// different values), list lengths and string lengths. Each document is parsed into a DOM once
// and walked by one `read_*` function per type; every failure is Error::invalid naming the
// field JSON-path style, `layers[2].digest: invalid digest "sha256:zz": ...`, and the public
// entry points prefix the document ("manifest: "). Unknown fields are ignored and `null`
// reads as absent, as Go's decoder (hence docker and containerd) does. No exception leaves
// this file: nlohmann's are caught at the entry points.
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>

#include "oci/image.h"
#include "oci/json_path.h"
#include "util/json_escape.h"

namespace berth::oci::image {
namespace {

using json = nlohmann::json;
using value_t = json::value_t;

constexpr size_t kMaxPlatformFieldBytes = 255;

using Path = detail::JsonPath;
using detail::describe;
using detail::expect_object;
using detail::field_error;
using detail::type_error;

// The member `name` of object `obj`, or nullptr when it is absent or null.
json* member(json& obj, std::string_view name) {
  auto it = obj.find(name);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

// ---------------------------------------------------------------------------------------------
// Scalars.

Result<void> read_string(json& j, const Path& p, std::string& out, size_t max = kMaxStringBytes) {
  if (!j.is_string()) return type_error(p, "must be a string", j);
  std::string& s = j.get_ref<std::string&>();
  if (s.size() > max)
    return field_error(p, "string of " + std::to_string(s.size()) +
                              " bytes is longer than the limit of " + std::to_string(max));
  out = std::move(s);
  return ok();
}

Result<void> read_bool(json& j, const Path& p, bool& out) {
  if (!j.is_boolean()) return type_error(p, "must be a boolean", j);
  out = j.get<bool>();
  return ok();
}

// An integer in [lo, hi]. Fractions, exponents and numbers beyond 64 bits are refused, as Go's
// decoder refuses them for integer fields (and an out-of-range double -> int cast is UB).
Result<void> read_int(json& j, const Path& p, int64_t lo, int64_t hi, int64_t& out) {
  const char* expected = lo >= 0 ? "must be a non-negative integer" : "must be an integer";
  auto out_of_range = [&] {
    return field_error(
        p, j.dump() + " is out of range [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  };
  switch (j.type()) {
    case value_t::number_unsigned: {
      uint64_t v = j.get<uint64_t>();
      if (v > static_cast<uint64_t>(hi)) return out_of_range();
      out = static_cast<int64_t>(v);
      return ok();
    }
    case value_t::number_integer: {
      int64_t v = j.get<int64_t>();
      if (v < 0 && lo >= 0) return type_error(p, expected, j);
      if (v < lo || v > hi) return out_of_range();
      out = v;
      return ok();
    }
    default: return type_error(p, expected, j);
  }
}

Result<void> read_int64(json& j, const Path& p, int64_t& out) {
  return read_int(j, p, std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                  out);
}

Result<void> read_int32(json& j, const Path& p, int& out) {
  int64_t v = 0;
  BERTH_TRY(read_int(j, p, std::numeric_limits<int>::min(), std::numeric_limits<int>::max(), v));
  out = static_cast<int>(v);
  return ok();
}

Result<void> read_size(json& j, const Path& p, int64_t& out) {
  return read_int(j, p, 0, std::numeric_limits<int64_t>::max(), out);
}

Result<void> read_digest(json& j, const Path& p, Digest& out) {
  std::string s;
  BERTH_TRY(read_string(j, p, s, 256));
  Result<Digest> d = Digest::parse(s);
  if (!d) return field_error(p, d.error().message());
  out = std::move(*d);
  return ok();
}

// RFC 6838 section 4.2 restricted-name characters.
bool is_restricted_name(std::string_view s) {
  if (s.empty() || s.size() > 127) return false;
  auto alnum = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  };
  if (!alnum(s[0])) return false;
  for (char c : s)
    if (!alnum(c) && std::string_view("!#$&-^_.+").find(c) == std::string_view::npos) return false;
  return true;
}

// "type/subtype", RFC 6838 (the image-spec requires it; no parameters).
Result<void> read_media_type(json& j, const Path& p, std::string& out) {
  std::string s;
  BERTH_TRY(read_string(j, p, s, kMaxMediaTypeBytes));
  size_t slash = s.find('/');
  if (slash == std::string::npos || !is_restricted_name(std::string_view(s).substr(0, slash)) ||
      !is_restricted_name(std::string_view(s).substr(slash + 1)))
    return field_error(p, "invalid media type " + quote_for_message(s));
  out = std::move(s);
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Containers.

Result<void> check_count(const json& j, const Path& p, size_t max) {
  if (j.size() > max)
    return field_error(
        p, std::to_string(j.size()) + " entries are more than the limit of " + std::to_string(max));
  return ok();
}

template <class T, class ReadOne>
Result<void> read_list(json& j, const Path& p, size_t max, std::vector<T>& out, ReadOne one) {
  if (!j.is_array()) return type_error(p, "must be an array", j);
  BERTH_TRY(check_count(j, p, max));
  out.clear();
  out.reserve(j.size());
  for (size_t i = 0; i < j.size(); ++i) {
    out.emplace_back();
    BERTH_TRY(one(j[i], Path(p, i), out.back()));
  }
  return ok();
}

Result<void> read_strings(json& j, const Path& p, std::vector<std::string>& out,
                          size_t max = kMaxConfigListEntries) {
  return read_list(j, p, max, out,
                   [](json& e, const Path& ep, std::string& s) { return read_string(e, ep, s); });
}

// Docker's strslice: a list of strings, or one string meaning a list of one.
Result<void> read_str_slice(json& j, const Path& p, std::optional<std::vector<std::string>>& out) {
  out.emplace();
  if (j.is_string()) {
    out->emplace_back();
    return read_string(j, p, out->back());
  }
  return read_strings(j, p, *out);
}

// {"key": "value"}; a null value reads as "" (Go does the same for map[string]string).
Result<void> read_string_map(json& j, const Path& p, std::map<std::string, std::string>& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(check_count(j, p, kMaxAnnotations));
  out.clear();
  for (auto it = j.begin(); it != j.end(); ++it) {
    Path kp(p, it.key());
    if (it.key().size() > kMaxKeyBytes)
      return field_error(p, "key of " + std::to_string(it.key().size()) +
                                " bytes is longer than the limit of " +
                                std::to_string(kMaxKeyBytes));
    std::string v;
    if (!it->is_null()) BERTH_TRY(read_string(*it, kp, v));
    out.emplace(it.key(), std::move(v));
  }
  return ok();
}

// Docker's sets, {"80/tcp": {}} and {"/data": {}}: the sorted keys. Values are empty objects
// (null is tolerated, as Go's decoder tolerates it for struct{}).
Result<void> read_key_set(json& j, const Path& p, std::vector<std::string>& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(check_count(j, p, kMaxConfigListEntries));
  out.clear();
  for (auto it = j.begin(); it != j.end(); ++it) {
    Path kp(p, it.key());
    if (it.key().empty()) return field_error(kp, "empty key");
    if (it.key().size() > kMaxKeyBytes)
      return field_error(p, "key of " + std::to_string(it.key().size()) +
                                " bytes is longer than the limit of " +
                                std::to_string(kMaxKeyBytes));
    if (!it->is_null() && !it->is_object()) return type_error(kp, "must be an object", *it);
    out.push_back(it.key());  // nlohmann's object is a std::map: already sorted
  }
  return ok();
}

// Reads member `name` with `reader` when it is present and not null.
template <class T, class Reader>
Result<void> optional_field(json& obj, const Path& p, std::string_view name, T& out,
                            Reader reader) {
  json* m = member(obj, name);
  if (!m) return ok();
  return reader(*m, Path(p, name), out);
}

template <class T, class Reader>
Result<void> required_field(json& obj, const Path& p, std::string_view name, T& out,
                            Reader reader) {
  json* m = member(obj, name);
  if (!m) return field_error(Path(p, name), "required");
  return reader(*m, Path(p, name), out);
}

Result<void> opt_string(json& obj, const Path& p, std::string_view name, std::string& out,
                        size_t max = kMaxStringBytes) {
  return optional_field(obj, p, name, out, [max](json& j, const Path& fp, std::string& s) {
    return read_string(j, fp, s, max);
  });
}

// ---------------------------------------------------------------------------------------------
// Descriptors, manifests, indexes.

Result<void> read_platform(json& j, const Path& p, Platform& out) {
  BERTH_TRY(expect_object(j, p));
  auto short_string = [](json& v, const Path& fp, std::string& s) {
    return read_string(v, fp, s, kMaxPlatformFieldBytes);
  };
  BERTH_TRY(required_field(j, p, "architecture", out.architecture, short_string));
  BERTH_TRY(required_field(j, p, "os", out.os, short_string));
  BERTH_TRY(optional_field(j, p, "os.version", out.os_version, short_string));
  BERTH_TRY(optional_field(j, p, "os.features", out.os_features,
                           [&](json& v, const Path& fp, std::vector<std::string>& list) {
                             return read_list(v, fp, 64, list, short_string);
                           }));
  BERTH_TRY(optional_field(j, p, "variant", out.variant, short_string));
  return ok();
}

Result<void> read_annotations(json& j, const Path& p, std::map<std::string, std::string>& out) {
  return read_string_map(j, p, out);
}

Result<void> read_descriptor(json& j, const Path& p, Descriptor& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required_field(j, p, "mediaType", out.media_type, read_media_type));
  BERTH_TRY(required_field(j, p, "digest", out.digest, read_digest));
  BERTH_TRY(required_field(j, p, "size", out.size, read_size));
  BERTH_TRY(optional_field(j, p, "urls", out.urls,
                           [](json& v, const Path& fp, std::vector<std::string>& urls) {
                             return read_strings(v, fp, urls, kMaxDescriptorUrls);
                           }));
  BERTH_TRY(optional_field(j, p, "annotations", out.annotations, read_annotations));
  BERTH_TRY(optional_field(j, p, "platform", out.platform,
                           [](json& v, const Path& fp, std::optional<Platform>& plat) {
                             plat.emplace();
                             return read_platform(v, fp, *plat);
                           }));
  BERTH_TRY(optional_field(j, p, "artifactType", out.artifact_type, read_media_type));
  return ok();
}

// A blob whose bytes berth will read whole into memory must fit the limit for its kind; the
// size in the descriptor is checked before anything is fetched.
Result<void> check_document_size(const Descriptor& d, const Path& p) {
  size_t limit = 0;
  if (d.media_type == kOciConfig || d.media_type == kDockerConfig) limit = kMaxConfigBytes;
  DocumentKind kind = document_kind(d.media_type);
  if (kind == DocumentKind::Manifest || kind == DocumentKind::Index) limit = kMaxManifestBytes;
  if (limit && static_cast<uint64_t>(d.size) > limit)
    return field_error(Path(p, "size"), std::to_string(d.size) + " is more than the limit of " +
                                            std::to_string(limit) + " bytes for " + d.media_type);
  return ok();
}

Result<void> read_subject(json& j, const Path& p, std::optional<Descriptor>& out) {
  out.emplace();
  return read_descriptor(j, p, *out);
}

bool has_member(json& obj, std::string_view name) { return obj.find(name) != obj.end(); }

// Schema 1 is refused by whoever meets it first, with the same words.
Result<void> refuse_schema1(json& j, std::string_view media_type) {
  bool schema1 = document_kind(media_type) == DocumentKind::DockerSchema1 ||
                 has_member(j, "fsLayers") || has_member(j, "signatures");
  json* version = member(j, "schemaVersion");
  if (version && version->is_number_integer() && *version == 1) schema1 = true;
  if (!schema1) return ok();
  std::string shown(document_kind(media_type) == DocumentKind::DockerSchema1 ? media_type
                    : has_member(j, "signatures")                            ? kDockerSchema1Signed
                                                                             : kDockerSchema1);
  return Error::unsupported("unsupported manifest schema 1 (" + shown +
                            "): docker no longer pulls this format; the image must be pushed "
                            "again as Docker schema 2 or OCI");
}

Result<void> read_schema_version(json& j, const Path& p, int& out) {
  int v = 0;
  BERTH_TRY(required_field(j, p, "schemaVersion", v, read_int32));
  if (v != 2) return field_error(Path(p, "schemaVersion"), "must be 2, got " + std::to_string(v));
  out = v;
  return ok();
}

// mediaType is optional in OCI documents, but when present it must say what the document is.
// When it is absent, fields of the other kind give away a document of the wrong kind (the
// image-spec's guard against a manifest being read as an index or the reverse).
Result<void> read_kind(json& j, const Path& p, DocumentKind want, std::string& media_type) {
  std::string mt;
  BERTH_TRY(optional_field(j, p, "mediaType", mt, read_media_type));
  BERTH_TRY(refuse_schema1(j, mt));
  const char* want_name = want == DocumentKind::Manifest ? "a manifest" : "an index";
  if (!mt.empty()) {
    DocumentKind kind = document_kind(mt);
    if (kind == want) {
      media_type = std::move(mt);
      return ok();
    }
    if (kind == DocumentKind::Manifest || kind == DocumentKind::Index)
      return field_error(Path(p, "mediaType"),
                         quote_for_message(mt) + " is " +
                             (kind == DocumentKind::Manifest ? "a manifest" : "an index") +
                             ", not " + want_name);
    return field_error(Path(p, "mediaType"),
                       "unsupported media type " + quote_for_message(mt) + " for " + want_name);
  }
  if (want == DocumentKind::Manifest && has_member(j, "manifests"))
    return field_error(Path(p, "manifests"),
                       "present without a mediaType: an index, not a manifest");
  if (want == DocumentKind::Index && (has_member(j, "layers") || has_member(j, "config")))
    return field_error(Path(p, has_member(j, "layers") ? "layers" : "config"),
                       "present without a mediaType: a manifest, not an index");
  return ok();
}

Result<void> read_manifest(json& j, const Path& p, Manifest& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(read_kind(j, p, DocumentKind::Manifest, out.media_type));
  BERTH_TRY(read_schema_version(j, p, out.schema_version));
  BERTH_TRY(optional_field(j, p, "artifactType", out.artifact_type, read_media_type));
  BERTH_TRY(required_field(j, p, "config", out.config, read_descriptor));
  BERTH_TRY(check_document_size(out.config, Path(p, "config")));
  BERTH_TRY(required_field(j, p, "layers", out.layers,
                           [](json& v, const Path& fp, std::vector<Descriptor>& layers) {
                             return read_list(v, fp, kMaxManifestLayers, layers, read_descriptor);
                           }));
  BERTH_TRY(optional_field(j, p, "subject", out.subject, read_subject));
  BERTH_TRY(optional_field(j, p, "annotations", out.annotations, read_annotations));
  return ok();
}

Result<void> read_index(json& j, const Path& p, Index& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(read_kind(j, p, DocumentKind::Index, out.media_type));
  BERTH_TRY(read_schema_version(j, p, out.schema_version));
  BERTH_TRY(
      required_field(j, p, "manifests", out.manifests,
                     [](json& v, const Path& fp, std::vector<Descriptor>& list) -> Result<void> {
                       BERTH_TRY(read_list(v, fp, kMaxIndexManifests, list, read_descriptor));
                       for (size_t i = 0; i < list.size(); ++i)
                         BERTH_TRY(check_document_size(list[i], Path(fp, i)));
                       return ok();
                     }));
  BERTH_TRY(optional_field(j, p, "subject", out.subject, read_subject));
  BERTH_TRY(optional_field(j, p, "annotations", out.annotations, read_annotations));
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Image config.

Result<void> read_healthcheck(json& j, const Path& p, std::optional<HealthCheck>& out) {
  BERTH_TRY(expect_object(j, p));
  out.emplace();
  BERTH_TRY(optional_field(
      j, p, "Test", out->test,
      [](json& v, const Path& fp, std::vector<std::string>& t) { return read_strings(v, fp, t); }));
  BERTH_TRY(optional_field(j, p, "Interval", out->interval_ns, read_int64));
  BERTH_TRY(optional_field(j, p, "Timeout", out->timeout_ns, read_int64));
  BERTH_TRY(optional_field(j, p, "StartPeriod", out->start_period_ns, read_int64));
  BERTH_TRY(optional_field(j, p, "StartInterval", out->start_interval_ns, read_int64));
  BERTH_TRY(optional_field(j, p, "Retries", out->retries, read_int32));
  return ok();
}

Result<void> read_container_config(json& j, const Path& p, ContainerConfig& out) {
  BERTH_TRY(expect_object(j, p));
  auto strings = [](json& v, const Path& fp, std::vector<std::string>& list) {
    return read_strings(v, fp, list);
  };
  BERTH_TRY(opt_string(j, p, "User", out.user));
  BERTH_TRY(optional_field(j, p, "ExposedPorts", out.exposed_ports, read_key_set));
  BERTH_TRY(optional_field(j, p, "Env", out.env, strings));
  BERTH_TRY(optional_field(j, p, "Entrypoint", out.entrypoint, read_str_slice));
  BERTH_TRY(optional_field(j, p, "Cmd", out.cmd, read_str_slice));
  BERTH_TRY(optional_field(j, p, "Volumes", out.volumes, read_key_set));
  BERTH_TRY(opt_string(j, p, "WorkingDir", out.working_dir));
  BERTH_TRY(optional_field(j, p, "Labels", out.labels, read_string_map));
  BERTH_TRY(opt_string(j, p, "StopSignal", out.stop_signal, kMaxKeyBytes));
  BERTH_TRY(optional_field(j, p, "Healthcheck", out.healthcheck, read_healthcheck));
  BERTH_TRY(
      optional_field(j, p, "Shell", out.shell,
                     [](json& v, const Path& fp, std::vector<std::string>& shell) -> Result<void> {
                       std::optional<std::vector<std::string>> s;
                       BERTH_TRY(read_str_slice(v, fp, s));
                       shell = std::move(*s);
                       return ok();
                     }));
  BERTH_TRY(optional_field(j, p, "ArgsEscaped", out.args_escaped, read_bool));
  return ok();
}

Result<void> read_history(json& j, const Path& p, History& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(opt_string(j, p, "created", out.created, kMaxKeyBytes));
  BERTH_TRY(opt_string(j, p, "created_by", out.created_by));
  BERTH_TRY(opt_string(j, p, "author", out.author));
  BERTH_TRY(opt_string(j, p, "comment", out.comment));
  BERTH_TRY(optional_field(j, p, "empty_layer", out.empty_layer, read_bool));
  return ok();
}

Result<void> read_rootfs(json& j, const Path& p, ImageConfig& out) {
  BERTH_TRY(expect_object(j, p));
  BERTH_TRY(required_field(j, p, "type", out.rootfs_type,
                           [](json& v, const Path& fp, std::string& type) -> Result<void> {
                             BERTH_TRY(read_string(v, fp, type, kMaxKeyBytes));
                             if (type != "layers")
                               return field_error(
                                   fp, "must be \"layers\", got " + quote_for_message(type));
                             return ok();
                           }));
  BERTH_TRY(required_field(j, p, "diff_ids", out.diff_ids,
                           [](json& v, const Path& fp, std::vector<Digest>& ids) {
                             return read_list(v, fp, kMaxManifestLayers, ids, read_digest);
                           }));
  return ok();
}

Result<void> read_image_config(json& j, const Path& p, ImageConfig& out) {
  BERTH_TRY(expect_object(j, p));
  auto platform_string = [](json& v, const Path& fp, std::string& s) {
    return read_string(v, fp, s, kMaxPlatformFieldBytes);
  };
  BERTH_TRY(opt_string(j, p, "created", out.created, kMaxKeyBytes));
  BERTH_TRY(opt_string(j, p, "author", out.author));
  BERTH_TRY(optional_field(j, p, "architecture", out.architecture, platform_string));
  BERTH_TRY(optional_field(j, p, "os", out.os, platform_string));
  BERTH_TRY(optional_field(j, p, "variant", out.variant, platform_string));
  BERTH_TRY(optional_field(j, p, "os.version", out.os_version, platform_string));
  BERTH_TRY(optional_field(j, p, "os.features", out.os_features,
                           [&](json& v, const Path& fp, std::vector<std::string>& list) {
                             return read_list(v, fp, 64, list, platform_string);
                           }));
  BERTH_TRY(optional_field(j, p, "config", out.config, read_container_config));
  json* rootfs = member(j, "rootfs");
  if (!rootfs) return field_error(Path(p, "rootfs"), "required");
  BERTH_TRY(read_rootfs(*rootfs, Path(p, "rootfs"), out));
  BERTH_TRY(optional_field(j, p, "history", out.history,
                           [](json& v, const Path& fp, std::vector<History>& list) {
                             return read_list(v, fp, kMaxConfigListEntries, list, read_history);
                           }));
  return ok();
}

// ---------------------------------------------------------------------------------------------
// Text -> DOM.

// Thrown from the parser callback to stop nlohmann early; caught in parse_json.
struct Refused {
  std::string message;
};

// Follows the parse to refuse duplicate keys and deep nesting, naming where they are. nlohmann
// reports containers only when they end, so array positions are counted here.
class Guard {
 public:
  bool operator()(int depth, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= kMaxJsonDepth)
          throw Refused{where() + "nested deeper than " + std::to_string(kMaxJsonDepth) +
                        " levels"};
        frames_.push_back(Frame{event == json::parse_event_t::object_start});
        break;
      case json::parse_event_t::key: {
        Frame& top = frames_.back();
        top.key = parsed.get_ref<const std::string&>();
        if (!top.keys.insert(top.key).second)
          throw Refused{where(/*with_last_key=*/false) + "duplicate key " +
                        quote_for_message(top.key)};
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end: frames_.pop_back(); [[fallthrough]];
      case json::parse_event_t::value:
        if (!frames_.empty() && !frames_.back().object) ++frames_.back().index;
        break;
    }
    return true;
  }

 private:
  struct Frame {
    bool object = false;
    size_t index = 0;
    std::string key;
    std::set<std::string> keys;
  };

  // "layers[2].digest: " for the innermost open container's current position; without the
  // key being read when `with_last_key` is false.
  std::string where(bool with_last_key = true) const {
    std::string out;
    for (size_t i = 0; i < frames_.size(); ++i) {
      const Frame& f = frames_[i];
      if (f.object) {
        if (f.keys.empty() || (!with_last_key && i + 1 == frames_.size())) continue;
        if (Path::is_plain(f.key)) {
          if (!out.empty()) out += '.';
          out += f.key;
        } else {
          out += '[' + quote_for_message(f.key) + ']';
        }
      } else {
        out += '[' + std::to_string(f.index) + ']';
      }
    }
    return out.empty() ? out : out + ": ";
  }

  std::vector<Frame> frames_;
};

Result<json> parse_json(std::string_view text, size_t max_bytes) {
  if (text.size() > max_bytes)
    return Error::invalid(std::to_string(text.size()) + " bytes is more than the limit of " +
                          std::to_string(max_bytes));
  try {
    Guard guard;
    json::parser_callback_t cb = [&guard](int depth, json::parse_event_t event, json& parsed) {
      return guard(depth, event, parsed);
    };
    return json::parse(text.begin(), text.end(), cb, /*allow_exceptions=*/true,
                       /*ignore_comments=*/false);
  } catch (const Refused& r) {
    return Error::invalid(r.message);
  } catch (const json::exception& e) {
    return Error::invalid("invalid JSON: " + json_error_text(e.what()));
  }
}

// Parses `body` as a `what` with `read`; the one place exceptions stop.
template <class T, class Reader>
Result<T> parse_document(std::string_view body, const char* what, size_t max_bytes, Reader read) {
  try {
    Result<json> doc = parse_json(body, max_bytes);
    if (!doc) return std::move(doc.error()).wrap(what);
    T out;
    Result<void> r = read(*doc, Path(), out);
    if (!r) return std::move(r.error()).wrap(what);
    return out;
  } catch (const std::exception& e) {
    return Error::internal(std::string(what) + ": " + e.what());
  }
}

}  // namespace

Result<Manifest> parse_manifest(std::string_view body) {
  return parse_document<Manifest>(body, "manifest", kMaxManifestBytes, read_manifest);
}

Result<Index> parse_index(std::string_view body) {
  return parse_document<Index>(body, "index", kMaxManifestBytes, read_index);
}

Result<Descriptor> parse_descriptor(std::string_view body) {
  return parse_document<Descriptor>(body, "descriptor", kMaxManifestBytes, read_descriptor);
}

Result<ImageConfig> parse_image_config(std::string_view body) {
  Result<ImageConfig> c =
      parse_document<ImageConfig>(body, "config", kMaxConfigBytes, read_image_config);
  if (c) c->raw = std::string(body);
  return c;
}

DocumentKind sniff_document_kind(std::string_view content_type, std::string_view body) {
  DocumentKind kind = document_kind(content_type);
  if (kind != DocumentKind::Unknown) return kind;
  try {
    Result<json> doc = parse_json(body, kMaxManifestBytes);
    if (!doc || !doc->is_object()) return DocumentKind::Unknown;
    json& j = *doc;
    json* mt = member(j, "mediaType");
    if (mt && mt->is_string()) {
      kind = document_kind(mt->get_ref<const std::string&>());
      if (kind != DocumentKind::Unknown) return kind;
    }
    json* version = member(j, "schemaVersion");
    if (has_member(j, "fsLayers") || has_member(j, "signatures") ||
        (version && version->is_number_integer() && *version == 1))
      return DocumentKind::DockerSchema1;
    if (has_member(j, "manifests")) return DocumentKind::Index;
    if (has_member(j, "config") && has_member(j, "layers")) return DocumentKind::Manifest;
  } catch (const std::exception&) {
  }
  return DocumentKind::Unknown;
}

}  // namespace berth::oci::image
