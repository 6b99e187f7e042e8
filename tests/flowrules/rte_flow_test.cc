#include "flowrules/rte_flow.h"

#include <rte_flow.h>

#include <cstring>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/flowrules/test_rules.h"

namespace nicswitch::flowrules {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testing::InvalidRules;
using testing::Mac;
using testing::MinimalRule;
using testing::RuleCatalogue;
using testing::V4;

std::vector<int> ItemTypes(const rte_flow_item* items) {
  std::vector<int> types;
  for (; items->type != RTE_FLOW_ITEM_TYPE_END; ++items) types.push_back(items->type);
  return types;
}
std::vector<int> ActionTypes(const rte_flow_action* actions) {
  std::vector<int> types;
  for (; actions->type != RTE_FLOW_ACTION_TYPE_END; ++actions) types.push_back(actions->type);
  return types;
}

TEST(FlowrulesRteFlowTest, EveryCatalogueRuleRoundTrips) {
  for (const auto& named : RuleCatalogue()) {
    SCOPED_TRACE(named.name);
    auto compiled = CompiledRule::Compile(named.rule);
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    EXPECT_EQ(compiled->rule(), named.rule);
    auto parsed = ParseRteFlow(*compiled->attr(), compiled->pattern(), compiled->actions());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, named.rule) << parsed->ToString() << "\n vs " << named.rule.ToString();
  }
}

// Round trips of single fields and single actions, one at a time.
TEST(FlowrulesRteFlowTest, EachFieldAndActionRoundTrips) {
  const std::vector<Rule> rules = testing::SingleFieldRules();
  for (const Rule& rule : rules) {
    SCOPED_TRACE(rule.ToString());
    auto compiled = CompiledRule::Compile(rule);
    ASSERT_TRUE(compiled.ok()) << compiled.status();
    auto parsed = ParseRteFlow(*compiled->attr(), compiled->pattern(), compiled->actions());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, rule) << parsed->ToString();
  }
}

TEST(FlowrulesRteFlowTest, InvalidRulesDoNotCompile) {
  for (const auto& invalid : InvalidRules()) {
    SCOPED_TRACE(invalid.name);
    auto compiled = CompiledRule::Compile(invalid.rule);
    ASSERT_FALSE(compiled.ok());
    EXPECT_EQ(compiled.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(compiled.status().message()), HasSubstr(invalid.message));
  }
}

TEST(FlowrulesRteFlowTest, CompileHonoursLimits) {
  ValidationLimits limits;
  limits.max_port_id = 0;
  EXPECT_FALSE(CompiledRule::Compile(MinimalRule(), limits).ok());
}

