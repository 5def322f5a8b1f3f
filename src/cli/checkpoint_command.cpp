// tandem-checkpoint: what a checkpoint holds, and a digest of its weights.
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/option_parsers.h"
#include "tandem/error.h"
#include "tandem/model/averaging.h"
#include "tandem/model/checkpoint.h"
#include "tandem/util/fnv1a.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-checkpoint";
constexpr const char* kUsage =
    "Usage: tandem-checkpoint CHECKPOINT [CHECKPOINT ...]\n"
    "Prints what each checkpoint holds: architecture, training state, parameter\n"
    "count and a digest of the weights (FNV-1a over names and raw values), so that\n"
    "two checkpoints with equal digests hold bit-identical weights. Also checks that\n"
    "every weight is finite.\n"
    "Example: tandem-checkpoint model/model.ckpt model/model.best-bleu.ckpt";

void describe(const std::string& path) {
  const auto ckpt = model::load_checkpoint(path, torch::kCPU);
  util::Fnv1a digest;
  int64_t parameters = 0;
  int64_t non_finite = 0;
  for (const auto& item : ckpt.model->named_parameters()) {
    const auto& name = item.key();
    const auto values = item.value().detach().contiguous().to(torch::kFloat);
    digest.add(name.data(), name.size());
    digest.add(values.data_ptr<float>(), static_cast<size_t>(values.numel()) * sizeof(float));
    parameters += values.numel();
    non_finite += values.numel() - torch::isfinite(values).sum().item<int64_t>();
  }
  const auto& s = ckpt.meta.state;
  const std::string options = ckpt.meta.options.to_json();
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(digest.value()));
  std::cout << path << "\n"
            << "  updates " << s.updates << ", epoch " << s.position.epoch + 1 << ", sentences " << s.sentences
            << ", target tokens " << s.target_tokens << ", validations " << s.validations << "\n"
            << "  parameters " << parameters << ", non-finite " << non_finite << ", weights digest " << hex << "\n"
            << "  options " << options << "\n";
  if (!s.pretrained_from.empty()) std::cout << "  pretrained-from " << s.pretrained_from << "\n";
  if (non_finite > 0) throw Error(path + ": " + std::to_string(non_finite) + " weights are NaN or infinite");
}

int run(int argc, char** argv) {
  std::vector<std::string> paths;
  po::options_description options("Options");
  options.add_options()("help,h", "show this help");
  po::options_description hidden;
  hidden.add_options()("checkpoints", po::value<std::vector<std::string>>(&paths));
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("checkpoints", -1);
  auto vm = parse(argc, argv, all, &positional);
  if (print_help_if_asked(vm, kUsage, options)) return 0;
  po::notify(vm);
  if (paths.empty()) throw Error("give at least one checkpoint file (see --help)");
  for (const auto& path : paths) describe(path);
  return 0;
}

constexpr const char* kAverageProgram = "tandem-average";
constexpr const char* kAverageUsage =
    "Usage: tandem-average -m CHECKPOINT CHECKPOINT [...] -o OUT.ckpt\n"
    "Writes a checkpoint whose weights are the mean of the given ones (sums in float64),\n"
    "with the last one's options, vocabularies and training state; the checkpoints must\n"
    "belong to one model (same architecture and vocabularies). Translate with OUT.ckpt\n"
    "as with any model; training does not resume from it (it holds no optimizer).\n"
    "Example: tandem-average -m m/model.iter-8000.ckpt m/model.iter-9000.ckpt m/model.iter-10000.ckpt -o m/avg.ckpt";

int average(int argc, char** argv) {
  std::vector<std::string> inputs;
  std::string output;
  bool quiet = false;
  po::options_description options("Options");
  options.add_options()
      ("help,h", "show this help")
      ("models,m", po::value<std::vector<std::string>>(&inputs)->multitoken(), "checkpoints to average")
      ("output,o", po::value<std::string>(&output), "the averaged checkpoint to write");
  add_quiet_option(options, &quiet);
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kAverageUsage, options)) return 0;
  po::notify(vm);
  if (inputs.empty()) throw Error("give the checkpoints to average with -m (see --help)");
  if (output.empty()) throw Error("give the file to write with -o (see --help)");
  auto mean = model::average_checkpoints(inputs);
  model::save_checkpoint(output, mean.model, nullptr, mean.meta);
  if (!quiet) std::cerr << kAverageProgram << ": wrote " << output << ", the mean of " << inputs.size() << " checkpoint"
            << (inputs.size() == 1 ? "" : "s") << "\n";
  return 0;
}

}  // namespace

int checkpoint_main(int argc, char** argv) {
  return run_torch_program(kProgram, argc, argv, [&] { return run(argc, argv); });
}

int average_main(int argc, char** argv) {
  return run_torch_program(kAverageProgram, argc, argv, [&] { return average(argc, argv); });
}

}  // namespace tandem::cli
