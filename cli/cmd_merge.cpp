// mirrorsim merge: the CSV outputs of a sharded sweep, joined into one.
#include <fstream>
#include <iostream>
#include <sstream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "cli/command_line.hpp"
#include "sweep/sweep.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

int merge_main(int argc, char** argv) {
  po::options_description opts("mirrorsim merge SHARD.csv... --out ALL.csv");
  std::string out_path;
  opts.add_options()("help,h", "this help")("out", po::value(&out_path), "the merged runs (CSV; .jsonl and .ci.csv beside it)");
  po::variables_map vm;
  if (const auto exit = parse_command_line(
          "merge", argc, argv, opts, vm,
          "Joins the runs tables of `mirrorsim sweep --shard i/N --out shard-i.csv` into the\n"
          "table the unsharded sweep would have written (and its means and confidence intervals).\n",
          Positional{"shards", nullptr, -1}))
    return *exit;
  if (!vm.count("shards") || out_path.empty()) {
    fmt::print(stderr, "mirrorsim merge: give the shards' CSV files and --out\n");
    return kExitBadInput;
  }
  std::vector<std::pair<std::string, SweepTable>> shards;
  try {
    for (const auto& path : vm["shards"].as<std::vector<std::string>>()) {
      std::ifstream in(path);
      if (!in) throw std::runtime_error(fmt::format("{}: cannot open", path));
      std::stringstream ss;
      ss << in.rdbuf();
      shards.emplace_back(path, read_csv(ss.str(), path));
    }
    const SweepTable merged = merge_runs(shards);
    const auto keys = param_columns(merged);
    const std::string stem = out_path.size() > 4 && out_path.substr(out_path.size() - 4) == ".csv"
                                 ? out_path.substr(0, out_path.size() - 4)
                                 : out_path;
    const int repeat = merged.column("repeat");
    bool repeats = false;
    for (const auto& row : merged.rows) repeats |= row[static_cast<size_t>(repeat)] != "0";
    bool written = write_text_file("merge", out_path, to_csv(merged));
    written &= write_text_file("merge", stem + ".jsonl", to_jsonl(merged));
    if (repeats) written &= write_text_file("merge", stem + ".ci.csv", to_csv(confidence_table(merged, keys)));
    if (!written) return kExitFailed;
    fmt::print("merged {} shards: {} runs into {}\n", shards.size(), merged.rows.size(), out_path);
  } catch (const std::exception& e) {
    fmt::print(stderr, "mirrorsim merge: {}\n", e.what());
    return kExitBadInput;
  }
  return kExitOk;
}

const Registration registration{{"merge", "join the CSV outputs of a sharded sweep", merge_main}};

}  // namespace
}  // namespace mirrorsim::cli
