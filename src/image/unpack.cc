// Layer unpacking (unpack.h) in two stages that run on two threads:
//
//   decoder thread:  read(src_fd) -> gunzip (ISA-L or zlib) / zstd / plain -> buffers
//   calling thread:  sha256 (the diff ID) -> libarchive (tar/pax/gnu parsing only, no
//                    filters) -> our own entry writer
//
// The decoder fills a small ring of 1 MiB buffers; libarchive reads them through its read
// callback without copying, and regular files' data is written straight from them. Entries
// are never written with archive_write_disk (which resolves paths by string): each parent is
// resolved with openat2(RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS) under the destination fd, the
// last few parents kept open, and the entry is created relative to it without following a
// final symlink.
#include "image/unpack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>
#ifdef BERTH_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif

#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "sys/path.h"
#include "sys/remove.h"
#include "util/fd.h"
#include "util/strings.h"

namespace berth::image {
namespace {

constexpr size_t kBufSize = 1 << 20;  // decompressed chunk handed to libarchive
constexpr size_t kInSize = 1 << 20;   // compressed read size
constexpr int kRing = 4;              // decompressed chunks in flight
constexpr size_t kMaxNotes = 32;
constexpr uint64_t kInRoot = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;

// ---- stage 1: the decoder -----------------------------------------------------------------------

enum class Codec { Plain, Gzip, Zstd };

// Reads the (compressed) layer from a file or pipe and produces the uncompressed tar stream.
class Decoder {
 public:
  Decoder(int fd, uint64_t max_bytes, int cancel_fd)
      : fd_(fd), max_bytes_(max_bytes), cancel_fd_(cancel_fd), in_(kInSize) {
    struct stat st;
    poll_ = ::fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode);
  }
  ~Decoder() {
    if (codec_ == Codec::Gzip && !isal_) inflateEnd(&zs_);
    if (zds_) ZSTD_freeDStream(zds_);
  }
  Decoder(const Decoder&) = delete;
  Decoder& operator=(const Decoder&) = delete;

  // Fills `out` with up to `cap` bytes of the tar stream; fewer only at the end. 0: EOF.
  Result<size_t> read(char* out, size_t cap) {
    if (!started_) BERTH_TRY(start());
    size_t n = 0;
    while (n < cap && !eof_) {
      // From a pipe, hand over what we have rather than wait for a full buffer: the tar side
      // must see (and maybe reject) early entries while the download is still going.
      if (n > 0 && poll_ && in_pos_ >= in_len_ && !input_ready()) break;
      size_t got = 0;
      switch (codec_) {
        case Codec::Plain: got = BERTH_TRY(read_plain(out + n, cap - n)); break;
        case Codec::Gzip: got = BERTH_TRY(read_gzip(out + n, cap - n)); break;
        case Codec::Zstd: got = BERTH_TRY(read_zstd(out + n, cap - n)); break;
      }
      n += got;
    }
    total_ += n;
    if (total_ > max_bytes_)
      return Error::invalid("uncompressed layer larger than the limit of " +
                            std::to_string(max_bytes_) + " bytes");
    return n;
  }

 private:
  // One read(2) from the input; on a pipe or socket, one that the cancel fd can interrupt.
  Result<size_t> read_some(char* out, size_t cap) {
    for (;;) {
      if (poll_) {
        struct pollfd p[2] = {{fd_, POLLIN, 0}, {cancel_fd_, POLLIN, 0}};
        if (::poll(p, 2, -1) < 0) {
          if (errno == EINTR) continue;
          return Error::sys("read layer: poll");
        }
        if (p[1].revents) return Error::internal("read layer: cancelled");
      }
      ssize_t r = ::read(fd_, out, cap);
      if (r < 0) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Error::sys("read layer");
      }
      return static_cast<size_t>(r);
    }
  }

