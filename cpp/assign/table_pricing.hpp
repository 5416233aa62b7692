// Step 3 of the structured assignment (structured.cpp): pricing every cell for every word against
// the sparse solve's duals, with row and column pruning and incremental passes, and the
// certificate's lower bound from the last exact pass.  Internal to the solver.
#pragma once

#include "row_kernels.hpp"
#include "table_candidates.hpp"

namespace lightrnn {
namespace table_detail {

// The pricing passes of one solve and their state.  A pass adds each word's most violating cells
// (at most max_add_per_word) to its candidate list.
template <typename T>
class TablePricing {
public:
    TablePricing(const TableProblem<T>& pb, TableCandidates<T>& cand)
        : pb_(pb), cand_(cand), Lr_(pb.Lr), Lc_(pb.Lc), V_(pb.V), R_(pb.R), C_(pb.C), n_cells_(pb.n_cells),
          n_rows_(pb.n_rows), threads_(pb.threads), opt_(pb.opt) {
        pmin_row_.assign(R_, 0.0);
        pmin_col_.assign(C_, 0.0);
        added_.assign(n_rows_, {});
        word_min_.assign(n_rows_, -kInf);
        u_clean_.assign(V_, kInf);
        clean_other_.assign(V_, -kInf);
        clean_cell_.assign(V_, -1);
    }

    // Every word priced in full at the next exact pass (after a restart of the rounds).
    void forget_clean() { std::fill(u_clean_.begin(), u_clean_.end(), kInf); }

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
        // While the passes add a cell per four words or more (the rounds that free most words,
        // when the bound is still loose), a word's scan stops early (see kEarlyStopRows); the
        // passes after are exact, so the certificate's last pass is too.
        pass.early_stop = pass.exact && last_added_ * 4 >= V_;
        least_prices(p, pass.exact);
        parallel_blocks(V_, threads_, [&](int64_t b, int64_t e) {
            WordScan s;
            for (int64_t w = b; w < e; ++w) {
                if (cand_.flat[w]) continue;  // priced below, together
                const int32_t mcell = pass.exact ? match[w] : -1;
                if (!skip_clean_word(w, mcell, pass)) price_word(w, mcell, pass, s);
            }
        });
        // Not between auction phases (their added lists stay empty): words that cost the same
        // everywhere tie on every cell, and ties make the auction's price wars long (figures in
        // docs/NOTES.md, "Empty cells").
        if (!cand_.flat_words.empty() && pass.exact) price_flat_words(p, u);
        int64_t n_added = 0;
        for (int64_t w = 0; w < n_rows_; ++w) {
            for (int32_t cell : added_[w]) n_added += insert_sorted(cand_.cells[w], cell);
        }
        if (pass.exact) p_priced_.assign(p, p + n_rows_);
        last_added_ = n_added;
        return n_added;
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
    double lower_bound(const int32_t* match, const double* p) const {
        const bool square = n_cells_ == V_;
        const double pneg = pmin_ever_ < 0.0 ? -pmin_ever_ : 0.0;
        CompensatedSum sum;
        for (int64_t w = 0; w < V_; ++w) {
            const double m = word_min_[w];
            const int32_t c = match[w];
            if (!(m > -kInf) || c < 0) return -kInf;
            const double a = static_cast<double>(Lr_[w * R_ + c / C_]), b = static_cast<double>(Lc_[w * C_ + c % C_]);
            const double pc = p[c];
            const double vm = (a + b) + pc + 2.01 * kUnit * (std::abs(a) + std::abs(b) + std::abs(pc));
            const double neg = (cand_.lr_min[w] < 0.0 ? -cand_.lr_min[w] : 0.0) +
                               (cand_.lc_min[w] < 0.0 ? -cand_.lc_min[w] : 0.0) + pneg;
            const double mag = std::max(std::abs(vm), std::abs(m)) + 2.0 * neg;
            sum.add(m);
            sum.add(-2.02 * kUnit * mag);
        }
        for (int64_t c = 0; c < n_cells_; ++c) sum.add(square ? -p[c] : -std::max(p[c], 0.0));
        const double lb = sum.lower();
        return std::isnan(lb) ? -kInf : lb;
    }

private:
    // One pricing pass: prices p, word duals u, and (exact passes only) the matching.
    struct Pass {
        const double* p;
        const double* u;
        const int32_t* match;  // null between auction phases
        bool exact;            // u and p are an exact optimum of the current graph
        bool incremental;      // few prices dropped: clean words are checked on those cells only
        bool early_stop = false;  // a word's scan may stop once its violating cells are found
    };

