#include "host_relay/virtio/virtio_net.h"

#include <cstring>
#include <vector>

#include "gtest/gtest.h"
#include "tests/host_relay/fake_guest.h"

namespace nicswitch::relay {
namespace {

using testing::FakeGuestQueue;

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<uint8_t>(seed + i * 7);
  }
  return v;
}

class RecordingLog : public DirtyLog {
 public:
  void GuestWritten(uint64_t gpa, uint64_t len) override { guest_bytes += len; }
  void UsedWritten(uint64_t offset, uint64_t len) override { used_bytes += len; }
  uint64_t guest_bytes = 0;
  uint64_t used_bytes = 0;
};

class VirtioNetRxTest : public ::testing::Test {
 protected:
  static constexpr uint16_t kSize = 16;
  void SetUp() override {
    auto q = SplitVirtqueue::Create(guest_.rings(), guest_.memory(), true, 0, 0, &stats_);
    ASSERT_TRUE(q.ok());
    q_ = std::move(q).value();
    q_->set_dirty_log(&log_);
  }
  void Post(uint16_t i, uint32_t len) {
    guest_.SetDesc(i, guest_.buffer_gpa(i * 2048), len, kDescFlagWrite, 0);
    guest_.MakeAvailable(i);
  }
  FakeGuestQueue guest_{kSize, kSize * 2048};
  DirectionStats stats_;
  RecordingLog log_;
  std::unique_ptr<SplitVirtqueue> q_;
};

TEST_F(VirtioNetRxTest, MergeableSpreadsAJumboFrameOverSeveralBuffersIntact) {
  for (uint16_t i = 0; i < 5; ++i) {
    Post(i, 2048);
  }
  const std::vector<uint8_t> pkt = Pattern(5000, 3);
  // Two fragments, as a chained mbuf would give them.
  const PacketFragment frags[] = {{pkt.data(), 1500}, {pkt.data() + 1500, 3500}};
  VirtioNetHeader hdr;
  hdr.flags = kNetHdrFlagDataValid;
  ASSERT_TRUE(CopyPacketToGuest(*q_, frags, 2, hdr, kVirtioNetHeaderLen, true, &log_));
  EXPECT_EQ(q_->FlushUsed(), 3);
  // 12 + 5000 bytes in 2048-byte buffers: 2048 + 2048 + 916 (= 12 + 5000).
  EXPECT_EQ(guest_.used(0).second, 2048u);
  EXPECT_EQ(guest_.used(1).second, 2048u);
  EXPECT_EQ(guest_.used(2).second, 916u);
  const VirtioNetHeader got = DecodeVirtioNetHeader(guest_.host(guest_.buffer_gpa(0)), 12);
  EXPECT_EQ(got.num_buffers, 3);
  EXPECT_EQ(got.flags, kNetHdrFlagDataValid);
  std::vector<uint8_t> out;
  const uint8_t* b0 = guest_.host(guest_.buffer_gpa(0));
  out.insert(out.end(), b0 + 12, b0 + 2048);
  const uint8_t* b1 = guest_.host(guest_.buffer_gpa(2048));
  out.insert(out.end(), b1, b1 + 2048);
  const uint8_t* b2 = guest_.host(guest_.buffer_gpa(4096));
  out.insert(out.end(), b2, b2 + 916);
  EXPECT_EQ(out, pkt);
  EXPECT_EQ(stats_.packets.Get(), 1u);
  EXPECT_EQ(stats_.copied.Get(), 1u);
  EXPECT_EQ(log_.guest_bytes, 5012u);  // every written byte logged for migration
  EXPECT_GT(log_.used_bytes, 0u);
}

TEST_F(VirtioNetRxTest, NotEnoughBuffersDropsWithoutConsumingAnything) {
  Post(0, 2048);
  const std::vector<uint8_t> pkt = Pattern(3000, 1);
  const PacketFragment frag{pkt.data(), 3000};
  EXPECT_FALSE(CopyPacketToGuest(*q_, &frag, 1, {}, kVirtioNetHeaderLen, true, nullptr));
  EXPECT_EQ(stats_.Drops(DropReason::kNoGuestBuffer), 1u);
  EXPECT_EQ(q_->last_avail_idx(), 0);
  EXPECT_EQ(q_->FlushUsed(), 0);
  // A packet that fits is then delivered into that very buffer.
  const PacketFragment small{pkt.data(), 100};
  EXPECT_TRUE(CopyPacketToGuest(*q_, &small, 1, {}, kVirtioNetHeaderLen, true, nullptr));
  EXPECT_EQ(q_->FlushUsed(), 1);
  EXPECT_EQ(guest_.used(0), std::make_pair(0u, 112u));
}

