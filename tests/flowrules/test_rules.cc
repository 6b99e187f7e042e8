#include "tests/flowrules/test_rules.h"

#include <cstdlib>

namespace nicswitch::flowrules::testing {

MacAddress Mac(const char* text) { return MacAddress::Parse(text).value(); }
Ipv4Prefix V4(const char* address, uint8_t length) {
  return Ipv4Prefix{Ipv4Address::Parse(address).value(), length};
}
Ipv6Prefix V6(const char* address, uint8_t length) {
  return Ipv6Prefix{Ipv6Address::Parse(address).value(), length};
}

Rule MinimalRule() {
  Rule rule;
  rule.match.represented_port = 1;
  rule.actions = {RepresentedPortAction{0}};
  return rule;
}

namespace {

VxlanEncapAction Encap4() {
  VxlanEncapAction encap;
  encap.eth_src = Mac("02:00:00:00:00:01");
  encap.eth_dst = Mac("02:00:00:00:00:02");
  encap.ip = std::pair{Ipv4Address::Parse("192.168.0.1").value(),
                       Ipv4Address::Parse("192.168.0.2").value()};
  encap.udp_src = 49152;
  encap.vni = 42;
  return encap;
}

}  // namespace

std::vector<NamedRule> RuleCatalogue() {
  std::vector<NamedRule> rules;
  auto add = [&](std::string name, uint16_t port, Rule rule) {
    rules.push_back(NamedRule{std::move(name), port, std::move(rule)});
  };

  add("minimal", 0, MinimalRule());

  {  // Every Ethernet field, a VLAN, and an ether type after the VLAN tag.
    Rule r = MinimalRule();
    r.priority = 3;
    r.match.outer.eth_src = Mac("00:11:22:33:44:55");
    r.match.outer.eth_dst = Mac("aa:bb:cc:dd:ee:ff");
    r.match.outer.vlan_id = 100;
    r.match.outer.ether_type = 0x0806;
    r.actions = {CountAction{}, PortRepresentorAction{2}};
    add("eth_vlan_arp", 0, r);
  }
  {  // IPv4 prefixes and UDP ports; count, age, dec_ttl, set MACs.
    Rule r = MinimalRule();
    r.group = 1;
    r.priority = 1;
    r.match.outer.ipv4_src = V4("10.0.0.0", 24);
    r.match.outer.ipv4_dst = V4("10.0.1.2");
    r.match.outer.ip_protocol = 17;
    r.match.outer.l4_src_port = 1234;
    r.match.outer.l4_dst_port = 53;
    r.actions = {CountAction{},
                 AgeAction{30},
                 DecTtlAction{},
                 SetMacSrcAction{Mac("02:00:00:00:00:0a")},
                 SetMacDstAction{Mac("02:00:00:00:00:0b")},
                 RepresentedPortAction{3}};
    add("ipv4_udp_rewrite", 0, r);
  }
  {  // TCP over IPv4 with only a protocol and a port; meter and mark; jump.
    Rule r;
    r.match.represented_port = 2;
    r.match.outer.ip_protocol = 6;
    r.match.outer.l4_dst_port = 443;
    r.actions = {MeterAction{3}, MarkAction{7}, JumpAction{2}};
    add("tcp_meter_mark_jump", 0, r);
  }
  {  // IPv6 prefixes and TCP source port, drop.
    Rule r;
    r.priority = 10;
    r.match.outer.ipv6_src = V6("2001:db8::", 32);
    r.match.outer.ipv6_dst = V6("2001:db8:1::5");
    r.match.outer.ip_protocol = 6;
    r.match.outer.l4_src_port = 22;
    r.actions = {DropAction{}};
    add("ipv6_tcp_drop", 0, r);
  }
  {  // ICMP over IPv4.
    Rule r = MinimalRule();
    r.match.outer.ipv4_dst = V4("10.0.0.1");
    r.match.outer.ip_protocol = 1;
    r.match.outer.icmp_type = 8;
    r.match.outer.icmp_code = 0;
    add("icmp4", 0, r);
  }
  {  // ICMPv6 (neighbour solicitation) with the IP version from the ether type only.
    Rule r = MinimalRule();
    r.match.outer.ether_type = 0x86dd;
    r.match.outer.ip_protocol = 58;
    r.match.outer.icmp_type = 135;
    r.actions = {PortRepresentorAction{1}};
    add("icmp6", 0, r);
  }
  {  // VXLAN from the uplink: outer IPv4 + UDP port + VNI, inner IPv4/TCP, decap to a VF.
    Rule r;
    r.group = 2;
    r.match.represented_port = 0;
    r.match.outer.eth_dst = Mac("02:00:00:00:00:01");
    r.match.outer.ipv4_dst = V4("192.168.0.1");
    r.match.outer.l4_dst_port = 4789;
    r.match.vxlan = VxlanMatch{100};
    r.match.inner.eth_dst = Mac("02:00:00:00:01:01");
    r.match.inner.ipv4_src = V4("10.1.0.0", 16);
    r.match.inner.ipv4_dst = V4("10.1.0.5");
    r.match.inner.ip_protocol = 6;
    r.match.inner.l4_dst_port = 80;
    r.actions = {CountAction{}, VxlanDecapAction{}, RepresentedPortAction{1}};
    add("vxlan_decap", 0, r);
  }
  {  // Any VXLAN packet (no VNI), inner IPv6 / UDP, inner VLAN.
    Rule r = MinimalRule();
    r.match.vxlan = VxlanMatch{};
    r.match.inner.vlan_id = 7;
    r.match.inner.ipv6_dst = V6("fd00::1");
    r.match.inner.ip_protocol = 17;
    r.match.inner.l4_src_port = 5000;
    r.actions = {VxlanDecapAction{}, PortRepresentorAction{4}};
    add("vxlan_any_inner_ipv6", 0, r);
  }
  {  // VXLAN over an IPv6 underlay with outer ip_protocol.
    Rule r = MinimalRule();
    r.match.outer.ipv6_dst = V6("2001:db8::1");
    r.match.outer.ip_protocol = 17;
    r.match.vxlan = VxlanMatch{16777215};
    r.actions = {VxlanDecapAction{}, RepresentedPortAction{5}};
    add("vxlan_ipv6_underlay", 0, r);
  }
  {  // Guest egress: encap over IPv4 (default TTL) and send to the uplink.
    Rule r;
    r.priority = 2;
    r.match.represented_port = 1;
    r.match.outer.eth_src = Mac("02:00:00:00:01:01");
    r.match.outer.ipv4_dst = V4("10.1.0.9");
    r.actions = {CountAction{}, Encap4(), RepresentedPortAction{0}};
    add("vxlan_encap_ipv4", 0, r);
  }
  {  // Encap over IPv6 with a non-default TTL (hop limit) and UDP destination port.
    Rule r;
    r.match.represented_port = 2;
    VxlanEncapAction encap = Encap4();
    encap.ip = std::pair{Ipv6Address::Parse("2001:db8::a").value(),
                         Ipv6Address::Parse("2001:db8::b").value()};
    encap.ttl = 32;
    encap.udp_dst = 8472;
    encap.vni = 16777215;
    r.actions = {encap, AgeAction{600}, RepresentedPortAction{0}};
    add("vxlan_encap_ipv6_ttl", 0, r);
  }
  {  // Mark and tag matches in a later group; ingress rule to a queue.
    Rule r;
    r.direction = Direction::kIngress;
    r.group = 5;
    r.priority = 7;
    r.match.mark = 7;
    r.match.tag = TagMatch{2, 0xdeadbeef};
    r.actions = {MarkAction{9}, QueueAction{3}};
    add("ingress_mark_tag_queue", 1, r);
  }
  {  // Egress rule on ether type only.
    Rule r;
    r.direction = Direction::kEgress;
    r.match.outer.ether_type = 0x0800;
    r.actions = {CountAction{}, DropAction{}};
    add("egress_ether_type", 3, r);
  }
  {  // Empty match.
    Rule r;
    r.group = 0xffffff;
    r.priority = 0xffffffff;
    r.actions = {JumpAction{1}};
    add("match_any_jump", 0, r);
  }
  return rules;
}

}  // namespace nicswitch::flowrules::testing

