// The schedules follow torch.optim.lr_scheduler (PyTorch 1.13):
//   StepLR:            lr * gamma^(epoch / step_size)
//   CosineAnnealingLR: eta_min + (lr - eta_min) (1 + cos(pi t / T)) / 2, here per step with T = all steps
//   OneCycleLR:        two cosine phases, initial = lr/div -> lr (pct_start of the steps) -> initial/final_div,
//                      momentum 0.95 -> 0.85 -> 0.95 (base_momentum, max_momentum defaults)
// Warmup multiplies by (t + 1) / warmup_steps until it reaches 1.
#include "mnistlab/schedule.h"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "mnistlab/error.h"

namespace mnistlab {
namespace {

constexpr float kBaseMomentum = 0.85f, kMaxMomentum = 0.95f;

// torch's _annealing_cos: from start (pct 0) to end (pct 1) along half a cosine.
double annealing_cos(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
}

}  // namespace

const char* schedule_name(ScheduleKind kind) { return name_of(kScheduleNames, kind); }

ScheduleKind parse_schedule(const std::string& name) {
  return parse_named(kScheduleNames, name, "learning-rate schedule");
}

void check_schedule(const ScheduleOptions& o) {
  if (o.step_size < 1) throw Error("--step-size must be at least 1 epoch");
  if (!(o.gamma > 0 && o.gamma <= 1)) throw Error("--gamma must be in (0, 1]");
  if (!(o.pct_start > 0 && o.pct_start < 1)) throw Error("onecycle's pct_start must be in (0, 1)");
  if (!(o.warmup_epochs >= 0)) throw Error("--warmup-epochs must be >= 0");
  if (o.kind == ScheduleKind::OneCycle && o.warmup_epochs > 0)
    throw Error("--warmup-epochs does not combine with onecycle, which warms up by itself (pct_start)");
}

LrSchedule::LrSchedule(const ScheduleOptions& o, float lr, int epochs, int64_t steps_per_epoch)
    : o_(o), lr_(lr), steps_per_epoch_(std::max<int64_t>(steps_per_epoch, 1)) {
  check_schedule(o);
  total_steps_ = std::max<int64_t>(int64_t(epochs) * steps_per_epoch_, 1);
  warmup_steps_ = int64_t(std::llround(o.warmup_epochs * double(steps_per_epoch_)));
}

ScheduleValue LrSchedule::at(int64_t step) const {
  double lr = lr_;
  float momentum = -1;
  if (o_.kind == ScheduleKind::Step) {
    lr = lr_ * std::pow(double(o_.gamma), double(step / steps_per_epoch_ / o_.step_size));
  } else if (o_.kind == ScheduleKind::Cosine) {
    const double t = double(std::min(step, total_steps_));
    lr = o_.min_lr + (lr_ - o_.min_lr) * (1.0 + std::cos(std::numbers::pi * t / double(total_steps_))) / 2.0;
  } else if (o_.kind == ScheduleKind::OneCycle) {
    const double initial = lr_ / o_.div_factor, final_lr = initial / o_.final_div_factor;
    const double rise_end = double(o_.pct_start) * double(total_steps_) - 1.0;
    const double t = double(std::min(step, total_steps_));
    if (t <= rise_end) {
      const double pct = rise_end > 0 ? t / rise_end : 1.0;
      lr = annealing_cos(initial, lr_, pct);
      momentum = float(annealing_cos(kMaxMomentum, kBaseMomentum, pct));
    } else {
      const double span = double(total_steps_ - 1) - rise_end;
      const double pct = span > 0 ? (t - rise_end) / span : 1.0;
      lr = annealing_cos(lr_, final_lr, pct);
      momentum = float(annealing_cos(kBaseMomentum, kMaxMomentum, pct));
    }
  }
  if (step < warmup_steps_) lr *= double(step + 1) / double(warmup_steps_);
  return {float(lr), momentum};
}

}  // namespace mnistlab
