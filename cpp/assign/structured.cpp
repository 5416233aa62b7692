// Structured LightRNN assignment by column generation; see structured.hpp.
#include "structured.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <thread>
#include <cstdio>
#include <cstdlib>

namespace lightrnn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

double now() {
    using clock = std::chrono::steady_clock;
    return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

int resolve_threads(int32_t requested, int64_t work) {
    int hw = static_cast<int>(std::thread::hardware_concurrency());
    // More threads than 256 only add start-up cost (and could exhaust the process's threads).
    int n = requested > 0 ? std::min<int>(requested, 256) : std::max(1, std::min(hw, 8));
    if (work < 4096) n = 1;
    return n;
}

// Run f(begin, end) on contiguous blocks of [0, n) in `threads` threads.
template <typename F>
void parallel_blocks(int64_t n, int threads, F&& f) {
    if (threads <= 1) {
        f(int64_t{0}, n);
        return;
    }
    std::vector<std::thread> pool;
    int64_t step = (n + threads - 1) / threads;
    for (int t = 0; t < threads; ++t) {
        int64_t b = t * step, e = std::min(n, b + step);
        if (b >= e) break;
        pool.emplace_back([&f, b, e] { f(b, e); });
    }
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
bool insert_sorted(std::vector<int32_t>& cw, int32_t cell) {
    auto it = std::lower_bound(cw.begin(), cw.end(), cell);
    if (it != cw.end() && *it == cell) return false;
    cw.insert(it, cell);
    return true;
}

struct Graph {
    std::vector<int64_t> indptr;
    std::vector<int32_t> indices;
    std::vector<double> cost;
    CsrGraph view(int32_t n_rows, int32_t n_cols) const {
        return CsrGraph{n_rows, n_cols, indptr.data(), indices.data(), cost.data()};
    }
};

// Rows 0..V-1 are words; rows V.. are dummy words of cost 0 that fill the empty cells, which
// makes the problem square for the first auction (see solve_table); the exact rounds use the
// first V rows only.
template <typename T>
void build_graph(const std::vector<std::vector<int32_t>>& cells, const T* Lr, const T* Lc,
                 int32_t V_words, int32_t R, int32_t C, Graph& g) {
    const int64_t V = static_cast<int64_t>(cells.size());
    g.indptr.assign(V + 1, 0);
    for (int64_t w = 0; w < V; ++w) g.indptr[w + 1] = g.indptr[w] + static_cast<int64_t>(cells[w].size());
    g.indices.resize(g.indptr[V]);
    g.cost.resize(g.indptr[V]);
    for (int64_t w = 0; w < V; ++w) {
        int64_t a = g.indptr[w];
        for (int32_t cell : cells[w]) {
            int32_t i = cell / C, j = cell % C;
            g.indices[a] = cell;
            g.cost[a] = w < V_words ? static_cast<double>(Lr[w * R + i]) + static_cast<double>(Lc[w * C + j]) : 0.0;
            ++a;
        }
    }
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

}  // namespace

// The solve on costs whose magnitudes are known to be safe (see solve_table below, which checks
// the options and scales the costs when they are not).
template <typename T>
TableResult solve_table_impl(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C,
                             const int32_t* current_rows, const int32_t* current_cols,
                             const TableOptions& opt, const InterruptFn& user_interrupted) {
    TableResult res;
    // The time budget rides on the interrupt checks of the sparse solves (every few thousand
    // searches or bids) and on one check per round.
    const double deadline = opt.max_seconds > 0.0 ? now() + opt.max_seconds : kInf;
    bool out_of_time = false;
    const InterruptFn interrupted = [&]() {
        if (user_interrupted && user_interrupted()) return true;
        out_of_time = out_of_time || now() > deadline;
        return out_of_time;
    };
    const int64_t n_cells = static_cast<int64_t>(R) * C;
    res.rows.assign(V, 0);
    res.cols.assign(V, 0);
    res.current_objective = current_rows ? table_cost(Lr, Lc, V, R, C, current_rows, current_cols)
                                         : std::numeric_limits<double>::quiet_NaN();
    if (V == 0) {
        res.certified = true;
        return res;
    }
    const int threads = resolve_threads(opt.threads, static_cast<int64_t>(V) * (R + C));
    const bool trace = std::getenv("LIGHTRNN_SOLVER_TRACE") != nullptr;
    // Small problems: every cell is a candidate (one exact solve, no pricing rounds needed).
    // Only tiny ones: at 1,024 words (1M arcs) the candidates and rounds took 0.006 s, all
    // cells 0.071 s.
    const bool dense = static_cast<int64_t>(V) * n_cells <= (int64_t{1} << 16);
    const int32_t k = dense ? std::max(R, C) : std::max<int32_t>(1, opt.k);

    // Each word's fallback cell: its current cell, or cell w without a current table.  The
    // fallbacks are distinct, so with them a perfect matching always exists.
    auto fallback_cell = [&](int64_t w) {
        return current_rows ? current_rows[w] * C + current_cols[w] : static_cast<int32_t>(w);
    };

    // 1. Candidate cells per word, and each word's least and largest costs (in the same pass over
    // its costs): finiteness, the magnitudes that decide scaling, the pricing tolerance and the
    // certificate's rounding bounds.
    double t0 = now();
    const int32_t n_rows = static_cast<int32_t>(n_cells);  // words + dummy words
    std::vector<std::vector<int32_t>> cells(n_rows);
    std::vector<uint8_t> flat(V, 0), bad(V, 0);
    std::vector<double> lr_min(V), lc_min(V), word_abs(V);
    parallel_blocks(V, threads, [&](int64_t b, int64_t e) {
        std::vector<int32_t> idx, rk, ck;
        for (int64_t w = b; w < e; ++w) {
            const T* lr = Lr + w * R;
            const T* lc = Lc + w * C;
            // x - x is 0 exactly when x is finite (NaN for NaN and +-inf).
            int nonfinite = 0;
            T r0 = lr[0], r1 = lr[0], c0 = lc[0], c1 = lc[0];
            for (int32_t i = 0; i < R; ++i) {
                nonfinite |= !(lr[i] - lr[i] == T(0));
                r0 = std::min(r0, lr[i]);
                r1 = std::max(r1, lr[i]);
            }
            for (int32_t j = 0; j < C; ++j) {
                nonfinite |= !(lc[j] - lc[j] == T(0));
                c0 = std::min(c0, lc[j]);
                c1 = std::max(c1, lc[j]);
            }
            if (nonfinite) {  // NaN would break the sorts below (no strict weak order)
                bad[w] = 1;
                continue;
            }
            lr_min[w] = static_cast<double>(r0);
            lc_min[w] = static_cast<double>(c0);
            word_abs[w] = std::max(std::abs(static_cast<double>(r0)), std::abs(static_cast<double>(r1))) +
                          std::max(std::abs(static_cast<double>(c0)), std::abs(static_cast<double>(c1)));
            // A word whose costs are the same in every cell (e.g. it never occurred) is
            // indifferent: it is priced like a dummy word (cheapest-priced cells).
            flat[w] = r0 == r1 && c0 == c1;
            smallest_k(Lr + w * R, R, k, idx, rk);
            smallest_k(Lc + w * C, C, k, idx, ck);
            auto& cw = cells[w];
            cw.reserve(rk.size() * ck.size() + 1);
            for (int32_t i : rk)
                for (int32_t j : ck) cw.push_back(i * C + j);
            insert_sorted(cw, fallback_cell(w));
        }
    });
    {
        const auto first_bad = std::find(bad.begin(), bad.end(), uint8_t{1});
        if (first_bad != bad.end())
            throw std::invalid_argument("costs of word " + std::to_string(first_bad - bad.begin()) +
                                        " are not all finite (NaN and +-inf are invalid in a table)");
        // Every quantity of the solve is bounded by the words' largest costs: a table's cost by
        // their sum, prices by (cells + 2) times the largest pair cost (the auction's cap, the
        // searches' path lengths).  A sum that overflows cannot be a table's cost; prices that
        // could overflow are avoided by scaling by a power of two.
        double total = 0.0, largest = 0.0;
        int64_t arg = 0;
        for (int64_t w = 0; w < V; ++w) {
            total += word_abs[w];
            if (word_abs[w] > largest) {
                largest = word_abs[w];
                arg = w;
            }
        }
        if (!std::isfinite(total) || !std::isfinite(largest)) {
            // Name the largest entry of the word with the largest costs.
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
        const double limit = std::numeric_limits<double>::max() / 64.0;
        if (largest > limit / (static_cast<double>(n_cells) + 2.0)) {
            int shift = 0;
            while (std::ldexp(largest, -shift) > limit / (static_cast<double>(n_cells) + 2.0)) ++shift;
            throw NeedsScaling{shift};
        }
    }
    // Greedy seed, for loss matrices where every word prefers the same few rows and columns
    // (early in training they are close to count x marginal): the k x k candidates of all words
    // then overlap on fewer cells than there are words, and pricing needed many rounds to find
    // where the words must go (real PTB losses after 1/8 epoch: 58 rounds, 40 s).  Words in
    // decreasing order of their cost spread each take the cheapest cell not yet taken in their k
    // cheapest rows that still have one (O(R + k C) a word), and that cell joins their
    // candidates: a near-optimal table to start from.  Peaked costs, whose candidates cover the
    // cells already (the synthetic benchmark), skip this.
    bool degenerate = false;
    if (opt.greedy_seed && !dense) {
        std::vector<uint8_t> covered(n_cells, 0);
        int64_t n_covered = 0;
        for (int64_t w = 0; w < V && n_covered < V; ++w) {
            const int32_t fallback = fallback_cell(w);
            for (int32_t cell : cells[w])  // the k x k cells (the fallback spreads over all)
                if (cell != fallback && !covered[cell]) { covered[cell] = 1; ++n_covered; }
        }
        degenerate = n_covered < V;
    }
    if (degenerate) {
        const double tg = now();
        std::vector<double> spread(V);
        parallel_blocks(V, threads, [&](int64_t b, int64_t e) {
            for (int64_t w = b; w < e; ++w) {
                const T* lr = Lr + w * R;
                const T* lc = Lc + w * C;
                auto [r0, r1] = std::minmax_element(lr, lr + R);
                auto [c0, c1] = std::minmax_element(lc, lc + C);
                spread[w] = (static_cast<double>(*r1) - *r0) + (static_cast<double>(*c1) - *c0);
            }
        });
        std::vector<int32_t> order(V);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return spread[a] > spread[b]; });
        std::vector<uint8_t> taken(n_cells, 0);
        std::vector<int32_t> row_free(R, C), open_rows;
        double greedy_total = 0.0;
        std::vector<int32_t> greedy_cell(V, -1);
        for (int32_t w : order) {
            if (flat[w]) continue;
            const T* lr = Lr + static_cast<int64_t>(w) * R;
            const T* lc = Lc + static_cast<int64_t>(w) * C;
            open_rows.clear();
            for (int32_t i = 0; i < R; ++i)
                if (row_free[i] > 0) open_rows.push_back(i);
            const size_t m = std::min<size_t>(open_rows.size(), static_cast<size_t>(k));
            auto by_cost = [lr](int32_t a, int32_t b) { return lr[a] < lr[b] || (lr[a] == lr[b] && a < b); };
            std::nth_element(open_rows.begin(), open_rows.begin() + (m - 1), open_rows.end(), by_cost);
            double best = kInf;
            int32_t bcell = -1;
            for (size_t r = 0; r < m; ++r) {
                const int32_t i = open_rows[r];
                const int64_t base = static_cast<int64_t>(i) * C;
                for (int32_t j = 0; j < C; ++j) {
                    if (taken[base + j]) continue;
                    const double v = static_cast<double>(lr[i]) + static_cast<double>(lc[j]);
                    if (v < best || (v == best && base + j < bcell)) {
                        best = v;
                        bcell = static_cast<int32_t>(base + j);
                    }
                }
            }
            if (bcell < 0) continue;  // cannot happen (fewer words than cells); kept for safety
            taken[bcell] = 1;
            greedy_total += best;
            --row_free[bcell / C];
            greedy_cell[w] = bcell;
        }
        // Only a greedy table well below the current one (e.g. a random round-0 table) helps.
        // Once the current table is a previous optimum the greedy cells only slow the solve
        // (real PTB losses of rounds 3-7, greedy 2-5% above or below the current table: 2.8-5.0 s
        // -> 3.8-6.6 s), so they are added only when the greedy table costs at least 10% less.
        res.greedy_seeded = !current_rows ||
                            greedy_total < res.current_objective - 0.1 * std::abs(res.current_objective);
        if (res.greedy_seeded) {
            for (int32_t w = 0; w < V; ++w) {
                if (greedy_cell[w] >= 0) insert_sorted(cells[w], greedy_cell[w]);
            }
        }
        if (trace) std::fprintf(stderr, "greedy seed %.3fs total %.6g current %.6g\n", now() - tg, greedy_total, res.current_objective);
    }
    {
        // Dummy words take the cells no word's fallback uses: a complete matching exists.
        std::vector<uint8_t> used(n_cells, 0);
        for (int64_t w = 0; w < V; ++w) used[fallback_cell(w)] = 1;
        std::vector<int32_t> unused;
        for (int32_t c = 0; c < n_rows; ++c)
            if (!used[c]) unused.push_back(c);
        // Dummy t gets unused cells t .. t+7 (cyclically): a perfect matching still exists, and
        // the auction's dummies, all alike, do not each bid over every empty cell (V = 10,001:
        // 200 dummies, first auction 0.74 -> 0.3 s).
        const size_t m = std::min<size_t>(unused.size(), 8);
        for (int32_t d = V; d < n_rows; ++d) {
            auto& cd = cells[d];
            cd.clear();
            for (size_t a = 0; a < m; ++a) cd.push_back(unused[(static_cast<size_t>(d - V) + a) % unused.size()]);
            std::sort(cd.begin(), cd.end());
        }
    }
    std::vector<int32_t> flat_words;  // priced together (see price)
    for (int32_t w = 0; w < V; ++w)
        if (flat[w]) flat_words.push_back(w);
    res.time_candidates = now() - t0;

    Graph g;
    LapState st;
    std::vector<double> pmin_row(R), pmin_col(C);
    std::vector<std::vector<int32_t>> added(n_rows);
    std::vector<double> word_min(n_rows, -kInf);
    // The least price seen by an exact pricing pass: the certificate's rounding bound of a word's
    // minimum holds for the bounds kept from earlier passes too.
    double pmin_ever = kInf;
    // A cell prices out when it beats u_w by more than rel_tol times the word's own magnitude
    // (|u_w| plus its least costs): the same relative test at every scale of costs.
    auto tol_of = [&](int64_t w, double uw) {
        return opt.rel_tol * (std::abs(uw) + std::abs(lr_min[w]) + std::abs(lc_min[w]));
    };
    // Incremental pricing.  A pricing pass that leaves no violating cell behind for word w shows
    // cost + p >= word_min[w] >= u_w - tol(u_w) on every cell ("clean", u_clean[w] = that u_w).
    // Prices almost only rise (auction bids and augmenting-path dual updates raise them; only the
    // warm repair lowers the price of a freed column), so the bound survives on every cell whose
    // price did not drop; the few cells that dropped (`dropped`) are checked one by one.  While
    // u_w <= u_clean[w] the violation threshold u_w - tol(u_w) is at most what it was, so no cell
    // can violate and the word is skipped; min(word_min, dropped cells) stays a valid term of the
    // lower bound.  Most words' duals do not move between rounds: most pricing work is skipped.
    // A word still matched to the cell it held at its clean pass may also be skipped after its
    // dual rose (a shortest-path search raises the duals of every row it scans, with its cell's
    // price: tens of thousands of words per round), as long as u_w stays at most the least
    // value of any OTHER cell then (clean_other[w], a lower bound: unscanned rows count by their
    // bound).  Measured at V = 65,536: 16.6k-19.5k more of the 65,536 words skipped in warm rounds
    // 2-5 (round 1: 680, most words move there); warm-round pricing at 262,144 1.1 -> 0.75 s.
    std::vector<double> u_clean(V, kInf);
    std::vector<double> clean_other(V, -kInf);  // lower bound of min over cells != clean_cell of cost + p
    std::vector<int32_t> clean_cell(V, -1);     // the word's matched cell at its clean pass
    std::vector<double> p_priced;          // prices at the previous pricing pass
    std::vector<int32_t> dropped;          // cells whose price fell since then
    // 3. Pricing over every cell for every word, with row pruning, at prices p and word duals u.
    // Adds violating cells to `cells` and returns how many.  exact: u and p are an exact optimum
    // of the current graph (word_min, the certificate's terms, and the incremental state are
    // updated); otherwise a between-phases pass of the auction (u = cheapest arc at p).
    auto price = [&](const double* p, const double* u, const int32_t* match) -> int64_t {
        const bool exact = match != nullptr;
        dropped.clear();
        if (exact && !p_priced.empty()) {
            for (int32_t c = 0; c < n_rows; ++c)
                if (p[c] < p_priced[c]) dropped.push_back(c);
        }
        // Checking the dropped cells costs |dropped| a word, a full pricing about R + C: past
        // that, every word is priced in full.  (A table with empty cells drops many prices to 0
        // in a warm round: V = 793,471, 0.5M cells, pricing 64-75 s a round with the checks.)
        const bool incremental = dropped.size() <= static_cast<size_t>(R) + static_cast<size_t>(C);
        std::fill(pmin_col.begin(), pmin_col.end(), kInf);
        for (int32_t i = 0; i < R; ++i) {
            const double* pi = p + static_cast<int64_t>(i) * C;
            double m = kInf;
            for (int32_t j = 0; j < C; ++j) {
                m = std::min(m, pi[j]);
                pmin_col[j] = std::min(pmin_col[j], pi[j]);
            }
            pmin_row[i] = m;
        }
        if (exact)
            for (int32_t i = 0; i < R; ++i) pmin_ever = std::min(pmin_ever, pmin_row[i]);
        parallel_blocks(V, threads, [&](int64_t b, int64_t e) {
            std::vector<std::pair<double, int32_t>> viol;
            std::vector<std::pair<double, int32_t>> rows_by_bound;
            std::vector<int32_t> live_cols;
            std::vector<double> live_lc;
            for (int64_t w = b; w < e; ++w) {
                if (flat[w]) continue;  // priced below, together
                const T* lr = Lr + w * R;
                const T* lc = Lc + w * C;
                auto cell_value = [&](int32_t c) {  // cost + price of cell c for this word
                    return static_cast<double>(lr[c / C]) + static_cast<double>(lc[c % C]) + p[c];
                };
                const int32_t mcell = exact ? match[w] : -1;
                // Least value a cell other than the matched one can have now, but for the
                // dropped cells: clean_other for all but the clean-time cell, that cell exactly.
                double lim = -kInf;
                if (exact && u_clean[w] != kInf) {
                    const int32_t cc = clean_cell[w];
                    lim = clean_other[w];
                    if (cc >= 0 && cc != mcell) lim = std::min(lim, cell_value(cc));
                }
                if (exact && incremental && u_clean[w] != kInf && (u[w] <= u_clean[w] || u[w] <= lim)) {
                    const double uw = u[w];
                    const double threshold = uw - tol_of(w, uw);
                    double dmin = kInf;
                    for (int32_t c : dropped) dmin = std::min(dmin, cell_value(c));
                    if (dmin >= threshold) {
                        // The matched arc has cost + p = u_w; other cells are >= what they were.
                        // Every cell is >= lim, or is the matched one, or a dropped one.
                        const double vm = mcell >= 0 ? cell_value(mcell) : kInf;
                        word_min[w] = std::min({vm, lim, dmin});
                        added[w].clear();
                        if (!dropped.empty()) {
                            // Keep the clean state true at these prices: a dropped cell may rise
                            // again later yet stay below the price it had at the clean pass, and
                            // then be in no later dropped list.  Its value is >= dmin now, and
                            // every cell is >= the threshold of min(u_clean, u_w).
                            clean_other[w] = std::min(clean_other[w], dmin);
                            u_clean[w] = std::min(u_clean[w], uw);
                        }
                        continue;
                    }
                }
                double lcmin = kInf;
                for (int32_t j = 0; j < C; ++j) lcmin = std::min(lcmin, static_cast<double>(lc[j]));
                const double uw = u[w];
                const double tol = tol_of(w, uw);
                double best = uw;  // the matched cell is tight: min over all cells is <= u_w
                viol.clear();
                // Rows in order of their lower bound; stop at the first that cannot beat `best`.
                rows_by_bound.clear();
                // other: lower bound of the least cell other than the matched one (exact rows
                // scanned, the rest by their bound).
                double other = kInf;
                const int32_t mi = mcell >= 0 ? mcell / C : -1, mj = mcell >= 0 ? mcell % C : -1;
                double lrmin = kInf, lrp_min = kInf;  // min_i Lr[w,i]; min_i Lr[w,i] + pmin_row[i]
                for (int32_t i = 0; i < R; ++i) {
                    const double li = static_cast<double>(lr[i]);
                    lrmin = std::min(lrmin, li);
                    lrp_min = std::min(lrp_min, li + pmin_row[i]);
                    double bound = li + pmin_row[i] + lcmin;
                    if (bound < best) rows_by_bound.emplace_back(bound, i);
                    else other = std::min(other, bound);
                }
                // Columns that can hold a cell below u_w in some row: every cell of column j is
                // >= Lc[w,j] + max(min_i Lr + pmin_col[j], min_i (Lr + pmin_row)).  Rows are
                // scanned on these columns only (synthetic V = 1,048,576: tens of the 1,024);
                // the others' least bound stays a term of word_min and of `other`.
                live_cols.clear();
                live_lc.clear();
                double out_bound = kInf;
                for (int32_t j = 0; j < C; ++j) {
                    const double lj = static_cast<double>(lc[j]);
                    const double col_bound = lj + std::max(lrmin + pmin_col[j], lrp_min);
                    if (col_bound < best) {
                        live_cols.push_back(j);
                        live_lc.push_back(lj);
                    } else {
                        out_bound = std::min(out_bound, col_bound);
                    }
                }
                other = std::min(other, out_bound);
                const size_t n_live = live_cols.size();
                std::sort(rows_by_bound.begin(), rows_by_bound.end());
                for (const auto& [bound, i] : rows_by_bound) {
                    if (bound >= best) {
                        other = std::min(other, bound);
                        break;
                    }
                    const double li = static_cast<double>(lr[i]);
                    const double* pi = p + static_cast<int64_t>(i) * C;
                    double row_min = kInf;
                    if (i == mi) {
                        double row_other = kInf;
                        for (size_t t = 0; t < n_live; ++t) {
                            const double v = live_lc[t] + pi[live_cols[t]];
                            row_min = std::min(row_min, v);
                            if (live_cols[t] != mj) row_other = std::min(row_other, v);
                        }
                        other = std::min(other, row_other + li);
                    } else {
                        for (size_t t = 0; t < n_live; ++t) row_min = std::min(row_min, live_lc[t] + pi[live_cols[t]]);
                        other = std::min(other, row_min + li);
                    }
                    row_min += li;
                    if (row_min < best) best = row_min;
                    if (row_min < uw - tol) {
                        for (size_t t = 0; t < n_live; ++t) {
                            double v = li + live_lc[t] + pi[live_cols[t]];
                            if (v < uw - tol) viol.emplace_back(v, i * C + live_cols[t]);
                        }
                    }
                }
                if (exact) word_min[w] = best;
                added[w].clear();
                if (!viol.empty()) {
                    size_t keep = std::min<size_t>(viol.size(), std::max(1, opt.max_add_per_word));
                    std::partial_sort(viol.begin(), viol.begin() + keep, viol.end());
                    for (size_t a = 0; a < keep; ++a) added[w].push_back(viol[a].second);
                }
                if (exact) {
                    u_clean[w] = viol.empty() ? uw : kInf;  // a word that added cells is priced again
                    clean_cell[w] = mcell;
                    clean_other[w] = other;
                }
            }
        });
        // Not between auction phases (their added lists stay empty): words that cost the same
        // everywhere tie on every cell, and ties make the auction's price wars long (measured:
        // seconds on 40-word problems).
        if (!flat_words.empty() && exact) {
            // Flat words cost the same constant everywhere: their cheapest cells are the
            // cheapest-priced cells, the same for all of them.  Each gets the cheapest (which
            // violates for it if any cell does: a cell already among its arcs cannot, by dual
            // feasibility) and a share of the next ones, dealt round-robin, so that together
            // they reach max_add_per_word distinct cells each per round.  (All taking the same
            // max_add_per_word cells, the dummy words of empty cells, when the exact rounds still
            // had them, made V = 10,001 need 131 rounds and 11.5 s.)
            const std::vector<int32_t>& group = flat_words;
            const size_t per_word = static_cast<size_t>(std::max(1, opt.max_add_per_word));
            std::vector<std::pair<double, int32_t>> by_price(n_rows);
            for (int32_t c = 0; c < n_rows; ++c) by_price[c] = {p[c], c};
            const size_t keep = std::min(by_price.size(), per_word * group.size() + 1);
            std::partial_sort(by_price.begin(), by_price.begin() + static_cast<std::ptrdiff_t>(keep), by_price.end());
            for (size_t t = 0; t < group.size(); ++t) {
                const int32_t d = group[t];
                const double base = static_cast<double>(Lr[int64_t(d) * R]) + static_cast<double>(Lc[int64_t(d) * C]);
                const double ud = u[d];
                const double threshold = ud - tol_of(d, ud);
                word_min[d] = std::min(ud, base + by_price[0].first);
                added[d].clear();
                if (base + by_price[0].first < threshold) added[d].push_back(by_price[0].second);
                for (size_t a = 1 + t; a < keep && added[d].size() < per_word; a += group.size()) {
                    if (base + by_price[a].first >= threshold) break;  // sorted: no later one violates
                    added[d].push_back(by_price[a].second);
                }
            }
        }
        int64_t n_added = 0;
        for (int64_t w = 0; w < n_rows; ++w) {
            for (int32_t cell : added[w]) n_added += insert_sorted(cells[w], cell);
        }
        if (exact) p_priced.assign(p, p + n_rows);
        return n_added;
    };

    // Column generation between the first auction's phases: once eps is small enough for the
    // prices to mean something, price every word against them and add its violating cells, so
    // that the exact rounds that follow start from a graph that already holds most of them (the
    // first warm rounds' shortest-path searches are what costs most without this).  The passes
    // left after the last phase run at its eps, each followed by one more phase there: the
    // cells the exact rounds would add otherwise cost long searches (synthetic V = 1,048,576:
    // 143k cells added after the first exact solve, then 78k, 10k; the warm rounds' searches
    // 134 s; with two final-eps passes 12k, 9k and 17 s).
    std::vector<double> u_phase;
    int32_t hooks_left = opt.phase_pricing;
    const PhaseHook hook = [&](const LapState& s, double rel_eps, CsrGraph& gv) -> bool {
        if (hooks_left <= 0 || rel_eps > opt.phase_pricing_eps) return false;
        --hooks_left;
        double th = now();
        u_phase.assign(n_rows, kInf);
        for (int32_t w = 0; w < n_rows; ++w)
            for (int64_t a = gv.indptr[w]; a < gv.indptr[w + 1]; ++a)
                u_phase[w] = std::min(u_phase[w], gv.cost[a] + s.p[gv.indices[a]]);
        int64_t n = price(s.p.data(), u_phase.data(), nullptr);
        res.time_pricing += now() - th;
        if (trace)
            std::fprintf(stderr, "  phase pricing at eps %.3g x range: %.3fs added %lld\n", rel_eps, now() - th, (long long)n);
        if (n == 0) return false;
        build_graph(cells, Lr, Lc, V, R, C, g);
        gv = g.view(n_rows, n_rows);
        return true;
    };

    // A proven lower bound on the optimum from the last exact pricing pass: for each word, its
    // minimum over all cells of cost + p (word_min) less the most its rounding can have hidden,
    // minus the sum of prices (rectangular: of max(p, 0), which the bound needs), summed with
    // a proven error bound.  Every value pricing compares (a cell's cost + price, or a bound of
    // a set of cells' values) is a sum of three doubles a + b + c, off by at most
    // 2u (|a| + |b| + |c|) <= 2u (|v*| + 2 N_w), where v* is the word's exact minimum and N_w
    // the magnitude of the word's negative costs and prices (|x| = x + 2 max(-x, 0), and the
    // three terms of any such bound are at most v* in sum).  |v*| is at most max(|word_min|,
    // value of the matched cell) up to that rounding.  Additions have no underflow error.
    auto table_lower_bound = [&]() -> double {
        const bool square = n_cells == V;
        const double pneg = pmin_ever < 0.0 ? -pmin_ever : 0.0;
        CompensatedSum sum;
        for (int64_t w = 0; w < V; ++w) {
            const double m = word_min[w];
            const int32_t c = st.row_to_col[w];
            if (!(m > -kInf) || c < 0) return -kInf;
            const double a = static_cast<double>(Lr[w * R + c / C]), b = static_cast<double>(Lc[w * C + c % C]);
            const double pc = st.p[c];
            const double vm = (a + b) + pc + 2.01 * kUnit * (std::abs(a) + std::abs(b) + std::abs(pc));
            const double mag = std::max(std::abs(vm), std::abs(m)) +
                               2.0 * ((lr_min[w] < 0.0 ? -lr_min[w] : 0.0) + (lc_min[w] < 0.0 ? -lc_min[w] : 0.0) + pneg);
            sum.add(m);
            sum.add(-2.02 * kUnit * mag);
        }
        for (int64_t c = 0; c < n_cells; ++c) sum.add(square ? -st.p[c] : -std::max(st.p[c], 0.0));
        const double lb = sum.lower();
        return std::isnan(lb) ? -kInf : lb;
    };
    // The best table found so far (the latest of equal cost) and the best proven bound: every
    // round's bound holds for the full problem, whatever the round's table.
    std::vector<int32_t> round_rows(V), round_cols(V);
    double best_objective = kInf, best_bound = -kInf;
    const double exact_tol = std::max(kCertRelTol, opt.rel_tol);
    auto record_round = [&](double bound) {
        for (int64_t w = 0; w < V; ++w) {
            const int32_t cell = st.row_to_col[w];
            round_rows[w] = cell / C;
            round_cols[w] = cell % C;
        }
        const double obj = table_cost(Lr, Lc, V, R, C, round_rows.data(), round_cols.data());
        if (obj <= best_objective) {
            best_objective = obj;
            res.rows = round_rows;
            res.cols = round_cols;
        }
        best_bound = std::max(best_bound, bound);
    };
    auto within = [&](double tol) {
        return best_objective < kInf && certify(Lr, Lc, V, R, C, res.rows.data(), res.cols.data(), best_bound, tol);
    };

    bool first = true, restarted = false, restart = false;
    // Warm rounds leave columns that end free with a positive price unsettled (the reverse
    // searches that settle them cost most of a warm round, and the next round's pricing does not
    // need them settled); the round after pricing adds nothing settles them, then prices again.
    bool settle_next = false;
    try {
    for (int32_t round = 0; round < opt.max_rounds; ++round) {
        if (interrupted && interrupted()) throw Interrupted("interrupted");
        // 2. Exact sparse solve (warm after the first round).
        double t1 = now();
        const double pricing_before = res.time_pricing;  // the first auction's passes count as pricing
        build_graph(cells, Lr, Lc, V, R, C, g);
        CsrGraph view = g.view(n_rows, n_rows);
        // The exact rounds solve the rectangular problem: V words into R*C cells, an empty cell
        // priced 0 (every shortest-path search ends at the nearest empty cell).  With dummy words
        // filling the empty cells instead, a search had to reach a cell vacated in that round,
        // far away behind the dummies' own cells (V = 793,471, 410 empty cells: 11,301 searches
        // over 154M columns, 163 s in the first warm round).
        const CsrGraph words_view = g.view(V, n_rows);
        if (first) {
            bool auction = opt.method == TableMethod::Auction;
            if (opt.method == TableMethod::Auto) {
                // Many words compete for the same cheap cells, which makes shortest-path searches
                // from a cold start long; the auction spreads them by prices first.  Measured on
                // LightRNN-shaped problems (benchmarks/solver.py): auction+ssp is 2.4x (V=4,096)
                // to 3.3x (V=65,536) faster than ssp alone; tiny problems do not care.
                auction = true;
            }
            if (!auction) {
                st = solve_ssp(words_view, interrupted);
            } else if (n_rows == V) {
                st = solve_auction(view, {}, interrupted, 8.0, hook, &view);
            } else {
                // The auction needs a square problem: it runs with the dummy words, which are
                // then dropped and their cells emptied.  Prices shift down by the least a dummy
                // paid (a dummy is indifferent between cells, so it holds about the cheapest it
                // can reach), so empty cells go to price 0 with little change to the others;
                // unshifted, the repair took 2x longer (260,000 words: 18.8 -> 38.6 s).
                st = solve_auction(view, {}, interrupted, 8.0, hook, &view, /*finish=*/false);
                double shift = kInf;
                for (int32_t d = V; d < n_rows; ++d) {
                    const int32_t c = st.row_to_col[d];
                    if (c >= 0) {
                        shift = std::min(shift, st.p[c]);
                        st.col_to_row[c] = -1;
                    }
                }
                if (shift == kInf) shift = 0.0;
                for (double& price_c : st.p) price_c = std::max(0.0, price_c - shift);
                for (int32_t d = V; d < n_rows; ++d)
                    if (st.row_to_col[d] >= 0) st.p[st.row_to_col[d]] = 0.0;  // now empty
                st.row_to_col.resize(V);
                st.u.resize(V);
                repair_and_finish(g.view(V, n_rows), st, interrupted, 0.5);  // g grew in the auction
            }
            res.method = auction ? "auction+ssp" : "ssp";
            first = false;
        } else if (restart) {
            st = solve_ssp(words_view, interrupted);
            restart = false;
        } else {
            // Warm start: keep prices and matching; only rows whose new arcs undercut their
            // match are searched again.  (A warm auction was tried instead: it inflates the
            // prices of candidate cells over the others and needed 3-10x more pricing rounds.)
            // Row reduction only when >= 25% of the words are free (see repair_and_finish):
            // synthetic V = 262,144 36.5 -> ~31 s, real PTB warm rounds unchanged.
            repair_and_finish(words_view, st, interrupted, 0.25, settle_next);
        }
        settle_next = false;
        res.time_solve += now() - t1 - (res.time_pricing - pricing_before);
        ++res.pricing_rounds;
        if (trace) std::fprintf(stderr, "round %d solve %.3fs arcs %lld aug %lld bids %lld\n", round, now() - t1,
                                (long long)g.indices.size(), (long long)st.augmentations, (long long)st.auction_bids);

        double t2 = now();
        const int64_t n_added = price(st.p.data(), st.u.data(), st.row_to_col.data());
        res.time_pricing += now() - t2;
        if (trace) std::fprintf(stderr, "  pricing %.3fs added %lld\n", now() - t2, (long long)n_added);
        // Certificate: sum of the per-word minima minus the sum of prices, with every rounding
        // accounted for (see table_lower_bound): it is never above the optimum.
        const double bound = table_lower_bound();
        record_round(bound);
        if (trace)
            std::fprintf(stderr, "  objective %.10g bound %.10g best %.10g / %.10g\n", table_cost(Lr, Lc, V, R, C, round_rows.data(), round_cols.data()),
                         bound, best_objective, best_bound);
        if (n_added == 0) {
            bool unsettled = false;
            for (int32_t c = 0; c < n_rows && !unsettled; ++c) unsettled = st.col_to_row[c] < 0 && st.p[c] > 0.0;
            if (unsettled) {
                settle_next = true;
                continue;
            }
            if (within(exact_tol)) {
                res.stopped = "optimal";
                break;
            }
            // Pricing found nothing to add, yet the bound is not within the tolerance: the
            // prices are too coarse for these costs (an auction scaled by outlying costs).
            // Start once more from shortest paths, whose prices stay at the scale of the
            // paths actually taken.
            if (restarted) {
                res.stopped = "no_progress";
                break;
            }
            restarted = true;
            restart = true;
            std::fill(u_clean.begin(), u_clean.end(), kInf);
            if (trace) std::fprintf(stderr, "  bound %.17g not within tolerance: restart from shortest paths\n", bound);
        } else if (opt.gap_tol > 0.0 && within(std::max(exact_tol, opt.gap_tol))) {
            res.stopped = within(exact_tol) ? "optimal" : "gap_tol";
            break;
        }
    }
    } catch (const Interrupted&) {
        if (!out_of_time) throw;
        res.stopped = "max_seconds";
    }
    if (res.stopped.empty()) res.stopped = "max_rounds";
    if (best_objective == kInf) {
        // Out of time before the first round ended: the current table (or the fallback cells).
        for (int64_t w = 0; w < V; ++w) {
            res.rows[w] = fallback_cell(w) / C;
            res.cols[w] = fallback_cell(w) % C;
        }
    }
    res.lower_bound = best_bound;
    res.certified = within(exact_tol);
    res.objective = table_cost(Lr, Lc, V, R, C, res.rows.data(), res.cols.data());
    res.arcs = static_cast<int64_t>(g.indices.size());
    res.augmentations = st.augmentations;
    res.auction_bids = st.auction_bids;
    return res;
}

// Checks what the solve cannot handle (bad options, a current table outside the table or with
// two words in a cell), then solves; costs so large that prices could overflow are solved on a
// copy scaled by a power of two, and the result is stated in the original costs.
template <typename T>
TableResult solve_table(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C,
                        const int32_t* current_rows, const int32_t* current_cols,
                        const TableOptions& opt, const InterruptFn& interrupted) {
    if (V < 0 || R < 1 || C < 1) throw std::invalid_argument("table sizes must be positive");
    const int64_t n_cells = static_cast<int64_t>(R) * C;
    if (n_cells > std::numeric_limits<int32_t>::max()) throw std::invalid_argument("R*C does not fit in int32");
    if (V > n_cells) throw Infeasible("more words than cells: no complete table exists");
    if (opt.max_rounds < 1) throw std::invalid_argument("max_rounds must be >= 1, got " + std::to_string(opt.max_rounds));
    if (opt.threads < 0) throw std::invalid_argument("threads must be >= 0 (0 = all cores), got " + std::to_string(opt.threads));
    if (opt.k < 0) throw std::invalid_argument("k must be >= 0, got " + std::to_string(opt.k));
    if (opt.max_add_per_word < 1)
        throw std::invalid_argument("max_add_per_word must be >= 1, got " + std::to_string(opt.max_add_per_word));
    if (!(opt.max_seconds >= 0.0) || !std::isfinite(opt.max_seconds))
        throw std::invalid_argument("max_seconds must be finite and >= 0, got " + std::to_string(opt.max_seconds));
    if (!(opt.gap_tol >= 0.0) || !std::isfinite(opt.gap_tol))
        throw std::invalid_argument("gap_tol must be finite and >= 0, got " + std::to_string(opt.gap_tol));
    if (!(opt.rel_tol >= 0.0) || !std::isfinite(opt.rel_tol))
        throw std::invalid_argument("rel_tol must be finite and >= 0, got " + std::to_string(opt.rel_tol));
    if ((current_rows == nullptr) != (current_cols == nullptr))
        throw std::invalid_argument("current needs both rows and columns");
    if (current_rows) {
        std::vector<uint8_t> seen(static_cast<size_t>(n_cells), 0);
        for (int64_t w = 0; w < V; ++w) {
            const int32_t r = current_rows[w], c = current_cols[w];
            if (r < 0 || r >= R || c < 0 || c >= C)
                throw std::invalid_argument("current cell of word " + std::to_string(w) + " is (" + std::to_string(r) +
                                            ", " + std::to_string(c) + "), outside the table");
            uint8_t& s = seen[static_cast<size_t>(r) * C + c];
            if (s) throw std::invalid_argument("current places two words in the same cell (word " + std::to_string(w) + ")");
            s = 1;
        }
    }
    try {
        return solve_table_impl<T>(Lr, Lc, V, R, C, current_rows, current_cols, opt, interrupted);
    } catch (const NeedsScaling& ns) {
        const size_t nr = static_cast<size_t>(V) * R, nc = static_cast<size_t>(V) * C;
        std::vector<T> lr(nr), lc(nc);
        for (size_t a = 0; a < nr; ++a) lr[a] = static_cast<T>(std::ldexp(static_cast<double>(Lr[a]), -ns.shift));
        for (size_t a = 0; a < nc; ++a) lc[a] = static_cast<T>(std::ldexp(static_cast<double>(Lc[a]), -ns.shift));
        TableResult res = solve_table_impl<T>(lr.data(), lc.data(), V, R, C, current_rows, current_cols, opt, interrupted);
        res.objective = table_cost(Lr, Lc, V, R, C, res.rows.data(), res.cols.data());
        if (current_rows) res.current_objective = table_cost(Lr, Lc, V, R, C, current_rows, current_cols);
        // Each scaled cost is within half the least subnormal of the exact scaled value (the
        // scaling is exact but for underflow): a word's cost within 2^-1074, scaled back.
        const double slack = static_cast<double>(V) * std::ldexp(std::numeric_limits<double>::denorm_min(), ns.shift);
        res.lower_bound = std::nextafter(std::ldexp(res.lower_bound, ns.shift) - slack, -kInf);
        res.certified = certify(Lr, Lc, V, R, C, res.rows.data(), res.cols.data(), res.lower_bound,
                                std::max(kCertRelTol, opt.rel_tol));
        return res;
    }
}

template TableResult solve_table<float>(const float*, const float*, int32_t, int32_t, int32_t, const int32_t*,
                                        const int32_t*, const TableOptions&, const InterruptFn&);
template TableResult solve_table<double>(const double*, const double*, int32_t, int32_t, int32_t, const int32_t*,
                                         const int32_t*, const TableOptions&, const InterruptFn&);

}  // namespace lightrnn
