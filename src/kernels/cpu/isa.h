#pragma once
// Instruction sets the hand-written kernels are compiled for. Each kernel
// with an ISA-specific body has one translation unit per level, compiled
// with that level's flags (CMakeLists.txt), so one binary carries every
// route and chooses at run time from what the CPU and the OS support.
#include "mnistlab/backend.h"

namespace mnistlab::cpu {

using mnistlab::Isa;
using mnistlab::isa_name;

// The widest level this CPU and its OS support (CPUID feature bits and
// XGETBV, never a table of CPU models).
Isa widest_isa();
// Whether this CPU runs code compiled for `isa`: tests force each level it runs.
inline bool runs(Isa isa) { return isa <= widest_isa(); }

}  // namespace mnistlab::cpu
