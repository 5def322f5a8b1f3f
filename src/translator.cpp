#include "tandem/translator.h"

#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <istream>
#include <numeric>
#include <ostream>

#include "tandem/data/batch.h"
#include "tandem/error.h"
#include "tandem/io/line_reader.h"
#include "tandem/model/checkpoint.h"
#include "tandem/util/utf8.h"

namespace tandem {
namespace {

// A model with byte-fallback pieces can spell a line break; the output keeps
// one line per input line, so line breaks become spaces.
std::string one_line(std::string text) {
  for (auto& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

namespace fs = std::filesystem;

std::string format_score(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.6f", value);
  return buffer;
}

// Attention alignments over source pieces (the source eos left out):
// hard "i-j" pairs with the most attended source piece i of each output piece j,
// soft "w,w,... w,w,..." weights per output piece.
std::string alignment_text(const search::Hypothesis& h, int64_t source_pieces, AlignmentOutput kind) {
  std::string out;
  for (size_t j = 0; j < h.tokens.size() && j < h.attention.size(); ++j) {
    const auto& weights = h.attention[j];
    const auto n = std::min<int64_t>(source_pieces, static_cast<int64_t>(weights.size()));
    if (!out.empty()) out += ' ';
    if (kind == AlignmentOutput::kHard) {
      int64_t best = 0;
      for (int64_t i = 1; i < n; ++i) best = weights[static_cast<size_t>(i)] > weights[static_cast<size_t>(best)] ? i : best;
      out += std::to_string(best) + "-" + std::to_string(j);
    } else {
      for (int64_t i = 0; i < n; ++i) {
        char buffer[32];
        std::snprintf(buffer, sizeof(buffer), "%s%.4f", i == 0 ? "" : ",", weights[static_cast<size_t>(i)]);
        out += buffer;
      }
    }
  }
  return out;
}

}  // namespace

std::string resolve_model_path(const std::string& path) {
  if (!fs::is_directory(path)) return path;
  for (const char* name : {"model.best-bleu.ckpt", "model.best-cross-entropy.ckpt", "model.best-perplexity.ckpt",
                           "model.ckpt"}) {
    const auto candidate = fs::path(path) / name;
    if (fs::exists(candidate)) return candidate.string();
  }
  throw Error(path + ": the folder holds no Tandem checkpoint (model.ckpt); train one with tandem-train");
}

Translator Translator::load(const std::vector<std::string>& paths, torch::Device device, std::vector<double> weights) {
  if (paths.empty()) throw Error("no model given; pass --models MODEL_DIR");
  std::vector<model::Seq2Seq> models;
  std::string source_bytes;
  std::string target_bytes;
  std::string first;
  for (const auto& given : paths) {
    const std::string path = resolve_model_path(given);
    auto checkpoint = model::load_checkpoint(path, device);
    if (models.empty()) {
      source_bytes = checkpoint.meta.source_vocab;
      target_bytes = checkpoint.meta.target_vocab;
      first = path;
    } else if (checkpoint.meta.source_vocab != source_bytes || checkpoint.meta.target_vocab != target_bytes) {
      throw Error(path + ": its vocabularies differ from those of " + first + "; an ensemble needs the same ones");
    } else if (checkpoint.meta.options.type() != models.front()->options().type()) {
      throw Error(path + ": a " + model::model_type_name(checkpoint.meta.options.type()) + " model, but " + first +
                  " is a " + model::model_type_name(models.front()->options().type()) +
                  " model; an ensemble needs one kind");
    }
    checkpoint.model->eval();
    models.push_back(checkpoint.model);
  }
  return Translator(std::move(models), vocab::Tokenizer::from_bytes(source_bytes, first + " (source vocabulary)"),
                    vocab::Tokenizer::from_bytes(target_bytes, first + " (target vocabulary)"), device,
                    std::move(weights));
}

Translator::Translator(std::vector<model::Seq2Seq> models, vocab::Tokenizer source, vocab::Tokenizer target,
                       torch::Device device, std::vector<double> weights)
    : models_(models), source_(std::move(source)), target_(std::move(target)), device_(device),
      ensemble_(std::move(models), std::move(weights)) {}

std::vector<TranslationResult> Translator::translate(const std::vector<std::string>& lines,
                                                     const TranslateOptions& options, int64_t first_line) {
  if (options.mini_batch < 1) throw Error("--mini-batch must be at least 1");
  if (options.max_input_length < 1) throw Error("--max-input-length must be at least 1");
  std::vector<TranslationResult> results(lines.size());
  std::vector<std::vector<int32_t>> encoded(lines.size());
  std::vector<size_t> work;  // lines that need the model
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string text = lines[i];
    io::clean_line(text, /*first_line=*/false);
    results[i].replaced_bytes = util::replace_invalid_utf8(text);
    encoded[i] = source_.encode(text);
    if (static_cast<int64_t>(encoded[i].size()) > options.max_input_length) {
      encoded[i].resize(static_cast<size_t>(options.max_input_length));
      results[i].truncated = true;
    }
    results[i].source_pieces = static_cast<int64_t>(encoded[i].size());
    if (encoded[i].empty()) {
      results[i].texts.emplace_back();  // an empty line gives an empty line
    } else {
      work.push_back(i);
    }
  }
  search_batches(std::move(work), encoded, {}, options, first_line, results);
  return results;
}

void Translator::search_batches(std::vector<size_t> work, const std::vector<std::vector<int32_t>>& sources,
                                const std::vector<std::vector<int32_t>>& prefixes, const TranslateOptions& options,
                                int64_t first_line, std::vector<TranslationResult>& results) {
  model::PrecisionScope precision(precision_, device_);  // the weights cast once for all batches
  const auto length = [&](size_t i) { return sources[i].size() + (prefixes.empty() ? 0 : prefixes[i].size()); };
  // Length-sorted mini-batches; results go back to their lines.
  std::stable_sort(work.begin(), work.end(), [&](size_t a, size_t b) { return length(a) < length(b); });
  for (size_t start = 0; start < work.size(); start += static_cast<size_t>(options.mini_batch)) {
    const size_t end = std::min(work.size(), start + static_cast<size_t>(options.mini_batch));
    std::vector<std::vector<int32_t>> batch_sources;
    std::vector<std::vector<int32_t>> batch_prefixes;
    std::vector<int64_t> ids;  // line numbers: each line samples from its own stream
    for (size_t k = start; k < end; ++k) {
      batch_sources.push_back(sources[work[k]]);
      if (!prefixes.empty()) batch_prefixes.push_back(prefixes[work[k]]);
      ids.push_back(first_line + static_cast<int64_t>(work[k]));
    }
    const auto [source, lengths] = data::make_source_batch(batch_sources, device_);
    auto search_options = options.search;
    if (shortlist_ && !is_language_model()) {
      search_options.output_rows =
          torch::tensor(shortlist_->candidates(batch_sources, shortlist_first_, shortlist_best_), torch::kInt64)
              .to(device_);
    }
    auto hypotheses = search::beam_search(ensemble_, source, lengths, search_options, ids, batch_prefixes);
    for (size_t k = start; k < end; ++k) {
      auto& result = results[work[k]];
      result.hypotheses = std::move(hypotheses[k - start]);
      for (const auto& h : result.hypotheses) result.texts.push_back(one_line(target_.decode(h.tokens)));
      if (result.texts.empty()) result.texts.emplace_back();
      if (options.alignment == AlignmentOutput::kSoftPieces) {
        for (const auto& h : result.hypotheses) {
          result.pieces.emplace_back();
          for (const auto id : h.tokens) result.pieces.back().push_back(target_.piece(id));
        }
      }
    }
  }
}

std::vector<TranslationResult> Translator::complete(const std::vector<std::string>& prefixes,
                                                    const TranslateOptions& options, int64_t first_line) {
  if (!is_language_model()) throw Error("only a language model (--type lm) completes text; this is a translation model");
  if (options.mini_batch < 1) throw Error("--mini-batch must be at least 1");
  if (options.search.max_length < 1) throw Error("--max-length must be at least 1");
  std::vector<TranslationResult> results(prefixes.size());
  std::vector<std::vector<int32_t>> encoded(prefixes.size());
  for (size_t i = 0; i < prefixes.size(); ++i) {
    std::string text = prefixes[i];
    io::clean_line(text, /*first_line=*/false);
    results[i].replaced_bytes = util::replace_invalid_utf8(text);
    encoded[i] = target_.encode(text);
    results[i].source_pieces = static_cast<int64_t>(encoded[i].size());
  }
  std::vector<size_t> work(prefixes.size());
  std::iota(work.begin(), work.end(), 0);
  // No source: one empty sentence per prefix (the language model reads only the count).
  search_batches(std::move(work), std::vector<std::vector<int32_t>>(prefixes.size()), encoded, options, first_line,
                 results);
  return results;
}

std::vector<double> Translator::score(const std::vector<std::string>& sources, const std::vector<std::string>& targets,
                                      int64_t mini_batch, std::vector<int64_t>* pieces) {
  if (sources.size() != targets.size()) {
    throw Error("scoring needs as many target lines as source lines (" + std::to_string(sources.size()) + " and " +
                std::to_string(targets.size()) + ")");
  }
  std::vector<std::vector<int32_t>> src(sources.size());
  std::vector<std::vector<int32_t>> tgt(targets.size());
  for (size_t i = 0; i < sources.size(); ++i) {
    std::string s = sources[i];
    std::string t = targets[i];
    util::replace_invalid_utf8(s);
    util::replace_invalid_utf8(t);
    src[i] = source_.encode(s);
    tgt[i] = target_.encode(t);
  }
  if (pieces != nullptr) {
    pieces->clear();
    for (const auto& t : tgt) pieces->push_back(static_cast<int64_t>(t.size()) + 1);
  }
  return score_ids(src, tgt, mini_batch);
}

std::vector<double> Translator::score_ids(const std::vector<std::vector<int32_t>>& src,
                                          const std::vector<std::vector<int32_t>>& tgt, int64_t mini_batch) {
  if (src.size() != tgt.size()) throw Error("scoring needs as many targets as sources");
  if (mini_batch < 1) throw Error("--mini-batch must be at least 1");
  torch::NoGradGuard no_grad;
  model::PrecisionScope precision(precision_, device_);
  std::vector<size_t> order(src.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return src[a].size() < src[b].size(); });
  std::vector<double> scores(src.size());
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(mini_batch)) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(mini_batch));
    std::vector<std::vector<int32_t>> batch_src;
    std::vector<std::vector<int32_t>> batch_tgt;
    for (size_t k = start; k < end; ++k) {
      batch_src.push_back(src[order[k]]);
      batch_tgt.push_back(tgt[order[k]]);
    }
    const auto batch = data::make_batch(batch_src, batch_tgt, device_);
    const auto log_probs = ensemble_.forced_log_probs(batch);                                          // [B, T, V]
    const auto picked = log_probs.gather(-1, batch.target_output.unsqueeze(-1)).squeeze(-1);          // [B, T]
    const auto sums = picked.masked_fill(batch.target_output.eq(0), 0.0).sum(/*dim=*/1).to(torch::kCPU);  // [B]
    for (size_t k = start; k < end; ++k) scores[order[k]] = sums[static_cast<int64_t>(k - start)].item<double>();
  }
  return scores;
}

