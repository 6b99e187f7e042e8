#pragma once

// Internals of the softasic shared by its compiler (rte_flow arrays -> key/mask + action
// program) and its datapath. Not part of the public API.

#include <cstdint>
#include <functional>
#include <type_traits>

#include "absl/status/statusor.h"
#include "flowrules/rule.h"
#include "soc_agent/device/flow_key.h"

struct rte_flow_attr;
struct rte_flow_item;
struct rte_flow_action;

namespace nicswitch::device::softasic_internal {

enum class Op : uint8_t {
  kCount,
  kAge,
  kMeter,
  kMark,
  kSetMacSrc,
  kSetMacDst,
  kDecTtl,
  kEncap,       // VXLAN_ENCAP or RAW_ENCAP: push `encap` template, fix lengths and checksums
  kVxlanDecap,  // remove outer Ethernet/IP/UDP/VXLAN of a VXLAN packet
  kRawDecap,    // remove the first raw_decap_size bytes
  kSetTag,      // not in rte_flow's action list we accept today; reserved
};

enum class Fate : uint8_t { kDrop, kPort, kRepresentor, kJump, kQueue };

inline constexpr int kMaxOps = 12;
inline constexpr int kMaxEncap = 128;

// A compiled action list. Plain bytes (no padding garbage: always value-initialised) so that
// identical lists are shared by memcmp-equal programs.
struct ActionProgram {
  uint8_t num_ops = 0;
  Op ops[kMaxOps] = {};
  Fate fate = Fate::kDrop;
  uint8_t modifies_headers = 0;  // re-parse before a JUMP lookup
  uint8_t encap_ipv6 = 0;
  uint16_t out_port = 0;  // port index (kPort, kRepresentor)
  uint16_t queue = 0;     // representor RX queue (kRepresentor, kQueue)
  uint16_t raw_decap_size = 0;
  // Encap template: headers pushed in front of the frame. ip_offset/udp_offset locate the
  // headers whose length/checksum are filled per packet (0xffff: none).
  uint16_t encap_size = 0;
  uint16_t encap_ip_offset = 0xffff;
  uint16_t encap_udp_offset = 0xffff;
  uint8_t encap_vxlan = 0;
  uint8_t pad0[3] = {};
  uint32_t jump_group = 0;
  uint32_t mark = 0;
  uint32_t meter_index = 0;
  uint32_t age_seconds = 0;
  uint32_t encap_ip_sum = 0;  // IPv4: one's-complement sum of the template header, length 0
  uint32_t pad1 = 0;
  uint8_t mac_src[6] = {};
  uint8_t mac_dst[6] = {};
  uint8_t pad2[4] = {};
  uint8_t encap[kMaxEncap] = {};
};
// No padding: identical programs are byte-identical (they are shared by comparing bytes).
static_assert(std::has_unique_object_representations_v<ActionProgram>);
static_assert(sizeof(ActionProgram) == 200);

// What the compiler needs from the switch it compiles for.
struct CompileContext {
  // ethdev id (port or representor) -> port index, or -1.
  std::function<int(uint16_t)> port_index;
  // meter id -> meter index, or NOT_FOUND.
  std::function<absl::StatusOr<uint32_t>(uint32_t)> meter_index;
  uint16_t representor_queues = 1;
};

struct CompiledFlow {
  uint32_t group = 0;
  uint32_t priority = 0;
  FlowKey mask{};
  FlowKey value{};  // already ANDed with mask
  ActionProgram program{};
  bool has_meter = false;
  uint32_t meter_id = 0;
};

// Translates rte_flow arrays. Errors name the item or action, as a PMD's rte_flow_error would.
absl::StatusOr<CompiledFlow> CompileFlow(const rte_flow_attr& attr, const rte_flow_item* pattern,
                                         const rte_flow_action* actions,
                                         const CompileContext& context);

// The FlowDevice fast path: compiles a flowrules::Rule straight into `out`, giving exactly what
// CompileFlow gives for the rte_flow arrays flowrules::CompiledRule::Compile builds from it (the
// softasic unit tests check this equivalence rule by rule), without building the arrays. It
// covers the rules the agent installs (transfer rules: port, Ethernet/VLAN/IPv4/IPv6/TCP/UDP/
// ICMP, VXLAN with an inner layer, MARK/TAG; every action but QUEUE and RAW_*). It returns false
// for anything else and on any error (unknown port or meter, too many ops): the caller then
// takes the arrays path, which refuses with CompileFlow's exact message. `rule` must have passed
// flowrules::Validate. `out` must be value-initialised.
bool CompileRuleDirect(const flowrules::Rule& rule, const CompileContext& context,
                       CompiledFlow& out);

}  // namespace nicswitch::device::softasic_internal
