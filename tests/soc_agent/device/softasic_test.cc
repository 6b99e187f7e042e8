// softasic integration tests: real ethdevs (net_ring ports made by the test, net_pcap, the
// softasic's own rte_eth_from_rings representors), rules given as rte_flow arrays.

#include "soc_agent/device/softasic.h"

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/eal.h"
#include "flowrules/rule.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/soc_agent/device/flow_builder.h"
#include "tests/soc_agent/device/packet_util.h"
#include "tests/support/telemetry_client.h"
#include "tests/support/test_env.h"

namespace nicswitch::device {
namespace {

using ::nicswitch::device::testing::BuildUdp4;
using ::nicswitch::device::testing::BuildVxlan4;
using ::nicswitch::device::testing::Bytes;
using ::nicswitch::device::testing::FlowBuilder;
using ::nicswitch::device::testing::FromMbuf;
using ::nicswitch::device::testing::RingPort;
using ::nicswitch::device::testing::ToMbuf;
using ::nicswitch::device::testing::Udp4;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::SizeIs;

class SoftAsicTest : public ::testing::Test {
 protected:
  void TearDown() override {
    sa_.reset();
    for (RingPort* p : {&uplink_, &vf0_, &vf1_}) {
      if (p->port_id >= 0) {
        p->Drain();
        rte_eth_dev_stop(p->port_id);
        rte_eth_dev_close(p->port_id);
        rte_ring_free(p->inject);
        rte_ring_free(p->capture);
      }
    }
    rte_mempool_free(pool_);
    CleanupEal();
  }

