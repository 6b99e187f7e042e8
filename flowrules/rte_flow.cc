// Rule <-> rte_flow arrays (see rte_flow.h for the contract).
//
// Compile emits, per header layer, ETH [VLAN] [IPV4|IPV6] [TCP|UDP|ICMP|ICMP6]:
//  - the outer ETH item is always present; an inner ETH only when the inner layer matches
//    something. An item without matched fields has NULL spec and mask (matches any).
//  - ether_type goes into ETH.type, or into VLAN.inner_type when the layer has a VLAN.
//  - the IP item is present when the layer matches addresses or ip_protocol (or, outside a
//    VXLAN outer layer, an L4 item follows); its version comes from the address fields, else
//    from ether_type 0x86dd / 0x0800, else IPv4.
//  - the L4 item is present when ports or ICMP fields are matched; in the outer layer of a
//    VXLAN rule a UDP item is always present.
// ParseRteFlow inverts this and infers what the items imply (a UDP item implies ip_protocol 17,
// an IPV6 item without addresses implies ether_type 0x86dd, ...) so the result means the same.
#include "flowrules/rte_flow.h"

#include <rte_byteorder.h>
#include <rte_flow.h>

#include <array>
#include <cstddef>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "flowrules/rule_internal.h"

namespace nicswitch::flowrules {

namespace {

using internal::IpVersion;

// ---- Compile --------------------------------------------------------------------------------

// Owns objects of any type; pointers stay valid until destruction.
class Arena {
 public:
  template <typename T>
  T* Make() {
    auto object = std::make_shared<T>();
    T* raw = object.get();
    objects_.push_back(std::move(object));
    return raw;
  }

 private:
  std::vector<std::shared_ptr<void>> objects_;
};

rte_ether_addr ToEther(const MacAddress& mac) {
  rte_ether_addr addr;
  std::memcpy(addr.addr_bytes, mac.bytes.data(), 6);
  return addr;
}

rte_be32_t Ipv4Be(const Ipv4Prefix& p) { return rte_cpu_to_be_32(p.address.value); }
rte_be32_t Ipv4MaskBe(const Ipv4Prefix& p) {
  return rte_cpu_to_be_32(internal::Ipv4PrefixMask(p.length));
}

void Ipv6ToBytes(const Ipv6Prefix& p, uint8_t* spec, uint8_t* mask) {
  std::memcpy(spec, p.address.bytes.data(), 16);
  const auto m = internal::Ipv6PrefixMask(p.length);
  std::memcpy(mask, m.data(), 16);
}

class PatternBuilder {
 public:
  PatternBuilder(Arena& arena, std::vector<rte_flow_item>& items) : arena_(arena), items_(items) {}

  // Adds an item with a spec and mask of type T (both zeroed) and returns them to fill in.
  template <typename T>
  std::pair<T*, T*> Add(rte_flow_item_type type) {
    T* spec = arena_.Make<T>();
    T* mask = arena_.Make<T>();
    items_.push_back(rte_flow_item{type, spec, nullptr, mask});
    return {spec, mask};
  }
  void AddAny(rte_flow_item_type type) {
    items_.push_back(rte_flow_item{type, nullptr, nullptr, nullptr});
  }

  void Layer(const HeaderMatch& m, bool vxlan_outer, bool always_eth) {
    const IpVersion version = internal::LayerIpVersion(m);
    const bool l4_fields = m.l4_src_port || m.l4_dst_port || m.icmp_type || m.icmp_code;
    const bool l4_item = vxlan_outer || l4_fields;
    const bool ip_item = m.ipv4_src || m.ipv4_dst || m.ipv6_src || m.ipv6_dst || m.ip_protocol ||
                         (l4_item && !vxlan_outer);
    const bool eth_fields = m.eth_src || m.eth_dst || (m.ether_type && !m.vlan_id);

    if (eth_fields) {
      auto [spec, mask] = Add<rte_flow_item_eth>(RTE_FLOW_ITEM_TYPE_ETH);
      if (m.eth_dst) {
        spec->hdr.dst_addr = ToEther(*m.eth_dst);
        std::memset(mask->hdr.dst_addr.addr_bytes, 0xff, 6);
      }
      if (m.eth_src) {
        spec->hdr.src_addr = ToEther(*m.eth_src);
        std::memset(mask->hdr.src_addr.addr_bytes, 0xff, 6);
      }
      if (m.ether_type && !m.vlan_id) {
        spec->hdr.ether_type = rte_cpu_to_be_16(*m.ether_type);
        mask->hdr.ether_type = 0xffff;
      }
    } else if (always_eth || !m.empty()) {
      AddAny(RTE_FLOW_ITEM_TYPE_ETH);
    }
    if (m.vlan_id) {
      auto [spec, mask] = Add<rte_flow_item_vlan>(RTE_FLOW_ITEM_TYPE_VLAN);
      spec->hdr.vlan_tci = rte_cpu_to_be_16(*m.vlan_id);
      mask->hdr.vlan_tci = rte_cpu_to_be_16(0x0fff);
      if (m.ether_type) {
        spec->hdr.eth_proto = rte_cpu_to_be_16(*m.ether_type);
        mask->hdr.eth_proto = 0xffff;
      }
    }
    if (ip_item) {
      if (version == IpVersion::kIpv6) {
        auto [spec, mask] = Add<rte_flow_item_ipv6>(RTE_FLOW_ITEM_TYPE_IPV6);
        if (m.ipv6_src) Ipv6ToBytes(*m.ipv6_src, spec->hdr.src_addr, mask->hdr.src_addr);
        if (m.ipv6_dst) Ipv6ToBytes(*m.ipv6_dst, spec->hdr.dst_addr, mask->hdr.dst_addr);
        if (m.ip_protocol) {
          spec->hdr.proto = *m.ip_protocol;
          mask->hdr.proto = 0xff;
        }
      } else {
        auto [spec, mask] = Add<rte_flow_item_ipv4>(RTE_FLOW_ITEM_TYPE_IPV4);
        if (m.ipv4_src) {
          spec->hdr.src_addr = Ipv4Be(*m.ipv4_src);
          mask->hdr.src_addr = Ipv4MaskBe(*m.ipv4_src);
        }
        if (m.ipv4_dst) {
          spec->hdr.dst_addr = Ipv4Be(*m.ipv4_dst);
          mask->hdr.dst_addr = Ipv4MaskBe(*m.ipv4_dst);
        }
        if (m.ip_protocol) {
          spec->hdr.next_proto_id = *m.ip_protocol;
          mask->hdr.next_proto_id = 0xff;
        }
      }
    }
    if (!l4_item) return;
    if (m.icmp_type || m.icmp_code) {
      if (m.ip_protocol == internal::kIpProtoIcmp6) {
        auto [spec, mask] = Add<rte_flow_item_icmp6>(RTE_FLOW_ITEM_TYPE_ICMP6);
        SetIcmp(m, spec->type, mask->type, spec->code, mask->code);
      } else {
        auto [spec, mask] = Add<rte_flow_item_icmp>(RTE_FLOW_ITEM_TYPE_ICMP);
        SetIcmp(m, spec->hdr.icmp_type, mask->hdr.icmp_type, spec->hdr.icmp_code,
                mask->hdr.icmp_code);
      }
      return;
    }
    const bool tcp = m.ip_protocol == internal::kIpProtoTcp;
    const rte_flow_item_type type = tcp ? RTE_FLOW_ITEM_TYPE_TCP : RTE_FLOW_ITEM_TYPE_UDP;
    if (!m.l4_src_port && !m.l4_dst_port) {
      AddAny(type);
      return;
    }
    if (tcp) {
      AddPorts<rte_flow_item_tcp>(type, m);
    } else {
      AddPorts<rte_flow_item_udp>(type, m);
    }
  }

