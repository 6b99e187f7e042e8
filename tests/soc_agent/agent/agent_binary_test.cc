// nicswitch-agent as a user runs it: config errors, the API on its socket, a restart that
// restores the policy from the store, and a clean SIGTERM shutdown.

#include <signal.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "nicswitch/v1/policy.grpc.pb.h"
#include "tests/support/subprocess.h"
#include "tests/support/telemetry_client.h"
#include "tests/support/test_env.h"

namespace nicswitch {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

class AgentBinaryTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = testenv::TestTempDir("agent_binary_test"); }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteConfig(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << body;
    return path;
  }

  // A runnable config: softasic on net_ring loopback ports, API on a socket in the temp dir.
  std::string GoodConfig() {
    return WriteConfig("agent.textproto", R"(eal {
  args: ["-l", "0-1", "--no-pci", "--no-huge", "-m", "512", "--no-telemetry",
         "--file-prefix", ")" + testenv::UniqueFilePrefix("agent-bin") +
                                              R"("]
}
logging { level: "info" }
datapath: SOFT
softasic { uplink: "net_ring0" vfs: "net_ring1" vfs: "net_ring2" datapath_lcores: 1 }
underlay {
  vtep_ip: "192.168.0.1"
  uplink_mac: "02:aa:00:00:00:01"
  next_hop_mac: "02:bb:00:00:00:01"
}
api { unix_socket: ")" + socket() + R"(" store_path: ")" +
                                              dir_ + R"(/policy.db" }
)");
  }

  std::string socket() const { return dir_ + "/agent.sock"; }

  std::unique_ptr<v1::PolicyService::Stub> Connect() {
    return v1::PolicyService::NewStub(
        grpc::CreateChannel("unix:" + socket(), grpc::InsecureChannelCredentials()));
  }

  std::string dir_;
};

TEST_F(AgentBinaryTest, ConfigErrorsNameFileLineAndFieldAndExitNonZero) {
  struct Case {
    const char* name;
    const char* body;
    const char* error;
  };
  const Case cases[] = {
      {"unknown field", "datapath: SOFT\nsoftasic { uplnk: \"net_null0\" }\n",
       "unknown.textproto:2:"},
      {"no uplink", "softasic { vfs: \"net_null1\" }\n", "softasic.uplink: the soft datapath"},
      {"bad gateway",
       "softasic { uplink: \"a\" vfs: \"b\" }\n\nslow_path { gateway_mac: \"zz\" }\n",
       "bad_gateway.textproto:3:13: slow_path.gateway_mac: \"zz\" is not a MAC address"},
      {"tcp without tls",
       "softasic { uplink: \"a\" vfs: \"b\" }\napi { tcp_address: \"[::]:5000\" }\n",
       "api.tls: TCP needs tls.cert_file"},
  };
  for (const Case& c : cases) {
    std::string file = c.name;
    std::replace(file.begin(), file.end(), ' ', '_');
    if (std::string(c.name) == "unknown field") {
      file = "unknown";
    }
    const std::string path = WriteConfig(file + ".textproto", c.body);
    testenv::Subprocess agent(NICSWITCH_AGENT_BINARY, {"--config", path, "--check-config"},
                              dir_ + "/check.log");
    const std::optional<int> rc = agent.Wait(20s);
    ASSERT_TRUE(rc.has_value()) << c.name;
    EXPECT_EQ(*rc, 2) << c.name;
    EXPECT_THAT(agent.Log(), HasSubstr(c.error)) << c.name;
  }
  testenv::Subprocess missing(NICSWITCH_AGENT_BINARY, {"--config", dir_ + "/nope.textproto"},
                              dir_ + "/missing.log");
  EXPECT_EQ(missing.Wait(20s), 2);
  EXPECT_THAT(missing.Log(), HasSubstr("nope.textproto"));
}

