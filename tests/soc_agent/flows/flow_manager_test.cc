#include "soc_agent/flows/flow_manager.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "soc_agent/device/flow_device_mock.h"

namespace nicswitch::flows {
namespace {

using device::MockFlowDevice;
using device::RuleCounters;
using device::RuleHandle;
using ::testing::_;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::Return;
using ::testing::SizeIs;
using ::testing::StrictMock;

flowrules::Rule UdpRule(uint16_t in_port, uint32_t src, uint32_t dst, uint16_t out_port) {
  flowrules::Rule rule;
  rule.match.represented_port = in_port;
  rule.match.outer.ether_type = 0x0800;
  rule.match.outer.ipv4_src = flowrules::Ipv4Prefix{flowrules::Ipv4Address{src}, 32};
  rule.match.outer.ipv4_dst = flowrules::Ipv4Prefix{flowrules::Ipv4Address{dst}, 32};
  rule.match.outer.ip_protocol = 17;
  rule.actions = {flowrules::RepresentedPortAction{out_port}};
  return rule;
}

FlowSpec Pair(uint32_t a, uint32_t b, const std::string& sg = "web") {
  FlowSpec spec;
  spec.forward = {UdpRule(1, a, b, 2), "vm-a"};
  spec.reverse = DirectionSpec{UdpRule(2, b, a, 1), "vm-b"};
  spec.dependencies = {{Dependency::Kind::kVnic, "vm-a"},
                       {Dependency::Kind::kVnic, "vm-b"},
                       {Dependency::Kind::kSecurityGroup, sg}};
  spec.revision = 7;
  return spec;
}

// The rule the device must receive: COUNT, AGE, then the decision's actions.
auto Installed(const flowrules::Rule& decided, uint32_t age) {
  flowrules::Rule rule = decided;
  rule.actions.insert(rule.actions.begin(), {flowrules::CountAction{}, flowrules::AgeAction{age}});
  return rule;
}

class FlowManagerTest : public ::testing::Test {
 protected:
  StrictMock<MockFlowDevice> device_;
  FlowManager manager_{device_, FlowManager::Options{.age_seconds = 10, .counter_batch = 2}};
};

TEST_F(FlowManagerTest, InstallsBothDirectionsWithCountAndAge) {
  const FlowSpec spec = Pair(0x0a000001, 0x0a000002);
  {
    InSequence order;
    EXPECT_CALL(device_, CreateRule(Installed(spec.forward.rule, 10)))
        .WillOnce(Return(RuleHandle{100}));
    EXPECT_CALL(device_, CreateRule(Installed(spec.reverse->rule, 10)))
        .WillOnce(Return(RuleHandle{101}));
  }
  absl::StatusOr<FlowId> id = manager_.Install(spec);
  ASSERT_TRUE(id.ok()) << id.status();

  const auto forward = manager_.Lookup(spec.forward.rule.match);
  const auto reverse = manager_.Lookup(spec.reverse->rule.match);
  ASSERT_TRUE(forward.has_value() && reverse.has_value());
  EXPECT_EQ(forward->id, *id);
  EXPECT_EQ(forward->reverse_id, reverse->id);
  EXPECT_EQ(reverse->reverse_id, forward->id);
  EXPECT_FALSE(forward->in_software);
  EXPECT_EQ(forward->vnic, "vm-a");
  EXPECT_EQ(reverse->vnic, "vm-b");
  EXPECT_EQ(manager_.stats().flows, 2u);

  // A second exception of the same flow changes nothing in the device.
  EXPECT_EQ(*manager_.Install(spec), *id);

  EXPECT_CALL(device_, DestroyRule(RuleHandle{100})).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(device_, DestroyRule(RuleHandle{101})).WillOnce(Return(absl::OkStatus()));
  EXPECT_EQ(manager_.Flush(""), 2u);
  EXPECT_EQ(manager_.stats().flows, 0u);
}

TEST_F(FlowManagerTest, ARefusedDirectionIsForwardedInSoftwareAndVisible) {
  const FlowSpec spec = Pair(0x0a000001, 0x0a000002);
  EXPECT_CALL(device_, CreateRule(_))
      .WillOnce(Return(RuleHandle{100}))
      .WillOnce(Return(absl::ResourceExhaustedError("table full (1048576 rules)")));
  ASSERT_TRUE(manager_.Install(spec).ok());

  const auto reverse = manager_.Lookup(spec.reverse->rule.match);
  ASSERT_TRUE(reverse.has_value());
  EXPECT_TRUE(reverse->in_software);
  EXPECT_THAT(reverse->software_reason, HasSubstr("table full"));
  EXPECT_EQ(manager_.stats().software_flows, 1u);
  EXPECT_EQ(manager_.stats().refused, 1u);

  manager_.CountSoftwarePacket(reverse->id, 100);
  manager_.CountSoftwarePacket(reverse->id, 60);
  EXPECT_EQ(manager_.Lookup(spec.reverse->rule.match)->packets, 2u);
  EXPECT_EQ(manager_.Totals("vm-b").packets, 2u);
  EXPECT_EQ(manager_.Totals("vm-b").bytes, 160u);
  EXPECT_EQ(manager_.Totals("vm-b").software_packets, 2u);

  // Only the hardware direction is destroyed in the device.
  EXPECT_CALL(device_, DestroyRule(RuleHandle{100})).WillOnce(Return(absl::OkStatus()));
  EXPECT_EQ(manager_.Flush("vm-a"), 2u);
  EXPECT_EQ(manager_.Totals("vm-b").packets, 2u);  // per-vNIC totals survive the flow
}

TEST_F(FlowManagerTest, InvalidateRemovesExactlyTheDependentFlowsThenReportsTheRevision) {
  EXPECT_CALL(device_, CreateRule(_))
      .WillOnce(Return(RuleHandle{1}))
      .WillOnce(Return(RuleHandle{2}))
      .WillOnce(Return(RuleHandle{3}))
      .WillOnce(Return(RuleHandle{4}));
  ASSERT_TRUE(manager_.Install(Pair(0x0a000001, 0x0a000002, "web")).ok());
  ASSERT_TRUE(manager_.Install(Pair(0x0a000001, 0x0a000003, "db")).ok());

  EXPECT_CALL(device_, DestroyRule(RuleHandle{3})).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(device_, DestroyRule(RuleHandle{4})).WillOnce(Return(absl::OkStatus()));
  EXPECT_EQ(manager_.Invalidate({{Dependency::Kind::kSecurityGroup, "db"}}, 9), 2u);
  EXPECT_EQ(manager_.applied_revision(), 9u);
  EXPECT_THAT(manager_.List("", 0, 100),
              ElementsAre(Field(&FlowInfo::id, 1u), Field(&FlowInfo::id, 2u)));

  // A change nothing depends on removes nothing and is still applied.
  EXPECT_EQ(manager_.Invalidate({{Dependency::Kind::kMapping, "far"}}, 10), 0u);
  EXPECT_EQ(manager_.applied_revision(), 10u);

  EXPECT_CALL(device_, DestroyRule(_)).Times(2).WillRepeatedly(Return(absl::OkStatus()));
  EXPECT_EQ(manager_.Invalidate({{Dependency::Kind::kVnic, "vm-a"}}, 11), 2u);
  EXPECT_EQ(manager_.stats().invalidated, 4u);
}

TEST_F(FlowManagerTest, APairIsRemovedOnlyWhenBothDirectionsAged) {
  EXPECT_CALL(device_, CreateRule(_))
      .WillOnce(Return(RuleHandle{1}))
      .WillOnce(Return(RuleHandle{2}));
  ASSERT_TRUE(manager_.Install(Pair(0x0a000001, 0x0a000002)).ok());

  // Only the reverse aged: a one-way stream keeps the pair.
  EXPECT_CALL(device_, CollectAgedRules()).WillOnce(Return(std::vector<RuleHandle>{RuleHandle{2}}));
  EXPECT_EQ(*manager_.PollAging(), 0u);
  EXPECT_EQ(manager_.stats().flows, 2u);

  // Then the forward ages too: both go.
  EXPECT_CALL(device_, CollectAgedRules()).WillOnce(Return(std::vector<RuleHandle>{RuleHandle{1}}));
  EXPECT_CALL(device_, DestroyRule(RuleHandle{1})).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(device_, DestroyRule(RuleHandle{2})).WillOnce(Return(absl::OkStatus()));
  EXPECT_EQ(*manager_.PollAging(), 2u);
  EXPECT_EQ(manager_.stats().flows, 0u);
  EXPECT_EQ(manager_.stats().aged, 2u);
}

TEST_F(FlowManagerTest, ADirectionHitAgainAfterAgingIsNoLongerIdle) {
  EXPECT_CALL(device_, CreateRule(_))
      .WillOnce(Return(RuleHandle{1}))
      .WillOnce(Return(RuleHandle{2}));
  ASSERT_TRUE(manager_.Install(Pair(0x0a000001, 0x0a000002)).ok());
  EXPECT_CALL(device_, CollectAgedRules())
      .WillOnce(Return(std::vector<RuleHandle>{RuleHandle{2}}))
      .WillOnce(Return(std::vector<RuleHandle>{RuleHandle{1}}));
  EXPECT_EQ(*manager_.PollAging(), 0u);
  // The reverse carried traffic again before the forward aged.
  EXPECT_CALL(device_, QueryCounters(ElementsAre(_, _)))
      .WillOnce([](absl::Span<const RuleHandle> h) {
        std::vector<RuleCounters> c(2);
        for (size_t i = 0; i < 2; ++i) {
          c[i] = RuleCounters{true, h[i].value == 2 ? 5u : 0u, h[i].value == 2 ? 500u : 0u};
        }
        return c;
      });
  ASSERT_TRUE(manager_.PollCounters().ok());
  EXPECT_EQ(*manager_.PollAging(), 0u);
  EXPECT_EQ(manager_.stats().flows, 2u);
}

TEST_F(FlowManagerTest, CountersArePolledInBatchesAndAccumulatedPerVnic) {
  uint64_t next = 10;
  EXPECT_CALL(device_, CreateRule(_)).Times(6).WillRepeatedly([&next](const flowrules::Rule&) {
    return RuleHandle{next++};
  });
  for (uint32_t host = 2; host <= 4; ++host) {
    ASSERT_TRUE(manager_.Install(Pair(0x0a000001, 0x0a000000 + host)).ok());
  }
  // 6 handles in batches of 2; every rule saw 3 packets of 100 bytes.
  EXPECT_CALL(device_, QueryCounters(SizeIs(2)))
      .Times(3)
      .WillRepeatedly([](absl::Span<const RuleHandle> h) {
        return std::vector<RuleCounters>(h.size(), RuleCounters{true, 3, 300});
      });
  ASSERT_TRUE(manager_.PollCounters().ok());
  EXPECT_EQ(manager_.Totals("vm-a").packets, 9u);
  EXPECT_EQ(manager_.Totals("vm-b").bytes, 900u);

  EXPECT_CALL(device_, DestroyRule(_)).Times(6).WillRepeatedly(Return(absl::OkStatus()));
  EXPECT_EQ(manager_.Flush(""), 6u);
  EXPECT_EQ(manager_.Totals("vm-a").packets, 9u);
}

TEST_F(FlowManagerTest, ListPaginatesAndFiltersByVnic) {
  uint64_t next = 1;
  EXPECT_CALL(device_, CreateRule(_)).Times(6).WillRepeatedly([&next](const flowrules::Rule&) {
    return RuleHandle{next++};
  });
  for (uint32_t host = 2; host <= 4; ++host) {
    ASSERT_TRUE(manager_.Install(Pair(0x0a000001, 0x0a000000 + host)).ok());
  }
  const auto first = manager_.List("vm-a", 0, 2);
  ASSERT_THAT(first, SizeIs(2));
  const auto rest = manager_.List("vm-a", first.back().id, 2);
  ASSERT_THAT(rest, SizeIs(1));
  for (const auto& f : first) {
    EXPECT_EQ(f.vnic, "vm-a");
  }
  EXPECT_GT(rest[0].id, first[1].id);
  EXPECT_THAT(manager_.List("", 0, 100), SizeIs(6));
  EXPECT_CALL(device_, DestroyRule(_)).Times(6).WillRepeatedly(Return(absl::OkStatus()));
  manager_.Flush("");
}

// A device whose batched call is observed directly (the plain mock runs FlowDevice's default
// CreateRules, i.e. one CreateRule per rule).
class BatchingFlowDevice : public MockFlowDevice {
 public:
  MOCK_METHOD(std::vector<absl::StatusOr<RuleHandle>>, CreateRules,
              (absl::Span<const flowrules::Rule* const> rules), (override));
};

MATCHER_P(PointsTo, rule, "") { return *arg == rule; }

TEST(FlowManagerBatchTest, InstallBatchIsOneDeviceCallWithPerDirectionFallback) {
  StrictMock<BatchingFlowDevice> device;
  FlowManager manager(device, FlowManager::Options{.age_seconds = 10});
  const FlowSpec a = Pair(0x0a000001, 0x0a000002);
  const FlowSpec b = Pair(0x0a000001, 0x0a000003);
  // a, b, and a again (a second packet of a's flow in the same burst).
  const std::vector<const FlowSpec*> batch = {&a, &b, &a};
  EXPECT_CALL(device, CreateRules(ElementsAre(PointsTo(Installed(a.forward.rule, 10)),
                                              PointsTo(Installed(a.reverse->rule, 10)),
                                              PointsTo(Installed(b.forward.rule, 10)),
                                              PointsTo(Installed(b.reverse->rule, 10)))))
      .WillOnce(Return(std::vector<absl::StatusOr<RuleHandle>>{
          RuleHandle{1}, RuleHandle{2}, RuleHandle{3},
          absl::ResourceExhaustedError("table full (4 rules)")}));
  const std::vector<FlowManager::InstallResult> results = manager.InstallBatch(batch);
  ASSERT_THAT(results, SizeIs(3));
  ASSERT_TRUE(results[0].id.ok() && results[1].id.ok() && results[2].id.ok());
  EXPECT_TRUE(results[0].created);
  EXPECT_TRUE(results[1].created);
  EXPECT_FALSE(results[2].created);
  EXPECT_EQ(*results[2].id, *results[0].id);

  // b's refused reverse is a software flow; every other direction is in the device.
  EXPECT_FALSE(manager.Lookup(a.forward.rule.match)->in_software);
  EXPECT_FALSE(manager.Lookup(a.reverse->rule.match)->in_software);
  EXPECT_FALSE(manager.Lookup(b.forward.rule.match)->in_software);
  const auto b_reverse = manager.Lookup(b.reverse->rule.match);
  ASSERT_TRUE(b_reverse.has_value());
  EXPECT_TRUE(b_reverse->in_software);
  EXPECT_THAT(b_reverse->software_reason, HasSubstr("table full"));
  EXPECT_EQ(b_reverse->reverse_id, *results[1].id);
  const FlowManagerStats stats = manager.stats();
  EXPECT_EQ(stats.flows, 4u);
  EXPECT_EQ(stats.software_flows, 1u);
  EXPECT_EQ(stats.refused, 1u);
  EXPECT_EQ(stats.installs, 2u);

  // Dependencies were recorded per flow: invalidating b's security group removes exactly b.
  EXPECT_CALL(device, DestroyRule(RuleHandle{3})).WillOnce(Return(absl::OkStatus()));
  const FlowSpec c = Pair(0x0a000001, 0x0a000004, "db");
  EXPECT_CALL(device, CreateRules(SizeIs(2)))
      .WillOnce(Return(std::vector<absl::StatusOr<RuleHandle>>{RuleHandle{4}, RuleHandle{5}}));
  ASSERT_TRUE(manager.Install(c).ok());
  EXPECT_CALL(device, DestroyRule(RuleHandle{4})).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(device, DestroyRule(RuleHandle{5})).WillOnce(Return(absl::OkStatus()));
  EXPECT_EQ(manager.Invalidate({{Dependency::Kind::kSecurityGroup, "db"}}, 3), 2u);
  EXPECT_TRUE(manager.Lookup(b.forward.rule.match).has_value());
  EXPECT_CALL(device, DestroyRule(RuleHandle{1})).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(device, DestroyRule(RuleHandle{2})).WillOnce(Return(absl::OkStatus()));
  EXPECT_EQ(manager.Invalidate({{Dependency::Kind::kVnic, "vm-b"}}, 4), 4u);
  EXPECT_EQ(manager.stats().flows, 0u);
}

TEST(FlowManagerBatchTest, AFlowReplacedLaterInTheBatchNeverReachesTheDevice) {
  StrictMock<BatchingFlowDevice> device;
  FlowManager manager(device, FlowManager::Options{.age_seconds = 10});
  // c's reverse direction is a's forward match: as with two Install calls, c replaces a.
  const FlowSpec a = Pair(0x0a000001, 0x0a000002);
  FlowSpec c;
  c.forward = {UdpRule(3, 0x0a000009, 0x0a000008, 1), "vm-c"};
  c.reverse = DirectionSpec{a.forward.rule, "vm-a"};
  c.dependencies = {{Dependency::Kind::kVnic, "vm-c"}};
  const std::vector<const FlowSpec*> batch = {&a, &c};
  EXPECT_CALL(device, CreateRules(ElementsAre(PointsTo(Installed(c.forward.rule, 10)),
                                              PointsTo(Installed(c.reverse->rule, 10)))))
      .WillOnce(Return(std::vector<absl::StatusOr<RuleHandle>>{RuleHandle{7}, RuleHandle{8}}));
  const auto results = manager.InstallBatch(batch);
  ASSERT_TRUE(results[1].id.ok());
  EXPECT_FALSE(manager.Lookup(a.reverse->rule.match).has_value());
  const auto reverse = manager.Lookup(a.forward.rule.match);
  ASSERT_TRUE(reverse.has_value());
  EXPECT_EQ(reverse->reverse_id, *results[1].id);
  EXPECT_EQ(reverse->vnic, "vm-a");  // now c's reverse direction
  EXPECT_EQ(manager.stats().flows, 2u);
  EXPECT_CALL(device, DestroyRule(_)).Times(2).WillRepeatedly(Return(absl::OkStatus()));
  EXPECT_EQ(manager.Flush(""), 2u);
}

// FlowDevice's default CreateRules: one CreateRule per rule, in order, each on its own.
TEST(FlowDeviceTest, DefaultCreateRulesCallsCreateRuleInOrderAndKeepsGoingAfterARefusal) {
  StrictMock<MockFlowDevice> device;
  const flowrules::Rule r1 = UdpRule(1, 1, 2, 2), r2 = UdpRule(1, 1, 3, 2),
                        r3 = UdpRule(1, 1, 4, 2);
  {
    InSequence order;
    EXPECT_CALL(device, CreateRule(r1)).WillOnce(Return(RuleHandle{1}));
    EXPECT_CALL(device, CreateRule(r2)).WillOnce(Return(absl::UnimplementedError("no")));
    EXPECT_CALL(device, CreateRule(r3)).WillOnce(Return(RuleHandle{3}));
  }
  const std::vector<const flowrules::Rule*> rules = {&r1, &r2, &r3};
  device::FlowDevice& base = device;
  const auto results = base.CreateRules(rules);
  ASSERT_THAT(results, SizeIs(3));
  EXPECT_EQ(*results[0], RuleHandle{1});
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(*results[2], RuleHandle{3});
}

}  // namespace
}  // namespace nicswitch::flows
