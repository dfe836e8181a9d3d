// HostConfig -> OCI runtime spec: what `docker run`'s flags change in config.json, with
// docker's validation messages.
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "engine/containers_internal.h"
#include "engine/seccomp_profile.h"
#include "oci/spec.h"
#include "util/strings.h"

namespace berth::engine {

Result<void> mkdir_all(const std::string& path, mode_t mode, std::vector<std::string>* created) {
  std::string cur;
  for (std::string_view part : split(path, '/', true)) {
    cur += "/";
    cur += part;
    if (mkdir(cur.c_str(), mode) == 0) {
      if (created) created->push_back(cur);
    } else if (errno != EEXIST) {
      return Error::sys("mkdir " + berth::quoted(cur));
    }
  }
  return ok();
}

Result<void> make_host_dirs(const std::vector<HostDir>& dirs, std::vector<std::string>& created) {
  for (const HostDir& d : dirs) BERTH_TRY_CTX(mkdir_all(d.path, 0755, &created), d.context);
  return ok();
}

void remove_host_dirs(std::vector<std::string>& created) {
  // Deepest first; a directory something else has put a file in meanwhile stays.
  for (auto it = created.rbegin(); it != created.rend(); ++it) (void)rmdir(it->c_str());
  created.clear();
}

Result<int64_t> parse_log_size(std::string_view s) {
  auto invalid_size = [&] { return Error::invalid("invalid size: '" + std::string(s) + "'"); };
  size_t sep = s.find_last_of("0123456789. ");
  if (sep == std::string_view::npos) return invalid_size();
  std::string num(s.substr(0, s[sep] == ' ' ? sep : sep + 1));
  std::string sfx(s.substr(sep + 1));
  char* end = nullptr;
  errno = 0;
  double v = num.empty() ? 0 : strtod(num.c_str(), &end);
  if (num.empty() || end != num.c_str() + num.size() || isspace(static_cast<unsigned char>(num[0])))
    return Error::invalid("strconv.ParseFloat: parsing " + berth::quoted(num) + ": invalid syntax");
  if (v < 0) return invalid_size();
  auto bad_suffix = [&] { return Error::invalid("invalid suffix: '" + sfx + "'"); };
  if (sfx.empty()) return static_cast<int64_t>(v);
  if (sfx.size() > 3) return bad_suffix();
  for (char& ch : sfx) ch = static_cast<char>(tolower(static_cast<unsigned char>(ch)));
  if (sfx[0] == 'b') {
    if (sfx.size() > 1) return bad_suffix();
    return static_cast<int64_t>(v);
  }
  // json-file's max-size is decimal (docker's units.FromHumanSize): 10m is 10,000,000 bytes.
  static constexpr std::pair<char, double> kUnits[] = {
      {'k', 1e3}, {'m', 1e6}, {'g', 1e9}, {'t', 1e12}, {'p', 1e15}};
  auto unit = std::find_if(std::begin(kUnits), std::end(kUnits),
                           [&](const auto& u) { return u.first == sfx[0]; });
  if (unit == std::end(kUnits)) return bad_suffix();
  if ((sfx.size() == 2 && sfx[1] != 'b') || (sfx.size() == 3 && sfx.substr(1) != "ib"))
    return bad_suffix();
  v *= unit->second;
  if (v >= 9.2e18) return invalid_size();
  return static_cast<int64_t>(v);
}

namespace {

constexpr int64_t kMinMemory = 6 * 1024 * 1024;
constexpr uint64_t kCpuPeriod = 100000;

int64_t int_of(const json& hc, const char* key) {
  auto it = hc.find(key);
  return it != hc.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}
std::string str_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}
bool bool_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}
std::vector<std::string> strings_of(const json& j, const char* key) {
  std::vector<std::string> out;
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return out;
  for (const auto& v : *it)
    if (v.is_string()) out.push_back(v.get<std::string>());
  return out;
}

bool valid_volume_name(std::string_view n) {
  if (n.size() < 2) return false;
  auto ok = [](char ch, bool first) {
    return isalnum(static_cast<unsigned char>(ch)) ||
           (!first && (ch == '_' || ch == '.' || ch == '-'));
  };
  for (size_t i = 0; i < n.size(); i++)
    if (!ok(n[i], i == 0)) return false;
  return true;
}

