// Datasets other than MNIST and Fashion-MNIST, in the library: a folder's
// files found by their name patterns, the class count from both splits'
// labels, class names from a file, and a model that does not fit the data
// told which line of its file to change.
#include <set>

#include "cli_fixture.h"
#include "mnistlab/denoise.h"
#include "mnistlab/error.h"
#include "mnistlab/model_file.h"
#include "mnistlab/trainer.h"
#include "report/label_strip.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

// The message of the mnistlab::Error that `f` throws ("" and a failure when none).
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a mnistlab::Error, none was thrown";
  return "";
}

class DatasetFolder : public Cli {};

std::vector<std::string> lines_of(int count, const std::string& stem) {
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) names.push_back(stem + std::to_string(i));
  return names;
}

void write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path);
  for (const std::string& line : lines) out << line << "\n";
}

}  // namespace

TEST_F(DatasetFolder, FindsEmnistNamesAndCountsTheClassesOfBothSplits) {
  const fs::path dir = dir_ / "emnist";
  // Training labels 0..1, test labels 0..2: the third class is only in the test split.
  write_idx_split(dir, patterned(8, 2, 20, 1), "emnist-balanced-train", ".gz");
  write_idx_split(dir, patterned(6, 3, 20, 2), "emnist-balanced-test", ".gz");
  std::ofstream(dir / "emnist-balanced-mapping.txt") << "0 48\n1 49\n2 50\n";  // not an IDX file: left alone
  const Dataset train = load_split(dir, true), test = load_split(dir, false);
  EXPECT_EQ(train.size(), 8u);
  EXPECT_EQ(test.size(), 6u);
  EXPECT_EQ(train.rows, 20);
  EXPECT_EQ(test.cols, 20);
  EXPECT_EQ(train.labels, std::vector<uint8_t>({0, 1, 0, 1, 0, 1, 0, 1}));
  EXPECT_EQ(train.num_classes, 3);
  EXPECT_EQ(test.num_classes, 3);
  const std::string source = "labels 0..2 in " + (dir / "emnist-balanced-test-labels-idx1-ubyte.gz").string();
  EXPECT_EQ(train.classes_source, source);
  EXPECT_EQ(test.classes_source, source);
  // A validation split and a head keep the classes.
  EXPECT_EQ(train.head(2).num_classes, 3);
  EXPECT_EQ(split_validation(train, 0.25, 0).second.num_classes, 3);
}

TEST_F(DatasetFolder, TwoDatasetsInOneFolderAreAmbiguous) {
  const fs::path dir = dir_ / "gzip";
  for (const std::string name : {"emnist-digits", "emnist-balanced"}) {
    write_idx_split(dir, patterned(4, 2, 28, 1), name + "-train", ".gz");
    write_idx_split(dir, patterned(4, 2, 28, 2), name + "-test", ".gz");
  }
  EXPECT_EQ(error_of([&] { load_split(dir, true); }),
            dir.string() + ": 2 files match *train-images-idx3-ubyte[.gz]: emnist-balanced-train-images-idx3-ubyte.gz, "
                           "emnist-digits-train-images-idx3-ubyte.gz; expected exactly one (keep one dataset's files "
                           "per folder)");
}

TEST_F(DatasetFolder, T10kAndTestNamesTogetherAreAmbiguous) {
  const fs::path dir = dir_ / "both";
  write_idx_split(dir, patterned(4, 2, 28, 1), "train");
  write_idx_split(dir, patterned(4, 2, 28, 2), "t10k", ".gz");
  write_idx_split(dir, patterned(4, 2, 28, 3), "test");
  const std::string msg = error_of([&] { load_split(dir, false); });
  EXPECT_NE(msg.find(dir.string() + ": 2 files match *t10k-images-idx3-ubyte[.gz] or *test-images-idx3-ubyte[.gz]: "
                                    "t10k-images-idx3-ubyte.gz, test-images-idx3-ubyte"),
            std::string::npos)
      << msg;
}

TEST_F(DatasetFolder, ClassNamesFromAFileClassesTxtOrBuiltIn) {
  const fs::path dir = dir_ / "named";
  fs::create_directories(dir);
  EXPECT_TRUE(class_names(dir.string(), dir, "", 3, "labels 0..2").empty()) << "no names: the numbers stand in";
  // Windows line ends, spaces around and inside a name, no newline at the end.
  std::ofstream(dir / "classes.txt", std::ios::binary) << "alpha\r\n  beta gamma \ndelta";
  EXPECT_EQ(class_names(dir.string(), dir, "", 3, "labels 0..2"),
            std::vector<std::string>({"alpha", "beta gamma", "delta"}));
  write_lines(dir_ / "mine.txt", {"x", "y", "z"});
  EXPECT_EQ(class_names(dir.string(), dir, (dir_ / "mine.txt").string(), 3, "labels 0..2"),
            std::vector<std::string>({"x", "y", "z"}));
  // mnist and fashion have their own names, unless their folder has a classes.txt.
  const fs::path none = dir_ / "none";
  const std::vector<std::string> fashion = class_names("fashion", none, "", 10, "");
  ASSERT_EQ(fashion.size(), 10u);
  EXPECT_EQ(fashion[0], "T-shirt/top");
  EXPECT_EQ(fashion[9], "Ankle boot");
  EXPECT_EQ(class_names("mnist", none, "", 10, ""), lines_of(10, ""));
  EXPECT_TRUE(class_names("fashion", none, "", 47, "").empty()) << "fashion's names are for 10 classes";
  EXPECT_EQ(class_names("fashion", dir, "", 3, "labels 0..2"),
            std::vector<std::string>({"alpha", "beta gamma", "delta"}));
}

