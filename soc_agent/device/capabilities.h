#pragma once

// Capability probing: what the device can offload, asked once at start-up.
//
// ProbeCapabilities validates (FlowDevice::ValidateRule, i.e. rte_flow_validate on the transfer
// proxy for the rte_flow backend) one sample rule of each RuleShape the agent installs. The
// metered samples reference a meter the probe creates for the purpose and destroys afterwards;
// a device that cannot create it refuses every metered shape with rte_mtr's reason.
//
// ProbedFlowDevice then stands in front of the device: a rule whose shape was refused is never
// sent to the device (CreateRule answers UNIMPLEMENTED with the probe's reason, without a
// device call), so the flow manager makes it a software flow from its first packet, and the
// refusal is counted per shape. Rules of no known shape, and every other call, go to the device
// unchanged (and a device refusal there still falls back to software as before).

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "soc_agent/device/flow_device.h"
#include "soc_agent/device/rule_shape.h"

namespace nicswitch::device {

struct ShapeCapability {
  RuleShape shape = RuleShape::kVfToVf;
  bool supported = false;
  bool mandatory = false;
  int error_number = 0;  // the driver's errno when refused (0: unknown)
  std::string reason;    // the driver's reason when refused, e.g. "actions[2] (VXLAN_DECAP): ..."
};

class DeviceCapabilities {
 public:
  // Every shape supported (a device that needs no probe).
  static DeviceCapabilities AllSupported();

  void Set(ShapeCapability capability);
  const ShapeCapability& Of(RuleShape shape) const { return shapes_[static_cast<size_t>(shape)]; }
  bool Supports(RuleShape shape) const { return Of(shape).supported; }
  // In enum order.
  const std::array<ShapeCapability, kRuleShapeCount>& shapes() const { return shapes_; }
  size_t supported_count() const;

 private:
  std::array<ShapeCapability, kRuleShapeCount> shapes_;
};

// Validates one sample of every shape on `device` (see above). Never fails: a refusal is a
// result. The probe meter (options.meter_id) must not be in use.
DeviceCapabilities ProbeCapabilities(FlowDevice& device, const ShapeSampleOptions& options);

// FAILED_PRECONDITION naming every refused mandatory shape and the device's reason, e.g.
// `the device refuses rule shape vf_to_vf (ENOTSUP: attr: transfer not supported), which the
// agent cannot work without`. OK when every mandatory shape is supported.
absl::Status CheckMandatoryShapes(const DeviceCapabilities& capabilities);

class ProbedFlowDevice : public FlowDevice {
 public:
  // `device` must outlive this object.
  ProbedFlowDevice(FlowDevice& device, DeviceCapabilities capabilities);

  // UNIMPLEMENTED without calling the device when the rule's shape was refused at start-up
  // (the message names the shape and the device's reason); otherwise the device's answer.
  absl::StatusOr<RuleHandle> CreateRule(const flowrules::Rule& rule) override;
  absl::Status ValidateRule(const flowrules::Rule& rule) override;
  // The rules of offloaded shapes go to the device in one batch; the others are refused as
  // CreateRule refuses them. Results in the order of `rules`.
  std::vector<absl::StatusOr<RuleHandle>> CreateRules(
      absl::Span<const flowrules::Rule* const> rules) override;
  absl::Status DestroyRule(RuleHandle handle) override { return device_.DestroyRule(handle); }
  absl::StatusOr<std::vector<RuleCounters>> QueryCounters(
      absl::Span<const RuleHandle> handles) override {
    return device_.QueryCounters(handles);
  }
  absl::StatusOr<std::vector<RuleHandle>> CollectAgedRules() override {
    return device_.CollectAgedRules();
  }
  absl::Status CreateMeter(uint32_t meter_id, const MeterProfile& profile) override {
    return device_.CreateMeter(meter_id, profile);
  }
  absl::Status DestroyMeter(uint32_t meter_id) override { return device_.DestroyMeter(meter_id); }
  absl::StatusOr<MeterStats> QueryMeter(uint32_t meter_id) override {
    return device_.QueryMeter(meter_id);
  }
  absl::StatusOr<std::vector<PortInfo>> ListPorts() override { return device_.ListPorts(); }

  const DeviceCapabilities& capabilities() const { return capabilities_; }
  // Rules of `shape` kept off the device since start-up (thread-safe).
  uint64_t software_rules(RuleShape shape) const {
    return software_rules_[static_cast<size_t>(shape)].load(std::memory_order_relaxed);
  }

 private:
  // The refusal for a rule of a refused shape (and *refused_shape set), or OK.
  absl::Status Gate(const flowrules::Rule& rule, RuleShape* refused_shape);

  FlowDevice& device_;
  const DeviceCapabilities capabilities_;
  const bool all_supported_;
  std::array<std::atomic<uint64_t>, kRuleShapeCount> software_rules_{};
};

}  // namespace nicswitch::device
