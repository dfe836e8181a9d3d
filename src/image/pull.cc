// Pull: registry -> content store -> snapshots, every layer downloaded and unpacked at once.
//
// Each layer job streams its blob from the registry into two places at the same time: the
// content store writer (which hashes and, at the end, verifies digest and size) and a pipe that
// an unpack thread reads, so decompression and file creation overlap the download instead of
// waiting for it. Layers go into snapshots of their own (overlayfs layers do not depend on each
// other's content), so all layers unpack in parallel; they are committed in order, each with
// its chain parent, only after both the blob digest and the diff ID were verified.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <random>
#include <semaphore>
#include <thread>

#include "image/images.h"
#include "image/unpack.h"
#include "util/log.h"

namespace berth::image {
namespace {

namespace img = oci::image;

std::string short_id(const Digest& d) { return std::string(d.hex().substr(0, 12)); }

std::string random_suffix() {
  static std::atomic<uint64_t> counter{0};
  std::random_device rd;
  return std::to_string(getpid()) + "-" + std::to_string(rd()) + "-" + std::to_string(counter++);
}

// Serialises progress reports from the layer threads.
class Reporter {
 public:
  explicit Reporter(const ProgressFn& fn) : fn_(fn) {}
  void operator()(std::string id, std::string status, uint64_t current = 0, uint64_t total = 0) {
    if (!fn_) return;
    std::lock_guard lock(mu_);
    fn_(Progress{std::move(id), std::move(status), current, total});
  }

 private:
  const ProgressFn& fn_;
  std::mutex mu_;
};

// Writes to the unpacker's pipe with SIGPIPE blocked in this thread, so an unpacker that
// stopped early (bad layer) gives EPIPE here instead of killing the process.
class PipeFeeder {
 public:
  explicit PipeFeeder(int fd) : fd_(fd) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~PipeFeeder() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    timespec zero{};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  Result<void> write(const char* data, size_t len) {
    if (closed_) return ok();  // the unpacker stopped; keep storing the blob, its error wins
    auto r = write_all(fd_, std::string_view(data, len));
    if (!r && r.error().errno_value() == EPIPE)
      closed_ = true;
    else if (!r)
      return r;
    return ok();
  }

 private:
  int fd_;
  bool closed_ = false;
  sigset_t old_;
};

struct LayerJob {
  size_t index = 0;
  img::Descriptor desc;
  Digest diff_id, chain_id;
  std::string key;  // the active snapshot it was unpacked into; empty when it already existed
  std::optional<Error> error;
  bool skipped = false;     // foreign layer the registry does not have
  bool root_cause = false;  // the first job to fail; the others were cancelled because of it
};

class Puller {
 public:
  // `client` null: layers come only from the content store (load, re-unpack).
  Puller(ContentStore& content, snapshot::Snapshotter& snaps, RegistryClient* client,
         std::string repo, const ProgressFn& progress)
      : content_(content),
        snaps_(snaps),
        client_(client),
        repo_(std::move(repo)),
        report_(progress) {}

  Result<std::string> fetch_small(const img::Descriptor& d, size_t limit) {
    if (content_.has(d.digest)) return content_.read_blob(d.digest, limit);
    if (d.size < 0 || static_cast<uint64_t>(d.size) > limit)
      return Error::invalid("blob " + d.digest.str() + " is too big (" + std::to_string(d.size) +
                            " bytes)");
    std::string body;
    BERTH_TRY(client_->fetch_blob(
        repo_, d, 0,
        [&](const char* p, size_t n) -> Result<void> {
          if (body.size() + n > limit) return Error::invalid("blob exceeds its size");
          body.append(p, n);
          return ok();
        },
        [&]() -> Result<void> {
          body.clear();
          return ok();
        }));
    BERTH_TRY(content_.put(d.digest, body));
    return body;
  }

  void run_layer(LayerJob& job) {
    auto r = unpack_job(job);
    if (!r) {
      job.error = std::move(r).error().wrap("layer " + job.desc.digest.str());
      bool was_cancelled = false;
      job.root_cause = cancelled_.compare_exchange_strong(was_cancelled, true);
    }
  }

