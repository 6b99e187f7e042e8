// The agent's slow path, flow manager and policy engine on the softasic with real ethdevs
// (ring-backed ports the test feeds and captures): what a user of the switch sees on the wire.

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/eal.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "soc_agent/agent/flow_table_adapter.h"
#include "soc_agent/api/policy_engine.h"
#include "soc_agent/device/softasic.h"
#include "soc_agent/flows/flow_manager.h"
#include "soc_agent/slowpath/packet.h"
#include "soc_agent/slowpath/slow_path.h"
#include "tests/soc_agent/device/packet_util.h"
#include "tests/soc_agent/slowpath/packet_builder.h"
#include "tests/support/test_env.h"

namespace nicswitch::agent {
namespace {

using device::testing::Bytes;
using device::testing::RingPort;
using slowpath::DropReason;
using slowpath::ParsePacket;
using ::testing::SizeIs;
using FrameBuilder = slowpath::test::FrameBuilder;

constexpr char kGw[] = "02:00:00:00:00:01";
constexpr char kMacA[] = "02:00:00:00:00:0a";
constexpr char kMacB[] = "02:00:00:00:00:0b";
constexpr char kRemoteMac[] = "02:00:00:00:00:50";

// The policy every case starts from (shared with bench/flow_setup).
std::string PolicyText() {
  std::ifstream in(NICSWITCH_TESTDATA_DIR "/agent/policy.textproto");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class AgentDatapathTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(
        InitEal("agent_datapath_test", testenv::TestEalArgs("agent_datapath_test", {}, 256, "0"))
            .ok());
    pool_ = rte_pktmbuf_pool_create("test_pool", 32767, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    ASSERT_NE(pool_, nullptr);
    store_dir_ = testenv::TestTempDir("agent_datapath_test");
  }

  void TearDown() override {
    if (engine_ != nullptr && subscription_ != 0) {
      engine_->Unsubscribe(subscription_);
    }
    if (flows_ != nullptr) {
      flows_->Flush("");
    }
    slow_.reset();
    flows_.reset();
    device_.reset();
    sa_.reset();
    engine_.reset();
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
    std::filesystem::remove_all(store_dir_);
  }

  // The switch (no datapath lcore: the test drives it), the agent's pieces and the policy.
  void StartAgent(uint32_t max_rules = 1u << 16, uint32_t age_seconds = 30) {
    uplink_ = RingPort::Make("uplink", 16384);
    vf0_ = RingPort::Make("vf0", 16384);
    vf1_ = RingPort::Make("vf1", 16384);
    device::SoftAsicConfig config;
    config.uplink.port_id = uplink_.port_id;
    config.vfs = {device::SoftAsicPortConfig{"", vf0_.port_id},
                  device::SoftAsicPortConfig{"", vf1_.port_id}};
    config.max_rules = max_rules;
    config.register_telemetry = false;
    auto sa = device::SoftAsic::Create(config);
    ASSERT_TRUE(sa.ok()) << sa.status();
    sa_ = std::move(*sa);
    device_ = std::make_unique<device::SoftAsicFlowDevice>(*sa_);
    flows_ = std::make_unique<flows::FlowManager>(
        *device_, flows::FlowManager::Options{.age_seconds = age_seconds});
    auto ports = device_->ListPorts();
    ASSERT_TRUE(ports.ok());
    slowpath::SwitchPorts switch_ports;
    switch_ports.uplink = (*ports)[0].representor_port_id;
    switch_ports.vf = {(*ports)[1].representor_port_id, (*ports)[2].representor_port_id};
    slowpath::SlowPathOptions options;
    options.decision.gateway_mac = *flowrules::MacAddress::Parse(kGw);
    slow_ = std::make_unique<slowpath::SlowPath>(*device_, *flows_, switch_ports, options);

    api::PolicyEngine::Options engine_options;
    engine_options.store_path = store_dir_ + "/policy.db";
    auto engine = api::PolicyEngine::Open(engine_options);
    ASSERT_TRUE(engine.ok()) << engine.status();
    engine_ = std::move(*engine);
    std::vector<v1::Entity> snapshot;
    uint64_t revision = 0;
    slowpath::SlowPath* slow = slow_.get();
    subscription_ =
        engine_->Subscribe([slow](const policy::PolicyBatch& batch) { slow->EnqueueBatch(batch); },
                           &snapshot, &revision);
    slow_->EnqueueBatch(slowpath::SnapshotBatch(std::move(snapshot), revision));
    Write(PolicyText().c_str());
  }

  void Write(const char* text) {
    v1::WriteRequest request;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &request));
    const auto result = engine_->Write(request);
    ASSERT_EQ(result.status.code(), 0) << result.status.ShortDebugString();
  }

