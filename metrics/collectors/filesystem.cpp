#include "metrics/collectors/filesystem.h"

#include <sys/statfs.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <tuple>

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

// node_exporter 1.5 --collector.filesystem.fs-types-exclude, then network
// filesystems, whose statfs can block for minutes when the server is gone.
constexpr std::array<std::string_view, 24> kPseudoTypes = {
    "autofs",  "binfmt_misc", "bpf",        "cgroup",   "cgroup2",  "configfs",
    "debugfs", "devpts",      "devtmpfs",   "fusectl",  "hugetlbfs", "iso9660",
    "mqueue",  "nsfs",        "overlay",    "proc",     "procfs",   "pstore",
    "rpc_pipefs", "securityfs", "selinuxfs", "squashfs", "sysfs",   "tracefs"};
constexpr std::array<std::string_view, 14> kNetworkTypes = {
    "nfs",  "nfs4",      "cifs",           "smb3",        "smbfs",      "ncpfs", "ceph",
    "9p",   "afs",       "glusterfs",      "fuse.glusterfs", "fuse.sshfs", "fuse.s3fs", "lustre"};

// node_exporter 1.5 --collector.filesystem.mount-points-exclude:
// ^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)
bool excludedMountPoint(std::string_view mp) {
  for (std::string_view dir : {"/dev", "/proc", "/run", "/sys", "/mnt", "/media"}) {
    if (mp.starts_with(dir) && (mp.size() == dir.size() || mp[dir.size()] == '/')) return true;
  }
  for (std::string_view dir : {"/var/lib/docker/", "/var/lib/containers/storage/"}) {
    if (mp.starts_with(dir) && mp.size() > dir.size()) return true;
  }
  return false;
}

