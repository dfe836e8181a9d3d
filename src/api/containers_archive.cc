// /containers/{id}/archive (docker cp): HEAD stats a path, GET tars it, PUT extracts a tar
// into a directory. The file work is engine/archive.cc's; this maps requests and errors.
#include <nlohmann/json.hpp>

#include "api/routes.h"
#include "engine/archive.h"
#include "engine/containers.h"
#include "engine/engine.h"

namespace berth::api {
namespace {

constexpr const char* kStatHeader = "X-Docker-Container-Path-Stat";

// The container's root filesystem and its path query, or an answered error.
struct Target {
  std::string ref, rootfs, path;
};
std::optional<Target> target(Exchange& ex, engine::Engine& e) {
  const Request& req = ex.request();
  Target t;
  t.ref = req.params.at("id");
  auto path = req.q("path");
  if (!path || path->empty()) {
    ex.error(400, "path is required");  // dockerd's wording for a missing ?path=
    return std::nullopt;
  }
  auto id = e.containers().resolve(t.ref);
  if (!id) {
    ex.error(id.error());
    return std::nullopt;
  }
  t.rootfs = e.config().data_root + "/containers/" + *id + "/bundle/rootfs";
  t.path = *path;
  return t;
}

void stat_path(Exchange& ex, engine::Engine& e) {
  auto t = target(ex, e);
  if (!t) return;
  auto st = engine::stat_in_root(t->rootfs, t->path, t->ref);
  if (!st) return ex.error(st.error());
  ex.add_header(kStatHeader, engine::path_stat_header(*st));
  ex.status(200);
}

void get_archive(Exchange& ex, engine::Engine& e) {
  auto t = target(ex, e);
  if (!t) return;
  auto st = engine::stat_in_root(t->rootfs, t->path, t->ref);
  if (!st) return ex.error(st.error());
  ex.add_header(kStatHeader, engine::path_stat_header(*st));
  StreamWriter& out = ex.stream("application/x-tar");
  // Errors after the answer has started can only end the stream (as dockerd does).
  (void)engine::tar_from_root(t->rootfs, t->path,
                              [&](std::string_view data) { return out.write(data); });
}

void put_archive(Exchange& ex, engine::Engine& e) {
  auto t = target(ex, e);
  if (!t) return;
  auto r = engine::untar_into_root(t->rootfs, t->path, t->ref,
                                   [&](char* buf, size_t len) { return ex.read_body(buf, len); });
  if (!r) return ex.error(r.error());
  ex.status(200);
}

}  // namespace

void add_archive_routes(Router& r, engine::Engine& e) {
  r.add("HEAD", "/containers/{id}/archive", [&e](Exchange& ex) { stat_path(ex, e); });
  r.add("GET", "/containers/{id}/archive", [&e](Exchange& ex) { get_archive(ex, e); });
  r.add(
      "PUT", "/containers/{id}/archive", [&e](Exchange& ex) { put_archive(ex, e); }, true);
}

}  // namespace berth::api
