#include "cli/stop_signal.h"

#include <signal.h>
#include <unistd.h>

namespace mnistlab::cli {
namespace {

// The handler may run on any thread (OpenMP's, the prefetching loader's) at
// any point, malloc included: it only touches lock-free atomics, and its
// one way out is write + _exit, both async-signal-safe.
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

void on_signal(int sig) {
  if (sig == SIGINT && g_stop.load()) {
    // Asked for by the user, and safe for the folder: its files are replaced
    // whole (temporary file, then rename), so it keeps the last epoch's save;
    // a cut event record is cut off by --resume.
    constexpr char kMessage[] = "\nstopped without saving\n";
    (void)!write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    _exit(128 + SIGINT);
  }
  int none = 0;
  g_signal.compare_exchange_strong(none, sig);
  g_stop.store(true);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  action.sa_flags = SA_RESTART;
  sigemptyset(&action.sa_mask);
  // A second signal waits for the first's handler, so it sees the first's flag.
  sigaddset(&action.sa_mask, SIGINT);
  sigaddset(&action.sa_mask, SIGTERM);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

const std::atomic<bool>& stop_requested() { return g_stop; }
int stop_signal() { return g_signal.load(); }

}  // namespace mnistlab::cli
