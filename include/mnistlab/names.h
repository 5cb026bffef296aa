#pragma once
// One table of names per option enum (optimizer, schedule, noise, loss,
// task, instruction set): the command's choices, run.json's values and the
// error messages all read it, so a new value is added in one place.
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "mnistlab/error.h"

namespace mnistlab {

template <class E>
struct Named {
  const char* name;
  E value;
};

template <class E, std::size_t N>
const char* name_of(const Named<E> (&table)[N], E value) {
  for (const Named<E>& n : table)
    if (n.value == value) return n.name;
  return "?";
}

template <class E, std::size_t N>
std::optional<E> find_named(const Named<E> (&table)[N], const std::string& name) {
  for (const Named<E>& n : table)
    if (name == n.name) return n.value;
  return std::nullopt;
}

template <class E, std::size_t N>
std::vector<std::string> names(const Named<E> (&table)[N]) {
  std::vector<std::string> out;
  for (const Named<E>& n : table) out.push_back(n.name);
  return out;
}

// "sgd, adam or adamw"
inline std::string names_list(const std::vector<std::string>& list) {
  std::string out;
  for (std::size_t i = 0; i < list.size(); ++i) out += (i == 0 ? "" : i + 1 == list.size() ? " or " : ", ") + list[i];
  return out;
}

// Error "unknown <what> 'x'; expected a, b or c" for a name not in the table.
template <class E, std::size_t N>
E parse_named(const Named<E> (&table)[N], const std::string& name, const std::string& what) {
  if (const std::optional<E> value = find_named(table, name)) return *value;
  throw Error("unknown " + what + " '" + name + "'; expected " + names_list(names(table)));
}

}  // namespace mnistlab
