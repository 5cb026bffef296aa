#include "dist/data_parallel.h"

#include "kernels/backend.h"

namespace mnistlab {

namespace {

void broadcast_entries(Model& model, const Communicator& comm, bool buffers_only) {
  if (comm.size() == 1) return;
  std::vector<float> values;
  for (const StateEntry& e : model.state_dict()) {
    if (buffers_only && e.param->kind != ParamKind::Buffer) continue;
    values.resize(e.param->numel());
    model.read_param(*e.param, values.data());
    comm.broadcast(values.data(), values.size() * sizeof(float));
    model.write_param(*e.param, values.data());
  }
}

}  // namespace

void broadcast_model(Model& model, const Communicator& comm) { broadcast_entries(model, comm, false); }
void broadcast_buffers(Model& model, const Communicator& comm) { broadcast_entries(model, comm, true); }

void broadcast_optimizer(Optimizer& optimizer, const Backend& backend, const Communicator& comm) {
  if (comm.size() == 1) return;
  int64_t steps = optimizer.steps();
  comm.broadcast(&steps, sizeof steps);
  optimizer.set_steps(steps);
  for (const std::string& name : optimizer.buffer_names()) {
    std::vector<float> values = optimizer.read_buffer(backend, name);
    broadcast_floats(comm, values);
    if (!values.empty()) optimizer.write_buffer(backend, name, values);
  }
}

void broadcast_progress(TrainProgress& p, const Communicator& comm) {
  if (comm.size() == 1) return;
  std::vector<double> values = {double(p.epoch), double(p.batch), p.seconds, double(p.best_epoch), p.best_metric};
  broadcast_doubles(comm, values);
  broadcast_doubles(comm, p.sums);
  p.epoch = int(values[0]);
  p.batch = int64_t(values[1]);
  p.seconds = values[2];
  p.best_epoch = int(values[3]);
  p.best_metric = values[4];
}

void gather_optimizer(Optimizer& optimizer, const Backend& backend, const Communicator& comm) {
  if (comm.size() == 1) return;
  for (const std::string& name : optimizer.buffer_names()) {
    std::vector<float> values = optimizer.read_buffer(backend, name);
    // Made on the first step on every rank alike, or on none.
    if (values.empty()) continue;
    comm.gather_slices(values.data(), values.size());
    optimizer.write_buffer(backend, name, values);
  }
}

Dataset eval_slice(const Dataset& data, const Communicator& comm) {
  const Share mine = comm.slice(data.size());
  return data.slice(mine.first, mine.end);
}

std::vector<double> evaluate_sharded(Task& task, Model& model, const Dataset& slice, size_t whole, int batch_size,
                                     const Communicator& comm) {
  std::vector<double> sums(task.eval_metrics().size(), 0.0);
  if (slice.size() > 0) {
    const std::vector<double> means = task.evaluate(model, slice, batch_size);
    for (size_t i = 0; i < sums.size(); ++i) sums[i] = means[i] * double(slice.size());
  }
  comm.sum(sums.data(), sums.size());
  for (double& s : sums) s /= double(whole);
  return sums;
}

}  // namespace mnistlab
