// The layer table, iterated, so a half-declared kind fails here: every row
// is whole; every example model of every row has gradients that match
// finite differences (training and eval mode, 1 and 2 threads), computes
// what PyTorch computes from the module the table names (forward, input and
// parameter gradients, buffers), and exports to an ONNX file that OpenCV's
// dnn runs to the same outputs; the README, the model-file help and the
// fuzz dictionary name every kind.
#include <gtest/gtest.h>

#include <set>

#include "cli_fixture.h"
#include "gradcheck.h"
#include "mnistlab/model_file.h"
#include "mnistlab/onnx.h"
#include "mnistlab/safetensors.h"
#include "model/layer_table.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

const fs::path kSourceDir = fs::path(MNISTLAB_CHECK_ONNX).parent_path().parent_path().parent_path();

struct Example {
  const LayerSpec* spec;
  size_t index;
  const LayerExample& example() const { return spec->examples[index]; }
  std::string name() const { return spec->keyword + "_" + std::to_string(index); }
  Model model() const { return parse_model(example().model, name() + ".model"); }
};

std::vector<Example> all_examples() {
  std::vector<Example> examples;
  for (const LayerSpec& spec : layer_table())
    for (size_t i = 0; i < spec.examples.size(); ++i) examples.push_back({&spec, i});
  return examples;
}

bool holds(const Model& model, LayerKind kind) {
  for (const auto& layer : model.layers())
    if (layer->kind() == kind) return true;
  return false;
}

}  // namespace

TEST(LayerTable, EveryRowIsWhole) {
  std::set<std::string> words;
  std::set<LayerKind> kinds;
  for (const LayerSpec& spec : layer_table()) {
    SCOPED_TRACE(spec.keyword);
    EXPECT_NE(spec.kind, LayerKind::Custom);
    EXPECT_TRUE(kinds.insert(spec.kind).second) << "two rows for one kind";
    EXPECT_TRUE(words.insert(spec.keyword).second) << "keyword used twice";
    for (const std::string& alias : spec.aliases) EXPECT_TRUE(words.insert(alias).second) << alias;
    EXPECT_EQ(&layer_spec(spec.kind), &spec);
    EXPECT_FALSE(spec.pytorch_class.empty());
    EXPECT_FALSE(spec.help.empty());
    EXPECT_TRUE(spec.make && spec.pytorch && spec.onnx) << "make, pytorch and onnx are all needed";
    ASSERT_FALSE(spec.examples.empty()) << "no example: the gradient check, PyTorch and ONNX never see it";
    for (const LayerExample& e : spec.examples) EXPECT_TRUE(holds(parse_model(e.model, "example"), spec.kind)) << e.model;
    // Every word of a choice (upsample's mode=) is in some example: each is
    // its own arithmetic.
    for (const LayerKey& key : spec.keys)
      for (size_t c = 0; c < key.choices.size(); ++c) {
        bool seen = false;
        for (const LayerExample& e : spec.examples)
          seen |= e.model.find(key.name + "=" + key.choices[c]) != std::string::npos ||
                  (c == size_t(key.fallback) && e.model.find(key.name + "=") == std::string::npos);
        EXPECT_TRUE(seen) << key.name << "=" << key.choices[c] << " in no example";
      }
    // Its defaults build a layer of its kind (a count or a name where it
    // takes one), in place of the first example's last line.
    std::string line = spec.keyword;
    if (!spec.positional.name.empty()) line += spec.positional.max ? " 3" : " image";
    const std::string& first = spec.examples[0].model;
    Model model = parse_model(first.substr(0, first.rfind('\n') + 1) + line, "defaults");
    EXPECT_EQ(model.layers().back()->kind(), spec.kind);
    EXPECT_EQ(model.layers().back()->type(), spec.pytorch_class);
  }
}

class LayerExamples : public ::testing::TestWithParam<Example> {};

TEST_P(LayerExamples, GradientsMatchFiniteDifferences) {
  const Example& e = GetParam();
  for (bool training : {true, false})
    for (int threads : {1, 2}) {
      SCOPED_TRACE(std::string(training ? "training" : "eval") + ", threads " + std::to_string(threads));
      GradCheckOptions o;
      o.training = training;
      o.distinct_inputs = e.example().distinct_inputs;
      o.input_min_abs = e.example().input_min_abs;
      o.backend.threads = threads;
      EXPECT_GRADCHECK(gradcheck(e.model(), o));
    }
}

INSTANTIATE_TEST_SUITE_P(EveryKind, LayerExamples, ::testing::ValuesIn(all_examples()),
                         [](const ::testing::TestParamInfo<Example>& info) { return info.param.name(); });

