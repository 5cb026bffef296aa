// SIGTERM and Ctrl-C at many points of small runs: from outside at spread
// times, and at marked moments (inside gnuplot's wait, while the last epoch
// closes, twice in a row), into folders named with spaces, a newline, quotes
// and $(...), three runs at a time on two threads each so the machine is
// loaded. Whatever the point, afterwards every file is whole, the printed
// epoch count is the checkpoint's, and the printed command, run by bash,
// finishes the run.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "cli_fixture.h"
#include "mnistlab/model.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"

extern char** environ;

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

const char* kNet = "input 1 28 28\nconv 6 k=3 s=2 p=1\nbatchnorm\nrelu\ndropout p=0.2\nflatten\nlinear 10\n";
constexpr int kEpochs = 2, kSteps = 13;  // 400 images in batches of 32
// Characters that need quoting, a newline among them, and two commands that must not run.
const char* kHostile = " a b\n$(touch pwned) `touch pwned` 'q\" \\ %s";

// The command with stdin from /dev/null, stdout and stderr into `log`, and
// SIGINT and SIGTERM at their defaults whatever this process inherited.
// argv0: what the program is told it was started as (a shell passes the word typed).
pid_t spawn(const std::vector<std::string>& args, const fs::path& log, const std::string& argv0 = MNISTLAB_CLI) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t signals;
  sigemptyset(&signals);
  posix_spawnattr_setsigmask(&attr, &signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  posix_spawnattr_setsigdefault(&attr, &signals);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::vector<char*> argv{const_cast<char*>(argv0.c_str())};
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, MNISTLAB_CLI, &actions, &attr, argv.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  return pid;
}

