// softasic benchmark: datapath Mpps and cycles/packet for 64-byte hit traffic with 1, 1K, 100K
// and 1M exact-match rules, with and without VXLAN encap, next to io-forwarding (testpmd
// --forward-mode=io's loop: rx_burst on one port, tx_burst on another) between the same kind of
// ports (rte_eth_from_rings ethdevs) in the same run; bytes per rule; rule insertion rate with
// and without traffic flowing.
//
// Method: packets circulate. The input port's RX ring is pre-filled; after each timed datapath
// pass the harness moves what the output port transmitted back into the input ring, restoring
// data_off (an encap only prepends, so the original frame is intact behind it). Only the
// datapath pass (rx_burst + classify + actions + tx_burst) is inside the rte_rdtsc window, for
// the softasic and for io-forwarding alike; Mpps per core = packets / (cycles / TSC Hz).
//
// Memory: 2 MiB hugepages when at least 384 are free (as in deployment; the 1M-rule tables then
// cost far fewer TLB misses), otherwise --no-huge. The table says which.
//
// Usage: softasic_bench [--quick] [--json FILE] [--seconds S] [--rules N] [--datapath-only]
//                       [--no-huge]

#include <malloc.h>
#include <rte_cycles.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/eal.h"
#include "soc_agent/device/softasic.h"