// "CAP_NET_ADMIN", "net_admin", "ALL" -> "CAP_NET_ADMIN" / "ALL".
Result<std::string> normalize_cap(std::string_view s) {
  std::string up(s);
  for (char& ch : up) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
  if (up == "ALL") return up;
  if (!up.starts_with("CAP_")) up = "CAP_" + up;
  if (!oci::capability_number(up)) return Error::invalid("unknown capability: \"" + up + "\"");
  return up;
}

bool is_propagation(std::string_view o) {
  return o == "private" || o == "rprivate" || o == "shared" || o == "rshared" || o == "slave" ||
         o == "rslave";
}

struct BindSpec {
  std::string source, destination, mode, propagation = "rprivate";
  bool rw = true;
  bool volume = false;  // a named volume (source is its name)
};

Result<BindSpec> parse_bind(const std::string& s) {
  auto invalid = [&] { return Error::invalid("invalid volume specification: '" + s + "'"); };
  auto parts = split(s, ':');
  if (parts.size() < 2 || parts.size() > 3) return invalid();
  BindSpec b;
  b.source = std::string(parts[0]);
  b.destination = std::string(parts[1]);
  if (b.source.empty() || b.destination.empty() || b.destination[0] != '/') return invalid();
  if (b.destination == "/")
    return Error::invalid("invalid volume specification: '" + s +
                          "': invalid mount config: destination can't be '/'");
  if (parts.size() == 3) {
    b.mode = std::string(parts[2]);
    for (std::string_view o : split(parts[2], ',')) {
      if (o == "ro")
        b.rw = false;
      else if (o == "rw" || o == "z" || o == "Z" || o == "nocopy" || o == "copy")
        continue;
      else if (is_propagation(o))
        b.propagation = std::string(o);
      else
        return invalid();
    }
  }
  if (b.source[0] != '/') {
    if (!valid_volume_name(b.source))
      return Error::invalid("create " + b.source + ": \"" + b.source +
                            "\" includes invalid characters for a local volume name, only "
                            "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a "
                            "host directory, use absolute path");
    b.volume = true;
  }
  return b;
}

bool swap_accounting() {
  return access("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes", F_OK) == 0 ||
         access("/sys/fs/cgroup/cgroup.controllers", F_OK) == 0;
}

void remove_mount_at(oci::Spec& spec, const std::string& dest) {
  std::erase_if(spec.mounts, [&](const oci::Mount& m) { return m.destination == dest; });
}

void drop_namespace(oci::Spec& spec, oci::NamespaceType t) {
  std::erase_if(spec.linux->namespaces, [&](const oci::Namespace& n) { return n.type == t; });
}

Result<void> apply_binds(const json& hc, const SpecContext& ctx, oci::Spec& spec, json& mounts,
                         std::set<std::string>& dests, std::vector<HostDir>& dirs) {
  for (const auto& s : strings_of(hc, "Binds")) {
    BindSpec b = BERTH_TRY(parse_bind(s));
    if (!dests.insert(b.destination).second)
      return Error::invalid("Duplicate mount point: " + b.destination);
    std::string src = b.source;
    if (b.volume) {
      src = ctx.data_root + "/volumes/" + b.source + "/_data";
      dirs.push_back({src, "create volume " + b.source});
    } else {
      struct stat st {};
      if (stat(src.c_str(), &st) != 0)  // docker creates a missing -v source directory
        dirs.push_back({src, "error while creating mount source path '" + src + "'"});
    }
    remove_mount_at(spec, b.destination);
    oci::Mount m{.destination = b.destination,
                 .type = "bind",
                 .source = src,
                 .options = {"rbind", b.propagation}};
    if (!b.rw) m.options.push_back("ro");
    spec.mounts.push_back(std::move(m));
    json rec = {{"Type", b.volume ? "volume" : "bind"},
                {"Source", src},
                {"Destination", b.destination},
                {"Mode", b.mode},
                {"RW", b.rw},
                {"Propagation", b.volume ? "" : b.propagation}};
    if (b.volume) {
      rec["Name"] = b.source;
      rec["Driver"] = "local";
      if (b.mode.empty()) rec["Mode"] = "z";
    }
    mounts.push_back(std::move(rec));
  }
  return ok();
}

