// Keeping an idle shim small. A shim's resident set is mostly its own code: the start-up path
// (runtime calls, JSON, spawning) touches most of the binary once, and the kernel's fault-around
// maps whole 64 KiB blocks (or larger page-cache folios) of it. None of that needs to stay in the
// shim's page tables while it waits: the pages stay in the page cache, shared with every other
// shim, and the few the loop uses come back on their next (minor) fault.
#pragma once

namespace berth::shim {

// Unmaps the read-only, never-written segments of the shim's own binary (text and rodata) from
// its page tables (MADV_DONTNEED: for a private file mapping that was never written this only
// drops the page table entries). Writable segments, heap and stack are left alone. Called when
// the shim goes idle: after start-up and after each control request (a few microseconds of
// minor faults on the next one), never on the output path.
void drop_clean_code_pages();

}  // namespace berth::shim
