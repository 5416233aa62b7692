// Structured (separable) assignment for LightRNN word reallocation.
//
// V words, an R x C table (R*C >= V), cost(w, (i, j)) = Lr[w, i] + Lc[w, j].  Find the one-to-one
// map of words into cells of minimum total cost, exactly, without ever forming the V x (R*C) cost
// matrix (at V = 10^6 that would be 10^12 entries).
//
// Words whose costs are the same in every cell (flat: a sampled loss pass leaves the words it did
// not see at zero) are set aside first when they are at least a quarter of the words: they cost
// the same anywhere, so the optimum is that of the other words over the whole table, the flat
// words filling the cells left (memory: a copy of the other words' costs).
// Method: column generation (delayed pricing) on the bipartite matching LP.
//   1. Candidates: each word's k cheapest rows x k cheapest columns, plus a cell that makes a
//      complete matching certain (the current table's cell, else the frequency-order cell).
//      O(V (R + C)) with nth_element.
//   2. Solve the sparse problem exactly (sparse_lap.hpp: shortest augmenting paths, or, on a
//      table at most 1% empty but for early-training losses below 65,536 words, auction then
//      shortest paths), warm-started from the previous round's matching and prices, each warm
//      round on each word's arcs of least reduced cost.  The first solve's auction also prices
//      every word between its last phases (at eps <= 1e-6 of the cost range) and adds the
//      violating cells there, where more arcs cost little; on early-training losses of
//      lazy_min_words words or more it stops at 32 times the lazy rounds' eps (lazy_eps).
//   3. Pricing: with the cell prices p >= 0 and word duals u of the sparse optimum, a cell (i, j)
//      prices out for word w when Lr[w,i] + Lc[w,j] + p_ij < u_w.  For each word, rows are
//      pruned by the bound Lr[w,i] + min_j Lc[w,j] + min_j p_ij, columns by the bound
//      Lc[w,j] + max(min_i Lr[w,i] + min_i p_ij, min_i (Lr[w,i] + min_j p_ij)); only the rows
//      that pass are scanned, on the columns that pass.
//      Violating cells are added and step 2 repeats.  When no cell prices out, (u', p) with
//      u'_w = min over ALL cells of (cost + p) is a feasible dual of the full problem and
//      sum(u') - sum(p) is a lower bound equal to the objective: a certificate of optimality.
//   4. The certificate in floating point: each u'_w is lowered by the most its rounding can have
//      hidden (every compared value is a sum of three doubles, off by at most 2u times the sum
//      of their magnitudes, bounded per word), rectangular problems count max(p, 0), and the
//      terms are summed by compensated summation with a proven error bound, so lower_bound is at
//      most the exact optimum at any dynamic range.  `certified` holds when a proven upper bound
//      on the table's exact cost exceeds lower_bound by at most max(1e-9, rel_tol) times the sum
//      of the table's absolute cost terms; if not once pricing converges (prices too coarse for
//      the costs), the rounds restart once from shortest paths.
// Numerical safety: costs must be finite, and the sum over words of each word's largest
// |Lr| + |Lc| must be finite (a table's cost could overflow otherwise): std::invalid_argument
// names the entry.  Costs large enough for prices (up to ~ (cells + 2) times the largest cost) to
// overflow are solved on a copy scaled by a power of two.  The auction's eps ignores outlying
// costs (see sparse_auction.cpp), so that prices stay at the scale of the costs that matter.
// Complexity per round: O(V (R + C)) for the bounds plus one entry per (row, column) that both
// pass, plus the sparse solve.
// Set LIGHTRNN_SOLVER_TRACE in the environment to print each round's and each auction phase's
// work and time to stderr.
// Deterministic: words are split into fixed contiguous blocks for the threads and the results
// are merged in word order; the auction's and the row reduction's bids are computed in batches
// that do not depend on the thread count (bid_batch.hpp).  The same input gives the same table at
// any number of threads.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sparse_lap.hpp"

