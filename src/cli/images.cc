// Image commands: images, pull, push, rmi, tag, save, load, history, image prune; and the
// JSON-lines progress display (docker's jsonmessage) that pull, push and load share.
#include <fcntl.h>
#include <unistd.h>

#include <map>
#include <set>

#include "cli/command.h"
#include "cli/format.h"
#include "cli/template.h"
#include "util/fd.h"

namespace berth::cli {

namespace {

std::string esc(const std::string& s) { return client::url_escape(s); }

// "[=====>     ]  1.2MB/3.4MB" from a progressDetail, when the message has no text for it.
std::string progress_bar(const Json& detail) {
  double cur = detail.value("current", 0.0), total = detail.value("total", 0.0);
  if (total <= 0) return cur > 0 ? human_size(cur, 3) : "";
  int width = 50;
  int filled = static_cast<int>(cur / total * width);
  if (filled > width) filled = width;
  std::string bar = "[" + std::string(static_cast<size_t>(filled), '=');
  if (filled < width) bar += ">" + std::string(static_cast<size_t>(width - filled - 1), ' ');
  bar += "]";
  return bar + "  " + human_size(cur, 3) + "/" + human_size(total, 3);
}

}  // namespace

Result<void> display_progress(client::Response& r, int fd, bool quiet) {
  bool tty = isatty(fd);
  std::map<std::string, int> line_of;  // id -> line index (tty mode)
  int lines = 0;
  for (;;) {
    auto line = BERTH_TRY(r.read_line());
    if (!line) return ok();
    if (line->empty()) continue;
    Json m = Json::parse(*line, nullptr, false);
    if (!m.is_object()) continue;
    if (m.contains("errorDetail") || m.contains("error")) {
      std::string msg = m.value("error", "");
      if (m.contains("errorDetail") && m["errorDetail"].is_object()) {
        msg = m["errorDetail"].value("message", msg);
      }
      return Error::internal(msg);
    }
    if (quiet) continue;
    std::string id = m.value("id", "");
    std::string status = m.value("status", "");
    std::string stream = m.value("stream", "");
    std::string progress = m.value("progress", "");
    bool has_progress = m.contains("progressDetail") && m["progressDetail"].is_object() &&
                        !m["progressDetail"].empty();
    if (progress.empty() && has_progress) progress = progress_bar(m["progressDetail"]);
    if (!stream.empty()) {
      BERTH_TRY(write_all(fd, stream));
      continue;
    }
    if (!tty) {
      // No bars without a terminal: progress updates are skipped, like docker.
      if (!progress.empty()) continue;
      BERTH_TRY(write_all(fd, (id.empty() ? "" : id + ": ") + status + "\n"));
      continue;
    }
    std::string text =
        (id.empty() ? "" : id + ": ") + status + (progress.empty() ? "" : " " + progress);
    if (id.empty()) {
      BERTH_TRY(write_all(fd, text + "\n"));
      lines++;
      line_of.clear();  // docker starts a new block after an id-less line
      continue;
    }
    auto it = line_of.find(id);
    if (it == line_of.end()) {
      line_of[id] = lines++;
      BERTH_TRY(write_all(fd, text + "\n"));
      continue;
    }
    int up = lines - it->second;
    std::string seq =
        "\x1b[" + std::to_string(up) + "A\r\x1b[2K" + text + "\r\x1b[" + std::to_string(up) + "B";
    BERTH_TRY(write_all(fd, seq));
  }
}

namespace {

// "busybox" -> ("busybox", "latest"); keeps registry ports ("host:5000/a") and digests.
std::pair<std::string, std::string> split_ref(const std::string& ref) {
  if (size_t at = ref.find('@'); at != std::string::npos)
    return {ref.substr(0, at), ref.substr(at)};
  size_t slash = ref.rfind('/');
  size_t colon = ref.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
    return {ref.substr(0, colon), ref.substr(colon + 1)};
  }
  return {ref, ""};
}

const std::map<std::string, std::string> kAuthHeader = {{"X-Registry-Auth", "e30="}};  // "{}"

}  // namespace

