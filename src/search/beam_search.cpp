#include "tandem/search/beam_search.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "tandem/error.h"
#include "tandem/util/splitmix64.h"
#include "tandem/vocab/special_ids.h"

namespace tandem::search {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// A continuation: row `origin` extended by `token`, with cumulative `score`.
struct Candidate {
  int64_t origin;
  int64_t token;
  double score;
};

// Every open row of every sentence draws one token, from its sentence's stream:
// block p (rows p*K .. p*K+K-1) draws K tokens from generators[p].
std::vector<std::vector<Candidate>> sample_candidates(const torch::Tensor& log_probs, const torch::Tensor& scores,
                                                      const std::vector<int64_t>& open, int64_t K,
                                                      const SearchOptions& o, std::vector<at::Generator*> generators) {
  auto logits = log_probs / std::max(o.temperature, 1e-6);  // [N, V]
  if (o.sampling == Sampling::kTopK && o.top_k < logits.size(1)) {
    const auto kth = std::get<0>(logits.topk(o.top_k, /*dim=*/-1)).select(1, o.top_k - 1).unsqueeze(1);  // [N, 1]
    logits = logits.masked_fill(logits < kth, kNegInf);
  }
  const auto probs = torch::softmax(logits, /*dim=*/-1).nan_to_num(0.0);  // rows all -inf give zeros
  const auto finite = scores.isfinite();                                 // [N]
  const auto safe = torch::where(finite.unsqueeze(1), probs, torch::ones_like(probs));
  std::vector<torch::Tensor> blocks;
  blocks.reserve(generators.size());
  for (size_t p = 0; p < generators.size(); ++p) {
    const auto rows = safe.narrow(/*dim=*/0, static_cast<int64_t>(p) * K, K);                        // [K, V]
    blocks.push_back(torch::multinomial(rows, 1, /*replacement=*/true, *generators[p]).squeeze(1));  // [K]
  }
  const auto drawn = torch::cat(blocks);  // [N]
  const auto drawn_score = (scores + log_probs.gather(1, drawn.unsqueeze(1)).squeeze(1)).to(torch::kFloat64);
  const auto* tokens = drawn.data_ptr<int64_t>();
  const auto* values = drawn_score.data_ptr<double>();
  const auto* alive = finite.data_ptr<bool>();
  std::vector<std::vector<Candidate>> candidates(open.size());
  for (size_t b = 0; b < open.size(); ++b) {
    for (int64_t k = 0; k < open[b]; ++k) {
      const int64_t row = static_cast<int64_t>(b) * K + k;
      if (alive[row]) candidates[b].push_back({row, tokens[row], values[row]});
    }
    std::sort(candidates[b].begin(), candidates[b].end(),
              [](const Candidate& x, const Candidate& y) { return x.score > y.score; });
  }
  return candidates;
}

// The best `open[b]` continuations of each sentence over all its rows. The
// top-k runs where the log-probabilities are; only [B, K] comes to the CPU.
std::vector<std::vector<Candidate>> best_candidates(const torch::Tensor& log_probs, const torch::Tensor& scores,
                                                    const std::vector<int64_t>& open, int64_t K) {
  const int64_t B = static_cast<int64_t>(open.size());
  const int64_t V = log_probs.size(1);
  const auto total = (scores.unsqueeze(1) + log_probs).view({B, K * V});  // [B, K x V]
  auto [top_scores, top_indices] = total.topk(K, /*dim=*/-1);             // [B, K]
  top_scores = top_scores.to(torch::kCPU, torch::kFloat64).contiguous();
  top_indices = top_indices.to(torch::kCPU).contiguous();
  const auto* values = top_scores.data_ptr<double>();
  const auto* indices = top_indices.data_ptr<int64_t>();
  std::vector<std::vector<Candidate>> candidates(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t k = 0; k < open[static_cast<size_t>(b)]; ++k) {
      const double score = values[b * K + k];
      if (!std::isfinite(score)) break;
      const int64_t index = indices[b * K + k];
      candidates[static_cast<size_t>(b)].push_back({b * K + index / V, index % V, score});
    }
  }
  return candidates;
}

