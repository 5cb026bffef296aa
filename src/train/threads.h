#pragma once
#include "mnistlab/model.h"

namespace mnistlab {

// --threads N (0: every CPU) for the model's backend, which runs the whole
// step: layers, loss and optimizer (OpenMP's process-wide setting is left
// alone).
void use_threads(Model& model, int threads);
// And --precision: the arithmetic of its convolutions and linear layers
// (refused, naming the CPU, where it has no bfloat16 instructions).
void use_threads(Model& model, int threads, Precision precision);

}  // namespace mnistlab
