// The command as someone new to it meets it: a typo names the command or
// option meant, a missing data folder says how to give or fetch one, every
// --help fits a screen and every option it lists is explained in the
// README or docs/guide.md, a preset is named as one, and the docs cite only
// files of the repository.
#include <regex>
#include <set>
#include <sstream>

#include "cli_fixture.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

const fs::path kSourceDir = fs::path(MNISTLAB_CHECK_ONNX).parent_path().parent_path().parent_path();

// The commands with options of their own, as typed after `mnistlab`.
const std::vector<std::string> kCommands = {"train", "eval",          "predict",       "summary", "pairs",
                                            "info",  "denoise train", "denoise apply", "export"};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_F(Cli, AnUnknownCommandIsNamedWithTheClosestOne) {
  const auto top = run("trian --epochs 1");
  EXPECT_NE(top.exit_code, 0);
  EXPECT_TRUE(contains(top.output, "error: unknown command 'trian'; did you mean 'train'?")) << top.output;
  EXPECT_FALSE(contains(top.output, "A subcommand is required")) << top.output;
  const auto nested = run("denoise aply in.png out.png");
  EXPECT_NE(nested.exit_code, 0);
  EXPECT_TRUE(contains(nested.output, "unknown command 'denoise aply'; did you mean 'denoise apply'?")) << nested.output;
  // Nothing close: the commands are listed instead.
  const auto far = run("frobnicate");
  EXPECT_NE(far.exit_code, 0);
  EXPECT_TRUE(contains(far.output, "unknown command 'frobnicate' (the commands: train, eval, predict,")) << far.output;
  EXPECT_FALSE(contains(far.output, "did you mean")) << far.output;
}

TEST_F(Cli, AnUnknownOptionIsNamedWithTheClosestOneInEveryCommand) {
  // A typo of one of each command's options: a letter lost, two swapped, one wrong.
  struct Case {
    std::string command, args, typo, meant;
  };
  const std::vector<Case> cases = {
      {"train", "--epoch 1", "--epoch", "--epochs"},
      {"train", "--lr-shcedule cosine", "--lr-shcedule", "--lr-schedule"},
      {"eval", "--wieghts w.safetensors", "--wieghts", "--weights"},
      {"predict", "--weights w.safetensors --tpo 2 a.png", "--tpo", "--top"},
      {"summary", "fast --jsn", "--jsn", "--json"},
      {"pairs", "--cuont 3", "--cuont", "--count"},
      {"info", "--batch-sise 8", "--batch-sise", "--batch-size"},
      {"denoise train", "--nois gaussian", "--nois", "--noise"},
      {"denoise apply", "--weights w.safetensors --treads 2 in.png out.png", "--treads", "--threads"},
      {"export", "--weights w.safetensors --out x.onnx --sofmax", "--sofmax", "--softmax"},
  };
  std::set<std::string> covered;
  for (const Case& c : cases) {
    SCOPED_TRACE(c.command + " " + c.args);
    const auto r = run(c.command + " " + c.args);
    EXPECT_NE(r.exit_code, 0);
    EXPECT_TRUE(contains(r.output, "error: unknown option '" + c.typo + "'; did you mean '" + c.meant + "'? (see " +
                                       std::string(MNISTLAB_CLI) + " " + c.command + " --help)"))
        << r.output;
    covered.insert(c.command);
  }
  EXPECT_EQ(covered, std::set<std::string>(kCommands.begin(), kCommands.end()));
  // Nothing close: no guess.
  const auto far = run("train --frobnicate 3");
  EXPECT_NE(far.exit_code, 0);
  EXPECT_TRUE(contains(far.output, "unknown option '--frobnicate' (see ")) << far.output;
  EXPECT_FALSE(contains(far.output, "did you mean")) << far.output;
  // An option's value that starts with '-' is a value, not an unknown option.
  const auto negative = run("train --lr -1");
  EXPECT_NE(negative.exit_code, 0);
  EXPECT_TRUE(contains(negative.output, "--lr: expected a number in (0, 10], got '-1'")) << negative.output;
  EXPECT_FALSE(contains(negative.output, "unknown")) << negative.output;
}

