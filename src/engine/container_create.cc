// POST /containers/create: check the request, resolve the image, write the bundle and the
// files docker bind-mounts (/etc/hostname, hosts, resolv.conf), record the container.
// A failure at any step undoes the earlier ones: nothing is left half-created.
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <regex>

#include "engine/containers_internal.h"
#include "oci/spec.h"
#include "sys/remove.h"
#include "util/log.h"
#include "util/strings.h"

namespace berth::engine {
namespace {

// The JSON types docker's Go structs accept, for its "cannot unmarshal" messages.
enum class T { Str, Bool, Int, StrList, StrSlice, Map, Object, Array, BoolOrNull, IntOrNull };

struct Field {
  const char* name;
  T type;
};

constexpr Field kConfigFields[] = {
    {"Hostname", T::Str},         {"Domainname", T::Str},    {"User", T::Str},
    {"AttachStdin", T::Bool},     {"AttachStdout", T::Bool}, {"AttachStderr", T::Bool},
    {"ExposedPorts", T::Object},  {"Tty", T::Bool},          {"OpenStdin", T::Bool},
    {"StdinOnce", T::Bool},       {"Env", T::StrList},       {"Cmd", T::StrSlice},
    {"Healthcheck", T::Object},   {"ArgsEscaped", T::Bool},  {"Image", T::Str},
    {"Volumes", T::Object},       {"WorkingDir", T::Str},    {"Entrypoint", T::StrSlice},
    {"NetworkDisabled", T::Bool}, {"MacAddress", T::Str},    {"OnBuild", T::StrList},
    {"Labels", T::Map},           {"StopSignal", T::Str},    {"StopTimeout", T::IntOrNull},
    {"Shell", T::StrList},        {"HostConfig", T::Object}, {"NetworkingConfig", T::Object},
};

constexpr Field kHostConfigFields[] = {
    {"Binds", T::StrList},
    {"ContainerIDFile", T::Str},
    {"LogConfig", T::Object},
    {"NetworkMode", T::Str},
    {"PortBindings", T::Object},
    {"RestartPolicy", T::Object},
    {"AutoRemove", T::Bool},
    {"VolumeDriver", T::Str},
    {"VolumesFrom", T::StrList},
    {"ConsoleSize", T::Array},
    {"Annotations", T::Map},
    {"CapAdd", T::StrList},
    {"CapDrop", T::StrList},
    {"CgroupnsMode", T::Str},
    {"Dns", T::StrList},
    {"DnsOptions", T::StrList},
    {"DnsSearch", T::StrList},
    {"ExtraHosts", T::StrList},
    {"GroupAdd", T::StrList},
    {"IpcMode", T::Str},
    {"Cgroup", T::Str},
    {"Links", T::StrList},
    {"OomScoreAdj", T::Int},
    {"PidMode", T::Str},
    {"Privileged", T::Bool},
    {"PublishAllPorts", T::Bool},
    {"ReadonlyRootfs", T::Bool},
    {"SecurityOpt", T::StrList},
    {"StorageOpt", T::Map},
    {"Tmpfs", T::Map},
    {"UTSMode", T::Str},
    {"UsernsMode", T::Str},
    {"ShmSize", T::Int},
    {"Sysctls", T::Map},
    {"Runtime", T::Str},
    {"Isolation", T::Str},
    {"CpuShares", T::Int},
    {"Memory", T::Int},
    {"NanoCpus", T::Int},
    {"CgroupParent", T::Str},
    {"BlkioWeight", T::Int},
    {"CpuPeriod", T::Int},
    {"CpuQuota", T::Int},
    {"CpuRealtimePeriod", T::Int},
    {"CpuRealtimeRuntime", T::Int},
    {"CpusetCpus", T::Str},
    {"CpusetMems", T::Str},
    {"Devices", T::Array},
    {"DeviceCgroupRules", T::StrList},
    {"MemoryReservation", T::Int},
    {"MemorySwap", T::Int},
    {"MemorySwappiness", T::IntOrNull},
    {"OomKillDisable", T::BoolOrNull},
    {"PidsLimit", T::IntOrNull},
    {"Ulimits", T::Array},
    {"Init", T::BoolOrNull},
    {"Mounts", T::Array},
    {"MaskedPaths", T::StrList},
    {"ReadonlyPaths", T::StrList},
};

const char* go_type(T t) {
  switch (t) {
    case T::Str: return "string";
    case T::Bool:
    case T::BoolOrNull: return "bool";
    case T::Int:
    case T::IntOrNull: return "int64";
    case T::StrList: return "[]string";
    case T::StrSlice: return "strslice.StrSlice";
    case T::Map: return "map[string]string";
    case T::Object: return "struct";
    case T::Array: return "[]";
  }
  return "";
}

const char* json_type(const json& v) {
  if (v.is_string()) return "string";
  if (v.is_boolean()) return "bool";
  if (v.is_number()) return "number";
  if (v.is_array()) return "array";
  if (v.is_object()) return "object";
  return "null";
}

bool all_strings(const json& v) {
  return std::all_of(v.begin(), v.end(), [](const json& e) { return e.is_string(); });
}

bool type_ok(const json& v, T t) {
  if (v.is_null()) return true;  // Go leaves the zero value
  switch (t) {
    case T::Str: return v.is_string();
    case T::Bool:
    case T::BoolOrNull: return v.is_boolean();
    case T::Int:
    case T::IntOrNull: return v.is_number_integer();
    case T::StrList: return v.is_array() && all_strings(v);
    case T::StrSlice: return v.is_string() || (v.is_array() && all_strings(v));
    case T::Map: return v.is_object() && all_strings(v);
    case T::Object: return v.is_object();
    case T::Array: return v.is_array();
  }
  return false;
}

template <size_t N>
Result<void> check_fields(const json& obj, const Field (&fields)[N], const char* go_struct) {
  for (const Field& f : fields) {
    auto it = obj.find(f.name);
    if (it == obj.end() || type_ok(*it, f.type)) continue;
    return Error::invalid(std::string("json: cannot unmarshal ") + json_type(*it) +
                          " into Go struct field " + go_struct + "." + f.name + " of type " +
                          go_type(f.type));
  }
  return ok();
}

// docker's container names: ^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$
bool valid_name(std::string_view n) {
  if (n.starts_with("/")) n.remove_prefix(1);
  if (n.size() < 2) return false;
  for (size_t i = 0; i < n.size(); i++) {
    char ch = n[i];
    bool alnum = isalnum(static_cast<unsigned char>(ch));
    if (!(alnum || (i > 0 && (ch == '_' || ch == '.' || ch == '-')))) return false;
  }
  return true;
}

// "busybox" -> "busybox:latest" as docker names a missing image; IDs and digests as given.
std::string familiar_with_tag(const std::string& ref) {
  if (ref.find('@') != std::string::npos || ref.starts_with("sha256:")) return ref;
  size_t slash = ref.rfind('/');
  if (ref.find(':', slash == std::string::npos ? 0 : slash) != std::string::npos) return ref;
  return ref + ":latest";
}

std::string random_id() {
  for (;;) {
    unsigned char b[32];
    (void)getrandom(b, sizeof b, 0);
    static const char* hex = "0123456789abcdef";
    std::string id;
    for (unsigned char ch : b) {
      id += hex[ch >> 4];
      id += hex[ch & 15];
    }
    // docker avoids IDs whose short form is all digits (it would read as a number).
    if (!std::all_of(id.begin(), id.begin() + 12, ::isdigit)) return id;
  }
}

std::optional<std::vector<std::string>> strslice(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return std::vector<std::string>{it->get<std::string>()};
  return it->get<std::vector<std::string>>();
}

void merge_env(std::vector<std::string>& env, const std::string& kv) {
  std::string_view key = std::string_view(kv).substr(0, kv.find('='));
  for (auto& e : env)
    if (std::string_view(e).substr(0, e.find('=')) == key) {
      e = kv;
      return;
    }
  env.push_back(kv);
}

json object_of(const std::vector<std::string>& keys) {
  json o = json::object();
  for (const auto& k : keys) o[k] = json::object();
  return o;
}

// docker's Config as inspect shows it: the request merged with the image's config.
json merged_config(const json& body, const image::Image& img, const std::string& id) {
  const auto& ic = img.config.config;
  json c = json::object();
  for (const auto& [k, v] : body.items())
    if (k != "HostConfig" && k != "NetworkingConfig") c[k] = v;
  auto entrypoint = strslice(body, "Entrypoint");
  auto cmd = strslice(body, "Cmd");
  if (!entrypoint) {
    if (ic.entrypoint) entrypoint = ic.entrypoint;
    if (!cmd) cmd = ic.cmd;
  }
  c["Entrypoint"] = entrypoint ? json(*entrypoint) : json(nullptr);
  c["Cmd"] = cmd ? json(*cmd) : json(nullptr);
  std::vector<std::string> env = ic.env;
  for (const auto& e : get_or(body, "Env", std::vector<std::string>{})) merge_env(env, e);
  c["Env"] = env;
  if (get_or(c, "Hostname", "").empty()) c["Hostname"] = id.substr(0, 12);
  for (const char* k : {"Domainname", "User"})
    if (!c.contains(k) || c[k].is_null()) c[k] = "";
  if (c["User"] == "") c["User"] = ic.user;
  if (get_or(c, "WorkingDir", "").empty()) c["WorkingDir"] = ic.working_dir;
  for (const char* k :
       {"AttachStdin", "AttachStdout", "AttachStderr", "Tty", "OpenStdin", "StdinOnce"})
    if (!c.contains(k) || c[k].is_null()) c[k] = false;
  json labels = json::object();
  for (const auto& [k, v] : ic.labels) labels[k] = v;
  if (body.contains("Labels") && body["Labels"].is_object())
    for (const auto& [k, v] : body["Labels"].items()) labels[k] = v;
  c["Labels"] = labels;
  json ports = object_of(ic.exposed_ports);
  if (body.contains("ExposedPorts") && body["ExposedPorts"].is_object())
    ports.update(body["ExposedPorts"]);
  if (!ports.empty()) c["ExposedPorts"] = ports;
  json vols = object_of(ic.volumes);
  if (body.contains("Volumes") && body["Volumes"].is_object()) vols.update(body["Volumes"]);
  c["Volumes"] = vols.empty() ? json(nullptr) : vols;
  if (!c.contains("OnBuild")) c["OnBuild"] = nullptr;
  if (get_or(c, "StopSignal", "").empty() && !ic.stop_signal.empty())
    c["StopSignal"] = ic.stop_signal;
  return c;
}

json normalized_host_config(const json& req, const Config& engine_config) {
  json hc = host_config_defaults();
  for (const auto& [k, v] : req.items())
    if (!v.is_null()) hc[k] = v;
  std::string net = get_or(hc, "NetworkMode", "");
  if (net.empty() || net == "default" || net == "bridge") hc["NetworkMode"] = "none";
  if (!hc["RestartPolicy"].is_object()) hc["RestartPolicy"] = json::object();
  if (get_or(hc["RestartPolicy"], "Name", "").empty()) hc["RestartPolicy"]["Name"] = "no";
  if (!hc["RestartPolicy"].contains("MaximumRetryCount"))
    hc["RestartPolicy"]["MaximumRetryCount"] = 0;
  if (get_or(hc, "Runtime", "").empty()) hc["Runtime"] = engine_config.default_runtime;
  int64_t mem = get_or(hc, "Memory", int64_t{0});
  if (mem > 0 && get_or(hc, "MemorySwap", int64_t{0}) == 0) hc["MemorySwap"] = 2 * mem;
  if (get_or(hc, "ShmSize", int64_t{0}) <= 0) hc["ShmSize"] = 64 * 1024 * 1024;
  // The docker CLI sends {"Type":"","Config":{...}} for --log-opt without --log-driver: the
  // default driver, with those options.
  json& lc = hc["LogConfig"];
  if (!lc.is_object()) lc = json::object();
  if (get_or(lc, "Type", "").empty()) lc["Type"] = "json-file";
  if (!lc.contains("Config") || !lc["Config"].is_object()) lc["Config"] = json::object();
  return hc;
}

// /etc/resolv.conf for the container: the host's, without loopback name servers (they are
// unreachable from a network namespace of its own), with --dns/--dns-search/--dns-option.
std::string resolv_conf(const json& hc) {
  bool host_net = get_or(hc, "NetworkMode", "") == "host";
  std::string host = read_file("/etc/resolv.conf", 1 << 20).value_or(std::string());
  std::vector<std::string> ns, search, options, other;
  for (std::string_view line : split(host, '\n')) {
    auto f = split_fields(line);
    if (f.empty() || f[0].starts_with("#") || f[0].starts_with(";")) continue;
    if (f[0] == "nameserver" && f.size() > 1) {
      std::string addr(f[1]);
      if (!host_net && (addr.starts_with("127.") || addr == "::1")) continue;
      ns.push_back(addr);
    } else if ((f[0] == "search" || f[0] == "domain") && f.size() > 1) {
      search.assign(f.begin() + 1, f.end());
    } else if (f[0] == "options") {
      options.assign(f.begin() + 1, f.end());
    }
  }
  auto list = [&](const char* key) {
    std::vector<std::string> v;
    if (hc.contains(key) && hc[key].is_array())
      for (const auto& e : hc[key])
        if (e.is_string()) v.push_back(e.get<std::string>());
    return v;
  };
  if (auto d = list("Dns"); !d.empty()) ns = d;
  if (auto d = list("DnsSearch"); !d.empty()) search = d;
  if (auto d = list("DnsOptions"); !d.empty()) options = d;
  std::string out;
  for (const auto& n : ns) out += "nameserver " + n + "\n";
  auto join = [](const std::vector<std::string>& v) {
    std::string s;
    for (const auto& e : v) s += " " + e;
    return s;
  };
  if (!search.empty()) out += "search" + join(search) + "\n";
  if (!options.empty()) out += "options" + join(options) + "\n";
  return out;
}

std::string hosts_file(const json& hc) {
  std::string out;
  if (get_or(hc, "NetworkMode", "") == "host") {
    out = read_file("/etc/hosts", 1 << 20).value_or(std::string());
  } else {
    out =
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
        "fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\n"
        "ff02::2\tip6-allrouters\n";
  }
  if (hc.contains("ExtraHosts") && hc["ExtraHosts"].is_array())
    for (const auto& e : hc["ExtraHosts"]) {
      if (!e.is_string()) continue;
      std::string s = e.get<std::string>();
      size_t colon = s.find(':');
      if (colon == std::string::npos) continue;
      out += s.substr(colon + 1) + "\t" + s.substr(0, colon) + "\n";
    }
  return out;
}

Result<void> write_etc_files(const std::string& dir, const json& hc, const std::string& hostname) {
  BERTH_TRY(write_file_atomic(dir + "/hostname", hostname + "\n", 0644, false));
  BERTH_TRY(write_file_atomic(dir + "/hosts", hosts_file(hc), 0644, false));
  BERTH_TRY(write_file_atomic(dir + "/resolv.conf", resolv_conf(hc), 0644, false));
  return ok();
}

// GraphDriver.Data from the snapshot's overlay options.
void driver_dirs(image::ImageService& images, const std::string& key, Origin& o) {
  auto mounts = images.snapshots().mounts(key);
  if (!mounts || mounts->empty()) return;
  for (const auto& opt : mounts->front().options) {
    if (opt.starts_with("lowerdir=")) o.driver_lower = opt.substr(9);
    if (opt.starts_with("upperdir=")) o.driver_upper = opt.substr(9);
    if (opt.starts_with("workdir=")) o.driver_work = opt.substr(8);
  }
  if (o.driver_upper.empty()) o.driver_upper = images.snapshots().upper_path(key);
}

image::BundleOptions bundle_options(const json& body, const json& config) {
  image::BundleOptions b;
  b.entrypoint = strslice(body, "Entrypoint");
  b.cmd = strslice(body, "Cmd");
  b.env = get_or(body, "Env", std::vector<std::string>{});
  std::string user = get_or(body, "User", "");
  if (!user.empty()) b.user = user;
  std::string wd = get_or(body, "WorkingDir", "");
  if (!wd.empty()) b.working_dir = wd;
  b.hostname = get_or(config, "Hostname", "");
  b.tty = get_or(body, "Tty", false);
  const json& hc = body.contains("HostConfig") && body["HostConfig"].is_object()
                       ? body["HostConfig"]
                       : json::object();
  b.read_only = get_or(hc, "ReadonlyRootfs", false);
  return b;
}

}  // namespace

json host_config_defaults() {
  return json{{"Binds", nullptr},
              {"ContainerIDFile", ""},
              {"LogConfig", {{"Type", "json-file"}, {"Config", json::object()}}},
              {"NetworkMode", "none"},
              {"PortBindings", json::object()},
              {"RestartPolicy", {{"Name", "no"}, {"MaximumRetryCount", 0}}},
              {"AutoRemove", false},
              {"VolumeDriver", ""},
              {"VolumesFrom", nullptr},
              {"ConsoleSize", {0, 0}},
              {"CapAdd", nullptr},
              {"CapDrop", nullptr},
              {"CgroupnsMode", "private"},
              {"Dns", json::array()},
              {"DnsOptions", json::array()},
              {"DnsSearch", json::array()},
              {"ExtraHosts", nullptr},
              {"GroupAdd", nullptr},
              {"IpcMode", "private"},
              {"Cgroup", ""},
              {"Links", nullptr},
              {"OomScoreAdj", 0},
              {"PidMode", ""},
              {"Privileged", false},
              {"PublishAllPorts", false},
              {"ReadonlyRootfs", false},
              {"SecurityOpt", nullptr},
              {"UTSMode", ""},
              {"UsernsMode", ""},
              {"ShmSize", 67108864},
              {"Runtime", ""},
              {"Isolation", ""},
              {"CpuShares", 0},
              {"Memory", 0},
              {"NanoCpus", 0},
              {"CgroupParent", ""},
              {"BlkioWeight", 0},
              {"BlkioWeightDevice", json::array()},
              {"BlkioDeviceReadBps", json::array()},
              {"BlkioDeviceWriteBps", json::array()},
              {"BlkioDeviceReadIOps", json::array()},
              {"BlkioDeviceWriteIOps", json::array()},
              {"CpuPeriod", 0},
              {"CpuQuota", 0},
              {"CpuRealtimePeriod", 0},
              {"CpuRealtimeRuntime", 0},
              {"CpusetCpus", ""},
              {"CpusetMems", ""},
              {"Devices", json::array()},
              {"DeviceCgroupRules", nullptr},
              {"DeviceRequests", nullptr},
              {"MemoryReservation", 0},
              {"MemorySwap", 0},
              {"MemorySwappiness", nullptr},
              {"OomKillDisable", nullptr},
              {"PidsLimit", nullptr},
              {"Ulimits", json::array()},
              {"CpuCount", 0},
              {"CpuPercent", 0},
              {"IOMaximumIOps", 0},
              {"IOMaximumBandwidth", 0},
              {"MaskedPaths", json::array()},
              {"ReadonlyPaths", json::array()}};
}

Result<CreateResult> ContainerService::Impl::create(const std::string& req_name, const json& body) {
  if (!body.is_object() || body.empty())
    return Error::invalid("Config cannot be empty in order to create a container");
  BERTH_TRY(check_fields(body, kConfigFields, "ContainerConfigWrapper"));
  json hc_req = body.contains("HostConfig") && body["HostConfig"].is_object() ? body["HostConfig"]
                                                                              : json::object();
  BERTH_TRY(check_fields(hc_req, kHostConfigFields, "ContainerConfigWrapper.HostConfig"));
  std::string name = req_name;
  if (!name.empty()) {
    if (!valid_name(name))
      return Error::invalid("Invalid container name (" + name +
                            "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    if (name[0] == '/') name.erase(0, 1);
  }
  std::string image_ref = get_or(body, "Image", "");
  if (image_ref.empty()) return Error::invalid("invalid reference format");
  BERTH_TRY(validate_host_config(hc_req, config));
  auto resolved = images.resolve(image_ref);
  if (!resolved && resolved.error().kind() == ErrorKind::NotFound)
    return Error::not_found("No such image: " + familiar_with_tag(image_ref));
  image::Image img = BERTH_TRY(std::move(resolved));

  std::string id = random_id();
  if (name.empty()) name = generate_name();
  BERTH_TRY(reserve_name(name, id));

  auto c = std::make_shared<Ctr>();
  c->id = id;
  c->name = name;
  c->created_ns = now_ns();
  c->dir = config.data_root + "/containers/" + id;
  c->config = merged_config(body, img, id);
  c->host_config = normalized_host_config(hc_req, config);
  c->origin.image = image_ref;
  c->origin.image_id = img.record.config.str();
  c->origin.runtime = get_or(c->host_config, "Runtime", config.default_runtime);
  c->origin.snapshot_key = id;
  if (body.contains("NetworkingConfig") && body["NetworkingConfig"].is_object())
    c->origin.networking_config = body["NetworkingConfig"];

  const std::string bundle = c->dir + "/bundle";
  bool bundle_made = false;
  std::vector<std::string> host_dirs_made;
  auto do_steps = [&]() -> Result<void> {
    if (mkdir(c->dir.c_str(), 0710) != 0) return Error::sys("create " + berth::quoted(c->dir));
    oci::Spec spec = BERTH_TRY(
        images.create_bundle(img, c->origin.snapshot_key, bundle, bundle_options(body, c->config)));
    bundle_made = true;
    const auto& args = spec.process->args;
    c->origin.path = args.front();
    c->origin.args.assign(args.begin() + 1, args.end());
    json mounts = json::array();
    SpecContext ctx{.id = id,
                    .dir = c->dir,
                    .data_root = config.data_root,
                    .tty = c->tty(),
                    .runtime = c->origin.runtime,
                    .seccomp_profile = config.seccomp_profile};
    std::vector<HostDir> host_dirs;
    BERTH_TRY(apply_host_config(c->host_config, c->config, ctx, spec, mounts, host_dirs));
    c->origin.mounts = std::move(mounts);
    BERTH_TRY(
        write_etc_files(c->dir, c->host_config,
                        spec.hostname.empty() ? get_or(c->config, "Hostname", "") : spec.hostname));
    BERTH_TRY(write_file_atomic(bundle + "/config.json", oci::to_json(spec), 0644, false));
    driver_dirs(images, c->origin.snapshot_key, c->origin);
    // Last: every check has passed. A failure from here on removes what was made.
    BERTH_TRY(make_host_dirs(host_dirs, host_dirs_made));
    ContainerRow row{.id = id,
                     .name = name,
                     .created_ns = c->created_ns,
                     .config = c->config.dump(),
                     .host_config = c->host_config.dump(),
                     .state = state_to_json(c->st, c->origin).dump()};
    auto ins = store.insert(row);
    if (!ins && ins.error().kind() == ErrorKind::Conflict)
      return Error::conflict("Conflict. The container name \"/" + name +
                             "\" is already in use by container \"" + ins.error().message() +
                             "\". You have to remove (or rename) that container to be able to "
                             "reuse that name.");
    return ins;
  };
  auto steps = [&]() -> Result<void> {
    try {
      return do_steps();
    } catch (const std::exception& e) {  // nothing half-created on any failure
      return Error::internal(std::string("internal error: ") + e.what());
    }
  }();
  if (!steps) {
    remove_host_dirs(host_dirs_made);
    if (bundle_made) (void)images.remove_bundle(c->origin.snapshot_key, bundle);
    (void)sys::remove_tree(c->dir);
    release_name(name, id);
    return std::move(steps).error();
  }
  {
    std::lock_guard lk(mu);
    by_id[id] = c;
  }
  std::lock_guard lk(c->mu);
  event(*c, "create");
  return CreateResult{.id = id, .warnings = {}};
}

Result<std::shared_ptr<ContainerService::Ctr>> ContainerService::Impl::load(
    const ContainerRow& row) {
  auto c = std::make_shared<Ctr>();
  c->id = row.id;
  c->name = row.name;
  c->created_ns = row.created_ns;
  c->dir = config.data_root + "/containers/" + row.id;
  c->config = json::parse(row.config, nullptr, false);
  c->host_config = json::parse(row.host_config, nullptr, false);
  json st = json::parse(row.state, nullptr, false);
  if (c->config.is_discarded() || c->host_config.is_discarded() || st.is_discarded())
    return Error(ErrorKind::Io, 0, "berth.db: container " + row.id + ": corrupt JSON");
  state_from_json(st, c->st, c->origin);
  c->exit_on_next = c->st.manually_stopped;
  return c;
}

}  // namespace berth::engine
