// BLEU exactly as sacreBLEU 2.6.0 computes it (Papineni et al., 2002).
//
// Usage:
//   tandem::eval::Bleu bleu;                                  // 13a, exp smoothing, cased
//   BleuScore s = bleu.corpus_score(hypotheses, references);  // references[i]: refs of line i
//   std::cout << s.format(1, false, bleu.signature(1), false) << "\n";
//   // BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = 34.2 66.1/41.0/...
//
// Contract: each line is lowercased (optionally), right-stripped and tokenized
// (bleu_tokenizer.h); n-grams of orders 1..max_ngram_order are counted, a
// hypothesis n-gram matching at most as often as in the reference that has it
// most; the reference length is that of the reference closest in length (the
// shorter on a tie); smoothing and effective order follow sacreBLEU's
// compute_bleu line by line, so scores agree to the last digit. Every segment
// needs at least one reference; an empty reference is allowed (length 0).
// The signature reports sacreBLEU's version because the figures are sacreBLEU's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tandem/eval/bleu_tokenizer.h"

namespace tandem::eval {

/// The sacreBLEU version whose results tandem-bleu reproduces.
constexpr const char* kSacreBleuVersion = "2.6.0";

enum class Smoothing { kNone, kFloor, kAddK, kExp };

/// Parses "none", "floor", "add-k" or "exp"; throws tandem::Error otherwise.
Smoothing parse_smoothing(const std::string& name);

struct BleuOptions {
  /// Tokenizer applied to hypotheses and references. Default 13a.
  BleuTokenizer tokenizer = BleuTokenizer::k13a;
  /// Smoothing of zero n-gram matches. Default exp (NIST).
  Smoothing smoothing = Smoothing::kExp;
  /// Value for floor (default 0.1) and add-k (default 1); unused otherwise.
  std::optional<double> smooth_value;
  /// Compare lowercased text. Default off.
  bool lowercase = false;
  /// Average only over the orders that have n-grams (for sentence-level BLEU). Default off.
  bool effective_order = false;
  /// Highest n-gram order. Default 4.
  int max_ngram_order = 4;
};

/// BLEU's sufficient statistics; statistics of segments add up to the corpus's.
struct BleuStats {
  int64_t sys_len = 0;          ///< hypothesis tokens
  int64_t ref_len = 0;          ///< closest reference tokens
  std::vector<int64_t> counts;  ///< matched n-grams of order n at [n - 1]
  std::vector<int64_t> totals;  ///< hypothesis n-grams of order n at [n - 1]

  BleuStats& operator+=(const BleuStats& other);
};

struct BleuScore {
  double score = 0.0;               ///< BLEU, 0..100
  double bp = 0.0;                  ///< brevity penalty
  double ratio = 0.0;               ///< sys_len / ref_len (0 when ref_len is 0)
  std::vector<double> precisions;   ///< n-gram precisions in percent, smoothed
  BleuStats stats;                  ///< the statistics it was computed from

  /// sacreBLEU's verbose part: "75.0/66.7/50.0/1.0 (BP = 1.000 ratio = ...)".
  std::string verbose() const;

  /// sacreBLEU's Score.format: "BLEU|sig = 22.4 verbose", only the score, or
  /// its JSON object; `width` is the number of decimals.
  std::string format(int width, bool score_only, const std::string& signature, bool json) const;
};

class Bleu {
 public:
  explicit Bleu(BleuOptions options = {});

  /// Statistics of one hypothesis against its references (at least one).
  BleuStats segment_stats(std::string_view hypothesis, const std::vector<std::string>& references) const;

  /// Corpus BLEU; `references[i]` holds the references of hypothesis i.
  /// `threads` workers share the segments (the result does not depend on it).
  BleuScore corpus_score(const std::vector<std::string>& hypotheses,
                         const std::vector<std::vector<std::string>>& references, int threads = 1) const;

  /// BLEU of one sentence (use effective_order for it, as sacreBLEU's CLI does).
  BleuScore sentence_score(std::string_view hypothesis, const std::vector<std::string>& references) const;

  /// The score from statistics (sacreBLEU's compute_bleu).
  BleuScore score(const BleuStats& stats) const;

  /// "nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0", or with
  /// `short_form` "#:1|c:mixed|e:no|tok:13a|s:exp|v:2.6.0"; `num_refs` < 0
  /// prints "var" (segments with different numbers of references).
  std::string signature(int num_refs, bool short_form = false) const;

  const BleuOptions& options() const { return options_; }

 private:
  BleuOptions options_;
};

}  // namespace tandem::eval
