// --dataset PATH through the command: a 47-class EMNIST-like folder of
// 20x20 images trains end to end with its class names in report.txt, eval and
// predict read it, a run on it resumes, a 3-class KMNIST-like folder trains
// with class numbers; wrong names, a model that does not fit and ambiguous or
// missing files stop the command before it writes anything.
#include <png.h>

#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "mnistlab/model_file.h"
#include "mnistlab/png.h"
#include "mnistlab/safetensors.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

// EMNIST Balanced's 47 classes (emnist-balanced-mapping.txt as characters).
std::vector<std::string> emnist_balanced_names() {
  std::vector<std::string> names;
  for (char c = '0'; c <= '9'; ++c) names.emplace_back(1, c);
  for (char c = 'A'; c <= 'Z'; ++c) names.emplace_back(1, c);
  for (char c : std::string("abdefghnqrt")) names.emplace_back(1, c);
  return names;
}

class CliDatasets : public Cli {
 protected:
  // emnist/: 94 training and 47 test images of 20x20, two and one of each
  // class, under EMNIST's names, with classes.txt; tiny.model fits it.
  void SetUp() override {
    Cli::SetUp();
    emnist_ = dir_ / "emnist";
    write_idx_split(emnist_, patterned(94, 47, 20, 1), "emnist-balanced-train", ".gz");
    write_idx_split(emnist_, patterned(47, 47, 20, 2), "emnist-balanced-test", ".gz");
    write_names(emnist_ / "classes.txt", emnist_balanced_names());
    std::ofstream(dir_ / "tiny.model") << "input 1 20 20\nflatten\nlinear 47\n";
  }
  static void write_names(const fs::path& path, const std::vector<std::string>& names) {
    std::ofstream out(path);
    for (const std::string& name : names) out << name << "\n";
  }
  std::string train_emnist(const std::string& extra) const {
    return "train --dataset " + emnist_.string() + " --model " + (dir_ / "tiny.model").string() +
           " --epochs 1 --batch-size 16 --threads 1 " + extra;
  }
  // A refused command: exit 1, every part of the message, and no run folder.
  void expect_refused(const std::string& args, const std::vector<std::string>& said, bool training = true) {
    const auto r = run(args + (training ? " --out " + (dir_ / "refused").string() : ""));
    EXPECT_EQ(r.exit_code, 1) << r.output;
    for (const std::string& s : said) EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
    EXPECT_FALSE(fs::exists(dir_ / "refused")) << r.output;
  }
  fs::path emnist_;
};

// report.txt's per-class rows: the first word of each and the "(right of total)" totals.
std::vector<std::pair<std::string, int>> per_class_rows(const std::string& report) {
  std::vector<std::pair<std::string, int>> rows;
  std::stringstream in(report.substr(report.find("per-class accuracy")));
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line) && !line.empty()) {
    std::stringstream words(line);
    std::string name;
    words >> name;
    const size_t of = line.rfind(" of ");
    rows.emplace_back(name, of == std::string::npos ? -1 : std::stoi(line.substr(of + 4)));
  }
  return rows;
}

}  // namespace

