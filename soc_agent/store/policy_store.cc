#include "soc_agent/store/policy_store.h"

#include <sqlite3.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace nicswitch::store {
namespace {

constexpr int kSchemaVersion = 1;

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS entities (
  kind INTEGER NOT NULL,
  name TEXT NOT NULL,
  body BLOB NOT NULL,
  PRIMARY KEY (kind, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS requests (
  request_id TEXT PRIMARY KEY,
  seq INTEGER NOT NULL,
  revision INTEGER NOT NULL,
  outcome BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS requests_by_seq ON requests (seq);
INSERT OR IGNORE INTO meta (key, value) VALUES ('revision', 0);
)sql";

// Resets a prepared statement when leaving scope, whatever the outcome.
class StatementReset {
 public:
  explicit StatementReset(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StatementReset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

 private:
  sqlite3_stmt* stmt_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<PolicyStore>> PolicyStore::Open(const Options& options) {
  std::unique_ptr<PolicyStore> store(new PolicyStore(options));
  int rc =
      sqlite3_open_v2(options.path.c_str(), &store->db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    return absl::UnavailableError(absl::StrCat(
        "policy store ", options.path,
        ": cannot open: ", store->db_ ? sqlite3_errmsg(store->db_) : sqlite3_errstr(rc)));
  }
  sqlite3_busy_timeout(store->db_, 5000);
  RETURN_IF_ERROR(store->Exec("PRAGMA journal_mode=WAL"));
  RETURN_IF_ERROR(
      store->Exec(options.durable ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL"));
  RETURN_IF_ERROR(store->Exec(kSchema));
  {
    sqlite3_stmt* stmt = nullptr;
    RETURN_IF_ERROR(store->Prepare("SELECT value FROM meta WHERE key = 'schema'", &stmt));
    int version = 0;
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      version = sqlite3_column_int(stmt, 0);
    }
    sqlite3_finalize(stmt);
    if (version == 0) {
      RETURN_IF_ERROR(store->Exec(
          absl::StrCat("INSERT INTO meta (key, value) VALUES ('schema', ", kSchemaVersion, ")")
              .c_str()));
    } else if (version != kSchemaVersion) {
      return absl::FailedPreconditionError(absl::StrCat("policy store ", options.path,
                                                        ": schema version ", version,
                                                        " is not the supported ", kSchemaVersion));
    }
  }
  RETURN_IF_ERROR(
      store->Prepare("INSERT INTO entities (kind, name, body) VALUES (?1, ?2, ?3) "
                     "ON CONFLICT (kind, name) DO UPDATE SET body = excluded.body",
                     &store->put_));
  RETURN_IF_ERROR(
      store->Prepare("DELETE FROM entities WHERE kind = ?1 AND name = ?2", &store->delete_));
  RETURN_IF_ERROR(
      store->Prepare("UPDATE meta SET value = ?1 WHERE key = 'revision'", &store->set_revision_));
  RETURN_IF_ERROR(
      store->Prepare("INSERT OR REPLACE INTO requests (request_id, seq, revision, outcome) VALUES "
                     "(?1, (SELECT IFNULL(MAX(seq), 0) + 1 FROM requests), ?2, ?3)",
                     &store->put_request_));
  RETURN_IF_ERROR(store->Prepare("SELECT revision, outcome FROM requests WHERE request_id = ?1",
                                 &store->find_request_));
  RETURN_IF_ERROR(store->Prepare(
      "DELETE FROM requests WHERE seq <= (SELECT IFNULL(MAX(seq), 0) FROM requests) - ?1",
      &store->prune_requests_));
  if (options.checkpoint_interval > absl::ZeroDuration()) {
    RETURN_IF_ERROR(store->Exec("PRAGMA wal_autocheckpoint=0"));
    sqlite3* checkpoint_connection = nullptr;
    if (sqlite3_open_v2(options.path.c_str(), &checkpoint_connection,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr) != SQLITE_OK) {
      sqlite3_close(checkpoint_connection);
      return absl::UnavailableError(
          absl::StrCat("policy store ", options.path, ": cannot open the checkpoint connection"));
    }
    sqlite3_exec(checkpoint_connection, "PRAGMA synchronous=FULL", nullptr, nullptr, nullptr);
    store->checkpointer_ = std::thread(
        [s = store.get(), checkpoint_connection] { s->CheckpointLoop(checkpoint_connection); });
  }
  return store;
}

void PolicyStore::CheckpointLoop(sqlite3* connection) {
  for (;;) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      if (checkpoint_mu_.AwaitWithTimeout(absl::Condition(&stop_checkpoints_),
                                          options_.checkpoint_interval)) {
        break;
      }
    }
    // PASSIVE: copies what it can without waiting for, or blocking, the writer.
    sqlite3_wal_checkpoint_v2(connection, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
  sqlite3_close(connection);
}

PolicyStore::~PolicyStore() {
  if (checkpointer_.joinable()) {
    {
      absl::MutexLock lock(&checkpoint_mu_);
      stop_checkpoints_ = true;
    }
    checkpointer_.join();
    // Fold the WAL into the database on a clean close.
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
  }
  for (sqlite3_stmt* stmt :
       {put_, delete_, set_revision_, put_request_, find_request_, prune_requests_}) {
    sqlite3_finalize(stmt);
  }
  sqlite3_close(db_);
}

absl::Status PolicyStore::Error(const char* what) const {
  return absl::InternalError(
      absl::StrCat("policy store ", options_.path, ": ", what, ": ", sqlite3_errmsg(db_)));
}

absl::Status PolicyStore::Exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    absl::Status status = absl::InternalError(absl::StrCat(
        "policy store ", options_.path, ": ", message ? message : "error", " in: ", sql));
    sqlite3_free(message);
    return status;
  }
  return absl::OkStatus();
}

absl::Status PolicyStore::Prepare(const char* sql, sqlite3_stmt** stmt) {
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, stmt, nullptr) != SQLITE_OK) {
    return Error(sql);
  }
  return absl::OkStatus();
}

absl::StatusOr<PolicyStore::Contents> PolicyStore::Load() {
  Contents contents;
  sqlite3_stmt* stmt = nullptr;
  RETURN_IF_ERROR(Prepare("SELECT value FROM meta WHERE key = 'revision'", &stmt));
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    contents.revision = static_cast<uint64_t>(sqlite3_column_int64(stmt, 0));
  }
  sqlite3_finalize(stmt);

  std::map<int, std::vector<policy::Entity>> by_kind;
  RETURN_IF_ERROR(Prepare("SELECT kind, name, body FROM entities ORDER BY kind, name", &stmt));
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    policy::Entity entity;
    const void* body = sqlite3_column_blob(stmt, 2);
    int size = sqlite3_column_bytes(stmt, 2);
    if (!entity.ParseFromArray(body, size)) {
      std::string name(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 1)));
      sqlite3_finalize(stmt);
      return absl::DataLossError(
          absl::StrCat("policy store ", options_.path, ": entity ", name, " does not parse"));
    }
    by_kind[sqlite3_column_int(stmt, 0)].push_back(std::move(entity));
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) {
    return Error("reading entities");
  }
  for (policy::EntityKind kind : policy::PolicyModel::kKindsInDependencyOrder) {
    for (policy::Entity& e : by_kind[kind]) {
      contents.entities.push_back(std::move(e));
    }
  }
  return contents;
}

