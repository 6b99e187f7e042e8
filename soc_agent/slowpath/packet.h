#pragma once

// Parsing of exception packets on the agent's slow path. The input is untrusted (a guest or the
// wire produced it): every length is checked, and anything malformed is an error naming what was
// wrong, never a read past the buffer.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "flowrules/rule.h"

namespace nicswitch::slowpath {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeArp = 0x0806;
inline constexpr uint16_t kEtherTypeVlan = 0x8100;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;

struct ArpHeader {
  uint16_t op = 0;  // 1 request, 2 reply
  flowrules::MacAddress sender_mac;
  flowrules::Ipv4Address sender_ip;
  flowrules::MacAddress target_mac;
  flowrules::Ipv4Address target_ip;
};

// One layer of headers, as far as they are present. Offsets are from the start of the buffer.
struct HeaderLayer {
  size_t l2_offset = 0;
  flowrules::MacAddress eth_src;
  flowrules::MacAddress eth_dst;
  std::optional<uint16_t> vlan_id;
  uint16_t ether_type = 0;  // after any VLAN tag
  std::optional<ArpHeader> arp;

  // IPv4 (ipv6 is recognised and its addresses read, but the overlay is IPv4).
  bool is_ipv4 = false;
  bool is_ipv6 = false;
  size_t l3_offset = 0;
  flowrules::Ipv4Address ipv4_src;
  flowrules::Ipv4Address ipv4_dst;
  flowrules::Ipv6Address ipv6_src;
  flowrules::Ipv6Address ipv6_dst;
  uint8_t ip_protocol = 0;
  uint8_t ttl = 0;
  bool is_fragment = false;  // MF set or fragment offset != 0: no L4 header to read

  size_t l4_offset = 0;
  std::optional<uint16_t> l4_src_port;  // TCP/UDP
  std::optional<uint16_t> l4_dst_port;
  std::optional<uint8_t> icmp_type;
  std::optional<uint8_t> icmp_code;
};

struct ParsedPacket {
  HeaderLayer outer;
  // Set when the outer layer is UDP to `vxlan_port` with a valid VXLAN header (I flag set).
  std::optional<uint32_t> vni;
  HeaderLayer inner;  // meaningful only with vni
  size_t inner_offset = 0;
  size_t length = 0;
};

// Parses `data[0, length)`. `vxlan_port` is the UDP destination port that marks VXLAN (4789).
// INVALID_ARGUMENT naming the header and the problem for a truncated or inconsistent packet
// (`ipv4: total length 1400 exceeds the 60 bytes present`, `ipv4: header length 12 < 20`).
absl::StatusOr<ParsedPacket> ParsePacket(const uint8_t* data, size_t length,
                                         uint16_t vxlan_port = 4789);

// The inner 5-tuple hashed into a VXLAN UDP source port in [49152, 65535] (RFC 7348 §5: the
// source port carries entropy for the underlay's ECMP). Stable across runs and processes.
uint16_t VxlanSourcePort(const HeaderLayer& inner);

// The 42-byte Ethernet + ARP reply the agent sends back to a guest that asked for
// `request.target_ip`: "target_ip is at `answer_mac`", addressed to the requester.
std::vector<uint8_t> BuildArpReply(const ArpHeader& request,
                                   const flowrules::MacAddress& answer_mac);

}  // namespace nicswitch::slowpath
