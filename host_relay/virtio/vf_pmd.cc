#include "host_relay/virtio/vf_pmd.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nicswitch::relay {

ZeroCopyRxVerdict ZeroCopyRxSupportOf(absl::string_view driver_name) {
  // Hardware VF drivers whose RX refill writes rte_mbuf_data_iova_default(mbuf) into the
  // descriptor ring: the NIC then DMAs straight into the guest buffer.
  for (absl::string_view dma : {"net_iavf", "net_ice", "net_ice_dcf", "net_i40e", "net_i40e_vf",
                                "net_ixgbe", "net_ixgbe_vf", "net_e1000_igb_vf", "net_igc"}) {
    if (driver_name == dma) {
      return {ZeroCopyRxSupport::kDma,
              absl::StrCat(driver_name, " DMAs to the buffer address of each posted mbuf")};
    }
  }
  if (absl::StrContains(driver_name, "mlx5") || absl::StrContains(driver_name, "mlx4")) {
    return {ZeroCopyRxSupport::kUnsupported,
            absl::StrCat(driver_name,
                         " resolves RX buffers' memory keys from the mempool's registered "
                         "memory, which guest buffers are not part of")};
  }
  if (driver_name == "net_ring") {
    return {ZeroCopyRxSupport::kUnsupported,
            "net_ring hands over the sender's mbufs instead of filling the ones it is given"};
  }
  if (driver_name == "net_virtio_user") {
    return {ZeroCopyRxSupport::kUnsupported,
            "net_virtio_user's backend writes to addresses in its own process, not the guest "
            "buffers this process maps"};
  }
  for (absl::string_view copy : {"net_memif", "net_null", "net_tap", "net_pcap", "net_af_packet"}) {
    if (driver_name == copy) {
      return {ZeroCopyRxSupport::kCpuCopy,
              absl::StrCat(driver_name, " copies each frame into the posted mbuf's buffer")};
    }
  }
  return {ZeroCopyRxSupport::kUnverified,
          absl::StrCat(driver_name, " is not known to fill the mbufs it is given; watch the ",
                       "relay's to_guest zero_copy and drop counters")};
}

}  // namespace nicswitch::relay
