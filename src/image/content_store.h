// Content-addressed blob store (what containerd's content store is to docker).
//
// Layout under <root> (the daemon's --root, e.g. /var/lib/berth):
//   content/blobs/<alg>/<hex>     committed blobs, read-only (0444), named by their digest
//   content/ingest/<alg>/<hex>/   an ingest in progress: data (partial bytes), lock
//
// A blob only appears under blobs/ after its bytes were hashed while they were written, the
// digest and size matched the expected ones, the file was fsynced and renamed into place. A
// mismatch is an error naming both digests and nothing becomes visible. A killed writer leaves
// its ingest dir; the next writer for the same digest re-hashes the partial data and resumes
// from there (offset()), so a pull can continue with an HTTP Range request.
// Concurrent writers of one digest are serialised by a lock (flock) on the ingest dir.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "util/digest.h"
#include "util/fd.h"
#include "util/result.h"

namespace berth::image {

struct BlobInfo {
  Digest digest;
  int64_t size = 0;
  int64_t modified_ns = 0;  // mtime, for gc's grace period
};

class ContentStore;

// One ingest. Not thread-safe; one writer per digest at a time (the lock enforces it).
class BlobWriter {
 public:
  BlobWriter(BlobWriter&&) noexcept;
  BlobWriter& operator=(BlobWriter&&) noexcept;
  ~BlobWriter();  // without commit(): the partial data stays for a later resume

  // Bytes already in the ingest (resumed from an earlier attempt); write() appends after them.
  uint64_t offset() const;
  Result<void> write(const void* data, size_t len);
  Result<void> write(std::string_view s) { return write(s.data(), s.size()); }
  // Drops the partial data (e.g. the server ignored a Range request and sends from 0).
  Result<void> truncate();
  // Verifies size and digest, fsyncs, renames into blobs/. On mismatch the ingest is removed
  // and the error names expected and actual digest (or size).
  Result<void> commit();
  // Removes the ingest (partial data included).
  void abort();

 private:
  friend class ContentStore;
  struct Impl;
  explicit BlobWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

class ContentStore {
 public:
  // Creates the directories if needed. `root` is the parent of content/.
  static Result<ContentStore> open(const std::string& root);

  const std::string& root() const { return root_; }  // <root>/content
  std::string blob_path(const Digest& d) const;

  bool has(const Digest& d) const;
  Result<BlobInfo> info(const Digest& d) const;
  Result<UniqueFd> open_blob(const Digest& d) const;  // O_RDONLY
  // Whole blob in memory (manifests, configs); bigger than `limit` is an error.
  Result<std::string> read_blob(const Digest& d, size_t limit) const;

  // Starts or resumes the ingest of a blob with this digest and size (size < 0: unknown).
  // If the blob already exists the result is a Conflict error (callers check has() first).
  Result<BlobWriter> writer(const Digest& expected, int64_t expected_size) const;
  // Small blobs in one call; a no-op if present. Verifies the digest.
  Result<void> put(const Digest& expected, std::string_view data) const;
  // Stores `data` under its own digest (documents berth writes: index.json imports, configs).
  Result<Digest> put_computed(std::string_view data) const;

  Result<std::vector<BlobInfo>> list() const;
  Result<void> remove(const Digest& d) const;  // NotFound if absent
  // Removes ingests nobody holds the lock of and that are older than `older_than_ns` (an age:
  // last write at least that many ns ago; 0 removes every unlocked ingest).
  Result<void> clean_ingests(int64_t older_than_ns) const;
  // Total bytes of committed blobs.
  Result<uint64_t> usage() const;

 private:
  explicit ContentStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

}  // namespace berth::image
