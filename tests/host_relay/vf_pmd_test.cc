#include "host_relay/virtio/vf_pmd.h"

#include "gtest/gtest.h"

namespace nicswitch::relay {
namespace {

TEST(VfPmdTest, KnowsWhichDriversFillGuestBuffers) {
  EXPECT_EQ(ZeroCopyRxSupportOf("net_iavf").support, ZeroCopyRxSupport::kDma);
  EXPECT_EQ(ZeroCopyRxSupportOf("net_ice").support, ZeroCopyRxSupport::kDma);
  EXPECT_EQ(ZeroCopyRxSupportOf("net_memif").support, ZeroCopyRxSupport::kCpuCopy);
  EXPECT_EQ(ZeroCopyRxSupportOf("net_null").support, ZeroCopyRxSupport::kCpuCopy);
  // mlx5 reports its PCI driver's name; both spellings fall back to copy.
  for (const char* mlx : {"mlx5_pci", "net_mlx5", "net_mlx4"}) {
    const ZeroCopyRxVerdict v = ZeroCopyRxSupportOf(mlx);
    EXPECT_EQ(v.support, ZeroCopyRxSupport::kUnsupported) << mlx;
    EXPECT_NE(v.reason.find("memory keys"), std::string::npos) << v.reason;
  }
  EXPECT_EQ(ZeroCopyRxSupportOf("net_ring").support, ZeroCopyRxSupport::kUnsupported);
  const ZeroCopyRxVerdict unknown = ZeroCopyRxSupportOf("net_some_new_nic");
  EXPECT_EQ(unknown.support, ZeroCopyRxSupport::kUnverified);
  EXPECT_NE(unknown.reason.find("net_some_new_nic"), std::string::npos);
}

}  // namespace
}  // namespace nicswitch::relay