Result<void> apply_mounts(const json& hc, const SpecContext& ctx, oci::Spec& spec, json& mounts,
                          std::set<std::string>& dests, std::vector<HostDir>& dirs) {
  auto it = hc.find("Mounts");
  if (it == hc.end() || !it->is_array()) return ok();
  for (const auto& m : *it) {
    if (!m.is_object()) return Error::invalid("invalid mount config: not an object");
    std::string type = str_of(m, "Type"), src = str_of(m, "Source"), dst = str_of(m, "Target");
    auto invalid = [&](const std::string& why) {
      return Error::invalid("invalid mount config for type \"" + type + "\": " + why);
    };
    if (dst.empty()) return invalid("field Target must not be empty");
    if (dst[0] != '/')
      return invalid("invalid mount path: '" + dst + "' mount path must be absolute");
    if (!dests.insert(dst).second) return Error::invalid("Duplicate mount point: " + dst);
    bool ro = bool_of(m, "ReadOnly");
    remove_mount_at(spec, dst);
    if (type == "bind") {
      if (src.empty()) return invalid("field Source must not be empty");
      struct stat st {};
      if (stat(src.c_str(), &st) != 0) return invalid("bind source path does not exist: " + src);
      std::string prop = "rprivate";
      if (m.contains("BindOptions") && m["BindOptions"].is_object()) {
        std::string p = str_of(m["BindOptions"], "Propagation");
        if (!p.empty()) prop = p;
      }
      oci::Mount om{.destination = dst, .type = "bind", .source = src, .options = {"rbind", prop}};
      if (ro) om.options.push_back("ro");
      spec.mounts.push_back(std::move(om));
      mounts.push_back({{"Type", "bind"},
                        {"Source", src},
                        {"Destination", dst},
                        {"Mode", ""},
                        {"RW", !ro},
                        {"Propagation", prop}});
    } else if (type == "volume") {
      std::string name = src;
      if (name.empty()) return invalid("anonymous volumes are not supported yet");
      if (!valid_volume_name(name)) return invalid("invalid volume name " + berth::quoted(name));
      std::string path = ctx.data_root + "/volumes/" + name + "/_data";
      dirs.push_back({path, "create volume " + name});
      oci::Mount om{
          .destination = dst, .type = "bind", .source = path, .options = {"rbind", "rprivate"}};
      if (ro) om.options.push_back("ro");
      spec.mounts.push_back(std::move(om));
      mounts.push_back({{"Type", "volume"},
                        {"Name", name},
                        {"Source", path},
                        {"Destination", dst},
                        {"Driver", "local"},
                        {"Mode", "z"},
                        {"RW", !ro},
                        {"Propagation", ""}});
    } else if (type == "tmpfs") {
      if (!src.empty()) return invalid("field Source must not be specified");
      oci::Mount om{.destination = dst,
                    .type = "tmpfs",
                    .source = "tmpfs",
                    .options = {"nosuid", "nodev", "noexec"}};
      if (m.contains("TmpfsOptions") && m["TmpfsOptions"].is_object()) {
        const json& t = m["TmpfsOptions"];
        if (int64_t size = int_of(t, "SizeBytes"); size > 0)
          om.options.push_back("size=" + std::to_string(size));
        if (int64_t mode = int_of(t, "Mode"); mode > 0) {
          char buf[32];
          snprintf(buf, sizeof buf, "mode=%llo", static_cast<unsigned long long>(mode));
          om.options.push_back(buf);
        }
      }
      if (ro) om.options.push_back("ro");
      spec.mounts.push_back(std::move(om));
      mounts.push_back({{"Type", "tmpfs"},
                        {"Source", ""},
                        {"Destination", dst},
                        {"Mode", ""},
                        {"RW", !ro},
                        {"Propagation", ""}});
    } else {
      return Error::invalid("invalid mount config: mount type unknown: \"" + type + "\"");
    }
  }
  return ok();
}

Result<void> apply_tmpfs(const json& hc, oci::Spec& spec, std::set<std::string>& dests) {
  auto it = hc.find("Tmpfs");
  if (it == hc.end() || !it->is_object()) return ok();
  for (const auto& [dst, opts] : it->items()) {
    if (dst.empty() || dst[0] != '/')
      return Error::invalid("invalid tmpfs mount path: '" + dst + "' mount path must be absolute");
    if (!dests.insert(dst).second) return Error::invalid("Duplicate mount point: " + dst);
    std::vector<std::string> options = {"noexec", "nosuid", "nodev"};
    const std::string text = opts.is_string() ? opts.get<std::string>() : std::string();
    for (std::string_view o : split(text, ',', true)) {
      std::string opt(o);
      if (opt == "exec" || opt == "suid" || opt == "dev")
        std::erase(options, "no" + opt);
      else
        options.push_back(opt);
    }
    remove_mount_at(spec, dst);
    spec.mounts.push_back(
        oci::Mount{.destination = dst, .type = "tmpfs", .source = "tmpfs", .options = options});
  }
  return ok();
}

