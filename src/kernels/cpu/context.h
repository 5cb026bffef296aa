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
  // Threads for a call of about `macs` multiply-adds: one below about a
  // million, where waking a second thread and meeting at the barrier costs
  // more than it saves (and on a loaded machine, a whole time slice).
  int threads_for(double macs) const { return macs >= (1 << 20) ? threads : 1; }
};

}  // namespace mnistlab::cpu
