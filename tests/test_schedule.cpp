// Learning-rate schedules against torch.optim.lr_scheduler
// (tests/reference/make_schedules.py), and warmup by hand.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "mnistlab/error.h"
#include "mnistlab/schedule.h"

using namespace mnistlab;

namespace {

nlohmann::json reference() {
  const std::string path = std::string(MNISTLAB_REFERENCE_DIR) + "/schedules.json";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path << " is missing: run tests/reference/make_schedules.py (the ctest fixture does)";
  return nlohmann::json::parse(in);
}

void expect_schedule(const std::string& name, const ScheduleOptions& options) {
  const auto ref = reference();
  const auto& c = ref["cases"][name];
  const LrSchedule schedule(options, c["lr0"].get<float>(), ref["epochs"], ref["steps_per_epoch"]);
  const auto& lrs = c["lr"];
  ASSERT_GT(lrs.size(), 0u);
  for (size_t t = 0; t < lrs.size(); ++t) {
    const ScheduleValue v = schedule.at(int64_t(t));
    EXPECT_NEAR(v.lr, lrs[t].get<double>(), 1e-6 * lrs[t].get<double>() + 1e-9) << name << " step " << t;
    if (c.contains("beta1")) {
      EXPECT_NEAR(v.momentum, c["beta1"][t].get<double>(), 1e-6) << name << " step " << t;
    }
  }
}

}  // namespace

TEST(Schedule, StepMatchesStepLR) {
  ScheduleOptions o;
  o.kind = ScheduleKind::Step;
  o.step_size = 2;
  o.gamma = 0.5f;
  expect_schedule("step", o);
}

TEST(Schedule, CosineMatchesCosineAnnealingLR) {
  ScheduleOptions o;
  o.kind = ScheduleKind::Cosine;
  o.min_lr = 0.001f;
  expect_schedule("cosine", o);
}

TEST(Schedule, OneCycleMatchesOneCycleLRWithBeta1) {
  ScheduleOptions o;
  o.kind = ScheduleKind::OneCycle;
  expect_schedule("onecycle", o);
}

TEST(Schedule, NoneKeepsTheRateAndLeavesMomentumAlone) {
  const LrSchedule s(ScheduleOptions{}, 0.05f, 3, 10);
  for (int64_t t : {0, 7, 29, 40}) {
    EXPECT_EQ(s.at(t).lr, 0.05f);
    EXPECT_LT(s.at(t).momentum, 0.f);
  }
}

// Warmup by hand: over 1.5 epochs of 4 steps (6 steps) the factor is (t+1)/6.
TEST(Schedule, WarmupRampsLinearlyThenHandsOver) {
  ScheduleOptions o;
  o.warmup_epochs = 1.5;
  const LrSchedule s(o, 0.6f, 5, 4);
  const double expected[] = {0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.6, 0.6};
  for (int t = 0; t < 8; ++t) EXPECT_NEAR(s.at(t).lr, expected[t], 1e-6) << t;
}

TEST(Schedule, BadOptionsAreErrors) {
  ScheduleOptions o;
  EXPECT_THROW(parse_schedule("exponential"), Error);
  EXPECT_EQ(parse_schedule("onecycle"), ScheduleKind::OneCycle);
  o.kind = ScheduleKind::OneCycle;
  o.warmup_epochs = 1;
  EXPECT_THROW(check_schedule(o), Error);
}
