// Sparse exact assignment: shortest augmenting paths (with the row reduction and the warm repair),
// and the checked entry point.  The auction is in sparse_auction.cpp, the settling of free
// columns in sparse_settle.cpp.  See sparse_lap.hpp for the algorithms, their sources and
// complexity.
#include "sparse_lap.hpp"

#include "bid_batch.hpp"
#include "lap_internal.hpp"

namespace lightrnn {

namespace {

// One Dijkstra search from free row `start`; augments and updates the duals.
class PathSearch {
public:
    explicit PathSearch(const CsrGraph& g)
        : g_(g), dist_(g.n_cols, kInf), pred_row_(g.n_cols, -1), done_(g.n_cols, 0) {}

    void augment(int32_t start, LapState& st) {
        // Reset only what the previous search touched.
        for (int32_t j : touched_) {
            dist_[j] = kInf;
            pred_row_[j] = -1;
            done_[j] = 0;
        }
        touched_.clear();
        scanned_.clear();
        std::priority_queue<HeapItem> heap;
        bound_ = kInf;
        relax_row(start, 0.0, st, heap);
        int32_t sink = -1;
        double sink_dist = 0.0;
        while (!heap.empty()) {
            HeapItem top = heap.top();
            heap.pop();
            int32_t j = top.col;
            if (done_[j] || top.dist > dist_[j]) continue;
            done_[j] = 1;
            scanned_.push_back(j);
            int32_t i = st.col_to_row[j];
            if (i < 0) {
                sink = j;
                sink_dist = top.dist;
                break;
            }
            relax_row(i, top.dist, st, heap);
        }
        if (sink < 0) {
            throw Infeasible("no perfect matching: a row cannot be assigned (cost matrix is infeasible)");
        }
        // Dual update: scanned columns (dist <= sink_dist) raise their price, their rows' duals
        // follow, so every arc keeps a reduced cost >= 0 and the new path is tight.
        st.u[start] += sink_dist;
        for (int32_t j : scanned_) {
            if (j == sink) continue;
            double delta = sink_dist - dist_[j];
            st.p[j] += delta;
            st.u[st.col_to_row[j]] += delta;
        }
        // Augment along the predecessor chain.
        int32_t j = sink;
        while (true) {
            int32_t i = pred_row_[j];
            int32_t prev = st.row_to_col[i];
            st.row_to_col[i] = j;
            st.col_to_row[j] = i;
            if (i == start) break;
            j = prev;
        }
        ++st.augmentations;
        scanned_total_ += static_cast<int64_t>(scanned_.size());
    }
    int64_t scanned_total_ = 0;

private:
    void relax_row(int32_t i, double base, const LapState& st, std::priority_queue<HeapItem>& heap) {
        const double ui = st.u[i];
        for (int64_t a = g_.indptr[i]; a < g_.indptr[i + 1]; ++a) {
            int32_t j = g_.indices[a];
            if (done_[j]) continue;
            double nd = base + reduced_cost(g_.cost[a], st.p[j], ui);
            // A column no nearer than the nearest free column reached so far can never be
            // scanned before the search ends there: leave it out of the heap.
            if (nd > bound_) continue;
            if (nd < dist_[j] || (nd == dist_[j] && pred_row_[j] > i)) {
                if (dist_[j] == kInf) touched_.push_back(j);
                dist_[j] = nd;
                pred_row_[j] = i;
                const bool free_col = st.col_to_row[j] < 0;
                if (free_col) bound_ = std::min(bound_, nd);
                heap.push({nd, j, free_col ? 0 : 1});
            }
        }
    }

