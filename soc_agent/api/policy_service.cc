#include "soc_agent/api/policy_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "soc_agent/policy/policy_model.h"

namespace nicswitch::api {
namespace {

bool WriteEvent(grpc::ServerWriter<v1::WatchEvent>* writer, v1::WatchEvent::Type type,
                uint64_t revision, const policy::Entity* entity) {
  v1::WatchEvent event;
  event.set_type(type);
  event.set_revision(revision);
  if (entity != nullptr) {
    *event.mutable_entity() = *entity;
  }
  return writer->Write(event);
}

// RESET (when `reset`), the snapshot, SYNC. Returns the snapshot's revision, or 0 when the
// client went away.
uint64_t SendSnapshot(PolicyEngine& engine, grpc::ServerWriter<v1::WatchEvent>* writer,
                      bool reset) {
  std::vector<policy::Entity> entities;
  uint64_t revision = engine.Snapshot(&entities);
  if (reset && !WriteEvent(writer, v1::WatchEvent::RESET, revision, nullptr)) {
    return 0;
  }
  for (const policy::Entity& entity : entities) {
    if (!WriteEvent(writer, v1::WatchEvent::SNAPSHOT, revision, &entity)) {
      return 0;
    }
  }
  if (!WriteEvent(writer, v1::WatchEvent::SYNC, revision, nullptr)) {
    return 0;
  }
  return revision == 0 ? UINT64_MAX : revision;  // UINT64_MAX: revision 0, still connected
}

}  // namespace

grpc::Status ToGrpcStatus(const google::rpc::Status& status) {
  if (status.code() == 0) {
    return grpc::Status::OK;
  }
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), status.message(),
                      status.SerializeAsString());
}

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) {
    return grpc::Status::OK;
  }
  google::rpc::Status rpc;
  rpc.set_code(static_cast<int>(status.code()));
  rpc.set_message(std::string(status.message()));
  std::string field = policy::ErrorField(status);
  if (!field.empty()) {
    google::rpc::BadRequest bad_request;
    auto* violation = bad_request.add_field_violations();
    violation->set_field(field);
    violation->set_description(std::string(status.message()));
    rpc.add_details()->PackFrom(bad_request);
  }
  return ToGrpcStatus(rpc);
}

grpc::Status PolicyServiceImpl::Write(grpc::ServerContext* context, const v1::WriteRequest* request,
                                      v1::WriteResponse* response) {
  PolicyEngine::WriteResult result = engine_.Write(*request);
  response->set_revision(result.revision);
  // A failed batch has no response message: the revision also travels in the trailers.
  context->AddTrailingMetadata("nicswitch-revision", absl::StrCat(result.revision));
  if (result.replayed) {
    context->AddTrailingMetadata("nicswitch-replayed", "1");
  }
  return ToGrpcStatus(result.status);
}

grpc::Status PolicyServiceImpl::Read(grpc::ServerContext* context, const v1::ReadRequest* request,
                                     v1::ReadResponse* response) {
  absl::StatusOr<v1::ReadResponse> result = engine_.Read(*request);
  if (!result.ok()) {
    return ToGrpcStatus(result.status());
  }
  *response = std::move(*result);
  return grpc::Status::OK;
}

grpc::Status PolicyServiceImpl::Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                                      grpc::ServerWriter<v1::WatchEvent>* writer) {
  uint64_t position = 0;
  std::vector<std::shared_ptr<const policy::PolicyBatch>> batches;
  bool need_snapshot = request->from_revision() == 0;
  bool reset = false;
  if (!need_snapshot) {
    // Resume: every change after from_revision that the log still has, then SYNC.
    PolicyEngine::Changes changes =
        engine_.ChangesAfter(request->from_revision(), absl::ZeroDuration(), &batches);
    if (changes == PolicyEngine::Changes::kShutdown) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
    }
    if (changes == PolicyEngine::Changes::kTooOld) {
      need_snapshot = true;
      reset = true;
    } else {
      position = request->from_revision();
      for (const auto& batch : batches) {
        for (const policy::PolicyChange& change : batch->changes) {
          auto type = change.op == policy::PolicyChange::Op::kPut ? v1::WatchEvent::PUT
                                                                  : v1::WatchEvent::DELETE;
          if (!WriteEvent(writer, type, batch->revision, &change.entity)) {
            return grpc::Status::OK;
          }
        }
        position = batch->revision;
      }
      if (!WriteEvent(writer, v1::WatchEvent::SYNC, position, nullptr)) {
        return grpc::Status::OK;
      }
    }
  }
  while (!context->IsCancelled()) {
    if (need_snapshot) {
      uint64_t revision = SendSnapshot(engine_, writer, reset);
      if (revision == 0) {
        return grpc::Status::OK;
      }
      position = revision == UINT64_MAX ? 0 : revision;
      need_snapshot = false;
      reset = true;
    }
    batches.clear();
    PolicyEngine::Changes changes =
        engine_.ChangesAfter(position, absl::Milliseconds(200), &batches);
    if (changes == PolicyEngine::Changes::kShutdown) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE, "the server is shutting down");
    }
    if (changes == PolicyEngine::Changes::kTooOld) {
      // This client fell behind the change log: start over from a snapshot.
      need_snapshot = true;
      continue;
    }
    for (const auto& batch : batches) {
      for (const policy::PolicyChange& change : batch->changes) {
        auto type = change.op == policy::PolicyChange::Op::kPut ? v1::WatchEvent::PUT
                                                                : v1::WatchEvent::DELETE;
        if (!WriteEvent(writer, type, batch->revision, &change.entity)) {
          return grpc::Status::OK;
        }
      }
      position = batch->revision;
    }
  }
  return grpc::Status::OK;
}