  bool input_ready() {
    struct pollfd p = {fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  // Refills in_ when it is used up. False at EOF of the input.
  Result<bool> fill() {
    if (in_pos_ < in_len_) return true;
    if (in_eof_) return false;
    in_pos_ = 0;
    in_len_ = BERTH_TRY(read_some(in_.data(), in_.size()));
    if (in_len_ == 0) in_eof_ = true;
    return in_len_ > 0;
  }

  Result<void> start() {
    started_ = true;
    // Enough bytes to see the magic number (a pipe may deliver them in pieces).
    while (in_len_ < 4 && !in_eof_) {
      size_t n = BERTH_TRY(read_some(in_.data() + in_len_, in_.size() - in_len_));
      if (n == 0) in_eof_ = true;
      in_len_ += n;
    }
    const auto* b = reinterpret_cast<const unsigned char*>(in_.data());
    if (in_len_ >= 2 && b[0] == 0x1f && b[1] == 0x8b) {
      codec_ = Codec::Gzip;
#ifdef BERTH_HAVE_ISAL
      isal_ = std::make_unique<inflate_state>();
      isal_inflate_init(isal_.get());
      isal_->crc_flag = ISAL_GZIP;
#else
      if (inflateInit2(&zs_, 15 + 16) != Z_OK) return Error::internal("inflateInit2 failed");
#endif
    } else if (in_len_ >= 4 && b[0] == 0x28 && b[1] == 0xb5 && b[2] == 0x2f && b[3] == 0xfd) {
      codec_ = Codec::Zstd;
      zds_ = ZSTD_createDStream();
      if (!zds_) return Error::internal("ZSTD_createDStream failed");
    } else {
      codec_ = Codec::Plain;
    }
    return ok();
  }

  Result<size_t> read_plain(char* out, size_t cap) {
    if (!BERTH_TRY(fill())) {
      eof_ = true;
      return size_t{0};
    }
    size_t n = std::min(cap, in_len_ - in_pos_);
    std::memcpy(out, in_.data() + in_pos_, n);
    in_pos_ += n;
    return n;
  }

  Result<size_t> read_gzip(char* out, size_t cap) {
    if (!BERTH_TRY(fill())) {
      if (!member_done_) return Error::invalid("decompress layer: gzip stream truncated");
      eof_ = true;
      return size_t{0};
    }
    if (member_done_) {
      // After a member: another member, zero padding (tolerated), or garbage.
      const auto* b = reinterpret_cast<const unsigned char*>(in_.data()) + in_pos_;
      if (b[0] == 0) {
        while (in_pos_ < in_len_ && in_[in_pos_] == 0) ++in_pos_;
        return size_t{0};
      }
      if (b[0] != 0x1f) return Error::invalid("decompress layer: garbage after the gzip stream");
      member_done_ = false;
#ifdef BERTH_HAVE_ISAL
      isal_inflate_reset(isal_.get());
      isal_->crc_flag = ISAL_GZIP;
#else
      if (inflateReset(&zs_) != Z_OK) return Error::internal("inflateReset failed");
#endif
    }
#ifdef BERTH_HAVE_ISAL
    inflate_state& st = *isal_;
    st.next_in = reinterpret_cast<uint8_t*>(in_.data() + in_pos_);
    st.avail_in = static_cast<uint32_t>(in_len_ - in_pos_);
    st.next_out = reinterpret_cast<uint8_t*>(out);
    st.avail_out = static_cast<uint32_t>(cap);
    int ir = isal_inflate(&st);
    in_pos_ = in_len_ - st.avail_in;
    size_t produced = cap - st.avail_out;
    if (ir < 0) return Error::invalid("decompress layer: gzip: " + std::string(isal_error(ir)));
    if (st.block_state == ISAL_BLOCK_FINISH) member_done_ = true;
    return produced;
#else
    zs_.next_in = reinterpret_cast<Bytef*>(in_.data() + in_pos_);
    zs_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
    zs_.next_out = reinterpret_cast<Bytef*>(out);
    zs_.avail_out = static_cast<uInt>(cap);
    int r = inflate(&zs_, Z_NO_FLUSH);
    in_pos_ = in_len_ - zs_.avail_in;
    size_t n = cap - zs_.avail_out;
    if (r == Z_STREAM_END) {
      member_done_ = true;
    } else if (r != Z_OK && !(r == Z_BUF_ERROR && n > 0)) {
      return Error::invalid(std::string("decompress layer: gzip: ") +
                            (zs_.msg ? zs_.msg : "error " + std::to_string(r)));
    }
    return n;
#endif
  }

#ifdef BERTH_HAVE_ISAL
  static const char* isal_error(int r) {
    switch (r) {
      case ISAL_INVALID_BLOCK: return "invalid block";
      case ISAL_INVALID_SYMBOL: return "invalid symbol";
      case ISAL_INVALID_LOOKBACK: return "invalid distance";
      case ISAL_INVALID_WRAPPER: return "invalid header";
      case ISAL_UNSUPPORTED_METHOD: return "unsupported method";
      case ISAL_INCORRECT_CHECKSUM: return "checksum mismatch";
      default: return "corrupt stream";
    }
  }
#endif

  Result<size_t> read_zstd(char* out, size_t cap) {
    if (!BERTH_TRY(fill())) {
      if (zstd_pending_) return Error::invalid("decompress layer: zstd stream truncated");
      eof_ = true;
      return size_t{0};
    }
    ZSTD_inBuffer in{in_.data() + in_pos_, in_len_ - in_pos_, 0};
    ZSTD_outBuffer o{out, cap, 0};
    size_t r = ZSTD_decompressStream(zds_, &o, &in);
    if (ZSTD_isError(r))
      return Error::invalid(std::string("decompress layer: zstd: ") + ZSTD_getErrorName(r));
    in_pos_ += in.pos;
    zstd_pending_ = r != 0;
    return o.pos;
  }

  int fd_;
  uint64_t max_bytes_;
  int cancel_fd_;
  bool poll_ = false;
  std::vector<char> in_;
  size_t in_pos_ = 0, in_len_ = 0;
  bool in_eof_ = false, eof_ = false, started_ = false;
  Codec codec_ = Codec::Plain;
  z_stream zs_{};
#ifdef BERTH_HAVE_ISAL
  std::unique_ptr<inflate_state> isal_;  // ISA-L's inflate: about 3x zlib's speed
#else
  void* isal_ = nullptr;
#endif
  bool member_done_ = false;
  ZSTD_DStream* zds_ = nullptr;
  bool zstd_pending_ = false;
  uint64_t total_ = 0;
};

// Runs the decoder on its own thread, handing full buffers over; the consumer hashes them
// (the diff ID) as it takes them.
class Pipeline {
 public:
  Pipeline(int fd, uint64_t max_bytes)
      : cancel_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), decoder_(fd, max_bytes, cancel_.get()) {
    for (auto& b : bufs_) b.reset(new char[kBufSize]);
    for (int i = 0; i < kRing; ++i) free_.push_back(i);
    thread_ = std::thread([this] { produce(); });
  }
  ~Pipeline() { stop(); }
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // The next chunk of the tar stream (valid until the next call); empty at EOF or on error.
  std::string_view next() {
    std::unique_lock lk(mu_);
    if (current_ >= 0) {
      free_.push_back(current_);
      current_ = -1;
      cv_.notify_all();
    }
    cv_.wait(lk, [&] { return !full_.empty() || done_; });
    if (full_.empty()) {
      if (!error_ && !finished_) {
        diff_id_ = hasher_.finish();
        finished_ = true;
      }
      return {};
    }
    auto [i, n] = full_.front();
    full_.erase(full_.begin());
    current_ = i;
    cv_.notify_all();
    lk.unlock();
    // Hashing here, on the tar side, balances the two threads: inflate alone keeps the
    // decoder busy.
    hasher_.update(bufs_[i].get(), n);
    return {bufs_[i].get(), n};
  }

  // Reads what is left of the stream (after the tar's end marker), so the hash covers it all.
  void drain() {
    while (!next().empty()) {
    }
  }

  // Stops the decoder thread (after an error: it may be waiting on a pipe).
  void stop() {
    if (!thread_.joinable()) return;
    {
      std::lock_guard lk(mu_);
      stopping_ = true;
      cv_.notify_all();
    }
    uint64_t one = 1;
    if (cancel_) (void)!::write(cancel_.get(), &one, sizeof one);
    thread_.join();
  }

  // After EOF: the decoder's error, if any.
  const std::optional<Error>& error() const { return error_; }
  Digest digest() { return diff_id_; }
  uint64_t total() const { return total_.load(); }

 private:
  void produce() {
    for (;;) {
      int i;
      {
        std::unique_lock lk(mu_);
        cv_.wait(lk, [&] { return !free_.empty() || stopping_; });
        if (stopping_) break;
        i = free_.front();
        free_.erase(free_.begin());
      }
      auto n = decoder_.read(bufs_[i].get(), kBufSize);
      std::lock_guard lk(mu_);
      if (!n) {
        if (!stopping_) error_ = std::move(n).error();  // not the cancellation we asked for
        break;
      }
      if (*n == 0) break;
      total_ += *n;
      full_.emplace_back(i, *n);
      cv_.notify_all();
    }
    std::lock_guard lk(mu_);
    done_ = true;
    cv_.notify_all();
  }

  UniqueFd cancel_;
  Decoder decoder_;
  std::unique_ptr<char[]> bufs_[kRing];
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<int> free_;
  std::vector<std::pair<int, size_t>> full_;
  int current_ = -1;
  bool done_ = false, stopping_ = false;
  std::optional<Error> error_;
  Hasher hasher_;  // used by the consuming thread only
  bool finished_ = false;
  Digest diff_id_;
  std::atomic<uint64_t> total_{0};
  std::thread thread_;
};

la_ssize_t archive_read_cb(struct archive* a, void* ctx, const void** buf) {
  auto* p = static_cast<Pipeline*>(ctx);
  std::string_view chunk = p->next();
  *buf = chunk.data();
  if (chunk.empty() && p->error()) {
    archive_set_error(a, EIO, "%s", p->error()->what().c_str());
    return -1;
  }
  return static_cast<la_ssize_t>(chunk.size());
}

// ---- stage 2: writing entries -------------------------------------------------------------------

long openat2_in_root(int root, const char* path, int flags) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = kInRoot;
  long r;
  do {
    r = syscall(SYS_openat2, root, path, &how, sizeof how);
  } while (r < 0 && (errno == EINTR || errno == EAGAIN));
  return r;
}

