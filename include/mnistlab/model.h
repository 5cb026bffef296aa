#pragma once
// A network: layers in order, one block of parameters (and one of their
// gradients, and one of buffers such as BatchNorm's running statistics), and
// an activation arena sized once for the largest batch.
//
// Each layer reads the output of the one before it. A layer's output may be
// given a name; a join (Concat, Add) later reads that named output as its
// second input, and in backward the gradients that fan out are summed.
#include <memory>
#include <string>
#include <vector>

#include "mnistlab/backend.h"
#include "mnistlab/layer.h"
#include "mnistlab/tensor.h"

namespace mnistlab {

struct StateEntry {
  std::string key;  // PyTorch state_dict key: "<index>.<name>", e.g. "6.weight"
  Param* param;
};

class Storage;  // src/kernels/backend.h: a block of the backend's memory

class Model {
 public:
  explicit Model(SampleShape input);
  Model(Model&&) noexcept;
  Model& operator=(Model&&) noexcept;
  ~Model();

  // Appends a layer and works out its output shape; throws Error when the
  // layer does not fit the shape before it, when `name` is already taken,
  // or when a join names an output that does not exist.
  Model& add(std::unique_ptr<Layer> layer, const std::string& name = {});
  // Allocates the parameter blocks and initializes them as PyTorch does,
  // layer by layer, from `seed`.
  void build(uint64_t seed);
  // Sizes the activation arena for batches up to max_batch, choosing every
  // layer's kernels on the backend. Without gradients (inference only) it
  // keeps only the activations still to be read (two buffers and the named
  // outputs) and no parameter gradients. A forward in training mode adds
  // what training needs when it is missing.
  void reserve(int max_batch, bool gradients = true);
  // Where the arithmetic runs (threads, instruction set, forced routes);
  // the default is every CPU and the widest instruction set. Takes effect
  // at the next reserve or forward.
  void set_backend(const BackendOptions& options);
  const BackendOptions& backend_options() const { return backend_options_; }
  // The backend made from those options (now, if no reserve or set_backend
  // has made it yet). The layers compute on it, and the optimizer and the
  // losses take it (Optimizer::step, cross_entropy, l1_loss, mse_loss), so
  // BackendOptions::threads governs the whole step. Its class is internal
  // (src/kernels/backend.h): library code only passes it along.
  const Backend& backend();
  // Per layer, the kernel route its last plan chose ("" for layers without one).
  std::vector<std::string> kernel_routes() const;
  // Bytes of the arena the last reserve sized: activations, their gradients
  // and the kernels' workspace.
  size_t arena_bytes() const;
  // Bytes of the arena reserve(max_batch, gradients) would size on a model
  // not reserved yet, found without allocating, so a caller can refuse a
  // batch before memory runs out. It plans the layers' kernels for that
  // batch and then back for the arena there is: not between a forward and
  // its backward.
  size_t arena_bytes_for(int max_batch, bool gradients);
  // The batch the arena holds now (0: not reserved yet), and whether with gradients.
  int capacity() const { return capacity_; }
  bool has_gradients() const { return has_gradients_; }

  void train(bool on = true) { training_ = on; }
  void eval() { training_ = false; }
  bool is_training() const { return training_; }
  // Forwards run in training mode so far (Dropout's masks depend on it);
  // a resumed run sets it back.
  uint64_t training_steps() const { return training_steps_; }
  void set_training_steps(uint64_t steps) { training_steps_ = steps; }
  // Data parallel (trainer.h): where the next forward's samples start in
  // the global batch (Dropout's masks depend on it), and the ranks over
  // whose batches BatchNorm takes its statistics (null: this batch alone).
  void set_batch_part(uint64_t first_sample, const Communicator* batchnorm_across) {
    first_sample_ = first_sample;
    batchnorm_across_ = batchnorm_across;
  }

