#pragma once
// Instruction sets the hand-written kernels are compiled for. Each kernel
// with an ISA-specific body has one translation unit per level, compiled
// with that level's flags (CMakeLists.txt), so one binary carries every
// route and chooses at run time from what the CPU and the OS support.
#include <optional>
#include <string>
#include <string_view>

namespace mnistlab::cpu {

enum class Isa {
  Scalar,  // x86-64 baseline (SSE2): plain C++
  Avx2,    // AVX2 + FMA (Haswell, Zen 1 and later)
  Avx512,  // AVX-512 F, CD, BW, DQ, VL (Skylake-SP, Zen 4 and later)
};

const char* isa_name(Isa isa);
std::optional<Isa> parse_isa(std::string_view name);
// The widest level this CPU and its OS support (CPUID feature bits and
// XGETBV, never a table of CPU models).
Isa widest_isa();
// Whether this CPU runs code compiled for `isa`: tests force each level it runs.
inline bool runs(Isa isa) { return isa <= widest_isa(); }

}  // namespace mnistlab::cpu
