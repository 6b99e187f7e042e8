// Hostile-guest tests: every malformed descriptor is refused and counted, the queue keeps
// serving the next good one, and nothing outside guest memory is touched (this binary is built
// with ASan/UBSan when NICSWITCH_FUZZ is on; the guest memory is one exact heap allocation).
#include "host_relay/virtio/split_virtqueue.h"

#include <cstring>

#include "gtest/gtest.h"
#include "tests/host_relay/fake_guest.h"

namespace nicswitch::relay {
namespace {

using testing::FakeGuestQueue;
using PopStatus = SplitVirtqueue::PopStatus;

class SplitVirtqueueTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kSize = 16;
  void Open(bool device_writes) {
    auto q = SplitVirtqueue::Create(guest_.rings(), guest_.memory(), device_writes, 0, 0, &stats_);
    ASSERT_TRUE(q.ok()) << q.status();
    q_ = std::move(q).value();
  }
  // A good one-descriptor chain at descriptor `i`.
  void Good(uint16_t i, bool writable) {
    guest_.SetDesc(i, guest_.buffer_gpa(i * 2048), 2048, writable ? kDescFlagWrite : 0, 0);
  }
  // Pops: expects a refusal of `reason`, then the next good chain `good_head` is served.
  void ExpectRefusedThenServed(DropReason reason, uint16_t good_head) {
    DescriptorChain chain;
    const uint64_t before = stats_.Drops(reason);
    EXPECT_EQ(q_->Pop(&chain), PopStatus::kRefused);
    EXPECT_EQ(stats_.Drops(reason), before + 1) << DropReasonName(reason);
    ASSERT_EQ(q_->Pop(&chain), PopStatus::kOk);
    EXPECT_EQ(chain.head, good_head);
    EXPECT_EQ(chain.total_len, 2048u);
    EXPECT_EQ(q_->Pop(&chain), PopStatus::kEmpty);
  }