// Lexically cleans a path from the archive into "a/b/c" relative to the layer root ("" is the
// root itself). Leading "/" and "./" are dropped as tar does; a ".." that would climb above the
// root is refused (docker rejects these rather than clamping).
bool clean_entry_path(std::string_view raw, std::string& out) {
  out.clear();
  size_t i = 0;
  while (i <= raw.size()) {
    size_t j = raw.find('/', i);
    if (j == std::string_view::npos) j = raw.size();
    std::string_view c = raw.substr(i, j - i);
    i = j + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (out.empty()) return false;
      size_t s = out.rfind('/');
      out.resize(s == std::string::npos ? 0 : s);
      continue;
    }
    if (!out.empty()) out += '/';
    out += c;
  }
  return true;
}

struct DirMeta {
  mode_t mode;
  struct timespec times[2];
};

class Writer {
 public:
  Writer(int root, const UnpackOptions& opts, UnpackResult& res)
      : root_(root), opts_(opts), res_(res) {
    uid_ = ::geteuid();
    gid_ = ::getegid();
    umask_ = read_umask();
  }

  Result<void> entry(struct archive* a, struct archive_entry* e);
  Result<void> finish();  // directory modes and times

 private:
  Result<void> write_entry(struct archive* a, struct archive_entry* e, const std::string& path);
  Result<int> parent_fd(const std::string& parent);
  Result<void> make_room(int pfd, const std::string& name, const std::string& path, bool keep_dir,
                         bool* is_dir);
  Result<void> regular(struct archive* a, struct archive_entry* e, int pfd, const std::string& name,
                       const std::string& path);
  Result<void> directory(struct archive_entry* e, int pfd, const std::string& name,
                         const std::string& path);
  Result<void> hardlink(struct archive_entry* e, int pfd, const std::string& name,
                        const std::string& path);
  Result<void> special(struct archive_entry* e, int pfd, const std::string& name,
                       const std::string& path);
  Result<void> whiteout(int pfd, const std::string& parent, const std::string& name);
  Result<void> set_xattrs(struct archive_entry* e, int fd, int pfd, const std::string& name);
  Result<void> set_xattr(int fd, int pfd, const std::string& name, const char* key,
                         const void* value, size_t size);
  bool needs_chown(struct archive_entry* e) const;
  void note(std::string n);
  // Forgets the cached parents after something was removed (a cached path may now resolve
  // elsewhere). Their fds stay open until the next entry: the caller may still be using one.
  void invalidate_cache() {
    for (Cached& c : cache_) retired_.push_back(std::move(c.fd));
    cache_.clear();
  }
  static mode_t read_umask();
  static void entry_times(struct archive_entry* e, struct timespec ts[2]);

