#include "soc_agent/slowpath/soft_actions.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "soc_agent/slowpath/packet.h"
#include "tests/soc_agent/slowpath/packet_builder.h"

namespace nicswitch::slowpath {
namespace {

using flowrules::Action;
using test::FrameBuilder;
using ::testing::HasSubstr;

// A frame placed after `headroom` spare bytes, as in an mbuf.
struct Buffer {
  std::vector<uint8_t> storage;
  FrameRef frame;
  Buffer(const std::vector<uint8_t>& bytes, uint32_t headroom) : storage(headroom + bytes.size()) {
    std::copy(bytes.begin(), bytes.end(), storage.begin() + headroom);
    frame = FrameRef{storage.data() + headroom, static_cast<uint32_t>(bytes.size()), headroom};
  }
  std::vector<uint8_t> Bytes() const { return {frame.data, frame.data + frame.length}; }
};

uint16_t FoldedSum(const uint8_t* p, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(sum);
}

std::vector<uint8_t> GuestFrame(uint8_t ttl = 64) {
  return FrameBuilder()
      .Eth("02:00:00:00:00:fe", "02:00:00:00:00:01", kEtherTypeIpv4)
      .Ipv4("10.0.0.1", "10.0.1.2", kIpProtoUdp, ttl)
      .Udp(1234, 53)
      .Payload(77)
      .Finish();
}

flowrules::VxlanEncapAction Encap() {
  flowrules::VxlanEncapAction e;
  e.eth_src = *flowrules::MacAddress::Parse("02:aa:00:00:00:01");
  e.eth_dst = *flowrules::MacAddress::Parse("02:bb:00:00:00:01");
  e.ip = std::make_pair(*flowrules::Ipv4Address::Parse("192.168.0.1"),
                        *flowrules::Ipv4Address::Parse("192.168.0.2"));
  e.ttl = 64;
  e.udp_src = 50123;
  e.vni = 0xabcdef;
  return e;
}

TEST(SoftActionsTest, EncapBuildsCorrectOuterHeadersAndDecapRestoresTheFrame) {
  const auto inner = GuestFrame();
  Buffer buffer(inner, 128);
  auto fate = ApplyActions({flowrules::CountAction{}, Encap(), flowrules::RepresentedPortAction{0}},
                           buffer.frame);
  ASSERT_TRUE(fate.ok()) << fate.status();
  EXPECT_EQ(*fate, (SoftFate{SoftFate::Kind::kRepresentedPort, 0}));
  ASSERT_EQ(buffer.frame.length, inner.size() + 50);
  EXPECT_EQ(buffer.frame.headroom, 128u - 50);

  const auto out = buffer.Bytes();
  auto parsed = ParsePacket(out.data(), out.size());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->outer.eth_dst.ToString(), "02:bb:00:00:00:01");
  EXPECT_EQ(parsed->outer.ipv4_src.ToString(), "192.168.0.1");
  EXPECT_EQ(parsed->outer.ipv4_dst.ToString(), "192.168.0.2");
  EXPECT_EQ(parsed->outer.l4_src_port, 50123);
  EXPECT_EQ(parsed->outer.l4_dst_port, 4789);
  EXPECT_EQ(parsed->vni, 0xabcdefu);
  // IPv4 total length and UDP length cover exactly the rest of the frame.
  EXPECT_EQ(out[16] << 8 | out[17], static_cast<int>(out.size() - 14));
  EXPECT_EQ(out[38] << 8 | out[39], static_cast<int>(out.size() - 34));
  EXPECT_EQ(FoldedSum(out.data() + 14, 20), 0xffff) << "outer IPv4 checksum";
  EXPECT_EQ(std::vector<uint8_t>(out.begin() + 50, out.end()), inner);

  fate = ApplyActions({flowrules::VxlanDecapAction{}, flowrules::PortRepresentorAction{3}},
                      buffer.frame);
  ASSERT_TRUE(fate.ok()) << fate.status();
  EXPECT_EQ(*fate, (SoftFate{SoftFate::Kind::kPortRepresentor, 3}));
  EXPECT_EQ(buffer.Bytes(), inner);
  EXPECT_EQ(buffer.frame.headroom, 128u);
}

TEST(SoftActionsTest, RoutedHopRewritesMacsAndDecrementsTtlWithAValidChecksum) {
  Buffer buffer(GuestFrame(9), 0);
  auto fate =
      ApplyActions({flowrules::SetMacSrcAction{*flowrules::MacAddress::Parse("02:00:00:00:00:fe")},
                    flowrules::SetMacDstAction{*flowrules::MacAddress::Parse("02:00:00:00:00:07")},
                    flowrules::DecTtlAction{}, flowrules::RepresentedPortAction{2}},
                   buffer.frame);
  ASSERT_TRUE(fate.ok()) << fate.status();
  const auto out = buffer.Bytes();
  auto parsed = ParsePacket(out.data(), out.size());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->outer.eth_src.ToString(), "02:00:00:00:00:fe");
  EXPECT_EQ(parsed->outer.eth_dst.ToString(), "02:00:00:00:00:07");
  EXPECT_EQ(parsed->outer.ttl, 8);
  EXPECT_EQ(FoldedSum(out.data() + 14, 20), 0xffff) << "IPv4 checksum after dec_ttl";
}

TEST(SoftActionsTest, RefusesWhatTheFrameCannotTake) {
  struct Case {
    const char* name;
    std::vector<Action> actions;
    std::vector<uint8_t> frame;
    uint32_t headroom;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"ttl expires",
       {flowrules::DecTtlAction{}, flowrules::DropAction{}},
       GuestFrame(1),
       0,
       "TTL 1 expires"},
      {"decap of plain frame",
       {flowrules::VxlanDecapAction{}, flowrules::DropAction{}},
       GuestFrame(),
       0,
       "not VXLAN"},
      {"encap without headroom",
       {Encap(), flowrules::RepresentedPortAction{0}},
       GuestFrame(),
       20,
       "headroom"},
      {"no fate", {flowrules::CountAction{}}, GuestFrame(), 0, "no fate"},
  };
  for (const auto& c : cases) {
    Buffer buffer(c.frame, c.headroom);
    auto fate = ApplyActions(c.actions, buffer.frame);
    ASSERT_FALSE(fate.ok()) << c.name;
    EXPECT_EQ(fate.status().code(), absl::StatusCode::kFailedPrecondition) << c.name;
    EXPECT_THAT(std::string(fate.status().message()), HasSubstr(c.error)) << c.name;
  }
}

}  // namespace
}  // namespace nicswitch::slowpath
