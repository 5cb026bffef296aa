// torch.optim.SGD, computed by the backend (Backend::sgd_step).
#include "kernels/backend.h"
#include "mnistlab/error.h"
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
  if (s.first) buf_.create(backend, n_);  // created on the first step with momentum, as PyTorch's
  ++steps_;
  return backend.sgd_step(s, p, g, buf_.data(), n_);
}

std::vector<float> SGD::read_buffer(const Backend& backend, const std::string& name) const {
  if (name != "momentum_buffer") throw Error("SGD has no buffer '" + name + "'");
  return buf_.read(backend, n_);
}

void SGD::write_buffer(const Backend& backend, const std::string& name, const std::vector<float>& values) {
  if (name != "momentum_buffer") throw Error("SGD has no buffer '" + name + "'");
  if (values.size() != n_) throw Error("SGD's momentum_buffer takes " + std::to_string(n_) + " values");
  if (buf_.empty()) buf_.create(backend, n_);
  buf_.write(backend, values);
}

std::vector<float> StateBuffer::read(const Backend& backend, size_t n) const {
  if (empty()) return {};
  std::vector<float> host(n);
  backend.download(data(), n * sizeof(float), host.data());
  return host;
}

void StateBuffer::write(const Backend& backend, const std::vector<float>& values) {
  backend.upload(values.data(), values.size() * sizeof(float), data());
}

}  // namespace mnistlab
