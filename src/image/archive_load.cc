// Loading images from archives: `docker load` tars (every layout docker, podman and skopeo
// write) and OCI image layouts (a tar of one, or a directory).
//
// The tar is read once, as a stream: nothing is extracted. Each regular file that could be a
// blob goes straight into the content store while it is read (a blobs/<alg>/<hex> entry through
// a BlobWriter that verifies it against its name; any other file through an anonymous temp
// file that is hashed on the way and then stored under its digest), so manifest.json or
// index.json may come before or after the blobs. Then the documents are resolved against what
// the archive held (Loader), the layers unpacked into snapshots (ImageService::unpack checks
// each diff ID against the config), and only then the names are recorded.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "image/archive.h"

namespace berth::image {
namespace {

namespace img = oci::image;
using json = nlohmann::json;

constexpr size_t kChunk = 1 << 20;
constexpr size_t kMaxEntryName = 4096;
constexpr size_t kMaxLayoutFile = 4096;  // oci-layout
constexpr size_t kMaxDockerManifestEntries = 1000;
constexpr int kMaxLinkHops = 8;
constexpr std::string_view kAnnotationImageName = "io.containerd.image.name";
constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
constexpr std::string_view kDanglingPrefix = "<none>@";

std::string quoted_name(std::string_view s) {
  std::string out = "\"";
  for (char c : s.substr(0, 512)) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '"' || c == '\\') {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[u >> 4];
      out += kHex[u & 0xf];
    } else {
      out += c;
    }
  }
  if (s.size() > 512) out += "...";
  return out + "\"";
}

// ---- entry names ------------------------------------------------------------------------------

// The components of an archive path: "./a//b/" -> {a, b}. Absolute names and ".." are refused
// (an archive's own files never need either).
Result<std::vector<std::string>> split_path(std::string_view name) {
  if (name.size() > kMaxEntryName)
    return Error::invalid("entry name of " + std::to_string(name.size()) + " bytes is too long");
  if (name.starts_with("/")) return Error::invalid("absolute path");
  std::vector<std::string> parts;
  size_t pos = 0;
  while (pos <= name.size()) {
    size_t slash = name.find('/', pos);
    if (slash == std::string_view::npos) slash = name.size();
    std::string_view part = name.substr(pos, slash - pos);
    if (part == "..") return Error::invalid("path escapes the archive");
    if (!part.empty() && part != ".") parts.emplace_back(part);
    pos = slash + 1;
  }
  return parts;
}

std::string join_path(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
  return out;
}

// A symlink's target as an archive path, resolved lexically from the link's directory; nullopt
// when it leaves the archive (absolute, or too many "..").
std::optional<std::string> resolve_link(const std::vector<std::string>& link_parts,
                                        std::string_view target) {
  if (target.empty() || target.starts_with("/") || target.size() > kMaxEntryName)
    return std::nullopt;
  std::vector<std::string> out(link_parts.begin(), link_parts.end() - 1);
  size_t pos = 0;
  while (pos <= target.size()) {
    size_t slash = target.find('/', pos);
    if (slash == std::string_view::npos) slash = target.size();
    std::string_view part = target.substr(pos, slash - pos);
    if (part == "..") {
      if (out.empty()) return std::nullopt;
      out.pop_back();
    } else if (!part.empty() && part != ".") {
      out.emplace_back(part);
    }
    pos = slash + 1;
  }
  return join_path(out);
}

std::string blob_path(const Digest& d) {
  return "blobs/" + std::string(d.algorithm()) + "/" + std::string(d.hex());
}

// ---- JSON -------------------------------------------------------------------------------------

struct TooDeep {};

// nlohmann's parse with a depth limit (a deep document would otherwise recurse on destruction).
Result<json> parse_json(std::string_view text, const std::string& what) {
  try {
    json::parser_callback_t cb = [](int depth, json::parse_event_t ev, json&) {
      if ((ev == json::parse_event_t::object_start || ev == json::parse_event_t::array_start) &&
          depth >= img::kMaxJsonDepth)
        throw TooDeep{};
      return true;
    };
    return json::parse(text.begin(), text.end(), cb);
  } catch (const TooDeep&) {
    return Error::invalid(what + ": nested deeper than " + std::to_string(img::kMaxJsonDepth) +
                          " levels");
  } catch (const json::exception& e) {
    std::string m = e.what();
    if (m.size() > 300) m = m.substr(0, 300) + "...";
    return Error::invalid(what + ": invalid JSON: " + m);
  }
}

// One entry of docker's manifest.json.
struct DockerEntry {
  std::string config;
  std::vector<std::string> repo_tags;
  std::vector<std::string> layers;
};

