// Step 1 of the structured assignment (structured.cpp): each word's candidate cells, its cost
// summaries, the greedy seed for crowded candidates, and the dummy words' cells of the first
// auction.  Internal to the solver.
#pragma once

#include "table_common.hpp"

namespace lightrnn {
namespace table_detail {

// The candidate lists (one sorted list of cells per row: the V words, then one dummy word per
// empty cell) and each word's cost summaries, made in one pass over the costs.
template <typename T>
class TableCandidates {
public:
    TableCandidates(const TableProblem<T>& pb, int32_t k)
        : pb_(pb), Lr_(pb.Lr), Lc_(pb.Lc), V_(pb.V), R_(pb.R), C_(pb.C), current_rows_(pb.current_rows),
          n_cells_(pb.n_cells), n_rows_(pb.n_rows), threads_(pb.threads), trace_(pb.trace), k_(k) {}

    std::vector<std::vector<int32_t>> cells;  // (n_rows) candidate cells of each row, sorted
    std::vector<uint8_t> flat;                // (V) the word's costs are the same in every cell
    std::vector<double> lr_min, lc_min;       // (V) least L_r and L_c of each word
    std::vector<int32_t> flat_words;          // the words whose costs are the same in every cell

    // Candidate cells per word (k cheapest rows x k cheapest columns, and the fallback cell), and
    // each word's least and largest costs (in the same pass over its costs): finiteness, the
    // magnitudes that decide scaling, the pricing tolerance and the certificate's rounding bounds.
    void scan_candidates() {
        cells.assign(n_rows_, {});
        flat.assign(V_, 0);
        bad_.assign(V_, 0);
        lr_min.resize(V_);
        lc_min.resize(V_);
        word_abs_.resize(V_);
        parallel_blocks(V_, threads_, [&](int64_t b, int64_t e) {
            std::vector<int32_t> idx, rk, ck;
            for (int64_t w = b; w < e; ++w) scan_word(w, idx, rk, ck);
        });
        flat_words.clear();
        for (int32_t w = 0; w < V_; ++w)
            if (flat[w]) flat_words.push_back(w);
    }

private:
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
        lr_min[w] = static_cast<double>(r0);
        lc_min[w] = static_cast<double>(c0);
        word_abs_[w] = std::max(std::abs(static_cast<double>(r0)), std::abs(static_cast<double>(r1))) +
                       std::max(std::abs(static_cast<double>(c0)), std::abs(static_cast<double>(c1)));
        // A word whose costs are the same in every cell (one a full pass missed; solve_table sets
        // them aside when they are many) is indifferent: priced like a dummy word.
        flat[w] = r0 == r1 && c0 == c1;
        smallest_k(lr, R_, k_, idx, rk);
        smallest_k(lc, C_, k_, idx, ck);
        auto& cw = cells[w];
        cw.reserve(rk.size() * ck.size() + 1);
        for (int32_t i : rk)
            for (int32_t j : ck) cw.push_back(i * C_ + j);
        insert_sorted(cw, pb_.fallback_cell(w));
    }

public:
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
            const int32_t fallback = pb_.fallback_cell(w);
            for (int32_t cell : cells[w])  // the k x k cells (the fallback spreads over all)
                if (cell != fallback && !covered[cell]) { covered[cell] = 1; ++n_covered; }
        }
        return n_covered < V_;
    }

    bool greedy_seed(double current_objective) {
        const double tg = now();
        std::vector<int32_t> greedy_cell(V_, -1);
        const double greedy_total = greedy_table(greedy_cell);
        // Only a greedy table well below the current one (e.g. a random round-0 table) helps.
        // Once the current table is a previous optimum the greedy cells only slow the solve
        // (measured on real losses; figures in docs/NOTES.md, "Greedy seed"), so they are added
        // only when the greedy table costs at least 10% less.
        const bool seeded = !current_rows_ || greedy_total < current_objective - 0.1 * std::abs(current_objective);
        if (seeded) {
            for (int32_t w = 0; w < V_; ++w) {
                if (greedy_cell[w] >= 0) insert_sorted(cells[w], greedy_cell[w]);
            }
        }
        if (trace_)
            std::fprintf(stderr, "greedy seed %.3fs total %.6g current %.6g\n", now() - tg, greedy_total,
                         current_objective);
        return seeded;
    }