  // Runs datapath -> slow path -> datapath until nothing moves.
  void Pump() {
    for (int quiet = 0; quiet < 3;) {
      const uint32_t moved = sa_->PollOnce() + static_cast<uint32_t>(slow_->PollOnce());
      quiet = moved == 0 ? quiet + 1 : 0;
    }
  }

  void Inject(const RingPort& port, const Bytes& frame, int copies = 1) {
    for (int i = 0; i < copies; ++i) {
      rte_mbuf* m = device::testing::ToMbuf(pool_, frame);
      ASSERT_NE(m, nullptr);
      ASSERT_TRUE(port.Inject(m));
    }
  }

  static Bytes Udp(const std::string& src_mac, const std::string& src_ip, const std::string& dst_ip,
                   uint16_t sport, uint16_t dport, size_t payload = 64) {
    return FrameBuilder()
        .Eth(kGw, src_mac, slowpath::kEtherTypeIpv4)
        .Ipv4(src_ip, dst_ip, slowpath::kIpProtoUdp)
        .Udp(sport, dport)
        .Payload(payload)
        .Finish();
  }

  // The IP datagram of an Ethernet frame (bytes after the 14-byte header).
  static Bytes L3(const Bytes& frame) { return Bytes(frame.begin() + 14, frame.end()); }

  rte_mempool* pool_ = nullptr;
  std::string store_dir_;
  RingPort uplink_, vf0_, vf1_;
  std::unique_ptr<device::SoftAsic> sa_;
  std::unique_ptr<device::SoftAsicFlowDevice> device_;
  std::unique_ptr<flows::FlowManager> flows_;
  std::unique_ptr<slowpath::SlowPath> slow_;
  std::unique_ptr<api::PolicyEngine> engine_;
  int subscription_ = 0;
};

