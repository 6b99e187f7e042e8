// Rule::ToString, IsFateAction and Validate (see rule.h for the contract).
#include "flowrules/rule.h"

#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "flowrules/rule_internal.h"

namespace nicswitch::flowrules {

bool IsFateAction(const Action& action) {
  return std::holds_alternative<DropAction>(action) ||
         std::holds_alternative<RepresentedPortAction>(action) ||
         std::holds_alternative<PortRepresentorAction>(action) ||
         std::holds_alternative<JumpAction>(action) || std::holds_alternative<QueueAction>(action);
}

bool HeaderMatch::empty() const { return *this == HeaderMatch{}; }

namespace internal {

const char* ActionName(const Action& action) {
  static constexpr const char* kNames[] = {"drop",
                                           "count",
                                           "age",
                                           "meter",
                                           "vxlan_encap",
                                           "vxlan_decap",
                                           "set_mac_src",
                                           "set_mac_dst",
                                           "dec_ttl",
                                           "represented_port",
                                           "port_representor",
                                           "jump",
                                           "mark",
                                           "queue"};
  static_assert(std::size(kNames) == std::variant_size_v<Action>);
  return kNames[action.index()];
}

IpVersion LayerIpVersion(const HeaderMatch& m) {
  if (m.ipv6_src || m.ipv6_dst) return IpVersion::kIpv6;
  if (m.ipv4_src || m.ipv4_dst) return IpVersion::kIpv4;
  if (m.ether_type == kEtherTypeIpv6) return IpVersion::kIpv6;
  if (m.ether_type == kEtherTypeIpv4) return IpVersion::kIpv4;
  return IpVersion::kUnspecified;
}

}  // namespace internal

namespace {

using internal::ActionName;

std::string PrefixText(const Ipv4Prefix& p) {
  return absl::StrCat(p.address.ToString(), "/", p.length);
}
std::string PrefixText(const Ipv6Prefix& p) {
  return absl::StrCat(p.address.ToString(), "/", p.length);
}

// The L4 token prefix for a layer: by protocol, and "udp" for a VXLAN outer layer.
std::string L4Name(const HeaderMatch& m, bool vxlan_outer) {
  if (m.ip_protocol == internal::kIpProtoTcp) return "tcp";
  if (m.ip_protocol == internal::kIpProtoUdp) return "udp";
  if (vxlan_outer && !m.ip_protocol) return "udp";
  return "l4";
}

void AppendLayer(const HeaderMatch& m, absl::string_view prefix, bool vxlan_outer,
                 std::vector<std::string>& out) {
  if (m.eth_src) out.push_back(absl::StrCat(prefix, "eth_src=", m.eth_src->ToString()));
  if (m.eth_dst) out.push_back(absl::StrCat(prefix, "eth_dst=", m.eth_dst->ToString()));
  if (m.ether_type) {
    out.push_back(absl::StrCat(prefix, "eth_type=", absl::StrFormat("0x%04x", *m.ether_type)));
  }
  if (m.vlan_id) out.push_back(absl::StrCat(prefix, "vlan=", *m.vlan_id));
  if (m.ipv4_src) out.push_back(absl::StrCat(prefix, "ipv4_src=", PrefixText(*m.ipv4_src)));
  if (m.ipv4_dst) out.push_back(absl::StrCat(prefix, "ipv4_dst=", PrefixText(*m.ipv4_dst)));
  if (m.ipv6_src) out.push_back(absl::StrCat(prefix, "ipv6_src=", PrefixText(*m.ipv6_src)));
  if (m.ipv6_dst) out.push_back(absl::StrCat(prefix, "ipv6_dst=", PrefixText(*m.ipv6_dst)));
  if (m.ip_protocol) out.push_back(absl::StrCat(prefix, "ip_proto=", *m.ip_protocol));
  const std::string l4 = L4Name(m, vxlan_outer);
  if (m.l4_src_port) out.push_back(absl::StrCat(prefix, l4, "_src=", *m.l4_src_port));
  if (m.l4_dst_port) out.push_back(absl::StrCat(prefix, l4, "_dst=", *m.l4_dst_port));
  if (m.icmp_type) out.push_back(absl::StrCat(prefix, "icmp_type=", *m.icmp_type));
  if (m.icmp_code) out.push_back(absl::StrCat(prefix, "icmp_code=", *m.icmp_code));
}

std::string IpPairText(const VxlanEncapAction& a) {
  return std::visit(
      [](const auto& pair) {
        return absl::StrCat("ip_src=", pair.first.ToString(), ",ip_dst=", pair.second.ToString());
      },
      a.ip);
}

std::string ActionText(const Action& action) {
  return std::visit(
      [&](const auto& a) -> std::string {
        using T = std::decay_t<decltype(a)>;
        const char* name = ActionName(action);
        if constexpr (std::is_same_v<T, AgeAction>) {
          return absl::StrCat(name, "=", a.seconds);
        } else if constexpr (std::is_same_v<T, MeterAction>) {
          return absl::StrCat(name, "=", a.meter_id);
        } else if constexpr (std::is_same_v<T, VxlanEncapAction>) {
          return absl::StrCat(name, "(vni=", a.vni, ",eth_src=", a.eth_src.ToString(),
                              ",eth_dst=", a.eth_dst.ToString(), ",", IpPairText(a), ",ttl=", a.ttl,
                              ",udp_src=", a.udp_src, ",udp_dst=", a.udp_dst, ")");
        } else if constexpr (std::is_same_v<T, SetMacSrcAction> ||
                             std::is_same_v<T, SetMacDstAction>) {
          return absl::StrCat(name, "=", a.mac.ToString());
        } else if constexpr (std::is_same_v<T, RepresentedPortAction> ||
                             std::is_same_v<T, PortRepresentorAction>) {
          return absl::StrCat(name, "=", a.port_id);
        } else if constexpr (std::is_same_v<T, JumpAction>) {
          return absl::StrCat(name, "=", a.group);
        } else if constexpr (std::is_same_v<T, MarkAction>) {
          return absl::StrCat(name, "=", a.id);
        } else if constexpr (std::is_same_v<T, QueueAction>) {
          return absl::StrCat(name, "=", a.index);
        } else {
          return name;
        }
      },
      action);
}

const char* DirectionName(Direction d) {
  switch (d) {
    case Direction::kTransfer:
      return "transfer";
    case Direction::kIngress:
      return "ingress";
    case Direction::kEgress:
      return "egress";
  }
  return "direction?";
}

}  // namespace

std::string Rule::ToString() const {
  std::vector<std::string> tokens;
  if (match.represented_port) tokens.push_back(absl::StrCat("port=", *match.represented_port));
  AppendLayer(match.outer, "", match.vxlan.has_value(), tokens);
  if (match.vxlan) {
    tokens.push_back(match.vxlan->vni ? absl::StrCat("vxlan_vni=", *match.vxlan->vni) : "vxlan");
  }
  AppendLayer(match.inner, "inner_", false, tokens);
  if (match.mark) tokens.push_back(absl::StrCat("mark=", *match.mark));
  if (match.tag) tokens.push_back(absl::StrCat("tag=", match.tag->index, ":", match.tag->data));
  if (tokens.empty()) tokens.push_back("any");

  std::vector<std::string> action_tokens;
  for (const Action& a : actions) action_tokens.push_back(ActionText(a));
  if (action_tokens.empty()) action_tokens.push_back("none");

  return absl::StrCat(DirectionName(direction), " group ", group, " prio ", priority, " match ",
                      absl::StrJoin(tokens, " "), " actions ", absl::StrJoin(action_tokens, " "));
}

// ---- Validate ------------------------------------------------------------------------------

namespace {

absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", message));
}

// `layer` and `name` make the field's name, built only on error (Validate runs per flow setup).
template <typename Address, int kBits>
absl::Status CheckPrefix(const Prefix<Address, kBits>& p, absl::string_view layer,
                         absl::string_view name) {
  const auto field = [&] { return absl::StrCat(layer, ".", name); };
  if (p.length > kBits) {
    return Invalid(field(), absl::StrCat(p.address.ToString(), "/", p.length, " prefix length ",
                                         p.length, " exceeds ", kBits));
  }
  if (p.length == 0) {
    return Invalid(field(), absl::StrCat(p.address.ToString(),
                                         "/0 matches every address; leave "
                                         "the field unset instead"));
  }
  bool host_bits = false;
  if constexpr (kBits == 32) {
    const uint32_t mask = internal::Ipv4PrefixMask(p.length);
    host_bits = (p.address.value & ~mask) != 0;
  } else {
    const auto mask = internal::Ipv6PrefixMask(p.length);
    for (int i = 0; i < 16; ++i) host_bits |= (p.address.bytes[i] & ~mask[i]) != 0;
  }
  if (host_bits) {
    return Invalid(field(),
                   absl::StrCat(p.address.ToString(), "/", p.length, " has host bits set"));
  }
  return absl::OkStatus();
}

absl::Status CheckLayer(const HeaderMatch& m, absl::string_view name, bool vxlan_outer) {
  auto field = [&](absl::string_view f) { return absl::StrCat(name, ".", f); };
  if (m.vlan_id && *m.vlan_id > 0xfff) {
    return Invalid(field("vlan_id"), absl::StrCat(*m.vlan_id, " exceeds 12 bits"));
  }
  if (m.ipv4_src) RETURN_IF_ERROR(CheckPrefix(*m.ipv4_src, name, "ipv4_src"));
  if (m.ipv4_dst) RETURN_IF_ERROR(CheckPrefix(*m.ipv4_dst, name, "ipv4_dst"));
  if (m.ipv6_src) RETURN_IF_ERROR(CheckPrefix(*m.ipv6_src, name, "ipv6_src"));
  if (m.ipv6_dst) RETURN_IF_ERROR(CheckPrefix(*m.ipv6_dst, name, "ipv6_dst"));
  const bool has_v4 = m.ipv4_src || m.ipv4_dst;
  const bool has_v6 = m.ipv6_src || m.ipv6_dst;
  if (has_v4 && has_v6) {
    return Invalid(field(m.ipv6_src ? "ipv6_src" : "ipv6_dst"),
                   "IPv4 and IPv6 fields cannot be mixed in one header layer");
  }
  if (m.ether_type) {
    const uint16_t t = *m.ether_type;
    if ((has_v4 && t != internal::kEtherTypeIpv4) || (has_v6 && t != internal::kEtherTypeIpv6)) {
      return Invalid(field("ether_type"), absl::StrFormat("0x%04x conflicts with the %s fields", t,
                                                          has_v4 ? "ipv4" : "ipv6"));
    }
    if ((m.ip_protocol || vxlan_outer) && t != internal::kEtherTypeIpv4 &&
        t != internal::kEtherTypeIpv6) {
      return Invalid(field("ether_type"),
                     absl::StrFormat("0x%04x conflicts with %s", t,
                                     m.ip_protocol ? "ip_protocol" : "vxlan (needs IP)"));
    }
  }
  const internal::IpVersion version = internal::LayerIpVersion(m);
  if (vxlan_outer && m.ip_protocol && *m.ip_protocol != internal::kIpProtoUdp) {
    return Invalid(field("ip_protocol"),
                   absl::StrCat(*m.ip_protocol, " is not UDP (17) under vxlan"));
  }
  const bool tcp_udp = m.ip_protocol == internal::kIpProtoTcp ||
                       m.ip_protocol == internal::kIpProtoUdp || (vxlan_outer && !m.ip_protocol);
  for (const auto& [port, fname] :
       {std::pair{m.l4_src_port, "l4_src_port"}, std::pair{m.l4_dst_port, "l4_dst_port"}}) {
    if (port && !tcp_udp) {
      return Invalid(field(fname),
                     absl::StrCat(*port, " needs ip_protocol 6 (TCP) or 17 (UDP), got ",
                                  m.ip_protocol ? absl::StrCat(*m.ip_protocol) : "none"));
    }
  }
  for (const auto& [value, fname] :
       {std::pair{m.icmp_type, "icmp_type"}, std::pair{m.icmp_code, "icmp_code"}}) {
    if (!value) continue;
    const bool icmp4 =
        m.ip_protocol == internal::kIpProtoIcmp && version != internal::IpVersion::kIpv6;
    const bool icmp6 =
        m.ip_protocol == internal::kIpProtoIcmp6 && version == internal::IpVersion::kIpv6;
    if (!icmp4 && !icmp6) {
      return Invalid(field(fname),
                     absl::StrCat(*value,
                                  " needs ip_protocol 1 (ICMP, IPv4) or 58 (ICMPv6, "
                                  "IPv6), got ",
                                  m.ip_protocol ? absl::StrCat(*m.ip_protocol) : "none"));
    }
  }
  return absl::OkStatus();
}

std::string ActionField(size_t i, const Action& a) {
  return absl::StrCat("actions[", i, "] (", ActionName(a), ")");
}

}  // namespace

