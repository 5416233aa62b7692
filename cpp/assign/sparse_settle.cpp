// Settling the free columns of a rectangular problem at price 0 (settle_free_columns, declared in
// sparse_lap.hpp): single reverse shortest-path searches, then phases of exit potentials.
#include "sparse_lap.hpp"

#include "lap_internal.hpp"

#include <array>
#include <cstring>

namespace lightrnn {

namespace {

// Stranded columns are settled in phases once single searches reach more than 1/kPhaseShare of
// the columns on average.
constexpr int64_t kPhaseShare = 4;

// A phase's backward search stops once this many stranded columns have their labels (the others
// are cut at the last label popped).  A phase settles a few columns, those of least label, yet a
// search to the last root crosses nearly the whole graph: stopped early, the phases with many
// roots left reach a fraction of it, in somewhat more phases (figures in docs/NOTES.md, "Empty
// cells").
constexpr int64_t kPhaseRoots = 64;

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

// The exit potentials' priority queue: columns keyed by their labels, non-negative doubles, every
// key pushed at least the last popped (Dijkstra with reduced costs >= 0).  A radix heap (Ahuja,
// Mehlhorn, Orlin and Tarjan, "Faster algorithms for the shortest path problem", 1990) on the
// keys' bit patterns, which order non-negative doubles as the doubles do: bucket b > 0 holds the
// columns whose key's highest bit differing from the last popped key is bit b - 1, bucket 0 those
// equal to it.  A pop takes from bucket 0, or first moves the lowest non-empty bucket into lower
// ones around its least key; a column moves at most 64 times, by sequential appends.  The keys
// stay in the caller's labels (read through `key_of`); a bucket holds column numbers only, and a
// lowered key that leaves its column's bucket appends the column to its new one, the old entry
// then stale (its bucket is no longer the column's) and dropped when met.  Each phase fills it
// with every column and pops a large share of them: a 4-ary heap with decrease-key reads a line
// a level at every pop and every lowered key, scattered over more than the cache holds at
// 200,000 words, and the settles took 25-65% longer (figures in docs/NOTES.md, "Empty cells").
class RadixHeap {
public:
    explicit RadixHeap(int32_t n) : bucket_of_(static_cast<size_t>(n), kNone) {}

    // Empty, with every column's key to come from key_of(col) (read at each push and move).
    void clear() {
        for (auto& b : buckets_) b.clear();
        std::fill(bucket_of_.begin(), bucket_of_.end(), kNone);
        last_ = 0;
    }
    // Column col at key (its first push, or a key lowered since).
    void push(double key, int32_t col) {
        const uint8_t b = index(bits(key));
        if (b == bucket_of_[col]) return;  // still in its bucket: the key is read from the caller
        bucket_of_[col] = b;
        buckets_[b].push_back(col);
    }
    // The least-keyed column not `done(col)` (ties: the last placed) into col, its key then the
    // last popped; false when none is left.  Columns found done are dropped.
    template <class KeyOf, class Done>
    bool pop(int32_t& col, const KeyOf& key_of, const Done& done) {
        while (true) {
            auto& b0 = buckets_[0];
            while (!b0.empty()) {
                const int32_t c = b0.back();
                b0.pop_back();
                if (bucket_of_[c] != 0 || done(c)) continue;
                bucket_of_[c] = kNone;
                col = c;
                return true;
            }
            size_t b = 1;
            while (b < buckets_.size() && buckets_[b].empty()) ++b;
            if (b == buckets_.size()) return false;
            auto& from = buckets_[b];
            uint64_t least = ~uint64_t{0};
            for (const int32_t c : from)
                if (bucket_of_[c] == b && !done(c)) least = std::min(least, bits(key_of(c)));
            if (least != ~uint64_t{0}) {
                last_ = least;
                for (const int32_t c : from) {
                    if (bucket_of_[c] != b || done(c)) continue;
                    const uint8_t nb = index(bits(key_of(c)));
                    bucket_of_[c] = nb;
                    buckets_[nb].push_back(c);
                }
            }
            from.clear();
        }
    }
    // The column the next pop looks at first (-1: none without moving columns), for a prefetch.
    int32_t peek() const { return buckets_[0].empty() ? -1 : buckets_[0].back(); }

private:
    static constexpr uint8_t kNone = 255;
    static uint64_t bits(double x) {
        x += 0.0;  // -0.0 becomes +0.0, whose bits order below every positive double's
        uint64_t k;
        std::memcpy(&k, &x, sizeof k);
        return k;
    }
    uint8_t index(uint64_t k) const { return k == last_ ? 0 : static_cast<uint8_t>(64 - __builtin_clzll(k ^ last_)); }