double ranking_of(double score, size_t tokens, const SearchOptions& o) {
  const auto length = static_cast<double>(tokens + 1);  // eos included
  return score / std::pow(length, o.normalize) - o.word_penalty * length;
}

}  // namespace

uint64_t sentence_seed(uint64_t seed, int64_t sentence_id) {
  return util::splitmix64(util::splitmix64(seed) ^ static_cast<uint64_t>(sentence_id));
}

namespace {

// One call of beam_search: the rows of the sentences still searched, their
// histories, and each sentence's finished hypotheses.
class Search {
 public:
  Search(Ensemble& ensemble, const torch::Tensor& source, const torch::Tensor& lengths, const SearchOptions& o,
         const std::vector<int64_t>& sentence_ids, const std::vector<std::vector<int32_t>>& prefixes);
  std::vector<std::vector<Hypothesis>> run();

 private:
  int64_t prefix_length(int64_t b) const {
    return prefixes_.empty() ? 0 : static_cast<int64_t>(prefixes_[static_cast<size_t>(b)].size());
  }
  void restrict(torch::Tensor& log_probs, int64_t t) const;
  std::vector<std::vector<Candidate>> choose(const torch::Tensor& log_probs);
  bool advance(const std::vector<std::vector<Candidate>>& candidates, const torch::Tensor& cpu_attention);

