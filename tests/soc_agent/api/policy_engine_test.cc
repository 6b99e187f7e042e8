// The in-process side of the engine: what the agent's slow path relies on.

#include "soc_agent/api/policy_engine.h"

#include <filesystem>

#include <gtest/gtest.h>

#include "tests/soc_agent/api/api_test_util.h"
#include "tests/support/test_env.h"

namespace nicswitch::api {
namespace {

using testing::Batch;
using testing::U;

TEST(PolicyEngineTest, SubscriberReplicaSeesEveryCommittedBatchInRevisionOrder) {
  const std::string dir = testenv::TestTempDir("policy-engine");
  PolicyEngine::Options options;
  options.store_path = dir + "/policy.db";
  options.durable = false;
  auto engine = PolicyEngine::Open(options);
  ASSERT_TRUE(engine.ok()) << engine.status();
  ASSERT_EQ((*engine)
                ->Write(Batch({U("type: INSERT entity { vpc { name: 'a' vni: 1 cidrs: "
                                 "'10.0.0.0/8' } }")}))
                .status.code(),
            0);

  // The replica starts from the snapshot handed out atomically with the subscription.
  policy::PolicyModel replica;
  std::vector<uint64_t> revisions;
  std::vector<policy::Entity> snapshot;
  uint64_t revision = 0;
  int id = (*engine)->Subscribe(
      [&](const policy::PolicyBatch& batch) {
        revisions.push_back(batch.revision);
        ASSERT_TRUE(replica.ApplyCommitted(batch).ok());
      },
      &snapshot, &revision);
  for (const policy::Entity& e : snapshot) {
    ASSERT_TRUE(
        replica.ApplyCommitted(policy::PolicyChange{policy::PolicyChange::Op::kPut, e}).ok());
  }
  replica.set_revision(revision);
  EXPECT_EQ(revision, 1u);

  ASSERT_EQ((*engine)
                ->Write(Batch({U("type: INSERT entity { vnic { name: 'vm1' vpc: 'a' vf_index: 1 "
                                 "mac: '02:00:00:00:00:01' ipv4: '10.0.0.1' } }")}))
                .status.code(),
            0);
  // A failed batch notifies nothing; a rolled back one neither.
  EXPECT_NE((*engine)->Write(Batch({U("type: DELETE entity { vpc { name: 'a' } }")})).status.code(),
            0);
  v1::WriteRequest rollback =
      Batch({U("type: INSERT entity { vpc { name: 'b' vni: 2 cidrs: '10.0.0.0/8' } }"),
             U("type: DELETE entity { vpc { name: 'zz' } }")});
  rollback.set_atomicity(v1::WriteRequest::ROLLBACK_ON_ERROR);
  EXPECT_NE((*engine)->Write(rollback).status.code(), 0);
  ASSERT_EQ((*engine)
                ->Write(Batch({U("type: INSERT entity { route { name: 'r' vpc: 'a' prefix: "
                                 "'0.0.0.0/0' next_hop: '10.0.0.1' } }")}))
                .status.code(),
            0);
  EXPECT_EQ(revisions, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(replica.revision(), 3u);
  EXPECT_EQ(replica.FindVnicByVf(1)->name, "vm1");
  EXPECT_EQ(replica.LookupRoute("a", *policy::IpAddress::Parse("1.1.1.1"))->name, "r");
  EXPECT_EQ(replica.FindVpc("b"), nullptr);
  (*engine)->Unsubscribe(id);
  ASSERT_EQ(
      (*engine)->Write(Batch({U("type: DELETE entity { route { name: 'r' } }")})).status.code(), 0);
  EXPECT_EQ(revisions.size(), 2u);
  engine->reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace nicswitch::api
