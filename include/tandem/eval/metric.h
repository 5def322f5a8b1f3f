// Metric: what a validation measures; names as options, logs and checkpoints spell them.
//
// Usage:
//   eval::Metric m = eval::parse_metric("bleu");   // throws tandem::Error for unknown names
//   eval::metric_name(m);                          // "bleu"
//   eval::lower_is_better(m);                      // false
#pragma once

#include <string>

namespace tandem::eval {

/// Validation metrics: cross entropy per target token (nats), its perplexity,
/// and sacreBLEU's 13a BLEU and chrF2 of the translations.
enum class Metric { kCrossEntropy, kPerplexity, kBleu, kChrf };

/// "cross-entropy", "perplexity", "bleu" or "chrf".
std::string metric_name(Metric metric);

/// The metric named `name`; throws tandem::Error listing the names otherwise.
Metric parse_metric(const std::string& name);

/// True for cross entropy and perplexity, false for BLEU and chrF.

/// True for the metrics of translations (BLEU, chrF).
bool needs_translations(Metric metric);
bool lower_is_better(Metric metric);

}  // namespace tandem::eval
