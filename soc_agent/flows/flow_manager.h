#pragma once

// FlowManager owns every flow the agent installed: for each, its rule(s) in the device (or its
// software fallback), its reverse pair, its counters and what in the policy it depends on.
//
// - Install: the slow path hands over a decided flow (forward rule, optional reverse rule,
//   dependencies). Each direction gets COUNT and AGE added and is created through FlowDevice.
//   A direction the device refuses (UNIMPLEMENTED, RESOURCE_EXHAUSTED, ...) becomes a software
//   flow: it stays in the table, and the slow path forwards its packets itself (Lookup), so a
//   refused rule never turns into a black hole.
// - Invalidate: on a policy change, exactly the flows that depend on a changed entity are
//   removed (both directions); they are learned again from their next packet. Then the change's
//   revision is reported as applied.
// - Aging: a pair is removed when every direction of it has aged in the device (a one-way
//   stream keeps its pair alive).
// - Counters: polled from the device in batches and accumulated per flow and per vNIC (the
//   per-vNIC totals survive the flows).
//
// Thread safety: all methods may be called from any thread (the slow path, the API's threads,
// the agent's housekeeping timer); one mutex guards the table. None is called per fast-path
// packet.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "flowrules/rule.h"
#include "soc_agent/device/flow_device.h"

namespace nicswitch::flows {

// A policy entity a flow depends on, by kind and name.
struct Dependency {
  enum class Kind : uint8_t { kUnderlay, kVpc, kVnic, kMapping, kRoute, kSecurityGroup };
  Kind kind = Kind::kVnic;
  std::string name;

  std::string ToString() const;  // "vnic/vm-7"
  friend bool operator==(const Dependency&, const Dependency&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const Dependency& d) {
    return H::combine(std::move(h), d.kind, d.name);
  }
};

// One direction of a flow as decided by the slow path: its rule (match + actions, without
// COUNT/AGE, which the manager adds) and the vNIC it is accounted to.
struct DirectionSpec {
  flowrules::Rule rule;
  std::string vnic;
};

struct FlowSpec {
  DirectionSpec forward;
  std::optional<DirectionSpec> reverse;  // stateful return path
  std::vector<Dependency> dependencies;
  uint64_t revision = 0;  // policy revision the decision was made at
};

using FlowId = uint64_t;

// A snapshot of one direction, for the API and the slow path.
struct FlowInfo {
  FlowId id = 0;
  FlowId reverse_id = 0;  // 0 when none
  std::string vnic;
  flowrules::Rule rule;  // as installed (with COUNT and AGE)
  bool in_software = false;
  std::string software_reason;  // why the device refused it
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t revision = 0;
};

struct VnicTotals {
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t software_packets = 0;
};

struct FlowManagerStats {
  uint64_t flows = 0;           // installed directions
  uint64_t software_flows = 0;  // of which in software
  uint64_t installs = 0;        // pairs installed since start
  uint64_t refused = 0;         // directions the device refused
  uint64_t invalidated = 0;     // directions removed by policy changes
  uint64_t aged = 0;            // directions removed by aging
  uint64_t device_errors = 0;   // failed destroy/query calls (logged)
};

class FlowManager {
 public:
  struct Options {
    uint32_t age_seconds = 30;
    size_t counter_batch = 1024;  // handles per QueryCounters call
  };

  FlowManager(device::FlowDevice& device, Options options);
  ~FlowManager();  // does not touch the device; call RemoveAll first for a clean shutdown

  // Installs both directions of a new flow. When a direction's match is already installed
  // (two exceptions of one flow raced), the existing flow is kept and its ids returned.
  // Returns the forward direction's id. Errors only for a malformed spec (INVALID_ARGUMENT);
  // device refusals turn into software flows.
  absl::StatusOr<FlowId> Install(const FlowSpec& spec);

  // The installed direction whose rule matches exactly `match` (the slow path builds matches
  // the same way for a packet as for a rule), if any.
  std::optional<FlowInfo> Lookup(const flowrules::Match& match) const;

  // Accounts a packet the slow path forwarded in software for flow `id`.
  void CountSoftwarePacket(FlowId id, uint32_t bytes);

  // Removes every flow depending on any of `changed`, then records `revision` as applied.
  // Returns how many directions were removed.
  size_t Invalidate(const std::vector<Dependency>& changed, uint64_t revision);

  // Records `revision` as applied without removing anything (a change no flow depends on).
  void MarkApplied(uint64_t revision);
  uint64_t applied_revision() const;

  // Asks the device for aged rules and removes the pairs whose directions all aged.
  // Returns the number of directions removed.
  absl::StatusOr<size_t> PollAging();

  // Reads every hardware direction's counters (in batches) and accumulates them.
  absl::Status PollCounters();

  // Snapshot of the installed directions, ordered by id, optionally only one vNIC's; at most
  // `limit` entries with id > `after` (pagination).
  std::vector<FlowInfo> List(const std::string& vnic, FlowId after, size_t limit) const;

  // Removes every flow (of `vnic`, or all when empty). Returns the number of directions removed.
  size_t Flush(const std::string& vnic);

  VnicTotals Totals(const std::string& vnic) const;
  // Sum over every vNIC (the device's fast-path packets and bytes at the last poll, plus the
  // packets forwarded in software for refused flows).
  VnicTotals TotalsAll() const;
  FlowManagerStats stats() const;

 private:
  struct Direction {
    FlowId id = 0;
    FlowId reverse_id = 0;
    std::string vnic;
    flowrules::Rule rule;
    std::optional<device::RuleHandle> handle;  // unset: software flow
    std::string software_reason;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    bool aged = false;
    uint64_t revision = 0;
    std::vector<Dependency> dependencies;
  };

  FlowId InstallDirection(const DirectionSpec& spec, const FlowSpec& flow, FlowId reverse_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes a direction and its reverse from the device and the table.
  size_t RemovePair(FlowId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveOne(FlowId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FlowInfo Snapshot(const Direction& d) const;

  device::FlowDevice& device_;
  const Options options_;

  mutable absl::Mutex mu_;
  FlowId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  absl::flat_hash_map<FlowId, Direction> flows_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<flowrules::Match, FlowId> by_match_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, FlowId> by_handle_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Dependency, absl::flat_hash_set<FlowId>> by_dependency_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, VnicTotals> retired_ ABSL_GUARDED_BY(mu_);
  uint64_t applied_revision_ ABSL_GUARDED_BY(mu_) = 0;
  FlowManagerStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nicswitch::flows
