#pragma once
// Ctrl-C and SIGTERM ask a run to stop after its current step, so it can
// save and say how to resume. A second Ctrl-C stops at once, without saving;
// a second SIGTERM changes nothing (supervisors repeat theirs, and the save
// it would cut short is the point of the first).
#include <atomic>

namespace mnistlab::cli {

// With SA_RESTART, so a signal does not fail the waits and writes of the
// run (gnuplot's waitpid, a write to a pipe) with EINTR.
void install_stop_handlers();
const std::atomic<bool>& stop_requested();
int stop_signal();  // the signal that asked first (SIGINT or SIGTERM), 0 if none

}  // namespace mnistlab::cli
