#include "cli/stop_signal.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <thread>

#include "mnistlab/error.h"

namespace mnistlab::cli {
namespace {

std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};

// Takes SIGINT and SIGTERM as they come, outside any signal handler.
void wait_for_signals(sigset_t signals) {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGINT && g_stop.load()) {
      // Asked for by the user, and safe for the folder: its files are
      // replaced whole (temporary file, then rename), so it keeps the last
      // epoch's save; a cut event record is cut off by --resume.
      constexpr char kMessage[] = "\nstopped without saving\n";
      (void)!write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
      _exit(128 + SIGINT);
    }
    int none = 0;
    g_signal.compare_exchange_strong(none, sig);
    g_stop.store(true);
  }
}

}  // namespace

void install_stop_handlers() {
  static bool installed = false;
  if (installed) return;
  installed = true;
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  // No handler: oneDNN's JIT SGEMM points rsp into the heap while it runs
  // (oneDNN issue 4845, fixed in 3.11), so a handler's signal frame landing
  // on a thread inside it overwrites malloc's chunks. Blocked here, before
  // the first OpenMP or loader thread, the signals stay blocked in every
  // thread, and only this one takes them.
  const int error = pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  if (error != 0) throw Error("cannot block SIGINT and SIGTERM");
  std::thread(wait_for_signals, signals).detach();
}

const std::atomic<bool>& stop_requested() { return g_stop; }
int stop_signal() { return g_signal.load(); }

}  // namespace mnistlab::cli
