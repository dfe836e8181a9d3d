#include "image/images.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <set>

namespace berth::image {

Result<UniqueFd> ImageService::lock_gc(bool exclusive) const {
  std::string path = root_ + "/gc.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!fd) return Error::sys("open \"" + path + "\"");
  while (flock(fd.get(), exclusive ? LOCK_EX : LOCK_SH) != 0)
    if (errno != EINTR) return Error::sys("lock \"" + path + "\"");
  return fd;
}

Result<std::unique_ptr<ImageService>> ImageService::open(const std::string& root) {
  if (mkdir(root.c_str(), 0711) != 0 && errno != EEXIST)
    return Error::sys("create image root \"" + root + "\"");
  auto content = BERTH_TRY(ContentStore::open(root));
  auto snaps = BERTH_TRY(snapshot::Snapshotter::open(root));
  auto names = BERTH_TRY(ImageStore::open(root));
  BERTH_TRY_CTX(snaps.clean_unfinished(), "clean up unfinished snapshots");
  auto svc = std::unique_ptr<ImageService>(
      new ImageService(root, std::move(content), std::move(snaps), std::move(names)));
  BERTH_TRY_CTX(svc->remove_abandoned_extractions(), "clean up after an interrupted pull");
  return svc;
}

Result<UniqueFd> ImageService::hold_off_gc() const { return lock_gc(false); }

// A pull unpacks each layer into an active snapshot "extract-<pid>-..." and commits it at the
// end; a pull that was killed leaves them behind. Removed once their process is gone.
Result<void> ImageService::remove_abandoned_extractions() {
  for (const auto& s : BERTH_TRY(snapshots_.list())) {
    if (s.kind != snapshot::Kind::Active || !s.key.starts_with(kExtractPrefix)) continue;
    pid_t pid = 0;
    std::string_view rest = std::string_view(s.key).substr(kExtractPrefix.size());
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), pid);
    (void)p;
    if (ec != std::errc() || pid <= 0) continue;
    if (pid == getpid() || kill(pid, 0) == 0 || errno != ESRCH) continue;
    BERTH_TRY(snapshots_.remove(s.key));
  }
  return ok();
}

namespace {

Result<Image> load_image(const ContentStore& content, ImageRecord record) {
  Image img;
  std::string body =
      BERTH_TRY_CTX(content.read_blob(record.manifest.digest, oci::image::kMaxManifestBytes),
                    "read manifest " + record.manifest.digest.str());
  img.manifest =
      BERTH_TRY_CTX(oci::image::parse_manifest(body), "manifest " + record.manifest.digest.str());
  std::string cfg = BERTH_TRY_CTX(content.read_blob(record.config, oci::image::kMaxConfigBytes),
                                  "read image config " + record.config.str());
  img.config =
      BERTH_TRY_CTX(oci::image::parse_image_config(cfg), "image config " + record.config.str());
  img.chain_ids = oci::image::chain_ids(img.config.diff_ids);
  img.record = std::move(record);
  return img;
}

}  // namespace

Result<Image> ImageService::resolve(const std::string& name_or_id) const {
  // A full reference or short name first: "busybox" means docker.io/library/busybox:latest.
  if (auto ref = parse_reference(name_or_id)) {
    auto rec = names_.get(ref->str());
    if (rec) return load_image(content_, std::move(*rec));
    if (rec.error().kind() != ErrorKind::NotFound) return std::move(rec).error();
  }
  // An image ID or a unique prefix of one.
  std::string_view want = name_or_id;
  if (want.starts_with("sha256:")) want.remove_prefix(7);
  bool hex = want.size() >= 4 && want.size() <= 64 &&
             want.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (hex) {
    auto all = BERTH_TRY(names_.list());
    const ImageRecord* match = nullptr;
    for (const auto& r : all) {
      if (!r.config.hex().starts_with(want)) continue;
      if (match && match->config != r.config)
        return Error::conflict("image ID prefix " + name_or_id + " is ambiguous");
      match = &r;
    }
    if (match) return load_image(content_, *match);
  }
  return Error::not_found("No such image: " + name_or_id);
}

Result<std::vector<Image>> ImageService::list() const {
  std::vector<Image> out;
  for (auto& rec : BERTH_TRY(names_.list())) {
    auto img = load_image(content_, rec);
    if (img) out.push_back(std::move(*img));  // a record whose blobs vanished is skipped
  }
  return out;
}

Result<void> ImageService::tag(const std::string& source, const std::string& target) {
  Image img = BERTH_TRY(resolve(source));
  Reference ref = BERTH_TRY(parse_reference(target));
  if (ref.digest) return Error::invalid("refusing to create a tag with a digest reference");
  ImageRecord rec = img.record;
  rec.name = ref.str();
  rec.created_ns = 0;
  return names_.put(std::move(rec));
}

Result<void> ImageService::untag(const std::string& name) {
  Reference ref = BERTH_TRY(parse_reference(name));
  return names_.remove(ref.str());
}

Result<Usage> ImageService::usage() const {
  Usage u;
  auto blobs = BERTH_TRY(content_.list());
  u.blobs = blobs.size();
  for (const auto& b : blobs) u.content_bytes += static_cast<uint64_t>(b.size);
  auto snaps = BERTH_TRY(snapshots_.list());
  u.snapshots = snaps.size();
  for (const auto& s : snaps) {
    auto su = snapshots_.usage(s.key);
    if (su) u.snapshot_bytes += su->bytes;
  }
  u.images = BERTH_TRY(names_.list()).size();
  return u;
}

}  // namespace berth::image