  int root_;
  const UnpackOptions& opts_;
  UnpackResult& res_;
  uid_t uid_;
  gid_t gid_;
  mode_t umask_;
  struct Cached {
    std::string path;
    UniqueFd fd;
  };
  std::vector<Cached> cache_;  // most recently used last
  std::vector<UniqueFd> retired_;
  std::map<std::string, DirMeta> dirs_;
  std::vector<std::string> seen_notes_;
};

mode_t Writer::read_umask() {
  // Reading the umask without changing it (umask(2) would race with other threads).
  auto s = read_file("/proc/self/status", 1 << 16);
  if (s) {
    size_t p = s->find("\nUmask:");
    if (p != std::string::npos)
      return static_cast<mode_t>(std::strtoul(s->c_str() + p + 7, nullptr, 8));
  }
  return 022;
}

void Writer::note(std::string n) {
  for (const std::string& s : seen_notes_)
    if (s == n) return;
  seen_notes_.push_back(n);
  if (res_.notes.size() < kMaxNotes) res_.notes.push_back(std::move(n));
}

void Writer::entry_times(struct archive_entry* e, struct timespec ts[2]) {
  ts[1].tv_sec = archive_entry_mtime(e);
  ts[1].tv_nsec = archive_entry_mtime_nsec(e);
  if (archive_entry_atime_is_set(e)) {
    ts[0].tv_sec = archive_entry_atime(e);
    ts[0].tv_nsec = archive_entry_atime_nsec(e);
  } else {
    ts[0] = ts[1];
  }
}

bool Writer::needs_chown(struct archive_entry* e) const {
  return opts_.preserve_ownership && (static_cast<uid_t>(archive_entry_uid(e)) != uid_ ||
                                      static_cast<gid_t>(archive_entry_gid(e)) != gid_);
}

