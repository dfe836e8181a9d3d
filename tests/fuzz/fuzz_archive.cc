// libFuzzer target for image archives (src/image/archive_load.cc): every input is a tar stream
// (plain or gzip/zstd) given to load_archive, into a content store in a temp dir. Layers are not
// unpacked (LoadOptions::unpack = false; unpacking has fuzz_tar): what is fuzzed is the tar
// reading, entry-name checks, blob ingest and verification, manifest.json / index.json handling
// and naming. Besides the sanitizers it checks:
//   - a failed load leaves no image name behind;
//   - a successful one names only valid references, and every ID it reports resolves;
//   - error messages are non-empty, one line, without control bytes, and bounded.
// After each input the names are removed and gc() empties the store again.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "image/archive.h"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "fuzz_archive: %s\n%s\n", what, detail.c_str());
  std::abort();
}

void check_error(const berth::Error& e) {
  const std::string& m = e.message();
  if (m.empty()) fail("error without a message", "");
  if (m.size() > 4096) fail("error message too long", m.substr(0, 4096));
  for (char c : m)
    if (static_cast<unsigned char>(c) < 0x20) fail("control byte in an error message", m);
}

berth::image::ImageService& service() {
  static berth::image::ImageService* images = [] {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/fuzz-archive-XXXXXX";
    if (!::mkdtemp(tmpl.data())) fail("mkdtemp", tmpl);
    auto s = berth::image::ImageService::open(tmpl);
    if (!s) fail("open image service", s.error().what());
    return s->release();
  }();
  return *images;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  berth::image::ImageService& images = service();
  int fd = ::memfd_create("fuzz-archive", MFD_CLOEXEC);
  if (fd < 0) fail("memfd_create", "");
  berth::UniqueFd owner(fd);
  if (size > 0 && ::write(fd, data, size) != static_cast<ssize_t>(size)) fail("write memfd", "");
  ::lseek(fd, 0, SEEK_SET);

  berth::image::LoadOptions opts;
  opts.unpack = false;
  opts.max_bytes = 64 << 20;
  opts.max_entries = 10000;
  auto r = berth::image::load_archive(images, fd, {}, opts);
  auto names = images.names().list();
  if (!names) fail("list names", names.error().what());
  if (!r) {
    check_error(r.error());
    if (!names->empty()) fail("a failed load left a name", names->front().name);
  } else {
    for (const auto& n : r->names)
      if (!berth::image::parse_reference(n)) fail("loaded an invalid name", n);
    for (const auto& id : r->ids)
      if (!images.resolve(id.str())) fail("a loaded ID does not resolve", id.str());
  }
  for (const auto& rec : *names) (void)images.names().remove(rec.name);
  auto gc = images.gc();
  if (!gc) fail("gc", gc.error().what());
  return 0;
}
