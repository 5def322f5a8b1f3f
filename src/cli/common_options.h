// Internal to the programs: what every command line shares.
#pragma once

#include <boost/program_options.hpp>

#include <functional>
#include <string>
#include <type_traits>

namespace tandem::cli {

namespace po = boost::program_options;

/// The shortest decimal text that reads back as `value` ("0.1", not "0.10000000000000001").
std::string shortest_text(double value);

/// An option value whose default is `*target` as it is now, shown in --help in
/// its shortest text.
template <typename T>
po::typed_value<T>* defaulted(T* target) {
  if constexpr (std::is_floating_point_v<T>) {
    return po::value<T>(target)->default_value(*target, shortest_text(static_cast<double>(*target)));
  } else {
    return po::value<T>(target)->default_value(*target);
  }
}

/// Runs a program's body: a tandem::Error or an option error becomes
/// "PROGRAM: error: MESSAGE" on stderr and exit code 1; other exceptions say
/// they are a bug, with exit code 2. With --version among the arguments it
/// prints version_text(program, build_info) instead.
int run_guarded(const std::string& program, int argc, char** argv, const std::function<int()>& body,
                const std::function<std::string()>& build_info = {});

/// "PROGRAM VERSION (commit C)", then `build_info` (LibTorch and CUDA, for the
/// programs that link LibTorch) and the BLAS library this process loaded.
std::string version_text(const std::string& program, const std::string& build_info);

/// Adds --precision float32|bfloat16 (default float32) writing into `precision`;
/// model::parse_precision reads it.
void add_precision_option(po::options_description& options, std::string* precision);

/// Adds --cpu-threads (default 0 = all cores) writing into `threads`.
void add_cpu_threads_option(po::options_description& options, int* threads);

/// Adds --quiet (nothing on standard error but warnings and errors) writing into `quiet`.
void add_quiet_option(po::options_description& options, bool* quiet);

/// Resolves `threads` (0 = all cores) and, unless `quiet`, prints "PROGRAM: N CPU threads" on stderr.
int announce_cpu_threads(const std::string& program, int threads, bool quiet = false);

/// Parses argv with GNU-style options; `positional` may be null.
po::variables_map parse(int argc, char** argv, const po::options_description& options,
                        const po::positional_options_description* positional,
                        int extra_style = 0);

/// Prints "Usage: ..." and the options when --help was given; true if it did.
bool print_help_if_asked(const po::variables_map& vm, const std::string& usage,
                         const po::options_description& visible);

}  // namespace tandem::cli
