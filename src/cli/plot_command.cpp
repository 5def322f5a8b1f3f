// tandem-plot: learning curves of training runs and attention heat maps, as SVG.
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/common_options.h"
#include "cli/option_parsers.h"
#include "tandem/error.h"
#include "tandem/io/line_reader.h"
#include "tandem/model/checkpoint.h"
#include "tandem/plot/learning_curves.h"
#include "tandem/plot/svg_charts.h"
#include "tandem/translator.h"
#include "tandem/vocab/tokenizer.h"

namespace tandem::cli {
namespace {

namespace fs = std::filesystem;

constexpr const char* kProgram = "tandem-plot";
constexpr const char* kUsage =
    "Usage: tandem-plot curves RUN [RUN ...] -o FIGURE.svg [--x updates|hours] [--labels A B ...]\n"
    "       tandem-plot attention -m MODEL --source FILE --alignments FILE [--line N] -o FIGURE.svg\n"
    "\n"
    "curves: learning curves of training runs in one figure: the training loss, every\n"
    "validation metric and the learning rate, one colour per run. A RUN is a\n"
    "train.log.jsonl, a model folder holding one, or a folder whose model/ does (a\n"
    "recipe's run); its label is the folder's name unless --labels says otherwise.\n"
    "\n"
    "attention: the attention of one translation as a heat map (source pieces across,\n"
    "target pieces down), from the output of `tandem-translate --alignment soft-pieces`:\n"
    "  tandem-translate -m MODEL --alignment soft-pieces -i in.txt -o out.txt\n"
    "  tandem-plot attention -m MODEL --source in.txt --alignments out.txt --line 3 -o a.svg\n"
    "The model gives the vocabularies that cut the lines into pieces.\n"
    "\n"
    "SVG opens in any browser; `rsvg-convert -o a.png a.svg` (librsvg2-bin) makes a PNG.";

void write_figure(const std::string& path, const std::string& svg, bool quiet) {
  std::ofstream out(path, std::ios::binary);
  out << svg;
  out.close();
  if (!out) throw Error(path + ": cannot write the figure");
  if (!quiet) std::cerr << kProgram << ": wrote " << path << "\n";
}

// A run's log file and default label.
plot::RunLog resolve_run(const std::string& run) {
  fs::path path(run);
  if (fs::is_directory(path)) {
    if (fs::exists(path / "train.log.jsonl")) {
      path /= "train.log.jsonl";
    } else if (fs::exists(path / "model" / "train.log.jsonl")) {
      path = path / "model" / "train.log.jsonl";
    } else {
      throw Error(run + ": no train.log.jsonl in this folder or its model/ (give a model folder or the log file)");
    }
  }
  fs::path folder = fs::absolute(path).lexically_normal().parent_path();
  if (folder.filename() == "model" && folder.has_parent_path()) folder = folder.parent_path();
  return {folder.filename().string(), path.string()};
}

int curves(const std::vector<std::string>& args) {
  std::vector<std::string> runs, labels;
  std::string output, x = "updates";
  int columns = 2;
  bool quiet = false;
  po::options_description options("Options of tandem-plot curves");
  options.add_options()
      ("help,h", "show this help")
      ("output,o", po::value<std::string>(&output), "the SVG file to write")
      ("x", defaulted(&x), "the x axis: updates or hours (of training, summed over resumes)")
      ("labels", po::value<std::vector<std::string>>(&labels)->multitoken(), "the runs' names in the legend, in order")
      ("columns", defaulted(&columns), "panels side by side");
  add_quiet_option(options, &quiet);
  po::options_description hidden;
  hidden.add_options()("runs", po::value<std::vector<std::string>>(&runs));
  po::options_description all;
  all.add(options).add(hidden);
  po::positional_options_description positional;
  positional.add("runs", -1);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(all).positional(positional).run(), vm);
  if (vm.count("help")) {
    std::cout << kUsage << "\n\n" << options << "\n";
    return 0;
  }
  po::notify(vm);
  if (runs.empty()) throw Error("give at least one run: a train.log.jsonl or a model folder (see --help)");
  if (output.empty()) throw Error("give the SVG file to write with -o (see --help)");
  if (x != "updates" && x != "hours") throw Error("--x is '" + x + "'; use updates or hours");
  if (!labels.empty() && labels.size() != runs.size()) {
    throw Error("--labels names " + std::to_string(labels.size()) + " runs, but " + std::to_string(runs.size()) +
                " are given");
  }
  if (columns < 1) throw Error("--columns must be at least 1");
  std::vector<plot::RunLog> logs;
  for (size_t i = 0; i < runs.size(); ++i) {
    logs.push_back(resolve_run(runs[i]));
    if (!labels.empty()) logs.back().label = labels[i];
  }
  const auto curves = plot::read_learning_curves(logs, x == "hours" ? plot::XAxis::kHours : plot::XAxis::kUpdates);
  for (const auto& warning : curves.warnings) std::cerr << kProgram << ": warning: " << warning << "\n";
  if (curves.panels.empty()) throw Error("the logs hold no loss, metric or learning rate to plot");
  write_figure(output, plot::line_charts_svg(curves.panels, columns), quiet);
  return 0;
}

// Line `number` (1-based) of a text file, cleaned as tandem-translate cleans its
// input (a byte order mark on line 1, a '\r' before the newline).
std::string nth_line(const std::string& path, int64_t number, const char* what) {
  io::LineReader reader(path);
  std::string line;
  for (int64_t i = 1; reader.next(line); ++i) {
    if (i == number) {
      io::clean_line(line, i == 1);
      return line;
    }
  }
  throw Error(path + ": has no line " + std::to_string(number) + " (" + what + ")");
}

// The translation of sentence `number` (1-based) in tandem-translate's output: line
// `number` of a 1-best file; in an n-best file ("ID ||| TEXT ||| F0= ... ||| SCORE
// ||| ..."), the first (best) hypothesis of the sentence whose ID is number - 1.
// `where` receives "PATH:LINE" of the line used.
std::string translation_of(const std::string& path, int64_t number, std::string& where) {
  io::LineReader reader(path);
  std::string line;
  bool n_best = false;
  for (int64_t i = 1; reader.next(line); ++i) {
    io::clean_line(line, i == 1);
    if (i == 1) {
      const auto bar = line.find(" ||| ");
      const std::string id = bar == std::string::npos ? "" : line.substr(0, bar);
      n_best = !id.empty() && id.find_first_not_of("0123456789") == std::string::npos &&
               line.find(" ||| F0= ") != std::string::npos;
    }
    const bool found = n_best ? line.rfind(std::to_string(number - 1) + " ||| ", 0) == 0 : i == number;
    if (found) {
      where = path + ":" + std::to_string(i);
      return line;
    }
  }
  throw Error(path + ": has no " + (n_best ? "hypothesis of sentence " : "line ") + std::to_string(number) +
              " (the translation)");
}

// Rows of comma-separated weights ("w,w,... w,w,..."), or none with the reason in `why`.
std::vector<std::vector<double>> weight_rows(const std::string& field, std::string* why) {
  std::vector<std::vector<double>> rows;
  std::istringstream in(field);
  for (std::string row; in >> row;) {
    std::vector<double> weights;
    std::istringstream cells(row);
    for (std::string cell; std::getline(cells, cell, ',');) {
      try {
        size_t used = 0;
        weights.push_back(std::stod(cell, &used));
        if (used != cell.size()) throw std::invalid_argument(cell);
      } catch (const std::exception&) {
        *why = "'" + cell + "' is not a weight (translate with --alignment soft-pieces or soft, not hard)";
        return {};
      }
    }
    if (!rows.empty() && weights.size() != rows.front().size()) {
      *why = "the rows of weights differ in length";
      return {};
    }
    rows.push_back(std::move(weights));
  }
  return rows;
}

int attention(const std::vector<std::string>& args) {
  std::string model_path, source_path, alignments_path, output;
  int64_t line_number = 1;
  bool quiet = false;
  po::options_description options("Options of tandem-plot attention");
  options.add_options()
      ("help,h", "show this help")
      ("model,m", po::value<std::string>(&model_path), "the model (checkpoint or folder) that translated")
      ("source", po::value<std::string>(&source_path), "the file that was translated")
      ("alignments", po::value<std::string>(&alignments_path),
       "tandem-translate's output with --alignment soft-pieces (or soft)")
      ("line", defaulted(&line_number), "the line to show (1 = the first)")
      ("output,o", po::value<std::string>(&output), "the SVG file to write");
  add_quiet_option(options, &quiet);
  po::variables_map vm;
  po::store(po::command_line_parser(args).options(options).run(), vm);
  if (vm.count("help")) {
    std::cout << kUsage << "\n\n" << options << "\n";
    return 0;
  }
  po::notify(vm);
  if (model_path.empty() || source_path.empty() || alignments_path.empty() || output.empty()) {
    throw Error("give -m MODEL, --source FILE, --alignments FILE and -o FIGURE.svg (see --help)");
  }
  if (line_number < 1) throw Error("--line counts from 1");
  const std::string checkpoint = resolve_model_path(model_path);
  const auto loaded = model::load_checkpoint(checkpoint, torch::kCPU);
  const auto source_tok = vocab::Tokenizer::from_bytes(loaded.meta.source_vocab, checkpoint);
  const auto target_tok = vocab::Tokenizer::from_bytes(loaded.meta.target_vocab, checkpoint);
  const std::string source = nth_line(source_path, line_number, "the source");
  std::string where;
  const std::string output_line = translation_of(alignments_path, line_number, where);
  // "TEXT ||| WEIGHTS", "TEXT ||| SCORE ||| WEIGHTS" or an n-best line "ID ||| TEXT ||| F0= ... ||| SCORE ||| WEIGHTS",
  // each optionally followed by " ||| PIECES" (--alignment soft-pieces).
  std::vector<std::string> fields;
  for (size_t start = 0;;) {
    const size_t bar = output_line.find(" ||| ", start);
    fields.push_back(output_line.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 5;
  }
  if (fields.size() < 2) {
    throw Error(where + ": no alignment after ' ||| ' (translate with --alignment soft-pieces or soft)");
  }
  const bool n_best = fields.size() >= 5 && fields[2].rfind("F0=", 0) == 0;
  const std::string text = n_best ? fields[1] : fields[0];
  const size_t first_trailing = n_best ? 4 : 1;  // the fields after the text (and the n-best scores)
  plot::HeatMap map;
  std::vector<std::string> pieces;  // the rows' output pieces, when the line carries them
  bool with_pieces = false;
  std::string why;
  map.weights = weight_rows(fields.back(), &why);
  if (!why.empty() && fields.size() >= first_trailing + 2) {
    std::string why_before;
    auto weights = weight_rows(fields[fields.size() - 2], &why_before);
    if (why_before.empty()) {
      map.weights = std::move(weights);
      std::istringstream in(fields.back());
      for (std::string piece; in >> piece;) pieces.push_back(piece);
      with_pieces = true;
      why.clear();
    }
  }
  if (!why.empty()) throw Error(where + ": " + why);
  if (map.weights.empty()) throw Error(where + ": the translation is empty; there is no attention to show");
  if (with_pieces && pieces.size() != map.weights.size()) {
    throw Error(where + ": " + std::to_string(pieces.size()) + " output pieces for " +
                std::to_string(map.weights.size()) + " rows of weights");
  }
  const size_t columns = map.weights.front().size();
  const auto source_ids = source_tok.encode(source);
  for (size_t c = 0; c < columns; ++c) map.columns.push_back(c < source_ids.size() ? source_tok.piece(source_ids[c]) : "?");
  if (with_pieces) {
    map.rows = pieces;
  } else {
    // Without the pieces the text is encoded again, which gives the decoder's pieces only when
    // they were the canonical segmentation.
    const auto target_ids = target_tok.encode(text);
    for (size_t r = 0; r < map.weights.size(); ++r) {
      map.rows.push_back(r < target_ids.size() ? target_tok.piece(target_ids[r]) : "</s>");
    }
    if (target_ids.size() > map.weights.size()) {
      std::cerr << kProgram << ": warning: " << where
                << ": the text's pieces do not match the rows of weights; translate with --alignment soft-pieces\n";
    }
  }
  if (source_ids.size() < columns) {
    std::cerr << kProgram << ": warning: " << where
              << ": the source line has fewer pieces than the weights have columns (another model or source file?)\n";
  }
  map.title = "attention, line " + std::to_string(line_number) + ": " + source + "  →  " + text;
  write_figure(output, plot::heat_map_svg(map), quiet);
  return 0;
}

int run(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << kUsage << "\n";
    return 0;
  }
  const std::string what = args[0];
  args.erase(args.begin());
  if (what == "curves") return curves(args);
  if (what == "attention") return attention(args);
  throw Error("unknown figure '" + what + "'; use curves or attention (see --help)");
}

}  // namespace

int plot_main(int argc, char** argv) {
  return run_torch_program(kProgram, argc, argv, [&] { return run(argc, argv); });
}

}  // namespace tandem::cli
