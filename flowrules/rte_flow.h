#pragma once

// Rule <-> DPDK rte_flow arrays.
//
// rte_flow types are forward-declared so that users of this header that never touch DPDK do
// not need its include flags; code that reads the arrays includes <rte_flow.h> itself.

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "flowrules/rule.h"

struct rte_flow_attr;
struct rte_flow_item;
struct rte_flow_action;

namespace nicswitch::flowrules {

// A rule compiled into the three arrays rte_flow_validate/rte_flow_create take. The object owns
// every spec, mask and configuration the arrays point to; the pointers stay valid for the
// object's lifetime and across moves (storage is heap-allocated and never reallocated).
//
// Attr: group, priority and exactly one of ingress / egress / transfer.
// Pattern: [REPRESENTED_PORT] ETH [VLAN] [IPV4|IPV6] [TCP|UDP|ICMP|ICMP6]
//          [VXLAN [ETH [VLAN] [IPV4|IPV6] [TCP|UDP|ICMP|ICMP6]]] [MARK] [TAG] END.
//  - The outer ETH is always there; the inner ETH only when the inner layer matches something.
//  - An item with no matched field has spec = mask = NULL (matches any such header); otherwise
//    spec and mask are both set, the mask holding exactly the matched fields (all ones; IP
//    addresses: the prefix). All header fields are in network byte order as in the DPDK
//    structs; REPRESENTED_PORT / MARK / TAG are host order. `last` is always NULL.
//  - ether_type goes into ETH.type, or into VLAN.inner_type when the layer has a VLAN (VLAN
//    mask: tci 0x0fff = the VID).
//  - The IP item is present when the layer matches an address or ip_protocol (or has an L4
//    item outside a VXLAN outer layer); IPv6 when ipv6 fields are set or ether_type is
//    0x86dd, else IPv4. ip_protocol goes into the IP item even when an L4 item follows.
//  - The L4 item is present when ports or ICMP fields are matched: TCP/UDP by ip_protocol,
//    ICMP (proto 1) or ICMP6 (proto 58). In the outer layer of a VXLAN rule a UDP item is
//    always present (spec NULL unless ports are matched; no implicit 4789).
//  - VXLAN: spec NULL for any VNI, else vni[3] with a full mask.
// Actions appear in the rule's order, then END. DROP, COUNT, VXLAN_DECAP, DEC_TTL have conf
// NULL; the others point to their rte_flow_action_* conf. VXLAN_ENCAP carries a definition
// ETH / IPV4|IPV6 / UDP / VXLAN / END whose specs hold the complete outer headers (masks NULL):
// ETH type 0x0800/0x86dd, IPv4 version_ihl 0x45 + TTL + proto 17 (IPv6: version 6, hop limit,
// proto 17), UDP ports, VXLAN flags 0x08 + VNI; lengths and checksums are left 0 for the
// datapath to fill in.
class CompiledRule {
 public:
  // Validates (flowrules::Validate) and compiles. INVALID_ARGUMENT as Validate reports it.
  static absl::StatusOr<CompiledRule> Compile(const Rule& rule,
                                              const ValidationLimits& limits = {});

  CompiledRule(CompiledRule&&) noexcept;
  CompiledRule& operator=(CompiledRule&&) noexcept;
  ~CompiledRule();

  const rte_flow_attr* attr() const;
  const rte_flow_item* pattern() const;    // END-terminated
  const rte_flow_action* actions() const;  // END-terminated

  const Rule& rule() const;

 private:
  struct Storage;
  explicit CompiledRule(std::unique_ptr<Storage> storage);
  std::unique_ptr<Storage> storage_;
};

// Parses rte_flow arrays back into a Rule. Accepts what Compile produces, and more generally
// any arrays whose items, fields and masks a Rule can express (full masks on exact fields,
// contiguous prefix masks on IP addresses, zero masks for wildcards; a NULL mask means the
// item's default mask). Anything else is UNIMPLEMENTED / INVALID_ARGUMENT naming the item or
// action index, its type and the field, e.g. `pattern[2] (IPV4): src mask 255.0.255.0 is not
// a prefix`. The result is validated. Compile(r) then ParseRteFlow gives back r exactly.
absl::StatusOr<Rule> ParseRteFlow(const rte_flow_attr& attr, const rte_flow_item* pattern,
                                  const rte_flow_action* actions);

}  // namespace nicswitch::flowrules
