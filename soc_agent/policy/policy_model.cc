#include "soc_agent/policy/policy_model.h"

#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace nicswitch::policy {
namespace {

constexpr char kFieldPayload[] = "type.nicswitch.dev/field";
constexpr uint32_t kMaxVni = (1u << 24) - 1;

std::string Quote(absl::string_view s) { return absl::StrCat("\"", s, "\""); }

absl::Status Invalid(absl::string_view field, absl::string_view message) {
  return FieldError(absl::StatusCode::kInvalidArgument, field, message);
}

// `what` "<name>": <problem>, e.g. vnic "vm-7": mac "zz" is not a MAC address.
std::string Subject(absl::string_view kind, absl::string_view name) {
  return absl::StrCat(kind, " ", Quote(name), ": ");
}

absl::Status CheckName(absl::string_view kind, absl::string_view name) {
  std::string field = absl::StrCat(kind, ".name");
  if (name.empty()) {
    return Invalid(field, absl::StrCat(kind, ": name is required"));
  }
  if (name.size() > 63) {
    return Invalid(field, absl::StrCat(Subject(kind, name), "name is longer than 63 characters"));
  }
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') {
      return Invalid(field, absl::StrCat(Subject(kind, name),
                                         "name may only contain letters, digits, '-', '_', '.'"));
    }
  }
  return absl::OkStatus();
}

// Parses an address field; `required` refuses the empty string.
absl::StatusOr<IpAddress> ParseIp(absl::string_view kind, absl::string_view name,
                                  absl::string_view field, absl::string_view text) {
  std::string path = absl::StrCat(kind, ".", field);
  if (text.empty()) {
    return Invalid(path, absl::StrCat(Subject(kind, name), field, " is required"));
  }
  absl::StatusOr<IpAddress> ip = IpAddress::Parse(text);
  if (!ip.ok()) {
    return Invalid(path, absl::StrCat(Subject(kind, name), field, " ", ip.status().message()));
  }
  return ip;
}

absl::StatusOr<IpAddress> ParseIpv4(absl::string_view kind, absl::string_view name,
                                    absl::string_view field, absl::string_view text) {
  ASSIGN_OR_RETURN(IpAddress ip, ParseIp(kind, name, field, text));
  if (ip.v6) {
    return Invalid(
        absl::StrCat(kind, ".", field),
        absl::StrCat(Subject(kind, name), field, " ", Quote(text), " is not an IPv4 address"));
  }
  return ip;
}

absl::StatusOr<MacAddress> ParseUnicastMac(absl::string_view kind, absl::string_view name,
                                           absl::string_view field, absl::string_view text) {
  std::string path = absl::StrCat(kind, ".", field);
  if (text.empty()) {
    return Invalid(path, absl::StrCat(Subject(kind, name), field, " is required"));
  }
  absl::StatusOr<MacAddress> mac = MacAddress::Parse(text);
  if (!mac.ok()) {
    return Invalid(path, absl::StrCat(Subject(kind, name), field, " ", mac.status().message()));
  }
  if (mac->IsMulticast() || mac->IsZero()) {
    return Invalid(path, absl::StrCat(Subject(kind, name), field, " ", Quote(text),
                                      " is not a unicast MAC address"));
  }
  return mac;
}

absl::StatusOr<IpPrefix> ParsePrefix(absl::string_view kind, absl::string_view name,
                                     absl::string_view field, absl::string_view text) {
  std::string path = absl::StrCat(kind, ".", field);
  if (text.empty()) {
    return Invalid(path, absl::StrCat(Subject(kind, name), field, " is required"));
  }
  absl::StatusOr<IpPrefix> prefix = IpPrefix::Parse(text);
  if (!prefix.ok()) {
    return Invalid(path, absl::StrCat(Subject(kind, name), field, " ", prefix.status().message()));
  }
  return prefix;
}

absl::StatusOr<UnderlayInfo> ParseUnderlay(const v1::Underlay& u) {
  constexpr absl::string_view k = "underlay";
  if (u.name() != "default") {
    return Invalid("underlay.name",
                   absl::StrCat(Subject(k, u.name()), "the only underlay is named \"default\""));
  }
  UnderlayInfo info;
  ASSIGN_OR_RETURN(info.vtep_ip, ParseIpv4(k, u.name(), "vtep_ip", u.vtep_ip()));
  ASSIGN_OR_RETURN(info.uplink_mac, ParseUnicastMac(k, u.name(), "uplink_mac", u.uplink_mac()));
  ASSIGN_OR_RETURN(info.next_hop_mac,
                   ParseUnicastMac(k, u.name(), "next_hop_mac", u.next_hop_mac()));
  if (u.vxlan_port() > 65535) {
    return Invalid("underlay.vxlan_port", absl::StrCat(Subject(k, u.name()), "vxlan_port ",
                                                       u.vxlan_port(), " is over 65535"));
  }
  info.vxlan_port = u.vxlan_port() == 0 ? 4789 : static_cast<uint16_t>(u.vxlan_port());
  if (u.mtu() != 0 && (u.mtu() < 576 || u.mtu() > 9216)) {
    return Invalid("underlay.mtu",
                   absl::StrCat(Subject(k, u.name()), "mtu ", u.mtu(), " is outside 576..9216"));
  }
  info.mtu = u.mtu() == 0 ? 1500 : static_cast<uint16_t>(u.mtu());
  return info;
}

