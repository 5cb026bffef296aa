#include <filesystem>

#include "io/text_file.h"
#include "mnistlab/error.h"
#include "mnistlab/limits.h"
#include "mnistlab/model_file.h"

namespace mnistlab {

// Generated from models/*.model (cmake/embed_presets.cmake).
const std::vector<std::pair<std::string_view, std::string_view>>& preset_table();

std::vector<std::string> preset_names() {
  std::vector<std::string> names;
  for (const auto& [name, text] : preset_table()) names.emplace_back(name);
  return names;
}

ModelSource resolve_model(const std::string& name_or_path) {
  for (const auto& [name, text] : preset_table())
    if (name == name_or_path) return {std::string(text), std::string(name) + " (preset)"};
  std::error_code ec;
  if (std::filesystem::exists(name_or_path, ec))
    return {read_text(name_or_path, "a model file", limits::kModelFileBytes), name_or_path};
  std::string known;
  for (const auto& name : preset_names()) known += (known.empty() ? "" : ", ") + name;
  throw Error("unknown model '" + name_or_path + "': not a preset (" + known + ") and not a model file");
}

}  // namespace mnistlab