namespace lightrnn {

enum class TableMethod { Auto = 0, ShortestPath = 1, Auction = 2 };

struct TableOptions {
    int32_t k = 0;                 // candidate rows and columns per word; 0: auto_candidates(words left
                                   // once the words of flat costs are set aside)
    int32_t max_rounds = 500;      // pricing rounds before giving up (result then uncertified)
    int32_t max_add_per_word = 8;  // most-violating cells added per word per round
    int32_t threads = 0;           // 0 = hardware concurrency (capped at 8); at most 256 are used
    int32_t phase_pricing = 5;        // pricing passes in the first auction, after each phase once
    double phase_pricing_eps = 1e-6;  // eps <= this times the cost range, then at the final eps
                                      // (5 passes: the fastest count measured; docs/NOTES.md,
                                      // "More pricing inside the first auction")
    double rel_tol = 1e-12;        // a cell prices out if it beats u_w by more than
                                   // rel_tol * (|u_w| + |min Lr[w]| + |min Lc[w]|); finite, >= 0
    double max_seconds = 0.0;      // time budget (0 = none): then the best table found so far
                                   // is returned with its proven gap (finite, >= 0)
    double gap_tol = 0.0;          // stop once the proven gap is within gap_tol * |objective|
                                   // (0 = exact; finite, >= 0)
    int32_t lazy_min_words = 65536;  // warm rounds may leave rows to the next round from this many
                                     // words, and below it in the first rounds of a solve that
                                     // adds the greedy seed (docs/NOTES.md, "Lazy rounds"; tests
                                     // set it lower)
    double lazy_eps = 3e-4;        // their row reductions bid this times the words' mean least
                                   // cost above exact (0 = exact; tests set it larger)
    TableMethod method = TableMethod::Auto;
    bool greedy_seed = true;       // seed the candidates with a greedy table when they crowd few cells
};

struct TableResult {
    std::vector<int32_t> rows, cols;  // (V) new cell of each word
    double objective = 0.0;           // sum of costs of the new table
    double current_objective = 0.0;   // same for `current` (NaN when not given)
    double lower_bound = 0.0;         // proven lower bound on the optimum of the FULL problem
    bool certified = false;           // proven within max(1e-9, rel_tol) * sum |cost terms| of the optimum
    std::string stopped;              // "optimal", "gap_tol", "max_seconds" or "max_rounds"
    int32_t pricing_rounds = 0;
    int32_t lazy_rounds = 0;          // rounds solved only within eps, or that left rows free for the
                                      // next one (their table places those rows greedily in empty cells)
    int64_t arcs = 0;                 // arcs in the final candidate graph
    int64_t augmentations = 0;
    int64_t auction_bids = 0;
    std::string method;               // algorithm used for the first sparse solve
    bool greedy_seeded = false;       // the candidates crowded fewer cells than words: greedy cells added
    double time_candidates = 0.0, time_solve = 0.0, time_pricing = 0.0;  // seconds
};

// The default candidate rows and columns per word for a problem of V words: 5 from 65,536 words
// (262,144: 30.2 -> 27.2 s), 4 below (4,096: median 0.046 vs 0.055 s; 16,384: 0.232 vs 0.259 s);
// benchmarks/solver.py, 2 threads.
int32_t auto_candidates(int64_t V);

// Throws std::invalid_argument for bad sizes or options (max_rounds < 1, threads < 0, k < 0,
// max_add_per_word < 1, rel_tol, max_seconds or gap_tol not finite or < 0), a current table outside the table or with two
// words in a cell, non-finite costs, or costs whose table could cost more than float64 holds;
// Infeasible when V > R * C.
template <typename T>
TableResult solve_table(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C,
                        const int32_t* current_rows, const int32_t* current_cols,
                        const TableOptions& opt, const InterruptFn& interrupted);

}  // namespace lightrnn
