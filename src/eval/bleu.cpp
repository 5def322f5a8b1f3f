#include "tandem/eval/bleu.h"
#include "tandem/eval/score_format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>
#include <unordered_map>

#include "tandem/error.h"
#include "tandem/util/utf8.h"

namespace tandem::eval {
namespace {

using NgramCounts = std::unordered_map<std::string, int64_t>;

// Python's line.split(): tokens between runs of Unicode whitespace.
std::vector<std::string> split_words(const std::string& line) {
  std::vector<std::string> words;
  const std::u32string text = util::decode_utf8(line);
  std::u32string word;
  for (const char32_t c : text) {
    if (is_python_space(c)) {
      if (!word.empty()) words.push_back(util::encode_utf8(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(util::encode_utf8(word));
  return words;
}

// sacreBLEU's extract_all_word_ngrams: n-grams keyed by their words joined with
// ' ' (no word contains whitespace, so keys of different n-grams differ).
NgramCounts count_ngrams(const std::vector<std::string>& words, int max_order) {
  NgramCounts counts;
  const auto n_words = static_cast<int>(words.size());
  for (int n = 1; n <= max_order; ++n) {
    for (int i = 0; i + n <= n_words; ++i) {
      std::string key = words[static_cast<size_t>(i)];
      for (int k = 1; k < n; ++k) key += ' ' + words[static_cast<size_t>(i + k)];
      ++counts[key];
    }
  }
  return counts;
}

int order_of(const std::string& key) {
  return 1 + static_cast<int>(std::count(key.begin(), key.end(), ' '));
}

double my_log(double x) { return x == 0.0 ? -9999999999.0 : std::log(x); }

}  // namespace

Smoothing parse_smoothing(const std::string& name) {
  if (name == "none") return Smoothing::kNone;
  if (name == "floor") return Smoothing::kFloor;
  if (name == "add-k") return Smoothing::kAddK;
  if (name == "exp") return Smoothing::kExp;
  throw Error("unknown smoothing method '" + name + "'; use exp, floor, add-k or none");
}

BleuStats& BleuStats::operator+=(const BleuStats& other) {
  sys_len += other.sys_len;
  ref_len += other.ref_len;
  if (counts.size() < other.counts.size()) counts.resize(other.counts.size(), 0);
  if (totals.size() < other.totals.size()) totals.resize(other.totals.size(), 0);
  for (size_t i = 0; i < other.counts.size(); ++i) counts[i] += other.counts[i];
  for (size_t i = 0; i < other.totals.size(); ++i) totals[i] += other.totals[i];
  return *this;
}

Bleu::Bleu(BleuOptions options) : options_(std::move(options)) {
  if (options_.max_ngram_order < 1) throw Error("the BLEU n-gram order must be at least 1");
  if (options_.smooth_value && *options_.smooth_value < 0) {
    throw Error("--smooth-value must not be negative");
  }
}

BleuStats Bleu::segment_stats(std::string_view hypothesis,
                              const std::vector<std::string>& references) const {
  if (references.empty()) throw Error("BLEU needs at least one reference for every hypothesis");
  const int max_order = options_.max_ngram_order;
  const auto preprocess = [&](std::string_view line) {
    std::string text = options_.lowercase ? python_lower(line) : std::string(line);
    return split_words(tokenize_for_bleu(python_rstrip(text), options_.tokenizer));
  };

  // Reference n-grams: the highest count of each over the references.
  NgramCounts ref_ngrams;
  std::vector<int64_t> ref_lens;
  for (const auto& reference : references) {
    const auto words = preprocess(reference);
    ref_lens.push_back(static_cast<int64_t>(words.size()));
    for (const auto& [ngram, count] : count_ngrams(words, max_order)) {
      auto& best = ref_ngrams[ngram];
      best = std::max(best, count);
    }
  }

  const auto words = preprocess(hypothesis);
  BleuStats stats;
  stats.sys_len = static_cast<int64_t>(words.size());
  // The closest reference length, the shorter one on a tie.
  int64_t closest_diff = -1;
  for (const int64_t len : ref_lens) {
    const int64_t diff = std::llabs(stats.sys_len - len);
    if (closest_diff == -1 || diff < closest_diff) {
      closest_diff = diff;
      stats.ref_len = len;
    } else if (diff == closest_diff && len < stats.ref_len) {
      stats.ref_len = len;
    }
  }
  stats.counts.assign(static_cast<size_t>(max_order), 0);
  stats.totals.assign(static_cast<size_t>(max_order), 0);
  for (const auto& [ngram, count] : count_ngrams(words, max_order)) {
    const auto n = static_cast<size_t>(order_of(ngram) - 1);
    stats.totals[n] += count;
    const auto hit = ref_ngrams.find(ngram);
    if (hit != ref_ngrams.end()) stats.counts[n] += std::min(count, hit->second);
  }
  return stats;
}

BleuScore Bleu::corpus_score(const std::vector<std::string>& hypotheses,
                             const std::vector<std::vector<std::string>>& references,
                             int threads) const {
  if (hypotheses.size() != references.size()) {
    throw Error("BLEU: " + std::to_string(hypotheses.size()) + " hypotheses but references for " +
                std::to_string(references.size()) + " lines");
  }
  const size_t n = hypotheses.size();
  const size_t workers = std::max<size_t>(1, std::min<size_t>(static_cast<size_t>(std::max(1, threads)),
                                                              n / 64 + 1));
  std::vector<BleuStats> partial(workers);
  std::vector<std::string> failures(workers);
  const auto work = [&](size_t w) {
    try {
      for (size_t i = w; i < n; i += workers) partial[w] += segment_stats(hypotheses[i], references[i]);
    } catch (const std::exception& e) {
      failures[w] = e.what();
    }
  };
  std::vector<std::thread> pool;
  for (size_t w = 1; w < workers; ++w) pool.emplace_back(work, w);
  work(0);
  for (auto& t : pool) t.join();
  for (const auto& failure : failures) {
    if (!failure.empty()) throw Error(failure);
  }
  BleuStats total;
  total.counts.assign(static_cast<size_t>(options_.max_ngram_order), 0);
  total.totals.assign(static_cast<size_t>(options_.max_ngram_order), 0);
  for (const auto& p : partial) total += p;
  return score(total);
}

BleuScore Bleu::sentence_score(std::string_view hypothesis,
                               const std::vector<std::string>& references) const {
  return score(segment_stats(hypothesis, references));
}

BleuScore Bleu::score(const BleuStats& stats) const {
  const int max_order = options_.max_ngram_order;
  double smooth_value = 0.0;
  if (options_.smoothing == Smoothing::kFloor) smooth_value = options_.smooth_value.value_or(0.1);
  if (options_.smoothing == Smoothing::kAddK) smooth_value = options_.smooth_value.value_or(1.0);

  BleuScore result;
  result.stats = stats;
  result.stats.counts.resize(static_cast<size_t>(max_order), 0);
  result.stats.totals.resize(static_cast<size_t>(max_order), 0);
  const int64_t sys_len = stats.sys_len;
  const int64_t ref_len = stats.ref_len;
  if (sys_len < ref_len) {
    result.bp = sys_len > 0 ? std::exp(1.0 - static_cast<double>(ref_len) / static_cast<double>(sys_len))
                            : 0.0;
  } else {
    result.bp = 1.0;
  }
  result.ratio = ref_len != 0 ? static_cast<double>(sys_len) / static_cast<double>(ref_len) : 0.0;
  result.precisions.assign(static_cast<size_t>(max_order), 0.0);

  const auto& raw_counts = result.stats.counts;
  if (std::all_of(raw_counts.begin(), raw_counts.end(), [](int64_t c) { return c == 0; })) {
    result.score = 0.0;
    return result;
  }
  std::vector<double> correct(raw_counts.begin(), raw_counts.end());
  std::vector<double> total(result.stats.totals.begin(), result.stats.totals.end());
  double smooth_mteval = 1.0;
  int eff_order = max_order;
  for (int n = 1; n <= max_order; ++n) {
    const auto i = static_cast<size_t>(n - 1);
    if (options_.smoothing == Smoothing::kAddK && n > 1) {
      correct[i] += smooth_value;
      total[i] += smooth_value;
    }
    if (total[i] == 0) break;
    if (options_.effective_order) eff_order = n;
    if (correct[i] == 0) {
      if (options_.smoothing == Smoothing::kExp) {
        smooth_mteval *= 2;
        result.precisions[i] = 100.0 / (smooth_mteval * total[i]);
      } else if (options_.smoothing == Smoothing::kFloor) {
        result.precisions[i] = 100.0 * smooth_value / total[i];
      }
    } else {
      result.precisions[i] = 100.0 * correct[i] / total[i];
    }
  }
  double log_sum = 0.0;
  for (int n = 0; n < eff_order; ++n) log_sum += my_log(result.precisions[static_cast<size_t>(n)]);
  result.score = result.bp * std::exp(log_sum / eff_order);
  return result;
}

std::string Bleu::signature(int num_refs, bool short_form) const {
  std::string smooth;
  switch (options_.smoothing) {
    case Smoothing::kNone: smooth = "none"; break;
    case Smoothing::kExp: smooth = "exp"; break;
    case Smoothing::kFloor: smooth = "floor[" + fixed_decimals(options_.smooth_value.value_or(0.1), 2) + "]"; break;
    case Smoothing::kAddK: smooth = "add-k[" + fixed_decimals(options_.smooth_value.value_or(1.0), 2) + "]"; break;
  }
  const auto key = [&](const char* long_name, const char* short_name) {
    return std::string(short_form ? short_name : long_name) + ":";
  };
  return key("nrefs", "#") + (num_refs < 0 ? std::string("var") : std::to_string(num_refs)) + "|" +
         key("case", "c") + (options_.lowercase ? "lc" : "mixed") + "|" + key("eff", "e") +
         (options_.effective_order ? "yes" : "no") + "|" + key("tok", "tok") +
         bleu_tokenizer_name(options_.tokenizer) + "|" + key("smooth", "s") + smooth + "|" +
         key("version", "v") + kSacreBleuVersion;
}

std::string BleuScore::verbose() const {
  std::string precision_text;
  for (size_t i = 0; i < precisions.size(); ++i) {
    if (i > 0) precision_text += '/';
    precision_text += fixed_decimals(precisions[i], 1);
  }
  return precision_text + " (BP = " + fixed_decimals(bp, 3) + " ratio = " + fixed_decimals(ratio, 3) +
         " hyp_len = " + std::to_string(stats.sys_len) + " ref_len = " + std::to_string(stats.ref_len) +
         ")";
}

std::string BleuScore::format(int width, bool score_only, const std::string& signature,
                              bool json) const {
  return format_score("BLEU", score, width, score_only, signature, json, verbose());
}

}  // namespace tandem::eval
