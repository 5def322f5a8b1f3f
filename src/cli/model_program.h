// What tandem-translate, tandem-score and tandem-sample share: the models (an
// ensemble, with its weights), device, precision, threads, and the start that
// loads them.
//
// Usage:
//   ModelProgramOptions c;
//   add_model_program_options(options, c);   // --models --weights --device --precision --cpu-threads --quiet
//   ...parse...
//   Translator translator = start_translator("tandem-score", c);
#pragma once

#include <string>
#include <vector>

#include "cli/common_options.h"
#include "tandem/translator.h"

namespace tandem::cli {

struct ModelProgramOptions {
  std::vector<std::string> models;
  std::vector<double> weights;
  std::string device = "cpu";
  std::string precision = "float32";
  int threads = 0;
  bool quiet = false;
};

void add_model_program_options(po::options_description& options, ModelProgramOptions& c);

/// Threads (printed) and device, as every LibTorch program sets them up, then
/// the models in --precision. `keep_freed_memory`: the allocator keeps what is
/// freed for the next batch (util/allocator.h); a server, whose bodies come and
/// go, passes false so that its memory returns to the system.
Translator start_translator(const std::string& program, const ModelProgramOptions& c, bool keep_freed_memory = true);

}  // namespace tandem::cli
