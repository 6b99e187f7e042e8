#pragma once

// The validated, in-memory policy of one agent: underlay, VPCs, vNICs, mappings, routes and
// security groups, with the indexes the slow path looks packets up in (vNIC by VF, by VPC + IP,
// by MAC; VPC by VNI; longest prefix match per VPC).
//
// Two ways to change it:
//  - Apply(): an API update, validated against the current state (syntax, references,
//    uniqueness, limits); on error nothing changes and the status names the field. Every
//    successful Apply records how to undo it, so a batch can be rolled back.
//  - ApplyCommitted(): a change already validated by the writer (restoring from the store, or a
//    replica following PolicyBatch notifications, e.g. the slow path's own copy). No reference
//    checks; the entity must still parse.
//
// Not thread-safe: one writer, or a reader that owns its replica. Pointers returned by lookups
// stay valid until the next change to the model.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nicswitch/v1/policy.pb.h"
#include "soc_agent/policy/addresses.h"

namespace nicswitch::policy {

// ----- Field-annotated errors ------------------------------------------------------------------

// A status with `code` and `message` that also names the offending field ("vnic.mac",
// "vpc.cidrs[1]"), carried as a payload so that the API can report it in a BadRequest.
absl::Status FieldError(absl::StatusCode code, absl::string_view field, absl::string_view message);
// The field a FieldError names, or "" for any other status.
std::string ErrorField(const absl::Status& status);

// ----- Parsed entities ------------------------------------------------------------------------

struct UnderlayInfo {
  IpAddress vtep_ip;
  MacAddress uplink_mac;
  MacAddress next_hop_mac;
  uint16_t vxlan_port = 4789;
  uint16_t mtu = 1500;
};

struct VpcInfo {
  std::string name;
  uint32_t vni = 0;
  std::vector<IpPrefix> cidrs;
};

struct VnicInfo {
  std::string name;
  std::string vpc;
  uint32_t vf_index = 0;
  MacAddress mac;
  std::optional<IpAddress> ipv4;
  std::optional<IpAddress> ipv6;
  std::vector<std::string> security_groups;
  uint64_t rate_bps = 0;  // 0: unlimited
  uint64_t burst_bytes = 0;
};

struct MappingInfo {
  std::string name;
  std::string vpc;
  IpAddress overlay_ip;
  IpAddress remote_vtep_ip;
  MacAddress remote_mac;
};

struct RouteInfo {
  std::string name;
  std::string vpc;
  IpPrefix prefix;
  IpAddress next_hop;
};

struct SecurityRule {
  enum class Direction { kIngress, kEgress };
  Direction direction = Direction::kIngress;
  uint8_t protocol = 0;   // 0: any; else the IP protocol number (1, 6, 17)
  uint16_t port_min = 0;  // 0..65535 inclusive both ends; [0, 65535] for "any port"
  uint16_t port_max = 65535;
  std::optional<IpPrefix> remote;  // empty: any address
  bool allow = true;

  // Whether this rule matches a packet of `protocol` to/from `remote_ip` on `port` (the
  // destination port for both directions: the service port).
  bool Matches(uint8_t packet_protocol, const IpAddress& remote_ip, uint16_t port) const;
};

struct SecurityGroupInfo {
  std::string name;
  std::vector<SecurityRule> rules;  // first match wins
};

// ----- Changes --------------------------------------------------------------------------------

using v1::Entity;
using v1::EntityKind;

// The kind of an entity (ENTITY_KIND_UNSPECIFIED when no oneof member is set) and its name.
EntityKind KindOf(const Entity& entity);
const std::string& NameOf(const Entity& entity);
absl::string_view KindName(EntityKind kind);  // "vpc", "vnic", "security_group", ...

struct PolicyChange {
  enum class Op { kPut, kDelete };
  Op op = Op::kPut;
  Entity entity;  // kPut: the new value; kDelete: the last value
};

// One committed batch: every change in order, and the revision it produced.
struct PolicyBatch {
  uint64_t revision = 0;
  std::vector<PolicyChange> changes;
};

// How to restore the state before a sequence of Apply() calls (see PolicyModel::Undo).
class UndoLog {
 public:
  bool empty() const { return entries_.empty(); }

 private:
  friend class PolicyModel;
  struct Entry {
    EntityKind kind;
    std::string name;
    std::optional<Entity> previous;  // absent: the entity did not exist
  };
  std::vector<Entry> entries_;
};

// ----- The model ------------------------------------------------------------------------------

class PolicyModel {
 public:
  struct Limits {
    uint32_t max_vfs = 256;                  // vnic.vf_index < max_vfs
    size_t max_entities_per_kind = 1 << 20;  // RESOURCE_EXHAUSTED beyond
    size_t max_cidrs_per_vpc = 64;
    size_t max_rules_per_security_group = 1024;
  };

  PolicyModel() : PolicyModel(Limits{}) {}
  explicit PolicyModel(Limits limits);

  // Validates `update` against the current state and applies it. Errors (with ErrorField):
  //  INVALID_ARGUMENT   malformed field (bad MAC, CIDR, VNI over 24 bits, VF out of range,
  //                     overlapping CIDRs, an IP outside the VPC, a missing required field);
  //  ALREADY_EXISTS     INSERT of an existing name, or a duplicate unique key (VNI, VF, MAC,
  //                     IP in a VPC, mapping IP, route prefix);
  //  NOT_FOUND          MODIFY/DELETE of a missing name;
  //  FAILED_PRECONDITION a reference to a missing VPC/security group, deleting a VPC or a
  //                     security group still in use, shrinking a VPC away from its vNICs' IPs;
  //  RESOURCE_EXHAUSTED more than Limits::max_entities_per_kind.
  // On success appends the resulting change to `changes` and the undo record to `undo`.
  absl::Status Apply(const v1::Update& update, std::vector<PolicyChange>* changes, UndoLog* undo);

