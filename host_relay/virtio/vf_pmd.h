#pragma once

// Which VF poll-mode drivers can receive straight into guest buffers (zero-copy RX).
//
// The relay's zero-copy RX hands the VF's RX queue mbufs whose buf_addr/buf_iova point into a
// posted guest buffer (ZeroCopyRxPool). That works with PMDs that DMA (or copy) to the mbuf's
// buf_iova/buf_addr when they refill or fill their ring, and fails with PMDs that either look up
// the buffer's memory registration by mempool (mlx4/mlx5: memory keys come from the mempool's
// registered chunks; a guest buffer is in none) or hand over mbufs of their own (net_ring).
// For those the relay falls back to copy mode for RX, with a warning.

#include <string>

#include "absl/strings/string_view.h"

namespace nicswitch::relay {

enum class ZeroCopyRxSupport {
  kDma,          // the NIC DMAs to buf_iova at refill (iavf, ice, i40e, ixgbe VF, igb VF)
  kCpuCopy,      // a software port that copies into the mbuf it is given (memif, null, tap...)
  kUnverified,   // not known either way: zero copy stays on; the counters tell
  kUnsupported,  // cannot: RX falls back to copy mode
};

struct ZeroCopyRxVerdict {
  ZeroCopyRxSupport support = ZeroCopyRxSupport::kUnverified;
  std::string reason;  // one line for the log and the docs
};

// `driver_name` is rte_eth_dev_info.driver_name of the VF port.
ZeroCopyRxVerdict ZeroCopyRxSupportOf(absl::string_view driver_name);

}  // namespace nicswitch::relay
