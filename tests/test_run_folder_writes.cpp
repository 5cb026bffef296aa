// Issue 27's audit: nothing outside a run folder is touched through a link,
// no output replaces a device or a FIFO, every text reader has a bound, an
// --overwrite removes a whole run or nothing, curves.png is never left half
// written. Each case was reproduced on the code before the fix.
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <zlib.h>

#include <nlohmann/json.hpp>

#include "cli_fixture.h"
#include "hostile_run.h"
#include "mnistlab/png.h"
#include "mnistlab/report.h"
#include "io/temporary_file.h"
#include "report/event_file.h"
#include "train/run_lock.h"

using namespace mnistlab;
using namespace mnistlab::test;

namespace {

const char* kNet = "input 1 28 28\nconv 4 k=3 s=2 p=1\nrelu\nflatten\nlinear 10\n";
const std::string kPrecious = "another program's file: must stay as it is\n";

class Writes : public Cli {
 protected:
  void SetUp() override {
    Cli::SetUp();
    write_dataset();
    std::ofstream(dir_ / "net.model") << kNet;
    std::ofstream(dir_ / "victim") << kPrecious;
  }
  std::string train(const std::string& out, const std::string& more = "") const {
    return "train --model " + (dir_ / "net.model").string() + " --data-dir " + (dir_ / "data").string() +
           " --threads 1 --batch-size 32 --epochs 2 --out " + (dir_ / out).string() + " " + more;
  }
  // An interrupted run in dir_/name (13 batches an epoch: step 20 is in epoch 2).
  void interrupted(const std::string& name) const {
    auto r = run(train(name, "--raise-sigterm-at-step 20"));
    ASSERT_EQ(r.exit_code, 128 + 15) << r.output;
  }
  std::string resume(const std::string& name) const { return "train --resume " + (dir_ / name).string(); }
  void expect_victim_untouched() const { EXPECT_EQ(read_file(dir_ / "victim"), kPrecious); }
  fs::path event_file(const std::string& run_name) const {
    for (const auto& e : fs::directory_iterator(dir_ / run_name))
      if (e.path().filename().string().rfind("events.out.tfevents.", 0) == 0) return e.path();
    return {};
  }
};

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_F(Writes, SymlinkedRunLockIsRefusedAndItsTargetUntouched) {
  fs::create_directories(dir_ / "new");
  fs::create_symlink(dir_ / "victim", dir_ / "new" / "run.lock");
  auto fresh = run(train("new"));
  EXPECT_EQ(fresh.exit_code, 1) << fresh.output;
  EXPECT_TRUE(contains(fresh.output, "run.lock: is a symbolic link")) << fresh.output;
  expect_victim_untouched();

  interrupted("old");
  fs::create_symlink(dir_ / "victim", dir_ / "old" / "run.lock");
  auto resumed = run(resume("old"));
  EXPECT_EQ(resumed.exit_code, 1) << resumed.output;
  expect_victim_untouched();

  // A hard link reaches the other file as surely as a symbolic one.
  fs::remove(dir_ / "old" / "run.lock");
  fs::create_hard_link(dir_ / "victim", dir_ / "old" / "run.lock");
  resumed = run(resume("old"));
  EXPECT_EQ(resumed.exit_code, 1) << resumed.output;
  EXPECT_TRUE(contains(resumed.output, "run.lock: is a file with another hard link")) << resumed.output;
  expect_victim_untouched();
}

TEST_F(Writes, ResumeNeverWritesThroughALinkedEventFileOrCommandFile) {
  interrupted("a");
  const fs::path events = event_file("a");
  ASSERT_FALSE(events.empty());
  fs::rename(events, dir_ / "events-moved");
  fs::create_symlink(dir_ / "victim", events);
  auto r = run(resume("a"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "is a symbolic link")) << r.output;
  expect_victim_untouched();

  fs::remove(events);
  fs::rename(dir_ / "events-moved", events);
  fs::remove(dir_ / "a" / "command.txt");
  fs::create_symlink(dir_ / "victim", dir_ / "a" / "command.txt");
  r = run(resume("a"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "command.txt: is a symbolic link")) << r.output;
  expect_victim_untouched();
}

TEST_F(Writes, OutputsThatAreDevicesOrFifosAreRefusedNotReplaced) {
  ASSERT_EQ(run(train("a")).exit_code, 0);
  const std::string weights = (dir_ / "a" / "last.safetensors").string();
  ASSERT_EQ(::mkfifo((dir_ / "fifo").c_str(), 0644), 0);
  // A device of the test's own, like /dev/null (character device 1,3): code
  // that replaced outputs would otherwise replace the machine's /dev/null.
  std::vector<std::string> outputs = {(dir_ / "fifo").string()};
  const fs::path device = dir_ / "null";
  if (::mknod(device.c_str(), S_IFCHR | 0666, makedev(1, 3)) == 0) outputs.push_back(device.string());
  const std::vector<std::string> commands = {
      "export --model " + (dir_ / "net.model").string() + " --weights " + weights + " --out ",
      "pairs --data-dir " + (dir_ / "data").string() + " --out ",
  };
  for (const std::string& command : commands) {
    for (const std::string& out : outputs) {
      SCOPED_TRACE(command + out);
      auto r = run(command + out);
      EXPECT_EQ(r.exit_code, 1) << r.output;
      EXPECT_TRUE(contains(r.output, out + ": is a ")) << r.output;
    }
  }
  struct stat st {};
  if (outputs.size() > 1) {
    ASSERT_EQ(::lstat(device.c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode)) << "the device was replaced";
  }
  ASSERT_EQ(::lstat((dir_ / "fifo").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode)) << "the FIFO was replaced";
  // A symbolic link as --out is refused too: its target is not ours to replace.
  fs::create_symlink(dir_ / "victim", dir_ / "link.onnx");
  auto r = run(commands[0] + (dir_ / "link.onnx").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  expect_victim_untouched();
}

TEST_F(Writes, RunTextFilesAreReadWithinALimitAndOnlyFromRegularFiles) {
  interrupted("a");
  const auto refused = [&](const std::string& file, const std::string& said) {
    SCOPED_TRACE(file);
    const Measured m = run_measured({"train", "--resume", (dir_ / "a").string()}, 10);
    EXPECT_EQ(m.exit_code, 1) << m.output;
    EXPECT_LT(m.seconds, 5);
    EXPECT_LT(m.peak_mib, 200);
    EXPECT_TRUE(contains(m.output, (dir_ / "a" / file).string() + ": " + said)) << m.output;
  };
  const fs::path json = dir_ / "a" / "run.json", model = dir_ / "a" / "model.txt";
  fs::rename(json, dir_ / "run.json.kept");
  fs::create_symlink("/dev/urandom", json);
  refused("run.json", "is not a regular file");
  fs::remove(json);
  {  // 1 GiB, sparse: a reader without a limit takes it all.
    std::ofstream big(json);
    big << read_file(dir_ / "run.json.kept");
  }
  fs::resize_file(json, uint64_t(1) << 30);
  refused("run.json", "1073741824 bytes, above the limit of 1048576");
  fs::remove(json);
  fs::rename(dir_ / "run.json.kept", json);
  fs::resize_file(model, uint64_t(1) << 30);
  refused("model.txt", "1073741824 bytes, above the limit of 1048576");
}

TEST_F(Writes, OverwriteRemovesTheWholeOldRunOrNothing) {
  ASSERT_EQ(run(train("a")).exit_code, 0);
  const fs::path old_events = event_file("a");
  ASSERT_FALSE(old_events.empty());
  // A folder where a run file belongs cannot be removed: nothing may go.
  fs::remove(dir_ / "a" / "curves.dat");
  fs::create_directories(dir_ / "a" / "curves.dat" / "inside");
  const auto before = snapshot(dir_ / "a");
  auto r = run(train("a", "--overwrite"));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "curves.dat: is a folder")) << r.output;
  EXPECT_EQ(snapshot(dir_ / "a"), before);

