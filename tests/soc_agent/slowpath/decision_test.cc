#include "soc_agent/slowpath/decision.h"

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "tests/soc_agent/slowpath/packet_builder.h"

namespace nicswitch::slowpath {
namespace {

using flowrules::Action;
using flows::Dependency;
using test::FrameBuilder;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr uint16_t kUplinkRep = 10;
constexpr uint16_t kVf0Rep = 11;  // vnic a
constexpr uint16_t kVf1Rep = 12;  // vnic b
constexpr uint16_t kVf2Rep = 13;  // vnic r (another VPC)
constexpr uint16_t kVf3Rep = 14;  // no vNIC
constexpr char kGw[] = "02:00:00:00:00:01";
constexpr char kMacA[] = "02:00:00:00:00:0a";
constexpr char kMacB[] = "02:00:00:00:00:0b";

// The policy every case runs against.
constexpr char kPolicy[] = R"pb(
  underlay {
    vtep_ip: "192.168.0.1"
    uplink_mac: "02:aa:00:00:00:01"
    next_hop_mac: "02:bb:00:00:00:01"
  }
  security_groups {
    name: "web"
    rules { direction: INGRESS protocol: TCP port_min: 80 port_max: 80 action: ALLOW }
    rules { direction: INGRESS protocol: ICMP action: ALLOW }
    rules {
      direction: INGRESS
      protocol: UDP
      port_min: 53
      port_max: 53
      remote_cidr: "10.0.0.0/24"
      action: DENY
    }
    rules { direction: INGRESS protocol: UDP port_min: 53 port_max: 53 action: ALLOW }
    rules { direction: EGRESS protocol: TCP port_min: 25 port_max: 25 action: DENY }
  }
  security_groups {
    name: "open"
    rules { direction: INGRESS action: ALLOW }
  }
  vpcs { name: "blue" vni: 100 cidrs: "10.0.0.0/16" }
  vpcs { name: "red" vni: 200 cidrs: "10.0.0.0/16" }
  vnics {
    name: "a"
    vpc: "blue"
    vf_index: 0
    mac: "02:00:00:00:00:0a"
    ipv4: "10.0.0.10"
    security_groups: "web"
  }
  vnics {
    name: "b"
    vpc: "blue"
    vf_index: 1
    mac: "02:00:00:00:00:0b"
    ipv4: "10.0.0.11"
    security_groups: "web"
    qos { rate_bps: 100000000 burst_bytes: 100000 }
  }
  vnics {
    name: "r"
    vpc: "red"
    vf_index: 2
    mac: "02:00:00:00:00:0c"
    ipv4: "10.0.0.10"
    security_groups: "open"
  }
  mappings {
    name: "far"
    vpc: "blue"
    overlay_ip: "10.0.5.5"
    remote_vtep_ip: "192.168.0.2"
    remote_mac: "02:00:00:00:05:05"
  }
  routes { name: "wan" vpc: "blue" prefix: "8.8.0.0/16" next_hop: "10.0.5.5" }
  routes { name: "wan-narrow" vpc: "blue" prefix: "8.8.8.0/24" next_hop: "10.0.0.11" }
  routes { name: "loop" vpc: "blue" prefix: "9.9.9.0/24" next_hop: "10.0.7.7" }
)pb";

class DecisionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::PolicyDocument doc;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kPolicy, &doc));
    std::vector<v1::Entity> entities;
    v1::Entity e;
    *e.mutable_underlay() = doc.underlay();
    entities.push_back(e);
    for (const auto& sg : doc.security_groups())
      *entities.emplace_back().mutable_security_group() = sg;
    for (const auto& vpc : doc.vpcs()) *entities.emplace_back().mutable_vpc() = vpc;
    for (const auto& vnic : doc.vnics()) *entities.emplace_back().mutable_vnic() = vnic;
    for (const auto& m : doc.mappings()) *entities.emplace_back().mutable_mapping() = m;
    for (const auto& r : doc.routes()) *entities.emplace_back().mutable_route() = r;
    for (const auto& entity : entities) {
      v1::Update update;
      update.set_type(v1::Update::INSERT);
      *update.mutable_entity() = entity;
      std::vector<policy::PolicyChange> changes;
      policy::UndoLog undo;
      const absl::Status status = model_.Apply(update, &changes, &undo);
      ASSERT_TRUE(status.ok()) << status << " for " << entity.ShortDebugString();
    }
    model_.set_revision(42);
  }

  Decision Decide(uint16_t port, const std::vector<uint8_t>& frame) {
    auto parsed = ParsePacket(frame.data(), frame.size());
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    last_packet_ = *parsed;
    return engine_.Decide(port, *parsed);
  }

  static std::vector<uint8_t> FromA(const std::string& dst, uint8_t proto, uint16_t dport,
                                    uint8_t ttl = 64, const std::string& src = "10.0.0.10",
                                    const std::string& src_mac = kMacA) {
    FrameBuilder b;
    b.Eth(kGw, src_mac, kEtherTypeIpv4).Ipv4(src, dst, proto, ttl);
    if (proto == kIpProtoTcp) b.Tcp(40000, dport);
    if (proto == kIpProtoUdp) b.Udp(40000, dport);
    if (proto == kIpProtoIcmp) b.Icmp(8, 0);
    return b.Payload(10).Finish();
  }

  static std::vector<uint8_t> FromUplink(uint32_t vni, const std::string& outer_src,
                                         const std::string& inner_src, const std::string& inner_dst,
                                         uint16_t dport,
                                         const std::string& outer_dst = "192.168.0.1") {
    return FrameBuilder()
        .Eth("02:aa:00:00:00:01", "02:bb:00:00:00:01", kEtherTypeIpv4)
        .Ipv4(outer_src, outer_dst, kIpProtoUdp)
        .Udp(51000, 4789)
        .Vxlan(vni)
        .Eth(kGw, "02:00:00:00:05:05", kEtherTypeIpv4)
        .Ipv4(inner_src, inner_dst, kIpProtoTcp)
        .Tcp(33000, dport)
        .Payload(10)
        .Finish();
  }

  static flowrules::MacAddress Mac(const char* text) { return *flowrules::MacAddress::Parse(text); }

  policy::PolicyModel model_;
  DecisionOptions options_{.gateway_mac = Mac(kGw)};
  DecisionEngine engine_{model_, SwitchPorts{kUplinkRep, {kVf0Rep, kVf1Rep, kVf2Rep, kVf3Rep}},
                         options_};
  ParsedPacket last_packet_;
};

