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
// Pattern: [PORT_ID-style REPRESENTED_PORT] ETH [VLAN] [IPV4|IPV6] [TCP|UDP|ICMP]
//          [VXLAN ETH [VLAN] [IPV4|IPV6] [TCP|UDP|ICMP]] [MARK] [TAG] END.
// Items are emitted only as deep as the match needs; masks are exactly the set fields.
// Actions appear in the rule's order, then END. VXLAN_ENCAP carries a definition pattern
// ETH / IPV4|IPV6 / UDP / VXLAN / END.
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
