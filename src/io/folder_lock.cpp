#include "tandem/io/folder_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ostream>
#include <string>

#include "tandem/error.h"

namespace tandem::io {

std::string FolderLock::lock_path(const std::string& folder) { return folder + "/.lock"; }

FolderLock::FolderLock(const std::string& folder, std::ostream& warnings) {
  const std::string path = lock_path(folder);
  fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path + ": cannot open the folder's lock file (" + std::strerror(errno) + ")");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (error == EWOULDBLOCK) {
      char holder[256] = {};
      const ssize_t n = ::pread(fd_, holder, sizeof(holder) - 1, 0);
      std::string who = n > 0 ? std::string(holder, static_cast<size_t>(n)) : std::string();
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
      ::close(fd_);
      fd_ = -1;
      throw Error(folder + ": another training holds this model folder (" + (who.empty() ? "a process" : who) +
                  "); wait for it to end, or give this run another --model");
    }
    warnings << "warning: " << path << ": the file system cannot lock files (" << std::strerror(error)
             << "); a second training on this folder would not be stopped\n";
    return;
  }
  char host[256] = {};
  ::gethostname(host, sizeof(host) - 1);
  const std::string who = "host " + std::string(host) + ", process " + std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, who.data(), who.size(), 0) != static_cast<ssize_t>(who.size())) {
    warnings << "warning: " << path << ": cannot write the holder into the lock file (" << std::strerror(errno) << ")\n";
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);  // releases the lock
}

}  // namespace tandem::io