    // With early_stop, a word's scan of its rows stops once this many rows have offered violating
    // cells and it holds max_add_per_word of them; the rows left count by their bounds in the
    // word's least value (a lower bound, still valid for the certificate).  In the rounds that
    // free most words nearly every row holds violating cells, and scanning them all only to
    // rank the cells cost most of a pass; the cells of the first rows serve as well (real
    // 30,000- and 200,000-word matrices: pricing 40-60% cheaper; figures in docs/NOTES.md,
    // "Early-stopped pricing").  Ranking every violating cell exactly needed more rounds.
    static constexpr int32_t kEarlyStopRows = 12;

    // A thread's buffers for a pricing pass, and the state of the word being priced in full.
    struct WordScan {
        // The most violating cells so far, (value, cell) below u_w - tol: a max-heap of at most
        // `keep` (max_add_per_word) entries.  Collecting every violating cell and sorting them
        // after took most of a pricing pass on real losses, where most of a word's cells violate
        // (figures in docs/NOTES.md, "Most violating cells in a bounded heap").
        std::vector<std::pair<double, int32_t>> viol;
        size_t keep = 1;
        // Sized R and C once; the first n_rb and n_live entries are the word's.  (Filled without
        // a branch or a growth check per row and column.)
        std::vector<std::pair<double, int32_t>> rows_by_bound;  // (lower bound, row) below best
        std::vector<int32_t> live_cols;                         // columns that can beat best
        std::vector<double> live_lc;                            // their Lc[w, j]
        int32_t n_rb = 0, n_live = 0;
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
        return opt_.rel_tol * (std::abs(uw) + std::abs(cand_.lr_min[w]) + std::abs(cand_.lc_min[w]));
    }

    double cell_value(int64_t w, int32_t c, const double* p) const { return pb_.cell_value(w, c, p); }

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
        s.lcmin = row_kernels::min_of(lc, C_);
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
        scan_rows(w, pass, s);
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
        auto& rb = s.rows_by_bound;
        rb.resize(static_cast<size_t>(R_));
        std::pair<double, int32_t>* out = rb.data();
        const double* pmin_row = pmin_row_.data();
        const double lcmin = s.lcmin, best = s.best;
        double lrmin = kInf, lrp_min = kInf, other = s.other;
        int32_t n = 0;
        for (int32_t i = 0; i < R_; ++i) {
            const double li = static_cast<double>(lr[i]);
            const double lp = li + pmin_row[i];
            lrmin = std::min(lrmin, li);
            lrp_min = std::min(lrp_min, lp);
            const double bound = lp + lcmin;
            const bool keep = bound < best;
            out[n] = {bound, i};
            n += keep;
            other = std::min(other, keep ? kInf : bound);
        }
        // Few rows: in order of their bound, so that `best` falls fastest.  Most of the rows (real
        // early-training losses, where nearly every row is scanned): the least first and the
        // rest as they come, which saves the sort (figures in docs/NOTES.md, "Pricing scans only
        // the columns").  Either way a row whose bound is not below `best` is skipped.
        if (n * 4 <= R_) std::sort(out, out + n);
        else if (n > 0) std::iter_swap(out, std::min_element(out, out + n));
        s.n_rb = n;
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
        s.live_cols.resize(static_cast<size_t>(C_));
        s.live_lc.resize(static_cast<size_t>(C_));
        int32_t* live_cols = s.live_cols.data();
        double* live_lc = s.live_lc.data();
        const double* pmin_col = pmin_col_.data();
        const double lrmin = s.lrmin, lrp_min = s.lrp_min, best = s.best;
        double out_bound = kInf;
        int32_t n = 0;
        for (int32_t j = 0; j < C_; ++j) {
            const double lj = static_cast<double>(lc[j]);
            const double col_bound = lj + std::max(lrmin + pmin_col[j], lrp_min);
            const bool live = col_bound < best;
            live_cols[n] = j;
            live_lc[n] = lj;
            n += live;
            out_bound = std::min(out_bound, live ? kInf : col_bound);
        }
        s.n_live = n;
        s.other = std::min(s.other, out_bound);
        // When most columns are live (real early-training losses) a contiguous loop over every
        // column (row_kernels.hpp) beats gathering the live ones (figures in
        // docs/NOTES.md, "Pricing scans only the columns").  Dead columns cannot lower a row's
        // minimum below `best` nor violate; including them only makes the row minima exact.
        s.dense = s.n_live * 2 >= C_;
        if (s.dense) s.lc_all.assign(lc, lc + C_);
    }

    // The rows below `best` (see bound_rows for their order), on the scanned columns (every
    // column when s.dense, else the live ones); a row whose bound is no longer below `best` is
    // skipped; with early_stop the scan ends once kEarlyStopRows rows have offered cells and the
    // heap is full.  Lowers best, collects the violating cells, and keeps `other` (exact rows
    // scanned, the rest by their bound).
    void scan_rows(int64_t w, const Pass& pass, WordScan& s) const {
        if (s.dense) scan_rows_on<true>(w, pass, s);
        else scan_rows_on<false>(w, pass, s);
    }

