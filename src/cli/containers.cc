// Container commands other than run/create/start/attach: ps, stop, restart, kill, rm,
// rename, pause, unpause, wait, top, logs, inspect, stats, port, container prune.
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/template.h"
#include "client/stdcopy.h"
#include "util/fd.h"

namespace berth::cli {

namespace {

std::string esc(const std::string& s) { return client::url_escape(s); }

// ---- ps ---------------------------------------------------------------------------------

struct PsOpts {
  bool all = false, quiet = false, latest = false, no_trunc = false, size = false;
  int last = -1;
  std::vector<std::string> filters;
  std::string format;
};

std::string ports_text(const Json& ports) {
  std::vector<std::string> out;
  if (!ports.is_array()) return "";
  for (const auto& p : ports) {
    std::string proto = p.value("Type", "tcp");
    std::string priv = std::to_string(p.value("PrivatePort", 0));
    if (p.contains("PublicPort") && p.value("PublicPort", 0) != 0) {
      std::string ip = p.value("IP", "");
      if (ip.find(':') != std::string::npos) ip = "[" + ip + "]";
      out.push_back(ip + ":" + std::to_string(p.value("PublicPort", 0)) + "->" + priv + "/" +
                    proto);
    } else {
      out.push_back(priv + "/" + proto);
    }
  }
  return join_words(out, ", ");
}

Json ps_row(const Json& c, bool trunc, double now) {
  Json row = Json::object();
  std::string command = c.value("Command", "");
  if (trunc) command = ellipsis(command, 20);
  row["Command"] = go_quote(command);
  double created = c.value("Created", 0.0);
  row["CreatedAt"] = go_time_string(created);
  std::string id = c.value("Id", "");
  row["ID"] = trunc ? id.substr(0, 12) : id;
  std::string image = c.value("Image", "");
  if (trunc) {
    if (image.starts_with("sha256:"))
      image = short_id(image);
    else if (size_t at = image.find('@'); at != std::string::npos)
      image = image.substr(0, at);
  }
  row["Image"] = image;
  std::vector<std::string> labels;
  if (c.contains("Labels") && c["Labels"].is_object()) {
    for (auto it = c["Labels"].begin(); it != c["Labels"].end(); ++it) {
      labels.push_back(it.key() + "=" +
                       (it.value().is_string() ? it.value().get<std::string>() : ""));
    }
  }
  std::sort(labels.begin(), labels.end());
  row["Labels"] = join_words(labels, ",");
  int local_volumes = 0;
  std::vector<std::string> mounts;
  if (c.contains("Mounts") && c["Mounts"].is_array()) {
    for (const auto& m : c["Mounts"]) {
      std::string name = m.value("Name", "");
      if (m.value("Type", "") == "volume") local_volumes++;
      if (name.empty()) name = m.value("Source", "");
      if (trunc) name = ellipsis(name, 15);
      mounts.push_back(name);
    }
  }
  row["LocalVolumes"] = std::to_string(local_volumes);
  row["Mounts"] = join_words(mounts, ",");
  std::vector<std::string> names;
  if (c.contains("Names") && c["Names"].is_array()) {
    for (const auto& n : c["Names"]) {
      std::string s = n.get<std::string>();
      if (s.starts_with("/")) s.erase(0, 1);
      if (trunc && s.find('/') != std::string::npos) continue;  // link names
      names.push_back(s);
    }
  }
  row["Names"] = join_words(names, ",");
  std::vector<std::string> nets;
  if (c.contains("NetworkSettings") && c["NetworkSettings"].is_object() &&
      c["NetworkSettings"].contains("Networks") && c["NetworkSettings"]["Networks"].is_object()) {
    for (auto it = c["NetworkSettings"]["Networks"].begin();
         it != c["NetworkSettings"]["Networks"].end(); ++it) {
      nets.push_back(it.key());
    }
  }
  std::sort(nets.begin(), nets.end());
  row["Networks"] = join_words(nets, ",");
  row["Platform"] = nullptr;
  row["Ports"] = ports_text(c.value("Ports", Json::array()));
  row["RunningFor"] = human_duration(now - created) + " ago";
  std::string size = human_size(c.value("SizeRw", 0.0), 3);
  if (c.value("SizeRootFs", 0.0) > 0)
    size += " (virtual " + human_size(c.value("SizeRootFs", 0.0), 3) + ")";
  row["Size"] = size;
  row["State"] = c.value("State", "");
  row["Status"] = c.value("Status", "");
  return row;
}

const Json& ps_header() {
  static const Json h = {
      {"Command", "COMMAND"},   {"CreatedAt", "CREATED AT"}, {"ID", "CONTAINER ID"},
      {"Image", "IMAGE"},       {"Labels", "LABELS"},        {"LocalVolumes", "LOCAL VOLUMES"},
      {"Mounts", "MOUNTS"},     {"Names", "NAMES"},          {"Networks", "NETWORKS"},
      {"Platform", "PLATFORM"}, {"Ports", "PORTS"},          {"RunningFor", "CREATED"},
      {"Size", "SIZE"},         {"State", "STATE"},          {"Status", "STATUS"}};
  return h;
}

MethodHook label_hook(const Json& labels) {
  return [labels](std::string_view name, const std::vector<Json>& args) -> std::optional<Json> {
    if (name != "Label" || args.size() != 1 || !args[0].is_string()) return std::nullopt;
    if (labels.is_object()) {
      auto it = labels.find(args[0].get<std::string>());
      if (it != labels.end()) return *it;
    }
    return Json("");
  };
}

int do_ps(Ctx& ctx, PsOpts& o) {
  auto api = ctx.api();
  if (!api) return fail(api.error());
  client::Query q;
  q.add_if(o.all, "all", "1");
  if (o.latest) o.last = 1;
  q.add_if(o.last > 0, "limit", std::to_string(o.last));
  std::string format = o.format;
  if (format.empty()) format = "table";
  FormatSpec spec = parse_format(format);
  if (format == "json") spec = parse_format("{{json .}}");
  if (spec.body.empty()) {
    spec.body =
        "{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";
    if (o.size) spec.body += "\t{{.Size}}";
  }
  bool want_size = o.size || (!o.quiet && spec.body.find(".Size") != std::string::npos);
  q.add_if(want_size, "size", "1");
  if (!o.filters.empty()) {
    auto f = filters_json(o.filters);
    if (!f) return fail_msg(f.error().what());
    q.add("filters", *f);
  }
  auto list = (*api)->get_json("/containers/json" + q.str());
  if (!list) return fail(list.error());
  if (o.quiet) {
    std::string text;
    for (const auto& c : *list) {
      std::string id = c.value("Id", "");
      text += (o.no_trunc ? id : id.substr(0, 12)) + "\n";
    }
    (void)out(text);
    return 0;
  }
  double now = now_seconds();
  std::vector<Json> rows;
  std::vector<MethodHook> hooks;
  for (const auto& c : *list) {
    rows.push_back(ps_row(c, !o.no_trunc, now));
    hooks.push_back(label_hook(c.value("Labels", Json::object())));
  }
  auto text = render_rows(spec, ps_header(), rows, hooks);
  if (!text) return fail_msg("template parsing error: " + text.error().what());
  (void)out(*text);
  return 0;
}

// ---- stop, restart, kill, rm, pause, unpause, wait: one call per container ----------------

struct EachOpts {
  std::vector<std::string> containers;
  std::string signal;
  long timeout = -1;
  bool force = false, volumes = false, link = false;
};

int for_each(Ctx& ctx, CLI::App* cmd, EachOpts& o,
             const std::function<Result<std::string>(client::Client&, const std::string&)>& op) {
  if (!check_args(ctx, cmd, o.containers.size(), 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  int status = 0;
  for (const auto& c : o.containers) {
    auto r = op(**api, c);
    if (!r) {
      (void)fail(r.error());
      status = 1;
    } else {
      (void)out(*r + "\n");
    }
  }
  return status;
}

void reg_each(
    CLI::App* parent, const std::string& name, Ctx& ctx, const std::string& usage,
    const std::string& desc, const std::function<void(CLI::App*, EachOpts&)>& flags,
    std::function<Result<std::string>(client::Client&, const std::string&, const EachOpts&)> op) {
  auto o = std::make_shared<EachOpts>();
  CLI::App* cmd = add_cmd(parent, name, usage, desc);
  if (flags) flags(cmd, *o);
  cmd->add_option("containers", o->containers);
  cmd->callback([&ctx, cmd, o, op] {
    ctx.status = for_each(
        ctx, cmd, *o, [&](client::Client& api, const std::string& c) { return op(api, c, *o); });
  });
}

Result<std::string> simple_post(client::Client& api, const std::string& c, const std::string& what,
                                const std::string& query = "") {
  BERTH_TRY(api.call("POST", "/containers/" + esc(c) + "/" + what + query));
  return c;
}

// ---- rename, top, wait ------------------------------------------------------------------

struct ArgsOpts {
  std::vector<std::string> args;
};

int do_rename(Ctx& ctx, CLI::App* cmd, ArgsOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 2, 2)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  std::string name = o.args[1];
  while (!name.empty() && name.front() == ' ') name.erase(0, 1);
  if (name.empty()) return fail_msg("new name cannot be blank");
  auto r = (*api)->call("POST", "/containers/" + esc(o.args[0]) + "/rename?name=" + esc(name));
  if (!r) {
    (void)fail(r.error());
    return fail_msg("failed to rename container named " + o.args[0]);
  }
  return 0;
}

int do_top(Ctx& ctx, CLI::App* cmd, ArgsOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  std::string q;
  if (o.args.size() > 1) {
    q = "?ps_args=" + esc(join_words(std::vector<std::string>(o.args.begin() + 1, o.args.end())));
  }
  auto r = (*api)->get_json("/containers/" + esc(o.args[0]) + "/top" + q);
  if (!r) return fail(r.error());
  std::string text;
  if ((*r)["Titles"].is_array()) {
    std::vector<std::string> t;
    for (const auto& x : (*r)["Titles"]) t.push_back(x.get<std::string>());
    text += join_words(t, "\t") + "\n";
  }
  if ((*r)["Processes"].is_array()) {
    for (const auto& p : (*r)["Processes"]) {
      std::vector<std::string> t;
      for (const auto& x : p) t.push_back(x.is_string() ? x.get<std::string>() : x.dump());
      text += join_words(t, "\t") + "\n";
    }
  }
  (void)out(tabwrite(text, 20, 1));
  return 0;
}

int do_wait(Ctx& ctx, CLI::App* cmd, ArgsOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  int status = 0;
  for (const auto& c : o.args) {
    auto r = (*api)->open_stream("POST", "/containers/" + esc(c) + "/wait");
    if (!r) {
      (void)fail(r.error());
      status = 1;
      continue;
    }
    auto body = r->read_all(1 << 20);
    auto j = body ? Json::parse(*body, nullptr, false) : Json();
    if (!j.is_object()) {
      (void)fail(body ? Error::invalid("malformed wait response") : body.error());
      status = 1;
      continue;
    }
    if (j.contains("Error") && j["Error"].is_object() && j["Error"].value("Message", "") != "") {
      (void)err_out(j["Error"]["Message"].get<std::string>() + "\n");
      status = 1;
      continue;
    }
    (void)out(std::to_string(j.value("StatusCode", 0)) + "\n");
  }
  return status;
}

// ---- logs -------------------------------------------------------------------------------

struct LogsOpts {
  bool follow = false, timestamps = false, details = false;
  std::string tail = "all", since, until;
  std::vector<std::string> args;
};

int do_logs(Ctx& ctx, CLI::App* cmd, LogsOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 1, 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto info = (*api)->get_json("/containers/" + esc(o.args[0]) + "/json");
  if (!info) return fail(info.error());
  bool tty = (*info)["Config"].value("Tty", false);
  double now = now_seconds();
  client::Query q;
  q.add("stdout", "1").add("stderr", "1");
  if (!o.since.empty()) {
    auto s = parse_timestamp_arg(o.since, now);
    if (!s) return fail_msg("invalid value for \"since\": " + s.error().what());
    q.add("since", *s);
  }
  if (!o.until.empty()) {
    auto s = parse_timestamp_arg(o.until, now);
    if (!s) return fail_msg("invalid value for \"until\": " + s.error().what());
    q.add("until", *s);
  }
  q.add_if(o.timestamps, "timestamps", "1").add_if(o.follow, "follow", "1").add("tail", o.tail);
  q.add_if(o.details, "details", "1");
  auto r = (*api)->open_stream(
      "GET", "/containers/" + esc(info->value("Id", o.args[0])) + "/logs" + q.str());
  if (!r) return fail(r.error());
  client::StdcopyDemuxer demux([](std::string_view d) { return out(d); },
                               [](std::string_view d) { return err_out(d); });
  char buf[65536];
  for (;;) {
    auto n = r->read(buf, sizeof(buf));
    if (!n) return fail(n.error());
    if (*n == 0) break;
    std::string_view d(buf, *n);
    auto w = tty ? out(d) : demux.feed(d);
    if (!w) {
      if (w.error().errno_value() == EPIPE) return 0;
      return fail(w.error());
    }
  }
  return 0;
}

// ---- inspect ----------------------------------------------------------------------------

struct InspectOpts {
  std::string format, type;
  bool size = false;
  std::vector<std::string> args;
};

// One object by name: container first, then image (docker's order), or as --type says.
Result<std::optional<Json>> inspect_one(client::Client& api, const std::string& name,
                                        const std::string& type, bool size,
                                        std::string* not_found) {
  if (type.empty() || type == "container") {
    auto r = api.get_json("/containers/" + esc(name) + "/json" + (size ? "?size=1" : ""));
    if (r) return std::optional<Json>(std::move(*r));
    if (r.error().kind() != ErrorKind::NotFound || !type.empty()) {
      if (r.error().kind() == ErrorKind::NotFound) {
        *not_found = r.error().what();
        return std::optional<Json>();
      }
      return std::move(r).error();
    }
  }
  if (type.empty() || type == "image") {
    auto r = api.get_json("/images/" + name + "/json");
    if (r) return std::optional<Json>(std::move(*r));
    if (r.error().kind() != ErrorKind::NotFound) return std::move(r).error();
    *not_found = type.empty() ? "Error: No such object: " + name : r.error().what();
    return std::optional<Json>();
  }
  return Error::invalid("\"" + type + "\" is not a valid value for --type");
}

int do_inspect(Ctx& ctx, CLI::App* cmd, InspectOpts& o, const std::string& fixed_type) {
  if (!check_args(ctx, cmd, o.args.size(), 1)) return ctx.status;
  std::string type = fixed_type.empty() ? o.type : fixed_type;
  if (!type.empty() && type != "container" && type != "image") {
    return fail_msg("\"" + type + "\" is not a valid value for --type");
  }
  auto api = ctx.api();
  if (!api) return fail(api.error());
  std::optional<Template> tmpl;
  if (!o.format.empty() && o.format != "json") {
    auto t = Template::parse(parse_format(o.format).body);
    if (!t) return fail_msg("template parsing error: " + t.error().what());
    tmpl = std::move(*t);
  }
  Json all = Json::array();
  std::string text;
  std::vector<std::string> errors;
  for (const auto& name : o.args) {
    std::string nf;
    auto r = inspect_one(**api, name, type, o.size, &nf);
    if (!r) {
      errors.push_back(r.error().what());
      continue;
    }
    if (!*r) {
      errors.push_back(nf);
      continue;
    }
    if (tmpl) {
      auto s = tmpl->execute(**r, nullptr, {.missing_key_error = true});
      if (!s) {
        errors.push_back("template parsing error: " + s.error().what());
        continue;
      }
      text += *s + "\n";
    } else {
      all.push_back(std::move(**r));
    }
  }
  (void)out(tmpl ? text : inspect_json(all));
  for (const auto& e : errors) (void)err_out(e + "\n");
  return errors.empty() ? 0 : 1;
}

// ---- stats ------------------------------------------------------------------------------

struct StatsOpts {
  bool all = false, no_stream = false, no_trunc = false;
  std::string format;
  std::vector<std::string> args;
};

Json stats_row(const Json& s, const std::string& name_or_id, bool trunc) {
  Json row = Json::object();
  double cpu = 0;
  const Json& cs = s.value("cpu_stats", Json::object());
  const Json& ps = s.value("precpu_stats", Json::object());
  double cpu_delta = cs.value("/cpu_usage/total_usage"_json_pointer, 0.0) -
                     ps.value("/cpu_usage/total_usage"_json_pointer, 0.0);
  double sys_delta = cs.value("system_cpu_usage", 0.0) - ps.value("system_cpu_usage", 0.0);
  double ncpu = cs.value("online_cpus", 0.0);
  if (ncpu == 0 && cs.contains("cpu_usage") && cs["cpu_usage"].contains("percpu_usage") &&
      cs["cpu_usage"]["percpu_usage"].is_array()) {
    ncpu = static_cast<double>(cs["cpu_usage"]["percpu_usage"].size());
  }
  if (sys_delta > 0 && cpu_delta > 0) cpu = cpu_delta / sys_delta * ncpu * 100.0;
  const Json& mem = s.value("memory_stats", Json::object());
  double usage = mem.value("usage", 0.0);
  const Json& mstats = mem.value("stats", Json::object());
  // docker subtracts the page cache: inactive_file (v2), total_inactive_file (v1).
  if (mstats.contains("total_inactive_file") &&
      mstats["total_inactive_file"].get<double>() < usage) {
    usage -= mstats["total_inactive_file"].get<double>();
  } else if (mstats.contains("inactive_file") && mstats["inactive_file"].get<double>() < usage) {
    usage -= mstats["inactive_file"].get<double>();
  }
  double limit = mem.value("limit", 0.0);
  double rx = 0, tx = 0;
  if (s.contains("networks") && s["networks"].is_object()) {
    for (const auto& n : s["networks"]) {
      rx += n.value("rx_bytes", 0.0);
      tx += n.value("tx_bytes", 0.0);
    }
  }
  double blk_r = 0, blk_w = 0;
  if (s.contains("blkio_stats") && s["blkio_stats"].contains("io_service_bytes_recursive") &&
      s["blkio_stats"]["io_service_bytes_recursive"].is_array()) {
    for (const auto& e : s["blkio_stats"]["io_service_bytes_recursive"]) {
      std::string op = e.value("op", "");
      for (char& c : op) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (op == "read") blk_r += e.value("value", 0.0);
      if (op == "write") blk_w += e.value("value", 0.0);
    }
  }
  char buf[64];
  std::string id = s.value("id", "");
  row["BlockIO"] = human_size(blk_r, 3) + " / " + human_size(blk_w, 3);
  row["CPUPerc"] = (std::snprintf(buf, sizeof(buf), "%.2f%%", cpu), std::string(buf));
  row["Container"] = name_or_id;
  row["ID"] = trunc ? id.substr(0, 12) : id;
  row["MemPerc"] =
      (std::snprintf(buf, sizeof(buf), "%.2f%%", limit > 0 ? usage / limit * 100 : 0.0),
       std::string(buf));
  row["MemUsage"] = binary_size(usage) + " / " + binary_size(limit);
  std::string name = s.value("name", "");
  if (name.starts_with("/")) name.erase(0, 1);
  row["Name"] = name;
  row["NetIO"] = human_size(rx, 3) + " / " + human_size(tx, 3);
  row["PIDs"] = std::to_string(s.value("/pids_stats/current"_json_pointer, 0));
  return row;
}

int do_stats(Ctx& ctx, StatsOpts& o) {
  auto api = ctx.api();
  if (!api) return fail(api.error());
  std::vector<std::string> names = o.args;
  if (names.empty()) {
    auto list = (*api)->get_json(std::string("/containers/json") + (o.all ? "?all=1" : ""));
    if (!list) return fail(list.error());
    for (const auto& c : *list) names.push_back(c.value("Id", "").substr(0, 12));
  }
  FormatSpec spec = parse_format(o.format.empty() ? "table" : o.format);
  if (o.format == "json") spec = parse_format("{{json .}}");
  if (spec.body.empty()) {
    spec.body =
        "{{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{"
        "{.PIDs}}";
  }
  static const Json header = {
      {"BlockIO", "BLOCK I/O"}, {"CPUPerc", "CPU %"}, {"Container", "CONTAINER"},
      {"ID", "CONTAINER ID"},   {"MemPerc", "MEM %"}, {"MemUsage", "MEM USAGE / LIMIT"},
      {"Name", "NAME"},         {"NetIO", "NET I/O"}, {"PIDs", "PIDS"}};
  for (;;) {
    std::vector<Json> rows;
    for (const auto& n : names) {
      auto s = (*api)->get_json("/containers/" + esc(n) + "/stats?stream=0");
      if (!s) return fail(s.error());
      rows.push_back(stats_row(*s, n, !o.no_trunc));
    }
    auto text = render_rows(spec, header, rows);
    if (!text) return fail_msg("template parsing error: " + text.error().what());
    if (!o.no_stream && isatty(STDOUT_FILENO)) (void)out("\x1b[2J\x1b[H");
    (void)out(*text);
    if (o.no_stream) return 0;
    poll(nullptr, 0, 1000);  // docker refreshes once a second
  }
}

// ---- port, prune -------------------------------------------------------------------------

int do_port(Ctx& ctx, CLI::App* cmd, ArgsOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 1, 2)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto info = (*api)->get_json("/containers/" + esc(o.args[0]) + "/json");
  if (!info) return fail(info.error());
  const Json& ports = (*info)["NetworkSettings"].value("Ports", Json::object());
  std::string text;
  if (ports.is_object()) {
    for (auto it = ports.begin(); it != ports.end(); ++it) {
      if (!it.value().is_array()) continue;
      if (o.args.size() == 2) {
        std::string want =
            o.args[1].find('/') == std::string::npos ? o.args[1] + "/tcp" : o.args[1];
        if (it.key() != want) continue;
      }
      for (const auto& b : it.value()) {
        std::string line = b.value("HostIp", "") + ":" + b.value("HostPort", "");
        text += (o.args.size() == 2 ? "" : it.key() + " -> ") + line + "\n";
      }
    }
  }
  (void)out(text);
  return 0;
}

struct PruneOpts {
  bool force = false, all = false;
  std::vector<std::string> filters;
};

bool confirm(const std::string& warning) {
  (void)out(warning + "\nAre you sure you want to continue? [y/N] ");
  char buf[16] = {};
  ssize_t n = read(STDIN_FILENO, buf, sizeof(buf) - 1);
  return n > 0 && (buf[0] == 'y' || buf[0] == 'Y');
}

int do_container_prune(Ctx& ctx, PruneOpts& o) {
  if (!o.force && !confirm("WARNING! This will remove all stopped containers.")) return 0;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  std::string q;
  if (!o.filters.empty()) {
    auto f = filters_json(o.filters);
    if (!f) return fail_msg(f.error().what());
    q = "?filters=" + esc(*f);
  }
  auto r = (*api)->post_json("/containers/prune" + q);
  if (!r) return fail(r.error());
  std::string text;
  if ((*r)["ContainersDeleted"].is_array() && !(*r)["ContainersDeleted"].empty()) {
    text += "Deleted Containers:\n";
    for (const auto& id : (*r)["ContainersDeleted"]) text += id.get<std::string>() + "\n";
    text += "\n";
  }
  text += "Total reclaimed space: " + human_size(r->value("SpaceReclaimed", 0.0), 3) + "\n";
  (void)out(text);
  return 0;
}

}  // namespace

void add_container_commands(CLI::App& app, Ctx& ctx) {
  Groups& g = groups();
  auto ps = [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<PsOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS]", "List containers");
    if (n == "ls") cmd->alias("ps")->alias("list");
    cmd->add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
    cmd->add_flag("-q,--quiet", o->quiet, "Only display container IDs");
    cmd->add_flag("-l,--latest", o->latest,
                  "Show the latest created container (includes all states)");
    cmd->add_option("-n,--last", o->last, "Show n last created containers (includes all states)");
    cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
    cmd->add_flag("-s,--size", o->size, "Display total file sizes");
    add_multi(cmd, "-f,--filter", o->filters, "Filter output based on conditions provided");
    cmd->add_option("--format", o->format, "Format output using a custom template");
    cmd->callback([&ctx, o] { ctx.status = do_ps(ctx, *o); });
  };
  register_both(app, g.container, "ps", "ls", ps);

