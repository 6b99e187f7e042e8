// The probed capabilities as a user sees them: `nicswitchctl status` (and -o json) against a
// real PolicyServer whose flow table is the agent's FlowTableAdapter over a FlowManager on the
// rte_flow backend, with a mocked rte_flow layer that refuses VXLAN_DECAP.

#include <rte_flow.h>
#include <rte_mtr.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <google/protobuf/util/json_util.h>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "soc_agent/agent/flow_table_adapter.h"
#include "soc_agent/api/policy_server.h"
#include "soc_agent/device/capabilities.h"
#include "soc_agent/device/rte_flow_api_mock.h"
#include "soc_agent/device/rte_flow_device.h"
#include "tests/support/test_env.h"

namespace nicswitch::device {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Invoke;
using ::testing::Return;
using ::testing::SetArgPointee;
using ::testing::StrictMock;

constexpr uint16_t kProxy = 5;

struct CtlRun {
  int exit_code = -1;
  std::string out;
};

class CapabilityStatusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testenv::TestTempDir("capability_status");
    EXPECT_CALL(api_, PickTransferProxy(0, _, _))
        .WillOnce(DoAll(SetArgPointee<1>(kProxy), Return(0)));
    EXPECT_CALL(api_, RegisterAgedEvent(kProxy, _)).WillOnce(Return(0));
    auto device = RteFlowDevice::Create(api_, RteFlowDeviceConfig{});
    ASSERT_TRUE(device.ok()) << device.status();
    device_ = std::move(*device);

    // The probe: meters work, VXLAN_DECAP is refused.
    EXPECT_CALL(api_, MeterPolicyAdd(kProxy, _, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterProfileAdd(kProxy, _, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterCreate(kProxy, _, _, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterDestroy(kProxy, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, MeterProfileDelete(kProxy, _, _)).WillOnce(Return(0));
    EXPECT_CALL(api_, Validate(kProxy, _, _, _, _))
        .Times(kRuleShapeCount)
        .WillRepeatedly(Invoke([](uint16_t, const rte_flow_attr*, const rte_flow_item*,
                                  const rte_flow_action* actions, rte_flow_error* error) {
          for (int i = 0; actions[i].type != RTE_FLOW_ACTION_TYPE_END; ++i) {
            if (actions[i].type == RTE_FLOW_ACTION_TYPE_VXLAN_DECAP) {
              error->type = RTE_FLOW_ERROR_TYPE_ACTION;
              error->cause = &actions[i];
              error->message = "VXLAN_DECAP not supported";
              return -ENOTSUP;
            }
          }
          return 0;
        }));
    ShapeSampleOptions samples;
    samples.uplink_port = 0;
    samples.vf_ports = {1, 2};
    probed_ = std::make_unique<ProbedFlowDevice>(*device_, ProbeCapabilities(*device_, samples));
    flows_ = std::make_unique<flows::FlowManager>(*probed_, flows::FlowManager::Options{});
    adapter_ = std::make_unique<agent::FlowTableAdapter>(*flows_, nullptr);
    adapter_->AttachCapabilities(probed_.get());

    api::PolicyServerOptions options;
    options.engine.store_path = dir_ + "/policy.db";
    options.engine.durable = false;
    options.unix_socket = dir_ + "/api.sock";
    auto server = api::PolicyServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->AttachFlowTable(adapter_.get());
  }

  void TearDown() override {
    server_.reset();
    if (flows_ != nullptr) {
      flows_->Flush("");
    }
    adapter_.reset();
    flows_.reset();
    probed_.reset();
    EXPECT_CALL(api_, UnregisterAgedEvent(kProxy)).WillOnce(Return(0));
    device_.reset();
    std::filesystem::remove_all(dir_);
  }

  CtlRun Ctl(const std::string& args) {
    const std::string command =
        absl::StrCat(NICSWITCHCTL_PATH, " --timeout 3 -s unix:", dir_, "/api.sock ", args, " 2>&1");
    CtlRun run;
    FILE* pipe = popen(command.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
      run.out.append(buf, n);
    }
    const int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    return run;
  }

  std::string dir_;
  StrictMock<MockRteFlowApi> api_;
  std::unique_ptr<RteFlowDevice> device_;
  std::unique_ptr<ProbedFlowDevice> probed_;
  std::unique_ptr<flows::FlowManager> flows_;
  std::unique_ptr<agent::FlowTableAdapter> adapter_;
  std::unique_ptr<api::PolicyServer> server_;
};

TEST_F(CapabilityStatusTest, StatusPrintsWhatIsOffloadedAndWhatIsForwardedInSoftware) {
  // One decap flow direction: kept off the device (no rte_flow_create) and counted.
  flows::FlowSpec spec;
  ShapeSampleOptions samples;
  samples.uplink_port = 0;
  samples.vf_ports = {1, 2};
  spec.forward = {SampleRule(RuleShape::kUplinkToVfDecap, samples), "a"};
  ASSERT_TRUE(flows_->Install(spec).ok());

  CtlRun r = Ctl("status");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  EXPECT_THAT(r.out, HasSubstr("software_flows    1"));
  EXPECT_THAT(r.out, HasSubstr("\ndevice capabilities:\n  vf_to_vf: offloaded\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  vf_to_uplink_encap: offloaded\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  vf_to_uplink_encap_routed_metered: offloaded\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  uplink_to_vf_decap: software (ENOTSUP: actions[2] "
                               "(VXLAN_DECAP): VXLAN_DECAP not supported), 1 rules so far\n"));
  EXPECT_THAT(r.out, HasSubstr("\n  uplink_to_vf_decap_metered: software (ENOTSUP: actions[2] "
                               "(VXLAN_DECAP): VXLAN_DECAP not supported)\n"));

  r = Ctl("-o json status");
  ASSERT_EQ(r.exit_code, 0) << r.out;
  v1::GetStatusResponse status;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &status).ok()) << r.out;
  ASSERT_EQ(status.capabilities_size(), kRuleShapeCount);
  const v1::ShapeCapability& decap =
      status.capabilities(static_cast<int>(RuleShape::kUplinkToVfDecap));
  EXPECT_EQ(decap.shape(), "uplink_to_vf_decap");
  EXPECT_FALSE(decap.offloaded());
  EXPECT_EQ(decap.error(), "ENOTSUP");
  EXPECT_EQ(decap.reason(), "actions[2] (VXLAN_DECAP): VXLAN_DECAP not supported");
  EXPECT_EQ(decap.software_rules(), 1u);
  const v1::ShapeCapability& local = status.capabilities(0);
  EXPECT_EQ(local.shape(), "vf_to_vf");
  EXPECT_TRUE(local.offloaded());
  EXPECT_TRUE(local.mandatory());
}

}  // namespace
}  // namespace nicswitch::device
