#pragma once
// The seam between layers and arithmetic. A layer (src/nn/) computes shapes
// and owns its parameters; every operation on a batch goes through the
// Backend its model plans it with: which instruction set, which algorithm,
// how many threads and how the workspace is carved are the backend's
// business, never the layer's. The CPU backend (kernels/cpu/cpu_backend.h)
// is the one implementation today; a GPU backend would implement the same
// interface, and the layers would not change.
//
// The backend owns the memory it computes on: parameters, gradients,
// optimizer state, activations and workspaces are Storage it allocated, and
// host code moves bytes in and out of it only through upload and download
// (a device backend's storage is not host memory; the guarded test backend's
// pages are unreadable between its calls). Tensors are float32, NCHW (or
// [N, F]), contiguous; non-float data (pooling indices) has int32 storage.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "mnistlab/backend.h"
#include "mnistlab/distributed.h"
#include "mnistlab/noise.h"

namespace mnistlab {

// A Conv2d's geometry: input [cin, h, w], cout filters of k x k, the same
// stride and padding in both directions. A ConvTranspose2d is described by
// the Conv2d it transposes (its output is that convolution's input).
struct ConvShape {
  int cin = 0, h = 0, w = 0;
  int cout = 0, k = 1, stride = 1, pad = 0;
  // PyTorch's Conv2d groups: input channel group g (cin / groups channels)
  // feeds only output channel group g (cout / groups channels); the weight
  // is [cout, cin / groups, k, k]. groups == cin is a depthwise convolution
  // (cout = multiplier * cin). Conv2d only: a ConvTranspose2d has 1.
  int groups = 1;
  int ho() const { return (h + 2 * pad - k) / stride + 1; }
  int wo() const { return (w + 2 * pad - k) / stride + 1; }
  size_t weight_floats() const { return size_t(cout) * (cin / groups) * k * k; }
};

struct PoolShape {
  int c = 0, h = 0, w = 0, k = 1, stride = 1, pad = 0;
  int ho() const { return (h + 2 * pad - k) / stride + 1; }
  int wo() const { return (w + 2 * pad - k) / stride + 1; }
};

// Upsample's geometry: input [c, h, w], output [c, h * scale, w * scale].
struct UpsampleShape {
  int c = 0, h = 0, w = 0, scale = 1;
  bool bilinear = false;  // false: nearest
  int ho() const { return h * scale; }
  int wo() const { return w * scale; }
};

// Memory a kernel gets for one call: `saved` lives from a forward to the
// backward after it; `workspace` only lasts for the call.
struct KernelMemory {
  float* saved = nullptr;
  float* workspace = nullptr;
};

// Eval-mode epilogue of a convolution: out = max(lower, conv * scale[c] +
// shift[c]) per output channel, which folds a BatchNorm2d that follows
// (and its ReLU) into the convolution's last pass over its output.
struct ChannelAffine {
  const float* scale = nullptr;  // null: 1
  const float* shift = nullptr;  // null: 0 (the layer's bias is added before)
};

// A convolution planned for one layer shape and batches up to the one it was
// planned for. Weights are in PyTorch's layout: Conv2d [cout, cin, k, k],
// ConvTranspose2d [cin_of_the_transposed_conv = its input channels, ...].
class ConvKernel {
 public:
  virtual ~ConvKernel() = default;
  // The route taken, for `mnistlab info` and tests: "winograd/avx512", "im2col/per-image", ...
  virtual std::string route() const = 0;
  virtual size_t saved_floats() const { return 0; }
  virtual size_t workspace_floats() const = 0;
  // y = conv(x) + bias (bias may be null), then the affine epilogue and
  // max(0, .) when relu.
  virtual void forward(const float* x, int n, const float* weight, const float* bias, const ChannelAffine& affine,
                       bool relu, float* y, KernelMemory memory) = 0;
  // Overwrites dweight, dbias (when not null) and dx (when not null).
  virtual void backward(const float* x, const float* dy, int n, const float* weight, float* dweight, float* dbias,
                        float* dx, KernelMemory memory) = 0;
};

// A block of a backend's memory, zero-filled when allocated, freed with the
// handle. data() is an address for that backend's calls, not for the host.
class Storage {
 public:
  virtual ~Storage() = default;
  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  template <class T>
  T* as() const {
    return static_cast<T*>(data_);
  }

