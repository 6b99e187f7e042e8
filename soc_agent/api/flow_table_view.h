#pragma once

// What the policy API needs from the agent's flow manager: the installed flows with their
// counters, flushing them, and the policy revision whose effects are in the device. The flow
// manager (issue 4) implements it; the API services only call it. Plain structs, no DPDK.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nicswitch::api {

struct FlowRecord {
  uint64_t id = 0;        // unique, never reused while the agent runs; list order
  std::string vnic;       // the vNIC the flow belongs to
  std::string direction;  // "egress" (from the vNIC) or "ingress" (to it)
  std::string src_ip;
  std::string dst_ip;
  uint8_t protocol = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t vni = 0;
  std::string actions;   // human-readable summary of the rule's actions
  uint64_t packets = 0;  // accumulated at the last counter poll
  uint64_t bytes = 0;
  bool software = false;    // the device refused the rule; the agent forwards it
  uint64_t reverse_id = 0;  // the other direction's flow (0: none)
  uint32_t idle_seconds = 0;
};

class FlowTableView {
 public:
  virtual ~FlowTableView() = default;

  // At most `limit` flows with an id above `after_id`, in increasing id order; only those of
  // `vnic` when it is not empty. Must not block on the datapath (counters are the last polled).
  virtual std::vector<FlowRecord> ListFlows(absl::string_view vnic, uint64_t after_id,
                                            size_t limit) = 0;

  // Removes every flow of `vnic` (every flow when empty), both directions, from the device and
  // the flow table. Returns how many were removed; an error when the device refused to remove
  // some (those stay listed).
  virtual absl::StatusOr<uint64_t> FlushFlows(absl::string_view vnic) = 0;

  struct Stats {
    uint64_t applied_revision = 0;  // the last policy revision whose effects are in the device
    uint64_t flows = 0;             // installed flows, each direction counted
    uint64_t software_flows = 0;    // of which forwarded in software
    // Fast path (device rules) versus slow path (the agent), as in v1::DatapathCounters.
    bool has_datapath = false;
    uint64_t fast_path_packets = 0;
    uint64_t fast_path_bytes = 0;
    uint64_t exceptions = 0;
    uint64_t flow_setups = 0;
    uint64_t first_packets = 0;
    uint64_t software_packets = 0;
    uint64_t arp_replies = 0;
    uint64_t rate_limited = 0;
    std::vector<std::pair<std::string, uint64_t>> drops_by_reason;  // non-zero reasons only
    // The device's capabilities as probed at start-up (as in v1::ShapeCapability); empty when
    // unknown.
    struct ShapeCapability {
      std::string shape;
      bool offloaded = false;
      std::string error;
      std::string reason;
      bool mandatory = false;
      uint64_t software_rules = 0;
    };
    std::vector<ShapeCapability> capabilities;
  };
  virtual Stats GetStats() = 0;
};

}  // namespace nicswitch::api
