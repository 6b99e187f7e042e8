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
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/hash/hash.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
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

  struct InstallResult {
    absl::StatusOr<FlowId> id;  // the forward direction's id, or INVALID_ARGUMENT
    bool created = false;       // false: the flow was installed already (a racing exception)
  };
  // Installs a burst of flows with one FlowDevice::CreateRules call. The outcome is that of
  // Install on each spec in order: result[i] belongs to specs[i]; a spec whose forward match is
  // installed already (before the batch or by an earlier spec of it) keeps that flow (created =
  // false); each direction the device refuses becomes a software flow on its own, exactly as
  // with Install (the other direction and the other flows of the batch are unaffected).
  std::vector<InstallResult> InstallBatch(absl::Span<const FlowSpec* const> specs);

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
  // One direction. Directions live in a slab of fixed chunks (no move when the table grows, and
  // a freed slot keeps its vectors' capacity for the next flow); `id == 0` marks a free slot.
  struct Direction {
    FlowId id = 0;
    FlowId reverse_id = 0;
    std::string vnic;
    flowrules::Rule rule;
    size_t match_hash = 0;                     // absl::Hash of rule.match, computed once
    std::optional<device::RuleHandle> handle;  // unset: software flow (or not yet created)
    std::string software_reason;
    uint64_t packets = 0;
    uint64_t bytes = 0;
    bool aged = false;
    uint64_t revision = 0;
    // Links of this direction into its dependencies' lists. A pair's dependencies are held by
    // its forward direction only (a pair is always removed whole).
    std::vector<uint32_t> links;
  };
  static constexpr uint32_t kChunkBits = 12;  // 4096 directions per chunk
  static constexpr uint32_t kNoLink = 0xffffffffu;
  // An interned dependency: the doubly linked list of the links of the directions holding it.
  struct DependencyList {
    Dependency dependency;
    uint32_t head = kNoLink;
    uint32_t size = 0;
  };
  struct Link {
    uint32_t dependency = 0;  // index into dependencies_
    uint32_t slot = 0;        // the direction holding it
    uint32_t prev = kNoLink;
    uint32_t next = kNoLink;
  };
  // A match looked up by value: the index holds slots and compares them through the slab.
  struct MatchKey {
    const flowrules::Match* match;
    size_t hash;
  };
  struct SlotHash {
    using is_transparent = void;
    const FlowManager* manager;
    size_t operator()(uint32_t slot) const { return manager->At(slot).match_hash; }
    size_t operator()(const MatchKey& key) const { return key.hash; }
  };
  struct SlotEq {
    using is_transparent = void;
    const FlowManager* manager;
    bool operator()(uint32_t a, uint32_t b) const { return a == b; }
    bool operator()(uint32_t slot, const MatchKey& key) const {
      const Direction& d = manager->At(slot);
      return d.match_hash == key.hash && d.rule.match == *key.match;
    }
    bool operator()(const MatchKey& key, uint32_t slot) const { return (*this)(slot, key); }
  };

  Direction& At(uint32_t slot) {
    return chunks_[slot >> kChunkBits][slot & ((1u << kChunkBits) - 1)];
  }
  const Direction& At(uint32_t slot) const {
    return chunks_[slot >> kChunkBits][slot & ((1u << kChunkBits) - 1)];
  }
  static MatchKey KeyOf(const flowrules::Match& match) {
    return MatchKey{&match, absl::Hash<flowrules::Match>{}(match)};
  }
  // Slot of the installed direction with this match, or kNoLink.
  uint32_t FindMatch(const MatchKey& key) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t SlotOf(FlowId id) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Validates a spec (the checks Install reports as INVALID_ARGUMENT).
  static absl::Status CheckSpec(const FlowSpec& spec);
  // Enters both directions of a new flow in the table, without device rules yet, and queues
  // them to pending_. Returns the forward slot.
  uint32_t AddFlow(const FlowSpec& spec) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint32_t AddDirection(const DirectionSpec& spec, const FlowSpec& flow, FlowId reverse_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Creates the device rules of pending_ in one call (entries removed meanwhile are skipped).
  void CreatePending() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void LinkDependency(uint32_t slot, const Dependency& dep) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnlinkAll(Direction& d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Removes a direction and its reverse from the device and the table.
  size_t RemovePair(FlowId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RemoveOne(FlowId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  FlowInfo Snapshot(const Direction& d) const;

  device::FlowDevice& device_;
  const Options options_;

  mutable absl::Mutex mu_;
  FlowId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  // Guarded by mu_ (read through At, which the match index hashes with).
  std::vector<std::unique_ptr<Direction[]>> chunks_;
  uint32_t slots_used_ ABSL_GUARDED_BY(mu_) = 0;  // slots ever handed out
  std::vector<uint32_t> free_slots_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<FlowId, uint32_t> slot_by_id_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<uint32_t, SlotHash, SlotEq> by_match_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<uint64_t, uint32_t> by_handle_ ABSL_GUARDED_BY(mu_);  // handle -> slot
  std::vector<DependencyList> dependencies_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_dependencies_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Dependency, uint32_t> dependency_index_ ABSL_GUARDED_BY(mu_);
  std::vector<Link> links_ ABSL_GUARDED_BY(mu_);
  std::vector<uint32_t> free_links_ ABSL_GUARDED_BY(mu_);
  struct Pending {
    uint32_t slot;
    FlowId id;  // the direction the slot held when queued
  };
  std::vector<Pending> pending_ ABSL_GUARDED_BY(mu_);  // scratch of InstallBatch
  std::vector<const flowrules::Rule*> pending_rules_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, VnicTotals> retired_ ABSL_GUARDED_BY(mu_);
  uint64_t applied_revision_ ABSL_GUARDED_BY(mu_) = 0;
  FlowManagerStats stats_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nicswitch::flows
