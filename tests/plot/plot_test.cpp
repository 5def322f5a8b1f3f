// tandem-plot and its SVG figures: learning curves and attention heat maps.
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <regex>
#include <string>

#include "tandem/error.h"
#include "tandem/plot/learning_curves.h"
#include "tandem/plot/svg_charts.h"
#include "test_support.h"

namespace tandem::plot {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(SvgChartsTest, TicksAreRoundNumbersInsideTheRange) {
  EXPECT_EQ(nice_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(nice_ticks(130, 1020, 5), (std::vector<double>{200, 400, 600, 800, 1000}));
  const auto small = nice_ticks(0.0012, 0.0031, 4);
  ASSERT_FALSE(small.empty());
  EXPECT_GE(small.front(), 0.0012);
  EXPECT_LE(small.back(), 0.0031 + 1e-12);
  EXPECT_EQ(xml_escape("a<b & \"c\">"), "a&lt;b &amp; &quot;c&quot;&gt;");
}

TEST(SvgChartsTest, PanelsHoldOneLinePerSeriesAndOneColourPerLabel) {
  Panel a{"loss", "updates", "loss", {{"run <1>", {1, 2, 3}, {3, 2, 1}}, {"run 2", {1, 2}, {4, 3}}}};
  Panel b{"rate", "updates", "rate", {{"run <1>", {1, 2}, {1e-3, 5e-4}}}, /*log_y=*/true};
  const std::string svg = line_charts_svg({a, b}, 2);
  EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u);
  EXPECT_EQ(count(svg, "<polyline"), 3u);
  EXPECT_EQ(count(svg, "<g class=\"panel\">"), 2u);
  EXPECT_NE(svg.find(">run &lt;1&gt;</text>"), std::string::npos);  // the legend, escaped
  EXPECT_EQ(svg.find("run <1>"), std::string::npos);
  // The same label has the same colour in both panels.
  const std::regex colour("data-label=\"run &lt;1&gt;\" fill=\"none\" stroke=\"(#[0-9a-f]{6})\"");
  std::vector<std::string> colours;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), colour); it != std::sregex_iterator(); ++it) {
    colours.push_back((*it)[1]);
  }
  ASSERT_EQ(colours.size(), 2u);
  EXPECT_EQ(colours[0], colours[1]);
  EXPECT_NE(svg.find("rate (log)"), std::string::npos);
  EXPECT_EQ(svg.find("nan"), std::string::npos);
  Panel bad{"bad", "x", "y", {{"s", {1, 2}, {1}}}};
  EXPECT_THROW(line_charts_svg({bad}), Error);
  EXPECT_THROW(line_charts_svg({}), Error);
}

TEST(SvgChartsTest, AHeatMapHasACellPerWeight) {
  HeatMap map{"attention: a → b", {"▁den", "▁10.", "<s>"}, {"1977", "-03-"}, {{0.1, 0.8, 0.1}, {0.0, 1.0, 0.0}}};
  const std::string svg = heat_map_svg(map);
  EXPECT_EQ(count(svg, "<rect class=\"cell\""), 6u);
  EXPECT_EQ(count(svg, "class=\"column\""), 3u);
  EXPECT_EQ(count(svg, "class=\"row\""), 2u);
  EXPECT_NE(svg.find("&lt;s&gt;"), std::string::npos);
  EXPECT_NE(svg.find("fill=\"#08306b\""), std::string::npos);  // weight 1: the darkest blue
  EXPECT_NE(svg.find("fill=\"#ffffff\""), std::string::npos);  // weight 0: white
  map.weights[1].pop_back();
  EXPECT_THROW(heat_map_svg(map), Error);
}

