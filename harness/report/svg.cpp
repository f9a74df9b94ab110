#include "harness/report/svg.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>

#include "harness/report/junit.hpp"  // xml_escape

namespace ulpgate {

namespace {

constexpr double kLabelFont = 12, kSmallFont = 11, kTitleFont = 14;
constexpr std::string_view kInk = "#222", kMuted = "#666", kGrid = "#e3e3e3";
// A white outline under text that crosses grid or reference lines, so that it stays legible.
constexpr std::string_view kHalo = " stroke=\"#fff\" stroke-width=\"3\" paint-order=\"stroke\"";
constexpr std::string_view kBarFill = "#4a78b5", kFailFill = "#c0392b", kTargetInk = "#111";

// ---- text and numbers -------------------------------------------------------------------------

std::string fixed(double v, int decimals) { return fixed_number(v, decimals); }

std::string px(double v) { return fixed(v, 1); }

std::string general3(double v) {
  char buf[64];
  return std::string(buf, std::to_chars(buf, buf + sizeof buf, v, std::chars_format::general, 3).ptr);
}

size_t code_points(std::string_view s) {
  return size_t(std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

// A generous estimate of the rendered width of a sans-serif label (0.6 em a character).
double text_width(std::string_view s, double font_px) { return double(code_points(s)) * 0.6 * font_px; }

// The first `n` code points of s.
std::string_view prefix_points(std::string_view s, size_t n) {
  size_t i = 0;
  for (size_t seen = 0; i < s.size(); ++i)
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80 && seen++ == n) break;
  return s.substr(0, i);
}

// The last `n` code points of s.
std::string_view suffix_points(std::string_view s, size_t n) {
  const size_t total = code_points(s);
  return n >= total ? s : s.substr(prefix_points(s, total - n).size());
}

// s shortened in the middle ("quant.group/vllm/…/normal/s1") to fit max_px: both ends of a case
// id say what it is (op, profile ... shape, seed). The full text stays in the element's <title>.
std::string fit_text(std::string_view s, double max_px, double font_px) {
  if (text_width(s, font_px) <= max_px) return std::string(s);
  const size_t keep = size_t(std::max(2.0, max_px / (0.6 * font_px) - 1));
  return std::string(prefix_points(s, keep - keep / 2)) + "\u2026" + std::string(suffix_points(s, keep / 2));
}

// ---- elements ---------------------------------------------------------------------------------

std::string attr(std::string_view name, std::string_view value) {
  return " " + std::string(name) + "=\"" + xml_escape(value) + "\"";
}

std::string title_element(std::string_view tooltip) {
  return tooltip.empty() ? "" : "<title>" + xml_escape(tooltip) + "</title>";
}

// <text>; `extra` holds further attributes (already formatted).
std::string text_element(double x, double y, std::string_view text, double font_px, std::string_view anchor = "start",
                         std::string_view fill = kInk, std::string_view extra = "") {
  return "<text x=\"" + px(x) + "\" y=\"" + px(y) + "\" font-size=\"" + fixed(font_px, 0) + "\"" +
         (anchor == "start" ? "" : attr("text-anchor", anchor)) + attr("fill", fill) + std::string(extra) + ">" +
         xml_escape(text) + "</text>\n";
}

std::string rect_element(double x, double y, double w, double h, std::string_view fill, std::string_view extra = "",
                         std::string_view tooltip = "") {
  const std::string open = "<rect" + std::string(extra) + " x=\"" + px(x) + "\" y=\"" + px(y) + "\" width=\"" + px(w) +
                           "\" height=\"" + px(h) + "\"" + attr("fill", fill);
  return tooltip.empty() ? open + "/>\n" : open + ">" + title_element(tooltip) + "</rect>\n";
}

std::string line_element(double x1, double y1, double x2, double y2, std::string_view stroke, double width = 1,
                         std::string_view extra = "") {
  return "<line x1=\"" + px(x1) + "\" y1=\"" + px(y1) + "\" x2=\"" + px(x2) + "\" y2=\"" + px(y2) + "\"" +
         attr("stroke", stroke) + " stroke-width=\"" + px(width) + "\"" + std::string(extra) + "/>\n";
}

// The <svg> element around a chart's body; its title doubles as the accessible name.
std::string svg_document(double width, double height, std::string_view title, const std::string& body) {
  const std::string w = fixed(std::ceil(width), 0), h = fixed(std::ceil(height), 0);
  return "<svg class=\"chart\" width=\"" + w + "\" height=\"" + h + "\" viewBox=\"0 0 " + w + " " + h +
         "\" role=\"img\"" + attr("aria-label", title) +
         " font-family=\"system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif\">\n" +
         title_element(title) + "\n" + body + "</svg>\n";
}

// ---- scales -----------------------------------------------------------------------------------

// 1, 2 or 5 x 10^k, the smallest at least `raw`: a tick step people read at a glance.
double nice_step(double raw) {
  if (!(raw > 0)) return 1;
  const double decade = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0})
    if (m * decade >= raw * (1 - 1e-12)) return m * decade;
  return 10 * decade;
}

// A linear axis from 0: ticks at multiples of a nice step, the top tick at or above `max`.
struct LinearAxis {
  double step = 1, top = 1;
  explicit LinearAxis(double max, int target_ticks = 5) {
    step = nice_step(max / target_ticks);
    top = std::max(step, std::ceil(max / step * (1 - 1e-12)) * step);
  }
  std::vector<double> ticks() const {
    std::vector<double> t;
    for (int i = 0; i * step <= top * (1 + 1e-12); ++i) t.push_back(i * step);
    return t;
  }
};

// The bar chart's y axis: linear, or log10(1 + v) with ticks at 0 and powers of ten.
struct ValueAxis {
  bool log = false;
  double top_value = 1;  // the value at the top of the plot
  std::vector<double> tick_values;

