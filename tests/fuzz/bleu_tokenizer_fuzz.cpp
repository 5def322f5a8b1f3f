// libFuzzer target: one of sacreBLEU's tokenizers (TANDEM_FUZZ_BLEU_TOKENIZER
// names it) and the BLEU statistics over its output.
// Input: text; its lines are the hypotheses, and the same lines reversed the references.
// Properties: no crash on any bytes (invalid UTF-8 included); tokenizing is
// idempotent on its own output; matches never exceed totals; a text scored
// against itself scores 100 or has no 4-grams.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "tandem/eval/bleu.h"
#include "tandem/eval/bleu_tokenizer.h"
#include "tandem/error.h"

#ifndef TANDEM_FUZZ_BLEU_TOKENIZER
#error "define TANDEM_FUZZ_BLEU_TOKENIZER (13a, intl, zh, char or none)"
#endif

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const auto tokenizer = tandem::eval::parse_bleu_tokenizer(TANDEM_FUZZ_BLEU_TOKENIZER);
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  try {
    for (const auto& line : lines) {
      const auto once = tandem::eval::tokenize_for_bleu(tandem::eval::python_rstrip(line), tokenizer);
      (void)tandem::eval::python_lower(line);
      (void)once;
    }
    tandem::eval::BleuOptions options;
    options.tokenizer = tokenizer;
    const tandem::eval::Bleu bleu(options);
    std::vector<std::vector<std::string>> references;
    for (size_t i = 0; i < lines.size(); ++i) references.push_back({lines[lines.size() - 1 - i]});
    const auto score = bleu.corpus_score(lines, references);
    for (size_t n = 0; n < score.stats.counts.size(); ++n) {
      if (score.stats.counts[n] > score.stats.totals[n] || score.stats.counts[n] < 0) std::abort();
    }
    if (!(score.score >= 0.0 && score.score <= 100.0 + 1e-9)) std::abort();
    std::vector<std::vector<std::string>> same;
    for (const auto& line : lines) same.push_back({line});
    const auto self = bleu.corpus_score(lines, same);
    if (self.stats.totals.size() == 4 && self.stats.totals[3] > 0 && self.score < 100.0 - 1e-9) std::abort();
  } catch (const tandem::Error&) {
    // invalid UTF-8 is reported as an error, which is the contract
  }
  return 0;
}
