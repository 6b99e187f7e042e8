// The rule shapes the capability probe validates: every sample is a valid rule, and the rules
// the agent really installs (DecisionEngine's decisions through the FlowManager) classify to
// the shape whose sample has the same rte_flow items and actions.

#include "soc_agent/device/rule_shape.h"

#include <rte_flow.h>

#include <set>
#include <string>
#include <vector>

#include "flowrules/rte_flow.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "soc_agent/device/flow_device_mock.h"
#include "soc_agent/flows/flow_manager.h"
#include "soc_agent/slowpath/decision.h"
#include "tests/soc_agent/slowpath/packet_builder.h"

namespace nicswitch::device {
namespace {

using slowpath::Decision;
using slowpath::test::FrameBuilder;
using ::testing::_;
using ::testing::Invoke;
using ::testing::StrictMock;

constexpr uint16_t kUplink = 10;
constexpr uint16_t kVfA = 11;  // vnic a, no rate
constexpr uint16_t kVfB = 12;  // vnic b, no rate
constexpr uint16_t kVfM = 13;  // vnic m, with a rate (metered)
constexpr char kGw[] = "02:00:00:00:00:01";

constexpr char kPolicy[] = R"pb(
  underlay {
    vtep_ip: "192.168.0.1"
    uplink_mac: "02:aa:00:00:00:01"
    next_hop_mac: "02:bb:00:00:00:01"
  }
  security_groups {
    name: "open"
    rules { direction: INGRESS action: ALLOW }
  }
  vpcs { name: "blue" vni: 100 cidrs: "10.0.0.0/16" }
  vnics {
    name: "a"
    vpc: "blue"
    vf_index: 0
    mac: "02:00:00:00:00:0a"
    ipv4: "10.0.0.10"
    security_groups: "open"
  }
  vnics {
    name: "b"
    vpc: "blue"
    vf_index: 1
    mac: "02:00:00:00:00:0b"
    ipv4: "10.0.0.11"
    security_groups: "open"
  }
  vnics {
    name: "m"
    vpc: "blue"
    vf_index: 2
    mac: "02:00:00:00:00:0c"
    ipv4: "10.0.0.12"
    security_groups: "open"
    qos { rate_bps: 100000000 burst_bytes: 100000 }
  }
  mappings {
    name: "far"
    vpc: "blue"
    overlay_ip: "10.0.5.5"
    remote_vtep_ip: "192.168.0.2"
    remote_mac: "02:00:00:00:05:05"
  }
  routes { name: "wan" vpc: "blue" prefix: "8.8.0.0/16" next_hop: "10.0.5.5" }
  routes { name: "lan" vpc: "blue" prefix: "8.8.8.0/24" next_hop: "10.0.0.11" }
)pb";

std::vector<int> ItemTypes(const rte_flow_item* p) {
  std::vector<int> out;
  for (int i = 0; p[i].type != RTE_FLOW_ITEM_TYPE_END; ++i) {
    out.push_back(p[i].type);
  }
  return out;
}

std::vector<int> ActionTypes(const rte_flow_action* a) {
  std::vector<int> out;
  for (int i = 0; a[i].type != RTE_FLOW_ACTION_TYPE_END; ++i) {
    out.push_back(a[i].type);
  }
  return out;
}

ShapeSampleOptions Samples() {
  ShapeSampleOptions o;
  o.uplink_port = kUplink;
  o.vf_ports = {kVfA, kVfB, kVfM};
  o.meter_id = 77;
  return o;
}

TEST(RuleShapeTest, EverySampleIsAValidRuleOfItsOwnShape) {
  std::set<std::string> names;
  ASSERT_EQ(AllRuleShapes().size(), static_cast<size_t>(kRuleShapeCount));
  for (RuleShape shape : AllRuleShapes()) {
    const flowrules::Rule sample = SampleRule(shape, Samples());
    SCOPED_TRACE(std::string(RuleShapeName(shape)) + ": " + sample.ToString());
    EXPECT_TRUE(flowrules::Validate(sample).ok()) << flowrules::Validate(sample);
    EXPECT_TRUE(flowrules::CompiledRule::Compile(sample).ok());
    EXPECT_EQ(ClassifyRule(sample), shape);
    EXPECT_TRUE(names.insert(std::string(RuleShapeName(shape))).second) << "names are unique";
  }
  EXPECT_TRUE(IsMandatory(RuleShape::kVfToVf));
  EXPECT_FALSE(IsMandatory(RuleShape::kUplinkToVfDecap));
  EXPECT_EQ(RuleShapeName(RuleShape::kVfToUplinkEncapRoutedMetered),
            "vf_to_uplink_encap_routed_metered");
}

TEST(RuleShapeTest, SamplesUseTheGivenPortsAndMeter) {
  const flowrules::Rule local = SampleRule(RuleShape::kVfToVfMetered, Samples());
  EXPECT_EQ(local.match.represented_port, kVfA);
  EXPECT_EQ(std::get<flowrules::RepresentedPortAction>(local.actions.back()).port_id, kVfB);
  EXPECT_EQ(std::get<flowrules::MeterAction>(local.actions[2]).meter_id, 77u);
  const flowrules::Rule decap = SampleRule(RuleShape::kUplinkToVfDecap, Samples());
  EXPECT_EQ(decap.match.represented_port, kUplink);
  EXPECT_EQ(std::get<flowrules::RepresentedPortAction>(decap.actions.back()).port_id, kVfA);
  const flowrules::Rule encap = SampleRule(RuleShape::kVfToUplinkEncap, Samples());
  EXPECT_EQ(std::get<flowrules::RepresentedPortAction>(encap.actions.back()).port_id, kUplink);
  // One VF: the VF-to-VF samples loop back to it.
  ShapeSampleOptions one = Samples();
  one.vf_ports = {kVfA};
  const flowrules::Rule loop = SampleRule(RuleShape::kVfToVf, one);
  EXPECT_EQ(std::get<flowrules::RepresentedPortAction>(loop.actions.back()).port_id, kVfA);
}

TEST(RuleShapeTest, RulesOfNoAgentShapeAreNotClassified) {
  flowrules::Rule rule = SampleRule(RuleShape::kVfToVf, Samples());
  rule.actions.erase(rule.actions.begin());  // no COUNT
  EXPECT_EQ(ClassifyRule(rule), std::nullopt);

  rule = SampleRule(RuleShape::kVfToVf, Samples());
  rule.actions.back() = flowrules::JumpAction{1};
  EXPECT_EQ(ClassifyRule(rule), std::nullopt);

  rule = SampleRule(RuleShape::kVfToVf, Samples());
  rule.actions = {flowrules::CountAction{}, flowrules::DropAction{}};
  EXPECT_EQ(ClassifyRule(rule), std::nullopt);

  rule = SampleRule(RuleShape::kVfToUplinkEncap, Samples());
  for (flowrules::Action& a : rule.actions) {
    if (auto* encap = std::get_if<flowrules::VxlanEncapAction>(&a)) {
      encap->ip = std::make_pair(flowrules::Ipv6Address{}, flowrules::Ipv6Address{});
    }
  }
  EXPECT_EQ(ClassifyRule(rule), std::nullopt) << "IPv6 outer headers are not an agent shape";

  rule = SampleRule(RuleShape::kVfToVf, Samples());
  rule.direction = flowrules::Direction::kIngress;
  EXPECT_EQ(ClassifyRule(rule), std::nullopt);
}

// The real thing: the slow path's decisions, installed by the flow manager (which adds COUNT and
// AGE), as the device receives them.
class InstalledRuleShapeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    v1::PolicyDocument doc;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(kPolicy, &doc));
    std::vector<v1::Entity> entities;
    *entities.emplace_back().mutable_underlay() = doc.underlay();
    for (const auto& sg : doc.security_groups()) {
      *entities.emplace_back().mutable_security_group() = sg;
    }
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
      ASSERT_TRUE(model_.Apply(update, &changes, &undo).ok()) << entity.ShortDebugString();
    }
    EXPECT_CALL(device_, CreateRule(_)).WillRepeatedly(Invoke([this](const flowrules::Rule& r) {
      installed_.push_back(r);
      return RuleHandle{installed_.size()};
    }));
  }

  // The (forward, reverse) rules the device receives for the flow of this packet.
  std::pair<flowrules::Rule, flowrules::Rule> Install(uint16_t port,
                                                      const std::vector<uint8_t>& frame) {
    auto parsed = slowpath::ParsePacket(frame.data(), frame.size());
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    Decision d = engine_.Decide(port, *parsed);
    EXPECT_EQ(d.verdict, Decision::Verdict::kForward) << d.detail;
    installed_.clear();
    EXPECT_TRUE(manager_.Install(d.flow).ok());
    EXPECT_EQ(installed_.size(), 2u);
    if (installed_.size() != 2) {
      return {};
    }
    return {installed_[0], installed_[1]};
  }

  static std::vector<uint8_t> FromVf(const std::string& src_mac, const std::string& src,
                                     const std::string& dst) {
    return FrameBuilder()
        .Eth(kGw, src_mac, slowpath::kEtherTypeIpv4)
        .Ipv4(src, dst, slowpath::kIpProtoUdp)
        .Udp(40000, 7000)
        .Payload(10)
        .Finish();
  }
  static std::vector<uint8_t> FromUplink(const std::string& inner_dst) {
    return FrameBuilder()
        .Eth("02:aa:00:00:00:01", "02:bb:00:00:00:01", slowpath::kEtherTypeIpv4)
        .Ipv4("192.168.0.2", "192.168.0.1", slowpath::kIpProtoUdp)
        .Udp(51000, 4789)
        .Vxlan(100)
        .Eth(kGw, "02:00:00:00:05:05", slowpath::kEtherTypeIpv4)
        .Ipv4("10.0.5.5", inner_dst, slowpath::kIpProtoUdp)
        .Udp(33000, 7000)
        .Payload(10)
        .Finish();
  }

  // The rule is of `shape`, and its rte_flow arrays have the sample's items and actions.
  static void ExpectShape(const flowrules::Rule& rule, RuleShape shape) {
    SCOPED_TRACE(std::string(RuleShapeName(shape)) + " vs installed " + rule.ToString());
    EXPECT_EQ(ClassifyRule(rule), shape);
    auto real = flowrules::CompiledRule::Compile(rule);
    auto sample = flowrules::CompiledRule::Compile(SampleRule(shape, Samples()));
    ASSERT_TRUE(real.ok() && sample.ok());
    EXPECT_EQ(ItemTypes(real->pattern()), ItemTypes(sample->pattern()));
    EXPECT_EQ(ActionTypes(real->actions()), ActionTypes(sample->actions()));
    EXPECT_EQ(real->attr()->group, sample->attr()->group);
    EXPECT_EQ(real->attr()->priority, sample->attr()->priority);
  }

  policy::PolicyModel model_;
  slowpath::DecisionEngine engine_{
      model_, slowpath::SwitchPorts{kUplink, {kVfA, kVfB, kVfM}},
      slowpath::DecisionOptions{.gateway_mac = *flowrules::MacAddress::Parse(kGw)}};
  StrictMock<MockFlowDevice> device_;
  flows::FlowManager manager_{device_, flows::FlowManager::Options{.age_seconds = 30}};
  std::vector<flowrules::Rule> installed_;
};

