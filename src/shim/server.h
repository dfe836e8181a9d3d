// berth-shim's server: what cmd/berth-shim runs. One per container; see client.h for the
// protocol and the state dir, docs/shim.md for the design.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace berth::shim {

struct ServerOptions {
  std::string id, bundle, state_dir, runtime, runtime_root;
  std::vector<std::string> runtime_args;
  bool tty = false, stdin = false;
  std::string log_path;
  uint64_t log_max_size = 0;
  int log_max_files = 1;
  int ready_fd = -1;  // launch()'s report pipe
};

// Detaches (fork; the caller's process exits 0 at once), runs `runtime create`, reports on
// ready_fd and serves until `shutdown`. Returns the exit code for the process that returns:
// the first one (0) or the shim itself at its end.
int run_server(const ServerOptions& opts);

}  // namespace berth::shim
