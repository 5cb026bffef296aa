// A dataset's class names: a names file (--class-names, or classes.txt in the
// dataset's folder), one name per line, or the built-in names of mnist and
// fashion.
#include <algorithm>

#include "io/text_file.h"
#include "mnistlab/data.h"
#include "mnistlab/error.h"
#include "mnistlab/limits.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

// torchvision.datasets.FashionMNIST.classes; MNIST's are its digits.
const std::vector<std::string> kFashion = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                           "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
const std::vector<std::string> kDigits = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};

std::string trimmed(const std::string& s) {
  const size_t first = s.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return s.substr(first, s.find_last_not_of(" \t\r") - first + 1);
}

std::vector<std::string> read_names(const fs::path& file, int classes, const std::string& classes_source) {
  const std::string text = read_text(file, "a class names file (one name per line)", limits::kClassNamesBytes);
  std::vector<std::string> names;
  for (size_t at = 0; at < text.size();) {
    const size_t end = std::min(text.find('\n', at), text.size());
    names.push_back(trimmed(text.substr(at, end - at)));
    if (names.back().empty())
      throw Error(file.string() + ":" + std::to_string(names.size()) + ": an empty line; expected one class name");
    at = end + 1;
  }
  if (names.size() != size_t(classes))
    throw Error(file.string() + ": " + std::to_string(names.size()) + " lines, but the dataset has " +
                std::to_string(classes) + " classes (" + classes_source + "); expected one name per class, in "
                "label order");
  return names;
}

}  // namespace

std::vector<std::string> class_names(const std::string& dataset, const fs::path& dir, const std::string& names_file,
                                     int classes, const std::string& classes_source) {
  if (!names_file.empty()) return read_names(names_file, classes, classes_source);
  std::error_code ec;
  if (fs::exists(dir / "classes.txt", ec)) return read_names(dir / "classes.txt", classes, classes_source);
  if (classes == 10 && dataset == "fashion") return kFashion;
  if (classes == 10 && dataset == "mnist") return kDigits;
  return {};
}

}  // namespace mnistlab
