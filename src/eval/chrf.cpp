#include "tandem/eval/chrf.h"

#include <unordered_map>

#include "tandem/error.h"
#include "tandem/eval/bleu.h"
#include "tandem/eval/bleu_tokenizer.h"
#include "tandem/util/utf8.h"

namespace tandem::eval {
namespace {

using Counts = std::unordered_map<std::u32string, int64_t>;

bool is_ascii_punctuation(char32_t c) {
  static const std::u32string kPunctuation = U"!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
  return kPunctuation.find(c) != std::u32string::npos;
}

std::vector<std::u32string> python_split(const std::u32string& text) {
  std::vector<std::u32string> words;
  std::u32string word;
  for (const char32_t c : text) {
    if (is_python_space(c)) {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

// The n-gram counts of one segment, character orders first, then word orders.
std::vector<Counts> ngrams(const std::string& text, const ChrfOptions& o) {
  const std::u32string full = util::decode_utf8(text);
  std::u32string chars;
  if (o.whitespace) {
    chars = full;
  } else {
    for (const char32_t c : full) {
      if (!is_python_space(c)) chars.push_back(c);
    }
  }
  std::vector<Counts> out;
  for (int n = 1; n <= o.char_order; ++n) {
    Counts counts;
    for (size_t i = 0; i + static_cast<size_t>(n) <= chars.size(); ++i) ++counts[chars.substr(i, static_cast<size_t>(n))];
    out.push_back(std::move(counts));
  }
  if (o.word_order > 0) {
    // Punctuation split off a word's end, else its start (chrF++.py's tokenization).
    std::vector<std::u32string> words;
    for (auto& w : python_split(full)) {
      if (w.size() == 1) {
        words.push_back(w);
      } else if (is_ascii_punctuation(w.back())) {
        words.push_back(w.substr(0, w.size() - 1));
        words.push_back(w.substr(w.size() - 1));
      } else if (is_ascii_punctuation(w.front())) {
        words.push_back(w.substr(0, 1));
        words.push_back(w.substr(1));
      } else {
        words.push_back(w);
      }
    }
    for (int n = 1; n <= o.word_order; ++n) {
      Counts counts;
      for (size_t i = 0; i + static_cast<size_t>(n) <= words.size(); ++i) {
        std::u32string gram = words[i];
        for (size_t k = 1; k < static_cast<size_t>(n); ++k) gram += U" " + words[i + k];
        ++counts[gram];
      }
      out.push_back(std::move(counts));
    }
  }
  return out;
}

}  // namespace

Chrf::Chrf(ChrfOptions options) : options_(options) {
  if (options_.char_order < 0 || options_.word_order < 0 || options_.char_order + options_.word_order < 1) {
    throw Error("chrF needs a character or word order of at least 1 (--chrf-char-order, --chrf-word-order)");
  }
  if (options_.beta < 1) throw Error("--chrf-beta must be at least 1");
}

std::vector<int64_t> Chrf::segment_statistics(const std::string& hypothesis,
                                              const std::vector<std::string>& references) const {
  if (references.empty()) throw Error("chrF needs at least one reference for every hypothesis");
  const auto lower = [&](const std::string& s) { return options_.lowercase ? python_lower(s) : s; };
  const auto hyp = ngrams(lower(hypothesis), options_);
  std::vector<int64_t> best;
  double best_score = -1.0;
  for (const auto& reference : references) {
    const auto ref = ngrams(lower(reference), options_);
    std::vector<int64_t> stats;
    for (size_t n = 0; n < hyp.size(); ++n) {
      int64_t hyp_count = 0;
      int64_t ref_count = 0;
      int64_t matches = 0;
      for (const auto& [gram, count] : hyp[n]) {
        hyp_count += count;
        const auto it = ref[n].find(gram);
        if (it != ref[n].end()) matches += std::min(count, it->second);
      }
      for (const auto& [gram, count] : ref[n]) ref_count += count;
      stats.push_back(ref[n].empty() ? 0 : hyp_count);  // no hits counted without reference n-grams
      stats.push_back(ref_count);
      stats.push_back(matches);
    }
    const double f = score_of(stats);
    if (f > best_score) {
      best_score = f;
      best = std::move(stats);
    }
  }
  return best;
}

double Chrf::score_of(const std::vector<int64_t>& statistics) const {
  const double eps = 1e-16;
  const double factor = static_cast<double>(options_.beta) * options_.beta;
  const int order = options_.char_order + options_.word_order;
  double score = 0.0;
  double avg_precision = 0.0;
  double avg_recall = 0.0;
  int effective_order = 0;
  for (int i = 0; i < order; ++i) {
    const auto n_hyp = static_cast<double>(statistics[static_cast<size_t>(3 * i)]);
    const auto n_ref = static_cast<double>(statistics[static_cast<size_t>(3 * i + 1)]);
    const auto n_match = static_cast<double>(statistics[static_cast<size_t>(3 * i + 2)]);
    const double precision = n_hyp > 0 ? n_match / n_hyp : eps;
    const double recall = n_ref > 0 ? n_match / n_ref : eps;
    const double denominator = factor * precision + recall;
    score += denominator > 0 ? (1 + factor) * precision * recall / denominator : eps;
    if (n_hyp > 0 && n_ref > 0) {
      avg_precision += precision;
      avg_recall += recall;
      ++effective_order;
    }
  }
  if (options_.eps_smoothing) return 100 * score / order;
  if (effective_order == 0) {
    avg_precision = avg_recall = 0.0;
  } else {
    avg_precision /= effective_order;
    avg_recall /= effective_order;
  }
  if (avg_precision + avg_recall == 0.0) return 0.0;
  double f = (1 + factor) * avg_precision * avg_recall;
  f /= factor * avg_precision + avg_recall;
  return 100 * f;
}

double Chrf::corpus_score(const std::vector<std::string>& hypotheses,
                          const std::vector<std::vector<std::string>>& references) const {
  if (hypotheses.size() != references.size()) {
    throw Error("chrF: " + std::to_string(hypotheses.size()) + " hypotheses but " + std::to_string(references.size()) +
                " reference lines");
  }
  std::vector<int64_t> total(static_cast<size_t>(3 * (options_.char_order + options_.word_order)), 0);
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    const auto stats = segment_statistics(hypotheses[i], references[i]);
    for (size_t k = 0; k < total.size(); ++k) total[k] += stats[k];
  }
  return score_of(total);
}

double Chrf::sentence_score(const std::string& hypothesis, const std::vector<std::string>& references) const {
  return score_of(segment_statistics(hypothesis, references));
}

std::string Chrf::name() const {
  return "chrF" + std::to_string(options_.beta) + std::string(static_cast<size_t>(options_.word_order), '+');
}

std::string Chrf::signature(int num_refs, bool short_form) const {
  const auto field = [&](const char* full, const char* abbreviated, const std::string& value) {
    return std::string(short_form ? abbreviated : full) + ":" + value;
  };
  return field("nrefs", "#", std::to_string(num_refs)) + "|" +
         field("case", "c", options_.lowercase ? "lc" : "mixed") + "|" +
         field("eff", "e", options_.eps_smoothing ? "no" : "yes") + "|" +
         field("nc", "nc", std::to_string(options_.char_order)) + "|" +
         field("nw", "nw", std::to_string(options_.word_order)) + "|" +
         field("space", "s", options_.whitespace ? "yes" : "no") + "|" + field("version", "v", kSacreBleuVersion);
}

}  // namespace tandem::eval