  fs::remove_all(dir_ / "a" / "curves.dat");
  ::sleep(1);  // the event file's name holds the time in seconds
  r = run(train("a", "--overwrite"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(fs::exists(old_events)) << "the old run's event file would mix two runs in TensorBoard";
  int event_files = 0;
  for (const auto& e : fs::directory_iterator(dir_ / "a"))
    event_files += e.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_EQ(event_files, 1);
}

TEST_F(Writes, PredictionsThatCannotBeWrittenFailBeforeTheResultsWithTheReason) {
  ASSERT_EQ(run(train("a")).exit_code, 0);
  auto r = run("eval --model " + (dir_ / "net.model").string() + " --weights " +
               (dir_ / "a" / "last.safetensors").string() + " --data-dir " + (dir_ / "data").string() +
               " --predictions " + (dir_ / "no-such-folder" / "p.csv").string());
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_TRUE(contains(r.output, "p.csv: cannot write (No such file or directory)")) << r.output;
  EXPECT_FALSE(contains(r.output, "test_acc")) << r.output;
}

TEST_F(Writes, NumbersWithSpacesOrHexadecimalAreRefusedByEveryNumberOption) {
  for (const std::string option : {"--lr", "--warmup-epochs", "--momentum"})
    for (const std::string value : {"' 5'", "0x10", "1e-2x"}) {
      SCOPED_TRACE(option + " " + value);
      auto r = run(train("a", option + " " + value));
      EXPECT_NE(r.exit_code, 0) << r.output;
      EXPECT_TRUE(contains(r.output, "expected a number")) << r.output;
    }
}

// On a full disk gnuplot's figure is never renamed into place half written:
// curves.png stays the last whole figure (a small tmpfs, filled to several
// levels; the audit found 7 of 16 levels left an undecodable file).
TEST(CurvesOnAFullDisk, CurvesPngIsWholeOrTheOldOne) {
  const fs::path mnt = fs::temp_directory_path() / ("mnistlab_full_disk_" + std::to_string(getpid()));
  fs::create_directories(mnt);
  if (::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=512k") != 0) {
    fs::remove(mnt);
    GTEST_SKIP() << "mounting a tmpfs needs root (CI runs as root)";
  }
  struct Unmount {
    fs::path at;
    ~Unmount() {
      ::umount(at.c_str());
      std::error_code ec;
      fs::remove_all(at, ec);
    }
  } unmount{mnt};
  CurvesSpec spec;
  spec.title = "t";
  spec.columns = {"epoch", "loss"};
  spec.panels = {CurvePanel{"loss", {CurveSeries{"train", 1, 1.0}}}};
  for (int e = 1; e <= 5; ++e) spec.rows.push_back({double(e), 1.0 / e});
  ASSERT_EQ(draw_curves(mnt, spec), "");
  const auto decodes = [&] {
    png_image image;
    std::memset(&image, 0, sizeof image);
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, (mnt / "curves.png").c_str())) return false;
    image.format = PNG_FORMAT_RGB;
    std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image));
    return png_image_finish_read(&image, nullptr, pixels.data(), 0, nullptr) != 0;
  };
  ASSERT_TRUE(decodes());
  const uint64_t figure = fs::file_size(mnt / "curves.png");
  int failed = 0;
  for (int level = 0; level < 16; ++level) {
    fs::remove(mnt / "filler");
    const uint64_t free_bytes = fs::space(mnt).available;
    const uint64_t leave = uint64_t(level) * (figure + 4096) / 8;  // from nothing to about two figures
    if (free_bytes > leave) {
      std::ofstream filler(mnt / "filler", std::ios::binary);
      const std::string block(4096, 'x');
      for (uint64_t n = 0; n + 4096 <= free_bytes - leave; n += 4096) filler << block;
    }
    spec.rows.push_back({double(spec.rows.size() + 1), 0.01});
    std::string problem;
    try {
      problem = draw_curves(mnt, spec);
    } catch (const std::exception& e) {
      problem = e.what();
    }
    failed += !problem.empty();
    EXPECT_TRUE(decodes()) << "level " << level << ": " << problem;
    for (const auto& entry : fs::directory_iterator(mnt))
      EXPECT_EQ(entry.path().filename().string().find(".tmp."), std::string::npos) << entry.path();
  }
  EXPECT_GT(failed, 0) << "no fill level made the disk full: the test proves nothing";
}