Result<std::string> json_string(const json& j, const std::string& where) {
  if (!j.is_string()) return Error::invalid(where + ": not a string");
  const auto& s = j.get_ref<const std::string&>();
  if (s.size() > kMaxEntryName) return Error::invalid(where + ": too long");
  return s;
}

Result<std::vector<DockerEntry>> parse_docker_manifest(std::string_view text) {
  json doc = BERTH_TRY(parse_json(text, "manifest.json"));
  if (!doc.is_array()) return Error::invalid("manifest.json: not an array");
  if (doc.size() > kMaxDockerManifestEntries)
    return Error::invalid("manifest.json: more than " + std::to_string(kMaxDockerManifestEntries) +
                          " images");
  std::vector<DockerEntry> out;
  for (size_t i = 0; i < doc.size(); i++) {
    const json& e = doc[i];
    std::string where = "manifest.json: [" + std::to_string(i) + "]";
    if (!e.is_object()) return Error::invalid(where + ": not an object");
    DockerEntry d;
    auto cfg = e.find("Config");
    if (cfg == e.end()) return Error::invalid(where + ": no Config");
    d.config = BERTH_TRY(json_string(*cfg, where + ".Config"));
    if (auto tags = e.find("RepoTags"); tags != e.end() && !tags->is_null()) {
      if (!tags->is_array()) return Error::invalid(where + ".RepoTags: not an array");
      if (tags->size() > img::kMaxIndexManifests)
        return Error::invalid(where + ".RepoTags: too many tags");
      for (size_t t = 0; t < tags->size(); t++)
        d.repo_tags.push_back(
            BERTH_TRY(json_string((*tags)[t], where + ".RepoTags[" + std::to_string(t) + "]")));
    }
    auto layers = e.find("Layers");
    if (layers != e.end() && !layers->is_null()) {
      if (!layers->is_array()) return Error::invalid(where + ".Layers: not an array");
      if (layers->size() > img::kMaxManifestLayers)
        return Error::invalid(where + ".Layers: more than " +
                              std::to_string(img::kMaxManifestLayers) + " layers");
      for (size_t l = 0; l < layers->size(); l++)
        d.layers.push_back(
            BERTH_TRY(json_string((*layers)[l], where + ".Layers[" + std::to_string(l) + "]")));
    }
    out.push_back(std::move(d));
  }
  return out;
}

// ---- where blobs come from --------------------------------------------------------------------

// Makes the file an archive or layout names by `path` available in the content store.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  virtual Result<Digest> get(const std::string& path) = 0;
};

// Copies `fd` (from its current offset) into the store as `d`, verified.
Result<void> store_from_fd(const ContentStore& content, int fd, const Digest& d, int64_t size) {
  if (content.has(d)) return ok();
  auto w = content.writer(d, size);
  if (!w) {
    if (w.error().kind() == ErrorKind::Conflict && content.has(d)) return ok();
    return std::move(w).error();
  }
  if (w->offset() > 0) BERTH_TRY(w->truncate());
  std::vector<char> buf(kChunk);
  for (;;) {
    ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys("read");
    if (n == 0) break;
    BERTH_TRY(w->write(buf.data(), static_cast<size_t>(n)));
  }
  return w->commit();
}

// A tar stream read once; what it held, by path.
class TarSource : public BlobSource {
 public:
  TarSource(ImageService& images, const LoadOptions& opts) : images_(images), opts_(opts) {}

  Result<void> read(int fd);

  Result<Digest> get(const std::string& path) override {
    std::vector<std::string> parts = BERTH_TRY_CTX(split_path(path), "entry " + quoted_name(path));
    std::string p = join_path(parts);
    for (int hop = 0; hop <= kMaxLinkHops; hop++) {
      if (auto f = files_.find(p); f != files_.end()) return f->second;
      auto l = links_.find(p);
      if (l == links_.end()) {
        if (skipped_.count(p)) return Error::invalid(quoted_name(p) + " is not a regular file");
        return Error::not_found(quoted_name(path) + " is not in the archive");
      }
      if (!l->second) return Error::invalid(quoted_name(p) + " is a link that leaves the archive");
      p = *l->second;
    }
    return Error::invalid(quoted_name(path) + ": too many links");
  }

  const std::optional<std::string>& manifest_json() const { return manifest_json_; }
  const std::optional<std::string>& index_json() const { return index_json_; }

 private:
  using Sink = std::function<Result<void>(const char*, size_t)>;
  Result<void> read_entry(archive* a, archive_entry* e);
  Result<void> read_data(archive* a, const Sink& sink);
  Result<std::string> read_small(archive* a, int64_t declared, size_t limit);
  // Reads past an entry's data, counted against max_bytes (a compressed stream can hide a huge
  // entry that libarchive would otherwise inflate unbounded while skipping it).
  Result<void> skip_data(archive* a) {
    return read_data(a, [](const char*, size_t) { return ok(); });
  }
  Result<void> ingest_named(archive* a, const Digest& d);
  Result<Digest> ingest_unnamed(archive* a);
  Result<void> claim(const std::string& path) {
    if (!paths_.insert(path).second)
      return Error::invalid("the archive has two entries named " + quoted_name(path));
    return ok();
  }

