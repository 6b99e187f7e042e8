// The start-up capability probe against a StrictMock of the rte_flow/rte_mtr calls: one
// rte_flow_validate per rule shape on the transfer proxy, the PMD's refusals (errno and
// message) in DeviceCapabilities, a refused mandatory shape failing start-up, and refused
// shapes' flows installed in software without any rte_flow_create.

#include "soc_agent/device/capabilities.h"

#include <rte_flow.h>
#include <rte_mtr.h>

#include <cerrno>
#include <vector>

#include "flowrules/rte_flow.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "soc_agent/device/flow_device_mock.h"
#include "soc_agent/device/rte_flow_api_mock.h"
#include "soc_agent/device/rte_flow_device.h"
#include "soc_agent/flows/flow_manager.h"

namespace nicswitch::device {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::SetArgPointee;
using ::testing::StrictMock;

constexpr uint16_t kPf = 0;
constexpr uint16_t kProxy = 5;
constexpr uint16_t kUplink = 0;
constexpr uint16_t kVf0 = 1;
constexpr uint16_t kVf1 = 2;
constexpr uint32_t kProbeMeter = 0xffffff00;

std::vector<int> ActionTypes(const rte_flow_action* a) {
  std::vector<int> out;
  for (int i = 0; a[i].type != RTE_FLOW_ACTION_TYPE_END; ++i) {
    out.push_back(a[i].type);
  }
  return out;
}

std::vector<int> ItemTypes(const rte_flow_item* p) {
  std::vector<int> out;
  for (int i = 0; p[i].type != RTE_FLOW_ITEM_TYPE_END; ++i) {
    out.push_back(p[i].type);
  }
  return out;
}

// Index of the first action of `type`, or -1.
int FindAction(const rte_flow_action* a, int type) {
  for (int i = 0; a[i].type != RTE_FLOW_ACTION_TYPE_END; ++i) {
    if (a[i].type == type) {
      return i;
    }
  }
  return -1;
}

ShapeSampleOptions Samples() {
  ShapeSampleOptions o;
  o.uplink_port = kUplink;
  o.vf_ports = {kVf0, kVf1};
  o.meter_id = kProbeMeter;
  return o;
}

// A PMD's answer to rte_flow_validate: refuses VXLAN_DECAP (ENOTSUP) and METER (EINVAL) the way
// a PMD fills rte_flow_error, accepts the rest.
int RefuseDecapAndMeter(uint16_t, const rte_flow_attr*, const rte_flow_item*,
                        const rte_flow_action* actions, rte_flow_error* error) {
  if (int i = FindAction(actions, RTE_FLOW_ACTION_TYPE_VXLAN_DECAP); i >= 0) {
    error->type = RTE_FLOW_ERROR_TYPE_ACTION;
    error->cause = &actions[i];
    error->message = "VXLAN_DECAP not supported";
    return -ENOTSUP;
  }
  if (int i = FindAction(actions, RTE_FLOW_ACTION_TYPE_METER); i >= 0) {
    error->type = RTE_FLOW_ERROR_TYPE_ACTION_CONF;
    error->cause = actions[i].conf;
    error->message = "meter action not supported in the transfer domain";
    return -EINVAL;
  }
  return 0;
}

class CapabilityProbeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EXPECT_CALL(api_, PickTransferProxy(kPf, _, _))
        .WillOnce(DoAll(SetArgPointee<1>(kProxy), Return(0)));
    EXPECT_CALL(api_, RegisterAgedEvent(kProxy, _)).WillOnce(Return(0));
    RteFlowDeviceConfig config;
    config.port_id = kPf;
    auto device = RteFlowDevice::Create(api_, config);
    ASSERT_TRUE(device.ok()) << device.status();
    device_ = std::move(*device);
  }
  void TearDown() override {
    EXPECT_CALL(api_, UnregisterAgedEvent(kProxy)).WillOnce(Return(0));
    device_.reset();
  }

  // The probe meter: created (with the shared policy first), destroyed after the probe.
  void ExpectProbeMeter() {
    EXPECT_CALL(api_, MeterPolicyAdd(kProxy, _, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterProfileAdd(kProxy, kProbeMeter, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterCreate(kProxy, kProbeMeter, _, 1, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterDestroy(kProxy, kProbeMeter, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterProfileDelete(kProxy, kProbeMeter, _)).WillOnce(Return(0));
  }

  StrictMock<MockRteFlowApi> api_;
  std::unique_ptr<RteFlowDevice> device_;
};

TEST_F(CapabilityProbeTest, ValidatesOneSampleOfEveryShapeOnTheTransferProxy) {
  ExpectProbeMeter();
  std::vector<std::vector<int>> validated_actions;
  std::vector<std::vector<int>> validated_items;
  EXPECT_CALL(api_, Validate(kProxy, _, _, _, _))
      .Times(kRuleShapeCount)
      .WillRepeatedly(Invoke([&](uint16_t, const rte_flow_attr* attr, const rte_flow_item* pattern,
                                 const rte_flow_action* actions, rte_flow_error*) {
        EXPECT_EQ(attr->transfer, 1u);
        EXPECT_EQ(attr->ingress, 0u);
        validated_items.push_back(ItemTypes(pattern));
        validated_actions.push_back(ActionTypes(actions));
        if (int m = FindAction(actions, RTE_FLOW_ACTION_TYPE_METER); m >= 0) {
          EXPECT_EQ(static_cast<const rte_flow_action_meter*>(actions[m].conf)->mtr_id, kProbeMeter)
              << "metered samples use the probe's meter";
        }
        return 0;
      }));
  const DeviceCapabilities caps = ProbeCapabilities(*device_, Samples());

  // Exactly the samples' arrays, one per shape, in shape order.
  ASSERT_EQ(validated_actions.size(), static_cast<size_t>(kRuleShapeCount));
  for (RuleShape shape : AllRuleShapes()) {
    auto sample = flowrules::CompiledRule::Compile(SampleRule(shape, Samples()));
    ASSERT_TRUE(sample.ok());
    EXPECT_EQ(validated_actions[static_cast<size_t>(shape)], ActionTypes(sample->actions()))
        << RuleShapeName(shape);
    EXPECT_EQ(validated_items[static_cast<size_t>(shape)], ItemTypes(sample->pattern()))
        << RuleShapeName(shape);
    EXPECT_TRUE(caps.Supports(shape)) << RuleShapeName(shape);
  }
  EXPECT_EQ(caps.supported_count(), static_cast<size_t>(kRuleShapeCount));
  EXPECT_TRUE(CheckMandatoryShapes(caps).ok());
}

TEST_F(CapabilityProbeTest, RefusedShapesCarryThePmdErrnoAndMessage) {
  ExpectProbeMeter();
  EXPECT_CALL(api_, Validate(kProxy, _, _, _, _))
      .Times(kRuleShapeCount)
      .WillRepeatedly(Invoke(RefuseDecapAndMeter));
  const DeviceCapabilities caps = ProbeCapabilities(*device_, Samples());

  for (RuleShape shape : {RuleShape::kVfToVf, RuleShape::kVfToVfRouted, RuleShape::kVfToUplinkEncap,
                          RuleShape::kVfToUplinkEncapRouted}) {
    EXPECT_TRUE(caps.Supports(shape)) << RuleShapeName(shape);
    EXPECT_EQ(caps.Of(shape).reason, "");
  }
  for (RuleShape shape :
       {RuleShape::kUplinkToVfDecap, RuleShape::kUplinkToVfDecapMetered,
        RuleShape::kUplinkToVfDecapRouted, RuleShape::kUplinkToVfDecapRoutedMetered}) {
    const ShapeCapability& c = caps.Of(shape);
    EXPECT_FALSE(c.supported) << RuleShapeName(shape);
    EXPECT_EQ(c.error_number, ENOTSUP);
    EXPECT_EQ(c.reason, "actions[2] (VXLAN_DECAP): VXLAN_DECAP not supported");
  }
  const ShapeCapability& metered = caps.Of(RuleShape::kVfToUplinkEncapMetered);
  EXPECT_FALSE(metered.supported);
  EXPECT_EQ(metered.error_number, EINVAL);
  EXPECT_EQ(ErrnoName(metered.error_number), "EINVAL");
  EXPECT_EQ(metered.reason,
            "actions[2] (METER): meter action not supported in the transfer domain");
  EXPECT_FALSE(caps.Supports(RuleShape::kVfToVfMetered));
  EXPECT_FALSE(caps.Supports(RuleShape::kVfToVfRoutedMetered));
  EXPECT_EQ(caps.supported_count(), 4u);
  EXPECT_TRUE(CheckMandatoryShapes(caps).ok()) << "vf_to_vf is offloaded: the agent starts";
}

TEST_F(CapabilityProbeTest, ADeviceWithoutMetersRefusesTheMeteredShapesWithoutValidatingThem) {
  EXPECT_CALL(api_, MeterPolicyAdd(kProxy, _, _, _))
      .WillOnce(Invoke([](uint16_t, uint32_t, rte_mtr_meter_policy_params*, rte_mtr_error* e) {
        e->message = "meter policies are not supported";
        return -ENOTSUP;
      }));
  // Only the 6 unmetered samples reach the PMD.
  EXPECT_CALL(api_, Validate(kProxy, _, _, _, _))
      .Times(kRuleShapeCount / 2)
      .WillRepeatedly(Invoke([](uint16_t, const rte_flow_attr*, const rte_flow_item*,
                                const rte_flow_action* actions, rte_flow_error*) {
        EXPECT_EQ(FindAction(actions, RTE_FLOW_ACTION_TYPE_METER), -1);
        return 0;
      }));
  const DeviceCapabilities caps = ProbeCapabilities(*device_, Samples());
  const ShapeCapability& c = caps.Of(RuleShape::kUplinkToVfDecapMetered);
  EXPECT_FALSE(c.supported);
  EXPECT_EQ(c.error_number, ENOTSUP);
  EXPECT_EQ(c.reason, "rte_mtr_meter_policy_add: meter policies are not supported");
  EXPECT_TRUE(caps.Supports(RuleShape::kUplinkToVfDecap));
  EXPECT_EQ(caps.supported_count(), 6u);
}

TEST_F(CapabilityProbeTest, ARefusedMandatoryShapeFailsStartUpClearly) {
  ExpectProbeMeter();
  EXPECT_CALL(api_, Validate(kProxy, _, _, _, _))
      .Times(kRuleShapeCount)
      .WillRepeatedly(Invoke([](uint16_t, const rte_flow_attr* attr, const rte_flow_item*,
                                const rte_flow_action*, rte_flow_error* error) {
        error->type = RTE_FLOW_ERROR_TYPE_ATTR_TRANSFER;
        error->cause = attr;
        error->message = "transfer rules are not supported on this port";
        return -ENOTSUP;
      }));
  const DeviceCapabilities caps = ProbeCapabilities(*device_, Samples());
  EXPECT_EQ(caps.supported_count(), 0u);
  const absl::Status status = CheckMandatoryShapes(caps);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(),
              HasSubstr("the device refuses rule shape vf_to_vf (ENOTSUP: attr: transfer rules "
                        "are not supported on this port), which the agent cannot work without"));
}

TEST_F(CapabilityProbeTest, RefusedShapesAreInstalledInSoftwareWithoutRteFlowCreate) {
  ExpectProbeMeter();
  EXPECT_CALL(api_, Validate(kProxy, _, _, _, _))
      .Times(kRuleShapeCount)
      .WillRepeatedly(Invoke(RefuseDecapAndMeter));
  ProbedFlowDevice probed(*device_, ProbeCapabilities(*device_, Samples()));
  flows::FlowManager manager(probed, flows::FlowManager::Options{.age_seconds = 30});

  // A remote flow: VF -> uplink encap (offloaded), uplink -> VF decap back (refused).
  auto decided = [](RuleShape shape) {
    flowrules::Rule rule = SampleRule(shape, Samples());
    rule.actions.erase(rule.actions.begin(), rule.actions.begin() + 2);  // the manager adds them
    return rule;
  };
  flows::FlowSpec spec;
  spec.forward = {decided(RuleShape::kVfToUplinkEncap), "a"};
  spec.reverse = flows::DirectionSpec{decided(RuleShape::kUplinkToVfDecap), "a"};
  rte_flow* const kEncapFlow = reinterpret_cast<rte_flow*>(0x1000);
  // The only rte_flow_create is the encap direction's (StrictMock: a create of the decap rule
  // would fail the test).
  EXPECT_CALL(api_, Create(kProxy, _, _, _, _, _))
      .WillOnce(Invoke([&](uint16_t, const rte_flow_attr*, const rte_flow_item*,
                           const rte_flow_action* actions, rte_flow** flow, rte_flow_error*) {
        EXPECT_GE(FindAction(actions, RTE_FLOW_ACTION_TYPE_VXLAN_ENCAP), 0);
        EXPECT_EQ(FindAction(actions, RTE_FLOW_ACTION_TYPE_VXLAN_DECAP), -1);
        *flow = kEncapFlow;
        return 0;
      }));
  auto id = manager.Install(spec);
  ASSERT_TRUE(id.ok()) << id.status();

  const flows::FlowManagerStats stats = manager.stats();
  EXPECT_EQ(stats.flows, 2u);
  EXPECT_EQ(stats.software_flows, 1u);
  EXPECT_EQ(stats.refused, 1u);
  auto decap = manager.Lookup(spec.reverse->rule.match);
  ASSERT_TRUE(decap.has_value());
  EXPECT_TRUE(decap->in_software);
  EXPECT_THAT(decap->software_reason,
              HasSubstr("rule shape uplink_to_vf_decap is not offloaded (the device refused it "
                        "at start-up: ENOTSUP: actions[2] (VXLAN_DECAP): VXLAN_DECAP not "
                        "supported)"));
  auto encap = manager.Lookup(spec.forward.rule.match);
  ASSERT_TRUE(encap.has_value());
  EXPECT_FALSE(encap->in_software);
  EXPECT_EQ(probed.software_rules(RuleShape::kUplinkToVfDecap), 1u);
  EXPECT_EQ(probed.software_rules(RuleShape::kVfToUplinkEncap), 0u);

  // The software direction's packets are the slow path's: counted per flow.
  manager.CountSoftwarePacket(decap->id, 100);
  EXPECT_EQ(manager.Totals("a").software_packets, 1u);

  // Removing the pair destroys only the rule that is in the device.
  EXPECT_CALL(api_, Destroy(kProxy, kEncapFlow, _)).WillOnce(Return(0));
  EXPECT_EQ(manager.Flush(""), 2u);
}

TEST(ProbedFlowDeviceTest, GatesOnlyRefusedShapesAndPassesEverythingElseToTheDevice) {
  StrictMock<MockFlowDevice> device;
  DeviceCapabilities caps = DeviceCapabilities::AllSupported();
  caps.Set(ShapeCapability{RuleShape::kUplinkToVfDecap, false, false, ENOTSUP, "no decap"});
  ProbedFlowDevice probed(device, caps);

  const flowrules::Rule decap = SampleRule(RuleShape::kUplinkToVfDecap, Samples());
  const flowrules::Rule local = SampleRule(RuleShape::kVfToVf, Samples());
  flowrules::Rule odd = local;  // no agent shape: the device decides
  odd.actions.back() = flowrules::JumpAction{3};

  auto refused = probed.CreateRule(decap);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(refused.status().message(),
              HasSubstr("rule shape uplink_to_vf_decap is not offloaded (the device refused it at "
                        "start-up: ENOTSUP: no decap)"));
  EXPECT_EQ(probed.ValidateRule(decap).code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(probed.software_rules(RuleShape::kUplinkToVfDecap), 1u);

  EXPECT_CALL(device, CreateRule(local)).WillOnce(Return(RuleHandle{7}));
  EXPECT_CALL(device, CreateRule(odd)).WillOnce(Return(RuleHandle{8}));
  EXPECT_CALL(device, ValidateRule(local)).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(device, DestroyRule(RuleHandle{7})).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(device, CreateMeter(3, _)).WillOnce(Return(absl::OkStatus()));
  EXPECT_CALL(device, ListPorts()).WillOnce(Return(std::vector<PortInfo>(3)));
  EXPECT_EQ(*probed.CreateRule(local), RuleHandle{7});
  EXPECT_EQ(*probed.CreateRule(odd), RuleHandle{8});
  EXPECT_TRUE(probed.ValidateRule(local).ok());
  EXPECT_TRUE(probed.DestroyRule(RuleHandle{7}).ok());
  EXPECT_TRUE(probed.CreateMeter(3, MeterProfile{1, 1, 1, 1}).ok());
  EXPECT_EQ(probed.ListPorts()->size(), 3u);
  EXPECT_EQ(probed.software_rules(RuleShape::kVfToVf), 0u);

  // A device that supports everything (the softasic's answer) gates nothing.
  ProbedFlowDevice all(device, DeviceCapabilities::AllSupported());
  EXPECT_CALL(device, CreateRule(decap)).WillOnce(Return(RuleHandle{9}));
  EXPECT_EQ(*all.CreateRule(decap), RuleHandle{9});
  EXPECT_TRUE(CheckMandatoryShapes(DeviceCapabilities::AllSupported()).ok());
}

TEST(ProbedFlowDeviceTest, BatchSendsOnlyOffloadedShapesToTheDeviceAndKeepsTheOrder) {
  StrictMock<MockFlowDevice> device;
  DeviceCapabilities caps = DeviceCapabilities::AllSupported();
  caps.Set(ShapeCapability{RuleShape::kUplinkToVfDecap, false, false, ENOTSUP, "no decap"});
  ProbedFlowDevice probed(device, caps);
  const flowrules::Rule decap = SampleRule(RuleShape::kUplinkToVfDecap, Samples());
  const flowrules::Rule local = SampleRule(RuleShape::kVfToVf, Samples());
  flowrules::Rule odd = local;
  odd.actions.back() = flowrules::JumpAction{3};

  // The mock's CreateRules is FlowDevice's default: one CreateRule per rule, in order.
  InSequence in_order;
  EXPECT_CALL(device, CreateRule(local)).WillOnce(Return(RuleHandle{7}));
  EXPECT_CALL(device, CreateRule(odd)).WillOnce(Return(absl::ResourceExhaustedError("full")));
  const std::vector<const flowrules::Rule*> batch = {&decap, &local, &decap, &odd};
  const auto results = probed.CreateRules(batch);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(*results[1], RuleHandle{7});
  EXPECT_EQ(results[2].status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(results[3].status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(probed.software_rules(RuleShape::kUplinkToVfDecap), 2u);
}

TEST(DeviceRefusalTest, RoundTripsThroughAStatus) {
  absl::Status status = absl::UnimplementedError("long message");
  EXPECT_EQ(RefusalOf(status).error_number, 0);
  EXPECT_EQ(RefusalOf(status).reason, "long message");
  AttachRefusal(status, ENOTSUP, "short");
  EXPECT_EQ(RefusalOf(status).error_number, ENOTSUP);
  EXPECT_EQ(RefusalOf(status).reason, "short");
  EXPECT_EQ(ErrnoName(ENOTSUP), "ENOTSUP");
  EXPECT_EQ(ErrnoName(ENOENT), "ENOENT");
  EXPECT_EQ(ErrnoName(0), "");
}

}  // namespace
}  // namespace nicswitch::device