    std::array<std::vector<int32_t>, 65> buckets_;
    std::vector<uint8_t> bucket_of_;  // each column's bucket (kNone: not in the heap)
    uint64_t last_ = 0;               // the last key popped
};

// Settles stranded free columns in phases (see settle_free_columns).  Each phase computes, for
// every column k, h_k: the least cost of emptying some column by a chain of moves that starts
// by a row moving into k (h_k <= p_k, emptying k itself; a free column at price 0 has h = 0).
class ExitPotentials {
public:
    ExitPotentials(const CsrGraph& g, const Transposed& t)
        : g_(g), t_(t), label_(g.n_cols, Label{0.0, kInf}), owner_(g.n_cols), state_(g.n_cols, 0), next_arc_(g.n_cols, 0),
          heap_(g.n_cols) {
        // Each row's arcs by cost: a move into k can lower h_k only through an arc cheaper than
        // u_i - h_m (h_k <= p_k), so the backward search stops at the first arc that is not.
        if (g.rows_by_cost) {
            sorted_col_ = g.indices;
            sorted_cost_ = g.cost;
            return;
        }
        const int64_t n_arcs = g.indptr[g.n_rows];
        own_col_.assign(g.indices, g.indices + n_arcs);
        own_cost_.assign(g.cost, g.cost + n_arcs);
        std::vector<std::pair<double, int32_t>> buf;
        for (int32_t i = 0; i < g.n_rows; ++i)
            sort_arcs_by_cost(own_col_.data() + g.indptr[i], own_cost_.data() + g.indptr[i], g.indptr[i + 1] - g.indptr[i], buf);
        sorted_col_ = own_col_.data();
        sorted_cost_ = own_cost_.data();
    }

