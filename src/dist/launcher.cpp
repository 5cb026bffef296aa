#include "dist/launcher.h"

#include <cstdlib>
#include <string>

namespace mnistlab {

int launched_processes() {
  // Open MPI's mpirun; PMIx and PMI-2 (srun --mpi=pmix / pmi2, MPICH's
  // Hydra). A variable that is not a positive number does not count.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"}) {
    const char* value = std::getenv(name);
    if (!value || !*value) continue;
    char* end = nullptr;
    const long n = std::strtol(value, &end, 10);
    if (*end == '\0' && n > 0 && n < (1 << 20)) return int(n);
  }
  // srun --mpi=pmix names the rank only; MPI itself tells the size.
  if (std::getenv("PMIX_RANK")) return 1;
  return 0;
}

}  // namespace mnistlab