std::string Translator::format(const TranslationResult& result, int64_t line_id, const TranslateOptions& options) {
  const auto alignment = [&](size_t i) {
    if (options.alignment == AlignmentOutput::kNone) return std::string();
    const std::string text = i < result.hypotheses.size()
                                 ? alignment_text(result.hypotheses[i], result.source_pieces, options.alignment)
                                 : std::string();
    if (options.alignment != AlignmentOutput::kSoftPieces) return " ||| " + text;
    // The pieces of the weights' rows, as many as the rows.
    std::string pieces;
    if (i < result.pieces.size() && i < result.hypotheses.size()) {
      const size_t rows = std::min(result.pieces[i].size(), result.hypotheses[i].attention.size());
      for (size_t j = 0; j < rows; ++j) pieces += (j ? " " : "") + result.pieces[i][j];
    }
    return " ||| " + text + " ||| " + pieces;
  };
  if (options.n_best) {
    std::string out;
    const size_t n = std::max<size_t>(1, result.hypotheses.size());
    for (size_t i = 0; i < n; ++i) {
      const bool real = i < result.hypotheses.size();
      if (i > 0) out += '\n';
      out += std::to_string(line_id) + " ||| " + result.texts[i] + " ||| F0= " +
             format_score(real ? result.hypotheses[i].score : 0.0) + " ||| " +
             format_score(real ? result.hypotheses[i].ranking : 0.0) + alignment(i);
    }
    return out;
  }
  std::string out = result.texts.front();
  if (options.output_scores) {
    out += " ||| " + format_score(result.hypotheses.empty() ? 0.0 : result.hypotheses.front().ranking);
  }
  return out + alignment(0);
}

