#pragma once
// The run folder of a training, claimed by one process at a time and never
// silently replaced.
#include <filesystem>
#include <string>

#include "io/folder_pin.h"

namespace mnistlab {

// An exclusive lock on a run folder: flock() on DIR/run.lock, a file that
// holds the owner's PID and command line. The kernel drops the lock when the
// process ends, however it ends (even SIGKILL), so no stale lock can block
// the next run. Released (and run.lock removed) by the destructor. While
// held, the folder is pinned (io/folder_pin.h).
class RunLock {
 public:
  RunLock() = default;
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;
  RunLock(const RunLock&) = delete;
  RunLock& operator=(const RunLock&) = delete;
  ~RunLock();

  // Creates dir if need be and locks it. Returns false when another process
  // holds the lock; `holder` then gets its PID and command line.
  // run.lock gets our PID and command_line.
  bool try_lock(const std::filesystem::path& dir, const std::string& command_line, std::string* holder = nullptr);
  // The same, but a folder in use is an Error naming the process.
  void lock(const std::filesystem::path& dir, const std::string& command_line);

 private:
  void release();
  int fd_ = -1;
  std::filesystem::path dir_;
  // Every write into the folder goes through the descriptor taken when it
  // was locked, whatever its path comes to name later.
  FolderPin pin_;
  bool created_dir_ = false;  // removed again on release when left empty
};

struct RunFolder {
  std::filesystem::path dir;
  RunLock lock;
  std::string note;  // why a default name other than the first was taken, or ""
};

// The folder a new run writes into, locked. With `out` given: that folder,
// refused (Error with a hint) when it holds a run of mnistlab, unless
// `overwrite`: then that run's files are removed first. Without: the first
// of default_dir, default_dir-2, default_dir-3, ... that is neither in use
// nor holds a run (as TensorBoard's and Lightning's default run names do).
RunFolder claim_new_run_folder(const std::string& out, const std::string& default_dir, bool overwrite,
                               const std::string& command_line);

// The folder of an interrupted run, locked, for `train --resume`.
RunFolder claim_run_folder_to_resume(const std::filesystem::path& dir, const std::string& command_line);

}  // namespace mnistlab