// The arrays a PMD (or the softasic) sees: item order, network byte order, exact masks.
TEST(FlowrulesRteFlowTest, VxlanDecapArraysAreWhatAPmdExpects) {
  Rule rule;
  for (const auto& named : RuleCatalogue()) {
    if (named.name == "vxlan_decap") rule = named.rule;
  }
  auto compiled = CompiledRule::Compile(rule);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const rte_flow_attr& attr = *compiled->attr();
  EXPECT_EQ(attr.group, 2u);
  EXPECT_EQ(attr.transfer, 1u);
  EXPECT_EQ(attr.ingress, 0u);
  EXPECT_EQ(attr.egress, 0u);
  const rte_flow_item* p = compiled->pattern();
  EXPECT_THAT(ItemTypes(p),
              ElementsAre(RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT, RTE_FLOW_ITEM_TYPE_ETH,
                          RTE_FLOW_ITEM_TYPE_IPV4, RTE_FLOW_ITEM_TYPE_UDP, RTE_FLOW_ITEM_TYPE_VXLAN,
                          RTE_FLOW_ITEM_TYPE_ETH, RTE_FLOW_ITEM_TYPE_IPV4, RTE_FLOW_ITEM_TYPE_TCP));
  EXPECT_EQ(static_cast<const rte_flow_item_ethdev*>(p[0].spec)->port_id, 0);
  EXPECT_EQ(static_cast<const rte_flow_item_ethdev*>(p[0].mask)->port_id, 0xffff);
  const auto* eth_mask = static_cast<const rte_flow_item_eth*>(p[1].mask);
  EXPECT_EQ(eth_mask->hdr.dst_addr.addr_bytes[0], 0xff);
  EXPECT_EQ(eth_mask->hdr.src_addr.addr_bytes[0], 0);
  EXPECT_EQ(eth_mask->hdr.ether_type, 0);
  const auto* ip = static_cast<const rte_flow_item_ipv4*>(p[2].spec);
  const auto* ip_mask = static_cast<const rte_flow_item_ipv4*>(p[2].mask);
  EXPECT_EQ(ip->hdr.dst_addr, rte_cpu_to_be_32(0xc0a80001));
  EXPECT_EQ(ip_mask->hdr.dst_addr, 0xffffffffu);
  EXPECT_EQ(ip_mask->hdr.src_addr, 0u);
  EXPECT_EQ(ip_mask->hdr.next_proto_id, 0);
  EXPECT_EQ(static_cast<const rte_flow_item_udp*>(p[3].spec)->hdr.dst_port, rte_cpu_to_be_16(4789));
  const auto* vxlan = static_cast<const rte_flow_item_vxlan*>(p[4].spec);
  EXPECT_EQ(vxlan->vni[0], 0);
  EXPECT_EQ(vxlan->vni[1], 0);
  EXPECT_EQ(vxlan->vni[2], 100);
  const auto* inner_ip = static_cast<const rte_flow_item_ipv4*>(p[6].spec);
  const auto* inner_ip_mask = static_cast<const rte_flow_item_ipv4*>(p[6].mask);
  EXPECT_EQ(inner_ip->hdr.src_addr, rte_cpu_to_be_32(0x0a010000));
  EXPECT_EQ(inner_ip_mask->hdr.src_addr, rte_cpu_to_be_32(0xffff0000));
  EXPECT_EQ(inner_ip->hdr.next_proto_id, 6);
  EXPECT_EQ(static_cast<const rte_flow_item_tcp*>(p[7].spec)->hdr.dst_port, rte_cpu_to_be_16(80));
  EXPECT_EQ(static_cast<const rte_flow_item_tcp*>(p[7].mask)->hdr.src_port, 0);
  EXPECT_THAT(ActionTypes(compiled->actions()),
              ElementsAre(RTE_FLOW_ACTION_TYPE_COUNT, RTE_FLOW_ACTION_TYPE_VXLAN_DECAP,
                          RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT));
  EXPECT_EQ(static_cast<const rte_flow_action_ethdev*>(compiled->actions()[2].conf)->port_id, 1);
}

TEST(FlowrulesRteFlowTest, EncapDefinitionCarriesTheOuterHeaders) {
  Rule rule;
  for (const auto& named : RuleCatalogue()) {
    if (named.name == "vxlan_encap_ipv4") rule = named.rule;
  }
  auto compiled = CompiledRule::Compile(rule);
  ASSERT_TRUE(compiled.ok()) << compiled.status();
  const rte_flow_action* a = compiled->actions();
  ASSERT_EQ(a[1].type, RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP);
  const rte_flow_item* def = static_cast<const rte_flow_action_vxlan_encap*>(a[1].conf)->definition;
  EXPECT_THAT(ItemTypes(def), ElementsAre(RTE_FLOW_ITEM_TYPE_ETH, RTE_FLOW_ITEM_TYPE_IPV4,
                                          RTE_FLOW_ITEM_TYPE_UDP, RTE_FLOW_ITEM_TYPE_VXLAN));
  const auto* eth = static_cast<const rte_flow_item_eth*>(def[0].spec);
  EXPECT_EQ(eth->hdr.dst_addr.addr_bytes[5], 0x02);
  EXPECT_EQ(eth->hdr.src_addr.addr_bytes[5], 0x01);
  EXPECT_EQ(eth->hdr.ether_type, rte_cpu_to_be_16(0x0800));
  const auto* ip = static_cast<const rte_flow_item_ipv4*>(def[1].spec);
  EXPECT_EQ(ip->hdr.version_ihl, 0x45);
  EXPECT_EQ(ip->hdr.time_to_live, 64);
  EXPECT_EQ(ip->hdr.next_proto_id, 17);
  EXPECT_EQ(ip->hdr.src_addr, rte_cpu_to_be_32(0xc0a80001));
  EXPECT_EQ(ip->hdr.dst_addr, rte_cpu_to_be_32(0xc0a80002));
  const auto* udp = static_cast<const rte_flow_item_udp*>(def[2].spec);
  EXPECT_EQ(udp->hdr.src_port, rte_cpu_to_be_16(49152));
  EXPECT_EQ(udp->hdr.dst_port, rte_cpu_to_be_16(4789));
  const auto* vxlan = static_cast<const rte_flow_item_vxlan*>(def[3].spec);
  EXPECT_EQ(vxlan->flags, 0x08);
  EXPECT_EQ(vxlan->vni[2], 42);
}