    // One phase over the free columns `roots` (each priced > 0): settles at least one of them and
    // returns the others.
    std::vector<int32_t> phase(const std::vector<int32_t>& roots, LapState& st) {
        std::fill(state_.begin(), state_.end(), 0);
        for (int32_t r : roots) state_[r] |= kRoot;
        exit_potentials(st, std::min(kPhaseRoots, static_cast<int64_t>(roots.size())));
        // Vertex-disjoint tight chains from the roots to exits, tested with the search's own sums
        // (before the duals move).
        std::vector<int32_t> left, paths;  // paths: root, then (column, row moving out of it)..., -1
        for (int32_t r : roots)
            if (label_[r].h < st.p[r] && !find_path(r, st, paths)) left.push_back(r);
        // Duals: p_k -= h_k, and each row's dual follows its column.  A matched arc stays tight,
        // every reduced cost r_ik + h_m - h_k stays >= 0 (h is a shortest-path potential), no
        // price goes below 0, the chains found are tight and end at price 0.
        for (int32_t k = 0; k < g_.n_cols; ++k) {
            st.p[k] = (state_[k] & kExit) ? 0.0 : std::max(0.0, st.p[k] - label_[k].h);
            const int32_t owner = st.col_to_row[k];
            if (owner >= 0) st.u[owner] -= label_[k].h;
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

    // Dijkstra from every column at once, backwards along the moves, until n_roots of the roots
    // are popped: a popped matched column m lets each column k of its row's arcs be entered at
    // h_m + (reduced cost of the arc).  A matched column whose own price stays its least cost is
    // an exit (kExit).
    void exit_potentials(const LapState& st, int64_t n_roots) {
        // Each column's owner looked up once here, in a loop whose lookups overlap, rather than
        // one dependent load after another at each pop.
        for (int32_t k = 0; k < g_.n_cols; ++k) {
            label_[k].p = label_[k].h = st.p[k];
            const int32_t i = st.col_to_row[k];
            owner_[k] = i < 0 ? OwnerArcs{0, 0, 0.0} : OwnerArcs{g_.indptr[i], g_.indptr[i + 1], st.u[i]};
        }
        heap_.clear();
        for (int32_t k = 0; k < g_.n_cols; ++k) heap_.push(label_[k].h, k);
        const auto done = [this](int32_t k) { return (state_[k] & kDone) != 0; };
        const auto key_of = [this](int32_t k) { return label_[k].h; };
        double top = 0.0;
        int32_t m = -1;
        while (n_roots > 0 && heap_.pop(m, key_of, done)) {
            const double hm = label_[m].h;
            if (heap_.peek() >= 0) __builtin_prefetch(&owner_[heap_.peek()]);
            state_[m] |= kDone;
            top = hm;
            if (state_[m] & kRoot) --n_roots;
            const OwnerArcs own = owner_[m];
            if (own.begin == own.end) continue;
            if (hm == label_[m].p) state_[m] |= kExit;
            const double ui = own.u;
            for (int64_t a = own.begin; a < own.end; ++a) {
                if (sorted_cost_[a] >= ui - hm) break;
                // Neither m nor a popped column passes the test (nd >= hm >= its label): the
                // reduced cost is >= 0 and the pops come in order of label.
                Label& lk = label_[sorted_col_[a]];
                const double nd = hm + reduced_cost(sorted_cost_[a], lk.p, ui);
                if (nd < lk.h) {
                    lk.h = nd;
                    heap_.push(nd, sorted_col_[a]);
                }
            }
            // The next pop's arcs, while this pop's entries are placed (its owner was fetched above).
            if (heap_.peek() >= 0) {
                const OwnerArcs& next = owner_[heap_.peek()];
                __builtin_prefetch(sorted_cost_ + next.begin);
                __builtin_prefetch(sorted_col_ + next.begin);
            }
        }
        // The columns not popped are cut at the last label popped: still a potential under which
        // every reduced cost stays >= 0, and no price goes below 0.  (The first root popped has
        // its tight chain through popped columns, so a phase settles at least one.)
        for (int32_t k = 0; k < g_.n_cols; ++k)
            if (!(state_[k] & kDone)) label_[k].h = std::min(label_[k].h, top);
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
                if (label_[m].h + reduced_cost(t_.cost[t], st.p[k], st.u[i]) != label_[k].h) continue;
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
    const int32_t* sorted_col_ = nullptr;  // each row's arcs by cost (g's row pointers): g's own, or
    const double* sorted_cost_ = nullptr;  // the sorted copy below
    std::vector<int32_t> own_col_;
    std::vector<double> own_cost_;
    // Each column's price and label h (the least cost of emptying a column by a chain entering
    // it), side by side: a relaxation reads both.
    struct alignas(16) Label {
        double p, h;
    };
    std::vector<Label> label_;
    // Each column's owner row this phase: its arcs and its dual (no arcs for a free column).
    struct OwnerArcs {
        int64_t begin, end;
        double u;
    };
    std::vector<OwnerArcs> owner_;
    std::vector<uint8_t> state_;     // kExit | kVisited, this phase
    std::vector<int64_t> next_arc_;  // DFS: the next transposed arc to try
    std::vector<int32_t> stack_;
    RadixHeap heap_;
};

}  // namespace


void sort_arcs_by_cost(int32_t* cols, double* costs, int64_t n, std::vector<std::pair<double, int32_t>>& buf) {
    buf.clear();
    for (int64_t a = 0; a < n; ++a) buf.emplace_back(costs[a], cols[a]);
    std::sort(buf.begin(), buf.end());
    for (int64_t a = 0; a < n; ++a) {
        costs[a] = buf[a].first;
        cols[a] = buf[a].second;
    }
}

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
// phase computes, by one Dijkstra backwards from every column at once (initial label p_k, until
// the kPhaseRoots least-labelled stranded columns have theirs), the least cost h_k of emptying
// some column by a chain of moves into k; h is a shortest-path potential, so p_k -= h_k (with
// each row's dual following its column) keeps every reduced cost >= 0 and every price >= 0, and
// makes each column's chain tight down to an exit (a column whose own price was its least cost)
// now priced 0.  Vertex-disjoint tight chains from the stranded columns to exits, found by
// depth-first search as in Hopcroft-Karp, are then moved at once: a phase settles at least one
// column (the one of least label) and usually several.
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
    InterruptCheck check(interrupted);
    while (n_single < stranded.size() && popped * kPhaseShare <= static_cast<int64_t>(n_single) * g.n_cols) {
        const int64_t reached = search.settle(stranded[n_single++], st);
        popped += reached;
        check.tick(reached);
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

}  // namespace lightrnn