 private:
  Result<void> unpack_job(LayerJob& job) {
    const std::string id = short_id(job.desc.digest);
    if (snaps_.exists(job.chain_id.str())) {
      report_(id, "Already exists");
      return ok();
    }
    // Compression is detected from the bytes; the type says whether it is a layer at all.
    img::LayerType type = BERTH_TRY(img::layer_type(job.desc.media_type));
    job.key = std::string(kExtractPrefix) + random_suffix() + "-" + std::string(job.chain_id.hex());
    BERTH_TRY(snaps_.prepare(job.key, ""));
    UniqueFd upper = BERTH_TRY(snaps_.open_upper(job.key));

    UnpackResult unpacked;
    if (content_.has(job.desc.digest)) {
      unpacked = BERTH_TRY(unpack_from_store(job, upper.get()));
    } else if (!client_) {
      return Error::not_found("layer blob " + job.desc.digest.str() + " is not in the store");
    } else {
      auto streamed = download_and_unpack(job, upper.get());
      if (!streamed && type.non_distributable && streamed.error().kind() == ErrorKind::NotFound) {
        // A foreign layer (e.g. a Windows base layer) the registry does not serve: noted and
        // skipped, like docker; the image is recorded but cannot be unpacked without it.
        report_(id, "Skipped foreign layer (not in the registry)");
        log::warn("pull: skipped non-distributable layer " + job.desc.digest.str());
        job.skipped = true;
        return ok();
      }
      if (!streamed) return std::move(streamed).error();
      if (*streamed) {
        unpacked = std::move(**streamed);
      } else {
        // Resumed ingest or a server without Range: the blob is now complete in the store,
        // unpack it from there into a fresh snapshot.
        BERTH_TRY(snaps_.remove(job.key));
        BERTH_TRY(snaps_.prepare(job.key, ""));
        upper = BERTH_TRY(snaps_.open_upper(job.key));
        unpacked = BERTH_TRY(unpack_from_store(job, upper.get()));
      }
    }
    if (unpacked.diff_id != job.diff_id)
      return Error::invalid("unpacked layer has diff ID " + unpacked.diff_id.str() +
                            ", the image config says " + job.diff_id.str());
    report_(id, "Pull complete");
    return ok();
  }

  Result<UnpackResult> unpack_from_store(LayerJob& job, int upper_fd) {
    report_(short_id(job.desc.digest), "Extracting");
    UniqueFd blob = BERTH_TRY(content_.open_blob(job.desc.digest));
    return unpack_layer(blob.get(), upper_fd);
  }

  // Streams the blob into the store and the unpacker at once. Returns nullopt when the bytes
  // could not be streamed from the start (a resumed ingest, or the server ignored Range): then
  // the blob is complete in the store and the caller unpacks it from there.
  Result<std::optional<UnpackResult>> download_and_unpack(LayerJob& job, int upper_fd) {
    const std::string id = short_id(job.desc.digest);
    BlobWriter writer = BERTH_TRY(content_.writer(job.desc.digest, job.desc.size));
    uint64_t total = static_cast<uint64_t>(job.desc.size);
    if (writer.offset() > 0) {
      report_(id, "Resuming download", writer.offset(), total);
      BERTH_TRY(download_rest(job, writer));
      return std::optional<UnpackResult>();
    }

    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) return Error::sys("pipe");
    UniqueFd rd(fds[0]), wr(fds[1]);
    fcntl(wr.get(), F_SETPIPE_SZ, 1 << 20);  // best effort: fewer context switches

    Result<UnpackResult> unpacked = Error::internal("unpack did not run");
    std::thread unpacker([&] { unpacked = unpack_layer(rd.get(), upper_fd); });

    bool restarted = false;
    uint64_t received = 0, reported = 0;
    Result<void> fetched = [&]() -> Result<void> {
      PipeFeeder feeder(wr.get());
      return client_->fetch_blob(
          repo_, job.desc, 0,
          [&](const char* p, size_t n) -> Result<void> {
            if (cancelled_) return Error::internal("pull cancelled");
            BERTH_TRY(writer.write(p, n));
            received += n;
            if (received - reported >= (1 << 20) || received == total) {
              report_(id, "Downloading", received, total);
              reported = received;
            }
            if (!restarted) return feeder.write(p, n);
            return ok();
          },
          [&]() -> Result<void> {
            // The server sent the blob again from byte 0: the unpacker has a prefix already;
            // stop feeding it and store the blob alone.
            restarted = true;
            received = 0;
            return writer.truncate();
          });
    }();
    wr.reset();  // EOF for the unpacker
    unpacker.join();

