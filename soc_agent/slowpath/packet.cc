#include "soc_agent/slowpath/packet.h"

#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace nicswitch::slowpath {
namespace {

constexpr size_t kEthHeaderLength = 14;
constexpr size_t kVlanTagLength = 4;
constexpr size_t kArpLength = 28;
constexpr size_t kIpv4MinHeader = 20;
constexpr size_t kIpv6Header = 40;
constexpr size_t kUdpHeader = 8;
constexpr size_t kTcpMinHeader = 20;
constexpr size_t kIcmpHeader = 4;
constexpr size_t kVxlanHeader = 8;

uint16_t Read16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Read32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) << 24 | static_cast<uint32_t>(p[1]) << 16 |
         static_cast<uint32_t>(p[2]) << 8 | p[3];
}
flowrules::MacAddress ReadMac(const uint8_t* p) {
  flowrules::MacAddress mac;
  std::memcpy(mac.bytes.data(), p, 6);
  return mac;
}

absl::Status Truncated(absl::string_view header, size_t need, size_t have) {
  return absl::InvalidArgumentError(
      absl::StrCat(header, ": truncated (needs ", need, " bytes, ", have, " present)"));
}

// Parses one layer starting at `offset` within data[0, end). On return `layer` holds what was
// found; `next` is the offset just after the L4 header (or end of L3 when there is none).
absl::Status ParseLayer(const uint8_t* data, size_t offset, size_t end, HeaderLayer& layer,
                        size_t& next) {
  layer.l2_offset = offset;
  if (end - offset < kEthHeaderLength) {
    return Truncated("ethernet", kEthHeaderLength, end - offset);
  }
  const uint8_t* p = data + offset;
  layer.eth_dst = ReadMac(p);
  layer.eth_src = ReadMac(p + 6);
  uint16_t type = Read16(p + 12);
  size_t pos = offset + kEthHeaderLength;
  if (type == kEtherTypeVlan) {
    if (end - pos < kVlanTagLength) {
      return Truncated("vlan", kVlanTagLength, end - pos);
    }
    layer.vlan_id = Read16(data + pos) & 0x0fff;
    type = Read16(data + pos + 2);
    pos += kVlanTagLength;
    if (type == kEtherTypeVlan || type == 0x88a8) {
      return absl::InvalidArgumentError("vlan: stacked VLAN tags are not supported");
    }
  }
  layer.ether_type = type;
  layer.l3_offset = pos;
  next = pos;

  if (type == kEtherTypeArp) {
    if (end - pos < kArpLength) {
      return Truncated("arp", kArpLength, end - pos);
    }
    const uint8_t* a = data + pos;
    if (Read16(a) != 1 || Read16(a + 2) != kEtherTypeIpv4 || a[4] != 6 || a[5] != 4) {
      return absl::InvalidArgumentError(absl::StrCat("arp: not Ethernet/IPv4 (htype ", Read16(a),
                                                     ", ptype 0x", absl::Hex(Read16(a + 2)),
                                                     ", hlen ", a[4], ", plen ", a[5], ")"));
    }
    ArpHeader arp;
    arp.op = Read16(a + 6);
    arp.sender_mac = ReadMac(a + 8);
    arp.sender_ip = flowrules::Ipv4Address{Read32(a + 14)};
    arp.target_mac = ReadMac(a + 18);
    arp.target_ip = flowrules::Ipv4Address{Read32(a + 24)};
    layer.arp = arp;
    next = pos + kArpLength;
    return absl::OkStatus();
  }

  size_t l3_end = end;
  if (type == kEtherTypeIpv4) {
    if (end - pos < kIpv4MinHeader) {
      return Truncated("ipv4", kIpv4MinHeader, end - pos);
    }
    const uint8_t* ip = data + pos;
    if ((ip[0] >> 4) != 4) {
      return absl::InvalidArgumentError(absl::StrCat("ipv4: version ", ip[0] >> 4, " is not 4"));
    }
    const size_t ihl = static_cast<size_t>(ip[0] & 0x0f) * 4;
    if (ihl < kIpv4MinHeader) {
      return absl::InvalidArgumentError(absl::StrCat("ipv4: header length ", ihl, " < 20"));
    }
    const size_t total = Read16(ip + 2);
    if (total < ihl) {
      return absl::InvalidArgumentError(
          absl::StrCat("ipv4: total length ", total, " < header length ", ihl));
    }
    if (total > end - pos) {
      return absl::InvalidArgumentError(
          absl::StrCat("ipv4: total length ", total, " exceeds the ", end - pos, " bytes present"));
    }
    layer.is_ipv4 = true;
    layer.ttl = ip[8];
    layer.ip_protocol = ip[9];
    layer.ipv4_src = flowrules::Ipv4Address{Read32(ip + 12)};
    layer.ipv4_dst = flowrules::Ipv4Address{Read32(ip + 16)};
    const uint16_t frag = Read16(ip + 6);
    layer.is_fragment = (frag & 0x2000) != 0 || (frag & 0x1fff) != 0;
    pos += ihl;
    l3_end = layer.l3_offset + total;  // ignore Ethernet padding after the datagram
  } else if (type == kEtherTypeIpv6) {
    if (end - pos < kIpv6Header) {
      return Truncated("ipv6", kIpv6Header, end - pos);
    }
    const uint8_t* ip = data + pos;
    if ((ip[0] >> 4) != 6) {
      return absl::InvalidArgumentError(absl::StrCat("ipv6: version ", ip[0] >> 4, " is not 6"));
    }
    const size_t payload = Read16(ip + 4);
    if (payload > end - pos - kIpv6Header) {
      return absl::InvalidArgumentError(absl::StrCat("ipv6: payload length ", payload,
                                                     " exceeds the ", end - pos - kIpv6Header,
                                                     " bytes present"));
    }
    layer.is_ipv6 = true;
    layer.ip_protocol = ip[6];  // extension headers are not followed: L4 only when direct
    layer.ttl = ip[7];
    std::memcpy(layer.ipv6_src.bytes.data(), ip + 8, 16);
    std::memcpy(layer.ipv6_dst.bytes.data(), ip + 24, 16);
    pos += kIpv6Header;
    l3_end = pos + payload;
  } else {
    return absl::OkStatus();  // other ether types: L2 only
  }

  layer.l4_offset = pos;
  next = pos;
  if (layer.is_fragment) {
    return absl::OkStatus();
  }
  const size_t room = l3_end - pos;
  switch (layer.ip_protocol) {
    case kIpProtoUdp:
      if (room < kUdpHeader) {
        return Truncated("udp", kUdpHeader, room);
      }
      if (Read16(data + pos + 4) < kUdpHeader || Read16(data + pos + 4) > room) {
        return absl::InvalidArgumentError(absl::StrCat("udp: length ", Read16(data + pos + 4),
                                                       " does not fit the ", room,
                                                       " bytes of the IP payload"));
      }
      layer.l4_src_port = Read16(data + pos);
      layer.l4_dst_port = Read16(data + pos + 2);
      next = pos + kUdpHeader;
      break;
    case kIpProtoTcp:
      if (room < kTcpMinHeader) {
        return Truncated("tcp", kTcpMinHeader, room);
      }
      layer.l4_src_port = Read16(data + pos);
      layer.l4_dst_port = Read16(data + pos + 2);
      next = pos + kTcpMinHeader;
      break;
    case kIpProtoIcmp:
      if (room < kIcmpHeader) {
        return Truncated("icmp", kIcmpHeader, room);
      }
      layer.icmp_type = data[pos];
      layer.icmp_code = data[pos + 1];
      next = pos + kIcmpHeader;
      break;
    default:
      break;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParsedPacket> ParsePacket(const uint8_t* data, size_t length, uint16_t vxlan_port) {
  ParsedPacket packet;
  packet.length = length;
  size_t next = 0;
  RETURN_IF_ERROR(ParseLayer(data, 0, length, packet.outer, next));
  const HeaderLayer& outer = packet.outer;
  if (outer.ip_protocol != kIpProtoUdp || outer.l4_dst_port != vxlan_port ||
      !(outer.is_ipv4 || outer.is_ipv6)) {
    return packet;
  }
  const size_t udp_length = Read16(data + outer.l4_offset + 4);
  const size_t udp_end = outer.l4_offset + udp_length;
  if (udp_end - next < kVxlanHeader) {
    return Truncated("vxlan", kVxlanHeader, udp_end - next);
  }
  const uint8_t* vx = data + next;
  if ((vx[0] & 0x08) == 0) {
    return absl::InvalidArgumentError("vxlan: I flag (valid VNI) not set");
  }
  packet.vni = Read32(vx + 4) >> 8;
  packet.inner_offset = next + kVxlanHeader;
  size_t inner_next = 0;
  absl::Status inner = ParseLayer(data, packet.inner_offset, udp_end, packet.inner, inner_next);
  if (!inner.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("inner ", inner.message()));
  }
  return packet;
}

uint16_t VxlanSourcePort(const HeaderLayer& inner) {
  // FNV-1a over the inner 5-tuple: cheap, stable, well spread over the low bits.
  uint32_t hash = 2166136261u;
  auto mix = [&hash](uint32_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      hash ^= (value >> (8 * i)) & 0xff;
      hash *= 16777619u;
    }
  };
  mix(inner.ipv4_src.value, 4);
  mix(inner.ipv4_dst.value, 4);
  mix(inner.ip_protocol, 1);
  mix(inner.l4_src_port.value_or(0), 2);
  mix(inner.l4_dst_port.value_or(0), 2);
  return static_cast<uint16_t>(49152 + (hash ^ (hash >> 16)) % 16384);
}

