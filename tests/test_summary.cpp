// `mnistlab summary` against torchsummary: the expected text comes from
// tests/reference/make_summaries.py (PyTorch modules, forward hooks,
// torchsummary's formatting), and the totals from the course's report.
#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "mnistlab/model_file.h"
#include "mnistlab/summary.h"

using namespace mnistlab;

namespace {

using test::run;
using Output = test::CommandResult;

Output run_cli(const std::string& args, bool with_stderr = false) { return run(args, with_stderr); }

std::string reference(const std::string& name) {
  const std::string path = std::string(MNISTLAB_REFERENCE_DIR) + "/" + name + ".summary.txt";
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << path << " is missing: run tests/reference/make_summaries.py --out "
                         << MNISTLAB_REFERENCE_DIR << " (the ctest fixture does)";
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Summary preset_summary(const std::string& name) {
  const ModelSource source = resolve_model(name);
  return summarize(parse_model(source.text, source.origin));
}

}  // namespace

TEST(Summary, BaselineIsByteIdenticalToTorchsummary) {
  const Output r = run_cli("summary baseline");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, reference("baseline"));
}

TEST(Summary, VggBnIsByteIdenticalToTorchsummary) {
  const Output r = run_cli("summary vgg-bn");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.output, reference("vgg-bn"));
}

// The course's published figures, independent of any script.
TEST(Summary, CoursesPublishedFigures) {
  const std::string baseline = format_summary(preset_summary("baseline"));
  for (const char* line : {"Total params: 6,444,170\n", "            Conv2d-1           [-1, 32, 28, 28]             320\n",
                           "            Linear-6                  [-1, 256]       6,422,784\n",
                           "Input size (MB): 0.00\n", "Forward/backward pass size (MB): 0.96\n",
                           "Params size (MB): 24.58\n", "Estimated Total Size (MB): 25.55\n"})
    EXPECT_NE(baseline.find(line), std::string::npos) << line;
  const std::string vgg = format_summary(preset_summary("vgg-bn"));
  for (const char* line : {"Total params: 30,292,490\n", "Forward/backward pass size (MB): 1.45\n",
                           "Params size (MB): 115.56\n", "Estimated Total Size (MB): 117.01\n"})
    EXPECT_NE(vgg.find(line), std::string::npos) << line;
}

TEST(Summary, JsonHasTheSameNumbers) {
  const Output r = run_cli("summary vgg-bn --json");
  ASSERT_EQ(r.exit_code, 0);
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["total_params"], 30292490);
  EXPECT_EQ(j["trainable_params"], 30292490);
  EXPECT_EQ(j["non_trainable_params"], 0);
  // 16 blocks of Conv2d, BatchNorm2d, ReLU, then Linear: 49 rows.
  ASSERT_EQ(j["layers"].size(), 49u);
  EXPECT_EQ(j["layers"][1]["name"], "BatchNorm2d-2");
  EXPECT_EQ(j["layers"][1]["params"], 64);  // weight and bias of 32 channels
  EXPECT_EQ(j["layers"][48]["output_shape"], nlohmann::json({-1, 10}));
  EXPECT_EQ(j["layers"][3]["output_shape"], nlohmann::json({-1, 32, 14, 14}));
  char mb[32];
  std::snprintf(mb, sizeof mb, "%.2f", j["estimated_total_size_mb"].get<double>());
  EXPECT_STREQ(mb, "117.01");
}

TEST(Summary, InputOptionReplacesTheFilesInput) {
  const Output r = run_cli("summary baseline --input 3,28,28 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["layers"][0]["params"], 3 * 9 * 32 + 32);
  EXPECT_EQ(j["input_shape"], nlohmann::json({-1, 3, 28, 28}));
}

// Joins are layers of the file with an index, so they get rows (as modules
// would); Flatten is a view, as in the course's networks. Counts by hand.
TEST(Summary, JoinsAreRowsAndFlattenIsNot) {
  const Summary s =
      summarize(parse_model("input 1 8 8\nconv 4 k=3 p=1 as a\nrelu\nadd a\nconcat a\nflatten\nlinear 2\n", "t"));
  std::vector<std::string> names;
  for (const auto& row : s.rows) names.push_back(row.name);
  EXPECT_EQ(names, (std::vector<std::string>{"Conv2d-1", "ReLU-2", "Add-3", "Concat-4", "Linear-5"}));
  EXPECT_EQ(s.rows[3].output, image_shape(8, 8, 8));
  EXPECT_EQ(s.rows[0].params, 4 * 9 + 4);
  EXPECT_EQ(s.rows[4].params, 512 * 2 + 2);
  EXPECT_EQ(s.total_params, 40 + 1026);
}

TEST(Summary, BadInputOptionIsAClearError) {
  const Output r = run_cli("summary baseline --input 1,28", true);
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.output.find("--input: expected C,H,W"), std::string::npos) << r.output;
  const Output unknown = run_cli("summary no-such-net", true);
  EXPECT_NE(unknown.exit_code, 0);
  EXPECT_NE(unknown.output.find("unknown model 'no-such-net'"), std::string::npos) << unknown.output;
}