  ImageService& images_;
  const LoadOptions& opts_;
  uint64_t bytes_ = 0, entries_ = 0;
  std::set<std::string> paths_;                              // every path recorded
  std::map<std::string, Digest> files_;                      // regular files, stored
  std::map<std::string, std::optional<std::string>> links_;  // link -> target (nullopt: out)
  std::set<std::string> skipped_;                            // devices, fifos, ...
  std::optional<std::string> manifest_json_, index_json_, oci_layout_;
};

struct ArchiveReader {
  archive* a = archive_read_new();
  ~ArchiveReader() { archive_read_free(a); }
  std::string error() const {
    const char* m = archive_error_string(a);
    return m ? m : "unknown libarchive error";
  }
};

Result<void> TarSource::read(int fd) {
  ArchiveReader r;
  if (!r.a) return Error::internal("libarchive: out of memory");
  // Only what docker load takes: tar, plain or gzip/zstd/bzip2/xz (no external programs).
  archive_read_support_filter_gzip(r.a);
  archive_read_support_filter_zstd(r.a);
  archive_read_support_filter_bzip2(r.a);
  archive_read_support_filter_xz(r.a);
  archive_read_support_format_tar(r.a);
  if (archive_read_open_fd(r.a, fd, 1 << 16) != ARCHIVE_OK)
    return Error::invalid("read archive: " + r.error());
  for (;;) {
    archive_entry* e = nullptr;
    int rc = archive_read_next_header(r.a, &e);
    if (rc == ARCHIVE_EOF) break;
    if (rc != ARCHIVE_OK && rc != ARCHIVE_WARN) return Error::invalid("read archive: " + r.error());
    if (++entries_ > opts_.max_entries)
      return Error::invalid("read archive: more than " + std::to_string(opts_.max_entries) +
                            " entries");
    BERTH_TRY(read_entry(r.a, e));
  }
  return ok();
}

Result<void> TarSource::read_data(archive* a, const Sink& sink) {
  std::vector<char> buf(kChunk);
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
    if (n == 0) return ok();
    if (n < 0) {
      const char* m = archive_error_string(a);
      return Error::invalid(std::string("read archive: ") + (m ? m : "read error"));
    }
    bytes_ += static_cast<uint64_t>(n);
    if (bytes_ > opts_.max_bytes)
      return Error::invalid("read archive: more than " + std::to_string(opts_.max_bytes) +
                            " bytes");
    BERTH_TRY(sink(buf.data(), static_cast<size_t>(n)));
  }
}

Result<std::string> TarSource::read_small(archive* a, int64_t declared, size_t limit) {
  if (declared < 0 || static_cast<uint64_t>(declared) > limit)
    return Error::invalid(std::to_string(declared) + " bytes is more than the limit of " +
                          std::to_string(limit));
  std::string out;
  BERTH_TRY(read_data(a, [&](const char* p, size_t n) -> Result<void> {
    if (out.size() + n > limit)
      return Error::invalid("more than " + std::to_string(limit) + " bytes");
    out.append(p, n);
    return ok();
  }));
  return out;
}

// A blobs/<alg>/<hex> entry: into the store through a writer that checks the digest.
Result<void> TarSource::ingest_named(archive* a, const Digest& d) {
  const ContentStore& content = images_.content();
  if (content.has(d)) return skip_data(a);
  auto w = content.writer(d, -1);
  if (!w && w.error().kind() == ErrorKind::Conflict && content.has(d)) return skip_data(a);
  if (!w) return std::move(w).error();
  if (w->offset() > 0) BERTH_TRY(w->truncate());
  auto r = read_data(a, [&](const char* p, size_t n) { return w->write(p, n); });
  if (!r) {
    w->abort();
    return r;
  }
  return w->commit();  // digest mismatch: an error naming both, nothing stored
}

