// rte_flow arrays -> (group, priority, key mask/value, action program), refusing what the
// softasic cannot execute the way a PMD refuses it.

#include <rte_flow.h>
#include <rte_icmp.h>

#include <cstring>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "soc_agent/device/rte_flow_names.h"
#include "soc_agent/device/softasic_internal.h"

namespace nicswitch::device::softasic_internal {
namespace {

std::string ItemName(int type) { return RteFlowItemName(type); }
std::string ActionName(int type) { return RteFlowActionName(type); }

// A field of an item's spec: where it is and whether the softasic can match on it.
struct FieldDesc {
  size_t offset;
  size_t size;
  const char* name;
};

bool AllZero(const void* p, size_t n) {
  const auto* b = static_cast<const uint8_t*>(p);
  for (size_t i = 0; i < n; ++i) {
    if (b[i] != 0) {
      return false;
    }
  }
  return true;
}

// Refuses a mask that is non-zero outside the supported fields: names the first such field.
template <typename Where>
absl::Status CheckMaskedFields(const Where& where, const void* mask, size_t size,
                               std::initializer_list<FieldDesc> supported,
                               std::initializer_list<FieldDesc> known) {
  const auto* m = static_cast<const uint8_t*>(mask);
  for (size_t i = 0; i < size; ++i) {
    if (m[i] == 0) {
      continue;
    }
    bool ok = false;
    for (const auto& f : supported) {
      if (i >= f.offset && i < f.offset + f.size) {
        ok = true;
        break;
      }
    }
    if (ok) {
      continue;
    }
    const char* name = nullptr;
    for (const auto& f : known) {
      if (i >= f.offset && i < f.offset + f.size) {
        name = f.name;
        break;
      }
    }
    return absl::UnimplementedError(
        name != nullptr
            ? absl::StrCat(where(), ": matching on field ", name, " is not supported")
            : absl::StrCat(where(), ": matching on byte ", i, " of the item is not supported"));
  }
  return absl::OkStatus();
}

// Writes spec&mask into value and ORs mask into the key mask, for `n` bytes at `dst_offset`.
void SetField(CompiledFlow& flow, size_t key_offset, const void* spec, const void* mask, size_t n) {
  auto* kv = reinterpret_cast<uint8_t*>(&flow.value) + key_offset;
  auto* km = reinterpret_cast<uint8_t*>(&flow.mask) + key_offset;
  const auto* s = static_cast<const uint8_t*>(spec);
  const auto* m = static_cast<const uint8_t*>(mask);
  for (size_t i = 0; i < n; ++i) {
    km[i] |= m[i];
    kv[i] = static_cast<uint8_t>((kv[i] & ~m[i]) | (s[i] & m[i]));
  }
}

void SetFlag(CompiledFlow& flow, size_t layer_offset, uint8_t flag, bool value) {
  const size_t off = layer_offset + offsetof(LayerKey, flags);
  auto* kv = reinterpret_cast<uint8_t*>(&flow.value) + off;
  auto* km = reinterpret_cast<uint8_t*>(&flow.mask) + off;
  *km |= flag;
  if (value) {
    *kv |= flag;
  } else {
    *kv &= static_cast<uint8_t>(~flag);
  }
}

// Default masks (rte_flow.h defines them only for C).
const rte_flow_item_eth kEthMask = [] {
  rte_flow_item_eth m{};
  std::memset(&m.dst, 0xff, 6);
  std::memset(&m.src, 0xff, 6);
  m.type = 0xffff;
  return m;
}();
const rte_flow_item_vlan kVlanMask = [] {
  rte_flow_item_vlan m{};
  m.tci = rte_cpu_to_be_16(0x0fff);
  return m;
}();
const rte_flow_item_ipv4 kIpv4Mask = [] {
  rte_flow_item_ipv4 m{};
  m.hdr.src_addr = 0xffffffff;
  m.hdr.dst_addr = 0xffffffff;
  return m;
}();
const rte_flow_item_ipv6 kIpv6Mask = [] {
  rte_flow_item_ipv6 m{};
  std::memset(m.hdr.src_addr, 0xff, 16);
  std::memset(m.hdr.dst_addr, 0xff, 16);
  return m;
}();
const rte_flow_item_udp kUdpMask = [] {
  rte_flow_item_udp m{};
  m.hdr.src_port = 0xffff;
  m.hdr.dst_port = 0xffff;
  return m;
}();
const rte_flow_item_tcp kTcpMask = [] {
  rte_flow_item_tcp m{};
  m.hdr.src_port = 0xffff;
  m.hdr.dst_port = 0xffff;
  return m;
}();
const rte_flow_item_icmp kIcmpMask = [] {
  rte_flow_item_icmp m{};
  m.hdr.icmp_type = 0xff;
  m.hdr.icmp_code = 0xff;
  return m;
}();
const rte_flow_item_vxlan kVxlanMask = [] {
  rte_flow_item_vxlan m{};
  std::memset(m.vni, 0xff, 3);
  return m;
}();
const rte_flow_item_ethdev kEthdevMask = {0xffff};
const rte_flow_item_port_id kPortIdMask = {0xffffffff};
const rte_flow_item_mark kMarkMask = {0xffffffff};
const rte_flow_item_tag kTagMask = {0xffffffff, 0xff};

enum Level { kNone = 0, kL2 = 1, kVlanLevel = 2, kL3 = 3, kL4 = 4, kTunnel = 5 };

uint32_t SumWords(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) {
    sum += static_cast<uint32_t>(p[i]) << 8 | p[i + 1];
  }
  return sum;
}

// Builds the encap template from VXLAN_ENCAP's definition items.
absl::Status BuildVxlanEncap(const std::string& where, const rte_flow_item* def,
                             ActionProgram& program) {
  if (def == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": no definition pattern"));
  }
  uint8_t* t = program.encap;
  size_t off = 0;
  int stage = 0;  // 0 eth, 1 vlan/ip, 2 udp, 3 vxlan, 4 end
  // Offset of the EtherType field to fill when the next header is known.
  size_t last_type = 0;
  bool have_type = false;
  auto set_type = [&](uint16_t type) {
    const uint16_t be = rte_cpu_to_be_16(type);
    std::memcpy(t + last_type, &be, 2);
  };
  for (int i = 0;; ++i) {
    const rte_flow_item& it = def[i];
    if (it.type == RTE_FLOW_ITEM_TYPE_END) {
      break;
    }
    if (it.type == RTE_FLOW_ITEM_TYPE_VOID) {
      continue;
    }
    const std::string item_where =
        absl::StrCat(where, ": definition[", i, "] (", ItemName(it.type), ")");
    if (it.spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(item_where, ": needs a spec"));
    }
    switch (it.type) {
      case RTE_FLOW_ITEM_TYPE_ETH: {
        if (stage != 0) {
          break;
        }
        const auto* s = static_cast<const rte_flow_item_eth*>(it.spec);
        auto* eth = reinterpret_cast<rte_ether_hdr*>(t + off);
        eth->dst_addr = s->dst;
        eth->src_addr = s->src;
        last_type = off + offsetof(rte_ether_hdr, ether_type);
        have_type = true;
        off += sizeof(rte_ether_hdr);
        stage = 1;
        continue;
      }
      case RTE_FLOW_ITEM_TYPE_VLAN: {
        if (stage != 1 || !have_type) {
          break;
        }
        const auto* s = static_cast<const rte_flow_item_vlan*>(it.spec);
        set_type(RTE_ETHER_TYPE_VLAN);
        auto* vlan = reinterpret_cast<rte_vlan_hdr*>(t + off);
        vlan->vlan_tci = s->tci;
        last_type = off + offsetof(rte_vlan_hdr, eth_proto);
        off += sizeof(rte_vlan_hdr);
        continue;
      }
      case RTE_FLOW_ITEM_TYPE_IPV4: {
        if (stage != 1) {
          break;
        }
        const auto* s = static_cast<const rte_flow_item_ipv4*>(it.spec);
        set_type(RTE_ETHER_TYPE_IPV4);
        auto* ip = reinterpret_cast<rte_ipv4_hdr*>(t + off);
        *ip = s->hdr;
        if (ip->version_ihl == 0) {
          ip->version_ihl = RTE_IPV4_VHL_DEF;
        }
        if (ip->version_ihl != RTE_IPV4_VHL_DEF) {
          return absl::UnimplementedError(
              absl::StrCat(item_where, ": only a 20-byte IPv4 header (version_ihl 0x45)"));
        }
        if (ip->time_to_live == 0) {
          ip->time_to_live = 64;
        }
        ip->next_proto_id = IPPROTO_UDP;
        ip->total_length = 0;
        ip->hdr_checksum = 0;
        program.encap_ip_offset = static_cast<uint16_t>(off);
        program.encap_ipv6 = 0;
        program.encap_ip_sum = SumWords(t + off, sizeof(rte_ipv4_hdr));
        off += sizeof(rte_ipv4_hdr);
        stage = 2;
        continue;
      }
      case RTE_FLOW_ITEM_TYPE_IPV6: {
        if (stage != 1) {
          break;
        }
        const auto* s = static_cast<const rte_flow_item_ipv6*>(it.spec);
        set_type(RTE_ETHER_TYPE_IPV6);
        auto* ip = reinterpret_cast<rte_ipv6_hdr*>(t + off);
        *ip = s->hdr;
        if ((rte_be_to_cpu_32(ip->vtc_flow) >> 28) == 0) {
          ip->vtc_flow = rte_cpu_to_be_32(0x60000000u | rte_be_to_cpu_32(ip->vtc_flow));
        }
        if (ip->hop_limits == 0) {
          ip->hop_limits = 64;
        }
        ip->proto = IPPROTO_UDP;
        ip->payload_len = 0;
        program.encap_ip_offset = static_cast<uint16_t>(off);
        program.encap_ipv6 = 1;
        off += sizeof(rte_ipv6_hdr);
        stage = 2;
        continue;
      }
      case RTE_FLOW_ITEM_TYPE_UDP: {
        if (stage != 2) {
          break;
        }
        const auto* s = static_cast<const rte_flow_item_udp*>(it.spec);
        auto* udp = reinterpret_cast<rte_udp_hdr*>(t + off);
        udp->src_port = s->hdr.src_port;
        udp->dst_port = s->hdr.dst_port != 0 ? s->hdr.dst_port : rte_cpu_to_be_16(kVxlanPort);
        program.encap_udp_offset = static_cast<uint16_t>(off);
        off += sizeof(rte_udp_hdr);
        stage = 3;
        continue;
      }
      case RTE_FLOW_ITEM_TYPE_VXLAN: {
        if (stage != 3) {
          break;
        }
        const auto* s = static_cast<const rte_flow_item_vxlan*>(it.spec);
        auto* vx = reinterpret_cast<rte_flow_item_vxlan*>(t + off);
        vx->flags = s->flags != 0 ? s->flags : 0x08;
        std::memcpy(vx->vni, s->vni, 3);
        off += sizeof(rte_vxlan_hdr);
        program.encap_vxlan = 1;
        stage = 4;
        continue;
      }
      default:
        return absl::UnimplementedError(absl::StrCat(item_where, ": not supported in an encap"));
    }
    return absl::InvalidArgumentError(absl::StrCat(
        item_where, ": out of order; expected ETH / [VLAN] / IPV4|IPV6 / UDP / VXLAN"));
  }
  if (stage != 4) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": definition must be ETH / [VLAN] / IPV4|IPV6 / UDP / VXLAN / END"));
  }
  program.encap_size = static_cast<uint16_t>(off);
  return absl::OkStatus();
}

