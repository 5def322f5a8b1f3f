// An exclusive lock on a folder, held from construction to destruction (or the
// process's end, whatever ends it): two trainings on one model folder (a second
// terminal, a requeued Slurm job whose first run is still shutting down) would
// write the same files.
//
// Usage:
//   tandem::io::FolderLock lock("model_dir");   // throws while another process holds it
//
// The lock is flock(2) on FOLDER/.lock, which holds the holder's host and PID for
// the message the next one gets. Where the file system has no flock (some
// FUSE file systems, Lustre without -o flock) the lock cannot be had: a warning
// says so and the run goes on unguarded.
#pragma once

#include <iosfwd>
#include <string>

namespace tandem::io {

class FolderLock {
 public:
  /// Locks `folder` (which must exist) at once, or throws tandem::Error naming
  /// the folder and the holder ("host H, process P"). Warnings go to `warnings`.
  FolderLock(const std::string& folder, std::ostream& warnings);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

  /// FOLDER/.lock.
  static std::string lock_path(const std::string& folder);

 private:
  int fd_ = -1;
};

}  // namespace tandem::io
