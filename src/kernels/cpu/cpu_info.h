#pragma once
// What the processor is, read from CPUID: shown by `mnistlab info` and at the
// top of every benchmark table, so a figure always names the CPU it came from.
#include <string>

#include "kernels/cpu/isa.h"

namespace mnistlab::cpu {

struct CpuInfo {
  std::string vendor;  // "GenuineIntel", "AuthenticAMD"
  std::string model;   // the brand string, e.g. "AMD EPYC 9R45" (trimmed)
  int family = 0, model_number = 0, stepping = 0;  // display family and model, as lscpu prints them
  int logical_cpus = 0;                             // online, as the OS reports them
  Isa widest = Isa::Scalar;
  bool avx512_bf16 = false, avx512_vnni = false, amx_tile = false, amx_bf16 = false;
};

const CpuInfo& cpu_info();

}  // namespace mnistlab::cpu