 private:
  template <typename T>
  void AddPorts(rte_flow_item_type type, const HeaderMatch& m) {
    auto [spec, mask] = Add<T>(type);
    if (m.l4_src_port) {
      spec->hdr.src_port = rte_cpu_to_be_16(*m.l4_src_port);
      mask->hdr.src_port = 0xffff;
    }
    if (m.l4_dst_port) {
      spec->hdr.dst_port = rte_cpu_to_be_16(*m.l4_dst_port);
      mask->hdr.dst_port = 0xffff;
    }
  }
  static void SetIcmp(const HeaderMatch& m, uint8_t& type, uint8_t& type_mask, uint8_t& code,
                      uint8_t& code_mask) {
    if (m.icmp_type) {
      type = *m.icmp_type;
      type_mask = 0xff;
    }
    if (m.icmp_code) {
      code = *m.icmp_code;
      code_mask = 0xff;
    }
  }

  Arena& arena_;
  std::vector<rte_flow_item>& items_;
};

// The VXLAN_ENCAP definition: ETH / IPV4|IPV6 / UDP / VXLAN / END, headers in the specs
// (masks all-ones on the fields set, as testpmd does; PMDs read the specs).
const rte_flow_item* EncapDefinition(Arena& arena, const VxlanEncapAction& a) {
  auto* items = arena.Make<std::array<rte_flow_item, 5>>();
  auto* eth = arena.Make<rte_flow_item_eth>();
  auto* udp = arena.Make<rte_flow_item_udp>();
  auto* vxlan = arena.Make<rte_flow_item_vxlan>();
  eth->hdr.src_addr = ToEther(a.eth_src);
  eth->hdr.dst_addr = ToEther(a.eth_dst);
  udp->hdr.src_port = rte_cpu_to_be_16(a.udp_src);
  udp->hdr.dst_port = rte_cpu_to_be_16(a.udp_dst);
  vxlan->hdr.vx_flags = rte_cpu_to_be_32(0x08000000);
  vxlan->hdr.vx_vni = rte_cpu_to_be_32(a.vni << 8);
  (*items)[0] = {RTE_FLOW_ITEM_TYPE_ETH, eth, nullptr, nullptr};
  if (const auto* v4 = std::get_if<std::pair<Ipv4Address, Ipv4Address>>(&a.ip)) {
    eth->hdr.ether_type = rte_cpu_to_be_16(internal::kEtherTypeIpv4);
    auto* ip = arena.Make<rte_flow_item_ipv4>();
    ip->hdr.version_ihl = RTE_IPV4_VHL_DEF;
    ip->hdr.time_to_live = a.ttl;
    ip->hdr.next_proto_id = internal::kIpProtoUdp;
    ip->hdr.src_addr = rte_cpu_to_be_32(v4->first.value);
    ip->hdr.dst_addr = rte_cpu_to_be_32(v4->second.value);
    (*items)[1] = {RTE_FLOW_ITEM_TYPE_IPV4, ip, nullptr, nullptr};
  } else {
    const auto& v6 = std::get<std::pair<Ipv6Address, Ipv6Address>>(a.ip);
    eth->hdr.ether_type = rte_cpu_to_be_16(internal::kEtherTypeIpv6);
    auto* ip = arena.Make<rte_flow_item_ipv6>();
    ip->hdr.vtc_flow = rte_cpu_to_be_32(6u << 28);
    ip->hdr.proto = internal::kIpProtoUdp;
    ip->hdr.hop_limits = a.ttl;
    std::memcpy(ip->hdr.src_addr, v6.first.bytes.data(), 16);
    std::memcpy(ip->hdr.dst_addr, v6.second.bytes.data(), 16);
    (*items)[1] = {RTE_FLOW_ITEM_TYPE_IPV6, ip, nullptr, nullptr};
  }
  (*items)[2] = {RTE_FLOW_ITEM_TYPE_UDP, udp, nullptr, nullptr};
  (*items)[3] = {RTE_FLOW_ITEM_TYPE_VXLAN, vxlan, nullptr, nullptr};
  (*items)[4] = {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
  return items->data();
}

}  // namespace

struct CompiledRule::Storage {
  Rule rule;
  rte_flow_attr attr{};
  std::vector<rte_flow_item> pattern;
  std::vector<rte_flow_action> actions;
  Arena arena;
};

CompiledRule::CompiledRule(std::unique_ptr<Storage> storage) : storage_(std::move(storage)) {}
CompiledRule::CompiledRule(CompiledRule&&) noexcept = default;
CompiledRule& CompiledRule::operator=(CompiledRule&&) noexcept = default;
CompiledRule::~CompiledRule() = default;

const rte_flow_attr* CompiledRule::attr() const { return &storage_->attr; }
const rte_flow_item* CompiledRule::pattern() const { return storage_->pattern.data(); }
const rte_flow_action* CompiledRule::actions() const { return storage_->actions.data(); }
const Rule& CompiledRule::rule() const { return storage_->rule; }

absl::StatusOr<CompiledRule> CompiledRule::Compile(const Rule& rule,
                                                   const ValidationLimits& limits) {
  RETURN_IF_ERROR(Validate(rule, limits));
  auto s = std::make_unique<Storage>();
  s->rule = rule;
  s->attr.group = rule.group;
  s->attr.priority = rule.priority;
  s->attr.ingress = rule.direction == Direction::kIngress;
  s->attr.egress = rule.direction == Direction::kEgress;
  s->attr.transfer = rule.direction == Direction::kTransfer;

  const Match& m = rule.match;
  PatternBuilder pattern(s->arena, s->pattern);
  if (m.represented_port) {
    auto [spec, mask] = pattern.Add<rte_flow_item_ethdev>(RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT);
    spec->port_id = *m.represented_port;
    mask->port_id = 0xffff;
  }
  pattern.Layer(m.outer, m.vxlan.has_value(), /*always_eth=*/true);
  if (m.vxlan) {
    if (m.vxlan->vni) {
      auto [spec, mask] = pattern.Add<rte_flow_item_vxlan>(RTE_FLOW_ITEM_TYPE_VXLAN);
      spec->hdr.vx_vni = rte_cpu_to_be_32(*m.vxlan->vni << 8);
      mask->hdr.vx_vni = rte_cpu_to_be_32(0xffffff00);
    } else {
      pattern.AddAny(RTE_FLOW_ITEM_TYPE_VXLAN);
    }
    pattern.Layer(m.inner, false, /*always_eth=*/false);
  }
  if (m.mark) {
    auto [spec, mask] = pattern.Add<rte_flow_item_mark>(RTE_FLOW_ITEM_TYPE_MARK);
    spec->id = *m.mark;
    mask->id = 0xffffffff;
  }
  if (m.tag) {
    auto [spec, mask] = pattern.Add<rte_flow_item_tag>(RTE_FLOW_ITEM_TYPE_TAG);
    spec->index = m.tag->index;
    spec->data = m.tag->data;
    mask->index = 0xff;
    mask->data = 0xffffffff;
  }
  s->pattern.push_back(rte_flow_item{RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr});

  Arena& arena = s->arena;
  for (const Action& action : rule.actions) {
    rte_flow_action out{RTE_FLOW_ACTION_TYPE_VOID, nullptr};
    std::visit(
        [&](const auto& a) {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, DropAction>) {
            out.type = RTE_FLOW_ACTION_TYPE_DROP;
          } else if constexpr (std::is_same_v<T, CountAction>) {
            out.type = RTE_FLOW_ACTION_TYPE_COUNT;
          } else if constexpr (std::is_same_v<T, AgeAction>) {
            auto* conf = arena.Make<rte_flow_action_age>();
            conf->timeout = a.seconds;
            out = {RTE_FLOW_ACTION_TYPE_AGE, conf};
          } else if constexpr (std::is_same_v<T, MeterAction>) {
            auto* conf = arena.Make<rte_flow_action_meter>();
            conf->mtr_id = a.meter_id;
            out = {RTE_FLOW_ACTION_TYPE_METER, conf};
          } else if constexpr (std::is_same_v<T, VxlanEncapAction>) {
            auto* conf = arena.Make<rte_flow_action_vxlan_encap>();
            conf->definition = const_cast<rte_flow_item*>(EncapDefinition(arena, a));
            out = {RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP, conf};
          } else if constexpr (std::is_same_v<T, VxlanDecapAction>) {
            out.type = RTE_FLOW_ACTION_TYPE_VXLAN_DECAP;
          } else if constexpr (std::is_same_v<T, SetMacSrcAction> ||
                               std::is_same_v<T, SetMacDstAction>) {
            auto* conf = arena.Make<rte_flow_action_set_mac>();
            std::memcpy(conf->mac_addr, a.mac.bytes.data(), 6);
            out = {std::is_same_v<T, SetMacSrcAction> ? RTE_FLOW_ACTION_TYPE_SET_MAC_SRC
                                                      : RTE_FLOW_ACTION_TYPE_SET_MAC_DST,
                   conf};
          } else if constexpr (std::is_same_v<T, DecTtlAction>) {
            out.type = RTE_FLOW_ACTION_TYPE_DEC_TTL;
          } else if constexpr (std::is_same_v<T, RepresentedPortAction> ||
                               std::is_same_v<T, PortRepresentorAction>) {
            auto* conf = arena.Make<rte_flow_action_ethdev>();
            conf->port_id = a.port_id;
            out = {std::is_same_v<T, RepresentedPortAction> ? RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT
                                                            : RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR,
                   conf};
          } else if constexpr (std::is_same_v<T, JumpAction>) {
            auto* conf = arena.Make<rte_flow_action_jump>();
            conf->group = a.group;
            out = {RTE_FLOW_ACTION_TYPE_JUMP, conf};
          } else if constexpr (std::is_same_v<T, MarkAction>) {
            auto* conf = arena.Make<rte_flow_action_mark>();
            conf->id = a.id;
            out = {RTE_FLOW_ACTION_TYPE_MARK, conf};
          } else if constexpr (std::is_same_v<T, QueueAction>) {
            auto* conf = arena.Make<rte_flow_action_queue>();
            conf->index = a.index;
            out = {RTE_FLOW_ACTION_TYPE_QUEUE, conf};
          } else {
            static_assert(sizeof(T) == 0, "every action must compile");
          }
        },
        action);
    s->actions.push_back(out);
  }
  s->actions.push_back(rte_flow_action{RTE_FLOW_ACTION_TYPE_END, nullptr});
  return CompiledRule(std::move(s));
}

// ---- ParseRteFlow ---------------------------------------------------------------------------

namespace {

constexpr int kMaxItems = 256;
constexpr int kMaxEncapItems = 16;

const char* ItemTypeName(int type) {
  static constexpr std::pair<int, const char*> kNames[] = {
      {RTE_FLOW_ITEM_TYPE_END, "END"},
      {RTE_FLOW_ITEM_TYPE_VOID, "VOID"},
      {RTE_FLOW_ITEM_TYPE_INVERT, "INVERT"},
      {RTE_FLOW_ITEM_TYPE_ANY, "ANY"},
      {RTE_FLOW_ITEM_TYPE_PORT_ID, "PORT_ID"},
      {RTE_FLOW_ITEM_TYPE_RAW, "RAW"},
      {RTE_FLOW_ITEM_TYPE_ETH, "ETH"},
      {RTE_FLOW_ITEM_TYPE_VLAN, "VLAN"},
      {RTE_FLOW_ITEM_TYPE_IPV4, "IPV4"},
      {RTE_FLOW_ITEM_TYPE_IPV6, "IPV6"},
      {RTE_FLOW_ITEM_TYPE_ICMP, "ICMP"},
      {RTE_FLOW_ITEM_TYPE_UDP, "UDP"},
      {RTE_FLOW_ITEM_TYPE_TCP, "TCP"},
      {RTE_FLOW_ITEM_TYPE_SCTP, "SCTP"},
      {RTE_FLOW_ITEM_TYPE_VXLAN, "VXLAN"},
      {RTE_FLOW_ITEM_TYPE_MPLS, "MPLS"},
      {RTE_FLOW_ITEM_TYPE_GRE, "GRE"},
      {RTE_FLOW_ITEM_TYPE_GENEVE, "GENEVE"},
      {RTE_FLOW_ITEM_TYPE_VXLAN_GPE, "VXLAN_GPE"},
      {RTE_FLOW_ITEM_TYPE_ICMP6, "ICMP6"},
      {RTE_FLOW_ITEM_TYPE_MARK, "MARK"},
      {RTE_FLOW_ITEM_TYPE_META, "META"},
      {RTE_FLOW_ITEM_TYPE_TAG, "TAG"},
      {RTE_FLOW_ITEM_TYPE_PORT_REPRESENTOR, "PORT_REPRESENTOR"},
      {RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT, "REPRESENTED_PORT"},
  };
  for (const auto& [value, name] : kNames) {
    if (value == type) return name;
  }
  return nullptr;
}

const char* ActionTypeName(int type) {
  static constexpr std::pair<int, const char*> kNames[] = {
      {RTE_FLOW_ACTION_TYPE_END, "END"},
      {RTE_FLOW_ACTION_TYPE_VOID, "VOID"},
      {RTE_FLOW_ACTION_TYPE_PASSTHRU, "PASSTHRU"},
      {RTE_FLOW_ACTION_TYPE_JUMP, "JUMP"},
      {RTE_FLOW_ACTION_TYPE_MARK, "MARK"},
      {RTE_FLOW_ACTION_TYPE_FLAG, "FLAG"},
      {RTE_FLOW_ACTION_TYPE_QUEUE, "QUEUE"},
      {RTE_FLOW_ACTION_TYPE_DROP, "DROP"},
      {RTE_FLOW_ACTION_TYPE_COUNT, "COUNT"},
      {RTE_FLOW_ACTION_TYPE_RSS, "RSS"},
      {RTE_FLOW_ACTION_TYPE_PORT_ID, "PORT_ID"},
      {RTE_FLOW_ACTION_TYPE_METER, "METER"},
      {RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP, "VXLAN_ENCAP"},
      {RTE_FLOW_ACTION_TYPE_VXLAN_DECAP, "VXLAN_DECAP"},
      {RTE_FLOW_ACTION_TYPE_RAW_ENCAP, "RAW_ENCAP"},
      {RTE_FLOW_ACTION_TYPE_RAW_DECAP, "RAW_DECAP"},
      {RTE_FLOW_ACTION_TYPE_SET_MAC_SRC, "SET_MAC_SRC"},
      {RTE_FLOW_ACTION_TYPE_SET_MAC_DST, "SET_MAC_DST"},
      {RTE_FLOW_ACTION_TYPE_DEC_TTL, "DEC_TTL"},
      {RTE_FLOW_ACTION_TYPE_AGE, "AGE"},
      {RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR, "PORT_REPRESENTOR"},
      {RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, "REPRESENTED_PORT"},
  };
  for (const auto& [value, name] : kNames) {
    if (value == type) return name;
  }
  return nullptr;
}

// Item and action types are read as plain ints: arrays from elsewhere (or a fuzzer) may hold
// values outside the enum, and loading those through the enum type is undefined.
int TypeOf(const rte_flow_item& item) {
  int type;
  std::memcpy(&type, &item.type, sizeof(type));
  return type;
}
int TypeOf(const rte_flow_action& action) {
  int type;
  std::memcpy(&type, &action.type, sizeof(type));
  return type;
}
static_assert(sizeof(rte_flow_item_type) == sizeof(int));
static_assert(sizeof(rte_flow_action_type) == sizeof(int));

std::string TypeLabel(const char* name, int type) {
  return name != nullptr ? std::string(name) : absl::StrCat("type ", type);
}

// Where an error is: "pattern[2] (IPV4)".
struct Where {
  std::string label;
  absl::Status Invalid(absl::string_view what) const {
    return absl::InvalidArgumentError(absl::StrCat(label, ": ", what));
  }
  absl::Status Unsupported(absl::string_view what) const {
    return absl::UnimplementedError(absl::StrCat(label, ": ", what));
  }
};

Where ItemWhere(absl::string_view array, int index, int type) {
  return Where{absl::StrCat(array, "[", index, "] (", TypeLabel(ItemTypeName(type), type), ")")};
}

// A copy of an item's spec and effective mask (spec NULL: no spec, everything wildcard).
template <typename T>
struct SpecMask {
  bool any = true;  // spec was NULL
  T spec{};
  T mask{};
};

template <typename T>
SpecMask<T> Read(const rte_flow_item& item, const T& default_mask) {
  SpecMask<T> out;
  if (item.spec == nullptr) return out;
  out.any = false;
  std::memcpy(&out.spec, item.spec, sizeof(T));
  if (item.mask != nullptr) {
    std::memcpy(&out.mask, item.mask, sizeof(T));
  } else {
    out.mask = default_mask;
  }
  return out;
}

enum class MaskKind { kZero, kFull, kPartial };

MaskKind KindOf(const void* mask, size_t size) {
  const auto* bytes = static_cast<const uint8_t*>(mask);
  bool zero = true;
  bool full = true;
  for (size_t i = 0; i < size; ++i) {
    zero &= bytes[i] == 0;
    full &= bytes[i] == 0xff;
  }
  return zero ? MaskKind::kZero : full ? MaskKind::kFull : MaskKind::kPartial;
}

std::string Hex(const void* data, size_t size) {
  std::string out = "0x";
  const auto* bytes = static_cast<const uint8_t*>(data);
  for (size_t i = 0; i < size; ++i) absl::StrAppendFormat(&out, "%02x", bytes[i]);
  return out;
}

// Reads an exact-match field at `offset` of the spec/mask copies: zero mask -> unset; full mask
// -> the spec's value; anything else is refused. Clears the field in `mask_left`.
template <typename Field>
absl::Status ReadExact(const Where& where, const char* name, const void* spec, void* mask_left,
                       size_t offset, std::optional<Field>& out) {
  Field value;
  Field mask;
  std::memcpy(&value, static_cast<const uint8_t*>(spec) + offset, sizeof(Field));
  std::memcpy(&mask, static_cast<const uint8_t*>(mask_left) + offset, sizeof(Field));
  std::memset(static_cast<uint8_t*>(mask_left) + offset, 0, sizeof(Field));
  switch (KindOf(&mask, sizeof(Field))) {
    case MaskKind::kZero:
      return absl::OkStatus();
    case MaskKind::kFull:
      out = value;
      return absl::OkStatus();
    case MaskKind::kPartial:
      break;
  }
  return where.Unsupported(
      absl::StrCat(name, " mask ", Hex(&mask, sizeof(Field)), " is neither empty nor full"));
}

uint16_t Be16(const std::optional<uint16_t>& v) { return rte_be_to_cpu_16(*v); }

// A field name at an offset, for refusing unsupported fields by name.
struct FieldName {
  size_t offset;
  size_t size;
  const char* name;
};

absl::Status RefuseLeftover(const Where& where, const void* mask_left, size_t size,
                            std::initializer_list<FieldName> names) {
  const auto* bytes = static_cast<const uint8_t*>(mask_left);
  for (size_t i = 0; i < size; ++i) {
    if (bytes[i] == 0) continue;
    for (const FieldName& f : names) {
      if (i >= f.offset && i < f.offset + f.size) {
        return where.Unsupported(absl::StrCat("matching on ", f.name, " (mask ",
                                              Hex(bytes + f.offset, f.size), ") is not supported"));
      }
    }
    return where.Unsupported(
        absl::StrCat("mask byte ", i, " (", Hex(bytes + i, 1), ", flag bits) is not supported"));
  }
  return absl::OkStatus();
}

// A contiguous prefix from the first bit; -1 otherwise.
int PrefixLength(const uint8_t* mask, size_t size) {
  int length = 0;
  size_t i = 0;
  for (; i < size && mask[i] == 0xff; ++i) length += 8;
  if (i == size) return length;
  const uint8_t partial = mask[i];
  int bits = 0;
  while (bits < 8 && (partial & (0x80 >> bits))) ++bits;
  if (static_cast<uint8_t>(partial << bits) != 0) return -1;
  length += bits;
  for (++i; i < size; ++i) {
    if (mask[i] != 0) return -1;
  }
  return length;
}

template <typename Prefix>
absl::Status ReadPrefix(const Where& where, const char* name, const uint8_t* spec, uint8_t* mask,
                        std::optional<Prefix>& out) {
  constexpr size_t kBytes = Prefix::kMaxLength / 8;
  const int length = PrefixLength(mask, kBytes);
  if (length < 0) {
    std::string text;
    if constexpr (kBytes == 4) {
      uint32_t m;
      std::memcpy(&m, mask, 4);
      text = Ipv4Address{rte_be_to_cpu_32(m)}.ToString();
    } else {
      Ipv6Address a;
      std::memcpy(a.bytes.data(), mask, 16);
      text = a.ToString();
    }
    return where.Invalid(absl::StrCat(name, " mask ", text, " is not a prefix"));
  }
  if (length > 0) {
    Prefix p;
    p.length = static_cast<uint8_t>(length);
    uint8_t bytes[kBytes];
    for (size_t i = 0; i < kBytes; ++i) bytes[i] = spec[i] & mask[i];
    if constexpr (kBytes == 4) {
      uint32_t v;
      std::memcpy(&v, bytes, 4);
      p.address.value = rte_be_to_cpu_32(v);
    } else {
      std::memcpy(p.address.bytes.data(), bytes, 16);
    }
    out = p;
  }
  std::memset(mask, 0, kBytes);
  return absl::OkStatus();
}

rte_flow_item_eth EthDefaultMask() {
  rte_flow_item_eth m{};
  std::memset(m.hdr.dst_addr.addr_bytes, 0xff, 6);
  std::memset(m.hdr.src_addr.addr_bytes, 0xff, 6);
  return m;
}
rte_flow_item_vlan VlanDefaultMask() {
  rte_flow_item_vlan m{};
  m.hdr.vlan_tci = rte_cpu_to_be_16(0x0fff);
  return m;
}
rte_flow_item_ipv4 Ipv4DefaultMask() {
  rte_flow_item_ipv4 m{};
  m.hdr.src_addr = 0xffffffff;
  m.hdr.dst_addr = 0xffffffff;
  return m;
}
rte_flow_item_ipv6 Ipv6DefaultMask() {
  rte_flow_item_ipv6 m{};
  std::memset(m.hdr.src_addr, 0xff, 16);
  std::memset(m.hdr.dst_addr, 0xff, 16);
  return m;
}
template <typename T>
T PortsDefaultMask() {
  T m{};
  m.hdr.src_port = 0xffff;
  m.hdr.dst_port = 0xffff;
  return m;
}
rte_flow_item_icmp IcmpDefaultMask() {
  rte_flow_item_icmp m{};
  m.hdr.icmp_type = 0xff;
  m.hdr.icmp_code = 0xff;
  return m;
}
rte_flow_item_icmp6 Icmp6DefaultMask() {
  rte_flow_item_icmp6 m{};
  m.type = 0xff;
  m.code = 0xff;
  return m;
}
rte_flow_item_vxlan VxlanDefaultMask() {
  rte_flow_item_vxlan m{};
  m.hdr.vx_vni = rte_cpu_to_be_32(0xffffff00);
  return m;
}

// One header layer being parsed (outer, or inner after VXLAN).
struct LayerParser {
  enum Stage { kNone, kEth, kVlan, kIp, kL4 };
  HeaderMatch m;
  Stage stage = kNone;
  std::optional<uint16_t> eth_type;  // ETH.type as matched
  int ip_item = RTE_FLOW_ITEM_TYPE_VOID;
  int l4_item = RTE_FLOW_ITEM_TYPE_VOID;
  Where l4_where;
  std::optional<uint8_t> ip_proto_item;  // the IP item's protocol field

