// Inline SVG charts for the HTML report (html_report.hpp): plain functions from data to the text
// of one <svg> element, to be pasted into a page as is. Each chart carries its own size, fonts and
// colours as attributes (no style sheet, no script, no id, no external reference), so any number
// of them fit in one page and print as they show. Every string from data is escaped; numbers are
// written with a fixed number of decimals by std::to_chars (no locale), so the same data gives
// the same bytes. Text widths are estimated from the character count, as there is no layout
// engine to ask: labels that would not fit their slot are turned or shortened, never overlapped.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "harness/core/case_result.hpp"

namespace ulpgate {

// Vertical bars: one per label, left to right, the value printed above each bar.
struct SvgBar {
  std::string label;    // under the bar ("<=4", "non-finite")
  double value = 0;     // >= 0; 0 draws no bar
  std::string tooltip;  // the bar's <title>; empty: "label: value"
};

struct SvgBarChart {
  std::string title, x_label, y_label;
  std::vector<SvgBar> bars;
  // Heights proportional to log10(1 + value): a bin of 3 stays visible next to one of 10^7, and 0
  // still draws nothing. Axis ticks at powers of ten.
  bool log_y = false;
};

std::string svg_bar_chart(const SvgBarChart& chart);

// Horizontal bars, one per row, each row's label on its own line above its bar (case ids are long:
// a label column beside the bars would take half the width).
struct SvgHBar {
  std::string label;
  double value = 0;         // >= 0
  double target = -1;       // drawn as a tick across the bar; < 0: none
  std::string value_text;   // printed after the bar; empty: the value
  bool flagged = false;     // drawn in the failure colour (the row missed its target)
};

struct SvgHBarChart {
  std::string title, value_label;  // value_label names the axis: "% of D2D copy bandwidth"
  std::vector<SvgHBar> bars;
  double reference = -1;           // a vertical line across every bar (100 = the copy roofline)
  std::string reference_label;     // printed at the top of that line
};

std::string svg_hbar_chart(const SvgHBarChart& chart);

// A heat map of an ErrorGrid: cell (r, c) = cells[r * cols + c], row 0 at the top, light to dark
// red from the smallest to the largest finite value, NaN cells grey and struck through ("no
// value"), a colour legend with min and max, and per cell a <title> naming row, column and value.
// A grid larger than kHeatMapMaxCols x kHeatMapMaxRows is drawn in blocks of source cells, each
// block showing the largest value in it (NaN only when all are NaN), and the subtitle says so:
// the map stays within 720 px and a few thousand elements whatever the grid.
inline constexpr int kHeatMapMaxCols = 96, kHeatMapMaxRows = 64;

std::string svg_heat_map(const ErrorGrid& grid);

// v with `decimals` digits after the point, whatever the locale ("4259.8"; never "-0.0"): the
// charts' coordinates, and the numbers of the report's tables.
std::string fixed_number(double v, int decimals);

// A number as a chart prints it: integers below 10^4 in full, larger values with 3 significant
// digits and k / M / G / T, the rest with up to 3 significant digits (12.5, 0.25, 1e-05).
std::string svg_compact_number(double v);

}  // namespace ulpgate
