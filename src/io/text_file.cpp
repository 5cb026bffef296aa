#include "io/text_file.h"

#include <cerrno>
#include <fstream>
#include <sstream>

#include "io/temporary_file.h"
#include "mnistlab/error.h"

namespace mnistlab {

namespace fs = std::filesystem;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  if (!in) throw Error(path.string() + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

void write_text(const fs::path& path, const std::string& text) {
  TemporaryFile tmp(path);
  errno = 0;
  {
    std::ofstream out(tmp.path());
    out << text;
    out.flush();
    if (!out) throw_cannot_write(path);
  }
  tmp.commit();
}

}  // namespace mnistlab
