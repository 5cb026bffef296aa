// The model as an ONNX graph, built with ONNX's own schema (Debian's
// libonnx-dev: onnx-ml.pb.h) and checked by ONNX's checker and strict shape
// inference, as Python's onnx.checker.check_model(full_check=True) does.
#include "mnistlab/onnx.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <map>

#include "io/text_file.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

// Opset 13 (ONNX 1.8) has every operator used here in its current form and
// is read by OpenCV 4.x, ONNX Runtime and TensorRT; IR version 7 goes with it.
constexpr int kOpset = 13;
constexpr int kIrVersion = 7;

std::string where(size_t index, const Layer& layer) {
  return "layer " + std::to_string(index) + " (" + layer.type() + ")";
}

// "/3/": torch.onnx.export's prefix for the nodes of module 3 (appended, not
// "/" + ..., which trips GCC 12's -Wrestrict false positive).
std::string node_prefix(size_t index) {
  std::string prefix = "/";
  prefix += std::to_string(index);
  prefix += '/';
  return prefix;
}

int64_t option(size_t index, const Layer& layer, const std::string& name) {
  for (const LayerOption& o : layer.options())
    if (o.name == name) return int64_t(o.value);
  throw Error(where(index, layer) + ": ONNX export needs its " + name + ", which the layer does not give");
}

float float_option(size_t index, const Layer& layer, const std::string& name) {
  for (const LayerOption& o : layer.options())
    if (o.name == name) return float(o.value);
  throw Error(where(index, layer) + ": ONNX export needs its " + name + ", which the layer does not give");
}

void set_ints(onnx::NodeProto& node, const std::string& name, std::initializer_list<int64_t> values) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void set_int(onnx::NodeProto& node, const std::string& name, int64_t value) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::INT);
  a->set_i(value);
}

void set_float(onnx::NodeProto& node, const std::string& name, float value) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(name);
  a->set_type(onnx::AttributeProto::FLOAT);
  a->set_f(value);
}

// kernel_shape, strides and pads of a square window (Conv, ConvTranspose, MaxPool).
void set_window(onnx::NodeProto& node, size_t index, const Layer& layer) {
  const int64_t k = option(index, layer, "kernel_size"), s = option(index, layer, "stride"),
                p = option(index, layer, "padding");
  set_ints(node, "kernel_shape", {k, k});
  set_ints(node, "strides", {s, s});
  set_ints(node, "pads", {p, p, p, p});  // top, left, bottom, right
}

void set_tensor_type(onnx::ValueInfoProto& value, const std::string& name, const std::string& batch_symbol,
                     int batch_size, const SampleShape& shape) {
  value.set_name(name);
  onnx::TypeProto_Tensor* t = value.mutable_type()->mutable_tensor_type();
  t->set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto* dims = t->mutable_shape();
  if (batch_size > 0)
    dims->add_dim()->set_dim_value(batch_size);
  else
    dims->add_dim()->set_dim_param(batch_symbol);
  dims->add_dim()->set_dim_value(shape.c);
  if (shape.rank == 4) {
    dims->add_dim()->set_dim_value(shape.h);
    dims->add_dim()->set_dim_value(shape.w);
  }
}

class GraphWriter {
 public:
  GraphWriter(Model& model, const OnnxOptions& options, onnx::GraphProto& graph)
      : model_(model), options_(options), graph_(graph) {}

  void write() {
    const auto& layers = model_.layers();
    // act[i]: the ONNX name of activation i (0: the input; i + 1: layer i's output).
    std::vector<std::string> act = {"input"};
    std::map<std::string, size_t> named;  // model-file name -> activation index
    if (!model_.input_name().empty()) named[model_.input_name()] = 0;
    for (size_t i = 0; i < layers.size(); ++i) {
      const Layer& layer = *layers[i];
      const bool last = i + 1 == layers.size() && !options_.softmax;
      if (layer.type() == "Dropout") {
        act.push_back(act[i]);  // identity in eval mode
      } else {
        act.push_back(last ? "output" : node_prefix(i) + layer.type() + "_output_0");
        add_layer(i, layer, act[i], act[i + 1], act, named);
      }
      if (!model_.output_name(i).empty()) named[model_.output_name(i)] = i + 1;
    }
    std::string result = act.back();
    if (options_.softmax) {
      if (model_.output_shape().rank != 2)
        throw Error("--softmax: the network's output " + model_.output_shape().str() +
                    " is not a classifier's [N, K]; softmax over its channels is not offered");
      onnx::NodeProto& node = add_node("Softmax", node_prefix(layers.size()) + "Softmax", {result}, "output");
      set_int(node, "axis", 1);
      result = "output";
    }
    if (result != "output") add_node("Identity", "/output/Identity", {result}, "output");  // a trailing Dropout
    set_tensor_type(*graph_.add_input(), "input", "batch_size", options_.batch_size, model_.input_shape());
    set_tensor_type(*graph_.add_output(), "output", "batch_size", options_.batch_size, model_.output_shape());
    add_initializers();
  }

 private:
  Model& model_;
  const OnnxOptions& options_;
  onnx::GraphProto& graph_;

