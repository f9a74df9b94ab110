// What every grouped op's judge shares (moe.gemm, moe.quant): each expert judged as its dense
// case, merged into one result whose messages name the expert and its rows; the rows that are not
// tokens checked untouched; the failing case's map by expert x column tile.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "harness/core/case_result.hpp"
#include "reference/moe/expert_rows.hpp"

namespace ulpgate::moe {

std::string rows_text(int64_t first, int64_t count);  // "row 3", "rows 3-9"

// Adds expert e's dense result to the grouped one: counts, verdict, its message (or `story`, what
// the grouped kernel did instead, which makes the verdict `layout`) and first bad elements, named
// by the expert and its rows of `tensor` ("expert 3 (36 tokens, D rows 384-419): ...").
void add_expert(CaseResult& total, const ExpertRows& rows, int64_t e, std::string_view tensor, const CaseResult& r,
                const std::string& story);

// Rows that are not tokens and were written (written(row)), as "rows 3-127 (padding after expert
// 1's tokens); ..." (at most four runs); "" when none was.
std::string written_off_tokens(const ExpertRows& rows, const std::function<bool(int64_t row)>& written);

// Bad elements by expert x tile of `tile` columns, the last row for the rows that are not tokens.
ErrorGrid expert_grid(const ExpertRows& rows, int64_t cols, int64_t tile, const std::string& what,
                      const std::function<bool(int64_t row, int64_t col)>& bad);
// The same map from its counts, for a judge that counts an expert at a time: cells[e * tiles + t]
// (e = experts(): the rows that are not tokens), tiles = column tiles of `tile`.
ErrorGrid expert_grid(const ExpertRows& rows, int64_t tile, const std::string& what, std::vector<float> cells);

}  // namespace ulpgate::moe