  // Runs the batch (n samples of input_shape(), in host memory: copied into
  // the arena) and returns the output view, in the backend's memory (read
  // it on the host with read_output).
  const Tensor& forward(const float* input, int n);
  // The last forward's output, copied to the host: n * output_shape().numel() floats.
  void read_output(float* host) const;
  // Gradients of all parameters for dL/d(output) of the last forward (in the
  // backend's memory, as a loss on backend() writes it), and of the input
  // into dinput (host memory) when it is given.
  void backward(const float* doutput, float* dinput = nullptr);

  const SampleShape& input_shape() const { return input_; }
  SampleShape output_shape() const;
  const std::vector<std::unique_ptr<Layer>>& layers() const { return layers_; }
  // The name given to layer i's output, or "".
  const std::string& output_name(size_t i) const { return names_[i + 1]; }
  // Names the input, so a join can read the image itself (before any add).
  Model& name_input(const std::string& name);
  const std::string& input_name() const { return names_[0]; }

  // Trainable parameters as one flat array, with their gradients beside
  // (null until the model is reserved with gradients), in the backend's
  // memory (the host reads them on a CPU backend only).
  float* parameters();
  float* gradients();
  size_t parameter_count() const { return parameter_count_; }
  // The parameters and buffers by PyTorch key; each Param's value is in the
  // backend's memory. Host code reads and writes them with read_state and
  // write_state.
  std::vector<StateEntry> state_dict();
  // Every parameter and buffer copied to the host, in state_dict() order,
  // and back (after a caller changed them, e.g. loaded a checkpoint).
  std::vector<std::vector<float>> read_state();
  void write_state(const std::vector<std::vector<float>>& values);
  void read_param(const Param& p, float* host) const;
  void write_param(const Param& p, const float* host);

 private:
  SampleShape input_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<SampleShape> shapes_;  // shapes_[i] is layer i's input; back() is the output
  std::vector<std::string> names_;   // names_[i] names activation i: the input (0) or layer i-1's output
  std::vector<JoinLayer*> joins_;    // joins_[i]: layer i as a join, or null
  std::vector<size_t> join_source_;  // joins_[i]'s second input: activation index
  std::unique_ptr<Storage> params_, grads_, buffers_;
  size_t parameter_count_ = 0, buffer_count_ = 0;
  bool built_ = false, training_ = true;
  int64_t parameter_total_ = 0;  // parameters and buffers of the layers added so far
  uint64_t training_steps_ = 0;
  uint64_t first_sample_ = 0;
  const Communicator* batchnorm_across_ = nullptr;

  struct Layout;
  // Plans the layers for the batch and places everything in the arena.
  Layout layout(int max_batch, bool gradients);
  void plan_epilogues(bool gradients);
  size_t share_buffers(const std::vector<size_t>& root, int max_batch, std::vector<size_t>& act_at) const;
  void allocate_gradients();
  void place_parameters(float* params, float* buffers);
  void store_parameters(const Backend& b, const std::vector<float>& params, const std::vector<float>& buffers);

  BackendOptions backend_options_;
  std::unique_ptr<Backend> backend_;

  // Arena: activations[i] / grads[i] are layer i's input (i = 0 is the
  // caller's batch, never written) and output (i = layers.size()).
  int capacity_ = 0;
  bool has_gradients_ = false;
  std::unique_ptr<Storage> arena_, index_arena_;  // floats; int32 (pooling indices)
  std::vector<float*> act_, grad_, saved_;
  std::vector<int32_t*> saved_indices_;
  std::vector<float*> skip_grad_;  // per activation read by a join: the joins' share of its gradient
  float* workspace_ = nullptr;
  size_t first_compute_layer_ = 0;  // the first layer that is not a view
  std::vector<Tensor> act_views_;
  // Eval mode folds a BatchNorm2d and/or a ReLU into the layer before them
  // when it honours Scratch's epilogue and nothing else reads the outputs in
  // between: folded_[i] says layer i is skipped (its output aliases its
  // input); epilogue_bn_[i] is the BatchNorm2d layer i computes (or -1),
  // epilogue_relu_[i] whether it applies the ReLU.
  std::vector<bool> folded_, epilogue_relu_;
  std::vector<long> epilogue_bn_;
  int batch_ = 0;
};

}  // namespace mnistlab
