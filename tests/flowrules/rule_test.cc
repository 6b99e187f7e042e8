#include "flowrules/rule.h"

#include <set>
#include <string>

#include "absl/hash/hash.h"
#include "absl/hash/hash_testing.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/flowrules/test_rules.h"

namespace nicswitch::flowrules {
namespace {

using ::testing::HasSubstr;
using testing::InvalidRules;
using testing::MinimalRule;
using testing::RuleCatalogue;
using testing::V4;

TEST(FlowrulesRuleTest, FateActions) {
  EXPECT_TRUE(IsFateAction(DropAction{}));
  EXPECT_TRUE(IsFateAction(RepresentedPortAction{1}));
  EXPECT_TRUE(IsFateAction(PortRepresentorAction{1}));
  EXPECT_TRUE(IsFateAction(JumpAction{1}));
  EXPECT_TRUE(IsFateAction(QueueAction{1}));
  EXPECT_FALSE(IsFateAction(CountAction{}));
  EXPECT_FALSE(IsFateAction(AgeAction{1}));
  EXPECT_FALSE(IsFateAction(MeterAction{1}));
  EXPECT_FALSE(IsFateAction(VxlanEncapAction{}));
  EXPECT_FALSE(IsFateAction(VxlanDecapAction{}));
  EXPECT_FALSE(IsFateAction(SetMacSrcAction{}));
  EXPECT_FALSE(IsFateAction(SetMacDstAction{}));
  EXPECT_FALSE(IsFateAction(DecTtlAction{}));
  EXPECT_FALSE(IsFateAction(MarkAction{1}));
}

TEST(FlowrulesRuleTest, HeaderMatchEmpty) {
  HeaderMatch m;
  EXPECT_TRUE(m.empty());
  m.icmp_code = 0;
  EXPECT_FALSE(m.empty());
}

TEST(FlowrulesRuleTest, ToStringExample) {
  Rule r;
  r.priority = 1;
  r.match.represented_port = 1;
  r.match.outer.ipv4_dst = V4("10.0.0.2");
  r.match.outer.ip_protocol = 17;
  r.match.outer.l4_dst_port = 53;
  r.actions = {CountAction{}, RepresentedPortAction{0}};
  EXPECT_EQ(r.ToString(),
            "transfer group 0 prio 1 match port=1 ipv4_dst=10.0.0.2/32 ip_proto=17 udp_dst=53 "
            "actions count represented_port=0");
}

// The text of every catalogue rule is fixed: logs and tests rely on it not changing.
TEST(FlowrulesRuleTest, ToStringIsStable) {
  const std::map<std::string, std::string> expected = {
      {"minimal", "transfer group 0 prio 0 match port=1 actions represented_port=0"},
      {"eth_vlan_arp",
       "transfer group 0 prio 3 match port=1 eth_src=00:11:22:33:44:55 eth_dst=aa:bb:cc:dd:ee:ff "
       "eth_type=0x0806 vlan=100 actions count port_representor=2"},
      {"ipv4_udp_rewrite",
       "transfer group 1 prio 1 match port=1 ipv4_src=10.0.0.0/24 ipv4_dst=10.0.1.2/32 "
       "ip_proto=17 udp_src=1234 udp_dst=53 actions count age=30 dec_ttl "
       "set_mac_src=02:00:00:00:00:0a set_mac_dst=02:00:00:00:00:0b represented_port=3"},
      {"tcp_meter_mark_jump",
       "transfer group 0 prio 0 match port=2 ip_proto=6 tcp_dst=443 actions meter=3 mark=7 "
       "jump=2"},
      {"ipv6_tcp_drop",
       "transfer group 0 prio 10 match ipv6_src=2001:db8::/32 ipv6_dst=2001:db8:1::5/128 "
       "ip_proto=6 tcp_src=22 actions drop"},
      {"vxlan_decap",
       "transfer group 2 prio 0 match port=0 eth_dst=02:00:00:00:00:01 ipv4_dst=192.168.0.1/32 "
       "udp_dst=4789 vxlan_vni=100 inner_eth_dst=02:00:00:00:01:01 inner_ipv4_src=10.1.0.0/16 "
       "inner_ipv4_dst=10.1.0.5/32 inner_ip_proto=6 inner_tcp_dst=80 actions count vxlan_decap "
       "represented_port=1"},
      {"vxlan_encap_ipv4",
       "transfer group 0 prio 2 match port=1 eth_src=02:00:00:00:01:01 ipv4_dst=10.1.0.9/32 "
       "actions count vxlan_encap(vni=42,eth_src=02:00:00:00:00:01,eth_dst=02:00:00:00:00:02,"
       "ip_src=192.168.0.1,ip_dst=192.168.0.2,ttl=64,udp_src=49152,udp_dst=4789) "
       "represented_port=0"},
      {"ingress_mark_tag_queue",
       "ingress group 5 prio 7 match mark=7 tag=2:3735928559 actions mark=9 queue=3"},
      {"egress_ether_type", "egress group 0 prio 0 match eth_type=0x0800 actions count drop"},
      {"match_any_jump", "transfer group 16777215 prio 4294967295 match any actions jump=1"},
  };
  for (const auto& named : RuleCatalogue()) {
    auto it = expected.find(named.name);
    if (it == expected.end()) continue;
    EXPECT_EQ(named.rule.ToString(), it->second) << named.name;
  }
  EXPECT_EQ(Rule{}.ToString(), "transfer group 0 prio 0 match any actions none");
}

TEST(FlowrulesRuleTest, DistinctRulesHaveDistinctText) {
  std::set<std::string> texts;
  for (const auto& named : RuleCatalogue()) {
    EXPECT_TRUE(texts.insert(named.rule.ToString()).second) << named.name;
  }
}

TEST(FlowrulesRuleTest, EqualityAndHash) {
  std::vector<Rule> rules;
  for (const auto& named : RuleCatalogue()) rules.push_back(named.rule);
  EXPECT_TRUE(absl::VerifyTypeImplementsAbslHashCorrectly(rules));
  Rule a = MinimalRule();
  Rule b = MinimalRule();
  EXPECT_EQ(a, b);
  EXPECT_EQ(absl::Hash<Rule>()(a), absl::Hash<Rule>()(b));
  b.match.outer.ipv4_dst = V4("10.0.0.1", 31 + 1);
  EXPECT_NE(a, b);
  EXPECT_NE(absl::Hash<Rule>()(a), absl::Hash<Rule>()(b));
}

TEST(FlowrulesRuleTest, CatalogueRulesAreValid) {
  for (const auto& named : RuleCatalogue()) {
    EXPECT_TRUE(Validate(named.rule).ok()) << named.name << ": " << Validate(named.rule);
  }
}

TEST(FlowrulesRuleTest, LimitsApply) {
  Rule r = MinimalRule();
  ValidationLimits limits;
  limits.max_port_id = 0;
  EXPECT_THAT(Validate(r, limits).message(),
              HasSubstr("match.represented_port: 1 exceeds the maximum port id 0"));
}

class FlowrulesInvalidRuleTest : public ::testing::TestWithParam<testing::InvalidRule> {};

TEST_P(FlowrulesInvalidRuleTest, RefusedNamingFieldAndValue) {
  const absl::Status status = Validate(GetParam().rule);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(All, FlowrulesInvalidRuleTest, ::testing::ValuesIn(InvalidRules()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nicswitch::flowrules
