#pragma once

// Builds rte_flow arrays by hand for tests and benchmarks (the softasic executes the arrays
// themselves; flowrules' compiler is tested separately).

#include <rte_flow.h>

#include <cstdint>
#include <cstring>
#include <list>
#include <memory>
#include <vector>

namespace nicswitch::device::testing {

class FlowBuilder {
 public:
  FlowBuilder() { attr_.transfer = 1; }

  FlowBuilder& Group(uint32_t g) {
    attr_.group = g;
    return *this;
  }
  FlowBuilder& Priority(uint32_t p) {
    attr_.priority = p;
    return *this;
  }

  // ---- items ----
  FlowBuilder& Item(rte_flow_item_type type, const void* spec = nullptr,
                    const void* mask = nullptr) {
    items_.push_back(rte_flow_item{type, spec, nullptr, mask});
    return *this;
  }
  template <typename T>
  FlowBuilder& ItemOf(rte_flow_item_type type, const T& spec, const T* mask = nullptr) {
    const T* s = Keep(spec);
    const T* m = mask != nullptr ? Keep(*mask) : nullptr;
    return Item(type, s, m);
  }
  FlowBuilder& InPort(uint16_t port_id) {
    rte_flow_item_ethdev e{};
    e.port_id = port_id;
    return ItemOf(RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT, e);
  }
  FlowBuilder& Eth() { return Item(RTE_FLOW_ITEM_TYPE_ETH); }
  FlowBuilder& EthDst(const uint8_t mac[6]) {
    rte_flow_item_eth s{};
    rte_flow_item_eth m{};
    std::memcpy(&s.dst, mac, 6);
    std::memset(&m.dst, 0xff, 6);
    return ItemOf(RTE_FLOW_ITEM_TYPE_ETH, s, &m);
  }
  FlowBuilder& Ipv4() { return Item(RTE_FLOW_ITEM_TYPE_IPV4); }
  // Host-order address and prefix length.
  FlowBuilder& Ipv4Dst(uint32_t ip, int prefix = 32) {
    rte_flow_item_ipv4 s{};
    rte_flow_item_ipv4 m{};
    const uint32_t mask = prefix == 0 ? 0 : ~0u << (32 - prefix);
    s.hdr.dst_addr = rte_cpu_to_be_32(ip & mask);
    m.hdr.dst_addr = rte_cpu_to_be_32(mask);
    return ItemOf(RTE_FLOW_ITEM_TYPE_IPV4, s, &m);
  }
  FlowBuilder& Udp() { return Item(RTE_FLOW_ITEM_TYPE_UDP); }
  FlowBuilder& UdpDst(uint16_t port) {
    rte_flow_item_udp s{};
    rte_flow_item_udp m{};
    s.hdr.dst_port = rte_cpu_to_be_16(port);
    m.hdr.dst_port = 0xffff;
    return ItemOf(RTE_FLOW_ITEM_TYPE_UDP, s, &m);
  }
  FlowBuilder& Vxlan(uint32_t vni) {
    rte_flow_item_vxlan s{};
    s.vni[0] = static_cast<uint8_t>(vni >> 16);
    s.vni[1] = static_cast<uint8_t>(vni >> 8);
    s.vni[2] = static_cast<uint8_t>(vni);
    return ItemOf(RTE_FLOW_ITEM_TYPE_VXLAN, s);  // default mask: the VNI
  }
  FlowBuilder& MarkItem(uint32_t id) {
    rte_flow_item_mark s{};
    s.id = id;
    return ItemOf(RTE_FLOW_ITEM_TYPE_MARK, s);
  }