  ValueAxis(double max, bool log_scale) : log(log_scale) {
    if (!log) {
      const LinearAxis a(max);
      top_value = a.top;
      tick_values = a.ticks();
      return;
    }
    tick_values = {0, 1};
    top_value = 1;
    while (top_value < max * (1 - 1e-12)) tick_values.push_back(top_value *= 10);
  }
  double scaled(double v) const { return log ? std::log10(1 + std::max(0.0, v)) : std::max(0.0, v); }
  double fraction(double v) const { return std::min(1.0, scaled(v) / scaled(top_value)); }
};

// ---- heat map colours -------------------------------------------------------------------------

struct Rgb {
  double r, g, b;
};

// Light yellow (smallest) to dark red (largest): the eye goes to where errors are largest, and the
// smallest value (often 0) stays almost white.
constexpr std::array<Rgb, 5> kHeatStops = {
    Rgb{255, 251, 230}, Rgb{254, 217, 118}, Rgb{253, 141, 60}, Rgb{227, 26, 28}, Rgb{128, 0, 38}};
constexpr std::string_view kNoValueFill = "#d4d4d4", kNoValueStroke = "#8a8a8a";

std::string heat_colour(double t) {
  t = (t > 0 ? std::min(t, 1.0) : 0.0) * double(kHeatStops.size() - 1);  // NaN: the lightest
  const size_t i = std::min(size_t(t), kHeatStops.size() - 2);
  const double f = t - double(i);
  const Rgb& a = kHeatStops[i];
  const Rgb& b = kHeatStops[i + 1];
  char buf[8];
  auto channel = [f](double x, double y) { return int(std::lround(x + (y - x) * f)); };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", channel(a.r, b.r), channel(a.g, b.g), channel(a.b, b.b));
  return buf;
}

// ---- bar chart --------------------------------------------------------------------------------

std::string bar_tooltip(const SvgBar& bar) {
  return bar.tooltip.empty() ? bar.label + ": " + svg_compact_number(bar.value) : bar.tooltip;
}

// The y axis title, turned to read bottom-up along the axis.
std::string vertical_label(double x, double y_mid, std::string_view text) {
  return text_element(x, y_mid, text, kLabelFont, "middle", kMuted,
                      " transform=\"rotate(-90 " + px(x) + " " + px(y_mid) + ")\"");
}

}  // namespace

// Through to_chars: the same bytes whatever the locale.
std::string fixed_number(double v, int decimals) {
  char buf[400];  // DBL_MAX in fixed notation
  std::string s(buf, std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed, decimals).ptr);
  const bool negative_zero = s.front() == '-' && s.find_first_not_of("-0.") == std::string::npos;
  return negative_zero ? s.substr(1) : s;
}

