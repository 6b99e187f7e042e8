#include "host_relay/virtio/relay_stats.h"

namespace nicswitch::relay {

absl::string_view DropReasonName(DropReason reason) {
  switch (reason) {
    case DropReason::kNoGuestBuffer:
      return "no_guest_buffer";
    case DropReason::kGuestBufferTooSmall:
      return "guest_buffer_too_small";
    case DropReason::kHeadOutOfRange:
      return "head_out_of_range";
    case DropReason::kNextOutOfRange:
      return "next_out_of_range";
    case DropReason::kChainTooLong:
      return "chain_too_long";
    case DropReason::kOutsideGuestMemory:
      return "outside_guest_memory";
    case DropReason::kLengthOverflow:
      return "length_overflow";
    case DropReason::kWrongDirection:
      return "wrong_direction";
    case DropReason::kBadIndirect:
      return "bad_indirect";
    case DropReason::kAvailIndexJump:
      return "avail_index_jump";
    case DropReason::kPacketTooLarge:
      return "packet_too_large";
    case DropReason::kTxPacketTooShort:
      return "tx_packet_too_short";
    case DropReason::kVfTxFull:
      return "vf_tx_full";
    case DropReason::kNoMbuf:
      return "no_mbuf";
    case DropReason::kCount:
      break;
  }
  return "unknown";
}

uint64_t DirectionStats::TotalDrops() const {
  uint64_t total = 0;
  for (const Counter& c : drops) {
    total += c.Get();
  }
  return total;
}

}  // namespace nicswitch::relay
