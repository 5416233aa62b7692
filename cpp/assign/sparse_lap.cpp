// Sparse exact assignment: shortest augmenting paths and epsilon-scaling auction.
// See sparse_lap.hpp for the algorithms, their sources and complexity.
#include "sparse_lap.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <queue>
#include <utility>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace lightrnn {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kCheckEvery = 1024;
// A cost range this many times the 90th percentile of the rows' spreads is set by outliers.
constexpr double kOutlierRatio = 1048576.0;
// Stranded columns are settled in phases once single searches reach more than 1/kPhaseShare of
// the columns on average.
constexpr int64_t kPhaseShare = 4;

// Reduced cost c_ij + p_j - u_i of an arc, at least 0: the invariants make it >= 0 exactly, so a
// negative value is rounding only.
inline double reduced_cost(double cost, double pj, double ui) {
    const double r = cost + pj - ui;
    return r < 0.0 ? 0.0 : r;
}

struct HeapItem {
    double dist;
    int32_t col;
    int32_t matched;  // 0: a free column (a sink), 1: matched
    // Min-heap on (dist, matched, col): at equal distance a free column wins (the search ends
    // there instead of scanning the rest of a plateau of tight arcs), then the smallest column,
    // for determinism.
    bool operator<(const HeapItem& o) const {
        return dist > o.dist || (dist == o.dist && (matched > o.matched || (matched == o.matched && col > o.col)));
    }
};

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

void check_shape(const CsrGraph& g) {
    if (g.n_rows < 0 || g.n_cols < 0) throw std::invalid_argument("negative problem size");
    if (g.n_rows > g.n_cols) throw Infeasible("more rows than columns: cost matrix is infeasible");
}

// Nothing matched, all duals and prices 0.
LapState empty_state(const CsrGraph& g) {
    LapState st;
    st.row_to_col.assign(g.n_rows, -1);
    st.col_to_row.assign(g.n_cols, -1);
    st.u.assign(g.n_rows, 0.0);
    st.p.assign(g.n_cols, 0.0);
    return st;
}

