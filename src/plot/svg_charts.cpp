#include "tandem/plot/svg_charts.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <map>
#include <sstream>

#include "tandem/error.h"

namespace tandem::plot {
namespace {

constexpr const char* kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr int kPanelWidth = 460;
constexpr int kPanelHeight = 300;
constexpr int kLeft = 72;
constexpr int kRight = 16;
constexpr int kTop = 30;
constexpr int kBottom = 46;
constexpr int kLegendItemWidth = 220;
constexpr int kLegendRowHeight = 22;

std::string number(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f", value);
  return buffer;
}

// A tick's label: at most 4 significant digits, thousands as "k" past 100,000.
std::string tick_label(double value) {
  char buffer[32];
  if (std::fabs(value) >= 1e5 && std::fabs(value) < 1e9) {
    std::snprintf(buffer, sizeof(buffer), "%gk", value / 1000.0);
  } else {
    std::snprintf(buffer, sizeof(buffer), "%.4g", value);
  }
  return buffer;
}

struct Range {
  double low = std::numeric_limits<double>::infinity();
  double high = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (!std::isfinite(v)) return;
    low = std::min(low, v);
    high = std::max(high, v);
  }
  bool empty() const { return low > high; }
  // A range with some width, so that a flat line sits in the middle.
  void widen() {
    if (empty()) {
      low = 0;
      high = 1;
    } else if (high - low < 1e-12 * std::max(1.0, std::fabs(high))) {
      const double pad = std::max(std::fabs(low) * 0.1, 0.5);
      low -= pad;
      high += pad;
    }
  }
};

void text(std::ostringstream& out, double x, double y, const std::string& content, const std::string& attributes) {
  out << "<text x=\"" << number(x) << "\" y=\"" << number(y) << "\" " << attributes << ">" << xml_escape(content)
      << "</text>\n";
}

}  // namespace

std::string xml_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::vector<double> nice_ticks(double low, double high, int count) {
  if (!(high > low) || count < 1) return {low};
  const double raw = (high - low) / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double residual = raw / magnitude;
  const double step = magnitude * (residual <= 1.0 ? 1.0 : residual <= 2.0 ? 2.0 : residual <= 5.0 ? 5.0 : 10.0);
  std::vector<double> ticks;
  for (double t = std::ceil(low / step - 1e-9) * step; t <= high + step * 1e-9; t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0.0 : t);
  }
  return ticks;
}

