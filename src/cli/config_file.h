// tandem-train's INI configuration files (--config FILE [FILE...], --dump-config).
//
// Usage (after the command line is parsed into vm, before po::notify):
//   load_config_files(vm["config"].as<std::vector<std::string>>(), options, vm);
//   if (vm.count("dump-config") > 0) dump_config(vm);
//
// Values already in vm stay: the command line wins over every file, a later file
// over an earlier one, a file's own lines over what it includes (`include = FILE`,
// relative to the including file). Errors name the file (and a cycle, the chain).
#pragma once

#include <string>
#include <vector>

#include "cli/common_options.h"

namespace tandem::cli {

void load_config_files(const std::vector<std::string>& files, const po::options_description& options,
                       po::variables_map& vm);

/// The effective configuration as INI on standard output, loadable with --config
/// (--config, --dump-config and --help left out).
void dump_config(const po::variables_map& vm);

}  // namespace tandem::cli
