#pragma once

// The QoS meter for packets the agent forwards itself: first packets, and every packet of a
// flow the NIC refused (a software flow). Without it a vNIC whose flows could not be offloaded
// would escape its rate limit. Same profile and semantics as the NIC's meter of the same id:
// a two-rate three-colour marker (RFC 2698, colour-blind); red is dropped, yellow passes.
// Slow-path thread only.

#include <algorithm>
#include <cstdint>

namespace nicswitch::slowpath {

class SoftMeter {
 public:
  enum class Colour { kGreen, kYellow, kRed };

  // Rates in bytes per second, bursts in bytes; `hz` ticks per second of the clock `now`
  // comes from. Both buckets start full.
  SoftMeter(uint64_t cir, uint64_t cbs, uint64_t pir, uint64_t pbs, uint64_t hz, uint64_t now)
      : cir_per_tick_(static_cast<double>(cir) / static_cast<double>(hz)),
        pir_per_tick_(static_cast<double>(std::max(pir, cir)) / static_cast<double>(hz)),
        cbs_(static_cast<double>(cbs)),
        pbs_(static_cast<double>(pbs)),
        tc_(cbs_),
        tp_(pbs_),
        last_(now) {}

  // Colours a packet of `bytes` arriving at `now` (a clock that does not go backwards).
  Colour Mark(uint32_t bytes, uint64_t now) {
    if (now > last_) {
      const double ticks = static_cast<double>(now - last_);
      tc_ = std::min(cbs_, tc_ + ticks * cir_per_tick_);
      tp_ = std::min(pbs_, tp_ + ticks * pir_per_tick_);
      last_ = now;
    }
    const double b = bytes;
    if (tp_ < b) {
      return Colour::kRed;
    }
    tp_ -= b;
    if (tc_ < b) {
      return Colour::kYellow;
    }
    tc_ -= b;
    return Colour::kGreen;
  }

 private:
  double cir_per_tick_;
  double pir_per_tick_;
  double cbs_;
  double pbs_;
  double tc_;  // committed bucket, bytes
  double tp_;  // peak bucket, bytes
  uint64_t last_;
};

}  // namespace nicswitch::slowpath