std::string line_charts_svg(const std::vector<Panel>& panels, int columns) {
  if (panels.empty()) throw Error("a figure needs at least one panel");
  columns = std::max(1, std::min(columns, static_cast<int>(panels.size())));
  // One colour per label, in order of appearance.
  std::map<std::string, size_t> colour;
  std::vector<std::string> labels;
  for (const auto& panel : panels) {
    for (const auto& s : panel.series) {
      if (s.x.size() != s.y.size()) {
        throw Error("series '" + s.label + "' of panel '" + panel.title + "' has " + std::to_string(s.x.size()) +
                    " x values and " + std::to_string(s.y.size()) + " y values");
      }
      if (colour.emplace(s.label, labels.size()).second) labels.push_back(s.label);
    }
  }
  const int width = columns * kPanelWidth;
  const int legend_per_row = std::max(1, width / kLegendItemWidth);
  const int legend_rows = static_cast<int>((labels.size() + legend_per_row - 1) / legend_per_row);
  const int legend_height = 10 + legend_rows * kLegendRowHeight;
  const int grid_rows = static_cast<int>((panels.size() + columns - 1) / columns);
  const int height = legend_height + grid_rows * kPanelHeight;

  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  out << "<g class=\"legend\">\n";
  for (size_t i = 0; i < labels.size(); ++i) {
    const double x = 12 + static_cast<double>(i % legend_per_row) * kLegendItemWidth;
    const double y = 10 + static_cast<double>(i / legend_per_row) * kLegendRowHeight;
    const char* c = kPalette[i % std::size(kPalette)];
    out << "<line x1=\"" << number(x) << "\" y1=\"" << number(y + 8) << "\" x2=\"" << number(x + 24) << "\" y2=\""
        << number(y + 8) << "\" stroke=\"" << c << "\" stroke-width=\"2.5\"/>\n";
    text(out, x + 30, y + 12, labels[i], "");
  }
  out << "</g>\n";

  for (size_t p = 0; p < panels.size(); ++p) {
    const Panel& panel = panels[p];
    const double ox = static_cast<double>(static_cast<int>(p) % columns) * kPanelWidth;
    const double oy = legend_height + static_cast<double>(static_cast<int>(p) / columns) * kPanelHeight;
    const double x0 = ox + kLeft, x1 = ox + kPanelWidth - kRight, y0 = oy + kTop, y1 = oy + kPanelHeight - kBottom;
    const auto ty = [&](double v) { return panel.log_y ? (v > 0 ? std::log10(v) : std::nan("")) : v; };
    Range xr, yr;
    for (const auto& s : panel.series) {
      for (size_t i = 0; i < s.x.size(); ++i) {
        if (!std::isfinite(ty(s.y[i]))) continue;
        xr.add(s.x[i]);
        yr.add(ty(s.y[i]));
      }
    }
    xr.widen();
    yr.widen();
    const double pad = (yr.high - yr.low) * 0.05;
    yr.low -= pad;
    yr.high += pad;
    const auto px = [&](double x) { return x0 + (x - xr.low) / (xr.high - xr.low) * (x1 - x0); };
    const auto py = [&](double y) { return y1 - (y - yr.low) / (yr.high - yr.low) * (y1 - y0); };

    out << "<g class=\"panel\">\n";
    text(out, (x0 + x1) / 2, oy + 18, panel.title, "text-anchor=\"middle\" font-weight=\"bold\"");
    out << "<rect x=\"" << number(x0) << "\" y=\"" << number(y0) << "\" width=\"" << number(x1 - x0) << "\" height=\""
        << number(y1 - y0) << "\" fill=\"none\" stroke=\"#444\"/>\n";
    for (const double t : nice_ticks(xr.low, xr.high)) {
      const double x = px(t);
      out << "<line x1=\"" << number(x) << "\" y1=\"" << number(y0) << "\" x2=\"" << number(x) << "\" y2=\""
          << number(y1) << "\" stroke=\"#e4e4e4\"/>\n";
      text(out, x, y1 + 15, tick_label(t), "text-anchor=\"middle\"");
    }
    std::vector<double> y_ticks;
    if (panel.log_y && std::floor(yr.high) - std::ceil(yr.low) >= 1) {
      for (double e = std::ceil(yr.low); e <= yr.high; e += 1) y_ticks.push_back(e);
    } else if (panel.log_y) {  // less than a decade: round values, placed on the log scale
      for (const double t : nice_ticks(std::pow(10.0, yr.low), std::pow(10.0, yr.high), 4)) {
        if (t > 0) y_ticks.push_back(std::log10(t));
      }
    } else {
      y_ticks = nice_ticks(yr.low, yr.high);
    }
    for (const double t : y_ticks) {
      const double y = py(t);
      out << "<line x1=\"" << number(x0) << "\" y1=\"" << number(y) << "\" x2=\"" << number(x1) << "\" y2=\""
          << number(y) << "\" stroke=\"#e4e4e4\"/>\n";
      text(out, x0 - 6, y + 4, tick_label(panel.log_y ? std::pow(10.0, t) : t), "text-anchor=\"end\"");
    }
    text(out, (x0 + x1) / 2, y1 + 34, panel.x_label, "text-anchor=\"middle\"");
    text(out, 0, 0, panel.y_label + (panel.log_y ? " (log)" : ""),
         "text-anchor=\"middle\" transform=\"translate(" + number(ox + 16) + " " + number((y0 + y1) / 2) +
             ") rotate(-90)\"");
    for (const auto& s : panel.series) {
      const char* c = kPalette[colour[s.label] % std::size(kPalette)];
      std::ostringstream points;
      size_t n = 0;
      for (size_t i = 0; i < s.x.size(); ++i) {
        const double y = ty(s.y[i]);
        if (!std::isfinite(y) || !std::isfinite(s.x[i])) continue;
        points << (n++ ? " " : "") << number(px(s.x[i])) << "," << number(py(y));
      }
      if (n == 0) continue;
      out << "<polyline class=\"series\" data-label=\"" << xml_escape(s.label) << "\" fill=\"none\" stroke=\"" << c
          << "\" stroke-width=\"1.8\" points=\"" << points.str() << "\"/>\n";
      if (n <= 40) {
        for (size_t i = 0; i < s.x.size(); ++i) {
          const double y = ty(s.y[i]);
          if (!std::isfinite(y) || !std::isfinite(s.x[i])) continue;
          out << "<circle cx=\"" << number(px(s.x[i])) << "\" cy=\"" << number(py(y)) << "\" r=\"2.5\" fill=\"" << c
              << "\"/>\n";
        }
      }
    }
    out << "</g>\n";
  }
  out << "</svg>\n";
  return out.str();
}

