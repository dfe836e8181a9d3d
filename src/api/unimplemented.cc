// Every endpoint of the Docker Engine API 1.47 (docs/api.md keeps the coverage table). Added
// after the implemented routes, so only what nothing else serves answers 501.
#include <algorithm>
#include <array>
#include <string_view>
#include <utility>

#include "api/routes.h"

namespace berth::api {

namespace {

// {method, path pattern}, in the order of docker's API reference.
constexpr std::pair<const char*, const char*> kEndpoints[] = {
    // Containers
    {"GET", "/containers/json"},
    {"POST", "/containers/create"},
    {"GET", "/containers/{id}/json"},
    {"GET", "/containers/{id}/top"},
    {"GET", "/containers/{id}/logs"},
    {"GET", "/containers/{id}/changes"},
    {"GET", "/containers/{id}/export"},
    {"GET", "/containers/{id}/stats"},
    {"POST", "/containers/{id}/resize"},
    {"POST", "/containers/{id}/start"},
    {"POST", "/containers/{id}/stop"},
    {"POST", "/containers/{id}/restart"},
    {"POST", "/containers/{id}/kill"},
    {"POST", "/containers/{id}/update"},
    {"POST", "/containers/{id}/rename"},
    {"POST", "/containers/{id}/pause"},
    {"POST", "/containers/{id}/unpause"},
    {"POST", "/containers/{id}/attach"},
    {"GET", "/containers/{id}/attach/ws"},
    {"POST", "/containers/{id}/wait"},
    {"DELETE", "/containers/{id}"},
    {"POST", "/containers/prune"},
    // Images
    {"GET", "/images/json"},
    {"POST", "/build"},
    {"POST", "/build/prune"},
    {"POST", "/images/create"},
    {"GET", "/images/search"},
    {"POST", "/images/prune"},
    {"GET", "/images/get"},
    {"POST", "/images/load"},
    {"GET", "/images/{name*}/json"},
    {"GET", "/images/{name*}/history"},
    {"POST", "/images/{name*}/push"},
    {"POST", "/images/{name*}/tag"},
    {"GET", "/images/{name*}/get"},
    {"DELETE", "/images/{name*}"},
    {"POST", "/commit"},
    // System
    {"POST", "/auth"},
    {"GET", "/info"},
    {"GET", "/version"},
    {"GET", "/_ping"},
    {"HEAD", "/_ping"},
    {"GET", "/events"},
    {"GET", "/system/df"},
    // Distribution, session
    {"GET", "/distribution/{name*}/json"},
    {"POST", "/session"},
    // Exec
    {"POST", "/containers/{id}/exec"},
    {"POST", "/exec/{id}/start"},
    {"POST", "/exec/{id}/resize"},
    {"GET", "/exec/{id}/json"},
    // Volumes
    {"GET", "/volumes"},
    {"POST", "/volumes/create"},
    {"POST", "/volumes/prune"},
    {"GET", "/volumes/{name}"},
    {"PUT", "/volumes/{name}"},
    {"DELETE", "/volumes/{name}"},
    // Networks
    {"GET", "/networks"},
    {"POST", "/networks/create"},
    {"POST", "/networks/prune"},
    {"GET", "/networks/{id}"},
    {"DELETE", "/networks/{id}"},
    {"POST", "/networks/{id}/connect"},
    {"POST", "/networks/{id}/disconnect"},
    // Plugins
    {"GET", "/plugins"},
    {"GET", "/plugins/privileges"},
    {"POST", "/plugins/pull"},
    {"POST", "/plugins/create"},
    {"GET", "/plugins/{name*}/json"},
    {"POST", "/plugins/{name*}/enable"},
    {"POST", "/plugins/{name*}/disable"},
    {"POST", "/plugins/{name*}/upgrade"},
    {"POST", "/plugins/{name*}/push"},
    {"POST", "/plugins/{name*}/set"},
    {"DELETE", "/plugins/{name*}"},
    // Swarm: nodes, swarm, services, tasks, secrets, configs
    {"GET", "/nodes"},
    {"GET", "/nodes/{id}"},
    {"DELETE", "/nodes/{id}"},
    {"POST", "/nodes/{id}/update"},
    {"GET", "/swarm"},
    {"POST", "/swarm/init"},
    {"POST", "/swarm/join"},
    {"POST", "/swarm/leave"},
    {"POST", "/swarm/update"},
    {"GET", "/swarm/unlockkey"},
    {"POST", "/swarm/unlock"},
    {"GET", "/services"},
    {"POST", "/services/create"},
    {"GET", "/services/{id}"},
    {"DELETE", "/services/{id}"},
    {"POST", "/services/{id}/update"},
    {"GET", "/services/{id}/logs"},
    {"GET", "/tasks"},
    {"GET", "/tasks/{id}"},
    {"GET", "/tasks/{id}/logs"},
    {"GET", "/secrets"},
    {"POST", "/secrets/create"},
    {"GET", "/secrets/{id}"},
    {"DELETE", "/secrets/{id}"},
    {"POST", "/secrets/{id}/update"},
    {"GET", "/configs"},
    {"POST", "/configs/create"},
    {"GET", "/configs/{id}"},
    {"DELETE", "/configs/{id}"},
    {"POST", "/configs/{id}/update"},
};

// Lookups by name of the objects berth has none of: dockerd's 404 for a missing one, so
// that `docker inspect x` goes on to its next kind and ends with "No such object: x".
struct MissingLookup {
  const char* pattern;
  const char* param;
  const char* before;  // message = before + name + after
  const char* after;
};
constexpr MissingLookup kMissing[] = {
    {"/networks/{id}", "id", "network ", " not found"},
    {"/volumes/{name}", "name", "get ", ": no such volume"},
    {"/plugins/{name*}/json", "name", "plugin \"", "\" not found"},
};

}  // namespace

void add_unimplemented_routes(Router& r) {
  for (const auto& [method, pattern] : kEndpoints) {
    std::string_view p = pattern;
    auto missing = std::find_if(std::begin(kMissing), std::end(kMissing),
                                [&](const MissingLookup& m) { return m.pattern == p; });
    if (std::string_view(method) == "GET" && missing != std::end(kMissing)) {
      r.add(method, pattern, [m = *missing](Exchange& ex) {
        auto it = ex.request().params.find(m.param);
        std::string name = it == ex.request().params.end() ? std::string() : it->second;
        ex.error(404, m.before + name + m.after);
      });
      continue;
    }
    std::string message =
        std::string("berth does not implement ") + method + " " + pattern + " yet";
    r.add(method, pattern, [message](Exchange& ex) { ex.error(501, message); });
  }
}

}  // namespace berth::api