private:
    // The greedy table: each word's cell (-1 for flat words) in `greedy_cell`; returns its cost.
    // The words go in chunks: each chunk's short lists of cheapest rows and columns are made in
    // the solve's threads, and the sequential walk then reads those instead of all R + k C costs
    // of each word (the same cells as a full scan: see cheapest_open_cell).
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
        std::vector<int32_t> order;
        order.reserve(V_);
        for (int32_t w = 0; w < V_; ++w)
            if (!flat[w]) order.push_back(w);
        std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return spread[a] > spread[b]; });
        GreedyState gs{std::vector<uint8_t>(n_cells_, 0), std::vector<int32_t>(R_, C_), R_};
        ShortLists lists(std::min(order.size(), kGreedyChunk), std::min(R_, 2 * k_ + 6), std::min(C_, kGreedyCols));
        double greedy_total = 0.0;
        for (size_t begin = 0; begin < order.size(); begin += kGreedyChunk) {
            const size_t end = std::min(order.size(), begin + kGreedyChunk);
            lists.fill(*this, order, begin, end);
            for (size_t t = begin; t < end; ++t) {
                const int32_t w = order[t];
                double best = kInf;
                const int32_t bcell = cheapest_open_cell(w, lists, t - begin, gs, best);
                if (bcell < 0) continue;  // cannot happen (fewer words than cells); kept for safety
                gs.taken[bcell] = 1;
                greedy_total += best;
                if (--gs.row_free[bcell / C_] == 0) --gs.open_rows;
                greedy_cell[w] = bcell;
            }
        }
        return greedy_total;
    }

    static constexpr size_t kGreedyChunk = 4096;  // words whose short lists are made at once
    static constexpr int32_t kGreedyCols = 24;    // cheapest columns listed per word
    static constexpr int32_t kMaxListedRows = 64;  // a larger k scans in full

    struct GreedyState {
        std::vector<uint8_t> taken;     // (cells) taken by a word already
        std::vector<int32_t> row_free;  // (R) cells of each row not taken
        int32_t open_rows;              // rows with a cell not taken
    };

    // For each word of a chunk, its cheapest rows and columns, in order of (cost, index).
    struct ShortLists {
        int32_t n_rows, n_cols;
        std::vector<int32_t> rows, cols;  // (chunk x n_rows), (chunk x n_cols)
        ShortLists(size_t words, int32_t nr, int32_t nc)
            : n_rows(nr), n_cols(nc), rows(words * static_cast<size_t>(nr)), cols(words * static_cast<size_t>(nc)) {}
        void fill(const TableCandidates& tc, const std::vector<int32_t>& order, size_t begin, size_t end) {
            parallel_blocks(static_cast<int64_t>(end - begin), tc.threads_, [&](int64_t b, int64_t e) {
                std::vector<int32_t> idx;
                for (int64_t t = b; t < e; ++t) {
                    const int64_t w = order[begin + static_cast<size_t>(t)];
                    cheapest_sorted(tc.Lr_ + w * tc.R_, tc.R_, n_rows, idx, rows.data() + t * n_rows);
                    cheapest_sorted(tc.Lc_ + w * tc.C_, tc.C_, n_cols, idx, cols.data() + t * n_cols);
                }
            });
        }
        // The m smallest of x[0..n) by (value, index), in that order, into out.
        static void cheapest_sorted(const T* x, int32_t n, int32_t m, std::vector<int32_t>& idx, int32_t* out) {
            idx.resize(static_cast<size_t>(n));
            std::iota(idx.begin(), idx.end(), 0);
            auto less = [x](int32_t a, int32_t b) { return x[a] < x[b] || (x[a] == x[b] && a < b); };
            std::partial_sort(idx.begin(), idx.begin() + m, idx.end(), less);
            std::copy(idx.begin(), idx.begin() + m, out);
        }
    };

    // The cheapest cell not taken in word w's k cheapest rows that still have one (its cost in
    // `best`), or -1; ties go to the lowest cell.  The rows come from the word's short list (the
    // first k open ones, when the list holds k); in each, the columns are walked in order of
    // (cost, index) to the first open one, then on through the columns whose sum rounds to the
    // same value (the lowest cell among them).  A list that runs out falls back to a full scan.
    int32_t cheapest_open_cell(int32_t w, const ShortLists& lists, size_t slot, const GreedyState& gs,
                               double& best) const {
        const T* lr = Lr_ + static_cast<int64_t>(w) * R_;
        const T* lc = Lc_ + static_cast<int64_t>(w) * C_;
        const int32_t m = std::min(gs.open_rows, k_);
        const int32_t* row_list = lists.rows.data() + slot * static_cast<size_t>(lists.n_rows);
        const int32_t* col_list = lists.cols.data() + slot * static_cast<size_t>(lists.n_cols);
        int32_t rows[kMaxListedRows];
        if (m > kMaxListedRows) return cheapest_open_cell_full(w, gs, best);
        int32_t n = 0;
        for (int32_t r = 0; r < lists.n_rows && n < m; ++r)
            if (gs.row_free[row_list[r]] > 0) rows[n++] = row_list[r];
        if (n < m) return cheapest_open_cell_full(w, gs, best);
        int32_t bcell = -1;
        auto consider = [&](double v, int32_t cell) {
            if (v < best || (v == best && cell < bcell)) {
                best = v;
                bcell = cell;
            }
        };
        for (int32_t t = 0; t < n; ++t) {
            const int32_t i = rows[t];
            const int32_t base = i * C_;
            const double li = static_cast<double>(lr[i]);
            int32_t c = 0;
            while (c < lists.n_cols && gs.taken[base + col_list[c]]) ++c;
            double v0 = kInf;
            int32_t cell0 = -1;
            for (; c < lists.n_cols; ++c) {
                const int32_t j = col_list[c];
                const double v = li + static_cast<double>(lc[j]);
                if (cell0 >= 0 && v != v0) break;  // past the run of the first open column's value
                if (gs.taken[base + j]) continue;
                if (cell0 < 0 || base + j < cell0) cell0 = base + j;
                v0 = v;
            }
            if (c == lists.n_cols && lists.n_cols < C_) {  // the list ran out: scan the row
                for (int32_t j = 0; j < C_; ++j)
                    if (!gs.taken[base + j]) consider(li + static_cast<double>(lc[j]), base + j);
            } else if (cell0 >= 0) {
                consider(v0, cell0);
            }
        }
        return bcell;
    }

    // The same, scanning each of the k cheapest open rows in full.
    int32_t cheapest_open_cell_full(int32_t w, const GreedyState& gs, double& best) const {
        const T* lr = Lr_ + static_cast<int64_t>(w) * R_;
        const T* lc = Lc_ + static_cast<int64_t>(w) * C_;
        std::vector<int32_t> open_rows;
        for (int32_t i = 0; i < R_; ++i)
            if (gs.row_free[i] > 0) open_rows.push_back(i);
        const size_t m = std::min<size_t>(open_rows.size(), static_cast<size_t>(k_));
        auto by_cost = [lr](int32_t a, int32_t b) { return lr[a] < lr[b] || (lr[a] == lr[b] && a < b); };
        std::nth_element(open_rows.begin(), open_rows.begin() + (m - 1), open_rows.end(), by_cost);
        int32_t bcell = -1;
        for (size_t r = 0; r < m; ++r) {
            const int32_t i = open_rows[r];
            const int64_t base = static_cast<int64_t>(i) * C_;
            for (int32_t j = 0; j < C_; ++j) {
                if (gs.taken[base + j]) continue;
                const double v = static_cast<double>(lr[i]) + static_cast<double>(lc[j]);
                if (v < best || (v == best && base + j < bcell)) {
                    best = v;
                    bcell = static_cast<int32_t>(base + j);
                }
            }
        }
        return bcell;
    }

