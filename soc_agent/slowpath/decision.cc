#include "soc_agent/slowpath/decision.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace nicswitch::slowpath {
namespace {

using flows::Dependency;
using policy::IpAddress;
using policy::MappingInfo;
using policy::RouteInfo;
using policy::SecurityRule;
using policy::VnicInfo;

flowrules::MacAddress ToRuleMac(const policy::MacAddress& mac) {
  flowrules::MacAddress out;
  out.bytes = mac.bytes;
  return out;
}

flowrules::Ipv4Address ToRuleIp(const IpAddress& ip) { return flowrules::Ipv4Address{ip.v4()}; }

flowrules::Ipv4Prefix Host(flowrules::Ipv4Address ip) { return flowrules::Ipv4Prefix{ip, 32}; }

Decision Drop(DropReason reason, std::string detail) {
  Decision d;
  d.verdict = Decision::Verdict::kDrop;
  d.drop_reason = reason;
  d.detail = std::move(detail);
  return d;
}

// The IP-level part of a flow: addresses, protocol and, for TCP/UDP, ports. ICMP flows are
// matched by protocol only so that a request and its reply form one pair.
struct FlowTuple {
  flowrules::Ipv4Address src;
  flowrules::Ipv4Address dst;
  uint8_t protocol = 0;
  std::optional<uint16_t> src_port;
  std::optional<uint16_t> dst_port;

  static FlowTuple Of(const HeaderLayer& layer) {
    FlowTuple t{layer.ipv4_src, layer.ipv4_dst, layer.ip_protocol, std::nullopt, std::nullopt};
    if (layer.ip_protocol == kIpProtoTcp || layer.ip_protocol == kIpProtoUdp) {
      t.src_port = layer.l4_src_port;
      t.dst_port = layer.l4_dst_port;
    }
    return t;
  }
  FlowTuple Reversed() const { return FlowTuple{dst, src, protocol, dst_port, src_port}; }
  uint16_t service_port() const { return dst_port.value_or(0); }
};

void FillIpv4(const FlowTuple& t, flowrules::HeaderMatch& m) {
  m.ether_type = kEtherTypeIpv4;
  m.ipv4_src = Host(t.src);
  m.ipv4_dst = Host(t.dst);
  m.ip_protocol = t.protocol;
  m.l4_src_port = t.src_port;
  m.l4_dst_port = t.dst_port;
}

// Guest egress: from the VF's representor, with the vNIC's own source MAC.
flowrules::Match EgressMatch(uint16_t vf_port, const flowrules::MacAddress& src_mac,
                             const FlowTuple& t) {
  flowrules::Match m;
  m.represented_port = vf_port;
  m.outer.eth_src = src_mac;
  FillIpv4(t, m.outer);
  return m;
}

// What the virtual gateway does to every frame it delivers: its own MAC as the source, the
// receiver's (or the remote endpoint's) as the destination, the TTL decremented on a routed hop.
void AppendGatewayRewrite(const flowrules::MacAddress& gateway_mac,
                          const flowrules::MacAddress& dst_mac, bool routed,
                          std::vector<flowrules::Action>& actions) {
  actions.push_back(flowrules::SetMacSrcAction{gateway_mac});
  actions.push_back(flowrules::SetMacDstAction{dst_mac});
  if (routed) {
    actions.push_back(flowrules::DecTtlAction{});
  }
}

// VXLAN encapsulation from our VTEP to `remote_vtep` over the underlay's next hop.
flowrules::VxlanEncapAction EncapTo(const policy::UnderlayInfo& underlay,
                                    flowrules::Ipv4Address local_vtep,
                                    flowrules::Ipv4Address remote_vtep, uint32_t vni,
                                    uint16_t udp_src) {
  flowrules::VxlanEncapAction encap;
  encap.eth_src = ToRuleMac(underlay.uplink_mac);
  encap.eth_dst = ToRuleMac(underlay.next_hop_mac);
  encap.ip = std::make_pair(local_vtep, remote_vtep);
  encap.udp_src = udp_src;
  encap.udp_dst = underlay.vxlan_port;
  encap.vni = vni;
  return encap;
}

// Uplink ingress: VXLAN from `remote_vtep` to our VTEP with `vni`, carrying `t`.
flowrules::Match IngressMatch(uint16_t uplink_port, flowrules::Ipv4Address remote_vtep,
                              flowrules::Ipv4Address local_vtep, uint16_t vxlan_port, uint32_t vni,
                              const FlowTuple& t) {
  flowrules::Match m;
  m.represented_port = uplink_port;
  m.outer.ether_type = kEtherTypeIpv4;
  m.outer.ipv4_src = Host(remote_vtep);
  m.outer.ipv4_dst = Host(local_vtep);
  m.outer.ip_protocol = kIpProtoUdp;
  m.outer.l4_dst_port = vxlan_port;
  m.vxlan = flowrules::VxlanMatch{vni};
  FillIpv4(t, m.inner);
  return m;
}

// First matching rule of the vNIC's groups, in order; nullopt when none matches.
std::optional<bool> EvaluateGroups(const policy::PolicyModel& model, const VnicInfo& vnic,
                                   SecurityRule::Direction direction, uint8_t protocol,
                                   const IpAddress& remote, uint16_t port) {
  for (const std::string& name : vnic.security_groups) {
    const policy::SecurityGroupInfo* sg = model.FindSecurityGroup(name);
    if (sg == nullptr) {
      continue;
    }
    for (const SecurityRule& rule : sg->rules) {
      if (rule.direction == direction && rule.Matches(protocol, remote, port)) {
        return rule.allow;
      }
    }
  }
  return std::nullopt;
}

void AddGroupDependencies(const VnicInfo& vnic, std::vector<Dependency>& deps) {
  for (const std::string& sg : vnic.security_groups) {
    deps.push_back({Dependency::Kind::kSecurityGroup, sg});
  }
}

}  // namespace

