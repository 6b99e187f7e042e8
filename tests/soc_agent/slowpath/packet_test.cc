#include "soc_agent/slowpath/packet.h"

#include <set>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/soc_agent/slowpath/packet_builder.h"

namespace nicswitch::slowpath {
namespace {

using test::FrameBuilder;
using ::testing::HasSubstr;

constexpr char kVmMac[] = "02:00:00:00:00:01";
constexpr char kGwMac[] = "02:00:00:00:00:fe";

TEST(ParsePacketTest, GuestUdp) {
  const auto frame = FrameBuilder()
                         .Eth(kGwMac, kVmMac, kEtherTypeIpv4)
                         .Ipv4("10.0.0.1", "10.0.1.9", kIpProtoUdp, 17)
                         .Udp(1234, 53)
                         .Payload(30)
                         .Finish();
  auto p = ParsePacket(frame.data(), frame.size());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->outer.eth_src.ToString(), kVmMac);
  EXPECT_EQ(p->outer.eth_dst.ToString(), kGwMac);
  EXPECT_TRUE(p->outer.is_ipv4);
  EXPECT_EQ(p->outer.ipv4_src.ToString(), "10.0.0.1");
  EXPECT_EQ(p->outer.ipv4_dst.ToString(), "10.0.1.9");
  EXPECT_EQ(p->outer.ttl, 17);
  EXPECT_EQ(p->outer.l4_src_port, 1234);
  EXPECT_EQ(p->outer.l4_dst_port, 53);
  EXPECT_EQ(p->outer.l4_offset, 34u);
  EXPECT_FALSE(p->vni.has_value());
}

TEST(ParsePacketTest, VlanTcpAndIcmp) {
  const auto tcp = FrameBuilder()
                       .Eth(kGwMac, kVmMac, kEtherTypeVlan)
                       .Vlan(100, kEtherTypeIpv4)
                       .Ipv4("10.0.0.1", "10.0.0.2", kIpProtoTcp)
                       .Tcp(40000, 80)
                       .Finish();
  auto p = ParsePacket(tcp.data(), tcp.size());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->outer.vlan_id, 100);
  EXPECT_EQ(p->outer.ether_type, kEtherTypeIpv4);
  EXPECT_EQ(p->outer.l4_dst_port, 80);

  const auto icmp = FrameBuilder()
                        .Eth(kGwMac, kVmMac, kEtherTypeIpv4)
                        .Ipv4("10.0.0.1", "10.0.0.2", kIpProtoIcmp)
                        .Icmp(8, 0)
                        .Finish();
  p = ParsePacket(icmp.data(), icmp.size());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->outer.icmp_type, 8);
  EXPECT_EQ(p->outer.icmp_code, 0);
  EXPECT_FALSE(p->outer.l4_src_port.has_value());
}

TEST(ParsePacketTest, Arp) {
  const auto frame = FrameBuilder()
                         .Eth("ff:ff:ff:ff:ff:ff", kVmMac, kEtherTypeArp)
                         .Arp(1, kVmMac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.254")
                         .Finish();
  auto p = ParsePacket(frame.data(), frame.size());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(p->outer.arp.has_value());
  EXPECT_EQ(p->outer.arp->op, 1);
  EXPECT_EQ(p->outer.arp->sender_mac.ToString(), kVmMac);
  EXPECT_EQ(p->outer.arp->sender_ip.ToString(), "10.0.0.1");
  EXPECT_EQ(p->outer.arp->target_ip.ToString(), "10.0.0.254");
}

TEST(BuildArpReplyTest, AnswersTheRequesterWithTheGivenMac) {
  const auto request = FrameBuilder()
                           .Eth("ff:ff:ff:ff:ff:ff", kVmMac, kEtherTypeArp)
                           .Arp(1, kVmMac, "10.0.0.1", "00:00:00:00:00:00", "10.0.0.254")
                           .Finish();
  auto parsed = ParsePacket(request.data(), request.size());
  ASSERT_TRUE(parsed.ok());
  const auto gw = *flowrules::MacAddress::Parse(kGwMac);
  const auto reply = BuildArpReply(*parsed->outer.arp, gw);
  const auto expected = FrameBuilder()
                            .Eth(kVmMac, kGwMac, kEtherTypeArp)
                            .Arp(2, kGwMac, "10.0.0.254", kVmMac, "10.0.0.1")
                            .Finish();
  EXPECT_EQ(reply, expected);
}

TEST(ParsePacketTest, VxlanInnerLayer) {
  const auto frame = FrameBuilder()
                         .Eth("02:aa:00:00:00:01", "02:bb:00:00:00:01", kEtherTypeIpv4)
                         .Ipv4("192.168.0.2", "192.168.0.1", kIpProtoUdp)
                         .Udp(50000, 4789)
                         .Vxlan(0x123456)
                         .Eth(kVmMac, "02:00:00:00:00:02", kEtherTypeIpv4)
                         .Ipv4("10.0.0.2", "10.0.0.1", kIpProtoUdp)
                         .Udp(53, 1234)
                         .Payload(100)
                         .Finish();
  auto p = ParsePacket(frame.data(), frame.size());
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->vni, 0x123456u);
  EXPECT_EQ(p->inner_offset, 50u);
  EXPECT_EQ(p->inner.eth_dst.ToString(), kVmMac);
  EXPECT_EQ(p->inner.ipv4_src.ToString(), "10.0.0.2");
  EXPECT_EQ(p->inner.l4_dst_port, 1234);
  // Another UDP port is not VXLAN.
  auto other = ParsePacket(frame.data(), frame.size(), 8472);
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->vni.has_value());
}

