// run, create, start, attach: docker's request sequence (create, attach, wait, start) with
// nothing extra, so `berth run --rm busybox true` costs the daemon's time and little more.
#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include "cli/command.h"
#include "cli/container_opts.h"
#include "cli/format.h"
#include "cli/stream.h"
#include "util/fd.h"

namespace berth::cli {

namespace {

// docker's runStartContainerErr: 127 when the command was not found, 126 when it cannot be
// invoked, else 125.
int start_error_status(const std::string& msg) {
  if (msg.find("executable file not found") != std::string::npos ||
      msg.find("no such file or directory") != std::string::npos) {
    return kExitNotFound;
  }
  if (msg.find("permission denied") != std::string::npos ||
      msg.find("is a directory") != std::string::npos) {
    return kExitCannotInvoke;
  }
  return kExitDaemon;
}

int cmd_error(const std::string& path, const std::string& msg, int status) {
  (void)err_out("berth: " + msg + "\n\nRun 'berth " + path + " --help' for more information\n");
  return status;
}

// POST /containers/create, pulling the image first when it is missing (or --pull always).
Result<Json> create_container(client::Client& api, const ContainerOpts& o, const std::string& image,
                              const Json& body) {
  client::Query q;
  q.add_if(!o.name.empty(), "name", o.name).add_if(!o.platform.empty(), "platform", o.platform);
  if (o.pull == "always") BERTH_TRY(pull_image(api, image, o.platform, o.quiet, STDERR_FILENO));
  auto r = api.post_json("/containers/create" + q.str(), body);
  if (!r && r.error().kind() == ErrorKind::NotFound && o.pull == "missing" &&
      r.error().message().find("No such image") != std::string::npos) {
    std::string ref = image;
    if (ref.find('@') == std::string::npos &&
        ref.substr(ref.rfind('/') == std::string::npos ? 0 : ref.rfind('/')).find(':') ==
            std::string::npos) {
      ref += ":latest";
    }
    (void)err_out("Unable to find image '" + ref + "' locally\n");
    BERTH_TRY(pull_image(api, image, o.platform, o.quiet, STDERR_FILENO));
    r = api.post_json("/containers/create" + q.str(), body);
  }
  if (r && r->contains("Warnings") && (*r)["Warnings"].is_array()) {
    for (const auto& w : (*r)["Warnings"]) {
      if (w.is_string() && !w.get<std::string>().empty())
        (void)err_out("WARNING: " + w.get<std::string>() + "\n");
    }
  }
  return r;
}

void resize(client::Client& api, const std::string& id, const char* kind) {
  auto sz = terminal_size(STDOUT_FILENO);
  if (!sz) sz = terminal_size(STDIN_FILENO);
  if (!sz) return;
  client::Query q;
  q.add("h", std::to_string(sz->first)).add("w", std::to_string(sz->second));
  (void)api.call("POST", std::string("/") + kind + "/" + id + "/resize" + q.str());
}

// The wait request's response head, if it arrived within `ms`.
Result<std::optional<client::Response>> wait_head(std::optional<client::Connection>& conn, int ms) {
  pollfd p{conn->fd(), POLLIN, 0};
  if (!conn->has_buffered() && poll(&p, 1, ms) <= 0) return std::optional<client::Response>();
  client::Response r = BERTH_TRY(client::read_response_head(std::move(*conn)));
  conn.reset();
  if (!client::Client::succeeded(r.status)) {
    std::string text = r.read_all(1 << 20).value_or(std::string());
    return client::Client::error_from_response(r.status, text);
  }
  return std::optional<client::Response>(std::move(r));
}

Result<int> wait_status(std::optional<client::Response>& head,
                        std::optional<client::Connection>& conn) {
  if (!head) {
    auto h = BERTH_TRY(wait_head(conn, -1));
    head = std::move(h);
  }
  // The status object alone, as docker's JSON decoder reads it: the end of the chunked body
  // may come later (berthd finishes its own work after writing the status).
  auto line = BERTH_TRY(head->read_line());
  std::string body = line ? *line : std::string();
  auto j = Json::parse(body, nullptr, false);
  if (!j.is_object()) return Error::invalid("malformed wait response from the daemon");
  if (j.contains("Error") && j["Error"].is_object() && j["Error"].value("Message", "") != "") {
    return Error::internal(j["Error"]["Message"].get<std::string>());
  }
  return j.value("StatusCode", 0);
}

}  // namespace

int attach_and_run(Ctx& ctx, client::Client& api, const AttachFlow& f) {
  (void)ctx;
  bool attached = f.attach_stdin || f.attach_stdout || f.attach_stderr;
  std::optional<client::Hijacked> h;
  if (attached) {
    client::Query q;
    q.add("stream", "1")
        .add_if(f.attach_stdin, "stdin", "1")
        .add_if(f.attach_stdout, "stdout", "1")
        .add_if(f.attach_stderr, "stderr", "1");
    auto r = api.hijack("/containers/" + f.id + "/attach" + q.str(), std::nullopt);
    if (!r) return fail(r.error());
    h = std::move(*r);
  }
  // Wait for the next exit (or the removal, with --rm) before starting, so that no exit
  // can be missed; dockerd answers the head at once and the status when it happens.
  client::Query wq;
  wq.add("condition", f.auto_remove ? "removed" : "next-exit");
  std::optional<client::Connection> wait_conn;
  std::optional<client::Response> wait_resp;
  {
    auto c = api.send_only("POST", "/containers/" + f.id + "/wait" + wq.str());
    if (!c) return fail(c.error());
    wait_conn = std::move(*c);
    auto head = wait_head(wait_conn, 2000);
    if (!head) return fail(head.error());
    wait_resp = std::move(*head);
  }
  std::optional<RawTerminal> raw;
  if (f.tty && f.attach_stdin && isatty(STDIN_FILENO)) raw.emplace(STDIN_FILENO);
  if (f.start) {
    auto s = api.call("POST", "/containers/" + f.id + "/start");
    if (!s) {
      raw.reset();
      std::string msg = s.error().what();
      if (f.auto_remove) (void)api.call("DELETE", "/containers/" + f.id + "?force=1");
      if (f.command_path == "start") {
        (void)fail(s.error());
        return 1;
      }
      return cmd_error(f.command_path, msg, start_error_status(msg));
    }
  }
  if (h) {
    std::vector<int> sigs;
    if (f.tty)
      sigs.push_back(SIGWINCH);
    else if (f.sig_proxy)
      sigs = proxied_signals();
    SignalPipe signals(sigs);
    if (f.tty) resize(api, f.id, "containers");
    PumpOptions po;
    po.tty = f.tty;
    po.forward_stdin = f.attach_stdin;
    po.signals = &signals;
    po.on_signal = [&](int sig) {
      if (sig == SIGWINCH)
        resize(api, f.id, "containers");
      else
        (void)api.call("POST", "/containers/" + f.id + "/kill?signal=" + std::to_string(sig));
    };
    bool detached = false;
    po.detached = &detached;
    auto p = pump(*h, po);
    raw.reset();
    if (!p) (void)fail(p.error());
    if (detached) return 0;  // ctrl-p ctrl-q: the container goes on without us
  }
  auto st = wait_status(wait_resp, wait_conn);
  if (!st) {
    (void)fail(st.error());
    return kExitDaemon;
  }
  return *st;
}

namespace {

int run_or_create(Ctx& ctx, CLI::App* cmd, ContainerOpts& o, bool is_run) {
  std::vector<std::string> rest = cmd->remaining();
  std::string path = is_run ? "run" : "create";
  if (cmd->get_parent() && cmd->get_parent()->get_parent()) path = "container " + path;
  if (!rest.empty() && rest[0].starts_with("-") && rest[0] != "-") {
    std::string flag = rest[0].substr(0, rest[0].find('='));
    (void)err_out("unknown flag: " + flag + "\n\nUsage:  berth " + path +
                  " [OPTIONS] IMAGE [COMMAND] [ARG...]\n\nRun 'berth " + path +
                  " --help' for more information\n");
    return kExitDaemon;
  }
  if (rest.empty()) {
    return usage_error(cmd, "'berth " + path + "' requires at least 1 argument", false);
  }
  std::string image = rest[0];
  std::vector<std::string> command(rest.begin() + 1, rest.end());
  if (o.pull.empty()) o.pull = "missing";
  if (o.pull != "always" && o.pull != "missing" && o.pull != "never") {
    return cmd_error(path,
                     "invalid pull option: '" + o.pull +
                         "': must be one of \"always\", \"missing\" or \"never\"",
                     kExitDaemon);
  }
  if (o.tty && o.interactive && is_run && !o.detach && !isatty(STDIN_FILENO)) {
    (void)err_out("the input device is not a TTY\n");
    return 1;
  }
  auto body = create_body(o, image, command, o.entrypoint_set);
  if (!body) return cmd_error(path, body.error().what(), kExitDaemon);
  auto api = ctx.api();
  if (!api) return cmd_error(path, api.error().what(), kExitDaemon);
  auto created = create_container(**api, o, image, *body);
  if (!created) return cmd_error(path, created.error().what(), kExitDaemon);
  std::string id = created->value("Id", "");
  if (!o.cidfile.empty()) {
    if (auto w = write_file_atomic(o.cidfile, id, 0644, false); !w) {
      return cmd_error(path, "failed to write the container ID to the file: " + w.error().what(),
                       kExitDaemon);
    }
  }
  if (!is_run) {
    (void)out(id + "\n");
    return 0;
  }
  if (o.detach) {
    auto s = (*api)->call("POST", "/containers/" + id + "/start");
    if (!s) {
      std::string msg = s.error().what();
      if (o.rm) (void)(*api)->call("DELETE", "/containers/" + id + "?force=1");
      return cmd_error(path, msg, start_error_status(msg));
    }
    (void)out(id + "\n");
    return 0;
  }
  const Json& b = *body;
  AttachFlow f;
  f.id = id;
  f.tty = o.tty;
  f.attach_stdin = b["AttachStdin"].get<bool>();
  f.attach_stdout = b["AttachStdout"].get<bool>();
  f.attach_stderr = b["AttachStderr"].get<bool>();
  f.auto_remove = o.rm;
  f.sig_proxy = o.sig_proxy;
  f.command_path = path;
  return attach_and_run(ctx, **api, f);
}

void reg_run(CLI::App* parent, const std::string& name, Ctx& ctx, bool is_run) {
  auto o = std::make_shared<ContainerOpts>();
  CLI::App* cmd =
      add_cmd(parent, name, "[OPTIONS] IMAGE [COMMAND] [ARG...]",
              is_run ? "Create and run a new container from an image" : "Create a new container");
  cmd->prefix_command();
  add_container_flags(cmd, *o, is_run);
  cmd->callback(
      [&ctx, cmd, o] { ctx.status = run_or_create(ctx, cmd, *o, cmd->get_name() == "run"); });
}

struct StartOpts {
  bool attach = false, interactive = false;
  std::vector<std::string> containers;
};

int do_start(Ctx& ctx, CLI::App* cmd, StartOpts& o) {
  if (!check_args(ctx, cmd, o.containers.size(), 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  if (o.attach || o.interactive) {
    if (o.containers.size() > 1) {
      return fail_msg("you cannot start and attach multiple containers at once");
    }
    auto info = (*api)->get_json("/containers/" + client::url_escape(o.containers[0]) + "/json");
    if (!info) return fail(info.error());
    const Json& cfg = (*info)["Config"];
    AttachFlow f;
    f.id = info->value("Id", o.containers[0]);
    f.tty = cfg.value("Tty", false);
    f.attach_stdin = o.interactive && cfg.value("OpenStdin", false);
    f.auto_remove = (*info)["HostConfig"].value("AutoRemove", false);
    f.command_path = "start";
    return attach_and_run(ctx, **api, f);
  }
  std::vector<std::string> failed;
  for (const auto& c : o.containers) {
    auto r = (*api)->call("POST", "/containers/" + client::url_escape(c) + "/start");
    if (!r) {
      (void)fail(r.error());
      failed.push_back(c);
    } else {
      (void)out(c + "\n");
    }
  }
  if (!failed.empty()) return fail_msg("failed to start containers: " + join_words(failed, ", "));
  return 0;
}

struct AttachOpts {
  bool no_stdin = false, sig_proxy = true;
  std::string detach_keys;
  std::vector<std::string> containers;
};

int do_attach(Ctx& ctx, CLI::App* cmd, AttachOpts& o) {
  if (!check_args(ctx, cmd, o.containers.size(), 1, 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto info = (*api)->get_json("/containers/" + client::url_escape(o.containers[0]) + "/json");
  if (!info) return fail(info.error());
  std::string id = info->value("Id", "");
  const Json& state = (*info)["State"];
  if (!state.value("Running", false))
    return fail_msg("You cannot attach to a stopped container, start it first");
  if (state.value("Paused", false))
    return fail_msg("You cannot attach to a paused container, unpause it first");
  bool tty = (*info)["Config"].value("Tty", false);
  bool in = !o.no_stdin && (*info)["Config"].value("OpenStdin", false);
  if (tty && in && !isatty(STDIN_FILENO)) {
    (void)err_out("the input device is not a TTY\n");
    return 1;
  }
  client::Query q;
  q.add("stream", "1").add_if(in, "stdin", "1").add("stdout", "1").add("stderr", "1");
  q.add_if(!o.detach_keys.empty(), "detachKeys", o.detach_keys);
  auto h = (*api)->hijack("/containers/" + id + "/attach" + q.str(), std::nullopt);
  if (!h) return fail(h.error());
  std::optional<RawTerminal> raw;
  if (tty && in) raw.emplace(STDIN_FILENO);
  std::vector<int> sigs;
  if (tty)
    sigs.push_back(SIGWINCH);
  else if (o.sig_proxy)
    sigs = proxied_signals();
  SignalPipe signals(sigs);
  if (tty) resize(**api, id, "containers");
  PumpOptions po;
  po.tty = tty;
  po.forward_stdin = in;
  po.signals = &signals;
  po.on_signal = [&](int sig) {
    if (sig == SIGWINCH)
      resize(**api, id, "containers");
    else
      (void)(*api)->call("POST", "/containers/" + id + "/kill?signal=" + std::to_string(sig));
  };
  bool detached = false;
  po.detached = &detached;
  auto p = pump(*h, po);
  raw.reset();
  if (!p) return fail(p.error());
  if (detached) return 0;
  // The stream ended with the container (or its stdin): its exit status, like docker's
  // attach, which waits for the container to stop.
  auto w = (*api)->post_json("/containers/" + id + "/wait");
  if (!w) return fail(w.error());
  return w->value("StatusCode", 0);
}

}  // namespace

void add_run_commands(CLI::App& app, Ctx& ctx) {
  Groups& g = groups();
  register_both(app, g.container, "run", "run",
                [&](CLI::App* p, const std::string& n) { reg_run(p, n, ctx, true); });
  register_both(app, g.container, "create", "create",
                [&](CLI::App* p, const std::string& n) { reg_run(p, n, ctx, false); });
  register_both(app, g.container, "start", "start", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<StartOpts>();
    CLI::App* cmd =
        add_cmd(p, n, "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers");
    cmd->add_flag("-a,--attach", o->attach, "Attach STDOUT/STDERR and forward signals");
    cmd->add_flag("-i,--interactive", o->interactive, "Attach container's STDIN");
    cmd->add_option("containers", o->containers);
    cmd->callback([&ctx, cmd, o] { ctx.status = do_start(ctx, cmd, *o); });
  });
  register_both(app, g.container, "attach", "attach", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<AttachOpts>();
    CLI::App* cmd =
        add_cmd(p, n, "[OPTIONS] CONTAINER",
                "Attach local standard input, output, and error streams to a running container");
    cmd->add_flag("--no-stdin", o->no_stdin, "Do not attach STDIN");
    cmd->add_flag("--sig-proxy", o->sig_proxy, "Proxy all received signals to the process");
    cmd->add_option("--detach-keys", o->detach_keys,
                    "Override the key sequence for detaching a container");
    cmd->add_option("containers", o->containers);
    cmd->callback([&ctx, cmd, o] { ctx.status = do_attach(ctx, cmd, *o); });
  });
}

}  // namespace berth::cli
