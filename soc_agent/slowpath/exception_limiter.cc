#include "soc_agent/slowpath/exception_limiter.h"

#include <algorithm>

namespace nicswitch::slowpath {

ExceptionLimiter::ExceptionLimiter(uint32_t slots, double rate, double burst, uint64_t hz)
    : slots_(slots, Slot{burst, 0}),
      tokens_per_tick_(rate / static_cast<double>(hz)),
      burst_(burst) {}

bool ExceptionLimiter::Admit(uint32_t slot, uint64_t now) {
  if (slot >= slots_.size()) {
    ++out_of_range_;
    return false;
  }
  Slot& s = slots_[slot];
  if (now > s.last) {
    s.tokens = std::min(burst_, s.tokens + static_cast<double>(now - s.last) * tokens_per_tick_);
    s.last = now;
  }
  if (s.tokens >= 1.0) {
    s.tokens -= 1.0;
    ++s.admitted;
    return true;
  }
  ++s.dropped;
  return false;
}

uint64_t ExceptionLimiter::total_dropped() const {
  uint64_t total = out_of_range_;
  for (const Slot& s : slots_) {
    total += s.dropped;
  }
  return total;
}

}  // namespace nicswitch::slowpath