namespace nicswitch::flowrules::testing {

std::vector<InvalidRule> InvalidRules() {
  std::vector<InvalidRule> cases;
  auto add = [&](std::string name, std::string message, auto mutate) {
    Rule r = MinimalRule();
    mutate(r);
    cases.push_back(InvalidRule{std::move(name), std::move(r), std::move(message)});
  };
  add("NoFate", "actions: no fate action", [](Rule& r) { r.actions = {CountAction{}}; });
  add("NoActions", "actions: no fate action", [](Rule& r) { r.actions.clear(); });
  add("TwoFates", "actions[1] (drop): a second fate action; actions[0] (represented_port)",
      [](Rule& r) { r.actions.push_back(DropAction{}); });
  add("DuplicateCount", "actions[1] (count): duplicate count action", [](Rule& r) {
    r.actions = {CountAction{}, CountAction{}, DropAction{}};
  });
  add("DecapWithoutVxlan", "actions[0] (vxlan_decap): decap on a rule that does not match vxlan",
      [](Rule& r) {
        r.actions = {VxlanDecapAction{}, RepresentedPortAction{0}};
      });
  VxlanEncapAction encap;
  encap.udp_src = 1;
  encap.ip = std::pair{Ipv4Address{1}, Ipv4Address{2}};
  add("EncapWithoutOutput", "actions[0] (vxlan_encap): encap without an output", [&](Rule& r) {
    r.actions = {encap, DropAction{}};
  });
  add("EncapAfterOutput", "actions[1] (vxlan_encap): encap without an output", [&](Rule& r) {
    r.actions = {RepresentedPortAction{0}, encap};
  });
  add("EncapVniTooBig", "actions[0] (vxlan_encap): vni 16777216 exceeds 24 bits", [&](Rule& r) {
    VxlanEncapAction e = encap;
    e.vni = 1 << 24;
    r.actions = {e, RepresentedPortAction{0}};
  });
  add("EncapUdpSrcZero", "actions[0] (vxlan_encap): udp_src 0", [&](Rule& r) {
    VxlanEncapAction e = encap;
    e.udp_src = 0;
    r.actions = {e, RepresentedPortAction{0}};
  });
  add("EncapTtlZero", "actions[0] (vxlan_encap): ttl 0", [&](Rule& r) {
    VxlanEncapAction e = encap;
    e.ttl = 0;
    r.actions = {e, RepresentedPortAction{0}};
  });
  add("MatchVniTooBig", "match.vxlan.vni: 16777216 exceeds 24 bits",
      [](Rule& r) { r.match.vxlan = VxlanMatch{1 << 24}; });
  add("HostBits", "match.outer.ipv4_src: 10.0.0.1/24 has host bits set",
      [](Rule& r) { r.match.outer.ipv4_src = V4("10.0.0.1", 24); });
  add("Ipv6HostBits", "match.inner.ipv6_dst: 2001:db8::1/64 has host bits set", [](Rule& r) {
    r.match.vxlan = VxlanMatch{};
    r.match.inner.ipv6_dst = V6("2001:db8::1", 64);
  });
  add("PrefixTooLong", "match.outer.ipv4_dst: 10.0.0.1/33 prefix length 33 exceeds 32",
      [](Rule& r) { r.match.outer.ipv4_dst = V4("10.0.0.1", 33); });
  add("PrefixZero", "match.outer.ipv6_src: ::/0 matches every address",
      [](Rule& r) { r.match.outer.ipv6_src = V6("::", 0); });
  add("MixedIpVersions", "match.outer.ipv6_dst: IPv4 and IPv6 fields cannot be mixed", [](Rule& r) {
    r.match.outer.ipv4_src = V4("10.0.0.1");
    r.match.outer.ipv6_dst = V6("::1");
  });
  add("EtherTypeConflict", "match.outer.ether_type: 0x86dd conflicts with the ipv4 fields",
      [](Rule& r) {
        r.match.outer.ipv4_src = V4("10.0.0.1");
        r.match.outer.ether_type = 0x86dd;
      });
  add("EtherTypeNotIp", "match.outer.ether_type: 0x0806 conflicts with ip_protocol", [](Rule& r) {
    r.match.outer.ether_type = 0x0806;
    r.match.outer.ip_protocol = 6;
  });
  add("VlanTooBig", "match.outer.vlan_id: 4096 exceeds 12 bits",
      [](Rule& r) { r.match.outer.vlan_id = 4096; });
  add("PortWithoutL4",
      "match.outer.l4_dst_port: 80 needs ip_protocol 6 (TCP) or 17 (UDP), got none",
      [](Rule& r) { r.match.outer.l4_dst_port = 80; });
  add("PortWithIcmp", "match.outer.l4_src_port: 80 needs ip_protocol 6 (TCP) or 17 (UDP), got 1",
      [](Rule& r) {
        r.match.outer.ip_protocol = 1;
        r.match.outer.l4_src_port = 80;
      });
  add("IcmpWithTcp", "match.outer.icmp_type: 8 needs ip_protocol 1", [](Rule& r) {
    r.match.outer.ip_protocol = 6;
    r.match.outer.icmp_type = 8;
  });
  add("Icmp4OnIpv6", "match.outer.icmp_code: 0 needs ip_protocol 1", [](Rule& r) {
    r.match.outer.ipv6_dst = V6("::1");
    r.match.outer.ip_protocol = 1;
    r.match.outer.icmp_code = 0;
  });
  add("VxlanOuterNotUdp", "match.outer.ip_protocol: 6 is not UDP (17) under vxlan", [](Rule& r) {
    r.match.vxlan = VxlanMatch{};
    r.match.outer.ip_protocol = 6;
  });
  add("InnerWithoutVxlan", "match.inner: inner header fields need match.vxlan",
      [](Rule& r) { r.match.inner.ip_protocol = 6; });
  add("MatchPortOutOfRange", "match.represented_port: 1024 exceeds the maximum port id 1023",
      [](Rule& r) { r.match.represented_port = 1024; });
  add("ActionPortOutOfRange", "actions[0] (represented_port): port_id 5000 exceeds",
      [](Rule& r) { r.actions = {RepresentedPortAction{5000}}; });
  add("RepresentorOutOfRange", "actions[0] (port_representor): port_id 1024 exceeds",
      [](Rule& r) { r.actions = {PortRepresentorAction{1024}}; });
  add("AgeZero", "actions[0] (age): age of 0 seconds",
      [](Rule& r) { r.actions.insert(r.actions.begin(), AgeAction{0}); });
  add("AgeTooBig", "actions[0] (age): age 16777216 exceeds 24 bits",
      [](Rule& r) { r.actions.insert(r.actions.begin(), AgeAction{1 << 24}); });
  add("GroupTooBig", "group: 16777216 exceeds the maximum 16777215",
      [](Rule& r) { r.group = 1 << 24; });
  add("JumpTooBig", "actions[0] (jump): group 16777216 exceeds the maximum",
      [](Rule& r) { r.actions = {JumpAction{1 << 24}}; });
  add("JumpToSelf", "actions[0] (jump): group 4 is the rule's own group", [](Rule& r) {
    r.group = 4;
    r.actions = {JumpAction{4}};
  });
  add("QueueOnTransfer", "actions[0] (queue): index 1 needs an ingress rule",
      [](Rule& r) { r.actions = {QueueAction{1}}; });
  add("QueueOutOfRange", "actions[0] (queue): index 1024 exceeds the maximum 1023", [](Rule& r) {
    r.direction = Direction::kIngress;
    r.match.represented_port.reset();
    r.actions = {QueueAction{1024}};
  });
  add("PortMatchOnIngress", "match.represented_port: 1 needs a transfer rule", [](Rule& r) {
    r.direction = Direction::kIngress;
    r.actions = {DropAction{}};
  });
  add("PortActionOnEgress", "actions[0] (represented_port): port_id 0 needs a transfer rule",
      [](Rule& r) {
        r.direction = Direction::kEgress;
        r.match.represented_port.reset();
      });
  return cases;
}

}  // namespace nicswitch::flowrules::testing

