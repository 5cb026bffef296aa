#pragma once
// What a kind of training gives the one training loop (fit, trainer.h): how
// a batch of the dataset becomes the model's input, loss and gradient, which
// metrics it reports, its picture of an epoch and its part of the report.
// Everything else (schedules, early stopping, validation split, resume,
// checkpoints, curves, TensorBoard) belongs to the loop and the run folder,
// so every task has all of it.
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "mnistlab/data.h"
#include "mnistlab/model.h"
#include "mnistlab/names.h"
#include "mnistlab/noise.h"
#include "mnistlab/png.h"

namespace mnistlab {

enum class TaskKind { Classification, Denoising };
inline constexpr Named<TaskKind> kTaskNames[] = {{"classification", TaskKind::Classification},
                                                 {"denoising", TaskKind::Denoising}};
const char* task_name(TaskKind kind);

// The loss of a denoiser (nn.L1Loss, nn.MSELoss); a classifier's is always
// nn.CrossEntropyLoss.
enum class LossKind { L1, Mse };
inline constexpr Named<LossKind> kLossNames[] = {{"l1", LossKind::L1}, {"mse", LossKind::Mse}};
const char* loss_name(LossKind kind);

struct MetricInfo {
  std::string name;  // "loss", "acc", "psnr", "ssim": metrics.csv's column is <split>_<name>
  std::string tag;   // TensorBoard's group: "loss", "accuracy", "psnr", "ssim" (tag "accuracy/test")
  bool higher_is_better = false;
  double max_per_sample = std::numeric_limits<double>::infinity();  // accuracy, SSIM: 1
  // curves.png's axis: its label ("accuracy (%)"; after the split's name
  // when axis_names_split: "test PSNR (dB)") and the factor plotted values get.
  std::string axis;
  bool axis_names_split = false;
  double axis_scale = 1;
  // As the command prints it: value x axis_scale with `decimals` and the
  // unit ("test_acc 98.25%", "test_psnr 21.40 dB", "test_loss 0.0312").
  int decimals = 4;
  std::string unit;
};

class Task {
 public:
  virtual ~Task() = default;
  virtual TaskKind kind() const = 0;
  // Throws Error when the model does not fit the data, before a run writes anything.
  virtual void check(const Model& model, const Dataset& data) const = 0;
  // Loss first. Training's are means over the epoch's batches, evaluation's
  // over the evaluation set.
  virtual std::vector<MetricInfo> train_metrics() const = 0;
  virtual std::vector<MetricInfo> eval_metrics() const = 0;
  // Buffers for batches of up to batch_size; a training step allocates nothing after.
  virtual void reserve(Model& model, int batch_size) = 0;
  // The floats reserve(model, batch_size) allocates, counted before a run starts.
  virtual size_t batch_floats(const Model& model, int batch_size) const = 0;
  // Forward, loss and backward of a batch from the loader (images in [0, 1],
  // labels); `epoch` and `first` (the batch's first position in the epoch)
  // fix whatever is random about it. `batch`: the global batch these n
  // samples are one rank's share of (n in a single process); the gradients
  // are those of the loss's mean over it, so the ranks' sum is the global
  // batch's. Adds the n samples' per-sample sums of train_metrics() into sums.
  virtual void train_step(Model& model, const float* images, const int32_t* labels, int n, int batch, int epoch,
                          size_t first, double* sums) = 0;
  // Means of eval_metrics() over the dataset, in eval mode. This and the
  // passes below run batch_size images at a time or fewer
  // (evaluation_batch): fewer move the outputs no more than any other
  // batch size does (a GEMM's last bits).
  virtual std::vector<double> evaluate(Model& model, const Dataset& data, int batch_size) = 0;
  // The picture of an epoch (denoising: "noisy | output | clean" of fixed
  // test images; classification: misclassified test images with their
  // labels), for the run folder and TensorBoard; width 0 when there is none.
  // Called right after evaluate() on the same set, it may reuse that pass.
  virtual GrayImage picture(Model& model, const Dataset& test, int batch_size) = 0;
  virtual std::string picture_name() const = 0;  // its file name and tag: "samples", "misclassified"
  // What the model has to beat before training, as one line (denoising: the
  // noisy input's own scores on the test set); "" when there is nothing.
  // The model is the run's (its backend computes the scores).
  virtual std::string baseline(Model&, const Dataset&, int) { return ""; }
  // The task's part of report.txt, for the final weights on the test set
  // (a classifier's names its classes by test.class_names).
  virtual std::string report(Model& model, const Dataset& test, int batch_size) = 0;
  // What the settings add to a run folder's default name and to the curves'
  // title ("-gaussian", " with gaussian noise"); "" when nothing.
  virtual std::string folder_suffix() const { return ""; }
  virtual std::string title_suffix() const { return ""; }
  // Whether its runs name the dataset's classes (Dataset::class_names).
  virtual bool uses_class_names() const { return false; }
};

struct RunConfig;
// What a kind of training declares to the run layer and the command: its
// defaults, the checks that span its settings and how its Task is made. Its
// options are the run options (run_options.h) that name it.
struct TaskType {
  TaskKind kind;
  const char* command;             // "mnistlab train": the command that starts and continues its runs
  void (*defaults)(RunConfig&);    // model, dataset, epochs and batch size
  void (*check)(RunConfig&);       // throws Error; may fill in what depends on other settings
  std::unique_ptr<Task> (*make)(const RunConfig&);
};
// Every task, in kTaskNames' order.
const std::vector<const TaskType*>& task_types();
const TaskType& task_type(TaskKind kind);
const TaskType& classification_task_type();
const TaskType& denoising_task_type();

// Test-time augmentation: evaluation scores the mean softmax over views of
// each image. flip: the image and its horizontal flip. crops = P:
// torchvision's FiveCrop of the image padded by P pixels with zeros (as
// RandomCrop(size, padding=P) pads), the centre crop being the image itself
// and the four corners it shifted by P rows and P columns; with flip too,
// TenCrop (the five and their flips).
struct TestTimeAugmentation {
  bool flip = false;
  int crops = 0;
  int views() const { return (flip ? 2 : 1) * (crops > 0 ? 5 : 1); }
  // "the image and its horizontal flip", "FiveCrop with padding 2", "TenCrop with padding 2", "" for none.
  std::string describe() const;
};

struct ClassificationOptions {
  // Training's loss is nn.CrossEntropyLoss(label_smoothing=eps), eps in
  // [0, 1), and so is the train_loss it reports; evaluation's is always
  // plain cross-entropy, so test losses compare across runs.
  float label_smoothing = 0;
  // Evaluation (metrics, picture, report) scores the mean softmax of these
  // views (flips: check_flips_allowed).
  TestTimeAugmentation tta;
};
// The classifier of the dataset's classes with cross-entropy.
std::unique_ptr<Task> make_classification_task(const ClassificationOptions& options = {});

// Throws Error naming `option` unless a horizontally flipped image of
// `dataset` still shows its class: clothes do, digits do not.
void check_flips_allowed(const std::string& dataset, const std::string& option);
inline const char* const kTtaOption = "--tta (each image averaged with its horizontal flip)";
// The most --tta-crops pads: FiveCrop's corners move the image by that many pixels.
inline constexpr int kMaxTtaCrops = 8;

struct DenoiseOptions {
  NoiseOptions noise;  // checked (checked_noise)
  LossKind loss = LossKind::L1;
  uint64_t seed = 0;   // noise streams: the test set's is fixed, each epoch gets its own
};
// (noisy, clean) pairs made on the fly from a clean dataset.
std::unique_ptr<Task> make_denoising_task(const DenoiseOptions& options);

}  // namespace mnistlab
