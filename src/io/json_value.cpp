#include "io/json_value.h"

#include <cfloat>
#include <cmath>
#include <cstdio>

#include "mnistlab/error.h"

namespace mnistlab {
namespace {

constexpr size_t kMaxShown = 60;  // characters of a bad value quoted in an error

std::string shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', true, nlohmann::json::error_handler_t::replace);
  if (text.size() > kMaxShown) text = text.substr(0, kMaxShown) + "...";
  return text;
}

std::string number_text(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  return text;
}

}  // namespace

JsonValue JsonValue::member(const nlohmann::json& object, const std::string& key, const std::string& origin) {
  const auto it = object.is_object() ? object.find(key) : object.end();
  return JsonValue(it == object.end() ? nullptr : &*it, origin, "\"" + key + "\"");
}

JsonValue JsonValue::document(const nlohmann::json& value, const std::string& name, const std::string& origin) {
  return JsonValue(&value, origin, "\"" + name + "\"");
}

JsonValue JsonValue::member(const std::string& key) const {
  if (!value_ || !value_->is_object()) bad("an object");
  JsonValue v = member(*value_, key, origin_);
  v.path_ = path_ + "." + key;
  return v;
}

JsonValue JsonValue::element(size_t index) const {
  if (!value_ || !value_->is_array()) bad("an array");
  const nlohmann::json* e = index < value_->size() ? &(*value_)[index] : nullptr;
  return JsonValue(e, origin_, path_ + "[" + std::to_string(index) + "]");
}

void JsonValue::bad(const std::string& expected) const {
  throw Error(origin_ + ": " + path_ + (value_ ? " is " + shown(*value_) : " is missing") + "; expected " + expected);
}

int64_t JsonValue::integer(int64_t lo, int64_t hi) const {
  const std::string expected = "an integer from " + std::to_string(lo) + " to " + std::to_string(hi);
  if (!value_ || !value_->is_number()) bad(expected);
  if (value_->is_number_unsigned()) {
    const uint64_t u = value_->get<uint64_t>();
    if (hi < 0 || u > uint64_t(hi) || int64_t(u) < lo) bad(expected);
    return int64_t(u);
  }
  if (value_->is_number_integer()) {
    const int64_t i = value_->get<int64_t>();
    if (i < lo || i > hi) bad(expected);
    return i;
  }
  // 5.0 is 5; 1e300 and 2.5 are not integers of any range here.
  const double d = value_->get<double>();
  if (!std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9e18 || d < double(lo) || d > double(hi))
    bad(expected);
  return int64_t(d);
}

double JsonValue::number(double lo, double hi, bool open_low, bool open_high) const {
  const std::string expected =
      hi == DBL_MAX ? "a number " + std::string(open_low ? "> " : ">= ") + number_text(lo)
                    : "a number in " + std::string(open_low ? "(" : "[") + number_text(lo) + ", " + number_text(hi) +
                          (open_high ? ")" : "]");
  if (!value_ || !value_->is_number()) bad(expected);
  const double x = value_->get<double>();
  if (!std::isfinite(x) || (open_low ? x <= lo : x < lo) || (open_high ? x >= hi : x > hi)) bad(expected);
  return x;
}

double JsonValue::number_or_nan(double lo, double hi) const {
  if (value_ && value_->is_null()) return std::nan("");
  return number(lo, hi);
}

bool JsonValue::boolean() const {
  if (!value_ || !value_->is_boolean()) bad("true or false");
  return value_->get<bool>();
}

std::string JsonValue::string() const {
  if (!value_ || !value_->is_string()) bad("a string");
  return value_->get<std::string>();
}

std::string JsonValue::one_of(const std::vector<std::string>& choices) const {
  std::string expected;
  for (size_t i = 0; i < choices.size(); ++i)
    expected += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + ("\"" + choices[i] + "\"");
  if (!value_ || !value_->is_string()) bad(expected);
  for (const auto& c : choices)
    if (value_->get<std::string>() == c) return c;
  bad(expected);
}

bool JsonValue::is_array_of(size_t size) const { return value_ && value_->is_array() && value_->size() == size; }

std::vector<double> JsonValue::numbers_or_nan(size_t max_size, double lo, double hi) const {
  if (!value_ || !value_->is_array() || value_->size() > max_size)
    bad("an array of at most " + std::to_string(max_size) + " numbers");
  std::vector<double> out;
  for (size_t i = 0; i < value_->size(); ++i) out.push_back(element(i).number_or_nan(lo, hi));
  return out;
}

}  // namespace mnistlab
