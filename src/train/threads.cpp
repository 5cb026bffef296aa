#include "train/threads.h"

#include <omp.h>

#include "kernels/cpu/gemm.h"

namespace mnistlab {

void use_threads(Model& model, int threads) {
  const int count = threads > 0 ? threads : omp_get_num_procs();
  BackendOptions options = model.backend_options();
  options.threads = count;
  model.set_backend(options);
  cpu::set_num_threads(count);
}

}  // namespace mnistlab
