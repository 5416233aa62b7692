// Exact minimum-cost assignment on sparse bipartite graphs (rows <= columns, every row matched).
//
// Problem.  Rows i = 0..n-1, columns j = 0..m-1 (n <= m), arcs (i, j) with finite costs c_ij in
// CSR form.  Find a matching that covers every row and minimises the sum of its arc costs.
// Dual (min form): row duals u_i, column prices p_j, reduced cost r_ij = c_ij + p_j - u_i.
// Optimality certificate: r_ij >= 0 on every arc, r_ij = 0 on matched arcs, and (rectangular
// case only) p_j >= 0 with p_j = 0 on unmatched columns; then sum(u) - sum(p) equals the
// matching's cost (LP duality), so it is optimal.
//
// Two algorithms, both exact:
//
// 1. Successive shortest augmenting paths (Dijkstra with potentials): the sparse form of the
//    Jonker-Volgenant / Crouse rectangular method (D. F. Crouse, "On implementing 2D rectangular
//    assignment algorithms", IEEE TAES 52(4), 2016; R. Jonker and A. Volgenant, Computing 38,
//    1987).  Each augmentation grows a shortest-path tree over reduced costs from one free row
//    until it pops a free column, then updates the duals so the path becomes tight.
//    Complexity O(n (E + m) log m) worst case; with a row-reduction start most rows are matched
//    greedily and the remaining searches are short.
//
// 2. Epsilon-scaling forward auction (D. P. Bertsekas, "The auction algorithm: a distributed
//    relaxation method for the assignment problem", Annals of OR 14, 1988; Bertsekas and
//    Castanon, "A forward/reverse auction algorithm for asymmetric assignment problems",
//    Computational Optimization and Applications 1, 1992).  Gauss-Seidel bidding with
//    epsilon-complementary slackness, epsilon divided by `scale_factor` per phase; prices can be
//    warm-started.  Epsilon follows the range of the costs that matter: a range more than 2^20
//    times the 90th percentile of the rows' own spreads is set by outliers and is capped there,
//    so that a few huge costs do not raise every price beyond the precision of the others.  Complexity O(n E log(n C / eps)) (pseudo-polynomial).  The auction's
//    epsilon-optimal result is made exact by `repair_and_finish`: free columns get price 0, row
//    duals are recomputed, arcs that are not exactly tight are unmatched, and (1) finishes.
//
// Determinism: ties are broken by the smallest column index; the auction's and the row
// reduction's bids are computed in batches against one snapshot of the prices (on `threads`
// threads) and applied in a fixed order, so the same input gives the same output bit for bit,
// whatever the number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace lightrnn {

// Thrown when no matching covers every row.
struct Infeasible : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Thrown when the interrupt callback asks to stop (Ctrl-C).
struct Interrupted : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Returns true to abort; called every few thousand units of work.
using InterruptFn = std::function<bool()>;

struct CsrGraph {
    int32_t n_rows = 0;
    int32_t n_cols = 0;
    const int64_t* indptr = nullptr;   // (n_rows + 1)
    const int32_t* indices = nullptr;  // (nnz) column of each arc, any order within a row
    const double* cost = nullptr;      // (nnz) finite
    // Each row's arcs are in increasing (cost, column) order: the settle's phases then read them
    // in place instead of making a sorted copy of the graph (no algorithm's result depends on
    // the order of a row's arcs).
    bool rows_by_cost = false;
};

// Sorts one row's arcs (cols[0..n), costs[0..n)) in place into increasing (cost, column) order;
// `buf` is scratch space.
void sort_arcs_by_cost(int32_t* cols, double* costs, int64_t n, std::vector<std::pair<double, int32_t>>& buf);

struct LapState {
    std::vector<int32_t> row_to_col;  // (n_rows) -1 = free
    std::vector<int32_t> col_to_row;  // (n_cols) -1 = free
    std::vector<double> u;            // (n_rows) row duals
    std::vector<double> p;            // (n_cols) column prices >= 0
    int64_t augmentations = 0;        // shortest-path searches run
    int64_t auction_bids = 0;         // bids placed by the auction
};

// Fresh state: p = 0, u_i = min_j c_ij, each row matched to its cheapest column if still free.
LapState row_reduction_start(const CsrGraph& g);

