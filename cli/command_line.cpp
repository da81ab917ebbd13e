#include "cli/command_line.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include "cli/command.hpp"

namespace mirrorsim::cli {

namespace po = boost::program_options;

std::optional<int> parse_command_line(std::string_view command, int argc, char** argv,
                                      const po::options_description& opts, po::variables_map& vm,
                                      std::string_view about, Positional positional) {
  po::options_description hidden;
  if (positional.count == 1) hidden.add_options()(positional.name, po::value<std::string>());
  else hidden.add_options()(positional.name, po::value<std::vector<std::string>>());
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add(positional.name, positional.count);
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fmt::print(stderr, "mirrorsim {}: {}\n\n", command, e.what());
    std::cerr << opts;
    return kExitBadInput;
  }
  if (vm.count("help")) {
    std::cout << opts << "\n" << about;
    return kExitOk;
  }
  if (positional.shown && !vm.count(positional.name)) {
    fmt::print(stderr, "mirrorsim {}: missing {}\n\n", command, positional.shown);
    std::cerr << opts;
    return kExitBadInput;
  }
  return std::nullopt;
}

bool write_text_file(std::string_view command, const std::string& path, const std::string& text) {
  if (path.find('\0') != std::string::npos) {
    fmt::print(stderr, "mirrorsim {}: cannot write a path with a NUL character in it\n", command);
    return false;
  }
  errno = 0;
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) {
    fmt::print(stderr, "mirrorsim {}: cannot write {}: {}\n", command, path,
               errno ? std::strerror(errno) : "write failed");
    return false;
  }
  return true;
}

}  // namespace mirrorsim::cli
