// /images/json, /images/{name}/json, history, tag, delete, prune.
#include "api/images.h"

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "api/images_internal.h"
#include "api/json_util.h"
#include "engine/events.h"
#include "image/archive.h"
#include "image/reference.h"

namespace berth::api {

using nlohmann::json;

namespace images_impl {

std::string image_id(const image::Image& img) { return img.record.config.str(); }

std::string short_id(const std::string& id) {
  std::string_view h = id;
  if (h.starts_with("sha256:")) h.remove_prefix(7);
  return std::string(h.substr(0, 12));
}

int64_t created_ns(const image::Image& img) {
  if (img.config.created.empty()) return 0;
  auto t = parse_rfc3339(img.config.created);
  return t ? *t : 0;
}

uint64_t image_size(const image::Image& img) {
  uint64_t size = 0;
  for (const auto& l : img.manifest.layers)
    size += static_cast<uint64_t>(std::max<int64_t>(0, l.size));
  return size;
}

std::string familiar(const std::string& stored_name) {
  if (image::is_dangling_name(stored_name)) return "";
  auto ref = image::parse_reference(stored_name, false);
  return ref ? ref->familiar() : stored_name;
}

namespace {

// "busybox" of "busybox:latest" / "busybox@sha256:...".
std::string familiar_repo(const image::Reference& ref) {
  std::string f = ref.familiar();
  if (ref.digest) f.resize(f.size() - ref.digest->str().size() - 1);
  if (!ref.tag.empty()) f.resize(f.size() - ref.tag.size() - 1);
  return f;
}

void add_unique(std::vector<std::string>& v, std::string s) {
  if (std::find(v.begin(), v.end(), s) == v.end()) v.push_back(std::move(s));
}

void add_record(ImageGroup& g, const image::ImageRecord& rec) {
  g.records.push_back(rec);
  g.last_tag_ns = std::max(g.last_tag_ns, rec.updated_ns);
  if (image::is_dangling_name(rec.name)) return;
  auto ref = image::parse_reference(rec.name, false);
  if (!ref) return;
  std::string repo = familiar_repo(*ref);
  if (!ref->tag.empty()) add_unique(g.repo_tags, ref->familiar());
  add_unique(g.repo_digests,
             repo + "@" + (ref->digest ? ref->digest->str() : rec.target.digest.str()));
}

}  // namespace

Result<std::vector<ImageGroup>> list_groups(image::ImageService& svc) {
  std::vector<ImageGroup> out;
  std::map<std::string, size_t> by_id;
  for (auto& img : BERTH_TRY(svc.list())) {
    std::string id = image_id(img);
    auto [it, fresh] = by_id.emplace(id, out.size());
    if (fresh) out.push_back(ImageGroup{.image = img});
    add_record(out[it->second], img.record);
  }
  return out;
}

Result<ImageGroup> group_of(image::ImageService& svc, const image::Image& img) {
  ImageGroup g{.image = img};
  for (auto& rec : BERTH_TRY(svc.names().list()))
    if (rec.config == img.record.config) add_record(g, rec);
  return g;
}

void publish(const ImageRoutes& d, const std::string& action, const std::string& id,
             std::map<std::string, std::string> attrs) {
  if (!d.events) return;
  engine::Event e;
  e.type = "image";
  e.action = action;
  e.actor_id = id;
  e.attributes = std::move(attrs);
  d.events->publish(std::move(e));
}

}  // namespace images_impl

using namespace images_impl;

namespace {

json nullable(const std::vector<std::string>& v) { return v.empty() ? json(nullptr) : json(v); }
json labels_json(const std::map<std::string, std::string>& l) {
  return l.empty() ? json(nullptr) : json(l);
}

// ---- GET /images/json ----------------------------------------------------------------------

struct ListFilter {
  std::optional<bool> dangling;
  std::vector<std::string> labels, references;
  std::optional<int64_t> before_ns, since_ns, until_ns;
};

Result<ListFilter> list_filter(image::ImageService& svc, const Request& req) {
  FilterMap f = BERTH_TRY(parse_filters(req.q("filters").value_or("")));
  BERTH_TRY(check_filter_keys(f, {"before", "dangling", "label", "reference", "since", "until"}));
  ListFilter out;
  if (f.count("dangling")) out.dangling = BERTH_TRY(filter_bool(f, "dangling", false));
  out.labels = f["label"];
  out.references = f["reference"];
  auto created_of = [&](const std::string& key) -> Result<std::optional<int64_t>> {
    auto& v = f[key];
    if (v.empty()) return std::optional<int64_t>{};
    auto img = svc.resolve(v.back());
    if (!img) return std::move(img).error();
    return std::optional<int64_t>{created_ns(*img)};
  };
  out.before_ns = BERTH_TRY(created_of("before"));
  out.since_ns = BERTH_TRY(created_of("since"));
  if (!f["until"].empty())
    out.until_ns = BERTH_TRY(parse_timestamp(f["until"].back(), now_unix_ns()));
  return out;
}

bool label_match(const std::map<std::string, std::string>& labels, const std::string& want) {
  size_t eq = want.find('=');
  if (eq == std::string::npos) return labels.count(want) != 0;
  auto it = labels.find(want.substr(0, eq));
  return it != labels.end() && it->second == want.substr(eq + 1);
}

// docker's reference filter: a path.Match pattern against "repo" or "repo:tag"; the image keeps
// only the tags that matched.
bool reference_match(ImageGroup& g, const std::vector<std::string>& patterns) {
  if (patterns.empty()) return true;
  std::vector<std::string> kept;
  for (const auto& tag : g.repo_tags) {
    std::string repo = tag.substr(0, tag.rfind(':'));
    for (const auto& p : patterns)
      if (fnmatch(p.c_str(), tag.c_str(), FNM_PATHNAME) == 0 ||
          fnmatch(p.c_str(), repo.c_str(), FNM_PATHNAME) == 0) {
        kept.push_back(tag);
        break;
      }
  }
  g.repo_tags = kept;
  return !kept.empty();
}

bool keep(ImageGroup& g, const ListFilter& f) {
  bool dangling = g.repo_tags.empty();
  if (f.dangling && *f.dangling != dangling) return false;
  for (const auto& l : f.labels)
    if (!label_match(g.image.config.config.labels, l)) return false;
  int64_t created = created_ns(g.image);
  if (f.before_ns && created >= *f.before_ns) return false;
  if (f.since_ns && created <= *f.since_ns) return false;
  if (f.until_ns && created >= *f.until_ns) return false;
  return reference_match(g, f.references);
}

json summary(const ImageGroup& g, const Request& req) {
  json j = {
      {"Containers", -1},
      {"Created", created_ns(g.image) / 1'000'000'000},
      {"Id", image_id(g.image)},
      {"Labels", labels_json(g.image.config.config.labels)},
      {"ParentId", ""},
      {"RepoDigests", g.repo_digests},
      {"RepoTags", g.repo_tags},
      {"SharedSize", -1},
      {"Size", image_size(g.image)},
  };
  if (!req.version_at_least("1.44")) j["VirtualSize"] = image_size(g.image);
  return j;
}

void list_images(Exchange& ex, const ImageRoutes& d) {
  auto filter = list_filter(*d.images, ex.request());
  if (!filter) return ex.error(filter.error());
  auto groups = list_groups(*d.images);
  if (!groups) return ex.error(groups.error());
  std::stable_sort(groups->begin(), groups->end(), [](const ImageGroup& a, const ImageGroup& b) {
    return created_ns(a.image) > created_ns(b.image);
  });
  json out = json::array();
  for (auto& g : *groups)
    if (keep(g, *filter)) out.push_back(summary(g, ex.request()));
  ex.json(200, out);
}

// ---- GET /images/{name}/json ---------------------------------------------------------------

// The image config's container config as docker shows it: every key, defaults filled in.
json config_json(const image::Image& img) {
  json raw = json::parse(img.config.raw, nullptr, false);
  json c = raw.is_object() && raw.contains("config") && raw["config"].is_object() ? raw["config"]
                                                                                  : json::object();
  json defaults = {{"Hostname", ""},       {"Domainname", ""},      {"User", ""},
                   {"AttachStdin", false}, {"AttachStdout", false}, {"AttachStderr", false},
                   {"Tty", false},         {"OpenStdin", false},    {"StdinOnce", false},
                   {"Env", nullptr},       {"Cmd", nullptr},        {"Image", ""},
                   {"Volumes", nullptr},   {"WorkingDir", ""},      {"Entrypoint", nullptr},
                   {"OnBuild", nullptr},   {"Labels", nullptr}};
  for (auto& [k, v] : defaults.items())
    if (!c.contains(k)) c[k] = v;
  return c;
}

std::string raw_string(const image::Image& img, const char* key) {
  json raw = json::parse(img.config.raw, nullptr, false);
  if (raw.is_object() && raw.contains(key) && raw[key].is_string()) return raw[key];
  return "";
}

void inspect_image(Exchange& ex, const ImageRoutes& d) {
  auto img = d.images->resolve(ex.request().params.at("name"));
  if (!img) return ex.error(img.error());
  auto g = group_of(*d.images, *img);
  if (!g) return ex.error(g.error());
  json layers = json::array();
  for (const auto& id : img->config.diff_ids) layers.push_back(id.str());
  int64_t created = created_ns(*img);
  json j = {
      {"Id", image_id(*img)},
      {"RepoTags", g->repo_tags},
      {"RepoDigests", g->repo_digests},
      {"Parent", ""},
      {"Comment", raw_string(*img, "comment")},
      {"Created", created ? rfc3339_nano(created) : img->config.created},
      {"DockerVersion", raw_string(*img, "docker_version")},
      {"Author", img->config.author},
      {"Config", config_json(*img)},
      {"Architecture", img->config.architecture},
      {"Os", img->config.os},
      {"Size", image_size(*img)},
      {"GraphDriver", {{"Data", nullptr}, {"Name", "overlayfs"}}},
      {"RootFS",
       {{"Type", img->config.rootfs_type.empty() ? "layers" : img->config.rootfs_type},
        {"Layers", layers}}},
      {"Metadata",
       {{"LastTagTime", g->last_tag_ns ? rfc3339_nano(g->last_tag_ns) : "0001-01-01T00:00:00Z"}}},
  };
  if (!img->config.variant.empty()) j["Variant"] = img->config.variant;
  if (!img->config.os_version.empty()) j["OsVersion"] = img->config.os_version;
  if (!ex.request().version_at_least("1.44")) j["VirtualSize"] = image_size(*img);
  if (!ex.request().version_at_least("1.45")) {
    j["Container"] = "";
    j["ContainerConfig"] = json::object();
  }
  ex.json(200, j);
}

// ---- GET /images/{name}/history ------------------------------------------------------------

void image_history(Exchange& ex, const ImageRoutes& d) {
  auto img = d.images->resolve(ex.request().params.at("name"));
  if (!img) return ex.error(img.error());
  auto g = group_of(*d.images, *img);
  if (!g) return ex.error(g.error());
  const auto& layers = img->manifest.layers;
  json out = json::array();
  size_t layer = 0;
  auto entry = [&](const std::string& created, const std::string& by, const std::string& comment,
                   int64_t size) {
    auto t = created.empty() ? Result<int64_t>(int64_t{0}) : parse_rfc3339(created);
    out.push_back({{"Id", "<missing>"},
                   {"Created", (t ? *t : 0) / 1'000'000'000},
                   {"CreatedBy", by},
                   {"Tags", nullptr},
                   {"Size", size},
                   {"Comment", comment}});
  };
  if (img->config.history.empty()) {
    for (const auto& l : layers) entry(img->config.created, "", "", l.size);
  } else {
    for (const auto& h : img->config.history) {
      int64_t size = 0;
      if (!h.empty_layer && layer < layers.size()) size = layers[layer++].size;
      entry(h.created, h.created_by, h.comment, size);
    }
  }
  std::reverse(out.begin(), out.end());
  if (!out.empty()) {
    out[0]["Id"] = image_id(*img);
    out[0]["Tags"] = nullable(g->repo_tags);
  }
  ex.json(200, out);
}

// ---- POST /images/{name}/tag ---------------------------------------------------------------

void tag_image(Exchange& ex, const ImageRoutes& d) {
  const Request& req = ex.request();
  std::string repo = req.q("repo").value_or(""), tag = req.q("tag").value_or("");
  if (repo.empty()) return ex.error(400, "repository name must have at least one component");
  auto img = d.images->resolve(req.params.at("name"));
  if (!img) return ex.error(img.error());
  std::string target = tag.empty() ? repo : repo + ":" + tag;
  auto ref = image::parse_reference(target);
  if (!ref) return ex.error(400, ref.error().what());
  if (ref->digest) return ex.error(400, "refusing to create a tag with a digest reference");
  if (auto r = d.images->tag(image_id(*img), ref->str()); !r) return ex.error(r.error());
  publish(d, "tag", image_id(*img), {{"name", ref->familiar()}});
  ex.status(201);
}

// ---- DELETE /images/{name} -----------------------------------------------------------------

struct DeletePlan {
  std::vector<image::ImageRecord> untag;  // records to remove
  bool delete_image = false;              // no name is left: remove the image itself
};

Result<std::vector<ImageUser>> users_of(const ImageRoutes& d, const std::string& id) {
  if (!d.users) return std::vector<ImageUser>{};
  return d.users(id);
}

// Which records a DELETE removes, with docker's conflicts.
Result<DeletePlan> plan_delete(const ImageRoutes& d, const std::string& name, const ImageGroup& g,
                               bool force) {
  const std::string id = image_id(g.image);
  DeletePlan plan;
  // By a tag (or digest reference): that name only, unless it is the last one.
  std::optional<std::string> by_name;
  if (auto ref = image::parse_reference(name); ref && !image::looks_like_id(name)) {
    for (const auto& rec : g.records)
      if (rec.name == ref->str()) by_name = rec.name;
  }
  std::vector<image::ImageRecord> named;
  for (const auto& rec : g.records)
    if (!image::is_dangling_name(rec.name)) named.push_back(rec);
  if (by_name && named.size() > 1) {
    for (const auto& rec : g.records)
      if (rec.name == *by_name) plan.untag.push_back(rec);
    return plan;
  }
  if (!by_name && named.size() > 1 && !force)
    return Error::conflict("conflict: unable to delete " + short_id(id) +
                           " (must be forced) - image is referenced in multiple repositories");
  auto users = BERTH_TRY(users_of(d, id));
  // The last name of an image a container uses: removing it would leave the image dangling,
  // so docker wants force (running or not).
  if (by_name && !users.empty() && !force)
    return Error::conflict("conflict: unable to remove repository reference \"" + name +
                           "\" (must force) - container " + short_id(users.front().container_id) +
                           " is using its referenced image " + short_id(id));
  std::string what = by_name ? name : short_id(id);
  for (const auto& u : users)
    if (u.running && !(force && by_name))
      return Error::conflict("conflict: unable to delete " + what +
                             " (cannot be forced) - image is being used by running container " +
                             short_id(u.container_id));
  if (!users.empty() && !force)
    return Error::conflict("conflict: unable to delete " + what +
                           " (must be forced) - image is being used by stopped container " +
                           short_id(users.front().container_id));
  plan.untag = named;
  // An image still used by a container keeps its content, listed as <none> (docker does too).
  plan.delete_image = users.empty();
  return plan;
}

void delete_image(Exchange& ex, const ImageRoutes& d) {
  const Request& req = ex.request();
  const std::string name = req.params.at("name");
  auto img = d.images->resolve(name);
  if (!img) return ex.error(img.error());
  auto g = group_of(*d.images, *img);
  if (!g) return ex.error(g.error());
  auto plan = plan_delete(d, name, *g, req.q_bool("force"));
  if (!plan) return ex.error(plan.error());
  const std::string id = image_id(*img);
  json out = json::array();
  if (!plan->delete_image && !plan->untag.empty() && plan->untag.size() == g->records.size()) {
    // Keep the image under its dangling name so its content stays (a container uses it).
    image::ImageRecord keep = plan->untag.front();
    keep.name = image::dangling_name(keep.target.digest);
    if (auto r = d.images->names().put(keep); !r) return ex.error(r.error());
  }
  for (const auto& rec : plan->untag) {
    if (auto r = d.images->names().remove(rec.name); !r) return ex.error(r.error());
    std::string f = familiar(rec.name);
    out.push_back({{"Untagged", f}});
    publish(d, "untag", id, {{"name", f}});
  }
  if (plan->delete_image) {
    for (const auto& rec : g->records)
      if (image::is_dangling_name(rec.name)) (void)d.images->names().remove(rec.name);
    out.push_back({{"Deleted", id}});
    publish(d, "delete", id, {{"name", id}});
    if (!req.q_bool("noprune")) (void)d.images->gc();
  }
  ex.json(200, out);
}

// ---- POST /images/prune --------------------------------------------------------------------

void prune_images(Exchange& ex, const ImageRoutes& d) {
  auto f = parse_filters(ex.request().q("filters").value_or(""));
  if (!f) return ex.error(f.error());
  if (auto r = check_filter_keys(*f, {"dangling", "label", "label!", "until"}); !r)
    return ex.error(r.error());
  auto dangling_only = filter_bool(*f, "dangling", true);
  if (!dangling_only) return ex.error(dangling_only.error());
  std::optional<int64_t> until;
  if (auto& u = (*f)["until"]; !u.empty()) {
    auto t = parse_timestamp(u.back(), now_unix_ns());
    if (!t) return ex.error(400, t.error().what());
    until = *t;
  }
  auto groups = list_groups(*d.images);
  if (!groups) return ex.error(groups.error());
  json deleted = json::array();
  for (auto& g : *groups) {
    if (*dangling_only && !g.repo_tags.empty()) continue;
    if (until && created_ns(g.image) >= *until) continue;
    bool labels_ok = true;
    for (const auto& l : (*f)["label"])
      labels_ok = labels_ok && label_match(g.image.config.config.labels, l);
    for (const auto& l : (*f)["label!"])
      labels_ok = labels_ok && !label_match(g.image.config.config.labels, l);
    if (!labels_ok) continue;
    const std::string id = image_id(g.image);
    auto users = users_of(d, id);
    if (!users || !users->empty()) continue;
    for (const auto& rec : g.records) {
      if (!d.images->names().remove(rec.name)) continue;
      if (std::string fam = familiar(rec.name); !fam.empty()) {
        deleted.push_back({{"Untagged", fam}});
        publish(d, "untag", id, {{"name", fam}});
      }
    }
    deleted.push_back({{"Deleted", id}});
    publish(d, "delete", id, {{"name", id}});
  }
  uint64_t reclaimed = 0;
  if (auto gc = d.images->gc(); gc) reclaimed = gc->reclaimed_bytes;
  publish(d, "prune", "", {{"reclaimed", std::to_string(reclaimed)}});
  ex.json(200, {{"ImagesDeleted", deleted.empty() ? json(nullptr) : deleted},
                {"SpaceReclaimed", reclaimed}});
}

}  // namespace

void add_image_routes(Router& r, ImageRoutes deps) {
  auto d = std::make_shared<const ImageRoutes>(std::move(deps));
  r.add("GET", "/images/json", [d](Exchange& ex) { list_images(ex, *d); });
  r.add("POST", "/images/prune", [d](Exchange& ex) { prune_images(ex, *d); });
  add_transfer_routes(r, d);
  r.add("GET", "/images/{name*}/json", [d](Exchange& ex) { inspect_image(ex, *d); });
  r.add("GET", "/images/{name*}/history", [d](Exchange& ex) { image_history(ex, *d); });
  r.add("POST", "/images/{name*}/tag", [d](Exchange& ex) { tag_image(ex, *d); });
  r.add("DELETE", "/images/{name*}", [d](Exchange& ex) { delete_image(ex, *d); });
}

}  // namespace berth::api
