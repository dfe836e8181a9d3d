#include "shim/memory.h"

#include <link.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>

namespace berth::shim {

namespace {

struct Range {
  uintptr_t start, end;
};
Range g_ranges[8];
int g_count = -1;  // -1: not looked up yet

int collect(dl_phdr_info* info, size_t, void*) {
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  for (int i = 0; i < info->dlpi_phnum && g_count < 8; i++) {
    const ElfW(Phdr)& ph = info->dlpi_phdr[i];
    if (ph.p_type != PT_LOAD || (ph.p_flags & PF_W)) continue;
    uintptr_t start = info->dlpi_addr + ph.p_vaddr;
    uintptr_t end = start + ph.p_memsz;
    start = (start + page - 1) & ~(page - 1);  // whole pages inside the segment only
    end &= ~(page - 1);
    if (end > start) g_ranges[g_count++] = {start, end};
  }
  return 1;  // the executable is the first object; a static-pie binary has no others
}

}  // namespace

void drop_clean_code_pages() {
  if (g_count < 0) {
    g_count = 0;
    ::dl_iterate_phdr(collect, nullptr);
  }
  // The ranges were read before: reading the program headers now would fault them back.
  for (int i = 0; i < g_count; i++) {
    ::madvise(reinterpret_cast<void*>(g_ranges[i].start), g_ranges[i].end - g_ranges[i].start,
              MADV_DONTNEED);
  }
}

}  // namespace berth::shim
