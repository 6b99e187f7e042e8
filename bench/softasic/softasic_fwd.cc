// softasic_fwd: the softasic as a forwarding process between net_memif ports, and the traffic
// generator that drives it (or dpdk-testpmd) from another process and core. bench/softasic/
// fwd_bench.py runs both against each other and against testpmd --forward-mode=io.
//
//   softasic_fwd serve --dir D --rules N [--encap] [--lcores 0,1]
//     memif servers D/vf0.sock and D/up.sock; N exact-match rules vf0 -> uplink (with VXLAN
//     encap when --encap), one datapath lcore (the last of --lcores) busy-polling both ports
//     and timing its polls that moved packets (SoftAsicConfig::record_busy_cycles, as testpmd
//     --record-core-cycles does). Prints "ready" once the rules are in, then reads commands on
//     stdin: "clear" starts a window, "show" prints the window's busy cycles, packets and port
//     counters as one JSON line, "quit" or end of input stops.
//
//   softasic_fwd generate --in SOCK --out SOCK --flows N [--seconds S] [--warmup S] [--copy]
//                         [--lcore L]
//     memif clients (zero copy: the generator's buffers are the shared memory, so its side
//     costs no copies and the process under test is the bottleneck): keeps 512 frames of N flows
//     circulating, transmitting into SOCK `--in` what it receives from SOCK `--out` (outer
//     headers stripped back to the 60-byte frame). Prints "window start" after --warmup and
//     "window end" --seconds later, stops sending and waits for "stop" (or end of input) on
//     stdin, then prints one JSON line: frames received per second in the window. --copy: its
//     memif ports copy too.

#include <rte_cycles.h>
#include <rte_dev.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "bench/softasic/bench_traffic.h"
#include "common/eal.h"
#include "soc_agent/device/softasic.h"

