// Helpers of the structured assignment (structured.cpp): threads, the candidate graph, a table's
// cost, a compensated sum with a proven error bound, the certificate check and the cost checks.
// Internal to the solver; included by its parts only.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "sparse_lap.hpp"
#include "structured.hpp"

namespace lightrnn {
namespace table_detail {

constexpr double kInf = std::numeric_limits<double>::infinity();

inline double now() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

inline int resolve_threads(int32_t requested, int64_t work) {
    int hw = static_cast<int>(std::thread::hardware_concurrency());
    // More threads than 256 only add start-up cost (and could exhaust the process's threads).
    int n = requested > 0 ? std::min<int>(requested, 256) : std::max(1, std::min(hw, 8));
    if (work < 4096) n = 1;
    return n;
}

// Run f(begin, end) over [0, n) in `threads` threads (the caller's among them), on blocks that
// each thread takes in turn as it finishes the last: the words' work differs along the
// vocabulary (pricing skips the words whose duals did not move and stops others early), and
// halves fixed in advance left one thread idle for much of a pass (figures in docs/NOTES.md,
// "Threads take blocks of words in turn").  Each call of f owns its block; f may be called
// several times per thread.
template <typename F>
void parallel_blocks(int64_t n, int threads, F&& f) {
    if (threads <= 1 || n <= 1) {
        f(int64_t{0}, n);
        return;
    }
    // About 16 blocks a thread, at least 64 items each: enough to even out, few enough that the
    // per-block buffers of f cost nothing.
    const int64_t block = std::max<int64_t>(64, n / (int64_t{16} * threads));
    std::atomic<int64_t> next{0};
    auto work = [&f, &next, n, block] {
        for (int64_t b = next.fetch_add(block); b < n; b = next.fetch_add(block)) f(b, std::min(n, b + block));
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& th : pool) th.join();
}

// Indices of the k smallest entries of x[0..n) (ties: smaller index), sorted.
template <typename T>
void smallest_k(const T* x, int32_t n, int32_t k, std::vector<int32_t>& idx, std::vector<int32_t>& out) {
    idx.resize(n);
    std::iota(idx.begin(), idx.end(), 0);
    auto less = [x](int32_t a, int32_t b) { return x[a] < x[b] || (x[a] == x[b] && a < b); };
    k = std::min(k, n);
    std::nth_element(idx.begin(), idx.begin() + (k - 1), idx.end(), less);
    out.assign(idx.begin(), idx.begin() + k);
    std::sort(out.begin(), out.end());
}

// Put `cell` into the sorted list `cw` unless it is there; true if it was added.
inline bool insert_sorted(std::vector<int32_t>& cw, int32_t cell) {
    auto it = std::lower_bound(cw.begin(), cw.end(), cell);
    if (it != cw.end() && *it == cell) return false;
    cw.insert(it, cell);
    return true;
}

struct Graph {
    std::vector<int64_t> indptr;
    std::vector<int32_t> indices;
    std::vector<double> cost;
    bool rows_by_cost = false;  // set by sort_rows_by_cost, cleared by build_graph
    CsrGraph view(int32_t n_rows, int32_t n_cols) const {
        return CsrGraph{n_rows, n_cols, indptr.data(), indices.data(), cost.data(), rows_by_cost};
    }
    // Each row's arcs in increasing (cost, column) order, in place: the settle's phases read them
    // so, and sorted here (in threads) they need no sorted copy of the graph beside it.
    void sort_rows_by_cost(int threads) {
        parallel_blocks(static_cast<int64_t>(indptr.size()) - 1, threads, [&](int64_t begin, int64_t end) {
            std::vector<std::pair<double, int32_t>> buf;
            for (int64_t w = begin; w < end; ++w)
                sort_arcs_by_cost(indices.data() + indptr[w], cost.data() + indptr[w], indptr[w + 1] - indptr[w], buf);
        });
        rows_by_cost = true;
    }
};

// Rows 0..V-1 are words; rows V.. are dummy words of cost 0 that fill the empty cells, which
// makes the problem square for the first auction (see TableSolver); the exact rounds use the
// first V rows only.
template <typename T>
void build_graph(const std::vector<std::vector<int32_t>>& cells, const T* Lr, const T* Lc,
                 int32_t V_words, int32_t R, int32_t C, Graph& g, int threads = 1) {
    const int64_t V = static_cast<int64_t>(cells.size());
    g.rows_by_cost = false;
    g.indptr.assign(V + 1, 0);
    for (int64_t w = 0; w < V; ++w) g.indptr[w + 1] = g.indptr[w] + static_cast<int64_t>(cells[w].size());
    g.indices.resize(g.indptr[V]);
    g.cost.resize(g.indptr[V]);
    parallel_blocks(V, threads, [&](int64_t begin, int64_t end) {
        for (int64_t w = begin; w < end; ++w) {
            int64_t a = g.indptr[w];
            for (int32_t cell : cells[w]) {
                int32_t i = cell / C, j = cell % C;
                g.indices[a] = cell;
                g.cost[a] = w < V_words ? static_cast<double>(Lr[w * R + i]) + static_cast<double>(Lc[w * C + j]) : 0.0;
                ++a;
            }
        }
    });
}

template <typename T>
double table_cost(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C, const int32_t* rows, const int32_t* cols) {
    double total = 0.0;
    for (int64_t w = 0; w < V; ++w) {
        total += static_cast<double>(Lr[w * R + rows[w]]) + static_cast<double>(Lc[w * C + cols[w]]);
    }
    return total;
}

constexpr double kUnit = std::numeric_limits<double>::epsilon() / 2;  // u: unit roundoff of double
// A table is certified when its proven gap is at most this (or rel_tol, if larger) times the sum
// of the absolute costs in its objective: rounding of the bound's terms stays far below it.
constexpr double kCertRelTol = 1e-9;

// Sum of doubles with a proven error bound, the same on every platform (no long double):
// Neumaier's compensated summation (A. Neumaier, ZAMM 54, 1974).  Each step's rounding error is
// captured exactly by TwoSum into `comp`; what is left is the rounding of `comp` itself
// (<= n u * sum |errors| <= n^2 u^2 * sum |x|) and of the final s + comp (<= u |result|).
struct CompensatedSum {
    double s = 0.0, comp = 0.0, abs_total = 0.0;
    int64_t n = 0;
    void add(double x) {
        const double t = s + x;
        comp += std::abs(s) >= std::abs(x) ? (s - t) + x : (x - t) + s;
        s = t;
        abs_total += std::abs(x);
        ++n;
    }
    // A value <= the exact sum.
    double lower() const { return abs_total == 0.0 ? 0.0 : std::nextafter(value() - slack(), -kInf); }
    // A value >= the exact sum.
    double upper() const { return abs_total == 0.0 ? 0.0 : std::nextafter(value() + slack(), kInf); }
    double value() const { return s + comp; }

private:
    double slack() const {
        const double nn = static_cast<double>(n) + 2.0;
        return 1.01 * (nn * nn * kUnit * kUnit * abs_total + 2.0 * kUnit * std::abs(value()));
    }
};

// Thrown by the solve when its costs are so large that prices (up to ~ (cells + 2) times the
// largest cost) could overflow: the caller solves a copy scaled by 2^-shift (exact but for
// underflow, which the certificate accounts for).
struct NeedsScaling {
    int shift;
};

// Whether a table is optimal within the certificate's tolerance: lower_bound (a proven lower
// bound on the optimum) against a proven upper bound on the table's exact cost, within
// tol * sum |cost terms| of the table.
template <typename T>
bool certify(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C, const int32_t* rows, const int32_t* cols,
             double lower_bound, double tol) {
    if (!(lower_bound > -kInf)) return false;
    CompensatedSum obj;
    for (int64_t w = 0; w < V; ++w) {
        obj.add(static_cast<double>(Lr[w * R + rows[w]]));
        obj.add(static_cast<double>(Lc[w * C + cols[w]]));
    }
    const double hi = obj.upper();
    if (!std::isfinite(hi)) return false;
    const double diff = hi - lower_bound;  // 0 only when they are equal (gradual underflow)
    const double gap = diff == 0.0 ? 0.0 : std::nextafter(diff, kInf);
    return gap <= tol * obj.abs_total;
}

// The error for costs whose table could cost more than float64 holds, naming word `arg`'s largest entry.
template <typename T>
[[noreturn]] void throw_costs_too_large(const T* Lr, const T* Lc, int32_t R, int32_t C, int64_t arg) {
    const T* lr = Lr + arg * R;
    const T* lc = Lc + arg * C;
    auto abs_less = [](T x, T y) { return std::abs(static_cast<double>(x)) < std::abs(static_cast<double>(y)); };
    const T* er = std::max_element(lr, lr + R, abs_less);
    const T* ec = std::max_element(lc, lc + C, abs_less);
    const bool in_r = std::abs(static_cast<double>(*er)) >= std::abs(static_cast<double>(*ec));
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.17g", static_cast<double>(in_r ? *er : *ec));
    throw std::invalid_argument(std::string("costs too large: ") + (in_r ? "L_r[" : "L_c[") + std::to_string(arg) +
                                ", " + std::to_string(in_r ? er - lr : ec - lc) + "] = " + buf +
                                ", and the sum over words of each word's largest |L_r| + |L_c| overflows "
                                "float64 (a table's cost could be infinite); scale the costs down");
}

// The checks of every solve, from each word's finiteness (`bad`) and largest |L_r| + |L_c|
// (`word_abs`): throws std::invalid_argument for the first word whose costs are not all finite,
// and for costs whose sum over words overflows (a table's cost could be infinite), naming the
// largest entry.  Returns the largest word_abs.
template <typename T>
double check_word_magnitudes(const T* Lr, const T* Lc, int32_t R, int32_t C, const std::vector<uint8_t>& bad,
                             const std::vector<double>& word_abs) {
    const auto first_bad = std::find(bad.begin(), bad.end(), uint8_t{1});
    if (first_bad != bad.end())
        throw std::invalid_argument("costs of word " + std::to_string(first_bad - bad.begin()) +
                                    " are not all finite (NaN and +-inf are invalid in a table)");
    double total = 0.0, largest = 0.0;
    int64_t arg = 0;
    for (size_t w = 0; w < word_abs.size(); ++w) {
        total += word_abs[w];
        if (word_abs[w] > largest) {
            largest = word_abs[w];
            arg = static_cast<int64_t>(w);
        }
    }
    if (!std::isfinite(total) || !std::isfinite(largest)) throw_costs_too_large(Lr, Lc, R, C, arg);
    return largest;
}

// Those checks over every word, for a solve that sets some words aside (TableSolver makes them in
// its candidate pass, on the words it is given): errors name the words as the caller numbers them.
template <typename T>
void check_costs(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C) {
    std::vector<uint8_t> bad(static_cast<size_t>(V), 0);
    std::vector<double> word_abs(static_cast<size_t>(V), 0.0);
    for (int64_t w = 0; w < V; ++w) {
        double ar = 0.0, ac = 0.0;
        bool finite = true;
        for (int32_t i = 0; i < R; ++i) {
            finite &= std::isfinite(static_cast<double>(Lr[w * R + i]));
            ar = std::max(ar, std::abs(static_cast<double>(Lr[w * R + i])));
        }
        for (int32_t j = 0; j < C; ++j) {
            finite &= std::isfinite(static_cast<double>(Lc[w * C + j]));
            ac = std::max(ac, std::abs(static_cast<double>(Lc[w * C + j])));
        }
        bad[w] = !finite;
        word_abs[w] = ar + ac;
    }
    check_word_magnitudes(Lr, Lc, R, C, bad, word_abs);
}

// The problem as the solver's parts see it: the costs, the current table, the options, and what
// follows from them alone.
template <typename T>
struct TableProblem {
    const T* Lr;  // (V, R) row costs
    const T* Lc;  // (V, C) column costs
    int32_t V, R, C;
    const int32_t* current_rows;  // (V) or null
    const int32_t* current_cols;  // (V) or null
    const TableOptions& opt;
    int64_t n_cells;  // R * C
    int32_t n_rows;   // words + dummy words: one row per cell
    int threads;
    bool trace;       // LIGHTRNN_SOLVER_TRACE is set: print each round's work to stderr

    // Each word's fallback cell: its current cell, or cell w without a current table.  The
    // fallbacks are distinct, so with them a perfect matching always exists.
    int32_t fallback_cell(int64_t w) const {
        return current_rows ? current_rows[w] * C + current_cols[w] : static_cast<int32_t>(w);
    }
    // cost of cell c for word w
    double cell_cost(int64_t w, int32_t c) const {
        return static_cast<double>(Lr[w * R + c / C]) + static_cast<double>(Lc[w * C + c % C]);
    }
    // cost + price of cell c for word w
    double cell_value(int64_t w, int32_t c, const double* p) const { return cell_cost(w, c) + p[c]; }
};

}  // namespace table_detail
}  // namespace lightrnn
