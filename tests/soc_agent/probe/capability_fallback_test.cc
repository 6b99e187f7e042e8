// A shape the NIC refuses at start-up is forwarded by the slow path from the first packet on:
// the agent's real slow path and flow manager on ring-backed representor ethdevs, the rte_flow
// backend over a StrictMock of rte_flow that refuses VXLAN_DECAP. Every VXLAN packet from the
// uplink reaches the VF decapsulated, by software, and rte_flow_create is never asked for the
// decap rule.

#include <rte_ethdev.h>
#include <rte_flow.h>
#include <rte_mbuf.h>
#include <rte_mtr.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/eal.h"
#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "gtest/gtest.h"
#include "soc_agent/device/capabilities.h"
#include "soc_agent/device/rte_flow_api_mock.h"
#include "soc_agent/device/rte_flow_device.h"
#include "soc_agent/flows/flow_manager.h"
#include "soc_agent/slowpath/packet.h"
#include "soc_agent/slowpath/slow_path.h"
#include "tests/soc_agent/device/packet_util.h"
#include "tests/soc_agent/slowpath/packet_builder.h"
#include "tests/support/test_env.h"

namespace nicswitch::device {
namespace {

using ::testing::_;
using testing::Bytes;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Return;
using testing::RingPort;
using ::testing::SetArgPointee;
using ::testing::SizeIs;
using ::testing::StrictMock;

constexpr char kGw[] = "02:00:00:00:00:01";
constexpr char kMacA[] = "02:00:00:00:00:0a";
rte_flow* const kEncapFlow = reinterpret_cast<rte_flow*>(0x1000);

int FindAction(const rte_flow_action* a, int type) {
  for (int i = 0; a[i].type != RTE_FLOW_ACTION_TYPE_END; ++i) {
    if (a[i].type == type) {
      return i;
    }
  }
  return -1;
}

class CapabilityFallbackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitEal("capability_fallback_test",
                        testenv::TestEalArgs("capability_fallback_test", {}, 256, "0"))
                    .ok());
    pool_ = rte_pktmbuf_pool_create("fallback_pool", 1023, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, 0);
    ASSERT_NE(pool_, nullptr);
    for (RingPort* p : {&uplink_, &vf0_, &vf1_}) {
      *p = RingPort::Make(p == &uplink_ ? "uplink" : p == &vf0_ ? "vf0" : "vf1", 1024);
      ASSERT_GE(p->port_id, 0);
      const uint16_t port = static_cast<uint16_t>(p->port_id);
      rte_eth_conf conf{};
      ASSERT_EQ(rte_eth_dev_configure(port, 1, 1, &conf), 0);
      ASSERT_EQ(rte_eth_rx_queue_setup(port, 0, 1024, 0, nullptr, pool_), 0);
      ASSERT_EQ(rte_eth_tx_queue_setup(port, 0, 1024, 0, nullptr), 0);
      ASSERT_EQ(rte_eth_dev_start(port), 0);
    }
    uplink_port_ = static_cast<uint16_t>(uplink_.port_id);
    vf_ports_ = {static_cast<uint16_t>(vf0_.port_id), static_cast<uint16_t>(vf1_.port_id)};

    // The rte_flow backend on the "PF" (the uplink's ethdev), its proxy being itself.
    EXPECT_CALL(api_, PickTransferProxy(uplink_port_, _, _))
        .WillOnce(DoAll(SetArgPointee<1>(uplink_port_), Return(0)));
    EXPECT_CALL(api_, RegisterAgedEvent(uplink_port_, _)).WillOnce(Return(0));
    RteFlowDeviceConfig config;
    config.port_id = uplink_port_;
    auto device = RteFlowDevice::Create(api_, config);
    ASSERT_TRUE(device.ok()) << device.status();
    device_ = std::move(*device);

