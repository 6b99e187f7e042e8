#pragma once

// The softasic's packet key: every header field a rule can match, extracted from a packet once
// and compared against per-mask subtables (tuple-space search). Fields keep the byte order they
// have on the wire (rte_flow specs use the same), so neither the parser nor the rule compiler
// converts anything. Layout is in 64-bit words so that a subtable's compact key is "the words its
// mask touches, ANDed with the mask" (the IPv4 5-tuple + input port fits in 2 words).
//
// Internal to soc_agent/device; includes DPDK headers.

#include <rte_byteorder.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_tcp.h>
#include <rte_udp.h>
#include <rte_vxlan.h>

#include <cstdint>
#include <cstring>

namespace nicswitch::device::softasic_internal {

inline constexpr int kKeyWords = 20;
inline constexpr int kLayerWords = 9;  // words 0-8 outer, 11-19 inner; 9-10 shared
inline constexpr int kInnerBase = 11;

// Layer flags (the `flags` byte of a layer): which headers the packet has.
inline constexpr uint8_t kHasVlan = 1 << 0;
inline constexpr uint8_t kIsIpv4 = 1 << 1;
inline constexpr uint8_t kIsIpv6 = 1 << 2;
inline constexpr uint8_t kIsTcp = 1 << 3;
inline constexpr uint8_t kIsUdp = 1 << 4;
inline constexpr uint8_t kIsIcmp = 1 << 5;
inline constexpr uint8_t kIsVxlan = 1 << 6;  // outer layer only: a VXLAN header follows UDP

// One header layer, 9 words. The first two words hold the input port and the IPv4 5-tuple, so
// the commonest exact match (port + 5-tuple) is a 16-byte subtable key: one 32-byte rte_hash key
// slot, compared with rte_hash's 16-byte vector compare.
struct LayerKey {
  uint16_t in_port;  // outer layer only: softasic port index the packet entered on
  uint16_t l4_src;   // TCP/UDP source port (network order)
  uint16_t l4_dst;
  uint8_t ip_proto;
  uint8_t flags;
  uint32_t ipv4_src;  // network order
  uint32_t ipv4_dst;
  uint16_t ether_type;  // after VLAN tags (network order)
  uint16_t vlan_tci;    // outermost tag's TCI (network order)
  uint8_t icmp_type;
  uint8_t icmp_code;
  uint16_t pad0;
  uint8_t eth_dst[6];
  uint16_t pad1;
  uint8_t eth_src[6];
  uint16_t pad2;
  uint8_t ipv6_src[16];
  uint8_t ipv6_dst[16];
};
static_assert(sizeof(LayerKey) == kLayerWords * 8);
// ExtractKey's fast path builds the first five words whole.
static_assert(offsetof(LayerKey, l4_src) == 2 && offsetof(LayerKey, ip_proto) == 6 &&
              offsetof(LayerKey, flags) == 7 && offsetof(LayerKey, ipv4_src) == 8 &&
              offsetof(LayerKey, ether_type) == 16 && offsetof(LayerKey, eth_dst) == 24 &&
              offsetof(LayerKey, eth_src) == 32);

struct MetaKey {
  uint8_t vni[3];  // outer VXLAN VNI as on the wire
  uint8_t pad0;
  uint32_t mark;  // set by a MARK action in an earlier group (0: none)
  uint32_t tag_data;
  uint8_t tag_index;
  uint8_t pad1[3];
};
static_assert(sizeof(MetaKey) == 16);

union alignas(64) FlowKey {
  uint64_t w[kKeyWords];
  struct {
    LayerKey outer;
    MetaKey meta;
    LayerKey inner;
  } f;
};
static_assert(sizeof(FlowKey) == 192);  // 160 bytes of key, padded to 3 cache lines
static_assert(offsetof(FlowKey, f.inner) == kInnerBase * 8);

// Where the parser found the headers; used by actions.
struct PacketLayout {
  uint16_t l3_offset = 0;     // outer IP header
  uint16_t inner_offset = 0;  // inner Ethernet header (VXLAN packets), 0 otherwise
  uint8_t l3_is_ipv4 = 0;
  uint8_t l3_is_ipv6 = 0;
};

inline constexpr uint16_t kVxlanPort = RTE_VXLAN_DEFAULT_PORT;

// Parses one header layer starting at `off` into `layer`. Returns the offset just past the L4
// header (or the last header understood). Never reads beyond `len`. Inlined into the datapath's
// parse loop: out-parameters through memory would cost a store-forwarding round trip each.
__attribute__((always_inline)) inline uint32_t ParseLayer(const uint8_t* data, uint32_t len,
                                                          uint32_t off, LayerKey& layer,
                                                          uint16_t* l3_off, bool* is_v4,
                                                          bool* is_v6) {
  if (off + sizeof(rte_ether_hdr) > len) {
    return off;
  }
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(data + off);
  std::memcpy(layer.eth_dst, &eth->dst_addr, 6);
  std::memcpy(layer.eth_src, &eth->src_addr, 6);
  uint16_t type = eth->ether_type;
  off += sizeof(rte_ether_hdr);
  // Up to two tags (QinQ); the key holds the outermost TCI.
  for (int tags = 0; tags < 2; ++tags) {
    if (type != rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) &&
        type != rte_cpu_to_be_16(RTE_ETHER_TYPE_QINQ)) {
      break;
    }
    if (off + sizeof(rte_vlan_hdr) > len) {
      return off;
    }
    const auto* vlan = reinterpret_cast<const rte_vlan_hdr*>(data + off);
    if (tags == 0) {
      layer.vlan_tci = vlan->vlan_tci;
      layer.flags |= kHasVlan;
    }
    type = vlan->eth_proto;
    off += sizeof(rte_vlan_hdr);
  }
  layer.ether_type = type;
  *l3_off = static_cast<uint16_t>(off);
  uint8_t proto;
  if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4)) {
    if (off + sizeof(rte_ipv4_hdr) > len) {
      return off;
    }
    const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(data + off);
    const uint32_t ihl = (ip->version_ihl & 0xf) * 4u;
    if (ihl < sizeof(rte_ipv4_hdr) || off + ihl > len) {
      return off;
    }
    layer.flags |= kIsIpv4;
    *is_v4 = true;
    layer.ipv4_src = ip->src_addr;
    layer.ipv4_dst = ip->dst_addr;
    proto = ip->next_proto_id;
    layer.ip_proto = proto;
    off += ihl;
    // A non-first fragment carries no L4 header.
    if ((ip->fragment_offset & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) != 0) {
      return off;
    }
  } else if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6)) {
    if (off + sizeof(rte_ipv6_hdr) > len) {
      return off;
    }
    const auto* ip = reinterpret_cast<const rte_ipv6_hdr*>(data + off);
    layer.flags |= kIsIpv6;
    *is_v6 = true;
    std::memcpy(layer.ipv6_src, ip->src_addr, 16);
    std::memcpy(layer.ipv6_dst, ip->dst_addr, 16);
    proto = ip->proto;
    layer.ip_proto = proto;
    off += sizeof(rte_ipv6_hdr);
  } else {
    return off;
  }
  if (proto == IPPROTO_UDP || proto == IPPROTO_TCP) {
    if (off + 4 > len) {
      return off;
    }
    layer.flags |= proto == IPPROTO_UDP ? kIsUdp : kIsTcp;
    std::memcpy(&layer.l4_src, data + off, 2);
    std::memcpy(&layer.l4_dst, data + off + 2, 2);
    off += proto == IPPROTO_UDP ? sizeof(rte_udp_hdr) : sizeof(rte_tcp_hdr);
  } else if (proto == IPPROTO_ICMP && *is_v4) {
    if (off + 2 > len) {
      return off;
    }
    layer.flags |= kIsIcmp;
    layer.icmp_type = data[off];
    layer.icmp_code = data[off + 1];
    off += 8;
  }
  return off;
}