std::vector<uint8_t> BuildArpReply(const ArpHeader& request,
                                   const flowrules::MacAddress& answer_mac) {
  std::vector<uint8_t> frame(kEthHeaderLength + kArpLength);
  uint8_t* p = frame.data();
  auto put16 = [](uint8_t* at, uint16_t v) {
    at[0] = static_cast<uint8_t>(v >> 8);
    at[1] = static_cast<uint8_t>(v);
  };
  auto put32 = [&put16](uint8_t* at, uint32_t v) {
    put16(at, static_cast<uint16_t>(v >> 16));
    put16(at + 2, static_cast<uint16_t>(v));
  };
  std::memcpy(p, request.sender_mac.bytes.data(), 6);
  std::memcpy(p + 6, answer_mac.bytes.data(), 6);
  put16(p + 12, kEtherTypeArp);
  uint8_t* a = p + kEthHeaderLength;
  put16(a, 1);
  put16(a + 2, kEtherTypeIpv4);
  a[4] = 6;
  a[5] = 4;
  put16(a + 6, 2);  // reply
  std::memcpy(a + 8, answer_mac.bytes.data(), 6);
  put32(a + 14, request.target_ip.value);
  std::memcpy(a + 18, request.sender_mac.bytes.data(), 6);
  put32(a + 24, request.sender_ip.value);
  return frame;
}

}  // namespace nicswitch::slowpath
