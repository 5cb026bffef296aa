#include "mnistlab/layer.h"

#include "mnistlab/error.h"
#include "model/layer_table.h"

namespace mnistlab {

size_t Param::numel() const {
  size_t n = 1;
  for (int d : shape) n *= size_t(d);
  return n;
}

std::string Layer::type() const { return kind() == LayerKind::Custom ? "Layer" : layer_spec(kind()).pytorch_class; }

void Layer::plan(const Backend& backend, int, bool) { backend_ = &backend; }

const Backend& Layer::backend() const {
  if (!backend_) throw Error(type() + " has no backend yet: add it to a Model and reserve, or call plan()");
  return *backend_;
}

void Layer::add_param(std::string name, std::vector<int> shape, ParamKind kind) {
  params_.push_back(Param{std::move(name), std::move(shape), kind});
}

SampleShape JoinLayer::configure(const SampleShape&) {
  throw Error(type() + " joins two tensors; add it to a Model, which gives it the output named '" + source_ + "'");
}
void JoinLayer::forward(const Tensor&, Tensor&, Scratch&) {
  throw Error(type() + " needs its second input: Model calls forward_join");
}
void JoinLayer::backward(const Tensor&, const Tensor&, const Tensor&, Tensor*, Scratch&) {
  throw Error(type() + " needs its second input: Model calls backward_join");
}

}  // namespace mnistlab