// RAW_ENCAP: the bytes are pushed as given; when they parse as Ethernet/[VLAN]/IP/UDP the IP and
// UDP lengths and checksums are filled per packet like VXLAN_ENCAP.
absl::Status BuildRawEncap(const std::string& where, const rte_flow_action_raw_encap& raw,
                           ActionProgram& program) {
  if (raw.data == nullptr || raw.size == 0) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": no data"));
  }
  if (raw.size > kMaxEncap) {
    return absl::UnimplementedError(
        absl::StrCat(where, ": size ", raw.size, " exceeds the maximum of ", kMaxEncap));
  }
  std::memcpy(program.encap, raw.data, raw.size);
  program.encap_size = static_cast<uint16_t>(raw.size);
  LayerKey layer{};
  uint16_t l3 = 0;
  bool v4 = false;
  bool v6 = false;
  ParseLayer(program.encap, program.encap_size, 0, layer, &l3, &v4, &v6);
  if ((layer.flags & kIsUdp) != 0) {
    program.encap_ip_offset = l3;
    program.encap_ipv6 = v6 ? 1 : 0;
    program.encap_udp_offset =
        static_cast<uint16_t>(l3 + (v4 ? (program.encap[l3] & 0xf) * 4 : sizeof(rte_ipv6_hdr)));
    if (v4) {
      auto* ip = reinterpret_cast<rte_ipv4_hdr*>(program.encap + l3);
      ip->total_length = 0;
      ip->hdr_checksum = 0;
      program.encap_ip_sum = SumWords(program.encap + l3, (ip->version_ihl & 0xf) * 4u);
    } else {
      reinterpret_cast<rte_ipv6_hdr*>(program.encap + l3)->payload_len = 0;
    }
    auto* udp = reinterpret_cast<rte_udp_hdr*>(program.encap + program.encap_udp_offset);
    program.encap_vxlan = udp->dst_port == rte_cpu_to_be_16(kVxlanPort) ? 1 : 0;
  }
  return absl::OkStatus();
}

