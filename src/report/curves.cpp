// The curves are drawn by gnuplot (Debian's gnuplot-nox, pngcairo terminal):
// the script stays in the run folder, so a user can restyle the figure and
// run `gnuplot curves.gp` again.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
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
    // Only async-signal-safe calls between fork and exec (the parent has threads).
    if (chdir(dir.c_str()) != 0) _exit(126);
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

std::string script(const CurvesSpec& spec) {
  const size_t epochs = spec.rows.size();
  std::string s;
  s += "set terminal pngcairo size " + std::to_string(640 * spec.panels.size()) + ",520 font \"DejaVu Sans,11\"\n";
  s += "set output \"curves.png\"\n";
  s += "set multiplot layout 1," + std::to_string(spec.panels.size()) + " title " + quoted(spec.title) +
       " font \",13\"\n";
  s += "set grid\nset xlabel \"epoch\"\nset key top center horizontal outside\n";
  // Epochs without evaluation: the line joins the evaluated ones.
  s += "set datafile missing \"nan\"\n";
  s += "set xrange [0.5:" + std::to_string(epochs) + ".5]\n";
  if (epochs <= 25) s += "set xtics 1\n";
  if (spec.best_epoch > 0) {
    const std::string b = std::to_string(spec.best_epoch);
    s += "set arrow 1 from " + b + ", graph 0 to " + b + ", graph 1 nohead dashtype 2 linecolor rgb \"gray40\"\n";
    s += "set label 1 \"best epoch " + b + "\" at " + b + ", graph 0.96 right offset -0.5,0 textcolor rgb \"gray30\"\n";
  }
  for (const CurvePanel& panel : spec.panels) {
    s += "set ylabel " + quoted(panel.ylabel) + "\nplot ";
    for (size_t i = 0; i < panel.series.size(); ++i) {
      const CurveSeries& c = panel.series[i];
      char using_[64];
      std::snprintf(using_, sizeof using_, "1:($%d*%g)", c.column + 1, c.scale);
      s += std::string(i ? ", \\\n     " : "") + "\"curves.dat\" using " + using_ + " with linespoints pointtype " +
           std::to_string(i == 0 ? 7 : 5) + " title " + quoted(c.title);
    }
    s += "\n";
  }
  s += "unset multiplot\n";
  return s;
}

}  // namespace

std::string draw_curves(const std::filesystem::path& dir, const CurvesSpec& spec) {
  if (spec.rows.empty()) return "no finished epoch to draw";
  {
    std::ofstream dat(dir / "curves.dat");
    dat << "#";
    for (const auto& c : spec.columns) dat << ' ' << c;
    dat << '\n';
    for (const auto& row : spec.rows) {
      for (size_t i = 0; i < row.size(); ++i) {
        dat << (i ? " " : "");
        if (std::isnan(row[i]))
          dat << "nan";
        else
          dat << row[i];
      }
      dat << '\n';
    }
    std::ofstream gp(dir / "curves.gp");
    gp << script(spec);
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
