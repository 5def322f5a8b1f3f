#include "tandem/data/shortlist.h"

#include <algorithm>
#include <fstream>
#include <iomanip>
#include <limits>
#include <sstream>

#include "tandem/error.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::data {
namespace {

std::unordered_map<std::string, int32_t> piece_ids(const vocab::Tokenizer& tok) {
  std::unordered_map<std::string, int32_t> ids;
  for (int32_t id = 0; id < tok.vocab_size(); ++id) ids.emplace(tok.piece(id), id);
  return ids;
}

}  // namespace

namespace {

// A pair's distinct pieces on each side, sorted.
void distinct_sorted(SentencePair& pair) {
  std::sort(pair.source.begin(), pair.source.end());
  pair.source.erase(std::unique(pair.source.begin(), pair.source.end()), pair.source.end());
  std::sort(pair.target.begin(), pair.target.end());
  pair.target.erase(std::unique(pair.target.begin(), pair.target.end()), pair.target.end());
}

// Pairs between giving back the id cache's pages read (bounded resident memory).
constexpr int64_t kReleaseEvery = int64_t{1} << 20;

void count_into(std::vector<int64_t>& counts, int32_t id) {
  if (static_cast<size_t>(id) >= counts.size()) counts.resize(static_cast<size_t>(id) + 1, 0);
  ++counts[static_cast<size_t>(id)];
}

}  // namespace

Shortlist Shortlist::build(const ParallelCorpus& corpus, int64_t keep, int64_t memory_bytes) {
  if (keep < 1) throw Error("a shortlist keeps at least 1 target piece per source piece");
  if (corpus.size() > int64_t{std::numeric_limits<uint32_t>::max()}) {
    throw Error("a shortlist counts co-occurrences of at most 4,294,967,295 pairs; build it from a part of the corpus");
  }
  // Pass 1: pairs holding each source and target piece, and target occurrences (the frequency order).
  std::vector<int64_t> source_count;
  std::vector<int64_t> target_count;
  std::vector<int64_t> target_tokens;
  for (int64_t i = 0; i < corpus.size(); ++i) {
    auto pair = corpus.pair(i);
    for (const int32_t t : pair.target) count_into(target_tokens, t);
    distinct_sorted(pair);
    for (const int32_t s : pair.source) count_into(source_count, s);
    for (const int32_t t : pair.target) count_into(target_count, t);
    if ((i + 1) % kReleaseEvery == 0) corpus.release_pages();
  }
  Shortlist list;
  for (size_t t = 0; t < target_tokens.size(); ++t) {
    if (target_tokens[t] > 0) list.frequent_.push_back(static_cast<int32_t>(t));
  }
  std::stable_sort(list.frequent_.begin(), list.frequent_.end(), [&](int32_t a, int32_t b) {
    return target_tokens[static_cast<size_t>(a)] > target_tokens[static_cast<size_t>(b)];
  });
  // Then the pairs holding both pieces, counted for a shard of source pieces at
  // a time (a dense table of shard x target vocabulary within `memory_bytes`),
  // each source piece's best `keep` taken before the next shard.
  const auto sources = static_cast<int64_t>(source_count.size());
  const auto targets = static_cast<int64_t>(target_count.size());
  const int64_t row_bytes = std::max<int64_t>(targets, 1) * static_cast<int64_t>(sizeof(uint32_t));
  const int64_t rows = std::clamp<int64_t>(memory_bytes / row_bytes, 1, std::max<int64_t>(sources, 1));
  std::vector<std::pair<int32_t, double>> scored;
  for (int64_t lo = 0; lo < sources; lo += rows) {
    const int64_t hi = std::min(sources, lo + rows);
    std::vector<uint32_t> both(static_cast<size_t>((hi - lo) * targets), 0);
    for (int64_t i = 0; i < corpus.size(); ++i) {
      auto pair = corpus.pair(i);
      distinct_sorted(pair);
      for (auto it = std::lower_bound(pair.source.begin(), pair.source.end(), lo);
           it != pair.source.end() && *it < hi; ++it) {
        uint32_t* row = both.data() + (*it - lo) * targets;
        for (const int32_t t : pair.target) ++row[t];
      }
      if ((i + 1) % kReleaseEvery == 0) corpus.release_pages();
    }
    for (int64_t s = lo; s < hi; ++s) {
      const uint32_t* row = both.data() + (s - lo) * targets;
      scored.clear();
      for (int64_t t = 0; t < targets; ++t) {
        if (row[t] == 0) continue;
        scored.emplace_back(static_cast<int32_t>(t),
                            2.0 * static_cast<double>(row[t]) /
                                static_cast<double>(source_count[static_cast<size_t>(s)] +
                                                    target_count[static_cast<size_t>(t)]));  // Dice
      }
      if (scored.empty()) continue;
      const auto n = std::min<size_t>(scored.size(), static_cast<size_t>(keep));
      std::partial_sort(scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n), scored.end(),
                        [](const auto& a, const auto& b) {
                          return a.second != b.second ? a.second > b.second : a.first < b.first;
                        });
      list.associated_.emplace(static_cast<int32_t>(s), std::vector<std::pair<int32_t, double>>(
                                                             scored.begin(), scored.begin() + static_cast<std::ptrdiff_t>(n)));
    }
  }
  return list;
}

