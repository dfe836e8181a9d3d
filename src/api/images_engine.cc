// add_image_routes over the engine: its image service, events, insecure registries, and its
// containers for docker's "image is being used by ... container" conflicts.
#include "api/images.h"
#include "api/routes.h"
#include "engine/containers.h"
#include "engine/engine.h"

namespace berth::api {

void add_image_routes(Router& r, engine::Engine& e) {
  ImageRoutes d;
  d.images = &e.images();
  d.events = &e.events();
  d.insecure_registries = e.config().insecure_registries;
  d.users = [&e](const std::string& image_id) -> Result<std::vector<ImageUser>> {
    engine::ListOptions opts;
    opts.all = true;
    nlohmann::json list = BERTH_TRY(e.containers().list(opts));
    std::vector<ImageUser> out;
    for (const auto& c : list) {
      if (!c.is_object() || c.value("ImageID", "") != image_id) continue;
      out.push_back(ImageUser{c.value("Id", ""), c.value("State", "") == "running" ||
                                                     c.value("State", "") == "paused" ||
                                                     c.value("State", "") == "restarting"});
    }
    return out;
  };
  add_image_routes(r, std::move(d));
}

}  // namespace berth::api