// Augmenting row reduction (Jonker and Volgenant 1987): exact-price bidding (an auction with
// epsilon = 0).  A free row takes its cheapest column and raises that column's price to the row's
// second-best value, so the row stays exactly tight and every other row's duals stay feasible;
// the displaced owner becomes free.  Ties can make this cycle, so the number of bids is bounded;
// rows still free afterwards go to the shortest-path searches.
void augmenting_row_reduction(const CsrGraph& g, LapState& st) {
    std::vector<int32_t> free_rows;
    for (int32_t i = g.n_rows - 1; i >= 0; --i)
        if (st.row_to_col[i] < 0) free_rows.push_back(i);
    // Bids are cheap next to a shortest-path search from a warm start: a budget of 256 bids per
    // free row was measured a little faster than 64 on synthetic losses, the same on real ones
    // (docs/NOTES.md, "Row reduction").
    int64_t budget = 256 * static_cast<int64_t>(free_rows.size()) + 16;
    std::vector<int32_t> left;
    while (!free_rows.empty() && budget-- > 0) {
        int32_t i = free_rows.back();
        free_rows.pop_back();
        double v1 = kInf, v2 = kInf;
        int32_t j1 = -1, j2 = -1;
        for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
            int32_t j = g.indices[a];
            double v = g.cost[a] + st.p[j];
            if (v < v1 || (v == v1 && j < j1)) {
                v2 = v1; j2 = j1;
                v1 = v; j1 = j;
            } else if (v < v2 || (v == v2 && j < j2)) {
                v2 = v; j2 = j;
            }
        }
        if (j1 < 0) throw Infeasible("a row has no allowed column: cost matrix is infeasible");
        int32_t target = j1;
        if (v2 == kInf) {
            // Only one column: take it if free, else leave the row to the exact search.
            if (st.col_to_row[j1] >= 0) { left.push_back(i); continue; }
        } else if (v1 < v2) {
            st.p[j1] += v2 - v1;
        } else if (st.col_to_row[j1] >= 0 && st.col_to_row[j2] < 0) {
            target = j2;  // a tie: prefer the free column, no price change needed
        } else if (st.col_to_row[j1] >= 0) {
            left.push_back(i);  // a tie between owned columns would only cycle
            continue;
        }
        st.u[i] = (v2 == kInf) ? v1 : v2;
        int32_t old = st.col_to_row[target];
        st.col_to_row[target] = i;
        st.row_to_col[i] = target;
        ++st.auction_bids;
        if (old >= 0) {
            st.row_to_col[old] = -1;
            free_rows.push_back(old);
        }
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

// u_i = min over row i's arcs of (c + p); a row whose matched arc is not exactly that minimum
// is unmatched.  Returns the number of rows unmatched.  Throws Infeasible for a row without arcs.
int64_t duals_from_prices(const CsrGraph& g, LapState& st) {
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
        if (mj >= 0 && !(matched <= best)) {
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

// The transposed graph: for each column, the rows of the arcs into it and their costs.
struct Transposed {
    std::vector<int64_t> col_ptr;  // (n_cols + 1)
    std::vector<int32_t> row;      // (nnz)
    std::vector<double> cost;      // (nnz)

    explicit Transposed(const CsrGraph& g) : col_ptr(static_cast<size_t>(g.n_cols) + 1, 0) {
        const int64_t n_arcs = g.indptr[g.n_rows];
        for (int64_t a = 0; a < n_arcs; ++a) ++col_ptr[g.indices[a] + 1];
        for (int32_t j = 0; j < g.n_cols; ++j) col_ptr[j + 1] += col_ptr[j];
        row.resize(n_arcs);
        cost.resize(n_arcs);
        std::vector<int64_t> fill(col_ptr.begin(), col_ptr.end() - 1);
        for (int32_t i = 0; i < g.n_rows; ++i)
            for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
                const int64_t slot = fill[g.indices[a]]++;
                row[slot] = i;
                cost[slot] = g.cost[a];
            }
    }
};

// One reverse shortest-path search per stranded column, over the transposed graph (see
// settle_free_columns).
class ReverseSearch {
public:
    ReverseSearch(const CsrGraph& g, const Transposed& t)
        : t_(t), delta_(g.n_cols, kInf), pred_(g.n_cols, -1), mover_(g.n_cols, -1), done_(g.n_cols, 0) {}

    // Settles free column `root`: the cheapest column to empty instead is emptied at price 0.
    // Returns how many columns the search reached.
    int64_t settle(int32_t root, LapState& st) {
        for (int32_t k : touched_) {
            delta_[k] = kInf;
            pred_[k] = mover_[k] = -1;
            done_[k] = 0;
        }
        touched_.clear();
        popped_.clear();
        double best = st.p[root];
        const int32_t end = search(root, st, best);
        // Duals: reached columns (and their rows) lower by best - delta.
        for (int32_t k : popped_) {
            const double drop = best - delta_[k];
            st.p[k] = std::max(0.0, st.p[k] - drop);
            const int32_t owner = st.col_to_row[k];
            if (owner >= 0) st.u[owner] -= drop;
        }
        // Rows on the path move one column towards the root; `end` is emptied.
        if (end != root) {
            st.col_to_row[end] = -1;
            int32_t k = end;
            while (k != root) {
                const int32_t i = mover_[k], t = pred_[k];
                st.row_to_col[i] = t;
                st.col_to_row[t] = i;
                k = t;
            }
        }
        st.p[end] = 0.0;
        return static_cast<int64_t>(popped_.size());
    }

private:
    // Dijkstra from `root` until no reached column can be emptied for less than `best` (on entry
    // the root's own price); returns the column to empty, `best` its cost.
    int32_t search(int32_t root, const LapState& st, double& best) {
        using Item = std::pair<double, int32_t>;  // (label, column), smallest first, then lowest column
        std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap;
        delta_[root] = 0.0;
        touched_.push_back(root);
        heap.push({0.0, root});
        int32_t end = root;
        while (!heap.empty()) {
            const auto [dk, k] = heap.top();
            heap.pop();
            if (done_[k] || dk > delta_[k]) continue;
            if (dk >= best) break;
            done_[k] = 1;
            popped_.push_back(k);
            if (k != root && dk + st.p[k] < best) {
                best = dk + st.p[k];
                end = k;
            }
            for (int64_t a = t_.col_ptr[k]; a < t_.col_ptr[k + 1]; ++a) {
                const int32_t i = t_.row[a];
                const int32_t m = st.row_to_col[i];
                if (m == k || m < 0 || done_[m]) continue;
                const double nd = dk + reduced_cost(t_.cost[a], st.p[k], st.u[i]);
                if (nd < delta_[m] || (nd == delta_[m] && i < mover_[m])) {
                    if (delta_[m] == kInf) touched_.push_back(m);
                    delta_[m] = nd;
                    pred_[m] = k;
                    mover_[m] = i;
                    heap.push({nd, m});
                }
            }
        }
        return end;
    }

    const Transposed& t_;
    std::vector<double> delta_;             // label of each reached column
    std::vector<int32_t> pred_, mover_;     // the column towards the root, the row that moves there
    std::vector<uint8_t> done_;
    std::vector<int32_t> touched_, popped_;
};

// Settles stranded free columns in phases (see settle_free_columns).  Each phase computes, for
// every column k, h_k: the least cost of emptying some column by a chain of moves that starts
// by a row moving into k (h_k <= p_k, emptying k itself; a free column at price 0 has h = 0).
class ExitPotentials {
public:
    ExitPotentials(const CsrGraph& g, const Transposed& t)
        : g_(g), t_(t), h_(g.n_cols, kInf), state_(g.n_cols, 0), next_arc_(g.n_cols, 0) {
        // Each row's arcs by cost: a move into k can lower h_k only through an arc cheaper than
        // u_i - h_m (h_k <= p_k), so the backward search stops at the first arc that is not.
        const int64_t n_arcs = g.indptr[g.n_rows];
        sorted_col_.resize(n_arcs);
        sorted_cost_.resize(n_arcs);
        std::vector<std::pair<double, int32_t>> arcs;
        for (int32_t i = 0; i < g.n_rows; ++i) {
            arcs.clear();
            for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) arcs.emplace_back(g.cost[a], g.indices[a]);
            std::sort(arcs.begin(), arcs.end());
            for (size_t x = 0; x < arcs.size(); ++x) {
                sorted_cost_[g.indptr[i] + static_cast<int64_t>(x)] = arcs[x].first;
                sorted_col_[g.indptr[i] + static_cast<int64_t>(x)] = arcs[x].second;
            }
        }
    }

    // One phase over the free columns `roots` (each priced > 0): settles at least one of them and
    // returns the others.
    std::vector<int32_t> phase(const std::vector<int32_t>& roots, LapState& st) {
        std::fill(state_.begin(), state_.end(), 0);
        for (int32_t r : roots) state_[r] |= kRoot;
        exit_potentials(st, static_cast<int64_t>(roots.size()));
        // Vertex-disjoint tight chains from the roots to exits, tested with the search's own sums
        // (before the duals move).
        std::vector<int32_t> left, paths;  // paths: root, then (column, row moving out of it)..., -1
        for (int32_t r : roots)
            if (h_[r] < st.p[r] && !find_path(r, st, paths)) left.push_back(r);
        // Duals: p_k -= h_k, and each row's dual follows its column.  A matched arc stays tight,
        // every reduced cost r_ik + h_m - h_k stays >= 0 (h is a shortest-path potential), no
        // price goes below 0, the chains found are tight and end at price 0.
        for (int32_t k = 0; k < g_.n_cols; ++k) {
            st.p[k] = (state_[k] & kExit) ? 0.0 : std::max(0.0, st.p[k] - h_[k]);
            const int32_t owner = st.col_to_row[k];
            if (owner >= 0) st.u[owner] -= h_[k];
        }
        // Rows on each chain move one column towards its root; the chain's last column is emptied.
        for (size_t a = 0; a < paths.size();) {
            int32_t to = paths[a++];
            while (paths[a] >= 0) {
                const int32_t from = paths[a], i = paths[a + 1];
                st.row_to_col[i] = to;
                st.col_to_row[to] = i;
                to = from;
                a += 2;
            }
            ++a;
            st.col_to_row[to] = -1;
            st.p[to] = 0.0;
        }
        return left;
    }

private:
    static constexpr uint8_t kExit = 1, kVisited = 2, kRoot = 4, kDone = 8;

    // Dijkstra from every column at once, backwards along the moves: a popped matched column m
    // lets each column k of its row's arcs be entered at h_m + (reduced cost of the arc).  A
    // matched column whose own price stays its least cost is an exit (kExit).
    void exit_potentials(const LapState& st, int64_t n_roots) {
        using Item = std::pair<double, int32_t>;  // (label, column), smallest first, then lowest column
        std::vector<Item> items;
        items.reserve(static_cast<size_t>(g_.n_cols));
        for (int32_t k = 0; k < g_.n_cols; ++k) {
            h_[k] = st.p[k];
            items.push_back({h_[k], k});
        }
        std::priority_queue<Item, std::vector<Item>, std::greater<Item>> heap(std::greater<Item>(), std::move(items));
        double top = 0.0;
        while (!heap.empty() && n_roots > 0) {
            const auto [hm, m] = heap.top();
            heap.pop();
            if ((state_[m] & kDone) || hm > h_[m]) continue;
            state_[m] |= kDone;
            top = hm;
            if (state_[m] & kRoot) --n_roots;
            const int32_t i = st.col_to_row[m];
            if (i < 0) continue;
            if (h_[m] == st.p[m]) state_[m] |= kExit;
            const double ui = st.u[i];
            for (int64_t a = g_.indptr[i]; a < g_.indptr[i + 1]; ++a) {
                if (sorted_cost_[a] >= ui - hm) break;
                const int32_t k = sorted_col_[a];
                if (k == m || (state_[k] & kDone)) continue;
                const double nd = hm + reduced_cost(sorted_cost_[a], st.p[k], ui);
                if (nd < h_[k]) {
                    h_[k] = nd;
                    heap.push({nd, k});
                }
            }
        }
        // Once every root has its label, the others are cut at the last label popped: still a
        // potential under which every reduced cost stays >= 0, and no price goes below 0.
        for (int32_t k = 0; k < g_.n_cols; ++k)
            if (!(state_[k] & kDone)) h_[k] = std::min(h_[k], top);
    }

    // Depth-first search from `root` to an exit over tight moves (a row of column m may move into
    // column k when h_k = h_m + its arc's reduced cost), through columns not visited in this
    // phase.  Appends the chain to `paths` and returns true if one is found.  A column left
    // without a chain stays visited: no later root of the phase gets through it either (as in
    // Hopcroft-Karp).
    bool find_path(int32_t root, const LapState& st, std::vector<int32_t>& paths) {
        stack_.assign(1, root);
        state_[root] |= kVisited;
        next_arc_[root] = t_.col_ptr[root];
        while (!stack_.empty()) {
            const int32_t k = stack_.back();
            if (k != root && (state_[k] & kExit)) {
                paths.push_back(root);
                for (size_t d = 1; d < stack_.size(); ++d) {
                    paths.push_back(stack_[d]);
                    paths.push_back(st.col_to_row[stack_[d]]);  // its row moves out
                }
                paths.push_back(-1);
                return true;
            }
            bool pushed = false;
            while (next_arc_[k] < t_.col_ptr[k + 1]) {
                const int64_t t = next_arc_[k]++;
                const int32_t i = t_.row[t];
                const int32_t m = st.row_to_col[i];
                if (m == k || m < 0 || (state_[m] & (kVisited | kDone)) != kDone) continue;
                if (h_[m] + reduced_cost(t_.cost[t], st.p[k], st.u[i]) != h_[k]) continue;
                state_[m] |= kVisited;
                next_arc_[m] = t_.col_ptr[m];
                stack_.push_back(m);
                pushed = true;
                break;
            }
            if (!pushed) stack_.pop_back();
        }
        return false;
    }

    const CsrGraph& g_;
    const Transposed& t_;
    std::vector<int32_t> sorted_col_;  // each row's arcs by cost (g's row pointers)
    std::vector<double> sorted_cost_;
    std::vector<double> h_;          // least cost of emptying a column by a chain entering each column
    std::vector<uint8_t> state_;     // kExit | kVisited, this phase
    std::vector<int64_t> next_arc_;  // DFS: the next transposed arc to try
    std::vector<int32_t> stack_;
};

}  // namespace

