#include "common/eal.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/test_env.h"

namespace nicswitch {
namespace {

using ::testing::HasSubstr;

// ctest runs each test case in its own process, so each may initialise EAL once.
TEST(EalTest, StartsWithVdevsAndRefusesASecondInit) {
  const auto args = testenv::TestEalArgs("eal-test", {"--vdev=net_null0"});
  ASSERT_TRUE(InitEal("eal_test", args).ok());
  const absl::Status again = InitEal("eal_test", args);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  CleanupEal();
}

TEST(EalTest, BadArgumentsGiveAClearError) {
  const absl::Status status =
      InitEal("eal_test", testenv::TestEalArgs("eal-bad", {"--vdev=net_no_such_driver0"}));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("EAL initialisation failed"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("net_no_such_driver0"));
  CleanupEal();
}

}  // namespace
}  // namespace nicswitch