Result<void> pull_image(client::Client& api, const std::string& ref, const std::string& platform,
                        bool quiet, int fd, bool all_tags) {
  auto [name, tag] = split_ref(ref);
  client::Query q;
  q.add("fromImage", name);
  if (tag.starts_with("@"))
    q.add("tag", tag.substr(1));
  else if (!all_tags)
    q.add("tag", tag.empty() ? "latest" : tag);
  q.add_if(!platform.empty(), "platform", platform);
  client::Response r =
      BERTH_TRY(api.open_stream("POST", "/images/create" + q.str(), std::nullopt, kAuthHeader));
  return display_progress(r, fd, quiet);
}

namespace {

struct PullOpts {
  bool quiet = false, all_tags = false;
  std::string platform;
  std::vector<std::string> args;
};

// The reference as docker prints it after a pull: docker.io/library/ for Docker Hub names.
std::string canonical_ref(const std::string& ref) {
  size_t slash = ref.find('/');
  std::string first = slash == std::string::npos ? "" : ref.substr(0, slash);
  if (slash == std::string::npos) return "docker.io/library/" + ref;
  if (first.find('.') == std::string::npos && first.find(':') == std::string::npos &&
      first != "localhost") {
    return "docker.io/" + ref;
  }
  return ref;
}

int do_pull(Ctx& ctx, CLI::App* cmd, PullOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 1, 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  std::string ref = o.args[0];
  auto [name, tag] = split_ref(ref);
  if (o.all_tags && !tag.empty()) {
    (void)err_out("tag can't be used with --all-tags/-a\n");
    return 1;
  }
  if (tag.empty() && !o.all_tags) {
    if (!o.quiet) (void)out("Using default tag: latest\n");
    ref += ":latest";
  }
  // -a: no tag in the request, and the daemon pulls every tag of the repository.
  auto r = pull_image(**api, ref, o.platform, o.quiet, STDOUT_FILENO, o.all_tags);
  if (!r) return fail(r.error());
  (void)out(canonical_ref(ref) + "\n");
  return 0;
}

int do_push(Ctx& ctx, CLI::App* cmd, PullOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 1, 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto [name, tag] = split_ref(o.args[0]);
  if (tag.empty() && !o.all_tags) {
    if (!o.quiet) (void)out("Using default tag: latest\n");
    tag = "latest";
  }
  client::Query q;
  q.add_if(!tag.empty(), "tag", tag);
  auto r =
      (*api)->open_stream("POST", "/images/" + name + "/push" + q.str(), std::nullopt, kAuthHeader);
  if (!r) return fail(r.error());
  auto d = display_progress(*r, STDOUT_FILENO, o.quiet);
  if (!d) return fail(d.error());
  if (o.quiet) (void)out(o.args[0] + "\n");
  return 0;
}

// ---- images -----------------------------------------------------------------------------

struct ImagesOpts {
  bool all = false, quiet = false, no_trunc = false, digests = false;
  std::vector<std::string> filters;
  std::string format;
  std::vector<std::string> args;
};

std::string count_or_na(const Json& v) {
  if (!v.is_number() || v.get<double>() < 0) return "N/A";
  return std::to_string(v.get<long long>());
}

int do_images(Ctx& ctx, CLI::App* cmd, ImagesOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 0, 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  std::vector<std::string> filters = o.filters;
  if (!o.args.empty()) filters.push_back("reference=" + o.args[0]);
  client::Query q;
  q.add_if(o.all, "all", "1");
  if (!filters.empty()) {
    auto f = filters_json(filters);
    if (!f) return fail_msg(f.error().what());
    q.add("filters", *f);
  }
  auto list = (*api)->get_json("/images/json" + q.str());
  if (!list) return fail(list.error());
  if (o.quiet) {
    std::string text;
    for (const auto& im : *list) {
      // One line per name, as docker prints them.
      std::string id = im.value("Id", "");
      size_t names =
          im.contains("RepoTags") && im["RepoTags"].is_array() ? im["RepoTags"].size() : 0;
      for (size_t i = 0; i < std::max<size_t>(names, 1); i++)
        text += (o.no_trunc ? id : short_id(id)) + "\n";
    }
    (void)out(text);
    return 0;
  }
  std::string format = o.format.empty() ? "table" : o.format;
  FormatSpec spec = parse_format(format == "json" ? "{{json .}}" : format);
  if (spec.body.empty()) {
    spec.body =
        o.digests ? "{{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
                  : "{{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}";
  }
  double now = now_seconds();
  std::vector<Json> rows;
  for (const auto& im : *list) {
    std::string id = im.value("Id", "");
    double created = im.value("Created", 0.0);
    std::vector<std::pair<std::string, std::string>> names;
    std::map<std::string, std::string> digest_of;  // repo -> digest
    if (im.contains("RepoDigests") && im["RepoDigests"].is_array()) {
      for (const auto& d : im["RepoDigests"]) {
        std::string s = d.get<std::string>();
        size_t at = s.find('@');
        if (at != std::string::npos) digest_of[s.substr(0, at)] = s.substr(at + 1);
      }
    }
    if (im.contains("RepoTags") && im["RepoTags"].is_array()) {
      for (const auto& t : im["RepoTags"]) {
        std::string s = t.get<std::string>();
        if (s == "<none>:<none>") continue;
        auto [repo, tag] = split_ref(s);
        names.emplace_back(repo, tag);
      }
    }
    if (names.empty()) {
      if (!digest_of.empty()) {
        for (const auto& [repo, dg] : digest_of) names.emplace_back(repo, "<none>");
      } else {
        names.emplace_back("<none>", "<none>");
      }
    }
    for (const auto& [repo, tag] : names) {
      Json row = Json::object();
      row["Containers"] = count_or_na(im.value("Containers", Json(-1)));
      row["CreatedAt"] = go_time_string(created);
      row["CreatedSince"] = human_duration(now - created) + " ago";
      auto d = digest_of.find(repo);
      row["Digest"] = d == digest_of.end() ? "<none>" : d->second;
      row["ID"] = o.no_trunc ? id : short_id(id);
      row["Repository"] = repo;
      row["SharedSize"] =
          im.value("SharedSize", -1.0) < 0 ? "N/A" : human_size(im.value("SharedSize", 0.0), 3);
      row["Size"] = human_size(im.value("Size", 0.0), 3);
      row["Tag"] = tag;
      double shared = im.value("SharedSize", -1.0);
      row["UniqueSize"] = shared < 0 ? "N/A" : human_size(im.value("Size", 0.0) - shared, 3);
      row["VirtualSize"] = human_size(im.value("VirtualSize", im.value("Size", 0.0)), 4);
      rows.push_back(std::move(row));
    }
  }
  static const Json header = {{"Containers", "CONTAINERS"},
                              {"CreatedAt", "CREATED AT"},
                              {"CreatedSince", "CREATED"},
                              {"Digest", "DIGEST"},
                              {"ID", "IMAGE ID"},
                              {"Repository", "REPOSITORY"},
                              {"SharedSize", "SHARED SIZE"},
                              {"Size", "SIZE"},
                              {"Tag", "TAG"},
                              {"UniqueSize", "UNIQUE SIZE"},
                              {"VirtualSize", "VIRTUAL SIZE"}};
  auto text = render_rows(spec, header, rows);
  if (!text) return fail_msg("template parsing error: " + text.error().what());
  (void)out(*text);
  return 0;
}

// ---- rmi, tag ---------------------------------------------------------------------------

struct RmiOpts {
  bool force = false, no_prune = false;
  std::vector<std::string> args;
};

int do_rmi(Ctx& ctx, CLI::App* cmd, RmiOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  int status = 0;
  for (const auto& name : o.args) {
    client::Query q;
    q.add_if(o.force, "force", "1").add_if(o.no_prune, "noprune", "1");
    auto r = (*api)->call("DELETE", "/images/" + name + q.str());
    if (!r) {
      (void)fail(r.error());
      status = 1;
      continue;
    }
    Json items = Json::parse(*r, nullptr, false);
    std::string text;
    if (items.is_array()) {
      for (const auto& it : items) {
        if (it.contains("Untagged"))
          text += "Untagged: " + it["Untagged"].get<std::string>() + "\n";
        if (it.contains("Deleted")) text += "Deleted: " + it["Deleted"].get<std::string>() + "\n";
      }
    }
    (void)out(text);
  }
  return status;
}

int do_tag(Ctx& ctx, CLI::App* cmd, RmiOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 2, 2)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto [repo, tag] = split_ref(o.args[1]);
  if (tag.starts_with("@")) return fail_msg("refusing to create a tag with a digest reference");
  client::Query q;
  q.add("repo", repo).add("tag", tag.empty() ? "latest" : tag);
  auto r = (*api)->call("POST", "/images/" + o.args[0] + "/tag" + q.str());
  if (!r) return fail(r.error());
  return 0;
}