std::string svg_compact_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v < 0 ? "-inf" : "inf";
  const double a = std::fabs(v);
  if (a < 1e4 && (v == std::floor(v) || a >= 1e3)) return fixed(v, 0);
  if (a < 1e4) return general3(v);
  constexpr std::array<std::string_view, 4> suffixes = {"k", "M", "G", "T"};
  double m = v;
  for (std::string_view suffix : suffixes) {
    m /= 1e3;
    const int decimals = std::fabs(m) < 10 ? 2 : std::fabs(m) < 100 ? 1 : 0;
    const double scale = std::pow(10.0, decimals);
    if (std::fabs(std::round(m * scale) / scale) >= 1000 && suffix != suffixes.back()) continue;  // 999.9995k: 1M
    std::string digits = fixed(m, decimals);
    if (digits.find('.') != std::string::npos) {
      while (digits.back() == '0') digits.pop_back();
      if (digits.back() == '.') digits.pop_back();
    }
    return digits + std::string(suffix);
  }
  return general3(v);
}

std::string svg_bar_chart(const SvgBarChart& chart) {
  double max_value = 0, widest_label = 0;
  for (const SvgBar& b : chart.bars) {
    max_value = std::max(max_value, b.value);
    widest_label = std::max(widest_label, text_width(b.label, kLabelFont));
  }
  const ValueAxis axis(max_value, chart.log_y);
  double widest_tick = 0;
  for (double t : axis.tick_values) widest_tick = std::max(widest_tick, text_width(svg_compact_number(t), kSmallFont));

  const double slot = 38, plot_h = 180;  // two 13-bin histograms side by side on a laptop
  // Labels wider than their slot are turned 40 degrees so neighbours cannot overlap.
  const bool turn_labels = widest_label > slot - 6;
  const double label_band = turn_labels ? widest_label * 0.65 + kLabelFont + 8 : kLabelFont + 10;
  const double left = (chart.y_label.empty() ? 8 : 24) + widest_tick + 8;
  const double top = 28 + kSmallFont + 6;  // title, then room for the value over the tallest bar
  const double plot_w = slot * double(std::max<size_t>(chart.bars.size(), 1));
  const double bottom = top + plot_h;
  const double width = std::max(left + plot_w + 12, text_width(chart.title, kTitleFont) + 16);
  const double height = bottom + label_band + (chart.x_label.empty() ? 4 : kLabelFont + 10);

  std::string body = text_element(8, 18, chart.title, kTitleFont, "start", kInk, " font-weight=\"600\"");
  double last_label_y = INFINITY;
  for (double t : axis.tick_values) {
    const double y = bottom - axis.fraction(t) * plot_h;
    if (last_label_y - y < kSmallFont + 2) continue;  // on a log axis, 1 sits just above 0
    last_label_y = y;
    body += line_element(left, y, left + plot_w, y, kGrid);
    body += text_element(left - 6, y + 4, svg_compact_number(t), kSmallFont, "end", kMuted);
  }
  for (size_t i = 0; i < chart.bars.size(); ++i) {
    const SvgBar& b = chart.bars[i];
    const double h = axis.fraction(b.value) * plot_h, x = left + slot * double(i), mid = x + slot / 2;
    if (b.value > 0)  // an empty bin draws no bar at all, not a hairline
      body += rect_element(x + slot * 0.15, bottom - h, slot * 0.7, h, kBarFill, " class=\"bar\"", bar_tooltip(b));
    body += text_element(mid, bottom - h - 4, svg_compact_number(b.value), kSmallFont, "middle",
                         b.value > 0 ? kInk : kMuted);
    if (turn_labels)
      body += text_element(mid + 4, bottom + 14, b.label, kLabelFont, "end", kInk,
                           " transform=\"rotate(-40 " + px(mid + 4) + " " + px(bottom + 14) + ")\"");
    else
      body += text_element(mid, bottom + kLabelFont + 4, b.label, kLabelFont, "middle");
  }
  body += line_element(left, top, left, bottom, kMuted) + line_element(left, bottom, left + plot_w, bottom, kMuted);
  if (!chart.y_label.empty())
    body += vertical_label(14, top + plot_h / 2, chart.y_label + (chart.log_y ? " (log scale)" : ""));
  if (!chart.x_label.empty())
    body += text_element(left + plot_w / 2, height - 6, chart.x_label, kLabelFont, "middle", kMuted);
  return svg_document(width, height, chart.title, body);
}