  absl::Status Order(const Where& where, Stage next) {
    if (next <= stage) {
      return where.Unsupported(
          "out of order or repeated in this header layer (expected ETH "
          "[VLAN] [IPV4|IPV6] [TCP|UDP|ICMP|ICMP6])");
    }
    stage = next;
    return absl::OkStatus();
  }

  absl::Status Eth(const Where& where, const rte_flow_item& item) {
    RETURN_IF_ERROR(Order(where, kEth));
    auto sm = Read(item, EthDefaultMask());
    if (sm.any) return absl::OkStatus();
    std::optional<rte_ether_addr> src;
    std::optional<rte_ether_addr> dst;
    std::optional<uint16_t> type;
    RETURN_IF_ERROR(ReadExact(where, "dst", &sm.spec, &sm.mask,
                              offsetof(rte_flow_item_eth, hdr.dst_addr), dst));
    RETURN_IF_ERROR(ReadExact(where, "src", &sm.spec, &sm.mask,
                              offsetof(rte_flow_item_eth, hdr.src_addr), src));
    RETURN_IF_ERROR(ReadExact(where, "type", &sm.spec, &sm.mask,
                              offsetof(rte_flow_item_eth, hdr.ether_type), type));
    RETURN_IF_ERROR(RefuseLeftover(where, &sm.mask, sizeof(sm.mask), {}));
    if (dst) std::memcpy(m.eth_dst.emplace().bytes.data(), dst->addr_bytes, 6);
    if (src) std::memcpy(m.eth_src.emplace().bytes.data(), src->addr_bytes, 6);
    if (type) eth_type = rte_be_to_cpu_16(*type);
    return absl::OkStatus();
  }