 protected:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// One optimizer step's settings, torch.optim's (amsgrad and maximize off).
// SGD: g += weight_decay * p; with momentum, buf = momentum * buf +
// (1 - dampening) * g (buf = g on the buffer's first step) and g = nesterov ?
// g + momentum * buf : buf; p -= lr * g.
struct SgdStep {
  float lr = 0, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
  bool first = false;  // the momentum buffer's first step: buf = g
};
// Adam: g += weight_decay * p; AdamW (decoupled): p *= 1 - lr * weight_decay.
// m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * g^2;
// p -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
struct AdamStep {
  float lr = 0, beta1 = 0.9f, beta2 = 0.999f, eps = 1e-8f, weight_decay = 0;
  bool decoupled = false;
  int64_t step = 1;  // t, counted from 1 (the bias corrections)
};

// nn.L1Loss and nn.MSELoss.
enum class RegressionLoss { L1, Mse };

// Elementwise activations, PyTorch's: ReLU, Sigmoid, Tanh, GELU
// (approximate='none': x * Phi(x), Phi from erf), SiLU (x * sigmoid(x)) and
// LeakyReLU (x > 0 ? x : slope * x).
enum class Activation { ReLU, Sigmoid, Tanh, GELU, SiLU, LeakyReLU };

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const BackendOptions& options() const = 0;
  virtual int threads() const = 0;
  virtual std::string describe() const = 0;

  // Memory: a zero-filled block of `bytes` (aligned for any vector load);
  // host <-> backend copies; copies and fills within the backend's memory.
  virtual std::unique_ptr<Storage> allocate(size_t bytes) const = 0;
  virtual void upload(const void* host, size_t bytes, void* to) const = 0;
  virtual void download(const void* from, size_t bytes, void* host) const = 0;
  virtual void copy(const float* from, size_t count, float* to) const = 0;
  virtual void fill(float value, size_t count, float* to) const = 0;

  // A convolution for batches up to max_batch; without gradients it keeps
  // nothing for a backward.
  virtual std::unique_ptr<ConvKernel> conv2d(const ConvShape& shape, int max_batch, bool gradients) const = 0;
  virtual std::unique_ptr<ConvKernel> conv_transpose2d(const ConvShape& transposed, int max_batch,
                                                       bool gradients) const = 0;

  // Linear: y[n][out] = x[n][in] W[out][in]^T + b; backward overwrites dw,
  // db (when not null) and dx (when not null).
  virtual void linear_forward(const float* x, int n, int in, int out, const float* w, const float* b,
                              float* y) const = 0;
  virtual void linear_backward(const float* x, const float* dy, int n, int in, int out, const float* w, float* dw,
                               float* db, float* dx) const = 0;

  // y = f(x); dx = dy * f'(x). Backward is given both the forward's input x
  // and its output y, and each activation reads what its derivative is
  // written from: Sigmoid and Tanh from y; GELU, SiLU and LeakyReLU from x
  // (their derivatives are not functions of y); ReLU from y alone, because
  // x may hold y there: an eval-mode model folds a ReLU into the convolution
  // before it, and the ReLU's input is then that convolution's rectified
  // output. `slope` is LeakyReLU's negative_slope; the others ignore it.
  virtual void activation_forward(Activation f, float slope, const float* x, size_t count, float* y) const = 0;
  virtual void activation_backward(Activation f, float slope, const float* x, const float* y, const float* dy,
                                   size_t count, float* dx) const = 0;

