// Reproduces torchsummary 1.5.1 (sksq96/pytorch-summary) byte for byte:
// the column widths, the thousands separators, and its arithmetic for the
// size lines (products taken with batch -1, then abs) so the rounding agrees.
#include "mnistlab/summary.h"

#include <cmath>
#include <cstdio>

namespace mnistlab {
namespace {

std::string with_commas(long v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

std::string right(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}

std::string row_line(const std::string& a, const std::string& b, const std::string& c) {
  return right(a, 20) + "  " + right(b, 25) + " " + right(c, 15) + "\n";
}

std::string mb_line(const char* label, double mb) {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "%s (MB): %0.2f\n", label, mb);
  return buffer;
}

}  // namespace

Summary summarize(const Model& model) {
  constexpr double kMiB = 1024.0 * 1024.0;
  constexpr long kBatch = -1;
  Summary s;
  s.input = model.input_shape();
  long total_output = 0;
  for (const auto& layer : model.layers()) {
    if (layer->is_view()) continue;
    SummaryRow row;
    row.type = layer->type();
    row.name = row.type + "-" + std::to_string(s.rows.size() + 1);
    row.output = layer->output_shape();
    for (const Param& p : layer->params()) {
      if (p.kind != ParamKind::Parameter) continue;
      row.params += long(p.numel());
      row.trainable = true;
    }
    s.total_params += row.params;
    if (row.trainable) s.trainable_params += row.params;
    total_output += kBatch * long(row.output.numel());
    s.rows.push_back(row);
  }
  s.input_mb = std::fabs(double(long(s.input.numel()) * kBatch) * 4.0 / kMiB);
  s.forward_backward_mb = std::fabs(2.0 * double(total_output) * 4.0 / kMiB);
  s.params_mb = std::fabs(double(s.total_params) * 4.0 / kMiB);
  s.total_mb = s.params_mb + s.forward_backward_mb + s.input_mb;
  return s;
}

std::string format_summary(const Summary& s) {
  const std::string rule(64, '-'), double_rule(64, '=');
  std::string out = rule + "\n" + row_line("Layer (type)", "Output Shape", "Param #") + double_rule + "\n";
  for (const SummaryRow& row : s.rows) out += row_line(row.name, row.output.str(), with_commas(row.params));
  out += double_rule + "\n";
  out += "Total params: " + with_commas(s.total_params) + "\n";
  out += "Trainable params: " + with_commas(s.trainable_params) + "\n";
  out += "Non-trainable params: " + with_commas(s.total_params - s.trainable_params) + "\n";
  out += rule + "\n";
  out += mb_line("Input size", s.input_mb);
  out += mb_line("Forward/backward pass size", s.forward_backward_mb);
  out += mb_line("Params size", s.params_mb);
  out += mb_line("Estimated Total Size", s.total_mb);
  out += rule + "\n";  // torchsummary 1.5.1 prints line by line and ends with the rule
  return out;
}

}  // namespace mnistlab
