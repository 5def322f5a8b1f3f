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

std::vector<std::vector<Hypothesis>> beam_search(Ensemble& ensemble, const torch::Tensor& source,
                                                 const torch::Tensor& lengths, const SearchOptions& o,
                                                 const std::vector<int64_t>& sentence_ids,
                                                 const std::vector<std::vector<int32_t>>& prefixes) {
  if (o.beam_size < 1) throw Error("--beam-size must be at least 1");
  if (o.max_length_factor <= 0) throw Error("--max-length-factor must be above 0");
  if (o.temperature <= 0) throw Error("--temperature must be above 0");
  if (o.sampling == Sampling::kTopK && o.top_k < 1) throw Error("--top-k must be at least 1");
  torch::NoGradGuard no_grad;
  const int64_t B = source.size(0);
  const int64_t K = o.beam_size;
  const int64_t N = B * K;
  const auto device = source.device();
  if (!sentence_ids.empty() && static_cast<int64_t>(sentence_ids.size()) != B) {
    throw Error("beam_search: " + std::to_string(sentence_ids.size()) + " sentence ids for " + std::to_string(B) +
                " sentences");
  }
  if (!prefixes.empty() && static_cast<int64_t>(prefixes.size()) != B) {
    throw Error("beam_search: " + std::to_string(prefixes.size()) + " prefixes for " + std::to_string(B) + " sentences");
  }
  const auto prefix_length = [&](int64_t b) -> int64_t {
    return prefixes.empty() ? 0 : static_cast<int64_t>(prefixes[static_cast<size_t>(b)].size());
  };
  std::vector<at::Generator> generators;  // one stream per sentence, for sampling
  if (o.sampling != Sampling::kNone) {
    for (int64_t b = 0; b < B; ++b) {
      const int64_t id = sentence_ids.empty() ? b : sentence_ids[static_cast<size_t>(b)];
      generators.push_back(at::make_generator<at::CPUGeneratorImpl>(sentence_seed(o.seed, id)));
    }
  }

  // Each sentence's rows start as copies of its first decoder state; they
  // share its encoding.
  const auto expand = torch::arange(B, torch::kInt64).repeat_interleave(K).to(device);  // [N]
  auto state = ensemble.start(source, lengths).reorder_within_sentences(expand);
  state.output_rows = o.output_rows;
  std::vector<int64_t> limit(static_cast<size_t>(B));
  const auto cpu_lengths = lengths.to(torch::kCPU);
  for (int64_t b = 0; b < B; ++b) {
    const auto by_source =
        static_cast<int64_t>(std::floor(o.max_length_factor * static_cast<double>(cpu_lengths[b].item<int64_t>())));
    // At least one token and eos, after the prefix.
    limit[static_cast<size_t>(b)] = std::max<int64_t>(prefix_length(b) + 2, o.max_length > 0 ? o.max_length : by_source);
  }
  // Only beam 0 is live at the start: the others would repeat it.
  auto scores = torch::full({B, K}, kNegInf, torch::kFloat32);
  scores.select(1, 0).fill_(0.0);
  scores = scores.view({N}).to(device);                   // [N]
  auto previous = torch::full({N}, vocab::kBosId, torch::dtype(torch::kInt64).device(device));  // [N]
  std::vector<std::vector<int32_t>> histories(static_cast<size_t>(N));
  std::vector<std::vector<std::vector<float>>> attentions(static_cast<size_t>(N));
  std::vector<int64_t> open(static_cast<size_t>(B), K);
  if (o.sampling != Sampling::kNone) {
    scores = torch::zeros({N}, torch::dtype(torch::kFloat32).device(device));  // every row draws its own sample
  }
  std::vector<std::vector<Hypothesis>> finished(static_cast<size_t>(B));
  // The sentences still in the batch, in row-block order: block p (rows p*K ..
  // p*K+K-1) is sentence active[p]. A finished sentence leaves the batch.
  std::vector<int64_t> active(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) active[static_cast<size_t>(b)] = b;

  const auto active_generators = [&] {
    std::vector<at::Generator*> out;
    for (const int64_t b : active) out.push_back(&generators[static_cast<size_t>(b)]);
    return out;
  };

  for (int64_t t = 0; !active.empty(); ++t) {
    const auto P = static_cast<int64_t>(active.size());
    std::vector<int64_t> active_open(active.size());
    for (size_t p = 0; p < active.size(); ++p) active_open[p] = open[static_cast<size_t>(active[p])];
    torch::Tensor attention;
    auto log_probs = ensemble.step(previous, state, o.keep_attention ? &attention : nullptr).to(torch::kFloat32);
    // Rows whose sentence has prefix pieces left keep only the next one, at its
    // log-probability under the model (taken before any masking below).
    std::vector<int64_t> forced_rows;
    std::vector<int64_t> forced_tokens;
    for (int64_t p = 0; p < P; ++p) {
      const int64_t b = active[static_cast<size_t>(p)];
      if (t >= prefix_length(b)) continue;
      for (int64_t k = 0; k < K; ++k) {
        forced_rows.push_back(p * K + k);
        forced_tokens.push_back(prefixes[static_cast<size_t>(b)][static_cast<size_t>(t)]);
      }
    }
    torch::Tensor forced_index;
    torch::Tensor forced_column;
    torch::Tensor forced_values;
    if (!forced_rows.empty()) {
      forced_index = torch::tensor(forced_rows, torch::kInt64).to(device);                // [F]
      forced_column = torch::tensor(forced_tokens, torch::kInt64).to(device).unsqueeze(1);  // [F, 1]
      forced_values = log_probs.index_select(0, forced_index).gather(1, forced_column);   // [F, 1]
    }
    // Pieces that are never output: padding, bos, and unk unless allowed.
    log_probs.select(1, vocab::kPadId).fill_(kNegInf);
    log_probs.select(1, vocab::kBosId).fill_(kNegInf);
    if (!o.allow_unk) log_probs.select(1, vocab::kUnkId).fill_(kNegInf);
    // Length rules: no eos first; only eos at the limit.
    if (t == 0) log_probs.select(1, vocab::kEosId).fill_(kNegInf);
    std::vector<int64_t> at_limit_rows;
    for (int64_t p = 0; p < P; ++p) {
      if (t + 1 >= limit[static_cast<size_t>(active[static_cast<size_t>(p)])]) {
        for (int64_t k = 0; k < K; ++k) at_limit_rows.push_back(p * K + k);
      }
    }
    if (!at_limit_rows.empty()) {
      const auto rows = torch::tensor(at_limit_rows, torch::kInt64).to(device);
      auto eos_only = torch::full({static_cast<int64_t>(at_limit_rows.size()), log_probs.size(1)}, kNegInf,
                                  log_probs.options());
      eos_only.select(1, vocab::kEosId).copy_(log_probs.index_select(0, rows).select(1, vocab::kEosId));
      log_probs.index_copy_(0, rows, eos_only);
    }
    if (forced_index.defined()) {
      auto only = torch::full({forced_index.size(0), log_probs.size(1)}, kNegInf, log_probs.options());  // [F, V]
      only.scatter_(1, forced_column, forced_values);
      log_probs.index_copy_(0, forced_index, only);
    }
    const auto candidates =
        o.sampling == Sampling::kNone
            ? best_candidates(log_probs, scores, active_open, K)
            : sample_candidates(log_probs.to(torch::kCPU), scores.to(torch::kCPU), active_open, K, o,
                                active_generators());
    torch::Tensor cpu_attention = o.keep_attention && attention.defined() ? attention.to(torch::kCPU) : torch::Tensor();

    // Sort candidates into finished hypotheses and the next rows; blocks of
    // sentences that are done are left out (`kept`), the others close up.
    std::vector<int64_t> select;  // for each next row, the row it continues
    std::vector<int64_t> kept;    // the blocks that stay
    std::vector<int64_t> next_tokens;
    std::vector<float> next_scores;
    std::vector<std::vector<int32_t>> next_histories;
    std::vector<std::vector<std::vector<float>>> next_attentions;
    for (int64_t p = 0; p < P; ++p) {
      const auto b = static_cast<size_t>(active[static_cast<size_t>(p)]);
      std::vector<int64_t> block_select;
      for (const auto& c : candidates[static_cast<size_t>(p)]) {
        std::vector<std::vector<float>> steps;
        if (cpu_attention.defined()) {
          steps = attentions[static_cast<size_t>(c.origin)];
          const auto row = cpu_attention[c.origin].contiguous();
          steps.emplace_back(row.data_ptr<float>(), row.data_ptr<float>() + row.numel());
        }
        if (c.token == vocab::kEosId) {
          Hypothesis h;
          h.tokens = histories[static_cast<size_t>(c.origin)];
          h.score = c.score;
          h.ranking = ranking_of(c.score, h.tokens.size(), o);
          h.attention = std::move(steps);
          finished[b].push_back(std::move(h));
          --open[b];
          continue;
        }
        block_select.push_back(c.origin);
        next_tokens.push_back(c.token);
        next_scores.push_back(static_cast<float>(c.score));
        next_histories.push_back(histories[static_cast<size_t>(c.origin)]);
        next_histories.back().push_back(static_cast<int32_t>(c.token));
        next_attentions.push_back(std::move(steps));
      }
      // A sentence that still has open beams but found no candidate is done.
      if (block_select.empty()) open[b] = 0;
      if (open[b] == 0) {  // its continuations, if any, are dropped with it
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
    histories = std::move(next_histories);
    attentions = std::move(next_attentions);
    if (kept.empty()) break;
    const auto rows = torch::tensor(select, torch::kInt64).to(device);
    if (static_cast<int64_t>(kept.size()) == P) {
      state = state.reorder_within_sentences(rows);  // rows never leave their sentence's block
    } else {
      state = state.select_sentences(torch::tensor(kept, torch::kInt64).to(device), rows);
      std::vector<int64_t> still;
      for (const int64_t p : kept) still.push_back(active[static_cast<size_t>(p)]);
      active = std::move(still);
    }
    previous = torch::tensor(next_tokens, torch::kInt64).to(device);
    scores = torch::tensor(next_scores, torch::kFloat32).to(device);
  }
  for (auto& hyps : finished) {
    std::stable_sort(hyps.begin(), hyps.end(),
                     [](const Hypothesis& a, const Hypothesis& b) { return a.ranking > b.ranking; });
  }
  return finished;
}

}  // namespace tandem::search