TEST_F(AgentBinaryTest, ServesTheApiRestoresPolicyOnRestartAndShutsDownCleanly) {
  const std::string config = GoodConfig();
  uint64_t revision = 0;
  {
    testenv::Subprocess agent(NICSWITCH_AGENT_BINARY, {"--config", config}, dir_ + "/run1.log");
    ASSERT_TRUE(testenv::WaitFor([&] { return std::filesystem::exists(socket()); }, 30s))
        << agent.Log();
    auto stub = Connect();
    v1::WriteRequest write;
    ASSERT_TRUE(google::protobuf::TextFormat::ParseFromString(
        R"pb(updates {
               type: INSERT
               entity { vpc { name: "blue" vni: 100 cidrs: "10.0.0.0/24" } }
             }
             updates {
               type: INSERT
               entity {
                 vnic {
                   name: "vm1"
                   vpc: "blue"
                   vf_index: 1
                   mac: "02:00:00:00:00:0a"
                   ipv4: "10.0.0.10"
                 }
               }
             })pb",
        &write));
    grpc::ClientContext write_ctx;
    write_ctx.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::WriteResponse written;
    const grpc::Status ws = stub->Write(&write_ctx, write, &written);
    ASSERT_TRUE(ws.ok()) << ws.error_message();
    revision = written.revision();
    EXPECT_EQ(revision, 2u) << "revision 1 is the underlay the agent wrote from its config";

    // The agent applies the revision (its slow path's replica caught up).
    ASSERT_TRUE(testenv::WaitFor(
        [&] {
          grpc::ClientContext ctx;
          v1::GetStatusResponse status;
          return stub->GetStatus(&ctx, v1::GetStatusRequest(), &status).ok() &&
                 status.applied_revision() == revision;
        },
        10s))
        << agent.Log();

    EXPECT_EQ(agent.Stop(SIGTERM, 15s), 0) << agent.Log();
    EXPECT_THAT(agent.Log(), HasSubstr("nicswitch-agent stopped"));
    EXPECT_FALSE(std::filesystem::exists(socket())) << "the API socket is removed on shutdown";
  }
  {
    testenv::Subprocess agent(NICSWITCH_AGENT_BINARY, {"--config", config}, dir_ + "/run2.log");
    ASSERT_TRUE(testenv::WaitFor([&] { return std::filesystem::exists(socket()); }, 30s))
        << agent.Log();
    auto stub = Connect();
    grpc::ClientContext ctx;
    v1::GetStatusResponse status;
    ASSERT_TRUE(stub->GetStatus(&ctx, v1::GetStatusRequest(), &status).ok());
    EXPECT_EQ(status.desired_revision(), revision) << "the store restored the revision";
    EXPECT_EQ(status.entities().vnics(), 1u);
    grpc::ClientContext read_ctx;
    v1::ReadRequest read;
    read.set_kind(v1::VNIC);
    read.set_name("vm1");
    v1::ReadResponse got;
    ASSERT_TRUE(stub->Read(&read_ctx, read, &got).ok());
    ASSERT_EQ(got.entities_size(), 1);
    EXPECT_EQ(got.entities(0).vnic().ipv4(), "10.0.0.10");
    EXPECT_EQ(agent.Stop(SIGTERM, 15s), 0) << agent.Log();
  }
}

