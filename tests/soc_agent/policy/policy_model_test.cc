#include "soc_agent/policy/policy_model.h"

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

namespace nicswitch::policy {
namespace {

v1::Update U(const std::string& text) {
  v1::Update update;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &update)) << text;
  return update;
}

IpAddress Ip(const std::string& text) { return *IpAddress::Parse(text); }

class PolicyModelTest : public ::testing::Test {
 protected:
  absl::Status Apply(const std::string& text) { return model_.Apply(U(text), &changes_, &undo_); }
  void MustApply(const std::string& text) {
    absl::Status status = Apply(text);
    ASSERT_TRUE(status.ok()) << status;
  }
  void SetUpVpcs() {
    MustApply(
        "type: INSERT entity { vpc { name: 'a' vni: 100 cidrs: ['10.0.0.0/8', 'fd00::/64'] } }");
    MustApply("type: INSERT entity { vpc { name: 'b' vni: 200 cidrs: '10.0.0.0/8' } }");
  }

  PolicyModel model_;
  std::vector<PolicyChange> changes_;
  UndoLog undo_;
};

TEST(AddressesTest, ParseAndFormat) {
  EXPECT_EQ(MacAddress::Parse("02:AB:cd:00:00:01")->ToString(), "02:ab:cd:00:00:01");
  for (const char* bad : {"02:00:00:00:00", "02:00:00:00:00:0g", "02-00-00-00-00-01",
                          "002:00:00:00:00:01", "+2:00:00:00:00:01", ""}) {
    EXPECT_FALSE(MacAddress::Parse(bad).ok()) << bad;
  }
  EXPECT_TRUE(MacAddress::Parse("01:00:5e:00:00:01")->IsMulticast());
  EXPECT_EQ(Ip("10.1.2.3").v4(), 0x0a010203u);
  EXPECT_EQ(IpAddress::FromV4(0x0a010203u), Ip("10.1.2.3"));
  EXPECT_EQ(Ip("fd00::0:1").ToString(), "fd00::1");
  EXPECT_FALSE(IpAddress::Parse("10.0.0.256").ok());
  EXPECT_EQ(IpPrefix::Parse("fd00::/64")->ToString(), "fd00::/64");
  EXPECT_FALSE(IpPrefix::Parse("fd00::1/64").ok());
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/33").ok());
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0").ok());
  EXPECT_TRUE(IpPrefix::Parse("10.0.0.0/8")->Overlaps(*IpPrefix::Parse("10.1.0.0/16")));
  EXPECT_FALSE(IpPrefix::Parse("10.0.0.0/16")->Overlaps(*IpPrefix::Parse("10.1.0.0/16")));
  EXPECT_FALSE(IpPrefix::Parse("0.0.0.0/0")->Overlaps(*IpPrefix::Parse("::/0")));
  EXPECT_TRUE(IpPrefix::Parse("0.0.0.0/0")->Contains(Ip("1.2.3.4")));
}