  Ensemble& ensemble_;
  const SearchOptions& o_;
  const std::vector<std::vector<int32_t>>& prefixes_;
  const int64_t B_;
  const int64_t K_;
  const torch::Device device_;
  std::vector<at::Generator> generators_;  // one stream per sentence, for sampling
  EnsembleState state_;
  std::vector<int64_t> limit_;  // each sentence's longest output, eos included
  torch::Tensor scores_;        // [rows]
  torch::Tensor previous_;      // [rows]
  std::vector<std::vector<int32_t>> histories_;
  std::vector<std::vector<std::vector<float>>> attentions_;
  std::vector<int64_t> open_;  // each sentence's beams still open
  std::vector<std::vector<Hypothesis>> finished_;
  // The sentences still in the batch, in row-block order: block p (rows p*K ..
  // p*K+K-1) is sentence active_[p]. A finished sentence leaves the batch.
  std::vector<int64_t> active_;
  // With a shortlist the log-probabilities have one column per shortlisted id:
  // column_token_[c] is column c's id, token_column_[id] its column or -1.
  std::vector<int64_t> column_token_;
  std::vector<int64_t> token_column_;
  int64_t column_of(int64_t token) const {
    if (column_token_.empty()) return token;
    return token >= 0 && token < static_cast<int64_t>(token_column_.size()) ? token_column_[static_cast<size_t>(token)]
                                                                               : -1;
  }
};

Search::Search(Ensemble& ensemble, const torch::Tensor& source, const torch::Tensor& lengths, const SearchOptions& o,
               const std::vector<int64_t>& sentence_ids, const std::vector<std::vector<int32_t>>& prefixes)
    : ensemble_(ensemble),
      o_(o),
      prefixes_(prefixes),
      B_(source.size(0)),
      K_(o.beam_size),
      device_(source.device()) {
  if (o.beam_size < 1) throw Error("--beam-size must be at least 1");
  if (o.max_length_factor <= 0) throw Error("--max-length-factor must be above 0");
  if (o.temperature <= 0) throw Error("--temperature must be above 0");
  if (o.sampling == Sampling::kTopK && o.top_k < 1) throw Error("--top-k must be at least 1");
  const int64_t B = B_;
  const int64_t K = K_;
  const int64_t N = B * K;
  if (!sentence_ids.empty() && static_cast<int64_t>(sentence_ids.size()) != B) {
    throw Error("beam_search: " + std::to_string(sentence_ids.size()) + " sentence ids for " + std::to_string(B) +
                " sentences");
  }
  if (!prefixes.empty() && static_cast<int64_t>(prefixes.size()) != B) {
    throw Error("beam_search: " + std::to_string(prefixes.size()) + " prefixes for " + std::to_string(B) + " sentences");
  }
  if (o.sampling != Sampling::kNone) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t id = sentence_ids.empty() ? b : sentence_ids[static_cast<size_t>(b)];
      generators_.push_back(at::make_generator<at::CPUGeneratorImpl>(sentence_seed(o.seed, id)));
    }
  }
  // Each sentence's rows start as copies of its first decoder state; they
  // share its encoding.
  const auto expand = torch::arange(B, torch::kInt64).repeat_interleave(K).to(device_);  // [N]
  state_ = ensemble.start(source, lengths).reorder_within_sentences(expand);
  state_.output_rows = o.output_rows;
  if (o.output_rows.defined()) {
    const auto ids = o.output_rows.to(torch::kCPU, torch::kInt64).contiguous();
    column_token_.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + ids.numel());
    token_column_.assign(static_cast<size_t>(ensemble.target_vocab()), -1);
    for (size_t c = 0; c < column_token_.size(); ++c) {
      const int64_t id = column_token_[c];
      if (id < 0 || id >= ensemble.target_vocab() || token_column_[static_cast<size_t>(id)] >= 0) {
        throw Error("beam_search: the output rows must be distinct target ids below " +
                    std::to_string(ensemble.target_vocab()) + "; got " + std::to_string(id));
      }
      token_column_[static_cast<size_t>(id)] = static_cast<int64_t>(c);
    }
  }
  limit_.resize(static_cast<size_t>(B));
  const auto cpu_lengths = lengths.to(torch::kCPU);
  for (int64_t b = 0; b < B; ++b) {
    const auto by_source =
        static_cast<int64_t>(std::floor(o.max_length_factor * static_cast<double>(cpu_lengths[b].item<int64_t>())));
    // At least one token and eos, after the prefix.
    limit_[static_cast<size_t>(b)] = std::max<int64_t>(prefix_length(b) + 2, o.max_length > 0 ? o.max_length : by_source);
  }
  if (o.sampling != Sampling::kNone) {
    scores_ = torch::zeros({N}, torch::dtype(torch::kFloat32).device(device_));  // every row draws its own sample
  } else {  // only beam 0 is live at the start: the others would repeat it
    scores_ = torch::full({B, K}, kNegInf, torch::kFloat32);
    scores_.select(1, 0).fill_(0.0);
    scores_ = scores_.view({N}).to(device_);
  }
  previous_ = torch::full({N}, vocab::kBosId, torch::dtype(torch::kInt64).device(device_));
  histories_.resize(static_cast<size_t>(N));
  attentions_.resize(static_cast<size_t>(N));
  open_.assign(static_cast<size_t>(B), K);
  finished_.resize(static_cast<size_t>(B));
  active_.resize(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) active_[static_cast<size_t>(b)] = b;
}

