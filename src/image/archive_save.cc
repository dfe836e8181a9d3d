// Saving images: `docker save` tars (what docker ≥ 25 writes: an OCI image layout plus
// docker's manifest.json and repositories), OCI layout tars, and OCI layout directories.
//
// Blobs are written as stored (a compressed layer stays compressed; docker load, podman and
// skopeo decompress what they read), each once however many images or tags share it. The tar
// is deterministic: sorted blobs, mtime 0, uid/gid 0.
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "image/archive.h"

namespace berth::image {
namespace {

namespace img = oci::image;
using ordered_json = nlohmann::ordered_json;

constexpr size_t kChunk = 1 << 20;
constexpr std::string_view kAnnotationImageName = "io.containerd.image.name";
constexpr std::string_view kAnnotationRefName = "org.opencontainers.image.ref.name";
constexpr std::string_view kLayoutFile = R"({"imageLayoutVersion":"1.0.0"})";

std::string blob_path(const Digest& d) {
  return "blobs/" + std::string(d.algorithm()) + "/" + std::string(d.hex());
}

struct SavedImage {
  Image image;
  std::vector<Reference> tags;
};

// The tag a name asks for, when it names the image by a tag (not by ID, digest or prefix).
std::optional<Reference> tag_of(const std::string& name, const Image& image) {
  auto ref = parse_reference(name);
  if (!ref || ref->digest || image.record.name != ref->str()) return std::nullopt;
  return *ref;
}

Result<std::vector<SavedImage>> collect(ImageService& images,
                                        const std::vector<std::string>& names) {
  if (names.empty()) return Error::invalid("no image to save");
  std::vector<SavedImage> out;
  for (const auto& n : names) {
    Image image = BERTH_TRY(images.resolve(n));
    std::optional<Reference> tag = tag_of(n, image);
    auto it = std::find_if(out.begin(), out.end(), [&](const SavedImage& s) {
      return s.image.record.manifest.digest == image.record.manifest.digest;
    });
    if (it == out.end()) {
      out.push_back(SavedImage{std::move(image), {}});
      it = out.end() - 1;
    }
    if (tag && std::none_of(it->tags.begin(), it->tags.end(),
                            [&](const Reference& r) { return r.str() == tag->str(); }))
      it->tags.push_back(*tag);
  }
  return out;
}

// Every blob of the images (manifest, config, layers), checked to be in the store.
Result<std::map<Digest, int64_t>> blobs_of(const ContentStore& content,
                                           const std::vector<SavedImage>& saved) {
  std::map<Digest, int64_t> out;
  for (const auto& s : saved) {
    const Image& im = s.image;
    std::vector<img::Descriptor> ds = {im.record.manifest, im.manifest.config};
    ds.insert(ds.end(), im.manifest.layers.begin(), im.manifest.layers.end());
    for (const auto& d : ds) {
      auto info = content.info(d.digest);
      if (!info)
        return std::move(info).error().wrap("image " + im.record.config.str() + ": blob " +
                                            d.digest.str());
      out[d.digest] = info->size;
    }
  }
  return out;
}

img::Descriptor manifest_descriptor(const Image& im) {
  img::Descriptor d = im.record.manifest;
  d.annotations.clear();
  d.platform.reset();
  if (d.media_type.empty()) d.media_type = std::string(img::kOciManifest);
  return d;
}

// index.json: one entry per tag (annotated with the full name and the tag), one without
// annotations for an image saved by ID only.
std::string index_json(const std::vector<SavedImage>& saved) {
  img::Index index;
  index.schema_version = 2;
  index.media_type = std::string(img::kOciIndex);
  for (const auto& s : saved) {
    img::Descriptor d = manifest_descriptor(s.image);
    if (s.tags.empty()) index.manifests.push_back(d);
    for (const auto& t : s.tags) {
      img::Descriptor td = d;
      td.annotations[std::string(kAnnotationImageName)] = t.str();
      td.annotations[std::string(kAnnotationRefName)] = t.tag;
      index.manifests.push_back(std::move(td));
    }
  }
  return img::serialize(index);
}

std::string familiar_repository(const Reference& r) {
  std::string f = r.familiar();
  if (!r.tag.empty() && f.ends_with(":" + r.tag)) f.resize(f.size() - r.tag.size() - 1);
  return f;
}

// docker's manifest.json: [{Config, RepoTags, Layers}], paths into blobs/.
std::string docker_manifest_json(const std::vector<SavedImage>& saved) {
  ordered_json arr = ordered_json::array();
  for (const auto& s : saved) {
    ordered_json e;
    e["Config"] = blob_path(s.image.record.config);
    ordered_json tags = ordered_json::array();
    for (const auto& t : s.tags) tags.push_back(t.familiar());
    e["RepoTags"] = s.tags.empty() ? ordered_json(nullptr) : tags;
    ordered_json layers = ordered_json::array();
    for (const auto& l : s.image.manifest.layers) layers.push_back(blob_path(l.digest));
    e["Layers"] = layers;
    arr.push_back(std::move(e));
  }
  return arr.dump();
}

// docker's legacy repositories file: {"busybox": {"latest": "<top layer>"}}.
std::string repositories_json(const std::vector<SavedImage>& saved) {
  ordered_json repos = ordered_json::object();
  for (const auto& s : saved) {
    if (s.image.manifest.layers.empty()) continue;
    for (const auto& t : s.tags)
      repos[familiar_repository(t)][t.tag] =
          std::string(s.image.manifest.layers.back().digest.hex());
  }
  return repos.dump();
}

class TarWriter {
 public:
  TarWriter() : a_(archive_write_new()) {}
  ~TarWriter() {
    if (a_) archive_write_free(a_);  // closes if still open
  }

