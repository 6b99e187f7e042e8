#pragma once

// The slow path's decision for one exception packet: from the packet, the port it came in on
// and the policy, what the flow's rules are (forward and stateful reverse), what they depend
// on, or why the packet is dropped. Pure logic over a PolicyModel: no device, no DPDK, so every
// decision is unit-tested table by table.
//
// Forwarding model (AVS-style L3 overlay): every guest sees one virtual gateway MAC. The agent
// answers every ARP request of a guest with it (proxy ARP), so guests send all IPv4 to the
// gateway MAC; the agent rewrites MACs on delivery:
//  - same VPC, local vNIC: deliver to its VF (set_mac_src gateway, set_mac_dst vNIC);
//  - same VPC, mapping: VXLAN-encapsulate to the mapping's VTEP with the VPC's VNI (inner
//    destination MAC = the remote endpoint's MAC);
//  - a route (longest prefix match): as above towards the route's next hop, TTL decremented;
//  - otherwise dropped and counted.
// Uplink ingress: VXLAN to our VTEP and port, VPC by VNI, vNIC by inner destination; the inner
// source must be a mapping of that VPC behind the outer source VTEP (no spoofed overlay
// traffic); decap and deliver.
// Security groups: egress of the source vNIC (default allow) and ingress of the destination
// vNIC (default deny) are both checked; the rules of a vNIC's groups are evaluated in order,
// first match wins. An allowed flow installs its reverse rule as well (stateful).
// QoS: a vNIC with a rate gets METER actions: its egress meter on rules leaving it, its ingress
// meter on rules delivering to it (the source's egress meter wins on local vNIC-to-vNIC rules,
// one meter per rule).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "flowrules/rule.h"
#include "soc_agent/flows/flow_manager.h"
#include "soc_agent/policy/policy_model.h"
#include "soc_agent/slowpath/packet.h"

namespace nicswitch::slowpath {

// Why a packet was dropped; each reason has its own counter.
enum class DropReason : uint8_t {
  kMalformed,      // the parser refused it
  kUnknownPort,    // came in on a port the agent does not know
  kNoVnic,         // guest egress from a VF with no vNIC configured
  kSpoofedSource,  // source MAC or IP is not the vNIC's
  kNotIpv4,        // IPv6 or another ether type (the overlay is IPv4)
  kBroadcast,      // broadcast/multicast other than ARP: never flooded
  kArpNotRequest,  // ARP replies/other ops from a guest
  kNoDestination,  // no vNIC, mapping or route for the destination
  kEgressDenied,   // the source vNIC's security groups deny it
  kIngressDenied,  // the destination vNIC's security groups deny it
  kNotOurTunnel,   // uplink packet that is not VXLAN to our VTEP and port
  kUnknownVni,     // no VPC with that VNI
  kUnknownRemote,  // the inner source is not a mapping behind the outer source VTEP
  kNoUnderlay,     // the underlay is not configured yet
  kTtlExpired,     // a routed packet with TTL <= 1
  kRouteLoop,      // a route's next hop is itself routed
  kMeterRed,  // forwarded in software, over its vNIC's QoS rate (the NIC's meter would drop it)
  kCount,
};
inline constexpr int kDropReasonCount = static_cast<int>(DropReason::kCount);
const char* DropReasonName(DropReason reason);

struct Decision {
  enum class Verdict { kForward, kArpReply, kDrop };
  Verdict verdict = Verdict::kDrop;
  DropReason drop_reason = DropReason::kMalformed;
  std::string detail;  // for logs: what exactly was wrong

  flows::FlowSpec flow;            // kForward
  std::vector<uint8_t> arp_reply;  // kArpReply: the frame to send back
  uint16_t reply_port = 0;         // kArpReply: representor to send it on
};

// The ports the agent works with: representor ethdev ids (the ids rules use).
struct SwitchPorts {
  uint16_t uplink = 0;
  std::vector<uint16_t> vf;  // vf[i] = representor of VF i
};

struct DecisionOptions {
  flowrules::MacAddress gateway_mac;
  uint32_t egress_meter_base = 1;  // meter ids: egress = base + 2 * vf, ingress = base + 2 * vf + 1
  uint32_t flow_priority = 1;
  uint32_t flow_group = 0;
};

// The dependency every flow of a VPC has on how destinations resolve there: any vNIC, mapping
// or route change in the VPC invalidates it.
std::string RouteTableDependencyName(absl::string_view vpc);

// Meter ids of a vNIC (the agent creates them with the vNIC's QoS profile).
uint32_t EgressMeterId(const DecisionOptions& options, uint32_t vf_index);
uint32_t IngressMeterId(const DecisionOptions& options, uint32_t vf_index);

class DecisionEngine {
 public:
  DecisionEngine(const policy::PolicyModel& model, SwitchPorts ports, DecisionOptions options);

  // Decides for a packet that entered on representor `in_port` (a VF's or the uplink's).
  Decision Decide(uint16_t in_port, const ParsedPacket& packet) const;

  // The match the forward rule of `packet`'s flow has (and a software flow is looked up by).
  // Empty when the packet cannot start a flow (ARP, malformed for the port, ...).
  std::optional<flowrules::Match> FlowMatch(uint16_t in_port, const ParsedPacket& packet) const;

 private:
  Decision GuestEgress(uint32_t vf_index, const ParsedPacket& packet) const;
  Decision UplinkIngress(const ParsedPacket& packet) const;

  const policy::PolicyModel& model_;
  SwitchPorts ports_;
  DecisionOptions options_;
};

}  // namespace nicswitch::slowpath
