#pragma once

// FlowDevice: the one interface through which the agent programs the NIC's embedded switch.
//
// Two backends implement it: RteFlowDevice (rte_flow/rte_mtr on a real SmartNIC's transfer
// proxy) and SoftAsicFlowDevice (the embedded software switch, soc_agent/device/softasic.h).
// Only plain C++ values cross this interface; no rte_* type appears here, so the agent's flow
// manager and slow path are tested against MockFlowDevice (flow_device_mock.h).
//
// Threading: every method is called from the agent's control thread (one caller at a time);
// implementations need not be reentrant. Datapath threads are the implementation's business.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "flowrules/rule.h"

namespace nicswitch::device {

// Opaque identifier of an installed rule, unique among the rules currently installed on one
// device. A destroyed rule's handle may be reused by a later CreateRule.
struct RuleHandle {
  uint64_t value = 0;
  friend bool operator==(const RuleHandle&, const RuleHandle&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const RuleHandle& r) {
    return H::combine(std::move(h), r.value);
  }
};

struct RuleCounters {
  bool counted = false;  // false when the rule has no COUNT action (then both values are 0)
  uint64_t packets = 0;
  uint64_t bytes = 0;  // frame bytes as received, before any action rewrote the packet
  friend bool operator==(const RuleCounters&, const RuleCounters&) = default;
};

// A two-rate three-colour meter (RFC 2698), colour blind: packets above PIR are red and
// dropped, packets above CIR (but within PIR) are yellow and pass, the rest are green.
struct MeterProfile {
  uint64_t cir_bytes_per_second = 0;  // committed information rate, > 0
  uint64_t cbs_bytes = 0;             // committed burst size, > 0
  uint64_t pir_bytes_per_second = 0;  // peak information rate, >= cir
  uint64_t pbs_bytes = 0;             // peak burst size, > 0
  friend bool operator==(const MeterProfile&, const MeterProfile&) = default;
};

struct MeterStats {
  uint64_t green_packets = 0;
  uint64_t yellow_packets = 0;
  uint64_t red_packets = 0;  // dropped
  friend bool operator==(const MeterStats&, const MeterStats&) = default;
};

enum class PortRole : uint8_t { kUplink, kVf };

// One switch port and the representor ethdev the agent uses to exchange packets with it.
struct PortInfo {
  PortRole role = PortRole::kUplink;
  int vf_index = -1;                 // 0..N-1 for kVf, -1 for the uplink
  uint16_t port_id = 0;              // ethdev of the port itself (the wire / the VF)
  std::string name;                  // its ethdev name
  uint16_t representor_port_id = 0;  // ethdev the agent rx/tx-bursts on for this port
  std::string representor_name;
  friend bool operator==(const PortInfo&, const PortInfo&) = default;
};

// A device's refusal of a rule or meter: the errno the driver gave (0 when unknown) and its
// reason, shorter than the Status message (e.g. `actions[2] (VXLAN_DECAP): not supported`).
// The rte_flow backend attaches both (as Status payloads, AttachRefusal) to the errors of
// ValidateRule and of the meter calls; RefusalOf reads them back, falling back to errno 0 and
// the Status message.
struct DeviceRefusal {
  int error_number = 0;
  std::string reason;
};
void AttachRefusal(absl::Status& status, int error_number, absl::string_view reason);
DeviceRefusal RefusalOf(const absl::Status& status);
// "ENOTSUP", "EINVAL", ... ("" for 0, "errno N" when the number has no name).
std::string ErrnoName(int error_number);

// INVALID_ARGUMENT naming `meter_id` unless cir > 0, cbs > 0, pbs > 0 and pir >= cir: what every
// backend's CreateMeter checks first.
absl::Status CheckMeterProfile(uint32_t meter_id, const MeterProfile& profile);

class FlowDevice {
 public:
  virtual ~FlowDevice() = default;

