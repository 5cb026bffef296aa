#pragma once
// Sums of a short row in eight float lanes, added together at the end.
// Without -ffast-math the compiler must add in source order, one element
// at a time; eight explicit lanes give it independent chains it can put in
// one vector register. Rows here are image planes (at most a few thousand
// values), so float lanes lose nothing that matters; callers add the rows
// in double.
namespace mnistlab::cpu {

// sum of f(p[j]) over j < n, for an elementwise f.
template <typename F>
inline float lane_sum(const float* p, int n, F f) {
  float lane[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int j = 0;
  for (; j + 8 <= n; j += 8)
    for (int l = 0; l < 8; ++l) lane[l] += f(p[j + l], j + l);
  float tail = 0.f;
  for (; j < n; ++j) tail += f(p[j], j);
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7])) + tail;
}

inline float lane_sum(const float* p, int n) {
  return lane_sum(p, n, [](float v, int) { return v; });
}

}  // namespace mnistlab::cpu