  // `telemetry`: keep EAL's telemetry socket (TestEalArgs turns it off).
  void StartEal(const std::string& lcores = "0", int memory_mb = 256, bool telemetry = false) {
    std::vector<std::string> args = testenv::TestEalArgs("softasic_test", {}, memory_mb, lcores);
    if (telemetry) {
      std::erase(args, "--no-telemetry");
    }
    ASSERT_TRUE(InitEal("softasic_test", args).ok());
    pool_ = rte_pktmbuf_pool_create("test_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    ASSERT_NE(pool_, nullptr);
  }

  // Uplink + two VFs on ring ethdevs (port ids 0, 1, 2; representors 3, 4, 5).
  void MakeSwitch(SoftAsicConfig config = {}) {
    uplink_ = RingPort::Make("uplink", 16384);
    vf0_ = RingPort::Make("vf0", 16384);
    vf1_ = RingPort::Make("vf1", 16384);
    ASSERT_GE(uplink_.port_id, 0);
    ASSERT_GE(vf0_.port_id, 0);
    ASSERT_GE(vf1_.port_id, 0);
    config.uplink.port_id = uplink_.port_id;
    config.vfs = {SoftAsicPortConfig{"", vf0_.port_id}, SoftAsicPortConfig{"", vf1_.port_id}};
    auto sa = SoftAsic::Create(config);
    ASSERT_TRUE(sa.ok()) << sa.status();
    sa_ = std::move(*sa);
  }

  uint16_t Rep(int index) const { return sa_->ports()[index].representor_port_id; }

  absl::StatusOr<uint32_t> Install(FlowBuilder& f) {
    return sa_->CreateFlow(sa_->ports()[0].port_id, f.attr(), f.pattern(), f.actions());
  }

  void Send(const RingPort& port, const Bytes& frame, int copies = 1) {
    for (int i = 0; i < copies; ++i) {
      rte_mbuf* m = ToMbuf(pool_, frame);
      ASSERT_NE(m, nullptr);
      ASSERT_TRUE(port.Inject(m));
    }
  }

  // Drains everything the representor `rep_port` received.
  std::vector<Bytes> ReadRepresentor(uint16_t rep_port, std::vector<uint32_t>* marks = nullptr) {
    std::vector<Bytes> out;
    rte_mbuf* pkts[32];
    uint16_t n;
    while ((n = rte_eth_rx_burst(rep_port, 0, pkts, 32)) > 0) {
      for (uint16_t i = 0; i < n; ++i) {
        out.push_back(FromMbuf(pkts[i]));
        if (marks != nullptr) {
          marks->push_back((pkts[i]->ol_flags & RTE_MBUF_F_RX_FDIR_ID) ? pkts[i]->hash.fdir.hi : 0);
        }
        rte_pktmbuf_free(pkts[i]);
      }
    }
    return out;
  }

  rte_mempool* pool_ = nullptr;
  RingPort uplink_;
  RingPort vf0_;
  RingPort vf1_;
  std::unique_ptr<SoftAsic> sa_;
};

bool Ipv4ChecksumOk(const Bytes& frame, size_t l3) {
  return rte_raw_cksum(frame.data() + l3, 20) == 0xffff;
}

TEST_F(SoftAsicTest, MissArrivesUnchangedOnTheInputPortsRepresentor) {
  StartEal();
  MakeSwitch();
  const Bytes frame = BuildUdp4(Udp4{});
  Send(vf0_, frame);
  Send(uplink_, frame);
  EXPECT_EQ(sa_->PollOnce(), 2u);
  EXPECT_THAT(ReadRepresentor(Rep(1)), ElementsAre(frame));
  EXPECT_THAT(ReadRepresentor(Rep(0)), ElementsAre(frame));
  EXPECT_THAT(ReadRepresentor(Rep(2)), IsEmpty());
  EXPECT_EQ(sa_->PortStats(1).misses, 1u);
  EXPECT_EQ(sa_->PortStats(0).misses, 1u);
}

TEST_F(SoftAsicTest, RepresentorTransmitLeavesThroughTheRepresentedPort) {
  StartEal();
  MakeSwitch();
  const Bytes frame = BuildUdp4(Udp4{});
  rte_mbuf* m = ToMbuf(pool_, frame);
  ASSERT_EQ(rte_eth_tx_burst(Rep(2), 0, &m, 1), 1);
  sa_->PollOnce();
  EXPECT_THAT(vf1_.Drain(), ElementsAre(frame));
  EXPECT_THAT(uplink_.Drain(), IsEmpty());
  EXPECT_EQ(sa_->PortStats(2).from_representor, 1u);
  EXPECT_EQ(sa_->PortStats(2).tx, 1u);
}

TEST_F(SoftAsicTest, ExactMatchForwardsAndCounts) {
  StartEal();
  MakeSwitch();
  FlowBuilder f;
  f.InPort(Rep(1)).Eth().Ipv4Dst(0x0a000002).UdpDst(2000).Count().ToPort(Rep(0));
  auto rule = Install(f);
  ASSERT_TRUE(rule.ok()) << rule.status();
  const Bytes hit = BuildUdp4(Udp4{});
  Udp4 other;
  other.dst_port = 2001;
  const Bytes miss = BuildUdp4(other);
  Send(vf0_, hit, 10);
  Send(vf0_, miss, 1);
  sa_->PollOnce();
  const auto out = uplink_.Drain();
  ASSERT_THAT(out, SizeIs(10));
  EXPECT_EQ(out[0], hit);
  EXPECT_THAT(ReadRepresentor(Rep(1)), ElementsAre(miss));
  auto c = sa_->QueryFlow(*rule);
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->counted);
  EXPECT_EQ(c->packets, 10u);
  EXPECT_EQ(c->bytes, 10u * hit.size());
  // The same input from another VF does not match the port item.
  Send(vf1_, hit);
  sa_->PollOnce();
  EXPECT_THAT(uplink_.Drain(), IsEmpty());
  EXPECT_THAT(ReadRepresentor(Rep(2)), ElementsAre(hit));
  // Removed: the next packet misses.
  ASSERT_TRUE(sa_->DestroyFlow(*rule).ok());
  Send(vf0_, hit);
  sa_->PollOnce();
  EXPECT_THAT(uplink_.Drain(), IsEmpty());
  EXPECT_THAT(ReadRepresentor(Rep(1)), ElementsAre(hit));
  EXPECT_EQ(sa_->DestroyFlow(*rule).code(), absl::StatusCode::kNotFound);
}

TEST_F(SoftAsicTest, LowerPriorityValueWinsAcrossMasks) {
  StartEal();
  MakeSwitch();
  FlowBuilder wide;  // any IPv4 in 10.0.0.0/8 from VF0 -> VF1, priority 1
  wide.Priority(1).InPort(Rep(1)).Eth().Ipv4Dst(0x0a000000, 8).ToPort(Rep(2));
  FlowBuilder narrow;  // 10.0.0.2/32 -> uplink, priority 0
  narrow.Priority(0).InPort(Rep(1)).Eth().Ipv4Dst(0x0a000002).ToPort(Rep(0));
  FlowBuilder worse;  // 10.0.0.2/32 UDP 2000 -> drop, priority 5: loses to both
  worse.Priority(5).InPort(Rep(1)).Eth().Ipv4Dst(0x0a000002).UdpDst(2000).Drop();
  ASSERT_TRUE(Install(wide).ok());
  auto narrow_id = Install(narrow);
  ASSERT_TRUE(narrow_id.ok());
  ASSERT_TRUE(Install(worse).ok());
  const Bytes frame = BuildUdp4(Udp4{});
  Send(vf0_, frame);
  sa_->PollOnce();
  EXPECT_THAT(uplink_.Drain(), ElementsAre(frame));
  EXPECT_THAT(vf1_.Drain(), IsEmpty());
  ASSERT_TRUE(sa_->DestroyFlow(*narrow_id).ok());
  Send(vf0_, frame);
  sa_->PollOnce();
  EXPECT_THAT(uplink_.Drain(), IsEmpty());
  EXPECT_THAT(vf1_.Drain(), ElementsAre(frame));
  // Same group, priority and match twice: refused.
  FlowBuilder dup;
  dup.Priority(1).InPort(Rep(1)).Eth().Ipv4Dst(0x0a000000, 8).Drop();
  EXPECT_EQ(Install(dup).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(SoftAsicTest, JumpContinuesInTheTargetGroupWithMarkAndRewrites) {
  StartEal();
  MakeSwitch();
  FlowBuilder g0;
  g0.InPort(Rep(1)).Eth().Mark(7).Jump(3);
  const uint8_t gw[6] = {0x02, 0xee, 0, 0, 0, 0x01};
  const uint8_t me[6] = {0x02, 0xee, 0, 0, 0, 0x02};
  FlowBuilder g3;
  g3.Group(3)
      .MarkItem(7)
      .Eth()
      .Ipv4Dst(0x0a000002)
      .SetMacDst(gw)
      .SetMacSrc(me)
      .DecTtl()
      .ToPort(Rep(0));
  ASSERT_TRUE(Install(g0).ok());
  ASSERT_TRUE(Install(g3).ok());
  const Bytes frame = BuildUdp4(Udp4{});
  Udp4 other;
  other.dst_ip = 0x0a000009;
  const Bytes unmatched = BuildUdp4(other);
  Send(vf0_, frame);
  Send(vf0_, unmatched);
  sa_->PollOnce();
  const auto out = uplink_.Drain();
  ASSERT_THAT(out, SizeIs(1));
  Bytes expected = frame;
  std::memcpy(expected.data(), gw, 6);
  std::memcpy(expected.data() + 6, me, 6);
  expected[22] = 63;  // TTL
  EXPECT_TRUE(Ipv4ChecksumOk(out[0], 14));
  expected[24] = out[0][24];
  expected[25] = out[0][25];
  EXPECT_EQ(out[0], expected);
  // Missing in group 3 goes to the representor, with group 0's MARK on the mbuf.
  std::vector<uint32_t> marks;
  EXPECT_THAT(ReadRepresentor(Rep(1), &marks), ElementsAre(unmatched));
  EXPECT_THAT(marks, ElementsAre(7u));
}

TEST_F(SoftAsicTest, JumpLoopDropsThePacketInsteadOfSpinning) {
  StartEal();
  MakeSwitch();
  FlowBuilder g0;
  g0.InPort(Rep(1)).Eth().Jump(1);
  FlowBuilder g1;
  g1.Group(1).Eth().Jump(2);
  FlowBuilder g2;
  g2.Group(2).Eth().Jump(1);
  ASSERT_TRUE(Install(g0).ok());
  ASSERT_TRUE(Install(g1).ok());
  ASSERT_TRUE(Install(g2).ok());
  Send(vf0_, BuildUdp4(Udp4{}), 5);
  sa_->PollOnce();
  EXPECT_EQ(sa_->PortStats(1).drops, 5u);
  EXPECT_THAT(ReadRepresentor(Rep(1)), IsEmpty());
}

TEST_F(SoftAsicTest, RepresentorQueueAndRawEncapDecapFates) {
  StartEal();
  SoftAsicConfig config;
  config.representor_queues = 2;
  MakeSwitch(config);
  // UDP 2000 from VF0 -> the agent, on VF1's representor.
  FlowBuilder to_rep;
  to_rep.InPort(Rep(1)).Eth().Ipv4().UdpDst(2000).ToRepresentor(Rep(2));
  // UDP 2001 -> queue 1 of the input port's representor, marked.
  FlowBuilder to_queue;
  to_queue.InPort(Rep(1)).Eth().Ipv4().UdpDst(2001).Mark(99).ActionOf(RTE_FLOW_ACTION_TYPE_QUEUE,
                                                                      rte_flow_action_queue{1});
  // UDP 2002 -> strip the Ethernet header (RAW_DECAP 14), push another (RAW_ENCAP), uplink.
  static uint8_t new_eth[14] = {0x02, 0xcc, 0, 0, 0, 1, 0x02, 0xcc, 0, 0, 0, 2, 0x08, 0x00};
  rte_flow_action_raw_decap decap{};
  decap.size = 14;
  rte_flow_action_raw_encap encap{};
  encap.data = new_eth;
  encap.size = sizeof(new_eth);
  FlowBuilder rewrite;
  rewrite.InPort(Rep(1))
      .Eth()
      .Ipv4()
      .UdpDst(2002)
      .ActionOf(RTE_FLOW_ACTION_TYPE_RAW_DECAP, decap)
      .ActionOf(RTE_FLOW_ACTION_TYPE_RAW_ENCAP, encap)
      .ToPort(Rep(0));
  ASSERT_TRUE(Install(to_rep).ok());
  auto q = Install(to_queue);
  ASSERT_TRUE(q.ok()) << q.status();
  ASSERT_TRUE(Install(rewrite).ok());
  Udp4 p;
  const Bytes a = BuildUdp4(p);
  p.dst_port = 2001;
  const Bytes b = BuildUdp4(p);
  p.dst_port = 2002;
  const Bytes c = BuildUdp4(p);
  Send(vf0_, a);
  Send(vf0_, b);
  Send(vf0_, c);
  sa_->PollOnce();
  EXPECT_THAT(ReadRepresentor(Rep(2)), ElementsAre(a));
  rte_mbuf* pkts[4];
  ASSERT_EQ(rte_eth_rx_burst(Rep(1), 1, pkts, 4), 1);
  EXPECT_EQ(FromMbuf(pkts[0]), b);
  EXPECT_TRUE(pkts[0]->ol_flags & RTE_MBUF_F_RX_FDIR_ID);
  EXPECT_EQ(pkts[0]->hash.fdir.hi, 99u);
  rte_pktmbuf_free(pkts[0]);
  EXPECT_EQ(rte_eth_rx_burst(Rep(1), 0, pkts, 4), 0);
  Bytes expected = c;
  std::memcpy(expected.data(), new_eth, 14);
  EXPECT_THAT(uplink_.Drain(), ElementsAre(expected));
  // A queue the representor does not have is refused.
  FlowBuilder bad;
  bad.InPort(Rep(1)).Eth().ActionOf(RTE_FLOW_ACTION_TYPE_QUEUE, rte_flow_action_queue{2});
  EXPECT_EQ(Install(bad).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(SoftAsicTest, VxlanEncapIsDecodedCorrectlyByTshark) {
  StartEal();
  const std::string dir = testenv::TestTempDir("softasic_encap");
  const std::string empty_pcap = dir + "/empty.pcap";
  const std::string out_pcap = dir + "/uplink.pcap";
  {
    // A pcap file with only the global header: the uplink receives nothing.
    const uint8_t header[24] = {0xd4, 0xc3, 0xb2, 0xa1, 2,    0,    4, 0, 0, 0, 0, 0,
                                0,    0,    0,    0,    0xff, 0xff, 0, 0, 1, 0, 0, 0};
    std::ofstream(empty_pcap, std::ios::binary).write(reinterpret_cast<const char*>(header), 24);
  }
  vf0_ = RingPort::Make("vf0", 1024);
  SoftAsicConfig config;
  config.uplink.devargs = absl::StrCat("net_pcap_up,rx_pcap=", empty_pcap, ",tx_pcap=", out_pcap);
  config.vfs = {SoftAsicPortConfig{"", vf0_.port_id}};
  auto sa = SoftAsic::Create(config);
  ASSERT_TRUE(sa.ok()) << sa.status();
  sa_ = std::move(*sa);
  const uint8_t smac[6] = {0x02, 0x10, 0, 0, 0, 0x01};
  const uint8_t dmac[6] = {0x02, 0x10, 0, 0, 0, 0x02};
  FlowBuilder f;
  f.InPort(Rep(1))
      .Eth()
      .Ipv4()
      .VxlanEncap4(smac, dmac, 0xc0a80101, 0xc0a80102, 49152, 0x123456)
      .ToPort(Rep(0));
  ASSERT_TRUE(Install(f).ok()) << Install(f).status();
  Udp4 p;
  p.payload = 100;
  const Bytes inner = BuildUdp4(p);
  Send(vf0_, inner, 3);
  sa_->PollOnce();
  EXPECT_EQ(sa_->PortStats(0).tx, 3u);
  sa_.reset();  // closes the pcap (flushes the file)

  const std::string cmd = absl::StrCat(
      "tshark -o ip.check_checksum:TRUE -r ", out_pcap,
      " -T fields -E separator=, -e ip.len -e ip.checksum.status -e ip.src -e ip.dst -e "
      "udp.srcport -e udp.dstport -e udp.length -e vxlan.flags -e vxlan.vni -e frame.len "
      "-e data.len 2>/dev/null");
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[512];
  while (fgets(buf, sizeof(buf), pipe) != nullptr) {
    output += buf;
  }
  ASSERT_EQ(pclose(pipe), 0) << output;
  // Inner frame 142 bytes: outer IP 20+8+8+142 = 178, UDP 158, frame 50+142 = 192. tshark
  // decodes the inner frame too, so fields seen twice are "outer,inner". Checksum status 1 is
  // tshark's "good" (0 bad, 2 unverified). VXLAN flags 0x0800 is the I bit; VNI 0x123456.
  const std::string expected =
      "178,128,1,1,192.168.1.1,10.0.0.1,192.168.1.2,10.0.0.2,49152,1000,4789,2000,158,108,"
      "0x0800,1193046,192,100";
  int lines = 0;
  for (size_t start = 0; start < output.size();) {
    size_t end = output.find('\n', start);
    const std::string line = output.substr(start, end - start);
    start = end == std::string::npos ? output.size() : end + 1;
    if (line.empty()) {
      continue;
    }
    ++lines;
    EXPECT_EQ(line, expected)
        << "fields: ip.len ip.checksum.status ip.src ip.dst udp.srcport udp.dstport udp.length "
           "vxlan.flags vxlan.vni frame.len data.len";
  }
  EXPECT_EQ(lines, 3) << output;
  std::filesystem::remove_all(dir);
}

TEST_F(SoftAsicTest, VxlanDecapRestoresTheInnerFrameByteForByte) {
  StartEal();
  MakeSwitch();
  FlowBuilder f;
  f.InPort(Rep(0))
      .Eth()
      .Ipv4()
      .Udp()
      .Vxlan(5000)
      .Eth()
      .Ipv4Dst(0x0a000002)
      .VxlanDecap()
      .ToPort(Rep(2));
  ASSERT_TRUE(Install(f).ok()) << Install(f).status();
  Udp4 p;
  p.payload = 333;
  const Bytes inner = BuildUdp4(p);
  const Bytes outer = BuildVxlan4(inner, 5000, 0xc0a80102, 0xc0a80101);
  const Bytes other_vni = BuildVxlan4(inner, 5001, 0xc0a80102, 0xc0a80101);
  Send(uplink_, outer, 2);
  Send(uplink_, other_vni);
  sa_->PollOnce();
  EXPECT_THAT(vf1_.Drain(), ElementsAre(inner, inner));
  EXPECT_THAT(ReadRepresentor(Rep(0)), ElementsAre(other_vni));
}

TEST_F(SoftAsicTest, AgedRuleIsReportedOnceAfterItsTimeout) {
  StartEal();
  MakeSwitch();
  FlowBuilder idle;
  idle.InPort(Rep(1)).Eth().Ipv4Dst(0x0a000002).Age(1).ToPort(Rep(0));
  FlowBuilder busy;
  busy.InPort(Rep(1)).Eth().Ipv4Dst(0x0a000003).Age(1).ToPort(Rep(0));
  auto idle_id = Install(idle);
  auto busy_id = Install(busy);
  ASSERT_TRUE(idle_id.ok());
  ASSERT_TRUE(busy_id.ok());
  EXPECT_THAT(sa_->CollectAgedFlows(), IsEmpty());
  Udp4 p;
  p.dst_ip = 0x0a000003;
  const Bytes frame = BuildUdp4(p);
  for (int i = 0; i < 6; ++i) {  // keep `busy` alive for 1.2 s
    Send(vf0_, frame);
    sa_->PollOnce();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  EXPECT_THAT(sa_->CollectAgedFlows(), ElementsAre(*idle_id));
  EXPECT_THAT(sa_->CollectAgedFlows(), IsEmpty());  // reported once
  EXPECT_EQ(uplink_.Drain().size(), 6u);
}

TEST_F(SoftAsicTest, MeterPassesCirWithinFivePercentOfOfferedLoad) {
  StartEal();
  SoftAsicConfig config;
  config.meter_uses_rx_timestamp = true;
  MakeSwitch(config);
  int ts_offset = -1;
  uint64_t ts_flag = 0;
  ASSERT_EQ(rte_mbuf_dyn_rx_timestamp_register(&ts_offset, &ts_flag), 0);
  // 100-byte frames. CIR = PIR = 100 000 B/s = 1000 packets/s; offered: 2500 packets/s for 4 s
  // of packet time.
  MeterProfile profile{100000, 1000, 100000, 1000};
  ASSERT_TRUE(sa_->CreateMeter(9, profile).ok());
  FlowBuilder f;
  f.InPort(Rep(1)).Eth().Meter(9).Count().ToPort(Rep(0));
  auto rule = Install(f);
  ASSERT_TRUE(rule.ok()) << rule.status();
  Udp4 p;
  p.payload = 100 - 42;
  const Bytes frame = BuildUdp4(p);
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_rdtsc();
  const int offered = 10000;
  int passed = 0;
  for (int i = 0; i < offered; ++i) {
    rte_mbuf* m = ToMbuf(pool_, frame);
    ASSERT_NE(m, nullptr);
    *RTE_MBUF_DYNFIELD(m, ts_offset, uint64_t*) = start + (i + 1) * hz / 2500;
    m->ol_flags |= ts_flag;
    ASSERT_TRUE(vf0_.Inject(m));
    if (i % 256 == 255 || i == offered - 1) {
      while (sa_->PollOnce() > 0) {
      }
      passed += static_cast<int>(uplink_.Drain().size());
    }
  }
  // 4 s at 1000 packets/s, plus the initial bucket of 10 packets.
  const double expected = 4.0 * 1000;
  EXPECT_NEAR(passed, expected, expected * 0.05);
  auto stats = sa_->QueryMeter(9);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->green_packets + stats->yellow_packets, static_cast<uint64_t>(passed));
  EXPECT_EQ(stats->red_packets, static_cast<uint64_t>(offered - passed));
  EXPECT_EQ(sa_->DestroyMeter(9).code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(sa_->DestroyFlow(*rule).ok());
  EXPECT_TRUE(sa_->DestroyMeter(9).ok());
}

TEST_F(SoftAsicTest, RefusesUnsupportedItemsActionsAndFieldsLikeAPmd) {
  StartEal();
  MakeSwitch();
  {
    FlowBuilder f;
    f.Eth().Item(RTE_FLOW_ITEM_TYPE_GRE).Drop();
    auto s = Install(f).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(s.message(), HasSubstr("pattern[1] (GRE)"));
  }
  {
    rte_flow_item_ipv4 spec{};
    rte_flow_item_ipv4 mask{};
    spec.hdr.type_of_service = 4;
    mask.hdr.type_of_service = 0xff;
    FlowBuilder f;
    f.Eth().ItemOf(RTE_FLOW_ITEM_TYPE_IPV4, spec, &mask).Drop();
    auto s = Install(f).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(s.message(), HasSubstr("pattern[1] (IPV4): matching on field type_of_service"));
  }
  {
    FlowBuilder f;
    f.Eth().Action(RTE_FLOW_ACTION_TYPE_RSS).Drop();
    auto s = Install(f).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(s.message(), HasSubstr("actions[0] (RSS)"));
  }
  {
    FlowBuilder f;
    f.Eth().Count();
    auto s = Install(f).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(s.message(), HasSubstr("fate"));
  }
  {
    FlowBuilder f;
    f.Eth().Meter(42).Drop();
    EXPECT_EQ(Install(f).status().code(), absl::StatusCode::kNotFound);
  }
  {
    FlowBuilder f;
    f.Eth().VxlanDecap().ToPort(Rep(1));
    EXPECT_EQ(Install(f).status().code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(sa_->TableStats().rules, 0u);
}

// The FlowDevice face: a flowrules::Rule compiled by flowrules, executed by the softasic.
TEST_F(SoftAsicTest, FlowDeviceInstallsCompiledRulesAndReadsCountersInBatches) {
  StartEal();
  MakeSwitch();
  SoftAsicFlowDevice device(*sa_);
  auto ports = device.ListPorts();
  ASSERT_TRUE(ports.ok());
  ASSERT_THAT(*ports, SizeIs(3));
  EXPECT_EQ((*ports)[0].role, PortRole::kUplink);
  EXPECT_EQ((*ports)[2].vf_index, 1);

  flowrules::Rule to_uplink;
  to_uplink.match.represented_port = (*ports)[1].representor_port_id;
  to_uplink.match.outer.ipv4_dst = flowrules::Ipv4Prefix{flowrules::Ipv4Address{0x0a000002}, 32};
  to_uplink.match.outer.ip_protocol = 17;
  to_uplink.match.outer.l4_dst_port = 2000;
  to_uplink.actions = {flowrules::CountAction{},
                       flowrules::RepresentedPortAction{(*ports)[0].representor_port_id}};
  flowrules::Rule to_vf1 = to_uplink;
  to_vf1.match.outer.l4_dst_port = 2001;
  to_vf1.actions = {flowrules::RepresentedPortAction{(*ports)[2].representor_port_id}};
  auto a = device.CreateRule(to_uplink);
  auto b = device.CreateRule(to_vf1);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(device.CreateRule(to_uplink).status().code(), absl::StatusCode::kAlreadyExists);

  Udp4 p;
  const Bytes first = BuildUdp4(p);
  p.dst_port = 2001;
  const Bytes second = BuildUdp4(p);
  Send(vf0_, first, 4);
  Send(vf0_, second, 2);
  sa_->PollOnce();
  EXPECT_THAT(uplink_.Drain(), SizeIs(4));
  EXPECT_THAT(vf1_.Drain(), ElementsAre(second, second));
  auto counters = device.QueryCounters({*a, *b});
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_THAT(*counters, ElementsAre(RuleCounters{true, 4, 4 * first.size()}, RuleCounters{}));
  ASSERT_TRUE(device.DestroyRule(*a).ok());
  EXPECT_EQ(device.QueryCounters({*b, *a}).status().code(), absl::StatusCode::kNotFound);
}

// FlowDevice::CreateRules on the softasic: one call, each rule on its own merits. A refused rule
// (malformed, a duplicate of an earlier rule of the batch, an item the softasic cannot execute)
// is not installed and does not stop the others, which forward.
TEST_F(SoftAsicTest, FlowDeviceCreateRulesInstallsEveryAcceptedRuleOfTheBatch) {
  StartEal();
  MakeSwitch();
  SoftAsicFlowDevice device(*sa_);
  auto ports = device.ListPorts();
  ASSERT_TRUE(ports.ok());
  flowrules::Rule to_uplink;
  to_uplink.match.represented_port = (*ports)[1].representor_port_id;
  to_uplink.match.outer.ipv4_dst = flowrules::Ipv4Prefix{flowrules::Ipv4Address{0x0a000002}, 32};
  to_uplink.match.outer.ip_protocol = 17;
  to_uplink.match.outer.l4_dst_port = 2000;
  to_uplink.actions = {flowrules::CountAction{}, flowrules::AgeAction{30},
                       flowrules::RepresentedPortAction{(*ports)[0].representor_port_id}};
  flowrules::Rule no_fate = to_uplink;
  no_fate.match.outer.l4_dst_port = 2002;
  no_fate.actions = {flowrules::CountAction{}};
  flowrules::Rule to_vf1 = to_uplink;
  to_vf1.match.outer.l4_dst_port = 2001;
  to_vf1.actions = {flowrules::CountAction{},
                    flowrules::RepresentedPortAction{(*ports)[2].representor_port_id}};
  flowrules::Rule icmp6;
  icmp6.match.outer.ipv6_dst = flowrules::Ipv6Prefix{flowrules::Ipv6Address{{0xfd}}, 64};
  icmp6.match.outer.ip_protocol = 58;
  icmp6.match.outer.icmp_type = 128;
  icmp6.actions = {flowrules::DropAction{}};
  const std::vector<const flowrules::Rule*> batch = {&to_uplink, &no_fate, &to_uplink, &to_vf1,
                                                     &icmp6};
  std::vector<absl::StatusOr<RuleHandle>> results = device.CreateRules(batch);
  ASSERT_THAT(results, SizeIs(5));
  ASSERT_TRUE(results[0].ok()) << results[0].status();
  EXPECT_EQ(results[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(results[1].status().message(), flowrules::Validate(no_fate).message());
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kAlreadyExists);
  ASSERT_TRUE(results[3].ok()) << results[3].status();
  EXPECT_EQ(results[4].status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(results[4].status().message(), HasSubstr("ICMP6"));
  EXPECT_EQ(sa_->TableStats().rules, 2u);

  Udp4 p;
  p.dst_port = 2000;
  const Bytes first = BuildUdp4(p);
  p.dst_port = 2001;
  const Bytes second = BuildUdp4(p);
  Send(vf0_, first, 3);
  Send(vf0_, second, 2);
  sa_->PollOnce();
  EXPECT_THAT(uplink_.Drain(), ElementsAre(first, first, first));
  EXPECT_THAT(vf1_.Drain(), ElementsAre(second, second));
  auto counters = device.QueryCounters({*results[0], *results[3]});
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_THAT(*counters, ElementsAre(RuleCounters{true, 3, 3 * first.size()},
                                     RuleCounters{true, 2, 2 * second.size()}));
}

// The telemetry socket of this process, and a command run on it.
std::string QueryOwnTelemetry(const std::string& cmd) {
  auto reply =
      testenv::QueryTelemetry(absl::StrCat(rte_eal_get_runtime_dir(), "/dpdk_telemetry.v2"), cmd);
  EXPECT_TRUE(reply.ok()) << reply.status();
  return reply.ok() ? *reply : "";
}

// The DPDK telemetry command, read over EAL's telemetry socket like dpdk-telemetry.py does.
TEST_F(SoftAsicTest, TelemetryCommandReportsTableAndPortCounters) {
  StartEal("0", 256, /*telemetry=*/true);
  MakeSwitch();
  FlowBuilder f;
  f.InPort(Rep(1)).Eth().Ipv4Dst(0x0a000002).ToPort(Rep(0));
  ASSERT_TRUE(Install(f).ok());
  Send(vf0_, BuildUdp4(Udp4{}), 3);
  sa_->PollOnce();

  const std::string reply = QueryOwnTelemetry("/softasic/stats");
  EXPECT_THAT(reply, HasSubstr("\"/softasic/stats\":{\"rules\":1,"));
  EXPECT_THAT(reply, HasSubstr("\"port1_rx\":3"));
  EXPECT_THAT(reply, HasSubstr("\"port0_tx\":3"));
  // Lcore load is only reported when recorded.
  EXPECT_THAT(reply, Not(HasSubstr("busy_cycles")));
}

// Tests that busy-poll a datapath lcore (registered RUN_SERIAL).
class SoftAsicLcoreTest : public SoftAsicTest {};

// Traffic of one rule keeps flowing, without loss, while the control thread installs and removes
// thousands of other rules (lock-free readers, deferred reclamation).
TEST_F(SoftAsicLcoreTest, RemovingRulesWhileTrafficFlowsLosesNoPacketOfOtherRules) {
  StartEal("0-1");
  SoftAsicConfig config;
  config.datapath_lcores = {1};
  MakeSwitch(config);
  FlowBuilder keep;
  keep.InPort(Rep(1)).Eth().Ipv4Dst(0x0a000002).UdpDst(2000).Count().ToPort(Rep(0));
  auto keep_id = Install(keep);
  ASSERT_TRUE(keep_id.ok());
  ASSERT_TRUE(sa_->Start().ok());

  // The sender keeps traffic flowing for as long as the control thread churns.
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0};
  std::thread sender([&] {
    const Bytes frame = BuildUdp4(Udp4{});
    while (!stop) {
      rte_mbuf* m = ToMbuf(pool_, frame);
      if (m == nullptr) {
        std::this_thread::yield();
        continue;
      }
      while (!vf0_.Inject(m)) {
        std::this_thread::yield();
      }
      sent++;
    }
  });
  int received = 0;
  std::vector<uint32_t> installed;
  // Churn: rules in the kept rule's own subtable (round 0 adds 1500, growing the subtable's hash
  // under traffic) and in a lower-priority /24 subtable that is created and freed every round.
  // Each step waits until more packets went in, so every change happens under traffic.
  auto wait_for_traffic = [&](int packets) {
    const int target = sent.load() + packets;
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (sent.load() < target && std::chrono::steady_clock::now() < until) {
      received += static_cast<int>(uplink_.Drain().size());
      std::this_thread::yield();
    }
  };
  wait_for_traffic(1000);
  const int kRounds = 12;
  for (int churn = 0; churn < kRounds; ++churn) {
    const int same_mask = churn == 0 ? 1500 : 64;
    for (int k = 0; k < same_mask; ++k) {
      FlowBuilder other;
      other.InPort(Rep(1)).Eth().Ipv4Dst(0x0b000000 + churn * 4096 + k).UdpDst(2000).ToPort(Rep(2));
      auto id = Install(other);
      ASSERT_TRUE(id.ok()) << id.status();
      installed.push_back(*id);
    }
    for (int k = 0; k < 64; ++k) {
      FlowBuilder wide;
      wide.Priority(2)
          .InPort(Rep(1))
          .Eth()
          .Ipv4Dst(0x0c000000 + (churn * 64 + k) * 256, 24)
          .ToPort(Rep(2));
      auto wid = Install(wide);
      ASSERT_TRUE(wid.ok()) << wid.status();
      installed.push_back(*wid);
    }
    wait_for_traffic(200);
    for (uint32_t id : installed) {
      ASSERT_TRUE(sa_->DestroyFlow(id).ok());
    }
    installed.clear();
    wait_for_traffic(200);
  }
  stop = true;
  sender.join();
  const int total = sent.load();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (received < total && std::chrono::steady_clock::now() < deadline) {
    received += static_cast<int>(uplink_.Drain().size());
  }
  sa_->Stop();
  received += static_cast<int>(uplink_.Drain().size());
  EXPECT_GE(total, 1000 + kRounds * 400);
  EXPECT_EQ(received, total);
  auto c = sa_->QueryFlow(*keep_id);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->packets, static_cast<uint64_t>(total));
  EXPECT_EQ(sa_->PortStats(1).misses, 0u);
  EXPECT_EQ(sa_->PortStats(1).drops, 0u);
  EXPECT_THAT(vf1_.Drain(), IsEmpty());
  EXPECT_EQ(sa_->TableStats().rules, 1u);
  // Not asked to record its load (record_busy_cycles): the lcore does not time its polls.
  ASSERT_EQ(sa_->LcoreStats().size(), 1u);
  EXPECT_EQ(sa_->LcoreStats()[0].busy_cycles, 0u);
  EXPECT_EQ(sa_->LcoreStats()[0].busy_packets, 0u);
}

// Two datapath lcores share the ports; per-lcore rule counters add up.
TEST_F(SoftAsicLcoreTest, TwoDatapathLcoresForwardAndCountEverything) {
  ASSERT_TRUE(
      InitEal("softasic_test", {"--lcores", "0@0,1@1,2@0", "--no-pci", "--no-huge", "-m", "256",
                                "--file-prefix", testenv::UniqueFilePrefix("softasic_2lc"),
                                "--no-telemetry", "--log-level=lib.eal:warning"})
          .ok());
  pool_ = rte_pktmbuf_pool_create("test_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  ASSERT_NE(pool_, nullptr);
  SoftAsicConfig config;
  config.datapath_lcores = {1, 2};
  config.record_busy_cycles = true;
  MakeSwitch(config);
  FlowBuilder from_vf0;
  from_vf0.InPort(Rep(1)).Eth().Ipv4Dst(0x0a000002).Count().ToPort(Rep(0));
  FlowBuilder from_vf1;
  from_vf1.InPort(Rep(2)).Eth().Ipv4Dst(0x0a000002).Count().ToPort(Rep(0));
  auto a = Install(from_vf0);
  auto b = Install(from_vf1);
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  ASSERT_TRUE(sa_->Start().ok());
  EXPECT_EQ(sa_->Start().code(), absl::StatusCode::kFailedPrecondition);
  const Bytes frame = BuildUdp4(Udp4{});
  int received = 0;
  for (int i = 0; i < 2000; ++i) {
    Send(i % 2 == 0 ? vf0_ : vf1_, frame);
    if (i % 64 == 63) {
      received += static_cast<int>(uplink_.Drain().size());
    }
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (received < 2000 && std::chrono::steady_clock::now() < deadline) {
    received += static_cast<int>(uplink_.Drain().size());
  }
  sa_->Stop();
  received += static_cast<int>(uplink_.Drain().size());
  EXPECT_EQ(received, 2000);
  EXPECT_EQ(sa_->QueryFlow(*a)->packets, 1000u);
  EXPECT_EQ(sa_->QueryFlow(*b)->packets, 1000u);
  EXPECT_EQ(sa_->PortStats(0).tx, 2000u);
  // Each lcore's load: vf1 (and the idle uplink) on lcore 1, vf0 on lcore 2.
  const std::vector<SoftAsicLcoreStats> load = sa_->LcoreStats();
  ASSERT_EQ(load.size(), 2u);
  EXPECT_EQ(load[0].lcore, 1u);
  EXPECT_EQ(load[1].lcore, 2u);
  for (const SoftAsicLcoreStats& l : load) {
    EXPECT_EQ(l.busy_packets, 1000u) << "lcore " << l.lcore;
    EXPECT_GT(l.busy_cycles, l.busy_packets) << "lcore " << l.lcore;
  }
}

// With record_busy_cycles, the telemetry command reports each datapath lcore's busy TSC cycles
// and the packets it moved (an operator's view of the datapath's load), and the TSC rate.
TEST_F(SoftAsicLcoreTest, TelemetryReportsEachDatapathLcoresLoad) {
  StartEal("0-1", 256, /*telemetry=*/true);
  SoftAsicConfig config;
  config.datapath_lcores = {1};
  config.record_busy_cycles = true;
  MakeSwitch(config);
  FlowBuilder f;
  f.InPort(Rep(1)).Eth().Ipv4Dst(0x0a000002).ToPort(Rep(0));
  ASSERT_TRUE(Install(f).ok());
  ASSERT_TRUE(sa_->Start().ok());
  const Bytes frame = BuildUdp4(Udp4{});
  int received = 0;
  for (int i = 0; i < 300; ++i) {
    Send(vf0_, frame);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (received < 300 && std::chrono::steady_clock::now() < deadline) {
    received += static_cast<int>(uplink_.Drain().size());
  }
  ASSERT_EQ(received, 300);
  const std::string reply = QueryOwnTelemetry("/softasic/stats");
  sa_->Stop();
  EXPECT_EQ(testenv::TelemetryField(reply, "tsc_hz"), static_cast<int64_t>(rte_get_tsc_hz()))
      << reply;
  EXPECT_EQ(testenv::TelemetryField(reply, "lcore1_busy_packets"), 300) << reply;
  EXPECT_GT(testenv::TelemetryField(reply, "lcore1_busy_cycles"), 300) << reply;
  EXPECT_EQ(testenv::TelemetryField(reply, "lcore0_busy_packets"), -1)
      << reply;  // not a datapath lcore
}

// One meter shared by two rules whose traffic arrives on two different datapath lcores (the
// meter of a vNIC with two VFs, say): both lcores colour with it at once. The meter must pass its
// rate over the traffic's own time span, not more (no double spending of tokens) nor less, and
// count every packet exactly once; every passed packet is delivered.
TEST_F(SoftAsicLcoreTest, MeterSharedByTwoLcoresPassesItsRateAndCountsEveryPacket) {
  ASSERT_TRUE(
      InitEal("softasic_test", {"--lcores", "0@0,1@1,2@0", "--no-pci", "--no-huge", "-m", "256",
                                "--file-prefix", testenv::UniqueFilePrefix("softasic_meter2"),
                                "--no-telemetry", "--log-level=lib.eal:warning"})
          .ok());
  pool_ = rte_pktmbuf_pool_create("test_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
  ASSERT_NE(pool_, nullptr);
  int ts_offset = -1;
  uint64_t ts_flag = 0;
  ASSERT_EQ(rte_mbuf_dyn_rx_timestamp_register(&ts_offset, &ts_flag), 0);
  SoftAsicConfig config;
  config.datapath_lcores = {1, 2};  // ports 0 and 2 (vf1) on lcore 1, port 1 (vf0) on lcore 2
  config.meter_uses_rx_timestamp = true;
  MakeSwitch(config);
  // 100-byte frames; CIR = PIR = 100 000 B/s = 1000 packets/s, buckets of 10 packets.
  ASSERT_TRUE(sa_->CreateMeter(7, MeterProfile{100000, 1000, 100000, 1000}).ok());
  // Both go to the uplink: both lcores also transmit on the uplink's one TX queue.
  FlowBuilder from_vf0;
  from_vf0.InPort(Rep(1)).Eth().Meter(7).ToPort(Rep(0));
  FlowBuilder from_vf1;
  from_vf1.InPort(Rep(2)).Eth().Meter(7).ToPort(Rep(0));
  ASSERT_TRUE(Install(from_vf0).ok());
  ASSERT_TRUE(Install(from_vf1).ok());
  ASSERT_TRUE(sa_->Start().ok());

  // Each VF offers 4000 packets/s of packet time (4x the rate, 8x together), in chunks that both
  // lcores process at the same time.
  Udp4 p;
  p.payload = 100 - 42;
  const Bytes frame = BuildUdp4(p);
  const uint64_t hz = rte_get_tsc_hz();
  const uint64_t start = rte_rdtsc() + hz;  // after the meter's creation
  constexpr int kChunk = 2048;
  constexpr int kChunks = 16;
  int passed = 0;
  for (int c = 0; c < kChunks; ++c) {
    std::array<std::array<rte_mbuf*, kChunk>, 2> burst;
    for (int i = 0; i < kChunk; ++i) {
      const uint64_t ts = start + (static_cast<uint64_t>(c) * kChunk + i + 1) * hz / 4000;
      for (auto& b : burst) {
        b[i] = ToMbuf(pool_, frame);
        ASSERT_NE(b[i], nullptr);
        *RTE_MBUF_DYNFIELD(b[i], ts_offset, uint64_t*) = ts;
        b[i]->ol_flags |= ts_flag;
      }
    }
    ASSERT_EQ(rte_ring_enqueue_bulk(vf0_.inject, reinterpret_cast<void**>(burst[0].data()), kChunk,
                                    nullptr),
              static_cast<unsigned>(kChunk));
    ASSERT_EQ(rte_ring_enqueue_bulk(vf1_.inject, reinterpret_cast<void**>(burst[1].data()), kChunk,
                                    nullptr),
              static_cast<unsigned>(kChunk));
    const uint64_t offered = 2 * kChunk * (static_cast<uint64_t>(c) + 1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (sa_->PortStats(1).rx + sa_->PortStats(2).rx < offered &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::microseconds(100));  // lcore 2 shares this CPU
    }
    passed += static_cast<int>(uplink_.Drain().size());
  }
  sa_->Stop();
  passed += static_cast<int>(uplink_.Drain().size());
  const int offered = 2 * kChunk * kChunks;
  ASSERT_EQ(sa_->PortStats(1).rx + sa_->PortStats(2).rx, static_cast<uint64_t>(offered));
  // 32768 packets per VF at 4000/s span 8.192 s: 8192 packets at the rate, plus the full buckets.
  const double expected = 8192 + 10;
  EXPECT_NEAR(passed, expected, expected * 0.03);
  auto stats = sa_->QueryMeter(7);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->green_packets + stats->yellow_packets, static_cast<uint64_t>(passed));
  EXPECT_EQ(stats->red_packets, static_cast<uint64_t>(offered - passed));
}

// The table holds its configured capacity (1M) and refuses the next rule cleanly.
TEST_F(SoftAsicTest, TableRefusesRuleOnePastCapacity) {
  StartEal("0", 1024);
  SoftAsicConfig config;
  config.with_ports = false;
  config.max_rules = 1u << 20;
  config.register_telemetry = false;
  auto sa = SoftAsic::Create(config);
  ASSERT_TRUE(sa.ok()) << sa.status();
  sa_ = std::move(*sa);
  rte_flow_attr attr{};
  attr.transfer = 1;
  rte_flow_item_ipv4 spec{};
  rte_flow_item_ipv4 mask{};
  mask.hdr.dst_addr = 0xffffffff;
  rte_flow_action_ethdev out{};
  out.port_id = 0;
  rte_flow_item pattern[] = {{RTE_FLOW_ITEM_TYPE_ETH, nullptr, nullptr, nullptr},
                             {RTE_FLOW_ITEM_TYPE_IPV4, &spec, nullptr, &mask},
                             {RTE_FLOW_ITEM_TYPE_END, nullptr, nullptr, nullptr}};
  rte_flow_action actions[] = {{RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT, &out},
                               {RTE_FLOW_ACTION_TYPE_END, nullptr}};
  for (uint32_t i = 0; i < config.max_rules; ++i) {
    spec.hdr.dst_addr = rte_cpu_to_be_32(0x0a000000 + i);
    auto id = sa_->CreateFlow(0, attr, pattern, actions);
    ASSERT_TRUE(id.ok()) << "rule " << i << ": " << id.status();
  }
  spec.hdr.dst_addr = rte_cpu_to_be_32(0x0b000000);
  auto refused = sa_->CreateFlow(0, attr, pattern, actions);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(refused.status().message(), HasSubstr("capacity 1048576"));
  const SoftAsicTableStats stats = sa_->TableStats();
  EXPECT_EQ(stats.rules, 1u << 20);
  EXPECT_EQ(stats.action_programs, 1u);
  EXPECT_LE(stats.memory_bytes / stats.rules, 256u);
  // Removing one makes room for exactly one.
  ASSERT_TRUE(sa_->DestroyFlow(12345).ok());
  EXPECT_TRUE(sa_->CreateFlow(0, attr, pattern, actions).ok());
}

}  // namespace
}  // namespace nicswitch::device
