// version, info, events, system df, system prune.
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/template.h"
#include "util/fd.h"
#include "util/strings.h"

namespace berth::cli {

namespace {

std::string esc(const std::string& s) { return client::url_escape(s); }

std::string arch_name() {
  utsname u{};
  uname(&u);
  std::string m = u.machine;
  if (m == "x86_64") return "amd64";
  if (m == "aarch64") return "arm64";
  return m;
}

Json client_version(const std::string& api_version) {
  return Json{{"Version", BERTH_VERSION},
              {"ApiVersion", api_version},
              {"DefaultAPIVersion", std::string(client::kClientApiVersion)},
              {"GitCommit", ""},
              {"GoVersion", "n/a (C++20)"},
              {"Os", "linux"},
              {"Arch", arch_name()},
              {"BuildTime", ""},
              {"Context", "default"}};
}

// "  Key:    value" lines aligned like docker's version template.
std::string kv(const std::string& indent, const std::string& key, const std::string& value,
               size_t width) {
  std::string k = key + ":";
  if (k.size() < width) k.append(width - k.size(), ' ');
  return indent + k + value + "\n";
}

// docker prints the build time in time.ANSIC, local time: "Thu May  7 21:09:36 2026".
std::string ansic_time(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  if (!t) return rfc3339;
  time_t secs = static_cast<time_t>(*t);
  std::tm tm{};
  localtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm);
  return buf;
}

// docker formats its Go structs, whose field for the JSON "ApiVersion" is APIVersion:
// {{.Server.APIVersion}} works there (and .ApiVersion does not). The names that differ are
// added to a copy of the version objects for templates other than plain {{json .}}.
Json with_go_field_names(Json all) {
  for (const char* side : {"Client", "Server"}) {
    if (!all.contains(side) || !all[side].is_object()) continue;
    Json& o = all[side];
    if (o.contains("ApiVersion") && !o.contains("APIVersion")) o["APIVersion"] = o["ApiVersion"];
  }
  return all;
}

struct VersionOpts {
  std::string format;
};

int do_version(Ctx& ctx, VersionOpts& o) {
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto negotiated = (*api)->api_version();
  std::string v = negotiated ? *negotiated : std::string(client::kClientApiVersion);
  Json cl = client_version(v);
  auto server = negotiated ? (*api)->get_json("/version") : Result<Json>(negotiated.error());
  if (!o.format.empty()) {
    Json all = {{"Client", cl}, {"Server", server ? *server : Json(nullptr)}};
    FormatSpec spec = parse_format(o.format == "json" ? "{{json .}}" : o.format);
    auto t = Template::parse(spec.body);
    if (!t) return fail_msg("template parsing error: " + t.error().what());
    auto s = t->execute(spec.body == "{{json .}}" ? all : with_go_field_names(all));
    if (!s) return fail_msg("template parsing error: " + s.error().what());
    (void)out(*s + "\n");
    if (!server) return fail(server.error());
    return 0;
  }
  std::string text = "Client:\n";
  text += kv(" ", "Version", BERTH_VERSION, 19);
  std::string api_line = v;
  if (v != client::kClientApiVersion)
    api_line += " (downgraded from " + std::string(client::kClientApiVersion) + ")";
  text += kv(" ", "API version", api_line, 19);
  text += kv(" ", "OS/Arch", "linux/" + arch_name(), 19);
  text += kv(" ", "Context", "default", 19);
  (void)out(text);
  if (!server) {
    (void)out("\n");
    return fail(server.error());
  }
  const Json& s = *server;
  text = "\nServer:\n";
  std::string engine_name = "Engine";
  text += " " + engine_name + ":\n";
  text += kv("  ", "Version", s.value("Version", ""), 18);
  text +=
      kv("  ", "API version",
         s.value("ApiVersion", "") + " (minimum version " + s.value("MinAPIVersion", "") + ")", 18);
  text += kv("  ", "Go version", s.value("GoVersion", ""), 18);
  text += kv("  ", "Git commit", s.value("GitCommit", ""), 18);
  text += kv("  ", "Built", ansic_time(s.value("BuildTime", "")), 18);
  text += kv("  ", "OS/Arch", s.value("Os", "") + "/" + s.value("Arch", ""), 18);
  text += kv("  ", "Experimental", s.value("Experimental", false) ? "true" : "false", 18);
  if (s.contains("Components") && s["Components"].is_array()) {
    for (const auto& c : s["Components"]) {
      std::string name = c.value("Name", "");
      if (name == "Engine") continue;
      text += " " + name + ":\n";
      text += kv("  ", "Version", c.value("Version", ""), 18);
      if (c.contains("Details") && c["Details"].is_object()) {
        for (auto it = c["Details"].begin(); it != c["Details"].end(); ++it) {
          if (it.key() == "ApiVersion" || it.key() == "MinAPIVersion" || it.key() == "GoVersion" ||
              it.key() == "Os" || it.key() == "Arch" || it.key() == "BuildTime" ||
              it.key() == "Experimental" || it.key() == "KernelVersion")
            continue;
          text +=
              kv("  ", it.key(),
                 it.value().is_string() ? it.value().get<std::string>() : it.value().dump(), 18);
        }
      }
    }
  }
  (void)out(text);
  return 0;
}

// ---- info -------------------------------------------------------------------------------

struct InfoOpts {
  std::string format;
};

std::string value_text(const Json& v) {
  return v.is_string() ? v.get<std::string>() : go_format_value(v);
}

int do_info(Ctx& ctx, InfoOpts& o) {
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto info = (*api)->get_json("/info");
  if (!o.format.empty()) {
    if (!info) return fail(info.error());
    Json dot = *info;
    Json cl = client_version((*api)->api_version().value_or(std::string()));
    dot["ClientInfo"] = cl;
    auto t = Template::parse(parse_format(o.format == "json" ? "{{json .}}" : o.format).body);
    if (!t) return fail_msg("template parsing error: " + t.error().what());
    auto s = t->execute(dot);
    if (!s) return fail_msg("template parsing error: " + s.error().what());
    (void)out(*s + "\n");
    return 0;
  }
  std::string text = "Client:\n Version:    " BERTH_VERSION "\n Context:    default\n Debug Mode: ";
  text += ctx.debug ? "true\n" : "false\n";
  (void)out(text + "\n");
  if (!info) {
    (void)out("Server:\n");
    return fail(info.error());
  }
  const Json& i = *info;
  auto n = [&](const char* k) { return std::to_string(i.value(k, 0LL)); };
  text = "Server:\n";
  text += " Containers: " + n("Containers") + "\n";
  text += "  Running: " + n("ContainersRunning") + "\n";
  text += "  Paused: " + n("ContainersPaused") + "\n";
  text += "  Stopped: " + n("ContainersStopped") + "\n";
  text += " Images: " + n("Images") + "\n";
  text += " Server Version: " + i.value("ServerVersion", "") + "\n";
  text += " Storage Driver: " + i.value("Driver", "") + "\n";
  if (i.contains("DriverStatus") && i["DriverStatus"].is_array()) {
    for (const auto& p : i["DriverStatus"]) {
      if (p.is_array() && p.size() == 2)
        text += "  " + value_text(p[0]) + ": " + value_text(p[1]) + "\n";
    }
  }
  text += " Logging Driver: " + i.value("LoggingDriver", "") + "\n";
  text += " Cgroup Driver: " + i.value("CgroupDriver", "") + "\n";
  text += " Cgroup Version: " + i.value("CgroupVersion", "") + "\n";
  if (i.contains("Runtimes") && i["Runtimes"].is_object()) {
    std::vector<std::string> names;
    for (auto it = i["Runtimes"].begin(); it != i["Runtimes"].end(); ++it)
      names.push_back(it.key());
    std::sort(names.begin(), names.end());
    text += " Runtimes: " + join_words(names) + "\n";
  }
  text += " Default Runtime: " + i.value("DefaultRuntime", "") + "\n";
  if (i.contains("SecurityOptions") && i["SecurityOptions"].is_array() &&
      !i["SecurityOptions"].empty()) {
    text += " Security Options:\n";
    for (const auto& s : i["SecurityOptions"]) {
      // "name=seccomp,profile=default"
      std::string v = value_text(s);
      std::string name, rest;
      for (auto part : split(v, ',')) {
        std::string p(part);
        size_t eq = p.find('=');
        std::string k = p.substr(0, eq), val = eq == std::string::npos ? "" : p.substr(eq + 1);
        if (k == "name")
          name = val;
        else if (!k.empty())
          rest += "   " + std::string(1, static_cast<char>(std::toupper(k[0]))) + k.substr(1) +
                  ": " + val + "\n";
      }
      text += "  " + name + "\n" + rest;
    }
  }
  text += " Kernel Version: " + i.value("KernelVersion", "") + "\n";
  text += " Operating System: " + i.value("OperatingSystem", "") + "\n";
  text += " OSType: " + i.value("OSType", "") + "\n";
  text += " Architecture: " + i.value("Architecture", "") + "\n";
  text += " CPUs: " + n("NCPU") + "\n";
  text += " Total Memory: " + binary_size(i.value("MemTotal", 0.0)) + "\n";
  text += " Name: " + i.value("Name", "") + "\n";
  text += " ID: " + i.value("ID", "") + "\n";
  text += " Docker Root Dir: " + i.value("DockerRootDir", "") + "\n";
  text += " Debug Mode: " + std::string(i.value("Debug", false) ? "true" : "false") + "\n";
  text += " Experimental: " + std::string(i.value("ExperimentalBuild", false) ? "true" : "false") +
          "\n";
  text += " Live Restore Enabled: " +
          std::string(i.value("LiveRestoreEnabled", false) ? "true" : "false") + "\n";
  (void)out(text + "\n");
  if (i.contains("Warnings") && i["Warnings"].is_array()) {
    for (const auto& w : i["Warnings"]) (void)err_out(value_text(w) + "\n");
  }
  return 0;
}

// ---- events -----------------------------------------------------------------------------

struct EventsOpts {
  std::string since, until, format;
  std::vector<std::string> filters;
};

int do_events(Ctx& ctx, EventsOpts& o) {
  auto api = ctx.api();
  if (!api) return fail(api.error());
  double now = now_seconds();
  client::Query q;
  if (!o.since.empty()) {
    auto s = parse_timestamp_arg(o.since, now);
    if (!s) return fail_msg(s.error().what());
    q.add("since", *s);
  }
  if (!o.until.empty()) {
    auto s = parse_timestamp_arg(o.until, now);
    if (!s) return fail_msg(s.error().what());
    q.add("until", *s);
  }
  if (!o.filters.empty()) {
    auto f = filters_json(o.filters);
    if (!f) return fail_msg(f.error().what());
    q.add("filters", *f);
  }
  std::optional<Template> tmpl;
  if (!o.format.empty()) {
    auto t = Template::parse(parse_format(o.format == "json" ? "{{json .}}" : o.format).body);
    if (!t) return fail_msg("template parsing error: " + t.error().what());
    tmpl = std::move(*t);
  }
  auto r = (*api)->open_stream("GET", "/events" + q.str());
  if (!r) return fail(r.error());
  for (;;) {
    auto line = r->read_line();
    if (!line) return fail(line.error());
    if (!*line) return 0;
    Json e = Json::parse(**line, nullptr, false);
    if (!e.is_object()) continue;
    std::string text;
    if (tmpl) {
      auto s = tmpl->execute(e);
      if (!s) return fail_msg("template parsing error: " + s.error().what());
      text = *s + "\n";
    } else {
      long long nanos = e.value("timeNano", 0LL);
      if (nanos == 0) nanos = e.value("time", 0LL) * 1000000000LL;
      double secs = static_cast<double>(nanos / 1000000000LL);
      text = rfc3339_nano(secs, static_cast<long>(nanos % 1000000000LL), true) + " " +
             e.value("Type", "") + " " + e.value("Action", "") + " ";
      const Json& actor = e.value("Actor", Json::object());
      text += actor.value("ID", "");
      if (actor.contains("Attributes") && actor["Attributes"].is_object() &&
          !actor["Attributes"].empty()) {
        std::vector<std::string> attrs;
        for (auto it = actor["Attributes"].begin(); it != actor["Attributes"].end(); ++it) {
          attrs.push_back(it.key() + "=" + value_text(it.value()));
        }
        std::sort(attrs.begin(), attrs.end());
        text += " (" + join_words(attrs, ", ") + ")";
      }
      text += "\n";
    }
    if (auto w = out(text); !w) return w.error().errno_value() == EPIPE ? 0 : fail(w.error());
  }
}

// ---- system df, prune -------------------------------------------------------------------

struct DfOpts {
  bool verbose = false;
  std::string format;
};

std::string percent_of(double part, double total) {
  if (total <= 0) return "0%";
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.0f%%", part / total * 100);
  return buf;
}

int do_df(Ctx& ctx, DfOpts& o) {
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto r = (*api)->get_json("/system/df");
  if (!r) return fail(r.error());
  const Json& d = *r;
  std::vector<Json> rows;
  auto add_row = [&rows](const char* type, long count, long active, double total,
                         std::string reclaimable) {
    rows.push_back({{"Active", std::to_string(active)},
                    {"Reclaimable", std::move(reclaimable)},
                    {"Size", human_size(total, 4)},
                    {"TotalCount", std::to_string(count)},
                    {"Type", type}});
  };
  // "1.2MB (40%)": the percentage only when there is a total to take it of.
  auto with_percent = [](double reclaim, double total) {
    std::string rc = human_size(reclaim, 4);
    if (total > 0) rc += " (" + percent_of(reclaim, total) + ")";
    return rc;
  };
  // Images: active = used by a container; reclaimable = size of unused images.
  {
    double total = 0, reclaim = 0;
    long count = 0, active = 0;
    if (d["Images"].is_array()) {
      for (const auto& im : d["Images"]) {
        count++;
        double size = im.value("Size", 0.0);
        total += size - std::max(0.0, im.value("SharedSize", 0.0));
        if (im.value("Containers", 0LL) > 0)
          active++;
        else
          reclaim += size - std::max(0.0, im.value("SharedSize", 0.0));
      }
    }
    double layers = d.value("LayersSize", total);
    if (layers > 0) total = layers;
    add_row("Images", count, active, total,
            human_size(reclaim, 4) + " (" + percent_of(reclaim, total) + ")");
  }
  {
    double total = 0, reclaim = 0;
    long count = 0, active = 0;
    if (d["Containers"].is_array()) {
      for (const auto& c : d["Containers"]) {
        count++;
        double size = c.value("SizeRw", 0.0);
        total += size;
        if (c.value("State", "") == "running")
          active++;
        else
          reclaim += size;
      }
    }
    add_row("Containers", count, active, total, with_percent(reclaim, total));
  }
  {
    double total = 0, reclaim = 0;
    long count = 0, active = 0;
    if (d["Volumes"].is_array()) {
      for (const auto& v : d["Volumes"]) {
        count++;
        double size =
            v.contains("UsageData") ? std::max(0.0, v["UsageData"].value("Size", 0.0)) : 0.0;
        total += size;
        if (v.contains("UsageData") && v["UsageData"].value("RefCount", 0LL) > 0)
          active++;
        else
          reclaim += size;
      }
    }
    add_row("Local Volumes", count, active, total, with_percent(reclaim, total));
  }
  {
    double total = 0, reclaim = 0;
    long count = 0, active = 0;
    if (d["BuildCache"].is_array()) {
      for (const auto& b : d["BuildCache"]) {
        count++;
        double size = b.value("Size", 0.0);
        total += size;
        if (b.value("InUse", false))
          active++;
        else if (!b.value("Shared", false))
          reclaim += size;
      }
    }
    add_row("Build Cache", count, active, total, human_size(reclaim, 4));
  }
  std::string format = o.format.empty() ? "table" : o.format;
  FormatSpec spec = parse_format(format == "json" ? "{{json .}}" : format);
  if (spec.body.empty())
    spec.body = "{{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}";
  static const Json header = {{"Active", "ACTIVE"},
                              {"Reclaimable", "RECLAIMABLE"},
                              {"Size", "SIZE"},
                              {"TotalCount", "TOTAL"},
                              {"Type", "TYPE"}};
  auto text = render_rows(spec, header, rows);
  if (!text) return fail_msg("template parsing error: " + text.error().what());
  (void)out(*text);
  return 0;
}

struct SystemPruneOpts {
  bool all = false, force = false, volumes = false;
  std::vector<std::string> filters;
};

int do_system_prune(Ctx& ctx, SystemPruneOpts& o) {
  if (!o.force) {
    std::string w = "WARNING! This will remove:\n  - all stopped containers\n";
    if (o.volumes) w += "  - all anonymous volumes not used by at least one container\n";
    w += o.all ? "  - all images without at least one container associated to them\n"
               : "  - all dangling images\n";
    (void)out(w + "\nAre you sure you want to continue? [y/N] ");
    char buf[16] = {};
    if (read(STDIN_FILENO, buf, sizeof(buf) - 1) <= 0 || (buf[0] != 'y' && buf[0] != 'Y')) return 0;
  }
  auto api = ctx.api();
  if (!api) return fail(api.error());
  double reclaimed = 0;
  std::string text;
  std::string cf;
  if (!o.filters.empty()) {
    auto f = filters_json(o.filters);
    if (!f) return fail_msg(f.error().what());
    cf = *f;
  }
  auto c =
      (*api)->post_json("/containers/prune" + (cf.empty() ? std::string() : "?filters=" + esc(cf)));
  if (!c) return fail(c.error());
  if ((*c)["ContainersDeleted"].is_array() && !(*c)["ContainersDeleted"].empty()) {
    text += "Deleted Containers:\n";
    for (const auto& id : (*c)["ContainersDeleted"]) text += id.get<std::string>() + "\n";
    text += "\n";
  }
  reclaimed += c->value("SpaceReclaimed", 0.0);
  if (o.volumes) {
    auto v = (*api)->post_json("/volumes/prune");
    if (!v) return fail(v.error());
    if ((*v)["VolumesDeleted"].is_array() && !(*v)["VolumesDeleted"].empty()) {
      text += "Deleted Volumes:\n";
      for (const auto& id : (*v)["VolumesDeleted"]) text += id.get<std::string>() + "\n";
      text += "\n";
    }
    reclaimed += v->value("SpaceReclaimed", 0.0);
  }
  std::vector<std::string> imf = o.filters;
  imf.push_back(std::string("dangling=") + (o.all ? "false" : "true"));
  auto f = filters_json(imf);
  auto im = (*api)->post_json("/images/prune?filters=" + esc(*f));
  if (!im) return fail(im.error());
  if ((*im)["ImagesDeleted"].is_array() && !(*im)["ImagesDeleted"].empty()) {
    text += "Deleted Images:\n";
    for (const auto& it : (*im)["ImagesDeleted"]) {
      if (it.contains("Untagged")) text += "untagged: " + it["Untagged"].get<std::string>() + "\n";
      if (it.contains("Deleted")) text += "deleted: " + it["Deleted"].get<std::string>() + "\n";
    }
    text += "\n";
  }
  reclaimed += im->value("SpaceReclaimed", 0.0);
  text += "Total reclaimed space: " + human_size(reclaimed, 3) + "\n";
  (void)out(text);
  return 0;
}

}  // namespace