TEST(LearningCurvesTest, ReadsRunsAndAResumedRunReplacesItsRepeatedUpdates) {
  const std::string dir = test::temp_dir();
  test::write_file(dir + "/a.jsonl",
                   "{\"type\":\"train\",\"update\":100,\"loss\":5.0,\"learn_rate\":0.001,\"seconds\":60}\n"
                   "{\"type\":\"train\",\"update\":200,\"loss\":4.0,\"learn_rate\":0.001,\"seconds\":120}\n"
                   "{\"type\":\"valid\",\"update\":200,\"bleu\":10.5,\"perplexity\":40,\"stalled\":0}\n"
                   "{\"type\":\"train\",\"update\":300,\"loss\":3.\n"  // cut off by a kill
                   "{\"type\":\"train\",\"update\":300,\"loss\":3.5,\"learn_rate\":0.0005,\"seconds\":180}\n"
                   "{\"type\":\"train\",\"update\":200,\"loss\":3.9,\"learn_rate\":0.001,\"seconds\":125}\n"  // resumed
                   "{\"type\":\"train\",\"update\":300,\"loss\":3.4,\"learn_rate\":0.0005,\"seconds\":185}\n"
                   "{\"type\":\"valid\",\"update\":400,\"bleu\":12.0,\"perplexity\":30,\"stalled\":0,\"seconds\":3600}\n");
  test::write_file(dir + "/b.jsonl", "{\"type\":\"train\",\"update\":50,\"loss\":6.0,\"learn_rate\":0.002,\"seconds\":30}\n"
                                     "{\"type\":\"valid\",\"update\":50,\"bleu\":1.0,\"chrf\":20,\"stalled\":0}\n");
  const auto curves = read_learning_curves({{"A", dir + "/a.jsonl"}, {"B", dir + "/b.jsonl"}}, XAxis::kUpdates);
  ASSERT_EQ(curves.warnings.size(), 1u);
  EXPECT_NE(curves.warnings[0].find(dir + "/a.jsonl:4: "), std::string::npos) << curves.warnings[0];
  std::vector<std::string> titles;
  for (const auto& p : curves.panels) titles.push_back(p.title);
  EXPECT_EQ(titles, (std::vector<std::string>{"training loss", "validation bleu", "validation perplexity",
                                              "validation chrf", "learning rate"}));
  const auto& loss = curves.panels[0].series;
  ASSERT_EQ(loss.size(), 2u);
  EXPECT_EQ(loss[0].label, "A");
  EXPECT_EQ(loss[0].x, (std::vector<double>{100, 200, 300}));
  EXPECT_EQ(loss[0].y, (std::vector<double>{5.0, 3.9, 3.4}));  // the resumed try's values
  EXPECT_EQ(curves.panels[1].series[0].y, (std::vector<double>{10.5, 12.0}));
  EXPECT_TRUE(curves.panels[2].log_y);
  EXPECT_EQ(curves.panels[3].series.size(), 1u);  // chrf: run B only
  // In hours: the training records' clock, a validation's own when it has one, else the clock there.
  const auto hours = read_learning_curves({{"A", dir + "/a.jsonl"}}, XAxis::kHours);
  EXPECT_EQ(hours.panels[0].series[0].x, (std::vector<double>{60 / 3600.0, 125 / 3600.0, 185 / 3600.0}));
  EXPECT_DOUBLE_EQ(hours.panels[1].series[0].x[0], 125 / 3600.0);
  EXPECT_DOUBLE_EQ(hours.panels[1].series[0].x[1], 1.0);
  EXPECT_THROW(read_learning_curves({{"X", dir + "/missing.jsonl"}}, XAxis::kUpdates), Error);
  test::write_file(dir + "/empty.jsonl", "\n");
  EXPECT_THROW(read_learning_curves({{"X", dir + "/empty.jsonl"}}, XAxis::kUpdates), Error);
}

