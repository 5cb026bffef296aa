#include <utility>

#include "mnistlab/error.h"
#include "optim/optimizers.h"

namespace mnistlab {

BufferedOptimizer::BufferedOptimizer(std::string type, size_t n, std::vector<std::string> names)
    : n_(n), type_(std::move(type)), names_(std::move(names)), storage_(names_.size()) {}

size_t BufferedOptimizer::index(const std::string& name) const {
  for (size_t i = 0; i < names_.size(); ++i)
    if (names_[i] == name) return i;
  throw Error(type_ + " has no buffer '" + name + "'");
}

float* BufferedOptimizer::buffer(const Backend& backend, size_t i) {
  if (!storage_[i]) storage_[i] = backend.allocate(n_ * sizeof(float));
  return storage_[i]->as<float>();
}

std::vector<float> BufferedOptimizer::read_buffer(const Backend& backend, const std::string& name) const {
  const std::unique_ptr<Storage>& s = storage_[index(name)];
  if (!s) return {};  // not made yet
  std::vector<float> host(n_);
  backend.download(s->data(), n_ * sizeof(float), host.data());
  return host;
}

void BufferedOptimizer::write_buffer(const Backend& backend, const std::string& name,
                                     const std::vector<float>& values) {
  const size_t i = index(name);
  if (values.size() != n_)
    throw Error(type_ + "'s " + name + " takes " + std::to_string(n_) + " values, got " +
                std::to_string(values.size()));
  backend.upload(values.data(), n_ * sizeof(float), buffer(backend, i));
}

}  // namespace mnistlab
