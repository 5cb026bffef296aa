#pragma once
// What every CPU kernel is told by the backend that calls it: how many
// threads it may use and the widest instruction set it may run.
#include "kernels/cpu/isa.h"
#include "mnistlab/backend.h"

namespace mnistlab::cpu {

struct CpuContext {
  int threads = 1;
  Isa isa = Isa::Scalar;
  BackendOptions options;
};

}  // namespace mnistlab::cpu
