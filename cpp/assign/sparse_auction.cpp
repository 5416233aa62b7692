// The epsilon-scaling forward auction (solve_auction, declared in sparse_lap.hpp), with its scale
// and the hook that prices between phases; it hands over to the shortest paths of sparse_lap.cpp.
#include "sparse_lap.hpp"

#include "bid_batch.hpp"
#include "lap_internal.hpp"

namespace lightrnn {

namespace {

// A cost range this many times the 90th percentile of the rows' spreads is set by outliers.
constexpr double kOutlierRatio = 1048576.0;

// Bid from every row in `queue` until all are assigned (forward auction at `eps`, bids in
// batches: see bid_batch.hpp).  Returns false when a price passes `price_cap` (no complete
// matching on these arcs) or the auction's bids pass `bid_cap` (a price war).
bool auction_phase(const CsrGraph& g, LapState& st, std::vector<int32_t>& queue, double eps, double big,
                   double price_cap, int64_t bid_cap, InterruptCheck& check, BidBatch& batch, int threads) {
    BatchWorkers workers(threads, g.n_rows);
    std::vector<int32_t> requeue;
    while (!queue.empty()) {
        batch.take(g, st.p.data(), queue, workers);
        requeue.clear();
        for (size_t k = 0; k < batch.rows.size(); ++k) {
            const int32_t i = batch.rows[k];
            const RowBid& b = batch.bids[k];
            // Another bid of this batch raised this row's best column: bid again from the new price.
            if (batch.changed(b.j1)) {
                requeue.push_back(i);
                continue;
            }
            const double v2 = b.j2 < 0 ? b.v1 + big : b.v2;
            st.p[b.j1] += (v2 - b.v1) + eps;
            ++st.auction_bids;
            if (st.p[b.j1] > price_cap || st.auction_bids > bid_cap) return false;
            const int32_t old = st.col_to_row[b.j1];
            st.col_to_row[b.j1] = i;
            st.row_to_col[i] = b.j1;
            batch.mark_changed(b.j1);
            if (old >= 0) {
                st.row_to_col[old] = -1;
                requeue.push_back(old);
            }
            check.tick(1);
        }
        queue.insert(queue.end(), requeue.rbegin(), requeue.rend());
    }
    return true;
}

struct CostRange {
    double cmin = kInf, cmax = -kInf;
};

// The least and greatest arc cost; with `spreads`, also each row's own cost spread (max - min
// over its arcs), for the rows where it is positive, in the same pass.
CostRange cost_range(const CsrGraph& g, std::vector<double>* spreads = nullptr) {
    CostRange r;
    if (spreads) spreads->clear();
    for (int32_t i = 0; i < g.n_rows; ++i) {
        if (g.indptr[i] == g.indptr[i + 1]) throw Infeasible("a row has no allowed column: cost matrix is infeasible");
        double lo = kInf, hi = -kInf;
        for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
            lo = std::min(lo, g.cost[a]);
            hi = std::max(hi, g.cost[a]);
        }
        r.cmin = std::min(r.cmin, lo);
        r.cmax = std::max(r.cmax, hi);
        if (spreads && hi > lo) spreads->push_back(hi - lo);
    }
    return r;
}

// The scale of an auction: the range of the costs, the range of the costs that matter, the
// first and the final eps.
struct AuctionScale {
    double range_true;  // max - min over all arcs: bounds the prices (the infeasibility cap)
    double range;       // the same without outliers: sets eps and the single-arc bid
    double robust_cap;  // the most `range` can be (kInf without spreads)
    double eps, eps_final;
};

AuctionScale auction_scale(const CsrGraph& g, bool warm) {
    std::vector<double> spread;  // rows' own cost spreads: the robust scale and a cold start's first eps
    const CostRange cr = cost_range(g, &spread);
    // A few rows with outlying entries (one cost of 1e17 among costs in [0, 1)) must not set eps:
    // prices then grow to the outlier's scale and the ordinary costs vanish below their rounding
    // (c + p at p ~ 1e16 keeps no digit of c < 1).  The 90th percentile of the rows' spreads is
    // unmoved by up to 10% of such rows; LightRNN losses (Zipf counts) stay well below the cut
    // (docs/NOTES.md, "Auction scale").
    AuctionScale sc;
    sc.range_true = std::max(cr.cmax - cr.cmin, 1e-300);
    sc.range = sc.range_true;
    bool outliers = false;
    double s90 = kInf;
    if (!spread.empty()) {
        std::vector<double> tmp(spread);
        const size_t q = static_cast<size_t>(0.9 * static_cast<double>(tmp.size() - 1));
        std::nth_element(tmp.begin(), tmp.begin() + static_cast<std::ptrdiff_t>(q), tmp.end());
        s90 = tmp[q];
        if (sc.range > kOutlierRatio * s90) {
            sc.range = std::max(kOutlierRatio * s90, 1e-300);
            outliers = true;
        }
    }
    sc.robust_cap = kOutlierRatio * s90;
    // Scaling: start coarse (cold) or fine (warm: the prices are already nearly right).  eps stays
    // above the rounding of the costs that matter (their magnitude times 1e-12).
    const double magnitude = outliers ? std::max(std::abs(cr.cmin), std::abs(cr.cmin + sc.range)) : std::abs(cr.cmax);
    sc.eps_final = std::max(sc.range * 1e-9, magnitude * 1e-12);
    sc.eps = warm ? sc.range * 1e-4 : sc.range / 4.0;
    if (!warm && !spread.empty()) {
        // Cold start at a quarter of the 99th percentile of the rows' own cost spreads instead of
        // the whole range: a phase whose eps is far above a row's spread only shuffles that row
        // at eps per bid, and with costs that scale with word frequency (Zipf) nearly every row
        // is such a row in the first phases.  The few rows with wider spreads then settle in
        // longer bidding at the smaller eps, which costs little because they are few.  Fewer
        // bids on synthetic and real losses, no change on uniform dense costs (docs/NOTES.md,
        // "Auction scale").
        const size_t q = std::min(spread.size() - 1, static_cast<size_t>(0.99 * static_cast<double>(spread.size())));
        std::nth_element(spread.begin(), spread.begin() + static_cast<std::ptrdiff_t>(q), spread.end());
        sc.eps = std::max(sc.eps_final, std::min(sc.eps, spread[q] / 4.0));
    }
    return sc;
}

}  // namespace

