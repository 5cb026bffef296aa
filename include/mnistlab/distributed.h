#pragma once
// Data-parallel training over MPI: `mpirun -np N mnistlab train ...` starts N
// processes (ranks) that train one model. Each takes a disjoint share of
// every global batch; their gradients are summed, so every rank takes the
// same optimizer step. A library user passes world() in TrainOptions::comm
// (trainer.h) or to Run::create / Run::resume (run.h).
#include <cstddef>
#include <string>
#include <vector>

namespace mnistlab {

// Part `part` of `parts` of `count` things: [first, end), the parts in order,
// count / parts things each or one more. A rank's share of a batch, of the
// evaluation set and of the parameters it steps.
struct Share {
  size_t first = 0, end = 0;
  size_t size() const { return end - first; }
};
inline Share share_of(size_t count, int part, int parts) {
  return {count * size_t(part) / size_t(parts), count * size_t(part + 1) / size_t(parts)};
}

// The processes of one training. Every call but rank(), size() and abort()
// is collective: each rank makes it, in the same order, with the same count.
// A collective that does not complete within timeout_seconds() (a rank died,
// hangs or took another branch) ends every rank with an error naming the
// operation, rather than leaving the run hanging.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Ranks started on this machine (their threads share its CPUs).
  virtual int local_size() const = 0;
  // Sums over the ranks, in place; every rank gets the same values.
  virtual void sum(float* data, size_t count) const = 0;
  virtual void sum(double* data, size_t count) const = 0;
  // The ranks' sums of this rank's slice of data (slice(count)) alone, in
  // place; the rest of data is left undefined (MPI_Reduce_scatter).
  virtual void sum_slice(float* data, size_t count) const = 0;
  // Every rank's slice of data to every rank, in place (MPI_Allgatherv).
  virtual void gather_slices(float* data, size_t count) const = 0;
  // Rank 0's bytes to every rank.
  virtual void broadcast(void* data, size_t bytes) const = 0;
  // Rank r's slice of `count` values (this rank's: slice).
  Share slice(size_t count) const { return share_of(count, rank(), size()); }
  Share slice_of(int r, size_t count) const { return share_of(count, r, size()); }
  // Ends every rank of the run now with exit status `code` (MPI_Abort).
  [[noreturn]] virtual void abort(int code) const = 0;
  // "2 processes (Open MPI v4.1.4)", "1 process".
  virtual std::string describe() const = 0;
  double timeout_seconds() const { return timeout_seconds_; }
  void set_timeout_seconds(double seconds) { timeout_seconds_ = seconds; }

 private:
  double timeout_seconds_ = 300;
};

// The processes this one was started with: MPI's world when started by an
// MPI launcher (mpirun, mpiexec, or srun with PMI/PMIx) and built with MPI,
// otherwise this process alone. MPI is initialized at the first call and
// finalized at exit. Throws Error when a launcher started several processes
// but this build has no MPI (each would train a model of its own).
Communicator& world();
// Whether this build has MPI (CMake found it: Debian's libopenmpi-dev).
bool built_with_mpi();

// Rank 0's value on every rank.
void broadcast_string(const Communicator& comm, std::string& text);
void broadcast_floats(const Communicator& comm, std::vector<float>& values);
void broadcast_doubles(const Communicator& comm, std::vector<double>& values);

}  // namespace mnistlab