std::string svg_hbar_chart(const SvgHBarChart& chart) {
  constexpr double width = 720, left = 8, row_h = 40, bar_h = 14, label_gap = 16;
  double max_value = std::max(0.0, chart.reference), widest_value = 0;
  bool any_target = false;
  std::vector<std::string> value_texts;
  for (const SvgHBar& b : chart.bars) {
    max_value = std::max({max_value, b.value, b.target});
    any_target = any_target || b.target >= 0;
    value_texts.push_back(b.value_text.empty() ? svg_compact_number(b.value) : b.value_text);
    widest_value = std::max(widest_value, text_width(value_texts.back(), kSmallFont));
  }
  const LinearAxis axis(max_value);
  const double plot_w = width - left - widest_value - 16;
  const double top = 28 + (chart.reference >= 0 ? kSmallFont + 6 : 0);
  const double plot_bottom = top + row_h * double(chart.bars.size());
  const double height = plot_bottom + 22 + (chart.value_label.empty() ? 0 : kLabelFont + 8);
  auto x_of = [&](double v) { return left + std::clamp(v / axis.top, 0.0, 1.0) * plot_w; };

  std::string body = text_element(8, 18, chart.title, kTitleFont, "start", kInk, " font-weight=\"600\"");
  if (any_target) {  // a legend for the tick, in the title line's right end
    body += line_element(width - 70, 8, width - 70, 22, kTargetInk, 2);
    body += text_element(width - 64, 19, "target", kSmallFont, "start", kMuted);
  }
  for (double t : axis.ticks()) {
    const double x = x_of(t);
    body += line_element(x, top, x, plot_bottom, kGrid);
    body += text_element(x, plot_bottom + 14, svg_compact_number(t), kSmallFont, t == 0 ? "start" : "middle", kMuted);
  }
  for (size_t i = 0; i < chart.bars.size(); ++i) {
    const SvgHBar& b = chart.bars[i];
    const double y = top + row_h * double(i), bar_y = y + label_gap + 2, end = x_of(b.value);
    body += "<g>" + title_element(b.label + ": " + value_texts[i]) + "\n";
    body += text_element(left, y + 13, fit_text(b.label, width - left - 8, kLabelFont), kLabelFont, "start", kInk,
                         kHalo);
    if (b.value > 0)
      body += rect_element(left, bar_y, end - left, bar_h, b.flagged ? kFailFill : kBarFill, " class=\"hbar\"");
    double text_x = end;
    if (b.target >= 0) {
      const double tx = x_of(b.target);
      body += line_element(tx, bar_y - 3, tx, bar_y + bar_h + 3, kTargetInk, 2, " class=\"target\"");
      text_x = std::max(text_x, tx);  // the value text goes past the tick, not over it
    }
    const double reference_x = chart.reference >= 0 ? x_of(chart.reference) : -1;
    if (reference_x >= text_x && reference_x < text_x + 8 + text_width(value_texts[i], kSmallFont))
      text_x = reference_x;  // nor through the reference line
    body += text_element(text_x + 6, bar_y + bar_h - 3, value_texts[i], kSmallFont, "start",
                         b.flagged ? kFailFill : kInk);
    body += "</g>\n";
  }
  body += line_element(left, top, left, plot_bottom, kMuted);
  if (chart.reference >= 0) {
    const double x = x_of(chart.reference);
    body += line_element(x, top - 2, x, plot_bottom, kInk, 1.5, " stroke-dasharray=\"5 3\" class=\"reference\"");
    const bool near_right = x + text_width(chart.reference_label, kSmallFont) / 2 > width - 4;
    body += text_element(x, top - 6, chart.reference_label, kSmallFont, near_right ? "end" : "middle", kInk);
  }
  if (!chart.value_label.empty())
    body += text_element(left + plot_w / 2, height - 6, chart.value_label, kLabelFont, "middle", kMuted);
  return svg_document(width, height, chart.title, body);
}

