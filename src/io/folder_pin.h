#pragma once
// A folder reached through one descriptor for as long as a FolderPin of it
// lives. TemporaryFile, check_output_path, the run lock and the event file
// open the folder they write in through folder_descriptor(), which hands out
// the pinned descriptor when there is one: a run folder renamed, or replaced
// by a link to somewhere else, after it was claimed does not redirect a later
// write (the files go on landing in the folder that was claimed).
#include <filesystem>
#include <string>

namespace mnistlab {

class FolderPin {
 public:
  FolderPin() = default;
  explicit FolderPin(const std::filesystem::path& folder);  // Error when it cannot be opened
  FolderPin(FolderPin&& other) noexcept;
  FolderPin& operator=(FolderPin&& other) noexcept;
  FolderPin(const FolderPin&) = delete;
  FolderPin& operator=(const FolderPin&) = delete;
  ~FolderPin();

 private:
  void release();
  std::string key_;  // the folder's absolute, lexically normal path; "" when empty
};

// A new descriptor (O_DIRECTORY, close-on-exec) of `folder`: a duplicate of
// the pinned one when the folder is pinned, else the folder opened now. -1
// with errno set when it cannot be opened. The caller closes it.
int folder_descriptor(const std::filesystem::path& folder);

// open(path, flags, 0644) with the folder reached through folder_descriptor():
// openat on it. -1 with errno set on failure.
int open_in_folder(const std::filesystem::path& path, int flags);

// Removes the file `path` through its folder's descriptor (unlinkat): a file
// of a pinned folder is removed there. True when it is gone (or was absent).
bool remove_file_in_folder(const std::filesystem::path& path);

// Removes `folder` when it is empty and its path still names the folder it
// named when pinned (rmdir: never a link, a file or another folder).
void remove_empty_folder(const std::filesystem::path& folder);

}  // namespace mnistlab
