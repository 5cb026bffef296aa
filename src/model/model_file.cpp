#include "mnistlab/model_file.h"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>
#include <sstream>

#include "mnistlab/error.h"
#include "mnistlab/limits.h"
#include "model/layer_table.h"

namespace mnistlab {
namespace {

// Text of the file as an error message shows it: bytes that are not
// printable ASCII (a NUL would end the message, binary would garble the
// terminal) as \xNN, and at most `max` characters.
std::string printable(const std::string& text, size_t max) {
  std::string out;
  for (unsigned char c : text) {
    if (max != std::string::npos && out.size() >= max) return out + "...";
    if ((c >= 0x20 && c < 0x7f) || c == '\t') {
      out += char(c);
    } else {
      const char* hex = "0123456789abcdef";
      out += std::string("\\x") + hex[c >> 4] + hex[c & 15];
    }
  }
  return out;
}

std::vector<std::string> split_words(const std::string& line) {
  std::istringstream in(line);
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

SampleShape parse_input(const std::vector<std::string>& words) {
  if (words.size() != 4) throw Error("expected 'input C H W' (three positive integers)");
  int v[3];
  for (int i = 0; i < 3; ++i) {
    try {
      size_t used = 0;
      v[i] = std::stoi(words[i + 1], &used);
      if (used != words[i + 1].size() || v[i] < 1) throw std::invalid_argument("");
    } catch (const std::exception&) {
      throw Error("expected 'input C H W' with positive integers, got '" + words[i + 1] + "'");
    }
  }
  return image_shape(v[0], v[1], v[2]);
}

// "LAYER ARGS... as NAME" names the layer's output for a later concat/add.
std::string take_output_name(std::vector<std::string>& words) {
  const auto as = std::find(words.begin(), words.end(), "as");
  if (as == words.end()) return {};
  if (as + 2 != words.end() || as == words.begin())
    throw Error("expected 'as NAME' at the end of the line, after the layer and its arguments");
  const std::string name = words.back();
  const bool valid = std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_';
  if (!valid || !std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
      }))
    throw Error("bad output name '" + name + "': expected a letter or '_' then letters, digits, '_' or '-'");
  words.resize(words.size() - 2);
  return name;
}

std::unique_ptr<Layer> parse_layer(const std::vector<std::string>& words) {
  const LayerSpec* spec = find_layer_spec(words[0]);
  if (!spec) {
    std::string known;
    for (const LayerSpec& s : layer_table()) known += (known.empty() ? "" : ", ") + s.keyword;
    throw Error("unknown layer '" + words[0] + "'; expected one of: " + known);
  }
  std::string positional;
  std::map<std::string, std::string> keys;
  for (size_t i = 1; i < words.size(); ++i) {
    const auto eq = words[i].find('=');
    if (eq == std::string::npos) {
      if (spec->positional.name.empty() || !positional.empty())
        throw Error("unexpected argument '" + words[i] + "'; usage: " + spec->usage());
      positional = words[i];
      continue;
    }
    const std::string key = words[i].substr(0, eq);
    bool allowed = false;
    for (const LayerKey& k : spec->keys) allowed |= k.name == key;
    if (!allowed) throw Error("unknown option '" + key + "'; usage: " + spec->usage());
    if (!keys.emplace(key, words[i].substr(eq + 1)).second) throw Error("option '" + key + "' given twice");
  }
  try {
    return spec->make(LayerArgs(*spec, positional, keys));
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + "; usage: " + spec->usage());
  }
}

}  // namespace

Model parse_model(std::string_view text, const std::string& origin, const std::optional<SampleShape>& input) {
  std::istringstream in{std::string(text)};
  std::optional<Model> model;
  int number = 0;
  for (std::string raw; std::getline(in, raw);) {
    ++number;
    // Bytes no model file holds become \xNN at once, so every message that
    // quotes a word of the line shows them.
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    const std::string line = printable(raw, std::string::npos);
    if (number > limits::kLayers + 1000)  // layers, the input line, comments and blank lines
      throw Error(origin + ": more than " + std::to_string(limits::kLayers + 1000) +
                  " lines; a model file has at most " + std::to_string(limits::kLayers) + " layers");
    const std::string content = line.substr(0, line.find('#'));
    auto words = split_words(content);
    if (words.empty()) continue;
    std::string trimmed = content.substr(content.find_first_not_of(" \t"));
    trimmed = trimmed.substr(0, trimmed.find_last_not_of(" \t\r") + 1);
    try {
      if (words[0] == "input") {
        if (model) throw Error("'input' may appear only once, as the first line");
        const std::string name = take_output_name(words);
        const SampleShape written = parse_input(words);
        model.emplace(input ? *input : written);
        if (!name.empty()) model->name_input(name);
      } else {
        if (!model) throw Error("the first line must be 'input C H W'");
        const std::string name = take_output_name(words);
        model->add(parse_layer(words), name);
      }
    } catch (const Error& e) {
      throw Error(origin + ":" + std::to_string(number) + ": `" + printable(trimmed, 100) +
                  "`: " + printable(e.what(), 2000));
    }
  }
  if (!model) throw Error(origin + ": empty model file; the first line must be 'input C H W'");
  if (model->layers().empty()) throw Error(origin + ": the model has no layers after 'input'");
  return std::move(*model);
}

}  // namespace mnistlab