TEST_F(DecisionTest, DropsWithTheRightReason) {
  struct Case {
    const char* name;
    uint16_t port;
    std::vector<uint8_t> frame;
    DropReason reason;
    const char* detail;
  };
  const std::vector<Case> cases = {
      {"sg deny rule before allow", kVf0Rep, FromA("10.0.0.11", kIpProtoUdp, 53),
       DropReason::kIngressDenied, "\"b\" ingress from 10.0.0.10"},
      {"sg default deny ingress", kVf0Rep, FromA("10.0.0.11", kIpProtoTcp, 22),
       DropReason::kIngressDenied, "\"b\""},
      {"sg egress deny", kVf0Rep, FromA("10.0.5.5", kIpProtoTcp, 25), DropReason::kEgressDenied,
       "\"a\" egress"},
      {"spoofed ip", kVf0Rep, FromA("10.0.0.11", kIpProtoTcp, 80, 64, "10.0.0.99"),
       DropReason::kSpoofedSource, "10.0.0.99"},
      {"spoofed mac", kVf0Rep, FromA("10.0.0.11", kIpProtoTcp, 80, 64, "10.0.0.10", kMacB),
       DropReason::kSpoofedSource, kMacB},
      {"unknown destination", kVf0Rep, FromA("10.0.9.9", kIpProtoTcp, 80),
       DropReason::kNoDestination, "10.0.9.9"},
      {"route next hop unresolvable", kVf0Rep, FromA("9.9.9.9", kIpProtoTcp, 80),
       DropReason::kRouteLoop, "\"loop\""},
      {"routed ttl expires", kVf0Rep, FromA("8.8.4.4", kIpProtoTcp, 80, 1), DropReason::kTtlExpired,
       "\"wan\""},
      {"vf without vnic", kVf3Rep, FromA("10.0.0.11", kIpProtoTcp, 80), DropReason::kNoVnic,
       "VF 3"},
      {"unknown port", 99, FromA("10.0.0.11", kIpProtoTcp, 80), DropReason::kUnknownPort, "99"},
      {"broadcast", kVf0Rep,
       FrameBuilder()
           .Eth("ff:ff:ff:ff:ff:ff", kMacA, kEtherTypeIpv4)
           .Ipv4("10.0.0.10", "10.0.255.255", kIpProtoUdp)
           .Udp(68, 67)
           .Finish(),
       DropReason::kBroadcast, "ff:ff:ff:ff:ff:ff"},
      {"arp reply from guest", kVf0Rep,
       FrameBuilder()
           .Eth(kGw, kMacA, kEtherTypeArp)
           .Arp(2, kMacA, "10.0.0.10", kGw, "10.0.0.1")
           .Finish(),
       DropReason::kArpNotRequest, "op 2"},
      {"arp spoofed sender", kVf0Rep,
       FrameBuilder()
           .Eth("ff:ff:ff:ff:ff:ff", kMacA, kEtherTypeArp)
           .Arp(1, kMacA, "10.0.0.99", "00:00:00:00:00:00", "10.0.0.11")
           .Finish(),
       DropReason::kSpoofedSource, "10.0.0.99"},
      {"uplink unknown vni", kUplinkRep,
       FromUplink(999, "192.168.0.2", "10.0.5.5", "10.0.0.10", 80), DropReason::kUnknownVni, "999"},
      {"uplink spoofed remote", kUplinkRep,
       FromUplink(100, "192.168.0.9", "10.0.5.5", "10.0.0.10", 80), DropReason::kUnknownRemote,
       "192.168.0.9"},
      {"uplink not our vtep", kUplinkRep,
       FromUplink(100, "192.168.0.2", "10.0.5.5", "10.0.0.10", 80, "192.168.0.7"),
       DropReason::kNotOurTunnel, "192.168.0.1"},
      {"uplink plain packet", kUplinkRep, FromA("10.0.0.11", kIpProtoTcp, 80),
       DropReason::kNotOurTunnel, ""},
      {"uplink ingress denied", kUplinkRep,
       FromUplink(100, "192.168.0.2", "10.0.5.5", "10.0.0.10", 22), DropReason::kIngressDenied,
       "\"a\""},
      {"uplink no local vnic", kUplinkRep,
       FromUplink(100, "192.168.0.2", "10.0.5.5", "10.0.0.77", 80), DropReason::kNoDestination,
       "10.0.0.77"},
  };
  for (const auto& c : cases) {
    const Decision d = Decide(c.port, c.frame);
    EXPECT_EQ(d.verdict, Decision::Verdict::kDrop) << c.name;
    EXPECT_EQ(DropReasonName(d.drop_reason), std::string(DropReasonName(c.reason))) << c.name;
    EXPECT_THAT(d.detail, HasSubstr(c.detail)) << c.name;
  }
}

