// Hostile manifests, indexes, configs and descriptors: each must be rejected with an error that
// names the field (or, for broken JSON, says where it broke), stays one bounded line, and is
// the kind a caller can act on. Bodies are built here rather than stored, so the big ones cost
// nothing in the tree.
#include <gtest/gtest.h>

#include <string>

#include "oci/image.h"

namespace berth::oci::image {
namespace {

enum class Doc { Manifest, Index, Config, Descriptor };

const std::string kHexA(64, 'a');
const std::string kDigest = "sha256:" + kHexA;

std::string desc(std::string_view media_type = kOciLayerGzip, std::string digest = kDigest,
                 std::string size = "10", std::string extra = "") {
  return "{\"mediaType\":\"" + std::string(media_type) + "\",\"digest\":\"" + digest +
         "\",\"size\":" + size + extra + "}";
}

std::string config_desc() { return desc(kOciConfig); }

std::string manifest(std::string layers, std::string extra = "") {
  return "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kOciManifest) +
         "\",\"config\":" + config_desc() + ",\"layers\":[" + layers + "]" + extra + "}";
}

std::string index_of(std::string entries, std::string extra = "") {
  return "{\"schemaVersion\":2,\"mediaType\":\"" + std::string(kOciIndex) + "\",\"manifests\":[" +
         entries + "]" + extra + "}";
}

std::string entry(std::string platform) {
  return desc(kOciManifest, kDigest, "500", ",\"platform\":" + platform);
}

std::string config(std::string container_config, std::string rootfs = "", std::string extra = "") {
  if (rootfs.empty()) rootfs = R"({"type":"layers","diff_ids":[")" + kDigest + "\"]}";
  return "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":" + container_config +
         ",\"rootfs\":" + rootfs + extra + "}";
}

std::string repeat(const std::string& s, size_t n, const char* sep = ",") {
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    if (i) out += sep;
    out += s;
  }
  return out;
}

std::string many_annotations(size_t n) {
  std::string out = "{";
  for (size_t i = 0; i < n; ++i) out += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":\"v\"";
  return out + "}";
}

struct Hostile {
  const char* name;
  Doc doc;
  std::string body;
  std::string want;  // substring of the message
  ErrorKind kind = ErrorKind::InvalidArgument;
};

