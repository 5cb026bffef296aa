// torch.optim.Adam / AdamW (amsgrad off), computed by the backend
// (Backend::adam_step).
#include "kernels/backend.h"
#include "optim/optimizers.h"

namespace mnistlab {

Adam::Adam(const OptimizerOptions& o, size_t n, bool decoupled)
    : o_(o), n_(n), decoupled_(decoupled), m_(n, 0.f), v_(n, 0.f) {
  lr_ = o.lr;
}

bool Adam::step(const Backend& backend, float* p, const float* g) {
  ++steps_;
  AdamStep s;
  s.lr = lr_;
  s.beta1 = o_.beta1;
  s.beta2 = o_.beta2;
  s.eps = o_.eps;
  s.weight_decay = o_.weight_decay;
  s.decoupled = decoupled_;
  s.step = steps_;
  return backend.adam_step(s, p, g, m_.data(), v_.data(), n_);
}

}  // namespace mnistlab
