// tandem-bleu: corpus and sentence BLEU with sacreBLEU's command line.
#include <cstdlib>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "tandem/io/line_reader.h"
#include "tandem/error.h"
#include "tandem/eval/bleu.h"
#include "tandem/eval/chrf.h"
#include "tandem/eval/score_format.h"
#include "tandem/eval/significance.h"
#include "tandem/util/cpu_threads.h"
#include "tandem/util/utf8.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-bleu";
constexpr const char* kUsage =
    "Usage: tandem-bleu REF [REF ...] [-i HYP] [-m bleu chrf] [options]\n"
    "       tandem-bleu REF -i BASELINE SYSTEM [SYSTEM ...] --paired-bs [-m bleu chrf]\n"
    "BLEU, chrF and chrF++ exactly as sacreBLEU 2.6.0 computes them; sacreBLEU's flags work unchanged.\n"
    "Hypotheses come from -i/--input or standard input, one line per reference line.\n"
    "--paired-bs compares systems with the first (paired bootstrap resampling, seed SACREBLEU_SEED or 12345).\n"
    "Example: tandem-bleu newstest.de -i output.de -f text -m bleu chrf";

// Lines of a file as sacreBLEU reads them: split on '\n', right-stripped.
std::vector<std::string> read_stripped_lines(const std::string& path, const std::string& what) {
  io::LineReader reader(path);
  std::vector<std::string> lines;
  std::string line;
  while (reader.next(line)) {
    if (const auto bad = util::find_invalid_utf8(line)) {
      throw Error(what + " " + (path == "-" ? std::string("(standard input)") : path) + ":" +
                  std::to_string(reader.line_number()) + ": invalid UTF-8 at byte " +
                  std::to_string(*bad + 1) + "; BLEU needs UTF-8 text");
    }
    lines.push_back(eval::python_rstrip(line));
  }
  return lines;
}

struct BleuCommandOptions {
  std::vector<std::string> references;
  std::vector<std::string> inputs;
  std::string tokenize = "13a";
  std::string smooth_method = "exp";
  std::optional<double> smooth_value;
  bool lowercase = false;
  bool sentence_level = false;
  bool score_only = false;
  bool short_signature = false;
  bool force = false;
  bool quiet = false;
  int width = 1;
  int num_refs = 1;
  std::string format = "json";
  std::string encoding = "utf-8";
  std::vector<std::string> metrics{"bleu"};
  int threads = 0;
  eval::ChrfOptions chrf;
  bool paired_bs = false;
  int paired_bs_n = 1000;
};

