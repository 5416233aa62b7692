// Helpers shared by the sparse solvers (sparse_lap.cpp, sparse_settle.cpp, sparse_auction.cpp).
// Internal: included by those files only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <queue>
#include <string>
#include <utility>

#include "sparse_lap.hpp"

namespace lightrnn {
namespace lap_detail {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr int kCheckEvery = 1024;

// The caller's interrupt (Ctrl-C, a time budget), asked every kCheckEvery searches or bids, or
// once their work (rows read: one a scanned column or a bid) passes kCheckWork since the last
// check: at large vocabularies a warm round's searches read thousands of rows each, and 1,024 of
// them ran for seconds past a time budget.
class InterruptCheck {
public:
    explicit InterruptCheck(const InterruptFn& interrupted) : interrupted_(interrupted) {}
    void tick(int64_t rows_read) {
        work_ += rows_read;
        if (++count_ % kCheckEvery != 0 && work_ < kCheckWork) return;
        work_ = 0;
        if (interrupted_ && interrupted_()) throw Interrupted("interrupted");
    }

private:
    static constexpr int64_t kCheckWork = int64_t{1} << 18;
    const InterruptFn& interrupted_;
    int64_t count_ = 0, work_ = 0;
};

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


inline void check_shape(const CsrGraph& g) {
    if (g.n_rows < 0 || g.n_cols < 0) throw std::invalid_argument("negative problem size");
    if (g.n_rows > g.n_cols) throw Infeasible("more rows than columns: cost matrix is infeasible");
}

// Nothing matched, all duals and prices 0.
inline LapState empty_state(const CsrGraph& g) {
    LapState st;
    st.row_to_col.assign(g.n_rows, -1);
    st.col_to_row.assign(g.n_cols, -1);
    st.u.assign(g.n_rows, 0.0);
    st.p.assign(g.n_cols, 0.0);
    return st;
}

}  // namespace lap_detail

// The sparse solvers' files use these unqualified.
using lap_detail::check_shape;
using lap_detail::empty_state;
using lap_detail::HeapItem;
using lap_detail::InterruptCheck;
using lap_detail::kInf;
using lap_detail::reduced_cost;

}  // namespace lightrnn
