#pragma once

// The policy API's view of the agent's flows (api::FlowTableView) over the FlowManager.

#include "soc_agent/api/flow_table_view.h"
#include "soc_agent/device/capabilities.h"
#include "soc_agent/flows/flow_manager.h"
#include "soc_agent/slowpath/slow_path.h"

namespace nicswitch::agent {

class FlowTableAdapter : public api::FlowTableView {
 public:
  // `slow_path` (optional) supplies the slow-path counters of GetStatus.
  FlowTableAdapter(flows::FlowManager& flows, const slowpath::SlowPath* slow_path)
      : flows_(flows), slow_path_(slow_path) {}

  // The device whose probed capabilities GetStats reports (optional; must outlive this).
  void AttachCapabilities(const device::ProbedFlowDevice* device) { probed_ = device; }

  std::vector<api::FlowRecord> ListFlows(absl::string_view vnic, uint64_t after_id,
                                         size_t limit) override;
  absl::StatusOr<uint64_t> FlushFlows(absl::string_view vnic) override;
  Stats GetStats() override;

  // The record the API shows for one installed direction.
  static api::FlowRecord ToRecord(const flows::FlowInfo& flow);

 private:
  flows::FlowManager& flows_;
  const slowpath::SlowPath* slow_path_;
  const device::ProbedFlowDevice* probed_ = nullptr;
};

}  // namespace nicswitch::agent