TEST(FlowrulesRteFlowTest, ArraysStayValidAcrossMoves) {
  std::vector<CompiledRule> compiled;
  std::vector<const rte_flow_item*> patterns;
  for (const auto& named : RuleCatalogue()) {
    auto c = CompiledRule::Compile(named.rule);
    ASSERT_TRUE(c.ok());
    patterns.push_back(c->pattern());
    compiled.push_back(std::move(*c));  // the vector reallocates and moves as it grows
  }
  const auto catalogue = RuleCatalogue();
  for (size_t i = 0; i < compiled.size(); ++i) {
    EXPECT_EQ(compiled[i].pattern(), patterns[i]);
    auto parsed = ParseRteFlow(*compiled[i].attr(), compiled[i].pattern(), compiled[i].actions());
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, catalogue[i].rule);
  }
  CompiledRule moved = std::move(compiled[0]);
  EXPECT_EQ(moved.pattern(), patterns[0]);
}

// ---- Arrays written by hand (as an application or testpmd would) ---------------------------

struct Arrays {
  rte_flow_attr attr{};
  std::vector<rte_flow_item> items;
  std::vector<rte_flow_action> actions;
  rte_flow_action_ethdev out{0};

  Arrays() { attr.transfer = 1; }
  Arrays& Item(rte_flow_item_type type, const void* spec = nullptr, const void* mask = nullptr,
               const void* last = nullptr) {
    items.push_back(rte_flow_item{type, spec, last, mask});
    return *this;
  }
  absl::StatusOr<Rule> Parse() {
    items.push_back(rte_flow_item{RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr});
    if (actions.empty()) actions.push_back({RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, &out});
    actions.push_back({RTE_FLOW_ACTION_TYPE_END, nullptr});
    return ParseRteFlow(attr, items.data(), actions.data());
  }
};

TEST(FlowrulesRteFlowParseTest, NullMaskMeansDefaultMaskAndVoidIsSkipped) {
  rte_flow_item_ipv4 ip{};
  ip.hdr.src_addr = rte_cpu_to_be_32(0x0a000001);
  ip.hdr.dst_addr = rte_cpu_to_be_32(0x0a000002);
  ip.hdr.time_to_live = 9;  // not in the default mask: ignored
  rte_flow_item_udp udp{};
  udp.hdr.dst_port = rte_cpu_to_be_16(53);
  Arrays a;
  a.Item(RTE_FLOW_ITEM_TYPE_VOID)
      .Item(RTE_FLOW_ITEM_TYPE_IPV4, &ip)
      .Item(RTE_FLOW_ITEM_TYPE_UDP, &udp);
  a.actions.push_back({RTE_FLOW_ACTION_TYPE_VOID, nullptr});
  a.actions.push_back({RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, &a.out});
  auto rule = a.Parse();
  ASSERT_TRUE(rule.ok()) << rule.status();
  EXPECT_EQ(rule->match.outer.ipv4_src, V4("10.0.0.1"));
  EXPECT_EQ(rule->match.outer.ipv4_dst, V4("10.0.0.2"));
  EXPECT_EQ(rule->match.outer.ip_protocol, 17);  // implied by the UDP item
  EXPECT_EQ(rule->match.outer.l4_src_port, 0);   // default mask covers both ports
  EXPECT_EQ(rule->match.outer.l4_dst_port, 53);
  EXPECT_EQ(rule->actions, std::vector<Action>{RepresentedPortAction{0}});
}