std::vector<Hostile> samples() {
  const std::string layer = desc();
  return {
      // --- manifests: shape and types
      {"not an object", Doc::Manifest, "[]", "manifest: must be an object, got an array"},
      {"schemaVersion string", Doc::Manifest,
       R"({"schemaVersion":"2","config":)" + config_desc() + R"(,"layers":[]})",
       "manifest: schemaVersion: must be an integer, got string \"2\""},
      {"schemaVersion 3", Doc::Manifest,
       R"({"schemaVersion":3,"config":)" + config_desc() + R"(,"layers":[]})",
       "manifest: schemaVersion: must be 2, got 3"},
      {"schemaVersion missing", Doc::Manifest, R"({"config":)" + config_desc() + R"(,"layers":[]})",
       "manifest: schemaVersion: required"},
      {"config missing", Doc::Manifest, R"({"schemaVersion":2,"layers":[]})",
       "manifest: config: required"},
      {"config not an object", Doc::Manifest,
       R"({"schemaVersion":2,"config":"sha256:x","layers":[]})",
       "manifest: config: must be an object, got string \"sha256:x\""},
      {"layers not an array", Doc::Manifest,
       R"({"schemaVersion":2,"config":)" + config_desc() + R"(,"layers":{}})",
       "manifest: layers: must be an array, got an object"},
      {"layers missing", Doc::Manifest, R"({"schemaVersion":2,"config":)" + config_desc() + "}",
       "manifest: layers: required"},
      // --- descriptors inside a manifest
      {"bad digest", Doc::Manifest,
       manifest(layer + "," + layer + "," + desc(kOciLayerGzip, "sha256:zz")),
       "manifest: layers[2].digest: invalid digest \"sha256:zz\": wrong length for sha256"},
      {"upper-case digest", Doc::Manifest,
       manifest(desc(kOciLayerGzip, "sha256:" + std::string(64, 'A'))),
       "manifest: layers[0].digest: invalid digest \"sha256:AAAA"},
      {"digest with control bytes", Doc::Manifest,
       manifest(desc(kOciLayerGzip, "sha256:\\u0000\\n" + std::string(62, 'a'))),
       "manifest: layers[0].digest: invalid digest \"sha256:??aaaa"},
      {"digest not a string", Doc::Manifest,
       manifest(R"({"mediaType":"a/b","digest":12,"size":1})"),
       "manifest: layers[0].digest: must be a string, got 12"},
      {"negative size", Doc::Manifest, manifest(desc(kOciLayerGzip, kDigest, "-1")),
       "manifest: layers[0].size: must be a non-negative integer, got -1"},
      {"fractional size", Doc::Manifest, manifest(desc(kOciLayerGzip, kDigest, "1.5")),
       "manifest: layers[0].size: must be a non-negative integer, got 1.5"},
      {"exponent size", Doc::Manifest, manifest(desc(kOciLayerGzip, kDigest, "1e3")),
       "manifest: layers[0].size: must be a non-negative integer, got 1000.0"},
      {"size beyond int64", Doc::Manifest,
       manifest(desc(kOciLayerGzip, kDigest, "9223372036854775808")),
       "manifest: layers[0].size: 9223372036854775808 is out of range"},
      {"size beyond 64 bits", Doc::Manifest,
       manifest(desc(kOciLayerGzip, kDigest, "184467440737095516160")),
       "manifest: layers[0].size: must be a non-negative integer, got 1.84467440737095"},
      {"size as string", Doc::Manifest, manifest(desc(kOciLayerGzip, kDigest, "\"10\"")),
       "manifest: layers[0].size: must be a non-negative integer, got string \"10\""},
      {"size missing", Doc::Manifest,
       manifest(R"({"mediaType":"a/b","digest":")" + kDigest + "\"}"),
       "manifest: layers[0].size: required"},
      {"mediaType missing", Doc::Manifest, manifest(R"({"digest":")" + kDigest + R"(","size":1})"),
       "manifest: layers[0].mediaType: required"},
      {"mediaType not a media type", Doc::Manifest, manifest(desc("not a media type")),
       "manifest: layers[0].mediaType: invalid media type \"not a media type\""},
      {"mediaType too long", Doc::Manifest, manifest(desc("a/" + std::string(300, 'b'))),
       "manifest: layers[0].mediaType: string of 302 bytes is longer than the limit of 255"},
      {"too many layers", Doc::Manifest, manifest(repeat(layer, 1001)),
       "manifest: layers: 1001 entries are more than the limit of 1000"},
      {"urls not an array", Doc::Manifest,
       manifest(desc(kOciLayerGzip, kDigest, "1", ",\"urls\":\"http://x\"")),
       "manifest: layers[0].urls: must be an array, got string \"http://x\""},
      {"too many urls", Doc::Manifest,
       manifest(desc(kOciLayerGzip, kDigest, "1", ",\"urls\":[" + repeat("\"u\"", 33) + "]")),
       "manifest: layers[0].urls: 33 entries are more than the limit of 32"},
      {"annotation value not a string", Doc::Manifest,
       manifest(layer, R"(,"annotations":{"org.opencontainers.image.title":1})"),
       "manifest: annotations[\"org.opencontainers.image.title\"]: must be a string, got 1"},
      {"too many annotations", Doc::Manifest,
       manifest(layer, ",\"annotations\":" + many_annotations(1001)),
       "manifest: annotations: 1001 entries are more than the limit of 1000"},
      {"config blob too big to read", Doc::Manifest,
       R"({"schemaVersion":2,"config":)" + desc(kOciConfig, kDigest, "8388609") +
           R"(,"layers":[]})",
       "manifest: config.size: 8388609 is more than the limit of 8388608 bytes"},
      {"subject not a descriptor", Doc::Manifest, manifest(layer, R"(,"subject":{"size":1})"),
       "manifest: subject.mediaType: required"},
      // --- JSON-level attacks
      {"duplicate top-level key", Doc::Manifest,
       manifest(layer, ",\"config\":" + desc(kOciConfig, "sha256:" + std::string(64, 'b'))),
       "manifest: duplicate key \"config\""},
      {"duplicate key in a layer", Doc::Manifest,
       manifest(layer + "," + desc(kOciLayerGzip, kDigest, "1", ",\"digest\":\"" + kDigest + "\"")),
       "manifest: layers[1]: duplicate key \"digest\""},
      {"deep nesting in an unknown field", Doc::Manifest,
       manifest(layer, ",\"x\":" + std::string(100, '[') + std::string(100, ']')),
       "manifest: x[0][0][0]"},
      {"very deep nesting", Doc::Manifest, std::string(1 << 20, '['),
       "nested deeper than 32 levels"},
      {"invalid UTF-8", Doc::Manifest, manifest(layer, ",\"annotations\":{\"k\":\"\xff\xfe\"}"),
       "syntax error while parsing value - invalid string: ill-formed UTF-8 byte; last read: "
       "'\"\\xff'"},
      {"overlong UTF-8", Doc::Manifest, manifest(layer, ",\"annotations\":{\"k\":\"\xc0\xaf\"}"),
       "manifest: invalid JSON"},
      {"lone surrogate", Doc::Manifest, manifest(layer, R"(,"annotations":{"k":"\ud800"})"),
       "syntax error while parsing value - invalid string: surrogate U+D800..U+DBFF must be "
       "followed by U+DC00..U+DFFF"},
      {"raw NUL byte", Doc::Manifest, std::string("{\"schemaVersion\":2,\0}", 20),
       "manifest: invalid JSON"},
      {"empty body", Doc::Manifest, "", "manifest: invalid JSON"},
      {"trailing garbage", Doc::Manifest, manifest(layer) + " x", "manifest: invalid JSON"},
      {"comments", Doc::Manifest, "/* hi */" + manifest(layer), "manifest: invalid JSON"},
      {"5 MiB body", Doc::Manifest, manifest(layer) + std::string(5 << 20, ' '),
       " bytes is more than the limit of 4194304"},
      // --- wrong kind of document
      {"schema 1", Doc::Manifest,
       R"({"schemaVersion":1,"name":"x","tag":"y","fsLayers":[],"signatures":[]})",
       "manifest: unsupported manifest schema 1 "
       "(application/vnd.docker.distribution.manifest.v1+prettyjws): ",
       ErrorKind::Unsupported},
      {"schema 1 by mediaType", Doc::Manifest,
       R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v1+json"})",
       "manifest: unsupported manifest schema 1 (application/vnd.docker.distribution.manifest.v1+"
       "json)",
       ErrorKind::Unsupported},
      {"index served as a manifest", Doc::Manifest,
       index_of(entry(R"({"architecture":"amd64","os":"linux"})")),
       "manifest: mediaType: \"application/vnd.oci.image.index.v1+json\" is an index, not a "
       "manifest"},
      {"index without mediaType as a manifest", Doc::Manifest,
       R"({"schemaVersion":2,"manifests":[]})",
       "manifest: manifests: present without a mediaType: an index, not a manifest"},
      {"unknown manifest media type", Doc::Manifest,
       R"({"schemaVersion":2,"mediaType":"application/vnd.example.manifest+json"})",
       "manifest: mediaType: unsupported media type \"application/vnd.example.manifest+json\" for "
       "a manifest"},
      {"manifest served as an index", Doc::Index, manifest(layer),
       "index: mediaType: \"application/vnd.oci.image.manifest.v1+json\" is a manifest, not an "
       "index"},
      {"manifest without mediaType as an index", Doc::Index,
       R"({"schemaVersion":2,"config":{},"layers":[],"manifests":[]})",
       "index: layers: present without a mediaType: a manifest, not an index"},
      // --- indexes
      {"manifests missing", Doc::Index,
       R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"})",
       "index: manifests: required"},
      {"platform without architecture", Doc::Index,
       index_of(entry(R"({"os":"linux","architecture":"amd64"})") + "," +
                entry(R"({"os":"linux"})")),
       "index: manifests[1].platform.architecture: required"},
      {"platform os a number", Doc::Index, index_of(entry(R"({"os":7,"architecture":"amd64"})")),
       "index: manifests[0].platform.os: must be a string, got 7"},
      {"platform os.version an array", Doc::Index,
       index_of(entry(R"({"os":"windows","architecture":"amd64","os.version":[]})")),
       "index: manifests[0].platform[\"os.version\"]: must be a string, got an array"},
      {"too many os.features", Doc::Index,
       index_of(entry(R"({"os":"windows","architecture":"amd64","os.features":[)" +
                      repeat("\"win32k\"", 65) + "]}")),
       "index: manifests[0].platform[\"os.features\"]: 65 entries are more than the limit of 64"},
      {"too many manifests", Doc::Index, index_of(repeat(desc(kOciManifest), 1001)),
       "index: manifests: 1001 entries are more than the limit of 1000"},
      {"child manifest too big", Doc::Index,
       index_of(desc(kOciManifest) + "," + desc(kDockerManifest, kDigest, "5000000000")),
       "index: manifests[1].size: 5000000000 is more than the limit of 4194304 bytes"},
      {"entry is null", Doc::Index, index_of(desc(kOciManifest) + ",null"),
       "index: manifests[1]: must be an object, got null"},
      // --- configs
      {"rootfs missing", Doc::Config, R"({"architecture":"amd64","os":"linux"})",
       "config: rootfs: required"},
      {"rootfs type not layers", Doc::Config, config("{}", R"({"type":"tar","diff_ids":[]})"),
       "config: rootfs.type: must be \"layers\", got \"tar\""},
      {"diff_ids missing", Doc::Config, config("{}", R"({"type":"layers"})"),
       "config: rootfs.diff_ids: required"},
      {"bad diff_id", Doc::Config,
       config("{}", R"({"type":"layers","diff_ids":[")" + kDigest + R"(","sha256:"]})"),
       "config: rootfs.diff_ids[1]: invalid digest \"sha256:\": wrong length for sha256"},
      {"too many diff_ids", Doc::Config,
       config("{}",
              R"({"type":"layers","diff_ids":[)" + repeat("\"" + kDigest + "\"", 1001) + "]}"),
       "config: rootfs.diff_ids: 1001 entries are more than the limit of 1000"},
      {"Env a string", Doc::Config, config(R"({"Env":"PATH=/bin"})"),
       "config: config.Env: must be an array, got string \"PATH=/bin\""},
      {"Env entry a number", Doc::Config, config(R"({"Env":["A=1",2]})"),
       "config: config.Env[1]: must be a string, got 2"},
      {"Cmd an object", Doc::Config, config(R"({"Cmd":{"sh":1}})"),
       "config: config.Cmd: must be an array, got an object"},
      {"ExposedPorts value a number", Doc::Config, config(R"({"ExposedPorts":{"80/tcp":1}})"),
       "config: config.ExposedPorts[\"80/tcp\"]: must be an object, got 1"},
      {"Volumes an array", Doc::Config, config(R"({"Volumes":["/data"]})"),
       "config: config.Volumes: must be an object, got an array"},
      {"Labels value an object", Doc::Config, config(R"({"Labels":{"org.label":{}}})"),
       "config: config.Labels[\"org.label\"]: must be a string, got an object"},
      {"Labels key too long", Doc::Config,
       config(R"({"Labels":{")" + std::string(5000, 'k') + R"(":"v"}})"),
       "config: config.Labels: key of 5000 bytes is longer than the limit of 4096"},
      {"duplicate label", Doc::Config, config(R"({"Labels":{"a":"1","a":"2"}})"),
       "config: config.Labels: duplicate key \"a\""},
      {"Healthcheck interval a fraction", Doc::Config,
       config(R"({"Healthcheck":{"Test":["NONE"],"Interval":1.5}})"),
       "config: config.Healthcheck.Interval: must be an integer, got 1.5"},
      {"Healthcheck retries out of range", Doc::Config,
       config(R"({"Healthcheck":{"Retries":1099511627776}})"),
       "config: config.Healthcheck.Retries: 1099511627776 is out of range"},
      {"ArgsEscaped a string", Doc::Config, config(R"({"ArgsEscaped":"true"})"),
       "config: config.ArgsEscaped: must be a boolean, got string \"true\""},
      {"history not an array", Doc::Config, config("{}", "", R"(,"history":{})"),
       "config: history: must be an array, got an object"},
      {"history empty_layer a string", Doc::Config,
       config("{}", "", R"(,"history":[{},{"empty_layer":"yes"}])"),
       "config: history[1].empty_layer: must be a boolean, got string \"yes\""},
      {"config an array", Doc::Config, config("[]"),
       "config: config: must be an object, got an array"},
      {"env string over 1 MiB", Doc::Config,
       config(R"({"Env":[")" + std::string((1 << 20) + 1, 'x') + "\"]}"),
       "config: config.Env[0]: string of 1048577 bytes is longer than the limit of 1048576"},
      {"9 MiB config", Doc::Config, config("{}") + std::string(9 << 20, '\n'),
       " bytes is more than the limit of 8388608"},
      // --- descriptors
      {"descriptor a string", Doc::Descriptor, "\"x\"",
       "descriptor: must be an object, got string \"x\""},
      {"descriptor artifactType invalid", Doc::Descriptor,
       desc(kOciManifest, kDigest, "1", R"(,"artifactType":"x")"),
       "descriptor: artifactType: invalid media type \"x\""},
      {"descriptor long string cut in message", Doc::Descriptor,
       desc(kOciManifest, kDigest, "1", R"(,"artifactType":")" + std::string(200, 'x') + "\""),
       "descriptor: artifactType: invalid media type \"xxxx"},
  };
}