TEST_F(DecisionTest, ArpRequestIsAnsweredWithTheGatewayMac) {
  const auto request = FrameBuilder()
                           .Eth("ff:ff:ff:ff:ff:ff", kMacA, kEtherTypeArp)
                           .Arp(1, kMacA, "10.0.0.10", "00:00:00:00:00:00", "10.0.0.11")
                           .Finish();
  const Decision d = Decide(kVf0Rep, request);
  ASSERT_EQ(d.verdict, Decision::Verdict::kArpReply) << d.detail;
  EXPECT_EQ(d.reply_port, kVf0Rep);
  const auto expected = FrameBuilder()
                            .Eth(kMacA, kGw, kEtherTypeArp)
                            .Arp(2, kGw, "10.0.0.11", kMacA, "10.0.0.10")
                            .Finish();
  EXPECT_EQ(d.arp_reply, expected);
}

TEST_F(DecisionTest, LocalVnicInTheSameVpcIsSwitchedWithAStatefulReverseRule) {
  const Decision d = Decide(kVf0Rep, FromA("10.0.0.11", kIpProtoTcp, 80));
  ASSERT_EQ(d.verdict, Decision::Verdict::kForward) << d.detail;
  const flowrules::Rule& fwd = d.flow.forward.rule;
  EXPECT_EQ(fwd.match.represented_port, kVf0Rep);
  EXPECT_EQ(fwd.match.outer.eth_src, Mac(kMacA));
  EXPECT_EQ(fwd.match.outer.ipv4_dst->address.ToString(), "10.0.0.11");
  EXPECT_EQ(fwd.match.outer.l4_dst_port, 80);
  // a has no QoS; b's ingress meter applies on the way in.
  EXPECT_THAT(fwd.actions, ElementsAre(Action(flowrules::MeterAction{IngressMeterId(options_, 1)}),
                                       Action(flowrules::SetMacSrcAction{Mac(kGw)}),
                                       Action(flowrules::SetMacDstAction{Mac(kMacB)}),
                                       Action(flowrules::RepresentedPortAction{kVf1Rep})));
  EXPECT_EQ(d.flow.forward.vnic, "a");
  // Return traffic from b is allowed by the pair, whatever b's egress rules say.
  ASSERT_TRUE(d.flow.reverse.has_value());
  const flowrules::Rule& rev = d.flow.reverse->rule;
  EXPECT_EQ(rev.match.represented_port, kVf1Rep);
  EXPECT_EQ(rev.match.outer.eth_src, Mac(kMacB));
  EXPECT_EQ(rev.match.outer.ipv4_src->address.ToString(), "10.0.0.11");
  EXPECT_EQ(rev.match.outer.l4_src_port, 80);
  EXPECT_EQ(rev.match.outer.l4_dst_port, 40000);
  EXPECT_THAT(rev.actions, ElementsAre(Action(flowrules::MeterAction{EgressMeterId(options_, 1)}),
                                       Action(flowrules::SetMacSrcAction{Mac(kGw)}),
                                       Action(flowrules::SetMacDstAction{Mac(kMacA)}),
                                       Action(flowrules::RepresentedPortAction{kVf0Rep})));
  EXPECT_EQ(d.flow.reverse->vnic, "b");
  EXPECT_THAT(d.flow.dependencies, Contains(Dependency{Dependency::Kind::kSecurityGroup, "web"}));
  EXPECT_THAT(d.flow.dependencies, Contains(Dependency{Dependency::Kind::kVnic, "b"}));
  EXPECT_EQ(d.flow.revision, 42u);
  // The software-flow lookup key is the forward rule's match.
  EXPECT_EQ(engine_.FlowMatch(kVf0Rep, last_packet_), fwd.match);
  EXPECT_TRUE(flowrules::Validate(fwd).ok()) << flowrules::Validate(fwd);
  EXPECT_TRUE(flowrules::Validate(rev).ok()) << flowrules::Validate(rev);
}

