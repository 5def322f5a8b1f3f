#include "tandem/eval/metric.h"

#include "tandem/error.h"

namespace tandem::eval {

std::string metric_name(Metric metric) {
  switch (metric) {
    case Metric::kCrossEntropy: return "cross-entropy";
    case Metric::kPerplexity: return "perplexity";
    case Metric::kBleu: return "bleu";
    case Metric::kChrf: return "chrf";
  }
  return "?";
}

Metric parse_metric(const std::string& name) {
  for (const auto metric : {Metric::kCrossEntropy, Metric::kPerplexity, Metric::kBleu, Metric::kChrf}) {
    if (name == metric_name(metric)) return metric;
  }
  throw Error("unknown validation metric '" + name + "'; use cross-entropy, perplexity, bleu or chrf");
}

bool lower_is_better(Metric metric) { return !needs_translations(metric); }

bool needs_translations(Metric metric) { return metric == Metric::kBleu || metric == Metric::kChrf; }

}  // namespace tandem::eval