void Shortlist::save(const std::string& path, const vocab::Tokenizer& source, const vocab::Tokenizer& target) const {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw Error(path + ": cannot write the shortlist");
  out << "# tandem shortlist: f TARGET_PIECE (most frequent first); l SOURCE_PIECE TARGET_PIECE DICE (best first)\n";
  for (const int32_t t : frequent_) out << "f " << target.piece(t) << "\n";
  std::vector<int32_t> sources;
  for (const auto& entry : associated_) sources.push_back(entry.first);
  std::sort(sources.begin(), sources.end());
  out << std::setprecision(6);
  for (const int32_t s : sources) {
    for (const auto& [t, score] : associated_.at(s)) out << "l " << source.piece(s) << " " << target.piece(t) << " " << score << "\n";
  }
  out.close();
  if (!out) throw Error(path + ": writing the shortlist failed (disk full?)");
}

Shortlist Shortlist::load(const std::string& path, const vocab::Tokenizer& source, const vocab::Tokenizer& target) {
  std::ifstream in(path);
  if (!in) throw Error(path + ": cannot read the shortlist");
  const auto source_ids = piece_ids(source);
  const auto target_ids = piece_ids(target);
  const auto id_of = [&](const std::unordered_map<std::string, int32_t>& ids, const std::string& piece,
                         const std::string& where, const char* side) {
    const auto it = ids.find(piece);
    if (it == ids.end()) {
      throw Error(where + ": '" + piece + "' is not a piece of the model's " + side +
                  " vocabulary (a shortlist made with other vocabularies?)");
    }
    return it->second;
  };
  Shortlist list;
  bool marian = false;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const std::string where = path + ":" + std::to_string(number);
    std::istringstream fields(line);
    std::vector<std::string> f;
    for (std::string field; fields >> field;) f.push_back(field);
    const auto number_at = [&](size_t i) {
      try {
        size_t used = 0;
        const double v = std::stod(f[i], &used);
        if (used == f[i].size()) return v;
      } catch (const std::exception&) {
      }
      throw Error(where + ": '" + f[i] + "' is not a number");
    };
    if (f.size() == 2 && f[0] == "f") {
      list.frequent_.push_back(id_of(target_ids, f[1], where, "target"));
    } else if (f.size() == 4 && f[0] == "l") {
      list.associated_[id_of(source_ids, f[1], where, "source")].emplace_back(id_of(target_ids, f[2], where, "target"),
                                                                              number_at(3));
    } else if (f.size() == 3) {  // Marian: TARGET SOURCE PROB
      marian = true;
      const auto s = source_ids.find(f[1]);
      const auto t = target_ids.find(f[0]);
      if (s == source_ids.end() || t == target_ids.end()) continue;  // words the pieces do not know (fast_align's)
      list.associated_[s->second].emplace_back(t->second, number_at(2));
    } else {
      throw Error(where + ": expected 'f PIECE', 'l SOURCE TARGET SCORE' or Marian's 'TARGET SOURCE PROB', got '" +
                  line + "'");
    }
  }
  if (marian) {
    for (auto& [s, row] : list.associated_) {
      std::stable_sort(row.begin(), row.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    }
    if (list.frequent_.empty()) {
      for (int32_t id = 0; id < target.vocab_size(); ++id) list.frequent_.push_back(id);
    }
  }
  if (list.frequent_.empty() && list.associated_.empty()) throw Error(path + ": the shortlist is empty");
  return list;
}

std::vector<int64_t> Shortlist::candidates(const std::vector<std::vector<int32_t>>& sources, int64_t first,
                                           int64_t best) const {
  std::vector<int64_t> ids{vocab::kPadId, vocab::kUnkId, vocab::kBosId, vocab::kEosId};
  const auto n_first = std::min<size_t>(frequent_.size(), static_cast<size_t>(std::max<int64_t>(first, 0)));
  ids.insert(ids.end(), frequent_.begin(), frequent_.begin() + static_cast<std::ptrdiff_t>(n_first));
  for (const auto& sentence : sources) {
    for (const int32_t s : sentence) {
      const auto it = associated_.find(s);
      if (it == associated_.end()) continue;
      const auto n = std::min<size_t>(it->second.size(), static_cast<size_t>(std::max<int64_t>(best, 0)));
      for (size_t k = 0; k < n; ++k) ids.push_back(it->second[k].first);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  return ids;
}

}  // namespace tandem::data
