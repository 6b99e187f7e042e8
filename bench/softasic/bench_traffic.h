#pragma once

// The softasic benchmarks' traffic and rules: 64-byte UDP frames of flow i (destination
// FlowDstIp(i)) and the exact-match rule set that matches them, plain or with VXLAN encap; and
// waiting for a port's link.

#include <rte_byteorder.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "soc_agent/device/softasic.h"

namespace nicswitch::device {

// Ends a benchmark process once every figure is out, without EAL's teardown of its memif ports:
// with DPDK 22.11, closing memif ports while their peer's disconnect is being handled (both ends
// in one process, or a peer going at the same time) makes EAL's interrupt thread fault on a
// freed device (about one exit in eight). Memory is on unlinked hugepages, anonymous, or
// removed by the caller (softasic_fwd generate's --single-file-segments files); EAL's runtime
// directory is removed here.
[[noreturn]] inline void ExitWithoutTeardown(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  std::error_code ignored;
  std::filesystem::remove_all(rte_eal_get_runtime_dir(), ignored);
  std::_Exit(code);
}

// Waits up to 5 s for `port`'s link (a memif port: until its peer connected).
inline bool WaitLinkUp(uint16_t port) {
  for (int i = 0; i < 500; ++i) {
    rte_eth_link link{};
    if (rte_eth_link_get_nowait(port, &link) == 0 && link.link_status == RTE_ETH_LINK_UP) {
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

inline uint32_t FlowDstIp(uint32_t i) { return 0x0a000000u + 1 + i; }  // host order

// 64-byte Ethernet / IPv4 / UDP 1000 -> 2000, 10.0.0.0 -> FlowDstIp(flow).
inline void WriteFrame(rte_mbuf* m, uint32_t flow) {
  rte_pktmbuf_reset(m);
  auto* d = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 60));
  std::memset(d, 0, 60);
  const uint8_t dmac[6] = {0x02, 0, 0, 0, 0, 2};
  const uint8_t smac[6] = {0x02, 0, 0, 0, 0, 1};
  std::memcpy(d, dmac, 6);
  std::memcpy(d + 6, smac, 6);
  d[12] = 0x08;
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(d + 14);
  ip->version_ihl = 0x45;
  ip->total_length = rte_cpu_to_be_16(46);
  ip->time_to_live = 64;
  ip->next_proto_id = 17;
  ip->src_addr = rte_cpu_to_be_32(0x0a000000);
  ip->dst_addr = rte_cpu_to_be_32(FlowDstIp(flow));
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(d + 34);
  udp->src_port = rte_cpu_to_be_16(1000);
  udp->dst_port = rte_cpu_to_be_16(2000);
  udp->dgram_len = rte_cpu_to_be_16(26);
}

struct RuleSet {
  rte_flow_attr attr{};
  rte_flow_item_ethdev in{};
  rte_flow_item_ipv4 ip{};
  rte_flow_item_ipv4 ip_mask{};
  rte_flow_item_udp udp{};
  rte_flow_item_udp udp_mask{};
  rte_flow_action_ethdev out{};
  rte_flow_item_eth eth{};
  rte_flow_item_ipv4 eip{};
  rte_flow_item_udp eudp{};
  rte_flow_item_vxlan evx{};
  rte_flow_item def[5];
  rte_flow_action_vxlan_encap encap{};
  rte_flow_item pattern[5];
  rte_flow_action actions[3];

  RuleSet(uint16_t in_port, uint16_t out_port, bool with_encap) {
    attr.transfer = 1;
    in.port_id = in_port;
    ip.hdr.src_addr = rte_cpu_to_be_32(0x0a000000);
    ip_mask.hdr.src_addr = 0xffffffff;
    ip_mask.hdr.dst_addr = 0xffffffff;
    ip_mask.hdr.next_proto_id = 0xff;
    ip.hdr.next_proto_id = 17;
    udp.hdr.src_port = rte_cpu_to_be_16(1000);
    udp.hdr.dst_port = rte_cpu_to_be_16(2000);
    udp_mask.hdr.src_port = 0xffff;
    udp_mask.hdr.dst_port = 0xffff;
    out.port_id = out_port;
    pattern[0] = {RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT, &in, nullptr, nullptr};
    pattern[1] = {RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr};
    pattern[2] = {RTE_FLOW_ITEM_TYPE_IPV4, &ip, nullptr, &ip_mask};
    pattern[3] = {RTE_FLOW_ITEM_TYPE_UDP, &udp, nullptr, &udp_mask};
    pattern[4] = {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
    const uint8_t smac[6] = {0x02, 0x10, 0, 0, 0, 1};
    const uint8_t dmac[6] = {0x02, 0x10, 0, 0, 0, 2};
    std::memcpy(&eth.src, smac, 6);
    std::memcpy(&eth.dst, dmac, 6);
    eip.hdr.src_addr = rte_cpu_to_be_32(0xc0a80101);
    eip.hdr.dst_addr = rte_cpu_to_be_32(0xc0a80102);
    eudp.hdr.src_port = rte_cpu_to_be_16(49152);
    eudp.hdr.dst_port = rte_cpu_to_be_16(4789);
    evx.flags = 0x08;
    evx.vni[2] = 7;
    def[0] = {RTE_FLOW_ITEM_TYPE_ETH, &eth, nullptr, nullptr};
    def[1] = {RTE_FLOW_ITEM_TYPE_IPV4, &eip, nullptr, nullptr};
    def[2] = {RTE_FLOW_ITEM_TYPE_UDP, &eudp, nullptr, nullptr};
    def[3] = {RTE_FLOW_ITEM_TYPE_VXLAN, &evx, nullptr, nullptr};
    def[4] = {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr};
    encap.definition = def;
    int a = 0;
    if (with_encap) {
      actions[a++] = {RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP, &encap};
    }
    actions[a++] = {RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, &out};
    actions[a++] = {RTE_FLOW_ACTION_TYPE_END, nullptr};
  }

  // Installs flows [from, to). Returns the ids.
  absl::Status Install(SoftAsic& sa, uint32_t from, uint32_t to, std::vector<uint32_t>* ids) {
    for (uint32_t i = from; i < to; ++i) {
      ip.hdr.dst_addr = rte_cpu_to_be_32(FlowDstIp(i));
      auto id = sa.CreateFlow(out.port_id, attr, pattern, actions);
      if (!id.ok()) {
        return id.status();
      }
      if (ids != nullptr) {
        ids->push_back(*id);
      }
    }
    return absl::OkStatus();
  }
};

}  // namespace nicswitch::device
