#include "mnistlab/task.h"

#include "mnistlab/error.h"

namespace mnistlab {

const char* task_name(TaskKind kind) { return name_of(kTaskNames, kind); }

const std::vector<const TaskType*>& task_types() {
  static const std::vector<const TaskType*> types = {&classification_task_type(), &denoising_task_type()};
  return types;
}

const TaskType& task_type(TaskKind kind) {
  for (const TaskType* type : task_types())
    if (type->kind == kind) return *type;
  throw Error(std::string("no task '") + task_name(kind) + "'");
}

const char* loss_name(LossKind kind) { return name_of(kLossNames, kind); }

}  // namespace mnistlab
