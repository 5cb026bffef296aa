#pragma once
// Ctrl-C and SIGTERM ask a run to stop after its current step, so it can
// save and say how to resume; a second Ctrl-C stops at once.
#include <atomic>

namespace mnistlab::cli {

void install_stop_handlers();
const std::atomic<bool>& stop_requested();
int stop_signal();  // the signal that asked (SIGINT or SIGTERM), 0 if none

}  // namespace mnistlab::cli
