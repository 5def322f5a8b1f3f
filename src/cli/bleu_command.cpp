// tandem-bleu: corpus and sentence BLEU with sacreBLEU's command line.
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "tandem/io/line_reader.h"
#include "tandem/error.h"
#include "tandem/eval/bleu.h"
#include "tandem/util/cpu_threads.h"
#include "tandem/util/utf8.h"

namespace tandem::cli {
namespace {

constexpr const char* kProgram = "tandem-bleu";
constexpr const char* kUsage =
    "Usage: tandem-bleu REF [REF ...] [-i HYP] [options]\n"
    "BLEU exactly as sacreBLEU 2.6.0 computes it; sacreBLEU's flags work unchanged.\n"
    "Hypotheses come from -i/--input or standard input, one line per reference line.\n"
    "Example: tandem-bleu newstest.de -i output.de -f text";

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
       "only bleu is available")
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
    if (metric != "bleu") throw Error("--metrics " + metric + " is not available; tandem-bleu computes bleu");
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
  if (o.inputs.size() > 1) {
    throw Error("several --input files (multi-system evaluation) are not available; score one file at a time");
  }
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

int run(int argc, char** argv) {
  bool help_shown = false;
  const auto o = parse_options(argc, argv, &help_shown);
  if (help_shown) return 0;
  validate(o);
  const int threads = util::resolve_cpu_threads(o.threads);
  if (!o.quiet) announce_cpu_threads(kProgram, threads);

  const auto streams = read_reference_streams(o);
  const std::string hyp_path = o.inputs.empty() ? "-" : o.inputs[0];
  const std::string hyp_name = hyp_path == "-" ? "standard input" : hyp_path;
  const auto hypotheses = read_stripped_lines(hyp_path, "hypotheses");
  if (hypotheses.empty()) throw Error("the hypotheses (" + hyp_name + ") hold no line");
  if (hyp_path == "-") {
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
      throw Error("the hypotheses (" + hyp_name + ") have " + std::to_string(hypotheses.size()) +
                  " lines but reference " + ref_name + " has " + std::to_string(streams[r].size()) +
                  "; they must be line-aligned");
    }
  }
  if (!o.force && !o.quiet) {
    size_t tokenized = 0;
    for (const auto& h : hypotheses) tokenized += h.size() >= 2 && h.compare(h.size() - 2, 2, " .") == 0;
    if (tokenized >= 100) {
      std::cerr << kProgram << ": " << tokenized << " lines end in a tokenized period (' .'): "
                << "it looks like you forgot to detokenize; pass --force if the text is detokenized\n";
    }
  }

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
  const int num_refs = static_cast<int>(streams.size());

  if (o.sentence_level) {
    const std::string signature = bleu.signature(num_refs, o.short_signature);
    for (size_t i = 0; i < hypotheses.size(); ++i) {
      std::cout << bleu.sentence_score(hypotheses[i], references[i]).format(o.width, o.score_only, signature, false)
                << "\n";
    }
    return 0;
  }
  const auto score = bleu.corpus_score(hypotheses, references, threads);
  const bool json = o.format == "json";
  const std::string signature = bleu.signature(num_refs, o.short_signature && !json);
  std::cout << score.format(o.width, o.score_only, signature, json) << "\n";
  return 0;
}

}  // namespace

int bleu_main(int argc, char** argv) {
  return run_guarded(kProgram, [&] { return run(argc, argv); });
}

}  // namespace tandem::cli