    // A failed download keeps its partial bytes in the ingest: the next pull resumes there.
    if (!fetched) return std::move(fetched).error().wrap("download");
    report_(id, "Verifying Checksum");
    BERTH_TRY_CTX(writer.commit(), "verify");  // digest and size; nothing kept on mismatch
    report_(id, "Download complete");
    if (restarted) return std::optional<UnpackResult>();
    if (!unpacked) return std::move(unpacked).error();
    return std::optional<UnpackResult>(std::move(*unpacked));
  }

  Result<void> download_rest(LayerJob& job, BlobWriter& writer) {
    Result<void> r = client_->fetch_blob(
        repo_, job.desc, writer.offset(),
        [&](const char* p, size_t n) -> Result<void> {
          if (cancelled_) return Error::internal("pull cancelled");
          return writer.write(p, n);
        },
        [&]() -> Result<void> { return writer.truncate(); });
    if (!r) return std::move(r).error().wrap("download");
    return writer.commit();
  }

  ContentStore& content_;
  snapshot::Snapshotter& snaps_;
  RegistryClient* client_;
  std::string repo_;
  Reporter report_;
  std::atomic<bool> cancelled_{false};
};

unsigned default_parallelism() {
  unsigned n = std::thread::hardware_concurrency();
  return std::max(4u, n + 2);
}

std::vector<LayerJob> make_jobs(const img::Manifest& manifest, const img::ImageConfig& config,
                                const std::vector<Digest>& chains, Reporter& report) {
  std::vector<LayerJob> jobs(manifest.layers.size());
  for (size_t i = 0; i < jobs.size(); i++) {
    jobs[i].index = i;
    jobs[i].desc = manifest.layers[i];
    jobs[i].diff_id = config.diff_ids[i];
    jobs[i].chain_id = chains[i];
    report(short_id(jobs[i].desc.digest), "Pulling fs layer");
  }
  return jobs;
}

// All layers at once, bounded; each thread downloads and/or unpacks one layer. Then commits
// in chain order (each needs its parent committed), or drops everything unpacked.
Result<void> run_jobs(std::vector<LayerJob>& jobs, Puller& puller, snapshot::Snapshotter& snaps,
                      int max_parallel) {
  unsigned parallel = max_parallel > 0 ? unsigned(max_parallel) : default_parallelism();
  std::counting_semaphore<64> slots(std::min(parallel, 64u));
  std::vector<std::thread> threads;
  threads.reserve(jobs.size());
  for (auto& job : jobs) {
    threads.emplace_back([&] {
      slots.acquire();
      puller.run_layer(job);
      slots.release();
    });
  }
  for (auto& t : threads) t.join();

  // Layers are committed bottom-up until the first one that failed or was skipped (a foreign
  // layer the registry lacks): the verified ones below it stay for the next pull; the ones above
  // it are dropped (their blobs stay in the store, so unpack() can finish them later).
  std::optional<Error> failure;
  for (auto& job : jobs)
    if (job.error && job.root_cause) failure = std::move(*job.error);
  for (auto& job : jobs)
    if (job.error && !failure) failure = std::move(*job.error);
  bool chain_broken = false;
  for (size_t i = 0; i < jobs.size(); i++) {
    LayerJob& job = jobs[i];
    chain_broken = chain_broken || job.skipped || job.error;
    if (job.key.empty()) continue;
    if (!chain_broken) {
      std::string parent = i ? jobs[i - 1].chain_id.str() : "";
      auto c = snaps.commit(job.chain_id.str(), job.key, parent);
      if (c) continue;
      if (c.error().kind() != ErrorKind::Conflict) {  // Conflict: a concurrent pull committed it
        chain_broken = true;
        if (!failure) failure = std::move(c).error().wrap("commit layer " + job.desc.digest.str());
      }
    }
    (void)snaps.remove(job.key);
  }
  if (failure) return std::move(*failure);
  return ok();
}

}  // namespace

