#include "train/run_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>
#include <vector>

#include "io/shell_quote.h"
#include "mnistlab/error.h"

namespace mnistlab {
namespace {

namespace fs = std::filesystem;

constexpr const char* kLockName = "run.lock";
constexpr int kMaxDefaultNames = 1000;  // runs/NAME, runs/NAME-2, ... runs/NAME-1000

// The files `train` and `denoise train` write; a folder with any of them
// holds a run. --overwrite removes exactly these, nothing else.
constexpr const char* kRunFiles[] = {
    "run.json",         "model.txt",          "command.txt", "metrics.csv", "report.txt", "best.safetensors",
    "last.safetensors", "resume.safetensors", "samples.png", "curves.png",  "curves.gp",  "curves.dat",
    "curves.log",       "misclassified.png"};

std::string system_error(int err) { return std::strerror(err); }

// What the lock file says about its holder: "process PID (COMMAND)".
std::string read_holder(int fd) {
  std::string text;
  // The holder writes its PID just after taking the lock: give it a moment.
  for (int attempt = 0; attempt < 10 && text.empty(); ++attempt) {
    if (attempt) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    char buffer[1024];
    const ssize_t n = ::pread(fd, buffer, sizeof buffer, 0);
    if (n > 0) text.assign(buffer, size_t(n));
  }
  for (char& c : text)
    if ((c < ' ' && c != '\n') || c == 127) c = '?';
  const size_t end_of_pid = text.find('\n');
  if (text.empty() || end_of_pid == std::string::npos) return "another process (it has not written its PID yet)";
  std::string command = text.substr(end_of_pid + 1);
  while (!command.empty() && command.back() == '\n') command.pop_back();
  return "process " + text.substr(0, end_of_pid) + (command.empty() ? "" : " (" + command + ")");
}

Error in_use(const fs::path& dir, const std::string& holder, const std::string& more) {
  return Error(dir.string() + " is in use by a training still running: " + holder + "; wait for it to end or stop it" +
               more);
}

// "" for a regular file with no other hard link, else what it is.
std::string not_own_file(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) return "unreadable (" + system_error(errno) + ")";
  if (!S_ISREG(st.st_mode)) return "not a regular file";
  if (st.st_nlink != 1) return "a file with another hard link";
  return "";
}

Error not_own_lock_file(const fs::path& path, const std::string& what) {
  return Error(path.string() + ": is " + what + "; run.lock must be mnistlab's own file in the run folder (it is "
               "truncated and written): remove it and run again");
}

bool same_file(int fd, const fs::path& path) {
  struct stat opened {}, named {};
  return ::fstat(fd, &opened) == 0 && ::stat(path.c_str(), &named) == 0 && opened.st_dev == named.st_dev &&
         opened.st_ino == named.st_ino;
}

// Creates dir (and its parents); says whether it had to.
bool make_folder(const fs::path& dir) {
  std::error_code ec;
  if (fs::is_directory(dir, ec)) return false;
  if (fs::exists(dir, ec)) throw Error(dir.string() + ": is a file, not a folder; a run needs a folder of its own");
  fs::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create the run folder (" + ec.message() + ")");
  return true;
}

bool is_run_file(const std::string& name) {
  if (name.rfind("events.out.tfevents.", 0) == 0) return true;  // TensorBoard's
  for (const char* file : kRunFiles)
    if (name == file) return true;
  return false;
}

// "NAME.tmp" or "NAME.tmp.<pid>" of a run file: left by a process that was
// killed while writing. Only called with the lock held, so no one is.
bool is_leftover_temporary(const std::string& name) {
  const size_t at = name.rfind(".tmp");
  if (at == std::string::npos || !is_run_file(name.substr(0, at))) return false;
  const std::string rest = name.substr(at + 4);
  if (rest.empty()) return true;
  return rest.size() > 1 && rest[0] == '.' && rest.find_first_not_of("0123456789", 1) == std::string::npos;
}

void remove_leftover_temporaries(const fs::path& dir) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (is_leftover_temporary(entry.path().filename().string())) remove_file_in_folder(entry.path());
}

// Every file of the old run, event files included, checked first so that a
// removal that cannot be made fails before any file is gone.
void remove_run_files(const fs::path& dir) {
  std::vector<fs::path> doomed;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec))
    if (is_run_file(entry.path().filename().string())) doomed.push_back(entry.path());
  if (ec) throw Error(dir.string() + ": cannot list the run folder to --overwrite it (" + ec.message() + ")");
  if (!doomed.empty() && ::access(dir.c_str(), W_OK | X_OK) != 0)
    throw Error(dir.string() + ": cannot remove the old run's files to --overwrite it (" + system_error(errno) +
                "); nothing was removed");
  for (const fs::path& file : doomed)
    if (fs::is_directory(fs::symlink_status(file, ec)))
      throw Error(file.string() + ": is a folder where a file of a run belongs; move it away to --overwrite the "
                  "run (nothing was removed)");
  for (const fs::path& file : doomed)
    if (!remove_file_in_folder(file))
      throw Error(file.string() + ": cannot remove it to --overwrite the run (" + system_error(errno) + ")");
}

// What the folder holds, in words ("a finished run", ...), or "" when it
// holds no file of a run.
std::string earlier_run(const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir / "resume.safetensors", ec)) return "an interrupted run";
  if (fs::exists(dir / "report.txt", ec)) return "a finished run";
  for (const char* name : kRunFiles)
    if (fs::exists(dir / name, ec)) return std::string("an earlier run (") + name + ")";
  return "";
}

