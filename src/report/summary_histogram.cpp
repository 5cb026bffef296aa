#include "report/summary_histogram.h"

#include <algorithm>
#include <cmath>

#include "mnistlab/error.h"

namespace mnistlab {

namespace {

// numpy's DOUBLE_pairwise_sum (numpy/core/src/umath/loops_utils.h.src),
// the same additions in the same order.
double pairwise(const double* a, size_t n) {
  if (n < 8) {
    double res = 0.;
    for (size_t i = 0; i < n; ++i) res += a[i];
    return res;
  }
  if (n <= 128) {  // numpy's PW_BLOCKSIZE
    double r[8];
    for (int k = 0; k < 8; ++k) r[k] = a[k];
    size_t i = 8;
    for (; i < n - n % 8; i += 8)
      for (int k = 0; k < 8; ++k) r[k] += a[i + k];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i];
    return res;
  }
  size_t half = n / 2;
  half -= half % 8;  // keeps the first half a multiple of the unrolling
  return pairwise(a, half) + pairwise(a + half, n - half);
}

}  // namespace

const std::vector<double>& summary_histogram_edges() {
  static const std::vector<double> edges = [] {
    std::vector<double> positive;
    for (double v = 1e-12; v < 1e20; v *= 1.1) positive.push_back(v);
    std::vector<double> all;
    for (auto it = positive.rbegin(); it != positive.rend(); ++it) all.push_back(-*it);
    all.push_back(0.0);
    all.insert(all.end(), positive.begin(), positive.end());
    return all;
  }();
  return edges;
}

double numpy_pairwise_sum(std::span<const double> values) {
  // The reduction starts from add's identity, 0 (so a sum of -0.0s is +0.0).
  return 0.0 + pairwise(values.data(), values.size());
}

SummaryHistogram summary_histogram(std::span<const float> values, const std::string& what) {
  if (values.empty()) throw Error(what + ": a histogram of no values");
  std::vector<double> v(values.begin(), values.end()), squares(values.size());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i]))
      throw Error(what + ": value " + std::to_string(i) + " is " + std::to_string(v[i]) +
                  "; a histogram needs finite values");
    squares[i] = v[i] * v[i];  // exact: a float's square has at most 48 significant bits
  }
  SummaryHistogram h;
  h.min = *std::min_element(v.begin(), v.end());
  h.max = *std::max_element(v.begin(), v.end());
  h.num = double(v.size());
  h.sum = numpy_pairwise_sum(v);
  h.sum_squares = numpy_pairwise_sum(squares);

  // np.histogram with explicit edges: bin k holds edges[k] <= x < edges[k+1],
  // the last bin also x == its right edge; values outside them count nowhere.
  const std::vector<double>& edges = summary_histogram_edges();
  std::vector<double> counts(edges.size() - 1, 0.0);
  for (const double x : v) {
    if (x < edges.front() || x > edges.back()) continue;
    const size_t right = size_t(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin());
    counts[std::min(right, counts.size()) - 1] += 1;
  }
  // make_histogram's cut: from the bin before the first non-empty one (an
  // empty bin of count 0 in front when the first bin is non-empty) to the
  // last non-empty one, each with its right edge.
  const auto nonempty = [](double c) { return c > 0; };
  const auto first = std::find_if(counts.begin(), counts.end(), nonempty);
  if (first == counts.end())
    throw Error(what + ": every value is beyond +-1e20, outside the histogram's buckets");
  const size_t start = size_t(first - counts.begin());
  const size_t end = size_t(std::find_if(counts.rbegin(), counts.rend(), nonempty).base() - counts.begin());
  if (start == 0) {
    h.bucket.push_back(0.0);
    h.bucket_limit.push_back(edges[0]);
  } else {
    h.bucket.push_back(counts[start - 1]);
    h.bucket_limit.push_back(edges[start]);
  }
  for (size_t k = start; k < end; ++k) {
    h.bucket.push_back(counts[k]);
    h.bucket_limit.push_back(edges[k + 1]);
  }
  return h;
}

}  // namespace mnistlab