BleuCommandOptions parse_options(int argc, char** argv, bool* help_shown) {
  BleuCommandOptions o;
  double smooth_value = 0.0;
  bool lowercase_alias = false;
  bool sentence_level_alias = false;
  bool short_alias = false;
  po::options_description visible("Options (sacreBLEU's, short forms in brackets)");
  visible.add_options()
      ("help,h", "show this help")
      ("version,V", "print the sacreBLEU version reproduced")
      ("input,i", po::value<std::vector<std::string>>(&o.inputs)->multitoken(),
       "hypothesis file (default: standard input)")
      ("tokenize", po::value<std::string>(&o.tokenize), "[-tok] 13a (default), intl, zh, char or none")
      ("smooth-method,s", po::value<std::string>(&o.smooth_method),
       "exp (default), floor, add-k or none")
      ("smooth-value", po::value<double>(&smooth_value),
       "[-sv] value for floor (default 0.1) and add-k (default 1)")
      ("lowercase", po::bool_switch(&o.lowercase), "[-lc] case-insensitive BLEU")
      ("force", po::bool_switch(&o.force), "do not warn about input that looks tokenized")
      ("sentence-level", po::bool_switch(&o.sentence_level),
       "[-sl] one score per line (with effective order)")
      ("score-only,b", po::bool_switch(&o.score_only), "print only the score")
      ("width,w", po::value<int>(&o.width), "decimals of the score (default 1)")
      ("format,f", po::value<std::string>(&o.format),
       "json (default) or text; SACREBLEU_FORMAT overrides it as in sacreBLEU")
      ("short", po::bool_switch(&o.short_signature), "[-sh] short signature")
      ("num-refs", po::value<int>(&o.num_refs),
       "[-nr] references per line, tab-separated in one REF file (default 1)")
      ("metrics,m", po::value<std::vector<std::string>>(&o.metrics)->multitoken(),
       "bleu (default), chrf, or both")
      ("chrf-char-order", po::value<int>(&o.chrf.char_order), "[-cc] chrF character n-gram order (default 6)")
      ("chrf-word-order", po::value<int>(&o.chrf.word_order), "[-cw] chrF word n-gram order; 2 = chrF++ (default 0)")
      ("chrf-beta", po::value<int>(&o.chrf.beta), "chrF recall weight (default 2)")
      ("chrf-whitespace", po::bool_switch(&o.chrf.whitespace), "keep whitespace in chrF's character n-grams")
      ("chrf-lowercase", po::bool_switch(&o.chrf.lowercase), "case-insensitive chrF")
      ("chrf-eps-smoothing", po::bool_switch(&o.chrf.eps_smoothing),
       "chrF++.py's epsilon smoothing instead of the effective order")
      ("paired-bs", po::bool_switch(&o.paired_bs),
       "paired bootstrap resampling: the first -i file is the baseline, the others are compared with it")
      ("paired-bs-n", po::value<int>(&o.paired_bs_n), "resamples of --paired-bs (default 1000)")
      ("encoding,e", po::value<std::string>(&o.encoding), "only utf-8 is available")
      ("quiet,q", po::bool_switch(&o.quiet), "no messages on standard error");
  add_cpu_threads_option(visible, &o.threads);
  // sacreBLEU's single-dash long forms (-tok, -sv, ...), as aliases.
  po::options_description aliases;
  aliases.add_options()
      ("tok", po::value<std::string>(&o.tokenize))
      ("sv", po::value<double>(&smooth_value))
      ("lc", po::bool_switch(&lowercase_alias))
      ("sl", po::bool_switch(&sentence_level_alias))
      ("sh", po::bool_switch(&short_alias))
      ("nr", po::value<int>(&o.num_refs))
      ("cc", po::value<int>(&o.chrf.char_order))
      ("cw", po::value<int>(&o.chrf.word_order))
      ("refs", po::value<std::vector<std::string>>(&o.references));
  po::options_description all;
  all.add(visible).add(aliases);
  po::positional_options_description positional;
  positional.add("refs", -1);
  auto vm = parse(argc, argv, all, &positional, po::command_line_style::allow_long_disguise);
  *help_shown = print_help_if_asked(vm, kUsage, visible);
  if (vm.count("version") > 0) {
    std::cout << "tandem-bleu (sacreBLEU " << eval::kSacreBleuVersion << ")\n";
    *help_shown = true;
  }
  po::notify(vm);
  o.lowercase = o.lowercase || lowercase_alias;
  o.sentence_level = o.sentence_level || sentence_level_alias;
  o.short_signature = o.short_signature || short_alias;
  if (vm.count("smooth-value") + vm.count("sv") > 0) o.smooth_value = smooth_value;
  if (const char* env = std::getenv("SACREBLEU_FORMAT")) {
    const std::string value(env);
    if (value == "json" || value == "text") o.format = value;
  }
  return o;
}