TEST(FlowrulesRteFlowParseTest, ItemsWithoutFieldsKeepTheirMeaning) {
  Arrays a;
  a.Item(RTE_FLOW_ITEM_TYPE_ETH).Item(RTE_FLOW_ITEM_TYPE_IPV6);
  auto rule = a.Parse();
  ASSERT_TRUE(rule.ok()) << rule.status();
  EXPECT_EQ(rule->match.outer.ether_type, 0x86dd);  // "any IPv6 packet"
  Arrays b;
  b.Item(RTE_FLOW_ITEM_TYPE_IPV4).Item(RTE_FLOW_ITEM_TYPE_TCP);
  rule = b.Parse();
  ASSERT_TRUE(rule.ok()) << rule.status();
  EXPECT_EQ(rule->match.outer.ip_protocol, 6);  // "any IPv4 TCP packet"
  EXPECT_FALSE(rule->match.outer.ether_type);
}

TEST(FlowrulesRteFlowParseTest, PrefixMasks) {
  rte_flow_item_ipv4 spec{};
  rte_flow_item_ipv4 mask{};
  spec.hdr.dst_addr = rte_cpu_to_be_32(0x0a0000ff);  // host bits outside the mask are ignored
  mask.hdr.dst_addr = rte_cpu_to_be_32(0xffffff00);
  Arrays a;
  a.Item(RTE_FLOW_ITEM_TYPE_IPV4, &spec, &mask);
  auto rule = a.Parse();
  ASSERT_TRUE(rule.ok()) << rule.status();
  EXPECT_EQ(rule->match.outer.ipv4_dst, V4("10.0.0.0", 24));
}

struct ParseErrorCase {
  std::string name;
  std::function<void(Arrays&)> build;
  absl::StatusCode code;
  std::string message;
};

