// What a training run leaves and how it is reused: resume after SIGTERM,
// early stopping with the best epoch's weights, the validation split,
// curves.png and report.txt, eval and predict, and clear errors for bad
// weights files. All on small synthetic data the tests write.
#include <png.h>
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "every_layer.h"
#include "mnistlab/png.h"
#include "mnistlab/safetensors.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

// BatchNorm (running statistics), Dropout (random masks) and Adam state all
// have to survive an interruption for the weights to come out the same.
const char* kNet = "input 1 28 28\nconv 6 k=3 s=2 p=1\nbatchnorm\nrelu\ndropout p=0.2\nflatten\nlinear 10\n";

class RunFolder : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_dataset();
    std::ofstream(dir_ / "net.model") << kNet;
  }
  std::string train(const std::string& out, const std::string& more) {
    return "train --model " + (dir_ / "net.model").string() + " --data-dir " + (dir_ / "data").string() +
           " --threads 1 --batch-size 32 --out " + (dir_ / out).string() + " " + more;
  }
};

}  // namespace

TEST_F(RunFolder, SigtermMidEpochThenResumeEndsWithTheSameWeights) {
  const std::string recipe = "--epochs 3 --lr 0.01 --lr-schedule onecycle --seed 5 --augment crop=2,degrees=10,erase=0.3";
  // 400 images in batches of 32: 13 steps per epoch, so step 20 is inside epoch 2.
  auto stopped = run(train("a", recipe + " --raise-sigterm-at-step 20"));
  EXPECT_EQ(stopped.exit_code, 128 + 15) << stopped.output;
  EXPECT_NE(stopped.output.find("interrupted by SIGTERM at epoch 2, batch 7"), std::string::npos) << stopped.output;
  EXPECT_NE(stopped.output.find("mnistlab train --resume " + (dir_ / "a").string()), std::string::npos);
  EXPECT_EQ(metrics("a").size(), 1u);

  // Starting afresh over an interrupted run would lose it.
  auto refused = run(train("a", recipe));
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.output.find("--resume"), std::string::npos) << refused.output;

  auto resumed = run("train --resume " + (dir_ / "a").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos);
  auto straight = run(train("b", recipe));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;

  expect_same_run_end(dir_ / "a", dir_ / "b", 3, 5);
}