namespace nicswitch::device {
namespace {

constexpr int kCirculating = 4096;
constexpr uint16_t kBurst = 32;

struct RingPair {
  rte_ring* rx = nullptr;  // what the port receives
  rte_ring* tx = nullptr;  // what the port transmits
  uint16_t port = 0;
};

RingPair MakeRingPort(const std::string& name) {
  RingPair p;
  p.rx = rte_ring_create((name + "_rx").c_str(), 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  p.tx = rte_ring_create((name + "_tx").c_str(), 8192, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  p.port = static_cast<uint16_t>(rte_eth_from_rings(name.c_str(), &p.rx, 1, &p.tx, 1, 0));
  return p;
}

void StartPort(uint16_t port, rte_mempool* pool) {
  rte_eth_conf conf{};
  rte_eth_dev_configure(port, 1, 1, &conf);
  rte_eth_rx_queue_setup(port, 0, 1024, 0, nullptr, pool);
  rte_eth_tx_queue_setup(port, 0, 1024, 0, nullptr);
  rte_eth_dev_start(port);
}

uint32_t FlowDstIp(uint32_t i) { return 0x0a000000u + 1 + i; }  // host order

// 64-byte Ethernet / IPv4 / UDP 1000 -> 2000, 10.0.0.0 -> FlowDstIp(flow).
void WriteFrame(rte_mbuf* m, uint32_t flow) {
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

struct Result {
  double mpps = 0;
  double cycles_per_packet = 0;       // median over full-burst passes
  double mean_cycles_per_packet = 0;  // all passes (includes preemption by other processes)
  uint64_t packets = 0;
};

// Runs `pass` (one timed datapath pass) for `seconds`, recycling `out.tx` into `in.rx`. The
// machine is shared, so a pass can be preempted: cycles/packet is the median over passes that
// handled a full burst (robust against preemption); the mean is reported alongside.
template <typename Pass>
Result Measure(const RingPair& in, const RingPair& out, double seconds, Pass pass) {
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t end = rte_rdtsc() + static_cast<uint64_t>(seconds * hz);
  uint64_t busy = 0;
  uint64_t packets = 0;
  std::vector<uint32_t> full_pass_cycles;
  full_pass_cycles.reserve(1 << 20);
  void* objs[kBurst * 4];
  while (rte_rdtsc() < end) {
    for (int i = 0; i < 64; ++i) {
      const uint64_t t0 = rte_rdtsc();
      const uint32_t n = pass();
      const uint64_t dt = rte_rdtsc() - t0;
      busy += dt;
      packets += n;
      if (n == kBurst && full_pass_cycles.size() < full_pass_cycles.capacity()) {
        full_pass_cycles.push_back(static_cast<uint32_t>(std::min<uint64_t>(dt, 0xffffffffu)));
      }
      unsigned k;
      while ((k = rte_ring_dequeue_burst(out.tx, objs, kBurst * 4, nullptr)) > 0) {
        for (unsigned j = 0; j < k; ++j) {
          auto* m = static_cast<rte_mbuf*>(objs[j]);
          m->data_off = RTE_PKTMBUF_HEADROOM;
          m->data_len = 60;
          m->pkt_len = 60;
        }
        rte_ring_enqueue_burst(in.rx, objs, k, nullptr);
      }
    }
  }
  Result r;
  r.packets = packets;
  r.mean_cycles_per_packet = packets ? static_cast<double>(busy) / packets : 0;
  if (!full_pass_cycles.empty()) {
    std::nth_element(full_pass_cycles.begin(),
                     full_pass_cycles.begin() + full_pass_cycles.size() / 2,
                     full_pass_cycles.end());
    r.cycles_per_packet =
        static_cast<double>(full_pass_cycles[full_pass_cycles.size() / 2]) / kBurst;
  } else {
    r.cycles_per_packet = r.mean_cycles_per_packet;
  }
  r.mpps = r.cycles_per_packet > 0 ? hz / r.cycles_per_packet / 1e6 : 0;
  return r;
}

void Fill(const RingPair& in, rte_mempool* pool, uint32_t flows, std::mt19937& rng) {
  std::uniform_int_distribution<uint32_t> pick(0, flows - 1);
  for (int i = 0; i < kCirculating; ++i) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    WriteFrame(m, flows == 1 ? 0 : pick(rng));
    rte_ring_enqueue(in.rx, m);
  }
}

void Drain(rte_ring* r) {
  void* obj;
  while (rte_ring_dequeue(r, &obj) == 0) {
    rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
  }
}

int FreeHugepages() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  while (meminfo >> key) {
    if (key == "HugePages_Free:") {
      int n = 0;
      meminfo >> n;
      return n;
    }
  }
  return 0;
}

uint64_t HeapBytes() {
  rte_malloc_socket_stats s{};
  rte_malloc_get_socket_stats(0, &s);
  const struct mallinfo2 mi = mallinfo2();
  return s.heap_allocsz_bytes + mi.uordblks + mi.hblkhd;
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

int Main(int argc, char** argv) {
  bool quick = false;
  bool datapath_only = false;
  bool allow_huge = true;
  std::vector<uint32_t> only_rules;
  double seconds = 1.0;
  std::string json_path = "softasic_bench.json";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--quick") {
      quick = true;
      seconds = 0.3;
    } else if (a == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else if (a == "--seconds" && i + 1 < argc) {
      seconds = std::stod(argv[++i]);
    } else if (a == "--rules" && i + 1 < argc) {
      only_rules.push_back(static_cast<uint32_t>(std::stoul(argv[++i])));
    } else if (a == "--datapath-only") {
      datapath_only = true;
    } else if (a == "--no-huge") {
      allow_huge = false;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--quick] [--json FILE] [--seconds S] [--rules N] "
                   "[--datapath-only] [--no-huge]\n",
                   argv[0]);
      return 2;
    }
  }
  const std::string prefix = absl::StrCat("softasic-bench-", getpid());
  const bool huge = allow_huge && FreeHugepages() >= 384;
  std::vector<std::string> eal_args = {"-l",
                                       "0-1",
                                       "--no-pci",
                                       "--file-prefix",
                                       prefix,
                                       "--no-telemetry",
                                       "--log-level=lib.eal:warning"};
  if (huge) {
    eal_args.insert(eal_args.end(), {"--in-memory", "--single-file-segments"});
  } else {
    eal_args.insert(eal_args.end(), {"--no-huge", "-m", "3072"});
  }
  absl::Status eal = InitEal("softasic_bench", eal_args);
  if (!eal.ok()) {
    std::fprintf(stderr, "%s\n", std::string(eal.message()).c_str());
    return 1;
  }
  rte_mempool* pool =
      rte_pktmbuf_pool_create("bench_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  const uint64_t hz = rte_get_tsc_hz();
  std::mt19937 rng(42);

  // ---- io-forwarding baseline between two ring ethdevs ----
  RingPair io_in = MakeRingPort("io_in");
  RingPair io_out = MakeRingPort("io_out");
  StartPort(io_in.port, pool);
  StartPort(io_out.port, pool);
  Fill(io_in, pool, 1, rng);
  const Result io = Measure(io_in, io_out, seconds, [&]() -> uint32_t {
    rte_mbuf* pkts[kBurst];
    const uint16_t n = rte_eth_rx_burst(io_in.port, 0, pkts, kBurst);
    if (n == 0) {
      return 0;
    }
    const uint16_t sent = rte_eth_tx_burst(io_out.port, 0, pkts, n);
    if (sent < n) {
      rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    }
    return n;
  });
  Drain(io_in.rx);
  Drain(io_out.tx);

  // ---- softasic: uplink, vf0 (plain rules), vf1 (encap rules) on ring ethdevs ----
  RingPair up = MakeRingPort("up");
  RingPair vf0 = MakeRingPort("vf0");
  RingPair vf1 = MakeRingPort("vf1");
  SoftAsicConfig config;
  config.uplink.port_id = up.port;
  config.vfs = {SoftAsicPortConfig{"", vf0.port}, SoftAsicPortConfig{"", vf1.port}};
  config.max_rules = 1u << 21;
  config.datapath_lcores = {1};
  config.register_telemetry = false;
  auto created = SoftAsic::Create(config);
  if (!created.ok()) {
    std::fprintf(stderr, "%s\n", created.status().ToString().c_str());
    return 1;
  }
  SoftAsic& sa = **created;
  const uint16_t rep_up = sa.ports()[0].representor_port_id;
  const uint16_t rep_vf0 = sa.ports()[1].representor_port_id;
  const uint16_t rep_vf1 = sa.ports()[2].representor_port_id;

  struct Row {
    uint32_t rules;
    bool encap;
    Result r;
  };
  std::vector<Row> rows;
  std::vector<uint32_t> counts = {1, 1000, 100000, 1000000};
  if (quick) {
    counts = {1, 1000, 100000};
  }
  if (!only_rules.empty()) {
    counts = only_rules;
  }
  for (uint32_t n : counts) {
    RuleSet plain(rep_vf0, rep_up, false);
    RuleSet encap(rep_vf1, rep_up, true);
    std::vector<uint32_t> ids;
    ids.reserve(2 * n);
    absl::Status s = plain.Install(sa, 0, n, &ids);
    if (s.ok()) {
      s = encap.Install(sa, 0, n, &ids);
    }
    if (!s.ok()) {
      std::fprintf(stderr, "install %u: %s\n", n, s.ToString().c_str());
      return 1;
    }
    for (bool with_encap : {false, true}) {
      const RingPair& in = with_encap ? vf1 : vf0;
      Fill(in, pool, n, rng);
      // Warm up, then measure.
      Measure(in, up, seconds / 5, [&] { return sa.PollOnce(); });
      const Result r = Measure(in, up, seconds, [&] { return sa.PollOnce(); });
      rows.push_back(Row{n, with_encap, r});
      sa.PollOnce();
      Drain(in.rx);
      Drain(up.tx);
    }
    for (uint32_t id : ids) {
      (void)sa.DestroyFlow(id);
    }
    sa.ReclaimNow();
  }

  if (datapath_only) {
    for (const Row& row : rows) {
      std::printf("%-10u %-6s %10.2f Mpps %8.1f cycles/pkt (io-fwd %.1f)\n", row.rules,
                  row.encap ? "encap" : "plain", row.r.mpps, row.r.cycles_per_packet,
                  io.cycles_per_packet);
    }
    created->reset();
    CleanupEal();
    return 0;
  }

  // ---- memory per rule: a port-less table holding 1M exact-match rules ----
  double bytes_per_rule = 0;
  double estimated_bytes_per_rule = 0;
  const uint32_t mem_rules = quick ? 100000 : 1000000;
  {
    const uint64_t before = HeapBytes();
    SoftAsicConfig c;
    c.with_ports = false;
    c.max_rules = mem_rules;
    c.vfs.resize(1);  // port indices 0 and 1, no ethdevs
    c.register_telemetry = false;
    auto table = SoftAsic::Create(c);
    if (!table.ok()) {
      std::fprintf(stderr, "%s\n", table.status().ToString().c_str());
      return 1;
    }
    RuleSet rules(1, 0, false);
    if (absl::Status s = rules.Install(**table, 0, mem_rules, nullptr); !s.ok()) {
      std::fprintf(stderr, "%s\n", s.ToString().c_str());
      return 1;
    }
    (*table)->ReclaimNow();
    const uint64_t after = HeapBytes();
    bytes_per_rule = static_cast<double>(after - before) / mem_rules;
    estimated_bytes_per_rule = static_cast<double>((*table)->TableStats().memory_bytes) / mem_rules;
  }

  // ---- insertion rate: idle, and while the datapath lcore forwards traffic ----
  const uint32_t insert_rules = quick ? 100000 : 1000000;
  double insert_idle = 0;
  double insert_busy = 0;
  uint64_t forwarded_during_insert = 0;
  {
    RuleSet rules(rep_vf0, rep_up, false);
    std::vector<uint32_t> ids;
    ids.reserve(insert_rules);
    auto t0 = std::chrono::steady_clock::now();
    (void)rules.Install(sa, 100, 100 + insert_rules, &ids);
    insert_idle =
        insert_rules / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    for (uint32_t id : ids) {
      (void)sa.DestroyFlow(id);
    }
    sa.ReclaimNow();
    ids.clear();
    // Traffic: a second switch whose uplink's TX ring is its VF's RX ring, with one rule
    // VF -> uplink: a closed loop that keeps its datapath lcore forwarding with no helper
    // thread, while this (control) thread inserts rules into it.
    created->reset();
    rte_ring* loop = rte_ring_create("loop", 4096, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    rte_ring* spare_rx = rte_ring_create("loop_up_rx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    rte_ring* spare_tx = rte_ring_create("loop_vf_tx", 1024, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
    const int lup = rte_eth_from_rings("loop_up", &spare_rx, 1, &loop, 1, 0);
    const int lvf = rte_eth_from_rings("loop_vf", &loop, 1, &spare_tx, 1, 0);
    SoftAsicConfig lc;
    lc.name = "loopsw";
    lc.uplink.port_id = lup;
    lc.vfs = {SoftAsicPortConfig{"", lvf}};
    lc.max_rules = insert_rules + 16;
    lc.datapath_lcores = {1};
    lc.register_telemetry = false;
    auto looped = SoftAsic::Create(lc);
    if (!looped.ok()) {
      std::fprintf(stderr, "%s\n", looped.status().ToString().c_str());
      return 1;
    }
    SoftAsic& ls = **looped;
    RuleSet loop_rule(ls.ports()[1].representor_port_id, ls.ports()[0].representor_port_id, false);
    (void)loop_rule.Install(ls, 0, 1, nullptr);
    RingPair lin;
    lin.rx = loop;
    Fill(lin, pool, 1, rng);
    if (!ls.Start().ok()) {
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    const uint64_t tx_before = ls.PortStats(0).tx;
    RuleSet more(ls.ports()[1].representor_port_id, ls.ports()[0].representor_port_id, false);
    t0 = std::chrono::steady_clock::now();
    absl::Status s = more.Install(ls, 100, 100 + insert_rules, &ids);
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    insert_busy = insert_rules / elapsed;
    forwarded_during_insert = ls.PortStats(0).tx - tx_before;
    ls.Stop();
    if (!s.ok()) {
      std::fprintf(stderr, "insert with traffic: %s\n", s.ToString().c_str());
    }
    looped->reset();
    Drain(loop);
    for (rte_ring* r : {loop, spare_rx, spare_tx}) {
      Drain(r);
    }
    rte_eth_dev_stop(static_cast<uint16_t>(lup));
    rte_eth_dev_stop(static_cast<uint16_t>(lvf));
  }

  // ---- report ----
  std::printf(
      "\nsoftasic benchmark (TSC %.2f GHz, 64-byte frames, burst 32, 1 datapath core, %s)\n",
      hz / 1e9, huge ? "2 MiB hugepages" : "--no-huge 4 KiB pages");
  std::printf("%-10s %-6s %10s %12s %16s %10s\n", "rules", "encap", "Mpps", "cycles/pkt",
              "mean cycles/pkt", "x io-fwd");
  std::printf("%-10s %-6s %10.2f %12.1f %16.1f %10s\n", "io-fwd", "-", io.mpps,
              io.cycles_per_packet, io.mean_cycles_per_packet, "1.00");
  for (const Row& row : rows) {
    std::printf("%-10u %-6s %10.2f %12.1f %16.1f %10.2f\n", row.rules, row.encap ? "yes" : "no",
                row.r.mpps, row.r.cycles_per_packet, row.r.mean_cycles_per_packet,
                row.r.mpps / io.mpps);
  }
  std::printf("bytes per rule (measured heap growth, %u rules): %.1f (table's own estimate %.1f)\n",
              mem_rules, bytes_per_rule, estimated_bytes_per_rule);
  std::printf(
      "rule insertion: %.0f rules/s idle, %.0f rules/s while the datapath forwarded %lu "
      "packets (%u rules)\n",
      insert_idle, insert_busy, static_cast<unsigned long>(forwarded_during_insert), insert_rules);

  std::ofstream json(json_path);
  json << "{\n  \"hugepages\": " << (huge ? "true" : "false") << ",\n  \"tsc_hz\": " << hz
       << ",\n  \"io_forwarding\": {\"mpps\": " << io.mpps
       << ", \"cycles_per_packet\": " << io.cycles_per_packet
       << ", \"mean_cycles_per_packet\": " << io.mean_cycles_per_packet
       << "},\n  \"softasic\": [\n";
  for (size_t i = 0; i < rows.size(); ++i) {
    json << "    {\"rules\": " << rows[i].rules
         << ", \"encap\": " << (rows[i].encap ? "true" : "false")
         << ", \"mpps\": " << rows[i].r.mpps
         << ", \"cycles_per_packet\": " << rows[i].r.cycles_per_packet
         << ", \"mean_cycles_per_packet\": " << rows[i].r.mean_cycles_per_packet
         << ", \"ratio_to_io_forwarding\": " << rows[i].r.mpps / io.mpps << "}"
         << (i + 1 < rows.size() ? "," : "") << "\n";
  }
  json << "  ],\n  \"bytes_per_rule\": " << bytes_per_rule
       << ",\n  \"bytes_per_rule_estimate\": " << estimated_bytes_per_rule
       << ",\n  \"memory_rules\": " << mem_rules
       << ",\n  \"insert_rules_per_second_idle\": " << insert_idle
       << ",\n  \"insert_rules_per_second_with_traffic\": " << insert_busy
       << ",\n  \"packets_forwarded_during_insert\": " << forwarded_during_insert << "\n}\n";
  std::printf("JSON written to %s\n", json_path.c_str());
  CleanupEal();
  return 0;
}

}  // namespace
}  // namespace nicswitch::device

int main(int argc, char** argv) { return nicswitch::device::Main(argc, argv); }
