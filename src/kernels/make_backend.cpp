// The one place that knows every backend.
#include "kernels/backend.h"
#include "kernels/cpu/cpu_backend.h"
#include "kernels/guarded/guarded_backend.h"
#include "mnistlab/error.h"

namespace mnistlab {

std::unique_ptr<Backend> make_backend(const BackendOptions& options) {
  switch (options.kind) {
    case BackendKind::Cpu: return make_cpu_backend(options);
    case BackendKind::GuardedCpu: return make_guarded_backend(make_cpu_backend(options));
  }
  throw Error("unknown backend kind");
}

}  // namespace mnistlab
