#include "common/logging.h"

#include "gtest/gtest.h"
#include "spdlog/spdlog.h"

namespace nicswitch {
namespace {

TEST(LoggingTest, SetsTheDefaultLoggerAndLevel) {
  ASSERT_TRUE(SetUpLogging("logging-test", "warn").ok());
  EXPECT_EQ(spdlog::default_logger()->name(), "logging-test");
  EXPECT_EQ(spdlog::default_logger()->level(), spdlog::level::warn);
}

TEST(LoggingTest, RefusesAnUnknownLevelByName) {
  const absl::Status status = SetUpLogging("logging-test-bad", "loud");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("\"loud\""), absl::string_view::npos);
}

}  // namespace
}  // namespace nicswitch