// Rectangular problems: a free column must end at price 0.  A column whose row left it in a warm
// start keeps its price while the forward searches run (most end at such columns); one still
// free afterwards ("stranded", price p_j > 0) is settled by a reverse shortest-path search
// rooted at it, over the transposed graph: a row adjacent to a reached column k may move into k,
// freeing its own column m at label delta_m = delta_k + (reduced cost of the row's arc to k).
// Emptying a reached column e costs delta_e + p_e (the root: p_j); the least such e ends the
// search, the rows on its path move one column towards the root, e is freed at price 0, and
// every reached column k (with its row) lowers its price by D - delta_k, D = that least cost:
// reduced costs stay >= 0, the path is tight, no price goes below 0, and the other free columns
// are untouched.  Dropping stranded columns to 0 instead frees their neighbours, whose columns
// drop too, in a cascade over most of the words (docs/NOTES.md, "Empty cells").
//
// On a nearly full table each such search reaches most of the columns (the cheap columns to
// empty are far away, across plateaus of near-tight arcs), so the stranded columns left once
// the searches average more than a quarter of the columns are settled in phases instead.  A
// phase computes, by one Dijkstra backwards from every column at once (initial label p_k), the
// least cost h_k of emptying some column by a chain of moves into k; h is a shortest-path
// potential, so p_k -= h_k (with each row's dual following its column) keeps every reduced cost
// >= 0 and every price >= 0, and makes each column's chain tight down to an exit (a column whose
// own price was its least cost) now priced 0.  Vertex-disjoint tight chains from the stranded
// columns to exits, found by depth-first search as in Hopcroft-Karp, are then moved at once: a
// phase settles at least one column (the one of least label) and usually several.
int64_t settle_free_columns(const CsrGraph& g, LapState& st, const InterruptFn& interrupted) {
    // Lowering every price and every row dual by the same amount keeps every reduced cost: the
    // least price can go to 0 at once.  (After a warm round every column may be priced well above
    // 0; the searches below would then each lower most of the graph by about that amount.)
    {
        double theta = kInf;
        for (int32_t j = 0; j < g.n_cols; ++j) theta = std::min(theta, st.p[j]);
        if (theta > 0.0 && theta < kInf) {
            for (double& pj : st.p) pj -= theta;
            for (double& ui : st.u) ui -= theta;
        }
    }
    std::vector<int32_t> stranded;
    for (int32_t j = 0; j < g.n_cols; ++j)
        if (st.col_to_row[j] < 0 && st.p[j] > 0.0) stranded.push_back(j);
    if (stranded.empty()) return 0;
    const Transposed transposed(g);
    ReverseSearch search(g, transposed);
    // One search per column while the searches stay local; once they reach a large share of the
    // columns on average, the rest go in phases, each about as costly as one search over every
    // column but settling several columns at once.
    size_t n_single = 0;
    int64_t popped = 0;
    while (n_single < stranded.size() && popped * kPhaseShare <= static_cast<int64_t>(n_single) * g.n_cols) {
        popped += search.settle(stranded[n_single], st);
        if (++n_single % kCheckEvery == 0 && interrupted && interrupted()) throw Interrupted("interrupted");
    }
    int64_t phases = 0;
    if (n_single < stranded.size()) {
        ExitPotentials potentials(g, transposed);
        std::vector<int32_t> left(stranded.begin() + static_cast<std::ptrdiff_t>(n_single), stranded.end());
        for (; !left.empty(); ++phases) {
            left = potentials.phase(left, st);
            if (interrupted && interrupted()) throw Interrupted("interrupted");
        }
    }
    if (std::getenv("LIGHTRNN_SOLVER_TRACE"))
        std::fprintf(stderr, "  settled %zu free columns: %zu by single searches (%lld columns reached), %zu in %lld phases\n",
                     stranded.size(), n_single, (long long)popped, stranded.size() - n_single, (long long)phases);
    return static_cast<int64_t>(stranded.size());
}

