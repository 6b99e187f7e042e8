// RteFlowDevice against a StrictMock of the rte_flow/rte_mtr calls: the exact calls and arrays
// for representative rules, and PMD refusals mapped to clear errors.

#include "soc_agent/device/rte_flow_device.h"

#include <rte_flow.h>
#include <rte_mtr.h>

#include <cerrno>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "soc_agent/device/flow_device_mock.h"
#include "soc_agent/device/rte_flow_api_mock.h"

namespace nicswitch::device {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::ElementsAre;
using ::testing::Eq;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::IsEmpty;
using ::testing::Return;
using ::testing::SetArgPointee;
using ::testing::StrictMock;

constexpr uint16_t kProxy = 5;
rte_flow* const kFlowA = reinterpret_cast<rte_flow*>(0x1000);
rte_flow* const kFlowB = reinterpret_cast<rte_flow*>(0x2000);

std::vector<int> ItemTypes(const rte_flow_item* p) {
  std::vector<int> out;
  for (int i = 0; p[i].type != RTE_FLOW_ITEM_TYPE_END; ++i) {
    out.push_back(p[i].type);
  }
  return out;
}

std::vector<int> ActionTypes(const rte_flow_action* a) {
  std::vector<int> out;
  for (int i = 0; a[i].type != RTE_FLOW_ACTION_TYPE_END; ++i) {
    out.push_back(a[i].type);
  }
  return out;
}

flowrules::MacAddress Mac(uint8_t last) {
  flowrules::MacAddress m;
  m.bytes = {0x02, 0, 0, 0, 0, last};
  return m;
}

// VF port 1, UDP to 10.0.0.2:53 -> count, VXLAN encap (VNI 100), out of the uplink (port 0).
flowrules::Rule EncapRule() {
  flowrules::Rule r;
  r.priority = 1;
  r.match.represented_port = 1;
  r.match.outer.ipv4_dst = flowrules::Ipv4Prefix{flowrules::Ipv4Address{0x0a000002}, 32};
  r.match.outer.ip_protocol = 17;
  r.match.outer.l4_dst_port = 53;
  flowrules::VxlanEncapAction encap;
  encap.eth_src = Mac(1);
  encap.eth_dst = Mac(2);
  encap.ip = std::pair{flowrules::Ipv4Address{0xc0a80101}, flowrules::Ipv4Address{0xc0a80102}};
  encap.udp_src = 49152;
  encap.vni = 100;
  r.actions = {flowrules::CountAction{}, encap, flowrules::RepresentedPortAction{0}};
  return r;
}

class RteFlowDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EXPECT_CALL(api_, PickTransferProxy(0, _, _))
        .WillOnce(DoAll(SetArgPointee<1>(kProxy), Return(0)));
    EXPECT_CALL(api_, RegisterAgedEvent(kProxy, _))
        .WillOnce(DoAll(Invoke([this](uint16_t, std::function<void()> fn) { on_aged_ = fn; }),
                        Return(0)));
    RteFlowDeviceConfig config;
    config.port_id = 0;
    PortInfo up;
    up.port_id = 0;
    up.representor_port_id = 0;
    up.name = "0000:03:00.0";
    config.ports = {up};
    auto device = RteFlowDevice::Create(api_, config);
    ASSERT_TRUE(device.ok()) << device.status();
    device_ = std::move(*device);
  }
  void TearDown() override {
    if (device_ != nullptr) {
      EXPECT_CALL(api_, UnregisterAgedEvent(kProxy)).WillOnce(Return(0));
      device_.reset();
    }
  }

  StrictMock<MockRteFlowApi> api_;
  std::unique_ptr<RteFlowDevice> device_;
  std::function<void()> on_aged_;
};

