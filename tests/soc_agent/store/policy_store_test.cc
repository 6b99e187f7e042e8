#include "soc_agent/store/policy_store.h"

#include <filesystem>

#include <google/protobuf/text_format.h>
#include <gtest/gtest.h>

#include "tests/support/test_env.h"

namespace nicswitch::store {
namespace {

using policy::PolicyChange;

PolicyChange Put(const std::string& text) {
  PolicyChange change;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(text, &change.entity));
  return change;
}

class PolicyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testenv::TestTempDir("policy-store");
    options_.path = dir_ + "/policy.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<PolicyStore> Open() {
    auto store = PolicyStore::Open(options_);
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? std::move(*store) : nullptr;
  }
  std::string dir_;
  PolicyStore::Options options_;
};

TEST_F(PolicyStoreTest, CommittedBatchesSurviveReopenInDependencyOrder) {
  {
    auto store = Open();
    ASSERT_TRUE(store
                    ->Commit(1,
                             {Put("vnic { name: 'vm1' vpc: 'a' }"),
                              Put("vpc { name: 'a' vni: 7 cidrs: '10.0.0.0/8' }"),
                              Put("security_group { name: 'sg' }")},
                             nullptr)
                    .ok());
    PolicyChange del = Put("security_group { name: 'sg' }");
    del.op = PolicyChange::Op::kDelete;
    ASSERT_TRUE(
        store->Commit(2, {del, Put("vpc { name: 'a' vni: 8 cidrs: '10.0.0.0/8' }")}, nullptr).ok());
  }
  auto store = Open();
  auto contents = store->Load();
  ASSERT_TRUE(contents.ok()) << contents.status();
  EXPECT_EQ(contents->revision, 2u);
  ASSERT_EQ(contents->entities.size(), 2u);
  EXPECT_EQ(contents->entities[0].vpc().vni(), 8u);  // VPCs before vNICs, modified value
  EXPECT_EQ(contents->entities[1].vnic().name(), "vm1");
}

TEST_F(PolicyStoreTest, RequestIdsAreFoundAndTheOldestArePruned) {
  options_.request_ids_kept = 150;
  options_.durable = false;  // 250 commits; durability is the crash test's business
  auto store = Open();
  for (int i = 1; i <= 250; ++i) {
    PolicyStore::RequestRecord record{"req-" + std::to_string(i), static_cast<uint64_t>(i),
                                      "outcome-" + std::to_string(i)};
    ASSERT_TRUE(store->Commit(i, {}, &record).ok());
  }
  auto found = store->FindRequest("req-250");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->revision, 250u);
  EXPECT_EQ((*found)->outcome, "outcome-250");
  auto old = store->FindRequest("req-1");
  ASSERT_TRUE(old.ok());
  EXPECT_FALSE(old->has_value());
  auto missing = store->FindRequest("nope");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_F(PolicyStoreTest, CommitsGoThroughTheWriteAheadLog) {
  auto store = Open();
  ASSERT_NE(store, nullptr);
  // The WAL file exists once the database is open in WAL mode.
  ASSERT_TRUE(
      store->Commit(1, {Put("vpc { name: 'a' vni: 7 cidrs: '10.0.0.0/8' }")}, nullptr).ok());
  EXPECT_TRUE(std::filesystem::exists(options_.path + "-wal"));
}

TEST_F(PolicyStoreTest, UnwritableLocationIsAnErrorNamingThePath) {
  options_.path = dir_ + "/no/such/dir/policy.db";
  auto store = PolicyStore::Open(options_);
  ASSERT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("no/such/dir"), std::string::npos);
}

}  // namespace
}  // namespace nicswitch::store