// The programs as a user runs them: curves of two real runs, and the attention of
// a translation made with --alignment soft.
TEST(PlotProgramTest, CurvesOfRunsAndTheAttentionOfATranslation) {
  const std::string dir = test::temp_dir();
  const std::string text = test::sample_model_path() + ".txt";  // the sample sentences, a line each
  for (const std::string run : {"gru", "lstm"}) {
    const auto r = test::run_program(
        "tandem-train", "--model " + dir + "/" + run + "/model -t " + text + " " + text + " --valid-sets " + text + " " +
                            text + " --vocabs " + test::sample_model_path() +
                            " --cell " + run + " --dim-emb 8 --dim-rnn 8 --after-updates 6 --disp-freq 2 --valid-freq 3"
                            " --valid-metrics cross-entropy perplexity --cpu-threads 1 --quiet");
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  auto r = test::run_program("tandem-plot", "curves " + dir + "/gru " + dir + "/lstm/model -o " + dir + "/curves.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string svg = test::read_file(dir + "/curves.svg");
  EXPECT_NE(svg.find(">gru</text>"), std::string::npos);  // labels from the folders
  EXPECT_NE(svg.find(">lstm</text>"), std::string::npos);
  EXPECT_NE(svg.find(">validation perplexity</text>"), std::string::npos);
  EXPECT_EQ(count(svg, "<polyline"), 8u);  // 2 runs x (loss, cross-entropy, perplexity, learning rate)
  r = test::run_program("tandem-plot", "curves " + dir + "/gru/model/train.log.jsonl --labels first --x hours -o " + dir +
                                           "/hours.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  svg = test::read_file(dir + "/hours.svg");
  EXPECT_NE(svg.find(">first</text>"), std::string::npos);
  EXPECT_NE(svg.find(">hours of training</text>"), std::string::npos);

  const std::string model = dir + "/gru/model";
  test::write_file(dir + "/in.txt", "Ein Mann fährt.\nZwei Hunde & eine <Katze>.\n");
  r = test::run_program("tandem-translate", "-m " + model + " --alignment soft --quiet -i " + dir + "/in.txt -o " + dir +
                                                "/out.txt --max-length-factor 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_program("tandem-plot", "attention -m " + model + " --source " + dir + "/in.txt --alignments " + dir +
                                           "/out.txt --line 2 -o " + dir + "/attention.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string line2 = test::read_file(dir + "/out.txt").substr(test::read_file(dir + "/out.txt").find('\n') + 1);
  const std::string weights = line2.substr(line2.rfind(" ||| ") + 5);
  const size_t rows = static_cast<size_t>(std::count(weights.begin(), weights.end(), ' ')) + 1;
  const std::string first_row = weights.substr(0, weights.find(' '));
  const size_t columns = static_cast<size_t>(std::count(first_row.begin(), first_row.end(), ',')) + 1;
  svg = test::read_file(dir + "/attention.svg");
  EXPECT_EQ(count(svg, "<rect class=\"cell\""), rows * columns) << line2;
  EXPECT_EQ(count(svg, "class=\"row\""), rows);
  EXPECT_NE(svg.find("Zwei Hunde &amp; eine &lt;Katze&gt;."), std::string::npos);  // the title, escaped
  // A byte order mark on the source's first line is cleaned away as tandem-translate does,
  // and in an n-best file --line counts sentences (the best hypothesis of sentence 2).
  test::write_file(dir + "/bom.txt", "\xEF\xBB\xBF" "Ein Mann fährt.\nZwei Hunde & eine <Katze>.\n");
  r = test::run_program("tandem-plot", "attention -m " + model + " --source " + dir + "/bom.txt --alignments " + dir +
                                           "/out.txt --line 1 -o " + dir + "/bom.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  svg = test::read_file(dir + "/bom.svg");
  EXPECT_NE(svg.find("attention, line 1: Ein Mann"), std::string::npos);
  EXPECT_EQ(svg.find("\xEF\xBB\xBF"), std::string::npos);
  r = test::run_program("tandem-translate", "-m " + model + " --alignment soft --n-best -b 3 --quiet -i " + dir +
                                                "/in.txt -o " + dir + "/nbest.txt --max-length-factor 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = test::run_program("tandem-plot", "attention -m " + model + " --source " + dir + "/in.txt --alignments " + dir +
                                           "/nbest.txt --line 2 -o " + dir + "/nbest.svg");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    // The weights drawn are those of sentence 2's best hypothesis (its source is longer than sentence 1's).
    std::istringstream nbest(test::read_file(dir + "/nbest.txt"));
    std::string best;
    for (std::string l; std::getline(nbest, l);) {
      if (l.rfind("1 ||| ", 0) == 0) {
        best = l;
        break;
      }
    }
    ASSERT_FALSE(best.empty());
    const std::string w = best.substr(best.rfind(" ||| ") + 5);
    const size_t best_rows = static_cast<size_t>(std::count(w.begin(), w.end(), ' ')) + 1;
    const std::string row = w.substr(0, w.find(' '));
    const size_t best_columns = static_cast<size_t>(std::count(row.begin(), row.end(), ',')) + 1;
    EXPECT_EQ(best_columns, columns);  // sentence 2's source pieces, as in the 1-best file
    svg = test::read_file(dir + "/nbest.svg");
    EXPECT_EQ(count(svg, "<rect class=\"cell\""), best_rows * best_columns) << best;
  }
  r = test::run_program("tandem-plot", "attention -m " + model + " --source " + dir + "/in.txt --alignments " + dir +
                                           "/nbest.txt --line 3 -o " + dir + "/x.svg");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("has no line 3"), std::string::npos) << r.err;  // the source has 2 lines
  // --alignment soft-pieces: the rows are labelled with the pieces the line carries, even
  // when they are not the text's usual segmentation.
  r = test::run_program("tandem-translate", "-m " + model + " --alignment soft-pieces --quiet -i " + dir +
                                                "/in.txt -o " + dir + "/pieces.txt --max-length-factor 1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  {
    const std::string first = test::read_file(dir + "/pieces.txt").substr(0, test::read_file(dir + "/pieces.txt").find('\n'));
    EXPECT_EQ(std::count(first.begin(), first.end(), '|'), 6) << first;  // TEXT ||| WEIGHTS ||| PIECES
    const std::string weights_field = first.substr(first.find(" ||| ") + 5, first.rfind(" ||| ") - first.find(" ||| ") - 5);
    const size_t rows_here = static_cast<size_t>(std::count(weights_field.begin(), weights_field.end(), ' ')) + 1;
    const std::string pieces_field = first.substr(first.rfind(" ||| ") + 5);
    EXPECT_EQ(static_cast<size_t>(std::count(pieces_field.begin(), pieces_field.end(), ' ')) + 1, rows_here) << first;
    std::string made_up;  // weights of the same shape, rows labelled with made-up pieces
    for (size_t k = 0; k < rows_here; ++k) made_up += (k ? " " : "") + std::string("ZQ") + std::to_string(k);
    test::write_file(dir + "/made-up.txt", "x ||| " + weights_field + " ||| " + made_up + "\n");
    r = test::run_program("tandem-plot", "attention -m " + model + " --source " + dir + "/in.txt --alignments " + dir +
                                             "/made-up.txt -o " + dir + "/made-up.svg");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    svg = test::read_file(dir + "/made-up.svg");
    for (size_t k = 0; k < rows_here; ++k) EXPECT_NE(svg.find(">ZQ" + std::to_string(k) + "<"), std::string::npos) << k;
    test::write_file(dir + "/short.txt", "x ||| " + weights_field + " ||| ZQ\n");
    if (rows_here > 1) {
      r = test::run_program("tandem-plot", "attention -m " + model + " --source " + dir + "/in.txt --alignments " + dir +
                                               "/short.txt -o " + dir + "/x.svg");
      EXPECT_EQ(r.exit_code, 1);
      EXPECT_NE(r.err.find("1 output pieces for"), std::string::npos) << r.err;
    }
  }
  // Errors name the file and line.
  r = test::run_program("tandem-plot", "attention -m " + model + " --source " + dir + "/in.txt --alignments " + dir +
                                           "/out.txt --line 3 -o " + dir + "/x.svg");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir + "/in.txt: has no line 3"), std::string::npos) << r.err;
  test::write_file(dir + "/hard.txt", "Ein Mann ||| 0-0 1-1\n");
  r = test::run_program("tandem-plot", "attention -m " + model + " --source " + dir + "/in.txt --alignments " + dir +
                                           "/hard.txt -o " + dir + "/x.svg");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(dir + "/hard.txt:1: '0-0' is not a weight"), std::string::npos) << r.err;
  r = test::run_program("tandem-plot", "curves " + dir + " -o " + dir + "/x.svg");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("no train.log.jsonl"), std::string::npos) << r.err;
  r = test::run_program("tandem-plot", "pie " + dir);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("unknown figure 'pie'"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace tandem::plot