// Make `st` satisfy the certificate's invariants on `g` (u from the prices, non-tight matched
// arcs unmatched; rectangular case: negative prices set to 0), then run shortest augmenting
// paths for every free row; rectangular case: a column left free with a positive price (its row
// moved, or it was left so by an earlier call) is then settled by a reverse search that empties
// the cheapest column to empty instead (see sparse_settle.cpp).  Square
// problems keep every price but those of columns still free after the row reduction, which
// drop to the least dual-feasible value, so a warm start after adding arcs re-searches only
// the rows whose new arcs undercut their match.  Throws Infeasible.
// arr_min_free: run the augmenting row reduction first only when at least this fraction of the
// rows is free (0: always); the rest go straight to the shortest-path searches.
// settle = false (rectangular case): leave columns that end free with a positive price as they
// are (dual feasible, matched arcs tight, but the duality gap is the sum of those prices); a
// later call with settle = true, or settle_free_columns, closes it.
// threads: the row reduction computes each batch of bids on this many threads (the result does
// not depend on it).
// max_unsearched >= 0: when the row reduction leaves 1 to max_unsearched rows free, stop there:
// they stay free, their duals not updated, and nothing is settled (a later call goes on).
// eps > 0: an approximate solve.  A matched row stays matched when its arc is within eps of its
// cheapest, and each bid of the row reduction raises its column's price eps above an exact bid
// (so it cannot cycle on ties).  The duals stay feasible and each row ends within eps of its
// cheapest arc; a later call with eps = 0 makes it exact.
void repair_and_finish(const CsrGraph& g, LapState& st, const InterruptFn& interrupted, double arr_min_free = 0.0,
                       bool settle = true, int64_t max_unsearched = -1, int threads = 1, double eps = 0.0);

// Rectangular case: settles every free column whose price is positive (see repair_and_finish).
// Returns how many there were.
int64_t settle_free_columns(const CsrGraph& g, LapState& st, const InterruptFn& interrupted);

// Exact solve by shortest augmenting paths from a row-reduction start.
LapState solve_ssp(const CsrGraph& g, const InterruptFn& interrupted);

// Called after each auction phase with the state (prices set, assignment complete at that
// phase's eps), eps relative to the first graph's cost range, and the graph; it may replace the
// graph by one with more arcs for the same rows and columns (column generation between phases)
// and then returns true.  After the last phase, true runs one more phase at the final eps (and
// calls the hook again after it): the hook must eventually return false.
using PhaseHook = std::function<bool(const LapState& st, double rel_eps, CsrGraph& g)>;

// The auction divides epsilon by this per phase.  On LightRNN losses, real and synthetic, 4
// takes 6-30% fewer bids than 8 (and fewer than 6 or 16); 3 takes fewer still on the real
// 200,000-word matrix but left long searches after it on synthetic losses, and 2 was slower on
// both (figures in docs/NOTES.md, "Auction scale").
constexpr double kAuctionScaleFactor = 4.0;

// Exact solve: epsilon-scaling auction (from `warm_prices` if non-empty) then repair_and_finish.
// With `hook`, the graph may grow between phases; the final graph is written back to `g_out`.
// finish = false: return after the last phase (a complete matching within eps of optimal, the
// caller repairs it), e.g. to drop rows that were only there to make the problem square.
// eps_floor: the final eps is at least this (the repair after makes the result exact whatever
// the final eps; a caller whose next steps only need the prices within eps_floor stops there).
LapState solve_auction(const CsrGraph& g, const std::vector<double>& warm_prices,
                       const InterruptFn& interrupted, double scale_factor = kAuctionScaleFactor,
                       const PhaseHook& hook = nullptr, CsrGraph* g_out = nullptr, bool finish = true,
                       int threads = 1, double eps_floor = 0.0);

// The entry point for costs from outside: checks them (finite, and the sum over rows of each
// row's largest |cost| finite, so that no matching's cost overflows; std::invalid_argument
// otherwise, naming the arc), then solves by shortest paths or by the auction.  Costs so large
// that prices (up to ~ (columns + 2) times the largest |cost|) could overflow are solved scaled
// by a power of two, which moves no optimum (exact but for underflow of costs below 2^-1000 of
// the largest); the duals are scaled back.
LapState solve_checked(const CsrGraph& g, bool auction, const InterruptFn& interrupted);

// Sum of matched arc costs (looks the arcs up in `g`).
double matching_cost(const CsrGraph& g, const LapState& st);

// Checks r >= -tol on all arcs, r <= tol on matched ones, p >= 0, p = 0 on free columns.
// Returns the largest violation found (0 when the certificate holds exactly).
double certificate_violation(const CsrGraph& g, const LapState& st);

}  // namespace lightrnn
