// nicswitchctl run as a user would, against a real PolicyServer (with a fake flow table).

#include <sys/wait.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include <google/protobuf/util/json_util.h>
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "nicswitch/v1/flows.pb.h"
#include "soc_agent/api/policy_server.h"
#include "tests/soc_agent/api/api_test_util.h"
#include "tests/support/test_env.h"

namespace nicswitch::ctl {
namespace {

struct CtlRun {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

class NicswitchctlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testenv::TestTempDir("nicswitchctl");
    api::PolicyServerOptions options;
    options.engine.store_path = dir_ + "/policy.db";
    options.engine.durable = false;
    options.engine.limits.max_vfs = 32;
    options.unix_socket = dir_ + "/api.sock";
    auto server = api::PolicyServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    server_->AttachFlowTable(&flows_);
  }
  void TearDown() override {
    server_.reset();
    std::filesystem::remove_all(dir_);
  }

  CtlRun Ctl(const std::string& args) {
    std::string err_path = dir_ + "/stderr";
    std::string command = absl::StrCat(NICSWITCHCTL_PATH, " --timeout 3 -s unix:", dir_,
                                       "/api.sock ", args, " 2>", err_path);
    CtlRun run;
    FILE* pipe = popen(command.c_str(), "r");
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) {
      run.out.append(buf, n);
    }
    int status = pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream err(err_path);
    run.err.assign(std::istreambuf_iterator<char>(err), std::istreambuf_iterator<char>());
    return run;
  }

  void WriteFile(const std::string& name, const std::string& text) {
    std::ofstream(dir_ + "/" + name) << text;
  }

  std::string dir_;
  api::testing::FakeFlowTable flows_;
  std::unique_ptr<api::PolicyServer> server_;
};

TEST_F(NicswitchctlTest, EntityCommandsPrintTablesAndJson) {
  CtlRun r = Ctl("vpc add prod --vni 100 --cidr 10.0.0.0/16 --cidr fd00::/64");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "revision 1\n");
  ASSERT_EQ(Ctl("sg add web --rule ingress,tcp,80-443,10.0.0.0/8,allow --rule "
                "ingress,any,any,any,deny")
                .exit_code,
            0);
  r =
      Ctl("vnic add vm1 --vpc prod --vf 3 --mac 02:00:00:00:00:03 --ipv4 10.0.0.3 --ipv6 fd00::3 "
          "--sg web --rate-bps 1000000 --burst-bytes 15000");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_EQ(Ctl("mapping add remote1 --vpc prod --ip 10.0.9.9 --vtep 192.0.2.9 --mac "
                "02:aa:00:00:00:09")
                .exit_code,
            0);
  ASSERT_EQ(Ctl("route add default-gw --vpc prod --prefix 0.0.0.0/0 --next-hop 10.0.9.9").exit_code,
            0);

  r = Ctl("vnic list");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 2u) << r.out;
  EXPECT_EQ(lines[0].substr(0, 4), "NAME");
  for (const char* cell : {"vm1", "prod", "3", "02:00:00:00:00:03", "10.0.0.3", "fd00::3", "web",
                           "1000000bps/15000B"}) {
    EXPECT_NE(lines[1].find(cell), std::string::npos) << cell << " in " << lines[1];
  }
  r = Ctl("sg show web");
  EXPECT_NE(r.out.find("ingress,tcp,80-443,10.0.0.0/8,allow"), std::string::npos) << r.out;

  // JSON is the API's own messages.
  r = Ctl("-o json vnic show vm1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  v1::Entity entity;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &entity).ok()) << r.out;
  EXPECT_EQ(entity.vnic().vf_index(), 3u);
  EXPECT_EQ(entity.vnic().qos().burst_bytes(), 15000u);
  r = Ctl("-o json route list --vpc prod");
  v1::ReadResponse routes;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &routes).ok()) << r.out;
  ASSERT_EQ(routes.entities_size(), 1);
  EXPECT_EQ(routes.entities(0).route().next_hop(), "10.0.9.9");

  r = Ctl("vnic set vm1 --vpc prod --vf 4 --mac 02:00:00:00:00:04 --ipv4 10.0.0.4");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(Ctl("vnic show vm1").out.find("10.0.0.4"), std::string::npos);
  ASSERT_EQ(Ctl("route del default-gw").exit_code, 0);
  EXPECT_EQ(Ctl("route list").out, "NAME  VPC  PREFIX  NEXT_HOP\n");

  r = Ctl("status");
  EXPECT_NE(r.out.find("desired_revision  7"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("vnics             1"), std::string::npos) << r.out;
}

