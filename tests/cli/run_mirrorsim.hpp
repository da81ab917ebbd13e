// Running the `mirrorsim` binary from a test as a user would: its exit code,
// stdout and stderr, with files in a temporary directory of the test's own.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

// Not in namespace mirrorsim: the tests name their runner mirrorsim().
namespace cli_test {

struct Outcome {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// mirrorsim-TAG-PID under the system's temporary directory, created once.
inline std::filesystem::path make_temp_dir(std::string_view tag) {
  const std::filesystem::path d =
      std::filesystem::temp_directory_path() / fmt::format("mirrorsim-{}-{}", tag, ::getpid());
  std::filesystem::create_directories(d);
  return d;
}

// `mirrorsim ARGS` through the shell; its output is captured in `dir`.
inline Outcome run_mirrorsim(const std::string& args, const std::filesystem::path& dir) {
  const std::filesystem::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string cmd = fmt::format("{} {} >{} 2>{}", MIRRORSIM_BINARY, args, out.string(), err.string());
  const int status = std::system(cmd.c_str());
  return Outcome{WIFEXITED(status) ? WEXITSTATUS(status) : -1, slurp(out), slurp(err)};
}

// `mirrorsim ARGS` with stdout and stderr together (into `dir`, and `*out`
// when given): its exit code.
inline int run_combined(const std::string& args, const std::filesystem::path& dir, std::string* out = nullptr) {
  const std::filesystem::path o = dir / "out.txt";
  const int status = std::system(fmt::format("{} {} >{} 2>&1", MIRRORSIM_BINARY, args, o.string()).c_str());
  if (out) *out = slurp(o);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace cli_test
