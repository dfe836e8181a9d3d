// Factories of the two implementations, for cgroup.cc's open(). Not part of the API.
#pragma once

#include <memory>
#include <string>

#include "runtime/cgroup/cgroup.h"

namespace berth::runtime::cgroup {

// `path` is the resolved cgroup path ("/berth/<id>"); `mount_root` as in open().
std::unique_ptr<Cgroup> make_v2(const std::string& path, const std::string& mount_root);
// Layout V1 or Hybrid; on Hybrid, `mount_root`/unified is the cgroup2 hierarchy.
std::unique_ptr<Cgroup> make_v1(const std::string& path, const std::string& mount_root,
                                Layout layout);

// Resolves linux.cgroupsPath to a cgroup path (see open()); errors name the field.
Result<std::string> resolve_path(const std::string& cgroups_path, const std::string& id);

}  // namespace berth::runtime::cgroup
