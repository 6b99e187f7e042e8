#pragma once

// gRPC services nicswitch.v1.PolicyService and nicswitch.v1.FlowService over a PolicyEngine and
// the agent's FlowTableView. absl::Status becomes grpc::Status only here, keeping the canonical
// code; a failure that names a field carries a google.rpc.Status with a google.rpc.BadRequest in
// grpc-status-details-bin.

#include <atomic>

#include "nicswitch/v1/flows.grpc.pb.h"
#include "nicswitch/v1/policy.grpc.pb.h"
#include "soc_agent/api/flow_table_view.h"
#include "soc_agent/api/policy_engine.h"

namespace nicswitch::api {

// A grpc::Status carrying `status` (a google.rpc.Status) in its binary details.
grpc::Status ToGrpcStatus(const google::rpc::Status& status);
// An absl::Status as a grpc::Status; with a BadRequest when the status names a field.
grpc::Status ToGrpcStatus(const absl::Status& status);

// Holds the current FlowTableView (none until the agent's flow manager attaches one).
class FlowTableSlot {
 public:
  void Set(FlowTableView* view) { view_.store(view, std::memory_order_release); }
  FlowTableView* Get() const { return view_.load(std::memory_order_acquire); }

 private:
  std::atomic<FlowTableView*> view_{nullptr};
};

class PolicyServiceImpl final : public v1::PolicyService::Service {
 public:
  PolicyServiceImpl(PolicyEngine& engine, const FlowTableSlot& flows)
      : engine_(engine), flows_(flows) {}

  grpc::Status Write(grpc::ServerContext* context, const v1::WriteRequest* request,
                     v1::WriteResponse* response) override;
  grpc::Status Read(grpc::ServerContext* context, const v1::ReadRequest* request,
                    v1::ReadResponse* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                     grpc::ServerWriter<v1::WatchEvent>* writer) override;
  grpc::Status GetStatus(grpc::ServerContext* context, const v1::GetStatusRequest* request,
                         v1::GetStatusResponse* response) override;

 private:
  PolicyEngine& engine_;
  const FlowTableSlot& flows_;
};

class FlowServiceImpl final : public v1::FlowService::Service {
 public:
  FlowServiceImpl(PolicyEngine& engine, const FlowTableSlot& flows)
      : engine_(engine), flows_(flows) {}

  grpc::Status ListFlows(grpc::ServerContext* context, const v1::ListFlowsRequest* request,
                         v1::ListFlowsResponse* response) override;
  grpc::Status FlushFlows(grpc::ServerContext* context, const v1::FlushFlowsRequest* request,
                          v1::FlushFlowsResponse* response) override;

 private:
  // OK for "" (all vNICs) or an existing vNIC; NOT_FOUND naming the field otherwise.
  absl::Status CheckVnic(const std::string& vnic) const;

  PolicyEngine& engine_;
  const FlowTableSlot& flows_;
};

}  // namespace nicswitch::api
