#pragma once

// RteFlowDevice: FlowDevice on a SmartNIC's embedded switch through rte_flow and rte_mtr.
//
// Rules compile with flowrules::CompiledRule and are created with attr.transfer = 1 on the
// switch's transfer proxy (rte_flow_pick_transfer_proxy of the configured port). COUNT is read
// with rte_flow_query, AGE with RTE_ETH_EVENT_FLOW_AGED + rte_flow_get_aged_flows (the AGE
// context is left NULL, so the PMD reports the rte_flow handle), meters are rte_mtr trTCM
// (RFC 2698) objects sharing one policy: green and yellow pass, red is dropped. A PMD refusal
// becomes a Status naming the item or action it refused, with the PMD's message.

#include <atomic>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "soc_agent/device/flow_device.h"
#include "soc_agent/device/rte_flow_api.h"

namespace nicswitch::device {

struct RteFlowDeviceConfig {
  uint16_t port_id = 0;  // any port of the switch (e.g. the PF / uplink)
  // The switch's ports and representors as the agent configured them (a real NIC's
  // representors come from devargs such as representor=vf[0-3]); returned by ListPorts.
  std::vector<PortInfo> ports;
  uint32_t meter_policy_id = 0xfffffff0;  // id of the shared "drop red" policy
};

class RteFlowDevice : public FlowDevice {
 public:
  // Finds the transfer proxy and registers for flow-aged events. `api` must outlive the device.
  static absl::StatusOr<std::unique_ptr<RteFlowDevice>> Create(RteFlowApi& api,
                                                               const RteFlowDeviceConfig& config);
  ~RteFlowDevice() override;

  absl::StatusOr<RuleHandle> CreateRule(const flowrules::Rule& rule) override;
  // rte_flow_validate on the transfer proxy (after the same local checks as CreateRule).
  absl::Status ValidateRule(const flowrules::Rule& rule) override;
  absl::Status DestroyRule(RuleHandle handle) override;
  absl::StatusOr<std::vector<RuleCounters>> QueryCounters(
      absl::Span<const RuleHandle> handles) override;
  // Aged flows are reported once each until destroyed (the PMD gives no "hit again" signal).
  absl::StatusOr<std::vector<RuleHandle>> CollectAgedRules() override;
  absl::Status CreateMeter(uint32_t meter_id, const MeterProfile& profile) override;
  absl::Status DestroyMeter(uint32_t meter_id) override;
  absl::StatusOr<MeterStats> QueryMeter(uint32_t meter_id) override;
  absl::StatusOr<std::vector<PortInfo>> ListPorts() override;

  uint16_t proxy_port_id() const { return proxy_; }
  // True after the PMD signalled RTE_ETH_EVENT_FLOW_AGED and before the next CollectAgedRules.
  bool aged_event_pending() const { return aged_event_.load(); }

 private:
  RteFlowDevice(RteFlowApi& api, const RteFlowDeviceConfig& config, uint16_t proxy)
      : api_(api), config_(config), proxy_(proxy) {}

  // The checks CreateRule and ValidateRule make before asking the PMD: transfer direction,
  // meters that exist. Sets *counted when the rule has COUNT and appends its meters.
  absl::Status CheckRule(const flowrules::Rule& rule, bool* counted,
                         std::vector<uint32_t>* meters) const;

  struct Installed {
    rte_flow* flow;
    bool counted;
    std::vector<uint32_t> meters;
  };

  RteFlowApi& api_;
  RteFlowDeviceConfig config_;
  uint16_t proxy_;
  std::atomic<bool> aged_event_{false};
  bool policy_created_ = false;
  uint64_t next_handle_ = 1;
  absl::flat_hash_map<uint64_t, Installed> rules_;
  absl::flat_hash_map<rte_flow*, uint64_t> handle_of_;
  absl::flat_hash_set<uint64_t> reported_aged_;
  absl::flat_hash_map<uint32_t, uint32_t> meter_refs_;  // meter id -> rules using it
};

}  // namespace nicswitch::device