// The directory `parent` ("" = the root), resolved inside the root; cached, since entries come
// grouped by directory. Missing parents are created (0755), as docker does.
Result<int> Writer::parent_fd(const std::string& parent) {
  for (size_t i = cache_.size(); i-- > 0;) {
    if (cache_[i].path == parent) {
      if (i + 1 != cache_.size()) std::swap(cache_[i], cache_.back());
      return cache_.back().fd.get();
    }
  }
  if (parent.empty()) return root_;
  long fd = openat2_in_root(root_, parent.c_str(), O_PATH | O_DIRECTORY);
  UniqueFd ufd;
  if (fd >= 0) {
    ufd.reset(static_cast<int>(fd));
  } else if (errno == ENOENT) {
    ufd = BERTH_TRY(sys::mkdir_all_in_root(root_, parent, 0755));
    invalidate_cache();  // a dangling symlink on the way may have been given a target
  } else if (errno == ENOTDIR) {
    return Error::from_errno(ENOTDIR, "parent " + quoted(parent) + " is not a directory");
  } else if (errno == EXDEV) {
    return Error::from_errno(EXDEV, "parent " + quoted(parent) + " escapes the layer");
  } else {
    return Error::sys("open parent " + quoted(parent));
  }
  if (cache_.size() >= 8) cache_.erase(cache_.begin());
  cache_.push_back({parent, std::move(ufd)});
  return cache_.back().fd.get();
}

// Clears the way for a new entry `name`: a non-directory is unlinked, a directory removed with
// its content unless `keep_dir` (a directory entry over a directory merges). `*is_dir` tells
// whether a directory was kept.
Result<void> Writer::make_room(int pfd, const std::string& name, const std::string& path,
                               bool keep_dir, bool* is_dir) {
  if (is_dir) *is_dir = false;
  struct stat st;
  if (::fstatat(pfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) < 0) {
    if (errno == ENOENT) return ok();
    return Error::sys("stat");
  }
  if (S_ISDIR(st.st_mode) && keep_dir) {
    if (is_dir) *is_dir = true;
    return ok();
  }
  invalidate_cache();
  if (S_ISDIR(st.st_mode)) {
    BERTH_TRY(sys::remove_tree_at(pfd, name.c_str()));
    auto lo = dirs_.lower_bound(path);
    auto hi = dirs_.lower_bound(path + '0');  // '0' follows '/'
    for (auto it = lo; it != hi;) {
      if (it->first == path || it->first.compare(0, path.size() + 1, path + '/') == 0)
        it = dirs_.erase(it);
      else
        ++it;
    }
    return ok();
  }
  if (::unlinkat(pfd, name.c_str(), 0) < 0 && errno != ENOENT) return Error::sys("remove");
  return ok();
}

Result<void> Writer::set_xattr(int fd, int pfd, const std::string& name, const char* key,
                               const void* value, size_t size) {
  int r;
  if (fd >= 0) {
    r = ::fsetxattr(fd, key, value, size, 0);
  } else {
    // Symlinks and device nodes cannot be opened for fsetxattr: name them through the parent's
    // fd in /proc, without following the entry itself.
    std::string p = "/proc/self/fd/" + std::to_string(pfd) + "/" + name;
    r = ::lsetxattr(p.c_str(), key, value, size, 0);
  }
  if (r == 0) return ok();
  if (errno == EOPNOTSUPP || errno == ENOTSUP) {
    note(std::string("xattr ") + key + " not supported here: skipped");
    return ok();
  }
  if (errno == EPERM && (!opts_.preserve_ownership || uid_ != 0)) {
    note(std::string("xattr ") + key + " needs privileges: skipped");
    return ok();
  }
  return Error::sys(std::string("set xattr ") + key);
}

Result<void> Writer::set_xattrs(struct archive_entry* e, int fd, int pfd, const std::string& name) {
  if (archive_entry_xattr_reset(e) == 0) return ok();
  const char* key;
  const void* value;
  size_t size;
  while (archive_entry_xattr_next(e, &key, &value, &size) == ARCHIVE_OK) {
    // overlayfs' own attributes must not come from a layer (a forged redirect or metacopy).
    if (!strncmp(key, "trusted.overlay.", 16) || !strncmp(key, "user.overlay.", 13)) {
      note(std::string("xattr ") + key + " from the layer: skipped");
      continue;
    }
    BERTH_TRY(set_xattr(fd, pfd, name, key, value, size));
  }
  return ok();
}

