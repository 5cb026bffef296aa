#include "data/permutation.h"

#include <random>
#include <utility>

namespace mnistlab {
namespace {

// Uniform in [0, n) without modulo bias: reject the lowest 2^64 mod n draws
// so the accepted range is a multiple of n.
uint64_t uniform_below(std::mt19937_64& engine, uint64_t n) {
  uint64_t threshold = (0 - n) % n;
  uint64_t r;
  do r = engine();
  while (r < threshold);
  return r % n;
}

}  // namespace

void seeded_shuffle(std::vector<uint32_t>& values, uint64_t seed) {
  std::mt19937_64 engine(seed);
  // Fisher-Yates (Knuth, TAOCP vol. 2, Algorithm P), from the back.
  for (size_t i = values.size(); i > 1; --i) {
    const size_t j = size_t(uniform_below(engine, i));
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace mnistlab
