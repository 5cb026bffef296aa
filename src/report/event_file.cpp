#include "report/event_file.h"

#include <crcutil/generic_crc.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <utility>

#include "io/folder_pin.h"
#include "io/temporary_file.h"
#include "mnistlab/error.h"
#include "proto/tensorboard.pb.h"
#include "report/summary_histogram.h"

namespace mnistlab {

namespace tb = mnistlab::tensorboard;

namespace {

// The writer a file's first event names: the tool that wrote it, as
// tensorboard's EventFileWriter (2.11 and later, which SummaryWriter writes
// through) names itself there.
constexpr const char* kSourceWriter = "mnistlab";

// TFRecord's checksum: CRC-32C (Castagnoli, reflected polynomial 0x82f63b78)
// by crcutil's portable table-driven code (measured over 6 GB/s on an EPYC),
// far more than event files need. Not crcutil's Crc32cSSE4: Debian builds it
// with CRCUTIL_USE_MM_CRC32, so it runs the crc32 instruction whatever the
// CPU (SIGILL without SSE4.2), and its header only compiles with -mcrc32.
uint32_t masked_crc32c(const void* data, size_t bytes) {
  static const crcutil::GenericCrc<crcutil::uint64, crcutil::uint64, crcutil::uint64, 4> crc32c(0x82f63b78, 32, true);
  const auto crc = uint32_t(crc32c.CrcDefault(data, bytes, 0));
  // TFRecord stores the CRC rotated and offset ("masked"), so that a CRC of
  // data that itself holds CRCs stays well mixed.
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

void put_little_endian(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += char(value >> (8 * i));
}

uint64_t little_endian(const unsigned char* p, int bytes) {
  uint64_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = value << 8 | p[i];
  return value;
}

// uint64 length, masked CRC of those 8 bytes, the data, masked CRC of the data.
std::string tfrecord(const std::string& data) {
  std::string record;
  record.reserve(data.size() + 16);
  put_little_endian(record, data.size(), 8);
  put_little_endian(record, masked_crc32c(record.data(), 8), 4);
  record += data;
  put_little_endian(record, masked_crc32c(data.data(), data.size()), 4);
  return record;
}

double seconds_since_epoch() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// An Event at `step` holding one summary value named `tag`, which `fill` completes.
template <class Fill>
std::string summary_event(const std::string& tag, int64_t step, Fill fill) {
  tb::Event event;
  event.set_wall_time(seconds_since_epoch());
  event.set_step(step);
  tb::Summary::Value* value = event.mutable_summary()->add_value();
  value->set_tag(tag);
  fill(*value);
  return event.SerializeAsString();
}

// Walks the records from the start of the file: `end` must be where one of
// them ends. Returns where the records whose data checksums hold end: a
// record with a bad data CRC is cut off with all after it, as a torn last
// record is, since no reader can trust what follows it.
uint64_t check_record_end(int fd, const std::filesystem::path& path, uint64_t end) {
  uint64_t at = 0;
  std::string data;
  uint64_t good_end = end;
  while (at < end) {
    unsigned char header[12];
    const bool whole_header = end - at >= 16 && ::pread(fd, header, 12, off_t(at)) == 12;
    const uint64_t length = whole_header ? little_endian(header, 8) : 0;
    if (whole_header && little_endian(header + 8, 4) != masked_crc32c(header, 8))
      throw Error(path.string() + ": the record at byte " + std::to_string(at) +
                  " has a corrupt length (CRC mismatch); expected a TensorBoard event file");
    if (!whole_header || length > end - at - 16)
      throw Error(path.string() + ": byte " + std::to_string(end) + " falls inside the record at byte " +
                  std::to_string(at) + "; expected the size the event file had at a checkpoint");
    data.resize(size_t(length) + 4);
    const bool read = ::pread(fd, data.data(), data.size(), off_t(at + 12)) == ssize_t(data.size());
    const auto* crc = reinterpret_cast<const unsigned char*>(data.data()) + length;
    if (good_end == end && (!read || little_endian(crc, 4) != masked_crc32c(data.data(), size_t(length))))
      good_end = at;
    at += 16 + length;
  }
  return good_end;
}

}  // namespace

EventFile EventFile::create(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create the folder (" + ec.message() + ")");
  static std::atomic<int> files_made{0};
  char host[256] = "";
  ::gethostname(host, sizeof host - 1);
  // torch/utils/tensorboard uses tensorboard's EventFileWriter:
  // "events.out.tfevents.%010d.%s.%s.%s" % (time.time(), hostname, pid, counter).
  char name[400];
  std::snprintf(name, sizeof name, "events.out.tfevents.%010lld.%s.%d.%d", (long long)seconds_since_epoch(), host,
                int(::getpid()), files_made++);
  const std::filesystem::path path = dir / name;
  const int fd = open_in_folder(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) throw_cannot_write(path);
  EventFile file(path, fd, 0);
  file.write_file_version();
  return file;
}

EventFile EventFile::reopen(const std::filesystem::path& path, uint64_t bytes) {
  // Never through a link, and only a file of its own: it is cut back in
  // place, which would cut whatever a link or a second hard link reaches.
  const int fd = open_in_folder(path, O_RDWR | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0 && errno == ELOOP)
    throw Error(path.string() + ": is a symbolic link; a run's event file must be a file of the run folder");
  if (fd < 0)
    throw Error(path.string() + ": cannot open the event file to append (" + std::strerror(errno) + ")");
  EventFile file(path, fd, 0);  // closes fd if a check below throws
  struct stat st;
  if (::fstat(fd, &st) != 0) throw_cannot_write(path);
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1)
    throw Error(path.string() + ": is " + (S_ISREG(st.st_mode) ? "a file with other hard links" : "not a regular file") +
                "; a run's event file must be a file of its own in the run folder");
  if (uint64_t(st.st_size) < bytes)
    throw Error(path.string() + ": " + std::to_string(st.st_size) + " bytes, fewer than the " +
                std::to_string(bytes) + " a checkpoint recorded; expected the event file of the same run");
  bytes = check_record_end(fd, path, bytes);
  if (::ftruncate(fd, off_t(bytes)) != 0) throw_cannot_write(path);
  file.bytes_ = bytes;
  if (bytes == 0) file.write_file_version();
  return file;
}

EventFile::EventFile(EventFile&& other) noexcept
    : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)), bytes_(other.bytes_) {}