Result<void> apply_capabilities(const json& hc, oci::Spec& spec) {
  auto& caps = *spec.process->capabilities;
  std::vector<std::string> set = caps.bounding;
  // "All" is every capability berthd itself may pass on: a host whose bounding set lacks one
  // (CAP_SYS_RESOURCE here) could start no --privileged container otherwise.
  std::vector<std::string> all;
  for (int i = 0; i <= oci::last_known_capability(); i++)
    if (prctl(PR_CAPBSET_READ, i) == 1) all.emplace_back(oci::capability_name(i));
  if (bool_of(hc, "Privileged")) set = all;
  std::vector<std::string> add, drop;
  for (const auto& c : strings_of(hc, "CapAdd")) add.push_back(BERTH_TRY(normalize_cap(c)));
  for (const auto& c : strings_of(hc, "CapDrop")) drop.push_back(BERTH_TRY(normalize_cap(c)));
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  if (has(drop, "ALL")) set.clear();
  for (const auto& d : drop) std::erase(set, d);
  if (has(add, "ALL")) set = all;
  for (const auto& a : add)
    if (a != "ALL" && !has(set, a)) set.push_back(a);
  caps.bounding = caps.effective = caps.permitted = set;
  return ok();
}

void apply_privileged(oci::Spec& spec) {
  auto& l = *spec.linux;
  l.masked_paths.clear();
  l.readonly_paths.clear();
  if (!l.resources) l.resources.emplace();
  l.resources->devices = {oci::DeviceCgroupRule{.allow = true, .access = "rwm"}};
  for (auto& m : spec.mounts)
    if (m.destination == "/sys" || m.destination == "/sys/fs/cgroup") std::erase(m.options, "ro");
}

// --security-opt. `seccomp` receives the seccomp=... value ("" when not given).
Result<void> apply_security_opts(const json& hc, oci::Spec& spec, std::string& seccomp) {
  for (const auto& opt : strings_of(hc, "SecurityOpt")) {
    std::string key = opt, value;
    if (size_t p = opt.find_first_of("=:"); p != std::string::npos) {
      key = opt.substr(0, p);
      value = opt.substr(p + 1);
    }
    if (key == "no-new-privileges") {
      if (value.empty() || value == "true")
        spec.process->no_new_privileges = true;
      else if (value == "false")
        spec.process->no_new_privileges = false;
      else
        return Error::invalid("invalid --security-opt 2: \"" + opt + "\"");
    } else if (key == "seccomp") {
      if (value.empty()) return Error::invalid("invalid --security-opt 2: \"" + opt + "\"");
      seccomp = value;
    } else if (key == "apparmor" || key == "label" || key == "systempaths") {
      if (key == "systempaths" && value == "unconfined") {
        spec.linux->masked_paths.clear();
        spec.linux->readonly_paths.clear();
      }
    } else {
      return Error::invalid("invalid --security-opt 1: \"" + opt + "\"");
    }
  }
  return ok();
}

// linux.seccomp, docker's way: none for --privileged or seccomp=unconfined; else the profile
// the container names, or the daemon's (--seccomp-profile), or the built-in one. A profile is
// resolved for the container's final capabilities.
Result<void> apply_seccomp(const json& hc, const std::string& requested,
                           const std::string& daemon_default, oci::Spec& spec) {
  spec.linux->seccomp.reset();
  if (bool_of(hc, "Privileged")) return ok();
  const std::string& choice = requested.empty() ? daemon_default : requested;
  if (choice == "unconfined") return ok();
  auto target = seccomp::Target::host(spec.process->capabilities->bounding);
  if (choice.empty() || choice == "builtin" || choice == "default")
    spec.linux->seccomp = seccomp::builtin_profile(target);
  else
    spec.linux->seccomp = BERTH_TRY(seccomp::resolve_profile(choice, target));
  return ok();
}