TEST_F(Cli, AMissingDataFolderNamesDataDirAndTheScriptThatFetchesIt) {
  // Run where there is no data/ folder, as outside the checkout.
  const auto r = run("train --epochs 1 --out " + (dir_ / "run").string(), true, dir_ / "data");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "error: data/mnist: no such folder in " + (dir_ / "data").string() + ";")) << r.output;
  EXPECT_TRUE(contains(r.output, "--data-dir DIR")) << r.output;
  EXPECT_TRUE(contains(r.output, "scripts/get-data.sh")) << r.output;
  EXPECT_FALSE(fs::exists(dir_ / "run")) << "nothing written";
  // The script named is the one that fetches the data, and the README tells of it and of --data-dir.
  EXPECT_TRUE(fs::exists(kSourceDir / "scripts" / "get-data.sh"));
  const std::string readme = read_file(kSourceDir / "README.md");
  EXPECT_TRUE(contains(readme, "--data-dir DIR")) << "README.md";
  EXPECT_TRUE(contains(readme, "scripts/get-data.sh")) << "README.md";
}

TEST_F(Cli, EveryHelpFitsAScreen) {
  std::vector<std::string> commands = kCommands;
  commands.insert(commands.end(), {"", "denoise"});
  for (const std::string& command : commands) {
    SCOPED_TRACE("mnistlab " + command + " --help");
    const auto help = run(command + " --help");
    ASSERT_EQ(help.exit_code, 0) << help.output;
    std::stringstream lines(help.output);
    int count = 0;
    for (std::string line; std::getline(lines, line); ++count) EXPECT_LE(line.size(), 100u) << line;
    EXPECT_LE(count, 45) << help.output;
    EXPECT_GE(count, 8) << help.output;
  }
  // The long explanations are in the guide, not in four commands' help.
  for (const std::string command : {"train", "eval", "pairs", "denoise train"}) {
    const std::string help = run(command + " --help").output;
    EXPECT_TRUE(contains(help, "--dataset NAME|PATH")) << command;
    EXPECT_FALSE(contains(help, "*test-labels-idx1-ubyte")) << command;
  }
}

TEST_F(Cli, EveryOptionInTheHelpIsExplainedInTheReadmeOrTheGuide) {
  const std::string docs = read_file(kSourceDir / "README.md") + read_file(kSourceDir / "docs" / "guide.md");
  std::vector<std::string> commands = kCommands;
  commands.push_back("");
  int options = 0;
  for (const std::string& command : commands) {
    const std::string help = run(command + " --help").output;
    const std::regex flag("\n  (?:-h,)?(--[a-z][a-z-]*)");
    for (std::sregex_iterator it(help.begin(), help.end(), flag), end; it != end; ++it) {
      const std::string name = (*it)[1];
      if (name == "--help" || name == "--version") continue;
      ++options;
      EXPECT_TRUE(std::regex_search(docs, std::regex(name + "(?![a-z-])")))
          << "mnistlab " << command << " " << name << " is in neither README.md nor docs/guide.md";
    }
  }
  EXPECT_GE(options, 60);
}

TEST_F(Cli, APresetIsNamedAsAPresetNotAsAFileThatNeedNotBeThere) {
  write_dataset();
  const auto r = run("train --model fast --epochs 1 --threads 1 --train-limit 64 " + data(), true, dir_);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // fast has 29,290 parameters (docs/results.md).
  EXPECT_TRUE(contains(r.output, "\nmodel fast (preset): 29290 parameters; ") ||
              r.output.rfind("model fast (preset): 29290 parameters; ", 0) == 0)
      << r.output;
  EXPECT_FALSE(contains(r.output, "models/fast.model")) << r.output;
  // An error about a preset names it the same way.
  const auto denoiser = run("denoise train --model fast --epochs 1 --data-dir " + (dir_ / "data").string() +
                                " --out " + (dir_ / "denoise").string());
  EXPECT_NE(denoiser.exit_code, 0);
  EXPECT_TRUE(contains(denoiser.output, "fast (preset)")) << denoiser.output;
}

