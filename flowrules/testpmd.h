#pragma once

// Rule <-> DPDK testpmd "flow create" commands (DPDK 22.11 testpmd guide, "Flow rules
// management"), so a rule can be pasted into testpmd on real hardware and back.

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "flowrules/rule.h"

namespace nicswitch::flowrules {

struct TestpmdRule {
  uint16_t port_id = 0;  // the port the rule is created on (the transfer proxy for transfer rules)
  Rule rule;
  friend bool operator==(const TestpmdRule&, const TestpmdRule&) = default;
};

// The testpmd commands that create `rule` on `port_id`, one per line, each ending in '\n'.
// A rule with vxlan_encap is preceded by the `set vxlan-tos-ttl ... ip-tos 0 ip-ttl <ttl> ...`
// command that testpmd's vxlan_encap action takes its headers from (plain `set vxlan` leaves
// the outer TTL 0 for the PMD to choose, so it cannot carry the rule's TTL). Addresses with a
// full prefix render as `src is A`, shorter prefixes as `src spec A src mask M`. An invalid
// rule renders as a single comment line `# nicswitch: not rendered, invalid rule: <why>`.
// Example:
//   flow create 0 group 0 priority 1 transfer pattern represented_port ethdev_port_id is 1 /
//   eth / ipv4 dst is 10.0.0.2 / end actions count /
//   represented_port ethdev_port_id 0 / end
std::string ToTestpmd(const TestpmdRule& rule);

// Parses what ToTestpmd writes (optionally a `set vxlan` / `set vxlan-tos-ttl` line first; plain
// `set vxlan` gives TTL 64, a common PMD default), and the other documented assignment forms
// (`is`, `spec`, `mask`, `prefix`; `last` is refused), exactly as testpmd fills the rte_flow
// structures: an item given only `spec` keeps its default mask. Blank lines and lines
// starting with '#' are ignored. INVALID_ARGUMENT naming the token and its position for
// anything else. The result is validated.
absl::StatusOr<TestpmdRule> ParseTestpmd(absl::string_view text);

}  // namespace nicswitch::flowrules