TEST_F(InstalledRuleShapeTest, LocalFlowsAreVfToVf) {
  auto [fwd, rev] = Install(kVfA, FromVf("02:00:00:00:00:0a", "10.0.0.10", "10.0.0.11"));
  ExpectShape(fwd, RuleShape::kVfToVf);
  ExpectShape(rev, RuleShape::kVfToVf);
  std::tie(fwd, rev) = Install(kVfM, FromVf("02:00:00:00:00:0c", "10.0.0.12", "10.0.0.11"));
  ExpectShape(fwd, RuleShape::kVfToVfMetered);
  ExpectShape(rev, RuleShape::kVfToVfMetered);
  std::tie(fwd, rev) = Install(kVfA, FromVf("02:00:00:00:00:0a", "10.0.0.10", "8.8.8.8"));
  ExpectShape(fwd, RuleShape::kVfToVfRouted);
  ExpectShape(rev, RuleShape::kVfToVfRouted);
  std::tie(fwd, rev) = Install(kVfM, FromVf("02:00:00:00:00:0c", "10.0.0.12", "8.8.8.9"));
  ExpectShape(fwd, RuleShape::kVfToVfRoutedMetered);
  ExpectShape(rev, RuleShape::kVfToVfRoutedMetered);
}

TEST_F(InstalledRuleShapeTest, RemoteFlowsAreEncapOutAndDecapIn) {
  auto [fwd, rev] = Install(kVfA, FromVf("02:00:00:00:00:0a", "10.0.0.10", "10.0.5.5"));
  ExpectShape(fwd, RuleShape::kVfToUplinkEncap);
  ExpectShape(rev, RuleShape::kUplinkToVfDecap);
  std::tie(fwd, rev) = Install(kVfM, FromVf("02:00:00:00:00:0c", "10.0.0.12", "10.0.5.5"));
  ExpectShape(fwd, RuleShape::kVfToUplinkEncapMetered);
  ExpectShape(rev, RuleShape::kUplinkToVfDecapMetered);
  std::tie(fwd, rev) = Install(kVfA, FromVf("02:00:00:00:00:0a", "10.0.0.10", "8.8.4.4"));
  ExpectShape(fwd, RuleShape::kVfToUplinkEncapRouted);
  ExpectShape(rev, RuleShape::kUplinkToVfDecapRouted);
  std::tie(fwd, rev) = Install(kVfM, FromVf("02:00:00:00:00:0c", "10.0.0.12", "8.8.4.5"));
  ExpectShape(fwd, RuleShape::kVfToUplinkEncapRoutedMetered);
  ExpectShape(rev, RuleShape::kUplinkToVfDecapRoutedMetered);
}

TEST_F(InstalledRuleShapeTest, UplinkFlowsAreDecapInAndEncapOut) {
  auto [fwd, rev] = Install(kUplink, FromUplink("10.0.0.10"));
  ExpectShape(fwd, RuleShape::kUplinkToVfDecap);
  ExpectShape(rev, RuleShape::kVfToUplinkEncap);
  std::tie(fwd, rev) = Install(kUplink, FromUplink("10.0.0.12"));
  ExpectShape(fwd, RuleShape::kUplinkToVfDecapMetered);
  ExpectShape(rev, RuleShape::kVfToUplinkEncapMetered);
}

}  // namespace
}  // namespace nicswitch::device