Result<void> apply_resources(const json& hc, oci::Spec& spec) {
  auto& l = *spec.linux;
  if (!l.resources) l.resources.emplace();
  auto& r = *l.resources;
  int64_t mem = int_of(hc, "Memory"), swap = int_of(hc, "MemorySwap"),
          reservation = int_of(hc, "MemoryReservation");
  if (mem > 0 || reservation > 0) {
    auto& m = r.memory.emplace();
    if (mem > 0) m.limit = mem;
    if (reservation > 0) m.reservation = reservation;
    if (mem > 0 && swap_accounting()) {
      if (swap > 0)
        m.swap = swap;
      else if (swap == 0)
        m.swap = 2 * mem;
      else
        m.swap = -1;
    }
  }
  int64_t nano = int_of(hc, "NanoCpus"), shares = int_of(hc, "CpuShares"),
          quota = int_of(hc, "CpuQuota"), period = int_of(hc, "CpuPeriod");
  std::string cpuset = str_of(hc, "CpusetCpus"), mems = str_of(hc, "CpusetMems");
  if (nano > 0 || shares > 0 || quota != 0 || period > 0 || !cpuset.empty() || !mems.empty()) {
    auto& c = r.cpu.emplace();
    if (nano > 0) {
      c.period = kCpuPeriod;
      c.quota = nano * static_cast<int64_t>(kCpuPeriod) / 1'000'000'000;
    }
    if (shares > 0) c.shares = static_cast<uint64_t>(shares);
    if (quota != 0) c.quota = quota;
    if (period > 0) c.period = static_cast<uint64_t>(period);
    c.cpus = cpuset;
    c.mems = mems;
  }
  if (int64_t pids = int_of(hc, "PidsLimit"); pids > 0) r.pids_limit = pids;
  if (auto it = hc.find("OomScoreAdj"); it != hc.end() && it->is_number_integer() && *it != 0)
    spec.process->oom_score_adj = it->get<int>();
  return ok();
}

Result<void> apply_ulimits(const json& hc, oci::Spec& spec) {
  auto it = hc.find("Ulimits");
  if (it == hc.end() || !it->is_array()) return ok();
  for (const auto& u : *it) {
    std::string name = str_of(u, "Name");
    auto number = oci::rlimit_number(name);
    if (!number) return Error::invalid("invalid ulimit type: " + name);
    int64_t soft = int_of(u, "Soft"), hard = int_of(u, "Hard");
    if (soft > hard)
      return Error::invalid("ulimit soft limit must be less than or equal to hard limit: " +
                            std::to_string(soft) + " > " + std::to_string(hard));
    std::string type = name;
    for (char& ch : type) ch = static_cast<char>(toupper(static_cast<unsigned char>(ch)));
    if (!type.starts_with("RLIMIT_")) type = "RLIMIT_" + type;
    std::erase_if(spec.process->rlimits, [&](const oci::Rlimit& r) { return r.type == type; });
    spec.process->rlimits.push_back(oci::Rlimit{
        .type = type, .hard = static_cast<uint64_t>(hard), .soft = static_cast<uint64_t>(soft)});
  }
  return ok();
}

Result<void> apply_devices(const json& hc, oci::Spec& spec) {
  auto it = hc.find("Devices");
  if (it == hc.end() || !it->is_array()) return ok();
  for (const auto& d : *it) {
    std::string host = str_of(d, "PathOnHost"), inside = str_of(d, "PathInContainer"),
                perms = str_of(d, "CgroupPermissions");
    if (inside.empty()) inside = host;
    if (perms.empty()) perms = "rwm";
    struct stat st {};
    if (stat(host.c_str(), &st) != 0)
      return Error::invalid("error gathering device information while adding custom device \"" +
                            host + "\": no such file or directory");
    if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode))
      return Error::invalid("error gathering device information while adding custom device \"" +
                            host + "\": not a device node");
    char type = S_ISCHR(st.st_mode) ? 'c' : 'b';
    int64_t maj = major(st.st_rdev), min = minor(st.st_rdev);
    spec.linux->devices.push_back(oci::Device{.path = inside,
                                              .type = type,
                                              .major = maj,
                                              .minor = min,
                                              .file_mode = st.st_mode & 07777,
                                              .uid = st.st_uid,
                                              .gid = st.st_gid});
    spec.linux->resources->devices.push_back(oci::DeviceCgroupRule{
        .allow = true, .type = std::string(1, type), .major = maj, .minor = min, .access = perms});
  }
  return ok();
}

Result<void> apply_namespaces(const json& hc, oci::Spec& spec) {
  std::string net = str_of(hc, "NetworkMode");
  if (net == "host") {
    drop_namespace(spec, oci::NamespaceType::Network);
    char host[256] = {};
    if (gethostname(host, sizeof host - 1) == 0) spec.hostname = host;
    // sysfs cannot be mounted from a network namespace the container does not own... it does
    // own the host's here, which is fine.
  }
  if (str_of(hc, "PidMode") == "host") drop_namespace(spec, oci::NamespaceType::Pid);
  if (str_of(hc, "IpcMode") == "host") drop_namespace(spec, oci::NamespaceType::Ipc);
  if (str_of(hc, "UTSMode") == "host") {
    drop_namespace(spec, oci::NamespaceType::Uts);
    spec.hostname.clear();
  }
  if (auto it = hc.find("Sysctls"); it != hc.end() && it->is_object())
    for (const auto& [k, v] : it->items())
      if (v.is_string()) spec.linux->sysctl[k] = v.get<std::string>();
  return ok();
}