// ---- save, load -------------------------------------------------------------------------

struct SaveOpts {
  std::string output, input;
  bool quiet = false;
  std::vector<std::string> args;
};

int do_save(Ctx& ctx, CLI::App* cmd, SaveOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 1)) return ctx.status;
  if (o.output.empty() && isatty(STDOUT_FILENO)) {
    return fail_msg("cowardly refusing to save to a terminal. Use the -o flag or redirect");
  }
  auto api = ctx.api();
  if (!api) return fail(api.error());
  client::Query q;
  for (const auto& n : o.args) q.add("names", n);
  auto r = (*api)->open_stream("GET", "/images/get" + q.str());
  if (!r) return fail(r.error());
  UniqueFd file;
  std::string tmp;
  int fd = STDOUT_FILENO;
  if (!o.output.empty()) {
    // Written to a temp file next to the target and renamed at the end: a failed save
    // leaves nothing behind.
    tmp = o.output + ".berth-tmp-" + std::to_string(getpid());
    file = UniqueFd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (!file) return fail_msg("failed to save image: invalid output path: " + errno_text(errno));
    fd = file.get();
  }
  std::vector<char> buf(1 << 16);
  for (;;) {
    auto n = r->read(buf.data(), buf.size());
    auto w = n && *n ? write_all(fd, std::string_view(buf.data(), *n)) : Result<void>();
    if (!n || !w) {
      if (!tmp.empty()) unlink(tmp.c_str());
      return fail(!n ? n.error() : w.error());
    }
    if (*n == 0) break;
  }
  if (!tmp.empty() && rename(tmp.c_str(), o.output.c_str()) != 0) {
    unlink(tmp.c_str());
    return fail_msg("failed to save image: " + errno_text(errno));
  }
  return 0;
}

