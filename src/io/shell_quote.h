#pragma once
// A word as bash reads it back: the printed "continue with" command must work
// when pasted, whatever the folder's name (spaces, quotes, $(...), newlines).
#include <string>

namespace mnistlab {

// As is when it holds only [A-Za-z0-9_@%+=:,./-]; else '...' with ' as '\'';
// with a control character (a newline) $'...', so the command stays one line.
std::string shell_quote(const std::string& word);

}  // namespace mnistlab
