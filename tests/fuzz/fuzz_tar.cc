// libFuzzer target for layer unpacking (src/image/unpack.h): arbitrary bytes (plain tar, gzip or
// zstd; the decoder detects which) unpacked into a fresh directory with
// preserve_ownership=false. Besides the sanitizers it checks the one property that matters for
// a hostile layer: nothing was written outside the destination. The destination is a
// subdirectory of a private scratch dir holding a sentinel file; afterwards the scratch dir must
// hold exactly the destination and the unchanged sentinel, and the sentinel a single link.
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "image/unpack.h"
#include "util/fd.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_tar: %s\n%s\n", what, detail.c_str());
  std::abort();
}

const std::string& scratch() {
  // Never destroyed: the exit handler that removes the dir runs after static destructors.
  static const std::string* dir = [] {
    char tmpl[] = "/tmp/berth-fuzz-tar-XXXXXX";
    if (!::mkdtemp(tmpl)) fail("mkdtemp", std::strerror(errno));
    auto* d = new std::string(tmpl);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch(), ec);
    });
    return d;
  }();
  return *dir;
}

// Makes a tree removable by its owner (a layer may leave 0000 directories).
void chmod_tree(const std::string& path) {
  std::error_code ec;
  std::filesystem::permissions(path, std::filesystem::perms::owner_all,
                               std::filesystem::perm_options::add, ec);
  for (auto it = std::filesystem::recursive_directory_iterator(path, ec);
       it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) break;
    if (it->is_directory(ec) && !it->is_symlink(ec))
      std::filesystem::permissions(it->path(), std::filesystem::perms::owner_all,
                                   std::filesystem::perm_options::add, ec);
  }
}

void check_outside(const std::string& root) {
  DIR* dp = ::opendir(root.c_str());
  if (!dp) fail("scratch dir vanished", root);
  int n = 0;
  while (struct dirent* de = ::readdir(dp)) {
    std::string name = de->d_name;
    if (name == "." || name == "..") continue;
    ++n;
    if (name != "layer" && name != "sentinel") fail("written outside the layer", root + "/" + name);
  }
  ::closedir(dp);
  if (n != 2) fail("scratch dir lost an entry", root);
  struct stat st;
  if (::lstat((root + "/sentinel").c_str(), &st) < 0 || !S_ISREG(st.st_mode) || st.st_size != 8 ||
      st.st_nlink != 1)
    fail("sentinel changed (replaced, grown or hardlinked)", root);
  char buf[16] = {};
  berth::UniqueFd fd(::open((root + "/sentinel").c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd || ::read(fd.get(), buf, sizeof buf) != 8 || std::memcmp(buf, "sentinel", 8) != 0)
    fail("sentinel content changed", root);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& root = scratch();
  std::string layer = root + "/layer";
  std::string sentinel = root + "/sentinel";
  {
    berth::UniqueFd s(::open(sentinel.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!s || ::write(s.get(), "sentinel", 8) != 8) fail("write sentinel", std::strerror(errno));
  }
  if (::mkdir(layer.c_str(), 0755) < 0) fail("mkdir layer", std::strerror(errno));

  berth::UniqueFd src(::memfd_create("fuzz-tar", MFD_CLOEXEC));
  if (!src) fail("memfd_create", std::strerror(errno));
  if (size > 0 &&
      !berth::write_all(src.get(), std::string_view(reinterpret_cast<const char*>(data), size)))
    fail("write memfd", std::strerror(errno));
  ::lseek(src.get(), 0, SEEK_SET);
  berth::UniqueFd dst(::open(layer.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!dst) fail("open layer", std::strerror(errno));

  berth::image::UnpackOptions opts;
  opts.preserve_ownership = false;
  opts.max_bytes = 64 << 20;  // a tiny compressed input can expand a lot; stay fast
  opts.max_entries = 20000;
  auto r = berth::image::unpack_layer(src.get(), dst.get(), opts);
  if (!r) {
    const std::string& m = r.error().what();
    if (m.rfind("unpack layer", 0) != 0) fail("error without the unpack layer context", m);
  }
  check_outside(root);
  chmod_tree(layer);
  std::error_code ec;
  std::filesystem::remove_all(layer, ec);
  if (ec) fail("cannot remove the layer", ec.message());
  return 0;
}