int do_load(Ctx& ctx, CLI::App* cmd, SaveOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 0, 0)) return ctx.status;
  UniqueFd file;
  int fd = STDIN_FILENO;
  if (!o.input.empty()) {
    file = UniqueFd(open(o.input.c_str(), O_RDONLY | O_CLOEXEC));
    if (!file) return fail_msg("open " + o.input + ": " + errno_text(errno));
    fd = file.get();
  } else if (isatty(STDIN_FILENO)) {
    return fail_msg("requested load from stdin, but stdin is empty");
  }
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto r = (*api)->upload("POST", std::string("/images/load") + (o.quiet ? "?quiet=1" : "?quiet=0"),
                          "application/x-tar", [fd](char* b, size_t n) -> Result<size_t> {
                            for (;;) {
                              ssize_t k = read(fd, b, n);
                              if (k < 0 && errno == EINTR) continue;
                              if (k < 0) return Error::sys("read the archive");
                              return static_cast<size_t>(k);
                            }
                          });
  if (!r) return fail(r.error());
  if (r->header("content-type") == "application/json") {
    auto d = display_progress(*r, STDOUT_FILENO, false);
    if (!d) return fail(d.error());
  } else {
    auto body = r->read_all();
    if (body) (void)out(*body);
  }
  return 0;
}

// ---- history, prune ---------------------------------------------------------------------

struct HistoryOpts {
  bool human = true, quiet = false, no_trunc = false;
  std::string format;
  std::vector<std::string> args;
};

