#include <string>

#include "kernels/cpu/bf16.h"

namespace mnistlab::cpu {

std::string bf16_unsupported(const CpuInfo& cpu, std::optional<Isa> max_isa) {
  const std::string name = (cpu.model.empty() ? std::string("unknown CPU") : cpu.model) + " (" + cpu.vendor +
                           " family " + std::to_string(cpu.family) + " model " + std::to_string(cpu.model_number) + ")";
  // Our own bf16 routes (the GEMM of Linear, transposed and small-map
  // convolutions) run vdpbf16ps, so AMX-BF16 alone is not enough; every CPU
  // with AMX-BF16 so far has AVX512_BF16 too.
  if (!cpu.avx512_bf16)
    return "bf16 precision needs a CPU with AVX512_BF16 (CPUs with AMX-BF16 have it too); this one, " + name +
           ", has " + (cpu.amx_bf16 ? "AMX-BF16 without it" : "neither") + " (its widest kernels are " +
           isa_name(cpu.widest) + "), and bf16 is not emulated: use fp32";
  if (max_isa && *max_isa < Isa::Avx512)
    return std::string("bf16 precision runs AVX-512 kernels, which max_isa ") + isa_name(*max_isa) +
           " excludes: use fp32 with that cap, or no cap below avx512";
  return {};
}

}  // namespace mnistlab::cpu