// gnuplot starts with no signal blocked (the run's threads block SIGINT and
// SIGTERM for the one that takes them) and in a process group of its own, so
// a Ctrl-C at the terminal reaches the run, which lets the figure finish; a
// gnuplot killed by a signal is reported as such.
TEST_F(Writes, GnuplotStartsUnblockedInItsOwnProcessGroupAndItsDeathIsNamed) {
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  std::ofstream(bin / "gnuplot") << "#!/bin/bash\ngrep SigBlk /proc/self/status >&2\n"
                                    "echo \"pgid $(cut -d' ' -f5 /proc/$$/stat)\" >&2\nkill -9 $$\n";
  fs::permissions(bin / "gnuplot", fs::perms::owner_all);
  const std::string path = getenv("PATH");
  setenv("PATH", (bin.string() + ":" + path).c_str(), 1);
  sigset_t stops, before;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stops, &before);
  CurvesSpec spec;
  spec.title = "t";
  spec.columns = {"epoch", "loss"};
  spec.panels = {CurvePanel{"loss", {CurveSeries{"train", 1, 1.0}}}};
  spec.rows = {{1.0, 1.0}, {2.0, 0.5}};
  fs::create_directories(dir_ / "run");
  const std::string problem = draw_curves(dir_ / "run", spec);
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  setenv("PATH", path.c_str(), 1);
  EXPECT_TRUE(contains(problem, "gnuplot was killed by signal 9")) << problem;
  const std::string log = read_file(dir_ / "run" / "curves.log");
  EXPECT_TRUE(contains(log, "SigBlk:\t0000000000000000\n")) << log;
  const size_t at = log.find("pgid ");
  ASSERT_NE(at, std::string::npos) << log;
  EXPECT_NE(std::stol(log.substr(at + 5)), long(getpgrp())) << log;
  EXPECT_FALSE(fs::exists(dir_ / "run" / "curves.png"));
}