absl::StatusOr<VpcInfo> ParseVpc(const v1::Vpc& v, size_t max_cidrs) {
  constexpr absl::string_view k = "vpc";
  RETURN_IF_ERROR(CheckName(k, v.name()));
  VpcInfo info;
  info.name = v.name();
  if (v.vni() == 0 || v.vni() > kMaxVni) {
    return Invalid("vpc.vni", absl::StrCat(Subject(k, v.name()), "vni ", v.vni(),
                                           " is outside 1..16777215 (24 bits)"));
  }
  info.vni = v.vni();
  if (v.cidrs().empty()) {
    return Invalid("vpc.cidrs",
                   absl::StrCat(Subject(k, v.name()), "at least one CIDR is required"));
  }
  if (static_cast<size_t>(v.cidrs_size()) > max_cidrs) {
    return FieldError(
        absl::StatusCode::kResourceExhausted, "vpc.cidrs",
        absl::StrCat(Subject(k, v.name()), v.cidrs_size(), " CIDRs, at most ", max_cidrs));
  }
  for (int i = 0; i < v.cidrs_size(); ++i) {
    std::string field = absl::StrCat("cidrs[", i, "]");
    ASSIGN_OR_RETURN(IpPrefix prefix, ParsePrefix(k, v.name(), field, v.cidrs(i)));
    for (int j = 0; j < i; ++j) {
      if (info.cidrs[j].Overlaps(prefix)) {
        return Invalid(absl::StrCat("vpc.", field),
                       absl::StrCat(Subject(k, v.name()), field, " ", Quote(v.cidrs(i)),
                                    " overlaps cidrs[", j, "] ", Quote(v.cidrs(j))));
      }
    }
    info.cidrs.push_back(prefix);
  }
  return info;
}

absl::StatusOr<VnicInfo> ParseVnic(const v1::Vnic& v, uint32_t max_vfs) {
  constexpr absl::string_view k = "vnic";
  RETURN_IF_ERROR(CheckName(k, v.name()));
  VnicInfo info;
  info.name = v.name();
  if (v.vpc().empty()) {
    return Invalid("vnic.vpc", absl::StrCat(Subject(k, v.name()), "vpc is required"));
  }
  info.vpc = v.vpc();
  if (v.vf_index() >= max_vfs) {
    return Invalid("vnic.vf_index", absl::StrCat(Subject(k, v.name()), "vf_index ", v.vf_index(),
                                                 " is out of range (this NIC has ", max_vfs,
                                                 " VFs: 0..", max_vfs - 1, ")"));
  }
  info.vf_index = v.vf_index();
  ASSIGN_OR_RETURN(info.mac, ParseUnicastMac(k, v.name(), "mac", v.mac()));
  if (v.ipv4().empty() && v.ipv6().empty()) {
    return Invalid("vnic.ipv4", absl::StrCat(Subject(k, v.name()), "ipv4 or ipv6 is required"));
  }
  if (!v.ipv4().empty()) {
    ASSIGN_OR_RETURN(info.ipv4, ParseIpv4(k, v.name(), "ipv4", v.ipv4()));
  }
  if (!v.ipv6().empty()) {
    ASSIGN_OR_RETURN(IpAddress ip, ParseIp(k, v.name(), "ipv6", v.ipv6()));
    if (!ip.v6) {
      return Invalid("vnic.ipv6", absl::StrCat(Subject(k, v.name()), "ipv6 ", Quote(v.ipv6()),
                                               " is not an IPv6 address"));
    }
    info.ipv6 = ip;
  }
  for (int i = 0; i < v.security_groups_size(); ++i) {
    const std::string& sg = v.security_groups(i);
    std::string field = absl::StrCat("vnic.security_groups[", i, "]");
    if (sg.empty()) {
      return Invalid(field,
                     absl::StrCat(Subject(k, v.name()), "security_groups[", i, "] is empty"));
    }
    for (int j = 0; j < i; ++j) {
      if (v.security_groups(j) == sg) {
        return Invalid(field, absl::StrCat(Subject(k, v.name()), "security group ", Quote(sg),
                                           " is listed twice"));
      }
    }
    info.security_groups.push_back(sg);
  }
  if (v.qos().rate_bps() > 0 && v.qos().burst_bytes() == 0) {
    return Invalid("vnic.qos.burst_bytes",
                   absl::StrCat(Subject(k, v.name()), "qos.burst_bytes is required with a rate"));
  }
  info.rate_bps = v.qos().rate_bps();
  info.burst_bytes = v.qos().burst_bytes();
  return info;
}

absl::StatusOr<MappingInfo> ParseMapping(const v1::Mapping& m) {
  constexpr absl::string_view k = "mapping";
  RETURN_IF_ERROR(CheckName(k, m.name()));
  MappingInfo info;
  info.name = m.name();
  if (m.vpc().empty()) {
    return Invalid("mapping.vpc", absl::StrCat(Subject(k, m.name()), "vpc is required"));
  }
  info.vpc = m.vpc();
  ASSIGN_OR_RETURN(info.overlay_ip, ParseIp(k, m.name(), "overlay_ip", m.overlay_ip()));
  ASSIGN_OR_RETURN(info.remote_vtep_ip,
                   ParseIpv4(k, m.name(), "remote_vtep_ip", m.remote_vtep_ip()));
  ASSIGN_OR_RETURN(info.remote_mac, ParseUnicastMac(k, m.name(), "remote_mac", m.remote_mac()));
  return info;
}