const char* DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kMalformed:
      return "malformed";
    case DropReason::kUnknownPort:
      return "unknown_port";
    case DropReason::kNoVnic:
      return "no_vnic";
    case DropReason::kSpoofedSource:
      return "spoofed_source";
    case DropReason::kNotIpv4:
      return "not_ipv4";
    case DropReason::kBroadcast:
      return "broadcast";
    case DropReason::kArpNotRequest:
      return "arp_not_request";
    case DropReason::kNoDestination:
      return "no_destination";
    case DropReason::kEgressDenied:
      return "egress_denied";
    case DropReason::kIngressDenied:
      return "ingress_denied";
    case DropReason::kNotOurTunnel:
      return "not_our_tunnel";
    case DropReason::kUnknownVni:
      return "unknown_vni";
    case DropReason::kUnknownRemote:
      return "unknown_remote";
    case DropReason::kNoUnderlay:
      return "no_underlay";
    case DropReason::kTtlExpired:
      return "ttl_expired";
    case DropReason::kRouteLoop:
      return "route_loop";
    case DropReason::kMeterRed:
      return "meter_red";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

std::string RouteTableDependencyName(absl::string_view vpc) { return absl::StrCat("vpc:", vpc); }

uint32_t EgressMeterId(const DecisionOptions& options, uint32_t vf_index) {
  return options.egress_meter_base + 2 * vf_index;
}
uint32_t IngressMeterId(const DecisionOptions& options, uint32_t vf_index) {
  return options.egress_meter_base + 2 * vf_index + 1;
}

DecisionEngine::DecisionEngine(const policy::PolicyModel& model, SwitchPorts ports,
                               DecisionOptions options)
    : model_(model), ports_(std::move(ports)), options_(options) {}

Decision DecisionEngine::Decide(uint16_t in_port, const ParsedPacket& packet) const {
  if (in_port == ports_.uplink) {
    return UplinkIngress(packet);
  }
  const auto vf = std::find(ports_.vf.begin(), ports_.vf.end(), in_port);
  if (vf == ports_.vf.end()) {
    return Drop(DropReason::kUnknownPort, absl::StrCat("port ", in_port));
  }
  return GuestEgress(static_cast<uint32_t>(vf - ports_.vf.begin()), packet);
}