struct MalformedCase {
  const char* name;
  std::vector<uint8_t> frame;
  const char* error;
};

std::vector<uint8_t> Cut(std::vector<uint8_t> frame, size_t keep) {
  frame.resize(keep);
  return frame;
}
std::vector<uint8_t> Poke(std::vector<uint8_t> frame, size_t at, uint8_t value) {
  frame.at(at) = value;
  return frame;
}

TEST(ParsePacketTest, MalformedPacketsAreRefusedWithTheHeaderNamed) {
  const auto udp = FrameBuilder()
                       .Eth(kGwMac, kVmMac, kEtherTypeIpv4)
                       .Ipv4("10.0.0.1", "10.0.0.2", kIpProtoUdp)
                       .Udp(1, 2)
                       .Payload(20)
                       .Finish();
  const auto vxlan = FrameBuilder()
                         .Eth(kGwMac, kVmMac, kEtherTypeIpv4)
                         .Ipv4("192.168.0.2", "192.168.0.1", kIpProtoUdp)
                         .Udp(50000, 4789)
                         .Vxlan(7)
                         .Eth(kVmMac, kGwMac, kEtherTypeIpv4)
                         .Ipv4("10.0.0.2", "10.0.0.1", kIpProtoUdp)
                         .Udp(53, 1234)
                         .Finish();
  const std::vector<MalformedCase> cases = {
      {"empty", {}, "ethernet: truncated"},
      {"short ethernet", Cut(udp, 10), "ethernet: truncated"},
      {"short ipv4", Cut(udp, 20), "ipv4: truncated"},
      {"ipv4 version", Poke(udp, 14, 0x65), "ipv4: version 6 is not 4"},
      {"ipv4 ihl", Poke(udp, 14, 0x44), "ipv4: header length 16 < 20"},
      {"ipv4 total length beyond frame", Poke(udp, 16, 0x10), "exceeds the"},
      {"udp length", Poke(udp, 38, 0x40), "udp: length"},
      {"vxlan without I flag", Poke(vxlan, 42, 0x00), "vxlan: I flag"},
      {"inner truncated", Poke(Poke(vxlan, 16, 0), 17, 60), "udp"},
  };
  for (const auto& c : cases) {
    auto p = ParsePacket(c.frame.data(), c.frame.size());
    ASSERT_FALSE(p.ok()) << c.name;
    EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument) << c.name;
    EXPECT_THAT(std::string(p.status().message()), HasSubstr(c.error)) << c.name;
  }
}

TEST(ParsePacketTest, EveryTruncationOfAValidFrameIsHandled) {
  const auto frame = FrameBuilder()
                         .Eth(kGwMac, kVmMac, kEtherTypeIpv4)
                         .Ipv4("192.168.0.2", "192.168.0.1", kIpProtoUdp)
                         .Udp(50000, 4789)
                         .Vxlan(7)
                         .Eth(kVmMac, kGwMac, kEtherTypeIpv4)
                         .Ipv4("10.0.0.2", "10.0.0.1", kIpProtoTcp)
                         .Tcp(53, 1234)
                         .Finish();
  for (size_t keep = 0; keep < frame.size(); ++keep) {
    // A heap copy of exactly `keep` bytes, so ASan catches any read past the end.
    std::vector<uint8_t> cut(frame.begin(), frame.begin() + keep);
    auto p = ParsePacket(cut.data(), cut.size());
    EXPECT_FALSE(p.ok()) << "a frame cut to " << keep << " bytes parsed";
  }
  EXPECT_TRUE(ParsePacket(frame.data(), frame.size()).ok());
}

TEST(VxlanSourcePortTest, InEphemeralRangeStableAndSpread) {
  std::set<uint16_t> ports;
  for (uint16_t sport = 1000; sport < 1100; ++sport) {
    HeaderLayer inner;
    inner.ipv4_src = flowrules::Ipv4Address{0x0a000001};
    inner.ipv4_dst = flowrules::Ipv4Address{0x0a000002};
    inner.ip_protocol = kIpProtoUdp;
    inner.l4_src_port = sport;
    inner.l4_dst_port = 53;
    const uint16_t port = VxlanSourcePort(inner);
    EXPECT_GE(port, 49152);
    EXPECT_EQ(port, VxlanSourcePort(inner));
    ports.insert(port);
  }
  EXPECT_GT(ports.size(), 90u);  // 100 flows spread over 16384 ports
}

}  // namespace
}  // namespace nicswitch::slowpath