  auto each =
      [&](const std::string& name, const std::string& usage, const std::string& desc,
          std::function<void(CLI::App*, EachOpts&)> flags,
          std::function<Result<std::string>(client::Client&, const std::string&, const EachOpts&)>
              op) {
        register_both(app, g.container, name, name, [=, &ctx](CLI::App* p, const std::string& n) {
          reg_each(p, n, ctx, usage, desc, flags, op);
        });
      };
  // stop and restart: the same flags and query, another endpoint.
  auto stop_flags = [](CLI::App* c, EachOpts& o) {
    c->add_option("-s,--signal", o.signal, "Signal to send to the container");
    c->add_option("-t,--timeout,--time", o.timeout, "Seconds to wait before killing the container");
  };
  auto stop_like = [](const char* endpoint) {
    return [endpoint](client::Client& api, const std::string& c, const EachOpts& o) {
      client::Query q;
      q.add_if(!o.signal.empty(), "signal", o.signal)
          .add_if(o.timeout >= 0, "t", std::to_string(o.timeout));
      return simple_post(api, c, endpoint, q.str());
    };
  };
  each("stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers",
       stop_flags, stop_like("stop"));
  each("restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers",
       stop_flags, stop_like("restart"));
  each(
      "kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Kill one or more running containers",
      [](CLI::App* c, EachOpts& o) {
        c->add_option("-s,--signal", o.signal, "Signal to send to the container");
      },
      [](client::Client& api, const std::string& c, const EachOpts& o) {
        return simple_post(api, c, "kill", o.signal.empty() ? "" : "?signal=" + esc(o.signal));
      });
  each("pause", "CONTAINER [CONTAINER...]", "Pause all processes within one or more containers",
       nullptr, [](client::Client& api, const std::string& c, const EachOpts&) {
         return simple_post(api, c, "pause");
       });
  each("unpause", "CONTAINER [CONTAINER...]", "Unpause all processes within one or more containers",
       nullptr, [](client::Client& api, const std::string& c, const EachOpts&) {
         return simple_post(api, c, "unpause");
       });
  auto rm_op = [](client::Client& api, const std::string& c,
                  const EachOpts& o) -> Result<std::string> {
    client::Query q;
    q.add_if(o.volumes, "v", "1").add_if(o.force, "force", "1").add_if(o.link, "link", "1");
    BERTH_TRY(api.call("DELETE", "/containers/" + esc(c) + q.str()));
    return c;
  };
  auto rm_flags = [](CLI::App* c, EachOpts& o) {
    c->add_flag("-f,--force", o.force, "Force the removal of a running container (uses SIGKILL)");
    c->add_flag("-v,--volumes", o.volumes,
                "Remove anonymous volumes associated with the container");
    c->add_flag("-l,--link", o.link, "Remove the specified link");
  };
  register_both(app, g.container, "rm", "rm", [=, &ctx](CLI::App* p, const std::string& n) {
    reg_each(p, n, ctx, "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers",
             rm_flags, rm_op);
    if (n == "rm") p->get_subcommand(n)->alias("remove");
  });