template <typename Where>
absl::Status AddOp(const Where& where, ActionProgram& program, Op op) {
  for (int i = 0; i < program.num_ops; ++i) {
    if (program.ops[i] == op && op != Op::kEncap && op != Op::kRawDecap) {
      return absl::InvalidArgumentError(absl::StrCat(where(), ": duplicate action"));
    }
  }
  if (program.num_ops == kMaxOps) {
    return absl::UnimplementedError(absl::StrCat(where(), ": more than ", kMaxOps, " actions"));
  }
  program.ops[program.num_ops++] = op;
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CompiledFlow> CompileFlow(const rte_flow_attr& attr, const rte_flow_item* pattern,
                                         const rte_flow_action* actions,
                                         const CompileContext& context) {
  CompiledFlow flow;
  if (attr.transfer == 0 || attr.ingress != 0 || attr.egress != 0) {
    return absl::UnimplementedError(
        "attr: only transfer rules are supported (transfer=1, ingress=0, egress=0)");
  }
  flow.group = attr.group;
  flow.priority = attr.priority;
  if (pattern == nullptr || actions == nullptr) {
    return absl::InvalidArgumentError("pattern and actions must not be NULL");
  }

  // ---- pattern ----
  size_t layer = offsetof(FlowKey, f.outer);
  bool inner = false;
  int level = kNone;
  for (int i = 0;; ++i) {
    const rte_flow_item& it = pattern[i];
    if (it.type == RTE_FLOW_ITEM_TYPE_END) {
      break;
    }
    if (i > 64) {
      return absl::InvalidArgumentError("pattern: no END item within 64 items");
    }
    if (it.type == RTE_FLOW_ITEM_TYPE_VOID) {
      continue;
    }
    // Built only when reporting an error: the insert path stays allocation-free.
    auto where = [&] { return absl::StrCat("pattern[", i, "] (", ItemName(it.type), ")"); };
    if (it.last != nullptr) {
      return absl::UnimplementedError(absl::StrCat(where(), ": ranges (last) are not supported"));
    }
    auto order = [&](int new_level) -> absl::Status {
      if (new_level <= level) {
        return absl::InvalidArgumentError(absl::StrCat(where(), ": item out of order"));
      }
      level = new_level;
      return absl::OkStatus();
    };
    switch (it.type) {
      case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT:
      case RTE_FLOW_ITEM_TYPE_PORT_ID: {
        if (inner || level != kNone) {
          return absl::InvalidArgumentError(absl::StrCat(where(), ": must precede header items"));
        }
        if (it.spec == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(where(), ": needs a spec"));
        }
        uint32_t port = 0;
        bool full_mask = true;
        if (it.type == RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT) {
          port = static_cast<const rte_flow_item_ethdev*>(it.spec)->port_id;
          const auto* m =
              static_cast<const rte_flow_item_ethdev*>(it.mask ? it.mask : &kEthdevMask);
          full_mask = m->port_id == 0xffff;
        } else {
          port = static_cast<const rte_flow_item_port_id*>(it.spec)->id;
          const auto* m =
              static_cast<const rte_flow_item_port_id*>(it.mask ? it.mask : &kPortIdMask);
          full_mask = m->id == 0xffffffff;
        }
        if (!full_mask) {
          return absl::UnimplementedError(absl::StrCat(where(), ": only a full port mask"));
        }
        const int index = port <= 0xffff ? context.port_index(static_cast<uint16_t>(port)) : -1;
        if (index < 0) {
          return absl::NotFoundError(
              absl::StrCat(where(), ": port ", port, " is not a port of this switch"));
        }
        const uint16_t value = static_cast<uint16_t>(index);
        const uint16_t mask = 0xffff;
        SetField(flow, offsetof(FlowKey, f.outer.in_port), &value, &mask, 2);
        break;
      }
      case RTE_FLOW_ITEM_TYPE_ETH: {
        RETURN_IF_ERROR(order(kL2));
        const auto* m = static_cast<const rte_flow_item_eth*>(it.mask ? it.mask : &kEthMask);
        rte_flow_item_eth zero{};
        const auto* s = it.spec ? static_cast<const rte_flow_item_eth*>(it.spec) : &zero;
        if (it.spec == nullptr) {
          break;  // any Ethernet frame
        }
        RETURN_IF_ERROR(CheckMaskedFields(where, m, offsetof(rte_flow_item_eth, hdr) + 14,
                                          {{0, 14, "hdr"}}, {}));
        SetField(flow, layer + offsetof(LayerKey, eth_dst), &s->dst, &m->dst, 6);
        SetField(flow, layer + offsetof(LayerKey, eth_src), &s->src, &m->src, 6);
        if (m->has_vlan) {
          SetFlag(flow, layer, kHasVlan, s->has_vlan);
        }
        if (m->type != 0) {
          const uint16_t t = s->type & m->type;
          if (m->type == 0xffff && (t == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) ||
                                    t == rte_cpu_to_be_16(RTE_ETHER_TYPE_QINQ))) {
            SetFlag(flow, layer, kHasVlan, true);
          } else {
            SetField(flow, layer + offsetof(LayerKey, ether_type), &s->type, &m->type, 2);
          }
        }
        break;
      }
      case RTE_FLOW_ITEM_TYPE_VLAN: {
        RETURN_IF_ERROR(order(kVlanLevel));
        SetFlag(flow, layer, kHasVlan, true);
        if (it.spec == nullptr) {
          break;
        }
        const auto* m = static_cast<const rte_flow_item_vlan*>(it.mask ? it.mask : &kVlanMask);
        const auto* s = static_cast<const rte_flow_item_vlan*>(it.spec);
        if (m->has_more_vlan) {
          return absl::UnimplementedError(
              absl::StrCat(where(), ": has_more_vlan is not supported"));
        }
        SetField(flow, layer + offsetof(LayerKey, vlan_tci), &s->tci, &m->tci, 2);
        SetField(flow, layer + offsetof(LayerKey, ether_type), &s->inner_type, &m->inner_type, 2);
        break;
      }
      case RTE_FLOW_ITEM_TYPE_IPV4: {
        RETURN_IF_ERROR(order(kL3));
        SetFlag(flow, layer, kIsIpv4, true);
        if (it.spec == nullptr) {
          break;
        }
        const auto* m = static_cast<const rte_flow_item_ipv4*>(it.mask ? it.mask : &kIpv4Mask);
        const auto* s = static_cast<const rte_flow_item_ipv4*>(it.spec);
        RETURN_IF_ERROR(
            CheckMaskedFields(where, m, sizeof(*m),
                              {{offsetof(rte_ipv4_hdr, next_proto_id), 1, "next_proto_id"},
                               {offsetof(rte_ipv4_hdr, src_addr), 4, "src_addr"},
                               {offsetof(rte_ipv4_hdr, dst_addr), 4, "dst_addr"}},
                              {{offsetof(rte_ipv4_hdr, version_ihl), 1, "version_ihl"},
                               {offsetof(rte_ipv4_hdr, type_of_service), 1, "type_of_service"},
                               {offsetof(rte_ipv4_hdr, total_length), 2, "total_length"},
                               {offsetof(rte_ipv4_hdr, packet_id), 2, "packet_id"},
                               {offsetof(rte_ipv4_hdr, fragment_offset), 2, "fragment_offset"},
                               {offsetof(rte_ipv4_hdr, time_to_live), 1, "time_to_live"},
                               {offsetof(rte_ipv4_hdr, hdr_checksum), 2, "hdr_checksum"}}));
        SetField(flow, layer + offsetof(LayerKey, ipv4_src), &s->hdr.src_addr, &m->hdr.src_addr, 4);
        SetField(flow, layer + offsetof(LayerKey, ipv4_dst), &s->hdr.dst_addr, &m->hdr.dst_addr, 4);
        SetField(flow, layer + offsetof(LayerKey, ip_proto), &s->hdr.next_proto_id,
                 &m->hdr.next_proto_id, 1);
        break;
      }
      case RTE_FLOW_ITEM_TYPE_IPV6: {
        RETURN_IF_ERROR(order(kL3));
        SetFlag(flow, layer, kIsIpv6, true);
        if (it.spec == nullptr) {
          break;
        }
        const auto* m = static_cast<const rte_flow_item_ipv6*>(it.mask ? it.mask : &kIpv6Mask);
        const auto* s = static_cast<const rte_flow_item_ipv6*>(it.spec);
        RETURN_IF_ERROR(
            CheckMaskedFields(where, m, sizeof(*m),
                              {{offsetof(rte_ipv6_hdr, proto), 1, "proto"},
                               {offsetof(rte_ipv6_hdr, src_addr), 16, "src_addr"},
                               {offsetof(rte_ipv6_hdr, dst_addr), 16, "dst_addr"}},
                              {{offsetof(rte_ipv6_hdr, vtc_flow), 4, "vtc_flow"},
                               {offsetof(rte_ipv6_hdr, payload_len), 2, "payload_len"},
                               {offsetof(rte_ipv6_hdr, hop_limits), 1, "hop_limits"},
                               {sizeof(rte_ipv6_hdr), 4, "extension header flags (has_*_ext)"}}));
        SetField(flow, layer + offsetof(LayerKey, ipv6_src), s->hdr.src_addr, m->hdr.src_addr, 16);
        SetField(flow, layer + offsetof(LayerKey, ipv6_dst), s->hdr.dst_addr, m->hdr.dst_addr, 16);
        SetField(flow, layer + offsetof(LayerKey, ip_proto), &s->hdr.proto, &m->hdr.proto, 1);
        break;
      }
      case RTE_FLOW_ITEM_TYPE_UDP:
      case RTE_FLOW_ITEM_TYPE_TCP: {
        RETURN_IF_ERROR(order(kL4));
        const bool udp = it.type == RTE_FLOW_ITEM_TYPE_UDP;
        SetFlag(flow, layer, udp ? kIsUdp : kIsTcp, true);
        if (it.spec == nullptr) {
          break;
        }
        const void* mask = it.mask ? it.mask
                                   : (udp ? static_cast<const void*>(&kUdpMask)
                                          : static_cast<const void*>(&kTcpMask));
        // src_port and dst_port are the first four bytes of both headers.
        const auto* m = static_cast<const uint8_t*>(mask);
        const auto* s = static_cast<const uint8_t*>(it.spec);
        if (udp) {
          RETURN_IF_ERROR(CheckMaskedFields(where, mask, sizeof(rte_flow_item_udp),
                                            {{0, 2, "src_port"}, {2, 2, "dst_port"}},
                                            {{4, 2, "dgram_len"}, {6, 2, "dgram_cksum"}}));
        } else {
          RETURN_IF_ERROR(CheckMaskedFields(where, mask, sizeof(rte_flow_item_tcp),
                                            {{0, 2, "src_port"}, {2, 2, "dst_port"}},
                                            {{4, 4, "sent_seq"},
                                             {8, 4, "recv_ack"},
                                             {12, 1, "data_off"},
                                             {13, 1, "tcp_flags"},
                                             {14, 2, "rx_win"},
                                             {16, 2, "cksum"},
                                             {18, 2, "tcp_urp"}}));
        }
        SetField(flow, layer + offsetof(LayerKey, l4_src), s, m, 2);
        SetField(flow, layer + offsetof(LayerKey, l4_dst), s + 2, m + 2, 2);
        break;
      }
      case RTE_FLOW_ITEM_TYPE_ICMP: {
        RETURN_IF_ERROR(order(kL4));
        SetFlag(flow, layer, kIsIcmp, true);
        if (it.spec == nullptr) {
          break;
        }
        const auto* m = static_cast<const rte_flow_item_icmp*>(it.mask ? it.mask : &kIcmpMask);
        const auto* s = static_cast<const rte_flow_item_icmp*>(it.spec);
        RETURN_IF_ERROR(
            CheckMaskedFields(where, m, sizeof(*m), {{0, 1, "icmp_type"}, {1, 1, "icmp_code"}},
                              {{2, 2, "icmp_cksum"}, {4, 2, "icmp_ident"}, {6, 2, "icmp_seq_nb"}}));
        SetField(flow, layer + offsetof(LayerKey, icmp_type), &s->hdr.icmp_type, &m->hdr.icmp_type,
                 1);
        SetField(flow, layer + offsetof(LayerKey, icmp_code), &s->hdr.icmp_code, &m->hdr.icmp_code,
                 1);
        break;
      }
      case RTE_FLOW_ITEM_TYPE_VXLAN: {
        if (inner) {
          return absl::UnimplementedError(absl::StrCat(where(), ": nested tunnels"));
        }
        if (level > kL4) {
          return absl::InvalidArgumentError(absl::StrCat(where(), ": item out of order"));
        }
        SetFlag(flow, layer, kIsUdp, true);
        SetFlag(flow, layer, kIsVxlan, true);
        if (it.spec != nullptr) {
          const auto* m = static_cast<const rte_flow_item_vxlan*>(it.mask ? it.mask : &kVxlanMask);
          const auto* s = static_cast<const rte_flow_item_vxlan*>(it.spec);
          if (m->flags != 0 && (s->flags & m->flags) != (0x08 & m->flags)) {
            return absl::UnimplementedError(
                absl::StrCat(where(), ": only flags 0x08 (I) can be matched"));
          }
          if (!AllZero(m->rsvd0, 3) || m->rsvd1 != 0) {
            return absl::UnimplementedError(
                absl::StrCat(where(), ": matching on reserved fields is not supported"));
          }
          SetField(flow, offsetof(FlowKey, f.meta.vni), s->vni, m->vni, 3);
        }
        inner = true;
        layer = offsetof(FlowKey, f.inner);
        level = kNone;
        break;
      }
      case RTE_FLOW_ITEM_TYPE_MARK: {
        if (it.spec == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(where(), ": needs a spec"));
        }
        const auto* m = static_cast<const rte_flow_item_mark*>(it.mask ? it.mask : &kMarkMask);
        const auto* s = static_cast<const rte_flow_item_mark*>(it.spec);
        SetField(flow, offsetof(FlowKey, f.meta.mark), &s->id, &m->id, 4);
        break;
      }
      case RTE_FLOW_ITEM_TYPE_TAG: {
        if (it.spec == nullptr) {
          return absl::InvalidArgumentError(absl::StrCat(where(), ": needs a spec"));
        }
        const auto* m = static_cast<const rte_flow_item_tag*>(it.mask ? it.mask : &kTagMask);
        const auto* s = static_cast<const rte_flow_item_tag*>(it.spec);
        if (m->index != 0xff) {
          return absl::UnimplementedError(absl::StrCat(where(), ": index must be matched exactly"));
        }
        SetField(flow, offsetof(FlowKey, f.meta.tag_data), &s->data, &m->data, 4);
        SetField(flow, offsetof(FlowKey, f.meta.tag_index), &s->index, &m->index, 1);
        break;
      }
      default:
        return absl::UnimplementedError(absl::StrCat(where(), ": item not supported"));
    }
  }

  // ---- actions ----
  ActionProgram& program = flow.program;
  int fates = 0;
  for (int i = 0;; ++i) {
    const rte_flow_action& a = actions[i];
    if (a.type == RTE_FLOW_ACTION_TYPE_END) {
      break;
    }
    if (i > 64) {
      return absl::InvalidArgumentError("actions: no END action within 64 actions");
    }
    if (a.type == RTE_FLOW_ACTION_TYPE_VOID) {
      continue;
    }
    auto where = [&] { return absl::StrCat("actions[", i, "] (", ActionName(a.type), ")"); };
    auto need_conf = [&]() -> absl::Status {
      if (a.conf == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(where(), ": needs a configuration"));
      }
      return absl::OkStatus();
    };
    auto port_of = [&](uint32_t port_id) -> absl::StatusOr<uint16_t> {
      const int index = port_id <= 0xffff ? context.port_index(static_cast<uint16_t>(port_id)) : -1;
      if (index < 0) {
        return absl::NotFoundError(
            absl::StrCat(where(), ": port ", port_id, " is not a port of this switch"));
      }
      return static_cast<uint16_t>(index);
    };
    switch (a.type) {
      case RTE_FLOW_ACTION_TYPE_DROP:
        program.fate = Fate::kDrop;
        ++fates;
        break;
      case RTE_FLOW_ACTION_TYPE_COUNT:
        RETURN_IF_ERROR(AddOp(where, program, Op::kCount));
        break;
      case RTE_FLOW_ACTION_TYPE_AGE: {
        RETURN_IF_ERROR(need_conf());
        const auto* c = static_cast<const rte_flow_action_age*>(a.conf);
        if (c->timeout == 0) {
          return absl::InvalidArgumentError(absl::StrCat(where(), ": timeout must be > 0"));
        }
        program.age_seconds = c->timeout;
        RETURN_IF_ERROR(AddOp(where, program, Op::kAge));
        break;
      }
      case RTE_FLOW_ACTION_TYPE_METER: {
        RETURN_IF_ERROR(need_conf());
        const auto* c = static_cast<const rte_flow_action_meter*>(a.conf);
        auto index = context.meter_index(c->mtr_id);
        if (!index.ok()) {
          return absl::NotFoundError(
              absl::StrCat(where(), ": meter ", c->mtr_id, " does not exist"));
        }
        program.meter_index = *index;
        flow.has_meter = true;
        flow.meter_id = c->mtr_id;
        RETURN_IF_ERROR(AddOp(where, program, Op::kMeter));
        break;
      }
      case RTE_FLOW_ACTION_TYPE_MARK: {
        RETURN_IF_ERROR(need_conf());
        program.mark = static_cast<const rte_flow_action_mark*>(a.conf)->id;
        RETURN_IF_ERROR(AddOp(where, program, Op::kMark));
        break;
      }
      case RTE_FLOW_ACTION_TYPE_SET_MAC_SRC:
      case RTE_FLOW_ACTION_TYPE_SET_MAC_DST: {
        RETURN_IF_ERROR(need_conf());
        const auto* c = static_cast<const rte_flow_action_set_mac*>(a.conf);
        const bool src = a.type == RTE_FLOW_ACTION_TYPE_SET_MAC_SRC;
        std::memcpy(src ? program.mac_src : program.mac_dst, c->mac_addr, 6);
        RETURN_IF_ERROR(AddOp(where, program, src ? Op::kSetMacSrc : Op::kSetMacDst));
        break;
      }
      case RTE_FLOW_ACTION_TYPE_DEC_TTL:
        RETURN_IF_ERROR(AddOp(where, program, Op::kDecTtl));
        break;
      case RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP: {
        RETURN_IF_ERROR(need_conf());
        if (program.encap_size != 0) {
          return absl::UnimplementedError(absl::StrCat(where(), ": only one encapsulation"));
        }
        RETURN_IF_ERROR(BuildVxlanEncap(
            where(), static_cast<const rte_flow_action_vxlan_encap*>(a.conf)->definition, program));
        RETURN_IF_ERROR(AddOp(where, program, Op::kEncap));
        program.modifies_headers = 1;
        break;
      }
      case RTE_FLOW_ACTION_TYPE_RAW_ENCAP: {
        RETURN_IF_ERROR(need_conf());
        if (program.encap_size != 0) {
          return absl::UnimplementedError(absl::StrCat(where(), ": only one encapsulation"));
        }
        RETURN_IF_ERROR(BuildRawEncap(
            where(), *static_cast<const rte_flow_action_raw_encap*>(a.conf), program));
        RETURN_IF_ERROR(AddOp(where, program, Op::kEncap));
        program.modifies_headers = 1;
        break;
      }
      case RTE_FLOW_ACTION_TYPE_VXLAN_DECAP: {
        const size_t flags = offsetof(FlowKey, f.outer.flags);
        if ((reinterpret_cast<const uint8_t*>(&flow.value)[flags] & kIsVxlan) == 0) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(), ": the pattern must match VXLAN (a VXLAN item)"));
        }
        RETURN_IF_ERROR(AddOp(where, program, Op::kVxlanDecap));
        program.modifies_headers = 1;
        break;
      }
      case RTE_FLOW_ACTION_TYPE_RAW_DECAP: {
        RETURN_IF_ERROR(need_conf());
        const auto* c = static_cast<const rte_flow_action_raw_decap*>(a.conf);
        if (c->size == 0 || c->size > 256) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(), ": size ", c->size, " must be 1..256"));
        }
        program.raw_decap_size = static_cast<uint16_t>(c->size);
        RETURN_IF_ERROR(AddOp(where, program, Op::kRawDecap));
        program.modifies_headers = 1;
        break;
      }
      case RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT:
      case RTE_FLOW_ACTION_TYPE_PORT_ID: {
        RETURN_IF_ERROR(need_conf());
        const uint32_t id = a.type == RTE_FLOW_ACTION_TYPE_PORT_ID
                                ? static_cast<const rte_flow_action_port_id*>(a.conf)->id
                                : static_cast<const rte_flow_action_ethdev*>(a.conf)->port_id;
        ASSIGN_OR_RETURN(program.out_port, port_of(id));
        program.fate = Fate::kPort;
        ++fates;
        break;
      }
      case RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR: {
        RETURN_IF_ERROR(need_conf());
        ASSIGN_OR_RETURN(program.out_port,
                         port_of(static_cast<const rte_flow_action_ethdev*>(a.conf)->port_id));
        program.fate = Fate::kRepresentor;
        program.queue = 0;
        ++fates;
        break;
      }
      case RTE_FLOW_ACTION_TYPE_JUMP: {
        RETURN_IF_ERROR(need_conf());
        program.jump_group = static_cast<const rte_flow_action_jump*>(a.conf)->group;
        if (program.jump_group == flow.group) {
          return absl::InvalidArgumentError(
              absl::StrCat(where(), ": jump to the rule's own group ", flow.group));
        }
        program.fate = Fate::kJump;
        ++fates;
        break;
      }
      case RTE_FLOW_ACTION_TYPE_QUEUE: {
        RETURN_IF_ERROR(need_conf());
        const uint16_t q = static_cast<const rte_flow_action_queue*>(a.conf)->index;
        if (q >= context.representor_queues) {
          return absl::InvalidArgumentError(absl::StrCat(where(), ": queue ", q,
                                                         " >= the representor's ",
                                                         context.representor_queues, " queues"));
        }
        program.queue = q;
        program.fate = Fate::kQueue;
        ++fates;
        break;
      }
      default:
        return absl::UnimplementedError(absl::StrCat(where(), ": action not supported"));
    }
  }
  if (fates != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "actions: exactly one fate action (DROP, REPRESENTED_PORT, PORT_REPRESENTOR, JUMP, "
        "QUEUE) is required, got ",
        fates));
  }
  return flow;
}

