#pragma once

// Helpers shared by the flowrules sources (not part of the public interface).

#include <array>
#include <cstdint>

#include "common/status_macros.h"
#include "flowrules/rule.h"

namespace nicswitch::flowrules::internal {

inline constexpr uint16_t kEtherTypeIpv4 = 0x0800;
inline constexpr uint16_t kEtherTypeIpv6 = 0x86dd;
inline constexpr uint8_t kIpProtoIcmp = 1;
inline constexpr uint8_t kIpProtoTcp = 6;
inline constexpr uint8_t kIpProtoUdp = 17;
inline constexpr uint8_t kIpProtoIcmp6 = 58;
inline constexpr uint32_t kMaxVni = 0xffffff;
inline constexpr uint32_t kMaxAgeSeconds = 0xffffff;  // rte_flow_action_age.timeout is 24 bits
inline constexpr uint16_t kVxlanPort = 4789;

// The action's lower-case name as used in Rule::ToString and messages ("vxlan_encap").
const char* ActionName(const Action& action);

enum class IpVersion { kUnspecified, kIpv4, kIpv6 };

// The IP version a header layer matches: from its address fields, else from ether_type.
IpVersion LayerIpVersion(const HeaderMatch& m);

// Host-order IPv4 netmask of `length` (0..32) bits.
inline uint32_t Ipv4PrefixMask(int length) {
  return length <= 0 ? 0 : length >= 32 ? 0xffffffffu : ~((1u << (32 - length)) - 1);
}

// Network-order IPv6 netmask of `length` (0..128) bits.
inline std::array<uint8_t, 16> Ipv6PrefixMask(int length) {
  std::array<uint8_t, 16> mask{};
  for (int i = 0; i < 16; ++i) {
    const int bits = length - 8 * i;
    mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
  }
  return mask;
}

}  // namespace nicswitch::flowrules::internal
