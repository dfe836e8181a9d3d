#include "image/content_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <vector>

#include "util/strings.h"

namespace berth::image {
namespace {

constexpr size_t kIoChunk = 1 << 20;

std::string blob_dir(const std::string& root, std::string_view alg) {
  return root + "/blobs/" + std::string(alg);
}
std::string ingest_dir(const std::string& root, const Digest& d) {
  return root + "/ingest/" + std::string(d.algorithm()) + "/" + std::string(d.hex());
}

Result<void> mkdir_p(const std::string& path, mode_t mode) {
  size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    std::string part = path.substr(0, pos);
    if (part.empty()) continue;
    if (::mkdir(part.c_str(), mode) < 0 && errno != EEXIST) return Error::sys("mkdir " + part);
  }
  return ok();
}

Result<void> fsync_dir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Error::sys("open " + path);
  if (::fsync(fd.get()) < 0) return Error::sys("fsync " + path);
  return ok();
}

int64_t now_ns() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

int64_t mtime_ns(const struct stat& st) {
  return int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec;
}

// Removes an ingest dir's files and the dir itself (its only entries are `data` and `lock`).
void remove_ingest_dir(const std::string& dir) {
  ::unlink((dir + "/data").c_str());
  ::unlink((dir + "/lock").c_str());
  ::rmdir(dir.c_str());
}

// Opens and locks <dir>/lock. The lock file we hold must still be the one at the path: a
// writer that finished (commit/abort) or clean_ingests unlinks it while another one waits on
// the old inode; that waiter then retries on the new file.
Result<UniqueFd> lock_ingest(const std::string& dir, bool wait) {
  for (;;) {
    // A writer creates the dir and lock; clean_ingests only locks what is there.
    if (wait && ::mkdir(dir.c_str(), 0700) < 0 && errno != EEXIST)
      return Error::sys("mkdir " + dir);
    std::string path = dir + "/lock";
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | (wait ? O_CREAT : 0), 0600));
    if (!fd) {
      if (errno == ENOENT && wait) continue;  // the dir was removed between mkdir and open
      return Error::sys("open " + path);
    }
    int r;
    do {
      r = ::flock(fd.get(), wait ? LOCK_EX : LOCK_EX | LOCK_NB);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
      if (errno == EWOULDBLOCK) return Error::conflict("ingest " + dir + " is locked by a writer");
      return Error::sys("lock " + path);
    }
    struct stat held, now;
    if (::fstat(fd.get(), &held) < 0) return Error::sys("stat " + path);
    if (::stat(path.c_str(), &now) == 0 && now.st_ino == held.st_ino && now.st_dev == held.st_dev)
      return fd;
  }
}

}  // namespace

// ---- BlobWriter ---------------------------------------------------------------------------------

struct BlobWriter::Impl {
  std::string root;  // <root>/content
  Digest expected;
  int64_t expected_size = -1;
  std::string dir;  // the ingest dir
  UniqueFd lock;
  UniqueFd data;
  Hasher hasher;
  uint64_t offset = 0;
  bool done = false;  // committed, aborted or failed: no more writes

  explicit Impl(const Digest& d) : hasher(d.algorithm()) {}
};

BlobWriter::BlobWriter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
BlobWriter::BlobWriter(BlobWriter&&) noexcept = default;
BlobWriter& BlobWriter::operator=(BlobWriter&&) noexcept = default;
BlobWriter::~BlobWriter() = default;

uint64_t BlobWriter::offset() const { return impl_ ? impl_->offset : 0; }

Result<void> BlobWriter::write(const void* buf, size_t len) {
  Impl& w = *impl_;
  std::string what = "write blob " + w.expected.str();
  if (w.done) return Error::invalid(what + ": writer already finished");
  if (w.expected_size >= 0 && w.offset + len > static_cast<uint64_t>(w.expected_size)) {
    uint64_t got = w.offset + len;
    abort();
    return Error::invalid(what + ": size mismatch: expected " + std::to_string(w.expected_size) +
                          " bytes, got at least " + std::to_string(got));
  }
  const char* p = static_cast<const char*>(buf);
  size_t left = len;
  while (left > 0) {
    ssize_t n = ::pwrite(w.data.get(), p, left, static_cast<off_t>(w.offset));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error::sys(what);
    }
    w.hasher.update(p, static_cast<size_t>(n));
    w.offset += static_cast<uint64_t>(n);
    p += n;
    left -= static_cast<size_t>(n);
  }
  return ok();
}

Result<void> BlobWriter::truncate() {
  Impl& w = *impl_;
  if (w.done) return Error::invalid("truncate blob " + w.expected.str() + ": writer finished");
  if (::ftruncate(w.data.get(), 0) < 0) return Error::sys("truncate blob " + w.expected.str());
  w.hasher = Hasher(w.expected.algorithm());
  w.offset = 0;
  return ok();
}