// ---- Direct compile of a flowrules::Rule (the FlowDevice fast path) -------------------------
// Each step mirrors what flowrules::CompiledRule::Compile puts in the arrays and what the
// pattern/action loop above does with it; see CompileRuleDirect's contract.

namespace {

// spec&mask into value, mask into the key mask (as SetField with an all-ones mask).
void SetExact(CompiledFlow& flow, size_t key_offset, const void* value, size_t n) {
  auto* kv = reinterpret_cast<uint8_t*>(&flow.value) + key_offset;
  auto* km = reinterpret_cast<uint8_t*>(&flow.mask) + key_offset;
  std::memcpy(kv, value, n);
  std::memset(km, 0xff, n);
}

void SetIpv4Prefix(CompiledFlow& flow, size_t key_offset, const flowrules::Ipv4Prefix& p) {
  const uint32_t host_mask = p.length == 0    ? 0
                             : p.length >= 32 ? 0xffffffffu
                                              : ~((1u << (32 - p.length)) - 1);
  const uint32_t mask = rte_cpu_to_be_32(host_mask);
  const uint32_t value = rte_cpu_to_be_32(p.address.value) & mask;
  SetField(flow, key_offset, &value, &mask, 4);
}

void SetIpv6Prefix(CompiledFlow& flow, size_t key_offset, const flowrules::Ipv6Prefix& p) {
  uint8_t mask[16];
  for (int i = 0; i < 16; ++i) {
    const int bits = p.length - 8 * i;
    mask[i] = bits >= 8 ? 0xff : bits <= 0 ? 0 : static_cast<uint8_t>(0xff << (8 - bits));
  }
  SetField(flow, key_offset, p.address.bytes.data(), mask, 16);
}

// One header layer, as PatternBuilder::Layer emits it and the item cases above consume it.
bool LayerDirect(const flowrules::HeaderMatch& m, size_t layer, bool vxlan_outer,
                 CompiledFlow& flow) {
  const bool has_v6 = m.ipv6_src || m.ipv6_dst;
  const bool has_v4 = m.ipv4_src || m.ipv4_dst;
  const bool ipv6 = has_v6 || (!has_v4 && m.ether_type == 0x86dd);
  const bool l4_fields = m.l4_src_port || m.l4_dst_port || m.icmp_type || m.icmp_code;
  const bool l4_item = vxlan_outer || l4_fields;
  const bool ip_item = has_v4 || has_v6 || m.ip_protocol || (l4_item && !vxlan_outer);
  // ETH: addresses, and the ether type when there is no VLAN item to carry it.
  if (m.eth_dst) {
    SetExact(flow, layer + offsetof(LayerKey, eth_dst), m.eth_dst->bytes.data(), 6);
  }
  if (m.eth_src) {
    SetExact(flow, layer + offsetof(LayerKey, eth_src), m.eth_src->bytes.data(), 6);
  }
  if (m.ether_type && !m.vlan_id) {
    const uint16_t type = rte_cpu_to_be_16(*m.ether_type);
    if (type == rte_cpu_to_be_16(RTE_ETHER_TYPE_VLAN) ||
        type == rte_cpu_to_be_16(RTE_ETHER_TYPE_QINQ)) {
      SetFlag(flow, layer, kHasVlan, true);
    } else {
      SetExact(flow, layer + offsetof(LayerKey, ether_type), &type, 2);
    }
  }
  if (m.vlan_id) {
    SetFlag(flow, layer, kHasVlan, true);
    const uint16_t tci = rte_cpu_to_be_16(*m.vlan_id);
    const uint16_t tci_mask = rte_cpu_to_be_16(0x0fff);
    SetField(flow, layer + offsetof(LayerKey, vlan_tci), &tci, &tci_mask, 2);
    if (m.ether_type) {
      const uint16_t type = rte_cpu_to_be_16(*m.ether_type);
      SetExact(flow, layer + offsetof(LayerKey, ether_type), &type, 2);
    }
  }
  if (ip_item) {
    if (ipv6) {
      SetFlag(flow, layer, kIsIpv6, true);
      if (m.ipv6_src) {
        SetIpv6Prefix(flow, layer + offsetof(LayerKey, ipv6_src), *m.ipv6_src);
      }
      if (m.ipv6_dst) {
        SetIpv6Prefix(flow, layer + offsetof(LayerKey, ipv6_dst), *m.ipv6_dst);
      }
    } else {
      SetFlag(flow, layer, kIsIpv4, true);
      if (m.ipv4_src) {
        SetIpv4Prefix(flow, layer + offsetof(LayerKey, ipv4_src), *m.ipv4_src);
      }
      if (m.ipv4_dst) {
        SetIpv4Prefix(flow, layer + offsetof(LayerKey, ipv4_dst), *m.ipv4_dst);
      }
    }
    if (m.ip_protocol) {
      SetExact(flow, layer + offsetof(LayerKey, ip_proto), &*m.ip_protocol, 1);
    }
  }
  if (!l4_item) {
    return true;
  }
  if (m.icmp_type || m.icmp_code) {
    if (m.ip_protocol == IPPROTO_ICMPV6) {
      return false;  // ICMP6: the arrays path refuses it
    }
    SetFlag(flow, layer, kIsIcmp, true);
    if (m.icmp_type) {
      SetExact(flow, layer + offsetof(LayerKey, icmp_type), &*m.icmp_type, 1);
    }
    if (m.icmp_code) {
      SetExact(flow, layer + offsetof(LayerKey, icmp_code), &*m.icmp_code, 1);
    }
    return true;
  }
  SetFlag(flow, layer, m.ip_protocol == IPPROTO_TCP ? kIsTcp : kIsUdp, true);
  if (m.l4_src_port) {
    const uint16_t port = rte_cpu_to_be_16(*m.l4_src_port);
    SetExact(flow, layer + offsetof(LayerKey, l4_src), &port, 2);
  }
  if (m.l4_dst_port) {
    const uint16_t port = rte_cpu_to_be_16(*m.l4_dst_port);
    SetExact(flow, layer + offsetof(LayerKey, l4_dst), &port, 2);
  }
  return true;
}

bool AddOpDirect(ActionProgram& program, Op op) {
  if (program.num_ops == kMaxOps) {
    return false;
  }
  program.ops[program.num_ops++] = op;
  return true;
}

// VXLAN_ENCAP's template, as BuildVxlanEncap builds it from flowrules' definition items.
void EncapDirect(const flowrules::VxlanEncapAction& a, ActionProgram& program) {
  uint8_t* t = program.encap;
  auto* eth = reinterpret_cast<rte_ether_hdr*>(t);
  std::memcpy(&eth->dst_addr, a.eth_dst.bytes.data(), 6);
  std::memcpy(&eth->src_addr, a.eth_src.bytes.data(), 6);
  size_t off = sizeof(rte_ether_hdr);
  program.encap_ip_offset = static_cast<uint16_t>(off);
  if (const auto* v4 =
          std::get_if<std::pair<flowrules::Ipv4Address, flowrules::Ipv4Address>>(&a.ip)) {
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
    auto* ip = reinterpret_cast<rte_ipv4_hdr*>(t + off);
    ip->version_ihl = RTE_IPV4_VHL_DEF;
    ip->time_to_live = a.ttl != 0 ? a.ttl : 64;
    ip->next_proto_id = IPPROTO_UDP;
    ip->src_addr = rte_cpu_to_be_32(v4->first.value);
    ip->dst_addr = rte_cpu_to_be_32(v4->second.value);
    program.encap_ipv6 = 0;
    program.encap_ip_sum = SumWords(t + off, sizeof(rte_ipv4_hdr));
    off += sizeof(rte_ipv4_hdr);
  } else {
    const auto& v6 = std::get<std::pair<flowrules::Ipv6Address, flowrules::Ipv6Address>>(a.ip);
    eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV6);
    auto* ip = reinterpret_cast<rte_ipv6_hdr*>(t + off);
    ip->vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip->proto = IPPROTO_UDP;
    ip->hop_limits = a.ttl != 0 ? a.ttl : 64;
    std::memcpy(ip->src_addr, v6.first.bytes.data(), 16);
    std::memcpy(ip->dst_addr, v6.second.bytes.data(), 16);
    program.encap_ipv6 = 1;
    off += sizeof(rte_ipv6_hdr);
  }
  auto* udp = reinterpret_cast<rte_udp_hdr*>(t + off);
  udp->src_port = rte_cpu_to_be_16(a.udp_src);
  udp->dst_port = a.udp_dst != 0 ? rte_cpu_to_be_16(a.udp_dst) : rte_cpu_to_be_16(kVxlanPort);
  program.encap_udp_offset = static_cast<uint16_t>(off);
  off += sizeof(rte_udp_hdr);
  auto* vx = reinterpret_cast<rte_vxlan_hdr*>(t + off);
  vx->vx_flags = rte_cpu_to_be_32(0x08000000);
  vx->vx_vni = rte_cpu_to_be_32(a.vni << 8);
  off += sizeof(rte_vxlan_hdr);
  program.encap_vxlan = 1;
  program.encap_size = static_cast<uint16_t>(off);
}

}  // namespace

