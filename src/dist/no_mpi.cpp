// A build without MPI (CMake did not find it): world() is this process alone.
#include "dist/launcher.h"
#include "mnistlab/error.h"

namespace mnistlab {

bool built_with_mpi() { return false; }

std::unique_ptr<Communicator> make_mpi_world() {
  throw Error("this mnistlab was built without MPI");
}

}  // namespace mnistlab
