// torch.optim.SGD, computed by the backend (Backend::sgd_step).
#include "kernels/backend.h"
#include "optim/optimizers.h"

namespace mnistlab {

SGD::SGD(const OptimizerOptions& o, size_t n) : o_(o), n_(n) { lr_ = o.lr; }

bool SGD::step(const Backend& backend, float* p, const float* g) {
  SgdStep s;
  s.lr = lr_;
  s.momentum = o_.momentum;
  s.dampening = o_.dampening;
  s.weight_decay = o_.weight_decay;
  s.nesterov = o_.nesterov;
  s.first = s.momentum != 0.f && buf_.empty();
  if (s.first) buf_.assign(n_, 0.f);  // created on the first step with momentum, as PyTorch's
  ++steps_;
  return backend.sgd_step(s, p, g, buf_.empty() ? nullptr : buf_.data(), n_);
}

}  // namespace mnistlab