namespace {

// What the checker needs of one mode: y, dx, every gradient, the buffers after the forward.
void record(Model& model, const std::vector<float>& x, const std::vector<float>& r, int batch,
            const std::string& mode, std::map<std::string, StoredTensor>& io) {
  model.train(mode == "train");
  model.reserve(batch, true);
  const Tensor& y = model.forward(x.data(), batch);
  std::vector<int64_t> y_dims = {batch, y.shape.c};
  if (y.shape.rank == 4) y_dims.insert(y_dims.end(), {y.shape.h, y.shape.w});
  io[mode + ".y"] = f32_tensor(y.data, y_dims);
  std::vector<float> dx(x.size());
  model.backward(r.data(), dx.data());
  io[mode + ".dx"] = f32_tensor(dx.data(), {int64_t(dx.size())});
  for (const StateEntry& s : model.state_dict()) {
    const bool parameter = s.param->kind == ParamKind::Parameter;
    io[mode + (parameter ? ".grad." : ".state.") + s.key] =
        f32_tensor(parameter ? s.param->grad : s.param->value, {int64_t(s.param->numel())});
  }
}

}  // namespace

TEST(LayerTable, EveryExampleMatchesPyTorchAndRunsInOpenCv) {
  const fs::path dir = fs::temp_directory_path() / ("mnistlab_layer_cases_" + std::to_string(getpid()));
  fs::remove_all(dir);
  std::vector<std::string> names;
  for (const Example& e : all_examples()) {
    SCOPED_TRACE(e.name());
    const fs::path folder = dir / e.name();
    fs::create_directories(folder);
    Model model = e.model();
    model.build(5);
    // Parameters off their initial values, running statistics off 0 and 1,
    // so that none of them is a no-op.
    Rng rng(17);
    for (const StateEntry& s : model.state_dict())
      for (size_t i = 0; i < s.param->numel(); ++i) {
        if (s.param->name == "running_var") s.param->value[i] = rng.uniform(0.5f, 2.f);
        else if (s.param->name != "num_batches_tracked") s.param->value[i] += rng.uniform(-0.3f, 0.3f);
      }
    save_state_dict(model, folder / "weights.safetensors");
    const int batch = 3;
    const SampleShape in = model.input_shape();
    std::vector<float> x(size_t(batch) * in.numel()), r(size_t(batch) * model.output_shape().numel());
    for (float& v : x) v = rng.uniform(-1.f, 1.f);
    for (float& v : r) v = rng.uniform(-1.f, 1.f);
    std::map<std::string, StoredTensor> io = {{"x", f32_tensor(x.data(), {batch, in.c, in.h, in.w})},
                                              {"r", f32_tensor(r.data(), {int64_t(r.size())})}};
    if (!holds(model, LayerKind::Dropout)) record(model, x, r, batch, "train", io);
    load_state_dict(model, folder / "weights.safetensors");
    record(model, x, r, batch, "eval", io);
    write_safetensors(folder / "io.safetensors", io);
    load_state_dict(model, folder / "weights.safetensors");
    try {
      std::ofstream(folder / "net.py") << pytorch_module_source(model);
      OnnxOptions onnx;
      onnx.batch_size = 0;
      export_onnx(model, folder / "net.onnx", onnx);
    } catch (const Error& error) {
      ADD_FAILURE() << e.name() << ": " << error.what();
    }
    names.push_back(e.name());
  }
  const CommandResult checked = run_shell("/usr/bin/python3 '" + (kSourceDir / "tests/reference/check_layer_cases.py").string() +
                                          "' '" + dir.string() + "' 2>&1");
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  for (const std::string& name : names)
    EXPECT_NE(checked.output.find("case " + name + ": ok"), std::string::npos) << name << ":\n" << checked.output;
  std::cout << checked.output;
  fs::remove_all(dir);
}

// The README's model-file block, `summary --help` and the fuzz dictionary
// name every kind: they are written from the table or checked against it.
TEST(LayerTable, TheReadmeTheHelpAndTheFuzzDictionaryNameEveryKind) {
  const std::string readme = read_file(kSourceDir / "README.md");
  const size_t begin = readme.find("<!-- layers:begin -->\n```\n"), end = readme.find("```\n<!-- layers:end -->");
  ASSERT_NE(begin, std::string::npos);
  ASSERT_NE(end, std::string::npos);
  const size_t from = begin + std::string("<!-- layers:begin -->\n```\n").size();
  EXPECT_EQ(readme.substr(from, end - from), layer_reference())
      << "the README's layer block must be the table's (mnistlab summary --help prints its syntax lines)";

  // summary --help shows each kind's syntax (the README the rest, to fit a screen).
  const CommandResult help = run("summary --help");
  for (const LayerSpec& spec : layer_table())
    EXPECT_NE(help.output.find("\n  " + spec.usage() + "\n"), std::string::npos) << help.output;

  const std::string dict = read_file(kSourceDir / "fuzz/dict/model_file.dict");
  for (const LayerSpec& spec : layer_table()) {
    EXPECT_NE(dict.find("\"" + spec.keyword + "\""), std::string::npos) << spec.keyword << " not in the fuzz dictionary";
    for (const LayerKey& key : spec.keys) {
      EXPECT_NE(dict.find("\"" + key.name + "=\""), std::string::npos) << key.name << "= not in the fuzz dictionary";
      for (const std::string& word : key.choices)
        EXPECT_NE(dict.find("\"" + word + "\""), std::string::npos) << word << " not in the fuzz dictionary";
    }
  }
}
