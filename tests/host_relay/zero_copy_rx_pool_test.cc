// ZeroCopyRxPool against a fake guest RX queue, in process: the mbufs a PMD would get from the
// pool point into the guest's posted buffers, and completing a burst leaves, in every buffer,
// the right virtio-net header in front of the bytes "the NIC" wrote, whatever the buffer held
// before (the burst path skips header stores whose bytes are already there).

#include "host_relay/relay/zero_copy_rx_pool.h"

#include <gtest/gtest.h>
#include <rte_mbuf.h>

#include <array>
#include <cstring>
#include <memory>
#include <utility>
#include <vector>

#include "common/eal.h"
#include "host_relay/virtio/relay_stats.h"
#include "host_relay/virtio/split_virtqueue.h"
#include "tests/host_relay/fake_guest.h"
#include "tests/support/test_env.h"

namespace nicswitch::relay {
namespace {

using testing::FakeGuestQueue;

constexpr uint16_t kRing = 8;
constexpr uint32_t kBufferSize = 2048;
constexpr uint16_t kDataRoom = 2000;
constexpr uint32_t kHdr = kVirtioNetHeaderLen;  // 12: VERSION_1 / MRG_RXBUF

class ZeroCopyRxPoolTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_TRUE(
        InitEal("zero_copy_rx_pool_test", testenv::TestEalArgs("zero_copy_rx_pool_test", {}, 128))
            .ok());
  }

  void SetUp() override {
    guest_ = std::make_unique<FakeGuestQueue>(kRing, kRing * kBufferSize);
    auto q = SplitVirtqueue::Create(guest_->rings(), guest_->memory(), /*device_writes=*/true, 0, 0,
                                    &stats_);
    ASSERT_TRUE(q.ok()) << q.status();
    rxq_ = std::move(q).value();
    auto pool = ZeroCopyRxPool::Create("zcrx" + std::to_string(++pools_), kRing, kDataRoom,
                                       kDataRoom, SOCKET_ID_ANY);
    ASSERT_TRUE(pool.ok()) << pool.status();
    pool_ = std::move(pool).value();
    pool_->Bind(rxq_.get(), kHdr, /*mergeable=*/true, /*guest_csum=*/false, nullptr);
  }

  // Posts buffer i (kBufferSize bytes, or `len`) as RX descriptor i.
  void Post(uint16_t i, uint32_t len = kBufferSize) {
    guest_->SetDesc(i, guest_->buffer_gpa(i * kBufferSize), len, kDescFlagWrite, 0);
    guest_->MakeAvailable(i);
  }
  uint8_t* Buffer(uint16_t i) { return guest_->host(guest_->buffer_gpa(i * kBufferSize)); }

  // What a NIC does with the mbufs it was given: writes a frame at the data offset.
  static void Receive(rte_mbuf* m, uint16_t len, uint8_t seed) {
    auto* p = rte_pktmbuf_mtod(m, uint8_t*);
    for (uint16_t k = 0; k < len; ++k) {
      p[k] = static_cast<uint8_t>(seed + k);
    }
    m->data_len = len;
    m->pkt_len = len;
  }

  static inline int pools_ = 0;
  DirectionStats stats_;
  std::unique_ptr<FakeGuestQueue> guest_;
  std::unique_ptr<SplitVirtqueue> rxq_;
  std::unique_ptr<ZeroCopyRxPool> pool_;
};

TEST_F(ZeroCopyRxPoolTest, BurstLeavesTheRightHeaderWhateverTheBufferHeld) {
  // Buffers 0-3 hold garbage where the header goes (a fresh buffer, or a guest that wrote
  // there); 4-7 already hold exactly the header the relay writes (a reused buffer).
  const std::array<uint8_t, kHdr> expected = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0};
  for (uint16_t i = 0; i < kRing; ++i) {
    if (i < 4) {
      std::memset(Buffer(i), 0xab, kHdr);
    } else {
      std::memcpy(Buffer(i), expected.data(), kHdr);
    }
    Post(i);
  }
  std::array<rte_mbuf*, kRing> m{};
  ASSERT_EQ(rte_pktmbuf_alloc_bulk(pool_->mempool(), m.data(), kRing), 0);
  for (uint16_t i = 0; i < kRing; ++i) {
    // Zero copy: the PMD's write position is the guest buffer, right after the header.
    ASSERT_EQ(rte_pktmbuf_mtod(m[i], uint8_t*), Buffer(i) + kHdr) << i;
    Receive(m[i], static_cast<uint16_t>(60 + i), static_cast<uint8_t>(i * 16));
  }
  EXPECT_EQ(pool_->CompleteBurst(m.data(), kRing), kRing);
  EXPECT_EQ(rxq_->FlushUsed(), kRing);
  ASSERT_EQ(guest_->used_idx(), kRing);
  uint64_t bytes = 0;
  for (uint16_t i = 0; i < kRing; ++i) {
    const auto [id, len] = guest_->used(i);
    EXPECT_EQ(id, i);
    EXPECT_EQ(len, kHdr + 60 + i);
    EXPECT_EQ(std::memcmp(Buffer(i), expected.data(), kHdr), 0) << "header of buffer " << i;
    for (uint16_t k = 0; k < 60 + i; ++k) {
      ASSERT_EQ(Buffer(i)[kHdr + k], static_cast<uint8_t>(i * 16 + k)) << i << "/" << k;
    }
    bytes += 60 + i;
  }
  EXPECT_EQ(stats_.packets.Get(), kRing);
  EXPECT_EQ(stats_.zero_copy.Get(), kRing);
  EXPECT_EQ(stats_.copied.Get(), 0u);
  EXPECT_EQ(stats_.bytes.Get(), bytes);
  EXPECT_EQ(stats_.TotalDrops(), 0u);
}

