#include "soc_agent/device/capabilities.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace nicswitch::device {
namespace {

// A profile any trTCM implementation accepts: 1 Gbit/s, 64 KiB bursts.
constexpr MeterProfile kProbeMeterProfile{125'000'000, 65536, 125'000'000, 65536};

std::string Describe(const ShapeCapability& c) {
  const std::string err = ErrnoName(c.error_number);
  return err.empty() ? c.reason : absl::StrCat(err, ": ", c.reason);
}

}  // namespace

DeviceCapabilities DeviceCapabilities::AllSupported() {
  DeviceCapabilities caps;
  for (RuleShape shape : AllRuleShapes()) {
    caps.Set(ShapeCapability{shape, true, IsMandatory(shape), 0, ""});
  }
  return caps;
}

void DeviceCapabilities::Set(ShapeCapability capability) {
  shapes_[static_cast<size_t>(capability.shape)] = std::move(capability);
}

size_t DeviceCapabilities::supported_count() const {
  size_t n = 0;
  for (const ShapeCapability& c : shapes_) {
    n += c.supported ? 1 : 0;
  }
  return n;
}

DeviceCapabilities ProbeCapabilities(FlowDevice& device, const ShapeSampleOptions& options) {
  // The metered samples need an existing meter; a device without meters refuses them all.
  absl::Status meter = device.CreateMeter(options.meter_id, kProbeMeterProfile);
  DeviceCapabilities caps;
  for (RuleShape shape : AllRuleShapes()) {
    ShapeCapability c{shape, false, IsMandatory(shape), 0, ""};
    const flowrules::Rule sample = SampleRule(shape, options);
    const bool metered =
        std::any_of(sample.actions.begin(), sample.actions.end(), [](const flowrules::Action& a) {
          return std::holds_alternative<flowrules::MeterAction>(a);
        });
    absl::Status status = metered && !meter.ok() ? meter : device.ValidateRule(sample);
    if (status.ok()) {
      c.supported = true;
    } else {
      DeviceRefusal refusal = RefusalOf(status);
      c.error_number = refusal.error_number;
      c.reason = std::move(refusal.reason);
    }
    caps.Set(std::move(c));
  }
  if (meter.ok()) {
    // Best effort: a meter that cannot be destroyed only costs one meter of the device.
    device.DestroyMeter(options.meter_id).IgnoreError();
  }
  return caps;
}

absl::Status CheckMandatoryShapes(const DeviceCapabilities& capabilities) {
  std::vector<std::string> refused;
  for (const ShapeCapability& c : capabilities.shapes()) {
    if (c.mandatory && !c.supported) {
      refused.push_back(absl::StrCat(RuleShapeName(c.shape), " (", Describe(c), ")"));
    }
  }
  if (refused.empty()) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the device refuses rule shape ", absl::StrJoin(refused, ", "),
                   ", which the agent cannot work without (the simplest rule it installs)"));
}

ProbedFlowDevice::ProbedFlowDevice(FlowDevice& device, DeviceCapabilities capabilities)
    : device_(device),
      capabilities_(std::move(capabilities)),
      all_supported_(capabilities_.supported_count() == static_cast<size_t>(kRuleShapeCount)) {}

absl::Status ProbedFlowDevice::Gate(const flowrules::Rule& rule, RuleShape* refused_shape) {
  if (all_supported_) {
    return absl::OkStatus();  // nothing to gate: no classification on the flow-setup path
  }
  const std::optional<RuleShape> shape = ClassifyRule(rule);
  if (!shape.has_value() || capabilities_.Supports(*shape)) {
    return absl::OkStatus();
  }
  *refused_shape = *shape;
  const ShapeCapability& c = capabilities_.Of(*shape);
  return absl::UnimplementedError(
      absl::StrCat("rule shape ", RuleShapeName(*shape),
                   " is not offloaded (the device refused it at start-up: ", Describe(c), ")"));
}

absl::StatusOr<RuleHandle> ProbedFlowDevice::CreateRule(const flowrules::Rule& rule) {
  RuleShape shape = RuleShape::kCount;
  if (absl::Status refused = Gate(rule, &shape); !refused.ok()) {
    software_rules_[static_cast<size_t>(shape)].fetch_add(1, std::memory_order_relaxed);
    return refused;
  }
  return device_.CreateRule(rule);
}

std::vector<absl::StatusOr<RuleHandle>> ProbedFlowDevice::CreateRules(
    absl::Span<const flowrules::Rule* const> rules) {
  if (all_supported_) {
    return device_.CreateRules(rules);
  }
  std::vector<absl::StatusOr<RuleHandle>> results(rules.size(), absl::UnknownError("unset"));
  std::vector<const flowrules::Rule*> offloaded;
  std::vector<size_t> where;
  offloaded.reserve(rules.size());
  where.reserve(rules.size());
  for (size_t i = 0; i < rules.size(); ++i) {
    RuleShape shape = RuleShape::kCount;
    if (absl::Status refused = Gate(*rules[i], &shape); !refused.ok()) {
      software_rules_[static_cast<size_t>(shape)].fetch_add(1, std::memory_order_relaxed);
      results[i] = std::move(refused);
    } else {
      offloaded.push_back(rules[i]);
      where.push_back(i);
    }
  }
  if (!offloaded.empty()) {
    std::vector<absl::StatusOr<RuleHandle>> created = device_.CreateRules(offloaded);
    for (size_t k = 0; k < created.size() && k < where.size(); ++k) {
      results[where[k]] = std::move(created[k]);
    }
  }
  return results;
}

absl::Status ProbedFlowDevice::ValidateRule(const flowrules::Rule& rule) {
  RuleShape shape = RuleShape::kCount;
  if (absl::Status refused = Gate(rule, &shape); !refused.ok()) {
    return refused;
  }
  return device_.ValidateRule(rule);
}

}  // namespace nicswitch::device
