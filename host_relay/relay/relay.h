#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "host_relay/virtio/guest_memory.h"

namespace nicswitch::relay {

// Everything the relay is configured with (from flags or relay_config.proto).
struct RelayOptions {
  std::string socket_path;   // vhost-user socket
  bool client = false;       // connect to the VMM's socket (and reconnect) instead of listening
  std::string vf;            // the VF: a PCI address or vdev devargs ("net_memif0,role=client,...")
  uint16_t queue_pairs = 1;  // virtio queue pair i <-> VF queue i
  bool rx_zero_copy = true;  // VF -> guest: VF DMA straight into posted guest RX buffers
  bool tx_zero_copy = true;  // guest -> VF: guest TX buffers attached as mbuf external buffers
  IovaMode iova_mode = IovaMode::kSim;
  uint16_t vf_rx_ring_size = 256;  // must not exceed the guest's virtio ring size
  uint16_t vf_tx_ring_size = 512;
  uint16_t rx_buffer_size = 2048;  // zero-copy data room: guest RX buffers of hdr + this or more
  uint32_t max_frame = 9216;       // largest frame carried in either direction
  uint32_t stats_interval_s = 10;  // periodic stats log line; 0 = off
  uint32_t busy_polls_before_sleep = 20000;  // idle polls before sleeping on kick fds
  uint32_t idle_sleep_ms = 1;                // sleep per idle round (VF RX has no interrupt here)
  uint32_t pool_size = 4096;                 // copy-path mbufs
};

// Validates cross-field constraints; INVALID_ARGUMENT naming the option.
absl::Status ValidateRelayOptions(const RelayOptions& options);

// Statistics of one queue pair, for tests and the CLI (also exported by telemetry command
// /nicswitch/relay/stats and the periodic log line).
struct QueuePairCounters {
  uint64_t to_guest_packets = 0, to_guest_bytes = 0, to_guest_zero_copy = 0, to_guest_copied = 0,
           to_guest_drops = 0, to_guest_stalls = 0;
  uint64_t from_guest_packets = 0, from_guest_bytes = 0, from_guest_zero_copy = 0,
           from_guest_copied = 0, from_guest_drops = 0;
};

// The per-VM relay: a vhost-user backend (DPDK rte_vhost, external backend) whose rings it
// processes itself, forwarding between the guest's virtio-net queues and a VF's queues.
// One Relay per process (vhost callbacks carry no context).
class Relay {
 public:
  // Needs EAL initialised. Probes the VF, creates its queues and pools, registers the
  // vhost-user socket (not started yet).
  static absl::StatusOr<std::unique_ptr<Relay>> Create(const RelayOptions& options);
  ~Relay();

  // Starts the vhost-user socket and runs the datapath on the calling thread until `stop`
  // becomes true. Busy-polls under load, sleeps on the guest's kick fds when idle.
  absl::Status Run(const std::atomic<bool>& stop);

  // Multi-line human summary of every queue pair's counters.
  std::string StatsText() const;

  class Impl;

 private:
  explicit Relay(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nicswitch::relay
