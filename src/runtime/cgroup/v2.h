// The value conversions of the v2 manager (OCI's resources are written in v1 terms), exposed
// for unit tests. Not part of the API: runtime code uses cgroup.h.
#pragma once

#include <cstdint>
#include <optional>

#include "util/result.h"

namespace berth::runtime::cgroup {

// linux.resources.cpu.shares (v1, 2..262144, default 1024) -> cpu.weight (1..10000, default
// 100): crun's quadratic fit through min, default and max, which runc adopted too. 0 = unset.
uint64_t cpu_shares_to_weight(uint64_t shares);

// linux.resources.blockIO.weight (10..1000) -> io.weight (1..10000), linear as runc and crun.
uint64_t blkio_weight_to_io_weight(uint16_t weight);

// OCI memory.swap is memory+swap; v2's memory.swap.max is swap alone. `limit` is the memory
// limit in force (0 = none, -1 = unlimited). Returns the value for memory.swap.max (-1 =
// "max"), or nothing to leave it alone. Errors name linux.resources.memory.swap.
Result<std::optional<int64_t>> swap_max_value(std::optional<int64_t> swap, int64_t limit);

}  // namespace berth::runtime::cgroup
