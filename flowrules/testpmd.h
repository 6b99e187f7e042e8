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
// A rule with vxlan_encap is preceded by the `set vxlan ...` (or `set vxlan-with-vlan`) command
// that testpmd's vxlan_encap action takes its headers from.
// Example:
//   flow create 0 group 0 priority 1 transfer pattern represented_port ethdev_port_id is 1 /
//   eth / ipv4 dst spec 10.0.0.2 dst mask 255.255.255.255 / end actions count /
//   represented_port ethdev_port_id 0 / end
std::string ToTestpmd(const TestpmdRule& rule);

// Parses what ToTestpmd writes (optionally the `set vxlan` line first). Blank lines and lines
// starting with '#' are ignored. INVALID_ARGUMENT naming the token and its position for
// anything else. The result is validated.
absl::StatusOr<TestpmdRule> ParseTestpmd(absl::string_view text);

}  // namespace nicswitch::flowrules
