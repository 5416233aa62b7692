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
// makes the problem square for the first auction (see TableSolver); the exact rounds use the
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

// The solve on costs whose magnitudes are known to be safe (solve_table below checks the options
// and scales the costs when they are not).  One object per solve: the steps share the candidate
// lists, the sparse graph and its solver state, and the incremental pricing state.
template <typename T>
class TableSolver {
public:
    TableSolver(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C, const int32_t* current_rows,
                const int32_t* current_cols, const TableOptions& opt, const InterruptFn& user_interrupted)
        : Lr_(Lr), Lc_(Lc), V_(V), R_(R), C_(C), current_rows_(current_rows), current_cols_(current_cols),
          opt_(opt), user_interrupted_(user_interrupted),
          // The time budget rides on the interrupt checks of the sparse solves (every few
          // thousand searches or bids) and on one check per round.
          deadline_(opt.max_seconds > 0.0 ? now() + opt.max_seconds : kInf),
          n_cells_(static_cast<int64_t>(R) * C),
          n_rows_(static_cast<int32_t>(n_cells_)),
          threads_(resolve_threads(opt.threads, static_cast<int64_t>(V) * (R + C))),
          trace_(std::getenv("LIGHTRNN_SOLVER_TRACE") != nullptr),
          // Small problems: every cell is a candidate (one exact solve, no pricing rounds
          // needed).  Only tiny ones: past this size the candidates and pricing rounds are far
          // cheaper than the full graph (figures in docs/NOTES.md, "Every cell a candidate").
          dense_(static_cast<int64_t>(V) * n_cells_ <= (int64_t{1} << 16)),
          k_(dense_ ? std::max(R, C) : opt.k > 0 ? opt.k : auto_candidates(V)),
          exact_tol_(std::max(kCertRelTol, opt.rel_tol)) {
        interrupted_ = [this]() {
            if (user_interrupted_ && user_interrupted_()) return true;
            out_of_time_ = out_of_time_ || now() > deadline_;
            return out_of_time_;
        };
        hook_ = [this](const LapState& s, double rel_eps, CsrGraph& gv) { return phase_pricing(s, rel_eps, gv); };
    }
    TableSolver(const TableSolver&) = delete;  // the callbacks hold `this`
    TableSolver& operator=(const TableSolver&) = delete;

    TableResult solve() {
        res_.rows.assign(V_, 0);
        res_.cols.assign(V_, 0);
        res_.current_objective = current_rows_ ? table_cost(Lr_, Lc_, V_, R_, C_, current_rows_, current_cols_)
                                               : std::numeric_limits<double>::quiet_NaN();
        if (V_ == 0) {
            res_.certified = true;
            return std::move(res_);
        }
        const double t0 = now();
        scan_candidates();
        check_magnitudes();
        crowded_ = !dense_ && candidates_crowded();
        if (opt_.greedy_seed && crowded_) greedy_seed();
        add_dummy_cells();
        for (int32_t w = 0; w < V_; ++w)
            if (flat_[w]) flat_words_.push_back(w);
        relaxation_bound();
        res_.time_candidates = now() - t0;
        init_pricing_state();
        run_rounds();
        return finish();
    }

private:
    // ---- The problem and what follows from it alone.
    const T* const Lr_;
    const T* const Lc_;
    const int32_t V_, R_, C_;
    const int32_t* const current_rows_;
    const int32_t* const current_cols_;
    const TableOptions& opt_;
    const InterruptFn& user_interrupted_;
    const double deadline_;
    const int64_t n_cells_;
    const int32_t n_rows_;  // words + dummy words: one row per cell
    const int threads_;
    const bool trace_;
    const bool dense_;
    const int32_t k_;
    const double exact_tol_;  // the certificate's tolerance
    bool out_of_time_ = false;
    InterruptFn interrupted_;  // the caller's interrupt, or the time budget spent
    PhaseHook hook_;           // phase_pricing, for the first auction

    TableResult res_;

    // ---- Candidates (step 1): each row's candidate cells, sorted; per-word cost summaries.
    std::vector<std::vector<int32_t>> cells_;
    std::vector<uint8_t> flat_, bad_;
    std::vector<double> lr_min_, lc_min_, word_abs_;
    std::vector<int32_t> flat_words_;  // words whose costs are the same in every cell

    // ---- The sparse problem (step 2).
    Graph g_;
    LapState st_;

    // ---- Pricing state (step 3).
    std::vector<double> pmin_row_, pmin_col_;    // least price in each row / column of the table
    std::vector<std::vector<int32_t>> added_;    // violating cells found for each row
    std::vector<double> word_min_;               // least cost + p over all cells, by word
    // The least price seen by an exact pricing pass: the certificate's rounding bound of a word's
    // minimum holds for the bounds kept from earlier passes too.
    double pmin_ever_ = kInf;
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
    // bound).  Measured to skip a large share of the words in warm rounds and to speed up
    // warm-round pricing (figures in docs/NOTES.md, "Incremental pricing").
    std::vector<double> u_clean_;
    std::vector<double> clean_other_;  // lower bound of min over cells != clean_cell of cost + p
    std::vector<int32_t> clean_cell_;  // the word's matched cell at its clean pass
    std::vector<double> p_priced_;     // prices at the previous pricing pass
    std::vector<int32_t> dropped_;     // cells whose price fell since then
    std::vector<double> u_phase_;      // word values between auction phases
    int32_t hooks_left_ = 0;           // pricing passes left in the first auction
    static constexpr int32_t kExtraPhasePricing = 3;
    int32_t extra_hooks_left_ = kExtraPhasePricing;  // more passes there, while they add many cells
    int64_t last_phase_added_ = 0;                   // cells the last of those passes added

    // ---- Rounds (steps 2-4): the best table found so far (the latest of equal cost) and the
    // best proven bound: every round's bound holds for the full problem, whatever its table.
    std::vector<int32_t> round_rows_, round_cols_;
    double best_objective_ = kInf, best_bound_ = -kInf;
    bool first_ = true, restarted_ = false, restart_ = false;
    bool prune_ = true;  // prune_arcs before each warm round, until the rounds add few cells
    bool crowded_ = false;  // the words' k x k candidates cover fewer cells than there are words
    // Warm rounds leave columns that end free with a positive price unsettled (the reverse
    // searches that settle them cost most of a warm round, and the next round's pricing does not
    // need them settled); the round after pricing adds nothing settles them, then prices again.
    bool settle_next_ = false;
    // With many empty cells (from 2% of the table: a sampled pass's table is three quarters
    // empty) the prices left on vacated cells deflect the words round after round: the objective
    // rose and the bound fell for 16 rounds (52,706 words in 201,601 cells: uncertified after
    // 150 s; settled every round, certified in 74 s, 25 rounds), and synthetic losses with 2%
    // empty cells took 3.0 s instead of 1.9 s.  Below that, settling only when pricing finds
    // nothing is faster (figures in docs/NOTES.md, "Empty cells").
    const bool settle_every_round_ = (n_cells_ - V_) * 50 >= n_cells_;

    // Each word's fallback cell: its current cell, or cell w without a current table.  The
    // fallbacks are distinct, so with them a perfect matching always exists.
    int32_t fallback_cell(int64_t w) const {
        return current_rows_ ? current_rows_[w] * C_ + current_cols_[w] : static_cast<int32_t>(w);
    }