Result<void> Writer::regular(struct archive* a, struct archive_entry* e, int pfd,
                             const std::string& name, const std::string& path) {
  mode_t mode = archive_entry_perm(e) & 07777;
  int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
  UniqueFd fd(::openat(pfd, name.c_str(), flags, mode));
  if (!fd && errno == EEXIST) {
    BERTH_TRY(make_room(pfd, name, path, false, nullptr));
    fd.reset(::openat(pfd, name.c_str(), flags, mode));
  }
  if (!fd) return Error::sys("create");
  const void* buf;
  size_t len;
  la_int64_t off;
  int64_t end = 0;
  for (;;) {
    int r = archive_read_data_block(a, &buf, &len, &off);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) return Error::invalid(std::string("read: ") + archive_error_string(a));
    const char* p = static_cast<const char*>(buf);
    while (len > 0) {
      ssize_t n = ::pwrite(fd.get(), p, len, off);
      if (n < 0) {
        if (errno == EINTR) continue;
        return Error::sys("write");
      }
      p += n;
      off += n;
      len -= static_cast<size_t>(n);
    }
    end = std::max<int64_t>(end, off);
  }
  int64_t size = archive_entry_size(e);
  if (end < size && ::ftruncate(fd.get(), size) < 0) return Error::sys("truncate");  // sparse tail
  bool chowned = needs_chown(e);
  if (chowned && ::fchown(fd.get(), static_cast<uid_t>(archive_entry_uid(e)),
                          static_cast<gid_t>(archive_entry_gid(e))) < 0)
    return Error::sys("chown");
  // After chown, which clears set-id bits; also when the umask took bits away.
  if (((chowned && (mode & 06000)) || (mode & umask_)) && ::fchmod(fd.get(), mode) < 0)
    return Error::sys("chmod");
  BERTH_TRY(set_xattrs(e, fd.get(), pfd, name));
  struct timespec ts[2];
  entry_times(e, ts);
  if (::futimens(fd.get(), ts) < 0) return Error::sys("set times");
  return ok();
}