void validate(const BleuCommandOptions& o) {
  for (const auto& metric : o.metrics) {
    if (metric != "bleu" && metric != "chrf") {
      throw Error("--metrics " + metric + " is not available; tandem-bleu computes bleu and chrf");
    }
  }
  if (o.tokenize == "ja-mecab" || o.tokenize == "spm") {
    throw Error("--tokenize " + o.tokenize + " is not available; use 13a, intl, zh, char or none");
  }
  if (o.format != "json" && o.format != "text") {
    throw Error("--format " + o.format + " is not available; use json or text");
  }
  if (o.encoding != "utf-8" && o.encoding != "utf8" && o.encoding != "UTF-8") {
    throw Error("--encoding " + o.encoding + " is not available; convert the files to UTF-8");
  }
  if (o.references.empty()) throw Error("no reference file given; usage: tandem-bleu REF [REF ...] -i HYP");
  if (o.inputs.size() > 1 && !o.paired_bs) {
    throw Error("several --input files are compared with --paired-bs (the first is the baseline); "
                "without it, score one file at a time");
  }
  if (o.paired_bs && o.inputs.size() < 2) {
    throw Error("--paired-bs compares systems: give the baseline and at least one other file, -i BASE SYS [SYS ...]");
  }
  if (o.paired_bs && o.sentence_level) throw Error("--paired-bs works on the corpus score, not with --sentence-level");
  if (o.num_refs < 1) throw Error("--num-refs must be at least 1");
  if (o.num_refs != 1 && o.references.size() > 1) {
    throw Error("--num-refs takes one REF file holding tab-separated references, not several files");
  }
  if (o.width < 0 || o.width > 20) throw Error("--width must be between 0 and 20");
}

// Reference streams: one vector per reference, each with a line per segment.
std::vector<std::vector<std::string>> read_reference_streams(const BleuCommandOptions& o) {
  std::vector<std::vector<std::string>> streams;
  if (o.num_refs == 1) {
    for (const auto& path : o.references) streams.push_back(read_stripped_lines(path, "reference"));
    return streams;
  }
  streams.resize(static_cast<size_t>(o.num_refs));
  const auto lines = read_stripped_lines(o.references[0], "reference");
  for (size_t i = 0; i < lines.size(); ++i) {
    std::vector<std::string> fields;
    size_t start = 0;
    while (static_cast<int>(fields.size()) < o.num_refs - 1) {
      const size_t tab = lines[i].find('\t', start);
      if (tab == std::string::npos) break;
      fields.push_back(lines[i].substr(start, tab - start));
      start = tab + 1;
    }
    fields.push_back(lines[i].substr(start));
    if (static_cast<int>(fields.size()) != o.num_refs) {
      throw Error(o.references[0] + ":" + std::to_string(i + 1) + ": expected " +
                  std::to_string(o.num_refs) + " tab-separated references, found " +
                  std::to_string(fields.size()));
    }
    for (size_t r = 0; r < fields.size(); ++r) streams[r].push_back(fields[r]);
  }
  return streams;
}

// One system's hypotheses, line-aligned with the references.
std::vector<std::string> read_hypotheses(const std::string& path, const std::vector<std::vector<std::string>>& streams,
                                         const BleuCommandOptions& o) {
  const std::string name = path == "-" ? "standard input" : path;
  auto hypotheses = read_stripped_lines(path, "hypotheses");
  if (hypotheses.empty()) throw Error("the hypotheses (" + name + ") hold no line");
  if (path == "-") {
    // sacreBLEU reads tab-separated standard input as several systems.
    for (size_t i = 0; i < hypotheses.size(); ++i) {
      if (hypotheses[i].find('\t') != std::string::npos) {
        throw Error("standard input line " + std::to_string(i + 1) +
                    " holds a tab, which sacreBLEU reads as several systems; pass the file with -i");
      }
    }
  }
  for (size_t r = 0; r < streams.size(); ++r) {
    if (streams[r].size() != hypotheses.size()) {
      const std::string ref_name = o.num_refs == 1 ? o.references[r] : o.references[0];
      throw Error("the hypotheses (" + name + ") have " + std::to_string(hypotheses.size()) +
                  " lines but reference " + ref_name + " has " + std::to_string(streams[r].size()) +
                  "; they must be line-aligned");
    }
  }
  if (!o.force && !o.quiet) {
    size_t tokenized = 0;
    for (const auto& h : hypotheses) tokenized += h.size() >= 2 && h.compare(h.size() - 2, 2, " .") == 0;
    if (tokenized >= 100) {
      std::cerr << kProgram << ": " << name << ": " << tokenized << " lines end in a tokenized period (' .'): "
                << "it looks like you forgot to detokenize; pass --force if the text is detokenized\n";
    }
  }
  return hypotheses;
}