TEST_F(AgentDatapathTest, FirstPacketTakesTheSlowPathThenTenThousandPassInTheDevice) {
  StartAgent();
  const Bytes first = Udp(kMacA, "10.0.0.10", "10.0.0.11", 5000, 7000);
  Inject(vf0_, first);
  Pump();
  auto out = vf1_.Drain();
  ASSERT_THAT(out, SizeIs(1)) << "the first packet is forwarded by the agent itself";
  EXPECT_EQ(L3(out[0]), L3(first));
  auto delivered = ParsePacket(out[0].data(), out[0].size());
  ASSERT_TRUE(delivered.ok());
  EXPECT_EQ(delivered->outer.eth_dst.ToString(), kMacB);
  EXPECT_EQ(delivered->outer.eth_src.ToString(), kGw);
  EXPECT_EQ(slow_->stats().exceptions, 1u);
  EXPECT_EQ(slow_->stats().flow_setups, 1u);
  EXPECT_EQ(slow_->stats().first_packets, 1u);
  EXPECT_EQ(flows_->stats().flows, 2u);

  for (int round = 0; round < 10; ++round) {
    Inject(vf0_, first, 1000);
    Pump();
    out = vf1_.Drain();
    ASSERT_THAT(out, SizeIs(1000));
    EXPECT_EQ(L3(out.back()), L3(first));
  }
  EXPECT_EQ(slow_->stats().exceptions, 1u) << "10K packets after the first never reach the agent";

  // The reply from b comes back to a through the reverse rule, without an exception.
  const Bytes reply = Udp(kMacB, "10.0.0.11", "10.0.0.10", 7000, 5000);
  Inject(vf1_, reply, 10);
  Pump();
  out = vf0_.Drain();
  ASSERT_THAT(out, SizeIs(10));
  EXPECT_EQ(L3(out[0]), L3(reply));
  EXPECT_EQ(slow_->stats().exceptions, 1u);
  ASSERT_TRUE(flows_->PollCounters().ok());
  EXPECT_EQ(flows_->Totals("a").packets, 10000u) << "device counters of a's egress rule";
  EXPECT_EQ(flows_->Totals("b").packets, 10u);

  // What GetStatus reports: fast path in the thousands, one exception per flow setup.
  FlowTableAdapter adapter(*flows_, slow_.get());
  const api::FlowTableView::Stats stats = adapter.GetStats();
  ASSERT_TRUE(stats.has_datapath);
  EXPECT_EQ(stats.fast_path_packets, 10010u);
  EXPECT_EQ(stats.exceptions, 1u);
  EXPECT_EQ(stats.flow_setups, 1u);
  EXPECT_EQ(stats.first_packets, 1u);
  EXPECT_EQ(stats.flows, 2u);
  const auto records = adapter.ListFlows("a", 0, 10);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].direction, "egress");
  EXPECT_EQ(records[0].dst_ip, "10.0.0.11");
  EXPECT_EQ(records[0].packets, 10000u);
  EXPECT_FALSE(records[0].software);
}

TEST_F(AgentDatapathTest, RemoteEndpointIsVxlanEncapsulatedAndTheReplyDecapsulated) {
  StartAgent();
  const Bytes request = Udp(kMacA, "10.0.0.10", "10.0.0.50", 5001, 7001);
  Inject(vf0_, request, 3);
  Pump();
  auto out = uplink_.Drain();
  ASSERT_THAT(out, SizeIs(3));
  auto parsed = ParsePacket(out[2].data(), out[2].size());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->vni, 100u);
  EXPECT_EQ(parsed->outer.ipv4_src.ToString(), "192.168.0.1");
  EXPECT_EQ(parsed->outer.ipv4_dst.ToString(), "192.168.0.2");
  EXPECT_EQ(parsed->outer.eth_src.ToString(), "02:aa:00:00:00:01");
  EXPECT_EQ(parsed->outer.eth_dst.ToString(), "02:bb:00:00:00:01");
  EXPECT_EQ(parsed->outer.l4_dst_port, 4789);
  EXPECT_EQ(parsed->inner.eth_dst.ToString(), kRemoteMac);
  EXPECT_EQ(Bytes(out[2].begin() + parsed->inner_offset + 14, out[2].end()), L3(request));
  // The three packets reached the agent in one burst, before the rule existed: one set the flow
  // up, the other two were forwarded with the installed flow's actions (no second setup).
  EXPECT_EQ(slow_->stats().exceptions, 3u);
  EXPECT_EQ(slow_->stats().flow_setups, 1u);
  EXPECT_EQ(slow_->stats().software_packets, 2u);

  // The remote host answers through VXLAN; the reverse rule decapsulates it to a.
  const Bytes inner_reply = FrameBuilder()
                                .Eth(kGw, kRemoteMac, slowpath::kEtherTypeIpv4)
                                .Ipv4("10.0.0.50", "10.0.0.10", slowpath::kIpProtoUdp)
                                .Udp(7001, 5001)
                                .Payload(32)
                                .Finish();
  const Bytes reply = FrameBuilder()
                          .Eth("02:aa:00:00:00:01", "02:bb:00:00:00:01", slowpath::kEtherTypeIpv4)
                          .Ipv4("192.168.0.2", "192.168.0.1", slowpath::kIpProtoUdp)
                          .Udp(61000, 4789)
                          .Vxlan(100)
                          .Raw(inner_reply)
                          .Finish();
  Inject(uplink_, reply, 5);
  Pump();
  out = vf0_.Drain();
  ASSERT_THAT(out, SizeIs(5));
  EXPECT_EQ(out[0].size(), inner_reply.size());
  EXPECT_EQ(L3(out[0]), L3(inner_reply)) << "the inner frame, byte for byte after Ethernet";
  EXPECT_EQ(slow_->stats().exceptions, 3u) << "the reply hit the reverse rule";
}