// Fills `key` (zeroing it first) from the first segment of `m`, received on port `in_port`:
// every header the key holds. ExtractKey gives the same result faster for the common frame.
inline void ExtractKeyGeneric(const rte_mbuf* m, uint16_t in_port, uint32_t mark, FlowKey& key,
                              PacketLayout& layout) {
  std::memset(&key, 0, sizeof(key.w));
  const auto* data = rte_pktmbuf_mtod(m, const uint8_t*);
  const uint32_t len = m->data_len;
  key.f.outer.in_port = in_port;
  key.f.meta.mark = mark;
  bool v4 = false;
  bool v6 = false;
  uint16_t l3 = 0;
  const uint32_t end = ParseLayer(data, len, 0, key.f.outer, &l3, &v4, &v6);
  layout.l3_offset = l3;
  layout.l3_is_ipv4 = v4;
  layout.l3_is_ipv6 = v6;
  layout.inner_offset = 0;
  if ((key.f.outer.flags & kIsUdp) != 0 && key.f.outer.l4_dst == rte_cpu_to_be_16(kVxlanPort) &&
      end + sizeof(rte_vxlan_hdr) <= len) {
    const auto* vx = reinterpret_cast<const rte_vxlan_hdr*>(data + end);
    if ((vx->vx_flags & rte_cpu_to_be_32(0x08000000)) != 0) {
      key.f.outer.flags |= kIsVxlan;
      std::memcpy(key.f.meta.vni, reinterpret_cast<const uint8_t*>(&vx->vx_vni), 3);
      const uint32_t inner = end + sizeof(rte_vxlan_hdr);
      layout.inner_offset = static_cast<uint16_t>(inner);
      bool iv4 = false;
      bool iv6 = false;
      uint16_t il3 = 0;
      ParseLayer(data, len, inner, key.f.inner, &il3, &iv4, &iv6);
    }
  }
}

