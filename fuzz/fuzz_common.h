#pragma once
// Shared by the harnesses: a temporary folder per process for the readers
// that take a path, and the rule for what counts as a finding.
//
// A mnistlab::Error is a clean rejection (the command prints it and exits 1).
// Any other exception (std::bad_alloc, std::length_error, a JSON library's
// own, ...) would reach the user as a bare message or abort the command: it
// is reported and the process aborts, so libFuzzer saves the input.
// MNISTLAB_FUZZ_VERBOSE=1 prints the rejections too (to check seed inputs).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <typeinfo>

#include "mnistlab/error.h"

namespace mnistlab::fuzz {

namespace fs = std::filesystem;

// mkdtemp under $TMPDIR (or /tmp), removed at exit.
inline const fs::path& temp_dir() {
  static const fs::path dir = [] {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/mnistlab-fuzz-XXXXXX";
    if (!mkdtemp(pattern.data())) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(temp_dir(), ec);
    });
    return fs::path(pattern);
  }();
  return dir;
}

// Writes bytes to temp_dir()/name (replacing it) and returns the path.
inline fs::path write_file(const std::string& name, const uint8_t* data, size_t size) {
  const fs::path path = temp_dir() / name;
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (size && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

inline bool verbose() {
  static const bool on = [] {
    const char* v = std::getenv("MNISTLAB_FUZZ_VERBOSE");
    return v && *v && *v != '0';
  }();
  return on;
}

// libFuzzer's handlers (SIGALRM for -timeout, SIGINT, ...) run on an
// alternate stack: oneDNN 2.6's JIT SGEMM points rsp into the heap (oneDNN
// issue 4845), and a signal frame written there is a heap overflow that
// ASan reports inside the alarm handler (seen in model_file, 2026-12-04).
// The harnesses run their kernels on the main thread only.
inline void handlers_on_their_own_stack() {
  static const bool done = [] {
    static char stack[1 << 20];
    stack_t alt{};
    alt.ss_sp = stack;
    alt.ss_size = sizeof stack;
    if (sigaltstack(&alt, nullptr) != 0) return false;
    for (int sig : {SIGALRM, SIGINT, SIGTERM, SIGUSR1, SIGUSR2, SIGXCPU, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
      struct sigaction action {};
      if (sigaction(sig, nullptr, &action) != 0 || action.sa_handler == SIG_DFL || action.sa_handler == SIG_IGN)
        continue;
      action.sa_flags |= SA_ONSTACK;
      sigaction(sig, &action, nullptr);
    }
    return true;
  }();
  (void)done;
}

// Runs fn: mnistlab::Error is a clean rejection, any other exception a finding.
// Returns whether fn finished without an Error.
template <class Fn>
bool accepts(const char* what, Fn&& fn) {
  handlers_on_their_own_stack();
  try {
    fn();
    if (verbose()) std::fprintf(stderr, "%s: accepted\n", what);
    return true;
  } catch (const mnistlab::Error& e) {
    if (verbose()) std::fprintf(stderr, "%s: rejected: %s\n", what, e.what());
    return false;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "FINDING: %s: exception %s that is not mnistlab::Error: %s\n", what, typeid(e).name(),
                 e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "FINDING: %s: exception of unknown type\n", what);
    std::abort();
  }
}

}  // namespace mnistlab::fuzz
