#pragma once
// BatchNorm2d over NCHW: statistics per channel over N*H*W.
#include "mnistlab/distributed.h"

namespace mnistlab::cpu {

// mean and biased variance of each channel, over this batch or (across) the
// batches of every rank; returns the number of values they are over.
double channel_mean_var(int threads, const float* x, int n, int c, int hw, float* mean, float* var,
                        const Communicator* across);
// y = (x - mean) * invstd * gamma + beta
void batchnorm_apply(int threads, const float* x, int n, int c, int hw, const float* mean, const float* invstd,
                     const float* gamma, const float* beta, float* y);
// Gradients; batch_statistics: training mode, where mean and invstd were
// computed from x itself, so they carry gradient too.
void batchnorm_backward(int threads, const float* x, const float* dy, int n, int c, int hw, const float* mean,
                        const float* invstd, const float* gamma, bool batch_statistics, float* dx, float* dgamma,
                        float* dbeta, const Communicator* across);

// Running statistics and the eval-mode affine map (backend.h says what each computes).
void batchnorm_update_running(int c, float momentum, float eps, double count, const float* mean,
                              float* var_to_invstd, float* running_mean, float* running_var, float* batches_tracked);
void batchnorm_running_stats(int c, float eps, const float* running_mean, const float* running_var, float* mean,
                             float* invstd);
void batchnorm_eval_affine(int c, float eps, const float* gamma, const float* beta, const float* running_mean,
                           const float* running_var, float* scale, float* shift);

}  // namespace mnistlab::cpu
