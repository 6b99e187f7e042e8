#pragma once

// Helpers shared by the policy API tests: updates from text format, per-update statuses from
// a failed Write, a fake flow table.

#include <string>
#include <vector>

#include <google/protobuf/text_format.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "absl/synchronization/mutex.h"
#include "google/rpc/error_details.pb.h"
#include "google/rpc/status.pb.h"
#include "nicswitch/v1/policy.pb.h"
#include "soc_agent/api/flow_table_view.h"

namespace nicswitch::api::testing {

inline v1::Update U(const std::string& text) {
  v1::Update update;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &update)) << text;
  return update;
}

inline v1::WriteRequest Batch(const std::vector<v1::Update>& updates) {
  v1::WriteRequest request;
  for (const v1::Update& u : updates) {
    *request.add_updates() = u;
  }
  return request;
}

// The per-update statuses of a failed Write (P4Runtime convention), in request order.
inline std::vector<google::rpc::Status> PerUpdate(const grpc::Status& status) {
  std::vector<google::rpc::Status> out;
  google::rpc::Status top;
  if (!top.ParseFromString(status.error_details())) {
    ADD_FAILURE() << "grpc-status-details-bin does not hold a google.rpc.Status";
    return out;
  }
  EXPECT_EQ(top.code(), static_cast<int>(status.error_code()));
  for (const auto& any : top.details()) {
    google::rpc::Status update;
    if (any.UnpackTo(&update)) {
      out.push_back(update);
    }
  }
  return out;
}

// The field a status's BadRequest names ("" when none).
inline std::string FieldOf(const google::rpc::Status& status) {
  for (const auto& any : status.details()) {
    google::rpc::BadRequest bad_request;
    if (any.UnpackTo(&bad_request) && bad_request.field_violations_size() > 0) {
      return bad_request.field_violations(0).field();
    }
  }
  return "";
}

inline std::string FieldOf(const grpc::Status& status) {
  google::rpc::Status top;
  top.ParseFromString(status.error_details());
  return FieldOf(top);
}

// A flow table the tests fill by hand; records the flushes it was asked for.
class FakeFlowTable : public FlowTableView {
 public:
  void Add(FlowRecord record) {
    absl::MutexLock lock(&mu_);
    flows_.push_back(std::move(record));
  }
  void set_applied_revision(uint64_t revision) {
    absl::MutexLock lock(&mu_);
    applied_revision_ = revision;
  }

  std::vector<FlowRecord> ListFlows(absl::string_view vnic, uint64_t after_id,
                                    size_t limit) override {
    absl::MutexLock lock(&mu_);
    std::vector<FlowRecord> out;
    for (const FlowRecord& r : flows_) {
      if (r.id > after_id && (vnic.empty() || r.vnic == vnic) && out.size() < limit) {
        out.push_back(r);
      }
    }
    return out;
  }
  absl::StatusOr<uint64_t> FlushFlows(absl::string_view vnic) override {
    absl::MutexLock lock(&mu_);
    uint64_t removed = 0;
    for (auto it = flows_.begin(); it != flows_.end();) {
      if (vnic.empty() || it->vnic == vnic) {
        it = flows_.erase(it);
        ++removed;
      } else {
        ++it;
      }
    }
    return removed;
  }
  Stats GetStats() override {
    absl::MutexLock lock(&mu_);
    Stats stats;
    stats.applied_revision = applied_revision_;
    stats.flows = flows_.size();
    for (const FlowRecord& r : flows_) {
      stats.software_flows += r.software ? 1 : 0;
    }
    return stats;
  }

 private:
  absl::Mutex mu_;
  std::vector<FlowRecord> flows_ ABSL_GUARDED_BY(mu_);
  uint64_t applied_revision_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace nicswitch::api::testing