TEST_F(DatasetFolder, WrongNumberOfClassNamesNamesTheFileItsLinesAndTheClasses) {
  const fs::path dir = dir_ / "named";
  fs::create_directories(dir);
  write_lines(dir / "classes.txt", lines_of(46, "c"));
  EXPECT_EQ(error_of([&] { class_names(dir.string(), dir, "", 47, "labels 0..46 in L"); }),
            (dir / "classes.txt").string() +
                ": 46 lines, but the dataset has 47 classes (labels 0..46 in L); expected one name per class, in "
                "label order");
  write_lines(dir_ / "mine.txt", {"a", "", "b"});
  EXPECT_EQ(error_of([&] { class_names(dir.string(), dir, (dir_ / "mine.txt").string(), 3, "labels 0..2 in L"); }),
            (dir_ / "mine.txt").string() + ":2: an empty line; expected one class name");
  EXPECT_NE(error_of([&] { class_names("mnist", dir, (dir_ / "nowhere.txt").string(), 10, ""); })
                .find((dir_ / "nowhere.txt").string() + ": no such file"),
            std::string::npos);
}

TEST(DatasetChoice, BuiltInNamesAndFolders) {
  EXPECT_EQ(dataset_dir("mnist", ""), fs::path("data/mnist"));
  EXPECT_EQ(dataset_dir("fashion", ""), fs::path("data/fashion-mnist"));
  EXPECT_EQ(dataset_dir("fashion", "/srv/fm"), fs::path("/srv/fm"));
  EXPECT_EQ(dataset_dir("/srv/kmnist", ""), fs::path("/srv/kmnist"));
  EXPECT_EQ(dataset_dir("mnist-like", ""), fs::path("mnist-like"));
  const std::string both = error_of([] { dataset_dir("/srv/kmnist", "/srv/other"); });
  EXPECT_NE(both.find("/srv/other"), std::string::npos) << both;
  EXPECT_NE(both.find("/srv/kmnist"), std::string::npos) << both;
  EXPECT_EQ(dataset_name("fashion"), "fashion");
  EXPECT_EQ(dataset_name("/srv/emnist-balanced/"), "emnist-balanced");
  EXPECT_EQ(dataset_name("data/kmnist"), "kmnist");
  EXPECT_EQ(dataset_name("/"), "data");
}

TEST_F(DatasetFolder, AModelThatDoesNotFitSaysWhichLineToChange) {
  const fs::path dir = dir_ / "emnist47";
  write_idx_split(dir, patterned(47, 47, 20, 1), "train");
  write_idx_split(dir, patterned(10, 47, 20, 2), "t10k");
  const Dataset train = load_split(dir, true);
  const Model ten = parse_model("input 1 20 20\nflatten\nlinear 10\n", "m.model");
  EXPECT_EQ(error_of([&] { check_classifier_fits(ten, train); }),
            "the network's output has 10 values, but the dataset has 47 classes (labels 0..46 in " +
                (dir / "train-labels-idx1-ubyte").string() + "); change the last linear layer to `linear 47`");
  const Model mnist_sized = parse_model("input 1 28 28\nflatten\nlinear 47\n", "m.model");
  EXPECT_EQ(error_of([&] { check_classifier_fits(mnist_sized, train); }),
            "the model takes inputs [-1, 1, 28, 28] but the dataset has 1x20x20 images; the model file's input line "
            "would read `input 1 20 20`");
  EXPECT_NO_THROW(check_classifier_fits(parse_model("input 1 20 20\nflatten\nlinear 47\n", "m.model"), train));
  // A denoiser has no classes: only the image's shape matters.
  EXPECT_NO_THROW(check_denoiser(parse_model("input 1 20 20\nconv 1 k=3 p=1\n", "d.model"), train));
  EXPECT_NE(error_of([&] { check_denoiser(parse_model("input 1 28 28\nconv 1 k=3 p=1\n", "d.model"), train); })
                .find("`input 1 20 20`"),
            std::string::npos);
  // A dataset made in memory has no class count: every label needs a score.
  const Dataset made = patterned(6, 3, 20, 1);
  EXPECT_NO_THROW(check_classifier_fits(parse_model("input 1 20 20\nflatten\nlinear 3\n", "m.model"), made));
  EXPECT_EQ(error_of([&] { check_classifier_fits(parse_model("input 1 20 20\nflatten\nlinear 2\n", "m"), made); }),
            "the network's output has 2 values, but the dataset has 3 classes (labels 0..2); change the last linear "
            "layer to `linear 3`");
}

// misclassified.png's captions: class names where they fit under the image.
TEST(LabelStrip, EveryLetterAndDigitHasItsOwnGlyph) {
  std::map<std::vector<float>, char> seen;
  std::string characters = "0123456789";
  for (char c = 'A'; c <= 'Z'; ++c) characters += {c, char(c - 'A' + 'a')};
  for (char c : characters) {
    std::vector<float> strip;
    append_label_strip(std::string(1, c), 3, strip);
    EXPECT_GT(std::count(strip.begin(), strip.end(), 1.f), 1) << c;
    const auto [at, fresh] = seen.emplace(strip, c);
    EXPECT_TRUE(fresh) << "'" << c << "' looks like '" << at->second << "'";
  }
  EXPECT_TRUE(label_strip_fits("a>B", 28));
  EXPECT_TRUE(label_strip_fits("T-shir>", 28));     // 7 characters: 27 pixels
  EXPECT_FALSE(label_strip_fits("Trouser>", 28));   // 8: 31 pixels
  EXPECT_FALSE(label_strip_fits("a+b", 28));        // no glyph for '+'
}
