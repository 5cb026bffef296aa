#include "mnistlab/task.h"

namespace mnistlab {

const char* task_name(TaskKind kind) { return name_of(kTaskNames, kind); }

const char* loss_name(LossKind kind) { return name_of(kLossNames, kind); }

}  // namespace mnistlab
