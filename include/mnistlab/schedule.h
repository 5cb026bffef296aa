#pragma once
// Learning-rate schedules as a function of the optimizer step, so a resumed
// run picks up the same rate from the step count alone.
#include <cstdint>
#include <string>

#include "mnistlab/names.h"

namespace mnistlab {

enum class ScheduleKind {
  None,
  Step,      // torch StepLR
  Cosine,    // torch CosineAnnealingLR over every step
  OneCycle,  // torch OneCycleLR
};
inline constexpr Named<ScheduleKind> kScheduleNames[] = {{"none", ScheduleKind::None},
                                                         {"step", ScheduleKind::Step},
                                                         {"cosine", ScheduleKind::Cosine},
                                                         {"onecycle", ScheduleKind::OneCycle}};
const char* schedule_name(ScheduleKind kind);
// Throws Error naming the value and the choices.
ScheduleKind parse_schedule(const std::string& name);

struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::None;
  int step_size = 5;          // step: epochs between decays (torch StepLR)
  float gamma = 0.1f;         // step: decay factor
  float min_lr = 0.f;         // cosine: eta_min (torch CosineAnnealingLR)
  float pct_start = 0.3f;     // onecycle: share of steps rising (torch OneCycleLR)
  float div_factor = 25.f, final_div_factor = 1e4f;  // onecycle: initial = lr/div, final = initial/final_div
  double warmup_epochs = 0;   // linear warmup in front of none/step/cosine
};

struct ScheduleValue {
  float lr;
  float momentum;  // onecycle's cycled momentum (SGD momentum or Adam beta1); < 0: leave alone
};

class LrSchedule {
 public:
  // `lr` is the base rate (onecycle: its peak); total steps = epochs * steps_per_epoch.
  LrSchedule(const ScheduleOptions& options, float lr, int epochs, int64_t steps_per_epoch);
  // The rate for optimizer step `step` (0-based), as PyTorch would have set it
  // before that step: step/cosine per step, StepLR per epoch.
  ScheduleValue at(int64_t step) const;

 private:
  ScheduleOptions o_;
  float lr_;
  int64_t steps_per_epoch_, total_steps_, warmup_steps_;
};

// Throws Error for an unknown name or an option out of range.
void check_schedule(const ScheduleOptions& options);

}  // namespace mnistlab
