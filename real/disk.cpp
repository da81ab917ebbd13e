#include "real/disk.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

#include "real/clock.hpp"
#include "real/cpu.hpp"

namespace mirrorsim::real {
namespace {

constexpr uint32_t kDirectBlockBytes = 4096;

[[noreturn]] void fail(const std::string& what) { throw std::runtime_error(what + ": " + std::strerror(errno)); }

bool pwrite_all(int fd, const uint8_t* p, size_t n, uint64_t off) {
  while (n) {
    const ssize_t w = ::pwrite(fd, p, n, static_cast<off_t>(off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
    off += static_cast<uint64_t>(w);
  }
  return true;
}

bool pread_all(int fd, uint8_t* p, size_t n, uint64_t off) {
  while (n) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) {
      if (r == 0) errno = EIO;  // short file: treat as an I/O error
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
    off += static_cast<uint64_t>(r);
  }
  return true;
}

}  // namespace

AlignedBuffer::AlignedBuffer(size_t bytes, size_t capacity) : size_(bytes) {
  void* p = nullptr;
  const size_t rounded = (std::max(bytes, capacity) + kDirectBlockBytes - 1) / kDirectBlockBytes * kDirectBlockBytes;
  if (posix_memalign(&p, kDirectBlockBytes, std::max<size_t>(rounded, kDirectBlockBytes)) != 0) throw std::bad_alloc();
  data_.reset(static_cast<uint8_t*>(p));
}

DiskSet::DiskSet(const Geometry& g, std::string dir, DiskOptions options, std::function<void()> wake)
    : g_(g), dir_(std::move(dir)), opt_(options), wake_(std::move(wake)) {
  added_latency_ns_ = opt_.added_latency.ns;
  for (uint32_t d = 0; d < g_.disks; ++d) {
    workers_.push_back(std::make_unique<Worker>());
    workers_.back()->disk = d;
  }
}

DiskSet::~DiskSet() {
  for (auto& w : workers_) {
    {
      std::lock_guard lock(w->mu);
      w->stop = true;
    }
    w->cv.notify_all();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
    if (w->fd >= 0) ::close(w->fd);
    if (w->read_fd >= 0) ::close(w->read_fd);
  }
}

std::string DiskSet::path_of(uint32_t disk) const { return fmt::format("{}/disk{}.img", dir_, disk); }

uint32_t DiskSet::io_bytes_for(uint32_t bytes) const {
  if (!opt_.o_direct) return bytes;
  return (bytes + kDirectBlockBytes - 1) / kDirectBlockBytes * kDirectBlockBytes;
}

void DiskSet::format() {
  for (uint32_t d = 0; d < g_.disks; ++d) {
    const std::string path = path_of(d);
    const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) fail("cannot create " + path);
    if (::ftruncate(fd, static_cast<off_t>(g_.tracks_on_disk[d] * g_.track_bytes)) != 0) {
      const int err = errno;
      ::close(fd);
      errno = err;
      fail("cannot size " + path);
    }
    ::close(fd);
  }
  open_files();
}

void DiskSet::open_existing() { open_files(); }

void DiskSet::open_files() {
  for (uint32_t d = 0; d < g_.disks; ++d) {
    const std::string path = path_of(d);
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | (opt_.o_direct ? O_DIRECT : 0));
    if (fd < 0) fail("cannot open " + path + (opt_.o_direct ? " with O_DIRECT" : ""));
    struct stat st{};
    fstat(fd, &st);
    const uint64_t want = g_.tracks_on_disk[d] * g_.track_bytes;
    if (static_cast<uint64_t>(st.st_size) != want) {
      ::close(fd);
      throw std::runtime_error(fmt::format("{} holds {} bytes, the geometry needs {}", path, st.st_size, want));
    }
    workers_[d]->fd = fd;
    open_direct_reads(*workers_[d], path);
  }
}

void DiskSet::open_direct_reads(Worker& w, const std::string& path) {
  // A second descriptor for reads, with O_DIRECT; and one aligned read to
  // see that the file system takes it (some refuse at open, some at read).
  int rfd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
  int err = rfd < 0 ? errno : 0;
  if (rfd >= 0 && g_.tracks_on_disk[w.disk] > 0) {
    AlignedBuffer probe(kDirectBlockBytes);
    if (::pread(rfd, probe.data(), kDirectBlockBytes, 0) < 0) {
      err = errno;
      ::close(rfd);
      rfd = -1;
    }
  }
  if (rfd >= 0) {
    w.read_fd = rfd;
    return;
  }
  if (err == EINVAL && opt_.page_cache_reads) {
    direct_reads_ = false;  // said so in the run's engine_config
    return;
  }
  errno = err;
  if (err == EINVAL)
    fail(fmt::format("the file system of {} refuses O_DIRECT reads, so disk reads would be page-cache hits; put the "
                     "run's directory on one that takes O_DIRECT (ext4, xfs), or accept page-cache reads "
                     "(--page-cache-reads)",
                     path));
  fail("cannot open " + path + " with O_DIRECT for reads");
}

