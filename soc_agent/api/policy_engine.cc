#include "soc_agent/api/policy_engine.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"
#include "google/rpc/code.pb.h"
#include "google/rpc/error_details.pb.h"

namespace nicswitch::api {
namespace {

using policy::Entity;
using policy::EntityKind;

google::rpc::Status ToRpcStatus(const absl::Status& status, absl::string_view field_prefix) {
  google::rpc::Status out;
  out.set_code(static_cast<int>(status.code()));
  out.set_message(std::string(status.message()));
  std::string field = policy::ErrorField(status);
  if (!status.ok() && !field.empty()) {
    google::rpc::BadRequest bad_request;
    google::rpc::BadRequest::FieldViolation* violation = bad_request.add_field_violations();
    violation->set_field(absl::StrCat(field_prefix, field));
    violation->set_description(std::string(status.message()));
    out.add_details()->PackFrom(bad_request);
  }
  return out;
}

google::rpc::Status TopLevel(google::rpc::Code code, std::string message, absl::string_view field) {
  google::rpc::Status out;
  out.set_code(code);
  out.set_message(message);
  if (!field.empty()) {
    google::rpc::BadRequest bad_request;
    google::rpc::BadRequest::FieldViolation* violation = bad_request.add_field_violations();
    violation->set_field(std::string(field));
    violation->set_description(message);
    out.add_details()->PackFrom(bad_request);
  }
  return out;
}

const std::string& VpcOf(const Entity& e) {
  static const std::string* const kNone = new std::string();
  switch (e.kind_case()) {
    case Entity::kVnic:
      return e.vnic().vpc();
    case Entity::kMapping:
      return e.mapping().vpc();
    case Entity::kRoute:
      return e.route().vpc();
    case Entity::kVpc:
      return e.vpc().name();
    default:
      return *kNone;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<PolicyEngine>> PolicyEngine::Open(const Options& options) {
  store::PolicyStore::Options store_options;
  store_options.path = options.store_path;
  store_options.durable = options.durable;
  ASSIGN_OR_RETURN(std::unique_ptr<store::PolicyStore> store,
                   store::PolicyStore::Open(store_options));
  ASSIGN_OR_RETURN(store::PolicyStore::Contents contents, store->Load());
  std::unique_ptr<PolicyEngine> engine(new PolicyEngine(options, std::move(store)));
  absl::MutexLock lock(&engine->mu_);
  for (const Entity& entity : contents.entities) {
    absl::Status status =
        engine->model_.ApplyCommitted(policy::PolicyChange{policy::PolicyChange::Op::kPut, entity});
    if (!status.ok()) {
      return absl::DataLossError(absl::StrCat("policy store ", options.store_path, ": ",
                                              policy::KindName(policy::KindOf(entity)), " \"",
                                              policy::NameOf(entity), "\": ", status.message()));
    }
  }
  engine->revision_ = contents.revision;
  engine->log_floor_ = contents.revision;
  engine->model_.set_revision(contents.revision);
  return engine;
}

PolicyEngine::PolicyEngine(Options options, std::unique_ptr<store::PolicyStore> store)
    : options_(std::move(options)), store_(std::move(store)), model_(options_.limits) {}

PolicyEngine::WriteResult PolicyEngine::Write(const v1::WriteRequest& request) {
  absl::MutexLock lock(&mu_);
  WriteResult result;
  result.revision = revision_;
  const int n = request.updates_size();
  if (static_cast<size_t>(n) > options_.max_updates_per_batch) {
    result.status = TopLevel(google::rpc::RESOURCE_EXHAUSTED,
                             absl::StrCat("the batch has ", n, " updates, at most ",
                                          options_.max_updates_per_batch, " are accepted"),
                             "updates");
    return result;
  }
  if (request.request_id().size() > 128) {
    result.status = TopLevel(
        google::rpc::INVALID_ARGUMENT,
        absl::StrCat("request_id is ", request.request_id().size(), " bytes long, at most 128"),
        "request_id");
    return result;
  }
  const bool remember = !request.request_id().empty() && !request.validate_only();
  if (remember) {
    absl::StatusOr<std::optional<store::PolicyStore::RequestRecord>> record =
        store_->FindRequest(request.request_id());
    if (!record.ok()) {
      result.status =
          TopLevel(google::rpc::UNAVAILABLE, std::string(record.status().message()), "");
      return result;
    }
    if (record->has_value()) {
      result.revision = (*record)->revision;
      result.replayed = true;
      if (!result.status.ParseFromString((*record)->outcome)) {
        result.status = TopLevel(google::rpc::DATA_LOSS, "stored outcome does not parse", "");
      }
      return result;
    }
  }
  if (request.expected_revision() != 0 && request.expected_revision() != revision_) {
    result.status = TopLevel(google::rpc::ABORTED,
                             absl::StrCat("expected_revision ", request.expected_revision(),
                                          " is stale: the current revision is ", revision_),
                             "expected_revision");
    return result;
  }

  std::vector<absl::Status> statuses(n);
  std::vector<policy::PolicyChange> changes;
  policy::UndoLog undo;
  int failed = 0;
  int first_failure = -1;
  const bool rollback = request.atomicity() == v1::WriteRequest::ROLLBACK_ON_ERROR;
  for (int i = 0; i < n; ++i) {
    statuses[i] = model_.Apply(request.updates(i), &changes, &undo);
    if (!statuses[i].ok()) {
      ++failed;
      if (first_failure < 0) {
        first_failure = i;
      }
      if (rollback) {
        break;
      }
    }
  }
  if (rollback && failed > 0) {
    model_.Undo(std::move(undo));
    undo = policy::UndoLog();
    changes.clear();
    for (int i = 0; i < n; ++i) {
      if (i != first_failure) {
        statuses[i] = absl::AbortedError(
            absl::StrCat(i < first_failure ? "rolled back" : "not attempted", ": updates[",
                         first_failure, "] failed and the batch is ROLLBACK_ON_ERROR"));
      }
    }
  }
  if (request.validate_only() && !undo.empty()) {
    model_.Undo(std::move(undo));
    undo = policy::UndoLog();
    changes.clear();
  }

  // The P4Runtime-style outcome.
  google::rpc::Status& status = result.status;
  if (failed == 0) {
    status.set_code(google::rpc::OK);
  } else if (n == 1) {
    status = ToRpcStatus(statuses[0], "updates[0].entity.");
    status.clear_details();
  } else {
    status.set_code(google::rpc::UNKNOWN);
    status.set_message(absl::StrCat(failed, " of ", n, " updates failed; first: updates[",
                                    first_failure, "]: ", statuses[first_failure].message(),
                                    rollback ? " (nothing applied)" : ""));
  }
  if (failed > 0) {
    for (int i = 0; i < n; ++i) {
      status.add_details()->PackFrom(
          ToRpcStatus(statuses[i], absl::StrCat("updates[", i, "].entity.")));
    }
  }

  const uint64_t new_revision = changes.empty() ? revision_ : revision_ + 1;
  if (!changes.empty() || remember) {
    store::PolicyStore::RequestRecord record;
    if (remember) {
      record.request_id = request.request_id();
      record.revision = new_revision;
      status.SerializeToString(&record.outcome);
    }
    absl::Status committed = store_->Commit(new_revision, changes, remember ? &record : nullptr);
    if (!committed.ok()) {
      model_.Undo(std::move(undo));
      result.status = TopLevel(google::rpc::UNAVAILABLE,
                               absl::StrCat("nothing applied: ", committed.message()), "");
      return result;
    }
  }
  if (!changes.empty()) {
    revision_ = new_revision;
    model_.set_revision(new_revision);
    auto batch = std::make_shared<policy::PolicyBatch>();
    batch->revision = new_revision;
    batch->changes = std::move(changes);
    for (const auto& [id, listener] : listeners_) {
      listener(*batch);
    }
    log_changes_ += batch->changes.size();
    log_.push_back(std::move(batch));
    while (log_.size() > 1 && log_changes_ > options_.watch_log_changes) {
      log_changes_ -= log_.front()->changes.size();
      log_floor_ = log_.front()->revision;
      log_.pop_front();
    }
  }
  result.revision = revision_;
  return result;
}

absl::StatusOr<v1::ReadResponse> PolicyEngine::Read(const v1::ReadRequest& request) const {
  absl::ReaderMutexLock lock(&mu_);
  v1::ReadResponse response;
  response.set_revision(revision_);
  if (request.page_size() < 0 || request.page_size() > 1000) {
    return policy::FieldError(
        absl::StatusCode::kInvalidArgument, "page_size",
        absl::StrCat("page_size ", request.page_size(), " is outside 0..1000"));
  }
  if (request.kind() < v1::ENTITY_KIND_UNSPECIFIED || request.kind() > v1::SECURITY_GROUP) {
    return policy::FieldError(absl::StatusCode::kInvalidArgument, "kind",
                              absl::StrCat("kind ", request.kind(), " is not an entity kind"));
  }
  if (!request.name().empty()) {
    if (request.kind() == v1::ENTITY_KIND_UNSPECIFIED) {
      return policy::FieldError(absl::StatusCode::kInvalidArgument, "kind",
                                "reading by name needs the entity kind");
    }
    const Entity* entity = model_.Find(request.kind(), request.name());
    if (entity == nullptr) {
      return policy::FieldError(absl::StatusCode::kNotFound, "name",
                                absl::StrCat(policy::KindName(request.kind()), " \"",
                                             request.name(), "\" does not exist"));
    }
    *response.add_entities() = *entity;
    return response;
  }
  const size_t page_size = request.page_size() == 0 ? 100 : request.page_size();
  int start_kind = request.kind() == v1::ENTITY_KIND_UNSPECIFIED ? 1 : request.kind();
  int end_kind = request.kind() == v1::ENTITY_KIND_UNSPECIFIED ? 6 : request.kind();
  std::string after;
  if (!request.page_token().empty()) {
    std::vector<std::string> parts = absl::StrSplit(request.page_token(), absl::MaxSplits(':', 1));
    int kind = 0;
    if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &kind) || kind < start_kind ||
        kind > end_kind) {
      return policy::FieldError(absl::StatusCode::kInvalidArgument, "page_token",
                                absl::StrCat("page_token \"", request.page_token(),
                                             "\" was not returned for this request"));
    }
    start_kind = kind;
    after = parts[1];
  }
  for (int kind = start_kind; kind <= end_kind; ++kind) {
    bool more = false;
    model_.ForEach(static_cast<EntityKind>(kind), kind == start_kind ? after : "",
                   [&](const Entity& entity) {
                     if (!request.vpc().empty() && VpcOf(entity) != request.vpc()) {
                       return true;
                     }
                     if (static_cast<size_t>(response.entities_size()) == page_size) {
                       more = true;
                       return false;
                     }
                     *response.add_entities() = entity;
                     return true;
                   });
    if (more) {
      const Entity& last = response.entities(response.entities_size() - 1);
      response.set_next_page_token(
          absl::StrCat(static_cast<int>(policy::KindOf(last)), ":", policy::NameOf(last)));
      break;
    }
  }
  return response;
}

uint64_t PolicyEngine::revision() const {
  absl::ReaderMutexLock lock(&mu_);
  return revision_;
}

v1::EntityCounts PolicyEngine::Counts() const {
  absl::ReaderMutexLock lock(&mu_);
  v1::EntityCounts counts;
  counts.set_underlays(model_.Count(v1::UNDERLAY));
  counts.set_vpcs(model_.Count(v1::VPC));
  counts.set_vnics(model_.Count(v1::VNIC));
  counts.set_mappings(model_.Count(v1::MAPPING));
  counts.set_routes(model_.Count(v1::ROUTE));
  counts.set_security_groups(model_.Count(v1::SECURITY_GROUP));
  return counts;
}

uint64_t PolicyEngine::Snapshot(std::vector<Entity>* entities) const {
  absl::ReaderMutexLock lock(&mu_);
  *entities = model_.Snapshot();
  return revision_;
}

PolicyEngine::Changes PolicyEngine::ChangesAfter(
    uint64_t after_revision, absl::Duration timeout,
    std::vector<std::shared_ptr<const policy::PolicyBatch>>* batches) const {
  absl::MutexLock lock(&mu_);
  auto ready = [this, after_revision]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return shutdown_ || revision_ > after_revision;
  };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (shutdown_) {
    return Changes::kShutdown;
  }
  if (after_revision < log_floor_ || after_revision > revision_) {
    return Changes::kTooOld;
  }
  // Batches are in revision order; skip those at or below after_revision.
  auto it = std::lower_bound(log_.begin(), log_.end(), after_revision + 1,
                             [](const std::shared_ptr<const policy::PolicyBatch>& b, uint64_t r) {
                               return b->revision < r;
                             });
  batches->insert(batches->end(), it, log_.end());
  return Changes::kOk;
}

int PolicyEngine::Subscribe(Listener listener, std::vector<Entity>* snapshot, uint64_t* revision) {
  absl::MutexLock lock(&mu_);
  *snapshot = model_.Snapshot();
  *revision = revision_;
  int id = next_listener_++;
  listeners_[id] = std::move(listener);
  return id;
}

void PolicyEngine::Unsubscribe(int id) {
  absl::MutexLock lock(&mu_);
  listeners_.erase(id);
}

void PolicyEngine::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
}

}  // namespace nicswitch::api