  FakeGuestQueue guest_{kSize, kSize * 2048};
  DirectionStats stats_;
  std::unique_ptr<SplitVirtqueue> q_;
};

TEST_F(SplitVirtqueueTest, ServesGoodChainsInOrderAndPublishesUsed) {
  Open(/*device_writes=*/false);
  guest_.SetDesc(0, guest_.buffer_gpa(0), 100, kDescFlagNext, 1);
  guest_.SetDesc(1, guest_.buffer_gpa(4096), 200, 0, 0);
  Good(2, false);
  guest_.MakeAvailable(0);
  guest_.MakeAvailable(2);
  EXPECT_EQ(q_->Pending(), 2);
  DescriptorChain chain;
  ASSERT_EQ(q_->Pop(&chain), PopStatus::kOk);
  EXPECT_EQ(chain.head, 0);
  ASSERT_EQ(chain.num_segments, 2);
  EXPECT_EQ(chain.total_len, 300u);
  EXPECT_EQ(chain.segments[1].host, guest_.host(guest_.buffer_gpa(4096)));
  q_->PushUsed(chain.head, 0);
  ASSERT_EQ(q_->Pop(&chain), PopStatus::kOk);
  EXPECT_EQ(chain.head, 2);
  q_->PushUsed(chain.head, 0);
  EXPECT_EQ(guest_.used_idx(), 0);  // not visible before the flush
  EXPECT_EQ(q_->FlushUsed(), 2);
  EXPECT_EQ(guest_.used_idx(), 2);
  EXPECT_EQ(guest_.used(0).first, 0u);
  EXPECT_EQ(guest_.used(1).first, 2u);
  EXPECT_EQ(stats_.TotalDrops(), 0u);
}

TEST_F(SplitVirtqueueTest, BufferOutsideGuestMemory) {
  Open(false);
  guest_.SetDesc(0, 0x1000, 64, 0, 0);  // below guest memory
  Good(1, false);
  guest_.MakeAvailable(0);
  guest_.MakeAvailable(1);
  ExpectRefusedThenServed(DropReason::kOutsideGuestMemory, 1);
  // The refused head is returned to the guest (length 0) so it does not leak.
  q_->FlushUsed();
  EXPECT_EQ(guest_.used(0), std::make_pair(0u, 0u));
}

TEST_F(SplitVirtqueueTest, BufferRunningPastTheEndOfGuestMemory) {
  Open(false);
  const uint64_t end = FakeGuestQueue::kGuestBase + guest_.bytes();
  guest_.SetDesc(0, end - 100, 101, 0, 0);
  Good(1, false);
  guest_.MakeAvailable(0);
  guest_.MakeAvailable(1);
  ExpectRefusedThenServed(DropReason::kOutsideGuestMemory, 1);
}

TEST_F(SplitVirtqueueTest, OverflowingTotalLength) {
  Open(false);
  guest_.SetDesc(0, guest_.buffer_gpa(0), 0xffffffff, kDescFlagNext, 1);
  guest_.SetDesc(1, guest_.buffer_gpa(0), 0xffffffff, 0, 0);
  Good(2, false);
  guest_.MakeAvailable(0);
  guest_.MakeAvailable(2);
  // The first descriptor alone is already outside guest memory; either refusal is correct,
  // what matters is that it is refused and counted.
  DescriptorChain chain;
  EXPECT_EQ(q_->Pop(&chain), PopStatus::kRefused);
  EXPECT_EQ(stats_.TotalDrops(), 1u);
  ASSERT_EQ(q_->Pop(&chain), PopStatus::kOk);
  EXPECT_EQ(chain.head, 2);
}

TEST_F(SplitVirtqueueTest, ChainLoop) {
  Open(false);
  guest_.SetDesc(0, guest_.buffer_gpa(0), 10, kDescFlagNext, 1);
  guest_.SetDesc(1, guest_.buffer_gpa(0), 10, kDescFlagNext, 0);  // back to 0
  Good(2, false);
  guest_.MakeAvailable(0);
  guest_.MakeAvailable(2);
  ExpectRefusedThenServed(DropReason::kChainTooLong, 2);
}

TEST_F(SplitVirtqueueTest, SelfLoop) {
  Open(false);
  guest_.SetDesc(3, guest_.buffer_gpa(0), 10, kDescFlagNext, 3);
  Good(2, false);
  guest_.MakeAvailable(3);
  guest_.MakeAvailable(2);
  ExpectRefusedThenServed(DropReason::kChainTooLong, 2);
}

TEST_F(SplitVirtqueueTest, HeadIndexOutOfRange) {
  Open(false);
  Good(2, false);
  guest_.MakeAvailable(kSize);  // one past the table
  guest_.MakeAvailable(2);
  ExpectRefusedThenServed(DropReason::kHeadOutOfRange, 2);
  q_->FlushUsed();
  EXPECT_EQ(guest_.used_idx(), 0);  // an invalid id is never written to the used ring
}

TEST_F(SplitVirtqueueTest, NextIndexOutOfRange) {
  Open(false);
  guest_.SetDesc(0, guest_.buffer_gpa(0), 10, kDescFlagNext, 0xffff);
  Good(2, false);
  guest_.MakeAvailable(0);
  guest_.MakeAvailable(2);
  ExpectRefusedThenServed(DropReason::kNextOutOfRange, 2);
}

TEST_F(SplitVirtqueueTest, WrongDirection) {
  Open(/*device_writes=*/true);  // RX: every descriptor must be device-writable
  guest_.SetDesc(0, guest_.buffer_gpa(0), 2048, 0, 0);
  Good(2, true);
  guest_.MakeAvailable(0);
  guest_.MakeAvailable(2);
  ExpectRefusedThenServed(DropReason::kWrongDirection, 2);
}

TEST_F(SplitVirtqueueTest, AvailIndexJumpIsCountedOnceAndServiceResumes) {
  Open(false);
  Good(2, false);
  guest_.SetAvailIdx(kSize + 5);  // claims more entries than the ring has
  DescriptorChain chain;
  EXPECT_EQ(q_->Pop(&chain), PopStatus::kEmpty);
  EXPECT_EQ(q_->Pop(&chain), PopStatus::kEmpty);
  EXPECT_EQ(stats_.Drops(DropReason::kAvailIndexJump), 1u);
  EXPECT_EQ(q_->last_avail_idx(), 0);  // nothing consumed from a bogus index
  guest_.SetAvailIdx(0);
  guest_.MakeAvailable(2);
  ASSERT_EQ(q_->Pop(&chain), PopStatus::kOk);
  EXPECT_EQ(chain.head, 2);
}

TEST_F(SplitVirtqueueTest, IndirectTableIsValidated) {
  Open(false);
  const uint64_t table = guest_.buffer_gpa(8 * 2048);
  guest_.SetIndirectDesc(table, 0, guest_.buffer_gpa(0), 1000, kDescFlagNext, 1);
  guest_.SetIndirectDesc(table, 1, guest_.buffer_gpa(4096), 1048, 0, 0);
  guest_.SetDesc(0, table, 32, kDescFlagIndirect, 0);
  // Bad: table length not a multiple of 16; nested indirect; next past the table; table
  // outside guest memory.
  guest_.SetDesc(1, table, 20, kDescFlagIndirect, 0);
  const uint64_t nested = guest_.buffer_gpa(9 * 2048);
  guest_.SetIndirectDesc(nested, 0, table, 32, kDescFlagIndirect, 0);
  guest_.SetDesc(3, nested, 16, kDescFlagIndirect, 0);
  const uint64_t past = guest_.buffer_gpa(10 * 2048);
  guest_.SetIndirectDesc(past, 0, guest_.buffer_gpa(0), 10, kDescFlagNext, 5);
  guest_.SetDesc(4, past, 16, kDescFlagIndirect, 0);
  guest_.SetDesc(5, 0x10, 16, kDescFlagIndirect, 0);
  guest_.SetDesc(6, table, 32, kDescFlagIndirect | kDescFlagNext, 0);
  for (uint16_t head : {1, 3, 4, 5, 6, 0}) {
    guest_.MakeAvailable(head);
  }
  DescriptorChain chain;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(q_->Pop(&chain), PopStatus::kRefused) << i;
  }
  EXPECT_EQ(stats_.Drops(DropReason::kBadIndirect), 3u);
  EXPECT_EQ(stats_.Drops(DropReason::kNextOutOfRange), 1u);
  EXPECT_EQ(stats_.Drops(DropReason::kOutsideGuestMemory), 1u);
  ASSERT_EQ(q_->Pop(&chain), PopStatus::kOk);
  EXPECT_TRUE(chain.indirect);
  EXPECT_EQ(chain.head, 0);
  EXPECT_EQ(chain.total_len, 2048u);
  EXPECT_EQ(chain.num_segments, 2);
}