absl::StatusOr<RouteInfo> ParseRoute(const v1::Route& r) {
  constexpr absl::string_view k = "route";
  RETURN_IF_ERROR(CheckName(k, r.name()));
  RouteInfo info;
  info.name = r.name();
  if (r.vpc().empty()) {
    return Invalid("route.vpc", absl::StrCat(Subject(k, r.name()), "vpc is required"));
  }
  info.vpc = r.vpc();
  ASSIGN_OR_RETURN(info.prefix, ParsePrefix(k, r.name(), "prefix", r.prefix()));
  ASSIGN_OR_RETURN(info.next_hop, ParseIp(k, r.name(), "next_hop", r.next_hop()));
  if (info.next_hop.v6 != info.prefix.address.v6) {
    return Invalid("route.next_hop",
                   absl::StrCat(Subject(k, r.name()), "next_hop ", Quote(r.next_hop()),
                                " is not of the prefix's address family"));
  }
  return info;
}

absl::StatusOr<SecurityGroupInfo> ParseSecurityGroup(const v1::SecurityGroup& sg,
                                                     size_t max_rules) {
  constexpr absl::string_view k = "security_group";
  RETURN_IF_ERROR(CheckName(k, sg.name()));
  SecurityGroupInfo info;
  info.name = sg.name();
  if (static_cast<size_t>(sg.rules_size()) > max_rules) {
    return FieldError(
        absl::StatusCode::kResourceExhausted, "security_group.rules",
        absl::StrCat(Subject(k, sg.name()), sg.rules_size(), " rules, at most ", max_rules));
  }
  for (int i = 0; i < sg.rules_size(); ++i) {
    const v1::SecurityGroupRule& r = sg.rules(i);
    std::string field = absl::StrCat("security_group.rules[", i, "].");
    std::string subject = absl::StrCat(Subject(k, sg.name()), "rules[", i, "].");
    SecurityRule rule;
    switch (r.direction()) {
      case v1::SecurityGroupRule::INGRESS:
        rule.direction = SecurityRule::Direction::kIngress;
        break;
      case v1::SecurityGroupRule::EGRESS:
        rule.direction = SecurityRule::Direction::kEgress;
        break;
      default:
        return Invalid(field + "direction",
                       absl::StrCat(subject, "direction must be INGRESS or EGRESS"));
    }
    switch (r.protocol()) {
      case v1::SecurityGroupRule::ANY:
      case v1::SecurityGroupRule::ICMP:
      case v1::SecurityGroupRule::TCP:
      case v1::SecurityGroupRule::UDP:
        rule.protocol = static_cast<uint8_t>(r.protocol());
        break;
      default:
        return Invalid(field + "protocol", absl::StrCat(subject, "protocol ", r.protocol(),
                                                        " is not ANY, ICMP, TCP or UDP"));
    }
    bool has_ports = r.port_min() != 0 || r.port_max() != 0;
    if (has_ports) {
      if (rule.protocol != 6 && rule.protocol != 17) {
        return Invalid(field + "port_min",
                       absl::StrCat(subject, "port ranges need protocol TCP or UDP"));
      }
      if (r.port_max() > 65535 || r.port_min() > r.port_max()) {
        return Invalid(field + "port_max",
                       absl::StrCat(subject, "port range ", r.port_min(), "-", r.port_max(),
                                    " is not within 0..65535 with port_min <= port_max"));
      }
      rule.port_min = static_cast<uint16_t>(r.port_min());
      rule.port_max = static_cast<uint16_t>(r.port_max());
    }
    if (!r.remote_cidr().empty()) {
      absl::StatusOr<IpPrefix> prefix = IpPrefix::Parse(r.remote_cidr());
      if (!prefix.ok()) {
        return Invalid(field + "remote_cidr",
                       absl::StrCat(subject, "remote_cidr ", prefix.status().message()));
      }
      rule.remote = *prefix;
    }
    switch (r.action()) {
      case v1::SecurityGroupRule::ALLOW:
        rule.allow = true;
        break;
      case v1::SecurityGroupRule::DENY:
        rule.allow = false;
        break;
      default:
        return Invalid(field + "action", absl::StrCat(subject, "action must be ALLOW or DENY"));
    }
    info.rules.push_back(rule);
  }
  return info;
}

bool InAnyCidr(const VpcInfo& vpc, const IpAddress& ip) {
  for (const IpPrefix& p : vpc.cidrs) {
    if (p.Contains(ip)) {
      return true;
    }
  }
  return false;
}

}  // namespace

// ----- errors ---------------------------------------------------------------------------------

absl::Status FieldError(absl::StatusCode code, absl::string_view field, absl::string_view message) {
  absl::Status status(code, message);
  status.SetPayload(kFieldPayload, absl::Cord(field));
  return status;
}

std::string ErrorField(const absl::Status& status) {
  absl::optional<absl::Cord> field = status.GetPayload(kFieldPayload);
  return field ? std::string(*field) : std::string();
}

