// bfloat16 precision's pieces that run on every CPU: the rounding (against
// bf16_reference.h's definition), the names, and the refusal on a CPU
// without bfloat16 instructions. The kernels themselves are checked in
// test_kernel_cases.cpp (Bf16KernelCases), where the CPU runs them.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <limits>
#include <vector>

#include "bf16_reference.h"
#include "kernels/backend.h"
#include "kernels/cpu/bf16.h"
#include "kernels/cpu/cpu_info.h"
#include "kernels/cpu/gemm_bf16.h"
#include "mnistlab/error.h"
#include "mnistlab/rng.h"

using namespace mnistlab;
using bf16_test::from_bits;
using bf16_test::nearest_bf16;
using bf16_test::to_bits;

namespace {

std::vector<float> special_values() {
  const float inf = std::numeric_limits<float>::infinity();
  return {0.f,
          -0.f,
          1.f,
          1.f + 0x1p-8f,          // halfway between 1 and 1 + 2^-7: ties to even, 1
          1.f + 3 * 0x1p-8f,      // halfway between 1 + 2^-7 and 1 + 2^-6: to 1 + 2^-6
          -(1.f + 0x1p-8f),
          1.f + 0x1p-8f + 0x1p-20f,  // just above halfway: up
          1.f + 0x1p-8f - 0x1p-20f,  // just below: down
          FLT_MAX,                // beyond bfloat16's largest and its halfway point: infinity
          -FLT_MAX,
          from_bits(0x7F7F7FFFu),  // just below halfway to infinity: bfloat16's largest
          from_bits(0x7F7F8000u),  // halfway to infinity, odd below: infinity
          inf,
          -inf,
          std::nanf(""),
          -std::nanf(""),
          from_bits(0x7F800001u),  // a signalling NaN with a low payload: still NaN
          from_bits(0xFF810000u),
          FLT_MIN,
          0x1p-149f,          // the smallest denormal: below half of bfloat16's smallest (2^-133), 0
          0x1p-134f,          // exactly half of 2^-133: ties to even, 0
          3 * 0x1p-134f,      // halfway between 2^-133 and 2^-132: to 2^-132
          -5 * 0x1p-135f,     // a negative denormal, not a tie
          from_bits(0x00FFFFFFu)};  // every mantissa bit set: rounds up into the next binade, 2^-125
}

TEST(Bf16Rounding, MatchesTheDefinitionOnSpecialValues) {
  for (float f : special_values()) {
    const float got = cpu::round_bf16(f), want = nearest_bf16(f);
    if (std::isnan(want)) {
      EXPECT_TRUE(std::isnan(got)) << f;
      EXPECT_EQ(cpu::bf16_bits(f), 0x7FC0) << "PyTorch's NaN is the quiet 0x7FC0";
    } else {
      EXPECT_EQ(to_bits(got), to_bits(want)) << "f = " << f << " (bits " << std::hex << to_bits(f) << ")";
    }
  }
  EXPECT_EQ(cpu::round_bf16(1.f + 0x1p-8f), 1.f);
  EXPECT_EQ(cpu::round_bf16(1.f + 3 * 0x1p-8f), 1.f + 0x1p-6f);
  EXPECT_EQ(cpu::round_bf16(FLT_MAX), std::numeric_limits<float>::infinity());
  EXPECT_EQ(cpu::round_bf16(3 * 0x1p-134f), 0x1p-132f);
  EXPECT_EQ(to_bits(cpu::round_bf16(-0.f)), 0x80000000u);
}

TEST(Bf16Rounding, MatchesTheDefinitionOnRandomBitPatterns) {
  Rng rng(29);
  int checked = 0;
  for (int i = 0; i < 1000000; ++i) {
    const uint32_t u = uint32_t(rng.next());
    const float f = from_bits(u), want = nearest_bf16(f), got = cpu::round_bf16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(std::isnan(got));
      continue;
    }
    ASSERT_EQ(to_bits(got), to_bits(want)) << std::hex << "bits " << u;
    ++checked;
  }
  EXPECT_GT(checked, 990000);
}