EventFile& EventFile::operator=(EventFile&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) ::close(fd_);
    path_ = std::move(other.path_);
    fd_ = std::exchange(other.fd_, -1);
    bytes_ = other.bytes_;
  }
  return *this;
}

EventFile::~EventFile() {
  if (fd_ >= 0) ::close(fd_);
}

void EventFile::write_file_version() {
  tb::Event event;
  event.set_wall_time(seconds_since_epoch());
  event.set_file_version("brain.Event:2");
  event.mutable_source_metadata()->set_writer(kSourceWriter);
  append(event.SerializeAsString());
}

void EventFile::scalar(const std::string& tag, int64_t step, double value) {
  append(summary_event(tag, step, [&](tb::Summary::Value& v) { v.set_simple_value(float(value)); }));
}

void EventFile::image(const std::string& tag, int64_t step, const GrayImage& image) {
  // add_image repeats a 1-channel image into 3 (convert_to_HWC) and PIL
  // encodes that as an RGB PNG.
  const std::string png = encode_png_rgb(image);
  append(summary_event(tag, step, [&](tb::Summary::Value& v) {
    tb::Summary::Image* out = v.mutable_image();
    out->set_height(image.height);
    out->set_width(image.width);
    out->set_colorspace(3);  // RGB
    out->set_encoded_image_string(png);
  }));
}

void EventFile::text(const std::string& tag, int64_t step, const std::string& markdown) {
  append(summary_event(tag + "/text_summary", step, [&](tb::Summary::Value& v) {
    // The text plugin's content is TextPluginData{version: 0}, which
    // serializes to no bytes.
    v.mutable_metadata()->mutable_plugin_data()->set_plugin_name("text");
    tb::TensorProto* tensor = v.mutable_tensor();
    tensor->set_dtype(tb::DT_STRING);
    tensor->mutable_tensor_shape()->add_dim()->set_size(1);  // shape [1], as add_text's
    tensor->add_string_val(markdown);
  }));
}

void EventFile::histogram(const std::string& tag, int64_t step, std::span<const float> values) {
  const std::string what = path_.string() + ": histogram '" + tag + "' at step " + std::to_string(step);
  const SummaryHistogram h = summary_histogram(values, what);  // before anything is written
  append(summary_event(tag, step, [&](tb::Summary::Value& v) {
    tb::HistogramProto* out = v.mutable_histo();
    out->set_min(h.min);
    out->set_max(h.max);
    out->set_num(h.num);
    out->set_sum(h.sum);
    out->set_sum_squares(h.sum_squares);
    for (const double limit : h.bucket_limit) out->add_bucket_limit(limit);
    for (const double count : h.bucket) out->add_bucket(count);
  }));
}

void EventFile::flush() {
  if (::fdatasync(fd_) != 0) throw_cannot_write(path_);
}

void EventFile::append(const std::string& event) {
  const std::string record = tfrecord(event);
  size_t done = 0;
  while (done < record.size()) {  // one write() unless the disk fills or a signal interrupts it
    const ssize_t n = ::write(fd_, record.data() + done, record.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      // Cut a partial record off (no record after it could be read); the
      // error to report is the write's.
      [[maybe_unused]] const int ignored = ::ftruncate(fd_, off_t(bytes_));
      errno = error;
      throw_cannot_write(path_);
    }
    done += size_t(n);
  }
  bytes_ += record.size();
}

}  // namespace mnistlab