  absl::Status Vlan(const Where& where, const rte_flow_item& item) {
    RETURN_IF_ERROR(Order(where, kVlan));
    auto sm = Read(item, VlanDefaultMask());
    const uint16_t tci_mask = sm.any ? 0 : rte_be_to_cpu_16(sm.mask.hdr.vlan_tci);
    if (tci_mask != 0x0fff) {
      return where.Unsupported(absl::StrFormat(
          "tci mask 0x%04x: a VLAN item must match exactly the 12-bit vid (mask 0x0fff)",
          tci_mask));
    }
    m.vlan_id = rte_be_to_cpu_16(sm.spec.hdr.vlan_tci) & 0x0fff;
    sm.mask.hdr.vlan_tci = 0;
    std::optional<uint16_t> inner_type;
    RETURN_IF_ERROR(ReadExact(where, "inner_type", &sm.spec, &sm.mask,
                              offsetof(rte_flow_item_vlan, hdr.eth_proto), inner_type));
    RETURN_IF_ERROR(RefuseLeftover(where, &sm.mask, sizeof(sm.mask), {}));
    if (inner_type) m.ether_type = rte_be_to_cpu_16(*inner_type);
    return absl::OkStatus();
  }

  absl::Status Ipv4(const Where& where, const rte_flow_item& item) {
    RETURN_IF_ERROR(Order(where, kIp));
    ip_item = RTE_FLOW_ITEM_TYPE_IPV4;
    auto sm = Read(item, Ipv4DefaultMask());
    if (sm.any) return absl::OkStatus();
    auto* spec = reinterpret_cast<const uint8_t*>(&sm.spec);
    auto* mask = reinterpret_cast<uint8_t*>(&sm.mask);
    RETURN_IF_ERROR(ReadPrefix(where, "src", spec + offsetof(rte_flow_item_ipv4, hdr.src_addr),
                               mask + offsetof(rte_flow_item_ipv4, hdr.src_addr), m.ipv4_src));
    RETURN_IF_ERROR(ReadPrefix(where, "dst", spec + offsetof(rte_flow_item_ipv4, hdr.dst_addr),
                               mask + offsetof(rte_flow_item_ipv4, hdr.dst_addr), m.ipv4_dst));
    RETURN_IF_ERROR(ReadExact(where, "next_proto_id", spec, mask,
                              offsetof(rte_flow_item_ipv4, hdr.next_proto_id), ip_proto_item));
    return RefuseLeftover(
        where, mask, sizeof(sm.mask),
        {{offsetof(rte_flow_item_ipv4, hdr.version_ihl), 1, "version_ihl"},
         {offsetof(rte_flow_item_ipv4, hdr.type_of_service), 1, "type_of_service"},
         {offsetof(rte_flow_item_ipv4, hdr.total_length), 2, "total_length"},
         {offsetof(rte_flow_item_ipv4, hdr.packet_id), 2, "packet_id"},
         {offsetof(rte_flow_item_ipv4, hdr.fragment_offset), 2, "fragment_offset"},
         {offsetof(rte_flow_item_ipv4, hdr.time_to_live), 1, "time_to_live"},
         {offsetof(rte_flow_item_ipv4, hdr.hdr_checksum), 2, "hdr_checksum"}});
  }

