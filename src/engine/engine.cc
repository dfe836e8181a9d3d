// Engine::open: directories, the runtime table, the stores, restart recovery.
#include "engine/engine.h"

#include <sys/stat.h>
#include <unistd.h>

#include "engine/containers.h"
#include "engine/containers_internal.h"
#include "engine/events.h"
#include "engine/store.h"
#include "image/images.h"
#include "util/strings.h"

namespace berth::engine {
namespace {

std::string self_dir() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

std::string find_in_path(const std::string& name) {
  const char* env = getenv("PATH");
  std::string path = env ? env : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  for (std::string_view dir : split(path, ':', true)) {
    std::string candidate = std::string(dir) + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return {};
}

}  // namespace

Result<std::unique_ptr<Engine>> Engine::open(Config config) {
  if (config.data_root.empty() || config.data_root[0] != '/')
    return Error::invalid("--data-root must be an absolute path");
  if (config.exec_root.empty() || config.exec_root[0] != '/')
    return Error::invalid("--exec-root must be an absolute path");
  BERTH_TRY(mkdir_all(config.data_root, 0711));
  BERTH_TRY(mkdir_all(config.data_root + "/containers", 0710));
  BERTH_TRY(mkdir_all(config.exec_root + "/shims", 0700));
  BERTH_TRY(mkdir_all(config.exec_root + "/runtime", 0700));

  const std::string dir = self_dir();
  if (config.shim_binary.empty()) config.shim_binary = dir + "/berth-shim";
  if (!config.runtimes.count("berth")) config.runtimes["berth"] = dir + "/berth-runtime";
  for (const char* name : {"runc", "crun"})
    if (!config.runtimes.count(name))
      if (auto p = find_in_path(name); !p.empty()) config.runtimes[name] = p;
  if (!config.runtimes.count(config.default_runtime))
    return Error::invalid("default runtime " + berth::quoted(config.default_runtime) +
                          " is not a configured runtime");

  std::unique_ptr<Engine> e(new Engine());
  e->config_ = std::move(config);
  e->images_ = BERTH_TRY_CTX(image::ImageService::open(e->config_.data_root), "open images");
  e->store_ = BERTH_TRY(Store::open(e->config_.data_root + "/berth.db"));
  e->events_ = std::make_unique<EventBus>();
  e->containers_ =
      std::make_unique<ContainerService>(e->config_, *e->images_, *e->events_, *e->store_);
  BERTH_TRY_CTX(e->containers_->recover(), "restart recovery");
  return e;
}

Engine::~Engine() { shutdown(); }

void Engine::shutdown() {
  if (containers_) containers_->shutdown();
  if (events_) events_->close_all();
}

}  // namespace berth::engine
