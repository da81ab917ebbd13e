// What every subcommand's command line shares: Boost.Program_options with
// one positional argument, --help, bad flags reported with the options
// (exit 2), and output files whose failure to write is reported, not lost.
#pragma once

#include <charconv>
#include <concepts>
#include <limits>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <boost/program_options.hpp>

namespace mirrorsim::cli {

// The value of a whole-number flag (a count, a seed, a size): decimal digits
// only, within T. Boost's own reading of an unsigned flag wraps negative
// numbers (--seed -18446744073709551615 became seed 1, --trace-writes -5
// became 4294967291); this refuses them, and anything beyond T, quoting what
// was typed (exit 2 like every bad flag). Declare flags as
// po::value<Whole<uint32_t>>(...), read them with .value.
template <std::unsigned_integral T>
struct Whole {
  T value{};
  Whole() = default;
  Whole(T v) : value(v) {}  // NOLINT: a default_value(...) reads as the number
};

// Shown by --help for a default value.
template <std::unsigned_integral T>
std::ostream& operator<<(std::ostream& out, const Whole<T>& w) {
  return out << w.value;
}

class BadWholeNumber : public boost::program_options::error_with_option_name {
 public:
  BadWholeNumber(const std::string& typed, uint64_t max)
      : error_with_option_name("the argument '%value%' for option '%canonical_option%' is invalid: expected a whole "
                               "number from 0 to " +
                               std::to_string(max)) {
    set_substitute("value", typed);
  }
};

// Found by argument-dependent lookup when Boost parses a Whole<T>.
template <std::unsigned_integral T>
void validate(boost::any& out, const std::vector<std::string>& values, Whole<T>*, int) {
  boost::program_options::validators::check_first_occurrence(out);
  const std::string& typed = boost::program_options::validators::get_single_string(values);
  T v{};
  const auto [end, error] = std::from_chars(typed.data(), typed.data() + typed.size(), v);
  // from_chars takes no '+' and no spaces; for an unsigned type it refuses a '-'.
  if (typed.empty() || error != std::errc() || end != typed.data() + typed.size())
    throw BadWholeNumber(typed, std::numeric_limits<T>::max());
  out = Whole<T>(v);
}

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