TEST_F(CliDatasets, FortySevenClassesTrainEndToEndWithTheirNames) {
  // Without --out the run folder is named after the dataset folder.
  const auto r = run(train_emnist(""), true, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const fs::path run_dir = dir_ / "runs" / "tiny-emnist";
  ASSERT_TRUE(fs::exists(run_dir / "report.txt")) << r.output;
  const std::string report = read_file(run_dir / "report.txt");
  const auto rows = per_class_rows(report);
  const std::vector<std::string> names = emnist_balanced_names();
  ASSERT_EQ(rows.size(), names.size()) << report;
  for (size_t c = 0; c < names.size(); ++c) {
    EXPECT_EQ(rows[c].first, names[c]) << "row " << c << "\n" << report;
    EXPECT_EQ(rows[c].second, 1) << "one test image of each class\n" << report;
  }
  EXPECT_NE(report.find("  46 t "), std::string::npos) << "the confusion matrix's last row\n" << report;
  // run.json keeps the dataset as given.
  const auto settings = nlohmann::json::parse(read_file(run_dir / "run.json"));
  EXPECT_EQ(settings.at("dataset"), emnist_.string());
  EXPECT_EQ(settings.at("data_dir"), "");
  ASSERT_EQ(metrics_rows(run_dir / "metrics.csv").size(), 1u);

  // eval on the same folder and weights gives the report's line.
  const auto eval = run("eval --model " + (dir_ / "tiny.model").string() + " --weights " +
                        (run_dir / "last.safetensors").string() + " --dataset " + emnist_.string() +
                        " --threads 1 --batch-size 16");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  const std::string line = eval.output.substr(0, eval.output.find('\n'));
  EXPECT_NE(report.find(line + "\n"), std::string::npos) << line << "\n" << report;

  // predict names the classes from the folder's classes.txt.
  const Dataset test = patterned(1, 47, 20, 3);
  GrayImage image{20, 20, test.pixels};
  write_png_gray(dir_ / "digit.png", image);
  const auto predict = run("predict --model " + (dir_ / "tiny.model").string() + " --weights " +
                           (run_dir / "last.safetensors").string() + " --dataset " + emnist_.string() + " --top 10 " +
                           (dir_ / "digit.png").string());
  ASSERT_EQ(predict.exit_code, 0) << predict.output;
  std::stringstream guesses(predict.output.substr(predict.output.find(':') + 1));
  int letters = 0, count = 0;
  for (std::string guess; std::getline(guesses, guess, ',');) {
    std::stringstream words(guess);
    std::string name;
    words >> name;
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name << "\n" << predict.output;
    letters += std::isalpha(static_cast<unsigned char>(name[0])) ? 1 : 0;
    ++count;
  }
  EXPECT_EQ(count, 10) << predict.output;
  EXPECT_GT(letters, 0) << "37 of the 47 names are letters\n" << predict.output;
}

TEST_F(CliDatasets, ARunOnAFolderResumesWithItsClassNames) {
  write_names(dir_ / "names.txt", [] {
    std::vector<std::string> names;
    for (int c = 0; c < 47; ++c) names.push_back("class" + std::to_string(c));
    return names;
  }());
  const fs::path run_dir = dir_ / "run";
  const std::string args = "train --dataset " + emnist_.string() + " --model " + (dir_ / "tiny.model").string() +
                           " --epochs 2 --batch-size 16 --threads 1 --class-names " + (dir_ / "names.txt").string() +
                           " --out " + run_dir.string();
  ASSERT_EQ(run(args + " --raise-sigterm-at-step 8").exit_code, 128 + 15);  // 6 batches an epoch: in epoch 2
  const auto resumed = run("train --resume " + run_dir.string());
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(metrics_rows(run_dir / "metrics.csv").size(), 2u);
  const auto rows = per_class_rows(read_file(run_dir / "report.txt"));
  ASSERT_EQ(rows.size(), 47u);
  EXPECT_EQ(rows[0].first, "class0");
  EXPECT_EQ(rows[46].first, "class46");
}

TEST_F(CliDatasets, ThreeClassesWithoutNamesAreNumbered) {
  const fs::path kmnist = dir_ / "kmnist";
  write_idx_split(kmnist, patterned(60, 3, 28, 1), "train", ".gz");
  write_idx_split(kmnist, patterned(30, 3, 28, 2), "t10k", ".gz");
  std::ofstream(dir_ / "three.model") << "input 1 28 28\nconv 4 k=3 s=2 p=1\nrelu\nflatten\nlinear 3\n";
  const auto r = run("train --dataset " + kmnist.string() + " --model " + (dir_ / "three.model").string() +
                     " --epochs 1 --batch-size 16 --threads 1 --out " + (dir_ / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto rows = per_class_rows(read_file(dir_ / "run" / "report.txt"));
  ASSERT_EQ(rows.size(), 3u);
  for (int c = 0; c < 3; ++c) {
    EXPECT_EQ(rows[size_t(c)].first, std::to_string(c));
    EXPECT_EQ(rows[size_t(c)].second, 10);
  }
  // The baseline network's 10 outputs do not fit 3 classes.
  expect_refused("train --dataset " + kmnist.string() + " --epochs 1",
                 {"baseline (preset): the network's output has 10 values, but the dataset has 3 classes "
                  "(labels 0..2 in " + (kmnist / "train-labels-idx1-ubyte.gz").string() +
                  "); change the last linear layer to `linear 3`"});
}

TEST_F(CliDatasets, DenoisingNeedsOnlyTheImageShape) {
  std::ofstream(dir_ / "dae20.model") << "input 1 20 20\nconv 4 k=3 p=1\nrelu\nconv 1 k=3 p=1\nsigmoid\n";
  const auto r = run("denoise train --dataset " + emnist_.string() + " --model " + (dir_ / "dae20.model").string() +
                     " --epochs 1 --batch-size 32 --threads 1 --out " + (dir_ / "run").string());
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(metrics_rows(dir_ / "run" / "metrics.csv").size(), 1u);
  expect_refused("denoise train --dataset " + emnist_.string() + " --epochs 1",
                 {"dae (preset): the model takes inputs [-1, 1, 28, 28] but the dataset has 1x20x20 images; the "
                  "model file's input line would read `input 1 20 20`"});
}

TEST_F(CliDatasets, WrongClassNamesAndModelsAreRefusedBeforeAnythingIsWritten) {
  std::vector<std::string> short_list = emnist_balanced_names();
  short_list.pop_back();
  write_names(emnist_ / "classes.txt", short_list);
  const std::string labels = (emnist_ / "emnist-balanced-train-labels-idx1-ubyte.gz").string();
  expect_refused(train_emnist(""), {(emnist_ / "classes.txt").string() + ": 46 lines, but the dataset has 47 classes "
                                    "(labels 0..46 in " + labels + ")"});
  write_names(dir_ / "three.txt", {"a", "b", "c"});
  expect_refused(train_emnist("--class-names " + (dir_ / "three.txt").string()),
                 {(dir_ / "three.txt").string() + ": 3 lines, but the dataset has 47 classes"});
  std::ofstream(dir_ / "ten.model") << "input 1 20 20\nflatten\nlinear 10\n";
  expect_refused("train --dataset " + emnist_.string() + " --model " + (dir_ / "ten.model").string() +
                     " --class-names " + (dir_ / "three.txt").string(),
                 {(dir_ / "three.txt").string() + ": 3 lines"});
  write_names(emnist_ / "classes.txt", emnist_balanced_names());
  expect_refused("train --dataset " + emnist_.string() + " --model " + (dir_ / "ten.model").string(),
                 {(dir_ / "ten.model").string() + ": the network's output has 10 values, but the dataset has 47 "
                  "classes (labels 0..46 in " + labels + "); change the last linear layer to `linear 47`"});
  expect_refused("train --dataset " + emnist_.string() + " --model baseline",
                 {"baseline (preset): the model takes inputs [-1, 1, 28, 28] but the dataset has 1x20x20 images"});
  // eval checks the same before it evaluates.
  Model ten = parse_model(read_file(dir_ / "ten.model"), "ten.model");
  ten.build(0);
  save_state_dict(ten, dir_ / "ten.safetensors");
  expect_refused("eval --model " + (dir_ / "ten.model").string() + " --weights " + (dir_ / "ten.safetensors").string() +
                     " --dataset " + emnist_.string(),
                 {(dir_ / "ten.model").string() + ": the network's output has 10 values, but the dataset has 47 "
                  "classes"},
                 false);
}

TEST_F(CliDatasets, AmbiguousOrMissingFilesNameTheFolderThePatternAndTheCandidates) {
  write_idx_split(emnist_, patterned(10, 47, 20, 3), "emnist-letters-train", ".gz");
  expect_refused(train_emnist(""), {emnist_.string() + ": 2 files match *train-images-idx3-ubyte[.gz]: "
                                    "emnist-balanced-train-images-idx3-ubyte.gz, "
                                    "emnist-letters-train-images-idx3-ubyte.gz; expected exactly one"});
  fs::remove(emnist_ / "emnist-letters-train-images-idx3-ubyte.gz");
  fs::remove(emnist_ / "emnist-letters-train-labels-idx1-ubyte.gz");
  fs::remove(emnist_ / "emnist-balanced-test-labels-idx1-ubyte.gz");
  expect_refused(train_emnist(""), {emnist_.string() + ": no file matches *t10k-labels-idx1-ubyte[.gz] or "
                                    "*test-labels-idx1-ubyte[.gz]; the folder holds classes.txt, "
                                    "emnist-balanced-test-images-idx3-ubyte.gz, "
                                    "emnist-balanced-train-images-idx3-ubyte.gz, "
                                    "emnist-balanced-train-labels-idx1-ubyte.gz"});
  expect_refused("train --dataset " + (dir_ / "nowhere").string(),
                 {(dir_ / "nowhere").string() + ": no such folder; expected a folder of IDX files"});
  expect_refused("train --dataset " + emnist_.string() + " --data-dir " + emnist_.string(),
                 {"is for the datasets mnist and fashion"});
}

TEST_F(CliDatasets, HelpExplainsDatasetPath) {
  for (const char* command : {"train", "denoise train", "eval", "predict", "pairs"}) {
    const auto r = run(std::string(command) + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    for (const char* part : {"--dataset NAME|PATH", "mnist, fashion, or PATH: a folder of IDX files (docs/guide.md)"})
      EXPECT_NE(r.output.find(part), std::string::npos) << command << ": " << part << "\n" << r.output;
  }
  // The guide the help names has the rest: how the files are found, classes.txt.
  const std::string guide =
      read_file(fs::path(MNISTLAB_CHECK_ONNX).parent_path().parent_path().parent_path() / "docs" / "guide.md");
  for (const char* part : {"`*train-images-idx3-ubyte`", "`*test-labels-idx1-ubyte`", "`classes.txt`", "`--class-names"})
    EXPECT_NE(guide.find(part), std::string::npos) << part;
  EXPECT_NE(run("train --help").output.find("--class-names"), std::string::npos);
}