// The vectorized rounding the kernels use, against the scalar one (which
// the tests above hold to the definition).
TEST(Bf16Rounding, VectorizedAgreesWithScalar) {
  if (!cpu::runs_bf16_kernels())
    GTEST_SKIP() << cpu::cpu_info().model << " has no AVX512_BF16: the vectorized rounding does not run here";
  std::vector<float> x = special_values();
  Rng rng(7);
  for (int i = 0; i < 10000; ++i) x.push_back(from_bits(uint32_t(rng.next())));
  std::vector<float> got(x.size());
  cpu::round_bf16_floats(x.data(), x.size(), got.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const float want = cpu::round_bf16(x[i]);
    if (std::isnan(want)) EXPECT_EQ(to_bits(got[i]), 0x7FC00000u) << i;
    else EXPECT_EQ(to_bits(got[i]), to_bits(want)) << i << ": " << x[i];
  }
}

TEST(Bf16Precision, NamesRoundTrip) {
  for (Precision p : {Precision::Fp32, Precision::Bf16}) EXPECT_EQ(parse_precision(precision_name(p)), p);
  EXPECT_EQ(std::string(precision_name(Precision::Bf16)), "bf16");
  EXPECT_FALSE(parse_precision("fp16").has_value());
  EXPECT_EQ(BackendOptions{}.precision, Precision::Fp32);
}

// The refusal's reasons, for CPUs described by hand (no switch in the
// product pretends the CPU lacks a feature).
TEST(Bf16Precision, RefusalNamesTheCpuAndTheMissingFeature) {
  cpu::CpuInfo zen3;
  zen3.vendor = "AuthenticAMD";
  zen3.model = "AMD EPYC 7B13 64-Core Processor";
  zen3.family = 25;
  zen3.model_number = 1;
  zen3.widest = Isa::Avx2;
  const std::string why = cpu::bf16_unsupported(zen3, std::nullopt);
  EXPECT_NE(why.find("AMD EPYC 7B13"), std::string::npos) << why;
  EXPECT_NE(why.find("AVX512_BF16"), std::string::npos) << why;
  EXPECT_NE(why.find("AMX-BF16"), std::string::npos) << why;

  cpu::CpuInfo zen4 = zen3;
  zen4.widest = Isa::Avx512;
  zen4.avx512_bf16 = true;
  EXPECT_EQ(cpu::bf16_unsupported(zen4, std::nullopt), "");
  EXPECT_EQ(cpu::bf16_unsupported(zen4, Isa::Avx512), "");
  const std::string capped = cpu::bf16_unsupported(zen4, Isa::Avx2);
  EXPECT_NE(capped.find("max_isa avx2"), std::string::npos) << capped;

  cpu::CpuInfo amx_only = zen3;  // AMX-BF16 without AVX512_BF16: our vdpbf16ps routes could not run
  amx_only.amx_tile = amx_only.amx_bf16 = true;
  amx_only.widest = Isa::Avx512;
  EXPECT_NE(cpu::bf16_unsupported(amx_only, std::nullopt).find("AMX-BF16 without it"), std::string::npos);
  cpu::CpuInfo sapphire_rapids = amx_only;
  sapphire_rapids.avx512_bf16 = true;
  EXPECT_EQ(cpu::bf16_unsupported(sapphire_rapids, std::nullopt), "");
}

// make_backend applies the check to the CPU it runs on.
TEST(Bf16Precision, MakeBackendRefusesOrAcceptsByCpuid) {
  BackendOptions o;
  o.precision = Precision::Bf16;
  const std::string why = cpu::bf16_unsupported(cpu::cpu_info(), std::nullopt);
  if (why.empty()) {
    EXPECT_NO_THROW(make_backend(o));
  } else {
    try {
      make_backend(o);
      ADD_FAILURE() << "bf16 accepted on " << cpu::cpu_info().model;
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()), why);
    }
  }
  if (cpu::runs(Isa::Avx2) && why.empty()) {
    o.max_isa = Isa::Avx2;
    EXPECT_THROW(make_backend(o), Error);
  }
}

}  // namespace
