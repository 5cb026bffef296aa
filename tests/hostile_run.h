#pragma once
// Runs the mnistlab command as a child process and measures what it took:
// exit status (or the signal that ended it), wall time and peak resident
// memory (wait4's rusage of that child alone), killing it past a time limit.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace mnistlab::test {

struct Measured {
  int exit_code = -1;  // -1: ended by a signal (then `signal` says which)
  int signal = 0;
  double seconds = 0;
  double peak_mib = 0;
  bool killed_for_time = false;
  std::string output;  // stdout and stderr
};

inline Measured run_measured(const std::vector<std::string>& args, double time_limit_s) {
  Measured m;
  int pipe_fd[2];
  if (pipe(pipe_fd) != 0) return m;
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fd[1], 1);
    dup2(pipe_fd[1], 2);
    close(pipe_fd[0]);
    close(pipe_fd[1]);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, 0);
    std::vector<char*> argv;
    static std::string cli = MNISTLAB_CLI;
    argv.push_back(cli.data());
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(cli.c_str(), argv.data());
    _exit(127);
  }
  close(pipe_fd[1]);
  fcntl(pipe_fd[0], F_SETFL, O_NONBLOCK);
  int status = 0;
  rusage usage{};
  char buffer[4096];
  for (;;) {
    for (ssize_t n; (n = read(pipe_fd[0], buffer, sizeof buffer)) > 0;) m.output.append(buffer, size_t(n));
    const pid_t done = wait4(pid, &status, WNOHANG, &usage);
    if (done == pid) break;
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (elapsed > time_limit_s && !m.killed_for_time) {
      kill(pid, SIGKILL);
      m.killed_for_time = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (ssize_t n; (n = read(pipe_fd[0], buffer, sizeof buffer)) > 0;) m.output.append(buffer, size_t(n));
  close(pipe_fd[0]);
  m.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  m.peak_mib = double(usage.ru_maxrss) / 1024.0;
  if (WIFEXITED(status)) m.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) m.signal = WTERMSIG(status);
  return m;
}

}  // namespace mnistlab::test
