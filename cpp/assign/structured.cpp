// Structured LightRNN assignment by column generation; see structured.hpp.  The steps live in
// table_candidates.hpp (1), table_solver.hpp (2 and 4, the rounds) and table_pricing.hpp (3);
// this file checks the options, sets aside the words of flat costs and scales outlying costs.
#include "structured.hpp"

#include "table_solver.hpp"

namespace lightrnn {

using table_detail::certify;
using table_detail::check_costs;
using table_detail::CompensatedSum;
using table_detail::kCertRelTol;
using table_detail::kInf;
using table_detail::kUnit;
using table_detail::NeedsScaling;
using table_detail::table_cost;
using table_detail::TableSolver;

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
// they go; solve_table sets them aside when they are at least an eighth of the words.  The
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
    if (!(opt.lazy_eps >= 0.0) || !std::isfinite(opt.lazy_eps))
        throw std::invalid_argument("lazy_eps must be finite and >= 0, got " + std::to_string(opt.lazy_eps));
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
    // three quarters of the words at 200,000 and a 5% pass, a fifth at PTB after the default
    // workflow's 1/8-epoch rounds), not for a handful (the 5 of 435,094 words a full pass missed
    // would copy 4.6 GB), nor for a few percent, which are priced like any other word faster
    // (figures in docs/NOTES.md, "Empty cells").
    if (n_flat > 0 && n_flat * 8 >= V)
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
