// SoftAsicFlowDevice: FlowDevice on the softasic, through the same rte_flow arrays a SmartNIC's
// PMD receives.

#include <rte_flow.h>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "flowrules/rte_flow.h"
#include "soc_agent/device/softasic.h"

namespace nicswitch::device {

absl::StatusOr<RuleHandle> SoftAsicFlowDevice::CreateRule(const flowrules::Rule& rule) {
  const flowrules::Rule* one[] = {&rule};
  absl::StatusOr<uint32_t> id = std::move(softasic_.CreateRules(one)[0]);
  if (!id.ok()) {
    return id.status();
  }
  return RuleHandle{*id};
}

std::vector<absl::StatusOr<RuleHandle>> SoftAsicFlowDevice::CreateRules(
    absl::Span<const flowrules::Rule* const> rules) {
  std::vector<absl::StatusOr<uint32_t>> ids = softasic_.CreateRules(rules);
  std::vector<absl::StatusOr<RuleHandle>> out;
  out.reserve(ids.size());
  for (absl::StatusOr<uint32_t>& id : ids) {
    if (id.ok()) {
      out.push_back(RuleHandle{*id});
    } else {
      out.push_back(id.status());
    }
  }
  return out;
}

absl::Status SoftAsicFlowDevice::ValidateRule(const flowrules::Rule& rule) {
  ASSIGN_OR_RETURN(flowrules::CompiledRule compiled, flowrules::CompiledRule::Compile(rule));
  const auto& ports = softasic_.ports();
  if (ports.empty()) {
    return absl::FailedPreconditionError("the softasic has no ports");
  }
  return softasic_.ValidateFlow(ports.front().port_id, *compiled.attr(), compiled.pattern(),
                                compiled.actions());
}

absl::Status SoftAsicFlowDevice::DestroyRule(RuleHandle handle) {
  if (handle.value > 0xffffffffu) {
    return absl::NotFoundError(absl::StrCat("rule handle ", handle.value, " is not installed"));
  }
  return softasic_.DestroyFlow(static_cast<uint32_t>(handle.value));
}

absl::StatusOr<std::vector<RuleCounters>> SoftAsicFlowDevice::QueryCounters(
    absl::Span<const RuleHandle> handles) {
  std::vector<RuleCounters> out;
  out.reserve(handles.size());
  for (const RuleHandle& h : handles) {
    if (h.value > 0xffffffffu) {
      return absl::NotFoundError(absl::StrCat("rule handle ", h.value, " is not installed"));
    }
    ASSIGN_OR_RETURN(SoftAsicFlowCounters c, softasic_.QueryFlow(static_cast<uint32_t>(h.value)));
    out.push_back(RuleCounters{c.counted, c.packets, c.bytes});
  }
  return out;
}

absl::StatusOr<std::vector<RuleHandle>> SoftAsicFlowDevice::CollectAgedRules() {
  std::vector<RuleHandle> out;
  for (uint32_t id : softasic_.CollectAgedFlows()) {
    out.push_back(RuleHandle{id});
  }
  return out;
}

absl::Status SoftAsicFlowDevice::CreateMeter(uint32_t meter_id, const MeterProfile& profile) {
  return softasic_.CreateMeter(meter_id, profile);
}

absl::Status SoftAsicFlowDevice::DestroyMeter(uint32_t meter_id) {
  return softasic_.DestroyMeter(meter_id);
}

absl::StatusOr<MeterStats> SoftAsicFlowDevice::QueryMeter(uint32_t meter_id) {
  return softasic_.QueryMeter(meter_id);
}

absl::StatusOr<std::vector<PortInfo>> SoftAsicFlowDevice::ListPorts() { return softasic_.ports(); }

}  // namespace nicswitch::device
