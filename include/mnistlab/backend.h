#pragma once
// Where a model's arithmetic runs and how: the options of the backend that
// every layer calls (the CPU today). The defaults are what a user wants: all
// cores, the widest instruction set the CPU has, each convolution by the
// algorithm measured fastest for its shape. The other settings force one
// route, so tests and benchmarks can reach every implementation on any CPU.
#include <cstddef>
#include <optional>
#include <string>

#include "mnistlab/names.h"

namespace mnistlab {

// Instruction sets of the hand-written CPU kernels.
enum class Isa {
  Scalar,  // x86-64 baseline, plain C++
  Avx2,    // AVX2 + FMA
  Avx512,  // AVX-512 F, CD, BW, DQ, VL
};

// How 3x3 stride-1 padding-1 convolutions compute their forward pass and
// input gradient (other shapes always unfold into columns and multiply).
enum class ConvAlgorithm {
  Auto,      // by shape, from bench/'s measurements
  Im2col,    // unfold into columns, one GEMM
  Winograd,  // Winograd F(2x2, 3x3) wherever the shape allows
};

// Which backend computes: the CPU's, or the CPU's kernels on guarded memory
// (pages the host cannot read or write between backend calls: slow, for
// tests that prove no code reaches around the backend to a tensor's bytes).
enum class BackendKind { Cpu, GuardedCpu };

// The arithmetic of convolutions, transposed convolutions and linear layers,
// as PyTorch's CPU autocast to bfloat16: Bf16 rounds their inputs, weights
// and output gradients to bfloat16 (round to nearest even) and multiplies
// them with float32 accumulation; everything else (BatchNorm, activations,
// losses, optimizer state, master weights, checkpoints) stays float32. Bf16
// needs a CPU with AVX512_BF16 (those with AMX-BF16 have it): make_backend refuses it
// elsewhere (no slow emulation).
enum class Precision { Fp32, Bf16 };

struct BackendOptions {
  BackendKind kind = BackendKind::Cpu;
  int threads = 0;             // 0: every online CPU
  std::optional<Isa> max_isa;  // cap on the hand-written kernels; default the widest this CPU runs
  ConvAlgorithm conv = ConvAlgorithm::Auto;
  Precision precision = Precision::Fp32;
  // Convolutions whose output has at least this many pixels per image run
  // image by image (each thread its own images); smaller maps unfold the
  // whole batch for one GEMM.
  int per_image_min_pixels = 49;
  // Floats of unfolded columns a batched convolution may hold at once;
  // beyond it the batch is processed in chunks.
  size_t conv_workspace_floats = size_t(1) << 25;
  // Floats of one image's unfolded columns that an image-by-image convolution's
  // backward (and a ConvTranspose2d) holds per thread; larger maps go in bands
  // of rows, so the workspace stays bounded whatever a model file declares.
  size_t image_column_floats = size_t(1) << 22;
};

// "AMD EPYC 9R45 (AuthenticAMD family 26 model 2), avx512, 2 threads; GEMM oneDNN 2.6.3 sgemm (JIT, avx512_core)"
// (at Precision::Bf16 followed by "; precision bf16 (AVX512_BF16)")
std::string describe_backend(const BackendOptions& options = {});

inline constexpr Named<Isa> kIsaNames[] = {{"scalar", Isa::Scalar}, {"avx2", Isa::Avx2}, {"avx512", Isa::Avx512}};
const char* isa_name(Isa isa);
std::optional<Isa> parse_isa(const std::string& name);

inline constexpr Named<Precision> kPrecisionNames[] = {{"fp32", Precision::Fp32}, {"bf16", Precision::Bf16}};
const char* precision_name(Precision precision);
std::optional<Precision> parse_precision(const std::string& name);

}  // namespace mnistlab