namespace {

// A 3x2 8-bit palette PNG (colour type 3) written chunk by chunk from the
// PNG specification, so the reader is checked against bytes it did not make.
void write_palette_png(const fs::path& path, const std::vector<std::array<uint8_t, 3>>& palette,
                       const std::vector<uint8_t>& indices) {
  std::string png = "\x89PNG\r\n\x1a\n";
  const auto be32 = [](uint32_t v) {
    return std::string{char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
  };
  const auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    png += be32(uint32_t(data.size())) + body +
           be32(uint32_t(crc32(0, reinterpret_cast<const Bytef*>(body.data()), uInt(body.size()))));
  };
  chunk("IHDR", be32(3) + be32(2) + std::string{8, 3, 0, 0, 0});
  std::string plte;
  for (const auto& rgb : palette) plte += std::string{char(rgb[0]), char(rgb[1]), char(rgb[2])};
  chunk("PLTE", plte);
  std::string raw;  // each row: filter type 0, then its indices
  for (int row = 0; row < 2; ++row) raw += std::string(1, '\0') + std::string(indices.begin() + 3 * row, indices.begin() + 3 * row + 3);
  uLongf size = compressBound(uLong(raw.size()));
  std::string packed(size, '\0');
  compress(reinterpret_cast<Bytef*>(packed.data()), &size, reinterpret_cast<const Bytef*>(raw.data()), uLong(raw.size()));
  packed.resize(size);
  chunk("IDAT", packed);
  chunk("IEND", "");
  std::ofstream(path, std::ios::binary) << png;
}

}  // namespace

TEST_F(Writes, AGreyPalettePngIsReadAsGreyAndAColourOneIsCalledSo) {
  write_palette_png(dir_ / "grey.png", {{0, 0, 0}, {128, 128, 128}, {255, 255, 255}}, {0, 1, 2, 2, 1, 0});
  const GrayImage grey = read_png_gray(dir_ / "grey.png", 0, 0);
  EXPECT_EQ(grey.width, 3);
  EXPECT_EQ(grey.height, 2);
  EXPECT_EQ(grey.pixels, (std::vector<uint8_t>{0, 128, 255, 255, 128, 0}));
  write_palette_png(dir_ / "red.png", {{0, 0, 0}, {200, 10, 10}}, {0, 1, 0, 0, 0, 0});
  try {
    read_png_gray(dir_ / "red.png", 0, 0);
    FAIL() << "a red pixel read as grey";
  } catch (const Error& e) {
    EXPECT_TRUE(contains(e.what(), "red.png: is a color palette PNG (pixel 1 is rgb(200,10,10))")) << e.what();
  }
}

// A run folder renamed and replaced by a link to another folder after it was
// claimed: the run's writes, its event file and the removal of run.lock keep
// reaching the folder that was claimed, and the other folder stays empty.
TEST_F(Writes, ARunFolderSwappedForALinkAfterItIsClaimedKeepsGettingTheWrites) {
  const fs::path run = dir_ / "run", moved = dir_ / "moved", elsewhere = dir_ / "elsewhere";
  fs::create_directories(elsewhere);
  std::ofstream(elsewhere / "metrics.csv") << kPrecious;
  {
    RunLock lock;
    lock.lock(run, "mnistlab train --out run");
    fs::rename(run, moved);
    fs::create_directory_symlink(elsewhere, run);
    write_file_atomically(run / "metrics.csv", "epoch,train_loss\n");
    EventFile::create(run);  // written and closed at once
  }
  EXPECT_EQ(read_file(elsewhere / "metrics.csv"), kPrecious);
  std::vector<std::string> landed;
  for (const auto& entry : fs::directory_iterator(elsewhere)) landed.push_back(entry.path().filename().string());
  EXPECT_EQ(landed, std::vector<std::string>{"metrics.csv"}) << "a write followed the link";
  EXPECT_EQ(read_file(moved / "metrics.csv"), "epoch,train_loss\n");
  size_t event_files = 0;
  for (const auto& entry : fs::directory_iterator(moved))
    event_files += entry.path().filename().string().rfind("events.out.tfevents.", 0) == 0;
  EXPECT_EQ(event_files, 1u);
  EXPECT_FALSE(fs::exists(moved / "run.lock")) << "run.lock is removed where it was made";

  // Once the lock is gone the path is resolved anew: the swap above would
  // have redirected these writes, which is what the pin prevents.
  write_file_atomically(run / "after.txt", "x");
  EXPECT_TRUE(fs::exists(elsewhere / "after.txt"));
}
