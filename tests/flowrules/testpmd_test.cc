#include "flowrules/testpmd.h"

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/flowrules/test_rules.h"

namespace nicswitch::flowrules {
namespace {

using ::testing::HasSubstr;
using testing::InvalidRules;
using testing::Mac;
using testing::MinimalRule;
using testing::RuleCatalogue;
using ::testing::StartsWith;
using testing::V4;
using testing::V6;

std::string GoldenPath(const std::string& name) {
  return std::string(NICSWITCH_FLOWRULES_TESTDATA) + "/" + name + ".testpmd";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Golden files hold exactly what ToTestpmd writes (checked by hand against the DPDK 22.11
// testpmd guide). NICSWITCH_UPDATE_GOLDEN=1 rewrites them.
TEST(FlowrulesTestpmdTest, GoldenFiles) {
  const bool update = std::getenv("NICSWITCH_UPDATE_GOLDEN") != nullptr;
  for (const auto& named : RuleCatalogue()) {
    SCOPED_TRACE(named.name);
    const TestpmdRule rule{named.port_id, named.rule};
    const std::string text = ToTestpmd(rule);
    if (update) std::ofstream(GoldenPath(named.name)) << text;
    const std::string golden = ReadFile(GoldenPath(named.name));
    EXPECT_EQ(text, golden);
    auto parsed = ParseTestpmd(golden);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, rule) << parsed->rule.ToString() << "\n vs " << rule.rule.ToString();
  }
}

TEST(FlowrulesTestpmdTest, EachFieldAndActionRoundTrips) {
  for (const Rule& rule : testing::SingleFieldRules()) {
    const TestpmdRule testpmd{7, rule};
    const std::string text = ToTestpmd(testpmd);
    SCOPED_TRACE(text);
    auto parsed = ParseTestpmd(text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, testpmd) << parsed->rule.ToString();
  }
}

TEST(FlowrulesTestpmdTest, ExampleFromTheHeader) {
  Rule r;
  r.priority = 1;
  r.match.represented_port = 1;
  r.match.outer.ipv4_dst = V4("10.0.0.2");
  r.actions = {CountAction{}, RepresentedPortAction{0}};
  EXPECT_EQ(ToTestpmd({0, r}),
            "flow create 0 group 0 priority 1 transfer pattern represented_port ethdev_port_id "
            "is 1 / eth / ipv4 dst is 10.0.0.2 / end actions count / represented_port "
            "ethdev_port_id 0 / end\n");
}

TEST(FlowrulesTestpmdTest, PrefixesRenderAsSpecAndMask) {
  Rule r = MinimalRule();
  r.match.outer.ipv4_src = V4("10.0.0.0", 24);
  EXPECT_THAT(ToTestpmd({0, r}), HasSubstr("ipv4 src spec 10.0.0.0 src mask 255.255.255.0 /"));
  r = MinimalRule();
  r.match.outer.ipv6_dst = V6("2001:db8::", 32);
  EXPECT_THAT(ToTestpmd({0, r}), HasSubstr("ipv6 dst spec 2001:db8:: dst mask ffff:ffff:: /"));
}

TEST(FlowrulesTestpmdTest, EncapRulesStartWithSetVxlanTosTtl) {
  for (const auto& named : RuleCatalogue()) {
    if (named.name != "vxlan_encap_ipv6_ttl") continue;
    EXPECT_THAT(ToTestpmd({0, named.rule}),
                StartsWith("set vxlan-tos-ttl ip-version ipv6 vni 16777215 udp-src 49152 "
                           "udp-dst 8472 ip-tos 0 ip-ttl 32 ip-src 2001:db8::a ip-dst "
                           "2001:db8::b eth-src 02:00:00:00:00:01 eth-dst 02:00:00:00:00:02\n"
                           "flow create 0 "));
  }
}

TEST(FlowrulesTestpmdTest, InvalidRuleIsNotRendered) {
  Rule r = MinimalRule();
  r.actions.clear();
  EXPECT_EQ(ToTestpmd({0, r}),
            "# nicswitch: not rendered, invalid rule: actions: no fate action\n");
}

// Text a user could type: every assignment form testpmd documents, comments, plain set vxlan.
TEST(FlowrulesTestpmdTest, ParsesOtherSpellings) {
  struct Case {
    const char* text;
    Rule expected;
  };
  std::vector<Case> cases;
  {
    Rule r = MinimalRule();
    r.match.outer.ipv4_src = V4("10.1.0.0", 16);
    r.match.outer.ipv4_dst = V4("10.0.0.1");
    cases.push_back(
        {"# a comment\n\n  flow create 0 transfer pattern represented_port "
         "ethdev_port_id is 1 / ipv4 src spec 10.1.2.3 src prefix 16 dst spec 10.0.0.1 "
         "dst mask 255.255.255.255 / end actions represented_port ethdev_port_id 0 / "
         "end  \n",
         r});
  }
  {  // `spec` without any mask keeps the item's default mask (src and dst, full).
    Rule r = MinimalRule();
    r.match.outer.ipv4_src = V4("10.0.0.9");
    r.match.outer.ipv4_dst = V4("0.0.0.0", 32);
    cases.push_back(
        {"flow create 0 transfer pattern represented_port ethdev_port_id is 1 / eth / "
         "ipv4 src spec 10.0.0.9 / end actions represented_port ethdev_port_id 0 / end",
         r});
  }
  {  // Plain `set vxlan`: TTL 64; hex numbers; vlan vid.
    Rule r = MinimalRule();
    r.priority = 4;
    r.match.outer.vlan_id = 10;
    r.match.outer.ether_type = 0x0800;
    VxlanEncapAction e;
    e.eth_src = Mac("02:00:00:00:00:01");
    e.eth_dst = Mac("02:00:00:00:00:02");
    e.ip = std::pair{Ipv4Address{0x01010101}, Ipv4Address{0x02020202}};
    e.udp_src = 4789;
    e.vni = 42;
    r.actions = {e, RepresentedPortAction{0}};
    cases.push_back(
        {"set vxlan ip-version ipv4 vni 42 udp-src 4789 udp-dst 4789 ip-src 1.1.1.1 "
         "ip-dst 2.2.2.2 eth-src 02:00:00:00:00:01 eth-dst 02:00:00:00:00:02\n"
         "flow create 0 priority 4 transfer pattern represented_port ethdev_port_id "
         "is 1 / eth / vlan vid is 10 inner_type is 0x800 / end actions vxlan_encap / "
         "represented_port ethdev_port_id 0 / end\n",
         r});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    auto parsed = ParseTestpmd(c.text);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(parsed->rule, c.expected) << parsed->rule.ToString();
  }
}

struct TextErrorCase {
  std::string name;
  std::string text;
  std::string message;
};

void PrintTo(const TextErrorCase& c, std::ostream* os) { *os << c.name; }

class FlowrulesTestpmdErrorTest : public ::testing::TestWithParam<TextErrorCase> {};

TEST_P(FlowrulesTestpmdErrorTest, RefusedNamingTokenAndPosition) {
  auto parsed = ParseTestpmd(GetParam().text);
  ASSERT_FALSE(parsed.ok());
  EXPECT_EQ(parsed.status().code(), absl::StatusCode::kInvalidArgument) << parsed.status();
  EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(GetParam().message));
}

constexpr char kHead[] = "flow create 0 transfer pattern ";
constexpr char kTail[] = " / end actions represented_port ethdev_port_id 0 / end";

INSTANTIATE_TEST_SUITE_P(
    All, FlowrulesTestpmdErrorTest,
    ::testing::ValuesIn(std::vector<TextErrorCase>{
        {"Empty", "# nothing\n", "no flow create command"},
        {"NotACommand", "flow destroy 0 rule 1",
         "line 1, token 2 (\"destroy\"): expected \"create\""},
        {"UnknownItem", std::string(kHead) + "gre" + kTail,
         "line 1, token 6 (\"gre\"): unknown or unsupported pattern item"},
        {"UnknownField", std::string(kHead) + "ipv4 ttl is 3" + kTail,
         "line 1, token 7 (\"ttl\"): unknown or unsupported field of item ipv4"},
        {"BadAddress", std::string(kHead) + "ipv4 src is 10.0.0.300" + kTail,
         "line 1, token 9 (\"10.0.0.300\"): not an IPv4 address"},
        {"BadMac", std::string(kHead) + "eth dst is 00:11" + kTail,
         "token 9 (\"00:11\"): not a MAC address"},
        {"NumberTooBig", std::string(kHead) + "udp dst is 65536" + kTail,
         "token 9 (\"65536\"): exceeds the maximum 65535"},
        {"NotANumber", std::string(kHead) + "vxlan vni is x" + kTail,
         "token 9 (\"x\"): not an unsigned number"},
        {"Range", std::string(kHead) + "udp dst is 1 dst last 9" + kTail,
         "token 11 (\"last\"): ranges (last) are not supported"},
        {"BadOperator", std::string(kHead) + "udp dst equals 1" + kTail,
         "token 8 (\"equals\"): expected is, spec, mask or prefix"},
        {"Truncated", "flow create 0 transfer pattern eth", "line 1: expected an item field"},
        {"UnknownAction", "flow create 0 transfer pattern end actions rss queues 0 1 end / end",
         "token 8 (\"rss\"): unknown or unsupported action"},
        {"EncapWithoutSet",
         "flow create 0 transfer pattern end actions vxlan_encap / represented_port "
         "ethdev_port_id 0 / end",
         "token 8 (\"vxlan_encap\"): vxlan_encap needs a \"set vxlan\" command"},
        {"SetVxlanWithVlan",
         "set vxlan-with-vlan ip-version ipv4 vni 1 udp-src 1 udp-dst 2 ip-src 1.1.1.1 ip-dst "
         "1.1.1.2 vlan-tci 3 eth-src 00:00:00:00:00:01 eth-dst 00:00:00:00:00:02",
         "token 2 (\"vxlan-with-vlan\"): only \"set vxlan\" and \"set vxlan-tos-ttl\""},
        {"NonZeroTos",
         "set vxlan-tos-ttl ip-version ipv4 vni 1 udp-src 1 udp-dst 2 ip-tos 4 ip-ttl 9 ip-src "
         "1.1.1.1 ip-dst 1.1.1.2 eth-src 00:00:00:00:00:01 eth-dst 00:00:00:00:00:02",
         "token 12 (\"4\"): a non-zero ip-tos is not supported"},
        {"TwoRules", std::string(kHead) + "eth" + kTail + "\n" + kHead + "eth" + kTail,
         "line 2, token 1 (\"flow\"): only one flow create command"},
        {"Trailing", std::string(kHead) + "eth" + kTail + " extra",
         "token 15 (\"extra\"): unexpected token"},
        {"InvalidRule", "flow create 0 transfer pattern eth / end actions count / end",
         "line 1: actions: no fate action"},
        {"NotAPrefix", std::string(kHead) + "ipv4 src spec 10.0.0.0 src mask 255.0.255.0" + kTail,
         "line 1: pattern[0] (IPV4): src mask 255.0.255.0 is not a prefix"},
    }),
    [](const auto& info) { return info.param.name; });

TEST(FlowrulesTestpmdTest, InvalidRulesAreRefusedWhenParsed) {
  // Text for an invalid rule (here: no fate action) names the field through Validate.
  for (const auto& invalid : InvalidRules()) {
    if (invalid.name != "TwoFates") continue;
    auto parsed = ParseTestpmd(
        "flow create 0 transfer pattern represented_port ethdev_port_id is 1 / end actions "
        "represented_port ethdev_port_id 0 / drop / end");
    ASSERT_FALSE(parsed.ok());
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr(invalid.message));
  }
}

}  // namespace
}  // namespace nicswitch::flowrules
