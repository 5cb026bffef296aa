// torch.optim.SGD, computed by the backend (Backend::sgd_step).
#include "kernels/backend.h"
#include "optim/optimizers.h"

namespace mnistlab {

SGD::SGD(const OptimizerOptions& o, size_t n) : BufferedOptimizer("SGD", n, {"momentum_buffer"}), o_(o) {
  lr_ = o.lr;
}

bool SGD::step_slice(const Backend& backend, float* p, const float* g, size_t first, size_t count) {
  SgdStep s;
  s.lr = lr_;
  s.momentum = o_.momentum;
  s.dampening = o_.dampening;
  s.weight_decay = o_.weight_decay;
  s.nesterov = o_.nesterov;
  s.first = s.momentum != 0.f && !has_buffer(0);
  float* momentum_buffer = s.momentum != 0.f || has_buffer(0) ? buffer(backend, 0) : nullptr;
  ++steps_;
  return backend.sgd_step(s, p + first, g + first, momentum_buffer ? momentum_buffer + first : nullptr, count);
}

}  // namespace mnistlab
