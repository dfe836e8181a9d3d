// berth.db: the containers table in SQLite (WAL).
#include "engine/store.h"

#include <sqlite3.h>

#include <string_view>

namespace berth::engine {
namespace {

// Migrations, in order: migrations[i] takes the schema from version i to i+1.
constexpr const char* kMigrations[] = {
    "CREATE TABLE containers ("
    "  id TEXT PRIMARY KEY NOT NULL,"
    "  name TEXT NOT NULL UNIQUE,"
    "  created INTEGER NOT NULL,"
    "  config TEXT NOT NULL,"
    "  hostconfig TEXT NOT NULL,"
    "  state TEXT NOT NULL);",
};
static_assert(std::size(kMigrations) == Store::kSchemaVersion);

// A prepared statement, finalized on scope exit.
class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) { rc_ = sqlite3_prepare_v2(db, sql, -1, &s_, nullptr); }
  ~Stmt() { sqlite3_finalize(s_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(s_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
  int step() { return sqlite3_step(s_); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(s_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(s_, col))) : std::string();
  }
  int64_t int64(int col) const { return sqlite3_column_int64(s_, col); }

 private:
  sqlite3_stmt* s_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

constexpr const char* kSelect =
    "SELECT id, name, created, config, hostconfig, state FROM containers";

ContainerRow row_of(const Stmt& s) {
  return ContainerRow{.id = s.text(0),
                      .name = s.text(1),
                      .created_ns = s.int64(2),
                      .config = s.text(3),
                      .host_config = s.text(4),
                      .state = s.text(5)};
}

}  // namespace

Error Store::db_error(std::string_view what) const {
  return Error(ErrorKind::Io, 0, "berth.db: " + std::string(what) + ": " + sqlite3_errmsg(db_));
}

Result<std::unique_ptr<Store>> Store::open(const std::string& path) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_EXRESCODE,
      nullptr);
  if (rc != SQLITE_OK) {
    std::string msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close(db);
    return Error(ErrorKind::Io, 0, "open \"" + path + "\": " + msg);
  }
  std::unique_ptr<Store> s(new Store(db));
  sqlite3_busy_timeout(db, 5000);
  BERTH_TRY(s->exec("PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"));
  BERTH_TRY(s->migrate());
  return s;
}

Store::~Store() { sqlite3_close(db_); }

Result<void> Store::exec(const char* sql) const {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return Error(ErrorKind::Io, 0, "berth.db: " + msg);
  }
  return ok();
}

Result<void> Store::migrate() {
  std::lock_guard lk(mu_);
  Stmt v(db_, "PRAGMA user_version");
  if (!v.ok() || v.step() != SQLITE_ROW) return db_error("read user_version");
  int64_t version = v.int64(0);
  if (version > kSchemaVersion)
    return Error::unsupported("berth.db has schema version " + std::to_string(version) +
                              ", newer than this berthd's " + std::to_string(kSchemaVersion));
  for (int64_t i = version; i < kSchemaVersion; i++) {
    std::string sql = std::string("BEGIN IMMEDIATE; ") + kMigrations[i] +
                      " PRAGMA user_version=" + std::to_string(i + 1) + "; COMMIT;";
    auto r = exec(sql.c_str());
    if (!r) {
      (void)exec("ROLLBACK;");
      return std::move(r).error().wrap("migrate to schema " + std::to_string(i + 1));
    }
  }
  return ok();
}

Result<void> Store::insert(const ContainerRow& row) {
  std::lock_guard lk(mu_);
  Stmt s(db_,
         "INSERT INTO containers (id, name, created, config, hostconfig, state) "
         "VALUES (?, ?, ?, ?, ?, ?)");
  if (!s.ok()) return db_error("insert");
  s.bind(1, row.id);
  s.bind(2, row.name);
  s.bind(3, row.created_ns);
  s.bind(4, row.config);
  s.bind(5, row.host_config);
  s.bind(6, row.state);
  int rc = s.step();
  if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY) {
    Stmt q(db_, "SELECT id FROM containers WHERE name = ?");
    q.bind(1, row.name);
    std::string other = (q.ok() && q.step() == SQLITE_ROW) ? q.text(0) : std::string();
    return Error::conflict(other);
  }
  if (rc != SQLITE_DONE) return db_error("insert container " + row.id);
  return ok();
}

Result<void> Store::update_state(const std::string& id, const std::string& state) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "UPDATE containers SET state = ? WHERE id = ?");
  if (!s.ok()) return db_error("update");
  s.bind(1, state);
  s.bind(2, id);
  if (s.step() != SQLITE_DONE) return db_error("update container " + id);
  return ok();
}

Result<void> Store::update_host_config(const std::string& id, const std::string& host_config) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "UPDATE containers SET hostconfig = ? WHERE id = ?");
  if (!s.ok()) return db_error("update");
  s.bind(1, host_config);
  s.bind(2, id);
  if (s.step() != SQLITE_DONE) return db_error("update container " + id);
  return ok();
}

Result<void> Store::rename(const std::string& id, const std::string& name) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "UPDATE containers SET name = ? WHERE id = ?");
  if (!s.ok()) return db_error("rename");
  s.bind(1, name);
  s.bind(2, id);
  int rc = s.step();
  if (rc == SQLITE_CONSTRAINT_UNIQUE) {
    Stmt q(db_, "SELECT id FROM containers WHERE name = ?");
    q.bind(1, name);
    std::string other = (q.ok() && q.step() == SQLITE_ROW) ? q.text(0) : std::string();
    return Error::conflict(other);
  }
  if (rc != SQLITE_DONE) return db_error("rename container " + id);
  return ok();
}

Result<void> Store::remove(const std::string& id) {
  std::lock_guard lk(mu_);
  Stmt s(db_, "DELETE FROM containers WHERE id = ?");
  if (!s.ok()) return db_error("delete");
  s.bind(1, id);
  if (s.step() != SQLITE_DONE) return db_error("delete container " + id);
  return ok();
}

Result<std::optional<ContainerRow>> Store::get(const std::string& id) const {
  std::lock_guard lk(mu_);
  Stmt s(db_, (std::string(kSelect) + " WHERE id = ?").c_str());
  if (!s.ok()) return db_error("select");
  s.bind(1, id);
  int rc = s.step();
  if (rc == SQLITE_DONE) return std::optional<ContainerRow>();
  if (rc != SQLITE_ROW) return db_error("read container " + id);
  return std::optional<ContainerRow>(row_of(s));
}

Result<std::vector<ContainerRow>> Store::list() const {
  std::lock_guard lk(mu_);
  Stmt s(db_, (std::string(kSelect) + " ORDER BY created, id").c_str());
  if (!s.ok()) return db_error("select");
  std::vector<ContainerRow> out;
  for (;;) {
    int rc = s.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return db_error("list containers");
    out.push_back(row_of(s));
  }
  return out;
}

}  // namespace berth::engine
