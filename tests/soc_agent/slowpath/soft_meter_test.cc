// The software QoS meter: over a long run it passes the committed rate plus one burst, marks
// what exceeds the committed rate yellow while under the peak rate, and red above it.

#include "soc_agent/slowpath/soft_meter.h"

#include <gtest/gtest.h>

namespace nicswitch::slowpath {
namespace {

constexpr uint64_t kHz = 1'000'000'000;  // a nanosecond clock

struct Tally {
  uint64_t green = 0, yellow = 0, red = 0;  // bytes
};

// Offers `rate` bytes/s in `size`-byte packets for `seconds`, evenly spaced.
Tally Offer(SoftMeter& meter, double rate, uint32_t size, double seconds) {
  Tally t;
  const uint64_t gap = static_cast<uint64_t>(kHz * size / rate);
  const uint64_t end = static_cast<uint64_t>(seconds * kHz);
  for (uint64_t now = 0; now < end; now += gap) {
    switch (meter.Mark(size, now)) {
      case SoftMeter::Colour::kGreen:
        t.green += size;
        break;
      case SoftMeter::Colour::kYellow:
        t.yellow += size;
        break;
      case SoftMeter::Colour::kRed:
        t.red += size;
        break;
    }
  }
  return t;
}

TEST(SoftMeterTest, SingleRatePassesTheCommittedRatePlusOneBurst) {
  // What the agent configures for a vNIC: CIR = PIR, CBS = PBS.
  const uint64_t cir = 1'250'000;  // 10 Mbit/s
  SoftMeter meter(cir, 10'000, cir, 10'000, kHz, 0);
  const Tally t = Offer(meter, 2.0 * cir, 1000, 10.0);
  const double passed = static_cast<double>(t.green + t.yellow);
  const double expected = 10.0 * cir + 10'000;
  EXPECT_NEAR(passed, expected, 0.01 * expected);
  EXPECT_EQ(t.yellow, 0u) << "with PIR = CIR nothing is yellow";
  EXPECT_NEAR(static_cast<double>(t.red), 20.0 * cir - expected, 0.01 * expected);
}

TEST(SoftMeterTest, BetweenTheRatesIsYellowAboveThePeakIsRed) {
  const uint64_t cir = 1'000'000, pir = 2'000'000;
  SoftMeter under_peak(cir, 5'000, pir, 5'000, kHz, 0);
  const Tally a = Offer(under_peak, 1.5 * cir, 500, 4.0);
  EXPECT_EQ(a.red, 0u);
  EXPECT_NEAR(static_cast<double>(a.green), 4.0 * cir, 0.02 * 4.0 * cir);
  EXPECT_NEAR(static_cast<double>(a.yellow), 2.0 * cir, 0.02 * 4.0 * cir);

  SoftMeter over_peak(cir, 5'000, pir, 5'000, kHz, 0);
  const Tally b = Offer(over_peak, 3.0 * cir, 500, 4.0);
  EXPECT_NEAR(static_cast<double>(b.green + b.yellow), 4.0 * pir, 0.02 * 4.0 * pir);
  EXPECT_GT(b.red, 0u);
}

TEST(SoftMeterTest, IdleTimeRefillsNoMoreThanTheBurst) {
  SoftMeter meter(1000, 3000, 1000, 3000, kHz, 0);
  EXPECT_EQ(meter.Mark(3000, 0), SoftMeter::Colour::kGreen);  // starts full
  EXPECT_EQ(meter.Mark(1, 0), SoftMeter::Colour::kRed);
  // An hour idle: the buckets hold one burst again, not an hour's worth.
  const uint64_t later = 3600 * kHz;
  EXPECT_EQ(meter.Mark(3000, later), SoftMeter::Colour::kGreen);
  EXPECT_EQ(meter.Mark(1, later), SoftMeter::Colour::kRed);
}

}  // namespace
}  // namespace nicswitch::slowpath
