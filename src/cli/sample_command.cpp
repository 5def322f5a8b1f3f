// tandem-sample: sentences drawn from a language model.
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/model_program.h"
#include "cli/option_parsers.h"
#include "tandem/error.h"
#include "tandem/io/line_reader.h"
#include "tandem/translator.h"
#include "tandem/model/stream_lm.h"
#include "tandem/util/progress_line.h"
#include "tandem/vocab/special_ids.h"
#include "tandem/util/utf8.h"

namespace tandem::cli {
namespace {

constexpr const char* kSampleUsage =
    "Usage: tandem-sample --models LM [-n N] [--prefix TEXT | -i FILE] [--temperature T] [--top-k K]\n"
    "                     [--seed S] [--max-length N] [--beam-size K] [options]\n"
    "Generates sentences with a language model (tandem-train --type lm): each piece is drawn\n"
    "from the model's softmax and fed back, until eos or --max-length. N new sentences, or N\n"
    "continuations of --prefix, or one continuation of every line of FILE (the line itself is\n"
    "the prefix; an empty line starts a new sentence). --beam-size K gives the most probable\n"
    "continuation instead of a sample. Each output line has its own random stream (seed, line\n"
    "number): the samples do not depend on --mini-batch.\n"
    "With --stream (a model trained with --lm-stream) it continues --prefix as one text, as\n"
    "char-rnn's -primetext does: the model reads the prefix, then draws --length tokens, line\n"
    "ends included; it prints the prefix and its continuation.\n"
    "Example: tandem-sample -m lm_dir -n 10 --temperature 0.7\n"
    "         tandem-sample -m shakespeare --stream --prefix 'ROMEO:' --length 500 --temperature 0.8";

// --stream: `prefix` continued by `length` tokens, as text (eos tokens are line ends).
void sample_as_stream(Translator& translator, const std::string& prefix, int64_t length, double temperature,
                      uint64_t seed, std::ostream& out) {
  if (translator.models().size() != 1) throw Error("--stream samples from one model; give one --models");
  const auto& tokenizer = translator.target_tokenizer();
  std::vector<int32_t> ids{vocab::kEosId};
  const auto prefix_ids = tokenizer.encode(prefix);
  ids.insert(ids.end(), prefix_ids.begin(), prefix_ids.end());
  auto& model = translator.models().front();
  model->eval();
  const auto drawn = model::sample_stream(model, ids, length, temperature, seed, translator.device());
  // The prefix's line, then the drawn ids line by line.
  std::vector<int32_t> line = prefix_ids;
  for (const int32_t id : drawn) {
    if (id == vocab::kEosId) {
      out << tokenizer.decode(line) << '\n';
      line.clear();
    } else {
      line.push_back(id);
    }
  }
  if (!line.empty()) out << tokenizer.decode(line) << '\n';
}

// Defaults that suit a character vocabulary, used when the option is not given.
constexpr int64_t kCharacterMaxSampleLength = 400;  // tandem-sample --max-length (100 for subwords)

int sample(int argc, char** argv) {
  ModelProgramOptions c;
  TranslateOptions t;
  int64_t count = 10;
  std::string prefix;
  std::string input;
  std::string output = "-";
  int64_t beam_size = 0;
  bool scores = false;
  bool stream = false;
  int64_t length = 200;
  t.search.max_length = 100;
  t.search.top_k = 0;
  po::options_description options("Options");
  add_model_program_options(options, c);
  options.add_options()
      ("count,n", po::value<int64_t>(&count)->default_value(count), "sentences to generate (without -i)")
      ("prefix", po::value<std::string>(&prefix), "text every sentence starts with (without -i)")
      ("input,i", po::value<std::string>(&input), "file of prefixes, one output line each (plain or .gz; - for stdin)")
      ("output,o", po::value<std::string>(&output)->default_value(output), "output file; - for stdout")
      ("temperature", defaulted(&t.search.temperature), "sampling temperature; towards 0 it approaches greedy")
      ("top-k", po::value<int64_t>(&t.search.top_k)->default_value(t.search.top_k),
       "draw among the K most probable pieces; 0 = all")
      ("seed", po::value<uint64_t>(&t.search.seed)->default_value(t.search.seed), "sampling seed")
      ("max-length", po::value<int64_t>(&t.search.max_length)->default_value(t.search.max_length, "100, or 400 for characters"),
       "pieces per sentence at most, eos and prefix included")
      ("beam-size,b", po::value<int64_t>(&beam_size)->default_value(beam_size),
       "K > 0: the most probable continuation by beam search instead of a sample")
      ("mini-batch", po::value<int64_t>(&t.mini_batch)->default_value(t.mini_batch), "sentences generated together")
      ("allow-unk", po::bool_switch(&t.search.allow_unk), "let sentences contain <unk>")
      ("output-scores", po::bool_switch(&scores), "append ' ||| log P' of each sentence (eos included)")
      ("stream", po::bool_switch(&stream), "a model trained with --lm-stream: continue --prefix as one text")
      ("length", po::value<int64_t>(&length)->default_value(length), "--stream: tokens to draw, line ends included");
  auto vm = parse(argc, argv, options, nullptr);
  if (print_help_if_asked(vm, kSampleUsage, options)) return 0;
  po::notify(vm);
  if (count < 0) throw Error("--count must not be negative");
  if (!input.empty() && vm.count("prefix") > 0) throw Error("give --prefix or -i FILE, not both");
  if (t.search.top_k < 0) throw Error("--top-k must be 0 (all pieces) or more");
  if (beam_size < 0) throw Error("--beam-size must be 0 (sample) or more");
  if (beam_size > 0) {
    t.search.beam_size = beam_size;
    t.search.sampling = search::Sampling::kNone;
  } else {
    t.search.beam_size = 1;
    t.search.sampling = t.search.top_k > 0 ? search::Sampling::kTopK : search::Sampling::kFull;
  }
  auto translator = start_translator("tandem-sample", c);
  if (!translator.is_language_model()) {
    throw Error(c.models.front() + ": a translation model (--type s2s); tandem-sample needs a language model "
                "(tandem-train --type lm); translate with tandem-translate");
  }
  if (vm["max-length"].defaulted() && translator.target_tokenizer().is_character_level()) {
    t.search.max_length = kCharacterMaxSampleLength;
  }
  std::ofstream file_out;
  if (output != "-") {
    file_out.open(output, std::ios::binary);
    if (!file_out) throw Error(output + ": cannot write the output file");
  }
  std::ostream& out = output == "-" ? std::cout : file_out;
  if (stream) {
    if (!input.empty() || beam_size > 0 || t.search.top_k > 0 || scores) {
      throw Error("--stream continues one --prefix by sampling; -i, --beam-size, --top-k and --output-scores do not apply");
    }
    if (length < 1) throw Error("--length must be at least 1");
    sample_as_stream(translator, prefix, length, t.search.temperature, t.search.seed, out);
    out.flush();
    if (!out) throw Error((output == "-" ? std::string("standard output") : output) + ": writing failed (disk full?)");
    return 0;
  }
  std::vector<std::string> prefixes;
  if (input.empty()) {
    prefixes.assign(static_cast<size_t>(count), prefix);
  } else {
    prefixes = io::read_text_lines(input);
  }
  const auto started = std::chrono::steady_clock::now();
  const auto results = translator.complete(prefixes, t);
  int64_t pieces = 0;
  for (const auto& r : results) {
    out << r.texts.front();
    if (scores) {
      char score[32];
      std::snprintf(score, sizeof(score), "%.6f", r.hypotheses.empty() ? 0.0 : r.hypotheses.front().score);
      out << " ||| " << score;
    }
    out << '\n';
    if (!r.hypotheses.empty()) pieces += static_cast<int64_t>(r.hypotheses.front().tokens.size());
  }
  out.flush();
  if (!out) throw Error((output == "-" ? std::string("standard output") : output) + ": writing failed (disk full?)");
  if (!c.quiet) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::cerr << "tandem-sample: " << results.size() << " sentences, " << pieces << " pieces in " << seconds << " s\n";
  }
  return 0;
}

}  // namespace

int sample_main(int argc, char** argv) {
  return run_torch_program("tandem-sample", argc, argv, [&] { return sample(argc, argv); });
}

}  // namespace tandem::cli