TEST_F(DecisionTest, RemoteMappingIsEncapsulatedFromUnderlayAndMapping) {
  const Decision d = Decide(kVf0Rep, FromA("10.0.5.5", kIpProtoTcp, 443));
  ASSERT_EQ(d.verdict, Decision::Verdict::kForward) << d.detail;
  const flowrules::Rule& fwd = d.flow.forward.rule;
  flowrules::VxlanEncapAction encap;
  encap.eth_src = Mac("02:aa:00:00:00:01");
  encap.eth_dst = Mac("02:bb:00:00:00:01");
  encap.ip = std::make_pair(*flowrules::Ipv4Address::Parse("192.168.0.1"),
                            *flowrules::Ipv4Address::Parse("192.168.0.2"));
  encap.udp_src = VxlanSourcePort(last_packet_.outer);
  encap.udp_dst = 4789;
  encap.vni = 100;
  EXPECT_GE(encap.udp_src, 49152);
  EXPECT_THAT(fwd.actions,
              ElementsAre(Action(flowrules::SetMacSrcAction{Mac(kGw)}),
                          Action(flowrules::SetMacDstAction{Mac("02:00:00:00:05:05")}),
                          Action(encap), Action(flowrules::RepresentedPortAction{kUplinkRep})));
  // The reply comes back VXLAN from the mapping's VTEP and is decapsulated to a.
  const flowrules::Rule& rev = d.flow.reverse->rule;
  EXPECT_EQ(rev.match.represented_port, kUplinkRep);
  EXPECT_EQ(rev.match.outer.ipv4_src->address.ToString(), "192.168.0.2");
  EXPECT_EQ(rev.match.outer.ipv4_dst->address.ToString(), "192.168.0.1");
  EXPECT_EQ(rev.match.vxlan->vni, 100u);
  EXPECT_EQ(rev.match.inner.ipv4_src->address.ToString(), "10.0.5.5");
  EXPECT_EQ(rev.match.inner.l4_src_port, 443);
  EXPECT_THAT(rev.actions, ElementsAre(Action(flowrules::VxlanDecapAction{}),
                                       Action(flowrules::SetMacSrcAction{Mac(kGw)}),
                                       Action(flowrules::SetMacDstAction{Mac(kMacA)}),
                                       Action(flowrules::RepresentedPortAction{kVf0Rep})));
  EXPECT_THAT(d.flow.dependencies, Contains(Dependency{Dependency::Kind::kMapping, "far"}));
  EXPECT_TRUE(flowrules::Validate(fwd).ok()) << flowrules::Validate(fwd);
  EXPECT_TRUE(flowrules::Validate(rev).ok()) << flowrules::Validate(rev);

  // The reply itself, arriving first on the uplink, would match the reverse rule exactly.
  auto reply = FrameBuilder()
                   .Eth("02:aa:00:00:00:01", "02:bb:00:00:00:01", kEtherTypeIpv4)
                   .Ipv4("192.168.0.2", "192.168.0.1", kIpProtoUdp)
                   .Udp(50001, 4789)
                   .Vxlan(100)
                   .Eth(kGw, "02:00:00:00:05:05", kEtherTypeIpv4)
                   .Ipv4("10.0.5.5", "10.0.0.10", kIpProtoTcp)
                   .Tcp(443, 40000)
                   .Finish();
  auto parsed = ParsePacket(reply.data(), reply.size());
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(engine_.FlowMatch(kUplinkRep, *parsed), rev.match);
}

