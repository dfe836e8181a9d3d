// The engine inside berthd: images, containers, events, on one data root. What the Docker
// API handlers (src/api) call; later the CRI front sits on the same object.
//
//   <data_root>/            images (content/, snapshots/, images/: image::ImageService),
//                           berth.db (SQLite, WAL: containers), containers/<id>/ (bundle,
//                           <id>-json.log, hostname, hosts, resolv.conf)
//   <exec_root>/            berth.sock, shims/<id>/ (berth-shim state dirs), runtime/ (the
//                           OCI runtime's --root)
//
// berthd keeps nothing authoritative in memory: open() reads berth.db, reconnects to each
// live shim and reconciles the ones that died (ARCHITECTURE.md "Restart recovery").
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "util/result.h"

namespace berth::image {
class ImageService;
}

namespace berth::engine {

class EventBus;
class ContainerService;
class Store;

struct Config {
  std::string data_root = "/var/lib/berth";
  std::string exec_root = "/run/berth";
  std::string shim_binary;  // "" = berth-shim next to the running berthd
  // Runtime name -> binary. Always has "berth" (berth-runtime next to berthd); "runc" and
  // "crun" are added when found in PATH; --add-runtime adds more.
  std::map<std::string, std::string> runtimes;
  std::string default_runtime = "berth";
  std::vector<std::string> insecure_registries;
  // Log defaults for new containers (daemon.json "log-opts").
  uint64_t log_max_size = 0;  // 0 = unlimited
  int log_max_files = 1;
  // Seccomp profile of containers that name none (dockerd's --seccomp-profile): "" or
  // "builtin" for berth's built-in profile, "unconfined", or the JSON of a profile in docker's
  // format (berthd reads the file).
  std::string seccomp_profile;
  std::string seccomp_profile_path;  // the file it was read from (for /info)
};

class Engine {
 public:
  // Creates the directories, opens the stores, runs restart recovery.
  static Result<std::unique_ptr<Engine>> open(Config config);
  ~Engine();

  const Config& config() const { return config_; }
  image::ImageService& images() { return *images_; }
  EventBus& events() { return *events_; }
  ContainerService& containers() { return *containers_; }

  // Stops background work (restart-policy monitors) without touching containers: they keep
  // running under their shims, as when berthd is killed.
  void shutdown();

 private:
  Engine() = default;
  Config config_;
  std::unique_ptr<image::ImageService> images_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<Store> store_;  // before containers_: they use it until destroyed
  std::unique_ptr<ContainerService> containers_;
};

}  // namespace berth::engine