  absl::Status Ipv6(const Where& where, const rte_flow_item& item) {
    RETURN_IF_ERROR(Order(where, kIp));
    ip_item = RTE_FLOW_ITEM_TYPE_IPV6;
    auto sm = Read(item, Ipv6DefaultMask());
    if (sm.any) return absl::OkStatus();
    auto* spec = reinterpret_cast<const uint8_t*>(&sm.spec);
    auto* mask = reinterpret_cast<uint8_t*>(&sm.mask);
    RETURN_IF_ERROR(ReadPrefix(where, "src", spec + offsetof(rte_flow_item_ipv6, hdr.src_addr),
                               mask + offsetof(rte_flow_item_ipv6, hdr.src_addr), m.ipv6_src));
    RETURN_IF_ERROR(ReadPrefix(where, "dst", spec + offsetof(rte_flow_item_ipv6, hdr.dst_addr),
                               mask + offsetof(rte_flow_item_ipv6, hdr.dst_addr), m.ipv6_dst));
    RETURN_IF_ERROR(ReadExact(where, "proto", spec, mask, offsetof(rte_flow_item_ipv6, hdr.proto),
                              ip_proto_item));
    return RefuseLeftover(where, mask, sizeof(sm.mask),
                          {{offsetof(rte_flow_item_ipv6, hdr.vtc_flow), 4, "vtc_flow"},
                           {offsetof(rte_flow_item_ipv6, hdr.payload_len), 2, "payload_len"},
                           {offsetof(rte_flow_item_ipv6, hdr.hop_limits), 1, "hop_limits"}});
  }