TEST_F(SplitVirtqueueTest, TooManySegmentsIsRefused) {
  Open(false);
  // A chain of every descriptor in a 64-entry indirect table: longer than kMaxChainSegments.
  const uint64_t table = guest_.buffer_gpa(8 * 2048);
  for (uint16_t i = 0; i < 64; ++i) {
    guest_.SetIndirectDesc(table, i, guest_.buffer_gpa(0), 8, i < 63 ? kDescFlagNext : 0, i + 1);
  }
  guest_.SetDesc(0, table, 64 * 16, kDescFlagIndirect, 0);
  Good(2, false);
  guest_.MakeAvailable(0);
  guest_.MakeAvailable(2);
  ExpectRefusedThenServed(DropReason::kChainTooLong, 2);
}

TEST_F(SplitVirtqueueTest, RefusesBadRingSizes) {
  EXPECT_FALSE(SplitVirtqueue::Create(VringAddresses{guest_.rings().desc, guest_.rings().avail,
                                                     guest_.rings().used, 12},
                                      guest_.memory(), false, 0, 0, &stats_)
                   .ok());
}

TEST_F(SplitVirtqueueTest, InterruptSuppressionAndKickRequests) {
  Open(false);
  EXPECT_TRUE(q_->GuestWantsInterrupt());
  guest_.SetAvailFlags(kAvailFlagNoInterrupt);
  EXPECT_FALSE(q_->GuestWantsInterrupt());
  q_->SetKickWanted(false);
  uint16_t flags;
  std::memcpy(&flags, guest_.rings().used, 2);
  EXPECT_EQ(flags, kUsedFlagNoNotify);
}

// VIRTIO_RING_F_EVENT_IDX: the guest is interrupted only when the published used index passes
// its used_event since the last decision, and asked to kick through avail_event.
TEST_F(SplitVirtqueueTest, EventIdxInterruptsWhenUsedIndexPassesUsedEvent) {
  Open(/*device_writes=*/true);
  q_->set_event_idx(true);
  guest_.SetAvailFlags(kAvailFlagNoInterrupt);  // ignored with EVENT_IDX
  for (uint16_t i = 0; i < 8; ++i) {
    Good(i, true);
    guest_.MakeAvailable(i);
  }
  auto publish = [&](int n) {
    DescriptorChain chain;
    for (int k = 0; k < n; ++k) {
      ASSERT_EQ(q_->Pop(&chain), PopStatus::kOk);
      q_->PushUsed(chain.head, 64);
    }
    q_->FlushUsed();
  };
  guest_.SetUsedEvent(2);  // "interrupt me once entry 2 is used" (used index 3)
  publish(1);              // used index 1: the first decision always interrupts
  EXPECT_TRUE(q_->GuestWantsInterrupt());
  publish(1);  // 2: not yet past used_event
  EXPECT_FALSE(q_->GuestWantsInterrupt());
  publish(2);  // 4: passed 2 in this step
  EXPECT_TRUE(q_->GuestWantsInterrupt());
  publish(1);  // 5: the guest has not moved used_event
  EXPECT_FALSE(q_->GuestWantsInterrupt());
  guest_.SetUsedEvent(4);  // already behind: no interrupt until it is moved past 5
  publish(1);
  EXPECT_FALSE(q_->GuestWantsInterrupt());
  guest_.SetUsedEvent(6);
  publish(1);  // 7 passes 6
  EXPECT_TRUE(q_->GuestWantsInterrupt());

  // Kicks: avail_event = the next avail index the queue reads (7 consumed so far).
  q_->SetKickWanted(true);
  EXPECT_EQ(guest_.avail_event(), 7);
  uint16_t flags;
  std::memcpy(&flags, guest_.rings().used, 2);
  EXPECT_EQ(flags, 0);  // the flag is not how EVENT_IDX asks
  q_->SetKickWanted(false);
  EXPECT_EQ(guest_.avail_event(), 7);  // left alone: the guest kicks at most once more
}

}  // namespace
}  // namespace nicswitch::relay