TEST_F(AgentDatapathTest, ASecurityGroupChangeRemovesTheFlowAndTheNextPacketIsDropped) {
  StartAgent();
  const Bytes packet = Udp(kMacA, "10.0.0.10", "10.0.0.11", 5002, 7002);
  Inject(vf0_, packet, 2);
  Pump();
  ASSERT_THAT(vf1_.Drain(), SizeIs(2));
  ASSERT_EQ(flows_->stats().flows, 2u);

  // Allow only 8000-8999 from now on: the 7002 flow must go.
  Write(R"pb(
    updates {
      type: MODIFY
      entity {
        security_group {
          name: "sg"
          rules { direction: INGRESS protocol: UDP port_min: 8000 port_max: 8999 action: ALLOW }
        }
      }
    }
  )pb");
  Pump();
  EXPECT_EQ(flows_->stats().flows, 0u) << "the dependent flow's rules were removed";
  EXPECT_EQ(flows_->applied_revision(), engine_->revision());

  Inject(vf0_, packet, 3);
  Pump();
  EXPECT_THAT(vf1_.Drain(), SizeIs(0));
  EXPECT_EQ(slow_->stats().drops[static_cast<int>(DropReason::kIngressDenied)], 3u);
  EXPECT_EQ(flows_->stats().flows, 0u);
}

TEST_F(AgentDatapathTest, IdleFlowsAgeOutInBothDirections) {
  StartAgent(1u << 16, /*age_seconds=*/1);
  Inject(vf0_, Udp(kMacA, "10.0.0.10", "10.0.0.11", 5003, 7003));
  Pump();
  ASSERT_EQ(flows_->stats().flows, 2u);
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  auto aged = flows_->PollAging();
  ASSERT_TRUE(aged.ok()) << aged.status();
  EXPECT_EQ(*aged, 2u);
  EXPECT_EQ(flows_->stats().flows, 0u);
  EXPECT_EQ(sa_->TableStats().rules, 0u) << "both rules left the device";
}

TEST_F(AgentDatapathTest, SpoofedPacketsNeverLeave) {
  StartAgent();
  Inject(vf0_, Udp(kMacA, "10.0.0.99", "10.0.0.11", 5004, 7004), 4);  // foreign IP
  Inject(vf0_, Udp(kMacB, "10.0.0.10", "10.0.0.11", 5004, 7004), 4);  // foreign MAC
  Inject(vf0_, Udp(kMacA, "10.0.0.11", "10.0.0.50", 5004, 7004), 4);  // b's IP
  Pump();
  EXPECT_THAT(vf1_.Drain(), SizeIs(0));
  EXPECT_THAT(uplink_.Drain(), SizeIs(0));
  EXPECT_THAT(vf0_.Drain(), SizeIs(0));
  EXPECT_EQ(slow_->stats().drops[static_cast<int>(DropReason::kSpoofedSource)], 12u);
  EXPECT_EQ(flows_->stats().flows, 0u);
}

