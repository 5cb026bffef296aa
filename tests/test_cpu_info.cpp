// CPU detection against GCC's own (libgcc's __builtin_cpu_supports reads
// CPUID and XGETBV independently of kernels/cpu/cpu_info.cpp).
#include <gtest/gtest.h>

#include "kernels/cpu/cpu_info.h"

using namespace mnistlab::cpu;

TEST(CpuInfo, WidestIsaAgreesWithTheCompilersDetection) {
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                      __builtin_cpu_supports("avx512cd");
  const Isa expected = avx512 ? Isa::Avx512 : avx2 ? Isa::Avx2 : Isa::Scalar;
  EXPECT_EQ(isa_name(widest_isa()), std::string(isa_name(expected)));
  EXPECT_TRUE(runs(Isa::Scalar));
}

TEST(CpuInfo, NamesTheProcessor) {
  const CpuInfo& info = cpu_info();
  EXPECT_TRUE(info.vendor == "GenuineIntel" || info.vendor == "AuthenticAMD" || !info.vendor.empty());
  EXPECT_GE(info.logical_cpus, 1);
  EXPECT_GT(info.family, 0);
}

TEST(CpuInfo, IsaNamesRoundTrip) {
  for (Isa isa : {Isa::Scalar, Isa::Avx2, Isa::Avx512}) EXPECT_EQ(mnistlab::parse_isa(isa_name(isa)), isa);
  EXPECT_FALSE(mnistlab::parse_isa("sse9").has_value());
}
