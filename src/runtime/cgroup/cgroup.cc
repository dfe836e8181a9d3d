// Host probing, linux.cgroupsPath resolution, and the choice between the v1 and v2 managers.
#include "runtime/cgroup/cgroup.h"

#include <linux/magic.h>
#include <sys/statfs.h>
#include <sys/vfs.h>

#include <algorithm>
#include <string_view>
#include <vector>

#include "runtime/cgroup/impl.h"
#include "util/strings.h"

namespace berth::runtime::cgroup {
namespace {

constexpr const char* kDefaultRoot = "/sys/fs/cgroup";

bool is_fs(const std::string& path, unsigned long magic) {
  struct statfs st;
  return ::statfs(path.c_str(), &st) == 0 && static_cast<unsigned long>(st.f_type) == magic;
}

// What is mounted at `root`: cgroup2 there is a pure v2 host; a tmpfs with a cgroup2 at
// `root`/unified is hybrid (systemd's layout); anything else is treated as v1.
Layout probe_layout(const std::string& root) {
  if (is_fs(root, CGROUP2_SUPER_MAGIC)) return Layout::V2;
  if (is_fs(root, TMPFS_MAGIC) && is_fs(root + "/unified", CGROUP2_SUPER_MAGIC))
    return Layout::Hybrid;
  return Layout::V1;
}

// Splits a path on '/', dropping empty and "." components and resolving ".." lexically.
// Returns false when ".." would climb above the root.
bool clean_components(std::string_view path, std::vector<std::string_view>& out) {
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view c = path.substr(i, j - i);
    i = j + 1;
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (out.empty()) return false;
      out.pop_back();
      continue;
    }
    out.push_back(c);
  }
  return true;
}

Result<std::string> clean_path(const std::string& cgroups_path) {
  std::vector<std::string_view> parts;
  if (!clean_components(cgroups_path, parts))
    return Error::invalid("linux.cgroupsPath " + quoted(cgroups_path) +
                          ": \"..\" leads outside the cgroup hierarchy");
  if (parts.empty())
    return Error::invalid("linux.cgroupsPath " + quoted(cgroups_path) +
                          ": is the root cgroup; a container needs a cgroup of its own");
  std::string out;
  for (std::string_view p : parts) {
    out += '/';
    out += p;
  }
  return out;
}

// systemd's slice naming: "a-b-c.slice" lives at "/a.slice/a-b.slice/a-b-c.slice"; "-.slice"
// is the root. Mirrors what runc's systemd driver computes as the unit's parent.
Result<std::string> expand_slice(std::string_view slice) {
  constexpr std::string_view kSuffix = ".slice";
  auto bad = [&] { return Error::invalid("invalid slice name " + quoted(slice)); };
  if (slice.size() <= kSuffix.size() || slice.substr(slice.size() - kSuffix.size()) != kSuffix ||
      slice.find('/') != std::string_view::npos)
    return bad();
  std::string_view name = slice.substr(0, slice.size() - kSuffix.size());
  if (name == "-") return std::string("/");
  std::string path, prefix;
  size_t i = 0;
  while (i <= name.size()) {
    size_t j = name.find('-', i);
    if (j == std::string_view::npos) j = name.size();
    std::string_view component = name.substr(i, j - i);
    if (component.empty()) return bad();  // "-a.slice", "a--b.slice", "a-.slice"
    path += "/" + prefix + std::string(component) + std::string(kSuffix);
    prefix += std::string(component) + "-";
    i = j + 1;
  }
  return path;
}

// "slice:prefix:name" -> the cgroup systemd would give the scope: "<expanded slice>/<prefix>-
// <name>.scope" (or "<name>" itself when it is a slice). An empty slice is system.slice, the
// systemd driver's default for root.
Result<std::string> resolve_systemd_style(const std::string& cgroups_path) {
  size_t c1 = cgroups_path.find(':');
  size_t c2 = cgroups_path.find(':', c1 + 1);
  std::string_view all = cgroups_path;
  std::string_view slice = all.substr(0, c1);
  std::string_view prefix = all.substr(c1 + 1, c2 - c1 - 1);
  std::string_view name = all.substr(c2 + 1);
  auto field = "linux.cgroupsPath " + quoted(cgroups_path);
  if (name.empty())
    return Error::invalid(field + ": the name part of \"slice:prefix:name\" is empty");
  for (std::string_view part : {prefix, name})
    if (part.find('/') != std::string_view::npos || part == "." || part == "..")
      return Error::invalid(field + ": " + quoted(part) + " is not a valid unit name part");
  std::string parent = "/system.slice";
  if (!slice.empty()) {
    auto expanded = expand_slice(slice);
    if (!expanded) return std::move(expanded).error().wrap(field);
    parent = *expanded;
  }
  std::string unit;
  if (name.size() > 6 && name.substr(name.size() - 6) == ".slice")
    unit = std::string(name);
  else
    unit = std::string(prefix) + "-" + std::string(name) + ".scope";
  return (parent == "/" ? "" : parent) + "/" + unit;
}

}  // namespace

const char* layout_name(Layout l) {
  switch (l) {
    case Layout::V1: return "v1";
    case Layout::Hybrid: return "hybrid";
    case Layout::V2: return "v2";
  }
  return "unknown";
}

Layout host_layout() {
  static const Layout cached = probe_layout(kDefaultRoot);
  return cached;
}

Result<std::string> resolve_path(const std::string& cgroups_path, const std::string& id) {
  if (cgroups_path.find('\0') != std::string::npos)
    return Error::invalid("linux.cgroupsPath: contains a NUL byte");
  if (cgroups_path.empty()) {
    if (id.empty() || id == "." || id == ".." || id.find('/') != std::string::npos ||
        id.find('\0') != std::string::npos)
      return Error::invalid("container id " + quoted(id) + " cannot name a cgroup");
    return "/berth/" + id;
  }
  if (cgroups_path[0] != '/' && std::count(cgroups_path.begin(), cgroups_path.end(), ':') == 2)
    return resolve_systemd_style(cgroups_path);
  // Absolute paths are taken from each hierarchy's root; so are relative ones (runc's
  // cgroupfs driver does the same on v1, and berth does not nest under its own cgroup).
  return clean_path(cgroups_path);
}

Result<std::unique_ptr<Cgroup>> open(const std::string& cgroups_path, const std::string& id,
                                     const std::string& mount_root) {
  std::string path = BERTH_TRY(resolve_path(cgroups_path, id));
  Layout layout = mount_root == kDefaultRoot ? host_layout() : probe_layout(mount_root);
  if (layout == Layout::V2) return make_v2(path, mount_root);
  return make_v1(path, mount_root, layout);
}

}  // namespace berth::runtime::cgroup
