// Steps 2 and 4 of the structured assignment (structured.cpp) and the rounds that tie the steps
// together: the sparse solves, the first auction with its pricing passes, the certificate, and
// the best table found.  Internal to the solver.
#pragma once

#include "bid_batch.hpp"
#include "table_pricing.hpp"

namespace lightrnn {
namespace table_detail {

// The solve on costs whose magnitudes are known to be safe (solve_table in structured.cpp checks
// the options and scales the costs when they are not).  One object per solve: the steps share the
// candidate lists, the sparse graph and its solver state, and the incremental pricing state.
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
          exact_tol_(std::max(kCertRelTol, opt.rel_tol)),
          pb_{Lr, Lc, V, R, C, current_rows, current_cols, opt, n_cells_, n_rows_, threads_, trace_},
          cand_(pb_, k_),
          pricing_(pb_, cand_) {
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
        cand_.scan_candidates();
        cand_.check_magnitudes();
        crowded_ = !dense_ && cand_.candidates_crowded();
        if (opt_.greedy_seed && crowded_) res_.greedy_seeded = cand_.greedy_seed(res_.current_objective);
        lazy_size_ = (V_ >= opt_.lazy_min_words || res_.greedy_seeded) && !settle_every_round_;
        cand_.add_dummy_cells();
        relaxation_bound();
        lazy_eps_ = opt_.lazy_eps * least_cost_sum() / V_;  // eps x the words' mean least cost
        res_.time_candidates = now() - t0;
        hooks_left_ = opt_.phase_pricing;
        round_rows_.assign(V_, 0);
        round_cols_.assign(V_, 0);
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

    // ---- Step 1 and step 3: the candidates and the pricing passes.
    TableProblem<T> pb_;
    TableCandidates<T> cand_;
    TablePricing<T> pricing_;

    // ---- The sparse problem (step 2).
    Graph g_;
    LapState st_;

    // ---- The first auction's pricing passes.
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
    // Lazy rounds (see complete_lazy): only when the row reduction leaves at most 1/kLazyShare of
    // the rows free.  Real matrices leave under 2%, and at 434,926 words a round that left 1.8%
    // to exact searches cost minutes; where it leaves many more (exact ties), their searches are
    // what moves the prices, and skipping them multiplied the rounds' cost (figures in
    // docs/NOTES.md, "Lazy rounds").
    static constexpr int32_t kLazyShare = 16;
    // The row reductions of those rounds bid eps above exact (a bid raises its column's price by
    // the row's margin plus eps), so that each row ends within eps of its cheapest arc: their
    // duals serve only the next pricing pass, and exact bids on the nearly tied cells of real
    // early-training losses fought long price wars.  The rounds after are exact (their duals
    // recomputed, every row not exactly at its cheapest arc freed), so the certificate is as
    // before.  eps is opt.lazy_eps (3e-4) times the words' mean least cost (about 0.1 at 200,000
    // words); ten times that took more rounds, a hundred times made pricing add cells round after
    // round without end, hence eps halves each round after kLazyEpsRounds (figures in
    // docs/NOTES.md, "Lazy rounds bid eps above exact").
    static constexpr int32_t kLazyEpsRounds = 16;
    // The first auction's final eps on early-training losses where lazy rounds may follow, in
    // units of their eps (3.0 at 200,000 words): its phases at the default final eps (1e-9 of the
    // cost range, 0.014 there) made most of its bids, yet the exact repair after it frees nearly
    // every row whatever the final eps, and the lazy rounds then bid within eps anyway.  Not on
    // synthetic peaked losses, whose repair after a coarse auction took long searches (figures
    // for both in docs/NOTES.md, "Auction scale").
    static constexpr double kFirstAuctionEps = 32.0;
    double lazy_eps_ = 0.0;            // the eps of the next round that may be lazy
    bool lazy_ = false;                // this round left rows free or bid with eps > 0
    std::vector<int32_t> lazy_match_;  // its matching, each free row at its cheapest arc
    bool prune_ = true;  // prune_arcs before each warm round, until the rounds add few cells
    // Rounds in a row that improved neither the best table nor the bound; pruning stops at
    // kPruneStallRounds.
    int32_t stalled_rounds_ = 0;
    static constexpr int32_t kPruneStallRounds = 8;
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
    // Warm rounds may be lazy (while prune_ holds; see complete_lazy) from lazy_min_words words,
    // and at any size where the greedy seed was added (set in solve()): crowded candidates and a
    // current table far above the greedy one, as early in the bootstrap, when most words move.
    // There they took 20-35% less time at 30,000 words (13 lazy rounds); on the losses of later
    // reallocations (PTB's 3-8, whose candidates crowd too) they fought price wars and took up
    // to 2.7x the exact rounds' time.  Below lazy_min_words only the first kSeededLazyRounds
    // rounds may be lazy: synthetic near-degenerate losses priced a quarter of the words' worth
    // of cells for 85 rounds, and lazy throughout took 1.6x the exact rounds' time (figures in
    // docs/NOTES.md, "Lazy rounds").  The first auction of crowded candidates then stops at
    // their scale (kFirstAuctionEps).
    bool lazy_size_ = false;
    static constexpr int32_t kSeededLazyRounds = 16;
    // Rounds from this one on are not lazy.
    const int32_t lazy_round_limit_ = V_ >= opt_.lazy_min_words ? opt_.max_rounds : kSeededLazyRounds;

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
        int64_t n = pricing_.price(s.p.data(), u_phase_.data(), nullptr);
        res_.time_pricing += now() - th;
        if (trace_)
            std::fprintf(stderr, "  phase pricing at eps %.3g x range: %.3fs added %lld\n", rel_eps, now() - th,
                         (long long)n);
        last_phase_added_ = n;
        if (n == 0) return false;
        build_graph(cand_.cells, Lr_, Lc_, V_, R_, C_, g_, threads_);
        gv = g_.view(n_rows_, n_rows_);
        return true;
    }

