#pragma once
// The one table of layers a model file can name: keyword, arguments and
// how to build the layer. The parser and the help text read it.
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "mnistlab/layer.h"

namespace mnistlab {

// Arguments of one line, checked as they are read; errors say what was expected.
class LayerArgs {
 public:
  LayerArgs(std::string positional, std::map<std::string, std::string> keys)
      : positional_(std::move(positional)), keys_(std::move(keys)) {}
  // The positional argument, 1..max.
  int positive_int(const std::string& what, int64_t max) const;
  const std::string& word(const std::string& what) const;  // the positional argument, any text
  // key=VALUE as an integer in [min, max], or fallback.
  int int_key(const std::string& key, int fallback, int min, int64_t max) const;
  float float_key(const std::string& key, float fallback, float min, float max) const;
  bool bool_key(const std::string& key, bool fallback) const;

 private:
  std::string positional_;
  std::map<std::string, std::string> keys_;
};

struct LayerSpec {
  std::string keyword;                // "conv"
  std::vector<std::string> aliases;   // "conv2d"
  std::string positional;             // name of the one positional argument, or ""
  std::vector<std::string> keys;      // allowed key=value names
  std::string usage;                  // "conv OUT_CHANNELS [k=3] [s=1] [p=0] [bias=1]"
  std::function<std::unique_ptr<Layer>(const LayerArgs&)> make;
};

const std::vector<LayerSpec>& layer_table();
const LayerSpec* find_layer_spec(const std::string& keyword);

}  // namespace mnistlab