TEST_F(AgentDatapathTest, ArpIsAnsweredByTheAgentAndNeverFlooded) {
  StartAgent();
  Inject(vf0_, FrameBuilder()
                   .Eth("ff:ff:ff:ff:ff:ff", kMacA, slowpath::kEtherTypeArp)
                   .Arp(1, kMacA, "10.0.0.10", "00:00:00:00:00:00", "10.0.0.11")
                   .Finish());
  Pump();
  auto replies = vf0_.Drain();
  ASSERT_THAT(replies, SizeIs(1));
  auto parsed = ParsePacket(replies[0].data(), replies[0].size());
  ASSERT_TRUE(parsed.ok() && parsed->outer.arp.has_value());
  EXPECT_EQ(parsed->outer.arp->op, 2);
  EXPECT_EQ(parsed->outer.arp->sender_mac.ToString(), kGw);
  EXPECT_EQ(parsed->outer.arp->sender_ip.ToString(), "10.0.0.11");
  EXPECT_THAT(vf1_.Drain(), SizeIs(0));
  EXPECT_THAT(uplink_.Drain(), SizeIs(0));
}

TEST_F(AgentDatapathTest, ARuleTheDeviceRefusesIsForwardedInSoftware) {
  // Room for one rule: the forward direction fits, the reverse is refused (table full).
  StartAgent(/*max_rules=*/1);
  Inject(vf0_, Udp(kMacA, "10.0.0.10", "10.0.0.11", 5005, 7005));
  Pump();
  ASSERT_THAT(vf1_.Drain(), SizeIs(1));
  EXPECT_EQ(flows_->stats().software_flows, 1u);
  EXPECT_EQ(flows_->stats().refused, 1u);

  const Bytes reply = Udp(kMacB, "10.0.0.11", "10.0.0.10", 7005, 5005);
  Inject(vf1_, reply, 20);
  Pump();
  auto out = vf0_.Drain();
  ASSERT_THAT(out, SizeIs(20)) << "forwarded by the agent, not black-holed";
  EXPECT_EQ(L3(out[0]), L3(reply));
  EXPECT_EQ(slow_->stats().software_packets, 20u);
  EXPECT_EQ(flows_->Totals("b").software_packets, 20u);
}

TEST_F(AgentDatapathTest, ASoftwareForwardedFlowIsStillHeldToItsVnicsRate) {
  // b's reverse rule is refused (room for one rule), so b's packets to a are forwarded by the
  // agent; b is limited to 1000 bytes/s with a 1000-byte burst. The NIC's meter never sees
  // them: the agent's software meter of the same id must.
  StartAgent(/*max_rules=*/1);
  const auto start = std::chrono::steady_clock::now();  // before the meter exists
  Write(R"pb(
    updates {
      type: MODIFY
      entity {
        vnic {
          name: "b"
          vpc: "blue"
          vf_index: 1
          mac: "02:00:00:00:00:0b"
          ipv4: "10.0.0.11"
          security_groups: "sg"
          qos { rate_bps: 8000 burst_bytes: 1000 }
        }
      }
    }
  )pb");
  Pump();
  Inject(vf0_, Udp(kMacA, "10.0.0.10", "10.0.0.11", 5006, 7006));
  Pump();
  ASSERT_THAT(vf1_.Drain(), SizeIs(1));
  ASSERT_EQ(flows_->stats().software_flows, 1u);

  const Bytes reply = Udp(kMacB, "10.0.0.11", "10.0.0.10", 7006, 5006);  // 106 bytes
  Inject(vf1_, reply, 20);
  Pump();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const size_t delivered = vf0_.Drain().size();
  // One burst (9 frames of 106 bytes), plus what 1000 bytes/s refilled since the meter was made.
  const size_t refilled = static_cast<size_t>(1000.0 * seconds / 106.0) + 1;
  EXPECT_GE(delivered, 9u);
  EXPECT_LE(delivered, 9u + refilled) << "after " << seconds << " s";
  EXPECT_LT(delivered, 20u) << "the rate was not enforced at all";
  EXPECT_EQ(slow_->stats().drops[static_cast<int>(DropReason::kMeterRed)], 20u - delivered);
  EXPECT_EQ(slow_->stats().software_packets, delivered);
  EXPECT_EQ(flows_->Totals("b").software_packets, delivered);
}

}  // namespace
}  // namespace nicswitch::agent