    // While pricing still adds a cell per four words or more (the rounds whose duals serve only
    // the next pricing pass), a warm round of opt.lazy_min_words words or more stops after the
    // row reduction: the few rows it could not place (ties between owned cells) stay free, and
    // the next round's row reduction takes them up with the words pricing frees.  Their searches
    // cost most of those rounds at 200,000 words; below 65,536 words they are short, and leaving
    // them made the next row reductions fight price wars (figures in docs/NOTES.md, "Lazy
    // rounds").  Not on tables of many empty cells, which settle every round.  For pricing and
    // the bound, each free row stands at its cheapest arc (tight, like a match) with that arc's
    // value at the current prices as its dual.  Returns whether any row was left free.  (A round
    // whose row reduction bid eps above exact counts as lazy even with no row free: see
    // kLazyEpsRounds.)
    bool complete_lazy(const CsrGraph& g) {
        bool any = false;
        lazy_match_.assign(st_.row_to_col.begin(), st_.row_to_col.end());
        for (int32_t w = 0; w < V_; ++w) {
            if (st_.row_to_col[w] >= 0) continue;
            any = true;
            const RowBid cheapest = best_two(g, st_.p.data(), w);
            lazy_match_[w] = cheapest.j1;
            st_.u[w] = cheapest.v1;
        }
        return any;
    }

    // ---- Step 4: the certificate.

    // The bound of the relaxation where words may share cells (each word in its cheapest row and
    // column): it holds from the start, so a table returned before the first round ends has a
    // finite gap, and it is tight when the words' favourite cells differ.  Each term is an exact
    // double (a cost), so the compensated sum's proven error is all the rounding there is.
    void relaxation_bound() {
        CompensatedSum relaxed;
        for (int32_t w = 0; w < V_; ++w) {
            relaxed.add(cand_.lr_min[w]);
            relaxed.add(cand_.lc_min[w]);
        }
        best_bound_ = relaxed.lower();
    }

    // The sum over words of |min L_r[w]| + |min L_c[w]|: with V, the scale of the lazy rounds' eps.
    double least_cost_sum() const {
        double sum = 0.0;
        for (int32_t w = 0; w < V_; ++w) sum += std::abs(cand_.lr_min[w]) + std::abs(cand_.lc_min[w]);
        return sum;
    }

