#pragma once

// softasic: the embedded software switch. A software model of a SmartNIC's embedded switch that
// executes rte_flow arrays (attr / pattern items / actions) between real DPDK ethdevs.
//
// Ports: an uplink and N VF ports, each an ethdev given by devargs (any vdev) or by an existing
// port id. For each port the softasic makes a representor ethdev with rte_eth_from_rings: a
// packet that misses every rule leaves the switch, unchanged, on the representor of the port it
// came in on; a packet the agent transmits on a representor leaves through the represented port.
//
// Datapath: lcores (or a caller of PollOnce) poll every port in bursts of 32: parse into a
// FlowKey, classify (groups; per (group, mask, priority) subtables, each an ExactMatchTable
// (softasic_table.h: 64-byte buckets holding 1- and 2-word keys inline, one cache line per
// lookup, larger keys in an entry array, two; looked up a burst at a time) with lock-free readers;
// lower priority value wins, first match wins), run the rule's compiled action program, transmit.
// No allocation or log per packet; no lock per packet (with several datapath lcores, a port's TX
// queue is taken one burst at a time). Meters are lock-free trTCMs (GCRA buckets updated by
// compare-and-swap), exact when several lcores share one.
//
// Control: CreateFlow/DestroyFlow/... are called from one control thread at a time (they are
// not reentrant). They never block the datapath; memory a datapath thread may still read is
// reclaimed after an RCU (rte_rcu_qsbr) grace period.
//
// Refusals follow PMD conventions: UNIMPLEMENTED (ENOTSUP) naming the pattern item / action /
// field, INVALID_ARGUMENT for a malformed array, RESOURCE_EXHAUSTED at capacity.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "soc_agent/device/flow_device.h"

struct rte_flow_attr;
struct rte_flow_item;
struct rte_flow_action;
struct rte_mbuf;

namespace nicswitch::device {

struct SoftAsicPortConfig {
  // Either devargs for rte_dev_probe ("net_memif0,role=server,socket=/run/x.sock",
  // "net_pcap0,rx_pcap=in.pcap,tx_pcap=out.pcap", ...) or an existing ethdev (port_id >= 0,
  // e.g. one made with rte_eth_from_rings). The softasic configures and starts the port with one
  // RX and one TX queue (unless it is already started).
  std::string devargs;
  int port_id = -1;
};

struct SoftAsicConfig {
  std::string name = "softasic";  // prefix of representor/ring/pool names; unique per process
  SoftAsicPortConfig uplink;
  std::vector<SoftAsicPortConfig> vfs;
  bool with_ports = true;  // false: classifier and actions only (ProcessBurst), no ethdevs

  uint32_t max_rules = 1u << 20;  // capacity; CreateFlow past it is RESOURCE_EXHAUSTED
  uint32_t max_meters = 1024;
  uint16_t representor_queues = 1;  // RX queues of each representor (QUEUE action index)
  uint32_t representor_ring_size = 1024;
  uint32_t mbuf_pool_size = 8191;  // RX mbufs for the ports
  // Datapath lcores launched by Start(). Each polls a disjoint share of the ports. Empty: no
  // lcore; the caller drives the datapath with PollOnce().
  std::vector<unsigned> datapath_lcores;
  // When true, meters colour a packet with its mbuf RX timestamp (the rte_mbuf_dyn
  // rx-timestamp field, in TSC cycles) when the packet carries one, instead of rte_rdtsc().
  // Lets tests and replays drive meters with packet times they control.
  bool meter_uses_rx_timestamp = false;
  // Idle back-off of datapath lcores: after this many empty polling rounds, sleep (10 us, then
  // growing by 10 us per empty round) up to idle_sleep_max_us; 0 busy-polls forever (a core
  // dedicated to the datapath, as on a SmartNIC's SoC).
  uint32_t idle_polls_before_sleep = 1000;
  uint32_t idle_sleep_max_us = 0;
  // Register the "/softasic/stats" DPDK telemetry command for this instance.
  bool register_telemetry = true;
  // Datapath lcores count the TSC cycles of their port polls that moved packets (LcoreStats),
  // like testpmd --record-core-cycles: two rte_rdtsc() per port poll when on.
  bool record_busy_cycles = false;
};

// One datapath lcore's load (config.record_busy_cycles).
struct SoftAsicLcoreStats {
  unsigned lcore = 0;
  uint64_t busy_cycles = 0;   // TSC cycles of port polls that moved packets
  uint64_t busy_packets = 0;  // packets those polls moved (received, and sent for representors)
};

struct SoftAsicPortStats {
  uint64_t rx = 0;                // packets received on the port
  uint64_t tx = 0;                // packets transmitted on the port
  uint64_t drops = 0;             // DROP, red meter, TX queue full, bad jump, representor ring full
  uint64_t misses = 0;            // packets sent to the port's representor because no rule matched
  uint64_t from_representor = 0;  // packets the agent sent through the representor
};

struct SoftAsicTableStats {
  uint32_t rules = 0;
  uint32_t capacity = 0;
  uint32_t subtables = 0;
  uint32_t groups = 0;
  uint32_t action_programs = 0;  // distinct compiled action lists
  uint64_t memory_bytes = 0;     // rule-related memory: hash tables, rule array, counters, programs
};

struct SoftAsicFlowCounters {
  bool counted = false;
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

class SoftAsic {
 public:
  // Probes / configures the ports, creates the representors, allocates the rule table. Needs EAL.
  static absl::StatusOr<std::unique_ptr<SoftAsic>> Create(const SoftAsicConfig& config);
  ~SoftAsic();  // Stop()s, reclaims, closes the representors and the ports it probed.

