// Fuzzes the policy model with arbitrary WriteRequests (untrusted API input): every update must
// be applied or refused with a status, never crash; undoing a batch must restore the model
// exactly; a replica fed the committed changes must end up identical.

#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "nicswitch/v1/policy.pb.h"
#include "soc_agent/policy/policy_model.h"

namespace {

std::string Serialize(const nicswitch::policy::PolicyModel& model) {
  std::string out;
  for (const auto& e : model.Snapshot()) {
    out += e.SerializeAsString();
    out += '\n';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nicswitch::v1::WriteRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) {
    return 0;
  }
  nicswitch::policy::PolicyModel::Limits limits;
  limits.max_vfs = 64;
  nicswitch::policy::PolicyModel model(limits);
  nicswitch::policy::PolicyModel replica(limits);
  // First pass: apply everything, then undo, and compare with the empty model.
  {
    std::vector<nicswitch::policy::PolicyChange> changes;
    nicswitch::policy::UndoLog undo;
    for (const auto& update : request.updates()) {
      (void)model.Apply(update, &changes, &undo);
    }
    model.Undo(std::move(undo));
    if (!Serialize(model).empty()) {
      std::abort();
    }
  }
  // Second pass: apply for real; the replica follows the committed changes.
  std::vector<nicswitch::policy::PolicyChange> changes;
  nicswitch::policy::UndoLog undo;
  for (const auto& update : request.updates()) {
    absl::Status status = model.Apply(update, &changes, &undo);
    if (!status.ok() && status.message().empty()) {
      std::abort();  // every refusal says why
    }
  }
  if (!replica.ApplyCommitted(nicswitch::policy::PolicyBatch{1, changes}).ok()) {
    std::abort();
  }
  if (Serialize(model) != Serialize(replica)) {
    std::abort();
  }
  return 0;
}