    const CsrGraph& g_;
    double bound_ = kInf;  // distance of the nearest free column reached so far
    std::vector<double> dist_;
    std::vector<int32_t> pred_row_;
    std::vector<uint8_t> done_;
    std::vector<int32_t> touched_;
    std::vector<int32_t> scanned_;
};


// Augmenting row reduction (Jonker and Volgenant 1987): exact-price bidding (an auction with
// epsilon = 0).  A free row takes its cheapest column and raises that column's price to the row's
// second-best value, so the row stays exactly tight and every other row's duals stay feasible;
// the displaced owner becomes free.  Ties can make this cycle, so the number of bids is bounded;
// rows still free afterwards go to the shortest-path searches.  The bids are made in batches
// (bid_batch.hpp): a bid whose best column, or whose tied second column, another bid of its batch
// changed is made again from the new prices.  With eps > 0 each bid raises the price eps more
// (ties between owned columns included), as in an auction at eps: the row ends within eps of
// tight and no tie cycles.
void augmenting_row_reduction(const CsrGraph& g, LapState& st, const InterruptFn& interrupted, int threads,
                              double eps) {
    InterruptCheck check(interrupted);
    std::vector<int32_t> free_rows;
    for (int32_t i = g.n_rows - 1; i >= 0; --i)
        if (st.row_to_col[i] < 0) free_rows.push_back(i);
    // Bids are cheap next to a shortest-path search from a warm start: a budget of 256 bids per
    // free row was measured a little faster than 64 on synthetic losses, the same on real ones
    // (docs/NOTES.md, "Row reduction").
    int64_t budget = 256 * static_cast<int64_t>(free_rows.size()) + 16;
    BatchWorkers workers(static_cast<int64_t>(free_rows.size()) >= BatchWorkers::kMinParallel ? threads : 1, g.n_rows);
    BidBatch batch(g.n_cols);
    std::vector<int32_t> requeue;
    while (!free_rows.empty() && budget > 0) {
        batch.take(g, st.p.data(), free_rows, workers);
        requeue.clear();
        for (size_t k = 0; k < batch.rows.size(); ++k) {
            const int32_t i = batch.rows[k];
            if (budget-- <= 0) {
                requeue.push_back(i);
                continue;
            }
            check.tick(1);
            const RowBid& b = batch.bids[k];
            if (b.j1 < 0) throw Infeasible("a row has no allowed column: cost matrix is infeasible");
            // Another bid of this batch moved a column this bid read: bid again from the new prices.
            if (batch.changed(b.j1) || (b.j2 >= 0 && b.v1 == b.v2 && batch.changed(b.j2))) {
                requeue.push_back(i);
                continue;
            }
            int32_t target = b.j1;
            if (b.j2 < 0) {
                // Only one column: take it if free, else leave the row to the exact search.
                if (st.col_to_row[b.j1] >= 0) continue;
            } else if (b.v1 < b.v2) {
                st.p[b.j1] += (b.v2 - b.v1) + eps;
            } else if (st.col_to_row[b.j1] >= 0 && st.col_to_row[b.j2] < 0) {
                target = b.j2;  // a tie: prefer the free column, no price change needed
            } else if (st.col_to_row[b.j1] >= 0) {
                if (eps <= 0.0) continue;  // a tie between owned columns would only cycle
                st.p[b.j1] += eps;
            }
            st.u[i] = b.j2 < 0 ? b.v1 : b.v2;
            const int32_t old = st.col_to_row[target];
            st.col_to_row[target] = i;
            st.row_to_col[i] = target;
            batch.mark_changed(target);
            ++st.auction_bids;
            if (old >= 0) {
                st.row_to_col[old] = -1;
                requeue.push_back(old);
            }
        }
        free_rows.insert(free_rows.end(), requeue.rbegin(), requeue.rend());
    }
}

}  // namespace

LapState row_reduction_start(const CsrGraph& g) {
    check_shape(g);
    LapState st = empty_state(g);
    for (int32_t i = 0; i < g.n_rows; ++i) {
        double best = kInf;
        int32_t arg = -1;
        for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
            int32_t j = g.indices[a];
            if (g.cost[a] < best || (g.cost[a] == best && j < arg)) {
                best = g.cost[a];
                arg = j;
            }
        }
        if (arg < 0) throw Infeasible("a row has no allowed column: cost matrix is infeasible");
        st.u[i] = best;
        if (st.col_to_row[arg] < 0) {
            st.col_to_row[arg] = i;
            st.row_to_col[i] = arg;
        }
    }
    return st;
}

