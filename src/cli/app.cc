// The berth CLI's top level: global flags, the command tree, docker's parse-error lines and
// exit statuses.
#include <unistd.h>

#include <cstring>
#include <map>

#include "cli/cli.h"
#include "cli/command.h"
#include "cli/template.h"
#include "util/fd.h"

namespace berth::cli {

Result<client::Client*> Ctx::api() {
  if (!client_) {
    client::Endpoint ep = BERTH_TRY(client::choose_endpoint(host));
    if (tls_verify_flag && tls_verify_flag->count() > 0) tls.verify = tls_verify;
    // TLS is for tcp:// daemons; a unix socket is reached as it is.
    if (auto settings = client::resolve_tls(tls); settings && !ep.is_unix)
      ep.tls = BERTH_TRY(client::TlsContext::load(*settings));
    client_ = std::make_unique<client::Client>(std::move(ep));
  }
  return client_.get();
}

int fail(const Error& e) {
  std::string line = e.what() + "\n";
  (void)write_all(STDERR_FILENO, line);
  return 1;
}

int fail_msg(std::string_view msg, int status) {
  std::string line = "Error: " + std::string(msg) + "\n";
  (void)write_all(STDERR_FILENO, line);
  return status;
}

Result<void> out(std::string_view data) { return write_all(STDOUT_FILENO, data); }
Result<void> err_out(std::string_view data) { return write_all(STDERR_FILENO, data); }

CLI::Option* add_multi(CLI::App* app, const std::string& names, std::vector<std::string>& into,
                       const std::string& desc) {
  return app->add_option(names, into, desc)
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->type_name("list");
}

namespace {
std::string g_only;  // the command named on the command line; "" = build every command
}  // namespace

bool wanted(const CLI::App* parent, const std::string& name) {
  if (g_only.empty()) return true;
  if (parent->get_parent() == nullptr) return name == g_only;
  return parent->get_name() == g_only;
}

Groups& groups() {
  static Groups g;
  return g;
}

namespace {

struct CmdMeta {
  std::string path;  // "container ls"
  std::string usage;
};
std::map<const CLI::App*, CmdMeta>& metas() {
  static std::map<const CLI::App*, CmdMeta> m;
  return m;
}

std::string command_path(const CLI::App* app) {
  std::string path;
  for (const CLI::App* a = app; a && a->get_parent(); a = a->get_parent()) {
    path = a->get_name() + (path.empty() ? "" : " " + path);
  }
  return path;
}

}  // namespace

CLI::App* add_cmd(CLI::App* parent, const std::string& name, const std::string& usage,
                  const std::string& desc) {
  CLI::App* sub = parent->add_subcommand(name, desc);
  sub->set_help_flag("--help", "Print usage");
  metas()[sub] = {command_path(sub), usage};
  sub->footer("Usage:  berth " + command_path(sub) + " " + usage);
  return sub;
}

int usage_error(const CLI::App* app, const std::string& msg, bool run_hint) {
  const CmdMeta& m = metas()[app];
  std::string text = "berth: " + msg + "\n\nUsage:  berth " + m.path + " " + m.usage + "\n\n" +
                     (run_hint ? "Run" : "See") + " 'berth " + m.path +
                     " --help' for more information\n";
  (void)err_out(text);
  return 1;
}

bool check_args(Ctx& ctx, const CLI::App* app, size_t n, size_t min, size_t max) {
  const CmdMeta& m = metas()[app];
  auto plural = [](size_t k) { return std::to_string(k) + (k == 1 ? " argument" : " arguments"); };
  if (min == max && n != min) {
    ctx.status = usage_error(app, "'berth " + m.path + "' requires " + plural(min), true);
    return false;
  }
  if (n < min) {
    ctx.status = usage_error(app, "'berth " + m.path + "' requires at least " + plural(min), false);
    return false;
  }
  if (n > max) {
    ctx.status = usage_error(app, "'berth " + m.path + "' accepts at most " + plural(max), true);
    return false;
  }
  return true;
}

namespace {

// docker's line for a flag it does not know, exit 125.
int report_parse_error(const CLI::App& app, const CLI::ParseError& e) {
  const CLI::App* cmd = &app;
  // The deepest subcommand that was being parsed.
  for (;;) {
    const CLI::App* next = nullptr;
    for (const CLI::App* s : cmd->get_subcommands()) next = s;
    if (!next) break;
    cmd = next;
  }
  std::string what = e.what();
  std::string name = e.get_name();
  std::string line;
  if (what.starts_with("The following argument")) {
    // "The following arguments were not expected: --foo"
    std::string extra = what.substr(what.find(':') + 1);
    while (!extra.empty() && extra.front() == ' ') extra.erase(0, 1);
    std::string first = extra.substr(0, extra.find(' '));
    if (first.starts_with("-")) {
      line = "unknown flag: " + first;
    } else if (cmd == &app) {
      (void)err_out("berth: unknown command: berth " + first +
                    "\n\nRun 'berth --help' for more information\n");
      return 1;
    } else {
      return usage_error(cmd, "'berth " + command_path(cmd) + "' accepts no arguments", true);
    }
  } else if (name == "ArgumentMismatch" || name == "ConversionError" || name == "ValidationError") {
    line = "invalid argument: " + what;
  } else if (name == "RequiredError" && cmd == &app) {
    (void)err_out(app.help());
    return 0;
  } else {
    line = what;
  }
  if (cmd == &app) {
    (void)err_out(line + "\n\nRun 'berth --help' for more information\n");
    return 125;
  }
  const CmdMeta& m = metas()[cmd];
  (void)err_out(line + "\n\nUsage:  berth " + m.path + " " + m.usage + "\n\nRun 'berth " + m.path +
                " --help' for more information\n");
  return 125;
}

}  // namespace

// The first word of argv that is not a global flag or its value: the command, or "".
std::string first_command(int argc, char** argv) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "-H" || a == "--host" || a == "-l" || a == "--log-level" || a == "--config" ||
        a == "-c" || a == "--context" || a == "--tlscacert" || a == "--tlscert" ||
        a == "--tlskey") {
      i++;
      continue;
    }
    if (a.starts_with("-")) continue;
    return a;
  }
  return "";
}