namespace {

// The grid as drawn: blocks of block_rows x block_cols source cells, each the largest finite
// value in it (NaN when it holds none). Cells beyond grid.cells (a short vector) count as NaN.
struct DrawnGrid {
  int64_t block_rows = 1, block_cols = 1, rows = 0, cols = 0;
  std::vector<double> cells;
  double min = NAN, max = NAN;
  double neutral = NAN, spread = 0;  // with a neutral value: the largest finite |v - neutral|
  bool any_nan = false;

  explicit DrawnGrid(const ErrorGrid& g) : neutral(g.neutral) {
    block_rows = (g.rows + kHeatMapMaxRows - 1) / kHeatMapMaxRows;
    block_cols = (g.cols + kHeatMapMaxCols - 1) / kHeatMapMaxCols;
    rows = (g.rows + block_rows - 1) / block_rows;
    cols = (g.cols + block_cols - 1) / block_cols;
    cells.assign(size_t(rows * cols), NAN);
    for (int64_t r = 0; r < g.rows; ++r)
      for (int64_t c = 0; c < g.cols; ++c) {
        const size_t i = size_t(r * g.cols + c);
        const double v = i < g.cells.size() ? double(g.cells[i]) : NAN;
        if (std::isnan(v)) continue;
        double& cell = cells[size_t((r / block_rows) * cols + c / block_cols)];
        cell = std::isnan(cell) ? v : std::max(cell, v);
        if (std::isinf(v)) continue;  // drawn at the scale's end, but not stretching it
        min = std::isnan(min) ? v : std::min(min, v);
        max = std::isnan(max) ? v : std::max(max, v);
      }
    any_nan = std::any_of(cells.begin(), cells.end(), [](double v) { return std::isnan(v); });
    if (!std::isnan(neutral) && !std::isnan(min)) spread = std::max(std::fabs(min - neutral), std::fabs(max - neutral));
  }
  bool blocked() const { return block_rows > 1 || block_cols > 1; }
  double at(int64_t r, int64_t c) const { return cells[size_t(r * cols + c)]; }
  // Where a value lies between min and max; a uniform map is all light (0) or all dark.
  double fraction(double v) const {
    if (!std::isnan(neutral)) return std::isinf(v) ? 1 : spread > 0 ? std::fabs(v - neutral) / spread : 0;
    if (std::isinf(v) || !(max > min)) return v > 0 ? 1 : 0;
    return (v - min) / (max - min);
  }
};

// "row 3" or, for a block, "row 64-127".
std::string index_range(std::string_view name, int64_t first, int64_t block, int64_t count) {
  const int64_t last = std::min(first + block, count) - 1;
  return last > first ? std::string(name) + " " + std::to_string(first) + "\u2013" + std::to_string(last)
                      : std::string(name) + " " + std::to_string(first);
}

// A label every 1, 2, 5, 10, ... drawn cells along an axis, at least `min_gap_px` apart: with
// blocks of 2^k source cells the labels stay round numbers (0, 320, 640 rather than 0, 448, 896).
int64_t label_every(double cell_px, double min_gap_px) {
  return std::max<int64_t>(1, std::llround(nice_step(min_gap_px / cell_px)));
}

}  // namespace