    // ---- Step 1: candidates.

    // Candidate cells per word (k cheapest rows x k cheapest columns, and the fallback cell), and
    // each word's least and largest costs (in the same pass over its costs): finiteness, the
    // magnitudes that decide scaling, the pricing tolerance and the certificate's rounding bounds.
    void scan_candidates() {
        cells_.assign(n_rows_, {});
        flat_.assign(V_, 0);
        bad_.assign(V_, 0);
        lr_min_.resize(V_);
        lc_min_.resize(V_);
        word_abs_.resize(V_);
        parallel_blocks(V_, threads_, [&](int64_t b, int64_t e) {
            std::vector<int32_t> idx, rk, ck;
            for (int64_t w = b; w < e; ++w) scan_word(w, idx, rk, ck);
        });
    }

    void scan_word(int64_t w, std::vector<int32_t>& idx, std::vector<int32_t>& rk, std::vector<int32_t>& ck) {
        const T* lr = Lr_ + w * R_;
        const T* lc = Lc_ + w * C_;
        // x - x is 0 exactly when x is finite (NaN for NaN and +-inf).
        int nonfinite = 0;
        T r0 = lr[0], r1 = lr[0], c0 = lc[0], c1 = lc[0];
        for (int32_t i = 0; i < R_; ++i) {
            nonfinite |= !(lr[i] - lr[i] == T(0));
            r0 = std::min(r0, lr[i]);
            r1 = std::max(r1, lr[i]);
        }
        for (int32_t j = 0; j < C_; ++j) {
            nonfinite |= !(lc[j] - lc[j] == T(0));
            c0 = std::min(c0, lc[j]);
            c1 = std::max(c1, lc[j]);
        }
        if (nonfinite) {  // NaN would break the sorts below (no strict weak order)
            bad_[w] = 1;
            return;
        }
        lr_min_[w] = static_cast<double>(r0);
        lc_min_[w] = static_cast<double>(c0);
        word_abs_[w] = std::max(std::abs(static_cast<double>(r0)), std::abs(static_cast<double>(r1))) +
                       std::max(std::abs(static_cast<double>(c0)), std::abs(static_cast<double>(c1)));
        // A word whose costs are the same in every cell (one a full pass missed; solve_table sets
        // them aside when they are many) is indifferent: priced like a dummy word.
        flat_[w] = r0 == r1 && c0 == c1;
        smallest_k(lr, R_, k_, idx, rk);
        smallest_k(lc, C_, k_, idx, ck);
        auto& cw = cells_[w];
        cw.reserve(rk.size() * ck.size() + 1);
        for (int32_t i : rk)
            for (int32_t j : ck) cw.push_back(i * C_ + j);
        insert_sorted(cw, fallback_cell(w));
    }

    // Every quantity of the solve is bounded by the words' largest costs: a table's cost by their
    // sum, prices by (cells + 2) times the largest pair cost (the auction's cap, the searches'
    // path lengths).  Throws std::invalid_argument for non-finite costs and for a sum that
    // overflows (it cannot be a table's cost), NeedsScaling when prices could overflow.
    void check_magnitudes() const {
        const double largest = check_word_magnitudes(Lr_, Lc_, R_, C_, bad_, word_abs_);
        const double limit = std::numeric_limits<double>::max() / 64.0;
        if (largest > limit / (static_cast<double>(n_cells_) + 2.0)) {
            int shift = 0;
            while (std::ldexp(largest, -shift) > limit / (static_cast<double>(n_cells_) + 2.0)) ++shift;
            throw NeedsScaling{shift};
        }
    }

    // ---- Step 1b: greedy seed, for loss matrices where every word prefers the same few rows and
    // columns (early in training they are close to count x marginal): the k x k candidates of all
    // words then overlap on fewer cells than there are words, and pricing needs many rounds to
    // find where the words must go (figures in docs/NOTES.md, "Greedy seed").  Words in
    // decreasing order of their cost spread each take the cheapest cell not yet taken in their k
    // cheapest rows that still have one (O(R + k C) a word), and that cell joins their
    // candidates: a near-optimal table to start from.  Peaked costs, whose candidates cover the
    // cells already, skip this.

    // Whether the words' k x k candidates cover fewer distinct cells than there are words.
    bool candidates_crowded() const {
        std::vector<uint8_t> covered(n_cells_, 0);
        int64_t n_covered = 0;
        for (int64_t w = 0; w < V_ && n_covered < V_; ++w) {
            const int32_t fallback = fallback_cell(w);
            for (int32_t cell : cells_[w])  // the k x k cells (the fallback spreads over all)
                if (cell != fallback && !covered[cell]) { covered[cell] = 1; ++n_covered; }
        }
        return n_covered < V_;
    }

    void greedy_seed() {
        const double tg = now();
        std::vector<int32_t> greedy_cell(V_, -1);
        const double greedy_total = greedy_table(greedy_cell);
        // Only a greedy table well below the current one (e.g. a random round-0 table) helps.
        // Once the current table is a previous optimum the greedy cells only slow the solve
        // (measured on real losses; figures in docs/NOTES.md, "Greedy seed"), so they are added
        // only when the greedy table costs at least 10% less.
        res_.greedy_seeded = !current_rows_ ||
                             greedy_total < res_.current_objective - 0.1 * std::abs(res_.current_objective);
        if (res_.greedy_seeded) {
            for (int32_t w = 0; w < V_; ++w) {
                if (greedy_cell[w] >= 0) insert_sorted(cells_[w], greedy_cell[w]);
            }
        }
        if (trace_)
            std::fprintf(stderr, "greedy seed %.3fs total %.6g current %.6g\n", now() - tg, greedy_total,
                         res_.current_objective);
    }

