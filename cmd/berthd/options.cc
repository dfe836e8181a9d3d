#include "options.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <charconv>
#include <iostream>
#include <nlohmann/json.hpp>

#include "util/fd.h"
#include "util/json_escape.h"
#include "util/strings.h"

namespace berthd {

using berth::Error;
using berth::Result;
using nlohmann::json;

namespace {

constexpr const char* kDefaultConfigFile = "/etc/berth/daemon.json";

Result<berth::log::Level> parse_level(const std::string& s) {
  if (s == "debug") return berth::log::Level::Debug;
  if (s == "info") return berth::log::Level::Info;
  if (s == "warn" || s == "warning") return berth::log::Level::Warn;
  if (s == "error" || s == "fatal") return berth::log::Level::Error;
  return Error::invalid("unable to parse logging level: " + s);
}

// docker's units.RAMInBytes: "10m" = 10 MiB.
Result<uint64_t> parse_size(const std::string& s) {
  size_t i = 0;
  while (i < s.size() && (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) i++;
  if (i == 0) return Error::invalid("invalid size: '" + s + "'");
  double n = std::stod(s.substr(0, i));
  std::string unit = s.substr(i);
  for (auto& c : unit) c = static_cast<char>(tolower(static_cast<unsigned char>(c)));
  if (unit.ends_with("ib")) unit.resize(unit.size() - 2);
  if (unit.ends_with("b")) unit.pop_back();
  double mult = 1;
  if (unit == "k")
    mult = 1024.0;
  else if (unit == "m")
    mult = 1024.0 * 1024;
  else if (unit == "g")
    mult = 1024.0 * 1024 * 1024;
  else if (!unit.empty())
    return Error::invalid("invalid size: '" + s + "'");
  return static_cast<uint64_t>(n * mult);
}

Result<std::pair<std::string, std::string>> parse_runtime_flag(const std::string& s) {
  size_t eq = s.find('=');
  if (eq == std::string::npos || eq == 0 || eq + 1 == s.size())
    return Error::invalid("invalid runtime argument \"" + s + "\": expected name=path");
  return std::pair{s.substr(0, eq), s.substr(eq + 1)};
}

// The flags' values as daemon.json would write them, for the conflict check.
struct Given {
  std::map<std::string, json> values;  // daemon.json key -> value from the command line
};

std::string show(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); i++) s += (i ? " " : "") + show(v[i]);
    return s + "]";
  }
  return v.dump();
}

Result<void> apply_file(Options& o, const json& file, const Given& given, const std::string& path) {
  static const std::vector<std::string> known = {
      "data-root", "exec-root",       "hosts",     "pidfile",  "group",      "insecure-registries",
      "runtimes",  "default-runtime", "log-level", "debug",    "tls",        "tlsverify",
      "tlscacert", "tlscert",         "tlskey",    "log-opts", "log-driver", "seccomp-profile"};
  std::string prefix = "unable to configure the berth daemon with file " + path + ": ";
  std::vector<std::string> unknown, conflicts;
  for (auto& [k, v] : file.items()) {
    if (std::find(known.begin(), known.end(), k) == known.end()) unknown.push_back(k);
    if (auto it = given.values.find(k); it != given.values.end())
      conflicts.push_back(k + ": (from flag: " + show(it->second) + ", from file: " + show(v) +
                          ")");
  }
  if (!unknown.empty()) {
    std::string s;
    for (auto& u : unknown) s += (s.empty() ? "" : ", ") + u;
    return Error::invalid(prefix +
                          "the following directives don't match any configuration option: " + s);
  }
  if (!conflicts.empty()) {
    std::string s;
    for (auto& c : conflicts) s += (s.empty() ? "" : ", ") + c;
    return Error::invalid(prefix +
                          "the following directives are specified both as a flag and in the "
                          "configuration file: " +
                          s);
  }
  try {
    if (file.contains("data-root")) o.data_root = file["data-root"].get<std::string>();
    if (file.contains("exec-root")) o.exec_root = file["exec-root"].get<std::string>();
    if (file.contains("hosts")) o.hosts = file["hosts"].get<std::vector<std::string>>();
    if (file.contains("pidfile")) o.pidfile = file["pidfile"].get<std::string>();
    if (file.contains("group")) o.group = file["group"].get<std::string>();
    if (file.contains("insecure-registries"))
      o.insecure_registries = file["insecure-registries"].get<std::vector<std::string>>();
    if (file.contains("runtimes"))
      for (auto& [name, rt] : file["runtimes"].items())
        o.runtimes[name] = rt.at("path").get<std::string>();
    if (file.contains("default-runtime"))
      o.default_runtime = file["default-runtime"].get<std::string>();
    if (file.contains("log-level"))
      o.log_level = BERTH_TRY_CTX(parse_level(file["log-level"].get<std::string>()), prefix);
    if (file.value("debug", false)) o.log_level = berth::log::Level::Debug;
    if (file.contains("tlsverify")) o.tls_verify = file["tlsverify"].get<bool>();
    if (file.contains("tlscacert")) o.tls_ca = file["tlscacert"].get<std::string>();
    if (file.contains("tlscert")) o.tls_cert = file["tlscert"].get<std::string>();
    if (file.contains("tlskey")) o.tls_key = file["tlskey"].get<std::string>();
    if (file.contains("seccomp-profile"))
      o.seccomp_profile = file["seccomp-profile"].get<std::string>();
    if (file.contains("log-opts")) {
      const json& lo = file["log-opts"];
      if (lo.contains("max-size"))
        o.log_max_size = BERTH_TRY_CTX(parse_size(lo["max-size"].get<std::string>()), prefix);
      if (lo.contains("max-file")) {
        std::string v = lo["max-file"].get<std::string>();
        int n = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
        if (v.empty() || ec != std::errc() || end != v.data() + v.size() || n < 1)
          return Error::invalid(prefix + "log-opts max-file: invalid value " + berth::quoted(v) +
                                ": a positive number is required");
        o.log_max_files = n;
      }
    }
  } catch (const std::exception& e) {
    return Error::invalid(prefix + berth::json_error_text(e.what()));
  }
  return berth::ok();
}

}  // namespace