  onnx::NodeProto& add_node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                            const std::string& output) {
    onnx::NodeProto* node = graph_.add_node();
    node->set_op_type(op);
    node->set_name(name);
    for (const std::string& in : inputs) node->add_input(in);
    node->add_output(output);
    return *node;
  }

  // The layer's parameters as ONNX inputs, named by their state_dict keys.
  std::vector<std::string> with_params(size_t index, const Layer& layer, const std::string& x,
                                       std::initializer_list<const char*> names) {
    std::vector<std::string> inputs = {x};
    for (const char* name : names)
      for (const Param& p : layer.params())
        if (p.name == name) inputs.push_back(std::to_string(index) + "." + name);
    return inputs;
  }

  void add_layer(size_t i, const Layer& layer, const std::string& x, const std::string& y,
                 const std::vector<std::string>& act, const std::map<std::string, size_t>& named) {
    const std::string type = layer.type(), name = node_prefix(i);
    if (type == "Conv2d" || type == "ConvTranspose2d") {
      const char* op = type == "Conv2d" ? "Conv" : "ConvTranspose";
      onnx::NodeProto& node = add_node(op, name + op, with_params(i, layer, x, {"weight", "bias"}), y);
      set_window(node, i, layer);
      set_ints(node, "dilations", {1, 1});
      set_int(node, "group", 1);
      if (type == "ConvTranspose2d") {
        const int64_t op_pad = option(i, layer, "output_padding");
        set_ints(node, "output_padding", {op_pad, op_pad});
      }
    } else if (type == "Linear") {
      onnx::NodeProto& node = add_node("Gemm", name + "Gemm", with_params(i, layer, x, {"weight", "bias"}), y);
      set_float(node, "alpha", 1.0f);
      set_float(node, "beta", 1.0f);
      set_int(node, "transB", 1);  // y = x W^T + b, W stored [out, in] as PyTorch stores it
    } else if (type == "BatchNorm2d") {
      onnx::NodeProto& node =
          add_node("BatchNormalization", name + "BatchNormalization",
                   with_params(i, layer, x, {"weight", "bias", "running_mean", "running_var"}), y);
      set_float(node, "epsilon", float_option(i, layer, "eps"));
      // ONNX's momentum weighs the old statistics, PyTorch's the new ones;
      // neither matters in inference, but a reader converting back expects it.
      set_float(node, "momentum", 1.0f - float_option(i, layer, "momentum"));
    } else if (type == "ReLU" || type == "Sigmoid" || type == "Tanh") {
      const std::string op = type == "ReLU" ? "Relu" : type;
      add_node(op, name + op, {x}, y);
    } else if (type == "MaxPool2d") {
      onnx::NodeProto& node = add_node("MaxPool", name + "MaxPool", {x}, y);
      set_window(node, i, layer);
      set_int(node, "ceil_mode", 0);
    } else if (type == "Flatten") {
      set_int(add_node("Flatten", name + "Flatten", {x}, y), "axis", 1);
    } else if (type == "Concat" || type == "Add") {
      const auto* join = dynamic_cast<const JoinLayer*>(&layer);
      const auto source = join ? named.find(join->source()) : named.end();
      if (source == named.end())
        throw Error(where(i, layer) + ": ONNX export cannot find the output it joins");
      onnx::NodeProto& node = add_node(type, name + type, {x, act[source->second]}, y);
      if (type == "Concat") set_int(node, "axis", 1);  // torch.cat([x, source], 1)
    } else {
      throw Error(where(i, layer) + ": ONNX export does not know this layer (it knows Conv2d, ConvTranspose2d, "
                  "Linear, BatchNorm2d, ReLU, Sigmoid, Tanh, MaxPool2d, Dropout, Flatten, Concat and Add)");
    }
  }

  void add_initializers() {
    for (const StateEntry& e : model_.state_dict()) {
      if (e.param->name == "num_batches_tracked") continue;  // training bookkeeping, as torch.onnx.export drops it
      onnx::TensorProto* t = graph_.add_initializer();
      t->set_name(e.key);
      t->set_data_type(onnx::TensorProto::FLOAT);
      for (int d : e.param->shape) t->add_dims(d);
      // raw_data is little-endian, as x86-64 stores floats.
      t->set_raw_data(std::string(reinterpret_cast<const char*>(e.param->value), e.param->numel() * sizeof(float)));
    }
  }
};

}  // namespace

std::string onnx_model_bytes(Model& model, const OnnxOptions& options) {
  if (options.batch_size < 0) throw Error("ONNX export: batch size must be positive, or 0 for a dynamic one");
  onnx::ModelProto proto;
  proto.set_ir_version(kIrVersion);
  proto.set_producer_name("mnistlab");
  proto.set_producer_version("0.1");
  proto.set_doc_string(options.doc);
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(kOpset);
  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name("mnistlab");
  GraphWriter(model, options, graph).write();
  try {
    onnx::checker::check_model(proto);
    onnx::ModelProto inferred = proto;  // strict: a shape that disagrees with the declared output throws
    onnx::shape_inference::InferShapes(inferred, onnx::OpSchemaRegistry::Instance(),
                                       onnx::ShapeInferenceOptions(true, 1, false));
  } catch (const std::exception& e) {
    throw Error(std::string("the ONNX graph made for this network fails ONNX's own checks (a defect of mnistlab's "
                            "exporter): ") + e.what());
  }
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) throw Error("ONNX export: the model is larger than protobuf's 2 GiB limit");
  return bytes;
}

void export_onnx(Model& model, const std::filesystem::path& path, const OnnxOptions& options) {
  write_text(path, onnx_model_bytes(model, options));  // bytes: POSIX has no text mode
}

}  // namespace mnistlab
