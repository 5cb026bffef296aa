#include "mnistlab/model.h"

#include <algorithm>

#include "kernels/backend.h"
#include "mnistlab/error.h"
#include "mnistlab/limits.h"
#include "model/layer_table.h"

namespace mnistlab {
namespace {

// Every tensor a model holds stays within mnistlab/limits.h, checked in
// 64-bit arithmetic as each layer is added, so later size computations
// cannot overflow and a hostile model file is refused before allocating.
void check_shape(const SampleShape& s, const std::string& what) {
  const int64_t numel = int64_t(s.c) * s.h * s.w;
  const int64_t max_c = s.rank == 2 ? limits::kSampleFloats : limits::kChannels;
  if (s.c < 1 || s.h < 1 || s.w < 1 || s.c > max_c || s.h > limits::kSide || s.w > limits::kSide ||
      numel > limits::kSampleFloats)
    throw Error(what + " " + s.str() + " is beyond the limits: at most " + std::to_string(max_c) +
                (s.rank == 2 ? " features" : " channels, " + std::to_string(limits::kSide) + " rows and columns") +
                " and " + std::to_string(limits::kSampleFloats) + " values per sample");
}

}  // namespace

Model::Model(SampleShape input) : input_(input), shapes_{input}, names_{""} { check_shape(input, "the input"); }

Model& Model::name_input(const std::string& name) {
  if (!layers_.empty()) throw Error("the input can only be named before any layer is added");
  names_[0] = name;
  return *this;
}

Model& Model::add(std::unique_ptr<Layer> layer, const std::string& name) {
  if (built_) throw Error("cannot add a layer after the model is built");
  auto named = [&](const std::string& wanted) { return std::find(names_.begin(), names_.end(), wanted); };
  if (!name.empty() && named(name) != names_.end()) {
    const long at = named(name) - names_.begin();
    throw Error("the name '" + name + "' is already given to " +
                (at == 0 ? std::string("the input") : "the output of layer " + std::to_string(at - 1)));
  }
  if (int64_t(layers_.size()) >= limits::kLayers)
    throw Error("a model may have at most " + std::to_string(limits::kLayers) + " layers");
  auto* join = dynamic_cast<JoinLayer*>(layer.get());
  size_t source = 0;
  SampleShape out;
  if (join) {
    const auto it = named(join->source());
    if (it == names_.end()) {
      std::string known;
      for (const auto& n : names_)
        if (!n.empty()) known += (known.empty() ? "" : ", ") + n;
      throw Error("no earlier output is named '" + join->source() + "'; " +
                  (known.empty() ? "none is named yet (name one with 'as NAME')" : "named so far: " + known));
    }
    source = size_t(it - names_.begin());
    out = join->configure_join(shapes_.back(), shapes_[source]);
  } else {
    out = layer->configure(shapes_.back());
  }
  check_shape(out, layer->type() + " output");
  int64_t params = 0;
  for (const Param& p : layer->params()) params += int64_t(p.numel());
  if (parameter_total_ + params > limits::kParameters)
    throw Error(layer->type() + " brings the model to " + std::to_string(parameter_total_ + params) +
                " parameters and buffers, above the limit of " + std::to_string(limits::kParameters));
  parameter_total_ += params;
  shapes_.push_back(out);
  layers_.push_back(std::move(layer));
  names_.push_back(name);
  joins_.push_back(join);
  join_source_.push_back(source);
  return *this;
}

SampleShape Model::output_shape() const { return shapes_.back(); }

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

// Where each parameter and buffer lives: consecutive in the two blocks, in
// layer order.
void Model::place_parameters(float* params, float* buffers) {
  size_t at_param = 0, at_buffer = 0;
  for (auto& layer : layers_)
    for (Param& p : layer->params()) {
      if (p.kind == ParamKind::Parameter) {
        p.value = params + at_param;
        at_param += p.numel();
      } else {
        p.value = buffers + at_buffer;
        at_buffer += p.numel();
      }
    }
}

void Model::build(uint64_t seed) {
  parameter_count_ = buffer_count_ = 0;
  for (auto& layer : layers_)
    for (Param& p : layer->params()) (p.kind == ParamKind::Parameter ? parameter_count_ : buffer_count_) += p.numel();
  // The layers initialize on the host (PyTorch's initializers draw one
  // number at a time from one generator); the values then move to the backend.
  std::vector<float> params(parameter_count_), buffers(buffer_count_);
  place_parameters(params.data(), buffers.data());
  Rng rng(seed);
  for (auto& layer : layers_) layer->reset_parameters(rng);
  store_parameters(backend(), params, buffers);
  built_ = true;
}

// The parameters and buffers into new blocks of `b`; the gradients are
// made again by the next reserve that asks for them (allocate_gradients).
void Model::store_parameters(const Backend& b, const std::vector<float>& params, const std::vector<float>& buffers) {
  params_ = b.allocate(params.size() * sizeof(float));
  buffers_ = b.allocate(buffers.size() * sizeof(float));
  b.upload(params.data(), params.size() * sizeof(float), params_->data());
  b.upload(buffers.data(), buffers.size() * sizeof(float), buffers_->data());
  place_parameters(params_->as<float>(), buffers_->as<float>());
  grads_.reset();
  for (auto& layer : layers_)
    for (Param& p : layer->params()) p.grad = nullptr;
  has_gradients_ = false;
}

void Model::allocate_gradients() {
  if (grads_ || parameter_count_ == 0) return;
  grads_ = backend().allocate(parameter_count_ * sizeof(float));
  size_t at = 0;
  for (auto& layer : layers_)
    for (Param& p : layer->params())
      if (p.kind == ParamKind::Parameter) {
        p.grad = grads_->as<float>() + at;
        at += p.numel();
      }
}

float* Model::parameters() { return params_ ? params_->as<float>() : nullptr; }
float* Model::gradients() { return grads_ ? grads_->as<float>() : nullptr; }
size_t Model::arena_bytes() const {
  return (arena_ ? arena_->bytes() : 0) + (index_arena_ ? index_arena_->bytes() : 0);
}

void Model::set_backend(const BackendOptions& options) {
  std::unique_ptr<Backend> next = make_backend(options);  // checks the options before anything changes
  if (built_) {
    // The parameters and buffers move to the new backend's memory; the
    // gradients and the arena are made again at the next reserve.
    std::vector<float> params(parameter_count_), buffers(buffer_count_);
    backend_->download(params_->data(), params.size() * sizeof(float), params.data());
    backend_->download(buffers_->data(), buffers.size() * sizeof(float), buffers.data());
    arena_.reset();
    index_arena_.reset();
    store_parameters(*next, params, buffers);
  }
  backend_ = std::move(next);
  backend_options_ = options;
  capacity_ = 0;  // the next reserve plans again
}

const Backend& Model::backend() {
  if (!backend_) backend_ = make_backend(backend_options_);
  return *backend_;
}

std::vector<std::string> Model::kernel_routes() const {
  std::vector<std::string> routes;
  for (const auto& layer : layers_) routes.push_back(capacity_ ? layer->route() : "");
  return routes;
}

// Which layers eval mode folds into the layer before them: a BatchNorm2d
// and/or a ReLU after a layer that honours Scratch's epilogue, when no join
// and no name sits in between (nothing else reads the skipped outputs). A
// BatchNorm2d only in a model reserved for inference: a backward after an
// eval forward (allowed, as in PyTorch) needs its input. A folded ReLU's
// output is the same either way.
void Model::plan_epilogues(bool gradients) {
  const size_t L = layers_.size();
  folded_.assign(L, false);
  epilogue_relu_.assign(L, false);
  epilogue_bn_.assign(L, -1);
  const auto foldable = [&](size_t j, EvalFold role) {
    return j < L && layers_[j]->kind() != LayerKind::Custom && layer_spec(layers_[j]->kind()).fold == role &&
           !joins_[j] && names_[j].empty();  // names_[j]: layer j's input
  };
  for (size_t i = 0; i < L; ++i) {
    if (!layers_[i]->fuses_epilogue() || joins_[i]) continue;
    size_t next = i + 1;
    if (!gradients && foldable(next, EvalFold::ChannelAffine)) {
      epilogue_bn_[i] = long(next);
      folded_[next] = true;
      ++next;
    }
    if (foldable(next, EvalFold::ReLU)) {
      epilogue_relu_[i] = true;
      folded_[next] = true;
    }
  }
}

// Inference keeps an activation only until its last reader: buffers of the
// largest activation's size are handed out again once free (two suffice for
// a chain; named outputs hold theirs until their join). Returns the floats
// of all buffers; act_at[i] is where activation i starts.
size_t Model::share_buffers(const std::vector<size_t>& root, int max_batch, std::vector<size_t>& act_at) const {
  const size_t L = layers_.size();
  std::vector<size_t> last_read(L + 1, 0);
  for (size_t i = 0; i <= L; ++i) last_read[root[i]] = std::max(last_read[root[i]], i == L ? L + 1 : i);
  for (size_t j = 0; j < L; ++j)
    if (joins_[j]) last_read[root[join_source_[j]]] = std::max(last_read[root[join_source_[j]]], j);
  size_t largest = 0;
  for (size_t i = 1; i <= L; ++i)
    if (root[i] == i) largest = std::max(largest, size_t(max_batch) * shapes_[i].numel());
  std::vector<size_t> free_after;  // per buffer: the layer after which it is free
  for (size_t i = 1; i <= L; ++i) {
    if (root[i] != i) continue;
    // Layer i-1 writes activation i while it reads its inputs: a buffer is
    // free for it once its last reader came before layer i-1.
    size_t b = 0;
    while (b < free_after.size() && !(free_after[b] + 1 < i)) ++b;
    if (b == free_after.size()) free_after.push_back(0);
    free_after[b] = last_read[i];
    act_at[i] = b * largest;
  }
  return free_after.size() * largest;
}

// Where reserve puts everything, in floats from the arena's start:
// activation i at act_at[root[i]] (a view or a folded layer shares the
// activation before it), its gradient at grad_at[i], layer i's saved floats
// at saved_at[i], a join source's gradient share at skip_at[j]; the
// workspace after `total`.
struct Model::Layout {
  std::vector<size_t> root, act_at, grad_at, saved_at, skip_at, indices_at;
  size_t total = 0, workspace = 0, indices = 0;
};

Model::Layout Model::layout(int max_batch, bool gradients) {
  if (!backend_) backend_ = make_backend(backend_options_);
  const size_t L = layers_.size();
  for (auto& layer : layers_) layer->plan(*backend_, max_batch, gradients);
  plan_epilogues(gradients);
  Layout p;
  // Activation i aliases activation i-1 when layer i-1 is a view, or (eval
  // only, so only without gradients) a layer folded into the one before.
  p.root.resize(L + 1);
  for (size_t i = 0; i <= L; ++i)
    p.root[i] = i > 0 && (layers_[i - 1]->is_view() || (!gradients && folded_[i - 1])) ? p.root[i - 1] : i;
  p.act_at.assign(L + 1, 0);
  p.grad_at.assign(L + 1, 0);
  p.saved_at.assign(L, 0);
  p.skip_at.assign(L + 1, 0);
  size_t& total = p.total;
  if (gradients) {
    // Training keeps every activation: backward reads them all.
    for (size_t i = 1; i <= L; ++i) {
      if (p.root[i] != i) continue;
      const size_t count = size_t(max_batch) * shapes_[i].numel();
      p.act_at[i] = total;
      total += count;
      p.grad_at[i] = total;
      total += count;
    }
  } else {
    total = share_buffers(p.root, max_batch, p.act_at);
  }
  // The batch as the caller gave it, copied in.
  p.act_at[0] = total;
  total += size_t(max_batch) * input_.numel();
  // The input's gradient (used only by layers after a view of the input).
  const size_t grad_scale = gradients ? 1 : 0;
  p.grad_at[0] = total;
  total += size_t(max_batch) * input_.numel() * grad_scale;
  for (size_t i = 0; i < L; ++i) {
    const size_t j = join_source_[i];
    if (!joins_[i] || p.skip_at[j] || !gradients) continue;
    p.skip_at[j] = total;
    total += size_t(max_batch) * shapes_[j].numel();
  }
  p.indices_at.assign(L, 0);
  for (size_t i = 0; i < L; ++i) {
    p.saved_at[i] = total;
    total += layers_[i]->saved_floats(max_batch);
    p.indices_at[i] = p.indices;
    p.indices += layers_[i]->saved_int32s(max_batch);
    p.workspace = std::max(p.workspace, layers_[i]->workspace_floats(max_batch));
  }
  return p;
}

size_t Model::arena_bytes_for(int max_batch, bool gradients) {
  if (!built_) throw Error("Model::arena_bytes_for before Model::build");
  if (capacity_ && max_batch == capacity_ && gradients == has_gradients_) return arena_bytes();
  const Layout p = layout(max_batch, gradients);
  // The kernels and epilogues go back to the plan the arena was sized for.
  if (capacity_) layout(capacity_, has_gradients_);
  return (p.total + p.workspace) * sizeof(float) + p.indices * sizeof(int32_t);
}

void Model::reserve(int max_batch, bool gradients) {
  if (!built_) throw Error("Model::reserve before Model::build");
  gradients = gradients || has_gradients_;  // never take away what a caller reserved
  if (max_batch <= capacity_ && gradients == has_gradients_) return;
  max_batch = std::max(max_batch, capacity_);
  if (gradients) allocate_gradients();
  const size_t L = layers_.size();
  // Offsets first, then one allocation.
  const Layout p = layout(max_batch, gradients);
  arena_.reset();  // the old arena goes before the new one is taken
  index_arena_.reset();
  arena_ = backend_->allocate((p.total + p.workspace) * sizeof(float));
  index_arena_ = backend_->allocate(p.indices * sizeof(int32_t));
  float* const arena = arena_->as<float>();
  act_.assign(L + 1, nullptr);
  grad_.assign(L + 1, nullptr);
  saved_.assign(L, nullptr);
  saved_indices_.assign(L, nullptr);
  for (size_t i = 0; i <= L; ++i) {
    if (i > 0 && layers_[i - 1]->is_view()) {
      grad_[i] = grad_[i - 1];
    } else {
      act_[i] = arena + p.act_at[p.root[i]];
      grad_[i] = gradients ? arena + p.grad_at[i] : nullptr;
    }
  }
  for (size_t i = 0; i < L; ++i) {
    saved_[i] = arena + p.saved_at[i];
    saved_indices_[i] = index_arena_->as<int32_t>() + p.indices_at[i];
  }
  skip_grad_.assign(L + 1, nullptr);
  for (size_t j = 0; j <= L; ++j)
    if (p.skip_at[j]) skip_grad_[j] = arena + p.skip_at[j];
  workspace_ = arena + p.total;
  first_compute_layer_ = 0;
  while (first_compute_layer_ < L && layers_[first_compute_layer_]->is_view()) ++first_compute_layer_;
  act_views_.assign(L + 1, Tensor{});
  capacity_ = max_batch;
  has_gradients_ = gradients;
}

const Tensor& Model::forward(const float* input, int n) {
  if (n > capacity_ || (training_ && !has_gradients_)) reserve(n, training_);
  batch_ = n;
  // Eval mode saves passes over memory: a convolution applies the
  // BatchNorm2d and ReLU after it while its output is in cache. Training
  // keeps every output (backward reads them).
  const auto folded = [&](size_t i) { return !training_ && folded_[i]; };
  backend_->upload(input, size_t(n) * input_.numel() * sizeof(float), act_[0]);
  act_views_[0] = Tensor{act_[0], n, shapes_[0]};
  for (size_t i = 0; i < layers_.size(); ++i) {
    float* data = layers_[i]->is_view() || folded(i) ? act_views_[i].data : act_[i + 1];
    act_views_[i + 1] = Tensor{data, n, shapes_[i + 1]};
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (folded(i)) continue;
    Scratch s{saved_[i], saved_indices_[i], workspace_, training_, training_steps_, first_sample_, batchnorm_across_};
    if (!training_ && epilogue_bn_[i] >= 0) {
      float* affine = saved_[epilogue_bn_[i]];  // the BatchNorm2d's own room: 2 floats per channel
      layers_[epilogue_bn_[i]]->eval_affine(affine, affine + shapes_[i + 1].c);
      s.scale = affine;
      s.shift = affine + shapes_[i + 1].c;
    }
    s.relu = !training_ && epilogue_relu_[i];
    if (joins_[i])
      joins_[i]->forward_join(act_views_[i], act_views_[join_source_[i]], act_views_[i + 1]);
    else
      layers_[i]->forward(act_views_[i], act_views_[i + 1], s);
  }
  if (training_) ++training_steps_;
  return act_views_.back();
}

void Model::backward(const float* doutput, float* dinput) {
  if (!has_gradients_)
    throw Error("Model::backward after a forward in a model reserved without gradients (reserve(n, false))");
  const size_t L = layers_.size();
  const int n = batch_;
  Tensor dy{const_cast<float*>(doutput), n, shapes_[L]};
  for (size_t j = 0; j <= L; ++j)
    if (skip_grad_[j]) backend_->fill(0.f, size_t(n) * shapes_[j].numel(), skip_grad_[j]);
  for (size_t i = L; i-- > 0;) {
    // The first real layer has no one to pass its input gradient to.
    const bool need_dx = dinput != nullptr || i > first_compute_layer_;
    Tensor dx{grad_[i], n, shapes_[i]};
    Scratch s{saved_[i], saved_indices_[i], workspace_, training_, training_steps_ - 1, first_sample_,
              batchnorm_across_};
    if (layers_[i]->is_view()) {
      dx.data = dy.data;  // same storage, new shape
    } else if (joins_[i]) {
      const size_t j = join_source_[i];
      Tensor dother{skip_grad_[j], n, shapes_[j]};
      joins_[i]->backward_join(dy, need_dx ? &dx : nullptr, dother);
    } else {
      layers_[i]->backward(act_views_[i], act_views_[i + 1], dy, need_dx ? &dx : nullptr, s);
    }
    // Joins further on took this activation too: their gradients were gathered.
    if (need_dx && skip_grad_[i]) backend_->add_into(skip_grad_[i], dx.numel(), dx.data);
    dy = dx;
  }
  if (dinput) backend_->download(dy.data, dy.numel() * sizeof(float), dinput);
}

void Model::read_output(float* host) const {
  const Tensor& y = act_views_.back();
  backend_->download(y.data, y.numel() * sizeof(float), host);
}

void Model::read_param(const Param& p, float* host) const {
  backend_->download(p.value, p.numel() * sizeof(float), host);
}

void Model::write_param(const Param& p, const float* host) {
  backend().upload(host, p.numel() * sizeof(float), p.value);
}

std::vector<std::vector<float>> Model::read_state() {
  std::vector<std::vector<float>> values;
  for (const StateEntry& e : state_dict()) {
    values.emplace_back(e.param->numel());
    read_param(*e.param, values.back().data());
  }
  return values;
}

void Model::write_state(const std::vector<std::vector<float>>& values) {
  const std::vector<StateEntry> entries = state_dict();
  if (values.size() != entries.size())
    throw Error("Model::write_state: " + std::to_string(values.size()) + " tensors for " +
                std::to_string(entries.size()) + " entries");
  for (size_t i = 0; i < entries.size(); ++i) {
    if (values[i].size() != entries[i].param->numel())
      throw Error("Model::write_state: " + entries[i].key + " takes " + std::to_string(entries[i].param->numel()) +
                  " values, got " + std::to_string(values[i].size()));
    write_param(*entries[i].param, values[i].data());
  }
}

std::vector<StateEntry> Model::state_dict() {
  std::vector<StateEntry> entries;
  for (size_t i = 0; i < layers_.size(); ++i)
    for (Param& p : layers_[i]->params()) entries.push_back({std::to_string(i) + "." + p.name, &p});
  return entries;
}

}  // namespace mnistlab