// What step t may output, as -inf elsewhere: a sentence's prefix piece while it
// has some left (at its log-probability under the model, taken before any other
// masking), never padding or bos (nor unk unless allowed), no eos first, only
// eos at the length limit.
void Search::restrict(torch::Tensor& log_probs, int64_t t) const {
  const int64_t P = static_cast<int64_t>(active_.size());
  const int64_t K = K_;
  std::vector<int64_t> forced_rows;
  std::vector<int64_t> forced_columns;
  std::vector<float> forced_outside;  // 0, or -inf for a prefix piece outside the shortlist
  for (int64_t p = 0; p < P; ++p) {
    const int64_t b = active_[static_cast<size_t>(p)];
    if (t >= prefix_length(b)) continue;
    const int64_t column = column_of(prefixes_[static_cast<size_t>(b)][static_cast<size_t>(t)]);
    for (int64_t k = 0; k < K; ++k) {
      forced_rows.push_back(p * K + k);
      forced_columns.push_back(std::max<int64_t>(column, 0));
      forced_outside.push_back(column >= 0 ? 0.0f : kNegInf);
    }
  }
  torch::Tensor forced_index;
  torch::Tensor forced_column;
  torch::Tensor forced_values;
  if (!forced_rows.empty()) {
    forced_index = torch::tensor(forced_rows, torch::kInt64).to(device_);                   // [F]
    forced_column = torch::tensor(forced_columns, torch::kInt64).to(device_).unsqueeze(1);  // [F, 1]
    forced_values = log_probs.index_select(0, forced_index).gather(1, forced_column) +
                    torch::tensor(forced_outside, torch::kFloat32).to(device_).unsqueeze(1);  // [F, 1]
  }
  const auto mask = [&](int64_t token) {
    const int64_t column = column_of(token);
    if (column >= 0) log_probs.select(1, column).fill_(kNegInf);
  };
  mask(vocab::kPadId);
  mask(vocab::kBosId);
  if (!o_.allow_unk) mask(vocab::kUnkId);
  if (t == 0) mask(vocab::kEosId);
  const int64_t eos = column_of(vocab::kEosId);
  std::vector<int64_t> at_limit_rows;
  for (int64_t p = 0; p < P; ++p) {
    if (t + 1 >= limit_[static_cast<size_t>(active_[static_cast<size_t>(p)])]) {
      for (int64_t k = 0; k < K; ++k) at_limit_rows.push_back(p * K + k);
    }
  }
  if (!at_limit_rows.empty()) {
    const auto rows = torch::tensor(at_limit_rows, torch::kInt64).to(device_);
    auto eos_only = torch::full({static_cast<int64_t>(at_limit_rows.size()), log_probs.size(1)}, kNegInf,
                                log_probs.options());
    if (eos >= 0) eos_only.select(1, eos).copy_(log_probs.index_select(0, rows).select(1, eos));
    log_probs.index_copy_(0, rows, eos_only);
  }
  if (forced_index.defined()) {
    auto only = torch::full({forced_index.size(0), log_probs.size(1)}, kNegInf, log_probs.options());  // [F, V]
    only.scatter_(1, forced_column, forced_values);
    log_probs.index_copy_(0, forced_index, only);
  }
}

// Each active sentence's continuations: the best, or drawn from its stream when sampling.
std::vector<std::vector<Candidate>> Search::choose(const torch::Tensor& log_probs) {
  std::vector<int64_t> active_open(active_.size());
  for (size_t p = 0; p < active_.size(); ++p) active_open[p] = open_[static_cast<size_t>(active_[p])];
  std::vector<std::vector<Candidate>> candidates;
  if (o_.sampling == Sampling::kNone) {
    candidates = best_candidates(log_probs, scores_, active_open, K_);
  } else {
    std::vector<at::Generator*> generators;
    for (const int64_t b : active_) generators.push_back(&generators_[static_cast<size_t>(b)]);
    candidates = sample_candidates(log_probs.to(torch::kCPU), scores_.to(torch::kCPU), active_open, K_, o_, generators);
  }
  if (!column_token_.empty()) {  // a shortlist's columns back to target ids
    for (auto& sentence : candidates) {
      for (auto& c : sentence) c.token = column_token_[static_cast<size_t>(c.token)];
    }
  }
  return candidates;
}