// Any other file: hashed into an anonymous temp file under the image root, then stored.
Result<Digest> TarSource::ingest_unnamed(archive* a) {
  const std::string& root = images_.root();
  UniqueFd tmp(::open(root.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (!tmp && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL)) {
    std::string tmpl = root + "/.load-XXXXXX";
    tmp = UniqueFd(::mkostemp(tmpl.data(), O_CLOEXEC));
    if (tmp) ::unlink(tmpl.c_str());
  }
  if (!tmp) return Error::sys("create a temp file in " + root);
  Hasher hasher;
  int64_t size = 0;
  BERTH_TRY(read_data(a, [&](const char* p, size_t n) -> Result<void> {
    hasher.update(p, n);
    size += static_cast<int64_t>(n);
    return write_all(tmp.get(), std::string_view(p, n));
  }));
  Digest d = hasher.finish();
  if (::lseek(tmp.get(), 0, SEEK_SET) < 0) return Error::sys("seek temp file");
  BERTH_TRY(store_from_fd(images_.content(), tmp.get(), d, size));
  return d;
}

Result<void> TarSource::read_entry(archive* a, archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  if (!raw) return Error::invalid("read archive: an entry has no usable name");
  std::string name = raw;
  auto parts_r = split_path(name);
  if (!parts_r) return std::move(parts_r).error().wrap("archive entry " + quoted_name(name));
  std::vector<std::string> parts = std::move(*parts_r);
  std::string path = join_path(parts);
  auto wrap = [&](Error err) { return std::move(err).wrap("archive entry " + quoted_name(name)); };
  if (path.empty()) return ok();  // "./"

  bool in_blobs = parts[0] == "blobs";
  bool top_level_doc = parts.size() == 1 && (path == "manifest.json" || path == "index.json" ||
                                             path == "oci-layout" || path == "repositories");
  const char* hardlink = archive_entry_hardlink(e);
  mode_t type = archive_entry_filetype(e);
  bool symlink = type == AE_IFLNK;
  if (hardlink || symlink) {
    // Docker (≤ 24) writes a layer shared by two images once and links the second
    // <id>/layer.tar to the first; a link is an alias within the archive, never followed on
    // disk. Blobs and the documents must be files.
    if (in_blobs || top_level_doc)
      return wrap(Error::invalid(std::string(symlink ? "a symbolic link" : "a hard link") +
                                 " where a regular file is required"));
    if (auto c = claim(path); !c) return wrap(std::move(c).error());
    if (symlink) {
      const char* target = archive_entry_symlink(e);
      links_[path] = resolve_link(parts, target ? target : "");
    } else {
      auto t = split_path(hardlink);
      links_[path] = t ? std::optional<std::string>(join_path(*t)) : std::nullopt;
    }
    return ok();
  }
  if (type == AE_IFDIR) return ok();
  if (type != AE_IFREG) {  // devices, fifos: nothing an image archive has; never created
    skipped_.insert(path);
    return skip_data(a);
  }
  if (archive_entry_size_is_set(e) && archive_entry_size(e) < 0)
    return wrap(Error::invalid("negative size"));
  int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;

  if (top_level_doc) {
    if (auto c = claim(path); !c) return wrap(std::move(c).error());
    if (path == "repositories") return skip_data(a);  // manifest.json says it all
    size_t limit = path == "oci-layout" ? kMaxLayoutFile : img::kMaxManifestBytes;
    auto body = read_small(a, declared, limit);
    if (!body) return wrap(std::move(body).error());
    (path == "manifest.json" ? manifest_json_
     : path == "index.json"  ? index_json_
                             : oci_layout_) = std::move(*body);
    return ok();
  }
  if (in_blobs) {
    if (parts.size() != 3) return wrap(Error::invalid("not a blob (want blobs/<alg>/<hex>)"));
    auto d = Digest::parse(parts[1] + ":" + parts[2]);
    if (!d) return wrap(std::move(d).error());
    if (auto c = claim(path); !c) return wrap(std::move(c).error());
    if (auto r = ingest_named(a, *d); !r) return wrap(std::move(r).error());
    files_[path] = *d;
    return ok();
  }
  // Docker's legacy layouts: <id>/layer.tar, <id>.json (config), podman's <hex>.tar. <id>/json
  // and <id>/VERSION are v1 metadata nobody needs; deeper paths are not part of any format.
  if (parts.size() > 2 || (parts.size() == 2 && (parts[1] == "json" || parts[1] == "VERSION")))
    return skip_data(a);
  if (auto c = claim(path); !c) return wrap(std::move(c).error());
  auto d = ingest_unnamed(a);
  if (!d) return wrap(std::move(d).error());
  files_[path] = *d;
  return ok();
}

// A layout directory (skopeo's oci:DIR): blobs read on demand, each verified.
class DirSource : public BlobSource {
 public:
  DirSource(ImageService& images, UniqueFd dir) : images_(images), dir_(std::move(dir)) {}

  Result<Digest> get(const std::string& path) override {
    std::vector<std::string> parts = BERTH_TRY(split_path(path));
    if (parts.size() != 3 || parts[0] != "blobs")
      return Error::invalid(quoted_name(path) + " is not a blob path");
    Digest d = BERTH_TRY(Digest::parse(parts[1] + ":" + parts[2]));
    if (images_.content().has(d)) return d;
    UniqueFd fd = BERTH_TRY(open_beneath(parts));
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return Error::sys("stat " + path);
    if (!S_ISREG(st.st_mode)) return Error::invalid(quoted_name(path) + " is not a regular file");
    BERTH_TRY_CTX(store_from_fd(images_.content(), fd.get(), d, st.st_size), "blob " + d.str());
    return d;
  }

  // Opens a file of the layout, no symlink followed on the way.
  Result<UniqueFd> open_beneath(const std::vector<std::string>& parts) const {
    UniqueFd cur;
    int at = dir_.get();
    for (size_t i = 0; i + 1 < parts.size(); i++) {
      UniqueFd next(
          ::openat(at, parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!next) return Error::sys("open " + quoted_name(join_path(parts)));
      cur = std::move(next);
      at = cur.get();
    }
    UniqueFd fd(::openat(at, parts.back().c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
    if (!fd) {
      if (errno == ENOENT)
        return Error::not_found(quoted_name(join_path(parts)) + " is not in the layout");
      return Error::sys("open " + quoted_name(join_path(parts)));
    }
    return fd;
  }

 private:
  ImageService& images_;
  UniqueFd dir_;
};

// ---- from documents to images -----------------------------------------------------------------

struct Planned {
  ImageRecord record;  // name empty
  img::Manifest manifest;
  img::ImageConfig config;
  std::vector<std::string> names;  // normalised references
};

img::Descriptor descriptor_for(std::string_view media_type, const Digest& d, int64_t size) {
  img::Descriptor out;
  out.media_type = std::string(media_type);
  out.digest = d;
  out.size = size;
  return out;
}

// What a layer blob is compressed with, from its first bytes.
Result<std::string_view> layer_media_type(const ContentStore& content, const Digest& d) {
  UniqueFd fd = BERTH_TRY(content.open_blob(d));
  unsigned char m[6] = {};
  ssize_t n;
  do {
    n = ::pread(fd.get(), m, sizeof m, 0);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return Error::sys("read blob " + d.str());
  if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) return img::kOciLayerGzip;
  if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd)
    return img::kOciLayerZstd;
  if ((n >= 3 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h') ||
      (n >= 6 && m[0] == 0xfd && m[1] == '7' && m[2] == 'z' && m[3] == 'X' && m[4] == 'Z'))
    return Error::unsupported("layer " + d.str() +
                              " is compressed with bzip2 or xz; berth loads plain, gzip and zstd "
                              "layers");
  return img::kOciLayer;
}

// A name from an archive: a full reference with a tag (not a digest).
Result<std::string> tag_name(std::string_view s) {
  Reference ref = BERTH_TRY(parse_reference(s));
  if (ref.digest) return Error::invalid("image name " + quoted_name(s) + " has a digest");
  return ref.str();
}

// The name an OCI index entry gives its image, "" for none: io.containerd.image.name, else a
// ref.name that is a whole reference (a bare tag such as "1.0" names no repository).
Result<std::string> oci_entry_name(const img::Descriptor& d) {
  if (auto it = d.annotations.find(std::string(kAnnotationImageName)); it != d.annotations.end())
    return BERTH_TRY_CTX(tag_name(it->second), std::string(kAnnotationImageName));
  auto it = d.annotations.find(std::string(kAnnotationRefName));
  if (it == d.annotations.end()) return std::string();
  if (it->second.find_first_of("/:") == std::string::npos) return std::string();
  return BERTH_TRY_CTX(tag_name(it->second), std::string(kAnnotationRefName));
}

class Loader {
 public:
  Loader(ImageService& images, BlobSource& src, ProgressFn progress)
      : images_(images), content_(images.content()), src_(src), progress_(std::move(progress)) {}

  Result<void> add_docker_manifest(std::string_view text, const std::optional<img::Index>& index);
  // `tag`: only the entries whose ref.name is `tag`; `name`: the name to give them instead of
  // their annotations.
  Result<size_t> add_oci_index(const img::Index& index, const std::string& tag,
                               const std::string& name);
  Result<LoadResult> commit(bool unpack);

 private:
  Result<std::string> read_blob(const img::Descriptor& d, size_t limit) {
    Digest got = BERTH_TRY(src_.get(blob_path(d.digest)));
    if (got != d.digest) return Error::invalid(blob_path(d.digest) + " has digest " + got.str());
    BERTH_TRY(check_size(d));
    return content_.read_blob(d.digest, limit);
  }
  Result<void> check_size(const img::Descriptor& d) {
    BlobInfo info = BERTH_TRY(content_.info(d.digest));
    if (info.size != d.size)
      return Error::invalid("blob " + d.digest.str() + " has " + std::to_string(info.size) +
                            " bytes, its descriptor says " + std::to_string(d.size));
    return ok();
  }
  Result<img::ImageConfig> read_config(const Digest& d) {
    std::string body = BERTH_TRY(content_.read_blob(d, img::kMaxConfigBytes));
    return img::parse_image_config(body);
  }
  Result<void> check_layers(const img::Manifest& m, const img::ImageConfig& c) {
    if (c.diff_ids.size() != m.layers.size())
      return Error::invalid("image config lists " + std::to_string(c.diff_ids.size()) +
                            " layers (rootfs.diff_ids), the manifest " +
                            std::to_string(m.layers.size()));
    return ok();
  }
  Result<std::optional<Planned>> plan_oci(const img::Descriptor& d);
  std::optional<Planned> match_in_index(const img::Index& index, const Digest& config,
                                        const std::vector<Digest>& layers);
  void add(Planned p);
  void report(std::string status) {
    if (progress_) progress_(Progress{"", std::move(status)});
  }

  ImageService& images_;
  const ContentStore& content_;
  BlobSource& src_;
  ProgressFn progress_;
  std::vector<Planned> planned_;
};

void Loader::add(Planned p) {
  for (auto& q : planned_) {
    if (q.record.manifest.digest != p.record.manifest.digest) continue;
    for (auto& n : p.names)
      if (std::find(q.names.begin(), q.names.end(), n) == q.names.end()) q.names.push_back(n);
    return;
  }
  planned_.push_back(std::move(p));
}

// The manifest (or index + platform manifest) an OCI index entry points at, if it is an image.
Result<std::optional<Planned>> Loader::plan_oci(const img::Descriptor& d) {
  Planned p;
  std::string body = BERTH_TRY_CTX(read_blob(d, img::kMaxManifestBytes), "read " + d.digest.str());
  img::DocumentKind kind = img::document_kind(d.media_type);
  if (kind == img::DocumentKind::Unknown) kind = img::sniff_document_kind("", body);
  p.record.target = d;
  p.record.target.annotations.clear();
  p.record.target.platform.reset();
  img::Descriptor mdesc = p.record.target;
  if (kind == img::DocumentKind::Index) {
    img::Index nested = BERTH_TRY_CTX(img::parse_index(body), "index " + d.digest.str());
    mdesc = BERTH_TRY_CTX(img::select_platform(nested, img::host_platform()),
                          "index " + d.digest.str());
    mdesc.annotations.clear();
    mdesc.platform.reset();
    body = BERTH_TRY_CTX(read_blob(mdesc, img::kMaxManifestBytes), "read " + mdesc.digest.str());
    kind = img::document_kind(mdesc.media_type);
    if (kind == img::DocumentKind::Unknown) kind = img::sniff_document_kind("", body);
  }
  if (kind == img::DocumentKind::DockerSchema1)
    return Error::unsupported("manifest " + mdesc.digest.str() +
                              " is Docker image manifest schema 1, which berth does not support");
  if (kind != img::DocumentKind::Manifest)
    return Error::invalid(mdesc.digest.str() + " is not an image manifest or index");
  p.manifest = BERTH_TRY_CTX(img::parse_manifest(body), "manifest " + mdesc.digest.str());
  const std::string& cmt = p.manifest.config.media_type;
  if (cmt != img::kOciConfig && cmt != img::kDockerConfig) {
    report("Skipped " + mdesc.digest.str() + ": not an image (config type " + cmt + ")");
    return std::optional<Planned>();
  }
  if (mdesc.media_type.empty()) mdesc.media_type = std::string(img::kOciManifest);
  p.record.manifest = mdesc;
  if (p.record.target.media_type.empty()) p.record.target.media_type = mdesc.media_type;
  BERTH_TRY_CTX(read_blob(p.manifest.config, img::kMaxConfigBytes), "image config");
  p.record.config = p.manifest.config.digest;
  p.config = BERTH_TRY_CTX(read_config(p.record.config), "image config " + p.record.config.str());
  BERTH_TRY_CTX(check_layers(p.manifest, p.config), "manifest " + mdesc.digest.str());
  for (const auto& l : p.manifest.layers) {
    Digest got = BERTH_TRY_CTX(src_.get(blob_path(l.digest)), "layer " + l.digest.str());
    if (got != l.digest)
      return Error::invalid("layer " + l.digest.str() + " has digest " + got.str());
    BERTH_TRY_CTX(check_size(l), "layer");
  }
  return std::optional<Planned>(std::move(p));
}

Result<size_t> Loader::add_oci_index(const img::Index& index, const std::string& tag,
                                     const std::string& name) {
  size_t added = 0;
  for (size_t i = 0; i < index.manifests.size(); i++) {
    const img::Descriptor& d = index.manifests[i];
    std::string where = "index.json: manifests[" + std::to_string(i) + "]";
    if (!tag.empty()) {
      auto it = d.annotations.find(std::string(kAnnotationRefName));
      if (it == d.annotations.end() || it->second != tag) continue;
    }
    std::string entry_name;
    if (!name.empty())
      entry_name = BERTH_TRY_CTX(tag_name(name), "name");
    else
      entry_name = BERTH_TRY_CTX(oci_entry_name(d), where);
    auto p = BERTH_TRY_CTX(plan_oci(d), where);
    if (!p) continue;
    if (!entry_name.empty()) p->names.push_back(entry_name);
    add(std::move(*p));
    added++;
  }
  return added;
}

// A manifest the archive's index.json already has for this config and these layers (docker
// ≥ 25 and berth write both files): loading it keeps the image's manifest digest.
std::optional<Planned> Loader::match_in_index(const img::Index& index, const Digest& config,
                                              const std::vector<Digest>& layers) {
  for (const auto& d : index.manifests) {
    auto p = plan_oci(d);
    if (!p || !*p) continue;
    if ((*p)->record.config != config || (*p)->manifest.layers.size() != layers.size()) continue;
    bool same = true;
    for (size_t i = 0; i < layers.size(); i++)
      same = same && (*p)->manifest.layers[i].digest == layers[i];
    if (same) return std::move(**p);
  }
  return std::nullopt;
}

Result<void> Loader::add_docker_manifest(std::string_view text,
                                         const std::optional<img::Index>& index) {
  std::vector<DockerEntry> entries = BERTH_TRY(parse_docker_manifest(text));
  for (size_t i = 0; i < entries.size(); i++) {
    const DockerEntry& e = entries[i];
    std::string where = "manifest.json: [" + std::to_string(i) + "]";
    Planned p;
    for (const auto& t : e.repo_tags)
      p.names.push_back(BERTH_TRY_CTX(tag_name(t), where + ": RepoTags"));
    Digest cfg = BERTH_TRY_CTX(src_.get(e.config), where + ": config");
    p.config = BERTH_TRY_CTX(read_config(cfg), where + ": config " + quoted_name(e.config));
    std::vector<Digest> layers;
    for (const auto& l : e.layers) layers.push_back(BERTH_TRY_CTX(src_.get(l), where + ": layer"));
    if (index) {
      if (auto m = match_in_index(*index, cfg, layers)) {
        m->names = std::move(p.names);
        add(std::move(*m));
        continue;
      }
    }
    // Docker's own form: build the OCI manifest (the config blob is unchanged, so the image ID
    // stays docker's); layers are stored as they came, typed by their compression.
    p.manifest.schema_version = 2;
    p.manifest.media_type = std::string(img::kOciManifest);
    BlobInfo ci = BERTH_TRY(content_.info(cfg));
    p.manifest.config = descriptor_for(img::kOciConfig, cfg, ci.size);
    for (const auto& d : layers) {
      BlobInfo li = BERTH_TRY(content_.info(d));
      std::string_view mt = BERTH_TRY_CTX(layer_media_type(content_, d), where);
      p.manifest.layers.push_back(descriptor_for(mt, d, li.size));
    }
    BERTH_TRY_CTX(check_layers(p.manifest, p.config), where);
    std::string body = img::serialize(p.manifest);
    Digest md = BERTH_TRY(content_.put_computed(body));
    p.record.target = descriptor_for(img::kOciManifest, md, static_cast<int64_t>(body.size()));
    p.record.manifest = p.record.target;
    p.record.config = cfg;
    add(std::move(p));
  }
  return ok();
}

// Unpacks every image, then names them. On failure the snapshots made here are removed.
Result<LoadResult> Loader::commit(bool unpack) {
  snapshot::Snapshotter& snaps = images_.snapshots();
  std::vector<std::string> created;  // chain IDs this load committed, bottom first
  auto rollback = [&] {
    for (auto it = created.rbegin(); it != created.rend(); ++it) (void)snaps.remove(*it);
  };
  ProgressFn layer_progress;
  if (progress_) {
    layer_progress = [this](const Progress& p) {
      if (p.status == "Extracting")
        progress_(Progress{p.id, "Loading layer", p.current, p.total});
      else if (p.status == "Pull complete")
        progress_(Progress{p.id, "Loaded"});
      else if (p.status == "Already exists")
        progress_(p);
    };
  }
  std::vector<Image> loaded;
  for (const Planned& p : planned_) {
    Image image;
    image.record = p.record;
    image.manifest = p.manifest;
    image.config = p.config;
    image.chain_ids = img::chain_ids(p.config.diff_ids);
    if (unpack) {
      std::vector<std::string> fresh;
      for (const auto& c : image.chain_ids)
        if (!snaps.exists(c.str())) fresh.push_back(c.str());
      auto r = images_.unpack(image, layer_progress);
      for (const auto& c : fresh)
        if (snaps.exists(c)) created.push_back(c);
      if (!r) {
        rollback();
        return std::move(r).error().wrap("image " + p.record.config.str());
      }
    }
    loaded.push_back(std::move(image));
  }

  LoadResult out;
  ImageStore& names = images_.names();
  std::set<Digest> named_configs;
  for (const auto& rec : BERTH_TRY(names.list()))
    if (!is_dangling_name(rec.name)) named_configs.insert(rec.config);
  for (const Planned& p : planned_) {
    for (const auto& n : p.names) {
      ImageRecord rec = p.record;
      rec.name = n;
      rec.created_ns = 0;
      BERTH_TRY_CTX(names.put(rec), "name " + n);
      named_configs.insert(rec.config);
      (void)names.remove(dangling_name(p.record.target.digest));
      out.names.push_back(n);
      Reference ref = BERTH_TRY(parse_reference(n));
      report("Loaded image: " + ref.familiar());
    }
    if (p.names.empty()) {
      if (!named_configs.count(p.record.config)) {
        ImageRecord rec = p.record;
        rec.name = dangling_name(p.record.target.digest);
        BERTH_TRY_CTX(names.put(rec), "record untagged image " + p.record.config.str());
      }
      report("Loaded image ID: " + p.record.config.str());
    }
    if (std::find(out.ids.begin(), out.ids.end(), p.record.config) == out.ids.end())
      out.ids.push_back(p.record.config);
  }
  return out;
}

Result<img::Index> parse_layout_index(std::string_view body) {
  return BERTH_TRY_CTX(img::parse_index(body), "index.json");
}

}  // namespace

std::string dangling_name(const Digest& target) {
  return std::string(kDanglingPrefix) + target.str();
}
bool is_dangling_name(std::string_view name) { return name.starts_with(kDanglingPrefix); }

Result<LoadResult> load_archive(ImageService& images, int fd, const ProgressFn& progress) {
  return load_archive(images, fd, progress, LoadOptions{});
}

Result<LoadResult> load_archive(ImageService& images, int fd, const ProgressFn& progress,
                                const LoadOptions& opts) {
  auto run = [&]() -> Result<LoadResult> {
    UniqueFd gc_guard = BERTH_TRY(images.hold_off_gc());  // blobs are unnamed until the end
    TarSource src(images, opts);
    BERTH_TRY(src.read(fd));
    std::optional<img::Index> index;
    Loader loader(images, src, progress);
    if (src.manifest_json()) {
      // index.json beside manifest.json (docker ≥ 25, berth) only keeps manifest digests; a
      // broken one is ignored, as docker ignores it.
      if (src.index_json())
        if (auto i = parse_layout_index(*src.index_json())) index = std::move(*i);
      BERTH_TRY(loader.add_docker_manifest(*src.manifest_json(), index));
    } else if (src.index_json()) {
      index = BERTH_TRY(parse_layout_index(*src.index_json()));
      BERTH_TRY(loader.add_oci_index(*index, "", ""));
    } else {
      return Error::invalid(
          "the archive has neither manifest.json nor index.json (not a docker save or OCI "
          "image layout)");
    }
    return loader.commit(opts.unpack);
  };
  auto r = run();
  if (!r) return std::move(r).error().wrap("load");
  return r;
}

Result<LoadResult> import_oci_layout(ImageService& images, const std::string& dir,
                                     const std::string& tag, const std::string& name) {
  auto run = [&]() -> Result<LoadResult> {
    UniqueFd gc_guard = BERTH_TRY(images.hold_off_gc());  // blobs are unnamed until the end
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return Error::sys("open");
    DirSource src(images, std::move(dfd));
    UniqueFd ifd = BERTH_TRY(src.open_beneath({"index.json"}));
    struct stat st {};
    if (::fstat(ifd.get(), &st) != 0 || !S_ISREG(st.st_mode))
      return Error::invalid("index.json is not a regular file");
    std::string body = BERTH_TRY_CTX(read_all(ifd.get(), img::kMaxManifestBytes), "index.json");
    img::Index index = BERTH_TRY(parse_layout_index(body));
    Loader loader(images, src, {});
    size_t n = BERTH_TRY(loader.add_oci_index(index, tag, name));
    if (n == 0) {
      if (!tag.empty()) return Error::not_found("no image tagged " + quoted_name(tag));
      return Error::not_found("index.json lists no image");
    }
    if (n > 1 && !name.empty())
      return Error::invalid("index.json lists " + std::to_string(n) +
                            " images; give the tag of the one to name " + quoted_name(name));
    return loader.commit(true);
  };
  auto r = run();
  if (!r) return std::move(r).error().wrap("import OCI layout " + quoted_name(dir));
  return r;
}

}  // namespace berth::image
