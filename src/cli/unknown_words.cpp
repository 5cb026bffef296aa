#include "cli/unknown_words.h"

#include <algorithm>
#include <cctype>

namespace mnistlab::cli {

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i)
    for (size_t j = 1; j <= b.size(); ++j) {
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
    }
  return d[a.size()][b.size()];
}

std::string closest(const std::string& typed, const std::vector<std::string>& known) {
  const std::string bare = typed.substr(std::min(typed.find_first_not_of('-'), typed.size()));
  // A typo's allowance grows with the word: 1 edit up to 4 letters, 2 up to 8, then 3.
  const size_t allowed = bare.size() <= 4 ? 1 : bare.size() <= 8 ? 2 : 3;
  std::string best;
  size_t best_distance = allowed + 1;
  for (const std::string& name : known) {
    size_t distance = edit_distance(typed, name);
    // "--early-stop" for "--early-stop-patience": a start of at least 3 letters counts as one edit.
    if (bare.size() >= 3 && name.rfind(typed, 0) == 0) distance = std::min<size_t>(distance, 1);
    if (distance < best_distance) best = name, best_distance = distance;
  }
  return best;
}

namespace {

bool looks_like_option(const std::string& word) {
  if (word.size() < 2 || word[0] != '-') return false;
  // "-1", "-0.5": a negative number, a value
  return !(std::isdigit(static_cast<unsigned char>(word[1])) || word[1] == '.');
}

CLI::Option* option_named(CLI::App& app, const std::string& name) {
  for (CLI::Option* o : app.get_options())
    if (!o->get_positional() && o->check_name(name)) return o;
  return nullptr;
}

// "denoise train " for that subcommand, "" for the command itself.
std::string words_of(const CLI::App& app) {
  std::string words;
  for (const CLI::App* a = &app; a->get_parent(); a = a->get_parent()) words = a->get_name() + " " + words;
  return words;
}

std::string did_you_mean(const std::string& typed, const std::vector<std::string>& known,
                         const std::string& before = "") {
  const std::string near = closest(typed, known);
  return near.empty() ? "" : "; did you mean '" + before + near + "'?";
}

}  // namespace

std::string unknown_word_message(CLI::App& root, const std::vector<std::string>& args, const std::string& program) {
  CLI::App* app = &root;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (word == "--") break;  // positionals from here on
    if (looks_like_option(word)) {
      const size_t equals = word.find('=');
      const std::string name = word.substr(0, equals);
      if (CLI::Option* o = option_named(*app, name)) {
        if (o->get_type_size_max() > 0 && equals == std::string::npos) ++i;  // its value
        continue;
      }
      std::vector<std::string> known;
      for (const CLI::Option* o : app->get_options())
        if (!o->get_group().empty())  // hidden (tests') options are not offered
          for (const std::string& l : o->get_lnames()) known.push_back("--" + l);
      return "unknown option '" + name + "'" + did_you_mean(name, known) + " (see " + program + " " + words_of(*app) +
             "--help)";
    }
    const std::vector<CLI::App*> subcommands = app->get_subcommands([](CLI::App*) { return true; });
    const auto sub = std::find_if(subcommands.begin(), subcommands.end(),
                                  [&](CLI::App* s) { return s->check_name(word); });
    if (sub != subcommands.end()) {
      app = *sub;
      continue;
    }
    // A word that is not an option is the command's positional argument,
    // when it takes any; else it names a command.
    if (!app->get_options([](const CLI::Option* o) { return o->get_positional(); }).empty()) continue;
    if (subcommands.empty()) return "";
    std::vector<std::string> known;
    for (const CLI::App* s : subcommands) known.push_back(s->get_name());
    std::string list;
    for (const std::string& name : known) list += (list.empty() ? "" : ", ") + name;
    const std::string before = words_of(*app);  // "denoise trian": did you mean 'denoise train'?
    return "unknown command '" + before + word + "'" + did_you_mean(word, known, before) + " (the commands" +
           (before.empty() ? "" : " of " + before.substr(0, before.size() - 1)) + ": " + list + ")";
  }
  return "";
}

}  // namespace mnistlab::cli
