// nicswitch-traffic: sends N UDP datagrams or ICMP echo requests of given sizes with a
// checksummed, verifiable payload on a DPDK port, receives and verifies what arrives (answers:
// ICMP echo replies with the right identifier and sequence number), and prints a JSON summary
// with loss and round-trip times. Used as the guest (net_virtio_user on a relay's socket), as a
// peer VM that answers (--echo --reply), and as the VF's peer (net_memif server) in integration
// tests, end-to-end tests and benchmarks. Frame building and checking: traffic_frames.h.
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <algorithm>
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
#include "tests/host_relay/traffic/traffic_frames.h"

namespace {

using nicswitch::traffic::Addresses;
using nicswitch::traffic::FrameCheck;
using nicswitch::traffic::FrameKind;
using nicswitch::traffic::Protocol;

constexpr uint16_t kBurst = 32;
constexpr uint64_t kMaxTimedFrames = 1u << 24;  // round-trip times are kept for this many

std::atomic<bool> g_stop{false};
void OnSignal(int) { g_stop = true; }

struct Stats {
  uint64_t sent = 0, sent_bytes = 0, received = 0, received_bytes = 0, valid = 0, corrupt = 0,
           foreign = 0, echoed = 0, answered = 0, duplicates = 0;
  std::vector<uint64_t> rx_per_queue, tx_per_queue;
  std::vector<double> rtt_us;
};

// Reports the first few damaged or unexpected frames on stderr.
void ReportBadFrame(const std::string& what) {
  static int reports = 0;
  if (reports++ < 5) {
    std::fprintf(stderr, "%s\n", what.c_str());
  }
}

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) {
    return 0;
  }
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "nicswitch-traffic: send N UDP datagrams or ICMP echo requests with a checksummed payload\n"
      "on a DPDK port, receive and verify (a sender checks the answers: UDP datagrams of its\n"
      "stream, ICMP echo replies with its identifier and sequence numbers), print a JSON summary\n"
      "with loss and round-trip times. Exit 0 when everything was sent and every expected frame\n"
      "arrived intact.\n"
      "  nicswitch-traffic --send 1000 --sizes 64,1500,9000 --expect 1000 -- <EAL args>\n"
      "  nicswitch-traffic --proto icmp --send 100 --pps 10 --expect 100 --dst-ip 10.0.0.2 ...\n"
      "  nicswitch-traffic --echo --reply -- <EAL args>     # a peer VM answering both"};
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
  std::string proto_name = "udp", src_mac = "02:00:00:00:00:01", dst_mac = "02:00:00:00:00:02",
              src_ip = "10.0.0.1", dst_ip = "10.0.0.2";
  Addresses addresses;
  uint32_t flows = 1;
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
  app.add_option("--stream", stream,
                 "Stream id carried in the payload; a receiver counts other streams as foreign "
                 "(default 0)");
  app.add_option("--proto", proto_name,
                 "udp (datagrams) or icmp (echo requests; the answers must be echo replies with "
                 "the request's identifier, sequence number and data); default udp")
      ->check(CLI::IsMember({"udp", "icmp"}));
  app.add_option("--src-mac", src_mac, "Source MAC (default 02:00:00:00:00:01)");
  app.add_option("--dst-mac", dst_mac, "Destination MAC (default 02:00:00:00:00:02)");
  app.add_option("--src-ip", src_ip, "Source IPv4 address (default 10.0.0.1)");
  app.add_option("--dst-ip", dst_ip, "Destination IPv4 address (default 10.0.0.2)");
  auto* o_src_port = app.add_option("--src-port", addresses.src_port,
                                    "UDP source port of flow 0; flow f uses this + f "
                                    "(default 1024 + --stream)");
  app.add_option("--dst-port", addresses.dst_port, "UDP destination port (default 4790)");
  app.add_option("--icmp-id", addresses.icmp_id,
                 "ICMP echo identifier of flow 0; flow f uses this + f (default 4096)");
  app.add_option("--flows", flows,
                 "Flows (UDP source ports / ICMP identifiers); frame i goes on flow i % flows "
                 "(default 1)")
      ->check(CLI::Range(1, 65535));
  std::vector<std::string> eal_args;
  app.add_option("eal", eal_args, "EAL arguments (after --)");
  CLI11_PARSE(app, argc, argv);
  for (uint32_t s : sizes) {
    if (s < nicswitch::traffic::kMinFrameLen || s > nicswitch::traffic::kMaxFrameLen) {
      std::fprintf(stderr, "--sizes: %u is not in [60, 9018]\n", s);
      return 2;
    }
  }
  const Protocol proto = *nicswitch::traffic::ParseProtocol(proto_name);
  {
    auto smac = nicswitch::traffic::ParseMac(src_mac);
    auto dmac = nicswitch::traffic::ParseMac(dst_mac);
    auto sip = nicswitch::traffic::ParseIpv4(src_ip);
    auto dip = nicswitch::traffic::ParseIpv4(dst_ip);
    for (const absl::Status& s : {smac.status(), dmac.status(), sip.status(), dip.status()}) {
      if (!s.ok()) {
        std::fprintf(stderr, "%s\n", s.ToString().c_str());
        return 2;
      }
    }
    addresses.src_mac = *smac;
    addresses.dst_mac = *dmac;
    addresses.src_ip = *sip;
    addresses.dst_ip = *dip;
  }
  if (o_src_port->count() == 0) {
    addresses.src_port = static_cast<uint16_t>(1024 + stream);
  }
  if (csum_offload && proto != Protocol::kUdp) {
    std::fprintf(stderr, "--tx-csum-offload: only with --proto udp\n");
    return 2;
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
  std::vector<uint8_t> linear(nicswitch::traffic::kMaxFrameLen + 64);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(timeout_s);
  const bool bench = duration_s > 0;
  const auto bench_end = start + std::chrono::duration<double>(duration_s);
  // A sender keeps each frame's TX time (TSC) to measure round trips and find duplicates.
  const bool timed = !bench && !echo && send > 0 && send <= kMaxTimedFrames;
  std::vector<uint64_t> tx_tsc(timed ? send : 0, 0);
  std::vector<bool> answered(timed ? send : 0, false);
  if (timed) {
    st.rtt_us.reserve(send);
  }
  const double tsc_per_us = static_cast<double>(rte_get_tsc_hz()) / 1e6;
  // Each flow's first frame goes alone, then --first-gap-ms of silence (the switch sets the
  // flows up), then pacing restarts from there.
  const uint64_t first_frames = first_gap_ms > 0 ? std::min<uint64_t>(flows, send) : 0;
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
    // Send.
    if (first_frames > 0 && seq == first_frames && pace_start == start) {
      pace_start = now + std::chrono::duration_cast<Clock::duration>(
                             std::chrono::duration<double, std::milli>(first_gap_ms));
    }
    const uint64_t paced_seq = pace_start != start ? seq - first_frames : seq;
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
      if (seq < first_frames) {
        n = static_cast<uint16_t>(std::min<uint64_t>(n, first_frames - seq));
      }
      if (rte_pktmbuf_alloc_bulk(tx_pool, pkts, n) == 0) {
        for (uint16_t i = 0; i < n; ++i) {
          rte_mbuf* m = pkts[i];
          const uint32_t frame_seq = static_cast<uint32_t>(seq + i);
          const uint16_t len = static_cast<uint16_t>(sizes[(seq + i) % sizes.size()]);
          nicswitch::traffic::BuildFrame(proto, addresses, {frame_seq, stream, frame_seq % flows},
                                         len, rte_pktmbuf_mtod(m, uint8_t*), csum_offload);
          m->data_len = len;
          m->pkt_len = len;
          if (csum_offload) {
            // The device completes the checksum (virtio: VIRTIO_NET_HDR_F_NEEDS_CSUM).
            m->l2_len = RTE_ETHER_HDR_LEN;
            m->l3_len = sizeof(rte_ipv4_hdr);
            m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_UDP_CKSUM;
          }
        }
        const uint64_t tx_time = rte_rdtsc();
        const uint16_t sent = rte_eth_tx_burst(port, q, pkts, n);
        for (uint16_t i = 0; i < sent; ++i) {
          st.sent_bytes += pkts[i]->pkt_len;
          if (timed) {
            tx_tsc[seq + i] = tx_time;
          }
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
      const uint64_t rx_time = rte_rdtsc();
      for (uint16_t i = 0; i < n; ++i) {
        rte_mbuf* m = pkts[i];
        st.received_bytes += m->pkt_len;
        st.rx_per_queue[q] += 1;
        if (bench) {
          ++st.valid;
          continue;
        }
        if (m->pkt_len > linear.size()) {
          ++st.foreign;
          continue;
        }
        const auto* data =
            static_cast<const uint8_t*>(rte_pktmbuf_read(m, 0, m->pkt_len, linear.data()));
        const FrameCheck c = nicswitch::traffic::CheckFrame(data, m->pkt_len);
        if (c.kind == FrameKind::kForeign) {
          ++st.foreign;
          continue;
        }
        if (c.kind == FrameKind::kCorrupt) {
          ++st.corrupt;
          ReportBadFrame(
              absl::StrCat("corrupt frame seq ", c.seq, " (", m->pkt_len, " bytes): ", c.problem));
          continue;
        }
        if (echo) {
          ++st.valid;
          // Answer on the queue it came in on; an echo reply gets no answer.
          if (nicswitch::traffic::MakeAnswer(rte_pktmbuf_mtod(m, uint8_t*), m->pkt_len, reply)) {
            back[nback++] = m;
            pkts[i] = nullptr;
          }
          continue;
        }
        if (c.stream != stream) {
          ++st.foreign;  // another sender's frame
          continue;
        }
        // A sender checks answers; a pure receiver (sends nothing) accepts requests too.
        const bool request_seen =
            send == 0 && c.kind == FrameKind::kEchoRequest && proto == Protocol::kIcmp;
        if (absl::Status s = nicswitch::traffic::CheckAnswer(c, proto, addresses, stream, flows);
            !s.ok() && !request_seen) {
          ++st.corrupt;
          ReportBadFrame(absl::StrCat("unexpected frame seq ", c.seq, ": ", s.message()));
          continue;
        }
        ++st.valid;
        if (timed && c.seq < send && tx_tsc[c.seq] != 0) {
          if (answered[c.seq]) {
            ++st.duplicates;
          } else {
            answered[c.seq] = true;
            ++st.answered;
            st.rtt_us.push_back(static_cast<double>(rx_time - tx_tsc[c.seq]) / tsc_per_us);
          }
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
  const double rtt_min =
      st.rtt_us.empty() ? 0 : *std::min_element(st.rtt_us.begin(), st.rtt_us.end());
  const double rtt_max =
      st.rtt_us.empty() ? 0 : *std::max_element(st.rtt_us.begin(), st.rtt_us.end());
  double rtt_sum = 0;
  for (double r : st.rtt_us) {
    rtt_sum += r;
  }
  const double rtt_avg = st.rtt_us.empty() ? 0 : rtt_sum / static_cast<double>(st.rtt_us.size());
  const double rtt_p50 = Percentile(st.rtt_us, 0.5);
  const double rtt_p99 = Percentile(st.rtt_us, 0.99);
  // A sender's frames that got no answer (UDP: no datagram of its stream with that seq).
  const uint64_t lost = timed ? st.sent - st.answered : 0;
  std::printf(
      "{\"proto\": \"%s\", \"flows\": %u, \"sent\": %lu, \"sent_bytes\": %lu, "
      "\"received\": %lu, \"received_bytes\": %lu, \"valid\": %lu, \"corrupt\": %lu, "
      "\"foreign\": %lu, \"echoed\": %lu, \"expected\": %lu, \"answered\": %lu, "
      "\"duplicates\": %lu, \"lost\": %lu, \"rtt_us_min\": %.1f, \"rtt_us_avg\": %.1f, "
      "\"rtt_us_p50\": %.1f, \"rtt_us_p99\": %.1f, \"rtt_us_max\": %.1f, "
      "\"rx_per_queue\": [%s], \"tx_per_queue\": [%s], \"elapsed_s\": %.6f, \"tsc_hz\": %lu, "
      "\"cycles\": %.0f, \"tx_mpps\": %.4f, \"rx_mpps\": %.4f, \"port_ierrors\": %lu, "
      "\"port_imissed\": %lu}\n",
      nicswitch::traffic::ProtocolName(proto), flows, st.sent, st.sent_bytes, st.received,
      st.received_bytes, st.valid, st.corrupt, st.foreign, st.echoed, expect, st.answered,
      st.duplicates, lost, rtt_min, rtt_avg, rtt_p50, rtt_p99, rtt_max,
      absl::StrJoin(st.rx_per_queue, ", ").c_str(), absl::StrJoin(st.tx_per_queue, ", ").c_str(),
      elapsed, rte_get_tsc_hz(), cycles, st.sent / elapsed / 1e6, st.received / elapsed / 1e6,
      es.ierrors, es.imissed);
  std::fflush(stdout);
  rte_eth_dev_stop(port);
  rte_eth_dev_close(port);
  nicswitch::CleanupEal();
  if (bench || echo) {
    return 0;
  }
  return (st.sent == send && st.valid >= expect && st.corrupt == 0) ? 0 : 3;
}
