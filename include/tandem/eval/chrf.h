// chrF and chrF++ exactly as sacreBLEU 2.6.0 computes them.
//
// Usage:
//   tandem::eval::Chrf chrf;                        // chrF2: 6 character orders, beta 2
//   ChrfOptions plus; plus.word_order = 2;           // chrF++
//   double score = chrf.corpus_score(hypotheses, references);   // references[i]: line i's references
//   std::string sig = chrf.signature(1, false);       // nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0
//
// Definitions (sacreBLEU's CHRF): characters are Unicode code points; without
// `whitespace`, Python-whitespace is removed before the character n-grams are
// taken. chrF++ adds word n-grams of the whitespace-split words, with one
// ASCII punctuation mark split off a word's end (else its start). Per segment,
// for each reference: [hyp n-grams (0 when the reference has none), ref n-grams,
// matches (clipped counts)] per order; the reference with the best F wins.
// The corpus F sums those statistics over segments: precision and recall are
// averaged over the orders where both sides have n-grams (effective order),
// then F-beta, x 100; with eps_smoothing, the mean over all orders of each
// order's F with 1e-16 standing in for undefined values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace tandem::eval {

struct ChrfOptions {
  /// Character n-gram orders (--chrf-char-order). Default 6.
  int char_order = 6;
  /// Word n-gram orders (--chrf-word-order); 2 = chrF++. Default 0.
  int word_order = 0;
  /// Recall weight (--chrf-beta). Default 2.
  int beta = 2;
  /// Lowercase (Python's str.lower()) first (--chrf-lowercase). Default off.
  bool lowercase = false;
  /// Keep whitespace in character n-grams (--chrf-whitespace). Default off.
  bool whitespace = false;
  /// chrF++.py's epsilon smoothing instead of the effective order (--chrf-eps-smoothing). Default off.
  bool eps_smoothing = false;
};

class Chrf {
 public:
  /// Throws tandem::Error for orders or beta out of range.
  explicit Chrf(ChrfOptions options = {});

  /// [hyp, ref, match] per order (character orders, then word orders) against the best reference.
  std::vector<int64_t> segment_statistics(const std::string& hypothesis, const std::vector<std::string>& references) const;
  /// The score (0-100) of summed statistics.
  double score_of(const std::vector<int64_t>& statistics) const;
  /// Corpus chrF of line-aligned hypotheses; `references[i]` holds line i's references.
  double corpus_score(const std::vector<std::string>& hypotheses,
                      const std::vector<std::vector<std::string>>& references) const;
  double sentence_score(const std::string& hypothesis, const std::vector<std::string>& references) const;

  /// "chrF2", "chrF2++" (one '+' per word order), "chrF1".
  std::string name() const;
  /// sacreBLEU's signature: nrefs, case, eff, nc, nw, space, version (short: #, c, e, nc, nw, s, v).
  std::string signature(int num_refs, bool short_form) const;
  const ChrfOptions& options() const { return options_; }

 private:
  ChrfOptions options_;
};

}  // namespace tandem::eval
