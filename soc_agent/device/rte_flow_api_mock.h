#pragma once

#include "gmock/gmock.h"
#include "soc_agent/device/rte_flow_api.h"

namespace nicswitch::device {

// gmock double of the rte_flow/rte_mtr C calls (use as StrictMock<MockRteFlowApi>).
class MockRteFlowApi : public RteFlowApi {
 public:
  MOCK_METHOD(int, PickTransferProxy,
              (uint16_t port_id, uint16_t* proxy_port_id, rte_flow_error* error), (override));
  MOCK_METHOD(int, Create,
              (uint16_t port_id, const rte_flow_attr* attr, const rte_flow_item* pattern,
               const rte_flow_action* actions, rte_flow** flow, rte_flow_error* error),
              (override));
  MOCK_METHOD(int, Validate,
              (uint16_t port_id, const rte_flow_attr* attr, const rte_flow_item* pattern,
               const rte_flow_action* actions, rte_flow_error* error),
              (override));
  MOCK_METHOD(int, Destroy, (uint16_t port_id, rte_flow* flow, rte_flow_error* error), (override));
  MOCK_METHOD(int, Query,
              (uint16_t port_id, rte_flow* flow, const rte_flow_action* action, void* data,
               rte_flow_error* error),
              (override));
  MOCK_METHOD(int, GetAgedFlows,
              (uint16_t port_id, void** contexts, uint32_t nb_contexts, rte_flow_error* error),
              (override));
  MOCK_METHOD(int, RegisterAgedEvent, (uint16_t port_id, std::function<void()> on_aged),
              (override));
  MOCK_METHOD(int, UnregisterAgedEvent, (uint16_t port_id), (override));
  MOCK_METHOD(int, MeterProfileAdd,
              (uint16_t port_id, uint32_t profile_id, rte_mtr_meter_profile* profile,
               rte_mtr_error* error),
              (override));
  MOCK_METHOD(int, MeterProfileDelete,
              (uint16_t port_id, uint32_t profile_id, rte_mtr_error* error), (override));
  MOCK_METHOD(int, MeterPolicyAdd,
              (uint16_t port_id, uint32_t policy_id, rte_mtr_meter_policy_params* policy,
               rte_mtr_error* error),
              (override));
  MOCK_METHOD(int, MeterPolicyDelete, (uint16_t port_id, uint32_t policy_id, rte_mtr_error* error),
              (override));
  MOCK_METHOD(int, MeterCreate,
              (uint16_t port_id, uint32_t mtr_id, rte_mtr_params* params, int shared,
               rte_mtr_error* error),
              (override));
  MOCK_METHOD(int, MeterDestroy, (uint16_t port_id, uint32_t mtr_id, rte_mtr_error* error),
              (override));
  MOCK_METHOD(int, MeterStatsRead,
              (uint16_t port_id, uint32_t mtr_id, rte_mtr_stats* stats, uint64_t* stats_mask,
               int clear, rte_mtr_error* error),
              (override));
};

}  // namespace nicswitch::device