public:
    // ---- Step 1c: rows V.. are dummy words of cost 0 that fill the empty cells, which makes the
    // problem square for the first auction; the exact rounds use the first V rows only.
    void add_dummy_cells() {
        // Dummy words take the cells no word's fallback uses: a complete matching exists.
        std::vector<uint8_t> used(n_cells_, 0);
        for (int64_t w = 0; w < V_; ++w) used[pb_.fallback_cell(w)] = 1;
        std::vector<int32_t> unused;
        for (int32_t c = 0; c < n_rows_; ++c)
            if (!used[c]) unused.push_back(c);
        // Dummy t gets unused cells t .. t+7 (cyclically): a perfect matching still exists, and
        // the auction's dummies, all alike, do not each bid over every empty cell, which made
        // the first auction slower (figures in docs/NOTES.md, "Empty cells").
        const size_t m = std::min<size_t>(unused.size(), 8);
        for (int32_t d = V_; d < n_rows_; ++d) {
            auto& cd = cells[d];
            cd.clear();
            for (size_t a = 0; a < m; ++a) cd.push_back(unused[(static_cast<size_t>(d - V_) + a) % unused.size()]);
            std::sort(cd.begin(), cd.end());
        }
    }

private:
    const TableProblem<T>& pb_;
    const T* const Lr_;
    const T* const Lc_;
    const int32_t V_, R_, C_;
    const int32_t* const current_rows_;
    const int64_t n_cells_;
    const int32_t n_rows_;
    const int threads_;
    const bool trace_;
    const int32_t k_;  // candidate rows and columns per word
    std::vector<uint8_t> bad_;      // (V) the word has a non-finite cost (for check_magnitudes)
    std::vector<double> word_abs_;  // (V) largest |L_r| + largest |L_c| of each word (the same)
};

}  // namespace table_detail
}  // namespace lightrnn