namespace nicswitch::device {
namespace {

constexpr uint16_t kBurst = 32;
constexpr int kInFlight = 512;  // frames circulating (memif rings hold 1024 slots)

struct Args {
  std::string mode;
  std::string dir;
  std::string in_sock;
  std::string out_sock;
  uint32_t rules = 1;
  uint32_t flows = 1;
  bool encap = false;
  bool zero_copy = true;
  double seconds = 2.0;
  double warmup = 0.5;
  std::string lcores = "0,1";
  std::string lcore = "0";
};

bool ParseArgs(int argc, char** argv, Args* a) {
  if (argc < 2) {
    return false;
  }
  a->mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string k = argv[i];
    const bool has_value = i + 1 < argc;
    if (k == "--encap") {
      a->encap = true;
    } else if (k == "--copy") {
      a->zero_copy = false;
    } else if (!has_value) {
      return false;
    } else if (k == "--dir") {
      a->dir = argv[++i];
    } else if (k == "--in") {
      a->in_sock = argv[++i];
    } else if (k == "--out") {
      a->out_sock = argv[++i];
    } else if (k == "--rules") {
      if (!absl::SimpleAtoi(argv[++i], &a->rules) || a->rules == 0) {
        return false;
      }
    } else if (k == "--flows") {
      if (!absl::SimpleAtoi(argv[++i], &a->flows) || a->flows == 0) {
        return false;
      }
    } else if (k == "--seconds") {
      if (!absl::SimpleAtod(argv[++i], &a->seconds) || a->seconds <= 0) {
        return false;
      }
    } else if (k == "--warmup") {
      if (!absl::SimpleAtod(argv[++i], &a->warmup) || a->warmup < 0) {
        return false;
      }
    } else if (k == "--lcores") {
      a->lcores = argv[++i];
    } else if (k == "--lcore") {
      a->lcore = argv[++i];
    } else {
      return false;
    }
  }
  if (a->mode == "serve") {
    return !a->dir.empty();
  }
  return a->mode == "generate" && !a->in_sock.empty() && !a->out_sock.empty();
}

absl::Status Eal(const std::string& lcores, bool single_file_segments) {
  std::vector<std::string> args = {"-l",
                                   lcores,
                                   "--no-pci",
                                   "--file-prefix",
                                   absl::StrCat("softasic-fwd-", getpid()),
                                   "--no-telemetry",
                                   "--log-level=lib.eal:warning"};
  if (single_file_segments) {
    // memif zero copy shares the segments' fds (incompatible with --huge-unlink: the caller
    // removes /dev/hugepages/softasic-fwd-<pid>* after the run). Memory is reserved up front
    // (-m): the PMD announces the segments present at connect time as one region of their
    // summed length, so a hole left by dynamic allocation would put buffers past the end of
    // what the peer maps, and the peer's PMD (which does not bounds-check descriptors)
    // would fault reading them.
    args.insert(args.end(), {"--single-file-segments", "-m", "256"});
  } else {
    args.push_back("--huge-unlink");
  }
  return InitEal("softasic_fwd", args);
}

std::string MemifServer(const std::string& name, const std::string& sock) {
  return absl::StrCat("net_memif_", name, ",role=server,id=0,socket=", sock, ",socket-abstract=no");
}

int Serve(const Args& a) {
  if (absl::Status s = Eal(a.lcores, false); !s.ok()) {
    std::fprintf(stderr, "serve: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  SoftAsicConfig config;
  config.name = "fwd";
  config.uplink.devargs = MemifServer("up", a.dir + "/up.sock");
  config.vfs = {SoftAsicPortConfig{MemifServer("vf0", a.dir + "/vf0.sock"), -1}};
  config.max_rules = std::max<uint32_t>(a.rules, 1u << 20);
  config.datapath_lcores = {rte_get_next_lcore(rte_get_main_lcore(), 1, 0)};
  config.idle_sleep_max_us = 0;  // a dedicated core, like testpmd's forwarding core
  config.record_busy_cycles = true;
  config.register_telemetry = false;
  auto created = SoftAsic::Create(config);
  if (!created.ok()) {
    std::fprintf(stderr, "serve: %s\n", created.status().ToString().c_str());
    return 1;
  }
  SoftAsic& sa = **created;
  RuleSet rules(sa.ports()[1].representor_port_id, sa.ports()[0].representor_port_id, a.encap);
  if (absl::Status s = rules.Install(sa, 0, a.rules, nullptr); !s.ok()) {
    std::fprintf(stderr, "serve: installing rules: %s\n", s.ToString().c_str());
    return 1;
  }
  sa.ReclaimNow();
  if (absl::Status s = sa.Start(); !s.ok()) {
    std::fprintf(stderr, "serve: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("ready: %u rules%s on lcore %u\n", a.rules, a.encap ? " with VXLAN encap" : "",
              config.datapath_lcores[0]);
  std::fflush(stdout);
  // Commands on stdin: "clear" starts a measurement window, "show" prints the window's figures,
  // "quit" (or end of input) stops.
  SoftAsicLcoreStats base{};
  SoftAsicPortStats up_base;
  SoftAsicPortStats vf_base;
  for (std::string line; std::getline(std::cin, line) && line != "quit";) {
    const SoftAsicLcoreStats load = sa.LcoreStats()[0];
    const SoftAsicPortStats up = sa.PortStats(0);
    const SoftAsicPortStats vf = sa.PortStats(1);
    if (line == "clear") {
      base = load;
      up_base = up;
      vf_base = vf;
    } else if (line == "show") {
      const uint64_t cycles = load.busy_cycles - base.busy_cycles;
      const uint64_t packets = load.busy_packets - base.busy_packets;
      std::printf(
          "{\"rules\": %u, \"encap\": %s, \"busy_cycles\": %lu, \"busy_packets\": %lu, "
          "\"cycles_per_packet\": %.2f, \"vf_rx\": %lu, \"vf_misses\": %lu, \"vf_drops\": %lu, "
          "\"uplink_tx\": %lu, \"uplink_drops\": %lu, \"tsc_hz\": %lu}\n",
          a.rules, a.encap ? "true" : "false", static_cast<unsigned long>(cycles),
          static_cast<unsigned long>(packets),
          packets ? static_cast<double>(cycles) / static_cast<double>(packets) : 0.0,
          static_cast<unsigned long>(vf.rx - vf_base.rx),
          static_cast<unsigned long>(vf.misses - vf_base.misses),
          static_cast<unsigned long>(vf.drops - vf_base.drops),
          static_cast<unsigned long>(up.tx - up_base.tx),
          static_cast<unsigned long>(up.drops - up_base.drops),
          static_cast<unsigned long>(rte_get_tsc_hz()));
      std::fflush(stdout);
    } else {
      std::fprintf(stderr, "serve: unknown command '%s' (clear, show, quit)\n", line.c_str());
    }
  }
  sa.Stop();  // the datapath stops polling before anything is torn down
  ExitWithoutTeardown(0);
}

int ProbeClient(const std::string& name, const std::string& sock, rte_mempool* pool,
                bool zero_copy) {
  const std::string devargs =
      absl::StrCat("net_memif_", name, ",role=client,id=0,socket=", sock, ",socket-abstract=no",
                   zero_copy ? ",zero-copy=yes" : "");
  uint16_t port = 0;
  if (rte_dev_probe(devargs.c_str()) != 0 ||
      rte_eth_dev_get_port_by_name(absl::StrCat("net_memif_", name).c_str(), &port) != 0) {
    std::fprintf(stderr, "generate: cannot create %s\n", devargs.c_str());
    return -1;
  }
  rte_eth_conf conf{};
  if (rte_eth_dev_configure(port, 1, 1, &conf) != 0 ||
      rte_eth_rx_queue_setup(port, 0, 1024, 0, nullptr, pool) != 0 ||
      rte_eth_tx_queue_setup(port, 0, 1024, 0, nullptr) != 0 || rte_eth_dev_start(port) != 0) {
    std::fprintf(stderr, "generate: cannot start %s\n", devargs.c_str());
    return -1;
  }
  return port;
}

int Generate(const Args& a) {
  if (absl::Status s = Eal(a.lcore, true); !s.ok()) {
    std::fprintf(stderr, "generate: %s\n", std::string(s.message()).c_str());
    return 1;
  }
  rte_mempool* pool =
      rte_pktmbuf_pool_create("gen_pool", 8191, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  if (pool == nullptr) {
    std::fprintf(stderr, "generate: no mbuf pool: %s\n", rte_strerror(rte_errno));
    return 1;
  }
  const int in = ProbeClient("in", a.in_sock, pool, a.zero_copy);
  const int out = ProbeClient("out", a.out_sock, pool, a.zero_copy);
  if (in < 0 || out < 0) {
    return 1;
  }
  if (!WaitLinkUp(static_cast<uint16_t>(in)) || !WaitLinkUp(static_cast<uint16_t>(out))) {
    std::fprintf(stderr, "generate: memif links did not come up\n");
    return 1;
  }
  // Our side is up once the server answered; give the server's side (its connection handler
  // runs on its interrupt thread) time to mark the link connected before its TX is used, and
  // post our receive buffers (an RX poll does) before the first frame is sent: until then the
  // server has no slot to transmit into and drops (testpmd's io-forwarding does not retry).
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  rte_mbuf* pk[kBurst];
  if (const uint16_t k = rte_eth_rx_burst(static_cast<uint16_t>(out), 0, pk, kBurst); k > 0) {
    rte_pktmbuf_free_bulk(pk, k);
  }
  std::mt19937 rng(42);
  std::uniform_int_distribution<uint32_t> pick(0, a.flows - 1);
  int filled = 0;
  auto fill = [&] {
    for (int i = 0; i < kInFlight; ++i) {
      rte_mbuf* m = rte_pktmbuf_alloc(pool);
      if (m == nullptr) {
        break;
      }
      WriteFrame(m, pick(rng));
      if (rte_eth_tx_burst(static_cast<uint16_t>(in), 0, &m, 1) == 1) {
        ++filled;
      } else {
        rte_pktmbuf_free(m);
      }
    }
  };
  fill();
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_rdtsc() + static_cast<uint64_t>(a.warmup * hz);
  const uint64_t end = start + static_cast<uint64_t>(a.seconds * hz);
  uint64_t received = 0;
  uint64_t polls = 0;
  uint64_t empty_polls = 0;
  uint64_t resent_short = 0;
  bool counting = false;
  uint64_t last_rx = rte_rdtsc();
  for (uint64_t now = rte_rdtsc(); now < end; now = rte_rdtsc()) {
    if (now < start && now - last_rx > hz / 10) {
      // Nothing came back for 100 ms of the warm-up: the forwarder dropped the frames (a port
      // whose peer side was not ready yet on a loaded host). Send a new set.
      fill();
      last_rx = now;
    }
    if (!counting && now >= start) {
      counting = true;
      received = polls = empty_polls = 0;
      std::printf("window start\n");  // fwd_bench.py clears the forwarder's counters here
      std::fflush(stdout);
    }
    const uint16_t k = rte_eth_rx_burst(static_cast<uint16_t>(out), 0, pk, kBurst);
    ++polls;
    if (k == 0) {
      ++empty_polls;
      continue;
    }
    received += k;
    last_rx = now;
    for (uint16_t j = 0; j < k; ++j) {
      rte_pktmbuf_adj(pk[j], static_cast<uint16_t>(pk[j]->pkt_len - 60));
    }
    const uint16_t sent = rte_eth_tx_burst(static_cast<uint16_t>(in), 0, pk, k);
    if (sent < k) {
      resent_short += k - sent;
      rte_pktmbuf_free_bulk(pk + sent, k - sent);
    }
  }
  // The forwarder is read and stopped while this side stays connected and no longer polls (a
  // memif peer that disconnects resets the forwarder's port counters, and a peer that goes
  // while the other side polls can fault in DPDK 22.11's memif PMD).
  std::printf("window end\n");
  std::fflush(stdout);
  for (std::string line; std::getline(std::cin, line) && line != "stop";) {
  }
  const double mpps = received / a.seconds / 1e6;
  std::printf(
      "{\"flows\": %u, \"sent_in_warmup\": %d, \"seconds\": %.3f, \"received\": %lu, "
      "\"mpps\": %.3f, \"tx_refused\": %lu, \"rx_polls\": %lu, \"empty_rx_polls\": %lu}\n",
      a.flows, filled, a.seconds, static_cast<unsigned long>(received), mpps,
      static_cast<unsigned long>(resent_short), static_cast<unsigned long>(polls),
      static_cast<unsigned long>(empty_polls));
  ExitWithoutTeardown(0);
}

}  // namespace
}  // namespace nicswitch::device

int main(int argc, char** argv) {
  nicswitch::device::Args a;
  if (!nicswitch::device::ParseArgs(argc, argv, &a)) {
    std::fprintf(stderr,
                 "usage: %s serve --dir D --rules N [--encap] [--lcores 0,1]\n"
                 "       %s generate --in SOCK --out SOCK --flows N [--seconds S] [--warmup S] "
                 "[--copy] [--lcore L]\n",
                 argv[0], argv[0]);
    return 2;
  }
  return a.mode == "serve" ? nicswitch::device::Serve(a) : nicswitch::device::Generate(a);
}