std::string heat_map_svg(const HeatMap& map) {
  if (map.weights.size() != map.rows.size()) {
    throw Error("the heat map has " + std::to_string(map.rows.size()) + " row labels and " +
                std::to_string(map.weights.size()) + " rows of weights");
  }
  for (size_t r = 0; r < map.weights.size(); ++r) {
    if (map.weights[r].size() != map.columns.size()) {
      throw Error("row " + std::to_string(r + 1) + " of the heat map has " + std::to_string(map.weights[r].size()) +
                  " weights for " + std::to_string(map.columns.size()) + " columns");
    }
  }
  constexpr int kCellWidth = 30, kCellHeight = 24, kCharWidth = 8;
  size_t longest_row = 1, longest_column = 1;
  for (const auto& l : map.rows) longest_row = std::max(longest_row, l.size());
  for (const auto& l : map.columns) longest_column = std::max(longest_column, l.size());
  const int left = 14 + static_cast<int>(std::min<size_t>(longest_row, 30)) * kCharWidth;
  const int top = 40 + static_cast<int>(std::min<size_t>(longest_column, 30)) * kCharWidth;
  const int width = std::max(left + static_cast<int>(map.columns.size()) * kCellWidth + 20, 240);
  const int height = top + static_cast<int>(map.rows.size()) * kCellHeight + 20;
  std::ostringstream out;
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
      << "\" viewBox=\"0 0 " << width << " " << height << "\" font-family=\"sans-serif\" font-size=\"13\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  text(out, 10, 20, map.title, "font-weight=\"bold\"");
  for (size_t c = 0; c < map.columns.size(); ++c) {
    const double x = left + (static_cast<double>(c) + 0.5) * kCellWidth + 4;
    text(out, 0, 0, map.columns[c],
         "class=\"column\" transform=\"translate(" + number(x) + " " + number(top - 6) + ") rotate(-90)\"");
  }
  for (size_t r = 0; r < map.rows.size(); ++r) {
    const double y = top + static_cast<double>(r) * kCellHeight;
    text(out, left - 6, y + kCellHeight * 0.7, map.rows[r], "class=\"row\" text-anchor=\"end\"");
    for (size_t c = 0; c < map.columns.size(); ++c) {
      const double w = std::clamp(map.weights[r][c], 0.0, 1.0);
      const auto channel = [&](int dark) { return static_cast<int>(std::lround(255 - (255 - dark) * w)); };
      char fill[16];
      std::snprintf(fill, sizeof(fill), "#%02x%02x%02x", channel(8), channel(48), channel(107));
      out << "<rect class=\"cell\" x=\"" << left + static_cast<int>(c) * kCellWidth << "\" y=\"" << number(y)
          << "\" width=\"" << kCellWidth << "\" height=\"" << kCellHeight << "\" fill=\"" << fill
          << "\" stroke=\"#f0f0f0\"><title>" << xml_escape(map.rows[r]) << " / " << xml_escape(map.columns[c]) << ": "
          << number(map.weights[r][c]) << "</title></rect>\n";
    }
  }
  out << "</svg>\n";
  return out.str();
}

}  // namespace tandem::plot
