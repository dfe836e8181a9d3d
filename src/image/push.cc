// Push: content store -> registry. Blobs the registry has are skipped (HEAD), the others are
// uploaded in parallel; the manifest goes last, so the tag appears only once every blob is
// there.
#include <atomic>
#include <mutex>
#include <thread>

#include "image/images.h"

namespace berth::image {

namespace img = oci::image;

Result<void> ImageService::push(const std::string& name, const std::string& target_reference,
                                const RegistryOptions& registry, const ProgressFn& progress) {
  Image image = BERTH_TRY(resolve(name));
  Reference dst = BERTH_TRY(parse_reference(target_reference.empty() ? name : target_reference));
  if (dst.digest) return Error::invalid("cannot push to a digest reference: " + dst.str());
  auto client = BERTH_TRY(RegistryClient::create(dst.domain, registry));
  std::mutex mu;
  auto report = [&](std::string id, std::string status) {
    if (!progress) return;
    std::lock_guard lock(mu);
    progress(Progress{std::move(id), std::move(status), 0, 0});
  };
  report("", "The push refers to repository [" + dst.name() + "]");

  std::vector<img::Descriptor> blobs = image.manifest.layers;
  blobs.push_back(image.manifest.config);
  std::vector<std::optional<Error>> errors(blobs.size());
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i; (i = next++) < blobs.size();) {
      const img::Descriptor& d = blobs[i];
      const std::string id(d.digest.hex().substr(0, 12));
      auto r = [&]() -> Result<void> {
        auto type = img::layer_type(d.media_type);
        if (type && type->non_distributable) {
          report(id, "Skipped foreign layer");
          return ok();
        }
        if (BERTH_TRY(client->blob_exists(dst.path, d.digest))) {
          report(id, "Layer already exists");
          return ok();
        }
        report(id, "Pushing");
        UniqueFd fd = BERTH_TRY(content_.open_blob(d.digest));
        BERTH_TRY(client->push_blob(dst.path, d, fd.get()));
        report(id, "Pushed");
        return ok();
      }();
      if (!r) errors[i] = std::move(r).error();
    }
  };
  std::vector<std::thread> threads;
  for (size_t t = 0; t < std::min<size_t>(4, blobs.size()); t++) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) return std::move(*e);

  std::string body =
      BERTH_TRY(content_.read_blob(image.record.manifest.digest, img::kMaxManifestBytes));
  std::string tag = dst.tag.empty() ? std::string(kDefaultTag) : dst.tag;
  BERTH_TRY_CTX(client->put_manifest(dst.path, tag,
                                     image.record.manifest.media_type.empty()
                                         ? std::string(img::kOciManifest)
                                         : image.record.manifest.media_type,
                                     body),
                "push manifest");
  report("", tag + ": digest: " + image.record.manifest.digest.str() +
                 " size: " + std::to_string(body.size()));
  return ok();
}

}  // namespace berth::image