  template <typename T>
  absl::Status Ports(const Where& where, const rte_flow_item& item, int type,
                     std::initializer_list<FieldName> others) {
    RETURN_IF_ERROR(Order(where, kL4));
    l4_item = type;
    l4_where = where;
    auto sm = Read(item, PortsDefaultMask<T>());
    if (sm.any) return absl::OkStatus();
    std::optional<uint16_t> src;
    std::optional<uint16_t> dst;
    RETURN_IF_ERROR(
        ReadExact(where, "src_port", &sm.spec, &sm.mask, offsetof(T, hdr.src_port), src));
    RETURN_IF_ERROR(
        ReadExact(where, "dst_port", &sm.spec, &sm.mask, offsetof(T, hdr.dst_port), dst));
    RETURN_IF_ERROR(RefuseLeftover(where, &sm.mask, sizeof(sm.mask), others));
    if (src) m.l4_src_port = Be16(src);
    if (dst) m.l4_dst_port = Be16(dst);
    return absl::OkStatus();
  }

  template <typename T>
  absl::Status Icmp(const Where& where, const rte_flow_item& item, int type, const T& default_mask,
                    size_t type_offset, size_t code_offset,
                    std::initializer_list<FieldName> others) {
    RETURN_IF_ERROR(Order(where, kL4));
    l4_item = type;
    l4_where = where;
    auto sm = Read(item, default_mask);
    if (sm.any) return absl::OkStatus();
    RETURN_IF_ERROR(ReadExact(where, "type", &sm.spec, &sm.mask, type_offset, m.icmp_type));
    RETURN_IF_ERROR(ReadExact(where, "code", &sm.spec, &sm.mask, code_offset, m.icmp_code));
    return RefuseLeftover(where, &sm.mask, sizeof(sm.mask), others);
  }