    // Keeps this round's table if it is the best so far, and the bound if it is the best.
    void record_round(double bound) {
        const double objective_before = best_objective_, bound_before = best_bound_;
        for (int64_t w = 0; w < V_; ++w) {
            const int32_t cell = st_.row_to_col[w];
            round_rows_[w] = cell / C_;
            round_cols_[w] = cell % C_;
        }
        if (lazy_) place_free_rows();
        const double obj = table_cost(Lr_, Lc_, V_, R_, C_, round_rows_.data(), round_cols_.data());
        if (obj <= best_objective_) {
            best_objective_ = obj;
            res_.rows = round_rows_;
            res_.cols = round_cols_;
        }
        best_bound_ = std::max(best_bound_, bound);
        stalled_rounds_ = best_objective_ < objective_before || best_bound_ > bound_before ? 0 : stalled_rounds_ + 1;
    }

    // The table of a lazy round: each of its free rows (few) takes the cheapest cell still empty
    // among its arcs, or among all empty cells when none of its arcs is, in word order, so that a
    // lazy round too has a table to keep (under a time budget the rounds may end in one).
    void place_free_rows() {
        std::vector<int32_t> empty;
        std::vector<uint8_t> open(static_cast<size_t>(n_rows_), 0);
        for (int32_t c = 0; c < n_rows_; ++c)
            if (st_.col_to_row[c] < 0) {
                empty.push_back(c);
                open[c] = 1;
            }
        for (int64_t w = 0; w < V_; ++w) {
            if (st_.row_to_col[w] >= 0) continue;
            double best = kInf;
            int32_t arg = -1;
            for (int64_t a = g_.indptr[w]; a < g_.indptr[w + 1]; ++a) {
                const int32_t c = g_.indices[a];
                if (open[c] && (g_.cost[a] < best || (g_.cost[a] == best && c < arg))) {
                    best = g_.cost[a];
                    arg = c;
                }
            }
            if (arg < 0)
                for (int32_t c : empty) {
                    const double v = open[c] ? pb_.cell_cost(w, c) : kInf;
                    if (v < best) {
                        best = v;
                        arg = c;
                    }
                }
            round_rows_[w] = arg / C_;
            round_cols_[w] = arg % C_;
            open[arg] = 0;
        }
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
        lazy_ = false;
        if (prune_ && !first_ && !restart_) prune_arcs();
        build_graph(cand_.cells, Lr_, Lc_, V_, R_, C_, g_, threads_);
        // The settle of a nearly full table reads each row's arcs by cost: sorted in place here,
        // in threads, instead of in a copy of the graph made by the settle (the peak of memory).
        if (settle_next_ && !settle_every_round_ && !first_ && !restart_) g_.sort_rows_by_cost(threads_);
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
            // A round that may be lazy always runs the row reduction: it is all that places the
            // free rows of a lazy round.
            const bool may_be_lazy = prune_ && lazy_size_ && round < lazy_round_limit_;
            repair_and_finish(words_view, st_, interrupted_, may_be_lazy ? 0.0 : 0.25,
                              settle_next_ || settle_every_round_, may_be_lazy ? V_ / kLazyShare : -1, threads_,
                              may_be_lazy ? lazy_eps_ : 0.0);
            lazy_ = may_be_lazy && (complete_lazy(words_view) || lazy_eps_ > 0.0);
            if (round >= kLazyEpsRounds) lazy_eps_ *= 0.5;
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
        parallel_blocks(V_, threads_, [&](int64_t begin, int64_t end) {
            std::vector<std::pair<double, int32_t>> by_reduced;
            for (int64_t w = begin; w < end; ++w) {
                auto& cw = cand_.cells[w];
                if (cw.size() <= keep + 2) continue;
                const int32_t m = st_.row_to_col[w], fb = pb_.fallback_cell(w);
                by_reduced.clear();
                for (int32_t c : cw)
                    if (c != m && c != fb)
                        by_reduced.emplace_back(pb_.cell_value(w, c, st_.p.data()) - st_.u[w], c);
                std::nth_element(by_reduced.begin(), by_reduced.begin() + static_cast<std::ptrdiff_t>(keep),
                                 by_reduced.end());
                cw.clear();
                for (size_t a = 0; a < keep; ++a) cw.push_back(by_reduced[a].second);
                if (m >= 0) cw.push_back(m);
                cw.push_back(fb);
                std::sort(cw.begin(), cw.end());
                cw.erase(std::unique(cw.begin(), cw.end()), cw.end());
            }
        });
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
        // On early-training losses (crowded candidates) where lazy rounds may follow, the first
        // auction stops at kFirstAuctionEps times their eps.
        const double eps_floor = crowded_ && lazy_size_ ? kFirstAuctionEps * lazy_eps_ : 0.0;
        if (!auction) {
            st_ = solve_ssp(g_.view(V_, n_rows_), interrupted_);
        } else if (n_rows_ == V_) {
            st_ = solve_auction(view, {}, interrupted_, kAuctionScaleFactor, hook_, &view, true, threads_, eps_floor);
        } else {
            auction_with_dummies(view, eps_floor);
        }
        res_.method = auction ? "auction+ssp" : "ssp";
    }

