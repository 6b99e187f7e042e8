#pragma once

// The flow-rule language shared by the agent, the softasic and the rte_flow hardware backend.
//
// A Rule is a plain value: group, priority, direction, a Match and a list of Actions, with the
// meaning rte_flow gives them (lookup starts in group 0, lower priority value wins, first match
// wins, JUMP continues in another group). Rules compile to rte_flow arrays (rte_flow.h in this
// directory), render to DPDK testpmd commands (testpmd.h) and parse back from both exactly.
//
// Byte order: every numeric field here is in host byte order (a VNI is 0..2^24-1, a port is
// the number a user types); conversion to network order happens when compiling.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nicswitch::flowrules {

// Debian's abseil (20220623, built without ABSL_OPTION_USE_STD_OPTIONAL/VARIANT) cannot hash
// std::optional or std::variant; these wrappers make the AbslHashValue overloads below work.
template <typename T>
struct HashableOptional {
  const std::optional<T>& value;
  template <typename H>
  friend H AbslHashValue(H h, const HashableOptional& o) {
    if (!o.value.has_value()) return H::combine(std::move(h), false);
    return H::combine(std::move(h), true, *o.value);
  }
};
template <typename T>
HashableOptional<T> HashOpt(const std::optional<T>& value) {
  return HashableOptional<T>{value};
}
template <typename... T>
struct HashableVariant {
  const std::variant<T...>& value;
  template <typename H>
  friend H AbslHashValue(H h, const HashableVariant& v) {
    h = H::combine(std::move(h), v.value.index());
    return std::visit([&h](const auto& alt) { return H::combine(std::move(h), alt); }, v.value);
  }
};
template <typename... T>
HashableVariant<T...> HashVariant(const std::variant<T...>& value) {
  return HashableVariant<T...>{value};
}

struct MacAddress {
  std::array<uint8_t, 6> bytes{};

  // "aa:bb:cc:dd:ee:ff" (lower case).
  std::string ToString() const;
  // Accepts "aa:bb:cc:dd:ee:ff" (either case). INVALID_ARGUMENT naming the text otherwise.
  static absl::StatusOr<MacAddress> Parse(absl::string_view text);

  friend bool operator==(const MacAddress&, const MacAddress&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const MacAddress& m) {
    return H::combine(std::move(h), m.bytes);
  }
};

struct Ipv4Address {
  uint32_t value = 0;  // host byte order: 10.0.0.1 == 0x0a000001

  std::string ToString() const;
  static absl::StatusOr<Ipv4Address> Parse(absl::string_view text);

  friend bool operator==(const Ipv4Address&, const Ipv4Address&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Ipv4Address& a) {
    return H::combine(std::move(h), a.value);
  }
};

struct Ipv6Address {
  std::array<uint8_t, 16> bytes{};  // network byte order, as on the wire

  std::string ToString() const;  // RFC 5952 form
  static absl::StatusOr<Ipv6Address> Parse(absl::string_view text);

  friend bool operator==(const Ipv6Address&, const Ipv6Address&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Ipv6Address& a) {
    return H::combine(std::move(h), a.bytes);
  }
};

// An address with a prefix length; the match is on the first `length` bits. Bits of `address`
// beyond the prefix must be zero (Validate refuses them).
template <typename Address, int kBits>
struct Prefix {
  Address address;
  uint8_t length = kBits;

  static constexpr int kMaxLength = kBits;
  friend bool operator==(const Prefix&, const Prefix&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Prefix& p) {
    return H::combine(std::move(h), p.address, p.length);
  }
};
using Ipv4Prefix = Prefix<Ipv4Address, 32>;
using Ipv6Prefix = Prefix<Ipv6Address, 128>;

// One layer of headers: Ethernet, optional VLAN, IPv4 or IPv6, TCP/UDP/ICMP. Every field is
// optional; an unset field is a wildcard. Which items the rule's pattern contains follows from
// what is set: e.g. setting l4_dst_port requires ip_protocol 6 (TCP) or 17 (UDP).
struct HeaderMatch {
  std::optional<MacAddress> eth_src;
  std::optional<MacAddress> eth_dst;
  std::optional<uint16_t> ether_type;  // of the payload after any VLAN tag
  std::optional<uint16_t> vlan_id;     // 12-bit VID; presence adds a VLAN item
  std::optional<Ipv4Prefix> ipv4_src;
  std::optional<Ipv4Prefix> ipv4_dst;
  std::optional<Ipv6Prefix> ipv6_src;
  std::optional<Ipv6Prefix> ipv6_dst;
  std::optional<uint8_t> ip_protocol;  // 6 TCP, 17 UDP, 1 ICMP
  std::optional<uint16_t> l4_src_port;
  std::optional<uint16_t> l4_dst_port;
  std::optional<uint8_t> icmp_type;
  std::optional<uint8_t> icmp_code;