  // BatchNorm2d over [n, c, hw] (BatchNorm1d: [n, c] with hw = 1):
  // per-channel mean and biased variance; y =
  // (x - mean) * invstd * gamma + beta; gradients (batch_statistics: mean
  // and invstd came from x, so they carry gradient too).
  // `across`: the statistics of the samples of every rank together
  // (SyncBatchNorm; collective, each rank passes its own batch), and the
  // backward's sums of dy and dy * xhat likewise; null: this batch alone.
  // Returns the number of values the statistics are over.
  virtual double channel_mean_var(const float* x, int n, int c, int hw, float* mean, float* var,
                                  const Communicator* across) const = 0;
  virtual void batchnorm_apply(const float* x, int n, int c, int hw, const float* mean, const float* invstd,
                               const float* gamma, const float* beta, float* y) const = 0;
  virtual void batchnorm_backward(const float* x, const float* dy, int n, int c, int hw, const float* mean,
                                  const float* invstd, const float* gamma, bool batch_statistics, float* dx,
                                  float* dgamma, float* dbeta, const Communicator* across) const = 0;

  // Training: running = (1 - momentum) * running + momentum * batch, the
  // variance unbiased by count / (count - 1) (torch.nn.functional.batch_norm);
  // var is overwritten by invstd = 1 / sqrt(var + eps); *batches_tracked += 1.
  virtual void batchnorm_update_running(int c, float momentum, float eps, double count, const float* mean,
                                        float* var_to_invstd, float* running_mean, float* running_var,
                                        float* batches_tracked) const = 0;
  // Eval: mean = running_mean, invstd = 1 / sqrt(running_var + eps); and
  // the same as one affine map, scale = gamma / sqrt(running_var + eps),
  // shift = beta - running_mean * scale (what a convolution's epilogue folds in).
  virtual void batchnorm_running_stats(int c, float eps, const float* running_mean, const float* running_var,
                                       float* mean, float* invstd) const = 0;
  virtual void batchnorm_eval_affine(int c, float eps, const float* gamma, const float* beta,
                                     const float* running_mean, const float* running_var, float* scale,
                                     float* shift) const = 0;

  // argmax: per output, the index within its input plane of the maximum (null: not kept).
  virtual void maxpool_forward(const PoolShape& s, const float* x, int n, float* y, int32_t* argmax) const = 0;
  virtual void maxpool_backward(const PoolShape& s, const float* dy, const int32_t* argmax, int n,
                                float* dx) const = 0;

  // AvgPool2d with PyTorch's defaults count_include_pad=True and
  // ceil_mode=False: y = the window's sum / (k * k), padding counted as
  // zeros (every window lies inside the padded input, so the divisor is
  // always k * k). Backward overwrites dx: each dy / (k * k) added to the
  // inputs of its window.
  virtual void avgpool_forward(const PoolShape& s, const float* x, int n, float* y) const = 0;
  virtual void avgpool_backward(const PoolShape& s, const float* dy, int n, float* dx) const = 0;
  // AdaptiveAvgPool2d(1) over `planes` planes (N * C) of hw values: y[p] =
  // the plane's mean; backward overwrites dx[p][j] = dy[p] / hw.
  virtual void global_avgpool_forward(const float* x, size_t planes, int hw, float* y) const = 0;
  virtual void global_avgpool_backward(const float* dy, size_t planes, int hw, float* dx) const = 0;
  // nn.Upsample(scale_factor=s.scale): nearest (output o reads input
  // floor(o / scale)) or bilinear with align_corners=False (source
  // coordinate (o + 0.5) / scale - 0.5, clamped at 0; the last row and column
  // repeat). Backward overwrites dx: each dy added to the inputs it was read
  // from, with their weights.
  virtual void upsample_forward(const UpsampleShape& s, const float* x, int n, float* y) const = 0;
  virtual void upsample_backward(const UpsampleShape& s, const float* dy, int n, float* dx) const = 0;

