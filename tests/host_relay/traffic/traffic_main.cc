// nicswitch-traffic: sends N UDP frames of given sizes with a checksummed, verifiable payload on
// a DPDK port, receives and verifies what arrives, and prints a JSON summary. Used as the guest
// (net_virtio_user on a relay's socket) and as the VF's peer (net_memif server) in integration
// tests, end-to-end tests and benchmarks.
#include <rte_byteorder.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_ether.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_udp.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/eal.h"

namespace {

constexpr uint32_t kMagic = 0x4e535754;  // "NSWT"
constexpr uint16_t kHeaders = sizeof(rte_ether_hdr) + sizeof(rte_ipv4_hdr) + sizeof(rte_udp_hdr);
constexpr uint16_t kBurst = 32;
constexpr uint32_t kAnyStream = ~0u;

struct PayloadHeader {
  uint32_t magic;
  uint32_t seq;
  uint32_t frame_len;
  uint32_t stream;
};

uint8_t PatternByte(uint32_t seq, uint32_t i) { return static_cast<uint8_t>(seq * 31 + i * 7 + 1); }

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

struct Stats {
  uint64_t sent = 0, sent_bytes = 0, received = 0, received_bytes = 0, valid = 0, corrupt = 0,
           foreign = 0, echoed = 0;
  std::vector<uint64_t> rx_per_queue, tx_per_queue;
};

// Builds frame `seq` of `len` bytes (without FCS) into `m`.
void BuildFrame(rte_mbuf* m, uint32_t seq, uint16_t len, uint32_t stream, bool csum_offload) {
  uint8_t* p = rte_pktmbuf_mtod(m, uint8_t*);
  auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
  const rte_ether_addr dst = {{0x02, 0, 0, 0, 0, 0x02}}, src = {{0x02, 0, 0, 0, 0, 0x01}};
  eth->dst_addr = dst;
  eth->src_addr = src;
  eth->ether_type = rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  std::memset(ip, 0, sizeof(*ip));
  ip->version_ihl = RTE_IPV4_VHL_DEF;
  ip->total_length = rte_cpu_to_be_16(len - sizeof(rte_ether_hdr));
  ip->time_to_live = 64;
  ip->next_proto_id = IPPROTO_UDP;
  ip->src_addr = rte_cpu_to_be_32(0x0a000001);
  ip->dst_addr = rte_cpu_to_be_32(0x0a000002);
  ip->hdr_checksum = rte_ipv4_cksum(ip);
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  udp->src_port = rte_cpu_to_be_16(static_cast<uint16_t>(1024 + stream));
  udp->dst_port = rte_cpu_to_be_16(4789 + 1);
  udp->dgram_len = rte_cpu_to_be_16(len - sizeof(rte_ether_hdr) - sizeof(rte_ipv4_hdr));
  udp->dgram_cksum = 0;
  uint8_t* payload = reinterpret_cast<uint8_t*>(udp + 1);
  const PayloadHeader ph{kMagic, seq, len, stream};
  std::memcpy(payload, &ph, sizeof(ph));
  for (uint32_t i = sizeof(ph); i < len - kHeaders; ++i) {
    payload[i] = PatternByte(seq, i);
  }
  m->data_len = len;
  m->pkt_len = len;
  if (csum_offload) {
    // The device completes the checksum (virtio: VIRTIO_NET_HDR_F_NEEDS_CSUM); the field holds
    // the pseudo-header sum, as DPDK's offload contract asks.
    m->l2_len = sizeof(rte_ether_hdr);
    m->l3_len = sizeof(rte_ipv4_hdr);
    m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
    udp->dgram_cksum = rte_ipv4_phdr_cksum(ip, m->ol_flags);
    return;
  }
  udp->dgram_cksum = rte_ipv4_udptcp_cksum(ip, udp);
}

// True when the frame is one of ours, intact: IP and UDP checksums, length, every byte.
bool VerifyFrame(const uint8_t* p, uint32_t len, uint32_t stream, bool* ours) {
  *ours = false;
  if (len < kHeaders + sizeof(PayloadHeader)) {
    return false;
  }
  const auto* eth = reinterpret_cast<const rte_ether_hdr*>(p);
  const auto* ip = reinterpret_cast<const rte_ipv4_hdr*>(eth + 1);
  const auto* udp = reinterpret_cast<const rte_udp_hdr*>(ip + 1);
  const uint8_t* payload = reinterpret_cast<const uint8_t*>(udp + 1);
  PayloadHeader ph;
  std::memcpy(&ph, payload, sizeof(ph));
  if (eth->ether_type != rte_cpu_to_be_16(RTE_ETHER_TYPE_IPV4) || ph.magic != kMagic ||
      (stream != kAnyStream && ph.stream != stream)) {
    return false;  // not ours (another stream's frames count as foreign)
  }
  *ours = true;
  static int reports = 0;
  if (ph.frame_len != len) {
    if (reports++ < 5) {
      std::fprintf(stderr, "corrupt frame seq %u: %u bytes, sent as %u\n", ph.seq, len,
                   ph.frame_len);
    }
    return false;
  }
  for (uint32_t i = sizeof(ph); i < len - kHeaders; ++i) {
    if (payload[i] != PatternByte(ph.seq, i)) {
      if (reports++ < 5) {
        std::fprintf(stderr, "corrupt frame seq %u (%u bytes): first bad byte at %u\n", ph.seq, len,
                     i + kHeaders);
      }
      return false;
    }
  }
  if (rte_ipv4_cksum(ip) != 0 || __rte_ipv4_udptcp_cksum(ip, udp) != 0xffff) {
    return false;  // sum incl. the field: all ones
  }
  return true;
}

// Turns a frame into the answer a peer would send: source and destination swapped at every
// layer. One's-complement sums do not depend on order, so both checksums stay valid.
void SwapAddresses(uint8_t* p) {
  auto* eth = reinterpret_cast<rte_ether_hdr*>(p);
  std::swap(eth->src_addr, eth->dst_addr);
  auto* ip = reinterpret_cast<rte_ipv4_hdr*>(eth + 1);
  // Packed fields: swapped by value (g++ refuses references to them, as std::swap takes).
  const rte_be32_t src_addr = ip->src_addr;
  ip->src_addr = ip->dst_addr;
  ip->dst_addr = src_addr;
  auto* udp = reinterpret_cast<rte_udp_hdr*>(ip + 1);
  const rte_be16_t src_port = udp->src_port;
  udp->src_port = udp->dst_port;
  udp->dst_port = src_port;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "nicswitch-traffic: send N UDP frames with a checksummed payload on a DPDK port, receive\n"
      "and verify, print a JSON summary. Exit 0 when every expected frame arrived intact.\n"
      "  nicswitch-traffic --send 1000 --sizes 64,1500,9000 --expect 1000 -- <EAL args>"};
  std::string port_name;
  uint64_t send = 0, expect = 0;
  std::vector<uint32_t> sizes = {64};
  double timeout_s = 10, duration_s = 0, wait_link_s = 10, start_delay_s = 0.2, linger_s = 0;
  uint16_t queues = 1;
  uint32_t stream = 0;
  uint64_t send_after_rx = 0;
  bool echo = false, reply = false, no_rx = false, no_tx = false, csum_offload = false;
  double pps = 0;
  double first_gap_ms = 0;
  app.add_option("--port", port_name, "Port name (default: the first port)");
  app.add_option("--send", send, "Frames to send (0: none, unless --duration-s)");
  app.add_option("--sizes", sizes, "Frame sizes without FCS, 60..9018, used in turn")
      ->delimiter(',');
  app.add_option("--expect", expect, "Frames to receive and verify");
  app.add_option("--queues", queues, "RX/TX queues; frame i goes out on queue i % queues");
  app.add_option("--timeout-s", timeout_s, "Give up after this long (default 10)");
  app.add_option("--duration-s", duration_s,
                 "Benchmark mode: send as fast as possible for this long (with --send 0)");
  app.add_option("--wait-link-s", wait_link_s, "Wait this long for link up (default 10)");
  app.add_option("--start-delay-s", start_delay_s, "Pause after link up before sending");
  app.add_option("--linger-s", linger_s, "Keep receiving this long after everything is done");
  app.add_option("--send-after-rx", send_after_rx,
                 "Start sending only after this many frames arrived (the peer is up)");
  app.add_flag("--echo", echo,
               "Reflector: send every intact frame (any stream) back on the queue it came in on");
  app.add_flag("--reply", reply,
               "With --echo: answer like a peer VM, swapping Ethernet, IPv4 and UDP source and "
               "destination (checksums stay valid), so the answer can cross a virtual switch");
  app.add_flag("--no-rx", no_rx, "Never poll RX (a guest that posts no new RX buffers)");
  app.add_flag("--tx-csum-offload", csum_offload,
               "Leave UDP checksums to the device (RTE_ETH_TX_OFFLOAD_UDP_CKSUM; fails if the port "
               "cannot)");
  app.add_flag("--no-tx", no_tx, "Benchmark mode: only receive");
  app.add_option("--pps", pps, "Pace sending to this many frames per second (0: flat out)");
  app.add_option("--first-gap-ms", first_gap_ms,
                 "Pause after the first frame, like a connection's first packet waiting for its "
                 "answer, so a virtual switch sets the flow up before the rest arrive (default 0)");
  app.add_option("--stream", stream, "Stream id carried in the payload (UDP source port)");
  std::vector<std::string> eal_args;
  app.add_option("eal", eal_args, "EAL arguments (after --)");
  CLI11_PARSE(app, argc, argv);
  for (uint32_t s : sizes) {
    if (s < 60 || s > 9018) {
      std::fprintf(stderr, "--sizes: %u is not in [60, 9018]\n", s);
      return 2;
    }
  }
  if (absl::Status s = nicswitch::InitEal("nicswitch-traffic", eal_args); !s.ok()) {
    std::fprintf(stderr, "%s\n", s.ToString().c_str());
    return 1;
  }
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);
  uint16_t port = 0;
  if (!port_name.empty() ? rte_eth_dev_get_port_by_name(port_name.c_str(), &port) != 0
                         : rte_eth_dev_count_avail() == 0) {
    std::fprintf(stderr, "no port %s\n", port_name.c_str());
    return 1;
  }
  if (port_name.empty()) {
    port = static_cast<uint16_t>(rte_eth_find_next(0));
  }
  // RX: default-sized buffers (a virtio guest then posts 12 + 2048-byte descriptors).
  rte_mempool* rx_pool = rte_pktmbuf_pool_create("traffic_rx", 4096, 256, 0,
                                                 RTE_MBUF_DEFAULT_BUF_SIZE, rte_socket_id());
  rte_mempool* tx_pool = rte_pktmbuf_pool_create("traffic_tx", 2048, 256, 0,
                                                 RTE_PKTMBUF_HEADROOM + 9018, rte_socket_id());
  if (rx_pool == nullptr || tx_pool == nullptr) {
    std::fprintf(stderr, "cannot create mbuf pools\n");
    return 1;
  }
  rte_eth_conf conf = {};
  rte_eth_dev_info info;
  rte_eth_dev_info_get(port, &info);
  // Link-state interrupts: virtio_user in server mode re-accepts a restarted backend from its
  // LSC handler.
  if (*info.dev_flags & RTE_ETH_DEV_INTR_LSC) {
    conf.intr_conf.lsc = 1;
  }
  if (info.rx_offload_capa & RTE_ETH_RX_OFFLOAD_SCATTER) {
    conf.rxmode.offloads |= RTE_ETH_RX_OFFLOAD_SCATTER;
  }
  if (csum_offload) {
    if (!(info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_UDP_CKSUM)) {
      std::fprintf(stderr, "--tx-csum-offload: port %u cannot offload UDP checksums\n", port);
      return 1;
    }
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_UDP_CKSUM;
  }
  if (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) {
    conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
  }
  if (info.max_rx_pktlen >= 9018 && info.max_mtu >= 9000) {
    conf.rxmode.mtu = 9000;
  }
  if (rte_eth_dev_configure(port, queues, queues, &conf) != 0) {
    std::fprintf(stderr, "cannot configure port %u with %u queues\n", port, queues);
    return 1;
  }
  for (uint16_t q = 0; q < queues; ++q) {
    if (rte_eth_rx_queue_setup(port, q, 512, rte_socket_id(), nullptr, rx_pool) != 0 ||
        rte_eth_tx_queue_setup(port, q, 512, rte_socket_id(), nullptr) != 0) {
      std::fprintf(stderr, "cannot set up queue %u\n", q);
      return 1;
    }
  }
  if (rte_eth_dev_start(port) != 0) {
    std::fprintf(stderr, "cannot start port %u\n", port);
    return 1;
  }
  using Clock = std::chrono::steady_clock;
  const auto link_deadline = Clock::now() + std::chrono::duration<double>(wait_link_s);
  rte_eth_link link = {};
  while (!g_stop && Clock::now() < link_deadline) {
    rte_eth_link_get_nowait(port, &link);
    if (link.link_status == RTE_ETH_LINK_UP) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(start_delay_s));

  Stats st;
  st.rx_per_queue.assign(queues, 0);
  st.tx_per_queue.assign(queues, 0);
  std::vector<uint8_t> linear(9018 + 64);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(timeout_s);
  const bool bench = duration_s > 0;
  const auto bench_end = start + std::chrono::duration<double>(duration_s);
  uint64_t seq = 0;
  uint64_t tx_round = 0;
  Clock::time_point pace_start = start;
  Clock::time_point done_at{};
  bool done = false;
  const uint64_t tsc0 = rte_rdtsc();
  while (!g_stop) {
    const auto now = Clock::now();
    if (now > deadline && !bench) {
      break;
    }
    if (bench && now > bench_end) {
      break;
    }
    // Send. After the first frame, wait --first-gap-ms; pacing then restarts from there.
    if (seq == 1 && first_gap_ms > 0 && pace_start == start) {
      pace_start = now + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double, std::milli>(first_gap_ms));
    }
    const uint64_t paced_seq = seq >= 1 && pace_start != start ? seq - 1 : seq;
    const bool paced_ok =
        now >= pace_start &&
        (pps <= 0 || static_cast<double>(paced_seq) <
                         pps * std::chrono::duration<double>(now - pace_start).count() + 1);
    if (((bench && !no_tx) || seq < send) && st.received >= send_after_rx && paced_ok) {
      rte_mbuf* pkts[kBurst];
      const uint16_t q = static_cast<uint16_t>(tx_round++ % queues);
      uint16_t n = bench ? kBurst : static_cast<uint16_t>(std::min<uint64_t>(kBurst, send - seq));
      if (pps > 0) {
        n = 1;
      }
      if (rte_pktmbuf_alloc_bulk(tx_pool, pkts, n) == 0) {
        for (uint16_t i = 0; i < n; ++i) {
          BuildFrame(pkts[i], static_cast<uint32_t>(seq + i),
                     static_cast<uint16_t>(sizes[(seq + i) % sizes.size()]), stream, csum_offload);
        }
        const uint16_t sent = rte_eth_tx_burst(port, q, pkts, n);
        for (uint16_t i = 0; i < sent; ++i) {
          st.sent_bytes += pkts[i]->pkt_len;
        }
        if (sent < n) {
          rte_pktmbuf_free_bulk(pkts + sent, n - sent);  // retried with the same seq
        }
        seq += sent;
        st.sent += sent;
        st.tx_per_queue[q] += sent;
      }
    }
    // Receive.
    for (uint16_t q = 0; q < queues && !no_rx; ++q) {
      rte_mbuf* pkts[kBurst];
      rte_mbuf* back[kBurst];
      uint16_t nback = 0;
      const uint16_t n = rte_eth_rx_burst(port, q, pkts, kBurst);
      for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        st.received_bytes += m->pkt_len;
        st.rx_per_queue[q] += 1;
        if (!bench) {
          const uint8_t* data =
              static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, m->pkt_len, linear.data()));
          bool ours = false;
          if (m->pkt_len <= linear.size() &&
              VerifyFrame(data, m->pkt_len, echo ? kAnyStream : stream, &ours)) {
            ++st.valid;
            if (echo) {
              if (reply) {
                SwapAddresses(rte_pktmbuf_mtod(m, uint8_t*));
              }
              back[nback++] = m;
              pkts[i] = nullptr;
            }
          } else if (ours) {
            ++st.corrupt;
          } else {
            ++st.foreign;
          }
        } else {
          ++st.valid;
        }
      }
      st.received += n;
      for (uint16_t i = 0; i < n; ++i) {
        if (pkts[i] != nullptr) {
          rte_pktmbuf_free(pkts[i]);
        }
      }
      uint16_t off = 0;
      for (int tries = 0; off < nback && tries < 1000 && !g_stop; ++tries) {
        off += rte_eth_tx_burst(port, q, back + off, nback - off);
      }
      st.echoed += off;
      if (off < nback) {
        rte_pktmbuf_free_bulk(back + off, nback - off);
      }
    }
    if (!bench && !echo && !done && seq >= send && st.valid + st.corrupt >= expect) {
      done = true;
      done_at = Clock::now();
    }
    if (done && Clock::now() - done_at >= std::chrono::duration<double>(linger_s)) {
      break;
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  const double cycles = static_cast<double>(rte_rdtsc() - tsc0);
  rte_eth_stats es = {};
  rte_eth_stats_get(port, &es);
  std::printf(
      "{\"sent\": %lu, \"sent_bytes\": %lu, \"received\": %lu, \"received_bytes\": %lu, "
      "\"valid\": %lu, \"corrupt\": %lu, \"foreign\": %lu, \"echoed\": %lu, \"expected\": %lu, "
      "\"rx_per_queue\": [%s], \"tx_per_queue\": [%s], \"elapsed_s\": %.6f, \"tsc_hz\": %lu, "
      "\"cycles\": %.0f, \"tx_mpps\": %.4f, \"rx_mpps\": %.4f, \"port_ierrors\": %lu, "
      "\"port_imissed\": %lu}\n",
      st.sent, st.sent_bytes, st.received, st.received_bytes, st.valid, st.corrupt, st.foreign,
      st.echoed, expect, absl::StrJoin(st.rx_per_queue, ", ").c_str(),
      absl::StrJoin(st.tx_per_queue, ", ").c_str(), elapsed, rte_get_tsc_hz(), cycles,
      st.sent / elapsed / 1e6, st.received / elapsed / 1e6, es.ierrors, es.imissed);
  std::fflush(stdout);
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
  nicswitch::CleanupEal();
  if (bench || echo) {
    return 0;
  }
  return (st.sent == send && st.valid >= expect && st.corrupt == 0) ? 0 : 3;
}
