// mirrorsim secondary: a controller process serving runs of `mirrorsim real`
// on this machine (normally R2, with `mirrorsim real SCENARIO --secondary
// HOST:PORT` elsewhere). It keeps its backing files in DIR and its state
// (non-volatile cache, track table) in a mapped file under --state-dir; when
// restarted with the same DIR during a run it recovers from them. Every
// connection proves it holds the key of --key FILE (made once with
// --new-key FILE and copied to the machine of `mirrorsim real`); without a
// key it listens on loopback only.
#include <csignal>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "cli/command.hpp"
#include "real/auth.hpp"
#include "real/controller_server.hpp"

namespace mirrorsim::cli {
namespace {

namespace po = boost::program_options;

int secondary_main(int argc, char** argv) {
  po::options_description opts("mirrorsim secondary --listen HOST:PORT --dir DIR --key FILE [options]\n"
                               "mirrorsim secondary --new-key FILE");
  std::string listen, dir, state_dir = "/dev/shm", key_file, new_key_file;
  uint32_t connections_max = 64;
  double unauthenticated_timeout_s = 3, idle_timeout_s = 60;
  opts.add_options()                                                                              //
      ("help,h", "this help")                                                                      //
      ("listen", po::value(&listen), "address to serve on, e.g. 0.0.0.0:7400 (port 0: any free port)")  //
      ("dir", po::value(&dir), "directory for the backing files (created if missing)")             //
      ("key", po::value(&key_file), "the shared key every connection must prove it holds (mode 0600); required "
                                    "beyond loopback")                                              //
      ("new-key", po::value(&new_key_file), "write a new random key to FILE (mode 0600, never over an existing "
                                            "file) and exit")                                       //
      ("connections-max", po::value(&connections_max)->default_value(connections_max),
       "connections held at once beside the link; more are refused at once")                      //
      ("unauthenticated-timeout-s", po::value(&unauthenticated_timeout_s)->default_value(unauthenticated_timeout_s),
       "a connection that has not authenticated and said Hello by then is closed")                //
      ("idle-timeout-s", po::value(&idle_timeout_s)->default_value(idle_timeout_s),
       "an authenticated control connection silent this long is closed, unless it runs the run")  //
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
                         "then takes its configuration from the run that connects. Runs until killed.\n"
                         "Once: mirrorsim secondary --new-key r2.key, and copy r2.key (mode 0600) to the machine\n"
                         "of `mirrorsim real SCENARIO --secondary HOST:PORT --key r2.key`.\n";
    return kExitOk;
  }
  if (!new_key_file.empty()) {
    if (!listen.empty() || !dir.empty() || !key_file.empty()) {
      fmt::print(stderr, "mirrorsim secondary: --new-key makes a key and exits: not with --listen, --dir or --key\n");
      return kExitBadInput;
    }
    try {
      real::write_new_key_file(new_key_file);
    } catch (const real::KeyFileError& e) {
      fmt::print(stderr, "mirrorsim secondary: {}\n", e.what());
      return kExitBadInput;
    }
    fmt::print("wrote a new key to {} (mode 0600): give it to this secondary with --key {}, and copy it, private,\n"
               "to the machine of `mirrorsim real ... --secondary HOST:PORT --key FILE`\n",
               new_key_file, new_key_file);
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
  if (connections_max == 0 || !(unauthenticated_timeout_s > 0) || !(idle_timeout_s > 0)) {
    fmt::print(stderr, "mirrorsim secondary: --connections-max, --unauthenticated-timeout-s and --idle-timeout-s must "
                       "be > 0\n");
    return kExitBadInput;
  }
  real::ServeOptions o;
  if (!key_file.empty()) {
    try {
      o.key = real::read_key_file(key_file);
    } catch (const real::KeyFileError& e) {
      fmt::print(stderr, "mirrorsim secondary: {}\n", e.what());
      return kExitBadInput;
    }
  } else if (!real::is_loopback(*endpoint)) {
    fmt::print(stderr,
               "mirrorsim secondary: --listen {} reaches beyond this machine, and without --key anyone who can reach "
               "it could\ncontrol this secondary. Make a key once with `mirrorsim secondary --new-key r2.key`, then "
               "--key r2.key here\nand on `mirrorsim real ... --secondary HOST:PORT --key r2.key`.\n",
               listen);
    return kExitBadInput;
  }
  std::signal(SIGPIPE, SIG_IGN);
  o.listen = *endpoint;
  o.connections_max = connections_max;
  o.unauthenticated_timeout = Time::from_s(unauthenticated_timeout_s);
  o.idle_timeout = Time::from_s(idle_timeout_s);
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
