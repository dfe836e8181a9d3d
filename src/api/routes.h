// The Docker Engine API's routes, grouped by the file that implements them.
#pragma once

#include "api/http.h"

namespace berth::engine {
class Engine;
}

namespace berth::api {

// /_ping, /version, /events (system.cc)
void add_system_routes(Router& r, engine::Engine& e);
// /images/* (images*.cc): create (pull), json, {name}/json, tag, delete, history, prune,
// get/load (save/load), push
void add_image_routes(Router& r, engine::Engine& e);
// /containers/*, /info, /system/df (containers*.cc)
void add_container_routes(Router& r, engine::Engine& e);
// /containers/{id}/archive: docker cp (containers_archive.cc)
void add_archive_routes(Router& r, engine::Engine& e);
// /containers/{id}/exec, /exec/* (exec*.cc)
void add_exec_routes(Router& r, engine::Engine& e);
// Every other endpoint of the Docker Engine API answers 501 naming itself (unimplemented.cc);
// added last so that implemented routes win.
void add_unimplemented_routes(Router& r);

// All of the above: what berthd serves.
inline Router all_routes(engine::Engine& e) {
  Router r;
  add_system_routes(r, e);
  add_image_routes(r, e);
  add_container_routes(r, e);
  add_archive_routes(r, e);
  add_exec_routes(r, e);
  add_unimplemented_routes(r);
  return r;
}

}  // namespace berth::api