    // The greedy table: each word's cell (-1 for flat words) in `greedy_cell`; returns its cost.
    double greedy_table(std::vector<int32_t>& greedy_cell) const {
        std::vector<double> spread(V_);
        parallel_blocks(V_, threads_, [&](int64_t b, int64_t e) {
            for (int64_t w = b; w < e; ++w) {
                const T* lr = Lr_ + w * R_;
                const T* lc = Lc_ + w * C_;
                auto [r0, r1] = std::minmax_element(lr, lr + R_);
                auto [c0, c1] = std::minmax_element(lc, lc + C_);
                spread[w] = (static_cast<double>(*r1) - *r0) + (static_cast<double>(*c1) - *c0);
            }
        });
        std::vector<int32_t> order(V_);
        std::iota(order.begin(), order.end(), 0);
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return spread[a] > spread[b]; });
        std::vector<uint8_t> taken(n_cells_, 0);
        std::vector<int32_t> row_free(R_, C_), open_rows;
        double greedy_total = 0.0;
        for (int32_t w : order) {
            if (flat_[w]) continue;
            double best = kInf;
            const int32_t bcell = cheapest_open_cell(w, taken, row_free, open_rows, best);
            if (bcell < 0) continue;  // cannot happen (fewer words than cells); kept for safety
            taken[bcell] = 1;
            greedy_total += best;
            --row_free[bcell / C_];
            greedy_cell[w] = bcell;
        }
        return greedy_total;
    }

    // The cheapest cell not taken in word w's k cheapest rows that still have one (its cost in
    // `best`), or -1.
    int32_t cheapest_open_cell(int32_t w, const std::vector<uint8_t>& taken, const std::vector<int32_t>& row_free,
                               std::vector<int32_t>& open_rows, double& best) const {
        const T* lr = Lr_ + static_cast<int64_t>(w) * R_;
        const T* lc = Lc_ + static_cast<int64_t>(w) * C_;
        open_rows.clear();
        for (int32_t i = 0; i < R_; ++i)
            if (row_free[i] > 0) open_rows.push_back(i);
        const size_t m = std::min<size_t>(open_rows.size(), static_cast<size_t>(k_));
        auto by_cost = [lr](int32_t a, int32_t b) { return lr[a] < lr[b] || (lr[a] == lr[b] && a < b); };
        std::nth_element(open_rows.begin(), open_rows.begin() + (m - 1), open_rows.end(), by_cost);
        int32_t bcell = -1;
        for (size_t r = 0; r < m; ++r) {
            const int32_t i = open_rows[r];
            const int64_t base = static_cast<int64_t>(i) * C_;
            for (int32_t j = 0; j < C_; ++j) {
                if (taken[base + j]) continue;
                const double v = static_cast<double>(lr[i]) + static_cast<double>(lc[j]);
                if (v < best || (v == best && base + j < bcell)) {
                    best = v;
                    bcell = static_cast<int32_t>(base + j);
                }
            }
        }
        return bcell;
    }

    // ---- Step 1c: rows V.. are dummy words of cost 0 that fill the empty cells, which makes the
    // problem square for the first auction; the exact rounds use the first V rows only.
    void add_dummy_cells() {
        // Dummy words take the cells no word's fallback uses: a complete matching exists.
        std::vector<uint8_t> used(n_cells_, 0);
        for (int64_t w = 0; w < V_; ++w) used[fallback_cell(w)] = 1;
        std::vector<int32_t> unused;
        for (int32_t c = 0; c < n_rows_; ++c)
            if (!used[c]) unused.push_back(c);
        // Dummy t gets unused cells t .. t+7 (cyclically): a perfect matching still exists, and
        // the auction's dummies, all alike, do not each bid over every empty cell, which made
        // the first auction slower (figures in docs/NOTES.md, "Empty cells").
        const size_t m = std::min<size_t>(unused.size(), 8);
        for (int32_t d = V_; d < n_rows_; ++d) {
            auto& cd = cells_[d];
            cd.clear();
            for (size_t a = 0; a < m; ++a) cd.push_back(unused[(static_cast<size_t>(d - V_) + a) % unused.size()]);
            std::sort(cd.begin(), cd.end());
        }
    }

    // ---- Step 3: pricing over every cell for every word, with row and column pruning.

    void init_pricing_state() {
        pmin_row_.assign(R_, 0.0);
        pmin_col_.assign(C_, 0.0);
        added_.assign(n_rows_, {});
        word_min_.assign(n_rows_, -kInf);
        u_clean_.assign(V_, kInf);
        clean_other_.assign(V_, -kInf);
        clean_cell_.assign(V_, -1);
        hooks_left_ = opt_.phase_pricing;
        round_rows_.assign(V_, 0);
        round_cols_.assign(V_, 0);
    }

    // One pricing pass: prices p, word duals u, and (exact passes only) the matching.
    struct Pass {
        const double* p;
        const double* u;
        const int32_t* match;  // null between auction phases
        bool exact;            // u and p are an exact optimum of the current graph
        bool incremental;      // few prices dropped: clean words are checked on those cells only
    };

    // A thread's buffers for a pricing pass, and the state of the word being priced in full.
    struct WordScan {
        // The most violating cells so far, (value, cell) below u_w - tol: a max-heap of at most
        // `keep` (max_add_per_word) entries.  Collecting every violating cell and sorting them
        // after took most of a pricing pass on real losses, where most of a word's cells violate
        // (figures in docs/NOTES.md, "Most violating cells in a bounded heap").
        std::vector<std::pair<double, int32_t>> viol;
        size_t keep = 1;
        std::vector<std::pair<double, int32_t>> rows_by_bound;  // (lower bound, row) below best
        std::vector<int32_t> live_cols;                         // columns that can beat best
        std::vector<double> live_lc;                            // their Lc[w, j]
        std::vector<double> lc_all;                             // Lc[w, :], when scanning densely
        bool dense = false;                                     // scan every column (most are live)
        double uw = 0.0, tol = 0.0;
        double best = 0.0;   // least cell value found (starts at u_w: the matched cell is tight)
        double other = 0.0;  // lower bound of the least cell other than the matched one
        double lcmin = 0.0, lrmin = 0.0, lrp_min = 0.0;  // min_j Lc; min_i Lr; min_i (Lr + pmin_row)
        int32_t mi = -1, mj = -1;                        // row and column of the matched cell

        // Cells below this value may enter `viol` (the least `keep` (value, cell) pairs).
        double viol_limit(double threshold) const {
            return viol.size() < keep ? threshold : std::min(threshold, viol.front().first);
        }
        void offer(double v, int32_t cell) {
            if (viol.size() < keep) {
                viol.emplace_back(v, cell);
                std::push_heap(viol.begin(), viol.end());
            } else if (std::make_pair(v, cell) < viol.front()) {
                std::pop_heap(viol.begin(), viol.end());
                viol.back() = {v, cell};
                std::push_heap(viol.begin(), viol.end());
            }
        }
    };

    // A cell prices out when it beats u_w by more than rel_tol times the word's own magnitude
    // (|u_w| plus its least costs): the same relative test at every scale of costs.
    double tol_of(int64_t w, double uw) const {
        return opt_.rel_tol * (std::abs(uw) + std::abs(lr_min_[w]) + std::abs(lc_min_[w]));
    }

    // cost + price of cell c for word w
    double cell_value(int64_t w, int32_t c, const double* p) const {
        return static_cast<double>(Lr_[w * R_ + c / C_]) + static_cast<double>(Lc_[w * C_ + c % C_]) + p[c];
    }

    // Adds violating cells to the candidates and returns how many.  match != null: an exact pass
    // (word_min, the certificate's terms, and the incremental state are updated); otherwise a
    // between-phases pass of the auction (u = cheapest arc at p).
    int64_t price(const double* p, const double* u, const int32_t* match) {
        Pass pass{p, u, match, match != nullptr, false};
        dropped_.clear();
        if (pass.exact && !p_priced_.empty()) {
            for (int32_t c = 0; c < n_rows_; ++c)
                if (p[c] < p_priced_[c]) dropped_.push_back(c);
        }
        // Checking the dropped cells costs |dropped| a word, a full pricing about R + C: past
        // that, every word is priced in full.  (A table with empty cells drops many prices to 0
        // in a warm round, and the checks then cost more than they save; figures in
        // docs/NOTES.md, "Incremental pricing".)
        pass.incremental = dropped_.size() <= static_cast<size_t>(R_) + static_cast<size_t>(C_);
        least_prices(p, pass.exact);
        parallel_blocks(V_, threads_, [&](int64_t b, int64_t e) {
            WordScan s;
            for (int64_t w = b; w < e; ++w) {
                if (flat_[w]) continue;  // priced below, together
                const int32_t mcell = pass.exact ? match[w] : -1;
                if (!skip_clean_word(w, mcell, pass)) price_word(w, mcell, pass, s);
            }
        });
        // Not between auction phases (their added lists stay empty): words that cost the same
        // everywhere tie on every cell, and ties make the auction's price wars long (figures in
        // docs/NOTES.md, "Empty cells").
        if (!flat_words_.empty() && pass.exact) price_flat_words(p, u);
        int64_t n_added = 0;
        for (int64_t w = 0; w < n_rows_; ++w) {
            for (int32_t cell : added_[w]) n_added += insert_sorted(cells_[w], cell);
        }
        if (pass.exact) p_priced_.assign(p, p + n_rows_);
        return n_added;
    }

    // The least price in each row and column of the table (and, exact passes, pmin_ever).
    void least_prices(const double* p, bool exact) {
        std::fill(pmin_col_.begin(), pmin_col_.end(), kInf);
        for (int32_t i = 0; i < R_; ++i) {
            const double* pi = p + static_cast<int64_t>(i) * C_;
            double m = kInf;
            for (int32_t j = 0; j < C_; ++j) {
                m = std::min(m, pi[j]);
                pmin_col_[j] = std::min(pmin_col_[j], pi[j]);
            }
            pmin_row_[i] = m;
        }
        if (exact)
            for (int32_t i = 0; i < R_; ++i) pmin_ever_ = std::min(pmin_ever_, pmin_row_[i]);
    }

    // Incremental pricing (see u_clean_): true when word w is clean and none of the dropped cells
    // violates for it, its word_min and clean state then updated.
    bool skip_clean_word(int64_t w, int32_t mcell, const Pass& pass) {
        if (!pass.exact || u_clean_[w] == kInf) return false;
        // Least value a cell other than the matched one can have now, but for the dropped
        // cells: clean_other for all but the clean-time cell, that cell exactly.
        const int32_t cc = clean_cell_[w];
        double lim = clean_other_[w];
        if (cc >= 0 && cc != mcell) lim = std::min(lim, cell_value(w, cc, pass.p));
        const double uw = pass.u[w];
        if (!pass.incremental || !(uw <= u_clean_[w] || uw <= lim)) return false;
        const double threshold = uw - tol_of(w, uw);
        double dmin = kInf;
        for (int32_t c : dropped_) dmin = std::min(dmin, cell_value(w, c, pass.p));
        if (!(dmin >= threshold)) return false;
        // The matched arc has cost + p = u_w; other cells are >= what they were.
        // Every cell is >= lim, or is the matched one, or a dropped one.
        const double vm = mcell >= 0 ? cell_value(w, mcell, pass.p) : kInf;
        word_min_[w] = std::min({vm, lim, dmin});
        added_[w].clear();
        if (!dropped_.empty()) {
            // Keep the clean state true at these prices: a dropped cell may rise again later
            // yet stay below the price it had at the clean pass, and then be in no later
            // dropped list.  Its value is >= dmin now, and every cell is >= the threshold of
            // min(u_clean, u_w).
            clean_other_[w] = std::min(clean_other_[w], dmin);
            u_clean_[w] = std::min(u_clean_[w], uw);
        }
        return true;
    }

    // Full pricing of word w: rows by their lower bound, scanned on the live columns only, until
    // no row can beat the least value found; its violating cells (the most violating
    // max_add_per_word) go to added_[w].
    void price_word(int64_t w, int32_t mcell, const Pass& pass, WordScan& s) {
        const T* lc = Lc_ + w * C_;
        s.lcmin = kInf;
        for (int32_t j = 0; j < C_; ++j) s.lcmin = std::min(s.lcmin, static_cast<double>(lc[j]));
        s.uw = pass.u[w];
        s.tol = tol_of(w, s.uw);
        s.best = s.uw;  // the matched cell is tight: min over all cells is <= u_w
        s.viol.clear();
        s.keep = static_cast<size_t>(std::max(1, opt_.max_add_per_word));
        s.other = kInf;
        s.mi = mcell >= 0 ? mcell / C_ : -1;
        s.mj = mcell >= 0 ? mcell % C_ : -1;
        bound_rows(w, s);
        live_columns(w, s);
        scan_rows(w, pass.p, s);
        if (pass.exact) word_min_[w] = s.best;
        added_[w].clear();
        for (const auto& vc : s.viol) added_[w].push_back(vc.second);
        if (pass.exact) {
            u_clean_[w] = s.viol.empty() ? s.uw : kInf;  // a word that added cells is priced again
            clean_cell_[w] = mcell;
            clean_other_[w] = s.other;
        }
    }

    // Each row's lower bound Lr[w,i] + min_j p_ij + min_j Lc[w,j]: rows below `best` are kept, in
    // order of their bound; the others' least bound is a term of `other`.
    void bound_rows(int64_t w, WordScan& s) const {
        const T* lr = Lr_ + w * R_;
        s.rows_by_bound.clear();
        const double lcmin = s.lcmin, best = s.best;  // locals: the loop's stores cannot alias them
        double lrmin = kInf, lrp_min = kInf, other = s.other;
        for (int32_t i = 0; i < R_; ++i) {
            const double li = static_cast<double>(lr[i]);
            lrmin = std::min(lrmin, li);
            lrp_min = std::min(lrp_min, li + pmin_row_[i]);
            double bound = li + pmin_row_[i] + lcmin;
            if (bound < best) s.rows_by_bound.emplace_back(bound, i);
            else other = std::min(other, bound);
        }
        // Few rows: in order of their bound, so that `best` falls fastest.  Most of the rows (real
        // early-training losses, where nearly every row is scanned): the least first and the
        // rest as they come, which saves the sort (figures in docs/NOTES.md, "Pricing scans only
        // the columns").  Either way a row whose bound is not below `best` is skipped.
        auto& rb = s.rows_by_bound;
        if (rb.size() * 4 <= static_cast<size_t>(R_)) std::sort(rb.begin(), rb.end());
        else if (!rb.empty()) std::iter_swap(rb.begin(), std::min_element(rb.begin(), rb.end()));
        s.lrmin = lrmin;
        s.lrp_min = lrp_min;
        s.other = other;
    }

    // Columns that can hold a cell below u_w in some row: every cell of column j is
    // >= Lc[w,j] + max(min_i Lr + pmin_col[j], min_i (Lr + pmin_row)).  Rows are scanned on these
    // columns only, few of the C on LightRNN losses (figures in docs/NOTES.md, "Pricing scans
    // only the columns"); the others' least bound stays a term of word_min and of `other`.
    void live_columns(int64_t w, WordScan& s) const {
        const T* lc = Lc_ + w * C_;
        s.live_cols.clear();
        s.live_lc.clear();
        const double lrmin = s.lrmin, lrp_min = s.lrp_min, best = s.best;
        double out_bound = kInf;
        for (int32_t j = 0; j < C_; ++j) {
            const double lj = static_cast<double>(lc[j]);
            const double col_bound = lj + std::max(lrmin + pmin_col_[j], lrp_min);
            if (col_bound < best) {
                s.live_cols.push_back(j);
                s.live_lc.push_back(lj);
            } else {
                out_bound = std::min(out_bound, col_bound);
            }
        }
        s.other = std::min(s.other, out_bound);
        // When most columns are live (real early-training losses) a contiguous loop over every
        // column, which the compiler vectorises, beats gathering the live ones (figures in
        // docs/NOTES.md, "Pricing scans only the columns").  Dead columns cannot lower a row's
        // minimum below `best` nor violate; including them only makes the row minima exact.
        s.dense = s.live_cols.size() * 2 >= static_cast<size_t>(C_);
        if (s.dense) s.lc_all.assign(lc, lc + C_);
    }

    // The rows below `best` (see bound_rows for their order), on the scanned columns (every
    // column when s.dense, else the live ones); a row whose bound is no longer below `best` is
    // skipped.  Lowers best, collects the violating cells, and keeps `other` (exact rows scanned,
    // the rest by their bound).
    void scan_rows(int64_t w, const double* p, WordScan& s) const {
        if (s.dense) scan_rows_on<true>(w, p, s);
        else scan_rows_on<false>(w, p, s);
    }

    template <bool Dense>
    void scan_rows_on(int64_t w, const double* p, WordScan& s) const {
        const T* lr = Lr_ + w * R_;
        const double uw = s.uw, tol = s.tol;
        double best = s.best, other = s.other;  // locals: the stores into viol cannot alias them
        for (const auto& [bound, i] : s.rows_by_bound) {
            if (bound >= best) {
                other = std::min(other, bound);
                continue;
            }
            const double li = static_cast<double>(lr[i]);
            const double* pi = p + static_cast<int64_t>(i) * C_;
            // The matched cell is left out of `other` (the least value of any other cell).
            const auto [least, least_other] = row_minima<Dense>(s, pi, i == s.mi ? s.mj : -1);
            other = std::min(other, least_other + li);
            const double row_min = least + li;
            if (row_min < best) best = row_min;
            if (row_min < uw - tol && row_min <= s.viol_limit(uw - tol)) offer_row<Dense>(s, pi, li, i);
        }
        s.best = best;
        s.other = other;
    }

    // min_j (a[j] + b[j]) over [0, n), in four independent lanes (vectorisable).
    static double min_of_sums(const double* a, const double* b, int32_t n) {
        double m0 = kInf, m1 = kInf, m2 = kInf, m3 = kInf;
        int32_t j = 0;
        for (; j + 4 <= n; j += 4) {
            m0 = std::min(m0, a[j] + b[j]);
            m1 = std::min(m1, a[j + 1] + b[j + 1]);
            m2 = std::min(m2, a[j + 2] + b[j + 2]);
            m3 = std::min(m3, a[j + 3] + b[j + 3]);
        }
        for (; j < n; ++j) m0 = std::min(m0, a[j] + b[j]);
        return std::min(std::min(m0, m1), std::min(m2, m3));
    }

    // The least Lc[w, j] + p_ij of row i (prices `pi`) over the scanned columns, and the least
    // but for column `skip` (-1: none).
    template <bool Dense>
    std::pair<double, double> row_minima(const WordScan& s, const double* pi, int32_t skip) const {
        if constexpr (Dense) {
            const double* lc = s.lc_all.data();
            if (skip < 0) {
                const double m = min_of_sums(lc, pi, C_);
                return {m, m};
            }
            const double m_other =
                std::min(min_of_sums(lc, pi, skip), min_of_sums(lc + skip + 1, pi + skip + 1, C_ - skip - 1));
            return {std::min(m_other, lc[skip] + pi[skip]), m_other};
        } else {
            const size_t n_live = s.live_cols.size();
            const int32_t* live_cols = s.live_cols.data();
            const double* live_lc = s.live_lc.data();
            double m = kInf;
            if (skip < 0) {
                for (size_t t = 0; t < n_live; ++t) m = std::min(m, live_lc[t] + pi[live_cols[t]]);
                return {m, m};
            }
            double m_other = kInf;
            for (size_t t = 0; t < n_live; ++t) {
                const double v = live_lc[t] + pi[live_cols[t]];
                m = std::min(m, v);
                if (live_cols[t] != skip) m_other = std::min(m_other, v);
            }
            return {m, m_other};
        }
    }

    // Offers row i's violating cells on the scanned columns to s.viol.
    template <bool Dense>
    void offer_row(WordScan& s, const double* pi, double li, int32_t i) const {
        const double threshold = s.uw - s.tol;
        auto consider = [&](int32_t j, double lcj) {
            const double v = li + lcj + pi[j];
            if (v < threshold && v <= s.viol_limit(threshold)) s.offer(v, i * C_ + j);
        };
        if constexpr (Dense) {
            for (int32_t j = 0; j < C_; ++j) consider(j, s.lc_all[j]);
        } else {
            for (size_t t = 0; t < s.live_cols.size(); ++t) consider(s.live_cols[t], s.live_lc[t]);
        }
    }

    // Flat words cost the same constant everywhere: their cheapest cells are the cheapest-priced
    // cells, the same for all of them.  Each gets the cheapest (which violates for it if any cell
    // does: a cell already among its arcs cannot, by dual feasibility) and a share of the next
    // ones, dealt round-robin, so that together they reach max_add_per_word distinct cells each
    // per round.  (All taking the same max_add_per_word cells made pricing need many more rounds;
    // figures in docs/NOTES.md, "Empty cells".)
    void price_flat_words(const double* p, const double* u) {
        const std::vector<int32_t>& group = flat_words_;
        const size_t per_word = static_cast<size_t>(std::max(1, opt_.max_add_per_word));
        std::vector<std::pair<double, int32_t>> by_price(n_rows_);
        for (int32_t c = 0; c < n_rows_; ++c) by_price[c] = {p[c], c};
        const size_t keep = std::min(by_price.size(), per_word * group.size() + 1);
        std::partial_sort(by_price.begin(), by_price.begin() + static_cast<std::ptrdiff_t>(keep), by_price.end());
        for (size_t t = 0; t < group.size(); ++t) {
            const int32_t d = group[t];
            const double base = static_cast<double>(Lr_[int64_t(d) * R_]) + static_cast<double>(Lc_[int64_t(d) * C_]);
            const double ud = u[d];
            const double threshold = ud - tol_of(d, ud);
            word_min_[d] = std::min(ud, base + by_price[0].first);
            added_[d].clear();
            if (base + by_price[0].first < threshold) added_[d].push_back(by_price[0].second);
            for (size_t a = 1 + t; a < keep && added_[d].size() < per_word; a += group.size()) {
                if (base + by_price[a].first >= threshold) break;  // sorted: no later one violates
                added_[d].push_back(by_price[a].second);
            }
        }
    }

    // Column generation between the first auction's phases (the PhaseHook): once eps is small
    // enough for the prices to mean something, price every word against them and add its
    // violating cells, so that the exact rounds that follow start from a graph that already holds
    // most of them (the first warm rounds' shortest-path searches are what costs most without
    // this).  The passes left after the last phase run at its eps, each followed by one more
    // phase there: the cells the exact rounds would add otherwise cost long searches (figures in
    // docs/NOTES.md, "More pricing inside the first auction").  Up to kExtraPhasePricing more
    // passes at the final eps while the last one still added a cell per four words or more: on
    // real early-training losses every pass adds about seven a word, and each cell taken in here
    // is a long search saved in the first warm rounds; on synthetic losses the last passes add
    // about one per hundred words, and the extra passes would only cost time (figures in the
    // same place).
    bool phase_pricing(const LapState& s, double rel_eps, CsrGraph& gv) {
        // Out of time: the auction finishes on the arcs it has (a table sooner, without a bound).
        if (rel_eps > opt_.phase_pricing_eps || now() > deadline_) return false;
        if (hooks_left_ <= 0) {
            if (extra_hooks_left_ <= 0 || last_phase_added_ * 4 < V_) return false;
            --extra_hooks_left_;
        } else {
            --hooks_left_;
        }
        double th = now();
        u_phase_.assign(n_rows_, kInf);
        for (int32_t w = 0; w < n_rows_; ++w)
            for (int64_t a = gv.indptr[w]; a < gv.indptr[w + 1]; ++a)
                u_phase_[w] = std::min(u_phase_[w], gv.cost[a] + s.p[gv.indices[a]]);
        int64_t n = price(s.p.data(), u_phase_.data(), nullptr);
        res_.time_pricing += now() - th;
        if (trace_)
            std::fprintf(stderr, "  phase pricing at eps %.3g x range: %.3fs added %lld\n", rel_eps, now() - th,
                         (long long)n);
        last_phase_added_ = n;
        if (n == 0) return false;
        build_graph(cells_, Lr_, Lc_, V_, R_, C_, g_);
        gv = g_.view(n_rows_, n_rows_);
        return true;
    }

    // ---- Step 4: the certificate.

    // The bound of the relaxation where words may share cells (each word in its cheapest row and
    // column): it holds from the start, so a table returned before the first round ends has a
    // finite gap, and it is tight when the words' favourite cells differ.  Each term is an exact
    // double (a cost), so the compensated sum's proven error is all the rounding there is.
    void relaxation_bound() {
        CompensatedSum relaxed;
        for (int32_t w = 0; w < V_; ++w) {
            relaxed.add(lr_min_[w]);
            relaxed.add(lc_min_[w]);
        }
        best_bound_ = relaxed.lower();
    }

    // A proven lower bound on the optimum from the last exact pricing pass: for each word, its
    // minimum over all cells of cost + p (word_min) less the most its rounding can have hidden,
    // minus the sum of prices (rectangular: of max(p, 0), which the bound needs), summed with
    // a proven error bound.  Every value pricing compares (a cell's cost + price, or a bound of
    // a set of cells' values) is a sum of three doubles a + b + c, off by at most
    // 2u (|a| + |b| + |c|) <= 2u (|v*| + 2 N_w), where v* is the word's exact minimum and N_w
    // the magnitude of the word's negative costs and prices (|x| = x + 2 max(-x, 0), and the
    // three terms of any such bound are at most v* in sum).  |v*| is at most max(|word_min|,
    // value of the matched cell) up to that rounding.  Additions have no underflow error.
    double table_lower_bound() const {
        const bool square = n_cells_ == V_;
        const double pneg = pmin_ever_ < 0.0 ? -pmin_ever_ : 0.0;
        CompensatedSum sum;
        for (int64_t w = 0; w < V_; ++w) {
            const double m = word_min_[w];
            const int32_t c = st_.row_to_col[w];
            if (!(m > -kInf) || c < 0) return -kInf;
            const double a = static_cast<double>(Lr_[w * R_ + c / C_]), b = static_cast<double>(Lc_[w * C_ + c % C_]);
            const double pc = st_.p[c];
            const double vm = (a + b) + pc + 2.01 * kUnit * (std::abs(a) + std::abs(b) + std::abs(pc));
            const double mag = std::max(std::abs(vm), std::abs(m)) +
                               2.0 * ((lr_min_[w] < 0.0 ? -lr_min_[w] : 0.0) + (lc_min_[w] < 0.0 ? -lc_min_[w] : 0.0) + pneg);
            sum.add(m);
            sum.add(-2.02 * kUnit * mag);
        }
        for (int64_t c = 0; c < n_cells_; ++c) sum.add(square ? -st_.p[c] : -std::max(st_.p[c], 0.0));
        const double lb = sum.lower();
        return std::isnan(lb) ? -kInf : lb;
    }

    // Keeps this round's table if it is the best so far, and the bound if it is the best.
    void record_round(double bound) {
        for (int64_t w = 0; w < V_; ++w) {
            const int32_t cell = st_.row_to_col[w];
            round_rows_[w] = cell / C_;
            round_cols_[w] = cell % C_;
        }
        const double obj = table_cost(Lr_, Lc_, V_, R_, C_, round_rows_.data(), round_cols_.data());
        if (obj <= best_objective_) {
            best_objective_ = obj;
            res_.rows = round_rows_;
            res_.cols = round_cols_;
        }
        best_bound_ = std::max(best_bound_, bound);
    }

    // Whether the best table is proven within tol (relative to its cost terms) of the optimum.
    bool within(double tol) const {
        return best_objective_ < kInf &&
               certify(Lr_, Lc_, V_, R_, C_, res_.rows.data(), res_.cols.data(), best_bound_, tol);
    }

    // ---- The rounds: solve, price, bound, until no cell prices out (or a limit).

    void run_rounds() {
        try {
            for (int32_t round = 0; round < opt_.max_rounds; ++round) {
                if (interrupted_ && interrupted_()) throw Interrupted("interrupted");
                solve_round(round);
                if (now() > deadline_) {  // keep the round's table; pricing would overrun the budget
                    record_round(-kInf);
                    res_.stopped = "max_seconds";
                    break;
                }
                if (price_round()) break;
            }
        } catch (const Interrupted&) {
            if (!out_of_time_) throw;
            res_.stopped = "max_seconds";
        }
        if (res_.stopped.empty()) res_.stopped = "max_rounds";
    }

    // Step 2: the exact sparse solve of the candidate graph (warm after the first round).
    void solve_round(int32_t round) {
        double t1 = now();
        const double pricing_before = res_.time_pricing;  // the first auction's passes count as pricing
        if (prune_ && !first_ && !restart_) prune_arcs();
        build_graph(cells_, Lr_, Lc_, V_, R_, C_, g_);
        // The exact rounds solve the rectangular problem: V words into R*C cells, an empty cell
        // priced 0 (every shortest-path search ends at the nearest empty cell).  With dummy words
        // filling the empty cells instead, a search had to reach a cell vacated in that round,
        // far away behind the dummies' own cells (figures in docs/NOTES.md, "Empty cells").
        const CsrGraph words_view = g_.view(V_, n_rows_);
        if (first_) {
            first_solve();
            first_ = false;
        } else if (restart_) {
            st_ = solve_ssp(words_view, interrupted_);
            restart_ = false;
        } else {
            // Warm start: keep prices and matching; only rows whose new arcs undercut their
            // match are searched again.  (A warm auction inflates the prices of candidate cells
            // over the others and needs many more pricing rounds.)  Row reduction only when
            // >= 25% of the words are free (see repair_and_finish): faster on synthetic losses,
            // no change on real ones (figures in docs/NOTES.md, "Row reduction").
            repair_and_finish(words_view, st_, interrupted_, 0.25, settle_next_ || settle_every_round_);
        }
        settle_next_ = false;
        res_.time_solve += now() - t1 - (res_.time_pricing - pricing_before);
        ++res_.pricing_rounds;
        if (trace_)
            std::fprintf(stderr, "round %d solve %.3fs arcs %lld aug %lld bids %lld\n", round, now() - t1,
                         (long long)g_.indices.size(), (long long)st_.augmentations, (long long)st_.auction_bids);
    }

    // Keeps each word's arcs of least reduced cost at the last solve's duals (3 x max_add_per_word
    // of them, with its matched and fallback cells): the cells pricing added long ago and that no
    // longer come near the word's value only lengthen the searches.  The duals stay feasible and
    // the matching stays in the graph, so the warm start holds; a dropped cell comes back when
    // pricing finds it violating again.  On real losses the graph stays several times smaller,
    // in about the same number of rounds (figures in docs/NOTES.md, "Arcs kept per word").  To
    // end surely, pruning stops for good once a round adds few cells (under one per four words)
    // or after a restart: the graph then only grows, as column generation needs.
    void prune_arcs() {
        const size_t keep = 3 * static_cast<size_t>(std::max(1, opt_.max_add_per_word));
        std::vector<std::pair<double, int32_t>> by_reduced;
        for (int32_t w = 0; w < V_; ++w) {
            auto& cw = cells_[w];
            if (cw.size() <= keep + 2) continue;
            const int32_t m = st_.row_to_col[w], fb = fallback_cell(w);
            by_reduced.clear();
            for (int32_t c : cw)
                if (c != m && c != fb) by_reduced.emplace_back(cell_value(w, c, st_.p.data()) - st_.u[w], c);
            std::nth_element(by_reduced.begin(), by_reduced.begin() + static_cast<std::ptrdiff_t>(keep),
                             by_reduced.end());
            cw.clear();
            for (size_t a = 0; a < keep; ++a) cw.push_back(by_reduced[a].second);
            if (m >= 0) cw.push_back(m);
            cw.push_back(fb);
            std::sort(cw.begin(), cw.end());
            cw.erase(std::unique(cw.begin(), cw.end()), cw.end());
        }
    }

    // The first solve, from scratch.
    void first_solve() {
        bool auction = opt_.method == TableMethod::Auction;
        if (opt_.method == TableMethod::Auto) {
            // On a full table many words compete for the same cheap cells, which makes
            // shortest-path searches from a cold start long; the auction spreads them by prices
            // first.  With many empty cells the auction's dummy words fight price wars over them
            // while a search soon ends at a free cell: shortest paths alone are faster, by 10-60x
            // from 10% empty cells.  Up to 1% empty the auction keeps its advantage on real
            // losses (200,000 words, 0.35% empty: proven within 3.1% of the optimum after 300 s,
            // against 10.2%; figures in docs/NOTES.md, "The first solve").  On early-training
            // losses (crowded candidates) below 65,536 words shortest paths alone are the faster
            // start, and slower at 200,000 words (same figures).
            auction = (static_cast<int64_t>(n_rows_) - V_) * 100 <= n_cells_ && !(crowded_ && V_ < 65536);
        }
        CsrGraph view = g_.view(n_rows_, n_rows_);
        if (!auction) {
            st_ = solve_ssp(g_.view(V_, n_rows_), interrupted_);
        } else if (n_rows_ == V_) {
            st_ = solve_auction(view, {}, interrupted_, 8.0, hook_, &view);
        } else {
            auction_with_dummies(view);
        }
        res_.method = auction ? "auction+ssp" : "ssp";
    }

    // The auction needs a square problem: it runs with the dummy words, which are then dropped
    // and their cells emptied.  Prices shift down by the least a dummy paid (a dummy is
    // indifferent between cells, so it holds about the cheapest it can reach), so empty cells go
    // to price 0 with little change to the others; unshifted, the repair takes about twice as
    // long (figures in docs/NOTES.md, "The first solve").
    void auction_with_dummies(CsrGraph& view) {
        st_ = solve_auction(view, {}, interrupted_, 8.0, hook_, &view, /*finish=*/false);
        double shift = kInf;
        for (int32_t d = V_; d < n_rows_; ++d) {
            const int32_t c = st_.row_to_col[d];
            if (c >= 0) {
                shift = std::min(shift, st_.p[c]);
                st_.col_to_row[c] = -1;
            }
        }
        if (shift == kInf) shift = 0.0;
        for (double& price_c : st_.p) price_c = std::max(0.0, price_c - shift);
        for (int32_t d = V_; d < n_rows_; ++d)
            if (st_.row_to_col[d] >= 0) st_.p[st_.row_to_col[d]] = 0.0;  // now empty
        st_.row_to_col.resize(V_);
        st_.u.resize(V_);
        repair_and_finish(g_.view(V_, n_rows_), st_, interrupted_, 0.5);  // g grew in the auction
    }

    // Step 3 and 4 of a round: price, bound, keep the best table.  Returns true when the rounds
    // stop (res_.stopped says why).
    bool price_round() {
        double t2 = now();
        const int64_t n_added = price(st_.p.data(), st_.u.data(), st_.row_to_col.data());
        res_.time_pricing += now() - t2;
        if (trace_) std::fprintf(stderr, "  pricing %.3fs added %lld\n", now() - t2, (long long)n_added);
        // Certificate: sum of the per-word minima minus the sum of prices, with every rounding
        // accounted for (see table_lower_bound): it is never above the optimum.
        const double bound = table_lower_bound();
        record_round(bound);
        if (trace_)
            std::fprintf(stderr, "  objective %.10g bound %.10g best %.10g / %.10g\n",
                         table_cost(Lr_, Lc_, V_, R_, C_, round_rows_.data(), round_cols_.data()), bound,
                         best_objective_, best_bound_);
        if (n_added * 4 < V_) prune_ = false;
        if (n_added == 0) return converged(bound);
        if (opt_.gap_tol > 0.0 && within(std::max(exact_tol_, opt_.gap_tol))) {
            res_.stopped = within(exact_tol_) ? "optimal" : "gap_tol";
            return true;
        }
        return false;
    }

    // Pricing added nothing: settle the free columns first if any is unsettled, then stop if the
    // table is certified, else restart once from shortest paths.  Returns true to stop.
    bool converged(double bound) {
        bool unsettled = false;
        for (int32_t c = 0; c < n_rows_ && !unsettled; ++c) unsettled = st_.col_to_row[c] < 0 && st_.p[c] > 0.0;
        if (unsettled) {
            settle_next_ = true;
            return false;
        }
        if (within(exact_tol_)) {
            res_.stopped = "optimal";
            return true;
        }
        // Pricing found nothing to add, yet the bound is not within the tolerance: the prices are
        // too coarse for these costs (an auction scaled by outlying costs).  Start once more from
        // shortest paths, whose prices stay at the scale of the paths actually taken.
        if (restarted_) {
            res_.stopped = "no_progress";
            return true;
        }
        restarted_ = true;
        restart_ = true;
        prune_ = false;
        std::fill(u_clean_.begin(), u_clean_.end(), kInf);
        if (trace_) std::fprintf(stderr, "  bound %.17g not within tolerance: restart from shortest paths\n", bound);
        return false;
    }

    TableResult finish() {
        if (best_objective_ == kInf) {
            // Out of time before the first round ended: the current table (or the fallback cells).
            for (int64_t w = 0; w < V_; ++w) {
                res_.rows[w] = fallback_cell(w) / C_;
                res_.cols[w] = fallback_cell(w) % C_;
            }
        }
        res_.lower_bound = best_bound_;
        res_.certified = within(exact_tol_);
        res_.objective = table_cost(Lr_, Lc_, V_, R_, C_, res_.rows.data(), res_.cols.data());
        res_.arcs = static_cast<int64_t>(g_.indices.size());
        res_.augmentations = st_.augmentations;
        res_.auction_bids = st_.auction_bids;
        return std::move(res_);
    }
};

}  // namespace