bool SecurityRule::Matches(uint8_t packet_protocol, const IpAddress& remote_ip,
                           uint16_t port) const {
  if (protocol != 0 && protocol != packet_protocol) {
    return false;
  }
  if ((protocol == 6 || protocol == 17) && (port < port_min || port > port_max)) {
    return false;
  }
  return !remote || remote->Contains(remote_ip);
}

// ----- kinds ----------------------------------------------------------------------------------

EntityKind KindOf(const Entity& entity) {
  // The oneof's field numbers are the EntityKind values.
  return static_cast<EntityKind>(static_cast<int>(entity.kind_case()));
}

const std::string& NameOf(const Entity& entity) {
  static const std::string* const kEmpty = new std::string();
  switch (entity.kind_case()) {
    case Entity::kUnderlay:
      return entity.underlay().name();
    case Entity::kVpc:
      return entity.vpc().name();
    case Entity::kVnic:
      return entity.vnic().name();
    case Entity::kMapping:
      return entity.mapping().name();
    case Entity::kRoute:
      return entity.route().name();
    case Entity::kSecurityGroup:
      return entity.security_group().name();
    case Entity::KIND_NOT_SET:
      break;
  }
  return *kEmpty;
}

absl::string_view KindName(EntityKind kind) {
  switch (kind) {
    case v1::UNDERLAY:
      return "underlay";
    case v1::VPC:
      return "vpc";
    case v1::VNIC:
      return "vnic";
    case v1::MAPPING:
      return "mapping";
    case v1::ROUTE:
      return "route";
    case v1::SECURITY_GROUP:
      return "security_group";
    default:
      return "entity";
  }
}

// ----- model ----------------------------------------------------------------------------------

PolicyModel::PolicyModel(Limits limits) : limits_(limits) {}

absl::Status PolicyModel::Apply(const v1::Update& update, std::vector<PolicyChange>* changes,
                                UndoLog* undo) {
  if (update.type() != v1::Update::INSERT && update.type() != v1::Update::MODIFY &&
      update.type() != v1::Update::DELETE) {
    return Invalid("type", "update type must be INSERT, MODIFY or DELETE");
  }
  EntityKind kind = KindOf(update.entity());
  if (kind == v1::ENTITY_KIND_UNSPECIFIED) {
    return Invalid("entity",
                   "the update names no entity (set one of underlay, vpc, vnic, "
                   "mapping, route, security_group)");
  }
  const v1::Update* effective = &update;
  v1::Update normalized;
  if (kind == v1::UNDERLAY && update.entity().underlay().name().empty()) {
    normalized = update;
    normalized.mutable_entity()->mutable_underlay()->set_name("default");
    effective = &normalized;
  }
  const Entity& entity = effective->entity();
  const std::string& name = NameOf(entity);
  const Entity* existing = Find(kind, name);
  RETURN_IF_ERROR(Validate(*effective, existing));

  UndoLog::Entry entry{kind, name, existing ? std::optional<Entity>(*existing) : std::nullopt};
  PolicyChange change;
  if (effective->type() == v1::Update::DELETE) {
    change.op = PolicyChange::Op::kDelete;
    change.entity = *existing;
    Erase(kind, name);
  } else {
    change.op = PolicyChange::Op::kPut;
    change.entity = entity;
    if (absl::Status status = Put(entity); !status.ok()) {
      // Validate() parsed it already: a failure here is a bug, state may be inconsistent.
      std::abort();
    }
  }
  undo->entries_.push_back(std::move(entry));
  changes->push_back(std::move(change));
  return absl::OkStatus();
}

void PolicyModel::Undo(UndoLog undo) {
  for (auto it = undo.entries_.rbegin(); it != undo.entries_.rend(); ++it) {
    if (it->previous) {
      if (!Put(*it->previous).ok()) {
        std::abort();  // it was in the model a moment ago
      }
    } else {
      Erase(it->kind, it->name);
    }
  }
}

absl::Status PolicyModel::ApplyCommitted(const PolicyChange& change) {
  EntityKind kind = KindOf(change.entity);
  if (kind == v1::ENTITY_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError("committed change names no entity");
  }
  if (change.op == PolicyChange::Op::kDelete) {
    Erase(kind, NameOf(change.entity));
    return absl::OkStatus();
  }
  return Put(change.entity);
}

absl::Status PolicyModel::ApplyCommitted(const PolicyBatch& batch) {
  for (const PolicyChange& change : batch.changes) {
    RETURN_IF_ERROR(ApplyCommitted(change));
  }
  revision_ = batch.revision;
  return absl::OkStatus();
}