// A metric of the command line: segment statistics, the score of summed ones, its name and signature.
struct MetricRun {
  std::string name;
  std::string signature;
  std::function<std::vector<int64_t>(const std::string&, const std::vector<std::string>&)> segment;
  std::function<double(const std::vector<int64_t>&)> score_of;
};

std::vector<int64_t> flatten(const eval::BleuStats& s) {
  std::vector<int64_t> flat{s.sys_len, s.ref_len};
  flat.insert(flat.end(), s.counts.begin(), s.counts.end());
  flat.insert(flat.end(), s.totals.begin(), s.totals.end());
  return flat;
}

eval::BleuStats unflatten(const std::vector<int64_t>& flat) {
  eval::BleuStats s;
  s.sys_len = flat[0];
  s.ref_len = flat[1];
  const size_t orders = (flat.size() - 2) / 2;
  s.counts.assign(flat.begin() + 2, flat.begin() + 2 + static_cast<std::ptrdiff_t>(orders));
  s.totals.assign(flat.begin() + 2 + static_cast<std::ptrdiff_t>(orders), flat.end());
  return s;
}

// Paired bootstrap resampling of every metric; a table on standard output.
int paired_bootstrap(const BleuCommandOptions& o, const std::vector<std::vector<std::string>>& systems,
                     const std::vector<std::vector<std::string>>& references, const std::vector<MetricRun>& metrics) {
  eval::BootstrapOptions options;
  options.samples = o.paired_bs_n;
  if (const char* seed = std::getenv("SACREBLEU_SEED")) {
    try {
      options.seed = std::stoull(seed);
    } catch (const std::exception&) {
      throw Error(std::string("SACREBLEU_SEED='") + seed + "' is not a whole number");
    }
  }
  std::vector<std::vector<eval::BootstrapResult>> results;
  for (const auto& metric : metrics) {
    std::vector<eval::SegmentStats> stats(systems.size());
    for (size_t s = 0; s < systems.size(); ++s) {
      for (size_t i = 0; i < systems[s].size(); ++i) stats[s].push_back(metric.segment(systems[s][i], references[i]));
    }
    results.push_back(eval::paired_bootstrap(stats, metric.score_of, options));
  }
  std::cout << "Paired bootstrap resampling: " << options.samples << " resamples, seed " << options.seed
            << "; p-values against the baseline (the first system)\n";
  const auto pad = [](std::string text, size_t width) {
    if (text.size() < width) text += std::string(width - text.size(), ' ');
    return text;
  };
  // The system column fits the longest name (a path can be long) and a space after it.
  size_t name_width = 32;
  for (size_t s = 0; s < systems.size(); ++s) {
    name_width = std::max(name_width, o.inputs[s].size() + (s == 0 ? 10 : 0) + 2);
  }
  std::string header = pad("system", name_width);
  for (const auto& metric : metrics) header += pad(metric.name + " (mean ± 95% CI)", 28) + pad("p-value", 10);
  std::cout << header << "\n";
  for (size_t s = 0; s < systems.size(); ++s) {
    std::string row = pad((s == 0 ? "Baseline: " : "") + o.inputs[s], name_width);
    for (const auto& per_metric : results) {
      const auto& r = per_metric[s];
      row += pad(eval::fixed_decimals(r.score, o.width) + " (" + eval::fixed_decimals(r.mean, o.width) + " ± " +
                     eval::fixed_decimals(r.ci, o.width) + ")",
                 27);
      row += pad(r.p_value ? eval::fixed_decimals(*r.p_value, 4) + (*r.p_value < 0.05 ? "*" : "") : "-", 10);
    }
    std::cout << row << "\n";
  }
  std::cout << "* p < 0.05: the difference to the baseline is significant\n";
  for (const auto& metric : metrics) std::cout << metric.name << ": " << metric.signature << "\n";
  return 0;
}

