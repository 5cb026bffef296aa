// world() and what every communicator shares; the MPI one is in
// mpi_communicator.cpp (built only when CMake finds MPI).
#include <cstdlib>
#include <cstdint>
#include <memory>

#include "dist/launcher.h"
#include "mnistlab/distributed.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_size() const override { return 1; }
  void sum(float*, size_t) const override {}
  void sum(double*, size_t) const override {}
  void sum_slice(float*, size_t) const override {}
  void gather_slices(float*, size_t) const override {}
  void broadcast(void*, size_t) const override {}
  [[noreturn]] void abort(int code) const override { std::_Exit(code); }
  std::string describe() const override { return "1 process"; }
};

}  // namespace

Communicator& world() {
  static Communicator* const instance = [] () -> Communicator* {
    const int launched = launched_processes();
    if (launched > 1 || (launched == 1 && built_with_mpi())) {
      if (!built_with_mpi())
        throw Error("started by an MPI launcher as one of " + std::to_string(launched) +
                    " processes, but this mnistlab was built without MPI, so each would train a model of its own; "
                    "install Open MPI (Debian: libopenmpi-dev openmpi-bin, or scripts/install-packages.sh) and "
                    "rebuild (rm -rf build && scripts/build.sh)");
      return make_mpi_world().release();
    }
    return new SingleProcess;
  }();
  return *instance;
}

void broadcast_string(const Communicator& comm, std::string& text) {
  if (comm.size() == 1) return;
  uint64_t length = text.size();
  comm.broadcast(&length, sizeof length);
  text.resize(length);
  comm.broadcast(text.data(), length);
}

namespace {

template <class T>
void broadcast_values(const Communicator& comm, std::vector<T>& values) {
  if (comm.size() == 1) return;
  uint64_t count = values.size();
  comm.broadcast(&count, sizeof count);
  values.resize(count);
  comm.broadcast(values.data(), count * sizeof(T));
}

}  // namespace

void broadcast_floats(const Communicator& comm, std::vector<float>& values) { broadcast_values(comm, values); }
void broadcast_doubles(const Communicator& comm, std::vector<double>& values) { broadcast_values(comm, values); }

}  // namespace mnistlab