Error holds_a_run(const fs::path& dir, const std::string& what) {
  const std::string d = dir.string();
  if (what == "an interrupted run")
    return Error(d + " holds an interrupted run; continue it with `mnistlab train --resume " +
                 shell_quote(d) + "`, choose another --out, or add --overwrite to discard it");
  return Error(d + " already holds " + what + "; choose another --out, or add --overwrite to replace it");
}

}  // namespace

RunLock::RunLock(RunLock&& other) noexcept { *this = std::move(other); }

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    release();
    fd_ = other.fd_;
    dir_ = std::move(other.dir_);
    pin_ = std::move(other.pin_);
    created_dir_ = other.created_dir_;
    other.fd_ = -1;
  }
  return *this;
}

RunLock::~RunLock() { release(); }

bool RunLock::try_lock(const fs::path& dir, const std::string& command_line, std::string* holder) {
  release();
  bool created = make_folder(dir);
  FolderPin pin(dir);
  const fs::path path = dir / kLockName;
  const auto undo = [&](int err) {
    if (created) remove_empty_folder(dir);
    errno = err;
    return err;
  };
  for (int attempt = 0; attempt < 100; ++attempt) {
    // Never through a link: run.lock is truncated and written in place.
    const int fd = open_in_folder(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {  // removed by a run that created it and failed at once
      pin = FolderPin();
      created = make_folder(dir) || created;
      pin = FolderPin(dir);
      continue;
    }
    if (fd < 0 && errno == ELOOP) throw not_own_lock_file(path, "a symbolic link");
    if (fd < 0) throw Error(dir.string() + ": cannot write in the run folder (" + system_error(undo(errno)) + ")");
    if (const std::string what = not_own_file(fd); !what.empty()) {
      ::close(fd);
      throw not_own_lock_file(path, what);
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      if (err == EWOULDBLOCK && holder) *holder = read_holder(fd);
      ::close(fd);
      if (err == EWOULDBLOCK) return false;  // a folder someone holds was not ours to create
      throw Error(path.string() + ": cannot lock the run folder (" + system_error(undo(err)) + ")");
    }
    // The holder before us removes run.lock as it lets go: if it did so
    // after our open, we hold a file no one else sees. Open it again.
    if (!same_file(fd, path)) {
      ::close(fd);
      continue;
    }
    fd_ = fd;
    dir_ = dir;
    pin_ = std::move(pin);
    created_dir_ = created;
    const std::string owner = std::to_string(getpid()) + "\n" + command_line + "\n";
    if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, owner.data(), owner.size(), 0) != ssize_t(owner.size()))
      throw Error(path.string() + ": cannot write (" + system_error(errno) + ")");
    return true;
  }
  throw Error(path.string() + ": cannot lock the run folder (the lock file keeps being replaced)");
}

void RunLock::lock(const fs::path& dir, const std::string& command_line) {
  std::string holder;
  if (!try_lock(dir, command_line, &holder)) throw in_use(dir, holder, "");
}

void RunLock::release() {
  if (fd_ < 0) return;
  remove_file_in_folder(dir_ / kLockName);  // still locked: no one else holds this file
  ::close(fd_);
  fd_ = -1;
  if (created_dir_) remove_empty_folder(dir_);  // a run that failed before writing anything
  pin_ = FolderPin();
}

RunFolder claim_new_run_folder(const std::string& out, const std::string& default_dir, bool overwrite,
                               const std::string& command_line) {
  if (!out.empty() || overwrite) {
    RunFolder run{out.empty() ? default_dir : out, {}, {}};
    std::string holder;
    if (!run.lock.try_lock(run.dir, command_line, &holder)) throw in_use(run.dir, holder, ", or choose another --out");
    remove_leftover_temporaries(run.dir);
    if (overwrite) {
      remove_run_files(run.dir);
    } else if (const std::string what = earlier_run(run.dir); !what.empty()) {
      throw holds_a_run(run.dir, what);
    }
    return run;
  }
  std::string first_taken;
  for (int n = 1; n <= kMaxDefaultNames; ++n) {
    RunFolder run{n == 1 ? default_dir : default_dir + "-" + std::to_string(n), {}, {}};
    std::string holder;
    if (!run.lock.try_lock(run.dir, command_line, &holder)) {
      if (n == 1) first_taken = "is in use by " + holder;
      continue;
    }
    remove_leftover_temporaries(run.dir);
    const std::string what = earlier_run(run.dir);
    if (what.empty()) {
      if (n > 1) run.note = default_dir + " " + first_taken + "; this run writes to " + run.dir.string();
      return run;
    }
    if (n == 1)
      first_taken = "holds " + what +
                    (what == "an interrupted run" ? " (continue it with --resume " + shell_quote(default_dir) + ")"
                                                  : "");
  }
  throw Error(default_dir + ", " + default_dir + "-2, ... " + default_dir + "-" + std::to_string(kMaxDefaultNames) +
              " all hold runs; choose a folder with --out");
}

RunFolder claim_run_folder_to_resume(const fs::path& dir, const std::string& command_line) {
  const auto no_checkpoint = [&] {
    return Error((dir / "resume.safetensors").string() +
                 ": no such file; --resume takes the folder of a run that was interrupted");
  };
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw no_checkpoint();
  RunFolder run{dir, {}, {}};
  run.lock.lock(dir, command_line);
  if (!fs::exists(dir / "resume.safetensors", ec)) {
    // A finished run removed its checkpoint: it has nothing left to do.
    if (fs::exists(dir / "report.txt", ec))
      throw Error(dir.string() + ": this run finished (its report.txt is there), so there is nothing to resume; "
                  "--resume continues a run that was interrupted. To train further, start a new run from its "
                  "weights: --init-weights " + shell_quote((dir / "last.safetensors").string()));
    throw no_checkpoint();
  }
  remove_leftover_temporaries(dir);
  return run;
}

}  // namespace mnistlab