TEST_F(DecisionTest, RoutesUseLongestPrefixMatchAndDecrementTtl) {
  // 8.8.8.8 matches both routes: the /24 to local vNIC b wins over the /16 to the mapping.
  Decision d = Decide(kVf0Rep, FromA("8.8.8.8", kIpProtoTcp, 80));
  ASSERT_EQ(d.verdict, Decision::Verdict::kForward) << d.detail;
  EXPECT_THAT(d.flow.forward.rule.actions, Contains(Action(flowrules::DecTtlAction{})));
  EXPECT_THAT(d.flow.forward.rule.actions,
              Contains(Action(flowrules::RepresentedPortAction{kVf1Rep})));
  EXPECT_THAT(d.flow.dependencies, Contains(Dependency{Dependency::Kind::kRoute, "wan-narrow"}));

  d = Decide(kVf0Rep, FromA("8.8.4.4", kIpProtoTcp, 80));
  ASSERT_EQ(d.verdict, Decision::Verdict::kForward) << d.detail;
  EXPECT_THAT(d.flow.forward.rule.actions, Contains(Action(flowrules::DecTtlAction{})));
  EXPECT_THAT(d.flow.forward.rule.actions,
              Contains(Action(flowrules::RepresentedPortAction{kUplinkRep})));
  EXPECT_THAT(d.flow.dependencies, Contains(Dependency{Dependency::Kind::kRoute, "wan"}));
  EXPECT_THAT(d.flow.dependencies,
              Not(Contains(Dependency{Dependency::Kind::kRoute, "wan-narrow"})));
}

TEST_F(DecisionTest, VpcsAreIsolatedEvenWithOverlappingAddresses) {
  // r (red, 10.0.0.10) sending to 10.0.0.11 finds nothing in red: b is blue.
  const auto frame = FrameBuilder()
                         .Eth(kGw, "02:00:00:00:00:0c", kEtherTypeIpv4)
                         .Ipv4("10.0.0.10", "10.0.0.11", kIpProtoTcp)
                         .Tcp(1000, 80)
                         .Finish();
  const Decision d = Decide(kVf2Rep, frame);
  EXPECT_EQ(d.verdict, Decision::Verdict::kDrop);
  EXPECT_EQ(d.drop_reason, DropReason::kNoDestination);
}

TEST_F(DecisionTest, UplinkVxlanIsDecapsulatedToTheVnicWithAnEncapReverse) {
  const Decision d =
      Decide(kUplinkRep, FromUplink(100, "192.168.0.2", "10.0.5.5", "10.0.0.10", 80));
  ASSERT_EQ(d.verdict, Decision::Verdict::kForward) << d.detail;
  const flowrules::Rule& fwd = d.flow.forward.rule;
  EXPECT_EQ(fwd.match.vxlan->vni, 100u);
  EXPECT_THAT(fwd.actions, ElementsAre(Action(flowrules::VxlanDecapAction{}),
                                       Action(flowrules::SetMacSrcAction{Mac(kGw)}),
                                       Action(flowrules::SetMacDstAction{Mac(kMacA)}),
                                       Action(flowrules::RepresentedPortAction{kVf0Rep})));
  const flowrules::Rule& rev = d.flow.reverse->rule;
  EXPECT_EQ(rev.match.represented_port, kVf0Rep);
  EXPECT_EQ(rev.match.outer.ipv4_dst->address.ToString(), "10.0.5.5");
  EXPECT_EQ(rev.match.outer.l4_src_port, 80);
  const auto* encap = std::get_if<flowrules::VxlanEncapAction>(&rev.actions.at(2));
  ASSERT_NE(encap, nullptr);
  EXPECT_EQ(std::get<0>(encap->ip).second.ToString(), "192.168.0.2");
  EXPECT_EQ(encap->vni, 100u);
  EXPECT_EQ(engine_.FlowMatch(kUplinkRep, last_packet_), fwd.match);
  EXPECT_TRUE(flowrules::Validate(fwd).ok()) << flowrules::Validate(fwd);
  EXPECT_TRUE(flowrules::Validate(rev).ok()) << flowrules::Validate(rev);
}

}  // namespace
}  // namespace nicswitch::slowpath
