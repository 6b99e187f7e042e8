#pragma once

// Applies a rule's actions to one packet in software. The agent uses it for the first packet
// of every new flow (so that packet is not lost while the rule is being installed) and for
// every packet of a flow the device refused (software-forwarded flows).
//
// Semantics follow rte_flow: actions run in order; header rewrites (encap, decap, MAC, TTL)
// modify the frame; exactly one fate action says where the frame goes. COUNT, AGE, METER and
// MARK do not change the frame (the flow manager accounts software-forwarded packets itself).

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "flowrules/rule.h"

namespace nicswitch::slowpath {

// A frame inside a larger buffer: `data` points at the first byte of the frame, with
// `headroom` writable bytes before it (needed by encapsulation).
struct FrameRef {
  uint8_t* data = nullptr;
  uint32_t length = 0;
  uint32_t headroom = 0;
};

struct SoftFate {
  enum class Kind { kDrop, kRepresentedPort, kPortRepresentor, kQueue, kJump };
  Kind kind = Kind::kDrop;
  uint32_t value = 0;  // port id, queue index or group
  friend bool operator==(const SoftFate&, const SoftFate&) = default;
};

// Applies `actions` to `frame` (updating data/length/headroom). Returns where the frame goes.
// FAILED_PRECONDITION when the frame does not have what an action needs (decap of a non-VXLAN
// frame, DEC_TTL of a non-IPv4 frame or a TTL of 0 or 1 — the packet must be dropped — or not
// enough headroom for encap); the frame is then unspecified and must be dropped.
absl::StatusOr<SoftFate> ApplyActions(const std::vector<flowrules::Action>& actions,
                                      FrameRef& frame, uint16_t vxlan_port = 4789);

// Headroom VXLAN encapsulation needs: Ethernet + IPv6 + UDP + VXLAN.
inline constexpr uint32_t kMaxEncapHeadroom = 14 + 40 + 8 + 8;

}  // namespace nicswitch::slowpath