Result<void> BlobWriter::commit() {
  Impl& w = *impl_;
  std::string what = "commit blob " + w.expected.str();
  if (w.done) return Error::invalid(what + ": writer already finished");
  if (w.expected_size >= 0 && w.offset != static_cast<uint64_t>(w.expected_size)) {
    uint64_t got = w.offset;
    abort();
    return Error::invalid(what + ": size mismatch: expected " + std::to_string(w.expected_size) +
                          " bytes, got " + std::to_string(got));
  }
  Digest actual = w.hasher.finish();
  if (actual != w.expected) {
    abort();
    return Error::invalid(what + ": digest mismatch: expected " + w.expected.str() + ", got " +
                          actual.str());
  }
  if (::fchmod(w.data.get(), 0444) < 0) return Error::sys(what + ": chmod");
  if (::fsync(w.data.get()) < 0) return Error::sys(what + ": fsync");
  std::string dst_dir = blob_dir(w.root, w.expected.algorithm());
  std::string dst = dst_dir + "/" + std::string(w.expected.hex());
  if (::rename((w.dir + "/data").c_str(), dst.c_str()) < 0) return Error::sys(what + ": rename");
  BERTH_TRY_CTX(fsync_dir(dst_dir), what);
  w.done = true;
  remove_ingest_dir(w.dir);
  w.data.reset();
  w.lock.reset();
  return ok();
}

void BlobWriter::abort() {
  if (!impl_ || impl_->done) return;
  impl_->done = true;
  remove_ingest_dir(impl_->dir);
  impl_->data.reset();
  impl_->lock.reset();
}

// ---- ContentStore -------------------------------------------------------------------------------

Result<ContentStore> ContentStore::open(const std::string& root) {
  std::string content = root + "/content";
  for (const char* sub : {"/blobs/sha256", "/blobs/sha512", "/ingest/sha256", "/ingest/sha512"})
    BERTH_TRY_CTX(mkdir_p(content + sub, 0700), "open content store");
  return ContentStore(content);
}

std::string ContentStore::blob_path(const Digest& d) const {
  return blob_dir(root_, d.algorithm()) + "/" + std::string(d.hex());
}

