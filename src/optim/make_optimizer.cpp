#include <cmath>

#include "mnistlab/error.h"
#include "mnistlab/model.h"
#include "optim/optimizers.h"

namespace mnistlab {

static void require(bool ok, const std::string& what) {
  if (!ok) throw Error(what);
}

bool Optimizer::step(Model& model) { return step(model.backend(), model.parameters(), model.gradients()); }
bool Optimizer::step_slice(Model& model, size_t first, size_t count) {
  return step_slice(model.backend(), model.parameters(), model.gradients(), first, count);
}

bool Optimizer::step_ranges(Model& model, std::span<const Share> ranges) {
  if (ranges.size() == 1 && ranges[0].first == 0 && ranges[0].end == model.parameter_count()) return step(model);
  const int64_t before = steps_;
  bool finite = true;
  for (const Share& r : ranges) {
    steps_ = before;  // each range steps as the step's first (Adam's bias correction counts steps)
    finite = step_slice(model, r.first, r.size()) && finite;
  }
  steps_ = before + 1;
  return finite;
}

const char* optimizer_name(OptimizerKind kind) { return name_of(kOptimizerNames, kind); }

OptimizerKind parse_optimizer(const std::string& name) { return parse_named(kOptimizerNames, name, "optimizer"); }

std::unique_ptr<Optimizer> make_optimizer(const OptimizerOptions& options, size_t parameter_count) {
  OptimizerOptions o = options;
  if (o.weight_decay < 0) o.weight_decay = o.kind == OptimizerKind::AdamW ? 1e-2f : 0.f;
  require(std::isfinite(o.lr) && o.lr > 0, "learning rate must be > 0, got " + std::to_string(o.lr));
  require(o.momentum >= 0 && o.momentum < 1, "momentum must be in [0, 1), got " + std::to_string(o.momentum));
  require(std::isfinite(o.weight_decay), "weight decay must be finite");
  if (o.kind == OptimizerKind::Sgd) {
    require(!o.nesterov || (o.momentum > 0 && o.dampening == 0),
            "nesterov momentum requires a momentum > 0 and dampening 0");
    return std::make_unique<SGD>(o, parameter_count);
  }
  require(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1, "Adam betas must be in [0, 1)");
  return std::make_unique<Adam>(o, parameter_count, o.kind == OptimizerKind::AdamW);
}

}  // namespace mnistlab