std::optional<flowrules::Match> DecisionEngine::FlowMatch(uint16_t in_port,
                                                          const ParsedPacket& packet) const {
  if (in_port == ports_.uplink) {
    const policy::UnderlayInfo* underlay = model_.underlay();
    if (underlay == nullptr || !packet.vni.has_value() || !packet.outer.is_ipv4 ||
        !packet.inner.is_ipv4) {
      return std::nullopt;
    }
    return IngressMatch(ports_.uplink, packet.outer.ipv4_src, packet.outer.ipv4_dst,
                        underlay->vxlan_port, *packet.vni, FlowTuple::Of(packet.inner));
  }
  if (packet.outer.arp.has_value() || !packet.outer.is_ipv4 ||
      std::find(ports_.vf.begin(), ports_.vf.end(), in_port) == ports_.vf.end()) {
    return std::nullopt;
  }
  return EgressMatch(in_port, packet.outer.eth_src, FlowTuple::Of(packet.outer));
}

Decision DecisionEngine::GuestEgress(uint32_t vf_index, const ParsedPacket& packet) const {
  const VnicInfo* src = model_.FindVnicByVf(vf_index);
  if (src == nullptr) {
    return Drop(DropReason::kNoVnic, absl::StrCat("VF ", vf_index, " has no vNIC"));
  }
  const HeaderLayer& l = packet.outer;
  const flowrules::MacAddress src_mac = ToRuleMac(src->mac);

  if (l.arp.has_value()) {
    const ArpHeader& arp = *l.arp;
    if (arp.op != 1) {
      return Drop(DropReason::kArpNotRequest,
                  absl::StrCat("vnic \"", src->name, "\": ARP op ", arp.op));
    }
    if (arp.sender_mac != src_mac || !src->ipv4.has_value() ||
        arp.sender_ip != ToRuleIp(*src->ipv4) || l.eth_src != src_mac) {
      return Drop(DropReason::kSpoofedSource,
                  absl::StrCat("vnic \"", src->name, "\": ARP from ", arp.sender_mac.ToString(),
                               " ", arp.sender_ip.ToString()));
    }
    Decision d;
    d.verdict = Decision::Verdict::kArpReply;
    d.arp_reply = BuildArpReply(arp, options_.gateway_mac);
    d.reply_port = ports_.vf[vf_index];
    return d;
  }
  if ((l.eth_dst.bytes[0] & 1) != 0) {
    return Drop(DropReason::kBroadcast,
                absl::StrCat("vnic \"", src->name, "\": to ", l.eth_dst.ToString()));
  }
  if (!l.is_ipv4) {
    return Drop(DropReason::kNotIpv4,
                absl::StrCat("vnic \"", src->name, "\": ether type 0x", absl::Hex(l.ether_type)));
  }
  if (l.eth_src != src_mac || !src->ipv4.has_value() || l.ipv4_src != ToRuleIp(*src->ipv4)) {
    return Drop(DropReason::kSpoofedSource,
                absl::StrCat("vnic \"", src->name, "\": source ", l.eth_src.ToString(), " ",
                             l.ipv4_src.ToString()));
  }

  const FlowTuple tuple = FlowTuple::Of(l);
  const IpAddress dst_ip = IpAddress::FromV4(l.ipv4_dst.value);
  const IpAddress src_ip = *src->ipv4;

  // Resolve the destination: a vNIC or mapping of the VPC, else a route to one.
  flows::FlowSpec flow;
  std::vector<Dependency>& deps = flow.dependencies;
  deps.push_back({Dependency::Kind::kVnic, src->name});
  deps.push_back({Dependency::Kind::kVpc, src->vpc});
  AddGroupDependencies(*src, deps);

  const VnicInfo* local = model_.FindVnicByIp(src->vpc, dst_ip);
  const MappingInfo* remote = local == nullptr ? model_.FindMappingByIp(src->vpc, dst_ip) : nullptr;
  const RouteInfo* route = nullptr;
  if (local == nullptr && remote == nullptr) {
    route = model_.LookupRoute(src->vpc, dst_ip);
    if (route == nullptr) {
      return Drop(DropReason::kNoDestination,
                  absl::StrCat("vpc \"", src->vpc, "\": no vNIC, mapping or route for ",
                               dst_ip.ToString()));
    }
    local = model_.FindVnicByIp(src->vpc, route->next_hop);
    remote = local == nullptr ? model_.FindMappingByIp(src->vpc, route->next_hop) : nullptr;
    if (local == nullptr && remote == nullptr) {
      return Drop(DropReason::kRouteLoop,
                  absl::StrCat("route \"", route->name, "\": next hop ", route->next_hop.ToString(),
                               " is neither a vNIC nor a mapping"));
    }
    if (l.ttl <= 1) {
      return Drop(DropReason::kTtlExpired,
                  absl::StrCat("route \"", route->name, "\": TTL ", l.ttl));
    }
    deps.push_back({Dependency::Kind::kRoute, route->name});
  }
  // Any vNIC/mapping/route change in the VPC may change how a destination resolves.
  deps.push_back({Dependency::Kind::kRoute, RouteTableDependencyName(src->vpc)});
  if (local == src) {
    return Drop(DropReason::kNoDestination,
                absl::StrCat("vnic \"", src->name, "\": destination is itself"));
  }

  // Security groups: egress of the source, ingress of a local destination.
  if (EvaluateGroups(model_, *src, SecurityRule::Direction::kEgress, tuple.protocol, dst_ip,
                     tuple.service_port()) == std::optional<bool>(false)) {
    return Drop(DropReason::kEgressDenied,
                absl::StrCat("vnic \"", src->name, "\" egress to ", dst_ip.ToString()));
  }
  if (local != nullptr &&
      EvaluateGroups(model_, *local, SecurityRule::Direction::kIngress, tuple.protocol, src_ip,
                     tuple.service_port()) != std::optional<bool>(true)) {
    return Drop(DropReason::kIngressDenied,
                absl::StrCat("vnic \"", local->name, "\" ingress from ", src_ip.ToString()));
  }

  flowrules::Rule forward;
  forward.group = options_.flow_group;
  forward.priority = options_.flow_priority;
  forward.match = EgressMatch(ports_.vf[vf_index], src_mac, tuple);
  flowrules::Rule reverse;
  reverse.group = options_.flow_group;
  reverse.priority = options_.flow_priority;
  const bool routed = route != nullptr;

  if (local != nullptr) {
    deps.push_back({Dependency::Kind::kVnic, local->name});
    AddGroupDependencies(*local, deps);
    if (local->vf_index >= ports_.vf.size()) {
      return Drop(DropReason::kUnknownPort,
                  absl::StrCat("vnic \"", local->name, "\": VF ", local->vf_index,
                               " has no port on this NIC"));
    }
    const uint16_t dst_port = ports_.vf[local->vf_index];
    const flowrules::MacAddress dst_mac = ToRuleMac(local->mac);
    // One meter per rule: the sender's egress limit, else the receiver's ingress limit.
    auto meter = [&](const VnicInfo& from, const VnicInfo& to, std::vector<flowrules::Action>& a) {
      if (from.rate_bps > 0) {
        a.push_back(flowrules::MeterAction{EgressMeterId(options_, from.vf_index)});
      } else if (to.rate_bps > 0) {
        a.push_back(flowrules::MeterAction{IngressMeterId(options_, to.vf_index)});
      }
    };
    meter(*src, *local, forward.actions);
    AppendGatewayRewrite(options_.gateway_mac, dst_mac, routed, forward.actions);
    forward.actions.push_back(flowrules::RepresentedPortAction{dst_port});

    reverse.match = EgressMatch(dst_port, dst_mac, tuple.Reversed());
    meter(*local, *src, reverse.actions);
    AppendGatewayRewrite(options_.gateway_mac, src_mac, routed, reverse.actions);
    reverse.actions.push_back(flowrules::RepresentedPortAction{ports_.vf[vf_index]});
    flow.forward = {std::move(forward), src->name};
    flow.reverse = flows::DirectionSpec{std::move(reverse), local->name};
  } else {
    const policy::UnderlayInfo* underlay = model_.underlay();
    if (underlay == nullptr) {
      return Drop(DropReason::kNoUnderlay, "the underlay is not configured");
    }
    const policy::VpcInfo* vpc = model_.FindVpc(src->vpc);
    if (vpc == nullptr) {
      return Drop(DropReason::kNoDestination, absl::StrCat("vpc \"", src->vpc, "\" is gone"));
    }
    deps.push_back({Dependency::Kind::kMapping, remote->name});
    deps.push_back({Dependency::Kind::kUnderlay, ""});
    const flowrules::Ipv4Address local_vtep = ToRuleIp(underlay->vtep_ip);
    const flowrules::Ipv4Address remote_vtep = ToRuleIp(remote->remote_vtep_ip);

    if (src->rate_bps > 0) {
      forward.actions.push_back(flowrules::MeterAction{EgressMeterId(options_, src->vf_index)});
    }
    AppendGatewayRewrite(options_.gateway_mac, ToRuleMac(remote->remote_mac), routed,
                         forward.actions);
    forward.actions.push_back(
        EncapTo(*underlay, local_vtep, remote_vtep, vpc->vni, VxlanSourcePort(l)));
    forward.actions.push_back(flowrules::RepresentedPortAction{ports_.uplink});

    reverse.match = IngressMatch(ports_.uplink, remote_vtep, local_vtep, underlay->vxlan_port,
                                 vpc->vni, tuple.Reversed());
    reverse.actions.push_back(flowrules::VxlanDecapAction{});
    if (src->rate_bps > 0) {
      reverse.actions.push_back(flowrules::MeterAction{IngressMeterId(options_, src->vf_index)});
    }
    AppendGatewayRewrite(options_.gateway_mac, src_mac, routed, reverse.actions);
    reverse.actions.push_back(flowrules::RepresentedPortAction{ports_.vf[vf_index]});
    flow.forward = {std::move(forward), src->name};
    flow.reverse = flows::DirectionSpec{std::move(reverse), src->name};
  }
  flow.revision = model_.revision();
  Decision d;
  d.verdict = Decision::Verdict::kForward;
  d.flow = std::move(flow);
  return d;
}