TEST_F(PolicyModelTest, IndexesFollowInsertModifyDelete) {
  SetUpVpcs();
  MustApply(
      "type: INSERT entity { vnic { name: 'vm1' vpc: 'a' vf_index: 3 mac: "
      "'02:00:00:00:00:03' ipv4: '10.0.0.3' ipv6: 'fd00::3' } }");
  MustApply(
      "type: INSERT entity { vnic { name: 'vm2' vpc: 'b' vf_index: 4 mac: "
      "'02:00:00:00:00:04' ipv4: '10.0.0.3' } }");  // same IP, other VPC: fine
  MustApply(
      "type: INSERT entity { mapping { name: 'm' vpc: 'a' overlay_ip: '10.9.9.9' "
      "remote_vtep_ip: '192.0.2.9' remote_mac: '02:aa:00:00:00:09' } }");
  ASSERT_NE(model_.FindVpcByVni(200), nullptr);
  EXPECT_EQ(model_.FindVpcByVni(200)->name, "b");
  EXPECT_EQ(model_.FindVnicByVf(3)->name, "vm1");
  EXPECT_EQ(model_.FindVnicByMac(*MacAddress::Parse("02:00:00:00:00:04"))->name, "vm2");
  EXPECT_EQ(model_.FindVnicByIp("a", Ip("10.0.0.3"))->name, "vm1");
  EXPECT_EQ(model_.FindVnicByIp("b", Ip("10.0.0.3"))->name, "vm2");
  EXPECT_EQ(model_.FindVnicByIp("a", Ip("fd00::3"))->name, "vm1");
  EXPECT_EQ(model_.FindMappingByIp("a", Ip("10.9.9.9"))->remote_vtep_ip, Ip("192.0.2.9"));
  EXPECT_EQ(model_.FindMappingByIp("b", Ip("10.9.9.9")), nullptr);

  // MODIFY moves every index entry.
  MustApply(
      "type: MODIFY entity { vnic { name: 'vm1' vpc: 'a' vf_index: 5 mac: "
      "'02:00:00:00:00:05' ipv4: '10.0.0.5' } }");
  EXPECT_EQ(model_.FindVnicByVf(3), nullptr);
  EXPECT_EQ(model_.FindVnicByVf(5)->name, "vm1");
  EXPECT_EQ(model_.FindVnicByMac(*MacAddress::Parse("02:00:00:00:00:03")), nullptr);
  EXPECT_EQ(model_.FindVnicByIp("a", Ip("10.0.0.3")), nullptr);
  EXPECT_EQ(model_.FindVnicByIp("a", Ip("fd00::3")), nullptr);
  // The freed VF can be taken by another vNIC.
  MustApply(
      "type: INSERT entity { vnic { name: 'vm3' vpc: 'a' vf_index: 3 mac: "
      "'02:00:00:00:00:06' ipv4: '10.0.0.6' } }");
  MustApply("type: DELETE entity { vnic { name: 'vm3' } }");
  EXPECT_EQ(model_.FindVnicByVf(3), nullptr);
  EXPECT_EQ(model_.Count(v1::VNIC), 2u);
  // A mapping's IP cannot also be a vNIC's.
  absl::Status status = Apply(
      "type: INSERT entity { vnic { name: 'vm4' vpc: 'a' vf_index: 7 "
      "mac: '02:00:00:00:00:07' ipv4: '10.9.9.9' } }");
  EXPECT_EQ(status.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(ErrorField(status), "vnic.ipv4");
}

TEST_F(PolicyModelTest, LongestPrefixMatchPerVpc) {
  SetUpVpcs();
  MustApply(
      "type: INSERT entity { route { name: 'r0' vpc: 'a' prefix: '0.0.0.0/0' next_hop: "
      "'10.0.0.1' } }");
  MustApply(
      "type: INSERT entity { route { name: 'r8' vpc: 'a' prefix: '10.0.0.0/8' next_hop: "
      "'10.0.0.2' } }");
  MustApply(
      "type: INSERT entity { route { name: 'r16' vpc: 'a' prefix: '10.1.0.0/16' "
      "next_hop: '10.0.0.3' } }");
  MustApply(
      "type: INSERT entity { route { name: 'r24' vpc: 'a' prefix: '10.1.2.0/24' "
      "next_hop: '10.0.0.4' } }");
  MustApply(
      "type: INSERT entity { route { name: 'r6' vpc: 'a' prefix: 'fd00::/64' next_hop: "
      "'fd00::1' } }");
  MustApply(
      "type: INSERT entity { route { name: 'b16' vpc: 'b' prefix: '10.1.0.0/16' "
      "next_hop: '10.0.0.9' } }");
  struct Case {
    const char* vpc;
    const char* destination;
    const char* route;  // nullptr: no route
  };
  const Case cases[] = {
      {"a", "10.1.2.3", "r24"}, {"a", "10.1.3.3", "r16"},   {"a", "10.2.0.1", "r8"},
      {"a", "8.8.8.8", "r0"},   {"a", "fd00::99", "r6"},    {"a", "fd01::1", nullptr},
      {"b", "10.1.2.3", "b16"}, {"b", "10.2.0.1", nullptr}, {"c", "10.1.2.3", nullptr},
  };
  for (const Case& c : cases) {
    const RouteInfo* route = model_.LookupRoute(c.vpc, Ip(c.destination));
    if (c.route == nullptr) {
      EXPECT_EQ(route, nullptr) << c.vpc << " " << c.destination;
    } else {
      ASSERT_NE(route, nullptr) << c.vpc << " " << c.destination;
      EXPECT_EQ(route->name, c.route) << c.vpc << " " << c.destination;
    }
  }
  MustApply("type: DELETE entity { route { name: 'r24' } }");
  EXPECT_EQ(model_.LookupRoute("a", Ip("10.1.2.3"))->name, "r16");
  EXPECT_EQ(Apply("type: INSERT entity { route { name: 'dup' vpc: 'a' prefix: '10.1.0.0/16' "
                  "next_hop: '10.0.0.3' } }")
                .code(),
            absl::StatusCode::kAlreadyExists);
}

TEST_F(PolicyModelTest, UndoRestoresStateAndIndexes) {
  SetUpVpcs();
  MustApply("type: INSERT entity { security_group { name: 'sg' } }");
  MustApply(
      "type: INSERT entity { vnic { name: 'vm1' vpc: 'a' vf_index: 1 mac: "
      "'02:00:00:00:00:01' ipv4: '10.0.0.1' security_groups: 'sg' } }");
  const std::vector<Entity> before = model_.Snapshot();
  UndoLog undo;
  std::vector<PolicyChange> changes;
  ASSERT_TRUE(model_
                  .Apply(U("type: MODIFY entity { vnic { name: 'vm1' vpc: 'b' vf_index: 2 mac: "
                           "'02:00:00:00:00:02' ipv4: '10.0.0.2' } }"),
                         &changes, &undo)
                  .ok());
  ASSERT_TRUE(
      model_.Apply(U("type: DELETE entity { security_group { name: 'sg' } }"), &changes, &undo)
          .ok());
  ASSERT_TRUE(model_.Apply(U("type: DELETE entity { vpc { name: 'a' } }"), &changes, &undo).ok());
  EXPECT_EQ(model_.FindVpc("a"), nullptr);
  model_.Undo(std::move(undo));
  const std::vector<Entity> after = model_.Snapshot();
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(before[i].SerializeAsString(), after[i].SerializeAsString());
  }
  EXPECT_EQ(model_.FindVnicByVf(1)->name, "vm1");
  EXPECT_EQ(model_.FindVnicByVf(2), nullptr);
  EXPECT_EQ(model_.VnicsUsingSecurityGroup("sg"), std::vector<std::string>{"vm1"});
  // The references are back too: the VPC and the SG are in use again.
  EXPECT_EQ(Apply("type: DELETE entity { vpc { name: 'a' } }").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(Apply("type: DELETE entity { security_group { name: 'sg' } }").code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(PolicyModelTest, ReplicaFollowingCommittedChangesMatchesTheWriter) {
  SetUpVpcs();
  MustApply(
      "type: INSERT entity { vnic { name: 'vm1' vpc: 'a' vf_index: 1 mac: "
      "'02:00:00:00:00:01' ipv4: '10.0.0.1' } }");
  MustApply(
      "type: MODIFY entity { vnic { name: 'vm1' vpc: 'a' vf_index: 9 mac: "
      "'02:00:00:00:00:01' ipv4: '10.0.0.1' } }");
  MustApply(
      "type: INSERT entity { route { name: 'r' vpc: 'b' prefix: '10.5.0.0/16' next_hop: "
      "'10.0.0.1' } }");
  MustApply("type: DELETE entity { route { name: 'r' } }");
  PolicyModel replica;
  ASSERT_TRUE(replica.ApplyCommitted(PolicyBatch{7, changes_}).ok());
  EXPECT_EQ(replica.revision(), 7u);
  EXPECT_EQ(replica.FindVnicByVf(9)->name, "vm1");
  EXPECT_EQ(replica.FindVnicByVf(1), nullptr);
  EXPECT_EQ(replica.LookupRoute("b", Ip("10.5.0.1")), nullptr);
  EXPECT_EQ(replica.Snapshot().size(), model_.Snapshot().size());
}

TEST_F(PolicyModelTest, VpcCidrsCannotShrinkAwayFromItsAddresses) {
  SetUpVpcs();
  MustApply(
      "type: INSERT entity { vnic { name: 'vm1' vpc: 'a' vf_index: 1 mac: "
      "'02:00:00:00:00:01' ipv4: '10.0.0.1' } }");
  absl::Status status =
      Apply("type: MODIFY entity { vpc { name: 'a' vni: 100 cidrs: '192.168.0.0/16' } }");
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(ErrorField(status), "vpc.cidrs");
  EXPECT_NE(status.message().find("10.0.0.1"), std::string::npos);
  MustApply("type: MODIFY entity { vpc { name: 'a' vni: 101 cidrs: '10.0.0.0/16' } }");
  EXPECT_EQ(model_.FindVpcByVni(100), nullptr);
  EXPECT_EQ(model_.FindVpcByVni(101)->name, "a");
}

TEST(SecurityRuleTest, MatchesProtocolPortAndRemote) {
  SecurityRule rule;
  rule.protocol = 6;
  rule.port_min = 80;
  rule.port_max = 443;
  rule.remote = *IpPrefix::Parse("10.0.0.0/8");
  EXPECT_TRUE(rule.Matches(6, Ip("10.1.1.1"), 80));
  EXPECT_TRUE(rule.Matches(6, Ip("10.1.1.1"), 443));
  EXPECT_FALSE(rule.Matches(6, Ip("10.1.1.1"), 444));
  EXPECT_FALSE(rule.Matches(17, Ip("10.1.1.1"), 80));
  EXPECT_FALSE(rule.Matches(6, Ip("11.1.1.1"), 80));
  SecurityRule any;  // protocol any, any port, any remote
  EXPECT_TRUE(any.Matches(1, Ip("fd00::1"), 0));
}

TEST_F(PolicyModelTest, SecurityGroupRulesAreParsedInOrder) {
  MustApply(
      "type: INSERT entity { security_group { name: 'sg' rules { direction: EGRESS "
      "protocol: UDP port_min: 53 port_max: 53 remote_cidr: '10.0.0.0/8' action: DENY } "
      "rules { direction: INGRESS action: ALLOW } } }");
  const SecurityGroupInfo* sg = model_.FindSecurityGroup("sg");
  ASSERT_NE(sg, nullptr);
  ASSERT_EQ(sg->rules.size(), 2u);
  EXPECT_EQ(sg->rules[0].direction, SecurityRule::Direction::kEgress);
  EXPECT_EQ(sg->rules[0].protocol, 17);
  EXPECT_FALSE(sg->rules[0].allow);
  EXPECT_EQ(sg->rules[1].port_min, 0);
  EXPECT_EQ(sg->rules[1].port_max, 65535);
  absl::Status status = Apply(
      "type: INSERT entity { security_group { name: 'x' rules { "
      "direction: INGRESS protocol: ICMP port_min: 1 port_max: 2 action: "
      "ALLOW } } }");
  EXPECT_EQ(ErrorField(status), "security_group.rules[0].port_min");
}

}  // namespace
}  // namespace nicswitch::policy
