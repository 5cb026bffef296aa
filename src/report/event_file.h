#pragma once
// A TensorBoard event file, as PyTorch's SummaryWriter writes it: TFRecords
// (length, masked CRC-32C of the length, an Event message, masked CRC-32C of
// the message), the first one {wall_time, file_version: "brain.Event:2",
// source_metadata: {writer: "mnistlab"}}, where tensorboard's
// EventFileWriter (2.11 and later) names itself for SummaryWriter. scalar,
// image, text and histogram write the Summary that add_scalar, add_image,
// add_text and add_histogram (PyTorch 1.13's torch.utils.tensorboard.summary)
// make of the same values, field for field
// (tests/test_summary_writer_parity.cpp); where they differ at all is in
// README.md ("Event files and SummaryWriter").
// Each record goes to the file whole in one write() (O_APPEND, no buffer in
// between), so TensorBoard sees it at once and a killed run leaves at most a
// partial last record, which reopen() cuts off.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <utility>

#include "mnistlab/png.h"

namespace mnistlab {

class EventFile {
 public:
  // Creates dir (and its parents) if needed, then
  // dir/events.out.tfevents.<10-digit time>.<hostname>.<pid>.<n>, n counting
  // the files this process made from 0, as SummaryWriter names them.
  static EventFile create(const std::filesystem::path& dir);
  // Appends to an existing event file after cutting it to `bytes`, what
  // bytes() was when a checkpoint was taken: a resumed run then repeats no
  // step, and a killed run's partial record is gone. `bytes` must end a
  // whole record of the file (checked from the records' lengths). A record
  // before it whose data CRC fails is cut off with everything after it.
  // The file must be a regular file of its own (no link, one hard link).
  static EventFile reopen(const std::filesystem::path& file, uint64_t bytes);

  EventFile(EventFile&& other) noexcept;
  EventFile& operator=(EventFile&& other) noexcept;
  ~EventFile();

  // add_scalar: simple_value, a float32 on the wire.
  void scalar(const std::string& tag, int64_t step, double value);
  // add_image of the image as a (1, height, width) uint8 tensor: repeated
  // into three channels, an RGB PNG, colorspace 3.
  void image(const std::string& tag, int64_t step, const GrayImage& image);
  // add_text: under "<tag>/text_summary", the text plugin's DT_STRING tensor
  // of shape [1] (TensorBoard shows it as markdown in a one-cell table).
  void text(const std::string& tag, int64_t step, const std::string& markdown);
  // add_histogram with its default bins="tensorflow" (report/summary_histogram.h).
  // No values, or one not finite, is an Error, and nothing is written.
  void histogram(const std::string& tag, int64_t step, std::span<const float> values);

  // Makes what was written durable (fdatasync): call it before a checkpoint
  // records bytes(), so a crash cannot leave the file shorter than that.
  void flush();
  // The file's size after the last whole record.
  uint64_t bytes() const { return bytes_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  EventFile(std::filesystem::path path, int fd, uint64_t bytes) : path_(std::move(path)), fd_(fd), bytes_(bytes) {}
  void write_file_version();
  // One serialized Event as one TFRecord, in one write().
  void append(const std::string& event);

  std::filesystem::path path_;
  int fd_ = -1;
  uint64_t bytes_ = 0;
};

}  // namespace mnistlab
