// torch.optim.Adam / AdamW (amsgrad off), computed by the backend
// (Backend::adam_step).
#include "kernels/backend.h"
#include "optim/optimizers.h"

namespace mnistlab {

Adam::Adam(const OptimizerOptions& o, size_t n, bool decoupled)
    : BufferedOptimizer(decoupled ? "AdamW" : "Adam", n, {"exp_avg", "exp_avg_sq"}), o_(o), decoupled_(decoupled) {
  lr_ = o.lr;
}

bool Adam::step_slice(const Backend& backend, float* p, const float* g, size_t first, size_t count) {
  ++steps_;
  AdamStep s;
  s.lr = lr_;
  s.beta1 = o_.beta1;
  s.beta2 = o_.beta2;
  s.eps = o_.eps;
  s.weight_decay = o_.weight_decay;
  s.decoupled = decoupled_;
  s.step = steps_;
  return backend.adam_step(s, p + first, g + first, buffer(backend, 0) + first, buffer(backend, 1) + first, count);
}

}  // namespace mnistlab
