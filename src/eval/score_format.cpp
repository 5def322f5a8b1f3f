#include "tandem/eval/score_format.h"

#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>

namespace tandem::eval {
namespace {

// Python's float(f'{x:.{width}f}') written back by repr(): the fixed-point
// digits without trailing zeros, keeping at least one decimal.
std::string python_rounded_float(double x, int width) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", width, x);
  std::string s = std::strtod(buffer, nullptr) == 0.0 ? std::string("0.0") : std::string(buffer);
  if (s.find('.') == std::string::npos) return s + ".0";
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.push_back('0');
  return s;
}

}  // namespace

std::string fixed_decimals(double x, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), "%.*f", decimals, x);
  return buffer;
}

std::string format_score(const std::string& name, double score, int width, bool score_only,
                         const std::string& signature, bool json, const std::string& verbose) {
  const std::string score_text = fixed_decimals(score, width);
  if (score_only) return score_text;
  if (!json) {
    return name + (signature.empty() ? "" : "|" + signature) + " = " + score_text +
           (verbose.empty() ? "" : " " + verbose);
  }
  // Keys in sacreBLEU's order; the score is Python's round(score, width),
  // whose repr is the shortest that reads back.
  nlohmann::ordered_json out = {{"name", name},
                                {"score", std::strtod(python_rounded_float(score, width).c_str(), nullptr)},
                                {"signature", signature}};
  if (!verbose.empty()) out["verbose_score"] = verbose;
  size_t start = 0;
  while (!signature.empty() && start <= signature.size()) {
    const size_t bar = std::min(signature.find('|', start), signature.size());
    const std::string field = signature.substr(start, bar - start);
    const size_t colon = field.find(':');
    out[field.substr(0, colon)] = colon == std::string::npos ? "" : field.substr(colon + 1);
    start = bar + 1;
  }
  return out.dump(/*indent=*/1, /*indent_char=*/' ', /*ensure_ascii=*/false, nlohmann::json::error_handler_t::replace);
}

}  // namespace tandem::eval
