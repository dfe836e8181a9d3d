// The engine's containers: what the Docker API's /containers and /exec endpoints call.
//
// A container is a row in berth.db (Config, HostConfig, State as docker shows them), a
// directory <data_root>/containers/<id>/ (bundle/ with config.json and the mounted rootfs,
// <id>-json.log, hostname, hosts, resolv.conf) and, while it runs, a berth-shim with its state
// dir <exec_root>/shims/<id>/. berthd keeps a cache of the rows in memory; every change is
// written to berth.db before it is reported, so a berthd killed at any point finds the truth
// on disk (and in the shims) when it starts again.
//
// Errors carry docker's messages and kinds (NotFound 404, Conflict 409, InvalidArgument 400).
// References ("ref") are a full ID, a name (with or without its '/'), or a unique ID prefix.
//
// Threads: every method may be called from any thread. Lifecycle operations on one container
// are serialised; a monitor thread per running container waits on its shim for the exit and
// applies the restart policy and AutoRemove.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/fd.h"
#include "util/result.h"

namespace berth::image {
class ImageService;
}

namespace berth::engine {

struct Config;
class EventBus;
class Store;

struct CreateResult {
  std::string id;
  std::vector<std::string> warnings;
};

enum class WaitCondition { NotRunning, NextExit, Removed };
// "not-running" (also ""), "next-exit", "removed"; InvalidArgument otherwise.
Result<WaitCondition> parse_wait_condition(std::string_view s);

struct WaitResult {
  int status_code = 0;
  std::string error;  // empty: docker's "Error": null
};

// docker's `filters` query: key -> values (OR'ed within a key, AND'ed across keys).
using Filters = std::map<std::string, std::vector<std::string>>;

struct ListOptions {
  bool all = false;
  int limit = -1;  // > 0: the newest `limit` containers (implies all)
  bool size = false;
  Filters filters;
};

struct LogOptions {
  bool stdout = true, stderr = true;
  bool follow = false;
  bool timestamps = false;
  int64_t since_ns = 0;        // 0: from the start
  int64_t until_ns = 0;        // 0: no end
  std::optional<size_t> tail;  // nullopt: all
};

// Receives output; returns false when the client has gone away (the producer then stops).
using Sink = std::function<bool(std::string_view)>;

struct AttachRequest {
  bool stdin = false, stdout = false, stderr = false;
  bool stream = true;  // false with logs: replay the log and return
  bool logs = false;   // replay the log first
  std::string detach_keys;
};

using Hijack = std::function<Result<UniqueFd>()>;

struct ContainerCounts {
  int total = 0, running = 0, paused = 0, stopped = 0;
};

class ContainerService {
 public:
  ContainerService(const Config& config, image::ImageService& images, EventBus& events,
                   Store& store);
  ~ContainerService();
  ContainerService(const ContainerService&) = delete;
  ContainerService& operator=(const ContainerService&) = delete;

  // Loads berth.db and reconciles it with the shims (Engine::open). Containers whose shim is
  // alive are monitored again; the others get their recorded exit (or an error saying the
  // shim died) and their runtime leftovers are removed.
  Result<void> recover();
  // Stops the monitor threads and unblocks waiters without touching the containers.
  void shutdown();

  // POST /containers/create?name=: body is docker's ContainerConfig (Config fields at the top
  // level, plus HostConfig and NetworkingConfig).
  Result<CreateResult> create(const std::string& name, const nlohmann::json& body);
  // false: it was already running (docker's 304).
  Result<bool> start(const std::string& ref);
  // timeout: seconds before SIGKILL (nullopt: Config.StopTimeout or 10; -1: forever).
  // signal: "" = the container's StopSignal. false: it was not running (304).
  Result<bool> stop(const std::string& ref, std::optional<int> timeout,
                    const std::string& signal = "");
  Result<void> restart(const std::string& ref, std::optional<int> timeout,
                       const std::string& signal = "");
  // signal: a name ("KILL", "SIGKILL") or number; "" = SIGKILL.
  Result<void> kill(const std::string& ref, const std::string& signal);
  // Blocks until the condition holds (or `cancelled` says the client left: checked now and
  // then, never on the exit's path).
  Result<WaitResult> wait(const std::string& ref, WaitCondition condition,
                          const std::function<bool()>& cancelled = {});
  Result<void> remove(const std::string& ref, bool force, bool volumes);

  Result<nlohmann::json> list(const ListOptions& opts);
  Result<nlohmann::json> inspect(const std::string& ref, bool size = false);
  // The container's resolved ID (for handlers that need it first).
  Result<std::string> resolve(const std::string& ref);
  Result<bool> tty(const std::string& ref);

  // Streams the json-file log as docker does (multiplexed frames unless Tty). With follow,
  // returns when the container has stopped and the log is drained, or the sink says stop;
  // client_fd (or -1) is watched for hang-up meanwhile.
  Result<void> logs(const std::string& ref, const LogOptions& opts, const Sink& sink,
                    int client_fd = -1);
  // Attaches a hijacked connection: handed to the shim now when running, else held until the
  // next start. With logs, the log is written to it first. `hijack` answers the client and
  // returns its connection; it is called once the request is known to be valid, with the
  // container's lifecycle held, so that a start the client sends as soon as it sees the answer
  // cannot run before the stream is in place.
  Result<void> attach(const std::string& ref, const AttachRequest& req, const Hijack& hijack);
  Result<void> attach(const std::string& ref, const AttachRequest& req, UniqueFd fd);
  Result<void> resize(const std::string& ref, unsigned height, unsigned width);
  Result<void> pause(const std::string& ref);
  Result<void> unpause(const std::string& ref);
  // {"Titles":[...],"Processes":[[...],...]}; ps_args as `docker top`'s (default "-ef").
  Result<nlohmann::json> top(const std::string& ref, const std::string& ps_args);
  Result<void> rename(const std::string& ref, const std::string& new_name);
  // {"ContainersDeleted":[...],"SpaceReclaimed":N}; filters: until, label, label!.
  Result<nlohmann::json> prune(const Filters& filters);
  // docker's stats JSON: one object (stream false) or one per second until the client leaves.
  Result<void> stats(const std::string& ref, bool stream, bool one_shot, const Sink& sink);

  // Exec instances (in memory, as docker's; listed in the container's ExecIDs).
  Result<std::string> exec_create(const std::string& ref, const nlohmann::json& body);
  // fd: the hijacked connection, or an invalid fd for a detached exec.
  Result<void> exec_start(const std::string& exec_id, bool detach, UniqueFd fd);
  Result<nlohmann::json> exec_inspect(const std::string& exec_id);
  Result<void> exec_resize(const std::string& exec_id, unsigned height, unsigned width);
  Result<bool> exec_tty(const std::string& exec_id);

  ContainerCounts counts();
  // The "Containers" part of /system/df.
  Result<nlohmann::json> disk_usage();

  struct Ctr;
  struct Exec;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::engine
