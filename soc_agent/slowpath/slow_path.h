#pragma once

// The agent's slow path: polls every representor for exception packets (misses of the
// device), decides with DecisionEngine, installs the flow through FlowManager, and forwards the
// packet itself with the same actions so the first packet is never lost. It also keeps the
// policy replica it decides with: committed policy batches are queued to it (from any thread)
// and applied between bursts, each followed by the exact invalidation of the flows it affects
// and by the vNICs' QoS meters being brought up to date — so no decision is ever made with a
// policy older than an invalidation.
//
// Threading: PollOnce and everything it calls run on one thread (the slow-path lcore);
// EnqueueBatch and stats() may be called from any thread.

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "soc_agent/device/flow_device.h"
#include "soc_agent/flows/flow_manager.h"
#include "soc_agent/policy/policy_model.h"
#include "soc_agent/slowpath/decision.h"
#include "soc_agent/slowpath/exception_limiter.h"
#include "soc_agent/slowpath/soft_meter.h"

struct rte_mbuf;

namespace nicswitch::slowpath {

struct SlowPathOptions {
  DecisionOptions decision;
  double exceptions_per_second_per_vnic = 20000;  // token bucket rate per vNIC (and uplink)
  double exception_burst = 512;
  uint16_t burst_size = 32;
};

struct SlowPathStats {
  uint64_t exceptions = 0;        // packets received from representors
  uint64_t flow_setups = 0;       // flows decided and installed
  uint64_t first_packets = 0;     // packets forwarded by the agent right after a setup
  uint64_t software_packets = 0;  // packets of software (refused or racing) flows forwarded
  uint64_t arp_replies = 0;
  uint64_t rate_limited = 0;    // exceptions dropped by the per-vNIC limiter
  uint64_t tx_failed = 0;       // forwarded packets the representor did not take
  uint64_t action_failed = 0;   // packets the software actions could not apply to
  uint64_t policy_batches = 0;  // batches applied to the replica
  uint64_t drops[kDropReasonCount] = {};
  uint64_t total_drops() const;
};

// A batch that puts every entity of a snapshot (in dependency order) at `revision`: how the
// slow path's replica is seeded from the state restored at start-up.
policy::PolicyBatch SnapshotBatch(std::vector<v1::Entity> entities, uint64_t revision);

class SlowPath {
 public:
  // `device` is used for QoS meters; `flows` for rules. The replica starts empty: enqueue the
  // state restored at start-up as one batch of puts (see SnapshotBatch), then every commit.
  SlowPath(device::FlowDevice& device, flows::FlowManager& flows, SwitchPorts ports,
           SlowPathOptions options);
  ~SlowPath();

  // Applies an already-committed batch to the replica before the next burst. Thread-safe.
  void EnqueueBatch(policy::PolicyBatch batch);

  // Applies queued batches, then receives one burst from every representor and handles it.
  // Returns the number of packets handled (0: idle).
  size_t PollOnce();

  // Applies queued batches now (also done by PollOnce). Returns how many were applied.
  size_t ApplyPendingBatches();

  SlowPathStats stats() const;
  uint64_t replica_revision() const { return replica_revision_.load(); }

 private:
  // Handles one exception packet; a new flow's packet is queued to pending_ (installed and
  // forwarded by InstallPending at the end of the burst), everything else is done here.
  void Handle(uint16_t in_port, rte_mbuf* packet);
  // Installs the flows of the burst's new-flow packets with one FlowManager::InstallBatch call,
  // then forwards each packet with its flow's actions.
  void InstallPending();
  // Applies `actions` to the packet and transmits it where its fate says; consumes the mbuf.
  // A METER action colours it with the software meter of that id first (red: dropped and
  // counted as meter_red). Returns true when the packet was sent.
  bool Forward(const std::vector<flowrules::Action>& actions, rte_mbuf* packet);
  void Drop(DropReason reason, rte_mbuf* packet);
  void ApplyBatch(const policy::PolicyBatch& batch);
  void UpdateMeters(const policy::PolicyChange& change);
  uint32_t LimiterSlot(uint16_t in_port) const;

  device::FlowDevice& device_;
  flows::FlowManager& flows_;
  const SwitchPorts ports_;
  const SlowPathOptions options_;
  policy::PolicyModel replica_;
  DecisionEngine engine_;
  ExceptionLimiter limiter_;
  std::vector<uint16_t> poll_ports_;

  // New flows of the current burst (slow-path thread only; reused between bursts).
  struct PendingSetup {
    rte_mbuf* packet = nullptr;
    Decision decision;
  };
  std::vector<PendingSetup> pending_;
  size_t num_pending_ = 0;
  std::vector<const flows::FlowSpec*> pending_specs_;

  absl::Mutex queue_mu_;
  std::deque<policy::PolicyBatch> queue_ ABSL_GUARDED_BY(queue_mu_);
  std::atomic<uint64_t> replica_revision_{0};

  // Written by the slow-path thread only; read by stats() from anywhere.
  struct Counters {
    std::atomic<uint64_t> exceptions{0}, flow_setups{0}, first_packets{0}, software_packets{0},
        arp_replies{0}, rate_limited{0}, tx_failed{0}, action_failed{0}, policy_batches{0};
    std::atomic<uint64_t> drops[kDropReasonCount] = {};
  };
  static void Bump(std::atomic<uint64_t>& counter) {
    counter.store(counter.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }
  Counters counters_;
  // Software twins of the vNICs' NIC meters (same ids and profiles), for packets the agent
  // forwards itself. Slow-path thread only.
  absl::flat_hash_map<uint32_t, SoftMeter> soft_meters_;
};

}  // namespace nicswitch::slowpath
