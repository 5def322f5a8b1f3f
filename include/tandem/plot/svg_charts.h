// SVG figures without any plotting library: line charts in a grid of panels
// (learning curves) and heat maps (attention). The files open in any browser,
// render on GitHub, and convert to PNG with rsvg-convert or a browser.
//
// Usage:
//   plot::Panel loss{"training loss", "updates", "loss per target piece"};
//   loss.series.push_back({"lstm-luong", {100, 200}, {5.1, 4.2}});
//   std::string svg = plot::line_charts_svg({loss}, /*columns=*/2);
//
//   plot::HeatMap map{"attention", {"▁den", "▁10."}, {"1977", "-03-"}, {{0.1, 0.9}, {0.8, 0.2}}};
//   std::string svg2 = plot::heat_map_svg(map);
#pragma once

#include <string>
#include <vector>

namespace tandem::plot {

struct Series {
  std::string label;      ///< one colour per label across all panels
  std::vector<double> x;  ///< ascending
  std::vector<double> y;
};

struct Panel {
  std::string title;
  std::string x_label;
  std::string y_label;
  std::vector<Series> series;
  bool log_y = false;  ///< a logarithmic y axis (values <= 0 are left out)
};

/// The panels in a grid of `columns`, a legend of the series' labels above them.
/// Throws tandem::Error when there is no panel or a series' x and y differ in size.
std::string line_charts_svg(const std::vector<Panel>& panels, int columns = 2);

struct HeatMap {
  std::string title;
  std::vector<std::string> columns;          ///< across (source pieces)
  std::vector<std::string> rows;             ///< down (target pieces)
  std::vector<std::vector<double>> weights;  ///< [rows][columns], in [0, 1]
};

/// One cell per weight, white (0) to dark blue (1), labels on the left and top.
/// Throws tandem::Error when the weights do not have the labels' shape.
std::string heat_map_svg(const HeatMap& map);

/// `text` with &, <, >, " escaped for XML.
std::string xml_escape(const std::string& text);

/// Tick positions for an axis over [low, high]: about `count` round numbers.
std::vector<double> nice_ticks(double low, double high, int count = 5);

}  // namespace tandem::plot
