// The curves are drawn by gnuplot (Debian's gnuplot-nox, pngcairo terminal):
// the script stays in the run folder, so a user can restyle the figure and
// run `gnuplot curves.gp` again.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <cerrno>
#include <sstream>

#include "io/folder_pin.h"
#include "io/temporary_file.h"
#include "io/text_file.h"
#include "mnistlab/report.h"

namespace mnistlab {
namespace {

// Runs `gnuplot curves.gp` in dir with the figure going to `png` (its
// standard output) and messages to `log`; returns "" when it exits 0, else
// what happened. gnuplot opens its output by name, so it is given
// "/dev/stdout": the file behind that is our temporary file, never a link in
// the folder.
std::string run_gnuplot(const std::filesystem::path& dir, int png, int log) {
  const pid_t pid = fork();
  if (pid < 0) return std::string("cannot start gnuplot: ") + std::strerror(errno);
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec (the parent has threads).
    // Our threads block SIGINT and SIGTERM for the thread that takes them;
    // gnuplot gets its defaults back, in a process group of its own so that a
    // Ctrl-C meant for the run does not kill the figure half drawn.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    setpgid(0, 0);
    if (chdir(dir.c_str()) != 0) _exit(126);
    if (dup2(png, STDOUT_FILENO) < 0 || dup2(log, STDERR_FILENO) < 0) _exit(126);
    execlp("gnuplot", "gnuplot", "-e", "output=\"/dev/stdout\"", "curves.gp", static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  pid_t waited;
  do waited = waitpid(pid, &status, 0);
  while (waited < 0 && errno == EINTR);
  if (waited < 0) return std::string("cannot wait for gnuplot: ") + std::strerror(errno);
  if (WIFSIGNALED(status)) return "gnuplot was killed by signal " + std::to_string(WTERMSIG(status));
  if (!WIFEXITED(status) || WEXITSTATUS(status) == 0) return "";
  if (WEXITSTATUS(status) == 127)
    return "gnuplot not found (Debian package gnuplot-nox; scripts/install-packages.sh installs it)";
  return "gnuplot failed (exit " + std::to_string(WEXITSTATUS(status)) + ")";
}

bool ends_with_png_end(int fd) {
  static const unsigned char kIend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xae, 0x42, 0x60, 0x82};
  struct stat st {};
  unsigned char tail[12];
  return ::fstat(fd, &st) == 0 && st.st_size >= 12 && ::pread(fd, tail, 12, st.st_size - 12) == 12 &&
         std::memcmp(tail, kIend, 12) == 0;
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
  // `gnuplot curves.gp` draws curves.png; mnistlab sets `output` itself.
  s += "if (!exists(\"output\")) output = \"curves.png\"\nset output output\n";
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
  std::ostringstream dat;
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
  write_text(dir / "curves.dat", dat.str());
  write_text(dir / "curves.gp", script(spec));
  // curves.png is renamed into place only when whole: a full disk or a
  // killed gnuplot leaves the last good figure.
  TemporaryFile png(dir / "curves.png"), log(dir / "curves.log");
  const std::string failed = run_gnuplot(dir, png.fd(), log.fd());
  if (!failed.empty()) {
    log.commit();
    return failed + "; see " + (dir / "curves.log").string();
  }
  // gnuplot may exit 0 after a failed write (a full disk): a PNG ends with its IEND chunk.
  if (!ends_with_png_end(png.fd())) {
    log.commit();
    return "gnuplot left an incomplete PNG (is the disk full?); curves.png keeps the last figure";
  }
  png.commit();
  remove_file_in_folder(dir / "curves.log");
  return "";
}

}  // namespace mnistlab