Result<Parsed> parse_options(int argc, char** argv) {
  Parsed out;
  Options& o = out.options;
  CLI::App app{"berthd: the berth daemon, serving the Docker Engine API", "berthd"};
  std::string config_file, log_level;
  std::vector<std::string> add_runtimes;
  bool version = false;
  auto* data_root = app.add_option("--data-root", o.data_root, "Root directory of persistent state")
                        ->capture_default_str();
  auto* exec_root = app.add_option("--exec-root", o.exec_root, "Root directory of execution state")
                        ->capture_default_str();
  auto* hosts =
      app.add_option("-H,--host", o.hosts,
                     "Daemon socket(s) to listen on (default unix://<exec-root>/berth.sock)");
  auto* pidfile = app.add_option("-p,--pidfile", o.pidfile, "Path of the daemon's PID file");
  auto* group = app.add_option("-G,--group", o.group, "Group owning the unix sockets");
  auto* insecure = app.add_option("--insecure-registry", o.insecure_registries,
                                  "Registry reachable over plain HTTP or unverified TLS");
  auto* runtimes = app.add_option("--add-runtime", add_runtimes, "An OCI runtime: name=path");
  auto* default_rt = app.add_option("--default-runtime", o.default_runtime,
                                    "Runtime for containers that name none (default berth)");
  auto* level = app.add_option("-l,--log-level", log_level, "debug, info, warn, error, fatal");
  bool debug_flag = false;
  auto* debug = app.add_flag("-D,--debug", debug_flag, "Debug logging");
  app.add_option("--config-file", config_file, "Daemon configuration file (daemon.json)");
  auto* tlsverify = app.add_flag("--tlsverify", o.tls_verify, "Require TLS client certificates");
  auto* tlsca = app.add_option("--tlscacert", o.tls_ca, "CA that signs client certificates");
  auto* tlscert = app.add_option("--tlscert", o.tls_cert, "Server TLS certificate");
  auto* tlskey = app.add_option("--tlskey", o.tls_key, "Server TLS key");
  auto* seccomp = app.add_option(
      "--seccomp-profile", o.seccomp_profile,
      "Seccomp profile of containers that name none: builtin (default), unconfined or a file");
  app.add_flag("-v,--version", version, "Print version information and quit");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    out.exit_code = app.exit(e);
    return out;
  }
  if (version) {
    std::cout << "berthd version " << BERTH_VERSION << "\n";
    out.exit_code = 0;
    return out;
  }
  if (!log_level.empty()) o.log_level = BERTH_TRY(parse_level(log_level));
  if (debug->count()) o.log_level = berth::log::Level::Debug;
  for (const auto& r : add_runtimes) {
    auto [name, path] = BERTH_TRY(parse_runtime_flag(r));
    o.runtimes[name] = path;
  }

  Given given;
  auto note = [&](CLI::Option* opt, const char* key, json v) {
    if (opt->count()) given.values[key] = std::move(v);
  };
  note(data_root, "data-root", o.data_root);
  note(exec_root, "exec-root", o.exec_root);
  note(hosts, "hosts", o.hosts);
  note(pidfile, "pidfile", o.pidfile);
  note(group, "group", o.group);
  note(insecure, "insecure-registries", o.insecure_registries);
  note(runtimes, "runtimes", add_runtimes);
  note(default_rt, "default-runtime", o.default_runtime);
  note(level, "log-level", log_level);
  note(tlsverify, "tlsverify", o.tls_verify);
  note(tlsca, "tlscacert", o.tls_ca);
  note(tlscert, "tlscert", o.tls_cert);
  note(tlskey, "tlskey", o.tls_key);
  note(seccomp, "seccomp-profile", o.seccomp_profile);

  struct stat st;
  bool explicit_file = !config_file.empty();
  if (!explicit_file && stat(kDefaultConfigFile, &st) == 0) config_file = kDefaultConfigFile;
  if (!config_file.empty()) {
    auto text = berth::read_file(config_file, 1 << 20);
    if (!text)
      return std::move(text).error().wrap("unable to configure the berth daemon with file " +
                                          config_file);
    json file = json::parse(*text, nullptr, false);
    if (!file.is_object())
      return Error::invalid("unable to configure the berth daemon with file " + config_file +
                            ": not a JSON object");
    BERTH_TRY(apply_file(o, file, given, config_file));
  }
  if (o.hosts.empty()) o.hosts.push_back("unix://" + o.exec_root + "/berth.sock");
  if (o.pidfile.empty()) o.pidfile = o.exec_root + "/berthd.pid";
  bool any_tcp = false;
  for (const auto& h : o.hosts) any_tcp = any_tcp || h.starts_with("tcp://");
  if (any_tcp && (!o.tls_verify || o.tls_ca.empty() || o.tls_cert.empty() || o.tls_key.empty()))
    return Error::invalid(
        "tcp:// hosts need --tlsverify with --tlscacert, --tlscert and --tlskey (berthd never "
        "serves the API over TCP without client certificates)");
  return out;
}

}  // namespace berthd