std::vector<ParseErrorCase> ParseErrorCases() {
  static rte_flow_item_ipv4 ip_spec{};
  static rte_flow_item_ipv4 bad_prefix{};
  bad_prefix.hdr.src_addr = rte_cpu_to_be_32(0xff00ff00);
  static rte_flow_item_ipv4 ttl_mask{};
  ttl_mask.hdr.time_to_live = 0xff;
  static rte_flow_item_udp port_spec{};
  static rte_flow_item_udp partial_port{};
  partial_port.hdr.dst_port = rte_cpu_to_be_16(0xff00);
  static rte_flow_item_eth eth_spec{};
  static rte_flow_item_eth eth_type_mask{};
  eth_type_mask.hdr.ether_type = 0xffff;
  eth_spec.hdr.ether_type = rte_cpu_to_be_16(0x86dd);
  static rte_flow_item_vlan vlan_spec{};
  static rte_flow_item_vlan tci_mask{};
  tci_mask.hdr.vlan_tci = 0xffff;
  static rte_flow_action_count count_conf{7};
  static rte_flow_action_ethdev port_conf{0};
  using C = absl::StatusCode;
  return {
      {"NotAPrefix",
       [](Arrays& a) {
         a.Item(RTE_FLOW_ITEM_TYPE_ETH).Item(RTE_FLOW_ITEM_TYPE_IPV4, &ip_spec, &bad_prefix);
       },
       C::kInvalidArgument, "pattern[1] (IPV4): src mask 255.0.255.0 is not a prefix"},
      {"UnsupportedField", [](Arrays& a) { a.Item(RTE_FLOW_ITEM_TYPE_IPV4, &ip_spec, &ttl_mask); },
       C::kUnimplemented, "pattern[0] (IPV4): matching on time_to_live (mask 0xff)"},
      {"PartialPortMask",
       [](Arrays& a) {
         a.Item(RTE_FLOW_ITEM_TYPE_IPV4).Item(RTE_FLOW_ITEM_TYPE_UDP, &port_spec, &partial_port);
       },
       C::kUnimplemented, "pattern[1] (UDP): dst_port mask 0xff00 is neither empty nor full"},
      {"EthTypeContradictsIp",
       [](Arrays& a) {
         a.Item(RTE_FLOW_ITEM_TYPE_ETH, &eth_spec, &eth_type_mask).Item(RTE_FLOW_ITEM_TYPE_IPV4);
       },
       C::kInvalidArgument, "pattern[2] (END): ether type 0x86dd contradicts the IPV4 item"},
      {"VlanTci", [](Arrays& a) { a.Item(RTE_FLOW_ITEM_TYPE_VLAN, &vlan_spec, &tci_mask); },
       C::kUnimplemented, "pattern[0] (VLAN): tci mask 0xffff"},
      {"L4WithoutIp",
       [](Arrays& a) { a.Item(RTE_FLOW_ITEM_TYPE_ETH).Item(RTE_FLOW_ITEM_TYPE_TCP); },
       C::kUnimplemented, "pattern[1] (TCP): needs an IPV4 or IPV6 item before it"},
      {"OutOfOrder",
       [](Arrays& a) { a.Item(RTE_FLOW_ITEM_TYPE_IPV4).Item(RTE_FLOW_ITEM_TYPE_ETH); },
       C::kUnimplemented, "pattern[1] (ETH): out of order"},
      {"UnknownItem", [](Arrays& a) { a.Item(RTE_FLOW_ITEM_TYPE_GRE); }, C::kUnimplemented,
       "pattern[0] (GRE): item not supported"},
      {"UnnamedItem", [](Arrays& a) { a.Item(static_cast<rte_flow_item_type>(9999)); },
       C::kUnimplemented, "pattern[0] (type 9999): item not supported"},
      {"Range", [](Arrays& a) { a.Item(RTE_FLOW_ITEM_TYPE_IPV4, &ip_spec, nullptr, &ip_spec); },
       C::kUnimplemented, "pattern[0] (IPV4): ranges (last)"},
      {"TwoVxlan",
       [](Arrays& a) { a.Item(RTE_FLOW_ITEM_TYPE_VXLAN).Item(RTE_FLOW_ITEM_TYPE_VXLAN); },
       C::kUnimplemented, "pattern[1] (VXLAN): only one VXLAN item"},
      {"UnknownAction",
       [](Arrays& a) {
         a.actions = {{RTE_FLOW_ACTION_TYPE_RSS, nullptr}};
       },
       C::kUnimplemented, "actions[0] (RSS): action not supported"},
      {"NullConf",
       [](Arrays& a) {
         a.actions = {{RTE_FLOW_ACTION_TYPE_JUMP, nullptr}, {RTE_FLOW_ACTION_TYPE_DROP, nullptr}};
       },
       C::kInvalidArgument, "actions[0] (JUMP): conf is NULL"},
      {"SharedCounter",
       [](Arrays& a) {
         a.actions = {{RTE_FLOW_ACTION_TYPE_COUNT, &count_conf},
                      {RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, &port_conf}};
       },
       C::kUnimplemented, "actions[0] (COUNT): id 7"},
      {"NoDirection", [](Arrays& a) { a.attr.transfer = 0; }, C::kInvalidArgument,
       "attr: exactly one of ingress, egress, transfer"},
      {"ValidatedAfterParsing",
       [](Arrays& a) {
         a.actions = {{RTE_FLOW_ACTION_TYPE_COUNT, nullptr}};
       },
       C::kInvalidArgument, "actions: no fate action"},
  };
}

void PrintTo(const ParseErrorCase& c, std::ostream* os) { *os << c.name; }

class FlowrulesRteFlowParseErrorTest : public ::testing::TestWithParam<ParseErrorCase> {};

TEST_P(FlowrulesRteFlowParseErrorTest, RefusedNamingIndexTypeAndField) {
  Arrays a;
  GetParam().build(a);
  auto rule = a.Parse();
  ASSERT_FALSE(rule.ok()) << rule->ToString();
  EXPECT_EQ(rule.status().code(), GetParam().code) << rule.status();
  EXPECT_THAT(std::string(rule.status().message()), HasSubstr(GetParam().message));
}

INSTANTIATE_TEST_SUITE_P(All, FlowrulesRteFlowParseErrorTest,
                         ::testing::ValuesIn(ParseErrorCases()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace nicswitch::flowrules
