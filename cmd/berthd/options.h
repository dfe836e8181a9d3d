// berthd's command line and daemon.json-style config file, dockerd's flags and keys.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "util/log.h"
#include "util/result.h"

namespace berthd {

struct Options {
  std::string data_root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  std::vector<std::string> hosts;  // empty: unix://<exec_root>/berth.sock
  std::string pidfile;             // empty: <exec_root>/berthd.pid
  std::string group;
  std::vector<std::string> insecure_registries;
  std::map<std::string, std::string> runtimes;  // --add-runtime name=path
  std::string default_runtime;
  berth::log::Level log_level = berth::log::Level::Info;
  bool tls_verify = false;
  std::string tls_ca, tls_cert, tls_key;
  uint64_t log_max_size = 0;
  int log_max_files = 1;
  std::string seccomp_profile;  // --seccomp-profile: "", builtin, unconfined or a file
};

// What main should do after parsing.
struct Parsed {
  Options options;
  std::optional<int> exit_code;  // --help / --version printed, or a usage error
};

// Parses argv and the config file (--config-file, default /etc/berth/daemon.json when it
// exists). A key given both as a flag and in the file is an error, as dockerd's.
berth::Result<Parsed> parse_options(int argc, char** argv);

}  // namespace berthd
