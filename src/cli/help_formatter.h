#pragma once
// --help as one line an option, to fit a screen: "  --epochs INT 1..100000=15   Passes over ..."
// (CLI11 2.1 puts a long option's description on a line of its own and
// shows "INT:INT 1..100000", the type and then our check's placeholder).
// Longer explanations are in README.md and docs/guide.md.
#include <CLI/CLI.hpp>
#include <string>

namespace mnistlab::cli {

class HelpFormatter : public CLI::Formatter {
 public:
  HelpFormatter() { column_width(34); }

  // One line: the name column padded to the column width, or two spaces
  // after it when it is wider.
  std::string make_option(const CLI::Option* opt, bool is_positional) const override {
    std::string line = "  " + make_option_name(opt, is_positional) + make_option_opts(opt);
    const std::string description = make_option_desc(opt);
    if (!description.empty())
      line += (line.size() + 2 <= column_width_ ? std::string(column_width_ - line.size(), ' ') : "  ") + description;
    return line + "\n";
  }

  // Our checks' placeholders ("INT 1..100000", "{sgd,adam,adamw}", "NUMBER
  // in (0, 10]") say more than the type's name they follow, so they replace it.
  std::string make_option_opts(const CLI::Option* opt) const override {
    std::string opts = CLI::Formatter::make_option_opts(opt);
    const std::string type = opt->get_type_name();
    const size_t colon = type.find(':');
    if (colon == std::string::npos) return opts;
    const std::string placeholder = type.substr(colon + 1);
    if (placeholder.find_first_of(" {") == std::string::npos) return opts;  // CLI11's own: INT:POSITIVE
    const size_t at = opts.find(type);
    return at == std::string::npos ? opts : opts.replace(at, type.size(), placeholder);
  }

  // Commands' names are short: a narrower column.
  std::string make_subcommand(const CLI::App* sub) const override {
    std::string line = "  " + sub->get_display_name(true);
    line += line.size() + 2 <= kCommandColumn ? std::string(kCommandColumn - line.size(), ' ') : "  ";
    return line + sub->get_description() + "\n";
  }
  static constexpr size_t kCommandColumn = 12;

  // No second blank line before the footer (CLI11 adds one after the
  // options when hidden options form a group of their own).
  std::string make_help(const CLI::App* app, std::string name, CLI::AppFormatMode mode) const override {
    std::string help = CLI::Formatter::make_help(app, std::move(name), mode);
    for (size_t at; (at = help.find("\n\n\n")) != std::string::npos;) help.erase(at, 1);
    return help;
  }
};

}  // namespace mnistlab::cli
