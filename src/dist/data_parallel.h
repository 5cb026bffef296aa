#pragma once
// The pieces of data-parallel training that fit() and the run put together:
// each rank's share of a batch, the state every rank must hold alike, and
// evaluation sharded over the ranks.
#include <vector>

#include "mnistlab/data.h"
#include "mnistlab/distributed.h"
#include "mnistlab/model.h"
#include "mnistlab/optim.h"
#include "mnistlab/task.h"
#include "mnistlab/trainer.h"

namespace mnistlab {

// Rank 0's parameters and buffers (BatchNorm's running statistics), or its
// buffers only, to every rank.
void broadcast_model(Model& model, const Communicator& comm);
void broadcast_buffers(Model& model, const Communicator& comm);
// Every rank's slices of the optimizer's state (Optimizer::step_slice) to
// every rank, so any rank holds the whole state a checkpoint saves.
void gather_optimizer(Optimizer& optimizer, const Backend& backend, const Communicator& comm);
// Where rank 0's run stands (a resumed run's epoch, batch, sums and best
// epoch; the history stays rank 0's).
void broadcast_progress(TrainProgress& progress, const Communicator& comm);
// Rank 0's optimizer state and step count to every rank.
void broadcast_optimizer(Optimizer& optimizer, const Backend& backend, const Communicator& comm);

// The task's eval metrics on `data` with each rank evaluating its slice
// (slices: this rank's, made once by eval_slice), combined as means over
// the whole set; every rank gets them.
Dataset eval_slice(const Dataset& data, const Communicator& comm);
std::vector<double> evaluate_sharded(Task& task, Model& model, const Dataset& slice, size_t whole, int batch_size,
                                     const Communicator& comm);

}  // namespace mnistlab