  bool empty() const;
  friend bool operator==(const HeaderMatch&, const HeaderMatch&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const HeaderMatch& m) {
    return H::combine(std::move(h), HashOpt(m.eth_src), HashOpt(m.eth_dst), HashOpt(m.ether_type),
                      HashOpt(m.vlan_id), HashOpt(m.ipv4_src), HashOpt(m.ipv4_dst),
                      HashOpt(m.ipv6_src), HashOpt(m.ipv6_dst), HashOpt(m.ip_protocol),
                      HashOpt(m.l4_src_port), HashOpt(m.l4_dst_port), HashOpt(m.icmp_type),
                      HashOpt(m.icmp_code));
  }
};

struct VxlanMatch {
  std::optional<uint32_t> vni;  // 24 bits; unset matches any VXLAN packet

  friend bool operator==(const VxlanMatch&, const VxlanMatch&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const VxlanMatch& v) {
    return H::combine(std::move(h), HashOpt(v.vni));
  }
};

struct TagMatch {
  uint8_t index = 0;
  uint32_t data = 0;

  friend bool operator==(const TagMatch&, const TagMatch&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const TagMatch& t) {
    return H::combine(std::move(h), t.index, t.data);
  }
};

// What a packet must look like. Without `vxlan`, `outer` is the packet's only header layer and
// `inner` must be empty. With `vxlan`, `outer` describes the outer Ethernet/IP/UDP (the UDP
// destination port defaults to 4789 when unset) and `inner` the encapsulated frame.
struct Match {
  std::optional<uint16_t> represented_port;  // ethdev port id the packet entered on
  HeaderMatch outer;
  std::optional<VxlanMatch> vxlan;
  HeaderMatch inner;
  std::optional<uint32_t> mark;  // META/MARK set by an earlier group
  std::optional<TagMatch> tag;

  friend bool operator==(const Match&, const Match&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Match& m) {
    return H::combine(std::move(h), HashOpt(m.represented_port), m.outer, HashOpt(m.vxlan), m.inner,
                      HashOpt(m.mark), HashOpt(m.tag));
  }
};

// ---- Actions -------------------------------------------------------------------------------

struct DropAction {
  friend bool operator==(const DropAction&, const DropAction&) = default;
};
struct CountAction {
  friend bool operator==(const CountAction&, const CountAction&) = default;
};
struct AgeAction {
  uint32_t seconds = 0;  // > 0; idle time after which the rule is reported as aged
  friend bool operator==(const AgeAction&, const AgeAction&) = default;
};
struct MeterAction {
  uint32_t meter_id = 0;
  friend bool operator==(const MeterAction&, const MeterAction&) = default;
};
// Outer headers pushed in front of the frame: Ethernet / IPv4 or IPv6 / UDP / VXLAN.
struct VxlanEncapAction {
  MacAddress eth_src;
  MacAddress eth_dst;
  std::variant<std::pair<Ipv4Address, Ipv4Address>, std::pair<Ipv6Address, Ipv6Address>>
      ip;  // (src, dst)
  uint8_t ttl = 64;
  uint16_t udp_src = 0;  // 0 is invalid; the agent sets a hash of the inner 5-tuple
  uint16_t udp_dst = 4789;
  uint32_t vni = 0;  // 24 bits
  friend bool operator==(const VxlanEncapAction&, const VxlanEncapAction&) = default;
};
struct VxlanDecapAction {
  friend bool operator==(const VxlanDecapAction&, const VxlanDecapAction&) = default;
};
struct SetMacSrcAction {
  MacAddress mac;
  friend bool operator==(const SetMacSrcAction&, const SetMacSrcAction&) = default;
};
struct SetMacDstAction {
  MacAddress mac;
  friend bool operator==(const SetMacDstAction&, const SetMacDstAction&) = default;
};
struct DecTtlAction {
  friend bool operator==(const DecTtlAction&, const DecTtlAction&) = default;
};
// Fate: send out of the port (the wire / the VF) that ethdev `port_id` represents.
struct RepresentedPortAction {
  uint16_t port_id = 0;
  friend bool operator==(const RepresentedPortAction&, const RepresentedPortAction&) = default;
};
// Fate: deliver to the representor ethdev `port_id` (towards the agent).
struct PortRepresentorAction {
  uint16_t port_id = 0;
  friend bool operator==(const PortRepresentorAction&, const PortRepresentorAction&) = default;
};
// Fate: continue the lookup in `group`.
struct JumpAction {
  uint32_t group = 0;
  friend bool operator==(const JumpAction&, const JumpAction&) = default;
};
struct MarkAction {
  uint32_t id = 0;
  friend bool operator==(const MarkAction&, const MarkAction&) = default;
};
// Fate: deliver to RX queue `index` of the port the rule is created on.
struct QueueAction {
  uint16_t index = 0;
  friend bool operator==(const QueueAction&, const QueueAction&) = default;
};

using Action =
    std::variant<DropAction, CountAction, AgeAction, MeterAction, VxlanEncapAction,
                 VxlanDecapAction, SetMacSrcAction, SetMacDstAction, DecTtlAction,
                 RepresentedPortAction, PortRepresentorAction, JumpAction, MarkAction, QueueAction>;