TEST_F(NicswitchctlTest, ErrorsNameTheFieldAndSetMeaningfulExitCodes) {
  ASSERT_EQ(Ctl("vpc add prod --vni 100 --cidr 10.0.0.0/16").exit_code, 0);
  CtlRun r = Ctl("vnic add vm1 --vpc prod --vf 1 --mac zz --ipv4 10.0.0.3");
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("mac \"zz\" is not a MAC address"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("[field updates[0].entity.vnic.mac]"), std::string::npos) << r.err;
  EXPECT_EQ(
      Ctl("vnic add vm1 --vpc prod --vf 99 --mac 02:00:00:00:00:01 --ipv4 10.0.0.3").exit_code, 3);
  EXPECT_EQ(Ctl("vpc show nope").exit_code, 4);
  EXPECT_EQ(Ctl("vpc del nope").exit_code, 4);
  EXPECT_EQ(Ctl("vpc add prod --vni 101 --cidr 10.1.0.0/16").exit_code, 5);
  ASSERT_EQ(Ctl("vnic add vm1 --vpc prod --vf 1 --mac 02:00:00:00:00:01 --ipv4 10.0.0.3").exit_code,
            0);
  r = Ctl("vpc del prod");
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.err.find("FAILED_PRECONDITION"), std::string::npos);
  EXPECT_EQ(Ctl("vnic add vm2 --vpc prod --vf 2 --mac 02:00:00:00:00:02 --ipv4 10.0.0.4 --sg x")
                .exit_code,
            6);
  EXPECT_EQ(Ctl("sg add s --rule sideways,tcp,1,any,allow").exit_code, 2);
  EXPECT_EQ(Ctl("vpc add").exit_code, 2);
  EXPECT_EQ(Ctl("frobnicate").exit_code, 2);
  r = Ctl(absl::StrCat("-s unix:", dir_, "/missing.sock status"));
  EXPECT_EQ(r.exit_code, 9) << r.err;
}

