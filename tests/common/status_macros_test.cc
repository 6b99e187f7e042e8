#include "common/status_macros.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"

namespace nicswitch {
namespace {

absl::StatusOr<std::unique_ptr<int>> MakeInt(bool ok, int value) {
  if (!ok) {
    return absl::NotFoundError("no int");
  }
  return std::make_unique<int>(value);
}

absl::Status Check(bool ok, int* steps) {
  ++*steps;
  RETURN_IF_ERROR(ok ? absl::OkStatus() : absl::InvalidArgumentError("bad"));
  ++*steps;
  return absl::OkStatus();
}

absl::StatusOr<int> Twice(bool ok, int value) {
  ASSIGN_OR_RETURN(std::unique_ptr<int> p, MakeInt(ok, value));  // move-only type
  ASSIGN_OR_RETURN(auto q, MakeInt(ok, value));                  // twice on adjacent lines
  return *p + *q;
}

TEST(StatusMacrosTest, ReturnIfErrorStopsAtTheFirstError) {
  int steps = 0;
  EXPECT_TRUE(Check(true, &steps).ok());
  EXPECT_EQ(steps, 2);
  steps = 0;
  const absl::Status status = Check(false, &steps);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(), "bad");
  EXPECT_EQ(steps, 1);
}

TEST(StatusMacrosTest, AssignOrReturnMovesTheValueOrPropagatesTheStatus) {
  EXPECT_EQ(*Twice(true, 21), 42);
  const absl::StatusOr<int> failed = Twice(false, 1);
  EXPECT_EQ(failed.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace nicswitch