void repair_and_finish(const CsrGraph& g, LapState& st, const InterruptFn& interrupted, double arr_min_free,
                       bool settle) {
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
    // Row duals from the prices; unmatch rows whose matched arc is not exactly the cheapest.
    duals_from_prices(g, st);
    const bool trace = std::getenv("LIGHTRNN_SOLVER_TRACE") != nullptr;
    auto count_free = [&] { return std::count(st.row_to_col.begin(), st.row_to_col.end(), -1); };
    auto tp = std::chrono::steady_clock::now();
    const int64_t free0 = trace ? count_free() : 0;
    // The row reduction pays when most rows are free (real warm rounds free nearly all of them,
    // and are several times slower without it); with few free rows it leaves the hard ones on
    // exact ties, whose searches then cross long tight plateaus, slower than the searches alone
    // (figures for both in docs/NOTES.md, "Row reduction").
    if (static_cast<double>(count_free()) >= arr_min_free * static_cast<double>(g.n_rows))
        augmenting_row_reduction(g, st);
    // Freed columns' prices are lowered after the row reduction, for the searches.  (Lowered
    // before it too, they start price wars in the row reduction on real losses, where a warm
    // round frees almost every row; docs/NOTES.md, "Row reduction".)
    lower_free_prices(g, st, square ? -kInf : 0.0);
    const int64_t free1 = trace ? count_free() : 0;
    auto tq = std::chrono::steady_clock::now();
    PathSearch search(g);
    int64_t n_done = 0;
    for (int32_t i = 0; i < g.n_rows; ++i) {
        if (st.row_to_col[i] >= 0) continue;
        search.augment(i, st);
        if (++n_done % kCheckEvery == 0 && interrupted && interrupted()) throw Interrupted("interrupted");
    }
    auto ts = std::chrono::steady_clock::now();
    if (!square && settle) settle_free_columns(g, st, interrupted);
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

namespace {

// Bid from every row in `queue` until all are assigned (Gauss-Seidel forward auction at `eps`).
// Returns false when a price passes `price_cap` (no complete matching on these arcs) or the
// auction's bids pass `bid_cap` (a price war).
bool auction_phase(const CsrGraph& g, LapState& st, std::vector<int32_t>& queue, double eps, double big,
                   double price_cap, int64_t bid_cap, int64_t& work, const InterruptFn& interrupted) {
    while (!queue.empty()) {
        int32_t i = queue.back();
        queue.pop_back();
        double v1 = kInf, v2 = kInf;
        int32_t j1 = -1;
        for (int64_t a = g.indptr[i]; a < g.indptr[i + 1]; ++a) {
            int32_t j = g.indices[a];
            double v = g.cost[a] + st.p[j];
            if (v < v1 || (v == v1 && j < j1)) {
                v2 = v1;
                v1 = v;
                j1 = j;
            } else if (v < v2) {
                v2 = v;
            }
        }
        if (v2 == kInf) v2 = v1 + big;
        st.p[j1] += (v2 - v1) + eps;
        ++st.auction_bids;
        if (st.p[j1] > price_cap || st.auction_bids > bid_cap) return false;
        int32_t old = st.col_to_row[j1];
        st.col_to_row[j1] = i;
        st.row_to_col[i] = j1;
        if (old >= 0) {
            st.row_to_col[old] = -1;
            queue.push_back(old);
        }
        if (++work % (kCheckEvery * 64) == 0 && interrupted && interrupted()) throw Interrupted("interrupted");
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
                       CsrGraph* g_out, bool finish) {
    check_shape(g_in);
    CsrGraph g = g_in;
    LapState st = empty_state(g);
    if (g.n_rows == 0) return st;
    const bool warm = static_cast<int32_t>(warm_prices.size()) == g.n_cols;
    const AuctionScale sc = auction_scale(g, warm);
    if (warm) {
        for (int32_t j = 0; j < g.n_cols; ++j) st.p[j] = std::isfinite(warm_prices[j]) ? std::max(0.0, warm_prices[j]) : 0.0;
    }
    const double range = sc.range, robust_cap = sc.robust_cap, eps_final = sc.eps_final;
    double eps = sc.eps;
    // A bid that runs prices beyond this means no complete matching exists on these arcs.
    double price_cap = sc.range_true * (static_cast<double>(g.n_rows) + 2.0) + 1.0;
    double big = range + eps;  // second-best value for a row with a single arc
    std::vector<int32_t> queue;
    queue.reserve(g.n_rows);
    int64_t work = 0;
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
        const bool ok = auction_phase(g, st, queue, eps, big, price_cap, bid_cap, work, interrupted);
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
    if (finish) repair_and_finish(g, st, interrupted, 0.5);
    if (g_out) *g_out = g;
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
