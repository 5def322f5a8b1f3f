#include "cli/model_program.h"

#include <iostream>

#include "cli/option_parsers.h"
#include "tandem/model/precision.h"
#include "tandem/util/allocator.h"
#include "tandem/util/cpu_threads.h"

namespace tandem::cli {

void add_model_program_options(po::options_description& options, ModelProgramOptions& c) {
  options.add_options()
      ("help,h", "show this help")
      ("models,m", po::value<std::vector<std::string>>(&c.models)->multitoken()->required(),
       "model folders or checkpoint files")
      ("weights", po::value<std::vector<double>>(&c.weights)->multitoken(), "ensemble weights, one per model")
      ("device", po::value<std::string>(&c.device)->default_value(c.device), "cpu, cuda or cuda:N");
  add_precision_option(options, &c.precision);
  add_cpu_threads_option(options, &c.threads);
  add_quiet_option(options, &c.quiet);
}

Translator start_translator(const std::string& program, const ModelProgramOptions& c, bool keep_freed_memory) {
  if (keep_freed_memory) util::keep_freed_memory();
  util::set_torch_threads(announce_cpu_threads(program, c.threads, c.quiet), c.quiet);
  const auto device = parse_device(c.device);
  const auto precision = model::usable_precision(model::parse_precision(c.precision), device, program, &std::cerr);
  // int8's requirements (the CPU, oneDNN's quantized engine) checked before the model loads.
  if (precision == model::Precision::kInt8) model::PrecisionScope check(precision, device);
  auto translator = Translator::load(c.models, device, c.weights);
  translator.set_precision(precision);
  return translator;
}

}  // namespace tandem::cli