Result<void> parse(Doc doc, const std::string& body) {
  switch (doc) {
    case Doc::Manifest: {
      Result<Manifest> r = parse_manifest(body);
      if (!r) return std::move(r.error());
      return ok();
    }
    case Doc::Index: {
      Result<Index> r = parse_index(body);
      if (!r) return std::move(r.error());
      return ok();
    }
    case Doc::Config: {
      Result<ImageConfig> r = parse_image_config(body);
      if (!r) return std::move(r.error());
      return ok();
    }
    case Doc::Descriptor: {
      Result<Descriptor> r = parse_descriptor(body);
      if (!r) return std::move(r.error());
      return ok();
    }
  }
  return ok();
}

TEST(ImageHostile, EverySampleIsRejectedNamingTheField) {
  std::vector<Hostile> all = samples();
  ASSERT_GE(all.size(), 30u);
  for (const Hostile& h : all) {
    SCOPED_TRACE(h.name);
    Result<void> r = parse(h.doc, h.body);
    ASSERT_FALSE(r) << "accepted, but should fail with: " << h.want;
    const std::string& m = r.error().message();
    EXPECT_NE(m.find(h.want), std::string::npos) << "got:  " << m << "\nwant: " << h.want;
    EXPECT_EQ(r.error().kind(), h.kind) << m;
    EXPECT_LT(m.size(), 600u) << m;
    for (char c : m) EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "unprintable byte in: " << m;
  }
}

