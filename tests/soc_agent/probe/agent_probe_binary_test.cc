// nicswitch-agent with datapath RTE_FLOW on a real PMD whose rte_flow has no transfer switch
// (net_tap): the start-up probe's real rte_flow_validate calls are refused, the mandatory
// vf_to_vf shape with them, and the agent exits non-zero naming the shape and the PMD's reason,
// leaving neither its socket nor the TAP interfaces behind. Skipped without root and /dev/net/tun.

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/subprocess.h"
#include "tests/support/test_env.h"

namespace nicswitch {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

bool CanCreateTaps() {
  if (geteuid() != 0) {
    return false;
  }
  const int fd = open("/dev/net/tun", O_RDWR);
  if (fd < 0) {
    return false;
  }
  close(fd);
  return true;
}

TEST(AgentProbeBinaryTest, ANicRefusingTheMandatoryShapeFailsStartUpWithThePmdReason) {
  if (!CanCreateTaps()) {
    GTEST_SKIP() << "needs root and /dev/net/tun for net_tap";
  }
  const std::string dir = testenv::TestTempDir("agent_probe_binary_test");
  // Interface names unique to this process (at most 15 characters).
  const std::string tap0 = absl::StrCat("nsp", getpid() % 1000000, "u");
  const std::string tap1 = absl::StrCat("nsp", getpid() % 1000000, "v");
  const std::string socket = dir + "/agent.sock";
  const std::string config = dir + "/agent.textproto";
  std::ofstream(config) << R"(eal {
  args: ["-l", "0", "--no-pci", "--no-huge", "-m", "256", "--no-telemetry",
         "--vdev", "net_tap0,iface=)"
                        << tap0 << R"(", "--vdev", "net_tap1,iface=)" << tap1
                        << R"(", "--file-prefix", ")" << testenv::UniqueFilePrefix("agent-probe")
                        << R"("]
}
datapath: RTE_FLOW
rte_flow { uplink_port: "net_tap0" vf_representors: "net_tap1" }
api { unix_socket: ")" << socket
                        << R"(" store_path: ")" << dir << R"(/policy.db" }
)";
  {
    testenv::Subprocess agent(NICSWITCH_AGENT_BINARY, {"--config", config}, dir + "/agent.log");
    EXPECT_EQ(agent.Wait(30s), 1) << agent.Log();
    const std::string log = agent.Log();
    // net_tap's own words for the transfer attribute (DPDK 22.11), through rte_flow_validate.
    EXPECT_THAT(log, HasSubstr("start-up failed: FAILED_PRECONDITION: datapath RTE_FLOW: the "
                               "device refuses rule shape vf_to_vf (ENOTSUP: attr: transfer is "
                               "not supported), which the agent cannot work without"));
    EXPECT_THAT(log, HasSubstr("use datapath SOFT"));
    EXPECT_THAT(log, Not(HasSubstr("forwarded in software"))) << "nothing runs half-offloaded";
  }
  EXPECT_FALSE(std::filesystem::exists(socket));
  EXPECT_FALSE(std::filesystem::exists("/sys/class/net/" + tap0));
  EXPECT_FALSE(std::filesystem::exists("/sys/class/net/" + tap1));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nicswitch