int do_history(Ctx& ctx, CLI::App* cmd, HistoryOpts& o) {
  if (!check_args(ctx, cmd, o.args.size(), 1, 1)) return ctx.status;
  auto api = ctx.api();
  if (!api) return fail(api.error());
  auto list = (*api)->get_json("/images/" + o.args[0] + "/history");
  if (!list) return fail(list.error());
  double now = now_seconds();
  std::vector<Json> rows;
  std::string quiet_text;
  for (const auto& h : *list) {
    std::string id = h.value("Id", "<missing>");
    std::string shown = id == "<missing>" || o.no_trunc ? id : short_id(id);
    quiet_text += shown + "\n";
    double created = h.value("Created", 0.0);
    std::string by = h.value("CreatedBy", "");
    // Whitespace runs collapse to one space (docker), then the ellipsis.
    std::string flat;
    for (char c : by) {
      if (c == '\t' || c == '\n') c = ' ';
      if (c == ' ' && !flat.empty() && flat.back() == ' ') continue;
      flat += c;
    }
    Json row = Json::object();
    row["Comment"] = h.value("Comment", "");
    row["CreatedAt"] = created <= 0 ? "N/A"
                       : o.human    ? human_duration(now - created) + " ago"
                                    : rfc3339_nano(created, 0);
    row["CreatedBy"] = o.no_trunc ? flat : ellipsis(flat, 45);
    // docker's history shows N/A for an image without a creation time (the epoch).
    row["CreatedSince"] = created <= 0 ? "N/A" : human_duration(now - created) + " ago";
    row["ID"] = shown;
    row["Size"] =
        o.human ? human_size(h.value("Size", 0.0), 3) : std::to_string(h.value("Size", 0LL));
    rows.push_back(std::move(row));
  }
  if (o.quiet) {
    (void)out(quiet_text);
    return 0;
  }
  std::string format = o.format.empty() ? "table" : o.format;
  FormatSpec spec = parse_format(format == "json" ? "{{json .}}" : format);
  if (spec.body.empty())
    spec.body = "{{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}";
  static const Json header = {{"Comment", "COMMENT"},
                              {"CreatedAt", "CREATED AT"},
                              {"CreatedBy", "CREATED BY"},
                              {"CreatedSince", "CREATED"},
                              {"ID", "IMAGE"},
                              {"Size", "SIZE"}};
  auto text = render_rows(spec, header, rows);
  if (!text) return fail_msg("template parsing error: " + text.error().what());
  (void)out(*text);
  return 0;
}

struct ImagePruneOpts {
  bool all = false, force = false;
  std::vector<std::string> filters;
};

int do_image_prune(Ctx& ctx, ImagePruneOpts& o) {
  if (!o.force) {
    std::string w = o.all ? "WARNING! This will remove all images without at least one container "
                            "associated to them."
                          : "WARNING! This will remove all dangling images.";
    (void)out(w + "\nAre you sure you want to continue? [y/N] ");
    char buf[16] = {};
    if (read(STDIN_FILENO, buf, sizeof(buf) - 1) <= 0 || (buf[0] != 'y' && buf[0] != 'Y')) return 0;
  }
  auto api = ctx.api();
  if (!api) return fail(api.error());
  std::vector<std::string> filters = o.filters;
  filters.push_back(std::string("dangling=") + (o.all ? "false" : "true"));
  auto f = filters_json(filters);
  if (!f) return fail_msg(f.error().what());
  auto r = (*api)->post_json("/images/prune?filters=" + esc(*f));
  if (!r) return fail(r.error());
  std::string text;
  if ((*r)["ImagesDeleted"].is_array() && !(*r)["ImagesDeleted"].empty()) {
    text += "Deleted Images:\n";
    for (const auto& it : (*r)["ImagesDeleted"]) {
      if (it.contains("Untagged")) text += "untagged: " + it["Untagged"].get<std::string>() + "\n";
      if (it.contains("Deleted")) text += "deleted: " + it["Deleted"].get<std::string>() + "\n";
    }
    text += "\n";
  }
  text += "Total reclaimed space: " + human_size(r->value("SpaceReclaimed", 0.0), 3) + "\n";
  (void)out(text);
  return 0;
}

}  // namespace