std::string svg_heat_map(const ErrorGrid& grid) {
  const std::string row_name = grid.row_label.empty() ? "row" : grid.row_label;
  const std::string col_name = grid.col_label.empty() ? "col" : grid.col_label;
  const std::string value_name = grid.value_label.empty() ? "value" : grid.value_label;
  if (grid.rows <= 0 || grid.cols <= 0) {
    const std::string body = text_element(8, 18, grid.title, kTitleFont, "start", kInk, " font-weight=\"600\"") +
                             text_element(8, 40, "(empty grid)", kLabelFont, "start", kMuted);
    return svg_document(std::max(200.0, text_width(grid.title, kTitleFont) + 16), 52, grid.title, body);
  }
  const DrawnGrid g(grid);
  const double cell = std::clamp(std::min(640.0 / double(g.cols), 400.0 / double(g.rows)), 4.0, 24.0);
  const double map_w = cell * double(g.cols), map_h = cell * double(g.rows);
  const double tick_w = text_width(std::to_string(grid.rows - 1), kSmallFont);
  const double left = 8 + kLabelFont + 8 + tick_w + 6;
  const std::string subtitle =
      g.blocked() ? "each cell: the largest value in a block of " + std::to_string(g.block_rows) + " x " +
                        std::to_string(g.block_cols) + " of " + std::to_string(grid.rows) + " x " +
                        std::to_string(grid.cols)
                  : std::to_string(grid.rows) + " x " + std::to_string(grid.cols);
  const double top = 36 + kSmallFont + 10;  // title, subtitle, column labels
  const double legend_y = top + map_h + 30;
  const double height = legend_y + 44;
  const double legend_w = 240;
  const double width = std::max({left + map_w + 12, left + legend_w + 160, text_width(grid.title, kTitleFont) + 16,
                                 text_width(subtitle, kSmallFont) + 16});

  std::string body = text_element(8, 18, grid.title, kTitleFont, "start", kInk, " font-weight=\"600\"");
  body += text_element(8, 34, subtitle, kSmallFont, "start", kMuted);
  for (int64_t r = 0; r < g.rows; ++r)
    for (int64_t c = 0; c < g.cols; ++c) {
      const double v = g.at(r, c), x = left + cell * double(c), y = top + cell * double(r);
      const std::string where = index_range(row_name, r * g.block_rows, g.block_rows, grid.rows) + ", " +
                                index_range(col_name, c * g.block_cols, g.block_cols, grid.cols) + ": ";
      if (std::isnan(v)) {
        body += "<g class=\"no-value\">" + title_element(where + "no value") +
                rect_element(x, y, cell, cell, kNoValueFill) +
                line_element(x, y + cell, x + cell, y, kNoValueStroke) + "</g>\n";
      } else {
        body += rect_element(x, y, cell, cell, heat_colour(g.fraction(v)), " class=\"cell\"",
                             where + (g.blocked() ? "max " : "") + svg_compact_number(v) + " " + value_name);
      }
    }
  body += rect_element(left, top, map_w, map_h, "none", " stroke=\"#999\"");

  // Index labels: source indices of the drawn cells, far enough apart to be read.
  const int64_t every_row = label_every(cell, kSmallFont + 4), every_col = label_every(cell, 40);
  for (int64_t r = 0; r < g.rows; r += every_row)
    body += text_element(left - 4, top + cell * (double(r) + 0.5) + 4, std::to_string(r * g.block_rows), kSmallFont,
                         "end", kMuted);
  for (int64_t c = 0; c < g.cols; c += every_col)
    body += text_element(left + cell * (double(c) + 0.5), top - 5, std::to_string(c * g.block_cols), kSmallFont,
                         "middle", kMuted);
  body += vertical_label(8 + kLabelFont, top + map_h / 2, row_name);
  body += text_element(left + map_w / 2, top + map_h + 16, col_name + " \u2192", kLabelFont, "middle", kMuted);

  // The colour legend: ten steps from min to max, and the "no value" swatch when used.
  if (std::isnan(g.min)) {
    body += text_element(left, legend_y + 12, "no cell has a finite value", kLabelFont, "start", kMuted);
  } else {
    constexpr int steps = 10;
    for (int i = 0; i < steps; ++i)
      body += rect_element(left + legend_w / steps * i, legend_y, legend_w / steps, 12,
                           heat_colour(double(i) / (steps - 1)));
    body += rect_element(left, legend_y, legend_w, 12, "none", " stroke=\"#999\"");
    const bool centred = !std::isnan(g.neutral);
    body += text_element(left, legend_y + 26, centred ? "= " + svg_compact_number(g.neutral) : "min " + svg_compact_number(g.min),
                         kSmallFont, "start", kMuted);
    body += text_element(left + legend_w, legend_y + 26,
                         centred ? "off by " + svg_compact_number(g.spread) + " (range " + svg_compact_number(g.min) + " to " +
                                       svg_compact_number(g.max) + ")"
                                 : "max " + svg_compact_number(g.max),
                         kSmallFont, "end", kMuted);
    body += text_element(left + legend_w / 2, legend_y + 40, value_name, kSmallFont, "middle", kMuted);
  }
  if (g.any_nan) {
    const double x = left + legend_w + 24;
    body += rect_element(x, legend_y, 12, 12, kNoValueFill) + line_element(x, legend_y + 12, x + 12, legend_y, kNoValueStroke);
    body += text_element(x + 18, legend_y + 10, "no value", kSmallFont, "start", kMuted);
  }
  return svg_document(width, height, grid.title, body);
}

}  // namespace ulpgate