absl::Status PolicyModel::Validate(const v1::Update& update, const Entity* existing) const {
  EntityKind kind = KindOf(update.entity());
  absl::string_view kind_name = KindName(kind);
  const std::string& name = NameOf(update.entity());
  std::string name_field = absl::StrCat(kind_name, ".name");
  switch (update.type()) {
    case v1::Update::INSERT:
      if (existing != nullptr) {
        return FieldError(absl::StatusCode::kAlreadyExists, name_field,
                          absl::StrCat(Subject(kind_name, name), "already exists"));
      }
      if (Count(kind) >= limits_.max_entities_per_kind) {
        return FieldError(
            absl::StatusCode::kResourceExhausted, name_field,
            absl::StrCat(Subject(kind_name, name), "the limit of ", limits_.max_entities_per_kind,
                         " ", kind_name, " entities is reached"));
      }
      break;
    case v1::Update::MODIFY:
    case v1::Update::DELETE:
      if (existing == nullptr) {
        RETURN_IF_ERROR(kind == v1::UNDERLAY ? absl::OkStatus() : CheckName(kind_name, name));
        return FieldError(absl::StatusCode::kNotFound, name_field,
                          absl::StrCat(Subject(kind_name, name), "does not exist"));
      }
      break;
    default:
      break;
  }
  if (update.type() == v1::Update::DELETE) {
    return ValidateDelete(kind, name);
  }
  bool modify = update.type() == v1::Update::MODIFY;
  switch (kind) {
    case v1::UNDERLAY:
      return ValidateUnderlay(update.entity().underlay());
    case v1::VPC:
      return ValidateVpc(update.entity().vpc(), modify);
    case v1::VNIC:
      return ValidateVnic(update.entity().vnic());
    case v1::MAPPING:
      return ValidateMapping(update.entity().mapping());
    case v1::ROUTE:
      return ValidateRoute(update.entity().route());
    case v1::SECURITY_GROUP:
      return ValidateSecurityGroup(update.entity().security_group());
    default:
      return Invalid("entity", "unknown entity kind");
  }
}

absl::Status PolicyModel::ValidateUnderlay(const v1::Underlay& u) const {
  return ParseUnderlay(u).status();
}

absl::Status PolicyModel::ValidateVpc(const v1::Vpc& vpc, bool modify) const {
  ASSIGN_OR_RETURN(VpcInfo info, ParseVpc(vpc, limits_.max_cidrs_per_vpc));
  if (auto it = vpc_by_vni_.find(info.vni); it != vpc_by_vni_.end() && it->second != vpc.name()) {
    return FieldError(absl::StatusCode::kAlreadyExists, "vpc.vni",
                      absl::StrCat(Subject("vpc", vpc.name()), "vni ", info.vni,
                                   " is already used by vpc ", Quote(it->second)));
  }
  if (!modify) {
    return absl::OkStatus();
  }
  // The new CIDRs must still hold every address of the VPC's vNICs, mappings and next hops.
  auto outside = [&](const IpAddress& ip, absl::string_view what, absl::string_view who) {
    return FieldError(absl::StatusCode::kFailedPrecondition, "vpc.cidrs",
                      absl::StrCat(Subject("vpc", vpc.name()), "the new CIDRs do not contain ",
                                   ip.ToString(), " of ", what, " ", Quote(who)));
  };
  for (const auto& [name, vnic] : vnics_) {
    if (vnic.info.vpc != vpc.name()) {
      continue;
    }
    for (const auto& ip : {vnic.info.ipv4, vnic.info.ipv6}) {
      if (ip && !InAnyCidr(info, *ip)) {
        return outside(*ip, "vnic", name);
      }
    }
  }
  for (const auto& [name, m] : mappings_) {
    if (m.info.vpc == vpc.name() && !InAnyCidr(info, m.info.overlay_ip)) {
      return outside(m.info.overlay_ip, "mapping", name);
    }
  }
  return absl::OkStatus();
}

absl::Status PolicyModel::ValidateVnic(const v1::Vnic& vnic) const {
  constexpr absl::string_view k = "vnic";
  ASSIGN_OR_RETURN(VnicInfo info, ParseVnic(vnic, limits_.max_vfs));
  const VpcInfo* vpc = FindVpc(info.vpc);
  if (vpc == nullptr) {
    return FieldError(
        absl::StatusCode::kFailedPrecondition, "vnic.vpc",
        absl::StrCat(Subject(k, vnic.name()), "vpc ", Quote(info.vpc), " does not exist"));
  }
  if (auto it = vnic_by_vf_.find(info.vf_index);
      it != vnic_by_vf_.end() && it->second != vnic.name()) {
    return FieldError(absl::StatusCode::kAlreadyExists, "vnic.vf_index",
                      absl::StrCat(Subject(k, vnic.name()), "vf_index ", info.vf_index,
                                   " is already used by vnic ", Quote(it->second)));
  }
  if (auto it = vnic_by_mac_.find(info.mac);
      it != vnic_by_mac_.end() && it->second != vnic.name()) {
    return FieldError(absl::StatusCode::kAlreadyExists, "vnic.mac",
                      absl::StrCat(Subject(k, vnic.name()), "mac ", info.mac.ToString(),
                                   " is already used by vnic ", Quote(it->second)));
  }
  for (const auto& [field, ip] : {std::pair{"ipv4", info.ipv4}, std::pair{"ipv6", info.ipv6}}) {
    if (!ip) {
      continue;
    }
    std::string path = absl::StrCat("vnic.", field);
    if (!InAnyCidr(*vpc, *ip)) {
      return Invalid(path, absl::StrCat(Subject(k, vnic.name()), field, " ", ip->ToString(),
                                        " is not in any CIDR of vpc ", Quote(vpc->name)));
    }
    VpcIpKey key{info.vpc, *ip};
    if (auto it = vnic_by_ip_.find(key); it != vnic_by_ip_.end() && it->second != vnic.name()) {
      return FieldError(absl::StatusCode::kAlreadyExists, path,
                        absl::StrCat(Subject(k, vnic.name()), field, " ", ip->ToString(),
                                     " is already used by vnic ", Quote(it->second)));
    }
    if (auto it = mapping_by_ip_.find(key); it != mapping_by_ip_.end()) {
      return FieldError(absl::StatusCode::kAlreadyExists, path,
                        absl::StrCat(Subject(k, vnic.name()), field, " ", ip->ToString(),
                                     " is already used by mapping ", Quote(it->second)));
    }
  }
  for (size_t i = 0; i < info.security_groups.size(); ++i) {
    if (FindSecurityGroup(info.security_groups[i]) == nullptr) {
      return FieldError(absl::StatusCode::kFailedPrecondition,
                        absl::StrCat("vnic.security_groups[", i, "]"),
                        absl::StrCat(Subject(k, vnic.name()), "security group ",
                                     Quote(info.security_groups[i]), " does not exist"));
    }
  }
  return absl::OkStatus();
}