int run(int argc, char** argv) {
  bool help_shown = false;
  const auto o = parse_options(argc, argv, &help_shown);
  if (help_shown) return 0;
  validate(o);
  const int threads = util::resolve_cpu_threads(o.threads);
  if (!o.quiet) announce_cpu_threads(kProgram, threads);

  const auto streams = read_reference_streams(o);
  std::vector<std::vector<std::string>> systems;
  for (const auto& path : o.inputs.empty() ? std::vector<std::string>{"-"} : o.inputs) {
    systems.push_back(read_hypotheses(path, streams, o));
  }
  const auto& hypotheses = systems.front();
  std::vector<std::vector<std::string>> references(hypotheses.size());
  for (size_t i = 0; i < hypotheses.size(); ++i) {
    for (const auto& stream : streams) references[i].push_back(stream[i]);
  }
  eval::BleuOptions options;
  options.tokenizer = eval::parse_bleu_tokenizer(o.tokenize);
  options.smoothing = eval::parse_smoothing(o.smooth_method);
  options.smooth_value = o.smooth_value;
  options.lowercase = o.lowercase;
  options.effective_order = o.sentence_level;  // as sacreBLEU's command line
  const eval::Bleu bleu(options);
  const eval::Chrf chrf(o.chrf);
  const int num_refs = static_cast<int>(streams.size());
  const bool json = o.format == "json" && !o.sentence_level;

  std::vector<MetricRun> metrics;
  for (const auto& name : o.metrics) {
    if (name == "bleu") {
      metrics.push_back({"BLEU", bleu.signature(num_refs, o.short_signature && !json),
                         [&](const std::string& h, const std::vector<std::string>& r) {
                           return flatten(bleu.segment_stats(h, r));
                         },
                         [&](const std::vector<int64_t>& s) { return bleu.score(unflatten(s)).score; }});
    } else {
      metrics.push_back({chrf.name(), chrf.signature(num_refs, o.short_signature && !json),
                         [&](const std::string& h, const std::vector<std::string>& r) {
                           return chrf.segment_statistics(h, r);
                         },
                         [&](const std::vector<int64_t>& s) { return chrf.score_of(s); }});
    }
  }
  if (o.paired_bs) return paired_bootstrap(o, systems, references, metrics);

  if (o.sentence_level) {
    for (size_t i = 0; i < hypotheses.size(); ++i) {
      for (size_t m = 0; m < metrics.size(); ++m) {
        if (o.metrics[m] == "bleu") {
          std::cout << bleu.sentence_score(hypotheses[i], references[i]).format(o.width, o.score_only,
                                                                                metrics[m].signature, false);
        } else {
          std::cout << eval::format_score(metrics[m].name, chrf.sentence_score(hypotheses[i], references[i]), o.width,
                                          o.score_only, metrics[m].signature, false, "");
        }
        std::cout << "\n";
      }
    }
    return 0;
  }
  std::vector<std::string> outputs;
  for (size_t m = 0; m < metrics.size(); ++m) {
    if (o.metrics[m] == "bleu") {
      outputs.push_back(bleu.corpus_score(hypotheses, references, threads)
                            .format(o.width, o.score_only, metrics[m].signature, json));
    } else {
      outputs.push_back(eval::format_score(metrics[m].name, chrf.corpus_score(hypotheses, references), o.width,
                                           o.score_only, metrics[m].signature, json, ""));
    }
  }
  if (json && !o.score_only && outputs.size() > 1) {  // several metrics: one JSON list
    std::cout << "[\n";
    for (size_t m = 0; m < outputs.size(); ++m) std::cout << outputs[m] << (m + 1 < outputs.size() ? ",\n" : "\n");
    std::cout << "]\n";
    return 0;
  }
  for (const auto& out : outputs) std::cout << out << "\n";
  return 0;
}

}  // namespace

int bleu_main(int argc, char** argv) {
  return run_guarded(kProgram, argc, argv, [&] { return run(argc, argv); },
                     [] { return std::string("BLEU and chrF of sacreBLEU ") + eval::kSacreBleuVersion; });
}

}  // namespace tandem::cli
