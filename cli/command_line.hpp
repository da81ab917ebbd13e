// What every subcommand's command line shares: Boost.Program_options with
// one positional argument, --help, bad flags reported with the options
// (exit 2), and output files whose failure to write is reported, not lost.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/program_options.hpp>

namespace mirrorsim::cli {

struct Positional {
  const char* name = "scenario";  // the key in the variables map
  const char* shown = "SCENARIO (a .toml file)";  // in "missing ..."; nullptr: optional
  int count = 1;                  // -1: every remaining argument
};

// Parses argv into `vm`: `opts` plus the positional argument. Prints the
// error and `opts` for bad flags, `opts` and `about` for --help, and names a
// missing positional argument. Returns the exit code to leave with, or
// nullopt to go on.
std::optional<int> parse_command_line(std::string_view command, int argc, char** argv,
                                      const boost::program_options::options_description& opts,
                                      boost::program_options::variables_map& vm, std::string_view about,
                                      Positional positional = {});

// Writes `text` to `path`; on failure prints "mirrorsim COMMAND: cannot
// write PATH: reason" and returns false.
bool write_text_file(std::string_view command, const std::string& path, const std::string& text);

}  // namespace mirrorsim::cli
