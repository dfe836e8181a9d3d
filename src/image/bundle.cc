// Image config -> runtime config (config.json), as docker's daemon builds it for `docker run`.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>

#include "image/images.h"
#include "sys/copy.h"
#include "sys/path.h"
#include "sys/remove.h"
#include "util/fd.h"
#include "util/strings.h"

namespace berth::image {
namespace {

constexpr size_t kMaxAccountFile = 4 << 20;
constexpr const char* kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

struct PasswdEntry {
  std::string name;
  uint32_t uid = 0, gid = 0;
  std::string home;
};
struct GroupEntry {
  std::string name;
  uint32_t gid = 0;
  std::vector<std::string> members;
};

std::optional<uint32_t> parse_id(std::string_view s) {
  uint32_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

// Reads /etc/passwd or /etc/group of the image, resolved inside its root. A missing file is
// an empty file (an image without accounts can still run as numeric ids).
Result<std::string> read_account_file(int rootfs_fd, std::string_view path) {
  auto fd = sys::open_in_root(rootfs_fd, path, O_RDONLY | O_NOCTTY | O_NONBLOCK);
  if (!fd) {
    if (fd.error().errno_value() == ENOENT) return std::string();
    return std::move(fd).error();
  }
  struct stat st {};
  if (fstat(fd->get(), &st) != 0) return Error::sys(std::string(path));
  if (!S_ISREG(st.st_mode)) return Error::invalid(std::string(path) + ": not a regular file");
  return read_all(fd->get(), kMaxAccountFile);
}

std::vector<PasswdEntry> parse_passwd(std::string_view text) {
  std::vector<PasswdEntry> out;
  for (std::string_view line : split(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 7) continue;
    auto uid = parse_id(f[2]), gid = parse_id(f[3]);
    if (!uid || !gid) continue;
    out.push_back({std::string(f[0]), *uid, *gid, std::string(f[5])});
  }
  return out;
}

std::vector<GroupEntry> parse_group(std::string_view text) {
  std::vector<GroupEntry> out;
  for (std::string_view line : split(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    auto f = split(line, ':');
    if (f.size() < 4) continue;
    auto gid = parse_id(f[2]);
    if (!gid) continue;
    GroupEntry g{std::string(f[0]), *gid, {}};
    for (std::string_view m : split(f[3], ','))
      if (!m.empty()) g.members.emplace_back(m);
    out.push_back(std::move(g));
  }
  return out;
}

struct ResolvedUser {
  uint32_t uid = 0, gid = 0;
  std::vector<uint32_t> additional_gids;
  std::string home = "/";
};

// docker's rules (and runc's libcontainer/user): "name" or "uid", optionally ":group"/":gid".
// A numeric uid absent from passwd is fine (gid 0, HOME /); a name must exist.
Result<ResolvedUser> resolve_user(int rootfs_fd, std::string_view spec) {
  std::string_view user = spec, group;
  bool has_group = false;
  if (size_t c = spec.find(':'); c != std::string_view::npos) {
    user = spec.substr(0, c);
    group = spec.substr(c + 1);
    has_group = true;
  }
  if (user.empty()) user = "0";
  auto passwd = parse_passwd(
      BERTH_TRY_CTX(read_account_file(rootfs_fd, "/etc/passwd"), "read the image's /etc/passwd"));
  ResolvedUser out;
  const PasswdEntry* found = nullptr;
  if (auto uid = parse_id(user)) {
    out.uid = *uid;
    for (const auto& p : passwd)
      if (p.uid == *uid) {
        found = &p;
        break;
      }
  } else {
    for (const auto& p : passwd)
      if (p.name == user) {
        found = &p;
        break;
      }
    if (!found)
      return Error::invalid("unable to find user " + std::string(user) +
                            ": no matching entries in passwd file");
    out.uid = found->uid;
  }
  if (found) {
    out.gid = found->gid;
    if (!found->home.empty()) out.home = found->home;
  }

  auto groups = parse_group(
      BERTH_TRY_CTX(read_account_file(rootfs_fd, "/etc/group"), "read the image's /etc/group"));
  if (has_group && !group.empty()) {
    if (auto gid = parse_id(group)) {
      out.gid = *gid;
    } else {
      auto g = std::find_if(groups.begin(), groups.end(),
                            [&](const GroupEntry& e) { return e.name == group; });
      if (g == groups.end())
        return Error::invalid("unable to find group " + std::string(group) +
                              ": no matching entries in group file");
      out.gid = g->gid;
    }
  }
  // Supplementary groups: the ones listing the user by name (docker adds them only when no
  // group was given explicitly).
  if (found && !has_group) {
    for (const auto& g : groups) {
      if (g.gid == out.gid) continue;
      if (std::find(g.members.begin(), g.members.end(), found->name) != g.members.end())
        out.additional_gids.push_back(g.gid);
    }
  }
  return out;
}

// "K=V" list with later entries replacing earlier ones of the same key, order kept.
void merge_env(std::vector<std::string>& env, const std::string& kv) {
  std::string_view key = std::string_view(kv).substr(0, kv.find('='));
  for (auto& e : env) {
    if (std::string_view(e).substr(0, e.find('=')) == key) {
      e = kv;
      return;
    }
  }
  env.push_back(kv);
}

bool has_env(const std::vector<std::string>& env, std::string_view key) {
  return std::any_of(env.begin(), env.end(), [&](const std::string& e) {
    return std::string_view(e).substr(0, e.find('=')) == key;
  });
}

// docker's default capability set for containers (moby oci/caps defaults).
const std::vector<std::string>& docker_default_caps() {
  static const std::vector<std::string> caps = {
      "CAP_CHOWN",   "CAP_DAC_OVERRIDE", "CAP_FSETID",           "CAP_FOWNER",
      "CAP_MKNOD",   "CAP_NET_RAW",      "CAP_SETGID",           "CAP_SETUID",
      "CAP_SETFCAP", "CAP_SETPCAP",      "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
      "CAP_KILL",    "CAP_AUDIT_WRITE"};
  return caps;
}

}  // namespace

Result<oci::Spec> spec_from_image(const oci::image::ImageConfig& config, int rootfs_fd,
                                  const BundleOptions& opts) {
  const auto& c = config.config;
  oci::Spec spec = oci::default_spec(false);
  oci::Process& p = *spec.process;

  // Command: docker's rules. An entrypoint given by the caller drops the image's Cmd.
  std::vector<std::string> args;
  if (opts.entrypoint) {
    args = *opts.entrypoint;
    if (opts.cmd) args.insert(args.end(), opts.cmd->begin(), opts.cmd->end());
  } else {
    if (c.entrypoint) args = *c.entrypoint;
    const auto& cmd = opts.cmd ? opts.cmd : c.cmd;
    if (cmd) args.insert(args.end(), cmd->begin(), cmd->end());
  }
  if (args.empty()) return Error::invalid("no command specified");
  p.args = std::move(args);

  // Environment: image, then caller; PATH and HOSTNAME as docker sets them.
  std::vector<std::string> env;
  for (const auto& e : c.env) merge_env(env, e);
  for (const auto& e : opts.env) merge_env(env, e);
  if (!has_env(env, "PATH")) env.insert(env.begin(), kDefaultPath);
  if (!opts.hostname.empty()) merge_env(env, "HOSTNAME=" + opts.hostname);
  if (opts.tty && !has_env(env, "TERM")) env.push_back("TERM=xterm");

  std::string user = opts.user ? *opts.user : c.user;
  ResolvedUser u = BERTH_TRY(resolve_user(rootfs_fd, user));
  if (!has_env(env, "HOME")) env.push_back("HOME=" + u.home);
  p.env = std::move(env);
  p.user.uid = u.uid;
  p.user.gid = u.gid;
  p.user.additional_gids = std::move(u.additional_gids);

  std::string cwd = opts.working_dir ? *opts.working_dir : c.working_dir;
  if (cwd.empty()) cwd = "/";
  if (cwd[0] != '/')
    return Error::invalid("the working directory '" + cwd +
                          "' is invalid, it needs to be an absolute path");
  p.cwd = cwd;

  p.terminal = opts.tty;
  p.no_new_privileges = false;
  p.rlimits.clear();  // inherit the engine's limits, as docker does
  const auto& caps = docker_default_caps();
  p.capabilities = oci::Capabilities{.bounding = caps, .effective = caps, .permitted = caps};

  spec.root = oci::Root{.path = "rootfs", .readonly = opts.read_only};
  spec.hostname = opts.hostname.empty() ? "berth" : opts.hostname;
  if (!c.stop_signal.empty())
    spec.annotations["org.opencontainers.image.stopSignal"] = c.stop_signal;
  return spec;
}

}  // namespace berth::image

// ---- bundles on disk ------------------------------------------------------------------------

namespace berth::image {
namespace {

std::string join(const std::vector<std::string>& v, char sep) {
  std::string out;
  for (const auto& s : v) {
    if (!out.empty()) out += sep;
    out += s;
  }
  return out;
}

}  // namespace

Result<oci::Spec> ImageService::create_bundle(const Image& image, const std::string& snapshot_key,
                                              const std::string& bundle_dir,
                                              const BundleOptions& opts) {
  if (image.chain_ids.empty()) return Error::invalid("image has no layers");
  const std::string top = image.chain_ids.back().str();
  if (!snapshots_.exists(top))
    return Error::not_found("image layers are not unpacked (snapshot " + top + " missing)");
  if (mkdir(bundle_dir.c_str(), 0711) != 0)
    return Error::sys("create bundle directory \"" + bundle_dir + "\"");
  const std::string rootfs = bundle_dir + "/rootfs";
  bool mounted = false, prepared = false;
  auto undo = [&] {
    if (mounted) (void)snapshot::unmount(rootfs);
    if (prepared) (void)snapshots_.remove(snapshot_key);
    unlink((bundle_dir + "/config.json").c_str());
    rmdir(rootfs.c_str());
    rmdir(bundle_dir.c_str());
  };
  auto result = [&]() -> Result<oci::Spec> {
    if (mkdir(rootfs.c_str(), 0755) != 0) return Error::sys("create \"" + rootfs + "\"");
    auto mounts = BERTH_TRY(snapshots_.prepare(snapshot_key, top));
    prepared = true;
    BERTH_TRY_CTX(snapshot::mount_all(mounts, rootfs), "mount the container's root filesystem");
    mounted = true;
    UniqueFd root_fd(::open(rootfs.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root_fd) return Error::sys("open \"" + rootfs + "\"");
    oci::Spec spec = BERTH_TRY(spec_from_image(image.config, root_fd.get(), opts));
    // image-spec "conversion.md": ports and labels as annotations, volumes as mounts (here
    // directories of the bundle, filled from the image like docker's anonymous volumes).
    const auto& c = image.config.config;
    if (!c.exposed_ports.empty())
      spec.annotations["org.opencontainers.image.exposedPorts"] = join(c.exposed_ports, ',');
    for (const auto& [k, v] : c.labels) spec.annotations.emplace(k, v);
    int n = 0;
    for (const auto& vol : c.volumes) {
      std::string host = bundle_dir + "/volumes/" + std::to_string(n++);
      if (n == 1) mkdir((bundle_dir + "/volumes").c_str(), 0700);
      if (mkdir(host.c_str(), 0755) != 0) return Error::sys("create volume \"" + host + "\"");
      auto target =
          BERTH_TRY_CTX(sys::mkdir_all_in_root(root_fd.get(), vol), "volume \"" + vol + "\"");
      UniqueFd dst(::open(host.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
      if (!dst) return Error::sys("open \"" + host + "\"");
      BERTH_TRY_CTX(sys::copy_tree(target.get(), dst.get()), "fill volume \"" + vol + "\"");
      spec.mounts.push_back(oci::Mount{
          .destination = vol, .type = "bind", .source = host, .options = {"rbind", "rw"}});
    }
    spec.root.path = rootfs;
    BERTH_TRY(write_file_atomic(bundle_dir + "/config.json", oci::to_json(spec), 0644, false));
    return spec;
  }();
  if (!result) undo();
  return result;
}

Result<void> ImageService::remove_bundle(const std::string& snapshot_key,
                                         const std::string& bundle_dir) {
  const std::string rootfs = bundle_dir + "/rootfs";
  auto u = snapshot::unmount(rootfs);
  if (!u && u.error().errno_value() != EINVAL && u.error().errno_value() != ENOENT)
    return std::move(u).error().wrap("unmount \"" + rootfs + "\"");
  if (snapshots_.exists(snapshot_key)) BERTH_TRY(snapshots_.remove(snapshot_key));
  // The bundle's own files: config.json, volumes, the empty rootfs mount point.
  return sys::remove_tree(bundle_dir);
}

}  // namespace berth::image