  // Restores the state from before every Apply() recorded in `undo` (newest first).
  void Undo(UndoLog undo);

  // Applies a change that was validated when it was written. INVALID_ARGUMENT when the entity
  // does not parse (a corrupt store); no reference checks.
  absl::Status ApplyCommitted(const PolicyChange& change);
  absl::Status ApplyCommitted(const PolicyBatch& batch);

  uint64_t revision() const { return revision_; }
  void set_revision(uint64_t revision) { revision_ = revision; }

  // ----- Slow-path lookups (nullptr when absent) -----
  const UnderlayInfo* underlay() const { return underlay_ ? &underlay_->info : nullptr; }
  const VpcInfo* FindVpc(absl::string_view name) const;
  const VpcInfo* FindVpcByVni(uint32_t vni) const;
  const VnicInfo* FindVnic(absl::string_view name) const;
  const VnicInfo* FindVnicByVf(uint32_t vf_index) const;
  const VnicInfo* FindVnicByMac(const MacAddress& mac) const;
  const VnicInfo* FindVnicByIp(absl::string_view vpc, const IpAddress& ip) const;
  const MappingInfo* FindMapping(absl::string_view name) const;
  const MappingInfo* FindMappingByIp(absl::string_view vpc, const IpAddress& ip) const;
  const RouteInfo* FindRoute(absl::string_view name) const;
  // Longest prefix match among the VPC's routes.
  const RouteInfo* LookupRoute(absl::string_view vpc, const IpAddress& destination) const;
  const SecurityGroupInfo* FindSecurityGroup(absl::string_view name) const;
  // Names of the vNICs that use security group `name` (for invalidating their flows).
  std::vector<std::string> VnicsUsingSecurityGroup(absl::string_view name) const;

  // ----- Entities as written (for Read/Watch) -----
  const Entity* Find(EntityKind kind, absl::string_view name) const;
  size_t Count(EntityKind kind) const;
  // Calls `fn` for the entities of `kind` with a name greater than `after`, in name order,
  // until it returns false.
  void ForEach(EntityKind kind, absl::string_view after,
               const std::function<bool(const Entity&)>& fn) const;
  // Every entity, in dependency order (underlay, security groups, VPCs, vNICs, mappings,
  // routes), so that applying them in order to an empty model succeeds.
  std::vector<Entity> Snapshot() const;

  static constexpr EntityKind kKindsInDependencyOrder[] = {
      v1::UNDERLAY, v1::SECURITY_GROUP, v1::VPC, v1::VNIC, v1::MAPPING, v1::ROUTE};

 private:
  template <typename Info>
  struct Stored {
    Entity entity;
    Info info;
  };
  using VpcIpKey = std::pair<std::string, IpAddress>;

  // Longest prefix match table of one VPC: one hash map per prefix length in use.
  struct RouteTable {
    std::map<int, absl::flat_hash_map<IpAddress, std::string>, std::greater<int>> v4, v6;
  };

  absl::Status Validate(const v1::Update& update, const Entity* existing) const;
  absl::Status ValidateUnderlay(const v1::Underlay& u) const;
  absl::Status ValidateVpc(const v1::Vpc& vpc, bool modify) const;
  absl::Status ValidateVnic(const v1::Vnic& vnic) const;
  absl::Status ValidateMapping(const v1::Mapping& m) const;
  absl::Status ValidateRoute(const v1::Route& r) const;
  absl::Status ValidateSecurityGroup(const v1::SecurityGroup& sg) const;
  absl::Status ValidateDelete(EntityKind kind, const std::string& name) const;

  // Unchecked state changes that keep every index consistent.
  absl::Status Put(const Entity& entity);
  void Erase(EntityKind kind, const std::string& name);

  Limits limits_;
  uint64_t revision_ = 0;

  std::optional<Stored<UnderlayInfo>> underlay_;
  std::map<std::string, Stored<VpcInfo>, std::less<>> vpcs_;
  std::map<std::string, Stored<VnicInfo>, std::less<>> vnics_;
  std::map<std::string, Stored<MappingInfo>, std::less<>> mappings_;
  std::map<std::string, Stored<RouteInfo>, std::less<>> routes_;
  std::map<std::string, Stored<SecurityGroupInfo>, std::less<>> security_groups_;

  absl::flat_hash_map<uint32_t, std::string> vpc_by_vni_;
  absl::flat_hash_map<uint32_t, std::string> vnic_by_vf_;
  absl::flat_hash_map<MacAddress, std::string> vnic_by_mac_;
  absl::flat_hash_map<VpcIpKey, std::string> vnic_by_ip_;
  absl::flat_hash_map<VpcIpKey, std::string> mapping_by_ip_;
  absl::flat_hash_map<std::string, RouteTable> routes_by_vpc_;
  // Reference counts for FAILED_PRECONDITION on delete: VPC -> users, SG -> vNICs.
  absl::flat_hash_map<std::string, size_t> vpc_users_;
  absl::flat_hash_map<std::string, std::map<std::string, bool>> sg_users_;
};

}  // namespace nicswitch::policy
