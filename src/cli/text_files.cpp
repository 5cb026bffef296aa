#include "cli/text_files.h"

#include <fstream>
#include <sstream>

#include "mnistlab/error.h"

namespace mnistlab::cli {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) {
  const fs::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp);
    out << text;
    if (!out) throw Error(path.string() + ": cannot write");
  }
  fs::rename(tmp, path);
}

}  // namespace mnistlab::cli
