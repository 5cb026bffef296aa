#include "mnistlab/layer.h"

namespace mnistlab {

size_t Param::numel() const {
  size_t n = 1;
  for (int d : shape) n *= size_t(d);
  return n;
}

void Layer::add_param(std::string name, std::vector<int> shape, ParamKind kind) {
  params_.push_back(Param{std::move(name), std::move(shape), kind});
}

}  // namespace mnistlab