// Sorts the candidates into finished hypotheses and the next rows; blocks of
// sentences that are done leave the batch, the others close up. False when
// no sentence is left.
bool Search::advance(const std::vector<std::vector<Candidate>>& candidates, const torch::Tensor& cpu_attention) {
  const int64_t P = static_cast<int64_t>(active_.size());
  const int64_t K = K_;
  std::vector<int64_t> select;  // for each next row, the row it continues
  std::vector<int64_t> kept;    // the blocks that stay
  std::vector<int64_t> next_tokens;
  std::vector<float> next_scores;
  std::vector<std::vector<int32_t>> next_histories;
  std::vector<std::vector<std::vector<float>>> next_attentions;
  for (int64_t p = 0; p < P; ++p) {
    const auto b = static_cast<size_t>(active_[static_cast<size_t>(p)]);
    std::vector<int64_t> block_select;
    for (const auto& c : candidates[static_cast<size_t>(p)]) {
      std::vector<std::vector<float>> steps;
      if (cpu_attention.defined()) {
        steps = attentions_[static_cast<size_t>(c.origin)];
        const auto row = cpu_attention[c.origin].contiguous();
        steps.emplace_back(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
      }
      if (c.token == vocab::kEosId) {
        Hypothesis h;
        h.tokens = histories_[static_cast<size_t>(c.origin)];
        h.score = c.score;
        h.ranking = ranking_of(c.score, h.tokens.size(), o_);
        h.attention = std::move(steps);
        finished_[b].push_back(std::move(h));
        --open_[b];
        continue;
      }
      block_select.push_back(c.origin);
      next_tokens.push_back(c.token);
      next_scores.push_back(static_cast<float>(c.score));
      next_histories.push_back(histories_[static_cast<size_t>(c.origin)]);
      next_histories.back().push_back(static_cast<int32_t>(c.token));
      next_attentions.push_back(std::move(steps));
    }
    // A sentence that still has open beams but found no candidate is done.
    if (block_select.empty()) open_[b] = 0;
    if (open_[b] == 0) {  // its continuations, if any, are dropped with it
      next_tokens.resize(select.size());
      next_scores.resize(select.size());
      next_histories.resize(select.size());
      next_attentions.resize(select.size());
      continue;
    }
    kept.push_back(p);
    const auto used = static_cast<int64_t>(block_select.size());
    for (int64_t k = 0; k < K; ++k) select.push_back(k < used ? block_select[static_cast<size_t>(k)] : p * K);
    next_tokens.resize(select.size(), vocab::kEosId);  // idle rows carry -inf
    next_scores.resize(select.size(), kNegInf);
    next_histories.resize(select.size());
    next_attentions.resize(select.size());
  }
  histories_ = std::move(next_histories);
  attentions_ = std::move(next_attentions);
  if (kept.empty()) return false;
  const auto rows = torch::tensor(select, torch::kInt64).to(device_);
  if (static_cast<int64_t>(kept.size()) == P) {
    state_ = state_.reorder_within_sentences(rows);  // rows never leave their sentence's block
  } else {
    state_ = state_.select_sentences(torch::tensor(kept, torch::kInt64).to(device_), rows);
    std::vector<int64_t> still;
    for (const int64_t p : kept) still.push_back(active_[static_cast<size_t>(p)]);
    active_ = std::move(still);
  }
  previous_ = torch::tensor(next_tokens, torch::kInt64).to(device_);
  scores_ = torch::tensor(next_scores, torch::kFloat32).to(device_);
  return true;
}

std::vector<std::vector<Hypothesis>> Search::run() {
  for (int64_t t = 0; !active_.empty(); ++t) {
    torch::Tensor attention;
    auto log_probs = ensemble_.step(previous_, state_, o_.keep_attention ? &attention : nullptr).to(torch::kFloat32);
    restrict(log_probs, t);
    const auto candidates = choose(log_probs);
    const torch::Tensor cpu_attention =
        o_.keep_attention && attention.defined() ? attention.to(torch::kCPU) : torch::Tensor();
    if (!advance(candidates, cpu_attention)) break;
  }
  for (auto& hyps : finished_) {
    std::stable_sort(hyps.begin(), hyps.end(),
                     [](const Hypothesis& a, const Hypothesis& b) { return a.ranking > b.ranking; });
  }
  return std::move(finished_);
}

}  // namespace

std::vector<std::vector<Hypothesis>> beam_search(Ensemble& ensemble, const torch::Tensor& source,
                                                 const torch::Tensor& lengths, const SearchOptions& o,
                                                 const std::vector<int64_t>& sentence_ids,
                                                 const std::vector<std::vector<int32_t>>& prefixes) {
  torch::NoGradGuard no_grad;
  return Search(ensemble, source, lengths, o, sentence_ids, prefixes).run();
}

}  // namespace tandem::search
