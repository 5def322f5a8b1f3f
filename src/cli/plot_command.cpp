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
    "target pieces down), from the output of `tandem-translate --alignment soft`:\n"
    "  tandem-translate -m MODEL --alignment soft -i in.txt -o out.txt\n"
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

// Line `number` (1-based) of a text file, the way tandem-translate reads its input.
std::string nth_line(const std::string& path, int64_t number, const char* what) {
  io::LineReader reader(path);
  std::string line;
  for (int64_t i = 1; reader.next(line); ++i) {
    if (i == number) return line;
  }
  throw Error(path + ": has no line " + std::to_string(number) + " (" + what + ")");
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
       "tandem-translate's output with --alignment soft")
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
  const std::string output_line = nth_line(alignments_path, line_number, "the translation");
  // "TEXT ||| WEIGHTS", "TEXT ||| SCORE ||| WEIGHTS" or an n-best line "ID ||| TEXT ||| F0= ... ||| SCORE ||| WEIGHTS".
  std::vector<std::string> fields;
  for (size_t start = 0;;) {
    const size_t bar = output_line.find(" ||| ", start);
    fields.push_back(output_line.substr(start, bar == std::string::npos ? std::string::npos : bar - start));
    if (bar == std::string::npos) break;
    start = bar + 5;
  }
  const std::string where = alignments_path + ":" + std::to_string(line_number);
  if (fields.size() < 2) {
    throw Error(where + ": no alignment after ' ||| ' (translate with --alignment soft)");
  }
  const std::string text = fields.size() >= 5 ? fields[1] : fields[0];
  plot::HeatMap map;
  std::istringstream rows(fields.back());
  for (std::string row; rows >> row;) {
    std::vector<double> weights;
    std::istringstream cells(row);
    for (std::string cell; std::getline(cells, cell, ',');) {
      try {
        size_t used = 0;
        weights.push_back(std::stod(cell, &used));
        if (used != cell.size()) throw std::invalid_argument(cell);
      } catch (const std::exception&) {
        throw Error(where + ": '" + cell + "' is not a weight (translate with --alignment soft, not hard)");
      }
    }
    if (!map.weights.empty() && weights.size() != map.weights.front().size()) {
      throw Error(where + ": the rows of weights differ in length");
    }
    map.weights.push_back(std::move(weights));
  }
  if (map.weights.empty()) throw Error(where + ": the translation is empty; there is no attention to show");
  const size_t columns = map.weights.front().size();
  const auto source_ids = source_tok.encode(source);
  for (size_t c = 0; c < columns; ++c) map.columns.push_back(c < source_ids.size() ? source_tok.piece(source_ids[c]) : "?");
  const auto target_ids = target_tok.encode(text);
  for (size_t r = 0; r < map.weights.size(); ++r) {
    map.rows.push_back(r < target_ids.size() ? target_tok.piece(target_ids[r]) : "</s>");
  }
  if (target_ids.size() > map.weights.size() || source_ids.size() < columns) {
    std::cerr << kProgram << ": warning: " << where
              << ": the pieces of the lines do not match the weights (another model or source file?)\n";
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
