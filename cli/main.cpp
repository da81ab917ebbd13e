// mirrorsim: the command-line front end. Dispatches to the registered
// subcommands (cli/cmd_*.cpp).
#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/version.hpp"

namespace mirrorsim::cli {

namespace {
std::vector<Command>& registry() {
  static std::vector<Command> r;
  return r;
}
}  // namespace

const std::vector<Command>& commands() { return registry(); }

Registration::Registration(Command c) {
  registry().push_back(std::move(c));
  std::sort(registry().begin(), registry().end(), [](const Command& a, const Command& b) { return a.name < b.name; });
}

}  // namespace mirrorsim::cli

namespace {
void usage(std::FILE* to) {
  fmt::print(to, "mirrorsim {} — remote data mirroring with local and remote write-pending indicators\n\n",
             mirrorsim::cli::kVersion);
  fmt::print(to, "usage: mirrorsim <command> [options]   (mirrorsim <command> --help for its options)\n\ncommands:\n");
  for (const auto& c : mirrorsim::cli::commands()) fmt::print(to, "  {:<12} {}\n", c.name, c.summary);
}
}  // namespace

int main(int argc, char** argv) {
  using namespace mirrorsim::cli;
  if (argc < 2) {
    usage(stderr);
    return kExitBadInput;
  }
  const std::string_view first = argv[1];
  if (first == "--help" || first == "-h" || first == "help") {
    usage(stdout);
    return kExitOk;
  }
  if (first == "--version") {
    fmt::print("mirrorsim {}\n", kVersion);
    return kExitOk;
  }
  for (const auto& c : commands())
    if (c.name == first) return c.main(argc - 1, argv + 1);
  fmt::print(stderr, "mirrorsim: unknown command '{}'\n\n", first);
  usage(stderr);
  return kExitBadInput;
}