  // y = x * keep / (1 - p), keep ~ Bernoulli(1 - p), stored in mask; the
  // keep of value i a function of (seed, first + i) alone, so a rank that
  // holds part of a batch draws what one process would for those values.
  virtual void dropout_forward(const float* x, size_t count, float p, uint64_t seed, uint64_t first, float* mask,
                               float* y) const = 0;
  virtual void multiply(const float* a, const float* b, size_t count, float* out) const = 0;

  // Joins: per sample, y = [a, b] (torch.cat on dim 1) and back; out = a + b; acc += x.
  virtual void concat_samples(const float* a, size_t a_len, const float* b, size_t b_len, int n,
                              float* y) const = 0;
  virtual void split_samples_accumulate(const float* dy, size_t a_len, size_t b_len, int n, float* da,
                                        float* db) const = 0;
  virtual void add(const float* a, const float* b, size_t count, float* out) const = 0;
  virtual void add_into(const float* x, size_t count, float* acc) const = 0;

  // Optimizer steps over `count` parameters, in place (SgdStep, AdamStep).
  // Each returns false when some gradient is not finite (NaN, +-inf): the
  // check rides on the step's one pass over the gradients, and the step is
  // taken all the same. momentum_buffer may be null when momentum is 0.
  virtual bool sgd_step(const SgdStep& s, float* params, const float* grads, float* momentum_buffer,
                        size_t count) const = 0;
  virtual bool adam_step(const AdamStep& s, float* params, const float* grads, float* exp_avg, float* exp_avg_sq,
                         size_t count) const = 0;

  // nn.CrossEntropyLoss(label_smoothing=eps), mean over the n rows of
  // logits [n, k]: (1 - eps) * -log p_label + eps * mean_j(-log p_j).
  // Writes dL/dlogits into grad (when not null) and the number of rows
  // whose argmax (the first maximum) is the label into *correct (when not
  // null). eps in [0, 1) (the caller checks).
  // The gradient is that of the sum over the rows / grad_rows (n: the
  // mean's; a rank's share of a larger batch: that batch's size).
  virtual double cross_entropy(const float* logits, int n, int k, const int32_t* labels, float label_smoothing,
                               float* grad, int* correct, int grad_rows) const = 0;
  // nn.L1Loss / nn.MSELoss, mean over all `count` values; dL/doutput into
  // grad when not null (L1's derivative at a tie is 0, as torch.sign).
  // grad: the derivative / grad_count (count: the mean's; see cross_entropy).
  virtual double regression_loss(RegressionLoss kind, const float* output, const float* target, size_t count,
                                 float* grad, size_t grad_count) const = 0;

  // Data parallel, collective: the sums over the ranks of comm of this
  // rank's slice of data alone (Communicator::sum_slice), and each rank's
  // slice to every rank (gather_slices): the gradients' sums for the slice
  // of parameters this rank updates, then the updated parameters.
  virtual void sum_slice_across(const Communicator& comm, float* data, size_t count) const = 0;
  virtual void gather_across(const Communicator& comm, float* data, size_t count) const = 0;

  // The denoising task's input: noisy[i] = clean[i] + noise of value first +
  // i of the stream `seed`, each value a function of (seed, first + i) alone
  // (SplitMix64), so no thread count or batch cut changes it. Uniform: +
  // amount * u; Gaussian: + amount * sqrt(-2 ln(1 - u1)) cos(2 pi u2)
  // (Box-Muller); salt-pepper: with probability amount, 0 or 1; clip: the
  // result clamped to [0, 1]. u, u1, u2: the top 24 bits of SplitMix64 of
  // splitmix64(seed ^ "noise") + 2 (first + i) (u2: + 1) over 2^24.
  virtual void add_noise(NoiseKind kind, float amount, bool clip, uint64_t seed, uint64_t first, const float* clean,
                         size_t count, float* noisy) const = 0;
};

std::unique_ptr<Backend> make_backend(const BackendOptions& options);

}  // namespace mnistlab
