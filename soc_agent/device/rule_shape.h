#pragma once

// The shapes of the rules the agent installs: which items and actions, in which order, a rule
// carries, independent of its addresses and ports. The capability probe (capabilities.h)
// validates one sample rule of each shape at start-up; a shape the device refuses is never
// created, its flows are forwarded by the slow path from the start.
//
// The shapes are those the slow path decides (soc_agent/slowpath/decision.cc) as the flow
// manager installs them (COUNT and AGE first): three paths (a VF to a VF, a VF to the uplink
// with VXLAN encapsulation, the uplink to a VF with VXLAN decapsulation), each with or without
// METER (a vNIC with a rate) and DEC_TTL (a routed flow). The sample rules are the single
// definition: ClassifyRule maps a rule to the shape whose sample has the same action sequence
// and the same VXLAN-ness of its match. The agent installs no drop, miss, JUMP or group rules
// (the NIC's default miss sends unmatched packets to the representors) and no IPv6 outer
// headers, so none of those is a shape.

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/strings/string_view.h"
#include "flowrules/rule.h"

namespace nicswitch::device {

enum class RuleShape : uint8_t {
  kVfToVf,
  kVfToVfMetered,
  kVfToVfRouted,
  kVfToVfRoutedMetered,
  kVfToUplinkEncap,
  kVfToUplinkEncapMetered,
  kVfToUplinkEncapRouted,
  kVfToUplinkEncapRoutedMetered,
  kUplinkToVfDecap,
  kUplinkToVfDecapMetered,
  kUplinkToVfDecapRouted,
  kUplinkToVfDecapRoutedMetered,
  kCount,
};
inline constexpr int kRuleShapeCount = static_cast<int>(RuleShape::kCount);

// Every shape, in enum order.
std::vector<RuleShape> AllRuleShapes();

// "vf_to_vf", "vf_to_uplink_encap_metered", "uplink_to_vf_decap_routed", ...
absl::string_view RuleShapeName(RuleShape shape);

// True for the shapes without which the rte_flow datapath is pointless: the plain VF-to-VF
// rule (COUNT, AGE, SET_MAC_SRC/DST, REPRESENTED_PORT) is the simplest rule the agent installs;
// a switch that refuses it offloads nothing useful, so start-up fails (use datapath SOFT).
bool IsMandatory(RuleShape shape);

// What the sample rules are built from: the switch's representor ids as rules address them
// (ListPorts' representor_port_id), the meter the metered samples reference (it must exist when
// they are validated) and the values the flow manager and slow path use.
struct ShapeSampleOptions {
  uint16_t uplink_port = 0;
  std::vector<uint16_t> vf_ports;  // at least one; VF-to-VF samples go vf[0] -> vf[1] (or vf[0])
  uint32_t meter_id = 0xfffffff0;  // the probe's own meter, never a vNIC's
  uint32_t age_seconds = 30;
  uint32_t group = 0;
  uint32_t priority = 1;
  uint16_t vxlan_port = 4789;
};

// A rule of `shape` as the agent would install it (valid for flowrules::Validate).
flowrules::Rule SampleRule(RuleShape shape, const ShapeSampleOptions& options);

// The shape of an installed rule, or nullopt for a rule that has none of the agent's shapes
// (such a rule is not gated by the probe: the device decides when it is created).
std::optional<RuleShape> ClassifyRule(const flowrules::Rule& rule);

}  // namespace nicswitch::device