namespace {

// u_i = min over row i's arcs of (c + p); a row whose matched arc is more than eps above that
// minimum (eps = 0: not exactly it) is unmatched.  Returns the number of rows unmatched.  Throws
// Infeasible for a row without arcs.
int64_t duals_from_prices(const CsrGraph& g, LapState& st, double eps) {
    int64_t unmatched = 0;
    for (int32_t i = 0; i < g.n_rows; ++i) {
        double best = kInf;
        double matched = kInf;
        int32_t mj = st.row_to_col[i];
        for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
            double v = g.cost[a] + st.p[g.indices[a]];
            best = std::min(best, v);
            if (g.indices[a] == mj) matched = std::min(matched, v);
        }
        if (best == kInf) throw Infeasible("a row has no allowed column: cost matrix is infeasible");
        st.u[i] = best;
        if (mj >= 0 && !(matched <= best + eps)) {
            st.col_to_row[mj] = -1;
            st.row_to_col[i] = -1;
            ++unmatched;
        }
    }
    return unmatched;
}

// A freed column keeps the price its last owner paid, which puts it beyond most of the graph for
// every search (a warm start after adding arcs is about twice as slow without this, and on real
// early-training losses with empty cells the searches of a warm round scan 2-8x more columns;
// docs/NOTES.md, "Row reduction"); lower it to the least price that keeps every reduced cost
// >= 0, and not below `floor` (0 for rectangular problems, whose free columns must end at price
// 0; none for square ones, where every column ends matched).  No row dual changes, so no row is
// freed by it.
void lower_free_prices(const CsrGraph& g, LapState& st, double floor) {
    std::vector<double> lo(g.n_cols, floor);
    for (int32_t i = 0; i < g.n_rows; ++i)
        for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
            int32_t j = g.indices[a];
            if (st.col_to_row[j] < 0) lo[j] = std::max(lo[j], st.u[i] - g.cost[a]);
        }
    for (int32_t j = 0; j < g.n_cols; ++j)
        if (st.col_to_row[j] < 0 && lo[j] > -kInf && lo[j] < st.p[j]) st.p[j] = lo[j];
}

}  // namespace

void repair_and_finish(const CsrGraph& g, LapState& st, const InterruptFn& interrupted, double arr_min_free,
                       bool settle, int64_t max_unsearched, int threads, double eps) {
    check_shape(g);
    st.row_to_col.resize(g.n_rows, -1);
    st.col_to_row.resize(g.n_cols, -1);
    st.p.resize(g.n_cols, 0.0);
    st.u.assign(g.n_rows, 0.0);
    // Square problems: every column ends matched, so prices need no normalisation (and keeping
    // them makes a warm start cheap: only rows whose arcs changed are searched again).
    // Rectangular problems: free columns must end with price 0, the minimum.
    const bool square = g.n_rows == g.n_cols;
    for (int32_t j = 0; j < g.n_cols; ++j) {
        if (!std::isfinite(st.p[j])) st.p[j] = 0.0;
        if (!square && st.p[j] < 0.0) st.p[j] = 0.0;
    }
    // Row duals from the prices; unmatch rows whose matched arc is not the cheapest (within eps).
    duals_from_prices(g, st, eps);
    const bool trace = std::getenv("LIGHTRNN_SOLVER_TRACE") != nullptr;
    auto count_free = [&] { return std::count(st.row_to_col.begin(), st.row_to_col.end(), -1); };
    auto tp = std::chrono::steady_clock::now();
    const int64_t free0 = trace ? count_free() : 0;
    // The row reduction pays when most rows are free (real warm rounds free nearly all of them,
    // and are several times slower without it); with few free rows it leaves the hard ones on
    // exact ties, whose searches then cross long tight plateaus, slower than the searches alone
    // (figures for both in docs/NOTES.md, "Row reduction").
    if (static_cast<double>(count_free()) >= arr_min_free * static_cast<double>(g.n_rows))
        augmenting_row_reduction(g, st, interrupted, threads, eps);
    // Freed columns' prices are lowered after the row reduction, for the searches.  (Lowered
    // before it too, they start price wars in the row reduction on real losses, where a warm
    // round frees almost every row; docs/NOTES.md, "Row reduction".)
    lower_free_prices(g, st, square ? -kInf : 0.0);
    const int64_t free1 = trace || max_unsearched >= 0 ? count_free() : 0;
    const bool search_free = !(free1 > 0 && free1 <= max_unsearched);
    auto tq = std::chrono::steady_clock::now();
    PathSearch search(g);
    InterruptCheck check(interrupted);
    for (int32_t i = 0; i < g.n_rows && search_free; ++i) {
        if (st.row_to_col[i] >= 0) continue;
        const int64_t scanned_before = search.scanned_total_;
        search.augment(i, st);
        check.tick(search.scanned_total_ - scanned_before);
    }
    auto ts = std::chrono::steady_clock::now();
    if (!square && settle && search_free) settle_free_columns(g, st, interrupted);
    if (trace) std::fprintf(stderr, "  repair: free %lld -> %lld after ARR (%.3fs), scanned %lld, ssp %.3fs, stranded %.3fs\n", (long long)free0, (long long)free1,
                            std::chrono::duration<double>(tq - tp).count(), (long long)search.scanned_total_,
                            std::chrono::duration<double>(ts - tq).count(),
                            std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count());
}