std::string unescapeOctal(std::string_view field) {
  std::string out;
  out.reserve(field.size());
  for (size_t i = 0; i < field.size(); ++i) {
    auto octal = [&](size_t k) { return field[k] >= '0' && field[k] <= '7'; };
    if (field[i] == '\\' && i + 3 < field.size() && octal(i + 1) && octal(i + 2) &&
        octal(i + 3)) {
      int value = (field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 + (field[i + 3] - '0');
      if (value > 0 && value < 256) {
        out += static_cast<char>(value);
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

}  // namespace

struct FilesystemCollector::Stuck {
  std::mutex mutex;
  std::set<std::string> mountpoints;
  bool contains(const std::string& mp) {
    std::lock_guard lock(mutex);
    return mountpoints.contains(mp);
  }
};

// One statfs at a time on its own thread. The thread owns (a share of) this
// state, so an abandoned worker finishes its call safely after the collector
// has moved on or gone.
struct FilesystemCollector::Worker {
  struct Job {
    std::string mountpoint;
    std::optional<Result<FsStats>> result;
  };
  std::mutex mutex;
  std::condition_variable cv;
  std::shared_ptr<Job> job;
  bool stop = false;

  static void run(std::shared_ptr<Worker> self, StatfsFn statfs, std::shared_ptr<Stuck> stuck) {
    std::unique_lock lock(self->mutex);
    for (;;) {
      self->cv.wait(lock, [&] { return self->stop || (self->job && !self->job->result); });
      if (!self->job || self->job->result) return;  // stopped with nothing to do
      std::shared_ptr<Job> job = self->job;
      lock.unlock();
      Result<FsStats> result = statfs(job->mountpoint);
      lock.lock();
      job->result = std::move(result);
      self->cv.notify_all();
      if (self->stop) {  // abandoned while stuck: the mount may be tried again
        std::lock_guard stuck_lock(stuck->mutex);
        stuck->mountpoints.erase(job->mountpoint);
        return;
      }
    }
  }
};

std::vector<Mount> parseMounts(std::string_view text) {
  std::vector<Mount> mounts;
  Lines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    Fields fields(line);
    std::string_view device, mountpoint, fstype, options;
    if (!fields.next(device) || !fields.next(mountpoint) || !fields.next(fstype) ||
        !fields.next(options))
      continue;
    bool readonly = false;
    for (size_t start = 0; start <= options.size();) {
      size_t comma = options.find(',', start);
      if (comma == std::string_view::npos) comma = options.size();
      readonly = readonly || options.substr(start, comma - start) == "ro";
      start = comma + 1;
    }
    mounts.push_back({sanitizeLabelValue(unescapeOctal(device)),
                      sanitizeLabelValue(unescapeOctal(mountpoint)),
                      sanitizeLabelValue(unescapeOctal(fstype)), readonly});
  }
  return mounts;
}

bool filesystemWanted(const Mount& mount) {
  for (std::string_view t : kPseudoTypes)
    if (mount.fstype == t) return false;
  for (std::string_view t : kNetworkTypes)
    if (mount.fstype == t) return false;
  return !excludedMountPoint(mount.mountpoint);
}

Result<FsStats> systemStatfs(const std::string& mountpoint) {
  struct statfs s {};
  if (::statfs(mountpoint.c_str(), &s) != 0)
    return std::unexpected(Error::fromErrno(fmt::format("statfs {}", mountpoint)));
  // As node_exporter: blocks are counted in f_bsize units.
  auto bsize = static_cast<uint64_t>(s.f_bsize);
  return FsStats{s.f_blocks * bsize, s.f_bfree * bsize, s.f_bavail * bsize, s.f_files,
                 s.f_ffree};
}

FilesystemCollector::FilesystemCollector(std::string proc_root, std::chrono::milliseconds timeout,
                                         StatfsFn statfs)
    : mounts_path_(proc_root + "/1/mounts"),
      fallback_path_(proc_root + "/mounts"),
      timeout_(timeout),
      statfs_(std::move(statfs)),
      stuck_(std::make_shared<Stuck>()) {}

FilesystemCollector::~FilesystemCollector() {
  if (!worker_) return;
  std::lock_guard lock(worker_->mutex);
  worker_->stop = true;
  worker_->cv.notify_all();
}

Result<FsStats> FilesystemCollector::statWithDeadline(const std::string& mountpoint) const {
  if (!worker_) {
    worker_ = std::make_shared<Worker>();
    std::thread(Worker::run, worker_, statfs_, stuck_).detach();
  }
  std::unique_lock lock(worker_->mutex);
  auto job = std::make_shared<Worker::Job>();
  job->mountpoint = mountpoint;
  worker_->job = job;
  worker_->cv.notify_all();
  if (worker_->cv.wait_for(lock, timeout_, [&] { return job->result.has_value(); }))
    return std::move(*job->result);
  {
    std::lock_guard stuck_lock(stuck_->mutex);
    stuck_->mountpoints.insert(mountpoint);
  }
  worker_->stop = true;  // it exits when the call returns; the next mount gets a new one
  lock.unlock();
  worker_.reset();
  return fail("statfs {}: no answer within {} ms", mountpoint, timeout_.count());
}

Result<void> FilesystemCollector::collect(Families& out) const {
  auto text = readProcFile(mounts_path_, buffer_);
  if (!text && isMissing(text.error())) text = readProcFile(fallback_path_, buffer_);
  if (!text) return std::unexpected(text.error());
  std::vector<Mount> mounts = parseMounts(*text);

  using prometheus::MetricType;
  auto families_start = out.size();
  addFamily(out, "node_filesystem_size_bytes", "Filesystem size in bytes.", MetricType::Gauge);
  addFamily(out, "node_filesystem_free_bytes", "Filesystem free space in bytes.",
            MetricType::Gauge);
  addFamily(out, "node_filesystem_avail_bytes",
            "Filesystem space available to non-root users in bytes.", MetricType::Gauge);
  addFamily(out, "node_filesystem_files", "Filesystem total file nodes.", MetricType::Gauge);
  addFamily(out, "node_filesystem_files_free", "Filesystem total free file nodes.",
            MetricType::Gauge);
  addFamily(out, "node_filesystem_readonly", "Filesystem read-only status.", MetricType::Gauge);
  addFamily(out, "node_filesystem_device_error",
            "Whether an error occurred while getting statistics for the given device.",
            MetricType::Gauge);
  prometheus::MetricFamily* f = &out[families_start];

  std::set<std::tuple<std::string, std::string, std::string>> seen;
  for (const Mount& m : mounts) {
    if (!filesystemWanted(m) || !seen.emplace(m.device, m.mountpoint, m.fstype).second) continue;
    std::vector<Label> labels = {
        {"device", m.device}, {"fstype", m.fstype}, {"mountpoint", m.mountpoint}};
    Result<FsStats> stats = stuck_->contains(m.mountpoint)
                                ? fail("statfs {}: still stuck", m.mountpoint)
                                : statWithDeadline(m.mountpoint);
    if (stats) {
      addSample(f[0], static_cast<double>(stats->size), labels);
      addSample(f[1], static_cast<double>(stats->free), labels);
      addSample(f[2], static_cast<double>(stats->avail), labels);
      addSample(f[3], static_cast<double>(stats->files), labels);
      addSample(f[4], static_cast<double>(stats->files_free), labels);
    }
    addSample(f[5], m.readonly ? 1 : 0, labels);
    addSample(f[6], stats ? 0 : 1, labels);
  }
  // A family with no samples is noise in the exposition.
  auto empty = [](const prometheus::MetricFamily& family) { return family.metric.empty(); };
  out.erase(std::remove_if(out.begin() + static_cast<std::ptrdiff_t>(families_start), out.end(),
                           empty),
            out.end());
  return {};
}

}  // namespace rampart::metrics