LapState solve_auction(const CsrGraph& g_in, const std::vector<double>& warm_prices,
                       const InterruptFn& interrupted, double scale_factor, const PhaseHook& hook,
                       CsrGraph* g_out, bool finish, int threads, double eps_floor) {
    check_shape(g_in);
    CsrGraph g = g_in;
    LapState st = empty_state(g);
    if (g.n_rows == 0) return st;
    const bool warm = static_cast<int32_t>(warm_prices.size()) == g.n_cols;
    const AuctionScale sc = auction_scale(g, warm);
    if (warm) {
        for (int32_t j = 0; j < g.n_cols; ++j) st.p[j] = std::isfinite(warm_prices[j]) ? std::max(0.0, warm_prices[j]) : 0.0;
    }
    const double range = sc.range, robust_cap = sc.robust_cap, eps_final = std::max(sc.eps_final, eps_floor);
    double eps = std::max(sc.eps, eps_final);
    // A bid that runs prices beyond this means no complete matching exists on these arcs.
    double price_cap = sc.range_true * (static_cast<double>(g.n_rows) + 2.0) + 1.0;
    double big = range + eps;  // second-best value for a row with a single arc
    std::vector<int32_t> queue;
    queue.reserve(g.n_rows);
    BidBatch batch(g.n_cols);
    InterruptCheck check(interrupted);
    // Very sparse graphs with costs far apart can start a price war that creeps by eps a bid
    // (hundreds of millions of bids in one phase; docs/NOTES.md, "Auction scale").  The auction
    // only warm-starts the shortest paths, so past this many bids (an order of magnitude more a
    // row than LightRNN losses need) they take over from scratch.
    const int64_t bid_cap = st.auction_bids + 4096 * static_cast<int64_t>(g.n_rows) + (int64_t{1} << 20);
    while (true) {
        // Each phase: all rows unassigned, prices kept.
        std::fill(st.row_to_col.begin(), st.row_to_col.end(), -1);
        std::fill(st.col_to_row.begin(), st.col_to_row.end(), -1);
        queue.clear();
        for (int32_t i = g.n_rows - 1; i >= 0; --i) queue.push_back(i);
        const bool trace = std::getenv("LIGHTRNN_SOLVER_TRACE") != nullptr;
        auto tp = std::chrono::steady_clock::now();
        int64_t bids0 = st.auction_bids;
        const bool ok = auction_phase(g, st, queue, eps, big, price_cap, bid_cap, check, batch, threads);
        if (trace) std::fprintf(stderr, "  auction eps %.3g bids %lld %.3fs\n", eps, (long long)(st.auction_bids - bids0),
                                std::chrono::duration<double>(std::chrono::steady_clock::now() - tp).count());
        if (!ok) {
            // Prices diverge or war: hand over to the exact solver (which reports infeasibility).
            std::fill(st.row_to_col.begin(), st.row_to_col.end(), -1);
            std::fill(st.col_to_row.begin(), st.col_to_row.end(), -1);
            std::fill(st.p.begin(), st.p.end(), 0.0);
            break;
        }
        const bool last = eps <= eps_final;
        if (hook && hook(st, eps / range, g)) {
            // More arcs: the price cap only guards against infeasibility, widen it with the range.
            const CostRange cr = cost_range(g);
            const double r2 = std::max(cr.cmax - cr.cmin, 1e-300);
            price_cap = std::max(price_cap, r2 * (static_cast<double>(g.n_rows) + 2.0) + 1.0);
            big = std::max(big, std::min(r2, robust_cap) + eps);
            // After the last phase, one more phase at the same eps takes the new arcs in: from
            // prices this close, a phase costs a few bids a row, far less than the shortest-path
            // searches that would take them in after the auction.
            if (last) continue;
        } else if (last) {
            break;
        }
        eps = std::max(eps / scale_factor, eps_final);
    }
    // Every row was assigned at eps_final; the ones not exactly tight are free now (often close
    // to half of them).  Bidding them back (row reduction) leaves tie plateaus that make the next
    // warm round's searches long; the searches alone are cheaper overall at that fraction
    // (docs/NOTES.md, "Row reduction").
    if (finish) repair_and_finish(g, st, interrupted, 0.5, true, -1, threads);
    if (g_out) *g_out = g;
    return st;
}

}  // namespace lightrnn
