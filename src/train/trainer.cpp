#include "mnistlab/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>

#include "data/prefetch_loader.h"
#include "dist/data_parallel.h"
#include "kernels/backend.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Records the finished epoch; says whether it is the best so far (an epoch
// without evaluation never is).
bool close_epoch(TrainProgress& p, const EpochMetrics& m, size_t metric_index, bool higher_is_better) {
  bool improved = false;
  if (!m.eval.empty()) {
    const double metric = m.eval[metric_index];
    improved = p.best_epoch == 0 || (higher_is_better ? metric > p.best_metric : metric < p.best_metric);
    if (improved) {
      p.best_epoch = m.epoch;
      p.best_metric = metric;
    }
  }
  p.history.push_back(m);
  p.epoch = m.epoch;
  p.batch = 0;
  std::fill(p.sums.begin(), p.sums.end(), 0.0);
  p.seconds = 0;
  return improved;
}

std::string number(double x) {
  if (std::isnan(x)) return "NaN";  // printf's "-nan" would suggest a sign that means nothing
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

// Where training stopped and why; the run folder keeps the last finished
// epoch, and a --resume would replay these very steps, so a new run it is.
[[noreturn]] void diverged(int epoch, int64_t batch, int64_t batches, float lr, const std::string& what) {
  char where[160];
  std::snprintf(where, sizeof where, "training diverged at epoch %d, batch %lld of %lld (learning rate %g): ", epoch,
                static_cast<long long>(batch), static_cast<long long>(batches), double(lr));
  throw Error(where + what + "; lower --lr and start a new run");
}

// Data parallel: every batch must give each rank a sample, the last one too.
void check_batches_cover_ranks(size_t train_size, int batch, int ranks) {
  if (ranks == 1) return;
  const size_t last = train_size % size_t(batch) == 0 ? size_t(batch) : train_size % size_t(batch);
  if (size_t(batch) < size_t(ranks) || last < size_t(ranks))
    throw Error("with " + std::to_string(ranks) + " processes every batch needs at least " + std::to_string(ranks) +
                " images (one per process), but batch size " + std::to_string(batch) + " over " +
                std::to_string(train_size) + " training images leaves a last batch of " + std::to_string(last) +
                "; choose another --batch-size or fewer processes");
}

// The key of the first weight or buffer that is not finite, or "".
std::string non_finite_state(Model& model) {
  const std::vector<StateEntry> entries = model.state_dict();
  const std::vector<std::vector<float>> state = model.read_state();
  for (size_t t = 0; t < entries.size(); ++t)
    for (float v : state[t])
      if (!std::isfinite(v)) return entries[t].key;
  return "";
}

// The parameters the optimizer steps, as ranges [first, end) of the flat
// parameter array: all of them but those `freeze` names (a key, or its
// leading dot-separated components).
std::vector<Share> trainable_ranges(Model& model, const std::vector<std::string>& freeze) {
  const float* base = model.parameters();
  std::vector<Share> ranges;
  std::vector<bool> used(freeze.size(), false);
  std::string keys;
  for (const StateEntry& e : model.state_dict()) {
    if (e.param->kind != ParamKind::Parameter) continue;
    keys += (keys.empty() ? "" : ", ") + e.key;
    bool frozen = false;
    for (size_t i = 0; i < freeze.size(); ++i)
      if (e.key == freeze[i] || e.key.starts_with(freeze[i] + ".")) frozen = used[i] = true;
    if (frozen) continue;
    const size_t first = size_t(e.param->value - base), end = first + e.param->numel();
    if (!ranges.empty() && ranges.back().end == first) ranges.back().end = end;
    else ranges.push_back({first, end});
  }
  for (size_t i = 0; i < freeze.size(); ++i)
    if (!used[i])
      throw Error("--freeze " + freeze[i] + ": no parameter's state_dict key is " + freeze[i] + " or starts with " +
                  freeze[i] + ".; the model's parameters: " + keys);
  return ranges;
}

// The parts of `ranges` inside `slice`.
std::vector<Share> within(const std::vector<Share>& ranges, Share slice) {
  std::vector<Share> out;
  for (const Share& r : ranges) {
    const Share part{std::max(r.first, slice.first), std::min(r.end, slice.end)};
    if (part.first < part.end) out.push_back(part);
  }
  return out;
}

}  // namespace

