// mirrorsim secondary: a controller process serving runs of `mirrorsim real`
// on this machine (normally R2, with `mirrorsim real SCENARIO --secondary
// HOST:PORT` elsewhere). It keeps its backing files in DIR and its state
// (non-volatile cache, track table) in a mapped file under --state-dir; when
// restarted with the same DIR during a run it recovers from them.
#include <csignal>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "real/controller_server.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

int secondary_main(int argc, char** argv) {
  po::options_description opts("mirrorsim secondary --listen HOST:PORT --dir DIR [options]");
  std::string listen, dir, state_dir = "/dev/shm";
  opts.add_options()                                                                              //
      ("help,h", "this help")                                                                      //
      ("listen", po::value(&listen), "address to serve on, e.g. 0.0.0.0:7400 (port 0: any free port)")  //
      ("dir", po::value(&dir), "directory for the backing files (created if missing)")             //
      ("state-dir", po::value(&state_dir)->default_value(state_dir),
       "where the state file lives (tmpfs: survives a process crash, not a machine power loss)")  //
      ("quiet,q", "no log lines on stderr");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    fmt::print(stderr, "mirrorsim secondary: {}\n\n", e.what());
    std::cerr << opts;
    return kExitBadInput;
  }
  if (vm.count("help")) {
    std::cout << opts << "\nServes as a controller for `mirrorsim real`: prints \"listening on HOST:PORT\" once bound,\n"
                         "then takes its configuration from the run that connects. Runs until killed.\n";
    return kExitOk;
  }
  if (listen.empty() || dir.empty()) {
    fmt::print(stderr, "mirrorsim secondary: --listen and --dir are required\n\n");
    std::cerr << opts;
    return kExitBadInput;
  }
  std::string why;
  const auto endpoint = real::parse_endpoint(listen, &why);
  if (!endpoint) {
    fmt::print(stderr, "mirrorsim secondary: --listen {}: {}\n", listen, why);
    return kExitBadInput;
  }
  std::signal(SIGPIPE, SIG_IGN);
  real::ServeOptions o;
  o.listen = *endpoint;
  o.dir = dir;
  o.state_dir = state_dir;
  o.announce_fd = 1;
  o.quiet = vm.count("quiet") > 0;
  try {
    return real::serve_controller(o);
  } catch (const std::exception& e) {
    fmt::print(stderr, "mirrorsim secondary: {}\n", e.what());
    return kExitFailed;
  }
}

const Registration registration{{"secondary", "serve as a controller (R2) for `mirrorsim real` on another machine",
                                  secondary_main}};

}  // namespace
}  // namespace mirrorsim::cli