LapState solve_ssp(const CsrGraph& g, const InterruptFn& interrupted) {
    LapState st = row_reduction_start(g);
    repair_and_finish(g, st, interrupted, 0.0);
    return st;
}

LapState solve_checked(const CsrGraph& g, bool auction, const InterruptFn& interrupted) {
    check_shape(g);
    double total = 0.0, largest = 0.0;
    int64_t arg = -1;
    for (int32_t i = 0; i < g.n_rows; ++i) {
        double row_max = 0.0;
        for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
            const double c = g.cost[a];
            if (!std::isfinite(c)) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%.17g", c);
                throw std::invalid_argument("arc " + std::to_string(a) + " (row " + std::to_string(i) + ", column " +
                                            std::to_string(g.indices[a]) + ") has cost " + buf +
                                            ": costs must be finite (a forbidden pair is left out)");
            }
            if (std::abs(c) > row_max) row_max = std::abs(c);
            if (std::abs(c) > largest) {
                largest = std::abs(c);
                arg = a;
            }
        }
        total += row_max;
    }
    if (!std::isfinite(total)) {
        int32_t row = 0;
        while (g.indptr[row + 1] <= arg) ++row;
        char buf[64];
        std::snprintf(buf, sizeof buf, "%.17g", g.cost[arg]);
        throw std::invalid_argument("costs too large: arc " + std::to_string(arg) + " (row " + std::to_string(row) +
                                    ", column " + std::to_string(g.indices[arg]) + ") costs " + buf +
                                    ", and the sum over rows of each row's largest |cost| overflows float64; "
                                    "scale the costs down");
    }
    const double limit = std::numeric_limits<double>::max() / 64.0 / (static_cast<double>(g.n_cols) + 2.0);
    int shift = 0;
    while (std::ldexp(largest, -shift) > limit) ++shift;
    if (shift == 0) return auction ? solve_auction(g, {}, interrupted) : solve_ssp(g, interrupted);
    const int64_t nnz = g.indptr[g.n_rows];
    std::vector<double> scaled(static_cast<size_t>(nnz));
    for (int64_t a = 0; a < nnz; ++a) scaled[a] = std::ldexp(g.cost[a], -shift);
    CsrGraph gs = g;
    gs.cost = scaled.data();
    LapState st = auction ? solve_auction(gs, {}, interrupted) : solve_ssp(gs, interrupted);
    for (double& x : st.u) x = std::ldexp(x, shift);
    for (double& x : st.p) x = std::ldexp(x, shift);
    return st;
}

double matching_cost(const CsrGraph& g, const LapState& st) {
    double total = 0.0;
    for (int32_t i = 0; i < g.n_rows; ++i) {
        int32_t j = st.row_to_col[i];
        double best = kInf;
        for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
            if (g.indices[a] == j) best = std::min(best, g.cost[a]);
        }
        total += best;
    }
    return total;
}

double certificate_violation(const CsrGraph& g, const LapState& st) {
    double worst = 0.0;
    if (g.n_rows != g.n_cols) {
        for (int32_t j = 0; j < g.n_cols; ++j) {
            worst = std::max(worst, -st.p[j]);
            if (st.col_to_row[j] < 0) worst = std::max(worst, std::abs(st.p[j]));
        }
    }
    for (int32_t i = 0; i < g.n_rows; ++i) {
        int32_t mj = st.row_to_col[i];
        if (mj < 0) return kInf;
        double matched = kInf;
        for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
            double r = g.cost[a] + st.p[g.indices[a]] - st.u[i];
            worst = std::max(worst, -r);
            if (g.indices[a] == mj) matched = std::min(matched, r);
        }
        worst = std::max(worst, std::abs(matched));
    }
    return worst;
}

}  // namespace lightrnn
