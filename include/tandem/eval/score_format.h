// How sacreBLEU 2.x prints a score, shared by BLEU and chrF.
//
// Usage:
//   format_score("chrF2", 82.634, 1, false, "nrefs:1|case:mixed|...", /*json=*/true, "");
//
// Text: "NAME|SIGNATURE = 82.6 VERBOSE"; score only: "82.6"; JSON:
// json.dumps(d, indent=1, ensure_ascii=False) of {name, score, signature,
// [verbose_score], then each signature field}, the score as Python's
// float(f'{score:.{width}f}').
#pragma once

#include <string>

namespace tandem::eval {

std::string format_score(const std::string& name, double score, int width, bool score_only,
                         const std::string& signature, bool json, const std::string& verbose);

/// "%.*f" of `x`.
std::string fixed_decimals(double x, int decimals);

}  // namespace tandem::eval