void DiskSet::start() {
  for (auto& w : workers_) {
    Worker* raw = w.get();
    w->thread = std::thread([this, raw] { run(*raw); });
  }
}

void DiskSet::submit_write(uint32_t disk, TrackKey key, Version version, std::span<const uint8_t> data,
                           uint32_t io_bytes, int64_t tag) {
  Worker& w = *workers_.at(disk);
  const uint32_t n = io_bytes_for(io_bytes);
  if (n > data.size()) throw std::logic_error("a disk write beyond its buffer");
  {
    std::lock_guard lock(w.mu);
    w.queue.push_back(Request{true, key, version, data, AlignedBuffer(), n, tag});
  }
  w.cv.notify_one();
}

void DiskSet::submit_read(uint32_t disk, TrackKey key) {
  Worker& w = *workers_.at(disk);
  {
    std::lock_guard lock(w.mu);
    // Room for the track's enclosing 4 KiB blocks: an O_DIRECT read is of whole blocks.
    w.queue.push_back(Request{false, key, 0, {}, AlignedBuffer(g_.track_bytes, g_.track_bytes + 2 * kDirectBlockBytes),
                              io_bytes_for(g_.track_bytes), -1});
  }
  w.cv.notify_one();
}

std::vector<DiskCompletion> DiskSet::take_completions() {
  wake_pending_ = false;  // completions after this point wake the loop again
  std::lock_guard lock(done_mu_);
  std::vector<DiskCompletion> out;
  out.swap(done_);
  return out;
}

void DiskSet::set_failed(uint32_t disk, bool failed) { workers_.at(disk)->failed = failed; }

uint64_t DiskSet::ios() const {
  uint64_t n = 0;
  for (const auto& w : workers_) n += w->ios.load();
  return n;
}

void DiskSet::power_loss() {
  power_lost_ = true;
  for (auto& w : workers_) {
    {
      std::lock_guard lock(w->mu);
      w->stop = true;
      w->queue.clear();  // never started: never written
    }
    w->cv.notify_all();
  }
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
}

void DiskSet::run(Worker& w) {
  for (;;) {
    Request r;
    {
      std::unique_lock lock(w.mu);
      w.cv.wait(lock, [&] { return w.stop || !w.queue.empty(); });
      if (w.stop) return;
      r = std::move(w.queue.front());
      w.queue.pop_front();
    }
    DiskCompletion c = serve(w, r);
    if (power_lost_) return;  // the machine is off: nobody hears of it
    {
      std::lock_guard lock(done_mu_);
      c.posted = monotonic_now();
      done_.push_back(std::move(c));
    }
    if (!wake_pending_.exchange(true)) wake_();
  }
}

bool DiskSet::read_track(Worker& w, AlignedBuffer& into, uint64_t off) {
  if (w.read_fd < 0) return pread_all(w.fd, into.data(), g_.track_bytes, off);
  // O_DIRECT: the blocks enclosing the track, then the track moved to the
  // buffer's start. The last track may end in a partial block at the end
  // of the file: a short read that covers it is whole.
  const uint64_t start = off / kDirectBlockBytes * kDirectBlockBytes;
  const uint64_t end = (off + g_.track_bytes + kDirectBlockBytes - 1) / kDirectBlockBytes * kDirectBlockBytes;
  const uint64_t need = off - start + g_.track_bytes;
  uint64_t got = 0;
  while (got < need) {
    const ssize_t n = ::pread(w.read_fd, into.data() + got, end - start - got, static_cast<off_t>(start + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0) errno = EIO;
      return false;
    }
    got += static_cast<uint64_t>(n);
    if (got % kDirectBlockBytes) break;  // the end of the file
  }
  if (got < need) {
    errno = EIO;
    return false;
  }
  if (start != off) std::memmove(into.data(), into.data() + (off - start), g_.track_bytes);
  return true;
}