TEST_F(RteFlowDeviceTest, CreatesTransferRuleOnTheProxyWithTheCompiledArrays) {
  EXPECT_CALL(api_, Create(kProxy, _, _, _, _, _))
      .WillOnce(Invoke([](uint16_t, const rte_flow_attr* attr, const rte_flow_item* pattern,
                          const rte_flow_action* actions, rte_flow** flow, rte_flow_error*) {
        EXPECT_EQ(attr->transfer, 1u);
        EXPECT_EQ(attr->ingress, 0u);
        EXPECT_EQ(attr->group, 0u);
        EXPECT_EQ(attr->priority, 1u);
        EXPECT_THAT(ItemTypes(pattern),
                    ElementsAre(RTE_FLOW_ITEM_TYPE_REPRESENTED_PORT, RTE_FLOW_ITEM_TYPE_ETH,
                                RTE_FLOW_ITEM_TYPE_IPV4, RTE_FLOW_ITEM_TYPE_UDP));
        EXPECT_EQ(static_cast<const rte_flow_item_ethdev*>(pattern[0].spec)->port_id, 1);
        const auto* ip = static_cast<const rte_flow_item_ipv4*>(pattern[2].spec);
        const auto* ip_mask = static_cast<const rte_flow_item_ipv4*>(pattern[2].mask);
        EXPECT_EQ(ip->hdr.dst_addr, rte_cpu_to_be_32(0x0a000002));
        EXPECT_EQ(ip_mask->hdr.dst_addr, 0xffffffffu);
        EXPECT_EQ(ip_mask->hdr.src_addr, 0u);
        const auto* udp = static_cast<const rte_flow_item_udp*>(pattern[3].spec);
        const auto* udp_mask = static_cast<const rte_flow_item_udp*>(pattern[3].mask);
        EXPECT_EQ(udp->hdr.dst_port, rte_cpu_to_be_16(53));
        EXPECT_EQ(udp_mask->hdr.dst_port, 0xffff);
        EXPECT_EQ(udp_mask->hdr.src_port, 0);
        EXPECT_THAT(ActionTypes(actions),
                    ElementsAre(RTE_FLOW_ACTION_TYPE_COUNT, RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP,
                                RTE_FLOW_ACTION_TYPE_REPRESENTED_PORT));
        const auto* encap = static_cast<const rte_flow_action_vxlan_encap*>(actions[1].conf);
        EXPECT_THAT(ItemTypes(encap->definition),
                    ElementsAre(RTE_FLOW_ITEM_TYPE_ETH, RTE_FLOW_ITEM_TYPE_IPV4,
                                RTE_FLOW_ITEM_TYPE_UDP, RTE_FLOW_ITEM_TYPE_VXLAN));
        const auto* outer_ip = static_cast<const rte_flow_item_ipv4*>(encap->definition[1].spec);
        EXPECT_EQ(outer_ip->hdr.dst_addr, rte_cpu_to_be_32(0xc0a80102));
        const auto* vx = static_cast<const rte_flow_item_vxlan*>(encap->definition[3].spec);
        EXPECT_THAT(std::vector<uint8_t>(vx->vni, vx->vni + 3), ElementsAre(0, 0, 100));
        EXPECT_EQ(static_cast<const rte_flow_action_ethdev*>(actions[2].conf)->port_id, 0);
        *flow = kFlowA;
        return 0;
      }));
  auto handle = device_->CreateRule(EncapRule());
  ASSERT_TRUE(handle.ok()) << handle.status();

  // Counters through rte_flow_query with a COUNT action.
  EXPECT_CALL(api_, Query(kProxy, kFlowA, _, _, _))
      .WillOnce(Invoke(
          [](uint16_t, rte_flow*, const rte_flow_action* action, void* data, rte_flow_error*) {
            EXPECT_EQ(action->type, RTE_FLOW_ACTION_TYPE_COUNT);
            auto* q = static_cast<rte_flow_query_count*>(data);
            EXPECT_EQ(q->reset, 0u);
            q->hits_set = 1;
            q->bytes_set = 1;
            q->hits = 10;
            q->bytes = 640;
            return 0;
          }));
  auto counters = device_->QueryCounters({*handle});
  ASSERT_TRUE(counters.ok()) << counters.status();
  EXPECT_THAT(*counters, ElementsAre(RuleCounters{true, 10, 640}));

  EXPECT_CALL(api_, Destroy(kProxy, kFlowA, _)).WillOnce(Return(0));
  EXPECT_TRUE(device_->DestroyRule(*handle).ok());
  EXPECT_EQ(device_->DestroyRule(*handle).code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(device_->QueryCounters({*handle}).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RteFlowDeviceTest, PmdRefusalOfAnActionNamesIt) {
  EXPECT_CALL(api_, Create(kProxy, _, _, _, _, _))
      .WillOnce(Invoke([](uint16_t, const rte_flow_attr*, const rte_flow_item*,
                          const rte_flow_action* actions, rte_flow** flow, rte_flow_error* error) {
        *flow = nullptr;
        error->type = RTE_FLOW_ERROR_TYPE_ACTION;
        error->cause = &actions[1];
        error->message = "encapsulation not supported on this port";
        return -ENOTSUP;
      }));
  auto handle = device_->CreateRule(EncapRule());
  EXPECT_EQ(handle.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(handle.status().message(),
              HasSubstr("rte_flow_create on port 5 refused actions[1] (VXLAN_ENCAP): "
                        "encapsulation not supported on this port"));
}

TEST_F(RteFlowDeviceTest, PmdRefusalOfAnItemMaskNamesTheItem) {
  EXPECT_CALL(api_, Create(kProxy, _, _, _, _, _))
      .WillOnce(Invoke([](uint16_t, const rte_flow_attr*, const rte_flow_item* pattern,
                          const rte_flow_action*, rte_flow** flow, rte_flow_error* error) {
        *flow = nullptr;
        error->type = RTE_FLOW_ERROR_TYPE_ITEM_MASK;
        error->cause = pattern[2].mask;
        error->message = "partial IPv4 masks are not supported";
        return -EINVAL;
      }));
  auto handle = device_->CreateRule(EncapRule());
  EXPECT_EQ(handle.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(handle.status().message(), HasSubstr("refused pattern[2] (IPV4): partial IPv4"));
}

TEST_F(RteFlowDeviceTest, PmdOutOfRuleSpaceIsResourceExhausted) {
  EXPECT_CALL(api_, Create(kProxy, _, _, _, _, _))
      .WillOnce(Invoke([](uint16_t, const rte_flow_attr*, const rte_flow_item*,
                          const rte_flow_action*, rte_flow** flow, rte_flow_error* error) {
        *flow = nullptr;
        error->type = RTE_FLOW_ERROR_TYPE_HANDLE;
        error->cause = nullptr;
        error->message = "flow table full";
        return -ENOSPC;
      }));
  EXPECT_EQ(device_->CreateRule(EncapRule()).status().code(), absl::StatusCode::kResourceExhausted);
}

TEST_F(RteFlowDeviceTest, InvalidRuleNeverReachesThePmd) {
  flowrules::Rule r = EncapRule();
  r.actions.push_back(flowrules::DropAction{});  // two fates
  EXPECT_EQ(device_->CreateRule(r).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RteFlowDeviceTest, AgedFlowsComeFromGetAgedFlowsOncePerRule) {
  flowrules::Rule r = EncapRule();
  r.actions.insert(r.actions.begin(), flowrules::AgeAction{30});
  EXPECT_CALL(api_, Create(kProxy, _, _, _, _, _))
      .WillOnce(Invoke([](uint16_t, const rte_flow_attr*, const rte_flow_item*,
                          const rte_flow_action* actions, rte_flow** flow, rte_flow_error*) {
        EXPECT_EQ(actions[0].type, RTE_FLOW_ACTION_TYPE_AGE);
        const auto* age = static_cast<const rte_flow_action_age*>(actions[0].conf);
        EXPECT_EQ(age->timeout, 30u);
        EXPECT_EQ(age->context, nullptr);  // the PMD reports the rte_flow handle
        *flow = kFlowB;
        return 0;
      }));
  auto handle = device_->CreateRule(r);
  ASSERT_TRUE(handle.ok()) << handle.status();
  on_aged_();  // the PMD's RTE_ETH_EVENT_FLOW_AGED
  EXPECT_TRUE(device_->aged_event_pending());
  EXPECT_CALL(api_, GetAgedFlows(kProxy, nullptr, 0, _)).Times(2).WillRepeatedly(Return(1));
  EXPECT_CALL(api_, GetAgedFlows(kProxy, _, 1, _))
      .Times(2)
      .WillRepeatedly(Invoke([](uint16_t, void** contexts, uint32_t, rte_flow_error*) {
        contexts[0] = kFlowB;
        return 1;
      }));
  auto aged = device_->CollectAgedRules();
  ASSERT_TRUE(aged.ok()) << aged.status();
  EXPECT_THAT(*aged, ElementsAre(*handle));
  EXPECT_FALSE(device_->aged_event_pending());
  auto again = device_->CollectAgedRules();
  ASSERT_TRUE(again.ok());
  EXPECT_THAT(*again, IsEmpty());
  EXPECT_CALL(api_, Destroy(kProxy, kFlowB, _)).WillOnce(Return(0));
  EXPECT_TRUE(device_->DestroyRule(*handle).ok());
}

TEST_F(RteFlowDeviceTest, MetersAreTrTcmProfilesWithADropRedPolicy) {
  const MeterProfile profile{125000, 1500, 250000, 3000};
  EXPECT_CALL(api_, MeterPolicyAdd(kProxy, 0xfffffff0u, _, _))
      .WillOnce(Invoke([](uint16_t, uint32_t, rte_mtr_meter_policy_params* p, rte_mtr_error*) {
        EXPECT_EQ(p->actions[RTE_COLOR_GREEN][0].type, RTE_FLOW_ACTION_TYPE_END);
        EXPECT_EQ(p->actions[RTE_COLOR_YELLOW][0].type, RTE_FLOW_ACTION_TYPE_END);
        EXPECT_EQ(p->actions[RTE_COLOR_RED][0].type, RTE_FLOW_ACTION_TYPE_DROP);
        return 0;
      }));
  EXPECT_CALL(api_, MeterProfileAdd(kProxy, 7u, _, _))
      .WillOnce(Invoke([](uint16_t, uint32_t, rte_mtr_meter_profile* p, rte_mtr_error*) {
        EXPECT_EQ(p->alg, RTE_MTR_TRTCM_RFC2698);
        EXPECT_EQ(p->trtcm_rfc2698.cir, 125000u);
        EXPECT_EQ(p->trtcm_rfc2698.pir, 250000u);
        EXPECT_EQ(p->trtcm_rfc2698.cbs, 1500u);
        EXPECT_EQ(p->trtcm_rfc2698.pbs, 3000u);
        EXPECT_EQ(p->packet_mode, 0);
        return 0;
      }));
  EXPECT_CALL(api_, MeterCreate(kProxy, 7u, _, 1, _))
      .WillOnce(Invoke([](uint16_t, uint32_t, rte_mtr_params* p, int, rte_mtr_error*) {
        EXPECT_EQ(p->meter_profile_id, 7u);
        EXPECT_EQ(p->meter_policy_id, 0xfffffff0u);
        EXPECT_EQ(p->meter_enable, 1);
        return 0;
      }));
  ASSERT_TRUE(device_->CreateMeter(7, profile).ok());
  EXPECT_EQ(device_->CreateMeter(7, profile).code(), absl::StatusCode::kAlreadyExists);
  // Impossible profiles are refused before any rte_mtr call (the mock is strict).
  const absl::Status pir_below_cir = device_->CreateMeter(8, MeterProfile{2000, 100, 1000, 100});
  EXPECT_EQ(pir_below_cir.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(pir_below_cir.message(), HasSubstr("meter 8: need cir > 0, cbs > 0, pbs > 0 and pir "
                                                 ">= cir (cir 2000, pir 1000)"));
  EXPECT_EQ(device_->CreateMeter(9, MeterProfile{0, 100, 1000, 100}).code(),
            absl::StatusCode::kInvalidArgument);

  // A rule using it; the meter cannot go while the rule exists.
  flowrules::Rule r = EncapRule();
  r.actions.insert(r.actions.begin(), flowrules::MeterAction{7});
  EXPECT_CALL(api_, Create(kProxy, _, _, _, _, _))
      .WillOnce(DoAll(SetArgPointee<4>(kFlowA), Return(0)));
  auto handle = device_->CreateRule(r);
  ASSERT_TRUE(handle.ok()) << handle.status();
  EXPECT_EQ(device_->DestroyMeter(7).code(), absl::StatusCode::kFailedPrecondition);

  EXPECT_CALL(api_, MeterStatsRead(kProxy, 7u, _, _, 0, _))
      .WillOnce(Invoke([](uint16_t, uint32_t, rte_mtr_stats* s, uint64_t*, int, rte_mtr_error*) {
        s->n_pkts[RTE_COLOR_GREEN] = 90;
        s->n_pkts[RTE_COLOR_YELLOW] = 5;
        s->n_pkts_dropped = 12;
        return 0;
      }));
  auto stats = device_->QueryMeter(7);
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(*stats, (MeterStats{90, 5, 12}));

  EXPECT_CALL(api_, Destroy(kProxy, kFlowA, _)).WillOnce(Return(0));
  ASSERT_TRUE(device_->DestroyRule(*handle).ok());
  EXPECT_CALL(api_, MeterDestroy(kProxy, 7u, _)).WillOnce(Return(0));
  EXPECT_CALL(api_, MeterProfileDelete(kProxy, 7u, _)).WillOnce(Return(0));
  EXPECT_TRUE(device_->DestroyMeter(7).ok());
  // Unknown meter in a rule: refused before the PMD is asked.
  EXPECT_EQ(device_->CreateRule(r).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RteFlowDeviceTest, MeterRefusedByThePmdIsReportedAndNothingLeaks) {
  EXPECT_CALL(api_, MeterPolicyAdd(kProxy, _, _, _)).WillOnce(Return(0));
  EXPECT_CALL(api_, MeterProfileAdd(kProxy, 3u, _, _)).WillOnce(Return(0));
  EXPECT_CALL(api_, MeterCreate(kProxy, 3u, _, 1, _))
      .WillOnce(Invoke([](uint16_t, uint32_t, rte_mtr_params*, int, rte_mtr_error* e) {
        e->message = "no meters left";
        return -ENOSPC;
      }));
  EXPECT_CALL(api_, MeterProfileDelete(kProxy, 3u, _)).WillOnce(Return(0));
  absl::Status s = device_->CreateMeter(3, MeterProfile{1000, 100, 1000, 100});
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(s.message(), HasSubstr("rte_mtr_create on port 5 for id 3 failed: no meters left"));
}

TEST(RteFlowDeviceCreateTest, NoTransferProxyIsAnError) {
  StrictMock<MockRteFlowApi> api;
  EXPECT_CALL(api, PickTransferProxy(3, _, _))
      .WillOnce(Invoke([](uint16_t, uint16_t*, rte_flow_error* e) {
        e->type = RTE_FLOW_ERROR_TYPE_UNSPECIFIED;
        e->message = "port is not a switch port";
        return -ENODEV;
      }));
  RteFlowDeviceConfig config;
  config.port_id = 3;
  auto device = RteFlowDevice::Create(api, config);
  EXPECT_EQ(device.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(device.status().message(), HasSubstr("port is not a switch port"));
}

// The agent's tests program the device through MockFlowDevice.
TEST(MockFlowDeviceTest, StandsInForADevice) {
  StrictMock<MockFlowDevice> device;
  EXPECT_CALL(device, CreateRule(Eq(EncapRule()))).WillOnce(Return(RuleHandle{42}));
  FlowDevice& as_interface = device;
  auto handle = as_interface.CreateRule(EncapRule());
  ASSERT_TRUE(handle.ok());
  EXPECT_EQ(handle->value, 42u);
}

}  // namespace
}  // namespace nicswitch::device
