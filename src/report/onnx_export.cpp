// The model as an ONNX graph, built with ONNX's own schema (Debian's
// libonnx-dev: onnx-ml.pb.h) and checked by ONNX's checker and strict shape
// inference, as Python's onnx.checker.check_model(full_check=True) does.
#include "mnistlab/onnx.h"

#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <cstring>
#include <map>
#include <variant>

#include "io/text_file.h"
#include "mnistlab/error.h"
#include "model/layer_table.h"

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

void set_attribute(onnx::NodeProto& node, const OnnxAttribute& attribute) {
  onnx::AttributeProto* a = node.add_attribute();
  a->set_name(attribute.name);
  if (const auto* i = std::get_if<int64_t>(&attribute.value)) {
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(*i);
  } else if (const auto* f = std::get_if<float>(&attribute.value)) {
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(*f);
  } else if (const auto* ints = std::get_if<std::vector<int64_t>>(&attribute.value)) {
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t v : *ints) a->add_ints(v);
  } else {
    a->set_type(onnx::AttributeProto::STRING);
    a->set_s(std::get<std::string>(attribute.value));
  }
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
      std::string joined;
      if (const auto* join = dynamic_cast<const JoinLayer*>(&layer)) {
        const auto source = named.find(join->source());
        if (source == named.end()) throw Error(where(i, layer) + ": ONNX export cannot find the output it joins");
        joined = act[source->second];
      }
      const std::string y = last ? "output" : node_prefix(i) + layer.type() + "_output_0";
      LayerNodes nodes(*this, i, layer, act[i], joined, y);
      const LayerSpec* spec = layer.kind() == LayerKind::Custom ? nullptr : &layer_spec(layer.kind());
      if (!spec || !spec->onnx) {
        std::string known;
        for (const LayerSpec& s : layer_table())
          if (s.onnx) known += (known.empty() ? "" : ", ") + s.pytorch_class;
        throw Error(where(i, layer) + ": ONNX export does not know this layer (it knows " + known + ")");
      }
      spec->onnx(layer, nodes);
      act.push_back(nodes.is_identity() ? act[i] : y);
      if (!model_.output_name(i).empty()) named[model_.output_name(i)] = i + 1;
    }
    std::string result = act.back();
    if (options_.softmax) {
      if (model_.output_shape().rank != 2)
        throw Error("--softmax: the network's output " + model_.output_shape().str() +
                    " is not a classifier's [N, K]; softmax over its channels is not offered");
      add_node("Softmax", node_prefix(layers.size()) + "Softmax", {result}, "output", {{"axis", int64_t(1)}});
      result = "output";
    }
    if (result != "output") add_node("Identity", "/output/Identity", {result}, "output", {});  // a trailing Dropout
    set_tensor_type(*graph_.add_input(), "input", "batch_size", options_.batch_size, model_.input_shape());
    set_tensor_type(*graph_.add_output(), "output", "batch_size", options_.batch_size, model_.output_shape());
    add_initializers();
  }

 private:
  // One layer's view of the graph, as its row of the layer table sees it.
  class LayerNodes final : public OnnxNodes {
   public:
    LayerNodes(GraphWriter& graph, size_t index, const Layer& layer, std::string x, std::string joined, std::string y)
        : graph_(graph), index_(index), layer_(layer), x_(std::move(x)), joined_(std::move(joined)), y_(std::move(y)) {}
    const std::string& x() const override { return x_; }
    const std::string& joined() const override {
      if (joined_.empty()) throw Error(where(index_, layer_) + ": ONNX export: not a join");
      return joined_;
    }
    const std::string& y() const override { return y_; }
    std::string param(const std::string& name) const override {
      for (const Param& p : layer_.params())
        if (p.name == name) return std::to_string(index_) + "." + name;
      return "";
    }
    std::string value(const std::string& op) const override { return node_prefix(index_) + op + "_output_0"; }
    std::string constant(const std::string& name, const std::vector<float>& values,
                         const std::vector<int64_t>& dims) override {
      onnx::TensorProto* t = graph_.graph_.add_initializer();
      t->set_name(node_prefix(index_) + name);
      t->set_data_type(onnx::TensorProto::FLOAT);
      for (int64_t d : dims) t->add_dims(d);
      for (float v : values) t->add_float_data(v);
      return t->name();
    }
    std::string int_constant(const std::string& name, const std::vector<int64_t>& values,
                             const std::vector<int64_t>& dims) override {
      onnx::TensorProto* t = graph_.graph_.add_initializer();
      t->set_name(node_prefix(index_) + name);
      t->set_data_type(onnx::TensorProto::INT64);
      for (int64_t d : dims) t->add_dims(d);
      for (int64_t v : values) t->add_int64_data(v);
      return t->name();
    }
    void node(const std::string& op, const std::vector<std::string>& inputs, const std::string& output,
              const std::vector<OnnxAttribute>& attributes) override {
      graph_.add_node(op, node_prefix(index_) + op + (ops_++ ? "_" + std::to_string(ops_ - 1) : ""), inputs, output,
                      attributes);
    }
    void identity() override { identity_ = true; }
    bool is_identity() const { return identity_; }

   private:
    GraphWriter& graph_;
    size_t index_;
    const Layer& layer_;
    std::string x_, joined_, y_;
    int ops_ = 0;
    bool identity_ = false;
  };

  Model& model_;
  const OnnxOptions& options_;
  onnx::GraphProto& graph_;

  void add_node(const std::string& op, const std::string& name, const std::vector<std::string>& inputs,
                const std::string& output, const std::vector<OnnxAttribute>& attributes) {
    onnx::NodeProto* node = graph_.add_node();
    node->set_op_type(op);
    node->set_name(name);
    for (const std::string& in : inputs) node->add_input(in);
    node->add_output(output);
    for (const OnnxAttribute& a : attributes) set_attribute(*node, a);
  }

  void add_initializers() {
    const std::vector<std::vector<float>> state = model_.read_state();
    size_t index = 0;
    for (const StateEntry& e : model_.state_dict()) {
      const std::vector<float>& values = state[index++];
      if (e.param->name == "num_batches_tracked") continue;  // training bookkeeping, as torch.onnx.export drops it
      onnx::TensorProto* t = graph_.add_initializer();
      t->set_name(e.key);
      t->set_data_type(onnx::TensorProto::FLOAT);
      for (int d : e.param->shape) t->add_dims(d);
      // raw_data is little-endian, as x86-64 stores floats.
      t->set_raw_data(std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(float)));
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
