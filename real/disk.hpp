// The controller's disks: one sparse backing file per model disk under the
// controller's directory (a track never written is a hole and holds version
// 0 by definition), written with pwrite + fdatasync (optionally O_DIRECT),
// read with O_DIRECT (a disk read is the device's, not the page cache's),
// one worker thread per disk serving its I/Os in arrival order (the model's
// disk is a FIFO server). Completions return to the event loop through its
// wake-up.
//
// Fault injection wraps the file I/O: a failed disk answers every I/O with
// an error (EIO, or ENOSPC for writes), an added latency delays each I/O,
// and a simulated power loss drops every write that was not yet synced: a
// worker between its pwrite and its fdatasync puts the old bytes back, and
// nothing queued is written.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "model/types.hpp"
#include "real/geometry.hpp"
#include "real/track_image.hpp"

namespace mirrorsim::real {

// Page-aligned bytes, as O_DIRECT needs.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  // `bytes` usable, in an allocation of at least `capacity` (4 KiB blocks).
  explicit AlignedBuffer(size_t bytes, size_t capacity = 0);
  uint8_t* data() { return data_.get(); }
  const uint8_t* data() const { return data_.get(); }
  size_t size() const { return size_; }
  std::span<uint8_t> span() { return {data_.get(), size_}; }
  std::span<const uint8_t> span() const { return {data_.get(), size_}; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  std::unique_ptr<uint8_t, Free> data_;
  size_t size_ = 0;
};

struct DiskOptions {
  bool o_direct = false;   // writes (and reads) with O_DIRECT
  // Reads always go through a second descriptor opened with O_DIRECT, so a
  // disk read is the device's and not a page-cache hit. Where the file
  // system refuses O_DIRECT (EINVAL, e.g. an old tmpfs) the disk set refuses
  // to start, unless this says page-cache reads are acceptable.
  bool page_cache_reads = false;
  int failure_errno = 5;   // EIO; ENOSPC (28) for "disk full" failures of writes
  Time added_latency;      // every I/O, on top of the device's own time
  // Keep the old bytes of every write until it is synced, so a simulated
  // power loss can drop it. Costs a read per write: on only when the
  // scenario schedules a disaster.
  bool undo_unsynced = false;
  uint64_t seed = 0;       // the run's: the generated content of version 0, which no file stores
};

struct DiskCompletion {
  bool write = true;
  uint32_t disk = 0;
  int64_t tag = -1;      // the submitter's (writes)
  TrackKey key;
  Version version = 0;   // written; or read from the track's header
  bool ok = true;
  std::string error;     // why not ok
  AlignedBuffer data;    // reads: the track as read
  // The worker thread's CPU for this I/O (CLOCK_THREAD_CPUTIME_ID around
  // its system calls: the copy into the page cache, the flush's submission,
  // the device's notifications): CPU the machine's processors spend on it
  // beside the controller's event loop, ns.
  int64_t cpu_ns = 0;
  // When the worker posted it for the event loop (monotonic clock): how
  // long the loop then took to run is its wake-up (EventLoop::idle_since).
  Time posted;
};

// One track's state on disk, for verification.
struct TrackDigest {
  ImageCheck check = ImageCheck::NoHeader;
  Version version = 0;
  uint32_t length = 0;
  uint32_t checksum = 0;
};

class DiskSet {
 public:
  // `wake` is called from worker threads when completions are ready.
  DiskSet(const Geometry& g, std::string dir, DiskOptions options, std::function<void()> wake);
  ~DiskSet();  // stops and joins the workers (queued I/O is abandoned)

  // Creates the backing files, sparse: nothing is written, so a volume of
  // any size costs only what the run writes, and starts at once. (The first
  // write into a hole costs the file system an allocation, 20–40 µs here:
  // that is part of a first write's measured time.) Throws
  // std::runtime_error.
  void format();
  // Opens files `format` made earlier (a restart). Throws when missing or
  // of the wrong size.
  void open_existing();
  void start();  // the worker threads

  // Writes `data` (at least io_bytes, rounded up to the 4 KiB block with
  // O_DIRECT, and then page-aligned) from where it is: the caller keeps it
  // unchanged until the completion carrying `tag` comes back.
  void submit_write(uint32_t disk, TrackKey key, Version version, std::span<const uint8_t> data, uint32_t io_bytes,
                    int64_t tag);
  void submit_read(uint32_t disk, TrackKey key);
  std::vector<DiskCompletion> take_completions();

  void set_failed(uint32_t disk, bool failed);
  void set_added_latency(Time t) { added_latency_ns_.store(t.ns); }
  // Drops every write not yet synced and stops the workers; returns when
  // none of them will touch a file again.
  void power_loss();

  // Reads every track back (the workers must be idle or stopped). A track
  // whose range of the file is a hole is Unwritten without a read.
  std::vector<TrackDigest> digest(uint64_t first, uint32_t count);
  uint64_t busy_ns(uint32_t disk) const { return workers_[disk]->busy_ns.load(); }
  uint64_t ios() const;
  bool direct_reads() const { return direct_reads_; }
  uint32_t io_bytes_for(uint32_t bytes) const;
  const Geometry& geometry() const { return g_; }

 private:
  struct Request {
    bool write = true;
    TrackKey key;
    Version version = 0;
    std::span<const uint8_t> source;  // writes
    AlignedBuffer data;               // reads
    uint32_t io_bytes = 0;
    int64_t tag = -1;
  };
  struct Worker {
    uint32_t disk = 0;
    int fd = -1;
    int read_fd = -1;  // O_DIRECT; -1: reads use fd (page-cache reads accepted)
    std::thread thread;
    std::mutex mu;
    std::condition_variable cv;
    std::deque<Request> queue;
    bool stop = false;
    std::atomic<bool> failed{false};
    std::atomic<uint64_t> busy_ns{0};
    std::atomic<uint64_t> ios{0};
  };
  std::string path_of(uint32_t disk) const;
  void open_files();
  void open_direct_reads(Worker& w, const std::string& path);
  bool read_track(Worker& w, AlignedBuffer& into, uint64_t off);
  void run(Worker& w);
  DiskCompletion serve(Worker& w, Request& r);

  Geometry g_;
  std::string dir_;
  DiskOptions opt_;
  std::function<void()> wake_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::atomic<int64_t> added_latency_ns_{0};
  std::atomic<bool> power_lost_{false};
  bool direct_reads_ = true;
  std::mutex done_mu_;
  std::vector<DiskCompletion> done_;
  std::atomic<bool> wake_pending_{false};  // one wake-up per batch of completions
};

}  // namespace mirrorsim::real