Result<void> Writer::directory(struct archive_entry* e, int pfd, const std::string& name,
                               const std::string& path) {
  uid_t uid = static_cast<uid_t>(archive_entry_uid(e));
  gid_t gid = static_cast<gid_t>(archive_entry_gid(e));
  if (name.empty()) {  // the layer root itself ("./")
    if (needs_chown(e) && ::fchownat(root_, "", uid, gid, AT_EMPTY_PATH) < 0)
      return Error::sys("chown");
    if (archive_entry_xattr_count(e) > 0) {
      UniqueFd dfd(::openat(root_, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      if (!dfd) return Error::sys("open");
      BERTH_TRY(set_xattrs(e, dfd.get(), -1, name));
    }
  } else {
    // 0700 while it is filled (a 0555 directory could not be written without root);
    // the real mode is set at the end, with the times.
    if (::mkdirat(pfd, name.c_str(), 0700) < 0) {
      if (errno != EEXIST) return Error::sys("mkdir");
      bool is_dir;
      BERTH_TRY(make_room(pfd, name, path, true, &is_dir));
      if (!is_dir && ::mkdirat(pfd, name.c_str(), 0700) < 0) return Error::sys("mkdir");
    }
    if (needs_chown(e) && ::fchownat(pfd, name.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
      return Error::sys("chown");
    if (archive_entry_xattr_count(e) > 0) {
      UniqueFd dfd(::openat(pfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dfd) return Error::sys("open");
      BERTH_TRY(set_xattrs(e, dfd.get(), pfd, name));
    }
  }
  DirMeta m;
  m.mode = archive_entry_perm(e) & 07777;
  entry_times(e, m.times);
  dirs_[path] = m;
  return ok();
}

Result<void> Writer::hardlink(struct archive_entry* e, int pfd, const std::string& name,
                              const std::string& path) {
  const char* raw = archive_entry_hardlink(e);
  std::string target;
  if (!clean_entry_path(raw, target))
    return Error::from_errno(EXDEV, "hardlink target " + quoted(raw) + " escapes the layer");
  if (target.empty()) return Error::invalid("hardlink to the layer root");
  auto [tparent, tname] = sys::split_parent("/" + target);
  long tfd =
      openat2_in_root(root_, tparent == "/" ? "." : tparent.c_str() + 1, O_PATH | O_DIRECTORY);
  if (tfd < 0) {
    if (errno == EXDEV)
      return Error::from_errno(EXDEV, "hardlink target " + quoted(raw) + " escapes the layer");
    return Error::sys("hardlink target " + quoted(raw));
  }
  UniqueFd tdir(static_cast<int>(tfd));
  struct stat tst;
  if (::fstatat(tdir.get(), tname.c_str(), &tst, AT_SYMLINK_NOFOLLOW) < 0)
    return Error::sys("hardlink target " + quoted(raw));
  if (S_ISDIR(tst.st_mode))
    return Error::from_errno(EPERM, "hardlink target " + quoted(raw) + " is a directory");
  struct stat cur;
  if (::fstatat(pfd, name.c_str(), &cur, AT_SYMLINK_NOFOLLOW) == 0 && cur.st_ino == tst.st_ino &&
      cur.st_dev == tst.st_dev)
    return ok();  // already that file (a link to itself, or a repeated entry)
  if (::linkat(tdir.get(), tname.c_str(), pfd, name.c_str(), 0) < 0) {
    if (errno != EEXIST) return Error::sys("link to " + quoted(raw));
    BERTH_TRY(make_room(pfd, name, path, false, nullptr));
    if (::linkat(tdir.get(), tname.c_str(), pfd, name.c_str(), 0) < 0)
      return Error::sys("link to " + quoted(raw));
  }
  return ok();
}

// Symlinks, device nodes and fifos: created by name in the parent, never followed.
Result<void> Writer::special(struct archive_entry* e, int pfd, const std::string& name,
                             const std::string& path) {
  mode_t type = archive_entry_filetype(e);
  mode_t mode = archive_entry_perm(e) & 07777;
  auto create = [&]() -> int {
    if (type == AE_IFLNK) return ::symlinkat(archive_entry_symlink(e), pfd, name.c_str());
    dev_t dev =
        type == AE_IFIFO ? 0 : makedev(archive_entry_rdevmajor(e), archive_entry_rdevminor(e));
    return ::mknodat(pfd, name.c_str(), type | mode, dev);
  };
  if (type == AE_IFLNK && !archive_entry_symlink(e))
    return Error::invalid("symlink without a target");
  if (create() < 0) {
    if (errno == EPERM && (type == AE_IFCHR || type == AE_IFBLK) &&
        (!opts_.preserve_ownership || uid_ != 0)) {
      note("device nodes need root: skipped");
      return ok();
    }
    if (errno != EEXIST) return Error::sys(type == AE_IFLNK ? "symlink" : "mknod");
    BERTH_TRY(make_room(pfd, name, path, false, nullptr));
    if (create() < 0) return Error::sys(type == AE_IFLNK ? "symlink" : "mknod");
  }
  bool chowned = needs_chown(e);
  if (chowned && ::fchownat(pfd, name.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                            static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) < 0)
    return Error::sys("chown");
  if (type != AE_IFLNK && ((chowned && (mode & 06000)) || (mode & umask_)) &&
      ::fchmodat(pfd, name.c_str(), mode, 0) < 0)
    return Error::sys("chmod");
  BERTH_TRY(set_xattrs(e, -1, pfd, name));
  struct timespec ts[2];
  entry_times(e, ts);
  if (::utimensat(pfd, name.c_str(), ts, AT_SYMLINK_NOFOLLOW) < 0) return Error::sys("set times");
  return ok();
}

// ".wh.<name>" -> a 0:0 character device <name>; ".wh..wh..opq" -> the parent is opaque.
Result<void> Writer::whiteout(int pfd, const std::string& parent, const std::string& name) {
  if (name == ".wh..wh..opq") {
    UniqueFd dfd(::openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd) return Error::sys("open directory");
    if (::fsetxattr(dfd.get(), "trusted.overlay.opaque", "y", 1, 0) < 0) {
      if (errno == EPERM && !opts_.preserve_ownership) {
        note("opaque directories need root (trusted.overlay.opaque): skipped");
        return ok();
      }
      return Error::sys("set opaque xattr");
    }
    return ok();
  }
  if (name.compare(0, 8, ".wh..wh.") == 0) return ok();  // aufs metadata (.wh..wh.plnk ...)
  std::string victim = name.substr(4);
  if (victim.empty() || victim == "." || victim == "..") return Error::invalid("invalid whiteout");
  std::string vpath = parent.empty() ? victim : parent + "/" + victim;
  BERTH_TRY(make_room(pfd, victim, vpath, false, nullptr));
  if (::mknodat(pfd, victim.c_str(), S_IFCHR | 0, makedev(0, 0)) < 0)
    return Error::sys("create whiteout");
  return ok();
}

Result<void> Writer::entry(struct archive* a, struct archive_entry* e) {
  const char* raw = archive_entry_pathname(e);
  if (!raw) raw = archive_entry_pathname_utf8(e);
  if (!raw) return Error::invalid("unpack layer: entry without a name");
  std::string what = "unpack layer: entry " + quoted(raw);
  retired_.clear();
  if (++res_.entries > opts_.max_entries)
    return Error::invalid("unpack layer: more than " + std::to_string(opts_.max_entries) +
                          " entries");
  if (std::strlen(raw) >= PATH_MAX) return Error::from_errno(ENAMETOOLONG, what);
  if (archive_entry_size(e) > 0 && static_cast<uint64_t>(archive_entry_size(e)) > opts_.max_bytes)
    return Error::invalid(what + ": size " + std::to_string(archive_entry_size(e)) +
                          " exceeds the limit of " + std::to_string(opts_.max_bytes) + " bytes");
  std::string path;
  if (!clean_entry_path(raw, path))
    return Error::from_errno(EXDEV, what + ": path escapes the layer");
  auto r = write_entry(a, e, path);
  if (!r) return std::move(r).error().wrap(what);
  return ok();
}

Result<void> Writer::write_entry(struct archive* a, struct archive_entry* e,
                                 const std::string& path) {
  size_t slash = path.rfind('/');
  std::string parent = slash == std::string::npos ? "" : path.substr(0, slash);
  std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  mode_t type = archive_entry_filetype(e);
  if (name.empty() && (type != AE_IFDIR || archive_entry_hardlink(e)))
    return Error::invalid("only a directory can be the layer root");
  // aufs metadata at the top (.wh..wh.plnk/, .wh..wh.aufs): not part of the filesystem.
  if (opts_.whiteouts && path.compare(0, 8, ".wh..wh.") == 0 && path != ".wh..wh..opq") {
    note("aufs metadata entries: skipped");
    return ok();
  }
  int pfd = BERTH_TRY(parent_fd(parent));
  if (opts_.whiteouts && name.compare(0, 4, ".wh.") == 0) return whiteout(pfd, parent, name);
  if (archive_entry_hardlink(e)) return hardlink(e, pfd, name, path);
  switch (type) {
    case AE_IFREG: return regular(a, e, pfd, name, path);
    case AE_IFDIR: return directory(e, pfd, name, path);
    case AE_IFLNK:
    case AE_IFCHR:
    case AE_IFBLK:
    case AE_IFIFO: return special(e, pfd, name, path);
    case AE_IFSOCK: note("sockets are not unpacked: skipped"); return ok();
    default: return Error::invalid("unknown entry type " + std::to_string(type));
  }
}

Result<void> Writer::finish() {
  // Children before parents (reverse order: a parent path is a prefix of its children's).
  for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
    const std::string& path = it->first;
    long fd = path.empty()
                  ? ::dup(root_)
                  : openat2_in_root(root_, path.c_str(), O_PATH | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0) {
      if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP) continue;  // replaced later on
      return Error::sys("unpack layer: entry " + quoted(path) + ": open");
    }
    UniqueFd dfd(static_cast<int>(fd));
    std::string proc = "/proc/self/fd/" + std::to_string(dfd.get());
    if (::chmod(proc.c_str(), it->second.mode) < 0)
      return Error::sys("unpack layer: entry " + quoted(path) + ": chmod");
    if (::utimensat(dfd.get(), "", it->second.times, AT_EMPTY_PATH) < 0)
      return Error::sys("unpack layer: entry " + quoted(path) + ": set times");
  }
  return ok();
}

}  // namespace

Result<UnpackResult> unpack_layer(int src_fd, int dest_dir_fd, const UnpackOptions& opts) {
  UnpackResult res;
  Pipeline pipe(src_fd, opts.max_bytes);
  struct archive* a = archive_read_new();
  if (!a) return Error::internal("unpack layer: archive_read_new failed");
  struct Closer {
    struct archive* a;
    ~Closer() { archive_read_free(a); }
  } closer{a};
  archive_read_support_format_tar(a);
  archive_read_support_filter_none(a);
  Writer writer(dest_dir_fd, opts, res);
  auto fail_stream = [&](const char* what) -> Error {
    pipe.stop();
    if (pipe.error()) return Error(*pipe.error()).wrap("unpack layer");
    return Error::invalid(std::string("unpack layer: ") + what + ": " +
                          (archive_error_string(a) ? archive_error_string(a) : "error"));
  };
  if (archive_read_open(a, &pipe, nullptr, archive_read_cb, nullptr) != ARCHIVE_OK) {
    if (pipe.error()) return fail_stream("read");
    if (pipe.total() == 0) {  // an empty stream is an empty layer
      pipe.drain();
      res.diff_id = pipe.digest();
      return res;
    }
    return fail_stream("read");
  }
  for (;;) {
    struct archive_entry* e;
    int r = archive_read_next_header(a, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      if (pipe.total() == 0 && !pipe.error()) break;
      return fail_stream("read");
    }
    auto w = writer.entry(a, e);
    if (!w) {
      pipe.stop();
      if (pipe.error()) return Error(*pipe.error()).wrap("unpack layer");
      return std::move(w).error();
    }
  }
  BERTH_TRY(writer.finish());
  pipe.drain();
  pipe.stop();
  if (pipe.error()) return Error(*pipe.error()).wrap("unpack layer");
  res.diff_id = pipe.digest();
  res.uncompressed_bytes = pipe.total();
  return res;
}

}  // namespace berth::image