void add_image_commands(CLI::App& app, Ctx& ctx) {
  Groups& g = groups();
  register_both(app, g.image, "images", "ls", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<ImagesOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS] [REPOSITORY[:TAG]]", "List images");
    if (n == "ls") cmd->alias("list");
    cmd->add_flag("-a,--all", o->all, "Show all images (default hides intermediate images)");
    cmd->add_flag("-q,--quiet", o->quiet, "Only show image IDs");
    cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
    cmd->add_flag("--digests", o->digests, "Show digests");
    add_multi(cmd, "-f,--filter", o->filters, "Filter output based on conditions provided");
    cmd->add_option("--format", o->format, "Format output using a custom template");
    cmd->add_option("args", o->args);
    cmd->callback([&ctx, cmd, o] { ctx.status = do_images(ctx, cmd, *o); });
  });
  for (const char* verb : {"pull", "push"}) {
    register_both(app, g.image, verb, verb, [&, verb](CLI::App* p, const std::string& n) {
      auto o = std::make_shared<PullOpts>();
      bool pull = std::string(verb) == "pull";
      CLI::App* cmd =
          add_cmd(p, n, "[OPTIONS] NAME[:TAG" + std::string(pull ? "|@DIGEST]" : "]"),
                  pull ? "Download an image from a registry" : "Upload an image to a registry");
      cmd->add_flag("-q,--quiet", o->quiet, "Suppress verbose output");
      cmd->add_flag("-a,--all-tags", o->all_tags,
                    pull ? "Download all tagged images in the repository"
                         : "Push all tags of an image to the repository");
      cmd->add_option("--platform", o->platform,
                      "Set platform if server is multi-platform capable");
      cmd->add_option("args", o->args);
      cmd->callback([&ctx, cmd, o, pull] {
        ctx.status = pull ? do_pull(ctx, cmd, *o) : do_push(ctx, cmd, *o);
      });
    });
  }
  register_both(app, g.image, "rmi", "rm", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<RmiOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS] IMAGE [IMAGE...]", "Remove one or more images");
    if (n == "rm") cmd->alias("remove");
    cmd->add_flag("-f,--force", o->force, "Force removal of the image");
    cmd->add_flag("--no-prune", o->no_prune, "Do not delete untagged parents");
    cmd->add_option("args", o->args);
    cmd->callback([&ctx, cmd, o] { ctx.status = do_rmi(ctx, cmd, *o); });
  });
  register_both(app, g.image, "tag", "tag", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<RmiOpts>();
    CLI::App* cmd = add_cmd(p, n, "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
                            "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE");
    cmd->add_option("args", o->args);
    cmd->callback([&ctx, cmd, o] { ctx.status = do_tag(ctx, cmd, *o); });
  });
  register_both(app, g.image, "save", "save", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<SaveOpts>();
    CLI::App* cmd =
        add_cmd(p, n, "[OPTIONS] IMAGE [IMAGE...]",
                "Save one or more images to a tar archive (streamed to STDOUT by default)");
    cmd->add_option("-o,--output", o->output, "Write to a file, instead of STDOUT");
    cmd->add_option("args", o->args);
    cmd->callback([&ctx, cmd, o] { ctx.status = do_save(ctx, cmd, *o); });
  });
  register_both(app, g.image, "load", "load", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<SaveOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS]", "Load an image from a tar archive or STDIN");
    cmd->add_option("-i,--input", o->input, "Read from tar archive file, instead of STDIN");
    cmd->add_flag("-q,--quiet", o->quiet, "Suppress the load output");
    cmd->add_option("args", o->args);
    cmd->callback([&ctx, cmd, o] { ctx.status = do_load(ctx, cmd, *o); });
  });
  register_both(app, g.image, "history", "history", [&](CLI::App* p, const std::string& n) {
    auto o = std::make_shared<HistoryOpts>();
    CLI::App* cmd = add_cmd(p, n, "[OPTIONS] IMAGE", "Show the history of an image");
    cmd->add_flag("-H,--human", o->human, "Print sizes and dates in human readable format");
    cmd->add_flag("-q,--quiet", o->quiet, "Only show image IDs");
    cmd->add_flag("--no-trunc", o->no_trunc, "Don't truncate output");
    cmd->add_option("--format", o->format, "Format output using a custom template");
    cmd->add_option("args", o->args);
    cmd->callback([&ctx, cmd, o] { ctx.status = do_history(ctx, cmd, *o); });
  });
  if (!wanted(g.image, "prune")) return;
  auto prune = std::make_shared<ImagePruneOpts>();
  CLI::App* pc = add_cmd(g.image, "prune", "[OPTIONS]", "Remove unused images");
  pc->add_flag("-a,--all", prune->all, "Remove all unused images, not just dangling ones");
  pc->add_flag("-f,--force", prune->force, "Do not prompt for confirmation");
  add_multi(pc, "--filter", prune->filters, "Provide filter values (e.g. \"until=<timestamp>\")");
  pc->callback([&ctx, prune] { ctx.status = do_image_prune(ctx, *prune); });
}

}  // namespace berth::cli