  SoftAsic(const SoftAsic&) = delete;
  SoftAsic& operator=(const SoftAsic&) = delete;

  // Launches the datapath on config.datapath_lcores. FAILED_PRECONDITION when already running.
  absl::Status Start();
  // Stops the datapath lcores and waits for them.
  void Stop();

  // rte_flow_create's contract on rte_flow arrays. Only transfer rules (attr.transfer = 1);
  // `port_id` is the port the rule is created on (any port or representor of this switch: the
  // softasic is its own transfer proxy). Port ids in items/actions are ethdev ids of the ports
  // or their representors. Returns the rule's id (< max_rules).
  absl::StatusOr<uint32_t> CreateFlow(uint16_t port_id, const rte_flow_attr& attr,
                                      const rte_flow_item* pattern, const rte_flow_action* actions);
  // Installs flowrules rules in one call (SoftAsicFlowDevice's path): result[i] is exactly what
  // compiling *rules[i] with flowrules::CompiledRule::Compile and calling CreateFlow with its
  // arrays (on the first port) gives, including every error; each rule stands on its own (a
  // refused rule is not installed, the others are). Most rules skip the arrays: they are
  // compiled straight into the classifier's entry.
  std::vector<absl::StatusOr<uint32_t>> CreateRules(absl::Span<const flowrules::Rule* const> rules);
  // Checks like CreateFlow without installing anything (rte_flow_validate).
  absl::Status ValidateFlow(uint16_t port_id, const rte_flow_attr& attr,
                            const rte_flow_item* pattern, const rte_flow_action* actions);
  absl::Status DestroyFlow(uint32_t rule_id);
  absl::StatusOr<SoftAsicFlowCounters> QueryFlow(uint32_t rule_id) const;
  // Rules with AGE whose timeout passed since their last hit (or creation), each reported once
  // until hit again.
  std::vector<uint32_t> CollectAgedFlows();

  absl::Status CreateMeter(uint32_t meter_id, const MeterProfile& profile);
  absl::Status DestroyMeter(uint32_t meter_id);
  absl::StatusOr<MeterStats> QueryMeter(uint32_t meter_id) const;

  const std::vector<PortInfo>& ports() const;
  // Index of `port_id` (a port or a representor ethdev) among ports(), or -1.
  int PortIndex(uint16_t port_id) const;
  SoftAsicPortStats PortStats(int port_index) const;
  SoftAsicTableStats TableStats() const;
  // Per datapath lcore; zeros unless config.record_busy_cycles.
  std::vector<SoftAsicLcoreStats> LcoreStats() const;

  // One datapath pass over every port from the calling thread (only when no lcore runs).
  // Returns the number of packets handled.
  uint32_t PollOnce();
  // Runs the datapath on `pkts` as if received on port `port_index` (benchmarks, replays).
  // Outputs are transmitted / delivered as usual. Only when no lcore runs.
  void ProcessBurst(uint16_t port_index, rte_mbuf** pkts, uint16_t n);
  // Waits for a grace period and frees everything awaiting reclamation.
  void ReclaimNow();

  class Impl;

 private:
  explicit SoftAsic(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// FlowDevice over a SoftAsic: compiles flowrules::Rule with flowrules::CompiledRule and calls
// CreateFlow on the arrays. Handles are the softasic's rule ids.
class SoftAsicFlowDevice : public FlowDevice {
 public:
  explicit SoftAsicFlowDevice(SoftAsic& softasic) : softasic_(softasic) {}

  absl::StatusOr<RuleHandle> CreateRule(const flowrules::Rule& rule) override;
  // SoftAsic::ValidateFlow on the compiled arrays.
  absl::Status ValidateRule(const flowrules::Rule& rule) override;
  // Natively batched (SoftAsic::CreateRules); per-rule results as FlowDevice documents.
  std::vector<absl::StatusOr<RuleHandle>> CreateRules(
      absl::Span<const flowrules::Rule* const> rules) override;
  absl::Status DestroyRule(RuleHandle handle) override;
  absl::StatusOr<std::vector<RuleCounters>> QueryCounters(
      absl::Span<const RuleHandle> handles) override;
  absl::StatusOr<std::vector<RuleHandle>> CollectAgedRules() override;
  absl::Status CreateMeter(uint32_t meter_id, const MeterProfile& profile) override;
  absl::Status DestroyMeter(uint32_t meter_id) override;
  absl::StatusOr<MeterStats> QueryMeter(uint32_t meter_id) override;
  absl::StatusOr<std::vector<PortInfo>> ListPorts() override;

 private:
  SoftAsic& softasic_;
};

}  // namespace nicswitch::device
