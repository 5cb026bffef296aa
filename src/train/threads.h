#pragma once
#include "mnistlab/model.h"

namespace mnistlab {

// --threads N (0: every CPU) for the model's backend and for the OpenMP
// loops outside it (optimizer, loss, data).
void use_threads(Model& model, int threads);

}  // namespace mnistlab
