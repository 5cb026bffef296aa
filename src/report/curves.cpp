// The curves are drawn by gnuplot (Debian's gnuplot-nox, pngcairo terminal):
// the script stays in the run folder, so a user can restyle the figure and
// run `gnuplot curves.gp` again.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>

#include "mnistlab/report.h"

namespace mnistlab {
namespace {

// Runs `gnuplot curves.gp` in dir; returns its exit status (127: not found).
int run_gnuplot(const std::filesystem::path& dir) {
  const pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    if (chdir(dir.c_str()) != 0) _exit(126);
    // Only async-signal-safe calls between fork and exec (the parent has threads).
    const int log = open("curves.log", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (log >= 0) dup2(log, STDERR_FILENO);
    execlp("gnuplot", "gnuplot", "curves.gp", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string script(const std::vector<EpochMetrics>& history, const CurvesInfo& info) {
  const std::string eval = info.eval_name;
  std::string s;
  s += "set terminal pngcairo size 1280,520 font \"DejaVu Sans,11\"\n";
  s += "set output \"curves.png\"\n";
  s += "set multiplot layout 1,2 title " + quoted(info.title) + " font \",13\"\n";
  s += "set grid\nset xlabel \"epoch\"\n";
  s += "set xrange [0.5:" + std::to_string(history.size()) + ".5]\n";
  if (history.size() <= 25) s += "set xtics 1\n";
  if (info.best_epoch > 0) {
    const std::string b = std::to_string(info.best_epoch);
    s += "set arrow 1 from " + b + ", graph 0 to " + b + ", graph 1 nohead dashtype 2 linecolor rgb \"gray40\"\n";
    s += "set label 1 \"best epoch " + b + "\" at " + b + ", graph 0.96 right offset -0.5,0 textcolor rgb \"gray30\"\n";
  }
  s += "set key top center horizontal outside\n";
  s += "set ylabel \"accuracy (%)\"\n";
  s += "plot \"curves.dat\" using 1:($3*100) with linespoints pointtype 7 title \"train\", \\\n";
  s += "     \"\" using 1:($5*100) with linespoints pointtype 5 title " + quoted(eval) + "\n";
  s += "set ylabel \"cross-entropy loss\"\n";
  s += "plot \"curves.dat\" using 1:2 with linespoints pointtype 7 title \"train\", \\\n";
  s += "     \"\" using 1:4 with linespoints pointtype 5 title " + quoted(eval) + "\n";
  s += "unset multiplot\n";
  return s;
}

}  // namespace

std::string draw_curves(const std::filesystem::path& dir, const std::vector<EpochMetrics>& history,
                        const CurvesInfo& info) {
  if (history.empty()) return "no finished epoch to draw";
  {
    std::ofstream dat(dir / "curves.dat");
    dat << "# epoch train_loss train_acc " << info.eval_name << "_loss " << info.eval_name << "_acc\n";
    for (const EpochMetrics& m : history)
      dat << m.epoch << ' ' << m.train_loss << ' ' << m.train_acc << ' ' << m.test_loss << ' ' << m.test_acc << '\n';
    std::ofstream gp(dir / "curves.gp");
    gp << script(history, info);
    if (!dat || !gp) return "cannot write " + (dir / "curves.gp").string();
  }
  const int status = run_gnuplot(dir);
  if (status == 127) return "gnuplot not found (Debian package gnuplot-nox; scripts/install-packages.sh installs it)";
  if (status != 0) return "gnuplot failed (exit " + std::to_string(status) + "); see " + (dir / "curves.log").string();
  std::error_code ec;
  std::filesystem::remove(dir / "curves.log", ec);
  return "";
}

}  // namespace mnistlab
