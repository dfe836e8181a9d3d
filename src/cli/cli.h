// The berth CLI: docker's commands, flags, output and exit codes over the Docker Engine API.
// cmd/berth/main.cc calls run(); each cli/*.cc registers a group of subcommands.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/tls.h"
#include "util/result.h"

namespace berth::cli {

using Json = nlohmann::ordered_json;

// Exit statuses docker uses for `run`: the daemon failed, the command could not be invoked,
// the command was not found.
inline constexpr int kExitDaemon = 125;
inline constexpr int kExitCannotInvoke = 126;
inline constexpr int kExitNotFound = 127;

class Ctx {
 public:
  std::string host;      // -H
  client::TlsFlags tls;  // --tls, --tlscacert, --tlscert, --tlskey; --tlsverify below
  bool tls_verify = false;
  const CLI::Option* tls_verify_flag = nullptr;  // given at all: TLS on, verify as it says
  std::string log_level;
  bool debug = false;
  int status = 0;            // the process's exit status, set by the command that ran
  std::string command_path;  // "run", "image ls": for "See 'berth run --help'."

  // The API client for the chosen endpoint (created on first use; TLS files loaded then).
  Result<client::Client*> api();

 private:
  std::unique_ptr<client::Client> client_;
};

// Prints an error line to stderr ("Error response from daemon: ..." etc.) and returns 1.
int fail(const Error& e);
// Prints "Error: <msg>" to stderr and returns `status`.
int fail_msg(std::string_view msg, int status = 1);
// Writes all of `data` to stdout (unbuffered fd writes).
Result<void> out(std::string_view data);
Result<void> err_out(std::string_view data);

// Options that take one value per occurrence and may repeat (-e A -e B).
CLI::Option* add_multi(CLI::App* app, const std::string& names, std::vector<std::string>& into,
                       const std::string& desc);

// Registration of the command groups (each in its own file).
void add_run_commands(CLI::App& app, Ctx& ctx);        // run, create, start, attach
void add_container_commands(CLI::App& app, Ctx& ctx);  // ps, stop, kill, rm, logs, ...
void add_exec_commands(CLI::App& app, Ctx& ctx);       // exec, cp
void add_image_commands(CLI::App& app, Ctx& ctx);      // images, pull, push, rmi, ...
void add_system_commands(CLI::App& app, Ctx& ctx);     // version, info, events, system ...

// `berth container ls` = `berth ps` etc.: the management groups re-register commands.
struct Groups {
  CLI::App* container = nullptr;
  CLI::App* image = nullptr;
  CLI::App* system = nullptr;
};
Groups& groups();

// The CLI's entry point: parses argv, runs the command, returns the exit status.
int run(int argc, char** argv);

}  // namespace berth::cli