absl::Status Validate(const Rule& rule, const ValidationLimits& limits) {
  if (rule.group > limits.max_group) {
    return Invalid("group", absl::StrCat(rule.group, " exceeds the maximum ", limits.max_group));
  }
  const Match& match = rule.match;
  const bool transfer = rule.direction == Direction::kTransfer;
  if (match.represented_port) {
    if (*match.represented_port > limits.max_port_id) {
      return Invalid("match.represented_port",
                     absl::StrCat(*match.represented_port, " exceeds the maximum port id ",
                                  limits.max_port_id));
    }
    if (!transfer) {
      return Invalid("match.represented_port",
                     absl::StrCat(*match.represented_port, " needs a transfer rule"));
    }
  }
  RETURN_IF_ERROR(CheckLayer(match.outer, "match.outer", match.vxlan.has_value()));
  if (match.vxlan) {
    if (match.vxlan->vni && *match.vxlan->vni > internal::kMaxVni) {
      return Invalid("match.vxlan.vni", absl::StrCat(*match.vxlan->vni, " exceeds 24 bits"));
    }
    RETURN_IF_ERROR(CheckLayer(match.inner, "match.inner", false));
  } else if (!match.inner.empty()) {
    return Invalid("match.inner", "inner header fields need match.vxlan");
  }

  // Actions.
  std::optional<size_t> fate;
  std::optional<size_t> encap;
  bool seen[std::variant_size_v<Action>] = {};
  for (size_t i = 0; i < rule.actions.size(); ++i) {
    const Action& action = rule.actions[i];
    const auto field = [&] { return ActionField(i, action); };  // built only on error
    if (IsFateAction(action)) {
      if (fate) {
        return Invalid(
            field(), absl::StrCat("a second fate action; ", ActionField(*fate, rule.actions[*fate]),
                                  " already decides the packet's fate"));
      }
      fate = i;
    } else {
      if (seen[action.index()]) {
        return Invalid(field(), absl::StrCat("duplicate ", ActionName(action), " action"));
      }
      seen[action.index()] = true;
    }
    absl::Status status = std::visit(
        [&](const auto& a) -> absl::Status {
          using T = std::decay_t<decltype(a)>;
          if constexpr (std::is_same_v<T, AgeAction>) {
            if (a.seconds == 0) return Invalid(field(), "age of 0 seconds");
            if (a.seconds > internal::kMaxAgeSeconds) {
              return Invalid(field(), absl::StrCat("age ", a.seconds, " exceeds 24 bits"));
            }
          } else if constexpr (std::is_same_v<T, VxlanEncapAction>) {
            if (a.vni > internal::kMaxVni) {
              return Invalid(field(), absl::StrCat("vni ", a.vni, " exceeds 24 bits"));
            }
            if (a.udp_src == 0) return Invalid(field(), "udp_src 0 is not a valid source port");
            if (a.udp_dst == 0) return Invalid(field(), "udp_dst 0 is not a valid port");
            if (a.ttl == 0) return Invalid(field(), "ttl 0");
            encap = i;
          } else if constexpr (std::is_same_v<T, VxlanDecapAction>) {
            if (!match.vxlan) {
              return Invalid(field(),
                             "decap on a rule that does not match vxlan (set match.vxlan)");
            }
          } else if constexpr (std::is_same_v<T, RepresentedPortAction> ||
                               std::is_same_v<T, PortRepresentorAction>) {
            if (a.port_id > limits.max_port_id) {
              return Invalid(field(),
                             absl::StrCat("port_id ", a.port_id, " exceeds the maximum port id ",
                                          limits.max_port_id));
            }
            if (!transfer) {
              return Invalid(field(),
                             absl::StrCat("port_id ", a.port_id, " needs a transfer rule"));
            }
          } else if constexpr (std::is_same_v<T, JumpAction>) {
            if (a.group > limits.max_group) {
              return Invalid(field(), absl::StrCat("group ", a.group, " exceeds the maximum ",
                                                   limits.max_group));
            }
            if (a.group == rule.group) {
              return Invalid(field(),
                             absl::StrCat("group ", a.group, " is the rule's own group (a loop)"));
            }
          } else if constexpr (std::is_same_v<T, QueueAction>) {
            if (a.index > limits.max_queue_index) {
              return Invalid(field(), absl::StrCat("index ", a.index, " exceeds the maximum ",
                                                   limits.max_queue_index));
            }
            if (rule.direction != Direction::kIngress) {
              return Invalid(field(), absl::StrCat("index ", a.index, " needs an ingress rule"));
            }
          }
          return absl::OkStatus();
        },
        action);
    RETURN_IF_ERROR(status);
  }
  if (!fate) return Invalid("actions", "no fate action");
  if (encap) {
    const Action& f = rule.actions[*fate];
    if (!std::holds_alternative<RepresentedPortAction>(f) || *fate < *encap) {
      return Invalid(ActionField(*encap, rule.actions[*encap]),
                     "encap without an output: a represented_port action must follow it");
    }
  }
  return absl::OkStatus();
}

}  // namespace nicswitch::flowrules