    template <bool Dense>
    void scan_rows_on(int64_t w, const Pass& pass, WordScan& s) const {
        const T* lr = Lr_ + w * R_;
        const double uw = s.uw, tol = s.tol;
        double best = s.best, other = s.other;  // locals: the stores into viol cannot alias them
        int32_t n_offered = 0;                  // rows that offered violating cells
        for (int32_t r = 0; r < s.n_rb; ++r) {
            const auto [bound, i] = s.rows_by_bound[r];
            if (bound >= best) {
                other = std::min(other, bound);
                continue;
            }
            const double li = static_cast<double>(lr[i]);
            const double* pi = pass.p + static_cast<int64_t>(i) * C_;
            // The matched cell is left out of `other` (the least value of any other cell).
            const auto [least, least_other] = row_minima<Dense>(s, pi, i == s.mi ? s.mj : -1);
            other = std::min(other, least_other + li);
            const double row_min = least + li;
            if (row_min < best) best = row_min;
            if (row_min < uw - tol && row_min <= s.viol_limit(uw - tol)) {
                offer_row<Dense>(s, pi, li, i);
                if (pass.early_stop && ++n_offered >= kEarlyStopRows && s.viol.size() >= s.keep) {
                    double lb = kInf;  // the rows not scanned, by their bounds
                    for (int32_t r2 = r + 1; r2 < s.n_rb; ++r2) lb = std::min(lb, s.rows_by_bound[r2].first);
                    other = std::min(other, lb);
                    best = std::min(best, lb);
                    break;
                }
            }
        }
        s.best = best;
        s.other = other;
    }

    // The least Lc[w, j] + p_ij of row i (prices `pi`) over the scanned columns, and the least
    // but for column `skip` (-1: none).
    template <bool Dense>
    std::pair<double, double> row_minima(const WordScan& s, const double* pi, int32_t skip) const {
        if constexpr (Dense) {
            const double* lc = s.lc_all.data();
            if (skip < 0) {
                const double m = row_kernels::min_of_sums(lc, pi, C_);
                return {m, m};
            }
            const double m_other = std::min(row_kernels::min_of_sums(lc, pi, skip),
                                            row_kernels::min_of_sums(lc + skip + 1, pi + skip + 1, C_ - skip - 1));
            return {std::min(m_other, lc[skip] + pi[skip]), m_other};
        } else {
            const size_t n_live = static_cast<size_t>(s.n_live);
            const int32_t* live_cols = s.live_cols.data();
            const double* live_lc = s.live_lc.data();
            double m = kInf;
            if (skip < 0) {
                // Four independent minima: one chain of dependent minima is latency-bound.
                double m1 = kInf, m2 = kInf, m3 = kInf;
                size_t t = 0;
                for (; t + 4 <= n_live; t += 4) {
                    m = std::min(m, live_lc[t] + pi[live_cols[t]]);
                    m1 = std::min(m1, live_lc[t + 1] + pi[live_cols[t + 1]]);
                    m2 = std::min(m2, live_lc[t + 2] + pi[live_cols[t + 2]]);
                    m3 = std::min(m3, live_lc[t + 3] + pi[live_cols[t + 3]]);
                }
                for (; t < n_live; ++t) m = std::min(m, live_lc[t] + pi[live_cols[t]]);
                m = std::min(std::min(m, m1), std::min(m2, m3));
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
            const double* lc = s.lc_all.data();
            row_kernels::each_at_most(
                li, lc, pi, C_, [&]() { return s.viol_limit(threshold); }, [&](int32_t j) { consider(j, lc[j]); });
        } else {
            for (int32_t t = 0; t < s.n_live; ++t) consider(s.live_cols[t], s.live_lc[t]);
        }
    }

    // Flat words cost the same constant everywhere: their cheapest cells are the cheapest-priced
    // cells, the same for all of them.  Each gets the cheapest (which violates for it if any cell
    // does: a cell already among its arcs cannot, by dual feasibility) and a share of the next
    // ones, dealt round-robin, so that together they reach max_add_per_word distinct cells each
    // per round.  (All taking the same max_add_per_word cells made pricing need many more rounds;
    // figures in docs/NOTES.md, "Empty cells".)
    void price_flat_words(const double* p, const double* u) {
        const std::vector<int32_t>& group = cand_.flat_words;
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

    const TableProblem<T>& pb_;
    TableCandidates<T>& cand_;
    const T* const Lr_;
    const T* const Lc_;
    const int32_t V_, R_, C_;
    const int64_t n_cells_;
    const int32_t n_rows_;
    const int threads_;
    const TableOptions& opt_;
    std::vector<double> pmin_row_, pmin_col_;    // least price in each row / column of the table
    int64_t last_added_ = int64_t{1} << 40;     // cells the last pass added (none yet: many)
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
};

}  // namespace table_detail
}  // namespace lightrnn
