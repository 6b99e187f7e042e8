// bench/flow_setup: new flows set up per second through the agent's whole slow path
// (device miss -> representor -> parse -> decision -> 2 rules installed -> first packet
// forwarded in software), on the softasic with ring-backed ports, with the exception queue kept
// saturated; and the first-packet latency (injection to delivery on the destination VF).
//
// Baseline measured in the same run: the device alone creating the same two rules per flow
// (FlowDevice::CreateRule), i.e. the part of a setup no slow path can avoid. The ratio says how
// much the agent's own work (parse, policy lookups, SG, flow table) costs on top.
//
// Usage: flow_setup_bench [--flows N] [--runs R] [--json FILE]
// One thread (the agent core) drives both the softasic datapath and the slow path; cycles are
// attributed to each with rte_rdtsc.

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "common/eal.h"
#include "google/protobuf/text_format.h"
#include "soc_agent/api/policy_engine.h"
#include "soc_agent/device/softasic.h"
#include "soc_agent/flows/flow_manager.h"
#include "soc_agent/slowpath/slow_path.h"
#include "spdlog/spdlog.h"

namespace nicswitch {
namespace {

// The agent datapath test's policy: vNICs a (VF 0) and b (VF 1), UDP 7000-7999 allowed in.
std::string PolicyText() {
  std::ifstream in(NICSWITCH_TESTDATA_DIR "/agent/policy.textproto");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

struct RingPort {
  rte_ring* inject = nullptr;
  rte_ring* capture = nullptr;
  int port_id = -1;
};

RingPort MakePort(const std::string& name, unsigned size) {
  RingPort p;
  p.inject = rte_ring_create((name + "_in").c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  p.capture = rte_ring_create((name + "_out").c_str(), size, 0, RING_F_SP_ENQ | RING_F_SC_DEQ);
  p.port_id = rte_eth_from_rings(name.c_str(), &p.inject, 1, &p.capture, 1, 0);
  return p;
}

// UDP 10.0.0.10:sport -> 10.0.0.11:dport from vNIC a, 64 bytes, payload carries the TSC at
// injection.
void FillFrame(rte_mbuf* m, uint16_t sport, uint16_t dport) {
  uint8_t* p = reinterpret_cast<uint8_t*>(rte_pktmbuf_append(m, 64));
  std::memset(p, 0, 64);
  const uint8_t dst[6] = {2, 0, 0, 0, 0, 1}, src[6] = {2, 0, 0, 0, 0, 0x0a};
  std::memcpy(p, dst, 6);
  std::memcpy(p + 6, src, 6);
  p[12] = 0x08;
  uint8_t* ip = p + 14;
  ip[0] = 0x45;
  ip[3] = 50;  // total length: 64 - 14
  ip[8] = 64;
  ip[9] = 17;
  const uint8_t sip[4] = {10, 0, 0, 10}, dip[4] = {10, 0, 0, 11};
  std::memcpy(ip + 12, sip, 4);
  std::memcpy(ip + 16, dip, 4);
  uint32_t sum = 0;
  for (int i = 0; i < 20; i += 2) sum += static_cast<uint32_t>(ip[i] << 8 | ip[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  ip[10] = static_cast<uint8_t>(~sum >> 8);
  ip[11] = static_cast<uint8_t>(~sum);
  uint8_t* udp = ip + 20;
  udp[0] = static_cast<uint8_t>(sport >> 8);
  udp[1] = static_cast<uint8_t>(sport);
  udp[2] = static_cast<uint8_t>(dport >> 8);
  udp[3] = static_cast<uint8_t>(dport);
  udp[5] = 30;
  const uint64_t now = rte_rdtsc();
  std::memcpy(udp + 8, &now, sizeof(now));
}

struct RunResult {
  double setups_per_second = 0;  // flows / slow-path seconds
  double agent_cycles_per_setup = 0;
  double device_rules_per_second = 0;       // baseline: 2 CreateRule per flow, device only
  double p50_us = 0, p99_us = 0;            // under saturation (queueing included)
  double idle_p50_us = 0, idle_p99_us = 0;  // one new flow at a time
  uint64_t setups = 0;
};

RunResult RunOnce(uint32_t flows, int run) {
  RunResult r;
  const std::string tag = absl::StrFormat("r%d", run);
  RingPort up = MakePort("up" + tag, 1024), vf0 = MakePort("vf0" + tag, 65536),
           vf1 = MakePort("vf1" + tag, 65536);
  device::SoftAsicConfig config;
  config.name = "sa" + tag;
  config.uplink.port_id = up.port_id;
  config.vfs = {device::SoftAsicPortConfig{"", vf0.port_id},
                device::SoftAsicPortConfig{"", vf1.port_id}};
  config.max_rules = 4 * flows + 16;
  config.representor_ring_size = 4096;
  config.register_telemetry = false;
  auto sa = device::SoftAsic::Create(config);
  if (!sa.ok()) {
    std::fprintf(stderr, "softasic: %s\n", sa.status().ToString().c_str());
    std::exit(1);
  }
  device::SoftAsicFlowDevice dev(**sa);
  flows::FlowManager manager(dev, flows::FlowManager::Options{.age_seconds = 300});
  auto ports = *dev.ListPorts();
  slowpath::SlowPathOptions options;
  options.decision.gateway_mac = *flowrules::MacAddress::Parse("02:00:00:00:00:01");
  options.exceptions_per_second_per_vnic = 1e12;  // saturate: no limiter in the way
  options.exception_burst = 1e9;
  slowpath::SlowPath slow(
      dev, manager,
      slowpath::SwitchPorts{ports[0].representor_port_id,
                            {ports[1].representor_port_id, ports[2].representor_port_id}},
      options);
  const std::string dir = absl::StrFormat("/tmp/flow_setup_bench-%d-%d", getpid(), run);
  std::filesystem::create_directories(dir);
  api::PolicyEngine::Options engine_options;
  engine_options.store_path = dir + "/policy.db";
  auto engine = *api::PolicyEngine::Open(engine_options);
  std::vector<v1::Entity> snapshot;
  uint64_t revision = 0;
  const int sub = engine->Subscribe([&slow](const policy::PolicyBatch& b) { slow.EnqueueBatch(b); },
                                    &snapshot, &revision);
  v1::WriteRequest request;
  if (!google::protobuf::TextFormat::ParseFromString(PolicyText(), &request)) {
    std::fprintf(stderr, "cannot read the policy from %s\n", NICSWITCH_TESTDATA_DIR);
    std::exit(1);
  }
  engine->Write(request);
  slow.ApplyPendingBatches();

  rte_mempool* pool =
      rte_pktmbuf_pool_create(("pool" + tag).c_str(), 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  std::vector<double> latencies;
  latencies.reserve(flows);
  uint64_t slow_cycles = 0;
  const uint64_t hz = rte_get_tsc_hz();
  uint32_t injected = 0, delivered = 0;
  rte_mbuf* burst[64];
  // Keep the exception path full: inject up to 512 new flows ahead of the slow path.
  while (delivered < flows) {
    while (injected < flows && injected - delivered < 512) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      if (m == nullptr) break;
      FillFrame(m, static_cast<uint16_t>(1024 + injected % 60000),
                static_cast<uint16_t>(7000 + injected / 60000));
      if (rte_ring_enqueue(vf0.inject, m) != 0) {
        rte_pktmbuf_free(m);
        break;
      }
      ++injected;
    }
    (*sa)->PollOnce();  // misses -> representor
    const uint64_t t0 = rte_rdtsc();
    slow.PollOnce();  // decide, install, forward
    slow_cycles += rte_rdtsc() - t0;
    (*sa)->PollOnce();  // forwarded packets -> vf1
    unsigned n;
    while ((n = rte_ring_dequeue_burst(vf1.capture, reinterpret_cast<void**>(burst), 64, nullptr)) >
           0) {
      const uint64_t now = rte_rdtsc();
      for (unsigned i = 0; i < n; ++i) {
        uint64_t sent;
        std::memcpy(&sent, rte_pktmbuf_mtod_offset(burst[i], uint8_t*, 42), sizeof(sent));
        latencies.push_back(static_cast<double>(now - sent) * 1e6 / static_cast<double>(hz));
        rte_pktmbuf_free(burst[i]);
      }
      delivered += n;
    }
    if (slow.stats().total_drops() > 0 || slow.stats().tx_failed > 0) {
      std::fprintf(stderr, "unexpected drops in the slow path (%lu drops, %lu tx failures)\n",
                   slow.stats().total_drops(), slow.stats().tx_failed);
      std::exit(1);
    }
  }
  r.setups = slow.stats().flow_setups;
  r.setups_per_second =
      static_cast<double>(r.setups) * static_cast<double>(hz) / static_cast<double>(slow_cycles);
  r.agent_cycles_per_setup = static_cast<double>(slow_cycles) / static_cast<double>(r.setups);
  std::sort(latencies.begin(), latencies.end());
  r.p50_us = latencies[latencies.size() / 2];
  r.p99_us = latencies[latencies.size() * 99 / 100];

  // First-packet latency without queueing: one new flow at a time.
  std::vector<double> single;
  for (uint32_t i = 0; i < 2000; ++i) {
    rte_mbuf* m = rte_pktmbuf_alloc(pool);
    FillFrame(m, static_cast<uint16_t>(1024 + i), 7999);
    rte_ring_enqueue(vf0.inject, m);
    rte_mbuf* out = nullptr;
    for (int spin = 0; spin < 1000 && out == nullptr; ++spin) {
      (*sa)->PollOnce();
      slow.PollOnce();
      (*sa)->PollOnce();
      void* obj;
      if (rte_ring_dequeue(vf1.capture, &obj) == 0) {
        out = static_cast<rte_mbuf*>(obj);
      }
    }
    if (out == nullptr) {
      std::fprintf(stderr, "a first packet was not delivered\n");
      std::exit(1);
    }
    uint64_t sent;
    std::memcpy(&sent, rte_pktmbuf_mtod_offset(out, uint8_t*, 42), sizeof(sent));
    single.push_back(static_cast<double>(rte_rdtsc() - sent) * 1e6 / static_cast<double>(hz));
    rte_pktmbuf_free(out);
  }
  std::sort(single.begin(), single.end());
  r.idle_p50_us = single[single.size() / 2];
  r.idle_p99_us = single[single.size() * 99 / 100];

  // Baseline: the same rules created directly on the device (after removing the agent's).
  std::vector<flows::FlowInfo> installed = manager.List("", 0, 4 * flows);
  manager.Flush("");
  std::vector<device::RuleHandle> handles;
  handles.reserve(installed.size());
  const uint64_t b0 = rte_rdtsc();
  for (const flows::FlowInfo& f : installed) {
    auto h = dev.CreateRule(f.rule);
    if (h.ok()) handles.push_back(*h);
  }
  const uint64_t b1 = rte_rdtsc();
  r.device_rules_per_second =
      static_cast<double>(handles.size()) * static_cast<double>(hz) / static_cast<double>(b1 - b0);
  for (auto h : handles) (void)dev.DestroyRule(h);

  engine->Unsubscribe(sub);
  engine.reset();
  sa->reset();
  for (RingPort* p : {&up, &vf0, &vf1}) {
    void* obj;
    while (rte_ring_dequeue(p->capture, &obj) == 0) rte_pktmbuf_free(static_cast<rte_mbuf*>(obj));
    rte_eth_dev_stop(p->port_id);
    rte_eth_dev_close(p->port_id);
    rte_ring_free(p->inject);
    rte_ring_free(p->capture);
  }
  rte_mempool_free(pool);
  std::filesystem::remove_all(dir);
  return r;
}

}  // namespace
}  // namespace nicswitch

int main(int argc, char** argv) {
  uint32_t flows = 200000;
  int runs = 3;
  std::string json_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--flows" && i + 1 < argc) {
      flows = static_cast<uint32_t>(std::stoul(argv[++i]));
    } else if (arg == "--runs" && i + 1 < argc) {
      runs = std::stoi(argv[++i]);
    } else if (arg == "--json" && i + 1 < argc) {
      json_path = argv[++i];
    } else {
      std::fprintf(stderr, "usage: %s [--flows N] [--runs R] [--json FILE]\n", argv[0]);
      return 2;
    }
  }
  spdlog::set_level(spdlog::level::warn);
  const std::string prefix = absl::StrFormat("flow_setup_bench-%d", getpid());
  // Hugepages when deploy/hugepages.sh reserved them (no page faults while tables grow);
  // otherwise plain memory.
  std::vector<std::string> eal = {"-l",
                                  "0",
                                  "--no-pci",
                                  "--file-prefix",
                                  prefix,
                                  "--no-telemetry",
                                  "--log-level=lib.eal:warning",
                                  "-m",
                                  "1024"};
  bool huge = false;
  if (std::ifstream free_pages("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages");
      free_pages) {
    int n = 0;
    free_pages >> n;
    huge = n >= 512;
  }
  if (!huge) {
    eal.push_back("--no-huge");
  }
  std::printf("memory: %s\n", huge ? "2 MiB hugepages" : "no hugepages (--no-huge)");
  if (auto s = nicswitch::InitEal("flow_setup_bench", eal); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::vector<nicswitch::RunResult> results;
  for (int run = 0; run < runs; ++run) {
    results.push_back(nicswitch::RunOnce(flows, run));
    // Each run on its own line: on a shared VM one run of three is often far off the others.
    std::printf("run %d: %.0f flow setups/s, %.0f agent cycles per setup\n", run + 1,
                results.back().setups_per_second, results.back().agent_cycles_per_setup);
  }
  auto stat = [&](auto field) {
    std::vector<double> v;
    for (const auto& r : results) v.push_back(r.*field);
    std::sort(v.begin(), v.end());
    return std::make_pair(v.front(), v[v.size() / 2]);
  };
  const auto setups = stat(&nicswitch::RunResult::setups_per_second);
  const auto cycles = stat(&nicswitch::RunResult::agent_cycles_per_setup);
  const auto device = stat(&nicswitch::RunResult::device_rules_per_second);
  const auto p50 = stat(&nicswitch::RunResult::p50_us);
  const auto p99 = stat(&nicswitch::RunResult::p99_us);
  const auto idle50 = stat(&nicswitch::RunResult::idle_p50_us);
  const auto idle99 = stat(&nicswitch::RunResult::idle_p99_us);
  std::printf("flow_setup: %u new UDP flows per run, %d runs, 1 core (agent + softasic)\n", flows,
              runs);
  std::printf("%-44s %14s %14s\n", "metric", "min", "median");
  std::printf("%-44s %14.0f %14.0f\n", "flow setups/s (slow-path core)", setups.first,
              setups.second);
  std::printf("%-44s %14.0f %14.0f\n", "agent cycles per setup", cycles.first, cycles.second);
  std::printf("%-44s %14.0f %14.0f\n", "baseline: device CreateRule/s (same rules)", device.first,
              device.second);
  std::printf("%-44s %14.2f %14.2f\n", "setups/s vs device rules/s / 2",
              setups.first / (device.second / 2), setups.second / (device.second / 2));
  std::printf("%-44s %14.1f %14.1f\n", "first-packet latency p50 (us, saturated)", p50.first,
              p50.second);
  std::printf("%-44s %14.1f %14.1f\n", "first-packet latency p99 (us, saturated)", p99.first,
              p99.second);
  std::printf("%-44s %14.1f %14.1f\n", "first-packet latency p50 (us, one at a time)", idle50.first,
              idle50.second);
  std::printf("%-44s %14.1f %14.1f\n", "first-packet latency p99 (us, one at a time)", idle99.first,
              idle99.second);
  if (!json_path.empty()) {
    std::ofstream out(json_path);
    out << absl::StrFormat(
        "{\"benchmark\":\"flow_setup\",\"flows\":%u,\"runs\":%d,"
        "\"setups_per_second\":{\"min\":%.0f,\"median\":%.0f},"
        "\"agent_cycles_per_setup\":{\"min\":%.0f,\"median\":%.0f},"
        "\"baseline_device_rules_per_second\":{\"min\":%.0f,\"median\":%.0f},"
        "\"first_packet_p50_us\":{\"min\":%.1f,\"median\":%.1f},"
        "\"first_packet_p99_us\":{\"min\":%.1f,\"median\":%.1f},"
        "\"first_packet_idle_p50_us\":{\"min\":%.1f,\"median\":%.1f},"
        "\"first_packet_idle_p99_us\":{\"min\":%.1f,\"median\":%.1f}}\n",
        flows, runs, setups.first, setups.second, cycles.first, cycles.second, device.first,
        device.second, p50.first, p50.second, p99.first, p99.second, idle50.first, idle50.second,
        idle99.first, idle99.second);
  }
  nicswitch::CleanupEal();
  return 0;
}