  Result<void> open(int fd) {
    if (!a_) return Error::internal("libarchive: out of memory");
    if (archive_write_set_format_pax_restricted(a_) != ARCHIVE_OK ||
        archive_write_set_bytes_in_last_block(a_, 1) != ARCHIVE_OK ||
        archive_write_open_fd(a_, fd) != ARCHIVE_OK)
      return error("open");
    return ok();
  }

  Result<void> dir(const std::string& name) { return header(name, AE_IFDIR, 0755, 0); }

  Result<void> file(const std::string& name, std::string_view data) {
    BERTH_TRY(header(name, AE_IFREG, 0644, static_cast<int64_t>(data.size())));
    return write(name, data.data(), data.size());
  }

  Result<void> blob(const ContentStore& content, const Digest& d, int64_t size) {
    std::string name = blob_path(d);
    UniqueFd fd = BERTH_TRY(content.open_blob(d));
    BERTH_TRY(header(name, AE_IFREG, 0644, size));
    std::vector<char> buf(kChunk);
    int64_t done = 0;
    while (done < size) {
      ssize_t n = ::read(fd.get(), buf.data(), std::min<int64_t>(size - done, buf.size()));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::sys("read blob " + d.str());
      if (n == 0) return Error::invalid("blob " + d.str() + " is shorter than its size");
      BERTH_TRY(write(name, buf.data(), static_cast<size_t>(n)));
      done += n;
    }
    return ok();
  }

  Result<void> close() {
    if (archive_write_close(a_) != ARCHIVE_OK) return error("finish");
    return ok();
  }

 private:
  Result<void> header(const std::string& name, unsigned type, int perm, int64_t size) {
    archive_entry* e = archive_entry_new();
    if (!e) return Error::internal("libarchive: out of memory");
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, perm);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, 0, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    int rc = archive_write_header(a_, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK) return error("write " + name);
    return ok();
  }

  Result<void> write(const std::string& name, const char* p, size_t n) {
    while (n > 0) {
      la_ssize_t w = archive_write_data(a_, p, n);
      if (w <= 0) return error("write " + name);
      p += w;
      n -= static_cast<size_t>(w);
    }
    return ok();
  }

  Error error(const std::string& what) {
    const char* m = archive_error_string(a_);
    int e = archive_errno(a_);
    std::string msg = "archive: " + what + (m ? std::string(": ") + m : "");
    return e > 0 ? Error::from_errno(e, msg) : Error::invalid(msg);
  }

