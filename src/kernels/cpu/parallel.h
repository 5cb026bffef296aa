#pragma once
// Loops over tensor data on the backend's threads. One thread runs a plain
// loop and opens no OpenMP region: libgomp mallocs a team for every region
// of one thread (and for every region nested in another), about 180 times a
// training step when the small kernels' regions were opened with 1 thread.
// More threads: `#pragma omp parallel for num_threads(threads)
// schedule(static)`, so each thread gets the same share as before.
#include <omp.h>

#include <algorithm>
#include <cstdint>

namespace mnistlab::cpu {

template <class Index, class Body>
inline void parallel_for(int threads, Index count, Body&& body) {
  if (threads <= 1) {
    for (Index i = 0; i < count; ++i) body(i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (Index i = 0; i < count; ++i) body(i);
}

// The same over rows x cols (OpenMP's collapse(2)).
template <class Index, class Body>
inline void parallel_for_2d(int threads, Index rows, Index cols, Body&& body) {
  if (threads <= 1) {
    for (Index i = 0; i < rows; ++i)
      for (Index j = 0; j < cols; ++j) body(i, j);
    return;
  }
#pragma omp parallel for num_threads(threads) collapse(2) schedule(static)
  for (Index i = 0; i < rows; ++i)
    for (Index j = 0; j < cols; ++j) body(i, j);
}

// body(i) for i in [0, count) where no i reads what another writes (an
// elementwise map): the same as parallel_for, but each thread's share is
// also vectorized (OpenMP simd). GCC leaves such loops scalar when it
// cannot prove the pointers apart or when a value is read under a
// condition; the simd promise settles the first, bodies that read every
// operand unconditionally the second.
template <class Index, class Body>
inline void parallel_for_elementwise(int threads, Index count, Body&& body) {
  if (threads <= 1) {
#pragma omp simd
    for (Index i = 0; i < count; ++i) body(i);
    return;
  }
#pragma omp parallel for simd num_threads(threads) schedule(simd : static)
  for (Index i = 0; i < count; ++i) body(i);
}

// The largest of body(begin, end) over `threads` contiguous ranges that
// split [0, count) (ends at multiples of 16, so every range but the last
// is whole vectors), each range on its own thread: for elementwise loops
// that also reduce (the optimizers' steps), written by the caller as one
// plain loop over its range with restrict pointers. GCC vectorizes such a
// loop; through a lambda called per element under `omp simd` it loaded
// the captured pointers per lane and gathered (Adam: 2x slower than scalar).
template <class Index, class Body>
inline uint32_t parallel_ranges_max(int threads, Index count, Body&& body) {
  if (threads <= 1 || count < Index(16) * threads) return body(Index(0), count);
  const Index share = (count / threads + 15) / 16 * 16;
  uint32_t top = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(max : top)
  for (int t = 0; t < threads; ++t) {
    const Index begin = std::min(count, share * t), end = t + 1 == threads ? count : std::min(count, share * (t + 1));
    if (begin < end) top = std::max(top, body(begin, end));
  }
  return top;
}

// body(thread, i) for i in [0, count), each call told the number of the
// thread that runs it (its share of a workspace): OpenMP's static schedule
// on `threads` threads, or a plain loop as thread 0.
template <class Body>
inline void parallel_for_threads(int threads, int count, Body&& body) {
  if (threads <= 1) {
    for (int i = 0; i < count; ++i) body(0, i);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int i = 0; i < count; ++i) body(omp_get_thread_num(), i);
}

}  // namespace mnistlab::cpu
