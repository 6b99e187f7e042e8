#include "soc_agent/slowpath/soft_actions.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "soc_agent/slowpath/packet.h"

namespace nicswitch::slowpath {
namespace {

using flowrules::Action;

void Write16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Write32(uint8_t* p, uint32_t v) {
  Write16(p, static_cast<uint16_t>(v >> 16));
  Write16(p + 2, static_cast<uint16_t>(v));
}

uint16_t Ipv4HeaderChecksum(const uint8_t* header, size_t length) {
  uint32_t sum = 0;
  for (size_t i = 0; i < length; i += 2) {
    sum += static_cast<uint32_t>(header[i] << 8 | header[i + 1]);
  }
  while (sum >> 16) {
    sum = (sum & 0xffff) + (sum >> 16);
  }
  return static_cast<uint16_t>(~sum);
}

absl::Status Encap(const flowrules::VxlanEncapAction& encap, FrameRef& frame) {
  const bool v4 =
      std::holds_alternative<std::pair<flowrules::Ipv4Address, flowrules::Ipv4Address>>(encap.ip);
  const uint32_t ip_length = v4 ? 20 : 40;
  const uint32_t added = 14 + ip_length + 8 + 8;
  if (frame.headroom < added) {
    return absl::FailedPreconditionError(absl::StrCat(
        "vxlan_encap: needs ", added, " bytes of headroom, the frame has ", frame.headroom));
  }
  const uint32_t inner_length = frame.length;
  frame.data -= added;
  frame.headroom -= added;
  frame.length += added;
  uint8_t* p = frame.data;
  std::memcpy(p, encap.eth_dst.bytes.data(), 6);
  std::memcpy(p + 6, encap.eth_src.bytes.data(), 6);
  Write16(p + 12, v4 ? kEtherTypeIpv4 : kEtherTypeIpv6);
  uint8_t* ip = p + 14;
  const uint32_t udp_length = 8 + 8 + inner_length;
  if (v4) {
    const auto& [src, dst] = std::get<0>(encap.ip);
    ip[0] = 0x45;
    ip[1] = 0;
    Write16(ip + 2, static_cast<uint16_t>(20 + udp_length));
    Write16(ip + 4, 0);
    Write16(ip + 6, 0x4000);  // DF: the underlay MTU is sized for the overlay
    ip[8] = encap.ttl;
    ip[9] = kIpProtoUdp;
    Write16(ip + 10, 0);
    Write32(ip + 12, src.value);
    Write32(ip + 16, dst.value);
    Write16(ip + 10, Ipv4HeaderChecksum(ip, 20));
  } else {
    const auto& [src, dst] = std::get<1>(encap.ip);
    Write32(ip, 0x60000000);
    Write16(ip + 4, static_cast<uint16_t>(udp_length));
    ip[6] = kIpProtoUdp;
    ip[7] = encap.ttl;
    std::memcpy(ip + 8, src.bytes.data(), 16);
    std::memcpy(ip + 24, dst.bytes.data(), 16);
  }
  uint8_t* udp = ip + ip_length;
  Write16(udp, encap.udp_src);
  Write16(udp + 2, encap.udp_dst);
  Write16(udp + 4, static_cast<uint16_t>(udp_length));
  Write16(udp + 6, 0);  // RFC 7348: zero UDP checksum over IPv4; RFC 6935 allows it for tunnels
  uint8_t* vxlan = udp + 8;
  Write32(vxlan, 0x08000000);
  Write32(vxlan + 4, encap.vni << 8);
  return absl::OkStatus();
}

absl::Status Decap(FrameRef& frame, uint16_t vxlan_port) {
  ASSIGN_OR_RETURN(const ParsedPacket packet, ParsePacket(frame.data, frame.length, vxlan_port));
  if (!packet.vni.has_value()) {
    return absl::FailedPreconditionError("vxlan_decap: the frame is not VXLAN");
  }
  const uint32_t removed = static_cast<uint32_t>(packet.inner_offset);
  // The inner frame ends where the outer UDP datagram ends (drop outer padding, if any).
  const uint32_t udp_end = static_cast<uint32_t>(packet.outer.l4_offset) +
                           static_cast<uint32_t>(frame.data[packet.outer.l4_offset + 4] << 8 |
                                                 frame.data[packet.outer.l4_offset + 5]);
  frame.data += removed;
  frame.headroom += removed;
  frame.length = udp_end - removed;
  return absl::OkStatus();
}

absl::Status DecTtl(FrameRef& frame) {
  ASSIGN_OR_RETURN(const ParsedPacket packet, ParsePacket(frame.data, frame.length));
  if (!packet.outer.is_ipv4 && !packet.outer.is_ipv6) {
    return absl::FailedPreconditionError("dec_ttl: the frame is not IP");
  }
  if (packet.outer.ttl <= 1) {
    return absl::FailedPreconditionError(
        absl::StrCat("dec_ttl: TTL ", packet.outer.ttl, " expires on this hop"));
  }
  uint8_t* ip = frame.data + packet.outer.l3_offset;
  if (packet.outer.is_ipv4) {
    ip[8] -= 1;
    // RFC 1624 incremental update: the TTL is the high byte of the 16-bit word at offset 8.
    uint32_t sum = static_cast<uint16_t>(~(ip[10] << 8 | ip[11]) & 0xffff);
    sum += static_cast<uint16_t>(~0x0100 & 0xffff);
    while (sum >> 16) {
      sum = (sum & 0xffff) + (sum >> 16);
    }
    Write16(ip + 10, static_cast<uint16_t>(~sum));
  } else {
    ip[7] -= 1;  // hop limit; IPv6 has no header checksum
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SoftFate> ApplyActions(const std::vector<Action>& actions, FrameRef& frame,
                                      uint16_t vxlan_port) {
  std::optional<SoftFate> fate;
  for (const Action& action : actions) {
    if (const auto* a = std::get_if<flowrules::VxlanEncapAction>(&action)) {
      RETURN_IF_ERROR(Encap(*a, frame));
    } else if (std::holds_alternative<flowrules::VxlanDecapAction>(action)) {
      RETURN_IF_ERROR(Decap(frame, vxlan_port));
    } else if (const auto* a = std::get_if<flowrules::SetMacSrcAction>(&action)) {
      if (frame.length < 14) {
        return absl::FailedPreconditionError("set_mac_src: frame shorter than Ethernet");
      }
      std::memcpy(frame.data + 6, a->mac.bytes.data(), 6);
    } else if (const auto* a = std::get_if<flowrules::SetMacDstAction>(&action)) {
      if (frame.length < 14) {
        return absl::FailedPreconditionError("set_mac_dst: frame shorter than Ethernet");
      }
      std::memcpy(frame.data, a->mac.bytes.data(), 6);
    } else if (std::holds_alternative<flowrules::DecTtlAction>(action)) {
      RETURN_IF_ERROR(DecTtl(frame));
    } else if (std::holds_alternative<flowrules::DropAction>(action)) {
      fate = SoftFate{SoftFate::Kind::kDrop, 0};
    } else if (const auto* a = std::get_if<flowrules::RepresentedPortAction>(&action)) {
      fate = SoftFate{SoftFate::Kind::kRepresentedPort, a->port_id};
    } else if (const auto* a = std::get_if<flowrules::PortRepresentorAction>(&action)) {
      fate = SoftFate{SoftFate::Kind::kPortRepresentor, a->port_id};
    } else if (const auto* a = std::get_if<flowrules::QueueAction>(&action)) {
      fate = SoftFate{SoftFate::Kind::kQueue, a->index};
    } else if (const auto* a = std::get_if<flowrules::JumpAction>(&action)) {
      fate = SoftFate{SoftFate::Kind::kJump, a->group};
    }
    // COUNT, AGE, METER, MARK: no change to the frame.
  }
  if (!fate.has_value()) {
    return absl::FailedPreconditionError("the actions have no fate");
  }
  return *fate;
}

}  // namespace nicswitch::slowpath
