// Garbage collection: blobs and snapshots that no image name and no container snapshot needs.
//
// Mark: every name's target (manifest or index), its platform manifest, config and layers;
// every chain ID of those images; every active snapshot (a container's root) and its parents.
// Sweep: the rest, snapshots leaves first. Ingests (partial downloads) stay for a day so an
// interrupted pull can resume.
#include <set>

#include "image/images.h"

namespace berth::image {
namespace {

constexpr int64_t kIngestGraceNs = int64_t{24} * 3600 * 1'000'000'000;

}  // namespace

Result<GcResult> ImageService::gc() {
  UniqueFd lock = BERTH_TRY(lock_gc(true));
  BERTH_TRY(remove_abandoned_extractions());
  std::set<Digest> live_blobs;
  std::set<std::string> live_snaps;
  for (const auto& rec : BERTH_TRY(names_.list())) {
    live_blobs.insert(rec.target.digest);
    live_blobs.insert(rec.manifest.digest);
    live_blobs.insert(rec.config);
    auto body = content_.read_blob(rec.manifest.digest, oci::image::kMaxManifestBytes);
    if (!body) continue;  // nothing more of this image to keep
    auto m = oci::image::parse_manifest(*body);
    if (!m) continue;
    for (const auto& l : m->layers) live_blobs.insert(l.digest);
    auto cfg = content_.read_blob(rec.config, oci::image::kMaxConfigBytes);
    if (!cfg) continue;
    auto c = oci::image::parse_image_config(*cfg);
    if (!c) continue;
    for (const auto& chain : oci::image::chain_ids(c->diff_ids)) live_snaps.insert(chain.str());
  }

  auto snaps = BERTH_TRY(snapshots_.list());
  std::map<std::string, const snapshot::Info*> by_key;
  for (const auto& s : snaps) by_key[s.key] = &s;
  for (const auto& s : snaps) {
    if (s.kind == snapshot::Kind::Committed && !live_snaps.count(s.key)) continue;
    // Live: walk up the parents.
    for (const snapshot::Info* p = &s; p;) {
      if (!live_snaps.insert(p->key).second && p != &s) break;
      auto it = by_key.find(p->parent);
      p = it == by_key.end() ? nullptr : it->second;
    }
  }

  GcResult out;
  // Snapshots: remove leaves first, repeating until nothing more goes.
  std::set<std::string> doomed;
  for (const auto& s : snaps)
    if (!live_snaps.count(s.key)) doomed.insert(s.key);
  for (bool progress = true; progress && !doomed.empty();) {
    progress = false;
    for (auto it = doomed.begin(); it != doomed.end();) {
      bool has_child = false;
      for (const auto& s : snaps)
        if (s.parent == *it && doomed.count(s.key)) has_child = true;
      if (has_child) {
        ++it;
        continue;
      }
      auto u = snapshots_.usage(*it);
      BERTH_TRY_CTX(snapshots_.remove(*it), "gc: remove snapshot " + *it);
      if (u) out.reclaimed_bytes += u->bytes;
      out.removed_snapshots.push_back(*it);
      it = doomed.erase(it);
      progress = true;
    }
  }

  for (const auto& b : BERTH_TRY(content_.list())) {
    if (live_blobs.count(b.digest)) continue;
    BERTH_TRY_CTX(content_.remove(b.digest), "gc: remove blob " + b.digest.str());
    out.reclaimed_bytes += static_cast<uint64_t>(b.size);
    out.removed_blobs.push_back(b.digest);
  }
  BERTH_TRY_CTX(content_.clean_ingests(kIngestGraceNs), "gc: clean old ingests");
  return out;
}

}  // namespace berth::image
