// libFuzzer target: the translation input path. Text in, a tiny model
// (randomly initialised, fixed seed), lines out.
// Properties: no crash; one output line for every input line, whatever the
// bytes (invalid UTF-8, NUL, CR, BOM, empty and very long lines).
#include <torch/torch.h>

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

#include "fuzz_support.h"
#include "tandem/translator.h"

namespace {

tandem::Translator& tiny_translator() {
  static tandem::Translator translator = [] {
    torch::manual_seed(7);
    torch::set_num_threads(1);
    const auto& tokenizer = tandem::fuzz::small_tokenizer();
    tandem::model::ModelOptions options(tokenizer.vocab_size(), tokenizer.vocab_size());
    options.dim_emb(8).dim_rnn(8);
    tandem::model::Seq2Seq model(options);
    model->eval();
    return tandem::Translator({model}, tokenizer, tokenizer, torch::kCPU);
  }();
  return translator;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  tandem::TranslateOptions options;
  options.search.beam_size = 1 + data[0] % 3;
  options.mini_batch = 1 + (data[0] >> 2) % 4;
  options.maxi_batch = 1 + (data[0] >> 4) % 3;
  options.max_input_length = 40;
  options.search.max_length_factor = 1.5;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  int64_t lines_in = 0;
  for (const char c : text) lines_in += c == '\n' ? 1 : 0;
  if (!text.empty() && text.back() != '\n') ++lines_in;
  std::istringstream in(text);
  std::ostringstream out;
  const auto stats = tiny_translator().translate_stream(in, out, options);
  const std::string output = out.str();
  int64_t lines_out = 0;
  for (const char c : output) lines_out += c == '\n' ? 1 : 0;
  if (stats.lines != lines_in || lines_out != lines_in) std::abort();
  return 0;
}
