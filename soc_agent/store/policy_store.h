#pragma once

// The durable copy of the policy: SQLite in WAL mode with synchronous=FULL, so that a batch the
// API acknowledged survives a crash or power loss, and a batch that was not committed leaves no
// trace. One Commit() is one transaction holding every change of a batch, the new revision and
// (optionally) the batch's request id, so a restart restores exactly the last acknowledged
// policy and revision, and a retried request is recognised.
//
// Not thread-safe: its owner (the PolicyEngine) serialises calls.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "soc_agent/policy/policy_model.h"

struct sqlite3;
struct sqlite3_stmt;

namespace nicswitch::store {

class PolicyStore {
 public:
  struct Options {
    std::string path;     // database file; created with its directory's permissions
    bool durable = true;  // synchronous=FULL (false: NORMAL, for tests that do not crash)
    size_t request_ids_kept = 10000;
    // WAL checkpoints run on a background thread (own connection, PASSIVE, so they never block
    // a commit) at this interval; commits never checkpoint themselves. Zero: commits
    // checkpoint automatically (SQLite's default, tail latency includes the checkpoint fsync).
    absl::Duration checkpoint_interval = absl::Milliseconds(200);
  };

  // The outcome of a Write that carried a request id.
  struct RequestRecord {
    std::string request_id;
    uint64_t revision = 0;  // the revision the request produced (or found)
    std::string outcome;    // opaque to the store (the API keeps a serialized google.rpc.Status)
  };

  struct Contents {
    uint64_t revision = 0;
    std::vector<policy::Entity> entities;  // in dependency order (PolicyModel::Snapshot order)
  };

  // Opens or creates the database and its schema. INTERNAL/UNAVAILABLE with SQLite's message
  // and the path on failure; FAILED_PRECONDITION on an unknown schema version.
  static absl::StatusOr<std::unique_ptr<PolicyStore>> Open(const Options& options);
  ~PolicyStore();
  PolicyStore(const PolicyStore&) = delete;
  PolicyStore& operator=(const PolicyStore&) = delete;

  // Every stored entity and the last committed revision (0 for a new store).
  absl::StatusOr<Contents> Load();

  // Atomically: applies `changes` in order (kPut upserts, kDelete removes), sets the revision to
  // `revision`, and stores `record` if given. Returns only after the transaction is durable; on
  // error nothing of it is stored.
  absl::Status Commit(uint64_t revision, const std::vector<policy::PolicyChange>& changes,
                      const RequestRecord* record);

  // The record stored for `request_id`, if it is among the last `request_ids_kept`.
  absl::StatusOr<std::optional<RequestRecord>> FindRequest(const std::string& request_id);

  const std::string& path() const { return options_.path; }

 private:
  explicit PolicyStore(Options options) : options_(std::move(options)) {}
  absl::Status Exec(const char* sql);
  absl::Status Prepare(const char* sql, sqlite3_stmt** stmt);
  absl::Status Error(const char* what) const;

  Options options_;
  sqlite3* db_ = nullptr;
  sqlite3_stmt* put_ = nullptr;
  sqlite3_stmt* delete_ = nullptr;
  sqlite3_stmt* set_revision_ = nullptr;
  sqlite3_stmt* put_request_ = nullptr;
  sqlite3_stmt* find_request_ = nullptr;
  sqlite3_stmt* prune_requests_ = nullptr;
  uint64_t requests_since_prune_ = 0;

  void CheckpointLoop(sqlite3* connection);
  absl::Mutex checkpoint_mu_;
  bool stop_checkpoints_ ABSL_GUARDED_BY(checkpoint_mu_) = false;
  std::thread checkpointer_;
};

}  // namespace nicswitch::store