int run(int argc, char** argv) {
  Ctx ctx;
  CLI::App app{"A self-sufficient runtime for containers", "berth"};
  app.set_help_flag("--help", "Print usage");
  app.footer("Run 'berth COMMAND --help' for more information on a command.");
  bool show_version = false;
  std::string config_dir, context;
  app.add_option("-H,--host", ctx.host, "Daemon socket to connect to");
  app.add_flag("-v,--version", show_version, "Print version information and quit");
  app.add_flag("-D,--debug", ctx.debug, "Enable debug mode");
  app.add_option("-l,--log-level", ctx.log_level, "Set the logging level");
  app.add_option("--config", config_dir, "Location of client config files");
  app.add_option("-c,--context", context, "Name of the context to use (ignored)");
  std::string cert_dir = client::tls_cert_dir();
  app.add_flag("--tls", ctx.tls.tls, "Use TLS; implied by --tlsverify");
  ctx.tls_verify_flag =
      app.add_flag("--tlsverify", ctx.tls_verify, "Use TLS and verify the remote");
  // As with docker's flags, the last of several occurrences wins.
  app.add_option("--tlscacert", ctx.tls.ca_file, "Trust certs signed only by this CA")
      ->default_str(cert_dir + "/ca.pem")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--tlscert", ctx.tls.cert_file, "Path to TLS certificate file")
      ->default_str(cert_dir + "/cert.pem")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.add_option("--tlskey", ctx.tls.key_file, "Path to TLS key file")
      ->default_str(cert_dir + "/key.pem")
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app.require_subcommand(0, 1);

  g_only = first_command(argc, argv);
  if (g_only.empty()) {
    for (int i = 1; i < argc; i++) {
      std::string a = argv[i];
      if (a == "-v" || a == "--version") {
        (void)out("berth version " BERTH_VERSION "\n");
        return 0;
      }
    }
  }
  Groups& g = groups();
  g.container = add_cmd(&app, "container", "COMMAND", "Manage containers");
  g.image = add_cmd(&app, "image", "COMMAND", "Manage images");
  g.system = add_cmd(&app, "system", "COMMAND", "Manage berth");
  for (CLI::App* grp : {g.container, g.image, g.system}) grp->require_subcommand(0, 1);
  add_run_commands(app, ctx);
  add_container_commands(app, ctx);
  add_exec_commands(app, ctx);
  add_image_commands(app, ctx);
  add_system_commands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    return report_parse_error(app, e);
  }
  if (show_version) {
    (void)out("berth version " BERTH_VERSION "\n");
    return 0;
  }
  if (app.get_subcommands().empty()) {
    (void)out(app.help());
    return 0;
  }
  for (CLI::App* grp : {g.container, g.image, g.system}) {
    if (grp->parsed() && grp->get_subcommands().empty()) {
      (void)out(grp->help());
      return 0;
    }
  }
  return ctx.status;
}

}  // namespace berth::cli

namespace berth::cli {

Result<std::string> filters_json(const std::vector<std::string>& filters) {
  Json f = Json::object();
  for (const auto& s : filters) {
    size_t eq = s.find('=');
    if (eq == std::string::npos)
      return Error::invalid("bad format of filter (expected name=value)");
    std::string key = s.substr(0, eq);
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    f[key][s.substr(eq + 1)] = true;
  }
  return f.dump();
}

std::string inspect_json(const Json& array) {
  if (array.empty()) return "[]\n";
  // The daemon's JSON as it sent it (no HTML escaping), indented like docker's.
  return array.dump(4, ' ', false, Json::error_handler_t::replace) + "\n";
}

}  // namespace berth::cli