void add_system_commands(CLI::App& app, Ctx& ctx) {
  Groups& g = groups();
  if (wanted(&app, "version")) {
    auto vo = std::make_shared<VersionOpts>();
    CLI::App* v = add_cmd(&app, "version", "[OPTIONS]", "Show the berth version information");
    v->add_option("-f,--format", vo->format, "Format output using a custom template");
    v->callback([&ctx, vo] { ctx.status = do_version(ctx, *vo); });
  }
  register_both(app, g.system, "info", "info", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<InfoOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS]", "Display system-wide information");
    cmd->add_option("-f,--format", o->format, "Format output using a custom template");
    cmd->callback([&ctx, o] { ctx.status = do_info(ctx, *o); });
  });
  register_both(app, g.system, "events", "events", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<EventsOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS]", "Get real time events from the server");
    cmd->add_option("--since", o->since, "Show all events created since timestamp");
    cmd->add_option("--until", o->until, "Stream events until this timestamp");
    add_multi(cmd, "-f,--filter", o->filters, "Filter output based on conditions provided");
    cmd->add_option("--format", o->format, "Format output using a custom template");
    cmd->callback([&ctx, o] { ctx.status = do_events(ctx, *o); });
  });
  if (wanted(g.system, "df")) {
    auto dfo = std::make_shared<DfOpts>();
    CLI::App* df = add_cmd(g.system, "df", "[OPTIONS]", "Show docker disk usage");
    df->add_flag("-v,--verbose", dfo->verbose, "Show detailed information on space usage");
    df->add_option("--format", dfo->format, "Format output using a custom template");
    df->callback([&ctx, dfo] { ctx.status = do_df(ctx, *dfo); });
  }
  if (!wanted(g.system, "prune")) return;
  auto po = std::make_shared<SystemPruneOpts>();
  CLI::App* pr = add_cmd(g.system, "prune", "[OPTIONS]", "Remove unused data");
  pr->add_flag("-a,--all", po->all, "Remove all unused images not just dangling ones");
  pr->add_flag("-f,--force", po->force, "Do not prompt for confirmation");
  pr->add_flag("--volumes", po->volumes, "Prune anonymous volumes");
  add_multi(pr, "--filter", po->filters, "Provide filter values (e.g. \"label=<key>=<value>\")");
  pr->callback([&ctx, po] { ctx.status = do_system_prune(ctx, *po); });
}

}  // namespace berth::cli