// Every layer kind keeps what a resume needs (BatchNorm1d's running
// statistics, the dropout masks, the activations' saved inputs) and exports.
TEST_F(RunFolder, AModelOfEveryLayerKindResumesToTheSameBytesAndExports) {
  ASSERT_EQ(every_kind_missing(kEveryLayer), "");
  std::ofstream(dir_ / "net.model") << kEveryLayer;
  const std::string recipe = "--epochs 2 --lr 0.003 --seed 9";
  auto stopped = run(train("a", recipe + " --raise-sigterm-at-step 17"));
  EXPECT_EQ(stopped.exit_code, 128 + 15) << stopped.output;
  auto resumed = run("train --resume " + (dir_ / "a").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto straight = run(train("b", recipe));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  expect_same_run_end(dir_ / "a", dir_ / "b", 2, 5);
  // It learned something: the loss of epoch 2 below epoch 1's.
  const auto rows = metrics("b");
  EXPECT_LT(rows[1][1], rows[0][1]);

  const fs::path onnx = dir_ / "every.onnx";
  auto exported = run("export --model " + (dir_ / "net.model").string() + " --weights " +
                      (dir_ / "a" / "last.safetensors").string() + " --out " + onnx.string());
  ASSERT_EQ(exported.exit_code, 0) << exported.output;
  EXPECT_GT(fs::file_size(onnx), 20000u);
}

TEST_F(RunFolder, EvaluatingEveryNthEpochTrainsTheSameAndResumesBeforeTheFirstEvaluation) {
  const std::string recipe = "--epochs 5 --lr 0.01 --lr-schedule onecycle --seed 5 --augment crop=2,erase=0.3";
  // Step 20 is inside epoch 2: the checkpoint holds one epoch and no evaluation yet.
  auto stopped = run(train("a", recipe + " --eval-every 2 --raise-sigterm-at-step 20"));
  EXPECT_EQ(stopped.exit_code, 128 + 15) << stopped.output;
  EXPECT_NE(stopped.output.find("epoch   1  train_loss"), std::string::npos) << stopped.output;
  EXPECT_EQ(stopped.output.find("test_acc"), std::string::npos) << "epoch 1 is not evaluated:\n" << stopped.output;
  auto resumed = run("train --resume " + (dir_ / "a").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto every = run(train("b", recipe));
  ASSERT_EQ(every.exit_code, 0) << every.output;
  EXPECT_EQ(nlohmann::json::parse(read_file(dir_ / "a" / "run.json"))["eval_every"], 2);

  // Evaluation changes nothing in training: same weights, and the same
  // figures at the epochs both evaluated (2, 4 and 5, the last).
  EXPECT_TRUE(read_file(dir_ / "a" / "last.safetensors") == read_file(dir_ / "b" / "last.safetensors"));
  const auto a = metrics("a"), b = metrics("b");
  ASSERT_EQ(a.size(), 5u);
  ASSERT_EQ(b.size(), 5u);
  size_t best = 1;
  for (size_t e = 0; e < 5; ++e) {
    for (size_t c = 0; c < 3; ++c) EXPECT_EQ(a[e][c], b[e][c]) << "epoch " << e + 1 << " column " << c;
    const bool evaluated = e == 1 || e == 3 || e == 4;
    for (size_t c = 3; c < 5; ++c) {
      if (evaluated)
        EXPECT_EQ(a[e][c], b[e][c]) << "epoch " << e + 1 << " column " << c;
      else
        EXPECT_TRUE(std::isnan(a[e][c])) << "epoch " << e + 1 << " column " << c << " should be empty";
    }
    if (evaluated && a[e][4] > a[best][4]) best = e;
  }
  const std::string report = read_file(dir_ / "a" / "report.txt");
  EXPECT_NE(report.find("best epoch by test_acc: " + std::to_string(best + 1)), std::string::npos) << report;
  EXPECT_TRUE(fs::exists(dir_ / "a" / "curves.png"));
  EXPECT_NE(read_file(dir_ / "a" / "curves.dat").find(" nan"), std::string::npos);
}

TEST_F(RunFolder, EarlyStoppingEndsWithTheBestEpochsWeights) {
  // The synthetic classes are easy: the test accuracy stops improving within a few epochs.
  auto r = run(train("run", "--epochs 30 --lr 0.01 --early-stop-patience 1"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = metrics("run");
  ASSERT_LT(rows.size(), 30u) << r.output;
  EXPECT_NE(r.output.find("stopped early after epoch " + std::to_string(rows.size())), std::string::npos) << r.output;
  // The best epoch from the CSV alone: the first with the highest test accuracy.
  size_t best = 0;
  for (size_t e = 1; e < rows.size(); ++e)
    if (rows[e][4] > rows[best][4]) best = e;
  EXPECT_EQ(rows.size(), best + 2) << "patience 1: one epoch without improvement, then stop";
  const std::string report = read_file(dir_ / "run" / "report.txt");
  EXPECT_NE(report.find("best epoch by test_acc: " + std::to_string(best + 1)), std::string::npos) << report;
  // best.safetensors, evaluated on its own, gives the best row's accuracy.
  auto eval = run("eval --model " + (dir_ / "net.model").string() + " --weights " +
                  (dir_ / "run" / "best.safetensors").string() + " --data-dir " + (dir_ / "data").string());
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  double loss = 0, acc = 0;
  ASSERT_EQ(std::sscanf(eval.output.c_str(), "test_loss %lf test_acc %lf", &loss, &acc), 2) << eval.output;
  EXPECT_NEAR(acc, rows[best][4], 1e-6);
  EXPECT_NEAR(loss, rows[best][3], 1e-5);
  char expected[64];
  std::snprintf(expected, sizeof expected, "test_acc %.6f", acc);
  EXPECT_NE(report.find(expected), std::string::npos) << "the report is about the best weights:\n" << report;
}

TEST_F(RunFolder, ValidationSplitChoosesTheEpochAndUsesTheTestSetOnce) {
  auto r = run(train("run", "--epochs 2 --val-split 0.25"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::string header;
  metrics("run", &header);
  EXPECT_EQ(header, "epoch,train_loss,train_acc,val_loss,val_acc,seconds,images_per_s");
  EXPECT_NE(r.output.find("300 train / 100 val images"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("the test set's only use"), std::string::npos) << r.output;
  EXPECT_NE(read_file(dir_ / "run" / "report.txt").find("300 train / 100 validation / 100 test"), std::string::npos);
}

TEST_F(RunFolder, CurvesPngAndReportWithClassNames) {
  auto r = run(train("run", "--epochs 2 --dataset fashion"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.find("warning"), std::string::npos) << r.output;
  const GrayImage png_check = [&] {
    // curves.png is RGB; only check that it is a real PNG of the size the script asks for.
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    const std::string path = (dir_ / "run" / "curves.png").string();
    EXPECT_TRUE(png_image_begin_read_from_file(&image, path.c_str())) << path;
    GrayImage g;
    g.width = int(image.width);
    g.height = int(image.height);
    png_image_free(&image);
    return g;
  }();
  EXPECT_EQ(png_check.width, 1280);
  EXPECT_EQ(png_check.height, 520);
  const std::string report = read_file(dir_ / "run" / "report.txt");
  for (const char* name : {"T-shirt/top", "Trouser", "Ankle boot", "confusion matrix"})
    EXPECT_NE(report.find(name), std::string::npos) << name << "\n" << report;
  // The confusion matrix accounts for every test image: its counts sum to 100.
  const size_t at = report.find("predicted class)\n");
  ASSERT_NE(at, std::string::npos);
  std::stringstream rows(report.substr(report.find('\n', at + 17) + 1));
  long total = 0;
  for (std::string line; std::getline(rows, line);) {
    std::stringstream cells(line.substr(14));
    for (long v; cells >> v;) total += v;
  }
  EXPECT_EQ(total, 100);
}

TEST_F(RunFolder, PredictClassifiesPngsAndRejectsOthers) {
  ASSERT_EQ(run(train("run", "--epochs 4")).exit_code, 0);
  const Dataset test = synthetic(20, 9);
  GrayImage image{28, 28, {}};
  image.pixels.assign(test.pixels.begin() + 3 * 784, test.pixels.begin() + 4 * 784);  // label 3
  write_png_gray(dir_ / "three.png", image);
  const std::string use =
      "predict --model " + (dir_ / "net.model").string() + " --weights " + (dir_ / "run" / "last.safetensors").string();
  auto r = run(use + " " + (dir_ / "three.png").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.rfind((dir_ / "three.png").string() + ": 3 ", 0), 0u) << r.output;

  write_png_gray(dir_ / "small.png", GrayImage{14, 14, std::vector<uint8_t>(196, 0)});
  auto small = run(use + " " + (dir_ / "small.png").string());
  EXPECT_NE(small.exit_code, 0);
  EXPECT_NE(small.output.find("is 14x14; expected 28x28"), std::string::npos) << small.output;

  std::ofstream(dir_ / "fake.png") << "GIF89a";
  auto fake = run(use + " " + (dir_ / "fake.png").string());
  EXPECT_NE(fake.exit_code, 0);
  EXPECT_NE(fake.output.find("fake.png: not a readable PNG"), std::string::npos) << fake.output;

  write_rgb_png(dir_ / "rgb.png");
  auto color = run(use + " " + (dir_ / "rgb.png").string());
  EXPECT_NE(color.exit_code, 0);
  EXPECT_NE(color.output.find("rgb.png: is a color PNG; expected a grayscale PNG"), std::string::npos)
      << color.output;
}

TEST_F(RunFolder, BadWeightsFilesNameTheKeyAndShapesAndChangeNothing) {
  ASSERT_EQ(run(train("run", "--epochs 1")).exit_code, 0);
  const fs::path weights = dir_ / "run" / "last.safetensors";
  const std::string eval = "eval --data-dir " + (dir_ / "data").string() + " --weights ";

  std::ofstream(dir_ / "other.model") << "input 1 28 28\nconv 4 k=3 s=2 p=1\nbatchnorm\nrelu\ndropout\nflatten\nlinear 10\n";
  auto shape = run(eval + weights.string() + " --model " + (dir_ / "other.model").string());
  EXPECT_NE(shape.exit_code, 0);
  EXPECT_NE(shape.output.find("size mismatch for 0.weight: copying a param with shape [6, 1, 3, 3] from checkpoint, the shape in current model is [4, 1, 3, 3]."),
            std::string::npos)
      << shape.output;

  std::ofstream(dir_ / "more.model") << kNet << "relu\nlinear 10\n";
  auto missing = run(eval + weights.string() + " --model " + (dir_ / "more.model").string());
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.output.find("Missing key(s) in state_dict: \"7.weight\", \"7.bias\"."), std::string::npos) << missing.output;

  std::ofstream(dir_ / "nobn.model") << "input 1 28 28\nconv 6 k=3 s=2 p=1\nrelu\nrelu\ndropout\nflatten\nlinear 10\n";
  auto extra = run(eval + weights.string() + " --model " + (dir_ / "nobn.model").string());
  EXPECT_NE(extra.exit_code, 0);
  EXPECT_NE(extra.output.find("Unexpected key(s) in state_dict: \"1.bias\", \"1.num_batches_tracked\", \"1.running_mean\", \"1.running_var\", \"1.weight\"."), std::string::npos) << extra.output;

  // A truncated checkpoint: --resume refuses it and leaves the folder as it was.
  ASSERT_EQ(run(train("cut", "--epochs 2 --raise-sigterm-at-step 5")).exit_code, 128 + 15);
  const fs::path checkpoint = dir_ / "cut" / "resume.safetensors";
  fs::resize_file(checkpoint, fs::file_size(checkpoint) / 2);
  const std::string before = read_file(dir_ / "cut" / "last.safetensors"), cut = read_file(checkpoint);
  auto truncated = run("train --resume " + (dir_ / "cut").string());
  EXPECT_NE(truncated.exit_code, 0);
  EXPECT_NE(truncated.output.find("resume.safetensors"), std::string::npos) << truncated.output;
  EXPECT_NE(truncated.output.find("truncated"), std::string::npos) << truncated.output;
  EXPECT_EQ(read_file(dir_ / "cut" / "last.safetensors"), before);
  EXPECT_EQ(read_file(checkpoint), cut);
}

// --- one run per folder -------------------------------------------------------

namespace {

// A command started without waiting for it (its own process, output to a
// file), stopped and continued at will; killed if a test ends early.
class Background {
 public:
  Background(const std::string& args, const fs::path& log) {
    const std::string command = "exec " + std::string(MNISTLAB_CLI) + " " + args + " > '" + log.string() + "' 2>&1";
    pid_ = fork();
    if (pid_ == 0) {
      execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~Background() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    kill(pid_, SIGCONT);
    waitpid(pid_, nullptr, 0);
  }
  pid_t pid() const { return pid_; }
  // Waits (up to a minute) until the command holds the lock of the run
  // folder; false if it ended first.
  bool holds_lock(const fs::path& dir) {
    for (int i = 0; i < 6000; ++i) {
      if (read_file(dir / "run.lock").rfind(std::to_string(pid_) + "\n", 0) == 0) return true;
      if (waitpid(pid_, &status_, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      usleep(10000);
    }
    return false;
  }
  bool stop() {
    int status = 0;
    return kill(pid_, SIGSTOP) == 0 && waitpid(pid_, &status, WUNTRACED) == pid_ && WIFSTOPPED(status);
  }
  void resume() { kill(pid_, SIGCONT); }
  void kill_now() { kill(pid_, SIGKILL); }
  // Waits for the end: the exit status, or 128 + the signal that ended it.
  int wait() {
    while (pid_ > 0 && waitpid(pid_, &status_, 0) == pid_ && !WIFEXITED(status_) && !WIFSIGNALED(status_)) {
    }
    pid_ = -1;
    return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
};

}  // namespace

TEST_F(RunFolder, SecondTrainingIntoABusyFolderIsRefusedAndTheFirstFinishes) {
  const std::string first = train("run", "--epochs 6");
  Background running(first, dir_ / "first.log");
  ASSERT_TRUE(running.holds_lock(dir_ / "run")) << read_file(dir_ / "first.log");
  // Stopped, it holds the lock for as long as the test needs.
  ASSERT_TRUE(running.stop());
  const std::string pid = "process " + std::to_string(running.pid());
  for (const std::string& second :
       {train("run", "--epochs 1"), train("run", "--epochs 1 --overwrite"), "train --resume " + (dir_ / "run").string(),
        "denoise train --model dae --threads 1 --epochs 1 --data-dir " + (dir_ / "data").string() + " --out " +
            (dir_ / "run").string()}) {
    auto refused = run(second);
    EXPECT_EQ(refused.exit_code, 1) << second << "\n" << refused.output;
    EXPECT_NE(refused.output.find("in use by a training still running: " + pid), std::string::npos)
        << refused.output;
    EXPECT_NE(refused.output.find(first), std::string::npos) << "the holder's command line\n" << refused.output;
  }
  running.resume();
  EXPECT_EQ(running.wait(), 0) << read_file(dir_ / "first.log");
  EXPECT_EQ(metrics("run").size(), 6u);
  const std::string commands = read_file(dir_ / "run" / "command.txt");
  EXPECT_EQ(std::count(commands.begin(), commands.end(), '\n'), 1) << commands;
  EXPECT_TRUE(fs::exists(dir_ / "run" / "report.txt"));
  EXPECT_FALSE(fs::exists(dir_ / "run" / "run.lock"));  // let go at the end
}

TEST_F(RunFolder, KilledTrainingLeavesNoLockInTheWay) {
  Background running(train("run", "--epochs 50"), dir_ / "killed.log");
  ASSERT_TRUE(running.holds_lock(dir_ / "run")) << read_file(dir_ / "killed.log");
  running.kill_now();
  EXPECT_EQ(running.wait(), 128 + SIGKILL);
  EXPECT_TRUE(fs::exists(dir_ / "run" / "run.lock"));  // with the dead PID, but no lock on it
  // As if killed in the middle of a write: the next run in the folder removes it.
  std::ofstream(dir_ / "run" / "metrics.csv.tmp.999999") << "half";
  auto next = run(train("run", "--epochs 1 --overwrite"));
  EXPECT_EQ(next.exit_code, 0) << next.output;
  EXPECT_EQ(metrics("run").size(), 1u);
  EXPECT_FALSE(fs::exists(dir_ / "run" / "metrics.csv.tmp.999999"));
  EXPECT_FALSE(fs::exists(dir_ / "run" / "run.lock"));
}

TEST_F(RunFolder, FinishedRunIsNeverReplacedSilently) {
  ASSERT_EQ(run(train("run", "--epochs 1")).exit_code, 0);
  const auto before = snapshot(dir_ / "run");
  auto refused = run(train("run", "--epochs 2"));
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find((dir_ / "run").string() + " already holds a finished run"), std::string::npos)
      << refused.output;
  EXPECT_NE(refused.output.find("--overwrite"), std::string::npos) << refused.output;
  auto denoise = run("denoise train --model dae --threads 1 --epochs 1 --data-dir " + (dir_ / "data").string() +
                     " --out " + (dir_ / "run").string());
  EXPECT_EQ(denoise.exit_code, 1) << denoise.output;
  EXPECT_EQ(snapshot(dir_ / "run"), before);

  // --overwrite: the old run's files go first, so none of it mixes with the new one.
  std::ofstream(dir_ / "run" / "notes.txt") << "mine";
  auto replaced = run(train("run", "--epochs 2 --overwrite"));
  ASSERT_EQ(replaced.exit_code, 0) << replaced.output;
  EXPECT_EQ(metrics("run").size(), 2u);
  EXPECT_EQ(read_file(dir_ / "run" / "notes.txt"), "mine");  // not a file of a run: left alone

  // Without --out, a new run takes the next free name, as TensorBoard or Lightning would.
  const std::string no_out = "train --model " + (dir_ / "net.model").string() + " --data-dir " +
                             (dir_ / "data").string() + " --threads 1 --batch-size 32 --epochs 1";
  ASSERT_EQ(run(no_out, true, dir_).exit_code, 0);
  const auto first = snapshot(dir_ / "runs" / "net-mnist");
  auto second = run(no_out, true, dir_);
  ASSERT_EQ(second.exit_code, 0) << second.output;
  EXPECT_NE(second.output.find("runs/net-mnist holds a finished run; this run writes to runs/net-mnist-2"),
            std::string::npos)
      << second.output;
  EXPECT_TRUE(fs::exists(dir_ / "runs" / "net-mnist-2" / "report.txt"));
  EXPECT_EQ(snapshot(dir_ / "runs" / "net-mnist"), first);
}

TEST_F(RunFolder, RunFolderThatCannotBeOneIsAClearError) {
  std::ofstream(dir_ / "file") << "not a folder";
  auto file = run(train("file", "--epochs 1"));
  EXPECT_EQ(file.exit_code, 1);
  EXPECT_NE(file.output.find((dir_ / "file").string() + ": is a file, not a folder"), std::string::npos)
      << file.output;
  auto below = run(train("file/run", "--epochs 1"));
  EXPECT_EQ(below.exit_code, 1);
  EXPECT_NE(below.output.find((dir_ / "file" / "run").string() + ": cannot create the run folder (Not a directory)"),
            std::string::npos)
      << below.output;
  EXPECT_EQ(read_file(dir_ / "file"), "not a folder");
  // A run that fails before it writes anything leaves no empty folder behind.
  auto bad_data = run("train --model " + (dir_ / "net.model").string() + " --data-dir " + (dir_ / "nowhere").string() +
                      " --out " + (dir_ / "empty").string());
  EXPECT_EQ(bad_data.exit_code, 1);
  EXPECT_FALSE(fs::exists(dir_ / "empty"));
  // pairs: a folder where its PNG should go; the temporary file goes too.
  fs::create_directories(dir_ / "grid.png");
  auto pairs = run("pairs --count 4 --data-dir " + (dir_ / "data").string() + " --out " + (dir_ / "grid.png").string());
  EXPECT_EQ(pairs.exit_code, 1);
  EXPECT_NE(pairs.output.find((dir_ / "grid.png").string() + ": is a folder"), std::string::npos)
      << pairs.output;
  for (const auto& entry : fs::directory_iterator(dir_))
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
}

// --- values of an interrupted run, checked before anything is used --------------

namespace {

// run.json or the checkpoint's metadata edited by hand; --resume must name
// the file, the key and the value, exit 1 and leave every file as it was.
class BadResume : public RunFolder {
 protected:
  void SetUp() override {
    RunFolder::SetUp();
    // 400 images in batches of 32: 13 batches per epoch; step 20 is epoch 2, batch 7.
    ASSERT_EQ(run(train("base", "--epochs 3 --raise-sigterm-at-step 20")).exit_code, 128 + 15);
  }
  // A copy of the interrupted run, edited by `edit`, resumed.
  void expect_refused(const std::function<void(const fs::path&)>& edit, const std::vector<std::string>& said) {
    fs::remove_all(dir_ / "copy");
    fs::copy(dir_ / "base", dir_ / "copy");
    edit(dir_ / "copy");
    const auto before = snapshot(dir_ / "copy");
    auto r = run("train --resume " + (dir_ / "copy").string());
    EXPECT_EQ(r.exit_code, 1) << r.output;
    for (const std::string& s : said) EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
    EXPECT_EQ(snapshot(dir_ / "copy"), before) << r.output;
  }
  static void edit_run_json(const fs::path& dir, const std::string& key, const nlohmann::json& value) {
    auto j = nlohmann::json::parse(read_file(dir / "run.json"));
    if (value.is_discarded()) {
      j.erase(key);
    } else {
      j[key] = value;
    }
    std::ofstream(dir / "run.json") << j.dump(2);
  }
  static void edit_checkpoint(const fs::path& dir, const std::function<void(nlohmann::json&, std::string&)>& edit) {
    const fs::path path = dir / "resume.safetensors";
    auto tensors = read_safetensors(path);
    auto metadata = read_safetensors_metadata(path);
    metadata.erase("format");
    auto progress = nlohmann::json::parse(metadata.at("mnistlab.progress"));
    edit(progress, metadata.at("mnistlab.optimizer_steps"));
    metadata["mnistlab.progress"] = progress.dump();
    write_safetensors(path, tensors, metadata);
  }
};

}  // namespace

TEST_F(BadResume, RunJsonValuesAreCheckedNotTrusted) {
  struct Case {
    std::string key;
    nlohmann::json value;
    std::string said;
  };
  const std::vector<Case> cases = {
      {"epochs", -5, "\"epochs\" is -5; expected an integer from 1 to 100000"},
      {"epochs", 0, "\"epochs\" is 0; expected an integer from 1 to 100000"},
      {"epochs", 1e300, "\"epochs\" is 1e+300; expected an integer from 1 to 100000"},
      {"epochs", 2.5, "\"epochs\" is 2.5; expected an integer"},
      {"epochs", "3", "\"epochs\" is \"3\"; expected an integer"},
      {"batch_size", -32, "\"batch_size\" is -32"},
      {"lr", "fast", "\"lr\" is \"fast\"; expected a number in (0, 10]"},
      {"lr", 0, "\"lr\" is 0; expected a number in (0, 10]"},
      {"momentum", 1, "\"momentum\" is 1; expected a number in [0, 1)"},
      {"weight_decay", -0.5, "\"weight_decay\" is -0.5; expected -1 (the optimizer's default) or a number in [0, 1]"},
      {"optimizer", "rmsprop", "\"optimizer\" is \"rmsprop\"; expected \"sgd\", \"adam\" or \"adamw\""},
      {"nesterov", 1, "\"nesterov\" is 1; expected true or false"},
      {"seed", -1, "\"seed\" is -1"},
      {"threads", 1e12, "\"threads\" is 1000000000000.0"},
      {"val_split", 2, "\"val_split\" is 2; expected a number in [0, 0.9]"},
      {"eval_every", 0, "\"eval_every\" is 0; expected an integer from 1 to 100000"},
      {"dataset", nullptr, "\"dataset\" is null; expected a string"},
      {"dataset", "", "\"dataset\" is \"\"; expected mnist, fashion or a dataset folder"},
      {"class_names", 5, "\"class_names\" is 5; expected a string"},
      {"seed", nlohmann::json(nlohmann::json::value_t::discarded), "\"seed\" is missing"},
      {"augment", "rotate=3", "\"augment\" is \"rotate=3\"; expected an augmentation spec ('rotate=3' in"},
      {"augment", "hflip", "--augment hflip (RandomHorizontalFlip): a mirrored digit is not the same digit"},
      {"log_every_steps", -1, "\"log_every_steps\" is -1; expected an integer from 0 to"},
      {"label_smoothing", 1, "\"label_smoothing\" is 1; expected a number in [0, 1)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key + " = " + c.value.dump());
    expect_refused([&](const fs::path& dir) { edit_run_json(dir, c.key, c.value); },
                   {(dir_ / "copy" / "run.json").string() + ": " + c.said});
  }
  expect_refused([&](const fs::path& dir) { std::ofstream(dir / "run.json") << "[1, 2]"; },
                 {"run.json: not the run.json of a mnistlab run (not a JSON object)"});
}

// A run interrupted before a key existed resumes with its default, which is
// how that run was started.
TEST_F(BadResume, RunJsonWithoutTheKeysThatCameLaterResumes) {
  fs::copy(dir_ / "base", dir_ / "old");
  const char* later[] = {"log_every_steps", "augment", "label_smoothing", "tta", "tta_crops", "class_names",
                         "eval_every"};
  for (const char* key : later) edit_run_json(dir_ / "old", key, nlohmann::json(nlohmann::json::value_t::discarded));
  // The checkpoint records the run.json it was saved with: the same one.
  const fs::path checkpoint = dir_ / "old" / "resume.safetensors";
  auto metadata = read_safetensors_metadata(checkpoint);
  metadata.erase("format");
  metadata.at("mnistlab.run_json") = read_file(dir_ / "old" / "run.json");
  write_safetensors(checkpoint, read_safetensors(checkpoint), metadata);
  auto resumed = run("train --resume " + (dir_ / "old").string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  auto straight = run(train("straight", "--epochs 3"));
  ASSERT_EQ(straight.exit_code, 0) << straight.output;
  expect_same_run_end(dir_ / "old", dir_ / "straight", 3, 5);
}

TEST_F(BadResume, CheckpointProgressIsCheckedNotTrusted) {
  using Edit = std::function<void(nlohmann::json&, std::string&)>;
  const std::string file = (dir_ / "copy" / "resume.safetensors").string() + ": ";
  const std::vector<std::pair<Edit, std::string>> cases = {
      {[](auto& p, auto&) { p["batch"] = -7; },
       "\"mnistlab.progress\".batch is -7; expected an integer from 0 to 1000000000000"},
      {[](auto& p, auto&) { p["batch"] = 1e15; }, "\"mnistlab.progress\".batch is 1e+15; expected an integer"},
      {[](auto& p, auto&) { p["batch"] = 14; },
       "\"mnistlab.progress\".batch is 14; expected 0 to 13, for a run of 3 epochs of 13 batches (400 images in "
       "batches of 32)"},
      {[](auto&, auto& steps) { steps = "-100"; },
       "metadata \"mnistlab.optimizer_steps\" is \"-100\"; expected a whole number of steps"},
      {[](auto&, auto& steps) { steps = "20abc"; }, "metadata \"mnistlab.optimizer_steps\" is \"20abc\""},
      {[](auto&, auto& steps) { steps = "999999999"; },
       "metadata \"mnistlab.optimizer_steps\" is 999999999; expected 20 = 1 epochs x 13 batches + 7 batches"},
      {[](auto& p, auto&) { p["epoch"] = 1e300; },
       "\"mnistlab.progress\".epoch is 1e+300; expected an integer from 0 to 100000"},
      {[](auto& p, auto&) { p["epoch"] = 7; },
       "\"mnistlab.progress\".history is [{\"epoch\":1,"},  // one row, where 7 are due
      {[](auto& p, auto&) { p["history"][0]["epoch"] = 1e300; },
       "\"mnistlab.progress\".history[0].epoch is 1e+300; expected an integer from 1 to 1"},
      {[](auto& p, auto&) { p["sums"][1] = 1000000; },
       "\"mnistlab.progress\".sums[1] (acc) is 1000000.000000; expected at most 224.000000"},
      {[](auto& p, auto&) { p["sums"][0] = "low"; }, "\"mnistlab.progress\".sums[0] is \"low\"; expected a number"},
      {[](auto& p, auto&) { p["sums"] = {1.0}; },
       "\"mnistlab.progress\".sums has 1 values; expected 2, one per metric of classification"},
      {[](auto& p, auto&) { p["history"][0]["eval"] = {1.0}; },
       "\"mnistlab.progress\".history of epoch 1 has 2 train and 1 evaluation metrics; expected 2 and 2"},
      {[](auto& p, auto&) { p["best_epoch"] = 2; },
       "\"mnistlab.progress\".best_epoch is 2; expected an integer from 0 to 1"},
  };
  for (const auto& [edit, said] : cases) {
    SCOPED_TRACE(said);
    expect_refused([&](const fs::path& dir) { edit_checkpoint(dir, edit); }, {file + said});
  }
  // The edits alone, values unchanged, leave a checkpoint that resumes.
  edit_checkpoint(dir_ / "base", [](auto&, auto&) {});
  auto resumed = run("train --resume " + (dir_ / "base").string());
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
}

// The checkpoint records the run's settings and network: a resume that would
// train a different run than the one saved is refused, naming what changed.
TEST_F(BadResume, SettingsOrNetworkChangedSinceTheCheckpointAreRefused) {
  const std::string run_json = (dir_ / "copy" / "run.json").string() + ": ";
  const std::string advice = "--resume continues exactly the run that was saved";
  struct Case {
    std::string key;
    nlohmann::json value;
    std::string said;
  };
  const std::vector<Case> cases = {
      // Images already trained on would move into the validation set.
      {"val_split", 0.5, "\"val_split\" is 0.5 but the run was saved with 0.0"},
      {"lr_schedule", "cosine", "\"lr_schedule\" is \"cosine\" but the run was saved with \"none\""},
      {"epochs", 1, "\"epochs\" is 1 but the run was saved with 3"},
      {"lr", 0.5, "\"lr\" is 0.5 but the run was saved with"},
      {"model", "baseline", "\"model\" is \"baseline\" but the run was saved with"},
      {"colour", "blue", "\"colour\" is \"blue\" but the run was saved with (absent)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.key);
    expect_refused([&](const fs::path& dir) { edit_run_json(dir, c.key, c.value); }, {run_json + c.said, advice});
  }
  expect_refused([&](const fs::path& dir) { std::ofstream(dir / "model.txt", std::ios::app) << "relu\n"; },
                 {(dir_ / "copy" / "model.txt").string() + ":8: differs from the network the run was saved with"});
  // The same settings written differently are the same run.
  fs::remove_all(dir_ / "copy");
  fs::copy(dir_ / "base", dir_ / "copy");
  std::ofstream(dir_ / "copy" / "run.json") << nlohmann::json::parse(read_file(dir_ / "base" / "run.json")).dump(4);
  auto resumed = run("train --resume " + (dir_ / "copy").string());
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
}