void apply_shm_size(const json& hc, oci::Spec& spec) {
  int64_t size = int_of(hc, "ShmSize");
  if (size <= 0) return;
  for (auto& m : spec.mounts) {
    if (m.destination != "/dev/shm") continue;
    std::erase_if(m.options, [](const std::string& o) { return o.starts_with("size="); });
    m.options.push_back("size=" + std::to_string(size));
  }
}

Result<void> apply_init(const json& hc, oci::Spec& spec) {
  auto it = hc.find("Init");
  if (it == hc.end() || !it->is_boolean() || !it->get<bool>()) return ok();
  std::string init = BERTH_TRY(find_init_binary());
  auto& args = spec.process->args;
  args.insert(args.begin(), {"/sbin/docker-init", "--"});
  spec.mounts.push_back(oci::Mount{.destination = "/sbin/docker-init",
                                   .type = "bind",
                                   .source = init,
                                   .options = {"bind", "ro", "rprivate"}});
  return ok();
}

void apply_group_add(const json& hc, oci::Spec& spec) {
  for (const auto& g : strings_of(hc, "GroupAdd")) {
    char* end = nullptr;
    unsigned long gid = strtoul(g.c_str(), &end, 10);
    if (!g.empty() && *end == '\0') spec.process->user.additional_gids.push_back(gid);
  }
}

// Go's strconv.Atoi and ParseBool, with their messages.
Result<int64_t> go_atoi(const std::string& s) {
  char* end = nullptr;
  errno = 0;
  long long v =
      s.empty() || isspace(static_cast<unsigned char>(s[0])) ? 0 : strtoll(s.c_str(), &end, 10);
  if (s.empty() || end != s.c_str() + s.size() || isspace(static_cast<unsigned char>(s[0])))
    return Error::invalid("strconv.Atoi: parsing " + berth::quoted(s) + ": invalid syntax");
  if (errno == ERANGE)
    return Error::invalid("strconv.Atoi: parsing " + berth::quoted(s) + ": value out of range");
  return static_cast<int64_t>(v);
}

Result<bool> go_parse_bool(const std::string& s) {
  if (s == "1" || s == "t" || s == "T" || s == "TRUE" || s == "true" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "FALSE" || s == "false" || s == "False")
    return false;
  return Error::invalid("strconv.ParseBool: parsing " + berth::quoted(s) + ": invalid syntax");
}

// json-file's --log-opt, checked at create (docker checks the names at create and the values
// when the logger starts; berth's shim would fail every start, so both are checked here).
Result<void> validate_log_opts(const json& cfg) {
  if (!cfg.is_object()) return ok();
  for (const auto& [k, v] : cfg.items())
    if (!v.is_string())
      return Error::invalid(std::string("json: cannot unmarshal ") +
                            (v.is_number()    ? "number"
                             : v.is_boolean() ? "bool"
                             : v.is_array()   ? "array"
                             : v.is_object()  ? "object"
                                              : "null") +
                            " into Go struct field LogConfig.HostConfig.LogConfig.Config of "
                            "type string");
  auto opt = [&](const char* key) -> std::optional<std::string> {
    auto it = cfg.find(key);
    if (it == cfg.end()) return std::nullopt;
    return it->get<std::string>();
  };
  // Options every driver takes (docker's logger package).
  std::string mode = opt("mode").value_or("");
  if (mode != "" && mode != "blocking" && mode != "non-blocking")
    return Error::invalid("logger: logging mode not supported: " + mode);
  if (cfg.contains("max-buffer-size")) {
    if (mode != "non-blocking")
      return Error::invalid(
          "logger: max-buffer-size option is only supported with 'mode=non-blocking'");
  }
  for (const auto& [k, v] : cfg.items()) {
    if (k == "mode" || k == "max-buffer-size" || k == "max-file" || k == "max-size" ||
        k == "compress" || k == "labels" || k == "labels-regex" || k == "env" || k == "env-regex" ||
        k == "tag")
      continue;
    return Error::invalid("unknown log opt '" + k + "' for json-file log driver");
  }
  // The values, as json-file reads them when a container starts; the message says so.
  auto failed = [](Error e) {
    return Error::invalid("failed to initialize logging driver: " + e.message());
  };
  int64_t max_size = -1;
  if (auto s = opt("max-size")) {
    auto v = parse_log_size(*s);
    if (!v) return failed(std::move(v).error());
    if (*v <= 0)
      return Error::invalid(
          "failed to initialize logging driver: max-size must be a positive number");
    max_size = *v;
  }
  int64_t max_files = 1;
  if (auto s = opt("max-file")) {
    auto v = go_atoi(*s);
    if (!v) return failed(std::move(v).error());
    if (*v < 1)
      return Error::invalid("failed to initialize logging driver: max-file cannot be less than 1");
    if (*v > kMaxLogFiles)
      return Error::invalid("failed to initialize logging driver: max-file cannot be more than " +
                            std::to_string(kMaxLogFiles) + " (berth's limit)");
    max_files = *v;
  }
  if (auto s = opt("compress")) {
    auto v = go_parse_bool(*s);
    if (!v) return failed(std::move(v).error());
    if (*v && (max_files == 1 || max_size == -1))
      return Error::invalid(
          "failed to initialize logging driver: compress cannot be true when max-file is less "
          "than 2 or max-size is not set");
    if (*v)
      return Error::invalid(
          "failed to initialize logging driver: compress=true is not supported by berth's "
          "json-file logger");
  }
  return ok();
}

}  // namespace

