#pragma once

// The policy's single writer: the validated model (soc_agent/policy), its durable copy
// (soc_agent/store), the revision counter, the change log that Watch streams are served from,
// and in-process subscribers (the agent's slow path and flow manager).
//
// Write() follows P4Runtime's batch semantics: updates apply in order; CONTINUE_ON_ERROR applies
// every valid update, ROLLBACK_ON_ERROR applies nothing when one fails; one committed batch is
// one SQLite transaction and one revision. The result is a google.rpc.Status whose details hold
// one google.rpc.Status per update, in request order (OK for those that succeeded; failures
// carry a google.rpc.BadRequest naming the field, e.g. "updates[2].entity.vnic.mac").
//
// Thread-safe: writers are serialised; reads run concurrently with each other.

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "google/rpc/status.pb.h"
#include "nicswitch/v1/policy.pb.h"
#include "soc_agent/policy/policy_model.h"
#include "soc_agent/store/policy_store.h"

namespace nicswitch::api {

class PolicyEngine {
 public:
  struct Options {
    std::string store_path;
    bool durable = true;  // synchronous=FULL
    policy::PolicyModel::Limits limits;
    size_t max_updates_per_batch = 10000;  // RESOURCE_EXHAUSTED beyond
    size_t watch_log_changes = 100000;     // changes kept for resuming Watch streams
  };

  struct WriteResult {
    uint64_t revision = 0;       // the revision after the batch
    google::rpc::Status status;  // code 0: every update applied
    bool replayed = false;       // the outcome of an earlier request with the same request_id
  };

  // Called after each committed batch, in revision order, with the engine's lock held: must
  // not call back into the engine and should only hand the batch over (e.g. to a queue).
  using Listener = std::function<void(const policy::PolicyBatch& batch)>;

  // Opens the store and restores the policy and revision it holds.
  static absl::StatusOr<std::unique_ptr<PolicyEngine>> Open(const Options& options);

  WriteResult Write(const v1::WriteRequest& request) ABSL_LOCKS_EXCLUDED(mu_);

  // Paginated read (see ReadRequest). INVALID_ARGUMENT for a bad page token or page size,
  // NOT_FOUND for an exact name that does not exist. Errors name the field.
  absl::StatusOr<v1::ReadResponse> Read(const v1::ReadRequest& request) const
      ABSL_LOCKS_EXCLUDED(mu_);

  uint64_t revision() const ABSL_LOCKS_EXCLUDED(mu_);
  v1::EntityCounts Counts() const ABSL_LOCKS_EXCLUDED(mu_);

  // Every entity (dependency order) and the revision they are at.
  uint64_t Snapshot(std::vector<policy::Entity>* entities) const ABSL_LOCKS_EXCLUDED(mu_);

  enum class Changes { kOk, kTooOld, kShutdown };
  // Appends every committed batch with a revision above `after_revision`, waiting up to
  // `timeout` for the first one. kTooOld when batches after `after_revision` have left the log
  // (or `after_revision` is ahead of the store): the caller must resynchronise from a snapshot.
  Changes ChangesAfter(uint64_t after_revision, absl::Duration timeout,
                       std::vector<std::shared_ptr<const policy::PolicyBatch>>* batches) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Registers `listener` and returns, atomically with it, the current snapshot and revision, so
  // that a replica built from the snapshot and then the notified batches misses nothing.
  int Subscribe(Listener listener, std::vector<policy::Entity>* snapshot, uint64_t* revision)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Unsubscribe(int id) ABSL_LOCKS_EXCLUDED(mu_);

  // Wakes every ChangesAfter() waiter with kShutdown; later calls return kShutdown at once.
  void Shutdown() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  PolicyEngine(Options options, std::unique_ptr<store::PolicyStore> store);

  Options options_;
  mutable absl::Mutex mu_;
  std::unique_ptr<store::PolicyStore> store_ ABSL_GUARDED_BY(mu_);
  policy::PolicyModel model_ ABSL_GUARDED_BY(mu_);
  uint64_t revision_ ABSL_GUARDED_BY(mu_) = 0;
  std::deque<std::shared_ptr<const policy::PolicyBatch>> log_ ABSL_GUARDED_BY(mu_);
  size_t log_changes_ ABSL_GUARDED_BY(mu_) = 0;
  // Every batch with a revision above log_floor_ is in log_.
  uint64_t log_floor_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<int, Listener> listeners_ ABSL_GUARDED_BY(mu_);
  int next_listener_ ABSL_GUARDED_BY(mu_) = 1;
  bool shutdown_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace nicswitch::api
