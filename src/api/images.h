// The image endpoints over the pieces they need, so that tests can serve them without a whole
// Engine. add_image_routes(Router&, Engine&) (routes.h) fills ImageRoutes from the engine.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/http.h"
#include "util/result.h"

namespace berth::image {
class ImageService;
}
namespace berth::engine {
class EventBus;
}

namespace berth::api {

// A container that uses an image (docker refuses to delete such an image: 409).
struct ImageUser {
  std::string container_id;
  bool running = false;
};

struct ImageRoutes {
  image::ImageService* images = nullptr;
  engine::EventBus* events = nullptr;
  std::vector<std::string> insecure_registries;  // --insecure-registry
  // The containers using the image with this ID ("sha256:<hex>"). Unset: no check (tests).
  std::function<Result<std::vector<ImageUser>>(const std::string& image_id)> users;
};

void add_image_routes(Router& r, ImageRoutes deps);

}  // namespace berth::api
