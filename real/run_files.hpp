// What a `mirrorsim real` run leaves on disk while it runs — its run
// directory (backing files) and its controllers' state files in /dev/shm —
// is named after the process that owns it: "real-PID-START", START being
// the process's start time (/proc/PID/stat, clock ticks since boot), so a
// reused PID never passes for the owner. A run removes its files when it
// ends, however it ends short of SIGKILL; what a killed run left, the next
// run removes: files whose owner is gone. Never a live process's.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace mirrorsim::real {

// The start time of process `pid` (field 22 of /proc/PID/stat); nullopt
// when there is no such process.
std::optional<uint64_t> process_start_time(pid_t pid);
// "real-PID-START" of this process.
std::string run_owner_tag();

// Removes, from `run_parent`, directories named mirrorsim-real-PID-START-*
// and, from `state_dir`, files named mirrorsim-real-PID-START-*.state whose
// process PID is not running or started at another time. Returns what it
// removed. Names of any other shape are left alone.
std::vector<std::string> remove_abandoned_run_files(const std::string& run_parent, const std::string& state_dir);

}  // namespace mirrorsim::real
