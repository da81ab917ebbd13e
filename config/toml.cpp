// The implementation of toml++, compiled with config/toml.hpp's checked
// assertions (see there why the Debian library itself is not linked).
#define TOML_IMPLEMENTATION
#include "config/toml.hpp"

#include <fmt/format.h>

namespace mirrorsim::config {

void toml_defect(const char* what, const char* file, int line) {
  // The library's file name, without the directories of this machine.
  std::string_view name = file;
  if (const auto slash = name.rfind("toml++/"); slash != std::string_view::npos) name = name.substr(slash);
  throw TomlDefect(fmt::format("the TOML parser (toml++ {}.{}.{}) reached {} at {}:{}", TOML_LIB_MAJOR, TOML_LIB_MINOR,
                               TOML_LIB_PATCH, what, name, line));
}

}  // namespace mirrorsim::config
