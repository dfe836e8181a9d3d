// docker's container flags (run, create) and the create request body they make.
#pragma once

#include <string>
#include <vector>

#include "cli/cli.h"

namespace berth::cli {

struct ContainerOpts {
  std::vector<std::string> env, env_file, volumes, tmpfs, labels, cap_add, cap_drop, ulimits,
      security_opt, attach, publish, dns, add_host, devices, group_add;
  std::string name, workdir, user, entrypoint, restart = "no", memory, cpus, runtime, network,
                                               hostname, stop_signal, platform, pull = "missing",
                                               cidfile, shm_size, ipc, pid, memory_swap;
  long pids_limit = 0;
  long stop_timeout = -1;
  bool entrypoint_set = false, detach = false, interactive = false, tty = false, rm = false,
       privileged = false, read_only = false, init = false, sig_proxy = true, quiet = false;
};

// Adds the flags to `cmd`; `is_run` adds run's own (-d, --rm is shared, --sig-proxy).
void add_container_flags(CLI::App* cmd, ContainerOpts& o, bool is_run);

// Builds the POST /containers/create body from the flags, the image and the command words.
Result<Json> create_body(const ContainerOpts& o, const std::string& image,
                         const std::vector<std::string>& command, bool entrypoint_flag_given);

// -e KEY=VALUE as given, -e KEY from our environment (dropped when unset).
void add_env(Json& env, const std::string& kv);
// --env-file, as docker reads it (run, create and exec alike): KEY=VALUE or KEY lines,
// leading blanks and '#' comments skipped, a line starting with '=' refused.
Result<void> read_env_file(Json& env, const std::string& path);

}  // namespace berth::cli