// True for actions that decide where the packet goes (drop, represented_port,
// port_representor, jump, queue). A valid rule has exactly one.
bool IsFateAction(const Action& action);

enum class Direction : uint8_t { kTransfer, kIngress, kEgress };

struct Rule {
  uint32_t group = 0;
  uint32_t priority = 0;
  Direction direction = Direction::kTransfer;
  Match match;
  std::vector<Action> actions;

  // Stable one-line text, e.g.
  // "transfer group 0 prio 1 match port=1 ipv4_dst=10.0.0.2/32 ip_proto=17 udp_dst=53 actions
  //  count represented_port=0". Equal rules give equal text; the format does not change between
  //  releases (tests and logs rely on it).
  std::string ToString() const;

  friend bool operator==(const Rule&, const Rule&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Rule& r);
};

// ---- Validation ----------------------------------------------------------------------------

struct ValidationLimits {
  uint16_t max_port_id = 1023;  // highest ethdev port id a rule may name (RTE_MAX_ETHPORTS - 1)
  uint32_t max_group = 0xffffff;
  uint16_t max_queue_index = 1023;
};

// OK when `rule` is well formed; otherwise INVALID_ARGUMENT whose message names the field and
// the value, e.g. `actions[2] (vxlan_encap): vni 16777216 exceeds 24 bits`. Checks: exactly
// one fate action; decap only on a rule that matches VXLAN; encap followed by an output
// (represented_port); contiguous prefix masks with zero host bits; ports, groups and queues in
// range; VNI within 24 bits; age > 0; L4 ports only with TCP/UDP; ICMP fields only with ICMP;
// IPv4 and IPv6 fields not mixed in one layer; inner fields only with vxlan; no duplicate
// non-fate actions. Also: prefix length 1..max (a /0 must be left unset); vlan_id <= 4095;
// ether_type consistent with the layer's IP fields (0x0800/0x86dd when ip_protocol is set or
// under vxlan); ip_protocol 17 (or unset) in a VXLAN outer layer, where L4 ports mean UDP;
// ICMP fields with ip_protocol 1 on IPv4 or 58 on IPv6 (a layer with no address and no
// ether_type is IPv4); age and VNI within 24 bits; encap udp_src, udp_dst and ttl non-zero;
// jump not to the rule's own group; represented_port match, represented_port and
// port_representor actions only on transfer rules; queue only on ingress rules.
absl::Status Validate(const Rule& rule, const ValidationLimits& limits = {});

// ---- hashing (needs the variant's alternatives to be hashable) ------------------------------

template <typename H>
H AbslHashValue(H h, const DropAction&) {
  return H::combine(std::move(h), 0);
}
template <typename H>
H AbslHashValue(H h, const CountAction&) {
  return H::combine(std::move(h), 1);
}
template <typename H>
H AbslHashValue(H h, const AgeAction& a) {
  return H::combine(std::move(h), a.seconds);
}
template <typename H>
H AbslHashValue(H h, const MeterAction& a) {
  return H::combine(std::move(h), a.meter_id);
}
template <typename H>
H AbslHashValue(H h, const VxlanEncapAction& a) {
  return H::combine(std::move(h), a.eth_src, a.eth_dst, HashVariant(a.ip), a.ttl, a.udp_src,
                    a.udp_dst, a.vni);
}
template <typename H>
H AbslHashValue(H h, const VxlanDecapAction&) {
  return H::combine(std::move(h), 5);
}
template <typename H>
H AbslHashValue(H h, const SetMacSrcAction& a) {
  return H::combine(std::move(h), a.mac);
}
template <typename H>
H AbslHashValue(H h, const SetMacDstAction& a) {
  return H::combine(std::move(h), a.mac);
}
template <typename H>
H AbslHashValue(H h, const DecTtlAction&) {
  return H::combine(std::move(h), 8);
}
template <typename H>
H AbslHashValue(H h, const RepresentedPortAction& a) {
  return H::combine(std::move(h), a.port_id);
}
template <typename H>
H AbslHashValue(H h, const PortRepresentorAction& a) {
  return H::combine(std::move(h), a.port_id);
}
template <typename H>
H AbslHashValue(H h, const JumpAction& a) {
  return H::combine(std::move(h), a.group);
}
template <typename H>
H AbslHashValue(H h, const MarkAction& a) {
  return H::combine(std::move(h), a.id);
}
template <typename H>
H AbslHashValue(H h, const QueueAction& a) {
  return H::combine(std::move(h), a.index);
}

template <typename H>
H AbslHashValue(H h, const Rule& r) {
  h = H::combine(std::move(h), r.group, r.priority, r.direction, r.match, r.actions.size());
  for (const Action& action : r.actions) h = H::combine(std::move(h), HashVariant(action));
  return h;
}

}  // namespace nicswitch::flowrules
