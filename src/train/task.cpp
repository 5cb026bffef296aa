#include "mnistlab/task.h"

namespace mnistlab {

const char* task_name(TaskKind kind) { return kind == TaskKind::Classification ? "classification" : "denoising"; }

const char* loss_name(LossKind kind) { return kind == LossKind::Mse ? "mse" : "l1"; }

}  // namespace mnistlab
