#include "train/threads.h"

namespace mnistlab {

void use_threads(Model& model, int threads) { use_threads(model, threads, model.backend_options().precision); }

void use_threads(Model& model, int threads, Precision precision) {
  BackendOptions options = model.backend_options();
  options.threads = threads;
  options.precision = precision;
  model.set_backend(options);
}

}  // namespace mnistlab
