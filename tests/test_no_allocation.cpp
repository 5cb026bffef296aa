// A training step allocates nothing once the arena is sized: the global
// operator new of this test binary counts calls.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "mnistlab/loss.h"
#include "mnistlab/model_file.h"
#include "mnistlab/optim.h"

namespace {
std::atomic<long> g_allocations{0};
}

void* operator new(size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size ? size : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

using namespace mnistlab;

TEST(Arena, TrainingStepAllocatesNothing) {
  Model model = parse_model(
      "input 1 12 12\nconv 4 k=3 p=1\nbatchnorm\nrelu\nmaxpool k=2\nconv 4 k=3 s=2 p=1\nrelu\ndropout p=0.2\n"
      "flatten\nlinear 10\n",
      "t");
  model.build(0);
  model.reserve(8);
  auto optimizer = make_optimizer(OptimizerOptions{}, model.parameter_count());
  std::vector<float> x(8 * 144, 0.5f), dlogits(80);
  std::vector<int32_t> labels(8, 3);
  auto step = [&](int n) {
    const Tensor& logits = model.forward(x.data(), n);
    cross_entropy(logits, labels.data(), dlogits.data(), nullptr);
    model.backward(dlogits.data());
    optimizer->step(model.parameters(), model.gradients());
  };
  step(8);  // warm-up: thread pools and BLAS buffers start on first use
  const long before = g_allocations.load();
  step(8);
  step(5);  // the last, partial batch of an epoch
  EXPECT_EQ(g_allocations.load() - before, 0);
}