  auto args_cmd = [&](const std::string& name, const std::string& usage, const std::string& desc,
                      int (*fn)(Ctx&, CLI::App*, ArgsOpts&)) {
    register_both(app, g.container, name, name, [=, &ctx](CLI::App* p, const std::string& n) {
      auto o = std::make_shared<ArgsOpts>();
      CLI::App* cmd = add_cmd(p, n, usage, desc);
      if (name == "top") cmd->prefix_command();
      cmd->add_option("args", o->args);
      cmd->callback([&ctx, cmd, o, fn] {
        if (!cmd->remaining().empty()) {
          for (const auto& r : cmd->remaining()) o->args.push_back(r);
        }
        ctx.status = fn(ctx, cmd, *o);
      });
    });
  };
  args_cmd("rename", "CONTAINER NEW_NAME", "Rename a container", do_rename);
  args_cmd("top", "CONTAINER [ps OPTIONS]", "Display the running processes of a container", do_top);
  args_cmd("wait", "CONTAINER [CONTAINER...]",
           "Block until one or more containers stop, then print their exit codes", do_wait);
  args_cmd("port", "CONTAINER [PRIVATE_PORT[/PROTO]]",
           "List port mappings or a specific mapping for the container", do_port);

  register_both(app, g.container, "logs", "logs", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<LogsOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS] CONTAINER", "Fetch the logs of a container");
    cmd->add_flag("-f,--follow", o->follow, "Follow log output");
    cmd->add_flag("-t,--timestamps", o->timestamps, "Show timestamps");
    cmd->add_flag("--details", o->details, "Show extra details provided to logs");
    cmd->add_option("-n,--tail", o->tail, "Number of lines to show from the end of the logs");
    cmd->add_option("--since", o->since,
                    "Show logs since timestamp or relative (e.g. 42m for 42 minutes)");
    cmd->add_option("--until", o->until, "Show logs before a timestamp or relative");
    cmd->add_option("args", o->args);
    cmd->callback([&ctx, cmd, o] { ctx.status = do_logs(ctx, cmd, *o); });
  });

  auto inspect = [&](CLI::App* p, const std::string& n, const std::string& type) {
    auto o = std::make_shared<InspectOpts>();
    CLI::App* cmd = add_cmd(
        p, n,
        type.empty() ? "[OPTIONS] NAME|ID [NAME|ID...]"
                     : "[OPTIONS] " + std::string(type == "image" ? "IMAGE [IMAGE...]"
                                                                  : "CONTAINER [CONTAINER...]"),
        "Return low-level information on " +
            (type.empty() ? std::string("Docker objects") : type + "s"));
    cmd->add_option("-f,--format", o->format, "Format output using a custom template");
    cmd->add_flag("-s,--size", o->size, "Display total file sizes if the type is container");
    if (type.empty()) cmd->add_option("--type", o->type, "Return JSON for specified type");
    cmd->add_option("args", o->args);
    cmd->callback([&ctx, cmd, o, type] { ctx.status = do_inspect(ctx, cmd, *o, type); });
  };
  if (wanted(&app, "inspect")) inspect(&app, "inspect", "");
  if (wanted(g.container, "inspect")) inspect(g.container, "inspect", "container");
  if (wanted(g.image, "inspect")) inspect(g.image, "inspect", "image");

  register_both(app, g.container, "stats", "stats", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<StatsOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS] [CONTAINER...]",
                            "Display a live stream of container(s) resource usage statistics");
    cmd->add_flag("-a,--all", o->all, "Show all containers (default shows just running)");
    cmd->add_flag("--no-stream", o->no_stream,
                  "Disable streaming stats and only pull the first result");
    cmd->add_flag("--no-trunc", o->no_trunc, "Do not truncate output");
    cmd->add_option("--format", o->format, "Format output using a custom template");
    cmd->add_option("args", o->args);
    cmd->callback([&ctx, o] { ctx.status = do_stats(ctx, *o); });
  });

  if (!wanted(g.container, "prune")) return;
  auto prune = std::make_shared<PruneOpts>();
  CLI::App* pc = add_cmd(g.container, "prune", "[OPTIONS]", "Remove all stopped containers");
  pc->add_flag("-f,--force", prune->force, "Do not prompt for confirmation");
  add_multi(pc, "--filter", prune->filters, "Provide filter values (e.g. \"until=<timestamp>\")");
  pc->callback([&ctx, prune] { ctx.status = do_container_prune(ctx, *prune); });
}

}  // namespace berth::cli