StreamStats Translator::translate_stream(std::istream& in, std::ostream& out, const TranslateOptions& options,
                                         std::ostream* log, const std::function<void(const StreamStats&)>& progress) {
  return translate_stream([&in](std::string& line) { return static_cast<bool>(std::getline(in, line)); }, out,
                          options, log, progress);
}

StreamStats Translator::translate_stream(const std::function<bool(std::string&)>& next_line, std::ostream& out,
                                         const TranslateOptions& options, std::ostream* log,
                                         const std::function<void(const StreamStats&)>& progress) {
  if (options.maxi_batch < 1) throw Error("--maxi-batch must be at least 1");
  const auto start = std::chrono::steady_clock::now();
  StreamStats stats;
  const size_t block = static_cast<size_t>(options.mini_batch * options.maxi_batch);
  std::vector<std::string> lines;
  std::string line;
  bool more = true;
  while (more) {
    lines.clear();
    while (lines.size() < block && (more = next_line(line))) {
      io::clean_line(line, /*first_line=*/stats.lines == 0 && lines.empty());
      lines.push_back(line);
    }
    if (lines.empty()) break;
    const auto results = translate(lines, options, stats.lines);
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      const int64_t id = stats.lines + static_cast<int64_t>(i);
      if (log != nullptr && r.truncated) {
        *log << "warning: input line " << id + 1 << " has more than " << options.max_input_length
             << " pieces; only the first " << options.max_input_length << " are translated\n";
      }
      if (log != nullptr && r.replaced_bytes > 0) {
        *log << "warning: input line " << id + 1 << ": " << r.replaced_bytes
             << " invalid UTF-8 sequence(s) replaced by U+FFFD\n";
      }
      stats.truncated += r.truncated ? 1 : 0;
      stats.replaced += r.replaced_bytes > 0 ? 1 : 0;
      if (!r.hypotheses.empty()) stats.output_pieces += static_cast<int64_t>(r.hypotheses.front().tokens.size());
      out << format(r, id, options) << '\n';
    }
    out.flush();
    stats.lines += static_cast<int64_t>(results.size());
    stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (progress) progress(stats);
  }
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

}  // namespace tandem
