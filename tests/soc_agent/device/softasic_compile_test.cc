// The softasic's direct compiler (flowrules::Rule -> classifier entry, the FlowDevice fast path)
// against the reference path (flowrules' rte_flow arrays -> CompileFlow): for every rule shape
// the agent and the tests use, both must give byte-identical entries; what the direct compiler
// does not cover it must decline, so the reference path answers. No EAL needed.

#include <cstring>
#include <string>
#include <vector>

#include "flowrules/rte_flow.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "soc_agent/device/softasic_internal.h"

namespace nicswitch::device::softasic_internal {
namespace {

using flowrules::Rule;

flowrules::MacAddress Mac(uint8_t last) { return flowrules::MacAddress{{2, 0, 0, 0, 0, last}}; }
flowrules::Ipv4Prefix V4(uint32_t address, uint8_t length = 32) {
  return flowrules::Ipv4Prefix{flowrules::Ipv4Address{address}, length};
}
flowrules::Ipv6Prefix V6(uint8_t first, uint8_t last, uint8_t length) {
  flowrules::Ipv6Prefix p;
  p.address.bytes[0] = first;
  p.address.bytes[15] = last;
  p.length = length;
  return p;
}

CompileContext Context() {
  CompileContext context;
  // Ethdev ids 10..13 are the switch's ports 0..3.
  context.port_index = [](uint16_t id) { return id >= 10 && id <= 13 ? id - 10 : -1; };
  context.meter_index = [](uint32_t id) -> absl::StatusOr<uint32_t> {
    if (id == 5) return 3u;
    if (id == 6) return 4u;
    return absl::NotFoundError("meter");
  };
  context.representor_queues = 2;
  return context;
}

// The agent's local vNIC-to-vNIC forward rule.
Rule LocalRule() {
  Rule r;
  r.priority = 1;
  r.match.represented_port = 10;
  r.match.outer.ether_type = 0x0800;
  r.match.outer.ipv4_src = V4(0x0a00000a);
  r.match.outer.ipv4_dst = V4(0x0a00000b);
  r.match.outer.ip_protocol = 17;
  r.match.outer.l4_src_port = 1024;
  r.match.outer.l4_dst_port = 7000;
  r.actions = {flowrules::CountAction{}, flowrules::AgeAction{300},
               flowrules::SetMacSrcAction{Mac(1)}, flowrules::SetMacDstAction{Mac(0x0b)},
               flowrules::RepresentedPortAction{12}};
  return r;
}

std::vector<std::pair<std::string, Rule>> Corpus() {
  std::vector<std::pair<std::string, Rule>> rules;
  rules.emplace_back("local", LocalRule());
  {
    Rule r = LocalRule();  // to a remote endpoint: meter + VXLAN encap (IPv4 underlay)
    flowrules::VxlanEncapAction encap;
    encap.eth_src = Mac(0x20);
    encap.eth_dst = Mac(0x21);
    encap.ip = std::pair{flowrules::Ipv4Address{0xc0a80001}, flowrules::Ipv4Address{0xc0a80002}};
    encap.ttl = 32;
    encap.udp_src = 49999;
    encap.vni = 0x123456;
    r.actions = {flowrules::CountAction{},
                 flowrules::AgeAction{30},
                 flowrules::MeterAction{5},
                 flowrules::SetMacDstAction{Mac(0x0c)},
                 encap,
                 flowrules::RepresentedPortAction{10}};
    rules.emplace_back("remote_encap_v4", r);
    encap.ip = std::pair{V6(0xfd, 1, 128).address, V6(0xfd, 2, 128).address};
    encap.udp_dst = 8472;
    r.actions[4] = encap;
    rules.emplace_back("remote_encap_v6", r);
  }
  {
    Rule r;  // uplink ingress: outer VXLAN to our VTEP, inner 5-tuple, decap
    r.priority = 1;
    r.match.represented_port = 10;
    r.match.outer.ether_type = 0x0800;
    r.match.outer.ipv4_src = V4(0xc0a80002);
    r.match.outer.ipv4_dst = V4(0xc0a80001);
    r.match.outer.ip_protocol = 17;
    r.match.outer.l4_dst_port = 4789;
    r.match.vxlan = flowrules::VxlanMatch{0x123456};
    r.match.inner.ether_type = 0x0800;
    r.match.inner.ipv4_src = V4(0x0a000014);
    r.match.inner.ipv4_dst = V4(0x0a00000a);
    r.match.inner.ip_protocol = 6;
    r.match.inner.l4_src_port = 80;
    r.match.inner.l4_dst_port = 40000;
    r.actions = {flowrules::CountAction{},           flowrules::AgeAction{30},
                 flowrules::VxlanDecapAction{},      flowrules::MeterAction{6},
                 flowrules::SetMacSrcAction{Mac(1)}, flowrules::SetMacDstAction{Mac(0x0a)},
                 flowrules::DecTtlAction{},          flowrules::RepresentedPortAction{11}};
    rules.emplace_back("uplink_decap", r);
    r.match.vxlan = flowrules::VxlanMatch{};  // any VNI, nothing inner, no outer IP item
    r.match.inner = {};
    r.match.outer = {};
    r.actions = {flowrules::VxlanDecapAction{}, flowrules::PortRepresentorAction{10}};
    rules.emplace_back("any_vxlan", r);
  }
  {
    Rule r;  // IPv6 prefixes with TCP ports, Ethernet addresses
    r.group = 3;
    r.priority = 7;
    r.match.outer.eth_src = Mac(5);
    r.match.outer.eth_dst = Mac(6);
    r.match.outer.ipv6_src = V6(0xfd, 0, 64);
    r.match.outer.ipv6_dst = V6(0xfe, 0, 17);
    r.match.outer.ip_protocol = 6;
    r.match.outer.l4_dst_port = 443;
    r.actions = {flowrules::MarkAction{77}, flowrules::JumpAction{4}};
    rules.emplace_back("ipv6_tcp_jump", r);
    r.match.outer = {};  // IPv6 by ether type only
    r.match.outer.ether_type = 0x86dd;
    r.match.outer.ip_protocol = 17;
    r.actions = {flowrules::DropAction{}};
    rules.emplace_back("ipv6_by_type", r);
  }
  {
    Rule r;  // VLAN with its inner ether type, IPv4 prefixes, UDP port alone
    r.match.outer.vlan_id = 100;
    r.match.outer.ether_type = 0x0800;
    r.match.outer.ipv4_dst = V4(0x0a010000, 16);
    r.match.outer.ipv4_src = V4(0x80000000, 1);
    r.match.outer.ip_protocol = 17;
    r.match.outer.l4_src_port = 53;
    r.actions = {flowrules::CountAction{}, flowrules::RepresentedPortAction{13}};
    rules.emplace_back("vlan_prefixes", r);
    r.match.outer = {};
    r.match.outer.ether_type = 0x8100;  // a VLAN ether type without a VID: "has a VLAN"
    rules.emplace_back("vlan_by_type", r);
    r.match.outer = {};
    r.match.outer.ether_type = 0x0806;  // ARP
    rules.emplace_back("arp", r);
    r.match.outer = {};
    rules.emplace_back("match_all", r);
  }
  {
    Rule r;  // ICMP, mark and tag
    r.match.outer.ipv4_src = V4(0x0a000000, 8);
    r.match.outer.ip_protocol = 1;
    r.match.outer.icmp_type = 8;
    r.match.outer.icmp_code = 0;
    r.match.mark = 0xabcdef;
    r.match.tag = flowrules::TagMatch{2, 0x1234};
    r.actions = {flowrules::CountAction{}, flowrules::DropAction{}};
    rules.emplace_back("icmp_mark_tag", r);
    r.match.outer = {};
    r.match.outer.ip_protocol = 6;  // TCP with no ports: IP item with protocol, no L4 item
    rules.emplace_back("tcp_any_port", r);
  }
  return rules;
}

void ExpectSameEntry(const CompiledFlow& direct, const CompiledFlow& reference) {
  EXPECT_EQ(direct.group, reference.group);
  EXPECT_EQ(direct.priority, reference.priority);
  EXPECT_EQ(std::memcmp(direct.mask.w, reference.mask.w, sizeof(direct.mask.w)), 0)
      << "mask differs";
  EXPECT_EQ(std::memcmp(direct.value.w, reference.value.w, sizeof(direct.value.w)), 0)
      << "value differs";
  EXPECT_EQ(std::memcmp(&direct.program, &reference.program, sizeof(ActionProgram)), 0)
      << "action program differs";
  EXPECT_EQ(direct.has_meter, reference.has_meter);
  EXPECT_EQ(direct.meter_id, reference.meter_id);
}

TEST(SoftAsicCompileTest, DirectCompileEqualsTheRteFlowArraysPathForEveryShape) {
  const CompileContext context = Context();
  for (const auto& [name, rule] : Corpus()) {
    SCOPED_TRACE(name + ": " + rule.ToString());
    ASSERT_TRUE(flowrules::Validate(rule).ok()) << flowrules::Validate(rule);
    absl::StatusOr<flowrules::CompiledRule> arrays = flowrules::CompiledRule::Compile(rule);
    ASSERT_TRUE(arrays.ok()) << arrays.status();
    absl::StatusOr<CompiledFlow> reference =
        CompileFlow(*arrays->attr(), arrays->pattern(), arrays->actions(), context);
    ASSERT_TRUE(reference.ok()) << reference.status();
    CompiledFlow direct{};
    ASSERT_TRUE(CompileRuleDirect(rule, context, direct));
    ExpectSameEntry(direct, *reference);
  }
}

TEST(SoftAsicCompileTest, DirectCompileDeclinesWhatTheReferencePathRefuses) {
  const CompileContext context = Context();
  struct Case {
    std::string name;
    Rule rule;
  };
  std::vector<Case> cases;
  {
    Rule r = LocalRule();
    r.match.represented_port = 99;  // not a port of the switch
    cases.push_back({"unknown input port", r});
    r = LocalRule();
    r.actions.back() = flowrules::RepresentedPortAction{98};
    cases.push_back({"unknown output port", r});
    r = LocalRule();
    r.actions.insert(r.actions.begin(), flowrules::MeterAction{42});
    cases.push_back({"unknown meter", r});
    r = Rule{};
    r.direction = flowrules::Direction::kIngress;
    r.actions = {flowrules::QueueAction{1}};
    cases.push_back({"ingress rule with QUEUE", r});
    r = Rule{};
    r.match.outer.ipv6_src = V6(0xfd, 0, 64);
    r.match.outer.ip_protocol = 58;
    r.match.outer.icmp_type = 128;
    r.actions = {flowrules::DropAction{}};
    cases.push_back({"ICMPv6", r});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    ASSERT_TRUE(flowrules::Validate(c.rule).ok()) << flowrules::Validate(c.rule);
    absl::StatusOr<flowrules::CompiledRule> arrays = flowrules::CompiledRule::Compile(c.rule);
    ASSERT_TRUE(arrays.ok());
    // The reference path refuses it (and names why)...
    EXPECT_FALSE(CompileFlow(*arrays->attr(), arrays->pattern(), arrays->actions(), context).ok());
    // ... and the direct compiler leaves it to that path.
    CompiledFlow direct{};
    EXPECT_FALSE(CompileRuleDirect(c.rule, context, direct));
  }
}

}  // namespace
}  // namespace nicswitch::device::softasic_internal
