#include "tandem/train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "tandem/error.h"

namespace tandem::train {
namespace {

TEST(LrScheduleTest, ConstantWithWarmup) {
  LrScheduleOptions o;
  o.base = 0.01;
  o.warmup = 10;
  const LrScheduler s(o);
  EXPECT_DOUBLE_EQ(s.rate(1), 0.001);
  EXPECT_DOUBLE_EQ(s.rate(5), 0.005);
  EXPECT_DOUBLE_EQ(s.rate(10), 0.01);
  EXPECT_DOUBLE_EQ(s.rate(1000), 0.01);
}

TEST(LrScheduleTest, InverseSquareRootAfterWarmup) {
  LrScheduleOptions o;
  o.type = LrScheduleType::kInverseSqrt;
  o.base = 0.01;
  o.warmup = 100;
  const LrScheduler s(o);
  EXPECT_DOUBLE_EQ(s.rate(50), 0.005);
  EXPECT_DOUBLE_EQ(s.rate(100), 0.01);
  EXPECT_DOUBLE_EQ(s.rate(400), 0.005);
}

TEST(LrScheduleTest, PlateauDecaysAfterPatienceAndRestores) {
  LrScheduleOptions o;
  o.type = LrScheduleType::kPlateau;
  o.base = 0.1;
  o.patience = 2;
  o.decay = 0.5;
  o.minimum = 0.02;
  LrScheduler s(o);
  s.on_validation(false);
  EXPECT_DOUBLE_EQ(s.rate(1), 0.1);
  s.on_validation(false);
  EXPECT_DOUBLE_EQ(s.rate(1), 0.05);
  s.on_validation(true);
  s.on_validation(false);
  EXPECT_DOUBLE_EQ(s.rate(1), 0.05);
  LrScheduler copy(o);
  copy.restore(s.state());
  copy.on_validation(false);
  EXPECT_DOUBLE_EQ(copy.rate(1), 0.025);
  copy.on_validation(false);
  copy.on_validation(false);
  EXPECT_DOUBLE_EQ(copy.rate(1), 0.02);  // the minimum
}

TEST(LrScheduleTest, RejectsNonsense) {
  LrScheduleOptions o;
  o.base = 0;
  EXPECT_THROW(LrScheduler{o}, Error);
  LrScheduler s{LrScheduleOptions{}};
  EXPECT_THROW(s.restore("garbage"), Error);
}

TEST(LrScheduleTest, SmoothingFollowsTheYoungModelThenSettlesOnTheFactor) {
  EXPECT_DOUBLE_EQ(smoothing_rate(1e-4, 0), 0.9);        // the first update
  EXPECT_DOUBLE_EQ(smoothing_rate(1e-4, 80), 0.1);       // 9 / 90
  EXPECT_DOUBLE_EQ(smoothing_rate(1e-4, 89990), 1e-4);   // 9 / 90000: the factor from here on
  EXPECT_DOUBLE_EQ(smoothing_rate(1e-4, 1000000), 1e-4);
  EXPECT_DOUBLE_EQ(smoothing_rate(1.0, 5), 1.0);         // factor 1: the smoothed weights are the weights
}

}  // namespace
}  // namespace tandem::train
