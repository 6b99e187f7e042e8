#pragma once

#include <vector>

#include "gmock/gmock.h"
#include "soc_agent/device/flow_device.h"

namespace nicswitch::device {

// gmock double of FlowDevice for the agent's tests (use it as StrictMock<MockFlowDevice>).
class MockFlowDevice : public FlowDevice {
 public:
  MOCK_METHOD(absl::StatusOr<RuleHandle>, CreateRule, (const flowrules::Rule& rule), (override));
  MOCK_METHOD(absl::Status, ValidateRule, (const flowrules::Rule& rule), (override));
  MOCK_METHOD(absl::Status, DestroyRule, (RuleHandle handle), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<RuleCounters>>, QueryCounters,
              (absl::Span<const RuleHandle> handles), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<RuleHandle>>, CollectAgedRules, (), (override));
  MOCK_METHOD(absl::Status, CreateMeter, (uint32_t meter_id, const MeterProfile& profile),
              (override));
  MOCK_METHOD(absl::Status, DestroyMeter, (uint32_t meter_id), (override));
  MOCK_METHOD(absl::StatusOr<MeterStats>, QueryMeter, (uint32_t meter_id), (override));
  MOCK_METHOD(absl::StatusOr<std::vector<PortInfo>>, ListPorts, (), (override));
};

}  // namespace nicswitch::device
