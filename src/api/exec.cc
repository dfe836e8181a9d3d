// /containers/{id}/exec and /exec/* endpoints.
#include <nlohmann/json.hpp>

#include "api/routes.h"
#include "engine/containers.h"
#include "engine/engine.h"
#include "util/log.h"

namespace berth::api {
namespace {

using nlohmann::json;

void exec_create(Exchange& ex, engine::Engine& e) {
  auto body = ex.request().json_body();
  if (!body) return ex.error(body.error());
  auto r = e.containers().exec_create(ex.request().params.at("id"), *body);
  if (!r) return ex.error(r.error());
  ex.json(201, json{{"Id", *r}});
}

void exec_start(Exchange& ex, engine::Engine& e) {
  const std::string& id = ex.request().params.at("id");
  auto body = ex.request().json_body(true);
  if (!body) return ex.error(body.error());
  if (!body->is_object()) return ex.error(400, "exec start config must be a JSON object");
  bool detach = false;
  if (auto it = body->find("Detach"); it != body->end() && !it->is_null()) {
    if (!it->is_boolean())
      return ex.error(400, std::string("json: cannot unmarshal ") + it->type_name() +
                               " into Go struct field ExecStartCheck.Detach of type bool");
    detach = it->get<bool>();
  }
  auto tty = e.containers().exec_tty(id);
  if (!tty) return ex.error(tty.error());
  if (detach) {
    auto r = e.containers().exec_start(id, true, UniqueFd());
    if (!r) return ex.error(r.error());
    return ex.status(200);
  }
  // Checks that can still get a status line go first.
  auto info = e.containers().exec_inspect(id);
  if (!info) return ex.error(info.error());
  if ((*info)["Running"] == true)
    return ex.error(409, "Error: Exec command " + id + " is already running");
  auto h = ex.hijack(*tty ? "application/vnd.docker.raw-stream"
                          : "application/vnd.docker.multiplexed-stream");
  if (!h) return;
  // A failure from here on is the exec's: the engine wrote it into the stream and recorded the
  // exit code the client reads next (exec inspect).
  auto r = e.containers().exec_start(id, false, std::move(h->fd));
  if (!r) log::info("exec start " + id + ": " + r.error().what());
}

void exec_inspect(Exchange& ex, engine::Engine& e) {
  auto r = e.containers().exec_inspect(ex.request().params.at("id"));
  if (!r) return ex.error(r.error());
  ex.json(200, *r);
}

void exec_resize(Exchange& ex, engine::Engine& e) {
  const Request& req = ex.request();
  auto hh = req.q_int("h"), ww = req.q_int("w");
  if (!hh) return ex.error(hh.error());
  if (!ww) return ex.error(ww.error());
  auto r = e.containers().exec_resize(req.params.at("id"), static_cast<unsigned>(hh->value_or(0)),
                                      static_cast<unsigned>(ww->value_or(0)));
  if (!r) return ex.error(r.error());
  ex.status(200);
}

}  // namespace

void add_exec_routes(Router& r, engine::Engine& e) {
  auto bind = [&e](void (*fn)(Exchange&, engine::Engine&)) {
    return [fn, &e](Exchange& ex) { fn(ex, e); };
  };
  r.add("POST", "/containers/{id}/exec", bind(exec_create));
  r.add("POST", "/exec/{id}/start", bind(exec_start));
  r.add("GET", "/exec/{id}/json", bind(exec_inspect));
  r.add("POST", "/exec/{id}/resize", bind(exec_resize));
}

}  // namespace berth::api
