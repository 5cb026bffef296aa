#pragma once
// What a layer kind's ONNX mapping (its row of the layer table) may do to
// the graph being written: add nodes from its input (and a join's second
// input) and its parameters to its output. The exporter
// (src/report/onnx_export.cpp) implements it over ONNX's protobuf types, so
// the table does not depend on them.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace mnistlab {

struct OnnxAttribute {
  std::string name;
  std::variant<int64_t, float, std::vector<int64_t>, std::string> value;
};

class OnnxNodes {
 public:
  virtual ~OnnxNodes() = default;
  virtual const std::string& x() const = 0;       // the layer's input
  virtual const std::string& joined() const = 0;  // a join's second input (the output it names)
  virtual const std::string& y() const = 0;       // the layer's output
  // The initializer holding the layer's parameter `name` ("3.weight"), or ""
  // when the layer has no parameter of that name (a conv without bias).
  virtual std::string param(const std::string& name) const = 0;
  // A name for a value between this layer's nodes ("/3/Erf_output_0").
  virtual std::string value(const std::string& op) const = 0;
  // A constant tensor added as an initializer; returns its name.
  virtual std::string constant(const std::string& name, const std::vector<float>& values,
                               const std::vector<int64_t>& dims) = 0;
  // The same, of int64 values (Pad's pads).
  virtual std::string int_constant(const std::string& name, const std::vector<int64_t>& values,
                                   const std::vector<int64_t>& dims) = 0;
  virtual void node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
                    const std::vector<OnnxAttribute>& attributes = {}) = 0;
  // The layer is the identity in inference (Dropout): y names x's value.
  virtual void identity() = 0;
};

}  // namespace mnistlab