int32_t auto_candidates(int64_t V) { return V >= 65536 ? 5 : 4; }

template <typename T>
TableResult solve_checked(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C, const int32_t* current_rows,
                          const int32_t* current_cols, const TableOptions& opt, const InterruptFn& interrupted);

template <typename T>
bool is_flat(const T* x, int32_t n) {
    for (int32_t a = 1; a < n; ++a)
        if (x[a] != x[0]) return false;
    return true;
}

// Words whose costs are the same in every cell (a sampled loss pass leaves every word it did not
// see at zero: three quarters of the words at 200k words and a 5% pass) cost the same wherever
// they go; solve_table sets them aside when they are at least a quarter of the words.  The
// optimum is the optimum of the other words alone over the whole table (a rectangular problem,
// with many more cells than words), the flat words filling the cells left: each keeps its current
// cell (cell w without a current table) when that is free, the others take the free cells in
// order.  The bound is the reduced problem's plus the flat words' constant costs, lowered by their
// rounding; the certificate is checked again on the whole table.
template <typename T>
TableResult solve_without_flat(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C, const int32_t* current_rows,
                               const int32_t* current_cols, const std::vector<uint8_t>& flat, const TableOptions& opt,
                               const InterruptFn& interrupted) {
    check_costs(Lr, Lc, V, R, C);
    std::vector<int32_t> kept;
    for (int32_t w = 0; w < V; ++w)
        if (!flat[w]) kept.push_back(w);
    const int32_t Vk = static_cast<int32_t>(kept.size());
    std::vector<T> lr(static_cast<size_t>(Vk) * R), lc(static_cast<size_t>(Vk) * C);
    std::vector<int32_t> cr, cc;
    for (int32_t a = 0; a < Vk; ++a) {
        const int64_t w = kept[a];
        std::copy(Lr + w * R, Lr + (w + 1) * R, lr.begin() + static_cast<int64_t>(a) * R);
        std::copy(Lc + w * C, Lc + (w + 1) * C, lc.begin() + static_cast<int64_t>(a) * C);
        if (current_rows) {
            cr.push_back(current_rows[w]);
            cc.push_back(current_cols[w]);
        }
    }
    TableResult sub = solve_checked(lr.data(), lc.data(), Vk, R, C, current_rows ? cr.data() : nullptr,
                                    current_rows ? cc.data() : nullptr, opt, interrupted);
    lr = std::vector<T>();
    lc = std::vector<T>();
    TableResult res = std::move(sub);
    std::vector<int32_t> rows(V, -1), cols(V, -1);
    std::vector<uint8_t> taken(static_cast<size_t>(R) * C, 0);
    for (int32_t a = 0; a < Vk; ++a) {
        rows[kept[a]] = res.rows[a];
        cols[kept[a]] = res.cols[a];
        taken[static_cast<size_t>(res.rows[a]) * C + res.cols[a]] = 1;
    }
    CompensatedSum flat_cost;
    for (int64_t w = 0; w < V; ++w) {
        if (!flat[w]) continue;
        flat_cost.add(static_cast<double>(Lr[w * R]) + static_cast<double>(Lc[w * C]));
        const int64_t cell = current_rows ? static_cast<int64_t>(current_rows[w]) * C + current_cols[w] : w;
        if (!taken[cell]) {
            taken[cell] = 1;
            rows[w] = static_cast<int32_t>(cell / C);
            cols[w] = static_cast<int32_t>(cell % C);
        }
    }
    int64_t free_cell = 0;
    for (int64_t w = 0; w < V; ++w) {
        if (rows[w] >= 0) continue;
        while (taken[free_cell]) ++free_cell;
        taken[free_cell] = 1;
        rows[w] = static_cast<int32_t>(free_cell / C);
        cols[w] = static_cast<int32_t>(free_cell % C);
    }
    res.rows = std::move(rows);
    res.cols = std::move(cols);
    res.objective = table_cost(Lr, Lc, V, R, C, res.rows.data(), res.cols.data());
    res.current_objective = current_rows ? table_cost(Lr, Lc, V, R, C, current_rows, current_cols)
                                         : std::numeric_limits<double>::quiet_NaN();
    // Each flat word's cost is a sum of two doubles (within u of exact), then summed with a
    // proven error: lowering by 2u of its absolute total (one ulp more for that subtraction's own
    // rounding) covers the first rounding.
    const double flat_lower = std::nextafter(flat_cost.lower() - 2.0 * kUnit * flat_cost.abs_total, -kInf);
    if (res.lower_bound > -kInf) res.lower_bound = std::nextafter(res.lower_bound + flat_lower, -kInf);
    res.certified = certify(Lr, Lc, V, R, C, res.rows.data(), res.cols.data(), res.lower_bound,
                            std::max(kCertRelTol, opt.rel_tol));
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
    std::vector<uint8_t> flat(static_cast<size_t>(V));
    int64_t n_flat = 0;
    for (int64_t w = 0; w < V; ++w) n_flat += flat[w] = is_flat(Lr + w * R, R) && is_flat(Lc + w * C, C);
    // Setting words aside copies the others' costs: worth it when many are flat (a sampled pass:
    // three quarters of the words at 200,000), not for a handful (the 5 of 435,094 words a full
    // pass missed would copy 4.6 GB); a few flat words are priced like any other.
    if (n_flat > 0 && n_flat * 4 >= V)
        return solve_without_flat(Lr, Lc, V, R, C, current_rows, current_cols, flat, opt, interrupted);
    return solve_checked(Lr, Lc, V, R, C, current_rows, current_cols, opt, interrupted);
}

template <typename T>
TableResult solve_checked(const T* Lr, const T* Lc, int32_t V, int32_t R, int32_t C, const int32_t* current_rows,
                          const int32_t* current_cols, const TableOptions& opt, const InterruptFn& interrupted) {
    try {
        return TableSolver<T>(Lr, Lc, V, R, C, current_rows, current_cols, opt, interrupted).solve();
    } catch (const NeedsScaling& ns) {
        const size_t nr = static_cast<size_t>(V) * R, nc = static_cast<size_t>(V) * C;
        std::vector<T> lr(nr), lc(nc);
        for (size_t a = 0; a < nr; ++a) lr[a] = static_cast<T>(std::ldexp(static_cast<double>(Lr[a]), -ns.shift));
        for (size_t a = 0; a < nc; ++a) lc[a] = static_cast<T>(std::ldexp(static_cast<double>(Lc[a]), -ns.shift));
        TableResult res = TableSolver<T>(lr.data(), lc.data(), V, R, C, current_rows, current_cols, opt, interrupted).solve();
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
