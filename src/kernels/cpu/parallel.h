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

// The largest of body(i) over i in [0, count) (0 when count is 0), as
// OpenMP's reduction(max) gives it: the same whatever the thread count.
template <class Index, class Body>
inline uint32_t parallel_max(int threads, Index count, Body&& body) {
  uint32_t top = 0;
  if (threads <= 1) {
    for (Index i = 0; i < count; ++i) top = std::max(top, body(i));
    return top;
  }
#pragma omp parallel for num_threads(threads) schedule(static) reduction(max : top)
  for (Index i = 0; i < count; ++i) top = std::max(top, body(i));
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
