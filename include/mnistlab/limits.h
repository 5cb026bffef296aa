#pragma once
// What a file may declare. Every reader checks sizes against these before it
// allocates or loops over anything, in 64-bit arithmetic, and names the
// limit in its error: a hostile or corrupt file gets a clear message, never
// a crash, a hang or the machine's memory. They are far above what the
// MNIST family needs (28x28 images, networks of millions of parameters).
#include <cstdint>

namespace mnistlab::limits {

// Model files
constexpr int64_t kModelFileBytes = int64_t(1) << 20;  // 1 MiB of text
constexpr int64_t kLayers = 4096;
constexpr int64_t kChannels = int64_t(1) << 16;     // channels or features of any tensor
constexpr int64_t kSide = int64_t(1) << 14;         // height or width of any tensor
constexpr int64_t kKernel = 1024;                   // kernel size, stride, padding, output padding
constexpr int64_t kSampleFloats = int64_t(1) << 26;  // one sample's tensor at any layer (256 MiB)
constexpr int64_t kParameters = int64_t(1) << 28;    // a model's parameters and buffers (1 GiB)

// Data files
// One IDX file's data: MNIST's training images are 47 MB, EMNIST ByClass's
// 547 MB (697,932 images of 28x28). The buffer grows with the bytes that
// arrive, never from the header's promise alone.
constexpr int64_t kIdxPayloadBytes = int64_t(1) << 31;  // 2 GiB
constexpr int64_t kImageSide = 4096;                    // IDX and PNG images
constexpr int64_t kPngFileBytes = int64_t(1) << 26;     // 64 MiB: a 4096x4096 16-bit gray PNG stored uncompressed is 32

// Weight files
constexpr int64_t kSafetensorsHeaderBytes = int64_t(1) << 24;  // the JSON header (16 MiB)
constexpr int64_t kSafetensorsFileBytes = int64_t(1) << 32;    // 4 GiB

// Text files of a run folder (run.json, command.txt)
constexpr int64_t kRunTextBytes = int64_t(1) << 20;
// A dataset's class names (classes.txt, --class-names): one per line, at most 256 classes
constexpr int64_t kClassNamesBytes = int64_t(1) << 20;

}  // namespace mnistlab::limits
