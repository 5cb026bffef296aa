#include "cli/stop_signal.h"

#include <signal.h>
#include <unistd.h>

namespace mnistlab::cli {
namespace {

std::atomic<bool> g_stop{false};
volatile sig_atomic_t g_signal = 0;

void on_signal(int sig) {
  if (g_stop.load()) {
    // Asked twice: give up on saving.
    constexpr char kMessage[] = "\nstopped without saving\n";
    (void)!write(STDERR_FILENO, kMessage, sizeof kMessage - 1);
    _exit(128 + sig);
  }
  g_signal = sig;
  g_stop.store(true);
}

}  // namespace

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

const std::atomic<bool>& stop_requested() { return g_stop; }
int stop_signal() { return g_signal; }

}  // namespace mnistlab::cli
