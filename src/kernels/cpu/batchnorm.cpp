#include "kernels/cpu/batchnorm.h"

#include <cmath>
#include <vector>

#include "kernels/cpu/lane_sums.h"
#include "kernels/cpu/parallel.h"

namespace mnistlab::cpu {

namespace {

// SyncBatchNorm's statistics: the sums of every rank, then the sums of
// squares about the global mean (two passes, as below, for the same reason).
double global_mean_var(int threads, const float* x, int n, int c, int hw, float* mean, float* var,
                       const Communicator& across) {
  std::vector<double> sums(size_t(c) + 1);
  parallel_for(threads, c, [&](int ch) {
    double s = 0.0;
    for (int i = 0; i < n; ++i) s += lane_sum(x + (long(i) * c + ch) * hw, hw);
    sums[size_t(ch)] = s;
  });
  sums[size_t(c)] = double(n) * hw;
  across.sum(sums.data(), sums.size());
  const double count = sums[size_t(c)];
  parallel_for(threads, c, [&](int ch) {
    const float mf = float(sums[size_t(ch)] / count);
    double ss = 0.0;
    for (int i = 0; i < n; ++i)
      ss += lane_sum(x + (long(i) * c + ch) * hw, hw, [mf](float v, int) { return (v - mf) * (v - mf); });
    mean[ch] = mf;
    sums[size_t(ch)] = ss;
  });
  across.sum(sums.data(), size_t(c));
  for (int ch = 0; ch < c; ++ch) var[ch] = float(sums[size_t(ch)] / count);
  return count;
}

}  // namespace

double channel_mean_var(int threads, const float* x, int n, int c, int hw, float* mean, float* var,
                        const Communicator* across) {
  if (across) return global_mean_var(threads, x, n, c, hw, mean, var, *across);
  const double count = double(n) * hw;
  parallel_for(threads, c, [&](int ch) {
    double s = 0.0;
    for (int i = 0; i < n; ++i) s += lane_sum(x + (long(i) * c + ch) * hw, hw);
    const double m = s / count;
    const float mf = float(m);
    // Two passes: the one-pass formula loses precision when |mean| >> std.
    double ss = 0.0;
    for (int i = 0; i < n; ++i)
      ss += lane_sum(x + (long(i) * c + ch) * hw, hw, [mf](float v, int) { return (v - mf) * (v - mf); });
    mean[ch] = float(m);
    var[ch] = float(ss / count);
  });
  return count;
}

void batchnorm_apply(int threads, const float* x, int n, int c, int hw, const float* mean, const float* invstd,
                     const float* gamma, const float* beta, float* y) {
  parallel_for_2d(threads, n, c, [&](int i, int ch) {
      const float scale = invstd[ch] * gamma[ch], shift = beta[ch] - mean[ch] * scale;
      const float* in = x + (long(i) * c + ch) * hw;
      float* out = y + (long(i) * c + ch) * hw;
      for (int j = 0; j < hw; ++j) out[j] = in[j] * scale + shift;
    });
}

// Sums of dy and dy*xhat for one channel.
static void channel_grad_sums(const float* x, const float* dy, int n, int c, int hw, int ch, float mean,
                              float invstd, double& sum_dy, double& sum_dy_xhat) {
  sum_dy = 0.0;
  sum_dy_xhat = 0.0;
  for (int i = 0; i < n; ++i) {
    const float* xp = x + (long(i) * c + ch) * hw;
    const float* gp = dy + (long(i) * c + ch) * hw;
    sum_dy += lane_sum(gp, hw);
    sum_dy_xhat += lane_sum(gp, hw, [xp, mean](float g, int j) { return g * (xp[j] - mean); });
  }
  sum_dy_xhat *= invstd;
}

void batchnorm_backward(int threads, const float* x, const float* dy, int n, int c, int hw, const float* mean,
                        const float* invstd, const float* gamma, bool batch_statistics, float* dx, float* dgamma,
                        float* dbeta, const Communicator* across) {
  double count = double(n) * hw;
  // SyncBatchNorm: the means of dy and dy * xhat are over every rank's
  // batch; dgamma and dbeta stay this rank's, summed with the other gradients.
  std::vector<double> global;
  if (across && batch_statistics) {
    global.resize(2 * size_t(c) + 1);
    parallel_for(threads, c, [&](int ch) {
      channel_grad_sums(x, dy, n, c, hw, ch, mean[ch], invstd[ch], global[2 * size_t(ch)], global[2 * size_t(ch) + 1]);
    });
    global[2 * size_t(c)] = count;
    across->sum(global.data(), global.size());
    count = global[2 * size_t(c)];
  }
  parallel_for(threads, c, [&](int ch) {
    double sum_dy, sum_dy_xhat;
    channel_grad_sums(x, dy, n, c, hw, ch, mean[ch], invstd[ch], sum_dy, sum_dy_xhat);
    dgamma[ch] = float(sum_dy_xhat);
    dbeta[ch] = float(sum_dy);
    if (!dx) return;
    if (!global.empty()) {
      sum_dy = global[2 * size_t(ch)];
      sum_dy_xhat = global[2 * size_t(ch) + 1];
    }
    // With batch statistics, dx = gamma*invstd * (dy - mean(dy) - xhat * mean(dy*xhat));
    // with fixed (running) statistics the two mean terms vanish.
    const float k = gamma[ch] * invstd[ch];
    const float mdy = batch_statistics ? float(sum_dy / count) : 0.f;
    const float mdyx = batch_statistics ? float(sum_dy_xhat / count) : 0.f;
    for (int i = 0; i < n; ++i) {
      const long off = (long(i) * c + ch) * hw;
      for (int j = 0; j < hw; ++j) {
        const float xhat = (x[off + j] - mean[ch]) * invstd[ch];
        dx[off + j] = k * (dy[off + j] - mdy - xhat * mdyx);
      }
    }
  });
}

// The running statistics are a few floats per channel: one thread.
void batchnorm_update_running(int c, float momentum, float eps, double count, const float* mean,
                              float* var_to_invstd, float* running_mean, float* running_var, float* batches_tracked) {
  const float unbias = count > 1 ? float(count / (count - 1)) : 1.f;
  for (int ch = 0; ch < c; ++ch) {
    const float var = var_to_invstd[ch];
    running_mean[ch] = (1 - momentum) * running_mean[ch] + momentum * mean[ch];
    running_var[ch] = (1 - momentum) * running_var[ch] + momentum * var * unbias;
    var_to_invstd[ch] = 1.f / std::sqrt(var + eps);
  }
  *batches_tracked += 1.f;
}

void batchnorm_running_stats(int c, float eps, const float* running_mean, const float* running_var, float* mean,
                             float* invstd) {
  for (int ch = 0; ch < c; ++ch) {
    mean[ch] = running_mean[ch];
    invstd[ch] = 1.f / std::sqrt(running_var[ch] + eps);
  }
}

void batchnorm_eval_affine(int c, float eps, const float* gamma, const float* beta, const float* running_mean,
                           const float* running_var, float* scale, float* shift) {
  for (int ch = 0; ch < c; ++ch) {
    scale[ch] = gamma[ch] / std::sqrt(running_var[ch] + eps);
    shift[ch] = beta[ch] - running_mean[ch] * scale[ch];
  }
}

}  // namespace mnistlab::cpu
