// torch.optim.Adam / AdamW (amsgrad off), computed by the backend
// (Backend::adam_step).
#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "optim/optimizers.h"

namespace mnistlab {

Adam::Adam(const OptimizerOptions& o, size_t n, bool decoupled)
    : o_(o), n_(n), decoupled_(decoupled) {
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
  if (m_.empty()) m_.create(backend, n_);
  if (v_.empty()) v_.create(backend, n_);
  return backend.adam_step(s, p, g, m_.data(), v_.data(), n_);
}

StateBuffer& Adam::buffer(const std::string& name) {
  if (name == "exp_avg") return m_;
  if (name == "exp_avg_sq") return v_;
  throw Error(std::string(decoupled_ ? "AdamW" : "Adam") + " has no buffer '" + name + "'");
}

std::vector<float> Adam::read_buffer(const Backend& backend, const std::string& name) const {
  return const_cast<Adam*>(this)->buffer(name).read(backend, n_);
}

void Adam::write_buffer(const Backend& backend, const std::string& name, const std::vector<float>& values) {
  if (values.size() != n_) throw Error("the optimizer's " + name + " takes " + std::to_string(n_) + " values");
  StateBuffer& b = buffer(name);
  if (b.empty()) b.create(backend, n_);
  b.write(backend, values);
}

}  // namespace mnistlab