Decision DecisionEngine::UplinkIngress(const ParsedPacket& packet) const {
  const policy::UnderlayInfo* underlay = model_.underlay();
  if (underlay == nullptr) {
    return Drop(DropReason::kNoUnderlay, "the underlay is not configured");
  }
  const HeaderLayer& outer = packet.outer;
  const flowrules::Ipv4Address local_vtep = ToRuleIp(underlay->vtep_ip);
  if (!packet.vni.has_value() || !outer.is_ipv4 || outer.ipv4_dst != local_vtep ||
      outer.l4_dst_port != underlay->vxlan_port) {
    return Drop(
        DropReason::kNotOurTunnel,
        absl::StrCat("uplink: not VXLAN to ", local_vtep.ToString(), ":", underlay->vxlan_port));
  }
  const policy::VpcInfo* vpc = model_.FindVpcByVni(*packet.vni);
  if (vpc == nullptr) {
    return Drop(DropReason::kUnknownVni, absl::StrCat("uplink: no VPC has VNI ", *packet.vni));
  }
  const HeaderLayer& inner = packet.inner;
  if (!inner.is_ipv4) {
    return Drop(DropReason::kNotIpv4, absl::StrCat("vpc \"", vpc->name, "\": inner ether type 0x",
                                                   absl::Hex(inner.ether_type)));
  }
  const IpAddress inner_src = IpAddress::FromV4(inner.ipv4_src.value);
  const IpAddress inner_dst = IpAddress::FromV4(inner.ipv4_dst.value);
  const VnicInfo* dst = model_.FindVnicByIp(vpc->name, inner_dst);
  if (dst == nullptr) {
    return Drop(DropReason::kNoDestination,
                absl::StrCat("vpc \"", vpc->name, "\": no local vNIC has ", inner_dst.ToString()));
  }
  const MappingInfo* remote = model_.FindMappingByIp(vpc->name, inner_src);
  if (remote == nullptr || ToRuleIp(remote->remote_vtep_ip) != outer.ipv4_src) {
    return Drop(DropReason::kUnknownRemote,
                absl::StrCat("vpc \"", vpc->name, "\": ", inner_src.ToString(),
                             " is not a mapping behind VTEP ", outer.ipv4_src.ToString()));
  }
  if (dst->vf_index >= ports_.vf.size()) {
    return Drop(DropReason::kUnknownPort, absl::StrCat("vnic \"", dst->name, "\": VF ",
                                                       dst->vf_index, " has no port on this NIC"));
  }
  const FlowTuple tuple = FlowTuple::Of(inner);
  if (EvaluateGroups(model_, *dst, SecurityRule::Direction::kIngress, tuple.protocol, inner_src,
                     tuple.service_port()) != std::optional<bool>(true)) {
    return Drop(DropReason::kIngressDenied,
                absl::StrCat("vnic \"", dst->name, "\" ingress from ", inner_src.ToString()));
  }

  const uint16_t vf_port = ports_.vf[dst->vf_index];
  const flowrules::MacAddress dst_mac = ToRuleMac(dst->mac);
  flows::FlowSpec flow;
  flow.dependencies = {{Dependency::Kind::kVnic, dst->name},
                       {Dependency::Kind::kVpc, vpc->name},
                       {Dependency::Kind::kMapping, remote->name},
                       {Dependency::Kind::kUnderlay, ""},
                       {Dependency::Kind::kRoute, RouteTableDependencyName(vpc->name)}};
  AddGroupDependencies(*dst, flow.dependencies);

  flowrules::Rule forward;
  forward.group = options_.flow_group;
  forward.priority = options_.flow_priority;
  forward.match = IngressMatch(ports_.uplink, outer.ipv4_src, local_vtep, underlay->vxlan_port,
                               vpc->vni, tuple);
  forward.actions.push_back(flowrules::VxlanDecapAction{});
  if (dst->rate_bps > 0) {
    forward.actions.push_back(flowrules::MeterAction{IngressMeterId(options_, dst->vf_index)});
  }
  AppendGatewayRewrite(options_.gateway_mac, dst_mac, /*routed=*/false, forward.actions);
  forward.actions.push_back(flowrules::RepresentedPortAction{vf_port});

  flowrules::Rule reverse;
  reverse.group = options_.flow_group;
  reverse.priority = options_.flow_priority;
  reverse.match = EgressMatch(vf_port, dst_mac, tuple.Reversed());
  if (dst->rate_bps > 0) {
    reverse.actions.push_back(flowrules::MeterAction{EgressMeterId(options_, dst->vf_index)});
  }
  AppendGatewayRewrite(options_.gateway_mac, ToRuleMac(remote->remote_mac), /*routed=*/false,
                       reverse.actions);
  HeaderLayer reply = inner;
  std::swap(reply.ipv4_src, reply.ipv4_dst);
  std::swap(reply.l4_src_port, reply.l4_dst_port);
  reverse.actions.push_back(
      EncapTo(*underlay, local_vtep, outer.ipv4_src, vpc->vni, VxlanSourcePort(reply)));
  reverse.actions.push_back(flowrules::RepresentedPortAction{ports_.uplink});

  flow.forward = {std::move(forward), dst->name};
  flow.reverse = flows::DirectionSpec{std::move(reverse), dst->name};
  flow.revision = model_.revision();
  Decision d;
  d.verdict = Decision::Verdict::kForward;
  d.flow = std::move(flow);
  return d;
}

}  // namespace nicswitch::slowpath
