// Round trips over many random rules (a fixed seed, so failures reproduce): every valid rule
// must survive Rule -> rte_flow -> Rule and Rule -> testpmd text -> Rule unchanged, and every
// invalid one must be refused by Compile and not rendered by ToTestpmd.
#include <random>
#include <string>

#include "flowrules/rte_flow.h"
#include "flowrules/testpmd.h"
#include "gtest/gtest.h"
#include "tests/flowrules/test_rules.h"

namespace nicswitch::flowrules {
namespace {

class RandomRules {
 public:
  explicit RandomRules(uint32_t seed) : rng_(seed) {}

  Rule Next() {
    Rule r;
    r.group = Pick<uint32_t>({0, 1, 7});
    r.priority = Pick<uint32_t>({0, 1, 100});
    r.direction =
        Pick({Direction::kTransfer, Direction::kTransfer, Direction::kIngress, Direction::kEgress});
    if (Chance(2)) r.match.represented_port = Pick<uint16_t>({0, 1, 1023});
    const bool vxlan = Chance(3);
    Layer(r.match.outer, vxlan);
    if (vxlan) {
      r.match.vxlan = VxlanMatch{};
      if (Chance(2)) r.match.vxlan->vni = Pick<uint32_t>({0, 42, 0xffffff});
      Layer(r.match.inner, false);
    }
    if (Chance(5)) r.match.mark = Pick<uint32_t>({0, 7, 0xffffffff});
    if (Chance(5)) r.match.tag = TagMatch{Pick<uint8_t>({0, 3}), Pick<uint32_t>({0, 9})};
    const int n = static_cast<int>(rng_() % 4);
    for (int i = 0; i < n; ++i) r.actions.push_back(NonFate());
    if (Chance(2) && !r.actions.empty()) {
      r.actions.push_back(RepresentedPortAction{Pick<uint16_t>({0, 2})});
    } else {
      r.actions.push_back(Fate());
    }
    return r;
  }

 private:
  bool Chance(int one_in) { return rng_() % one_in == 0; }
  template <typename T>
  T Pick(std::initializer_list<T> values) {
    return *(values.begin() + rng_() % values.size());
  }

  void Layer(HeaderMatch& m, bool vxlan_outer) {
    using testing::Mac;
    using testing::V4;
    using testing::V6;
    if (Chance(4)) m.eth_src = Mac("02:00:00:00:00:01");
    if (Chance(4)) m.eth_dst = Mac("ff:ff:ff:ff:ff:ff");
    if (Chance(6)) m.vlan_id = Pick<uint16_t>({0, 100, 4095});
    const int ip = static_cast<int>(rng_() % 3);  // none, v4, v6
    if (ip == 1) {
      if (Chance(2)) m.ipv4_src = Pick({V4("10.0.0.0", 8), V4("10.1.2.3"), V4("128.0.0.0", 1)});
      if (Chance(2)) m.ipv4_dst = Pick({V4("192.168.0.0", 24), V4("10.0.0.1")});
    } else if (ip == 2) {
      if (Chance(2)) m.ipv6_src = Pick({V6("2001:db8::", 32), V6("::1")});
      if (Chance(2)) m.ipv6_dst = Pick({V6("fd00::", 8), V6("2001:db8::5")});
    }
    if (Chance(4)) m.ether_type = Pick<uint16_t>({0x0800, 0x86dd, 0x0806});
    if (Chance(2)) {
      m.ip_protocol = vxlan_outer ? 17 : Pick<uint8_t>({1, 6, 17, 58, 47});
    }
    if (Chance(2)) m.l4_src_port = Pick<uint16_t>({0, 1234});
    if (Chance(2)) m.l4_dst_port = Pick<uint16_t>({53, 65535});
    if (Chance(4)) m.icmp_type = Pick<uint8_t>({0, 8, 135});
    if (Chance(6)) m.icmp_code = 0;
  }

  Action NonFate() {
    VxlanEncapAction encap;
    encap.eth_dst = testing::Mac("02:00:00:00:00:02");
    encap.ip = Chance(2) ? decltype(encap.ip){std::pair{Ipv4Address{1}, Ipv4Address{2}}}
                         : decltype(encap.ip){std::pair{Ipv6Address{}, Ipv6Address{}}};
    encap.udp_src = Pick<uint16_t>({1, 65535});
    encap.ttl = Pick<uint8_t>({1, 64, 255});
    encap.vni = Pick<uint32_t>({0, 0xffffff});
    switch (rng_() % 10) {
      case 0:
        return CountAction{};
      case 1:
        return AgeAction{Pick<uint32_t>({1, 0xffffff})};
      case 2:
        return MeterAction{Pick<uint32_t>({0, 5})};
      case 3:
        return encap;
      case 4:
        return VxlanDecapAction{};
      case 5:
        return SetMacSrcAction{testing::Mac("02:00:00:00:00:0a")};
      case 6:
        return SetMacDstAction{testing::Mac("02:00:00:00:00:0b")};
      case 7:
        return DecTtlAction{};
      default:
        return MarkAction{Pick<uint32_t>({0, 0xffffffff})};
    }
  }
  Action Fate() {
    switch (rng_() % 5) {
      case 0:
        return DropAction{};
      case 1:
        return RepresentedPortAction{Pick<uint16_t>({0, 1023})};
      case 2:
        return PortRepresentorAction{Pick<uint16_t>({0, 3})};
      case 3:
        return JumpAction{Pick<uint32_t>({1, 2, 0xffffff})};
      default:
        return QueueAction{Pick<uint16_t>({0, 1023})};
    }
  }

  std::mt19937 rng_;
};

TEST(FlowrulesRandomRulesTest, ValidRulesRoundTripAndInvalidOnesAreRefused) {
  RandomRules random(20261122);
  int valid = 0;
  int invalid = 0;
  for (int i = 0; i < 50000; ++i) {
    const Rule rule = random.Next();
    const absl::Status status = Validate(rule);
    auto compiled = CompiledRule::Compile(rule);
    const std::string text = ToTestpmd({0, rule});
    if (!status.ok()) {
      ++invalid;
      ASSERT_FALSE(compiled.ok()) << rule.ToString();
      ASSERT_EQ(text.rfind("# nicswitch: not rendered", 0), 0u) << text;
      continue;
    }
    ++valid;
    ASSERT_TRUE(compiled.ok()) << rule.ToString() << ": " << compiled.status();
    auto parsed = ParseRteFlow(*compiled->attr(), compiled->pattern(), compiled->actions());
    ASSERT_TRUE(parsed.ok()) << rule.ToString() << ": " << parsed.status();
    ASSERT_EQ(*parsed, rule) << parsed->ToString() << "\n vs " << rule.ToString();
    auto from_text = ParseTestpmd(text);
    ASSERT_TRUE(from_text.ok()) << text << ": " << from_text.status();
    ASSERT_EQ(from_text->rule, rule) << text;
  }
  // The generator must exercise both sides meaningfully.
  EXPECT_GT(valid, 3000);
  EXPECT_GT(invalid, 3000);
  RecordProperty("valid", valid);
  RecordProperty("invalid", invalid);
}

}  // namespace
}  // namespace nicswitch::flowrules