TEST_F(ZeroCopyRxPoolTest, BurstMixesZeroCopyAndBouncedBuffers) {
  // Buffer 2 is too small to take a full frame in place: it is bound to a bounce buffer and
  // its frame is copied on completion, in the same burst as the zero-copy ones.
  for (uint16_t i = 0; i < 4; ++i) {
    std::memset(Buffer(i), 0xcd, kHdr);
    Post(i, i == 2 ? 200 : kBufferSize);
  }
  std::array<rte_mbuf*, 4> m{};
  ASSERT_EQ(rte_pktmbuf_alloc_bulk(pool_->mempool(), m.data(), 4), 0);
  EXPECT_NE(rte_pktmbuf_mtod(m[2], uint8_t*), Buffer(2) + kHdr);
  for (uint16_t i = 0; i < 4; ++i) {
    Receive(m[i], 100, static_cast<uint8_t>(i));
  }
  EXPECT_EQ(pool_->CompleteBurst(m.data(), 4), 4);
  rxq_->FlushUsed();
  ASSERT_EQ(guest_->used_idx(), 4);
  for (uint16_t i = 0; i < 4; ++i) {
    EXPECT_EQ(guest_->used(i).second, kHdr + 100);
    EXPECT_EQ(Buffer(i)[10], 1) << "num_buffers of buffer " << i;
    EXPECT_EQ(Buffer(i)[0], 0) << "flags of buffer " << i;
    for (uint16_t k = 0; k < 100; ++k) {
      ASSERT_EQ(Buffer(i)[kHdr + k], static_cast<uint8_t>(i + k)) << i << "/" << k;
    }
  }
  EXPECT_EQ(stats_.packets.Get(), 4u);
  EXPECT_EQ(stats_.zero_copy.Get(), 3u);
  EXPECT_EQ(stats_.copied.Get(), 1u);
}

// Live migration: with dirty logging on, every guest byte the relay (or the VF, zero copy)
// wrote is reported: each buffer from its header through the frame, and the used ring entries
// and index when published.
TEST_F(ZeroCopyRxPoolTest, DirtyLoggingReportsEveryBufferAndTheUsedRing) {
  struct RecordingLog : DirtyLog {
    void GuestWritten(uint64_t gpa, uint64_t len) override { guest.emplace_back(gpa, len); }
    void UsedWritten(uint64_t offset, uint64_t len) override { used.emplace_back(offset, len); }
    std::vector<std::pair<uint64_t, uint64_t>> guest;
    std::vector<std::pair<uint64_t, uint64_t>> used;
  } log;
  rxq_->set_dirty_log(&log);
  pool_->set_dirty_log(&log);
  for (uint16_t i = 0; i < 3; ++i) {
    Post(i);
  }
  std::array<rte_mbuf*, 3> m{};
  ASSERT_EQ(rte_pktmbuf_alloc_bulk(pool_->mempool(), m.data(), 3), 0);
  for (uint16_t i = 0; i < 3; ++i) {
    Receive(m[i], static_cast<uint16_t>(100 * (i + 1)), 0);
  }
  ASSERT_EQ(pool_->CompleteBurst(m.data(), 3), 3);
  ASSERT_EQ(rxq_->FlushUsed(), 3);
  ASSERT_EQ(log.guest.size(), 3u);
  for (uint16_t i = 0; i < 3; ++i) {
    EXPECT_EQ(log.guest[i].first, guest_->buffer_gpa(i * kBufferSize));
    EXPECT_EQ(log.guest[i].second, kHdr + 100u * (i + 1));
  }
  // Entries 0-2 (8 bytes each after the 4-byte flags/idx) and then the index itself.
  ASSERT_EQ(log.used.size(), 2u);
  EXPECT_EQ(log.used[0], std::make_pair(uint64_t{4}, uint64_t{24}));
  EXPECT_EQ(log.used[1], std::make_pair(uint64_t{2}, uint64_t{2}));
}

}  // namespace
}  // namespace nicswitch::relay
