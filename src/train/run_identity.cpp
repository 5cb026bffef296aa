#include "train/run_identity.h"

#include <nlohmann/json.hpp>

#include "mnistlab/error.h"

namespace mnistlab {
namespace {

constexpr const char* kSettingsKey = "mnistlab.run_json";
constexpr const char* kModelKey = "mnistlab.model_txt";

const std::string& recorded(const std::map<std::string, std::string>& metadata, const char* key,
                            const std::string& checkpoint) {
  const auto it = metadata.find(key);
  if (it == metadata.end())
    throw Error(checkpoint + ": its metadata lacks \"" + key + "\", the run it belongs to; it was not written by this "
                "version of mnistlab's train, so it cannot be resumed (start the run again)");
  return it->second;
}

nlohmann::json parsed(const std::string& text, const std::string& origin) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw Error(origin + ": not JSON (" + e.what() + ")");
  }
}

std::string shown(const nlohmann::json* value) { return value ? value->dump() : "(absent)"; }

// The first key whose value differs, in either object, or "".
std::string first_changed_key(const nlohmann::json& saved, const nlohmann::json& now, std::string* was,
                              std::string* is) {
  for (const auto* side : {&saved, &now}) {
    if (!side->is_object()) continue;
    for (const auto& [key, value] : side->items()) {
      const nlohmann::json* a = saved.is_object() && saved.contains(key) ? &saved.at(key) : nullptr;
      const nlohmann::json* b = now.is_object() && now.contains(key) ? &now.at(key) : nullptr;
      if (a && b && *a == *b) continue;
      *was = shown(a);
      *is = shown(b);
      return key;
    }
  }
  return "";
}

size_t first_changed_line(const std::string& a, const std::string& b) {
  size_t line = 1;
  for (size_t i = 0; i < std::min(a.size(), b.size()) && a[i] == b[i]; ++i) line += a[i] == '\n';
  return line;
}

}  // namespace

std::map<std::string, std::string> run_identity(const std::string& settings_json, const std::string& model_text) {
  return {{kSettingsKey, settings_json}, {kModelKey, model_text}};
}

void check_run_identity(const std::map<std::string, std::string>& metadata, const std::string& checkpoint,
                        const std::string& settings_json, const std::string& model_text, const std::string& dir) {
  const std::string& saved_settings = recorded(metadata, kSettingsKey, checkpoint);
  const std::string& saved_model = recorded(metadata, kModelKey, checkpoint);
  const std::string advice = "; --resume continues exactly the run that was saved: put the file back as it was, "
                             "or start a new run with the settings you want";
  if (saved_settings != settings_json) {
    const nlohmann::json saved = parsed(saved_settings, checkpoint + " (\"" + kSettingsKey + "\")");
    const nlohmann::json now = parsed(settings_json, dir + "/run.json");
    std::string was, is;
    const std::string key = first_changed_key(saved, now, &was, &is);
    if (!key.empty())
      throw Error(dir + "/run.json: \"" + key + "\" is " + is + " but the run was saved with " + was + advice);
    if (saved != now) throw Error(dir + "/run.json: differs from the settings the run was saved with" + advice);
  }
  if (saved_model != model_text)
    throw Error(dir + "/model.txt:" + std::to_string(first_changed_line(saved_model, model_text)) +
                ": differs from the network the run was saved with" + advice);
}

}  // namespace mnistlab
