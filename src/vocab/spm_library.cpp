#include "spm_library.h"

#include <dlfcn.h>
#include <link.h>
#include <unistd.h>

#include <cstdlib>
#include <mutex>
#include <string>
#include <vector>

#include "tandem/error.h"

// Defined (weak) only in programs built against an installed Tandem (TandemConfig.cmake).
extern "C" const char* tandem_installed_spm_shim() __attribute__((weak));

#ifndef TANDEM_SPM_SHIM_INSTALL_DIR
#define TANDEM_SPM_SHIM_INSTALL_DIR ""
#endif
#ifndef TANDEM_SPM_SHIM_BUILD_DIR
#define TANDEM_SPM_SHIM_BUILD_DIR ""
#endif

namespace tandem::vocab::detail {
namespace {

constexpr const char* kShimName = "libtandem_spm_shim.so";

std::string executable_dir() {
  std::vector<char> buffer(4096);
  const ssize_t n = readlink("/proc/self/exe", buffer.data(), buffer.size() - 1);
  if (n <= 0) return {};
  std::string path(buffer.data(), static_cast<size_t>(n));
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::vector<std::string> candidate_paths() {
  std::vector<std::string> paths;
  if (const char* env = std::getenv("TANDEM_SPM_SHIM"); env != nullptr && *env != '\0') {
    paths.emplace_back(env);
  }
  const std::string exe_dir = executable_dir();
  if (!exe_dir.empty()) {
    paths.push_back(exe_dir + "/" + kShimName);
    paths.push_back(exe_dir + "/../lib/" + kShimName);
  }
  // A program linking an installed Tandem: the path its TandemConfig.cmake compiled in.
  if (tandem_installed_spm_shim != nullptr) paths.emplace_back(tandem_installed_spm_shim());
  if (std::string(TANDEM_SPM_SHIM_BUILD_DIR).size() > 0) {
    paths.push_back(std::string(TANDEM_SPM_SHIM_BUILD_DIR) + "/" + kShimName);
  }
  if (std::string(TANDEM_SPM_SHIM_INSTALL_DIR).size() > 0) {
    paths.push_back(std::string(TANDEM_SPM_SHIM_INSTALL_DIR) + "/" + kShimName);
  }
  return paths;
}

template <typename F>
void bind(void* lib, const char* name, F& slot, const std::string& path) {
  void* symbol = dlsym(lib, name);
  if (symbol == nullptr) {
    throw Error(path + ": symbol " + name + " is missing; rebuild Tandem (tools/setup.sh)");
  }
  slot = reinterpret_cast<F>(symbol);
}

SpmLibrary load_library() {
  std::string tried;
  for (const auto& path : candidate_paths()) {
    if (access(path.c_str(), R_OK) != 0) {
      tried += "\n  " + path + " (not found)";
      continue;
    }
    // A new link namespace keeps SentencePiece's protobuf away from LibTorch's.
    void* lib = dlmopen(LM_ID_NEWLM, path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      const char* why = dlerror();
      tried += "\n  " + path + " (" + (why != nullptr ? why : "dlmopen failed") + ")";
      continue;
    }
    SpmLibrary table;
    bind(lib, "tandem_spm_load", table.load, path);
    bind(lib, "tandem_spm_free", table.free, path);
    bind(lib, "tandem_spm_piece_size", table.piece_size, path);
    bind(lib, "tandem_spm_special_id", table.special_id, path);
    bind(lib, "tandem_spm_encode", table.encode, path);
    bind(lib, "tandem_spm_decode", table.decode, path);
    bind(lib, "tandem_spm_id_to_piece", table.id_to_piece, path);
    bind(lib, "tandem_spm_train", table.train, path);
    return table;
  }
  throw Error(std::string("cannot load the SentencePiece shim ") + kShimName + "; looked in:" +
              tried + "\nbuild Tandem with tools/setup.sh, or point TANDEM_SPM_SHIM at the file");
}

}  // namespace

const SpmLibrary& SpmLibrary::get() {
  static std::once_flag once;
  static SpmLibrary table;
  static std::string failure;
  std::call_once(once, [] {
    try {
      table = load_library();
    } catch (const Error& e) {
      failure = e.what();
    }
  });
  if (!failure.empty()) throw Error(failure);
  return table;
}

}  // namespace tandem::vocab::detail
