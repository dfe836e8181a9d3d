// The system endpoints (/_ping, /version, /events) over the pieces they need, so that tests can
// serve them without a whole Engine. add_system_routes(Router&, Engine&) (routes.h) calls this.
#pragma once

#include <nlohmann/json.hpp>

#include "api/http.h"

namespace berth::engine {
class EventBus;
}

namespace berth::api {

// docker's /version document for this daemon.
nlohmann::json version_json();
void add_system_routes(Router& r, engine::EventBus& events);

}  // namespace berth::api
