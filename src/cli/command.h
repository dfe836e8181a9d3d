// Helpers shared by the command files: registration with docker's usage lines, argument
// count checks with docker's messages, and common renderings.
#pragma once

#include <string>

#include "cli/cli.h"

namespace berth::cli {

// Adds a subcommand whose usage line ("[OPTIONS] CONTAINER [CONTAINER...]") is printed by
// check_args and on parse errors.
CLI::App* add_cmd(CLI::App* parent, const std::string& name, const std::string& usage,
                  const std::string& desc);
// False (and ctx.status set, message printed) when n is outside [min, max].
bool check_args(Ctx& ctx, const CLI::App* app, size_t n, size_t min, size_t max = SIZE_MAX);
// Prints "berth: <msg>" with the command's usage; returns 1.
int usage_error(const CLI::App* app, const std::string& msg, bool run_hint);

// Whether a command `name` under `parent` is needed for this invocation: only the command
// (or group) named on the command line is built, so that a run does not pay for ~60 others.
bool wanted(const CLI::App* parent, const std::string& name);

// Registers `reg` both at the top level (`top` name, if non-empty) and under a management
// group (`sub` name), as docker has `ps` and `container ls`.
template <class F>
void register_both(CLI::App& app, CLI::App* group, const std::string& top, const std::string& sub,
                   F reg) {
  if (!top.empty() && wanted(&app, top)) reg(&app, top);
  if (group && !sub.empty() && wanted(group, sub)) reg(group, sub);
}

// Reads the positional list of a subcommand registered with add_option("args", v).
inline std::string join_words(const std::vector<std::string>& v, const std::string& sep = " ") {
  std::string s;
  for (size_t i = 0; i < v.size(); i++) s += (i ? sep : "") + v[i];
  return s;
}

// Filters "k=v" list -> {"k": ["v", ...]} JSON text for ?filters=.
Result<std::string> filters_json(const std::vector<std::string>& filters);

// Prints the JSON values (docker inspect style: a 4-space indented array).
std::string inspect_json(const Json& array);

}  // namespace berth::cli

namespace berth::cli {

// Pulls an image with docker's progress display (bars on a tty, plain lines otherwise)
// written to `fd`; quiet prints nothing. `all_tags`: no tag sent, every tag pulled (pull -a).
Result<void> pull_image(client::Client& api, const std::string& ref, const std::string& platform,
                        bool quiet, int fd, bool all_tags = false);
// Renders a JSON-lines progress stream (pull, push, load) like docker's jsonmessage.
Result<void> display_progress(client::Response& r, int fd, bool quiet);

// Attaches to a created container, starts it (when `start`), copies its stdio until it ends,
// and returns its exit status (docker's run/start -a flow).
struct AttachFlow {
  std::string id;
  bool tty = false, attach_stdin = false, attach_stdout = true, attach_stderr = true;
  bool auto_remove = false, sig_proxy = true, start = true;
  std::string command_path = "run";  // for the error line of a failed start
};
int attach_and_run(Ctx& ctx, client::Client& api, const AttachFlow& f);

}  // namespace berth::cli
