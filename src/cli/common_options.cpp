#include "cli/common_options.h"

#include <fstream>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "tandem/error.h"
#include "tandem/util/cpu_threads.h"

namespace tandem::cli {

std::string shortest_text(double value) {
  char buffer[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", precision, value);
    if (std::strtod(buffer, nullptr) == value) break;
  }
  return buffer;
}

std::string version_text(const std::string& program, const std::string& build_info) {
  std::string text = program + " " + TANDEM_VERSION + " (commit " + TANDEM_GIT_COMMIT + ")\n";
  if (build_info.rfind("LibTorch", 0) != 0) text += "LibTorch: not linked (a text-only program)\n";
  if (!build_info.empty()) text += build_info + "\n";
  // The BLAS library as the dynamic loader resolved it (Debian's alternatives pick it).
  std::string blas;
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    const auto slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    if (path.find("blas") != std::string::npos && path.find(".so") != std::string::npos) {
      blas = path;
      break;
    }
  }
  text += "BLAS: " + (blas.empty() ? std::string("none loaded") : blas) + "\n";
  return text;
}

int run_guarded(const std::string& program, int argc, char** argv, const std::function<int()>& body,
                const std::function<std::string()>& build_info) {
  for (int i = 1; i < argc; ++i) {
    if (std::string(argv[i]) == "--version") {
      std::cout << version_text(program, build_info ? build_info() : std::string());
      return 0;
    }
  }
  try {
    return body();
  } catch (const Error& e) {
    std::cerr << program << ": error: " << e.what() << "\n";
  } catch (const po::error& e) {
    std::cerr << program << ": error: " << e.what() << "; see " << program << " --help\n";
  } catch (const std::exception& e) {
    std::cerr << program << ": internal error (please report it): " << e.what() << "\n";
    return 2;
  }
  return 1;
}

void add_precision_option(po::options_description& options, std::string* precision) {
  options.add_options()("precision", po::value<std::string>(precision)->default_value(*precision),
                        "matrix products in float32 or bfloat16 (weights, and in training gradients and "
                        "optimizer state, stay float32); for translation on the CPU also int8 (weights "
                        "quantized to int8 when the model loads)");
}

void add_quiet_option(po::options_description& options, bool* quiet) {
  options.add_options()("quiet", po::bool_switch(quiet), "nothing on standard error but warnings and errors");
}

void add_cpu_threads_option(po::options_description& options, int* threads) {
  options.add_options()("cpu-threads", po::value<int>(threads)->default_value(0),
                        "CPU threads to use; 0 = all cores");
}

int announce_cpu_threads(const std::string& program, int threads, bool quiet) {
  if (threads < 0) throw Error("--cpu-threads must be 0 (all cores) or more, got " + std::to_string(threads));
  const int resolved = util::resolve_cpu_threads(threads);
  if (!quiet) std::cerr << program << ": " << resolved << " CPU thread" << (resolved == 1 ? "" : "s") << "\n";
  return resolved;
}

po::variables_map parse(int argc, char** argv, const po::options_description& options,
                        const po::positional_options_description* positional, int extra_style) {
  const int style = (po::command_line_style::default_style & ~po::command_line_style::allow_guessing) |
                    extra_style;
  po::command_line_parser parser(argc, argv);
  parser.options(options).style(style);
  if (positional != nullptr) parser.positional(*positional);
  po::variables_map vm;
  po::store(parser.run(), vm);
  return vm;
}

bool print_help_if_asked(const po::variables_map& vm, const std::string& usage,
                         const po::options_description& visible) {
  if (vm.count("help") == 0) return false;
  std::cout << usage << "\n\n" << visible << "\n";
  return true;
}

}  // namespace tandem::cli
