#include "soc_agent/device/rule_shape.h"

#include <array>

namespace nicswitch::device {
namespace {

enum class Path : uint8_t { kLocal, kEncap, kDecap };

struct ShapeTraits {
  RuleShape shape;
  absl::string_view name;
  Path path;
  bool metered;
  bool routed;
};

constexpr std::array<ShapeTraits, kRuleShapeCount> kShapes = {{
    {RuleShape::kVfToVf, "vf_to_vf", Path::kLocal, false, false},
    {RuleShape::kVfToVfMetered, "vf_to_vf_metered", Path::kLocal, true, false},
    {RuleShape::kVfToVfRouted, "vf_to_vf_routed", Path::kLocal, false, true},
    {RuleShape::kVfToVfRoutedMetered, "vf_to_vf_routed_metered", Path::kLocal, true, true},
    {RuleShape::kVfToUplinkEncap, "vf_to_uplink_encap", Path::kEncap, false, false},
    {RuleShape::kVfToUplinkEncapMetered, "vf_to_uplink_encap_metered", Path::kEncap, true, false},
    {RuleShape::kVfToUplinkEncapRouted, "vf_to_uplink_encap_routed", Path::kEncap, false, true},
    {RuleShape::kVfToUplinkEncapRoutedMetered, "vf_to_uplink_encap_routed_metered", Path::kEncap,
     true, true},
    {RuleShape::kUplinkToVfDecap, "uplink_to_vf_decap", Path::kDecap, false, false},
    {RuleShape::kUplinkToVfDecapMetered, "uplink_to_vf_decap_metered", Path::kDecap, true, false},
    {RuleShape::kUplinkToVfDecapRouted, "uplink_to_vf_decap_routed", Path::kDecap, false, true},
    {RuleShape::kUplinkToVfDecapRoutedMetered, "uplink_to_vf_decap_routed_metered", Path::kDecap,
     true, true},
}};

const ShapeTraits& TraitsOf(RuleShape shape) { return kShapes[static_cast<size_t>(shape)]; }

flowrules::MacAddress Mac(uint8_t last) {
  flowrules::MacAddress mac;
  mac.bytes = {0x02, 0x00, 0x00, 0x00, 0x00, last};
  return mac;
}

flowrules::Ipv4Prefix Host(uint32_t ip) {
  return flowrules::Ipv4Prefix{flowrules::Ipv4Address{ip}, 32};
}

// A UDP flow between two guests of one VPC (10.0.0.10 -> 10.0.0.11), as decision.cc matches it.
void FillInnerTuple(flowrules::HeaderMatch& m) {
  m.ether_type = 0x0800;
  m.ipv4_src = Host(0x0a00000a);
  m.ipv4_dst = Host(0x0a00000b);
  m.ip_protocol = 17;
  m.l4_src_port = 5000;
  m.l4_dst_port = 7000;
}

// The sequence of action kinds (variant indices): what a shape is made of.
std::vector<size_t> ActionKinds(const flowrules::Rule& rule) {
  std::vector<size_t> kinds;
  kinds.reserve(rule.actions.size());
  for (const flowrules::Action& action : rule.actions) {
    kinds.push_back(action.index());
  }
  return kinds;
}

}  // namespace

std::vector<RuleShape> AllRuleShapes() {
  std::vector<RuleShape> shapes;
  for (const ShapeTraits& t : kShapes) {
    shapes.push_back(t.shape);
  }
  return shapes;
}

absl::string_view RuleShapeName(RuleShape shape) {
  if (static_cast<int>(shape) >= kRuleShapeCount) {
    return "unknown";
  }
  return TraitsOf(shape).name;
}

bool IsMandatory(RuleShape shape) { return shape == RuleShape::kVfToVf; }

flowrules::Rule SampleRule(RuleShape shape, const ShapeSampleOptions& options) {
  const ShapeTraits& t = TraitsOf(shape);
  const uint16_t vf0 = options.vf_ports.empty() ? 0 : options.vf_ports[0];
  const uint16_t vf1 = options.vf_ports.size() > 1 ? options.vf_ports[1] : vf0;
  const flowrules::MacAddress gateway = Mac(0x01);
  constexpr uint32_t kLocalVtep = 0xc0a80001;   // 192.168.0.1
  constexpr uint32_t kRemoteVtep = 0xc0a80002;  // 192.168.0.2
  constexpr uint32_t kVni = 100;

  flowrules::Rule rule;
  rule.group = options.group;
  rule.priority = options.priority;
  rule.direction = flowrules::Direction::kTransfer;
  if (t.path == Path::kDecap) {
    flowrules::Match& m = rule.match;
    m.represented_port = options.uplink_port;
    m.outer.ether_type = 0x0800;
    m.outer.ipv4_src = Host(kRemoteVtep);
    m.outer.ipv4_dst = Host(kLocalVtep);
    m.outer.ip_protocol = 17;
    m.outer.l4_dst_port = options.vxlan_port;
    m.vxlan = flowrules::VxlanMatch{kVni};
    FillInnerTuple(m.inner);
  } else {
    rule.match.represented_port = vf0;
    rule.match.outer.eth_src = Mac(0x0a);
    FillInnerTuple(rule.match.outer);
  }

  // The flow manager's accounting first, then the decision's actions in decision.cc's order:
  // [decap] [meter] set_mac_src set_mac_dst [dec_ttl] [encap] fate.
  rule.actions.push_back(flowrules::CountAction{});
  rule.actions.push_back(flowrules::AgeAction{options.age_seconds});
  if (t.path == Path::kDecap) {
    rule.actions.push_back(flowrules::VxlanDecapAction{});
  }
  if (t.metered) {
    rule.actions.push_back(flowrules::MeterAction{options.meter_id});
  }
  rule.actions.push_back(flowrules::SetMacSrcAction{gateway});
  rule.actions.push_back(flowrules::SetMacDstAction{Mac(t.path == Path::kEncap ? 0x50 : 0x0b)});
  if (t.routed) {
    rule.actions.push_back(flowrules::DecTtlAction{});
  }
  switch (t.path) {
    case Path::kLocal:
      rule.actions.push_back(flowrules::RepresentedPortAction{vf1});
      break;
    case Path::kEncap: {
      flowrules::VxlanEncapAction encap;
      encap.eth_src = Mac(0xa1);
      encap.eth_dst = Mac(0xb1);
      encap.ip =
          std::make_pair(flowrules::Ipv4Address{kLocalVtep}, flowrules::Ipv4Address{kRemoteVtep});
      encap.udp_src = 49152;
      encap.udp_dst = options.vxlan_port;
      encap.vni = kVni;
      rule.actions.push_back(encap);
      rule.actions.push_back(flowrules::RepresentedPortAction{options.uplink_port});
      break;
    }
    case Path::kDecap:
      rule.actions.push_back(flowrules::RepresentedPortAction{vf0});
      break;
  }
  return rule;
}

std::optional<RuleShape> ClassifyRule(const flowrules::Rule& rule) {
  if (rule.direction != flowrules::Direction::kTransfer || !rule.match.represented_port) {
    return std::nullopt;
  }
  for (const flowrules::Action& action : rule.actions) {
    if (const auto* encap = std::get_if<flowrules::VxlanEncapAction>(&action);
        encap != nullptr && encap->ip.index() != 0) {
      return std::nullopt;  // IPv6 outer headers: not a shape the agent installs
    }
  }
  // The samples' signatures, computed once: classification runs on every flow setup.
  struct Signature {
    bool vxlan;
    std::vector<size_t> kinds;
  };
  static const std::array<Signature, kRuleShapeCount>* const kSignatures = [] {
    auto* signatures = new std::array<Signature, kRuleShapeCount>();
    for (const ShapeTraits& t : kShapes) {
      const flowrules::Rule sample = SampleRule(t.shape, ShapeSampleOptions{});
      (*signatures)[static_cast<size_t>(t.shape)] =
          Signature{sample.match.vxlan.has_value(), ActionKinds(sample)};
    }
    return signatures;
  }();
  const bool vxlan = rule.match.vxlan.has_value();
  for (size_t i = 0; i < kSignatures->size(); ++i) {
    const Signature& sig = (*kSignatures)[i];
    if (sig.vxlan != vxlan || sig.kinds.size() != rule.actions.size()) {
      continue;
    }
    bool same = true;
    for (size_t a = 0; a < rule.actions.size() && same; ++a) {
      same = sig.kinds[a] == rule.actions[a].index();
    }
    if (same) {
      return static_cast<RuleShape>(i);
    }
  }
  return std::nullopt;
}

}  // namespace nicswitch::device
