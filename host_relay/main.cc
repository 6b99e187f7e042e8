// nicswitch-relay: the per-VM vhost-user relay between a guest's virtio-net queues and a VF.
#include <csignal>
#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "common/eal.h"
#include "common/logging.h"
#include "common/textproto.h"
#include "host_relay/relay/relay.h"
#include "nicswitch/v1/relay_config.pb.h"
#include "spdlog/spdlog.h"

namespace {

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

}  // namespace

int main(int argc, char** argv) {
  using nicswitch::relay::RelayOptions;
  CLI::App app{
      "nicswitch-relay: vhost-user backend for one VM. Processes the guest's virtio-net rings\n"
      "itself (DPDK rte_vhost external backend) and forwards to a VF queue per queue pair,\n"
      "with zero-copy RX (the VF writes into the guest's posted buffers) and zero-copy TX\n"
      "(guest buffers attached as external mbuf buffers).\n\n"
      "  nicswitch-relay [options] [-- EAL arguments]\n"
      "  nicswitch-relay --config relay.textproto\n\n"
      "Flags override the config file (nicswitch.v1.RelayConfig). Stats: DPDK telemetry\n"
      "command /nicswitch/relay/stats and a periodic log line."};
  std::string config_path, socket, vf, iova_mode, log_level = "info";
  bool client = false, rx_zc = true, tx_zc = true;
  uint32_t queue_pairs = 1, vf_rx_ring = 256, vf_tx_ring = 512, rx_buffer = 2048, max_frame = 9216,
           stats_interval = 10, busy_polls = 20000, pool_size = 4096;
  std::vector<std::string> eal_args;
  app.add_option("--config", config_path, "Text-format nicswitch.v1.RelayConfig file");
  auto* o_socket = app.add_option("--socket", socket, "vhost-user socket path (required)");
  auto* o_client = app.add_flag("--client", client,
                                "Client mode: connect to the VMM's socket and reconnect when it "
                                "goes away (default: server mode, the relay listens)");
  auto* o_vf = app.add_option("--vf", vf,
                              "The VF: PCI address or vdev devargs, e.g. "
                              "net_memif0,role=client,socket=/run/nicswitch/vf0.sock (required)");
  auto* o_qp = app.add_option("--queue-pairs", queue_pairs,
                              "Queue pairs served; virtio pair i <-> VF queue i (default 1)");
  auto* o_rxzc = app.add_option("--rx-zero-copy", rx_zc,
                                "VF -> guest zero copy: VF RX descriptors are the guest's posted "
                                "RX buffers (true/false, default true)");
  auto* o_txzc = app.add_option("--tx-zero-copy", tx_zc,
                                "guest -> VF zero copy: guest TX buffers become external mbuf "
                                "buffers (true/false, default true)");
  auto* o_iova = app.add_option("--iova-mode", iova_mode,
                                "va (IOMMU), pa (physical addresses), sim (CPU-copying vdev VF); "
                                "default sim");
  auto* o_rxring = app.add_option("--vf-rx-ring-size", vf_rx_ring,
                                  "VF RX ring size; not larger than the guest's RX ring "
                                  "(default 256)");
  auto* o_txring = app.add_option("--vf-tx-ring-size", vf_tx_ring, "VF TX ring size (default 512)");
  auto* o_rxbuf = app.add_option("--rx-buffer-size", rx_buffer,
                                 "Zero-copy RX data room: guest RX buffers of 12 + this many bytes "
                                 "are DMA targets, smaller ones are bounced (default 2048)");
  auto* o_frame = app.add_option("--max-frame", max_frame, "Largest frame carried (default 9216)");
  auto* o_stats = app.add_option("--stats-interval-s", stats_interval,
                                 "Seconds between stats log lines, 0 = off (default 10)");
  auto* o_busy = app.add_option("--busy-polls-before-sleep", busy_polls,
                                "Empty poll rounds before sleeping on the guest's kick fds "
                                "(default 20000)");
  uint32_t idle_sleep_ms = 8;
  auto* o_sleep = app.add_option("--idle-sleep-ms", idle_sleep_ms,
                                 "Longest sleep of an idle relay; sleeps back off from 1 ms to "
                                 "this, a guest kick wakes it at once (default 8)");
  auto* o_pool = app.add_option("--pool-size", pool_size, "Copy-path mbufs (default 4096)");
  auto* o_log = app.add_option("--log-level", log_level,
                               "trace, debug, info, warn, error, critical, off (default info)");
  bool check_only = false;
  app.add_flag("--check-config", check_only,
               "Validate the configuration (file and flags) and exit; starts nothing");
  app.add_option("eal", eal_args, "EAL arguments (after --)");
  CLI11_PARSE(app, argc, argv);

  nicswitch::v1::RelayConfig config;
  if (!config_path.empty()) {
    auto file = nicswitch::TextProtoFile::Load(config_path, &config);
    if (!file.ok()) {
      std::fprintf(stderr, "%s\n", file.status().ToString().c_str());
      return 2;
    }
  }
  // Config file first, flags on top.
  RelayOptions options;
  options.socket_path = o_socket->count() ? socket : config.socket();
  options.client = o_client->count() ? client : config.client();
  options.vf = o_vf->count() ? vf : config.vf();
  options.queue_pairs = static_cast<uint16_t>(
      o_qp->count() ? queue_pairs : (config.queue_pairs() ? config.queue_pairs() : 1));
  options.rx_zero_copy = o_rxzc->count()             ? rx_zc
                         : config.has_rx_zero_copy() ? config.rx_zero_copy()
                                                     : true;
  options.tx_zero_copy = o_txzc->count()             ? tx_zc
                         : config.has_tx_zero_copy() ? config.tx_zero_copy()
                                                     : true;
  const std::string iova = o_iova->count() ? iova_mode : config.iova_mode();
  if (!iova.empty()) {
    auto mode = nicswitch::relay::ParseIovaMode(iova);
    if (!mode.ok()) {
      std::fprintf(stderr, "iova_mode: %s\n", mode.status().ToString().c_str());
      return 2;
    }
    options.iova_mode = *mode;
  }
  auto pick = [](CLI::Option* o, uint32_t flag, uint32_t file, uint32_t def) {
    return o->count() ? flag : (file ? file : def);
  };
  options.vf_rx_ring_size =
      static_cast<uint16_t>(pick(o_rxring, vf_rx_ring, config.vf_rx_ring_size(), 256));
  options.vf_tx_ring_size =
      static_cast<uint16_t>(pick(o_txring, vf_tx_ring, config.vf_tx_ring_size(), 512));
  options.rx_buffer_size =
      static_cast<uint16_t>(pick(o_rxbuf, rx_buffer, config.rx_buffer_size(), 2048));
  options.max_frame = pick(o_frame, max_frame, config.max_frame(), 9216);
  options.stats_interval_s = o_stats->count()                ? stats_interval
                             : config.has_stats_interval_s() ? config.stats_interval_s()
                                                             : 10;
  options.busy_polls_before_sleep =
      pick(o_busy, busy_polls, config.busy_polls_before_sleep(), 20000);
  options.pool_size = pick(o_pool, pool_size, config.pool_size(), 4096);
  options.idle_sleep_ms = pick(o_sleep, idle_sleep_ms, config.idle_sleep_ms(), 8);
  const std::string level =
      o_log->count() || config.logging().level().empty() ? log_level : config.logging().level();
  if (absl::Status s = nicswitch::SetUpLogging("nicswitch-relay", level); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }
  if (absl::Status s = nicswitch::relay::ValidateRelayOptions(options); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 2;
  }
  if (check_only) {
    std::printf("%s: configuration is valid\n",
                config_path.empty() ? "command line" : config_path.c_str());
    return 0;
  }
  std::vector<std::string> eal(config.eal().args().begin(), config.eal().args().end());
  eal.insert(eal.end(), eal_args.begin(), eal_args.end());
  if (absl::Status s = nicswitch::InitEal("nicswitch-relay", eal); !s.ok()) {
    spdlog::critical("{}", s.ToString());
    return 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  int rc = 0;
  {
    auto relay = nicswitch::relay::Relay::Create(options);
    if (!relay.ok()) {
      spdlog::critical("{}", relay.status().ToString());
      rc = 1;
    } else if (absl::Status s = (*relay)->Run(g_stop); !s.ok()) {
      spdlog::critical("{}", s.ToString());
      rc = 1;
    } else {
      std::printf("%s", (*relay)->StatsText().c_str());
      std::fflush(stdout);
    }
  }
  spdlog::info("shutdown: cleaning up EAL");
  nicswitch::CleanupEal();
  spdlog::info("shutdown: done");
  spdlog::default_logger()->flush();
  return rc;
}