namespace nicswitch::flowrules::testing {

std::vector<Rule> SingleFieldRules() {
  std::vector<Rule> rules;
  auto with = [&](auto mutate) {
    Rule r = MinimalRule();
    mutate(r);
    rules.push_back(r);
  };
  with([](Rule& r) { r.match.outer.eth_src = Mac("01:02:03:04:05:06"); });
  with([](Rule& r) { r.match.outer.eth_dst = Mac("01:02:03:04:05:06"); });
  with([](Rule& r) { r.match.outer.ether_type = 0x88cc; });
  with([](Rule& r) { r.match.outer.ether_type = 0x86dd; });
  with([](Rule& r) { r.match.outer.vlan_id = 0; });
  with([](Rule& r) { r.match.outer.vlan_id = 4095; });
  with([](Rule& r) { r.match.outer.ipv4_src = V4("128.0.0.0", 1); });
  with([](Rule& r) { r.match.outer.ipv4_dst = V4("10.0.0.0", 8); });
  with([](Rule& r) { r.match.outer.ipv6_src = V6("fe80::", 10); });
  with([](Rule& r) { r.match.outer.ipv6_dst = V6("::1"); });
  with([](Rule& r) { r.match.outer.ip_protocol = 47; });
  with([](Rule& r) {
    r.match.outer.ether_type = 0x86dd;
    r.match.outer.ip_protocol = 17;
  });
  with([](Rule& r) {
    r.match.outer.ip_protocol = 17;
    r.match.outer.l4_src_port = 0;
  });
  with([](Rule& r) {
    r.match.outer.ip_protocol = 6;
    r.match.outer.l4_dst_port = 65535;
  });
  with([](Rule& r) {
    r.match.outer.ip_protocol = 1;
    r.match.outer.icmp_code = 3;
  });
  with([](Rule& r) { r.match.vxlan = VxlanMatch{0}; });
  with([](Rule& r) {
    r.match.vxlan = VxlanMatch{};
    r.match.outer.ip_protocol = 17;
  });
  with([](Rule& r) {
    r.match.vxlan = VxlanMatch{};
    r.match.outer.ether_type = 0x86dd;
  });
  with([](Rule& r) {
    r.match.vxlan = VxlanMatch{};
    r.match.inner.ether_type = 0x0800;
  });
  with([](Rule& r) {
    r.match.vxlan = VxlanMatch{};
    r.match.inner.ether_type = 0x86dd;
    r.match.inner.vlan_id = 3;
  });
  with([](Rule& r) { r.match.mark = 0; });
  with([](Rule& r) { r.match.tag = TagMatch{255, 0}; });
  for (const Action& a :
       std::vector<Action>{CountAction{}, AgeAction{1}, AgeAction{0xffffff}, MeterAction{0},
                           DecTtlAction{}, SetMacSrcAction{}, SetMacDstAction{}, MarkAction{0}}) {
    with([&](Rule& r) { r.actions.insert(r.actions.begin(), a); });
  }
  with([](Rule& r) { r.actions = {DropAction{}}; });
  with([](Rule& r) { r.actions = {PortRepresentorAction{1023}}; });
  with([](Rule& r) { r.actions = {JumpAction{0xffffff}}; });
  with([](Rule& r) {
    r.direction = Direction::kIngress;
    r.match.represented_port.reset();
    r.actions = {QueueAction{1023}};
  });
  return rules;
}

}  // namespace nicswitch::flowrules::testing