  // Completes the layer: fills in what the items imply. `vxlan_outer`: a VXLAN item follows.
  absl::Status Finish(const Where& end_where, bool vxlan_outer) {
    if (eth_type) {
      if (m.vlan_id) {
        if (*eth_type != 0x8100) {
          return end_where.Unsupported(absl::StrFormat(
              "ETH type 0x%04x before a VLAN item (only 0x8100 is supported)", *eth_type));
        }
      } else {
        m.ether_type = eth_type;
      }
    }
    if (ip_item != RTE_FLOW_ITEM_TYPE_VOID) {
      const bool v6 = ip_item == RTE_FLOW_ITEM_TYPE_IPV6;
      const uint16_t implied = v6 ? internal::kEtherTypeIpv6 : internal::kEtherTypeIpv4;
      if (m.ether_type && *m.ether_type != implied) {
        return end_where.Invalid(absl::StrFormat("ether type 0x%04x contradicts the %s item",
                                                 *m.ether_type, v6 ? "IPV6" : "IPV4"));
      }
    }
    m.ip_protocol = ip_proto_item;
    if (l4_item != RTE_FLOW_ITEM_TYPE_VOID) {
      uint8_t proto = 0;
      switch (l4_item) {
        case RTE_FLOW_ITEM_TYPE_TCP:
          proto = internal::kIpProtoTcp;
          break;
        case RTE_FLOW_ITEM_TYPE_UDP:
          proto = internal::kIpProtoUdp;
          break;
        case RTE_FLOW_ITEM_TYPE_ICMP:
          proto = internal::kIpProtoIcmp;
          break;
        default:
          proto = internal::kIpProtoIcmp6;
          break;
      }
      if (vxlan_outer) {
        if (l4_item != RTE_FLOW_ITEM_TYPE_UDP) {
          return l4_where.Unsupported("the layer under VXLAN must be UDP");
        }
      } else {
        if (ip_item == RTE_FLOW_ITEM_TYPE_VOID) {
          return l4_where.Unsupported("needs an IPV4 or IPV6 item before it");
        }
        if ((proto == internal::kIpProtoIcmp && ip_item != RTE_FLOW_ITEM_TYPE_IPV4) ||
            (proto == internal::kIpProtoIcmp6 && ip_item != RTE_FLOW_ITEM_TYPE_IPV6)) {
          return l4_where.Unsupported("does not match the IP item's version");
        }
        if (m.ip_protocol && *m.ip_protocol != proto) {
          return l4_where.Invalid(
              absl::StrCat("contradicts the IP item's protocol ", *m.ip_protocol));
        }
        m.ip_protocol = proto;
      }
    }
    // An IP item the rule would not otherwise re-create: keep its version in ether_type.
    if (ip_item != RTE_FLOW_ITEM_TYPE_VOID &&
        internal::LayerIpVersion(m) == IpVersion::kUnspecified) {
      if (ip_item == RTE_FLOW_ITEM_TYPE_IPV6) {
        m.ether_type = internal::kEtherTypeIpv6;
      } else if (!m.ip_protocol) {
        m.ether_type = internal::kEtherTypeIpv4;
      }
    }
    return absl::OkStatus();
  }
};

template <typename T>
absl::StatusOr<const T*> Conf(const Where& where, const rte_flow_action& action) {
  if (action.conf == nullptr) return where.Invalid("conf is NULL");
  return static_cast<const T*>(action.conf);
}

absl::StatusOr<VxlanEncapAction> ParseEncap(const Where& where,
                                            const rte_flow_action_vxlan_encap& conf) {
  if (conf.definition == nullptr) return where.Invalid("definition is NULL");
  VxlanEncapAction out;
  // Expected sequence of non-VOID definition items.
  int step = 0;
  for (int i = 0;; ++i) {
    if (i >= kMaxEncapItems) return where.Invalid("definition has no END item");
    const rte_flow_item& item = conf.definition[i];
    const int type = TypeOf(item);
    const Where at{absl::StrCat(where.label, ": definition[", i, "] (",
                                TypeLabel(ItemTypeName(type), type), ")")};
    if (type == RTE_FLOW_ITEM_TYPE_VOID) continue;
    if (type == RTE_FLOW_ITEM_TYPE_END) {
      if (step != 4) return at.Unsupported("definition must be ETH / IPV4|IPV6 / UDP / VXLAN");
      break;
    }
    if (item.spec == nullptr) return at.Invalid("spec is NULL");
    switch (step) {
      case 0: {
        if (type != RTE_FLOW_ITEM_TYPE_ETH) return at.Unsupported("expected ETH");
        rte_flow_item_eth eth;
        std::memcpy(&eth, item.spec, sizeof(eth));
        std::memcpy(out.eth_src.bytes.data(), eth.hdr.src_addr.addr_bytes, 6);
        std::memcpy(out.eth_dst.bytes.data(), eth.hdr.dst_addr.addr_bytes, 6);
        const uint16_t type = rte_be_to_cpu_16(eth.hdr.ether_type);
        if (type != 0 && type != internal::kEtherTypeIpv4 && type != internal::kEtherTypeIpv6) {
          return at.Unsupported(absl::StrFormat("ether type 0x%04x", type));
        }
        break;
      }
      case 1: {
        if (type == RTE_FLOW_ITEM_TYPE_IPV4) {
          rte_flow_item_ipv4 ip;
          std::memcpy(&ip, item.spec, sizeof(ip));
          if (ip.hdr.version_ihl != 0 && ip.hdr.version_ihl != RTE_IPV4_VHL_DEF) {
            return at.Unsupported(absl::StrFormat("version_ihl 0x%02x", ip.hdr.version_ihl));
          }
          if (ip.hdr.type_of_service != 0) {
            return at.Unsupported(absl::StrCat("type_of_service ", ip.hdr.type_of_service));
          }
          if (ip.hdr.fragment_offset != 0) {
            return at.Unsupported(absl::StrFormat("fragment_offset 0x%04x",
                                                  rte_be_to_cpu_16(ip.hdr.fragment_offset)));
          }
          if (ip.hdr.next_proto_id != 0 && ip.hdr.next_proto_id != internal::kIpProtoUdp) {
            return at.Unsupported(absl::StrCat("next_proto_id ", ip.hdr.next_proto_id));
          }
          out.ttl = ip.hdr.time_to_live;
          out.ip = std::pair{Ipv4Address{rte_be_to_cpu_32(ip.hdr.src_addr)},
                             Ipv4Address{rte_be_to_cpu_32(ip.hdr.dst_addr)}};
        } else if (type == RTE_FLOW_ITEM_TYPE_IPV6) {
          rte_flow_item_ipv6 ip;
          std::memcpy(&ip, item.spec, sizeof(ip));
          const uint32_t vtc = rte_be_to_cpu_32(ip.hdr.vtc_flow);
          if ((vtc & 0x0fffffff) != 0 || (vtc >> 28 != 0 && vtc >> 28 != 6)) {
            return at.Unsupported(absl::StrFormat("vtc_flow 0x%08x", vtc));
          }
          if (ip.hdr.proto != 0 && ip.hdr.proto != internal::kIpProtoUdp) {
            return at.Unsupported(absl::StrCat("proto ", ip.hdr.proto));
          }
          out.ttl = ip.hdr.hop_limits;
          Ipv6Address src;
          Ipv6Address dst;
          std::memcpy(src.bytes.data(), ip.hdr.src_addr, 16);
          std::memcpy(dst.bytes.data(), ip.hdr.dst_addr, 16);
          out.ip = std::pair{src, dst};
        } else {
          return at.Unsupported("expected IPV4 or IPV6");
        }
        break;
      }
      case 2: {
        if (type != RTE_FLOW_ITEM_TYPE_UDP) return at.Unsupported("expected UDP");
        rte_flow_item_udp udp;
        std::memcpy(&udp, item.spec, sizeof(udp));
        out.udp_src = rte_be_to_cpu_16(udp.hdr.src_port);
        out.udp_dst = rte_be_to_cpu_16(udp.hdr.dst_port);
        break;
      }
      case 3: {
        if (type != RTE_FLOW_ITEM_TYPE_VXLAN) return at.Unsupported("expected VXLAN");
        rte_flow_item_vxlan vxlan;
        std::memcpy(&vxlan, item.spec, sizeof(vxlan));
        out.vni = rte_be_to_cpu_32(vxlan.hdr.vx_vni) >> 8;
        break;
      }
      default:
        return at.Unsupported("unexpected item after VXLAN");
    }
    ++step;
  }
  return out;
}

absl::StatusOr<Action> ParseAction(const Where& where, const rte_flow_action& action) {
  switch (TypeOf(action)) {
    case RTE_FLOW_ACTION_TYPE_DROP:
      return DropAction{};
    case RTE_FLOW_ACTION_TYPE_COUNT: {
      if (action.conf != nullptr) {
        const auto* conf = static_cast<const rte_flow_action_count*>(action.conf);
        if (conf->id != 0) {
          return where.Unsupported(absl::StrCat("id ", conf->id, " (shared counters)"));
        }
      }
      return CountAction{};
    }
    case RTE_FLOW_ACTION_TYPE_AGE: {
      ASSIGN_OR_RETURN(const auto* conf, Conf<rte_flow_action_age>(where, action));
      // The context is the caller's bookkeeping (what rte_flow_get_aged_flows returns), not
      // part of the rule.
      return AgeAction{conf->timeout};
    }
    case RTE_FLOW_ACTION_TYPE_METER: {
      ASSIGN_OR_RETURN(const auto* conf, Conf<rte_flow_action_meter>(where, action));
      return MeterAction{conf->mtr_id};
    }
    case RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP: {
      ASSIGN_OR_RETURN(const auto* conf, Conf<rte_flow_action_vxlan_encap>(where, action));
      ASSIGN_OR_RETURN(VxlanEncapAction encap, ParseEncap(where, *conf));
      return encap;
    }
    case RTE_FLOW_ACTION_TYPE_VXLAN_DECAP:
      return VxlanDecapAction{};
    case RTE_FLOW_ACTION_TYPE_SET_MAC_SRC:
    case RTE_FLOW_ACTION_TYPE_SET_MAC_DST: {
      ASSIGN_OR_RETURN(const auto* conf, Conf<rte_flow_action_set_mac>(where, action));
      MacAddress mac;
      std::memcpy(mac.bytes.data(), conf->mac_addr, 6);
      if (TypeOf(action) == RTE_FLOW_ACTION_TYPE_SET_MAC_SRC) return SetMacSrcAction{mac};
      return SetMacDstAction{mac};
    }
    case RTE_FLOW_ACTION_TYPE_DEC_TTL:
      return DecTtlAction{};
    case RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT: {
      ASSIGN_OR_RETURN(const auto* conf, Conf<rte_flow_action_ethdev>(where, action));
      return RepresentedPortAction{conf->port_id};
    }
    case RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR: {
      ASSIGN_OR_RETURN(const auto* conf, Conf<rte_flow_action_ethdev>(where, action));
      return PortRepresentorAction{conf->port_id};
    }
    case RTE_FLOW_ACTION_TYPE_JUMP: {
      ASSIGN_OR_RETURN(const auto* conf, Conf<rte_flow_action_jump>(where, action));
      return JumpAction{conf->group};
    }
    case RTE_FLOW_ACTION_TYPE_MARK: {
      ASSIGN_OR_RETURN(const auto* conf, Conf<rte_flow_action_mark>(where, action));
      return MarkAction{conf->id};
    }
    case RTE_FLOW_ACTION_TYPE_QUEUE: {
      ASSIGN_OR_RETURN(const auto* conf, Conf<rte_flow_action_queue>(where, action));
      return QueueAction{conf->index};
    }
    default:
      return where.Unsupported("action not supported");
  }
}

}  // namespace

absl::StatusOr<Rule> ParseRteFlow(const rte_flow_attr& attr, const rte_flow_item* pattern,
                                  const rte_flow_action* actions) {
  Rule rule;
  rule.group = attr.group;
  rule.priority = attr.priority;
  const int directions = attr.ingress + attr.egress + attr.transfer;
  if (directions != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "attr: exactly one of ingress, egress, transfer must be set (ingress=", attr.ingress,
        " egress=", attr.egress, " transfer=", attr.transfer, ")"));
  }
  rule.direction = attr.transfer  ? Direction::kTransfer
                   : attr.ingress ? Direction::kIngress
                                  : Direction::kEgress;
  if (pattern == nullptr) return absl::InvalidArgumentError("pattern is NULL");
  if (actions == nullptr) return absl::InvalidArgumentError("actions is NULL");

  LayerParser outer;
  LayerParser inner;
  LayerParser* layer = &outer;
  for (int i = 0;; ++i) {
    if (i >= kMaxItems) {
      return absl::InvalidArgumentError(
          absl::StrCat("pattern: no END within ", kMaxItems, " items"));
    }
    const rte_flow_item& item = pattern[i];
    const int type = TypeOf(item);
    const Where where = ItemWhere("pattern", i, type);
    if (type == RTE_FLOW_ITEM_TYPE_END) {
      if (rule.match.vxlan) {
        RETURN_IF_ERROR(inner.Finish(where, false));
        rule.match.inner = inner.m;
      } else {
        RETURN_IF_ERROR(outer.Finish(where, false));
        rule.match.outer = outer.m;
      }
      break;
    }
    if (type == RTE_FLOW_ITEM_TYPE_VOID) continue;
    if (item.last != nullptr) return where.Unsupported("ranges (last) are not supported");
    switch (type) {
      case RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT: {
        if (rule.match.represented_port) return where.Unsupported("repeated");
        rte_flow_item_ethdev mask{};
        mask.port_id = 0xffff;
        auto sm = Read(item, mask);
        if (sm.any) break;
        RETURN_IF_ERROR(ReadExact(where, "port_id", &sm.spec, &sm.mask,
                                  offsetof(rte_flow_item_ethdev, port_id),
                                  rule.match.represented_port));
        break;
      }
      case RTE_FLOW_ITEM_TYPE_MARK: {
        if (rule.match.mark) return where.Unsupported("repeated");
        rte_flow_item_mark mask{};
        mask.id = 0xffffffff;
        auto sm = Read(item, mask);
        if (sm.any) break;
        RETURN_IF_ERROR(ReadExact(where, "id", &sm.spec, &sm.mask, offsetof(rte_flow_item_mark, id),
                                  rule.match.mark));
        break;
      }
      case RTE_FLOW_ITEM_TYPE_TAG: {
        if (rule.match.tag) return where.Unsupported("repeated");
        rte_flow_item_tag mask{};
        mask.data = 0xffffffff;
        mask.index = 0xff;
        auto sm = Read(item, mask);
        if (sm.any) break;
        std::optional<uint32_t> data;
        std::optional<uint8_t> index;
        RETURN_IF_ERROR(
            ReadExact(where, "data", &sm.spec, &sm.mask, offsetof(rte_flow_item_tag, data), data));
        RETURN_IF_ERROR(ReadExact(where, "index", &sm.spec, &sm.mask,
                                  offsetof(rte_flow_item_tag, index), index));
        if (data.has_value() != index.has_value()) {
          return where.Unsupported("data and index must both be matched");
        }
        if (data) rule.match.tag = TagMatch{*index, *data};
        break;
      }
      case RTE_FLOW_ITEM_TYPE_ETH:
        RETURN_IF_ERROR(layer->Eth(where, item));
        break;
      case RTE_FLOW_ITEM_TYPE_VLAN:
        RETURN_IF_ERROR(layer->Vlan(where, item));
        break;
      case RTE_FLOW_ITEM_TYPE_IPV4:
        RETURN_IF_ERROR(layer->Ipv4(where, item));
        break;
      case RTE_FLOW_ITEM_TYPE_IPV6:
        RETURN_IF_ERROR(layer->Ipv6(where, item));
        break;
      case RTE_FLOW_ITEM_TYPE_TCP:
        RETURN_IF_ERROR(layer->Ports<rte_flow_item_tcp>(
            where, item, type,
            {{offsetof(rte_flow_item_tcp, hdr.sent_seq), 4, "sent_seq"},
             {offsetof(rte_flow_item_tcp, hdr.recv_ack), 4, "recv_ack"},
             {offsetof(rte_flow_item_tcp, hdr.data_off), 1, "data_off"},
             {offsetof(rte_flow_item_tcp, hdr.tcp_flags), 1, "tcp_flags"},
             {offsetof(rte_flow_item_tcp, hdr.rx_win), 2, "rx_win"},
             {offsetof(rte_flow_item_tcp, hdr.cksum), 2, "cksum"},
             {offsetof(rte_flow_item_tcp, hdr.tcp_urp), 2, "tcp_urp"}}));
        break;
      case RTE_FLOW_ITEM_TYPE_UDP:
        RETURN_IF_ERROR(layer->Ports<rte_flow_item_udp>(
            where, item, type,
            {{offsetof(rte_flow_item_udp, hdr.dgram_len), 2, "dgram_len"},
             {offsetof(rte_flow_item_udp, hdr.dgram_cksum), 2, "dgram_cksum"}}));
        break;
      case RTE_FLOW_ITEM_TYPE_ICMP:
        RETURN_IF_ERROR(layer->Icmp(where, item, type, IcmpDefaultMask(),
                                    offsetof(rte_flow_item_icmp, hdr.icmp_type),
                                    offsetof(rte_flow_item_icmp, hdr.icmp_code),
                                    {{offsetof(rte_flow_item_icmp, hdr.icmp_cksum), 2, "cksum"},
                                     {offsetof(rte_flow_item_icmp, hdr.icmp_ident), 2, "ident"},
                                     {offsetof(rte_flow_item_icmp, hdr.icmp_seq_nb), 2, "seq"}}));
        break;
      case RTE_FLOW_ITEM_TYPE_ICMP6:
        RETURN_IF_ERROR(layer->Icmp(where, item, type, Icmp6DefaultMask(),
                                    offsetof(rte_flow_item_icmp6, type),
                                    offsetof(rte_flow_item_icmp6, code),
                                    {{offsetof(rte_flow_item_icmp6, checksum), 2, "checksum"}}));
        break;
      case RTE_FLOW_ITEM_TYPE_VXLAN: {
        if (rule.match.vxlan) return where.Unsupported("only one VXLAN item is supported");
        RETURN_IF_ERROR(outer.Finish(where, true));
        rule.match.outer = outer.m;
        rule.match.vxlan.emplace();
        auto sm = Read(item, VxlanDefaultMask());
        layer = &inner;
        if (sm.any) break;
        const uint32_t vni_mask = rte_be_to_cpu_32(sm.mask.hdr.vx_vni);
        if ((vni_mask >> 8) == 0xffffff) {
          rule.match.vxlan->vni = rte_be_to_cpu_32(sm.spec.hdr.vx_vni) >> 8;
        } else if ((vni_mask >> 8) != 0) {
          return where.Unsupported(
              absl::StrFormat("vni mask 0x%06x is neither empty nor full", vni_mask >> 8));
        }
        sm.mask.hdr.vx_vni &= rte_cpu_to_be_32(0xff);
        RETURN_IF_ERROR(RefuseLeftover(
            where, &sm.mask, sizeof(sm.mask),
            {{offsetof(rte_flow_item_vxlan, hdr.vx_flags), 4, "flags"},
             {offsetof(rte_flow_item_vxlan, hdr.vx_vni), 4, "the reserved byte after vni"}}));
        break;
      }
      default:
        return where.Unsupported("item not supported");
    }
  }

  for (int i = 0;; ++i) {
    if (i >= kMaxItems) {
      return absl::InvalidArgumentError(
          absl::StrCat("actions: no END within ", kMaxItems, " actions"));
    }
    const rte_flow_action& action = actions[i];
    const int type = TypeOf(action);
    if (type == RTE_FLOW_ACTION_TYPE_END) break;
    if (type == RTE_FLOW_ACTION_TYPE_VOID) continue;
    const Where where{
        absl::StrCat("actions[", i, "] (", TypeLabel(ActionTypeName(type), type), ")")};
    ASSIGN_OR_RETURN(Action parsed, ParseAction(where, action));
    rule.actions.push_back(std::move(parsed));
  }
  RETURN_IF_ERROR(Validate(rule));
  return rule;
}

}  // namespace nicswitch::flowrules
