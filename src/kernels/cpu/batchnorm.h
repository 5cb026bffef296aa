#pragma once
// BatchNorm2d over NCHW: statistics per channel over N*H*W.
namespace mnistlab::cpu {

// mean and biased variance of each channel.
void channel_mean_var(int threads, const float* x, int n, int c, int hw, float* mean, float* var);
// y = (x - mean) * invstd * gamma + beta
void batchnorm_apply(int threads, const float* x, int n, int c, int hw, const float* mean, const float* invstd,
                     const float* gamma, const float* beta, float* y);
// Gradients; batch_statistics: training mode, where mean and invstd were
// computed from x itself, so they carry gradient too.
void batchnorm_backward(int threads, const float* x, const float* dy, int n, int c, int hw, const float* mean,
                        const float* invstd, const float* gamma, bool batch_statistics, float* dx, float* dgamma,
                        float* dbeta);

}  // namespace mnistlab::cpu