absl::Status PolicyStore::Commit(uint64_t revision,
                                 const std::vector<policy::PolicyChange>& changes,
                                 const RequestRecord* record) {
  RETURN_IF_ERROR(Exec("BEGIN IMMEDIATE"));
  auto fail = [this](absl::Status status) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    return status;
  };
  std::string body;
  for (const policy::PolicyChange& change : changes) {
    const std::string& name = policy::NameOf(change.entity);
    int kind = policy::KindOf(change.entity);
    if (change.op == policy::PolicyChange::Op::kPut) {
      StatementReset reset(put_);
      body.clear();
      change.entity.SerializeToString(&body);
      sqlite3_bind_int(put_, 1, kind);
      sqlite3_bind_text(put_, 2, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
      sqlite3_bind_blob(put_, 3, body.data(), static_cast<int>(body.size()), SQLITE_STATIC);
      if (sqlite3_step(put_) != SQLITE_DONE) {
        return fail(Error("storing an entity"));
      }
    } else {
      StatementReset reset(delete_);
      sqlite3_bind_int(delete_, 1, kind);
      sqlite3_bind_text(delete_, 2, name.data(), static_cast<int>(name.size()), SQLITE_STATIC);
      if (sqlite3_step(delete_) != SQLITE_DONE) {
        return fail(Error("deleting an entity"));
      }
    }
  }
  {
    StatementReset reset(set_revision_);
    sqlite3_bind_int64(set_revision_, 1, static_cast<sqlite3_int64>(revision));
    if (sqlite3_step(set_revision_) != SQLITE_DONE) {
      return fail(Error("storing the revision"));
    }
  }
  if (record != nullptr) {
    {
      StatementReset reset(put_request_);
      sqlite3_bind_text(put_request_, 1, record->request_id.data(),
                        static_cast<int>(record->request_id.size()), SQLITE_STATIC);
      sqlite3_bind_int64(put_request_, 2, static_cast<sqlite3_int64>(record->revision));
      sqlite3_bind_blob(put_request_, 3, record->outcome.data(),
                        static_cast<int>(record->outcome.size()), SQLITE_STATIC);
      if (sqlite3_step(put_request_) != SQLITE_DONE) {
        return fail(Error("storing the request id"));
      }
    }
    if (++requests_since_prune_ >= 100) {
      requests_since_prune_ = 0;
      StatementReset reset(prune_requests_);
      sqlite3_bind_int64(prune_requests_, 1, static_cast<sqlite3_int64>(options_.request_ids_kept));
      if (sqlite3_step(prune_requests_) != SQLITE_DONE) {
        return fail(Error("pruning request ids"));
      }
    }
  }
  if (sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) != SQLITE_OK) {
    return fail(Error("commit"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<PolicyStore::RequestRecord>> PolicyStore::FindRequest(
    const std::string& request_id) {
  StatementReset reset(find_request_);
  sqlite3_bind_text(find_request_, 1, request_id.data(), static_cast<int>(request_id.size()),
                    SQLITE_STATIC);
  int rc = sqlite3_step(find_request_);
  if (rc == SQLITE_DONE) {
    return std::nullopt;
  }
  if (rc != SQLITE_ROW) {
    return Error("looking up a request id");
  }
  RequestRecord record;
  record.request_id = request_id;
  record.revision = static_cast<uint64_t>(sqlite3_column_int64(find_request_, 0));
  const char* outcome = static_cast<const char*>(sqlite3_column_blob(find_request_, 1));
  record.outcome.assign(outcome ? outcome : "",
                        static_cast<size_t>(sqlite3_column_bytes(find_request_, 1)));
  return record;
}

}  // namespace nicswitch::store