  archive* a_;
};

// ---- layout directories -----------------------------------------------------------------------

Result<UniqueFd> open_or_make_dir(int at, const std::string& name) {
  if (::mkdirat(at, name.c_str(), 0755) != 0 && errno != EEXIST) return Error::sys("mkdir " + name);
  UniqueFd fd(::openat(at, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Error::sys("open " + name);
  return fd;
}

// Copies a blob into <layout>/blobs/<alg>/<hex> (temp file, rename) unless a file of the right
// size is there already.
Result<void> export_blob(const ContentStore& content, int blobs_fd, const Digest& d, int64_t size) {
  UniqueFd alg = BERTH_TRY(open_or_make_dir(blobs_fd, std::string(d.algorithm())));
  std::string hex(d.hex());
  struct stat st {};
  if (::fstatat(alg.get(), hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
      st.st_size == size)
    return ok();
  std::string tmp = ".tmp-" + hex + "-" + std::to_string(::getpid());
  UniqueFd out(::openat(alg.get(), tmp.c_str(),
                        O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!out) return Error::sys("create " + tmp);
  UniqueFd in = BERTH_TRY(content.open_blob(d));
  auto copy = [&]() -> Result<void> {
    std::vector<char> buf(kChunk);
    for (;;) {
      ssize_t n = ::read(in.get(), buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Error::sys("read blob " + d.str());
      if (n == 0) break;
      BERTH_TRY(write_all(out.get(), std::string_view(buf.data(), static_cast<size_t>(n))));
    }
    if (::fsync(out.get()) != 0) return Error::sys("fsync");
    if (::renameat(alg.get(), tmp.c_str(), alg.get(), hex.c_str()) != 0)
      return Error::sys("rename to " + blob_path(d));
    return ok();
  }();
  if (!copy) ::unlinkat(alg.get(), tmp.c_str(), 0);
  return copy;
}

}  // namespace

Result<void> save_archive(ImageService& images, const std::vector<std::string>& names, int fd,
                          ArchiveFormat format) {
  auto run = [&]() -> Result<void> {
    std::vector<SavedImage> saved = BERTH_TRY(collect(images, names));
    std::map<Digest, int64_t> blobs = BERTH_TRY(blobs_of(images.content(), saved));
    TarWriter tar;
    BERTH_TRY(tar.open(fd));
    BERTH_TRY(tar.dir("blobs/"));
    std::string alg_dir;
    for (const auto& [d, size] : blobs) {
      if (alg_dir != d.algorithm()) {
        alg_dir = std::string(d.algorithm());
        BERTH_TRY(tar.dir("blobs/" + alg_dir + "/"));
      }
      BERTH_TRY(tar.blob(images.content(), d, size));
    }
    BERTH_TRY(tar.file("index.json", index_json(saved)));
    if (format == ArchiveFormat::Docker)
      BERTH_TRY(tar.file("manifest.json", docker_manifest_json(saved)));
    BERTH_TRY(tar.file("oci-layout", kLayoutFile));
    if (format == ArchiveFormat::Docker)
      BERTH_TRY(tar.file("repositories", repositories_json(saved)));
    return tar.close();
  };
  auto r = run();
  if (!r) return std::move(r).error().wrap("save");
  return r;
}

Result<void> export_oci_layout(ImageService& images, const std::string& image,
                               const std::string& dir, const std::string& tag) {
  auto run = [&]() -> Result<void> {
    Image im = BERTH_TRY(images.resolve(image));
    std::string t = tag;
    if (t.empty()) {
      if (auto ref = tag_of(image, im))
        t = ref->tag;
      else if (auto own = parse_reference(im.record.name); own && !own->tag.empty())
        t = own->tag;
    }
    std::vector<SavedImage> saved = {SavedImage{im, {}}};
    std::map<Digest, int64_t> blobs = BERTH_TRY(blobs_of(images.content(), saved));

    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) return Error::sys("mkdir");
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return Error::sys("open");
    UniqueFd blobs_fd = BERTH_TRY(open_or_make_dir(dfd.get(), "blobs"));
    for (const auto& [d, size] : blobs)
      BERTH_TRY_CTX(export_blob(images.content(), blobs_fd.get(), d, size), "blob " + d.str());

    // index.json: the existing one (another image of the layout may be there), the entry for
    // this tag replaced.
    img::Index index;
    index.schema_version = 2;
    index.media_type = std::string(img::kOciIndex);
    std::string index_path = dir + "/index.json";
    struct stat st {};
    if (::fstatat(dfd.get(), "index.json", &st, AT_SYMLINK_NOFOLLOW) == 0) {
      if (!S_ISREG(st.st_mode)) return Error::invalid("index.json is not a regular file");
      std::string body = BERTH_TRY(read_file(index_path, img::kMaxManifestBytes));
      index = BERTH_TRY_CTX(img::parse_index(body), "index.json");
      if (index.media_type.empty()) index.media_type = std::string(img::kOciIndex);
    }
    img::Descriptor d = manifest_descriptor(im);
    if (!t.empty()) {
      std::erase_if(index.manifests, [&](const img::Descriptor& m) {
        auto it = m.annotations.find(std::string(kAnnotationRefName));
        return it != m.annotations.end() && it->second == t;
      });
      d.annotations[std::string(kAnnotationRefName)] = t;
    }
    index.manifests.push_back(std::move(d));
    if (index.manifests.size() > img::kMaxIndexManifests)
      return Error::invalid("index.json would list more than " +
                            std::to_string(img::kMaxIndexManifests) + " images");
    if (::fstatat(dfd.get(), "oci-layout", &st, AT_SYMLINK_NOFOLLOW) != 0)
      BERTH_TRY(write_file_atomic(dir + "/oci-layout", kLayoutFile, 0644, true));
    return write_file_atomic(index_path, img::serialize(index), 0644, true);
  };
  auto r = run();
  if (!r) return std::move(r).error().wrap("export " + image + " to OCI layout \"" + dir + "\"");
  return r;
}

}  // namespace berth::image