// softasic.record_busy_cycles reaches the switch: its telemetry command, on the agent's DPDK
// telemetry socket, reports the datapath lcore's busy cycles (and not without the option).
TEST_F(AgentBinaryTest, RecordBusyCyclesReportsDatapathLoadInTelemetry) {
  for (const bool record : {true, false}) {
    SCOPED_TRACE(record ? "record_busy_cycles: true" : "default");
    const std::string prefix = testenv::UniqueFilePrefix(record ? "agent-tel-on" : "agent-tel-off");
    const std::string config = WriteConfig("agent-tel.textproto", R"(eal {
  args: ["-l", "0-1", "--no-pci", "--no-huge", "-m", "512", "--file-prefix", ")" +
                                                                      prefix + R"("]
}
datapath: SOFT
softasic {
  uplink: "net_ring0" vfs: "net_ring1" datapath_lcores: 1 idle_sleep_max_us: 1000
  )" + (record ? "record_busy_cycles: true" : "") + R"(
}
underlay { vtep_ip: "192.168.0.1" uplink_mac: "02:aa:00:00:00:01" next_hop_mac: "02:bb:00:00:00:01" }
api { unix_socket: ")" + socket() + R"(" store_path: ")" + dir_ + R"(/policy.db" }
)");
    testenv::Subprocess agent(NICSWITCH_AGENT_BINARY, {"--config", config}, dir_ + "/tel.log");
    ASSERT_TRUE(testenv::WaitFor([&] { return std::filesystem::exists(socket()); }, 30s))
        << agent.Log();
    const auto reply =
        testenv::QueryTelemetry(testenv::TelemetrySocketPath(prefix), "/softasic/stats");
    ASSERT_TRUE(reply.ok()) << reply.status() << "\n" << agent.Log();
    EXPECT_THAT(*reply, HasSubstr("\"/softasic/stats\":{\"rules\":")) << *reply;
    if (record) {
      EXPECT_GT(testenv::TelemetryField(*reply, "tsc_hz"), 0) << *reply;
      EXPECT_GE(testenv::TelemetryField(*reply, "lcore1_busy_cycles"), 0) << *reply;
      EXPECT_GE(testenv::TelemetryField(*reply, "lcore1_busy_packets"), 0) << *reply;
    } else {
      EXPECT_EQ(testenv::TelemetryField(*reply, "lcore1_busy_cycles"), -1) << *reply;
    }
    EXPECT_EQ(agent.Stop(SIGTERM, 15s), 0) << agent.Log();
  }
}

TEST_F(AgentBinaryTest, RteFlowDatapathRefusesPortsWithoutATransferSwitchClearly) {
  // A missing representor is named; a PMD without rte_flow (net_ring) is refused at start-up
  // with the reason, and the agent exits non-zero without leaving its socket behind.
  const std::string eal = R"(eal {
  args: ["-l", "0", "--no-pci", "--no-huge", "-m", "256", "--no-telemetry",
         "--vdev", "net_ring0", "--vdev", "net_ring1", "--file-prefix", ")" +
                          testenv::UniqueFilePrefix("agent-rteflow") + R"("]
}
datapath: RTE_FLOW
api { unix_socket: ")" + socket() +
                          R"(" store_path: ")" + dir_ + R"(/policy.db" }
)";
  {
    const std::string config =
        WriteConfig("missing.textproto", eal +
                                             "rte_flow { uplink_port: \"net_ring0\" "
                                             "vf_representors: \"net_ring7\" }\n");
    testenv::Subprocess agent(NICSWITCH_AGENT_BINARY, {"--config", config}, dir_ + "/m.log");
    EXPECT_EQ(agent.Wait(30s), 1);
    EXPECT_THAT(agent.Log(),
                HasSubstr("rte_flow.vf_representors[0]: no ethdev named \"net_ring7\""));
  }
  const std::string config =
      WriteConfig("rteflow.textproto", eal +
                                           "rte_flow { uplink_port: \"net_ring0\" "
                                           "vf_representors: \"net_ring1\" }\n");
  testenv::Subprocess agent(NICSWITCH_AGENT_BINARY, {"--config", config}, dir_ + "/r.log");
  EXPECT_EQ(agent.Wait(30s), 1);
  EXPECT_THAT(agent.Log(), HasSubstr("datapath RTE_FLOW: \"net_ring0\" offers no usable rte_flow "
                                     "transfer switch"));
  EXPECT_THAT(agent.Log(), HasSubstr("rte_flow_pick_transfer_proxy"));
  EXPECT_FALSE(std::filesystem::exists(socket()));
}

}  // namespace
}  // namespace nicswitch