TEST_F(NicswitchctlTest, ApplyMakesThePolicyMatchTheFile) {
  const std::string doc = R"pb(
    underlay {
      vtep_ip: "192.0.2.1"
      uplink_mac: "02:00:00:00:01:01"
      next_hop_mac: "02:00:00:00:01:02"
    }
    security_groups {
      name: "web"
      rules { direction: INGRESS protocol: TCP port_min: 80 port_max: 80 action: ALLOW }
    }
    vpcs { name: "prod" vni: 100 cidrs: "10.0.0.0/16" }
    vnics {
      name: "vm1"
      vpc: "prod"
      vf_index: 1
      mac: "02:00:00:00:00:01"
      ipv4: "10.0.0.1"
      security_groups: "web"
    }
    vnics { name: "vm2" vpc: "prod" vf_index: 2 mac: "02:00:00:00:00:02" ipv4: "10.0.0.2" }
    mappings {
      name: "m1"
      vpc: "prod"
      overlay_ip: "10.0.5.5"
      remote_vtep_ip: "192.0.2.7"
      remote_mac: "02:aa:00:00:00:01"
    }
    routes { name: "r1" vpc: "prod" prefix: "0.0.0.0/0" next_hop: "10.0.5.5" }
  )pb";
  WriteFile("policy.textproto", doc);
  CtlRun r = Ctl(absl::StrCat("apply -f ", dir_, "/policy.textproto --dry-run"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "would apply: 7 inserted, 0 modified, 0 deleted, 0 unchanged; revision 0\n");
  r = Ctl(absl::StrCat("apply -f ", dir_, "/policy.textproto"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "applied: 7 inserted, 0 modified, 0 deleted, 0 unchanged; revision 1\n");
  r = Ctl(absl::StrCat("apply -f ", dir_, "/policy.textproto"));
  EXPECT_EQ(r.out, "applied: 0 inserted, 0 modified, 0 deleted, 7 unchanged; revision 1\n");

  // An error in the file: nothing applied, and the message points at the line.
  std::string bad = doc;
  bad.replace(bad.find("02:00:00:00:00:02"), 17, "02:00:00:00:00:zz");
  bad.replace(bad.find("10.0.0.1\""), 8, "10.0.0.9");
  WriteFile("bad.textproto", bad);
  r = Ctl(absl::StrCat("apply -f ", dir_, "/bad.textproto"));
  EXPECT_EQ(r.exit_code, 3);
  const int line =
      1 + static_cast<int>(std::count(bad.begin(), bad.begin() + bad.find("zz"), '\n'));
  EXPECT_NE(r.err.find(absl::StrCat("field updates[1].entity.vnic.mac at ", dir_,
                                    "/bad.textproto:", line, ":")),
            std::string::npos)
      << r.err;
  EXPECT_NE(Ctl("vnic show vm1").out.find("10.0.0.1 "), std::string::npos) << "partly applied";

  // A syntax error names file:line.
  WriteFile("syntax.textproto", "vpcs { name: \"x\" vni: oops }\n");
  r = Ctl(absl::StrCat("apply -f ", dir_, "/syntax.textproto"));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("syntax.textproto:1:"), std::string::npos) << r.err;

  // --prune deletes what the file no longer lists, dependents first.
  std::string smaller = doc.substr(0, doc.find("vnics { name: \"vm2\""));
  WriteFile("smaller.textproto", smaller);
  r = Ctl(absl::StrCat("apply --prune -f ", dir_, "/smaller.textproto"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "applied: 0 inserted, 0 modified, 3 deleted, 4 unchanged; revision 2\n");
  EXPECT_EQ(Ctl("mapping show m1").exit_code, 4);
}

TEST_F(NicswitchctlTest, FlowsStatusAndWatch) {
  ASSERT_EQ(Ctl("vpc add prod --vni 100 --cidr 10.0.0.0/16").exit_code, 0);
  ASSERT_EQ(Ctl("vnic add vm1 --vpc prod --vf 1 --mac 02:00:00:00:00:01 --ipv4 10.0.0.1").exit_code,
            0);
  for (uint64_t id = 1; id <= 3; ++id) {
    api::FlowRecord f;
    f.id = id;
    f.vnic = "vm1";
    f.direction = id == 2 ? "ingress" : "egress";
    f.src_ip = "10.0.0.1";
    f.dst_ip = "10.0.0.2";
    f.protocol = 6;
    f.dst_port = 80;
    f.vni = 100;
    f.packets = 1234;
    f.bytes = 99999;
    f.software = id == 3;
    f.actions = "represented_port(2) count age(30)";
    flows_.Add(f);
  }
  flows_.set_applied_revision(2);
  CtlRun r = Ctl("flows list --vnic vm1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_NE(lines[1].find("99999"), std::string::npos);
  EXPECT_NE(lines[3].find("software"), std::string::npos);
  EXPECT_EQ(Ctl("flows list --vnic nope").exit_code, 4);
  r = Ctl("-o json status");
  v1::GetStatusResponse status;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(r.out, &status).ok()) << r.out;
  EXPECT_EQ(status.desired_revision(), 2u);
  EXPECT_EQ(status.applied_revision(), 2u);
  EXPECT_EQ(status.flows(), 3u);
  EXPECT_EQ(status.software_flows(), 1u);
  r = Ctl("flows flush --vnic vm1");
  EXPECT_EQ(r.out, "flushed 3 flows\n");
  EXPECT_EQ(flows_.GetStats().flows, 0u);

  r = Ctl("watch --count 3");
  EXPECT_EQ(r.out, "2 SNAPSHOT vpc prod\n2 SNAPSHOT vnic vm1\n2 SYNC\n");
  r = Ctl("watch --from 1 --count 2");
  EXPECT_EQ(r.out, "2 PUT vnic vm1\n2 SYNC\n");
}

TEST_F(NicswitchctlTest, TheShippedExamplePolicyApplies) {
  CtlRun r = Ctl(absl::StrCat("apply -f ", EXAMPLE_POLICY_PATH));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "applied: 7 inserted, 0 modified, 0 deleted, 0 unchanged; revision 1\n");
}

}  // namespace
}  // namespace nicswitch::ctl