bool CompileRuleDirect(const flowrules::Rule& rule, const CompileContext& context,
                       CompiledFlow& flow) {
  if (rule.direction != flowrules::Direction::kTransfer) {
    return false;
  }
  flow.group = rule.group;
  flow.priority = rule.priority;
  const flowrules::Match& m = rule.match;
  if (m.represented_port) {
    const int index = context.port_index(*m.represented_port);
    if (index < 0) {
      return false;
    }
    const uint16_t value = static_cast<uint16_t>(index);
    SetExact(flow, offsetof(FlowKey, f.outer.in_port), &value, 2);
  }
  const size_t outer = offsetof(FlowKey, f.outer);
  if (!LayerDirect(m.outer, outer, m.vxlan.has_value(), flow)) {
    return false;
  }
  if (m.vxlan) {
    SetFlag(flow, outer, kIsUdp, true);
    SetFlag(flow, outer, kIsVxlan, true);
    if (m.vxlan->vni) {
      const uint32_t be = rte_cpu_to_be_32(*m.vxlan->vni << 8);
      SetExact(flow, offsetof(FlowKey, f.meta.vni), &be, 3);
    }
    if (!LayerDirect(m.inner, offsetof(FlowKey, f.inner), false, flow)) {
      return false;
    }
  }
  if (m.mark) {
    SetExact(flow, offsetof(FlowKey, f.meta.mark), &*m.mark, 4);
  }
  if (m.tag) {
    SetExact(flow, offsetof(FlowKey, f.meta.tag_data), &m.tag->data, 4);
    SetExact(flow, offsetof(FlowKey, f.meta.tag_index), &m.tag->index, 1);
  }

  ActionProgram& program = flow.program;
  int fates = 0;
  for (const flowrules::Action& action : rule.actions) {
    bool ok = true;
    std::visit(
        [&](const auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, flowrules::DropAction>) {
            program.fate = Fate::kDrop;
            ++fates;
          } else if constexpr (std::is_same_v<T, flowrules::CountAction>) {
            ok = AddOpDirect(program, Op::kCount);
          } else if constexpr (std::is_same_v<T, flowrules::AgeAction>) {
            program.age_seconds = a.seconds;
            ok = a.seconds != 0 && AddOpDirect(program, Op::kAge);
          } else if constexpr (std::is_same_v<T, flowrules::MeterAction>) {
            absl::StatusOr<uint32_t> index = context.meter_index(a.meter_id);
            if (!index.ok()) {
              ok = false;
              return;
            }
            program.meter_index = *index;
            flow.has_meter = true;
            flow.meter_id = a.meter_id;
            ok = AddOpDirect(program, Op::kMeter);
          } else if constexpr (std::is_same_v<T, flowrules::VxlanEncapAction>) {
            EncapDirect(a, program);
            ok = AddOpDirect(program, Op::kEncap);
            program.modifies_headers = 1;
          } else if constexpr (std::is_same_v<T, flowrules::VxlanDecapAction>) {
            ok = m.vxlan.has_value() && AddOpDirect(program, Op::kVxlanDecap);
            program.modifies_headers = 1;
          } else if constexpr (std::is_same_v<T, flowrules::SetMacSrcAction>) {
            std::memcpy(program.mac_src, a.mac.bytes.data(), 6);
            ok = AddOpDirect(program, Op::kSetMacSrc);
          } else if constexpr (std::is_same_v<T, flowrules::SetMacDstAction>) {
            std::memcpy(program.mac_dst, a.mac.bytes.data(), 6);
            ok = AddOpDirect(program, Op::kSetMacDst);
          } else if constexpr (std::is_same_v<T, flowrules::DecTtlAction>) {
            ok = AddOpDirect(program, Op::kDecTtl);
          } else if constexpr (std::is_same_v<T, flowrules::RepresentedPortAction> ||
                               std::is_same_v<T, flowrules::PortRepresentorAction>) {
            const int index = context.port_index(a.port_id);
            if (index < 0) {
              ok = false;
              return;
            }
            program.out_port = static_cast<uint16_t>(index);
            if constexpr (std::is_same_v<T, flowrules::RepresentedPortAction>) {
              program.fate = Fate::kPort;
            } else {
              program.fate = Fate::kRepresentor;
              program.queue = 0;
            }
            ++fates;
          } else if constexpr (std::is_same_v<T, flowrules::JumpAction>) {
            program.jump_group = a.group;
            program.fate = Fate::kJump;
            ok = a.group != rule.group;
            ++fates;
          } else if constexpr (std::is_same_v<T, flowrules::MarkAction>) {
            program.mark = a.id;
            ok = AddOpDirect(program, Op::kMark);
          } else {
            ok = false;  // QUEUE (ingress only): the arrays path refuses it
          }
        },
        action);
    if (!ok) {
      return false;
    }
  }
  return fates == 1;
}

}  // namespace nicswitch::device::softasic_internal