// The frame nearly all traffic is: untagged Ethernet, IPv4 without options, not a later
// fragment, TCP or UDP (not to the VXLAN port). For it, fills exactly ExtractKeyGeneric's key and
// layout, as five whole words built from unaligned 8-byte loads instead of a zeroed key patched
// field by field through a chain of branches, and returns true; any other frame: false, nothing
// written. tests/soc_agent/device/flow_key_test.cc holds the two to the same result.
__attribute__((always_inline)) inline bool ExtractKeyFast(const rte_mbuf* m, uint16_t in_port,
                                                          uint32_t mark, FlowKey& key,
                                                          PacketLayout& layout) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  const auto* d = rte_pktmbuf_mtod(m, const uint8_t*);
  constexpr uint32_t kL3 = sizeof(rte_ether_hdr);
  constexpr uint32_t kL4 = kL3 + sizeof(rte_ipv4_hdr);
  if (m->data_len >= kL4 + 4) {
    uint16_t ether_type;
    std::memcpy(&ether_type, d + 12, 2);
    uint16_t frag;
    std::memcpy(&frag, d + kL3 + 6, 2);
    uint32_t ports;
    std::memcpy(&ports, d + kL4, 4);
    const uint8_t proto = d[kL3 + 9];
    const bool udp = proto == IPPROTO_UDP;
    if (ether_type == rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) && (d[kL3] & 0x0f) == 5 &&
        (frag & rte_cpu_to_be_16(RTE_IPV4_HDR_OFFSET_MASK)) == 0 && (udp || proto == IPPROTO_TCP) &&
        !(udp && static_cast<uint16_t>(ports >> 16) == rte_cpu_to_be_16(kVxlanPort))) {
      uint64_t addrs;
      std::memcpy(&addrs, d + kL3 + 12, 8);
      uint64_t dst_mac;
      uint64_t src_mac;
      std::memcpy(&dst_mac, d, 8);
      std::memcpy(&src_mac, d + 6, 8);
      const uint8_t flags = kIsIpv4 | (udp ? kIsUdp : kIsTcp);
      // Words 0-4: LayerKey's in_port, l4_src, l4_dst, ip_proto, flags | ipv4_src, ipv4_dst |
      // ether_type (no VLAN, no ICMP) | eth_dst | eth_src, pads zero.
      key.w[0] = in_port | uint64_t{ports} << 16 | uint64_t{proto} << 48 | uint64_t{flags} << 56;
      key.w[1] = addrs;
      key.w[2] = ether_type;
      key.w[3] = dst_mac & 0xffffffffffffull;
      key.w[4] = src_mac & 0xffffffffffffull;
      for (int w = 5; w < kKeyWords; ++w) {
        key.w[w] = 0;
      }
      key.f.meta.mark = mark;
      layout.l3_offset = kL3;
      layout.inner_offset = 0;
      layout.l3_is_ipv4 = 1;
      layout.l3_is_ipv6 = 0;
      return true;
    }
  }
#endif
  return false;
}

// The datapath's parser.
__attribute__((always_inline)) inline void ExtractKey(const rte_mbuf* m, uint16_t in_port,
                                                      uint32_t mark, FlowKey& key,
                                                      PacketLayout& layout) {
  if (!ExtractKeyFast(m, in_port, mark, key, layout)) {
    ExtractKeyGeneric(m, in_port, mark, key, layout);
  }
}

}  // namespace nicswitch::device::softasic_internal
