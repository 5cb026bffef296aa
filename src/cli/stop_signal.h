#pragma once
// Ctrl-C and SIGTERM ask a run to stop after its current step, so it can
// save and say how to resume. A second Ctrl-C stops at once, without saving;
// a second SIGTERM changes nothing (supervisors repeat theirs, and the save
// it would cut short is the point of the first).
#include <atomic>

namespace mnistlab::cli {

// Call before any other thread starts: the signals are blocked in every
// thread and taken by one of their own (sigwait), so no handler interrupts
// a computation and no wait or write fails with EINTR. A signal meant for
// the process must be sent to it (kill(getpid(), ...), not raise()).
void install_stop_handlers();
const std::atomic<bool>& stop_requested();
int stop_signal();  // the signal that asked first (SIGINT or SIGTERM), 0 if none

}  // namespace mnistlab::cli
