#pragma once
// One value of a JSON file read with its type and range checked. A bad one
// is an Error naming the file, the key, the value and what was expected:
//   runs/x/run.json: "epochs" is -5; expected an integer from 1 to 100000
// Nothing is converted to a C++ type before it is known to fit it.
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace mnistlab {

class JsonValue {
 public:
  // object[key] of the file `origin` (an absent key is an error when read).
  static JsonValue member(const nlohmann::json& object, const std::string& key, const std::string& origin);
  // A whole document that the file holds under a name (a metadata entry).
  static JsonValue document(const nlohmann::json& value, const std::string& name, const std::string& origin);
  JsonValue member(const std::string& key) const;  // of an object value
  JsonValue element(size_t index) const;          // of an array value

  int64_t integer(int64_t lo, int64_t hi) const;
  // Finite, lo <= x <= hi (lo < x with open_low, x < hi with open_high); hi
  // DBL_MAX is "no upper limit".
  double number(double lo, double hi, bool open_low = false, bool open_high = false) const;
  // The same, but null (how JSON writers store NaN and infinities) reads as NaN.
  double number_or_nan(double lo, double hi) const;
  bool boolean() const;
  std::string string() const;
  std::string one_of(const std::vector<std::string>& choices) const;
  bool is_array_of(size_t size) const;  // an array of exactly `size` elements
  // An array of at most max_size numbers in [lo, hi] or null (NaN).
  std::vector<double> numbers_or_nan(size_t max_size, double lo, double hi) const;

  [[noreturn]] void bad(const std::string& expected) const;

 private:
  JsonValue(const nlohmann::json* value, std::string origin, std::string path)
      : value_(value), origin_(std::move(origin)), path_(std::move(path)) {}
  const nlohmann::json* value_;  // nullptr: absent
  std::string origin_, path_;    // file; "epochs", "history"[2][0], ...
};

}  // namespace mnistlab
