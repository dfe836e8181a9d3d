// The engine's metadata store: berth.db, SQLite in WAL mode.
//
// One row per container. The columns that are looked up (id, name) are plain columns; the rest
// is JSON text the container service owns (docker's Config and HostConfig as the client sent
// them, merged with the image's; the container's state; engine bookkeeping). The schema
// version is SQLite's user_version; open() migrates older files step by step.
//
// Thread-safe: one connection, used under a mutex (a statement takes microseconds; WAL with
// synchronous=NORMAL means a commit does not fsync, a checkpoint does).
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "util/result.h"

struct sqlite3;

namespace berth::engine {

struct ContainerRow {
  std::string id;    // 64 hex
  std::string name;  // without the leading '/'
  int64_t created_ns = 0;
  std::string config;       // JSON: docker's Config
  std::string host_config;  // JSON: docker's HostConfig
  std::string state;        // JSON: the container's State and engine bookkeeping
};

class Store {
 public:
  static constexpr int kSchemaVersion = 1;

  // Opens (creating) the database file and migrates it to kSchemaVersion.
  static Result<std::unique_ptr<Store>> open(const std::string& path);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Conflict (message: the other container's ID) when the name is taken.
  Result<void> insert(const ContainerRow& row);
  Result<void> update_state(const std::string& id, const std::string& state);
  Result<void> update_host_config(const std::string& id, const std::string& host_config);
  // Conflict when the name is taken.
  Result<void> rename(const std::string& id, const std::string& name);
  Result<void> remove(const std::string& id);
  Result<std::optional<ContainerRow>> get(const std::string& id) const;
  // Oldest first.
  Result<std::vector<ContainerRow>> list() const;

 private:
  explicit Store(sqlite3* db) : db_(db) {}
  Result<void> exec(const char* sql) const;
  Result<void> migrate();
  Error db_error(std::string_view what) const;

  mutable std::mutex mu_;
  sqlite3* db_ = nullptr;
};

}  // namespace berth::engine