Result<Image> ImageService::pull(const std::string& reference, const PullOptions& opts) {
  Reference ref = BERTH_TRY(parse_reference(reference));
  UniqueFd gc_guard = BERTH_TRY(hold_off_gc());
  auto client = BERTH_TRY(RegistryClient::create(ref.domain, opts.registry));
  Reporter report(opts.progress);
  report("", (ref.digest ? ref.digest->str() : ref.tag) + ": Pulling from " + ref.path);

  // The document the reference names: an index (pick the platform) or a manifest.
  FetchedManifest top = BERTH_TRY(client->get_manifest(ref.path, ref.object()));
  img::DocumentKind kind = img::sniff_document_kind(top.media_type, top.body);
  if (kind == img::DocumentKind::DockerSchema1)
    return Error::unsupported("image " + ref.familiar() +
                              " uses Docker image manifest schema 1, which berth does not "
                              "support; push it again with a current docker or skopeo");
  if (kind == img::DocumentKind::Unknown)
    return Error::unsupported("unknown manifest media type \"" + top.media_type + "\"");
  ImageRecord rec;
  rec.name = ref.str();
  rec.target = img::Descriptor{.media_type = top.media_type,
                               .digest = top.digest,
                               .size = static_cast<int64_t>(top.body.size())};
  BERTH_TRY(content_.put(top.digest, top.body));

  FetchedManifest mf = top;
  if (kind == img::DocumentKind::Index) {
    img::Index index = BERTH_TRY_CTX(img::parse_index(top.body), "image index");
    img::Platform want = opts.platform ? *opts.platform : img::host_platform();
    img::Descriptor chosen = BERTH_TRY(img::select_platform(index, want));
    mf = BERTH_TRY(client->get_manifest(ref.path, chosen.digest.str()));
    if (mf.digest != chosen.digest)
      return Error::invalid("manifest " + chosen.digest.str() + " has digest " + mf.digest.str());
    if (img::sniff_document_kind(mf.media_type, mf.body) != img::DocumentKind::Manifest)
      return Error::unsupported("index entry " + chosen.digest.str() + " is not an image manifest");
    BERTH_TRY(content_.put(mf.digest, mf.body));
  }
  rec.manifest = img::Descriptor{.media_type = mf.media_type,
                                 .digest = mf.digest,
                                 .size = static_cast<int64_t>(mf.body.size())};
  img::Manifest manifest = BERTH_TRY_CTX(img::parse_manifest(mf.body), "manifest");

  Puller puller(content_, snapshots_, client.get(), ref.path, opts.progress);
  std::string config_body =
      BERTH_TRY_CTX(puller.fetch_small(manifest.config, img::kMaxConfigBytes), "image config");
  img::ImageConfig config = BERTH_TRY_CTX(img::parse_image_config(config_body), "image config");
  if (config.diff_ids.size() != manifest.layers.size())
    return Error::invalid("image config lists " + std::to_string(config.diff_ids.size()) +
                          " layers (rootfs.diff_ids), the manifest " +
                          std::to_string(manifest.layers.size()));
  rec.config = manifest.config.digest;
  std::vector<Digest> chains = img::chain_ids(config.diff_ids);

  std::vector<LayerJob> jobs = make_jobs(manifest, config, chains, report);
  if (auto r = run_jobs(jobs, puller, snapshots_, opts.max_parallel); !r)
    return std::move(r).error().wrap("pull " + ref.familiar());

  BERTH_TRY(names_.put(rec));
  report("", "Digest: " + rec.target.digest.str());
  report("", "Status: Downloaded newer image for " + ref.familiar());
  Image image;
  image.record = std::move(rec);
  image.manifest = std::move(manifest);
  image.config = std::move(config);
  image.chain_ids = std::move(chains);
  return image;
}

}  // namespace berth::image

namespace berth::image {

Result<void> ImageService::unpack(const Image& image, const ProgressFn& progress) {
  UniqueFd gc_guard = BERTH_TRY(hold_off_gc());
  Reporter report(progress);
  Puller puller(content_, snapshots_, nullptr, "", progress);
  std::vector<LayerJob> jobs = make_jobs(image.manifest, image.config, image.chain_ids, report);
  return run_jobs(jobs, puller, snapshots_, 0);
}

}  // namespace berth::image
