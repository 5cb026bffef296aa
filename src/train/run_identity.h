#pragma once
// What makes a run the run it is: its settings (run.json) and its network
// (model.txt). Every checkpoint records both, so `--resume` continues
// exactly the run that was saved, or refuses: an edited run.json (a changed
// val_split would move trained images into the validation set) or model.txt
// is named, key by key or line by line.
#include <map>
#include <string>

namespace mnistlab {

// Metadata entries for a checkpoint of the run with these files.
std::map<std::string, std::string> run_identity(const std::string& settings_json, const std::string& model_text);

// Throws Error when the folder's run.json or model.txt differ from what the
// checkpoint recorded, naming the file and the first key or line that
// differs; `checkpoint` and `dir` name the files in the message.
void check_run_identity(const std::map<std::string, std::string>& checkpoint_metadata, const std::string& checkpoint,
                        const std::string& settings_json, const std::string& model_text, const std::string& dir);

}  // namespace mnistlab