bool ContentStore::has(const Digest& d) const {
  if (d.empty()) return false;
  struct stat st;
  return ::stat(blob_path(d).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

Result<BlobInfo> ContentStore::info(const Digest& d) const {
  if (d.empty()) return Error::invalid("blob info: empty digest");
  struct stat st;
  if (::stat(blob_path(d).c_str(), &st) < 0) {
    if (errno == ENOENT) return Error::not_found("blob " + d.str() + ": not found");
    return Error::sys("stat blob " + d.str());
  }
  return BlobInfo{d, static_cast<int64_t>(st.st_size), mtime_ns(st)};
}

Result<UniqueFd> ContentStore::open_blob(const Digest& d) const {
  if (d.empty()) return Error::invalid("open blob: empty digest");
  UniqueFd fd(::open(blob_path(d).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) {
    if (errno == ENOENT) return Error::not_found("blob " + d.str() + ": not found");
    return Error::sys("open blob " + d.str());
  }
  return fd;
}

Result<std::string> ContentStore::read_blob(const Digest& d, size_t limit) const {
  UniqueFd fd = BERTH_TRY(open_blob(d));
  struct stat st;
  if (::fstat(fd.get(), &st) < 0) return Error::sys("stat blob " + d.str());
  if (static_cast<uint64_t>(st.st_size) > limit)
    return Error::invalid("blob " + d.str() + ": " + std::to_string(st.st_size) +
                          " bytes, more than the limit of " + std::to_string(limit));
  return BERTH_TRY_CTX(read_all(fd.get(), limit), "read blob " + d.str());
}

Result<BlobWriter> ContentStore::writer(const Digest& expected, int64_t expected_size) const {
  if (expected.empty()) return Error::invalid("ingest blob: empty digest");
  std::string what = "ingest blob " + expected.str();
  if (has(expected)) return Error::conflict(what + ": already exists");
  auto impl = std::make_unique<BlobWriter::Impl>(expected);
  impl->root = root_;
  impl->expected = expected;
  impl->expected_size = expected_size;
  impl->dir = ingest_dir(root_, expected);
  impl->lock = BERTH_TRY_CTX(lock_ingest(impl->dir, true), what);
  // Another writer may have committed it while we waited for the lock.
  if (has(expected)) {
    remove_ingest_dir(impl->dir);
    return Error::conflict(what + ": already exists");
  }
  std::string data_path = impl->dir + "/data";
  impl->data = UniqueFd(::open(data_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!impl->data) return Error::sys(what + ": open " + data_path);
  struct stat st;
  if (::fstat(impl->data.get(), &st) < 0) return Error::sys(what + ": stat " + data_path);
  uint64_t have = static_cast<uint64_t>(st.st_size);
  if (expected_size >= 0 && have > static_cast<uint64_t>(expected_size)) {
    if (::ftruncate(impl->data.get(), 0) < 0) return Error::sys(what + ": truncate");
    have = 0;
  }
  // Resume: the partial data left by an earlier writer is hashed again.
  std::vector<char> buf(have > 0 ? kIoChunk : 0);
  uint64_t off = 0;
  while (off < have) {
    ssize_t n = ::pread(impl->data.get(), buf.data(), std::min<uint64_t>(buf.size(), have - off),
                        static_cast<off_t>(off));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error::sys(what + ": read partial data");
    if (n == 0) break;
    impl->hasher.update(buf.data(), static_cast<size_t>(n));
    off += static_cast<uint64_t>(n);
  }
  if (off != have && ::ftruncate(impl->data.get(), static_cast<off_t>(off)) < 0)
    return Error::sys(what + ": truncate");
  impl->offset = off;
  return BlobWriter(std::move(impl));
}

Result<void> ContentStore::put(const Digest& expected, std::string_view data) const {
  if (has(expected)) return ok();
  auto w = writer(expected, static_cast<int64_t>(data.size()));
  if (!w) {
    if (w.error().kind() == ErrorKind::Conflict && has(expected)) return ok();
    return std::move(w).error();
  }
  if (w->offset() > 0) BERTH_TRY(w->truncate());
  BERTH_TRY(w->write(data));
  return w->commit();
}

Result<Digest> ContentStore::put_computed(std::string_view data) const {
  Digest d = sha256_of(data);
  BERTH_TRY(put(d, data));
  return d;
}

Result<std::vector<BlobInfo>> ContentStore::list() const {
  std::vector<BlobInfo> out;
  for (const char* alg : {"sha256", "sha512"}) {
    std::string dir = blob_dir(root_, alg);
    DIR* dp = ::opendir(dir.c_str());
    if (!dp) {
      if (errno == ENOENT) continue;
      return Error::sys("list blobs: open " + dir);
    }
    while (struct dirent* de = ::readdir(dp)) {
      if (de->d_name[0] == '.') continue;
      auto d = Digest::parse(std::string(alg) + ":" + de->d_name);
      if (!d) continue;  // not a blob (a stray file)
      struct stat st;
      if (::fstatat(::dirfd(dp), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
        continue;
      out.push_back({*d, static_cast<int64_t>(st.st_size), mtime_ns(st)});
    }
    ::closedir(dp);
  }
  return out;
}

Result<void> ContentStore::remove(const Digest& d) const {
  if (d.empty()) return Error::invalid("remove blob: empty digest");
  if (::unlink(blob_path(d).c_str()) < 0) {
    if (errno == ENOENT) return Error::not_found("remove blob " + d.str() + ": not found");
    return Error::sys("remove blob " + d.str());
  }
  return ok();
}

Result<void> ContentStore::clean_ingests(int64_t older_than_ns) const {
  int64_t now = now_ns();
  for (const char* alg : {"sha256", "sha512"}) {
    std::string dir = root_ + "/ingest/" + alg;
    DIR* dp = ::opendir(dir.c_str());
    if (!dp) {
      if (errno == ENOENT) continue;
      return Error::sys("clean ingests: open " + dir);
    }
    std::vector<std::string> names;
    while (struct dirent* de = ::readdir(dp))
      if (de->d_name[0] != '.') names.emplace_back(de->d_name);
    ::closedir(dp);
    for (const std::string& name : names) {
      std::string sub = dir + "/" + name;
      auto lock = lock_ingest(sub, false);
      // Locked: a writer is at work. No lock file: a writer died before making it.
      if (!lock && lock.error().errno_value() != ENOENT) continue;
      struct stat st;
      int64_t age = now;
      if (::stat((sub + "/data").c_str(), &st) == 0 || ::stat(sub.c_str(), &st) == 0)
        age = now - mtime_ns(st);
      if (age < older_than_ns) continue;
      remove_ingest_dir(sub);
    }
  }
  return ok();
}

Result<uint64_t> ContentStore::usage() const {
  auto blobs = BERTH_TRY_CTX(list(), "content usage");
  uint64_t total = 0;
  for (const BlobInfo& b : blobs) total += static_cast<uint64_t>(b.size);
  return total;
}

}  // namespace berth::image
