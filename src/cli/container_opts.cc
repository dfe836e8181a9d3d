#include "cli/container_opts.h"

#include <cstdlib>
#include <map>

#include "cli/format.h"
#include "util/fd.h"

namespace berth::cli {

void add_container_flags(CLI::App* cmd, ContainerOpts& o, bool is_run) {
  add_multi(cmd, "-e,--env", o.env, "Set environment variables");
  add_multi(cmd, "--env-file", o.env_file, "Read in a file of environment variables");
  add_multi(cmd, "-v,--volume", o.volumes, "Bind mount a volume");
  add_multi(cmd, "--tmpfs", o.tmpfs, "Mount a tmpfs directory");
  add_multi(cmd, "-l,--label", o.labels, "Set meta data on a container");
  add_multi(cmd, "--cap-add", o.cap_add, "Add Linux capabilities");
  add_multi(cmd, "--cap-drop", o.cap_drop, "Drop Linux capabilities");
  add_multi(cmd, "--ulimit", o.ulimits, "Ulimit options");
  add_multi(cmd, "--security-opt", o.security_opt, "Security Options");
  add_multi(cmd, "-a,--attach", o.attach, "Attach to STDIN, STDOUT or STDERR");
  add_multi(cmd, "-p,--publish", o.publish, "Publish a container's port(s) to the host");
  add_multi(cmd, "--dns", o.dns, "Set custom DNS servers");
  add_multi(cmd, "--add-host", o.add_host, "Add a custom host-to-IP mapping (host:ip)");
  add_multi(cmd, "--device", o.devices, "Add a host device to the container");
  add_multi(cmd, "--group-add", o.group_add, "Add additional groups to join");
  cmd->add_option("--name", o.name, "Assign a name to the container");
  cmd->add_option("-w,--workdir", o.workdir, "Working directory inside the container");
  cmd->add_option("-u,--user", o.user, "Username or UID (format: <name|uid>[:<group|gid>])");
  cmd->add_option("--entrypoint", o.entrypoint, "Overwrite the default ENTRYPOINT of the image")
      ->each([&o](const std::string&) { o.entrypoint_set = true; });
  cmd->add_option("--restart", o.restart, "Restart policy to apply when a container exits");
  cmd->add_option("-m,--memory", o.memory, "Memory limit");
  cmd->add_option("--memory-swap", o.memory_swap, "Swap limit equal to memory plus swap");
  cmd->add_option("--cpus", o.cpus, "Number of CPUs");
  cmd->add_option("--pids-limit", o.pids_limit, "Tune container pids limit (set -1 for unlimited)");
  cmd->add_option("--runtime", o.runtime, "Runtime to use for this container");
  cmd->add_option("--network,--net", o.network, "Connect a container to a network");
  cmd->add_option("-h,--hostname", o.hostname, "Container host name");
  cmd->add_option("--stop-signal", o.stop_signal, "Signal to stop the container");
  cmd->add_option("--stop-timeout", o.stop_timeout, "Timeout (in seconds) to stop a container");
  cmd->add_option("--platform", o.platform, "Set platform if server is multi-platform capable");
  cmd->add_option("--pull", o.pull,
                  "Pull image before running (\"always\", \"missing\", \"never\")");
  cmd->add_option("--cidfile", o.cidfile, "Write the container ID to the file");
  cmd->add_option("--shm-size", o.shm_size, "Size of /dev/shm");
  cmd->add_option("--ipc", o.ipc, "IPC mode to use");
  cmd->add_option("--pid", o.pid, "PID namespace to use");
  cmd->add_flag("-i,--interactive", o.interactive, "Keep STDIN open even if not attached");
  cmd->add_flag("-t,--tty", o.tty, "Allocate a pseudo-TTY");
  cmd->add_flag("--rm", o.rm, "Automatically remove the container when it exits");
  cmd->add_flag("--privileged", o.privileged, "Give extended privileges to this container");
  cmd->add_flag("--read-only", o.read_only, "Mount the container's root filesystem as read only");
  cmd->add_flag("--init", o.init,
                "Run an init inside the container that forwards signals and reaps processes");
  cmd->add_flag("-q,--quiet", o.quiet, "Suppress the pull output");
  if (is_run) {
    cmd->add_flag("-d,--detach", o.detach, "Run container in background and print container ID");
    cmd->add_flag("--sig-proxy", o.sig_proxy, "Proxy received signals to the process");
  }
}

// KEY=VALUE as given, or KEY alone taken from our environment (dropped when unset).
void add_env(Json& env, const std::string& kv) {
  if (kv.find('=') != std::string::npos) {
    env.push_back(kv);
  } else if (const char* v = std::getenv(kv.c_str())) {
    env.push_back(kv + "=" + v);
  }
}

Result<void> read_env_file(Json& env, const std::string& path) {
  std::string text = BERTH_TRY_CTX(read_file(path), "open " + path);
  size_t i = 0;
  while (i <= text.size()) {
    size_t nl = text.find('\n', i);
    std::string line = text.substr(i, nl == std::string::npos ? std::string::npos : nl - i);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    size_t k = line.find_first_not_of(" \t");
    if (k != std::string::npos && line[k] != '#') {
      line.erase(0, k);
      if (line.find('=') == 0) return Error::invalid("invalid environment variable: " + line);
      add_env(env, line);
    }
    if (nl == std::string::npos) break;
    i = nl + 1;
  }
  return ok();
}

namespace {

// "name[:count]"; the daemon judges the name (docker's CLI leaves that to it too).
Result<Json> restart_policy(const std::string& s) {
  Json p = {{"Name", s.substr(0, s.find(':'))}, {"MaximumRetryCount", 0}};
  if (size_t c = s.find(':'); c != std::string::npos) {
    char* end = nullptr;
    long n = std::strtol(s.c_str() + c + 1, &end, 10);
    if (*end != '\0' || end == s.c_str() + c + 1) {
      return Error::invalid("maximum retry count must be an integer");
    }
    p["MaximumRetryCount"] = n;
  }
  return p;
}

Result<Json> ulimit(const std::string& s) {
  size_t eq = s.find('=');
  if (eq == std::string::npos) return Error::invalid("invalid ulimit argument: " + s);
  std::string name = s.substr(0, eq), vals = s.substr(eq + 1);
  std::string soft = vals.substr(0, vals.find(':'));
  std::string hard = vals.find(':') == std::string::npos ? soft : vals.substr(vals.find(':') + 1);
  char* e1 = nullptr;
  char* e2 = nullptr;
  long long sv = std::strtoll(soft.c_str(), &e1, 10), hv = std::strtoll(hard.c_str(), &e2, 10);
  if (*e1 || *e2 || soft.empty() || hard.empty())
    return Error::invalid("invalid ulimit argument: " + s);
  if (sv > hv)
    return Error::invalid("ulimit soft limit must be less than or equal to hard limit: " + soft +
                          " > " + hard);
  return Json{{"Name", name}, {"Hard", hv}, {"Soft", sv}};
}

// --security-opt as docker's CLI sends it: a seccomp profile file is read here and its JSON
// sent inline (the daemon may not see the client's files); unconfined/builtin pass as names.
Result<Json> security_opts(const std::vector<std::string>& opts) {
  Json out = Json::array();
  for (const auto& opt : opts) {
    if (opt == "no-new-privileges") {
      out.push_back(opt);
      continue;
    }
    size_t sep = opt.find('=');
    if (sep == std::string::npos) sep = opt.find(':');  // the old "key:value" form
    if (sep == std::string::npos) return Error::invalid("invalid --security-opt: \"" + opt + "\"");
    std::string key = opt.substr(0, sep), value = opt.substr(sep + 1);
    if (key != "seccomp" || value == "unconfined" || value == "builtin") {
      out.push_back(opt);
      continue;
    }
    auto text = read_file(value);
    if (!text)
      return Error::invalid("opening seccomp profile (" + value +
                            ") failed: " + text.error().what());
    Json profile = Json::parse(*text, nullptr, false);
    if (profile.is_discarded())
      return Error::invalid("compacting json for seccomp profile (" + value +
                            ") failed: not valid JSON");
    out.push_back("seccomp=" + profile.dump());
  }
  return out;
}

}  // namespace

Result<Json> create_body(const ContainerOpts& o, const std::string& image,
                         const std::vector<std::string>& command, bool entrypoint_flag_given) {
  if (o.rm && o.restart != "no" && !o.restart.empty()) {
    return Error::invalid("conflicting options: cannot specify both --restart and --rm");
  }
  bool attach_stdin = false, attach_stdout = false, attach_stderr = false;
  if (!o.attach.empty()) {
    if (o.detach) return Error::invalid("Conflicting options: -a and -d");
    for (const auto& a : o.attach) {
      std::string s = a;
      for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (s == "stdin")
        attach_stdin = true;
      else if (s == "stdout")
        attach_stdout = true;
      else if (s == "stderr")
        attach_stderr = true;
      else
        return Error::invalid(
            "invalid argument \"" + a +
            "\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and STDERR");
    }
  } else if (!o.detach) {
    attach_stdout = attach_stderr = true;
    attach_stdin = o.interactive;
  }
  Json env = Json::array();
  for (const auto& f : o.env_file) BERTH_TRY(read_env_file(env, f));
  for (const auto& e : o.env) add_env(env, e);

  Json config = Json::object();
  config["Hostname"] = o.hostname;
  config["Domainname"] = "";
  config["User"] = o.user;
  config["AttachStdin"] = attach_stdin;
  config["AttachStdout"] = attach_stdout;
  config["AttachStderr"] = attach_stderr;
  config["Tty"] = o.tty;
  config["OpenStdin"] = o.interactive;
  config["StdinOnce"] = o.interactive && attach_stdin;
  config["Env"] = env;
  config["Cmd"] = command.empty() ? Json(nullptr) : Json(command);
  config["Image"] = image;
  Json volumes = Json::object();
  config["WorkingDir"] = o.workdir;
  if (!o.entrypoint.empty())
    config["Entrypoint"] = Json::array({o.entrypoint});
  else if (entrypoint_flag_given)
    config["Entrypoint"] = Json::array({""});
  else
    config["Entrypoint"] = nullptr;
  Json labels = Json::object();
  for (const auto& l : o.labels) {
    size_t eq = l.find('=');
    labels[l.substr(0, eq)] = eq == std::string::npos ? "" : l.substr(eq + 1);
  }
  config["Labels"] = labels;
  if (!o.stop_signal.empty()) config["StopSignal"] = o.stop_signal;
  if (o.stop_timeout >= 0) config["StopTimeout"] = o.stop_timeout;

  Json host = Json::object();
  Json binds = Json::array();
  for (const auto& v : o.volumes) {
    if (v.empty()) return Error::invalid("invalid empty volume spec");
    if (v.find(':') == std::string::npos) {
      volumes[v] = Json::object();  // an anonymous volume
    } else {
      binds.push_back(v);
    }
  }
  if (!volumes.empty()) config["Volumes"] = volumes;
  host["Binds"] = binds.empty() ? Json(nullptr) : binds;
  host["NetworkMode"] = o.network.empty() ? "default" : o.network;
  host["RestartPolicy"] = BERTH_TRY(restart_policy(o.restart));
  host["AutoRemove"] = o.rm;
  host["CapAdd"] = o.cap_add.empty() ? Json(nullptr) : Json(o.cap_add);
  host["CapDrop"] = o.cap_drop.empty() ? Json(nullptr) : Json(o.cap_drop);
  host["Privileged"] = o.privileged;
  host["ReadonlyRootfs"] = o.read_only;
  host["SecurityOpt"] =
      o.security_opt.empty() ? Json(nullptr) : BERTH_TRY(security_opts(o.security_opt));
  if (o.init) host["Init"] = true;
  if (!o.runtime.empty()) host["Runtime"] = o.runtime;
  if (!o.ipc.empty()) host["IpcMode"] = o.ipc;
  if (!o.pid.empty()) host["PidMode"] = o.pid;
  if (!o.dns.empty()) host["Dns"] = o.dns;
  if (!o.add_host.empty()) host["ExtraHosts"] = o.add_host;
  if (!o.group_add.empty()) host["GroupAdd"] = o.group_add;
  if (!o.tmpfs.empty()) {
    Json t = Json::object();
    for (const auto& m : o.tmpfs) {
      size_t c = m.find(':');
      t[m.substr(0, c)] = c == std::string::npos ? "" : m.substr(c + 1);
    }
    host["Tmpfs"] = t;
  }
  if (!o.memory.empty()) {
    int64_t mem = BERTH_TRY_CTX(parse_ram_size(o.memory),
                                "invalid argument \"" + o.memory + "\" for \"-m, --memory\" flag");
    host["Memory"] = mem;
  }
  if (!o.memory_swap.empty()) {
    if (o.memory_swap == "-1")
      host["MemorySwap"] = -1;
    else
      host["MemorySwap"] = BERTH_TRY(parse_ram_size(o.memory_swap));
  }
  if (!o.shm_size.empty()) host["ShmSize"] = BERTH_TRY(parse_ram_size(o.shm_size));
  if (!o.cpus.empty()) {
    char* end = nullptr;
    double c = std::strtod(o.cpus.c_str(), &end);
    if (*end != '\0' || end == o.cpus.c_str() || c < 0) {
      return Error::invalid("invalid argument \"" + o.cpus +
                            "\" for \"--cpus\" flag: failed to parse " + o.cpus +
                            " as a rational number");
    }
    host["NanoCpus"] = static_cast<int64_t>(c * 1e9 + 0.5);
  }
  if (o.pids_limit != 0) host["PidsLimit"] = o.pids_limit;
  if (!o.ulimits.empty()) {
    Json u = Json::array();
    for (const auto& s : o.ulimits) u.push_back(BERTH_TRY(ulimit(s)));
    host["Ulimits"] = u;
  }
  if (!o.devices.empty()) {
    Json d = Json::array();
    for (const auto& s : o.devices) {
      auto parts = std::vector<std::string>();
      size_t i = 0;
      for (;;) {
        size_t c = s.find(':', i);
        parts.push_back(s.substr(i, c == std::string::npos ? std::string::npos : c - i));
        if (c == std::string::npos) break;
        i = c + 1;
      }
      d.push_back({{"PathOnHost", parts[0]},
                   {"PathInContainer", parts.size() > 1 ? parts[1] : parts[0]},
                   {"CgroupPermissions", parts.size() > 2 ? parts[2] : "rwm"}});
    }
    host["Devices"] = d;
  }
  if (!o.publish.empty()) {
    Json exposed = Json::object(), bindings = Json::object();
    for (const auto& p : o.publish) {
      // [ip:]hostPort:containerPort[/proto] or containerPort[/proto]
      std::string spec = p, proto = "tcp";
      if (size_t s = spec.rfind('/'); s != std::string::npos) {
        proto = spec.substr(s + 1);
        spec = spec.substr(0, s);
      }
      std::string ip, host_port, ctr_port = spec;
      if (size_t c = spec.rfind(':'); c != std::string::npos) {
        ctr_port = spec.substr(c + 1);
        std::string rest = spec.substr(0, c);
        if (size_t c2 = rest.rfind(':'); c2 != std::string::npos) {
          ip = rest.substr(0, c2);
          host_port = rest.substr(c2 + 1);
        } else {
          host_port = rest;
        }
      }
      std::string key = ctr_port + "/" + proto;
      exposed[key] = Json::object();
      bindings[key].push_back({{"HostIp", ip}, {"HostPort", host_port}});
    }
    config["ExposedPorts"] = exposed;
    host["PortBindings"] = bindings;
  }
  Json body = config;
  body["HostConfig"] = host;
  body["NetworkingConfig"] = {{"EndpointsConfig", Json::object()}};
  return body;
}

}  // namespace berth::cli