  // Installs `rule`. Rules take effect for packets received after the call returns; packets
  // already being classified may or may not see it. Port ids in the rule (match
  // represented_port, REPRESENTED_PORT / PORT_REPRESENTOR actions) are representor ethdev ids
  // as listed by ListPorts (the port's own ethdev id is accepted as well).
  // Errors: INVALID_ARGUMENT when the rule is malformed (flowrules::Validate's message);
  // UNIMPLEMENTED naming the item/action/field the device does not support; NOT_FOUND for a
  // meter id that was never created or a port the device does not have; ALREADY_EXISTS when a
  // rule with the same group, priority and match exists; RESOURCE_EXHAUSTED when the device's
  // rule capacity is reached. On error nothing is installed.
  virtual absl::StatusOr<RuleHandle> CreateRule(const flowrules::Rule& rule) = 0;

  // Checks `rule` exactly as CreateRule would (same errors) without installing anything: the
  // start-up capability probe (capabilities.h) asks this for one sample rule of each shape the
  // agent installs. A meter the rule references must exist. The default answers UNIMPLEMENTED
  // (a device that cannot tell without installing); both backends override it.
  // (Inline: FlowDevice stays header-only for the libraries that only program it.)
  virtual absl::Status ValidateRule(const flowrules::Rule& rule) {
    return absl::UnimplementedError("this device cannot validate a rule without installing it");
  }

  // Installs many rules in one call (the flow manager installs a burst of new flows this way):
  // result[i] is what CreateRule(*rules[i]) would have returned, and the rules are created in
  // order, so a later rule sees the earlier ones (ALREADY_EXISTS for a duplicate in the batch).
  // Each rule stands on its own: when rules[k] is refused, rules[k] is not installed and every
  // other rule is installed or refused on its own merits; a refusal neither stops the batch nor
  // undoes the rules before it. (Which rules belong together, e.g. a flow's two directions, is
  // the caller's business.) The default implementation calls CreateRule for each rule; a backend
  // overrides it when it can amortise work over the batch.
  virtual std::vector<absl::StatusOr<RuleHandle>> CreateRules(
      absl::Span<const flowrules::Rule* const> rules) {
    std::vector<absl::StatusOr<RuleHandle>> results;
    results.reserve(rules.size());
    for (const flowrules::Rule* rule : rules) {
      results.push_back(CreateRule(*rule));
    }
    return results;
  }

  // Removes a rule. Packets classified after the call returns no longer match it; its counter
  // and age state are discarded. NOT_FOUND when `handle` is not installed.
  virtual absl::Status DestroyRule(RuleHandle handle) = 0;

  // Reads the counters of many rules in one call: result[i] belongs to handles[i]. Counters are
  // cumulative since creation (never reset by reading). NOT_FOUND naming the first unknown
  // handle, in which case nothing is returned.
  virtual absl::StatusOr<std::vector<RuleCounters>> QueryCounters(
      absl::Span<const RuleHandle> handles) = 0;

  // Returns the rules with an AGE action that have seen no packet for their timeout and were
  // not reported by an earlier call. Aged rules stay installed until DestroyRule; a rule that is
  // hit again after being reported is reported again when it ages again.
  virtual absl::StatusOr<std::vector<RuleHandle>> CollectAgedRules() = 0;

  // Creates meter `meter_id` (trTCM, colour blind, red dropped) for METER actions to reference.
  // INVALID_ARGUMENT for an impossible profile; ALREADY_EXISTS when the id is in use;
  // RESOURCE_EXHAUSTED when the device has no more meters.
  virtual absl::Status CreateMeter(uint32_t meter_id, const MeterProfile& profile) = 0;

  // Destroys a meter. FAILED_PRECONDITION while an installed rule references it; NOT_FOUND when
  // it does not exist.
  virtual absl::Status DestroyMeter(uint32_t meter_id) = 0;

  // Per-colour packet counts since the meter was created. NOT_FOUND when it does not exist.
  virtual absl::StatusOr<MeterStats> QueryMeter(uint32_t meter_id) = 0;

  // The switch's ports, uplink first then VFs by index, each with its representor. Stable for
  // the device's lifetime.
  virtual absl::StatusOr<std::vector<PortInfo>> ListPorts() = 0;
};

}  // namespace nicswitch::device