absl::Status PolicyModel::ValidateMapping(const v1::Mapping& m) const {
  constexpr absl::string_view k = "mapping";
  ASSIGN_OR_RETURN(MappingInfo info, ParseMapping(m));
  const VpcInfo* vpc = FindVpc(info.vpc);
  if (vpc == nullptr) {
    return FieldError(
        absl::StatusCode::kFailedPrecondition, "mapping.vpc",
        absl::StrCat(Subject(k, m.name()), "vpc ", Quote(info.vpc), " does not exist"));
  }
  if (!InAnyCidr(*vpc, info.overlay_ip)) {
    return Invalid("mapping.overlay_ip",
                   absl::StrCat(Subject(k, m.name()), "overlay_ip ", info.overlay_ip.ToString(),
                                " is not in any CIDR of vpc ", Quote(vpc->name)));
  }
  VpcIpKey key{info.vpc, info.overlay_ip};
  if (auto it = mapping_by_ip_.find(key); it != mapping_by_ip_.end() && it->second != m.name()) {
    return FieldError(absl::StatusCode::kAlreadyExists, "mapping.overlay_ip",
                      absl::StrCat(Subject(k, m.name()), "overlay_ip ", info.overlay_ip.ToString(),
                                   " is already used by mapping ", Quote(it->second)));
  }
  if (auto it = vnic_by_ip_.find(key); it != vnic_by_ip_.end()) {
    return FieldError(absl::StatusCode::kAlreadyExists, "mapping.overlay_ip",
                      absl::StrCat(Subject(k, m.name()), "overlay_ip ", info.overlay_ip.ToString(),
                                   " is already used by vnic ", Quote(it->second)));
  }
  return absl::OkStatus();
}

