#pragma once
// A histogram as PyTorch's SummaryWriter.add_histogram(tag, values) makes it
// (torch/utils/tensorboard/summary.py, make_histogram, PyTorch 1.13), with
// its default bins="tensorflow": the values as float64, counted by
// np.histogram into the writer's default_bins, then cut to the buckets from
// the first to the last non-empty one plus the empty one before them.
#include <span>
#include <string>
#include <vector>

namespace mnistlab {

// The fields of TensorBoard's HistogramProto. Bucket i counts the values in
// [bucket_limit[i-1], bucket_limit[i]) (the last default bin also takes
// 1e20 itself). The proto has right edges only, so bucket 0 is the empty bin
// left of the first non-empty one: its limit is where the values start.
// sum is numpy's (pairwise); sum_squares is the pairwise sum of the squares
// (each exact in float64), where add_histogram takes values.dot(values),
// BLAS's ddot, whose order of additions depends on the BLAS library and the
// CPU: the two agree to rounding (relative 1e-15 or so), not bit for bit.
struct SummaryHistogram {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> bucket_limit, bucket;
};

// SummaryWriter's default_bins: 1e-12 * 1.1^k up to 1e20 (1e-12 multiplied
// by 1.1 while below 1e20, as a double each time), their negatives in
// reverse, and 0 between them: 1549 edges, 1548 bins.
const std::vector<double>& summary_histogram_edges();

// np.add.reduce of a float64 array: numpy's pairwise summation (blocks of
// at most 128 added in 8 running sums, halves of longer arrays added), which
// np.sum and add_histogram's `sum` use.
double numpy_pairwise_sum(std::span<const double> values);

// No values, or one not finite, is an Error starting with `what` (where
// add_histogram would write NaN or infinite min/max/sum). A value beyond
// +-1e20 counts in num, min, max and the sums but in no bucket, as in
// np.histogram; all of them beyond is an Error, as add_histogram's "The
// histogram is empty" ValueError.
SummaryHistogram summary_histogram(std::span<const float> values, const std::string& what);

}  // namespace mnistlab
