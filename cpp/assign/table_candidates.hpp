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
            if (flat[w]) continue;
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
        // The k least open rows by (cost, index), kept sorted while the rows are read in index
        // order: a row enters only below the k-th so far, which is rare after the first few, so
        // this costs less than a selection over every open row (figures in docs/NOTES.md,
        // "Greedy seed").
        open_rows.clear();
        const size_t k = static_cast<size_t>(k_);
        for (int32_t i = 0; i < R_; ++i) {
            if (row_free[i] <= 0) continue;
            if (open_rows.size() == k) {
                if (!(lr[i] < lr[open_rows.back()])) continue;
                open_rows.pop_back();
            }
            auto at = open_rows.end();
            while (at != open_rows.begin() && lr[i] < lr[*(at - 1)]) --at;
            open_rows.insert(at, i);
        }
        const size_t m = open_rows.size();
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