// The valid bases of the samples above parse, so each sample fails for the reason it names.
TEST(ImageHostile, BasesAreValid) {
  EXPECT_TRUE(parse_manifest(manifest(desc())));
  EXPECT_TRUE(parse_manifest(manifest(repeat(desc(), 1000))));
  EXPECT_TRUE(parse_index(index_of(entry(R"({"architecture":"amd64","os":"linux"})"))));
  EXPECT_TRUE(parse_index(index_of(repeat(desc(kOciManifest), 1000))));
  EXPECT_TRUE(parse_image_config(config("{}")));
  EXPECT_TRUE(parse_descriptor(desc()));
  EXPECT_TRUE(parse_manifest(manifest(desc(), ",\"annotations\":" + many_annotations(1000))));
  EXPECT_TRUE(
      parse_manifest(manifest(desc(), ",\"x\":" + std::string(30, '[') + std::string(30, ']'))));
  EXPECT_TRUE(parse_manifest(manifest(desc(), ",\"annotations\":{\"k\":\"\xc3\xa4\\u00e4\"}")));
  // A body of exactly the limit is fine.
  std::string body = manifest(desc());
  body += std::string(kMaxManifestBytes - body.size(), ' ');
  EXPECT_TRUE(parse_manifest(body));
}

// Duplicate keys are refused anywhere in the document, including where berth does not look.
TEST(ImageHostile, DuplicateKeysInIgnoredFields) {
  Result<Manifest> m = parse_manifest(manifest(desc(), R"(,"unknown":[{"a":1},{"b":1,"b":2}])"));
  ASSERT_FALSE(m);
  EXPECT_EQ(m.error().message(), "manifest: unknown[1]: duplicate key \"b\"");
}

}  // namespace
}  // namespace berth::oci::image
