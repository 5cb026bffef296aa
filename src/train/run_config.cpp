// A run's settings: defaults, checks and run.json, all from the run options'
// table (run_options.h) and the task's declaration (TaskType).
#include <nlohmann/json.hpp>

#include "io/json_value.h"
#include "mnistlab/error.h"
#include "mnistlab/run.h"
#include "mnistlab/run_options.h"
#include "train/comma_list.h"

namespace mnistlab {
namespace {

nlohmann::json json_of(const OptionValue& value) {
  return std::visit([](const auto& v) { return nlohmann::json(v); }, value);
}

// The value of `o` in run.json, checked against the option's type and range
// (the command line's, and the value that means "not given").
OptionValue read_option(const RunOption& o, const nlohmann::json& j, const std::string& origin) {
  const JsonValue v = JsonValue::member(j, o.key, origin);
  switch (o.type) {
    case OptionType::Integer: {
      const double lo = o.unset ? std::min(*o.unset, o.range.lo) : o.range.lo;
      const int64_t x = v.integer(int64_t(lo), int64_t(o.range.hi));
      if (!o.range_problem(double(x), true).empty()) v.bad(o.json_expected());
      return x;
    }
    case OptionType::Number: {
      const auto it = j.find(o.key);
      if (it == j.end() || !it->is_number() || !o.range_problem(it->get<double>(), true).empty())
        v.bad(o.json_expected());
      return it->get<double>();
    }
    case OptionType::Flag:
      return v.boolean();
    case OptionType::Choice:
      return v.one_of(o.choices());
    case OptionType::Text: {
      const std::string text = v.string();
      if (o.problem)
        if (const std::optional<std::string> problem = o.problem(text))
          v.bad(o.expected + (problem->empty() ? "" : " (" + *problem + ")"));
      return text;
    }
  }
  return {};
}

}  // namespace

RunConfig default_run_config(TaskKind task) {
  RunConfig c;
  c.task = task;
  task_type(task).defaults(c);
  return c;
}

RunConfig checked_run_config(RunConfig c) {
  for (const RunOption& o : run_options()) {
    if (!o.taken_by(c.task) || (o.type != OptionType::Integer && o.type != OptionType::Number)) continue;
    const OptionValue value = o.get(c);
    const double x = o.type == OptionType::Integer ? double(std::get<int64_t>(value)) : std::get<double>(value);
    if (const std::string problem = o.range_problem(x, true); !problem.empty())
      throw Error(o.flag + " " + option_text(value) + ": " + problem);
  }
  task_type(c.task).check(c);
  return c;
}

TrainOptions train_options(const RunConfig& c, const std::atomic<bool>* stop) {
  TrainOptions o = c.train;
  o.stop = stop;
  o.freeze = c.freeze.empty() ? std::vector<std::string>{} : comma_list(c.freeze);
  check_schedule(o.schedule);
  return o;
}

std::unique_ptr<Task> make_task(const RunConfig& c) { return task_type(c.task).make(c); }

std::string to_json(const RunConfig& c) {
  nlohmann::json j = {{"task", task_name(c.task)}};
  const RunConfig defaults = default_run_config(c.task);
  for (const RunOption& o : run_options())
    if (o.in_run_json_of(c.task) && !(o.only_when_set && o.get(c) == o.get(defaults))) j[o.key] = json_of(o.get(c));
  if (c.processes > 1) j["processes"] = c.processes;
  if (!c.init_weights_sha256.empty()) j["init_weights_sha256"] = c.init_weights_sha256;
  return j.dump(2) + "\n";
}

RunConfig run_config_from_json(const std::string& text, const std::string& origin) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    throw Error(origin + ": not the run.json of a mnistlab run (" + e.what() + ")");
  }
  if (!j.is_object()) throw Error(origin + ": not the run.json of a mnistlab run (not a JSON object)");
  const TaskKind task =
      parse_named(kTaskNames, JsonValue::member(j, "task", origin).one_of(names(kTaskNames)), "task");
  RunConfig c = default_run_config(task);
  for (const RunOption& o : run_options()) {
    // An option that came later may be absent: a run interrupted before it
    // came resumes with its default, which is how it was started.
    if (!o.in_run_json_of(task) || ((o.later || o.only_when_set) && !j.contains(o.key))) continue;
    o.set(c, read_option(o, j, origin));
  }
  if (j.contains("processes")) {
    const nlohmann::json& p = j["processes"];
    if (!p.is_number_integer() || p.get<int64_t>() < 1 || p.get<int64_t>() > (1 << 20))
      throw Error(origin + ": \"processes\" is " + p.dump() + "; expected an integer from 1 to 1048576");
    c.processes = p.get<int>();
  }
  if (j.contains("init_weights_sha256")) {
    const nlohmann::json& h = j["init_weights_sha256"];
    if (!h.is_string() || h.get<std::string>().size() != 64 ||
        h.get<std::string>().find_first_not_of("0123456789abcdef") != std::string::npos)
      throw Error(origin + ": \"init_weights_sha256\" is " + h.dump().substr(0, 80) +
                  "; expected 64 lowercase hex digits");
    c.init_weights_sha256 = h.get<std::string>();
  }
  try {
    return checked_run_config(c);
  } catch (const Error& e) {
    throw Error(origin + ": " + e.what());
  }
}

}  // namespace mnistlab