DiskCompletion DiskSet::serve(Worker& w, Request& r) {
  const Time started = monotonic_now();
  const int64_t cpu_started = thread_cpu_ns();
  DiskCompletion c;
  c.write = r.write;
  c.disk = w.disk;
  c.key = r.key;
  c.version = r.version;
  c.tag = r.tag;
  if (const int64_t extra = added_latency_ns_.load(); extra > 0) {
    std::unique_lock lock(w.mu);
    w.cv.wait_for(lock, std::chrono::nanoseconds(extra), [&] { return w.stop; });
  }
  const uint64_t off = g_.offset_of(r.key);
  if (w.failed) {
    c.ok = false;
    c.error = std::strerror(r.write ? opt_.failure_errno : EIO);
  } else if (r.write) {
    AlignedBuffer undo;
    if (opt_.undo_unsynced) {
      undo = AlignedBuffer(r.io_bytes);
      if (!pread_all(w.fd, undo.data(), r.io_bytes, off)) undo = AlignedBuffer();
    }
    if (!pwrite_all(w.fd, r.source.data(), r.io_bytes, off)) {
      c.ok = false;
      c.error = fmt::format("pwrite: {}", std::strerror(errno));
    } else if (power_lost_) {
      // Written but not synced when the power went: the device never got it.
      if (undo.size()) pwrite_all(w.fd, undo.data(), r.io_bytes, off);
      c.cpu_ns = std::max<int64_t>(0, thread_cpu_ns() - cpu_started);
      return c;
    } else if (::fdatasync(w.fd) != 0) {
      c.ok = false;
      c.error = fmt::format("fdatasync: {}", std::strerror(errno));
    }
  } else {
    if (!read_track(w, r.data, off)) {
      c.ok = false;
      c.error = fmt::format("pread: {}", std::strerror(errno));
    } else {
      ImageHeader h;
      const std::span<uint8_t> image(r.data.data(), g_.track_bytes);
      ImageCheck check = check_image(image, &h);
      if (check == ImageCheck::Unwritten) {
        // Never written: version 0, whose bytes are generated, not stored.
        write_image(image, r.key, 0, g_.track_bytes, opt_.seed);
        check = check_image(image, &h);
      }
      if (check != ImageCheck::Ok || h.key != r.key) {
        c.ok = false;
        c.error = check != ImageCheck::Ok ? fmt::format("track {} on disk: {}", to_string(r.key), to_string(check))
                                          : fmt::format("track {} on disk holds track {}", to_string(r.key), to_string(h.key));
      } else {
        c.version = h.version;
        c.data = std::move(r.data);
      }
    }
  }
  w.busy_ns += static_cast<uint64_t>((monotonic_now() - started).ns);
  ++w.ios;
  c.cpu_ns = std::max<int64_t>(0, thread_cpu_ns() - cpu_started);
  return c;
}

std::vector<TrackDigest> DiskSet::digest(uint64_t first, uint32_t count) {
  // Through the files the workers have open: a controller short of file
  // descriptors (a flood of connections) still answers for its disks.
  std::vector<TrackDigest> out;
  AlignedBuffer buf(g_.track_bytes);
  std::vector<int> opened;
  std::vector<int> fds(g_.disks, -1);
  for (uint32_t d = 0; d < g_.disks; ++d) {
    fds[d] = workers_[d]->fd;
    if (fds[d] >= 0) continue;
    fds[d] = ::open(path_of(d).c_str(), O_RDONLY | O_CLOEXEC);
    if (fds[d] < 0) fail("cannot open " + path_of(d));
    opened.push_back(fds[d]);
  }
  for (uint64_t i = first; i < first + count && i < g_.total_tracks; ++i) {
    const TrackKey k = g_.key_of(i);
    TrackDigest t;
    const int fd = fds[g_.disk_of(k)];
    const off_t off = static_cast<off_t>(g_.offset_of(k));
    // A hole over the whole track (no data from its start to its end): never
    // written, and no read needed — a volume mostly unwritten digests fast.
    const off_t data = ::lseek(fd, off, SEEK_DATA);
    if ((data < 0 && errno == ENXIO) || (data >= 0 && data >= off + static_cast<off_t>(g_.track_bytes))) {
      t.check = ImageCheck::Unwritten;
    } else if (pread_all(fds[g_.disk_of(k)], buf.data(), g_.track_bytes, g_.offset_of(k))) {
      ImageHeader h;
      t.check = check_image(std::span<const uint8_t>(buf.data(), g_.track_bytes), &h);
      if (t.check == ImageCheck::Ok && h.key != k) t.check = ImageCheck::NoHeader;
      if (t.check == ImageCheck::Ok) {
        t.version = h.version;
        t.length = h.length;
        t.checksum = h.checksum;
      }
    }
    out.push_back(t);
  }
  for (int fd : opened) ::close(fd);
  return out;
}

}  // namespace mirrorsim::real