uint32_t crc32c(const char* data, size_t size) {
  uint32_t crc = ~0u;
  for (size_t i = 0; i < size; ++i) {
    crc ^= uint8_t(data[i]);
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return ~crc;
}

// TFRecord framing: length, its masked CRC-32C, data, the data's. A stop
// without saving may cut the last record (a resume cuts it off).
std::string event_file_problem(const std::string& b, bool saved) {
  const auto masked = [&](size_t at, size_t n) {
    const uint32_t c = crc32c(b.data() + at, n);
    return ((c >> 15) | (c << 17)) + 0xa282ead8u;
  };
  const auto u32 = [&](size_t at) {
    uint32_t v;
    std::memcpy(&v, b.data() + at, 4);
    return v;
  };
  size_t at = 0, records = 0;
  while (at < b.size()) {
    uint64_t n;
    if (b.size() - at < 12) return saved ? "a partial header at byte " + std::to_string(at) : "";
    std::memcpy(&n, b.data() + at, 8);
    if (u32(at + 8) != masked(at, 8)) return "a bad length CRC at byte " + std::to_string(at);
    if (b.size() - at - 12 < n + 4) return saved ? "a partial record at byte " + std::to_string(at) : "";
    if (u32(at + 12 + n) != masked(at + 12, n)) return "a bad data CRC at byte " + std::to_string(at);
    at += 16 + n;
    ++records;
  }
  return records < 3 ? "only " + std::to_string(records) + " records" : "";
}

// Every file of the run folder whole and readable; the epochs metrics.csv
// must hold (-1: the checkpoint's). Problems are appended to *why. Only a
// stop without saving may leave a temporary file (cut off while written).
void check_files(const fs::path& out, int epochs, std::string* why, bool saved = true) {
  const auto problem = [&](const std::string& text) { *why += "\n  " + text; };
  if (!nlohmann::json::accept(read_file(out / "run.json"))) problem("run.json is not JSON");
  Model model = parse_model(read_file(out / "model.txt"), "model.txt");
  model.build(0);
  int progress_epoch = -1;
  int event_files = 0;
  for (const auto& entry : fs::directory_iterator(out)) {
    const std::string name = entry.path().filename().string();
    try {
      if (name == "best.safetensors" || name == "last.safetensors") load_state_dict(model, entry.path());
      if (name == "resume.safetensors")
        progress_epoch = nlohmann::json::parse(read_safetensors_metadata(entry.path()).at("mnistlab.progress"))
                             .at("epoch")
                             .get<int>();
      if (name.ends_with(".safetensors")) (void)read_safetensors(entry.path());
    } catch (const std::exception& e) {
      problem(name + ": " + e.what());
    }
    if (name.starts_with("events.out.tfevents.")) {
      ++event_files;
      const std::string p = event_file_problem(read_file(entry.path()), saved);
      if (!p.empty()) problem(name + ": " + p);
    }
    if (saved && name.find(".tmp.") != std::string::npos) problem(name + " left behind");
  }
  if (event_files != 1) problem(std::to_string(event_files) + " event files");
  if (epochs < 0) epochs = progress_epoch;
  const auto rows = metrics_rows(out / "metrics.csv");
  std::vector<int> got, want;
  for (const auto& row : rows) got.push_back(int(row.at(0)));
  for (int e = 1; e <= epochs; ++e) want.push_back(e);
  if (got != want)
    problem("metrics.csv has " + std::to_string(got.size()) + " epochs; expected " + std::to_string(want.size()));
}

struct Point {
  std::string name;
  std::vector<std::string> args;  // more options
  // Polled every millisecond until true; then the signals are sent.
  std::function<bool(const fs::path& out, double seconds)> ready = [](const fs::path&, double) { return false; };
  std::vector<int> signals{SIGTERM};
  int gap_ms = 0;  // between the signals
};

class StopSignal : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_dataset();
    std::ofstream(dir_ / "net.model") << kNet;
  }

  // Runs to the point, checks what is left, resumes with the printed command.
  // Returns what went wrong, "" if nothing.
  std::string stop_and_resume(const Point& p, int index) {
    char name[160];
    std::snprintf(name, sizeof name, kHostile, std::to_string(index).c_str());
    const fs::path out = dir_ / (p.name + name), log = dir_ / ("log" + std::to_string(index));
    std::vector<std::string> args{"train", "--model", (dir_ / "net.model").string(), "--data-dir",
                                  (dir_ / "data").string(), "--threads", "2", "--batch-size", "32", "--epochs",
                                  std::to_string(kEpochs), "--lr", "0.01", "--seed", "5", "--augment",
                                  "crop=2,erase=0.3", "--out", out.string()};
    args.insert(args.end(), p.args.begin(), p.args.end());
    const auto start = std::chrono::steady_clock::now();
    const pid_t pid = spawn(args, log);
    if (pid < 0) return "cannot start " MNISTLAB_CLI;
    int status = 0;
    bool sent = false;
    for (;;) {
      if (waitpid(pid, &status, WNOHANG) == pid) break;
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      if (seconds > 120) kill(pid, SIGKILL);
      if (!sent && p.ready(out, seconds)) {
        for (size_t i = 0; i < p.signals.size(); ++i) {
          if (i) std::this_thread::sleep_for(std::chrono::milliseconds(p.gap_ms));
          kill(pid, p.signals[i]);
        }
        sent = true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    const std::string output = read_file(log);
    std::string why;
    const auto failed = [&](const std::string& text) { return p.name + ": " + text + why + "\n" + output; };
    if (output.find("warning") != std::string::npos) return failed("a warning");
    if (WIFSIGNALED(status)) {
      // Before the signals were taken over: nothing may have been written yet.
      if (WTERMSIG(status) != p.signals[0] || fs::exists(out))
        return failed("killed by signal " + std::to_string(WTERMSIG(status)));
      return "";
    }
    const int code = WEXITSTATUS(status);
    if (code == 0) {
      check_files(out, kEpochs, &why);
      return why.empty() ? "" : failed("finished, but");
    }
    if (code != 128 + p.signals[0]) return failed("exit " + std::to_string(code));
    if (output.find("stopped without saving") != std::string::npos) {
      if (p.signals != std::vector<int>{SIGINT, SIGINT}) return failed("stopped without saving");
      if (fs::exists(out / "resume.safetensors")) check_files(out, -1, &why, false);
      return why.empty() ? "" : failed("stopped without saving, and");
    }

    // The count printed is the checkpoint's: batch B of epoch E, or after epoch E.
    const size_t line = output.rfind("\ncontinue with: ");
    std::smatch m;
    const std::string message = output.substr(0, line == std::string::npos ? 0 : line);
    const std::regex interrupted(
        "interrupted by (SIGTERM|Ctrl-C) (at epoch (\\d+), batch (\\d+)|after epoch (\\d+)): saved ");
    if (line == std::string::npos || output.back() != '\n' || !std::regex_search(message, m, interrupted))
      return failed("no interruption message");
    const std::string command = output.substr(line + 16, output.find('\n', line + 1) - line - 16);
    const auto progress = nlohmann::json::parse(
        read_safetensors_metadata(out / "resume.safetensors").at("mnistlab.progress"));
    const int epoch = progress.at("epoch"), batch = progress.at("batch");
    const bool in_epoch = m[3].matched;
    if (in_epoch ? (std::stoi(m[3]) != epoch + 1 || std::stoi(m[4]) != batch || batch == 0)
                 : (std::stoi(m[5]) != epoch || batch != 0))
      return failed("the checkpoint is at epoch " + std::to_string(epoch) + ", batch " + std::to_string(batch));
    check_files(out, -1, &why);
    if (!why.empty()) return failed("interrupted, but");

    // As a user would paste it: `mnistlab` being this build's.
    const fs::path script = dir_ / ("resume" + std::to_string(index) + ".sh");
    std::ofstream(script) << "cd '" << dir_.string() << "'\nmnistlab() { '" << MNISTLAB_CLI << "' \"$@\"; }\n"
                          << command << "\n";
    const CommandResult resumed = run_shell("bash '" + script.string() + "' 2>&1");
    if (resumed.exit_code != 0 || resumed.output.find("\ndone: ") == std::string::npos)
      return failed("the printed command did not finish the run:\n" + resumed.output);
    check_files(out, kEpochs, &why);
    if (fs::exists(out / "resume.safetensors")) why += "\n  resume.safetensors left";
    return why.empty() ? "" : failed("resumed, but");
  }
};

// metrics.csv holds `rows` epochs (it is replaced whole, never half written).
bool epochs_written(const fs::path& out, size_t rows) {
  std::error_code ec;
  return fs::exists(out / "metrics.csv", ec) && metrics_rows(out / "metrics.csv").size() >= rows;
}

TEST_F(StopSignal, AnywhereLeavesWholeFilesAndThePrintedCommandFinishesTheRun) {
  std::vector<Point> points;
  // Spread over the run, the start (before the signals are taken over) included.
  for (int i = 0; i < 10; ++i)
    points.push_back({"t" + std::to_string(i), {}, [i](const fs::path&, double s) { return s >= 0.15 * i; }});
  for (int step : {1, 7, kSteps, kSteps + 1, kEpochs * kSteps})
    points.push_back({"step" + std::to_string(step), {"--raise-sigterm-at-step", std::to_string(step)}});
  // curves.gp is written just before gnuplot starts: the signal lands in its
  // wait, which must neither fail nor count the epoch twice.
  points.push_back({"gnuplot", {}, [](const fs::path& out, double) { return fs::exists(out / "curves.gp"); }});
  points.push_back({"gnuplot-ctrl-c", {}, [](const fs::path& out, double) { return fs::exists(out / "curves.gp"); },
                    {SIGINT}});
  // While the first epoch closes, then while the last one does.
  points.push_back({"close1", {}, [](const fs::path& out, double) { return epochs_written(out, 1); }});
  points.push_back({"close2", {}, [](const fs::path& out, double) { return epochs_written(out, 2); }});
  // A second SIGTERM (a supervisor's) must not cut the save short; a second
  // Ctrl-C stops at once.
  points.push_back({"twice", {}, [](const fs::path& out, double) { return epochs_written(out, 1); },
                    {SIGTERM, SIGTERM}, 20});
  // The signal that asked first is the step's own; this one comes while it saves.
  points.push_back({"twice-late", {"--raise-sigterm-at-step", "3"},
                    [](const fs::path& out, double) { return fs::exists(out / "last.safetensors"); }});
  points.push_back({"ctrl-c-twice", {}, [](const fs::path& out, double) { return epochs_written(out, 1); },
                    {SIGINT, SIGINT}, 5});

  std::atomic<size_t> next{0};
  std::mutex mutex;
  std::vector<std::string> failures;
  std::vector<std::thread> workers;
  for (int w = 0; w < 3; ++w)
    workers.emplace_back([&] {
      for (size_t i; (i = next++) < points.size();) {
        std::string why;
        try {
          why = stop_and_resume(points[i], int(i));
        } catch (const std::exception& e) {
          why = points[i].name + ": " + e.what();
        }
        std::lock_guard<std::mutex> lock(mutex);
        if (!why.empty()) failures.push_back(why);
      }
    });
  for (std::thread& t : workers) t.join();
  for (const std::string& f : failures) ADD_FAILURE() << f;
  EXPECT_FALSE(fs::exists(dir_ / "pwned")) << "the printed command ran $(...) or `...`";
}

// oneDNN's JIT SGEMM runs with rsp pointing into the heap (oneDNN issue
// 4845), so a signal handler's frame on a computing thread overwrites
// malloc's chunks (15 of 3294 small runs SIGTERMed at random aborted so).
// No handler may catch SIGINT or SIGTERM, and every thread but the one that
// takes them (in sigwait, so unblocked there) blocks them, whenever we look.
TEST_F(StopSignal, NoHandlerCatchesTheStopSignalsAndEveryComputingThreadBlocksThem) {
  const fs::path out = dir_ / "run", log = dir_ / "log";
  const pid_t pid = spawn({"train", "--model", (dir_ / "net.model").string(), "--data-dir", (dir_ / "data").string(),
                           "--threads", "2", "--batch-size", "32", "--epochs", "4", "--out", out.string()},
                          log);
  ASSERT_GT(pid, 0);
  const auto mask = [](const fs::path& status, const std::string& field) {
    std::ifstream in(status);
    for (std::string line; std::getline(in, line);)
      if (line.starts_with(field + ":")) return std::stoull(line.substr(field.size() + 1), nullptr, 16);
    return ~0ull;  // the thread is gone
  };
  const uint64_t stop_bits = (1ull << (SIGINT - 1)) | (1ull << (SIGTERM - 1));
  const fs::path proc = "/proc/" + std::to_string(pid);
  int samples = 0, status = 0, most_threads = 0;
  std::string problem;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (fs::exists(out / "metrics.csv")) {  // past the start, where the signals are taken over
      const uint64_t caught = mask(proc / "status", "SigCgt");
      if ((caught & stop_bits) != 0 && caught != ~0ull && problem.empty())
        problem = "a handler catches SIGINT or SIGTERM";
      int threads = 0, unblocked = 0;
      std::error_code ec;  // the process may end while we look
      for (fs::directory_iterator task(proc / "task", ec), end; !ec && task != end; task.increment(ec)) {
        ++threads;
        unblocked += (mask(task->path() / "status", "SigBlk") & stop_bits) != stop_bits;
      }
      if (unblocked > 1 && problem.empty())
        problem = std::to_string(unblocked) + " threads of " + std::to_string(threads) + " take SIGINT or SIGTERM";
      most_threads = std::max(most_threads, threads);
      ++samples;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_EQ(problem, "");
  EXPECT_GE(most_threads, 4) << "main, the signals', the loader's and OpenMP's";
  EXPECT_GT(samples, 10);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << read_file(log);
}

// A folder name that needs quoting is printed as bash reads it back.
TEST_F(StopSignal, TheResumeCommandIsQuotedForBash) {
  const auto printed = [&](const std::string& folder) {
    const fs::path log = dir_ / "log";
    const pid_t pid = spawn({"train", "--model", (dir_ / "net.model").string(), "--data-dir", (dir_ / "data").string(),
                             "--threads", "1", "--epochs", "1", "--raise-sigterm-at-step", "2", "--out",
                             (dir_ / folder).string()},
                            log);
    int status = 0;
    waitpid(pid, &status, 0);
    const std::string output = read_file(log);
    const size_t line = output.find("continue with: ");
    return line == std::string::npos ? output : output.substr(line, output.find('\n', line) - line);
  };
  const std::string d = dir_.string(), resume = "continue with: " + std::string(MNISTLAB_CLI) + " train --resume ";
  EXPECT_EQ(printed("plain-1.x_@%+=:,"), resume + d + "/plain-1.x_@%+=:,");
  EXPECT_EQ(printed("a b $(x) `y` \"q\" \\"), resume + "'" + d + "/a b $(x) `y` \"q\" \\'");
  EXPECT_EQ(printed("it's"), resume + "'" + d + "/it'\\''s'");
  EXPECT_EQ(printed("new\nline\\'s\ttab\x01"), resume + "$'" + d + "/new\\nline\\\\\\'s\\ttab\\001'");
}

// The command printed starts with the program as it was started (argv[0],
// quoted), so it runs where the user typed the first one: here a copy
// reached as "my build/mnistlab" from dir_, for train and denoise train.
TEST_F(StopSignal, TheResumeCommandNamesTheProgramAsItWasStarted) {
  fs::create_directories(dir_ / "my build");
  fs::create_symlink(MNISTLAB_CLI, dir_ / "my build" / "mnistlab");
  std::ofstream(dir_ / "same.model") << "input 1 28 28\nconv 1 k=3 p=1\nsigmoid\n";
  for (const std::string command : {"train", "denoise train"}) {
    SCOPED_TRACE(command);
    const bool denoise = command != "train";
    const fs::path out = dir_ / (denoise ? "denoise-run" : "run");
    std::vector<std::string> args{"--model", (dir_ / (denoise ? "same.model" : "net.model")).string(), "--data-dir",
                                  (dir_ / "data").string(), "--threads", "1", "--epochs", "1", "--batch-size", "50",
                                  "--raise-sigterm-at-step", "2", "--out", out.string()};
    if (denoise) args.insert(args.begin(), "denoise");
    args.insert(args.begin() + (denoise ? 1 : 0), "train");
    int status = 0;
    waitpid(spawn(args, dir_ / "log", "my build/mnistlab"), &status, 0);
    const std::string output = read_file(dir_ / "log");
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 128 + SIGTERM) << output;
    const std::string expected = "continue with: 'my build/mnistlab' " + command + " --resume " + out.string() + "\n";
    const size_t line = output.find("continue with: ");
    ASSERT_NE(line, std::string::npos) << output;
    EXPECT_EQ(output.substr(line), expected);
    // Pasted into bash where the first command was typed, it finishes the run.
    const std::string pasted = expected.substr(15, expected.size() - 16);  // between "continue with: " and "\n"
    const CommandResult resumed = run_shell("cd '" + dir_.string() + "' && " + pasted + " 2>&1");
    EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
    EXPECT_FALSE(fs::exists(out / "resume.safetensors")) << resumed.output;
    EXPECT_TRUE(fs::exists(out / "last.safetensors")) << resumed.output;
  }
}

// Starting a new run in a folder that holds an interrupted one names the
// command that continues it, quoted the same way.
TEST_F(StopSignal, TheRefusalOfAnInterruptedFolderQuotesTheResumeCommand) {
  const std::string folder = (dir_ / "a b $(x)").string();
  const std::vector<std::string> args{"train", "--model", (dir_ / "net.model").string(), "--data-dir",
                                      (dir_ / "data").string(), "--threads", "1", "--epochs", "1", "--out", folder};
  std::vector<std::string> interrupted = args;
  interrupted.insert(interrupted.end(), {"--raise-sigterm-at-step", "2"});
  int status = 0;
  waitpid(spawn(interrupted, dir_ / "log1"), &status, 0);
  ASSERT_TRUE(fs::exists(fs::path(folder) / "resume.safetensors")) << read_file(dir_ / "log1");
  waitpid(spawn(args, dir_ / "log2"), &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  EXPECT_NE(read_file(dir_ / "log2").find("continue it with `mnistlab train --resume '" + folder + "'`"),
            std::string::npos)
      << read_file(dir_ / "log2");
}

}  // namespace