    // The auction needs a square problem: it runs with the dummy words, which are then dropped
    // and their cells emptied.  Prices shift down by the least a dummy paid (a dummy is
    // indifferent between cells, so it holds about the cheapest it can reach), so empty cells go
    // to price 0 with little change to the others; unshifted, the repair takes about twice as
    // long (figures in docs/NOTES.md, "The first solve").
    void auction_with_dummies(CsrGraph& view, double eps_floor) {
        st_ = solve_auction(view, {}, interrupted_, kAuctionScaleFactor, hook_, &view, /*finish=*/false, threads_,
                            eps_floor);
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
        repair_and_finish(g_.view(V_, n_rows_), st_, interrupted_, 0.5, true, -1, threads_);  // g grew in the auction
    }

    // Step 3 and 4 of a round: price, bound, keep the best table.  Returns true when the rounds
    // stop (res_.stopped says why).
    bool price_round() {
        double t2 = now();
        const int32_t* match = lazy_ ? lazy_match_.data() : st_.row_to_col.data();
        const int64_t n_added = pricing_.price(st_.p.data(), st_.u.data(), match);
        res_.time_pricing += now() - t2;
        if (trace_)
            std::fprintf(stderr, "  pricing %.3fs added %lld%s\n", now() - t2, (long long)n_added, lazy_ ? " (lazy)" : "");
        // Certificate: sum of the per-word minima minus the sum of prices, with every rounding
        // accounted for (see table_lower_bound): it is never above the optimum.
        const double bound = pricing_.lower_bound(match, st_.p.data());
        record_round(bound);
        if (trace_)
            std::fprintf(stderr, "  objective %.10g bound %.10g best %.10g / %.10g\n",
                         table_cost(Lr_, Lc_, V_, R_, C_, round_rows_.data(), round_cols_.data()), bound,
                         best_objective_, best_bound_);
        // Pruning also stops once the rounds make no progress: with many tied costs, pricing can
        // find again, every round, about as many cells as pruning drops.
        if (n_added * 4 < V_ || stalled_rounds_ >= kPruneStallRounds) prune_ = false;
        res_.lazy_rounds += lazy_;
        // A lazy round that adds nothing is followed by an exact one (prune_ is now off).
        if (n_added == 0 && !lazy_) return converged(bound);
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
        pricing_.forget_clean();
        if (trace_) std::fprintf(stderr, "  bound %.17g not within tolerance: restart from shortest paths\n", bound);
        return false;
    }

    TableResult finish() {
        if (best_objective_ == kInf) {
            // Out of time before the first round ended: the current table (or the fallback cells).
            for (int64_t w = 0; w < V_; ++w) {
                res_.rows[w] = pb_.fallback_cell(w) / C_;
                res_.cols[w] = pb_.fallback_cell(w) % C_;
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

}  // namespace table_detail
}  // namespace lightrnn
