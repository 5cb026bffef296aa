#pragma once
#include "mnistlab/model.h"

namespace mnistlab {

// --threads N (0: every CPU) for the model's backend, which runs the whole
// step: layers, loss and optimizer (OpenMP's process-wide setting is left
// alone).
void use_threads(Model& model, int threads);

}  // namespace mnistlab