grpc::Status PolicyServiceImpl::GetStatus(grpc::ServerContext* context,
                                          const v1::GetStatusRequest* request,
                                          v1::GetStatusResponse* response) {
  response->set_desired_revision(engine_.revision());
  *response->mutable_entities() = engine_.Counts();
  if (FlowTableView* flows = flows_.Get(); flows != nullptr) {
    FlowTableView::Stats stats = flows->GetStats();
    response->set_applied_revision(stats.applied_revision);
    response->set_flows(stats.flows);
    response->set_software_flows(stats.software_flows);
    if (stats.has_datapath) {
      v1::DatapathCounters* d = response->mutable_datapath();
      d->set_fast_path_packets(stats.fast_path_packets);
      d->set_fast_path_bytes(stats.fast_path_bytes);
      d->set_exceptions(stats.exceptions);
      d->set_flow_setups(stats.flow_setups);
      d->set_first_packets(stats.first_packets);
      d->set_software_packets(stats.software_packets);
      d->set_arp_replies(stats.arp_replies);
      d->set_rate_limited(stats.rate_limited);
      uint64_t drops = 0;
      for (const auto& [reason, count] : stats.drops_by_reason) {
        (*d->mutable_drops_by_reason())[reason] = count;
        drops += count;
      }
      d->set_drops(drops);
    }
    for (const FlowTableView::Stats::ShapeCapability& c : stats.capabilities) {
      v1::ShapeCapability* out = response->add_capabilities();
      out->set_shape(c.shape);
      out->set_offloaded(c.offloaded);
      out->set_error(c.error);
      out->set_reason(c.reason);
      out->set_mandatory(c.mandatory);
      out->set_software_rules(c.software_rules);
    }
  }
  response->set_version("nicswitch 0.1.0");
  return grpc::Status::OK;
}

grpc::Status FlowServiceImpl::ListFlows(grpc::ServerContext* context,
                                        const v1::ListFlowsRequest* request,
                                        v1::ListFlowsResponse* response) {
  if (request->page_size() < 0 || request->page_size() > 1000) {
    return ToGrpcStatus(policy::FieldError(
        absl::StatusCode::kInvalidArgument, "page_size",
        absl::StrCat("page_size ", request->page_size(), " is outside 0..1000")));
  }
  uint64_t after = 0;
  if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &after)) {
    return ToGrpcStatus(policy::FieldError(
        absl::StatusCode::kInvalidArgument, "page_token",
        absl::StrCat("page_token \"", request->page_token(), "\" was not returned by ListFlows")));
  }
  if (absl::Status known = CheckVnic(request->vnic()); !known.ok()) {
    return ToGrpcStatus(known);
  }
  FlowTableView* flows = flows_.Get();
  if (flows == nullptr) {
    return grpc::Status::OK;  // no datapath attached: no flows
  }
  const size_t page_size = request->page_size() == 0 ? 100 : request->page_size();
  // One more than a page tells whether another page follows.
  std::vector<FlowRecord> records = flows->ListFlows(request->vnic(), after, page_size + 1);
  for (size_t i = 0; i < records.size() && i < page_size; ++i) {
    const FlowRecord& r = records[i];
    v1::Flow* flow = response->add_flows();
    flow->set_id(r.id);
    flow->set_vnic(r.vnic);
    flow->set_direction(r.direction);
    flow->set_src_ip(r.src_ip);
    flow->set_dst_ip(r.dst_ip);
    flow->set_protocol(r.protocol);
    flow->set_src_port(r.src_port);
    flow->set_dst_port(r.dst_port);
    flow->set_vni(r.vni);
    flow->set_actions(r.actions);
    flow->set_packets(r.packets);
    flow->set_bytes(r.bytes);
    flow->set_software(r.software);
    flow->set_reverse_id(r.reverse_id);
    flow->set_idle_seconds(r.idle_seconds);
  }
  if (records.size() > page_size) {
    response->set_next_page_token(absl::StrCat(records[page_size - 1].id));
  }
  return grpc::Status::OK;
}

absl::Status FlowServiceImpl::CheckVnic(const std::string& vnic) const {
  if (vnic.empty()) {
    return absl::OkStatus();
  }
  v1::ReadRequest read;
  read.set_kind(v1::VNIC);
  read.set_name(vnic);
  if (absl::StatusOr<v1::ReadResponse> found = engine_.Read(read); !found.ok()) {
    return policy::FieldError(found.status().code(), "vnic", found.status().message());
  }
  return absl::OkStatus();
}

grpc::Status FlowServiceImpl::FlushFlows(grpc::ServerContext* context,
                                         const v1::FlushFlowsRequest* request,
                                         v1::FlushFlowsResponse* response) {
  if (absl::Status known = CheckVnic(request->vnic()); !known.ok()) {
    return ToGrpcStatus(known);
  }
  FlowTableView* flows = flows_.Get();
  if (flows == nullptr) {
    return grpc::Status::OK;
  }
  absl::StatusOr<uint64_t> flushed = flows->FlushFlows(request->vnic());
  if (!flushed.ok()) {
    return ToGrpcStatus(flushed.status());
  }
  response->set_flushed(*flushed);
  return grpc::Status::OK;
}

}  // namespace nicswitch::api
