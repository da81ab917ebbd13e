// Subcommands of `mirrorsim` register themselves here: each lives in its
// own cli/cmd_<name>.cpp with a static Registration, so adding a subcommand
// never touches main.cpp.
#pragma once

#include <string>
#include <vector>

namespace mirrorsim::cli {

// Exit codes shared by every subcommand.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;    // the run found a problem (invariant violation, deadlock, mismatch)
constexpr int kExitBadInput = 2;  // bad scenario, flag or argument

struct Command {
  std::string name;
  std::string summary;  // one line for `mirrorsim --help`
  int (*main)(int argc, char** argv);  // argv[0] is the subcommand name
};

const std::vector<Command>& commands();

struct Registration {
  explicit Registration(Command c);
};

}  // namespace mirrorsim::cli