Result<std::string> find_init_binary() {
  // Must be static: it runs inside the container's root.
  for (const char* name : {"docker-init", "tini-static", "tini"}) {
    const char* path_env = getenv("PATH");
    std::string path =
        path_env ? path_env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    for (std::string_view dir : split(path, ':', true)) {
      std::string candidate = std::string(dir) + "/" + name;
      if (access(candidate.c_str(), X_OK) == 0) {
        char real[4096];
        if (realpath(candidate.c_str(), real)) return std::string(real);
      }
    }
  }
  return Error::invalid(
      "--init: no init binary found: install docker-init or tini-static (tini) on the host");
}

Result<void> validate_host_config(const json& hc, const Config& engine_config) {
  // Restart policy.
  if (auto it = hc.find("RestartPolicy"); it != hc.end() && it->is_object()) {
    std::string name = str_of(*it, "Name");
    int64_t max = int_of(*it, "MaximumRetryCount");
    if (name != "" && name != "no" && name != "always" && name != "on-failure" &&
        name != "unless-stopped")
      return Error::invalid("invalid restart policy: unknown policy '" + name +
                            "'; use one of 'no', 'always', 'on-failure', or 'unless-stopped'");
    if (max < 0)
      return Error::invalid("invalid restart policy: maximum retry count cannot be negative");
    if (max > 0 && name != "on-failure")
      return Error::invalid(
          "invalid restart policy: maximum retry count can only be used with 'on-failure'");
    if (bool_of(hc, "AutoRemove") && name != "" && name != "no")
      return Error::invalid("can't create 'AutoRemove' container with restart policy");
  }
  // Resources.
  int64_t mem = int_of(hc, "Memory"), swap = int_of(hc, "MemorySwap");
  if (mem < 0) return Error::invalid("invalid memory limit: must be positive");
  if (mem > 0 && mem < kMinMemory) return Error::invalid("Minimum memory limit allowed is 6MB");
  if (swap > 0 && mem == 0)
    return Error::invalid(
        "You should always set the Memory limit when using Memoryswap limit, see usage");
  if (swap > 0 && swap < mem)
    return Error::invalid("Minimum memoryswap limit should be larger than memory limit, see usage");
  int64_t nano = int_of(hc, "NanoCpus");
  if (nano != 0 && int_of(hc, "CpuPeriod") != 0)
    return Error::invalid("Conflicting options: Nano CPUs and CPU Period cannot both be set");
  if (nano != 0 && int_of(hc, "CpuQuota") != 0)
    return Error::invalid("Conflicting options: Nano CPUs and CPU Quota cannot both be set");
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (nano < 0 || nano > ncpu * 1'000'000'000LL)
    return Error::invalid("Range of CPUs is from 0.01 to " + std::to_string(ncpu) +
                          ".00, as there are only " + std::to_string(ncpu) + " CPUs available");
  if (int64_t p = int_of(hc, "CpuPeriod"); p != 0 && (p < 1000 || p > 1000000))
    return Error::invalid(
        "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s "
        "(i.e. 1000000)");
  if (int64_t q = int_of(hc, "CpuQuota"); q > 0 && q < 1000)
    return Error::invalid("CPU cfs quota can not be less than 1ms (i.e. 1000)");
  // Runtime.
  std::string runtime = str_of(hc, "Runtime");
  if (!runtime.empty() && !engine_config.runtimes.count(runtime))
    return Error::invalid("unknown or invalid runtime name: " + runtime);
  // Network: until networks land, "none" (the default) and "host".
  std::string net = str_of(hc, "NetworkMode");
  if (!net.empty() && net != "default" && net != "none" && net != "bridge" && net != "host")
    return Error::not_found("network " + net + " not found");
  for (const char* key : {"PidMode", "IpcMode", "UTSMode"}) {
    std::string v = str_of(hc, key);
    if (!v.empty() && v != "host" && v != "private" && v != "shareable" &&
        !(std::string_view(key) == "IpcMode" && v == "none"))
      return Error::invalid(std::string("invalid ") + key + ": " + v +
                            " (sharing another container's namespace is not supported yet)");
  }
  for (const auto& b : strings_of(hc, "Binds")) BERTH_TRY(parse_bind(b));
  for (const auto& c : strings_of(hc, "CapAdd")) BERTH_TRY(normalize_cap(c));
  for (const auto& c : strings_of(hc, "CapDrop")) BERTH_TRY(normalize_cap(c));
  if (auto it = hc.find("Init"); it != hc.end() && it->is_boolean() && it->get<bool>())
    BERTH_TRY(find_init_binary());
  if (auto it = hc.find("LogConfig"); it != hc.end() && it->is_object()) {
    std::string type = str_of(*it, "Type");
    if (!type.empty() && type != "json-file" && type != "none")
      return Error::invalid("logging driver \"" + type + "\" is not supported (only json-file)");
    if (type != "none") BERTH_TRY(validate_log_opts(get_or(*it, "Config", json::object())));
  }
  return ok();
}

Result<void> apply_host_config(const json& hc, const json& /*config*/, const SpecContext& ctx,
                               oci::Spec& spec, json& mounts_out, std::vector<HostDir>& dirs_out) {
  if (!spec.process || !spec.linux) return Error::internal("the image spec has no process");
  if (!spec.process->capabilities) spec.process->capabilities.emplace();
  spec.linux->cgroups_path = "/berth/" + ctx.id;
  // Older runtimes refuse a spec version they do not know (crun 1.8: "unknown version
  // specified"); nothing the engine writes needs more than 1.1.
  if (ctx.runtime != "berth") spec.oci_version = "1.1.0";

  // Files docker bind-mounts into every container.
  for (const char* f : {"resolv.conf", "hostname", "hosts"}) {
    remove_mount_at(spec, std::string("/etc/") + f);
    spec.mounts.push_back(oci::Mount{.destination = std::string("/etc/") + f,
                                     .type = "bind",
                                     .source = ctx.dir + "/" + f,
                                     .options = {"rbind", "rprivate"}});
  }
  std::set<std::string> dests;
  BERTH_TRY(apply_binds(hc, ctx, spec, mounts_out, dests, dirs_out));
  BERTH_TRY(apply_mounts(hc, ctx, spec, mounts_out, dests, dirs_out));
  BERTH_TRY(apply_tmpfs(hc, spec, dests));
  BERTH_TRY(apply_capabilities(hc, spec));
  if (bool_of(hc, "Privileged")) apply_privileged(spec);
  std::string seccomp_opt;
  BERTH_TRY(apply_security_opts(hc, spec, seccomp_opt));
  BERTH_TRY(apply_seccomp(hc, seccomp_opt, ctx.seccomp_profile, spec));
  BERTH_TRY(apply_resources(hc, spec));
  BERTH_TRY(apply_ulimits(hc, spec));
  BERTH_TRY(apply_devices(hc, spec));
  BERTH_TRY(apply_namespaces(hc, spec));
  apply_shm_size(hc, spec);
  apply_group_add(hc, spec);
  BERTH_TRY(apply_init(hc, spec));
  // The client's terminal size from the start (docker 23+ sends it here, not in a resize).
  if (auto it = hc.find("ConsoleSize");
      spec.process->terminal && it != hc.end() && it->is_array() && it->size() == 2 &&
      (*it)[0].is_number_unsigned() && (*it)[1].is_number_unsigned() && (*it)[0] != 0)
    spec.process->console_size =
        oci::ConsoleSize{.height = (*it)[0].get<unsigned>(), .width = (*it)[1].get<unsigned>()};
  return ok();
}

}  // namespace berth::engine
