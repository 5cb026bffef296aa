#pragma once
// A seeded shuffle that is the same on every standard library:
// std::mt19937_64 is fully specified by the standard, while std::shuffle and
// std::uniform_int_distribution are not, so both are written out here.
#include <cstdint>
#include <vector>

namespace mnistlab {

void seeded_shuffle(std::vector<uint32_t>& values, uint64_t seed);

}  // namespace mnistlab