  // ---- actions ----
  FlowBuilder& Action(rte_flow_action_type type, const void* conf = nullptr) {
    actions_.push_back(rte_flow_action{type, conf});
    return *this;
  }
  template <typename T>
  FlowBuilder& ActionOf(rte_flow_action_type type, const T& conf) {
    return Action(type, Keep(conf));
  }
  FlowBuilder& Count() { return ActionOf(RTE_FLOW_ACTION_TYPE_COUNT, rte_flow_action_count{}); }
  FlowBuilder& Drop() { return Action(RTE_FLOW_ACTION_TYPE_DROP); }
  FlowBuilder& ToPort(uint16_t port_id) {
    rte_flow_action_ethdev e{};
    e.port_id = port_id;
    return ActionOf(RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, e);
  }
  FlowBuilder& ToRepresentor(uint16_t port_id) {
    rte_flow_action_ethdev e{};
    e.port_id = port_id;
    return ActionOf(RTE_FLOW_ACTION_TYPE_PORT_REPRESENTOR, e);
  }
  FlowBuilder& Jump(uint32_t group) {
    rte_flow_action_jump j{};
    j.group = group;
    return ActionOf(RTE_FLOW_ACTION_TYPE_JUMP, j);
  }
  FlowBuilder& Mark(uint32_t id) {
    rte_flow_action_mark m{};
    m.id = id;
    return ActionOf(RTE_FLOW_ACTION_TYPE_MARK, m);
  }
  FlowBuilder& Age(uint32_t seconds) {
    rte_flow_action_age a{};
    a.timeout = seconds;
    return ActionOf(RTE_FLOW_ACTION_TYPE_AGE, a);
  }
  FlowBuilder& Meter(uint32_t id) {
    rte_flow_action_meter m{};
    m.mtr_id = id;
    return ActionOf(RTE_FLOW_ACTION_TYPE_METER, m);
  }
  FlowBuilder& SetMacDst(const uint8_t mac[6]) {
    rte_flow_action_set_mac s{};
    std::memcpy(s.mac_addr, mac, 6);
    return ActionOf(RTE_FLOW_ACTION_TYPE_SET_MAC_DST, s);
  }
  FlowBuilder& SetMacSrc(const uint8_t mac[6]) {
    rte_flow_action_set_mac s{};
    std::memcpy(s.mac_addr, mac, 6);
    return ActionOf(RTE_FLOW_ACTION_TYPE_SET_MAC_SRC, s);
  }
  FlowBuilder& DecTtl() { return Action(RTE_FLOW_ACTION_TYPE_DEC_TTL); }
  FlowBuilder& VxlanDecap() { return Action(RTE_FLOW_ACTION_TYPE_VXLAN_DECAP); }
  // Outer Ethernet / IPv4 / UDP / VXLAN; addresses and ports in host order.
  FlowBuilder& VxlanEncap4(const uint8_t src_mac[6], const uint8_t dst_mac[6], uint32_t src_ip,
                           uint32_t dst_ip, uint16_t udp_src, uint32_t vni) {
    rte_flow_item_eth eth{};
    std::memcpy(&eth.src, src_mac, 6);
    std::memcpy(&eth.dst, dst_mac, 6);
    rte_flow_item_ipv4 ip{};
    ip.hdr.src_addr = rte_cpu_to_be_32(src_ip);
    ip.hdr.dst_addr = rte_cpu_to_be_32(dst_ip);
    ip.hdr.time_to_live = 64;
    rte_flow_item_udp udp{};
    udp.hdr.src_port = rte_cpu_to_be_16(udp_src);
    udp.hdr.dst_port = rte_cpu_to_be_16(4789);
    rte_flow_item_vxlan vx{};
    vx.flags = 0x08;
    vx.vni[0] = static_cast<uint8_t>(vni >> 16);
    vx.vni[1] = static_cast<uint8_t>(vni >> 8);
    vx.vni[2] = static_cast<uint8_t>(vni);
    auto* def = Keep(std::array<rte_flow_item, 5>{
        rte_flow_item{RTE_FLOW_ITEM_TYPE_ETH, Keep(eth), nullptr, nullptr},
        rte_flow_item{RTE_FLOW_ITEM_TYPE_IPV4, Keep(ip), nullptr, nullptr},
        rte_flow_item{RTE_FLOW_ITEM_TYPE_UDP, Keep(udp), nullptr, nullptr},
        rte_flow_item{RTE_FLOW_ITEM_TYPE_VXLAN, Keep(vx), nullptr, nullptr},
        rte_flow_item{RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr}});
    rte_flow_action_vxlan_encap conf{};
    conf.definition = def->data();
    return ActionOf(RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP, conf);
  }

  // ---- results (END-terminated; valid while the builder lives and is not modified) ----
  const rte_flow_attr& attr() const { return attr_; }
  const rte_flow_item* pattern() {
    terminated_items_ = items_;
    terminated_items_.push_back(rte_flow_item{RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr});
    return terminated_items_.data();
  }
  const rte_flow_action* actions() {
    terminated_actions_ = actions_;
    terminated_actions_.push_back(rte_flow_action{RTE_FLOW_ACTION_TYPE_END, nullptr});
    return terminated_actions_.data();
  }

 private:
  template <typename T>
  T* Keep(const T& v) {
    auto holder = std::make_shared<T>(v);
    T* p = holder.get();
    storage_.push_back(std::move(holder));
    return p;
  }

  rte_flow_attr attr_{};
  std::vector<rte_flow_item> items_;
  std::vector<rte_flow_action> actions_;
  std::vector<rte_flow_item> terminated_items_;
  std::vector<rte_flow_action> terminated_actions_;
  std::list<std::shared_ptr<void>> storage_;
};

}  // namespace nicswitch::device::testing
