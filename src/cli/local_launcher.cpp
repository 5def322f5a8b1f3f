#include "cli/local_launcher.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "tandem/error.h"
#include "tandem/util/free_port.h"

namespace tandem::cli {
namespace {

std::atomic<int> g_forward_signal{0};

extern "C" void remember_signal(int signal_number) { g_forward_signal.store(signal_number); }

int exit_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

// A private folder for the workers' rendezvous file, removed with everything in it.
class RendezvousFolder {
 public:
  RendezvousFolder() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/tandem-train.XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw Error("cannot make a folder for the workers' rendezvous under " + pattern.substr(0, pattern.rfind('/')) +
                  " (" + std::strerror(errno) + "); set TMPDIR to a writable folder");
    }
    path_ = pattern;
  }
  ~RendezvousFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  RendezvousFolder(const RendezvousFolder&) = delete;
  RendezvousFolder& operator=(const RendezvousFolder&) = delete;
  std::string file() const { return path_ + "/store"; }

 private:
  std::string path_;
};

int run_local_workers(int argc, char** argv, int processes, int threads_each, std::chrono::seconds grace) {
  const std::string port = std::to_string(util::free_port());
  const RendezvousFolder rendezvous;
  std::vector<char*> args(argv, argv + argc);
  args.push_back(nullptr);
  struct sigaction action {};
  action.sa_handler = remember_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  const pid_t launcher = ::getpid();

  std::vector<pid_t> workers;
  for (int rank = 0; rank < processes; ++rank) {
    const pid_t pid = ::fork();
    if (pid < 0) {
      for (const pid_t w : workers) ::kill(w, SIGTERM);
      throw Error(std::string("cannot start worker ") + std::to_string(rank) + ": " + std::strerror(errno));
    }
    if (pid == 0) {
      ::setpgid(0, 0);
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != launcher) ::_exit(1);  // the launcher died before prctl
      const std::string values[][2] = {{"RANK", std::to_string(rank)},
                                       {"LOCAL_RANK", std::to_string(rank)},
                                       {"WORLD_SIZE", std::to_string(processes)},
                                       {"MASTER_ADDR", "127.0.0.1"},
                                       {"MASTER_PORT", port},
                                       {"TANDEM_LAUNCHER", "tandem-train --num-processes"},
                                       {"TANDEM_STORE_FILE", rendezvous.file()},
                                       {"TANDEM_WORKER_THREADS", std::to_string(threads_each)}};
      for (const auto& value : values) ::setenv(value[0].c_str(), value[1].c_str(), 1);
      ::execv("/proc/self/exe", args.data());
      std::cerr << "tandem-train: cannot start worker " << rank << ": " << std::strerror(errno) << "\n";
      ::_exit(127);
    }
    workers.push_back(pid);
  }

  int result = 0;
  size_t running = workers.size();
  std::chrono::steady_clock::time_point first_failure{};
  bool failed = false;
  bool killed = false;
  int forwarded = 0;
  while (running > 0) {
    const int signal_number = g_forward_signal.exchange(0);
    if (signal_number != 0) {
      ++forwarded;
      for (const pid_t w : workers) {
        if (w > 0) ::kill(w, forwarded > 1 ? SIGKILL : signal_number);
      }
    }
    int status = 0;
    const pid_t done = ::waitpid(-1, &status, WNOHANG);
    if (done > 0) {
      for (size_t rank = 0; rank < workers.size(); ++rank) {
        if (workers[rank] != done) continue;
        workers[rank] = -1;
        --running;
        const int code = exit_status(status);
        if (code != 0 && result == 0) {
          result = code;
          failed = true;
          first_failure = std::chrono::steady_clock::now();
          if (!WIFEXITED(status)) {
            std::cerr << "tandem-train: worker " << rank << " was killed (signal " << WTERMSIG(status) << ")\n";
          }
        }
      }
      continue;
    }
    if (failed && !killed && std::chrono::steady_clock::now() - first_failure > grace) {
      std::cerr << "tandem-train: the other workers did not stop within " << grace.count() << " s of a failure; killing them\n";
      for (const pid_t w : workers) {
        if (w > 0) ::kill(w, SIGKILL);
      }
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return result;
}

}  // namespace tandem::cli
