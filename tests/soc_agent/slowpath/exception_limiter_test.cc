#include "soc_agent/slowpath/exception_limiter.h"

#include "gtest/gtest.h"

namespace nicswitch::slowpath {
namespace {

constexpr uint64_t kHz = 1'000'000;  // ticks are microseconds

TEST(ExceptionLimiterTest, OneFloodingVnicDoesNotStarveAnother) {
  ExceptionLimiter limiter(/*slots=*/2, /*rate=*/1000, /*burst=*/10, kHz);
  uint64_t flood_admitted = 0;
  uint64_t quiet_admitted = 0;
  // One simulated second: vNIC 0 sends an exception every microsecond, vNIC 1 every 10 ms.
  for (uint64_t t = 0; t < kHz; ++t) {
    flood_admitted += limiter.Admit(0, t);
    if (t % 10'000 == 0) {
      quiet_admitted += limiter.Admit(1, t);
    }
  }
  EXPECT_NEAR(static_cast<double>(flood_admitted), 1000 + 10, 2);  // rate * 1 s + burst
  EXPECT_EQ(quiet_admitted, 100u);                                 // never limited
  EXPECT_EQ(limiter.dropped(1), 0u);
  EXPECT_EQ(limiter.dropped(0), kHz - flood_admitted);
  EXPECT_EQ(limiter.total_dropped(), limiter.dropped(0));
}

TEST(ExceptionLimiterTest, BurstRefillsAfterIdleAndSlotOutOfRangeIsCounted) {
  ExceptionLimiter limiter(1, 100, 5, kHz);
  for (int i = 0; i < 5; ++i) {
    EXPECT_TRUE(limiter.Admit(0, 0));
  }
  EXPECT_FALSE(limiter.Admit(0, 0));
  EXPECT_TRUE(limiter.Admit(0, kHz));  // a second later the bucket is full again (capped at 5)
  EXPECT_FALSE(limiter.Admit(7, kHz));
  EXPECT_EQ(limiter.total_dropped(), 2u);
}

}  // namespace
}  // namespace nicswitch::slowpath