// --resume on a finished run (the README's resume line after a run that
// ended) says so and how to train on from its weights, which then works.
TEST_F(Cli, ResumingAFinishedRunSaysHowToTrainOnFromItsWeights) {
  write_dataset();
  ASSERT_EQ(run("train --model fast --epochs 1 --threads 1 --train-limit 64 " + data()).exit_code, 0);
  const auto r = run("train --resume " + (dir_ / "run").string());
  EXPECT_NE(r.exit_code, 0);
  const std::string weights = (dir_ / "run" / "last.safetensors").string();
  EXPECT_TRUE(contains(r.output, "this run finished (its report.txt is there), so there is nothing to resume")) << r.output;
  EXPECT_TRUE(contains(r.output, "--init-weights " + weights)) << r.output;
  const auto on = run("train --model fast --epochs 1 --threads 1 --train-limit 64 --init-weights " + weights +
                      " --data-dir " + (dir_ / "data").string() + " --out " + (dir_ / "on").string());
  EXPECT_EQ(on.exit_code, 0) << on.output;
}

// command.txt holds the command as bash reads it back: pasted, a run
// folder with a space and a quote in its name is the same folder.
TEST_F(Cli, CommandTxtCanBePastedBack) {
  write_dataset();
  const fs::path odd = dir_ / "it's a run";
  const std::string args = "train --model fast --epochs 1 --threads 1 --train-limit 64 --data-dir " +
                           (dir_ / "data").string() + " --out \"" + odd.string() + "\"";
  ASSERT_EQ(run(args).exit_code, 0);
  std::string command = read_file(odd / "command.txt");
  ASSERT_FALSE(command.empty());
  command.pop_back();  // the newline
  EXPECT_NE(command.find("'"), std::string::npos) << command;  // quoted, not as typed unquoted
  fs::rename(odd, dir_ / "first");
  const CommandResult again = run_shell(command + " 2>&1");
  EXPECT_EQ(again.exit_code, 0) << command << "\n" << again.output;
  EXPECT_TRUE(fs::exists(odd / "report.txt")) << command;
  EXPECT_EQ(read_file(odd / "command.txt"), command + "\n");
}

TEST(Docs, TheReadmeAndTheGuideLinkOnlyToFilesOfTheRepository) {
  int links = 0;
  for (const fs::path& doc : {kSourceDir / "README.md", kSourceDir / "docs" / "guide.md",
                              kSourceDir / "docs" / "results.md"}) {
    const std::string text = read_file(doc);
    ASSERT_FALSE(text.empty()) << doc;
    const std::regex link("\\]\\(([^)#]*)(#[^)]*)?\\)");
    for (std::sregex_iterator it(text.begin(), text.end(), link), end; it != end; ++it) {
      const std::string target = (*it)[1];
      if (target.empty() || target.rfind("http", 0) == 0) continue;
      ++links;
      const fs::path path = (doc.parent_path() / target).lexically_normal();
      const std::string relative = path.lexically_relative(kSourceDir).string();
      EXPECT_TRUE(!relative.empty() && relative.rfind("..", 0) != 0) << doc << " links outside the repository: " << target;
      EXPECT_TRUE(fs::exists(path)) << doc << " links to a missing file: " << target;
    }
    // A path written out in the text (`../shared/DESIGN.md`) that leaves the repository.
    EXPECT_FALSE(std::regex_search(text, std::regex("`\\.\\./[^`]*`|[ (]\\.\\./\\.\\./"))) << doc;
  }
  EXPECT_GE(links, 10);
}