    // Start-up probe: the NIC refuses VXLAN_DECAP.
    EXPECT_CALL(api_, MeterPolicyAdd(uplink_port_, _, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterProfileAdd(uplink_port_, _, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterCreate(uplink_port_, _, _, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterDestroy(uplink_port_, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterProfileDelete(uplink_port_, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, Validate(uplink_port_, _, _, _, _))
        .Times(kRuleShapeCount)
        .WillRepeatedly(Invoke([](uint16_t, const rte_flow_attr*, const rte_flow_item*,
                                  const rte_flow_action* actions, rte_flow_error* error) {
          if (int i = FindAction(actions, RTE_FLOW_ACTION_TYPE_VXLAN_DECAP); i >= 0) {
            error->type = RTE_FLOW_ERROR_TYPE_ACTION;
            error->cause = &actions[i];
            error->message = "VXLAN_DECAP not supported";
            return -ENOTSUP;
          }
          return 0;
        }));
    ShapeSampleOptions samples;
    samples.uplink_port = uplink_port_;
    samples.vf_ports = vf_ports_;
    probed_ = std::make_unique<ProbedFlowDevice>(*device_, ProbeCapabilities(*device_, samples));
    ASSERT_FALSE(probed_->capabilities().Supports(RuleShape::kUplinkToVfDecap));

    flows_ = std::make_unique<flows::FlowManager>(*probed_, flows::FlowManager::Options{});
    slowpath::SlowPathOptions options;
    options.decision.gateway_mac = *flowrules::MacAddress::Parse(kGw);
    slow_ = std::make_unique<slowpath::SlowPath>(
        *probed_, *flows_, slowpath::SwitchPorts{uplink_port_, vf_ports_}, options);

    // The agent datapath test's policy: vNIC a on VF 0, mapping "far" 10.0.0.50 behind VTEP
    // 192.168.0.2, UDP 7000-7999 allowed in.
    std::ifstream in(NICSWITCH_TESTDATA_DIR "/agent/policy.textproto");
    std::stringstream text;
    text << in.rdbuf();
    v1::WriteRequest request;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(text.str(), &request));
    std::vector<v1::Entity> entities;
    for (const v1::Update& u : request.updates()) {
      entities.push_back(u.entity());
      if (entities.back().has_underlay()) {
        entities.back().mutable_underlay()->set_name("default");  // as the engine commits it
      }
    }
    slow_->EnqueueBatch(slowpath::SnapshotBatch(std::move(entities), 1));
    slow_->ApplyPendingBatches();
  }

  void TearDown() override {
    if (flows_ != nullptr && flows_->stats().flows > 0) {
      EXPECT_CALL(api_, Destroy(uplink_port_, kEncapFlow, _)).WillOnce(Return(0));
      flows_->Flush("");
    }
    slow_.reset();
    flows_.reset();
    probed_.reset();
    if (device_ != nullptr) {
      EXPECT_CALL(api_, UnregisterAgedEvent(uplink_port_)).WillOnce(Return(0));
      device_.reset();
    }
    for (RingPort* p : {&uplink_, &vf0_, &vf1_}) {
      if (p->port_id >= 0) {
        p->Drain();
        rte_eth_dev_stop(static_cast<uint16_t>(p->port_id));
        rte_eth_dev_close(static_cast<uint16_t>(p->port_id));
        rte_ring_free(p->inject);
        rte_ring_free(p->capture);
      }
    }
    rte_mempool_free(pool_);
    CleanupEal();
  }

  // VXLAN from the remote VTEP: 10.0.0.50 -> vNIC a (10.0.0.10), UDP to port 7000.
  static Bytes FromFar(size_t payload) {
    return slowpath::test::FrameBuilder()
        .Eth("02:aa:00:00:00:01", "02:bb:00:00:00:01", slowpath::kEtherTypeIpv4)
        .Ipv4("192.168.0.2", "192.168.0.1", slowpath::kIpProtoUdp)
        .Udp(51000, 4789)
        .Vxlan(100)
        .Eth(kGw, "02:00:00:00:00:50", slowpath::kEtherTypeIpv4)
        .Ipv4("10.0.0.50", "10.0.0.10", slowpath::kIpProtoUdp)
        .Udp(33000, 7000)
        .Payload(payload)
        .Finish();
  }

  void Inject(const Bytes& frame) {
    rte_mbuf* m = testing::ToMbuf(pool_, frame);
    ASSERT_NE(m, nullptr);
    ASSERT_TRUE(uplink_.Inject(m));
  }

  size_t Pump() {
    size_t handled = 0;
    for (int i = 0; i < 4; ++i) {
      handled += slow_->PollOnce();
    }
    return handled;
  }

  rte_mempool* pool_ = nullptr;
  RingPort uplink_, vf0_, vf1_;
  uint16_t uplink_port_ = 0;
  std::vector<uint16_t> vf_ports_;
  StrictMock<MockRteFlowApi> api_;
  std::unique_ptr<RteFlowDevice> device_;
  std::unique_ptr<ProbedFlowDevice> probed_;
  std::unique_ptr<flows::FlowManager> flows_;
  std::unique_ptr<slowpath::SlowPath> slow_;
};

TEST_F(CapabilityFallbackTest, RefusedDecapFlowIsForwardedInSoftwareFromItsFirstPacket) {
  // The flow's setup creates only the reverse (encap) rule in the NIC.
  EXPECT_CALL(api_, Create(uplink_port_, _, _, _, _, _))
      .WillOnce(Invoke([](uint16_t, const rte_flow_attr*, const rte_flow_item*,
                          const rte_flow_action* actions, rte_flow** flow, rte_flow_error*) {
        EXPECT_GE(FindAction(actions, RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP), 0);
        EXPECT_EQ(FindAction(actions, RTE_FLOW_ACTION_TYPE_VXLAN_DECAP), -1);
        *flow = kEncapFlow;
        return 0;
      }));
  const Bytes first = FromFar(64);
  Inject(first);
  ASSERT_EQ(Pump(), 1u);
  EXPECT_EQ(slow_->stats().flow_setups, 1u);
  EXPECT_EQ(slow_->stats().first_packets, 1u);

  // With no decap rule in the NIC, every later packet misses and the slow path forwards it.
  for (size_t size : {100u, 200u, 1000u}) {
    Inject(FromFar(size));
  }
  ASSERT_EQ(Pump(), 3u);
  const std::vector<Bytes> delivered = vf0_.Drain();
  ASSERT_THAT(delivered, SizeIs(4));
  EXPECT_THAT(vf1_.Drain(), SizeIs(0));
  EXPECT_THAT(uplink_.Drain(), SizeIs(0));
  // Decapsulated, MACs rewritten for the guest, the inner datagram intact.
  const size_t outer = 14 + 20 + 8 + 8;
  const size_t sizes[] = {64, 100, 200, 1000};
  for (size_t i = 0; i < delivered.size(); ++i) {
    const Bytes sent = FromFar(sizes[i]);
    const Bytes inner_l3(sent.begin() + outer + 14, sent.end());
    ASSERT_EQ(delivered[i].size(), sent.size() - outer) << i;
    EXPECT_EQ(Bytes(delivered[i].begin() + 14, delivered[i].end()), inner_l3) << i;
    auto parsed = slowpath::ParsePacket(delivered[i].data(), delivered[i].size());
    ASSERT_TRUE(parsed.ok());
    EXPECT_EQ(parsed->outer.eth_dst.ToString(), kMacA);
    EXPECT_EQ(parsed->outer.eth_src.ToString(), kGw);
  }

  EXPECT_EQ(slow_->stats().software_packets, 3u);
  EXPECT_EQ(slow_->stats().flow_setups, 1u) << "the flow was set up once";
  const flows::FlowManagerStats stats = flows_->stats();
  EXPECT_EQ(stats.flows, 2u);
  EXPECT_EQ(stats.software_flows, 1u);
  EXPECT_EQ(flows_->Totals("a").software_packets, 3u);
  EXPECT_EQ(probed_->software_rules(RuleShape::kUplinkToVfDecap), 1u);
  const std::vector<flows::FlowInfo> listed = flows_->List("", 0, 10);
  ASSERT_THAT(listed, SizeIs(2));
  EXPECT_TRUE(listed[0].in_software);
  EXPECT_THAT(listed[0].software_reason,
              HasSubstr("rule shape uplink_to_vf_decap is not offloaded"));
  EXPECT_FALSE(listed[1].in_software);
}

}  // namespace
}  // namespace nicswitch::device
