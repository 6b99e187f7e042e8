#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "absl/strings/string_view.h"

namespace nicswitch::relay {

// Why a packet or a guest descriptor was not delivered. Every refusal of untrusted guest input
// has its own reason, so a hostile or broken guest is visible in the stats.
enum class DropReason : int {
  kNoGuestBuffer = 0,    // guest posted no (or not enough) RX buffers
  kGuestBufferTooSmall,  // chain too small for the packet (no MRG_RXBUF)
  kHeadOutOfRange,       // avail ring entry >= ring size
  kNextOutOfRange,       // descriptor next >= ring (or indirect table) size
  kChainTooLong,         // chain longer than the ring / the segment limit: a loop
  kOutsideGuestMemory,   // a buffer (or indirect table) not entirely inside guest memory
  kLengthOverflow,       // zero-length descriptor or total length overflowing 32 bits
  kWrongDirection,       // device-writable descriptor on TX or read-only on RX
  kBadIndirect,          // nested indirect, INDIRECT+NEXT, table length not a multiple of 16
  kAvailIndexJump,       // avail index moved by more than the ring size
  kPacketTooLarge,       // TX packet larger than the relay's maximum frame
  kTxPacketTooShort,     // TX chain shorter than the virtio-net header + Ethernet header
  kVfTxFull,             // the VF did not take the packet
  kNoMbuf,               // no mbuf for a copy
  kCount,
};
inline constexpr int kNumDropReasons = static_cast<int>(DropReason::kCount);
absl::string_view DropReasonName(DropReason reason);

// A counter written by one thread (the datapath) and read by others (telemetry, log line):
// relaxed loads and stores, no read-modify-write, so it costs what a plain increment costs.
class Counter {
 public:
  void Add(uint64_t n) {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  uint64_t Get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> v_{0};
};

// Counters of one queue in one direction (guest->VF or VF->guest).
struct DirectionStats {
  Counter packets;
  Counter bytes;
  Counter zero_copy;      // packets whose bytes the VF DMA'd from/to guest buffers directly
  Counter copied;         // packets the relay's CPU copied
  Counter moved;          // zero-copy RX continuation segments moved to offset 0 (jumbo, MRG_RXBUF)
  Counter notifications;  // guest interrupts sent (callfd writes)
  std::array<Counter, kNumDropReasons> drops;

  void Drop(DropReason reason, uint64_t n = 1) { drops[static_cast<int>(reason)].Add(n); }
  uint64_t Drops(DropReason reason) const { return drops[static_cast<int>(reason)].Get(); }
  uint64_t TotalDrops() const;
};

}  // namespace nicswitch::relay
