// Which folder a --dataset means, and its four IDX files found by name:
// MNIST's own names, EMNIST's emnist-balanced-train-images-idx3-ubyte.gz,
// KMNIST's, or the user's own with any prefix.
#include <algorithm>
#include <map>

#include "mnistlab/data.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

// Where the built-in datasets come from, for a folder that is missing or lacks a file.
const char* const kHowToGetData =
    "mnist's is data/mnist and fashion's data/fashion-mnist, in the current folder, unless --data-dir DIR names "
    "it; scripts/get-data.sh in the mnistlab checkout puts them in its data/ (scripts/get-data.sh /PATH: in "
    "/PATH/mnist and /PATH/fashion-mnist); another dataset is --dataset DIR";
constexpr size_t kNamesShown = 12;

// "a, b, c" of at most kNamesShown names, then how many more.
std::string listed(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < kNamesShown; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kNamesShown) out += ", and " + std::to_string(names.size() - kNamesShown) + " more";
  return out.empty() ? "nothing" : out;
}

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// The one file whose name ends in one of `tails` (+ optional .gz); a file
// and its .gz count as one, the raw one first, as torchvision unpacks them.
fs::path find_one(const fs::path& dir, const std::vector<std::string>& files, const std::vector<std::string>& tails) {
  std::map<std::string, std::string> found;  // name without .gz -> the file to read
  for (const std::string& name : files) {
    const bool gz = ends_with(name, ".gz");
    const std::string raw = gz ? name.substr(0, name.size() - 3) : name;
    for (const std::string& tail : tails) {
      if (!ends_with(raw, tail)) continue;
      if (!gz || !found.count(raw)) found[raw] = name;
    }
  }
  std::string pattern;
  for (const std::string& tail : tails) pattern += (pattern.empty() ? "*" : " or *") + tail + "[.gz]";
  if (found.size() == 1) return dir / found.begin()->second;
  if (found.empty())
    throw Error(dir.string() + ": no file matches " + pattern + "; the folder holds " + listed(files) +
                " (" + kHowToGetData + ")");
  std::vector<std::string> matches;
  for (const auto& entry : found) matches.push_back(entry.second);
  throw Error(dir.string() + ": " + std::to_string(matches.size()) + " files match " + pattern + ": " +
              listed(matches) + "; expected exactly one (keep one dataset's files per folder)");
}

}  // namespace

DatasetFiles find_dataset_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw Error(dir.string() + ": no such folder" +
                (dir.is_relative() ? " in " + fs::current_path(ec).string() : std::string()) +
                "; expected a folder of IDX files (" + kHowToGetData + ")");
  if (!fs::is_directory(dir, ec))
    throw Error(dir.string() + ": is not a folder; expected a folder of IDX files (train-images-idx3-ubyte, ...)");
  std::vector<std::string> files;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, ec))
    if (entry.is_regular_file(ec)) files.push_back(entry.path().filename().string());
  if (ec) throw Error(dir.string() + ": cannot list the folder: " + ec.message());
  std::sort(files.begin(), files.end());
  const auto train = [&](const std::string& kind) { return find_one(dir, files, {"train-" + kind}); };
  const auto test = [&](const std::string& kind) { return find_one(dir, files, {"t10k-" + kind, "test-" + kind}); };
  return {train("images-idx3-ubyte"), train("labels-idx1-ubyte"), test("images-idx3-ubyte"),
          test("labels-idx1-ubyte")};
}

bool is_builtin_dataset(const std::string& dataset) { return dataset == "mnist" || dataset == "fashion"; }

fs::path dataset_dir(const std::string& dataset, const std::string& data_dir) {
  if (is_builtin_dataset(dataset)) {
    if (!data_dir.empty()) return data_dir;
    return dataset == "fashion" ? "data/fashion-mnist" : "data/mnist";
  }
  if (!data_dir.empty())
    throw Error("the data folder " + data_dir + " is for the datasets mnist and fashion; the dataset " + dataset +
                " is a folder itself");
  return dataset;
}

std::string dataset_name(const std::string& dataset) {
  if (is_builtin_dataset(dataset)) return dataset;
  std::error_code ec;
  fs::path path = fs::absolute(dataset, ec).lexically_normal();  // "data/kmnist/", ".", "../emnist"
  if (!path.has_filename()) path = path.parent_path();
  const std::string name = path.filename().string();
  return name.empty() ? "data" : name;
}

}  // namespace mnistlab
