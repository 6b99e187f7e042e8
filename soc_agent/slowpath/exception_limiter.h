#pragma once

// Per-vNIC token buckets for exception packets, so one VM cannot starve the slow path (and so
// the flow setups) of the others. Single-threaded: owned by the slow-path thread.

#include <cstdint>
#include <vector>

namespace nicswitch::slowpath {

class ExceptionLimiter {
 public:
  // `rate` packets per second sustained, `burst` packets at once, for each of `slots` vNICs
  // (indexed by VF number or any dense id). Time is in TSC-like ticks of `hz` per second.
  ExceptionLimiter(uint32_t slots, double rate, double burst, uint64_t hz);

  // True if the packet may proceed (one token taken); false if it must be dropped (counted).
  // A slot out of range is refused and counted too.
  bool Admit(uint32_t slot, uint64_t now);

  uint64_t admitted(uint32_t slot) const {
    return slot < slots_.size() ? slots_[slot].admitted : 0;
  }
  uint64_t dropped(uint32_t slot) const { return slot < slots_.size() ? slots_[slot].dropped : 0; }
  uint64_t total_dropped() const;

 private:
  struct Slot {
    double tokens;
    uint64_t last;
    uint64_t admitted = 0;
    uint64_t dropped = 0;
  };
  std::vector<Slot> slots_;
  double tokens_per_tick_;
  double burst_;
  uint64_t out_of_range_ = 0;
};

}  // namespace nicswitch::slowpath
