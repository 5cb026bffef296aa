// Data-parallel training under mpirun (src/dist/): N processes with global
// batch B end with the weights one process gets with batch B, where the
// arithmetic allows (float32 sums in another order); a stopped run resumes
// to the same bytes with the same or another N; a rank that dies ends the
// run. The reference is the single-process run, whose own correctness the
// rest of the suite checks against PyTorch and finite differences.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "cli_fixture.h"
#include "mnistlab/model.h"
#include "mnistlab/model_file.h"
#include "mnistlab/safetensors.h"

namespace mnistlab::test {
namespace {

#ifdef MNISTLAB_MPIRUN
constexpr const char* kMpirun = MNISTLAB_MPIRUN;
#else
constexpr const char* kMpirun = nullptr;
#endif

// mpirun as this user may run it: as root it needs to be told, and
// --oversubscribe lets 3 ranks share 2 cores.
std::string mpirun(int ranks) {
  return std::string(kMpirun) + (geteuid() == 0 ? " --allow-run-as-root" : "") + " --oversubscribe -np " +
         std::to_string(ranks) + " ";
}

class DataParallel : public Cli {
 protected:
  void SetUp() override {
    if (!kMpirun) GTEST_SKIP() << "built without MPI (CMake found no MPI): no mpirun runs to test";
    Cli::SetUp();
    write_split(synthetic(150, 1), "train");  // 150 = 2 x 64 + 22: a short last batch
    write_split(synthetic(50, 2), "t10k");
  }
  fs::path model_file(const std::string& name, const std::string& text) {
    const fs::path path = dir_ / (name + ".model");
    std::ofstream(path) << text;
    return path;
  }
  // `mnistlab ARGS` under mpirun with `ranks` processes (1: without mpirun).
  CommandResult train(int ranks, const std::string& args, const std::string& out) {
    const std::string command = std::string(MNISTLAB_CLI) + " " + args + " --data-dir " + (dir_ / "data").string() +
                                " --out " + (dir_ / out).string() + " --threads 1 2>&1";
    return run_shell(ranks == 1 ? command : mpirun(ranks) + command);
  }
  std::map<std::string, std::vector<float>> weights(const std::string& out, const char* file = "last.safetensors") {
    std::map<std::string, std::vector<float>> w;
    for (auto& [key, t] : read_safetensors(dir_ / out / file)) w[key] = t.to_floats();
    return w;
  }
  // Every tensor within `tolerance` of the reference's largest magnitude.
  void expect_close(const std::string& out, const std::string& reference, double tolerance) {
    const auto a = weights(out), b = weights(reference);
    ASSERT_EQ(a.size(), b.size());
    ASSERT_FALSE(a.empty());
    for (const auto& [key, values] : b) {
      const std::vector<float>& other = a.at(key);
      ASSERT_EQ(other.size(), values.size()) << key;
      double scale = 1e-6, worst = 0;
      for (size_t i = 0; i < values.size(); ++i) {
        scale = std::max(scale, double(std::fabs(values[i])));
        worst = std::max(worst, double(std::fabs(values[i] - other[i])));
      }
      EXPECT_LE(worst, tolerance * scale) << out << " against " << reference << ": " << key;
    }
  }
};

// 81,110 parameters: enough for the sum of the ranks' gradients to take
// the shared-memory path (64K floats and more), with uneven slices for 3 ranks.
constexpr const char* kPlainNet =
    "input 1 28 28\nconv 6 k=3 p=1\nrelu\nmaxpool k=2\nconv 8 k=3 s=2 p=1\nrelu\nflatten\nlinear 200\nrelu\n"
    "linear 10\n";
constexpr const char* kBatchNormNet =
    "input 1 28 28\nconv 6 k=3 p=1 bias=0\nbatchnorm\nrelu\nmaxpool k=2\nconv 8 k=3 s=2 p=1\nbatchnorm\nrelu\n"
    "flatten\nlinear 10\n";
constexpr const char* kDropoutNet =
    "input 1 28 28\nconv 6 k=3 p=1\nrelu\nmaxpool k=2\nflatten\ndropout p=0.3\nlinear 10\n";

// SGD with momentum: Adam divides by the root of tiny second moments, which
// magnifies summation-order differences far beyond float32's.
constexpr const char* kSteps = " --batch-size 64 --optimizer sgd --lr 0.05 --momentum 0.9";
const std::string kRecipe = std::string(" --epochs 2") + kSteps;

TEST_F(DataParallel, OneTwoAndThreeRanksEndWithTheSameWeights) {
  const std::string args = "train --model " + model_file("plain", kPlainNet).string() + kRecipe;
  const CommandResult one = train(1, args, "n1");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  for (int ranks : {2, 3}) {
    const std::string out = "n" + std::to_string(ranks);
    const CommandResult r = train(ranks, args, out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    EXPECT_NE(r.output.find("data parallel: " + std::to_string(ranks) + " processes"), std::string::npos) << r.output;
    expect_close(out, "n1", 1e-5);
    // Training metrics and the sharded evaluation cover the whole data: as one process's.
    const auto m = metrics(out), m1 = metrics("n1");
    ASSERT_EQ(m.size(), 2u);
    for (size_t e = 0; e < 2; ++e)
      for (size_t c = 1; c <= 4; ++c) EXPECT_NEAR(m[e][c], m1[e][c], 1e-4 * std::max(1.0, std::fabs(m1[e][c])));
  }
  // And the weights did move from their initialization (seed 0): equal
  // untrained weights would prove nothing.
  Model initial = parse_model(kPlainNet, "plain");
  initial.build(0);
  std::vector<float> first(initial.state_dict()[0].param->numel());
  initial.read_param(*initial.state_dict()[0].param, first.data());
  ASSERT_EQ(initial.state_dict()[0].key, "0.weight");
  EXPECT_NE(weights("n1").at("0.weight"), first);
}

TEST_F(DataParallel, SyncBatchNormMatchesOneProcess) {
  const std::string args = "train --model " + model_file("bn", kBatchNormNet).string() + kRecipe;
  ASSERT_EQ(train(1, args, "n1").exit_code, 0);
  for (int ranks : {2, 3}) {
    const std::string out = "sync" + std::to_string(ranks);
    const CommandResult r = train(ranks, args + " --sync-batchnorm", out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_close(out, "n1", 1e-5);  // the running statistics too: they are in the state_dict
  }
  // Per-rank statistics (DDP's default) are another computation: not equal.
  const CommandResult local = train(2, args, "local2");
  ASSERT_EQ(local.exit_code, 0) << local.output;
  const auto a = weights("local2"), b = weights("n1");
  EXPECT_NE(a.at("1.running_var"), b.at("1.running_var"));
}

// Fine-tuning under mpirun: rank 0 reads --init-weights and the others get
// its weights; a frozen layer's parameters (3.*, inside every rank's slice
// boundaries differently for 2 and 3 ranks) stay as the file has them.
TEST_F(DataParallel, FineTuningWithAFrozenLayerMatchesOneProcess) {
  const std::string net = model_file("plain", kPlainNet).string();
  ASSERT_EQ(train(1, "train --model " + net + " --epochs 1" + kSteps, "start").exit_code, 0);
  const std::string args = "train --model " + net + kRecipe + " --seed 5 --freeze 3 --init-weights " +
                           (dir_ / "start" / "last.safetensors").string();
  const CommandResult one = train(1, args, "f1");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto start = weights("start"), tuned = weights("f1");
  EXPECT_EQ(tuned.at("3.weight"), start.at("3.weight"));
  EXPECT_EQ(tuned.at("3.bias"), start.at("3.bias"));
  EXPECT_NE(tuned.at("0.weight"), start.at("0.weight"));
  for (int ranks : {2, 3}) {
    const std::string out = "f" + std::to_string(ranks);
    const CommandResult r = train(ranks, args, out);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    expect_close(out, "f1", 1e-5);
    EXPECT_EQ(weights(out).at("3.weight"), start.at("3.weight")) << out;
  }
}

TEST_F(DataParallel, DropoutMasksAndDenoisingNoiseFollowThePositionInTheGlobalBatch) {
  const std::string args = "train --model " + model_file("drop", kDropoutNet).string() + kRecipe;
  ASSERT_EQ(train(1, args, "n1").exit_code, 0);
  const CommandResult r = train(2, args, "n2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  expect_close("n2", "n1", 1e-5);

  const std::string dae =
      "denoise train --model dae --noise gaussian --noise-amount 0.3 --epochs 2 --batch-size 50 --optimizer sgd "
      "--lr 0.5";
  ASSERT_EQ(train(1, dae, "d1").exit_code, 0);
  const CommandResult d = train(3, dae, "d3");
  ASSERT_EQ(d.exit_code, 0) << d.output;
  expect_close("d3", "d1", 1e-5);
  const auto m = metrics("d3"), m1 = metrics("d1");
  ASSERT_EQ(m.size(), 2u);
  for (size_t c = 1; c < m1[1].size() - 2; ++c) EXPECT_NEAR(m[1][c], m1[1][c], 1e-4 * std::max(1.0, std::fabs(m1[1][c])));
}

// Stopped by SIGTERM (as mpirun passes it on) at step 3 of 6, then resumed
// with 2 or with 3 ranks: the same bytes as the uninterrupted 2-rank run when
// the number stays, the same weights within float32 sums when it changes.
TEST_F(DataParallel, StoppedRunResumesWithTheSameOrAnotherNumberOfRanks) {
  const std::string args = "train --model " + model_file("plain", kPlainNet).string() + kSteps + " --epochs 3";
  ASSERT_EQ(train(2, args, "straight").exit_code, 0);
  for (int ranks : {2, 3}) {
    const std::string out = "stopped" + std::to_string(ranks);
    const CommandResult stopped = train(2, args + " --raise-sigterm-at-step 4", out);
    EXPECT_EQ(stopped.exit_code, 128 + SIGTERM) << stopped.output;
    EXPECT_NE(stopped.output.find("interrupted by SIGTERM at epoch 2, batch 2"), std::string::npos) << stopped.output;
    ASSERT_TRUE(fs::exists(dir_ / out / "resume.safetensors"));
    const CommandResult resumed =
        run_shell(mpirun(ranks) + MNISTLAB_CLI + " train --resume " + (dir_ / out).string() + " 2>&1");
    ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
    if (ranks == 2) expect_same_run_end(dir_ / out, dir_ / "straight", 3, 5);
    else expect_close(out, "straight", 1e-5);
  }
}

// SIGKILL to one rank: mpirun ends the others and names the rank; the last
// checkpoint stays readable and the run resumes from it. SIGSTOP instead (a
// rank that hangs): the others give up after --collective-timeout and name it.
class FailingRank : public DataParallel {
 protected:
  static constexpr int kEpochs = 30;
  // Starts a 2-rank training in the background; returns mpirun's PID.
  // 30 epochs of 3000 images by default: on an idle 2-core machine an epoch
  // takes 0.1 s, and the signal must find the run still going.
  pid_t start(const std::string& out, const std::string& extra, int epochs = kEpochs) {
    write_split(synthetic(3000, 3), "train");
    const std::string args = "train --model " + model_file("plain", kPlainNet).string() +
                             " --epochs " + std::to_string(epochs) + " --batch-size 32 --optimizer sgd --lr 0.01 --data-dir " +
                             (dir_ / "data").string() + " --out " + (dir_ / out).string() + " --threads 1" + extra;
    log_ = dir_ / (out + ".log");
    const pid_t launcher = fork();
    if (launcher == 0) {
      execl("/bin/sh", "sh", "-c",
            ("exec " + mpirun(2) + MNISTLAB_CLI + " " + args + " > " + log_.string() + " 2>&1").c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    return launcher;
  }
  // After the first epoch's checkpoint: the PID of rank 1 (its environment says which it is).
  pid_t rank_one_after_first_epoch(pid_t launcher, const std::string& out) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!fs::exists(dir_ / out / "resume.safetensors") && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!fs::exists(dir_ / out / "resume.safetensors")) return 0;
    std::stringstream list(run_shell("pgrep -P " + std::to_string(launcher)).output);
    for (long pid; list >> pid;)
      if (read_file("/proc/" + std::to_string(pid) + "/environ").find("OMPI_COMM_WORLD_RANK=1") != std::string::npos)
        return pid_t(pid);
    return 0;
  }
  // Seconds until mpirun ends after now, and whether it failed.
  std::pair<double, bool> wait_end(pid_t launcher) {
    const auto from = std::chrono::steady_clock::now();
    int status = 0;
    waitpid(launcher, &status, 0);
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - from).count(),
            !WIFEXITED(status) || WEXITSTATUS(status) != 0};
  }
  fs::path log_;
};

TEST_F(FailingRank, AKilledRankEndsTheRunAndItResumes) {
  const pid_t launcher = start("killed", "");
  ASSERT_GT(launcher, 0);
  const pid_t victim = rank_one_after_first_epoch(launcher, "killed");
  ASSERT_NE(victim, 0) << read_file(log_);
  kill(victim, SIGKILL);
  const auto [seconds, failed] = wait_end(launcher);
  EXPECT_LT(seconds, 10.0);
  EXPECT_TRUE(failed);
  const std::string output = read_file(log_);
  EXPECT_NE(output.find("rank 1"), std::string::npos) << output;
  // The last epoch's checkpoint is whole, and the run continues from it.
  EXPECT_NO_THROW(read_safetensors(dir_ / "killed" / "resume.safetensors"));
  const CommandResult resumed =
      run_shell(mpirun(2) + MNISTLAB_CLI + " train --resume " + (dir_ / "killed").string() + " 2>&1");
  EXPECT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find("resuming"), std::string::npos) << resumed.output;
  EXPECT_EQ(metrics("killed").size(), size_t(kEpochs));
}

// SIGTERM to mpirun itself after the first epoch: Open MPI passes it to the
// ranks a second later, which stop after the same step and save; resumed
// with 2 ranks, the run ends with the bytes of an uninterrupted one.
TEST_F(FailingRank, SigtermToMpirunSavesAndResumesToTheSameBytes) {
  const pid_t launcher = start("stopped", "");
  ASSERT_GT(launcher, 0);
  ASSERT_NE(rank_one_after_first_epoch(launcher, "stopped"), 0) << read_file(log_);
  kill(launcher, SIGTERM);
  const auto [seconds, failed] = wait_end(launcher);
  EXPECT_LT(seconds, 10.0);
  const std::string output = read_file(log_);
  ASSERT_NE(output.find("interrupted by SIGTERM"), std::string::npos) << output;
  EXPECT_NE(output.find("continue with: mpirun -np 2 " + std::string(MNISTLAB_CLI) + " train --resume " +
                        (dir_ / "stopped").string() + "\n"),
            std::string::npos)
      << output;
  ASSERT_TRUE(fs::exists(dir_ / "stopped" / "resume.safetensors"));
  const CommandResult resumed =
      run_shell(mpirun(2) + MNISTLAB_CLI + " train --resume " + (dir_ / "stopped").string() + " 2>&1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const pid_t straight = start("straight", "");
  ASSERT_GT(straight, 0);
  const auto [straight_seconds, straight_failed] = wait_end(straight);
  ASSERT_FALSE(straight_failed) << read_file(log_);
  (void)straight_seconds;
  expect_same_run_end(dir_ / "stopped", dir_ / "straight", kEpochs, 5);
}

TEST_F(FailingRank, AHungRankIsNamedAndEndsTheRun) {
  const pid_t launcher = start("hung", " --collective-timeout 3");
  ASSERT_GT(launcher, 0);
  const pid_t victim = rank_one_after_first_epoch(launcher, "hung");
  ASSERT_NE(victim, 0) << read_file(log_);
  kill(victim, SIGSTOP);
  const auto [seconds, failed] = wait_end(launcher);
  kill(victim, SIGCONT);  // in case it outlived mpirun
  EXPECT_LT(seconds, 15.0);
  EXPECT_TRUE(failed);
  const std::string output = read_file(log_);
  EXPECT_NE(output.find("rank 1 never reached it"), std::string::npos) << output;
}

// A stopped rank under the default 300 s deadline: its heartbeat stops, so
// rank 0 ends the run within seconds (10 s of silence), naming it.
TEST_F(FailingRank, AStoppedRankEndsTheRunWithinSeconds) {
  const pid_t launcher = start("stopped", "");
  ASSERT_GT(launcher, 0);
  const pid_t victim = rank_one_after_first_epoch(launcher, "stopped");
  ASSERT_NE(victim, 0) << read_file(log_);
  kill(victim, SIGSTOP);
  const auto [seconds, failed] = wait_end(launcher);
  kill(victim, SIGCONT);
  EXPECT_LT(seconds, 25.0);
  EXPECT_TRUE(failed);
  const std::string output = read_file(log_);
  EXPECT_NE(output.find("rank 1 gave no sign of life for 10 s (stopped or hung)"), std::string::npos) << output;
  // The last epoch's checkpoint stays readable.
  EXPECT_NO_THROW(read_safetensors(dir_ / "stopped" / "resume.safetensors"));
}

}  // namespace
}  // namespace mnistlab::test
