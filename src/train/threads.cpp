#include "train/threads.h"

namespace mnistlab {

void use_threads(Model& model, int threads) {
  BackendOptions options = model.backend_options();
  options.threads = threads;
  model.set_backend(options);
}

void use_threads(Model& model, int threads, Precision precision) {
  BackendOptions options = model.backend_options();
  options.threads = threads;
  options.precision = precision;
  model.set_backend(options);
}

}  // namespace mnistlab
