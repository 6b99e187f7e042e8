#pragma once

// nicswitch-agent as an object: the device (softasic or rte_flow), the flow manager, the slow
// path, and the policy API server (store + gRPC), wired together:
//   policy commit --(Subscribe)--> SlowPath::EnqueueBatch --> replica + exact invalidation
//   representors --> SlowPath::PollOnce --> FlowManager::Install --> FlowDevice::CreateRule
//   housekeeping (1 s) --> FlowManager::PollCounters / PollAging
// EAL must be initialised before Create.

#include <atomic>
#include <memory>

#include "absl/status/statusor.h"
#include "common/textproto.h"
#include "nicswitch/v1/agent_config.pb.h"
#include "soc_agent/api/policy_server.h"
#include "soc_agent/device/capabilities.h"
#include "soc_agent/device/flow_device.h"
#include "soc_agent/flows/flow_manager.h"
#include "soc_agent/slowpath/slow_path.h"

struct rte_mempool;

namespace nicswitch::device {
class SoftAsic;
class RteFlowApi;
}  // namespace nicswitch::device

namespace nicswitch::agent {

class FlowTableAdapter;

// Checks `config`, fills in defaults and returns the API server's options.
// INVALID_ARGUMENT "<file>:<line>:<col>: <field>: ..." for the first problem.
absl::StatusOr<api::PolicyServerOptions> ValidateAgentConfig(v1::AgentConfig& config,
                                                             const TextProtoFile& file);

class Agent {
 public:
  static absl::StatusOr<std::unique_ptr<Agent>> Create(const v1::AgentConfig& config,
                                                       api::PolicyServerOptions api_options);
  ~Agent();  // Shutdown()

  // Runs the slow path and housekeeping on the calling thread until `stop` is true.
  void Run(const std::atomic<bool>& stop);

  // Stops the API, removes every installed rule, stops the datapath, closes the store.
  // Idempotent.
  void Shutdown();

  slowpath::SlowPathStats slow_path_stats() const { return slow_path_->stats(); }
  flows::FlowManager& flows() { return *flows_; }
  api::PolicyServer& api() { return *server_; }
  const device::DeviceCapabilities& capabilities() const { return probed_->capabilities(); }

 private:
  Agent() = default;
  absl::Status OpenRteFlowDevice();
  // Validates a sample of every rule shape on device_ and puts probed_ in front of it.
  absl::Status ProbeDevice(const slowpath::SwitchPorts& ports);
  void Housekeeping();
  void LogStatus();

  v1::AgentConfig config_;
  std::unique_ptr<device::SoftAsic> softasic_;
  std::unique_ptr<device::RteFlowApi> rte_flow_api_;  // with datapath RTE_FLOW
  std::vector<uint16_t> started_ports_;               // with datapath RTE_FLOW
  rte_mempool* exception_pool_ = nullptr;             // with datapath RTE_FLOW
  std::unique_ptr<device::FlowDevice> device_;
  // device_ behind the start-up capability probe: what the flow manager and slow path use.
  std::unique_ptr<device::ProbedFlowDevice> probed_;
  std::unique_ptr<flows::FlowManager> flows_;
  std::unique_ptr<slowpath::SlowPath> slow_path_;
  std::unique_ptr<FlowTableAdapter> flow_table_;
  std::unique_ptr<api::PolicyServer> server_;
  int subscription_ = 0;
  bool shut_down_ = false;
};

}  // namespace nicswitch::agent