absl::Status PolicyModel::ValidateRoute(const v1::Route& r) const {
  constexpr absl::string_view k = "route";
  ASSIGN_OR_RETURN(RouteInfo info, ParseRoute(r));
  const VpcInfo* vpc = FindVpc(info.vpc);
  if (vpc == nullptr) {
    return FieldError(
        absl::StatusCode::kFailedPrecondition, "route.vpc",
        absl::StrCat(Subject(k, r.name()), "vpc ", Quote(info.vpc), " does not exist"));
  }
  if (!InAnyCidr(*vpc, info.next_hop)) {
    return Invalid("route.next_hop",
                   absl::StrCat(Subject(k, r.name()), "next_hop ", info.next_hop.ToString(),
                                " is not in any CIDR of vpc ", Quote(vpc->name)));
  }
  if (auto table = routes_by_vpc_.find(info.vpc); table != routes_by_vpc_.end()) {
    const auto& by_length = info.prefix.address.v6 ? table->second.v6 : table->second.v4;
    if (auto len = by_length.find(info.prefix.length); len != by_length.end()) {
      if (auto it = len->second.find(info.prefix.address);
          it != len->second.end() && it->second != r.name()) {
        return FieldError(absl::StatusCode::kAlreadyExists, "route.prefix",
                          absl::StrCat(Subject(k, r.name()), "prefix ", info.prefix.ToString(),
                                       " is already routed by route ", Quote(it->second)));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status PolicyModel::ValidateSecurityGroup(const v1::SecurityGroup& sg) const {
  return ParseSecurityGroup(sg, limits_.max_rules_per_security_group).status();
}

absl::Status PolicyModel::ValidateDelete(EntityKind kind, const std::string& name) const {
  if (kind == v1::VPC) {
    if (auto it = vpc_users_.find(name); it != vpc_users_.end() && it->second > 0) {
      return FieldError(absl::StatusCode::kFailedPrecondition, "vpc.name",
                        absl::StrCat(Subject("vpc", name), "still has ", it->second,
                                     " vnics, mappings or routes; delete them first"));
    }
  }
  if (kind == v1::SECURITY_GROUP) {
    if (auto it = sg_users_.find(name); it != sg_users_.end() && !it->second.empty()) {
      return FieldError(absl::StatusCode::kFailedPrecondition, "security_group.name",
                        absl::StrCat(Subject("security_group", name), "is used by vnic ",
                                     Quote(it->second.begin()->first), " and ",
                                     it->second.size() - 1, " other(s)"));
    }
  }
  return absl::OkStatus();
}

absl::Status PolicyModel::Put(const Entity& entity) {
  EntityKind kind = KindOf(entity);
  const std::string& name = NameOf(entity);
  // Parse first so that a failure leaves the model unchanged.
  switch (kind) {
    case v1::UNDERLAY: {
      ASSIGN_OR_RETURN(UnderlayInfo info, ParseUnderlay(entity.underlay()));
      underlay_ = Stored<UnderlayInfo>{entity, info};
      return absl::OkStatus();
    }
    case v1::VPC: {
      ASSIGN_OR_RETURN(VpcInfo info, ParseVpc(entity.vpc(), SIZE_MAX));
      Erase(kind, name);
      vpc_by_vni_[info.vni] = name;
      vpcs_[name] = Stored<VpcInfo>{entity, std::move(info)};
      return absl::OkStatus();
    }
    case v1::VNIC: {
      ASSIGN_OR_RETURN(VnicInfo info, ParseVnic(entity.vnic(), UINT32_MAX));
      Erase(kind, name);
      vnic_by_vf_[info.vf_index] = name;
      vnic_by_mac_[info.mac] = name;
      for (const auto& ip : {info.ipv4, info.ipv6}) {
        if (ip) {
          vnic_by_ip_[VpcIpKey{info.vpc, *ip}] = name;
        }
      }
      ++vpc_users_[info.vpc];
      for (const std::string& sg : info.security_groups) {
        sg_users_[sg][name] = true;
      }
      vnics_[name] = Stored<VnicInfo>{entity, std::move(info)};
      return absl::OkStatus();
    }
    case v1::MAPPING: {
      ASSIGN_OR_RETURN(MappingInfo info, ParseMapping(entity.mapping()));
      Erase(kind, name);
      mapping_by_ip_[VpcIpKey{info.vpc, info.overlay_ip}] = name;
      ++vpc_users_[info.vpc];
      mappings_[name] = Stored<MappingInfo>{entity, std::move(info)};
      return absl::OkStatus();
    }
    case v1::ROUTE: {
      ASSIGN_OR_RETURN(RouteInfo info, ParseRoute(entity.route()));
      Erase(kind, name);
      RouteTable& table = routes_by_vpc_[info.vpc];
      (info.prefix.address.v6 ? table.v6 : table.v4)[info.prefix.length][info.prefix.address] =
          name;
      ++vpc_users_[info.vpc];
      routes_[name] = Stored<RouteInfo>{entity, std::move(info)};
      return absl::OkStatus();
    }
    case v1::SECURITY_GROUP: {
      ASSIGN_OR_RETURN(SecurityGroupInfo info,
                       ParseSecurityGroup(entity.security_group(), SIZE_MAX));
      security_groups_[name] = Stored<SecurityGroupInfo>{entity, std::move(info)};
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError("entity has no kind");
  }
}

void PolicyModel::Erase(EntityKind kind, const std::string& name) {
  auto release_vpc = [this](const std::string& vpc) {
    if (auto it = vpc_users_.find(vpc); it != vpc_users_.end() && --it->second == 0) {
      vpc_users_.erase(it);
    }
  };
  switch (kind) {
    case v1::UNDERLAY:
      underlay_.reset();
      break;
    case v1::VPC:
      if (auto it = vpcs_.find(name); it != vpcs_.end()) {
        vpc_by_vni_.erase(it->second.info.vni);
        vpcs_.erase(it);
      }
      break;
    case v1::VNIC:
      if (auto it = vnics_.find(name); it != vnics_.end()) {
        const VnicInfo& info = it->second.info;
        vnic_by_vf_.erase(info.vf_index);
        vnic_by_mac_.erase(info.mac);
        for (const auto& ip : {info.ipv4, info.ipv6}) {
          if (ip) {
            vnic_by_ip_.erase(VpcIpKey{info.vpc, *ip});
          }
        }
        release_vpc(info.vpc);
        for (const std::string& sg : info.security_groups) {
          if (auto users = sg_users_.find(sg); users != sg_users_.end()) {
            users->second.erase(name);
            if (users->second.empty()) {
              sg_users_.erase(users);
            }
          }
        }
        vnics_.erase(it);
      }
      break;
    case v1::MAPPING:
      if (auto it = mappings_.find(name); it != mappings_.end()) {
        mapping_by_ip_.erase(VpcIpKey{it->second.info.vpc, it->second.info.overlay_ip});
        release_vpc(it->second.info.vpc);
        mappings_.erase(it);
      }
      break;
    case v1::ROUTE:
      if (auto it = routes_.find(name); it != routes_.end()) {
        const RouteInfo& info = it->second.info;
        if (auto table = routes_by_vpc_.find(info.vpc); table != routes_by_vpc_.end()) {
          auto& by_length = info.prefix.address.v6 ? table->second.v6 : table->second.v4;
          if (auto len = by_length.find(info.prefix.length); len != by_length.end()) {
            len->second.erase(info.prefix.address);
            if (len->second.empty()) {
              by_length.erase(len);
            }
          }
          if (table->second.v4.empty() && table->second.v6.empty()) {
            routes_by_vpc_.erase(table);
          }
        }
        release_vpc(info.vpc);
        routes_.erase(it);
      }
      break;
    case v1::SECURITY_GROUP:
      security_groups_.erase(name);
      break;
    default:
      break;
  }
}

// ----- lookups --------------------------------------------------------------------------------

namespace {
template <typename Map>
auto FindInfo(const Map& map, absl::string_view name) -> decltype(&map.begin()->second.info) {
  auto it = map.find(name);
  return it == map.end() ? nullptr : &it->second.info;
}
}  // namespace

const VpcInfo* PolicyModel::FindVpc(absl::string_view name) const { return FindInfo(vpcs_, name); }

const VpcInfo* PolicyModel::FindVpcByVni(uint32_t vni) const {
  auto it = vpc_by_vni_.find(vni);
  return it == vpc_by_vni_.end() ? nullptr : FindVpc(it->second);
}

const VnicInfo* PolicyModel::FindVnic(absl::string_view name) const {
  return FindInfo(vnics_, name);
}

const VnicInfo* PolicyModel::FindVnicByVf(uint32_t vf_index) const {
  auto it = vnic_by_vf_.find(vf_index);
  return it == vnic_by_vf_.end() ? nullptr : FindVnic(it->second);
}

const VnicInfo* PolicyModel::FindVnicByMac(const MacAddress& mac) const {
  auto it = vnic_by_mac_.find(mac);
  return it == vnic_by_mac_.end() ? nullptr : FindVnic(it->second);
}

const VnicInfo* PolicyModel::FindVnicByIp(absl::string_view vpc, const IpAddress& ip) const {
  auto it = vnic_by_ip_.find(VpcIpKey{std::string(vpc), ip});
  return it == vnic_by_ip_.end() ? nullptr : FindVnic(it->second);
}

const MappingInfo* PolicyModel::FindMapping(absl::string_view name) const {
  return FindInfo(mappings_, name);
}

const MappingInfo* PolicyModel::FindMappingByIp(absl::string_view vpc, const IpAddress& ip) const {
  auto it = mapping_by_ip_.find(VpcIpKey{std::string(vpc), ip});
  return it == mapping_by_ip_.end() ? nullptr : FindMapping(it->second);
}

const RouteInfo* PolicyModel::FindRoute(absl::string_view name) const {
  return FindInfo(routes_, name);
}

const RouteInfo* PolicyModel::LookupRoute(absl::string_view vpc,
                                          const IpAddress& destination) const {
  auto table = routes_by_vpc_.find(std::string(vpc));
  if (table == routes_by_vpc_.end()) {
    return nullptr;
  }
  const auto& by_length = destination.v6 ? table->second.v6 : table->second.v4;
  for (const auto& [length, prefixes] : by_length) {  // longest first
    if (auto it = prefixes.find(destination.Masked(length)); it != prefixes.end()) {
      return FindRoute(it->second);
    }
  }
  return nullptr;
}

const SecurityGroupInfo* PolicyModel::FindSecurityGroup(absl::string_view name) const {
  return FindInfo(security_groups_, name);
}

std::vector<std::string> PolicyModel::VnicsUsingSecurityGroup(absl::string_view name) const {
  std::vector<std::string> names;
  if (auto it = sg_users_.find(std::string(name)); it != sg_users_.end()) {
    for (const auto& [vnic, unused] : it->second) {
      names.push_back(vnic);
    }
  }
  return names;
}

const Entity* PolicyModel::Find(EntityKind kind, absl::string_view name) const {
  auto find = [name](const auto& map) -> const Entity* {
    auto it = map.find(name);
    return it == map.end() ? nullptr : &it->second.entity;
  };
  switch (kind) {
    case v1::UNDERLAY:
      return underlay_ && (name == "default" || name.empty()) ? &underlay_->entity : nullptr;
    case v1::VPC:
      return find(vpcs_);
    case v1::VNIC:
      return find(vnics_);
    case v1::MAPPING:
      return find(mappings_);
    case v1::ROUTE:
      return find(routes_);
    case v1::SECURITY_GROUP:
      return find(security_groups_);
    default:
      return nullptr;
  }
}

size_t PolicyModel::Count(EntityKind kind) const {
  switch (kind) {
    case v1::UNDERLAY:
      return underlay_ ? 1 : 0;
    case v1::VPC:
      return vpcs_.size();
    case v1::VNIC:
      return vnics_.size();
    case v1::MAPPING:
      return mappings_.size();
    case v1::ROUTE:
      return routes_.size();
    case v1::SECURITY_GROUP:
      return security_groups_.size();
    default:
      return 0;
  }
}

void PolicyModel::ForEach(EntityKind kind, absl::string_view after,
                          const std::function<bool(const Entity&)>& fn) const {
  auto walk = [&](const auto& map) {
    for (auto it = map.upper_bound(after); it != map.end(); ++it) {
      if (!fn(it->second.entity)) {
        return;
      }
    }
  };
  switch (kind) {
    case v1::UNDERLAY:
      if (underlay_ && absl::string_view("default") > after) {
        fn(underlay_->entity);
      }
      break;
    case v1::VPC:
      walk(vpcs_);
      break;
    case v1::VNIC:
      walk(vnics_);
      break;
    case v1::MAPPING:
      walk(mappings_);
      break;
    case v1::ROUTE:
      walk(routes_);
      break;
    case v1::SECURITY_GROUP:
      walk(security_groups_);
      break;
    default:
      break;
  }
}

std::vector<Entity> PolicyModel::Snapshot() const {
  std::vector<Entity> all;
  for (EntityKind kind : kKindsInDependencyOrder) {
    ForEach(kind, "", [&all](const Entity& e) {
      all.push_back(e);
      return true;
    });
  }
  return all;
}

}  // namespace nicswitch::policy