size_t early_stop_index(const Task& task, const std::string& name) {
  const std::vector<MetricInfo> metrics = task.eval_metrics();
  std::string choices;
  for (size_t i = 0; i < metrics.size(); ++i) {
    if (name.empty() ? metrics[i].name != "loss" : metrics[i].name == name) return i;
    choices += (i ? ", " : "") + metrics[i].name;
  }
  if (name.empty()) return 0;
  throw Error("early-stopping metric '" + name + "' is not one of " + task_name(task.kind()) + "'s: " + choices);
}

void fit(Model& model, Optimizer& optimizer, Task& task, const Dataset& train, const Dataset& eval_set,
         const TrainOptions& options, TrainProgress& progress, const TrainCallbacks& callbacks) {
  task.check(model, train);
  if (train.size() == 0) throw Error("the training set is empty");
  if (options.eval_every < 1) throw Error("eval_every is " + std::to_string(options.eval_every) + "; expected 1 or more");
  const size_t metric_index = early_stop_index(task, options.early_stop_metric);
  const bool higher_is_better = task.eval_metrics()[metric_index].higher_is_better;
  const int batch = options.batch_size;
  const int eval_batch = options.eval_batch_size > 0 ? options.eval_batch_size : batch;
  const Communicator* comm = options.comm && options.comm->size() > 1 ? options.comm : nullptr;
  const int rank = comm ? comm->rank() : 0, ranks = comm ? comm->size() : 1;
  check_batches_cover_ranks(train.size(), batch, ranks);
  // A rank's share is at most this; evaluation runs whole eval batches.
  const int share_most = (batch + ranks - 1) / ranks;
  model.reserve(std::max(share_most, eval_batch));
  task.reserve(model, share_most);
  BatchLoader loader(train, batch, true, options.seed, options.augment);
  loader.set_share(rank, ranks);
  const LrSchedule schedule(options.schedule, options.optimizer.lr, options.epochs, int64_t(loader.num_batches()));
  PrefetchLoader batches(loader);
  const size_t metric_count = task.train_metrics().size();
  progress.sums.resize(metric_count, 0.0);
  // Dropout's masks follow the step count; after a resume it is the optimizer's.
  model.set_training_steps(uint64_t(optimizer.steps()));
  progress.outcome = TrainProgress::Outcome::Running;
  const int64_t batches_per_epoch = int64_t(loader.num_batches());
  // Every rank starts from rank 0's weights and optimizer state (after a
  // resume, its checkpoint's), and its evaluation slice is fixed.
  Dataset eval_part;
  if (comm) {
    broadcast_model(model, *comm);
    broadcast_optimizer(optimizer, model.backend(), *comm);
    broadcast_progress(progress, *comm);
    progress.sums.resize(metric_count, 0.0);
    model.set_training_steps(uint64_t(optimizer.steps()));
    eval_part = eval_slice(eval_set, *comm);
  }
  const auto evaluate = [&] {
    if (!comm) return task.evaluate(model, eval_set, eval_batch);
    broadcast_buffers(model, *comm);  // each rank's running statistics saw only its shares
    return evaluate_sharded(task, model, eval_part, eval_set.size(), eval_batch, *comm);
  };
  // Per step the loss and the gradients are checked; the weights only
  // before anything can save them (a finite step can still overflow one).
  const auto check_state = [&](int epoch) {
    if (comm) broadcast_buffers(model, *comm);
    const std::string key = non_finite_state(model);
    if (!key.empty()) diverged(epoch + 1, progress.batch, batches_per_epoch, optimizer.lr(), key + " is not finite");
  };
  // One process steps every parameter but the frozen ones. Data parallel:
  // this rank those of its slice, whether every rank's gradients were
  // finite agreed on, then the slices traded.
  const size_t parameter_count = model.parameter_count();
  const std::vector<Share> trainable = trainable_ranges(model, options.freeze);
  const std::vector<Share> mine = comm ? within(trainable, comm->slice(parameter_count)) : trainable;
  const auto optimizer_step = [&] {
    const bool finite = optimizer.step_ranges(model, mine);
    if (!comm) return finite;
    double bad = finite ? 0.0 : 1.0;
    comm->sum(&bad, 1);
    model.backend().gather_across(*comm, model.parameters(), parameter_count);
    return bad == 0;
  };
  // Before anything saves the optimizer's state: each rank's slices of it.
  const auto gather_optimizer_state = [&] {
    if (comm) gather_optimizer(optimizer, model.backend(), *comm);
  };
  // The per-step exchange besides the gradients: the metric sums of the
  // ranks' shares and whether any rank was asked to stop.
  std::vector<double> step_sums(metric_count + 1);
  bool stop_agreed = false;
  const auto interrupted = [&] {
    const bool asked = comm ? stop_agreed : options.stop && options.stop->load();
    if (!asked) return false;
    progress.outcome = TrainProgress::Outcome::Interrupted;
    return true;
  };

  for (int epoch = progress.epoch; epoch < options.epochs; ++epoch) {
    model.train();
    batches.start_epoch(epoch, size_t(progress.batch));
    const auto start = std::chrono::steady_clock::now();
    const double seconds_before = progress.seconds;
    size_t done = std::min(train.size(), size_t(progress.batch) * size_t(batch));
    const size_t done_before = done;
    const float* images = nullptr;
    const int32_t* labels = nullptr;
    for (int n; (n = batches.next(&images, &labels)) > 0;) {
      const ScheduleValue rate = schedule.at(optimizer.steps());
      optimizer.set_lr(rate.lr);
      if (rate.momentum >= 0) optimizer.set_momentum(rate.momentum);
      const int count = int(std::min(train.size() - done, size_t(batch)));  // the global batch
      const Share share = share_of(size_t(count), rank, ranks);
      model.set_batch_part(uint64_t(share.first), comm && options.sync_batchnorm ? comm : nullptr);
      std::fill(step_sums.begin(), step_sums.end(), 0.0);
      task.train_step(model, images, labels, n, count, epoch, done + size_t(share.first), step_sums.data());
      if (comm) {
        step_sums[metric_count] = options.stop && options.stop->load() ? 1.0 : 0.0;
        // Each rank steps its slice of the parameters on the slice's summed
        // gradients, then the ranks trade the updated slices: the work of
        // the step is shared, not repeated on every rank.
        model.backend().sum_slice_across(*comm, model.gradients(), parameter_count);
        comm->sum(step_sums.data(), step_sums.size());
        stop_agreed = step_sums[metric_count] > 0;
      }
      for (size_t i = 0; i < metric_count; ++i) progress.sums[i] += step_sums[i];
      const double loss = step_sums[0] / count;
      if (!std::isfinite(loss))
        diverged(epoch + 1, progress.batch + 1, batches_per_epoch, rate.lr, "the loss is " + number(loss));
      if (!optimizer_step())
        diverged(epoch + 1, progress.batch + 1, batches_per_epoch, rate.lr,
                 "the loss is " + number(loss) + " but a gradient is not finite");
      ++progress.batch;
      done += size_t(count);
      progress.seconds = seconds_before + seconds_since(start);
      if (callbacks.on_step)
        callbacks.on_step({epoch + 1, done, train.size(), progress.seconds, optimizer.steps(), loss, rate.lr});
      if (interrupted()) {
        check_state(epoch);
        gather_optimizer_state();
        return;
      }
    }
    check_state(epoch);
    gather_optimizer_state();
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.seconds = progress.seconds;
    const double this_session = seconds_since(start);
    m.images_per_second = this_session > 0 ? double(done - done_before) / this_session : 0;
    for (double sum : progress.sums) m.train.push_back(sum / double(train.size()));
    const bool evaluated = m.epoch % options.eval_every == 0 || m.epoch == options.epochs;
    if (evaluated) m.eval = evaluate();
    const bool improved = close_epoch(progress, m, metric_index, higher_is_better);
    if (callbacks.on_epoch) callbacks.on_epoch(m, improved);
    if (evaluated && options.early_stop_patience > 0 &&
        progress.epoch - progress.best_epoch >= options.early_stop_patience) {
      progress.outcome = TrainProgress::Outcome::StoppedEarly;
      return;
    }
    if (comm) {
      // A stop asked while the epoch closed (evaluation, saving), agreed on.
      double stop = options.stop && options.stop->load() ? 1.0 : 0.0;
      comm->sum(&stop, 1);
      stop_agreed = stop > 0;
    }
    if (interrupted()) return;
  }
  progress.outcome = TrainProgress::Outcome::Finished;
}

std::vector<EpochMetrics> fit(Model& model, const Dataset& train, const Dataset& test, const TrainOptions& options,
                              const std::function<void(const EpochMetrics&)>& on_epoch,
                              const std::function<void(const StepInfo&)>& on_step) {
  auto optimizer = make_optimizer(options.optimizer, model.parameter_count());
  auto task = make_classification_task();
  TrainProgress progress;
  TrainCallbacks callbacks;
  if (on_epoch) callbacks.on_epoch = [&](const EpochMetrics& m, bool) { on_epoch(m); };
  callbacks.on_step = on_step;
  fit(model, *optimizer, *task, train, test, options, progress, callbacks);
  return progress.history;
}

}  // namespace mnistlab
