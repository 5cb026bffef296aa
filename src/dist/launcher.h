#pragma once
#include <memory>

#include "mnistlab/distributed.h"

namespace mnistlab {

// How many processes an MPI launcher says it started (Open MPI's mpirun,
// PMI or PMIx as srun sets them); 0 when none did.
int launched_processes();
// MPI_COMM_WORLD; built with MPI only (elsewhere it throws).
std::unique_ptr<Communicator> make_mpi_world();

}  // namespace mnistlab