TEST_F(VirtioNetRxTest, EmptyRingIsACountedDrop) {
  const std::vector<uint8_t> pkt = Pattern(64, 1);
  const PacketFragment frag{pkt.data(), 64};
  EXPECT_FALSE(CopyPacketToGuest(*q_, &frag, 1, {}, kVirtioNetHeaderLen, true, nullptr));
  EXPECT_EQ(stats_.Drops(DropReason::kNoGuestBuffer), 1u);
}

TEST_F(VirtioNetRxTest, WithoutMergeableAPacketMustFitOneChain) {
  Post(0, 1000);
  Post(1, 2048);
  const std::vector<uint8_t> pkt = Pattern(1500, 9);
  const PacketFragment frag{pkt.data(), 1500};
  EXPECT_FALSE(CopyPacketToGuest(*q_, &frag, 1, {}, kVirtioNetHeaderLen, false, nullptr));
  EXPECT_EQ(stats_.Drops(DropReason::kGuestBufferTooSmall), 1u);
  EXPECT_TRUE(CopyPacketToGuest(*q_, &frag, 1, {}, kVirtioNetHeaderLen, false, nullptr));
  EXPECT_EQ(q_->FlushUsed(), 2);
  EXPECT_EQ(guest_.used(0), std::make_pair(0u, 0u));  // the small one returned unused
  EXPECT_EQ(guest_.used(1), std::make_pair(1u, 1512u));
  EXPECT_EQ(std::memcmp(guest_.host(guest_.buffer_gpa(2048)) + 12, pkt.data(), 1500), 0);
}

TEST(VirtioNetTxTest, GathersAPacketSplitAcrossDescriptorsAfterTheHeader) {
  FakeGuestQueue guest(8, 8 * 2048);
  DirectionStats stats;
  auto q = SplitVirtqueue::Create(guest.rings(), guest.memory(), false, 0, 0, &stats);
  ASSERT_TRUE(q.ok());
  const std::vector<uint8_t> pkt = Pattern(1000, 5);
  VirtioNetHeader sent;
  sent.flags = kNetHdrFlagNeedsCsum;
  sent.csum_start = 34;
  sent.csum_offset = 6;
  EncodeVirtioNetHeader(sent, 12, guest.host(guest.buffer_gpa(0)));
  std::memcpy(guest.host(guest.buffer_gpa(0)) + 12, pkt.data(), 88);
  std::memcpy(guest.host(guest.buffer_gpa(2048)), pkt.data() + 88, 912);
  guest.SetDesc(0, guest.buffer_gpa(0), 100, kDescFlagNext, 1);
  guest.SetDesc(1, guest.buffer_gpa(2048), 912, 0, 0);
  guest.MakeAvailable(0);
  DescriptorChain chain;
  ASSERT_EQ((*q)->Pop(&chain), SplitVirtqueue::PopStatus::kOk);

  std::vector<uint8_t> out(2048);
  VirtioNetHeader hdr;
  const TxGather g = CopyPacketFromGuest(chain, 12, &hdr, out.data(), out.size());
  ASSERT_EQ(g.error, DropReason::kCount);
  ASSERT_EQ(g.len, 1000u);
  out.resize(1000);
  EXPECT_EQ(out, pkt);
  EXPECT_EQ(hdr.flags, kNetHdrFlagNeedsCsum);
  EXPECT_EQ(hdr.csum_start, 34);
  EXPECT_EQ(hdr.csum_offset, 6);

  BufferSegment segs[kMaxChainSegments];
  const TxSegments s = PacketSegmentsFromGuest(chain, 12, &hdr, segs, 9000);
  ASSERT_EQ(s.count, 2);
  EXPECT_EQ(s.len, 1000u);
  EXPECT_EQ(segs[0].len, 88u);
  EXPECT_EQ(segs[0].gpa, guest.buffer_gpa(12));
  EXPECT_EQ(segs[1].len, 912u);

  EXPECT_EQ(CopyPacketFromGuest(chain, 12, &hdr, out.data(), 999).error,
            DropReason::kPacketTooLarge);
  EXPECT_EQ(PacketSegmentsFromGuest(chain, 12, &hdr, segs, 999).error, DropReason::kPacketTooLarge);
}

TEST(VirtioNetTxTest, RefusesChainsShorterThanHeaderAndEthernet) {
  DescriptorChain chain;
  uint8_t buf[20] = {};
  chain.num_segments = 1;
  chain.segments[0] = BufferSegment{0, buf, 20};
  chain.total_len = 20;
  VirtioNetHeader hdr;
  uint8_t out[64];
  EXPECT_EQ(CopyPacketFromGuest(chain, 12, &hdr, out, 64).error, DropReason::kTxPacketTooShort);
}

}  // namespace
}  // namespace nicswitch::relay
