// C++ test driver for the assignment core, meant to run under -fsanitize=address,undefined:
//   cmake -S . -B build/asan -DLIGHTRNN_CPP_TESTS=ON -DCMAKE_BUILD_TYPE=Debug
//         -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"   (one command)
//   cmake --build build/asan && ./build/asan/cpp/test_assign
// Compares both sparse algorithms and the structured mode with brute force on small cases.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <numeric>
#include <random>
#include <vector>

#include "assign/bid_batch.hpp"
#include "assign/sparse_lap.hpp"
#include "assign/structured.hpp"

using namespace lightrnn;

// A random cost of one of three kinds: many ties (0-2), a fine grid, a wide range (2^-15..2^24).
static double random_cost(std::mt19937_64& rng, int kind) {
    return kind == 0 ? double(rng() % 3) : kind == 1 ? double(rng() % 1000) / 7.0
                                                    : std::ldexp(double(rng() % 1000), int(rng() % 30) - 15);
}

// A CsrGraph with arrays of its own: the arcs of an n x m cost matrix that `keep(i, j)` keeps,
// each row's in increasing column order.
struct OwnedCsr {
    int n = 0, m = 0;
    std::vector<int64_t> ptr;
    std::vector<int32_t> idx;
    std::vector<double> cost;
    CsrGraph graph() const { return CsrGraph{n, m, ptr.data(), idx.data(), cost.data()}; }
};

template <typename Keep>
static OwnedCsr csr_of(const std::vector<double>& c, int n, int m, Keep keep) {
    OwnedCsr g;
    g.n = n;
    g.m = m;
    g.ptr.assign(n + 1, 0);
    for (int i = 0; i < n; ++i) {
        for (int j = 0; j < m; ++j)
            if (keep(i, j)) {
                g.idx.push_back(j);
                g.cost.push_back(c[i * m + j]);
            }
        g.ptr[i + 1] = static_cast<int64_t>(g.idx.size());
    }
    return g;
}

// Every arc of the matrix.
static OwnedCsr dense_csr(const std::vector<double>& c, int n, int m) {
    return csr_of(c, n, m, [](int, int) { return true; });
}

// Whether `st` is an optimum of g (cost `ref`) with a certificate that holds, both within 1e-9
// relative; prints a FAIL line naming `what` when not.
static bool optimal_and_certified(const CsrGraph& g, const LapState& st, double ref, const char* what) {
    const double tol = 1e-9 * (1 + std::abs(ref)), got = matching_cost(g, st), violation = certificate_violation(g, st);
    if (std::abs(got - ref) <= tol && violation <= tol) return true;
    std::printf("FAIL %s n=%d m=%d got=%g ref=%g violation=%g\n", what, g.n_rows, g.n_cols, got, ref, violation);
    return false;
}

// Exact optimum by dynamic programming over subsets of columns: O(n 2^m), m <= 16.
static double brute(const std::vector<double>& c, int n, int m) {
    std::vector<double> best(size_t(1) << m, INFINITY);
    best[0] = 0.0;
    double answer = INFINITY;
    for (uint32_t mask = 0; mask < (1u << m); ++mask) {
        if (best[mask] == INFINITY) continue;
        int i = __builtin_popcount(mask);
        if (i == n) { answer = std::min(answer, best[mask]); continue; }
        for (int j = 0; j < m; ++j)
            if (!(mask >> j & 1u)) best[mask | (1u << j)] = std::min(best[mask | (1u << j)], best[mask] + c[i * m + j]);
    }
    return answer;
}

// Optimum of a table problem on the full graph (every word to every cell, cost L_r + L_c) by
// exact shortest paths, checked and scaled as for outside costs: the reference solve_table must meet.
static double full_table_optimum(const std::vector<double>& Lr, const std::vector<double>& Lc, int V, int R, int C) {
    std::vector<int64_t> indptr(V + 1, 0);
    std::vector<int32_t> idx;
    std::vector<double> cost;
    for (int w = 0; w < V; ++w) {
        for (int cell = 0; cell < R * C; ++cell) {
            idx.push_back(cell);
            cost.push_back(Lr[w * R + cell / C] + Lc[w * C + cell % C]);
        }
        indptr[w + 1] = static_cast<int64_t>(idx.size());
    }
    CsrGraph g{V, R * C, indptr.data(), idx.data(), cost.data()};
    return matching_cost(g, solve_checked(g, false, nullptr));
}

// A random table: V words in distinct cells of R x C, as (rows, cols).
static void random_table(std::mt19937_64& rng, int V, int R, int C, std::vector<int32_t>& rows,
                         std::vector<int32_t>& cols) {
    std::vector<int32_t> perm(R * C);
    std::iota(perm.begin(), perm.end(), 0);
    std::shuffle(perm.begin(), perm.end(), rng);
    rows.resize(V);
    cols.resize(V);
    for (int w = 0; w < V; ++w) {
        rows[w] = perm[w] / C;
        cols[w] = perm[w] % C;
    }
}

int main() {
    std::mt19937_64 rng(42);
    int failures = 0, cases = 0;
    for (int t = 0; t < 400; ++t) {
        int n = 1 + rng() % 6, m = n + rng() % 3;
        std::vector<double> c(n * m);
        for (auto& x : c) x = (t % 2) ? double(rng() % 4) : std::ldexp(double(rng() % 1000), int(rng() % 40) - 20);
        const OwnedCsr arcs = dense_csr(c, n, m);
        const CsrGraph g = arcs.graph();
        double ref = brute(c, n, m);
        for (int method = 0; method < 2; ++method) {
            LapState st = method ? solve_auction(g, {}, nullptr) : solve_ssp(g, nullptr);
            ++cases;
            failures += !optimal_and_certified(g, st, ref, method ? "sparse auction" : "sparse ssp");
        }
    }
    // Settling free columns left with positive prices: the optimum of the rows on a random
    // subset of the columns (the others priced as low as dual feasibility allows, most above 0)
    // must settle into the optimum over all the columns, ties included.
    for (int t = 0; t < 600; ++t) {
        const int n = 2 + rng() % 10, m = n + 1 + rng() % 5;
        std::vector<double> c(n * m);
        for (auto& x : c) x = random_cost(rng, t % 3);
        std::vector<int32_t> cols(m);
        std::iota(cols.begin(), cols.end(), 0);
        std::shuffle(cols.begin(), cols.end(), rng);
        std::vector<double> c_sub(n * n);  // the rows on columns cols[0..n)
        for (int i = 0; i < n; ++i)
            for (int a = 0; a < n; ++a) c_sub[i * n + a] = c[i * m + cols[a]];
        const OwnedCsr sub_arcs = dense_csr(c_sub, n, n), arcs = dense_csr(c, n, m);
        const CsrGraph g = arcs.graph();
        const LapState part = solve_ssp(sub_arcs.graph(), nullptr);
        LapState st;
        st.row_to_col.assign(n, -1);
        st.col_to_row.assign(m, -1);
        st.u = part.u;
        st.p.assign(m, 0.0);
        for (int a = 0; a < n; ++a) {
            st.p[cols[a]] = part.p[a];
            st.row_to_col[part.col_to_row[a]] = cols[a];
            st.col_to_row[cols[a]] = part.col_to_row[a];
        }
        for (int a = n; a < m; ++a) {
            double lo = -INFINITY;
            for (int i = 0; i < n; ++i) lo = std::max(lo, st.u[i] - c[i * m + cols[a]]);
            st.p[cols[a]] = lo;
        }
        const double lowest = *std::min_element(st.p.begin(), st.p.end());
        for (double& p : st.p) p -= lowest;  // every price >= 0, reduced costs unchanged
        for (double& u : st.u) u -= lowest;
        const double ref = brute(c, n, m);
        settle_free_columns(g, st, nullptr);
        ++cases;
        failures += !optimal_and_certified(g, st, ref, "settle");
    }
    // A warm repair of a rectangular problem, as a pricing round makes it: the optimum on some of
    // the arcs, then every arc present, so rows whose new arcs undercut their match are freed and
    // the columns they leave keep (then lower) the prices their rows paid.  Must reach the optimum
    // over all the arcs, certified, ties included.
    int n_freed = 0;
    for (int t = 0; t < 600; ++t) {
        const int n = 2 + rng() % 9, m = n + 1 + rng() % 4;
        std::vector<double> c(n * m);
        for (auto& x : c) x = random_cost(rng, t % 3);
        // A third of the arcs, and arc i -> i, which keeps a perfect matching.
        const OwnedCsr sub_arcs = csr_of(c, n, m, [&](int i, int j) { return j == i || rng() % 3 == 0; });
        const OwnedCsr arcs = dense_csr(c, n, m);
        const CsrGraph g = arcs.graph();
        LapState st = solve_ssp(sub_arcs.graph(), nullptr);
        for (int i = 0; i < n; ++i)  // rows the repair will free: a new arc undercuts the match
            for (int j = 0; j < m; ++j)
                if (c[i * m + j] + st.p[j] < c[i * m + st.row_to_col[i]] + st.p[st.row_to_col[i]]) {
                    ++n_freed;
                    break;
                }
        const double ref = brute(c, n, m);
        repair_and_finish(g, st, nullptr, (t % 2) ? 0.0 : 1.1, true);  // with and without the row reduction
        ++cases;
        failures += !optimal_and_certified(g, st, ref, "warm repair");
    }
    if (n_freed < 100) {  // the cases must exercise the repair, not only confirm an optimum
        std::printf("FAIL warm repair: only %d cases freed a row\n", n_freed);
        ++failures;
    }
    for (int t = 0; t < 200; ++t) {
        int V = 1 + rng() % 8, R = 1 + rng() % 3, C = (V + R - 1) / R + rng() % 2;
        std::vector<double> Lr(V * R), Lc(V * C);
        for (auto& x : Lr) x = double(rng() % 100) / 7.0;
        for (auto& x : Lc) x = double(rng() % 100) / 7.0;
        std::vector<double> full(V * R * C);
        for (int w = 0; w < V; ++w)
            for (int i = 0; i < R; ++i)
                for (int j = 0; j < C; ++j) full[w * R * C + i * C + j] = Lr[w * R + i] + Lc[w * C + j];
        double ref = brute(full, V, R * C);
        TableOptions opt;
        opt.k = 1 + rng() % 2;
        opt.method = TableMethod(rng() % 3);
        TableResult res = solve_table<double>(Lr.data(), Lc.data(), V, R, C, nullptr, nullptr, opt, nullptr);
        ++cases;
        if (!res.certified || std::abs(res.objective - ref) > 1e-9 * (1 + ref) || std::abs(res.lower_bound - ref) > 1e-9 * (1 + ref)) {
            std::printf("FAIL table V=%d R=%d C=%d got=%g lb=%g ref=%g\n", V, R, C, res.objective, res.lower_bound, ref);
            ++failures;
        }
    }
    // Larger tables with empty cells, above the all-cells limit, warm-started from a random table
    // (k = 1: several pricing rounds; cells vacated in warm rounds: the rectangular repair's
    // reverse search), against shortest paths on the full V x R*C matrix.
    for (int t = 0; t < 4; ++t) {
        const int R = 18, C = 18, V = 300 + 7 * t;  // 24, 17, 10, 3 empty cells
        std::vector<double> Lr(V * R), Lc(V * C);
        for (int w = 0; w < V; ++w) {
            const double scale = std::ldexp(1.0, int(rng() % 20) - 10);  // rare and frequent words
            for (int i = 0; i < R; ++i) Lr[w * R + i] = scale * double(rng() % 1000) / 7.0;
            for (int j = 0; j < C; ++j) Lc[w * C + j] = scale * double(rng() % 1000) / 7.0;
        }
        std::vector<int32_t> cur_rows, cur_cols;
        random_table(rng, V, R, C, cur_rows, cur_cols);
        const double ref = full_table_optimum(Lr, Lc, V, R, C);
        TableOptions opt;
        opt.k = 1;
        TableResult res = solve_table<double>(Lr.data(), Lc.data(), V, R, C, cur_rows.data(), cur_cols.data(), opt, nullptr);
        ++cases;
        if (!res.certified || res.pricing_rounds < 2 || std::abs(res.objective - ref) > 1e-9 * (1 + ref)) {
            std::printf("FAIL empty-cell table V=%d got=%g ref=%g rounds=%d\n", V, res.objective, ref, res.pricing_rounds);
            ++failures;
        }
    }
    // Lazy rounds (lazy_min_words lowered to these sizes): early-training losses (rows ranked
    // alike by count x a shared marginal, columns the word's own), one table full and one with
    // empty cells, warm and cold; rounds that leave rows free, or bid eps above exact (the
    // default eps, none, and two far too large), must end at the optimum.  The second 16 cases
    // start with the auction, which then stops at the lazy rounds' scale of eps (crowded
    // candidates, as early-training losses make them).
    {
        int lazy_rounds = 0, coarse_auctions = 0;
        for (int t = 0; t < 32; ++t) {
            const int R = 24, C = 24, V = t % 4 < 2 ? R * C : R * C - 9;
            std::vector<double> Lr(V * R), Lc(V * C), marginal(R);
            std::uniform_real_distribution<double> unif(0.0, 1.0);
            std::normal_distribution<double> normal(0.0, 3.0);
            for (auto& x : marginal) x = 2.0 * unif(rng);
            for (int w = 0; w < V; ++w) {
                const double count = std::max(1.0, std::floor(1e4 / (w + 1)));
                for (int i = 0; i < R; ++i) Lr[w * R + i] = count * (marginal[i] + 1e-3 * unif(rng));
                std::vector<double> z(C);
                double lse = 0.0;
                for (auto& x : z) lse += std::exp(x = normal(rng));
                for (int j = 0; j < C; ++j) Lc[w * C + j] = count * (std::log(lse) - z[j]);
            }
            std::vector<int32_t> cur_rows, cur_cols;
            random_table(rng, V, R, C, cur_rows, cur_cols);
            const double ref = full_table_optimum(Lr, Lc, V, R, C);
            TableOptions opt;
            opt.lazy_min_words = 0;
            opt.lazy_eps = t % 16 < 4 ? 3e-4 : t % 16 < 8 ? 0.0 : t % 16 < 12 ? 0.3 : 30.0;
            if (t >= 16) opt.method = TableMethod::Auction;
            const bool warm = t % 2;
            TableResult res = solve_table<double>(Lr.data(), Lc.data(), V, R, C, warm ? cur_rows.data() : nullptr,
                                                  warm ? cur_cols.data() : nullptr, opt, nullptr);
            ++cases;
            lazy_rounds += res.lazy_rounds;
            coarse_auctions += t >= 16 && !warm && res.greedy_seeded && opt.lazy_eps > 0.0;
            if (!res.certified || std::abs(res.objective - ref) > 1e-9 * (1 + ref)) {
                std::printf("FAIL lazy rounds V=%d eps=%g got=%.17g ref=%.17g lazy=%d\n", V, opt.lazy_eps, res.objective,
                            ref, res.lazy_rounds);
                ++failures;
            }
        }
        ++cases;
        if (lazy_rounds == 0 || coarse_auctions == 0) {
            std::printf("FAIL lazy rounds: %d lazy rounds, %d coarse first auctions\n", lazy_rounds, coarse_auctions);
            ++failures;
        }
    }
    // Bids in batches with many rows free at once (a batch is 256 rows, split over the threads):
    // the auction, square and rectangular, and the row reduction of a warm start that frees half
    // the rows and halves the prices, against shortest paths; at 1, 2 and 3 threads the same
    // state bit for bit.
    {
        const int n = 3000, m = 3100;
        std::vector<double> c(static_cast<size_t>(n) * m);
        for (auto& x : c) x = random_cost(rng, 1);
        auto sparse = [](int i, int j) { return (i * 31 + j * 17) % 11 < 2 || j == i; };
        for (int square = 0; square < 2; ++square) {
            const OwnedCsr g = csr_of(c, n, square ? n : m, sparse);
            const LapState ref = solve_ssp(g.graph(), nullptr);
            const double ref_cost = matching_cost(g.graph(), ref);
            // Optimal and certified; at more than one thread, the same state as at one.
            auto check = [&](const LapState& st, LapState& at_one, int threads, const char* what) {
                ++cases;
                if (!optimal_and_certified(g.graph(), st, ref_cost, what)) ++failures;
                if (threads == 1) {
                    at_one = st;
                } else if (st.row_to_col != at_one.row_to_col || st.p != at_one.p || st.u != at_one.u ||
                           st.auction_bids != at_one.auction_bids) {
                    std::printf("FAIL %s square=%d: threads=%d differs from threads=1\n", what, square, threads);
                    ++failures;
                }
            };
            LapState auction1, repair1;
            for (int threads = 1; threads <= 3; ++threads) {
                check(solve_auction(g.graph(), {}, nullptr, kAuctionScaleFactor, nullptr, nullptr, true, threads),
                      auction1, threads, "batched auction");
                LapState st = ref;
                for (int i = 0; i < n; i += 2) {
                    st.col_to_row[st.row_to_col[i]] = -1;
                    st.row_to_col[i] = -1;
                }
                for (double& pj : st.p) pj *= 0.5;
                repair_and_finish(g.graph(), st, nullptr, 0.0, true, -1, threads);
                check(st, repair1, threads, "batched row reduction");
            }
        }
    }
    // A row's two least values (best_two, buffered and in SSE2 passes) against the plain pass
    // that keeps the best two so far: the same columns and the same doubles, with ties, repeated
    // columns, rows of 0 to 600 arcs (past the buffer) and all three kinds of cost.
    for (int t = 0; t < 3000; ++t) {
        const int len = t < 2400 ? int(rng() % 40) : int(rng() % 601), n_cols = 1 + int(rng() % 64);
        std::vector<int64_t> ptr{0, len};
        std::vector<int32_t> idx(len);
        std::vector<double> cost(len), price(n_cols);
        for (auto& j : idx) j = int32_t(rng() % n_cols);
        for (auto& x : cost) x = random_cost(rng, t % 3);
        for (auto& x : price) x = random_cost(rng, (t / 3) % 3);
        const CsrGraph g{1, n_cols, ptr.data(), idx.data(), cost.data()};
        RowBid ref;
        ref.v1 = ref.v2 = std::numeric_limits<double>::infinity();
        for (int a = 0; a < len; ++a) {
            const double v = cost[a] + price[idx[a]];
            if (v < ref.v1 || (v == ref.v1 && idx[a] < ref.j1)) {
                ref.v2 = ref.v1;
                ref.j2 = ref.j1;
                ref.v1 = v;
                ref.j1 = idx[a];
            } else if (v < ref.v2 || (v == ref.v2 && idx[a] < ref.j2)) {
                ref.v2 = v;
                ref.j2 = idx[a];
            }
        }
        const RowBid got = best_two(g, price.data(), 0);
        ++cases;
        if (got.j1 != ref.j1 || got.j2 != ref.j2 || got.v1 != ref.v1 || got.v2 != ref.v2) {
            std::printf("FAIL best_two (%d arcs): (%d, %g), (%d, %g) against (%d, %g), (%d, %g)\n", len, got.j1,
                        got.v1, got.j2, got.v2, ref.j1, ref.v1, ref.j2, ref.v2);
            ++failures;
        }
    }
    // Huge dynamic range, overflow-ish inputs and warm starts: the certificate is never above the
    // optimum (exact shortest paths on the full matrix), a certified table is optimal, inputs
    // that cannot be handled are refused with std::invalid_argument (never a crash).
    const double kMax = std::numeric_limits<double>::max();
    for (int t = 0; t < 48; ++t) {
        const int R = 2 + rng() % 9, C = 2 + rng() % 9, V = std::max(1, int(R * C - rng() % 4));
        std::vector<double> Lr(V * R), Lc(V * C);
        std::uniform_real_distribution<double> unif(0.0, 1.0);
        for (auto& x : Lr) x = unif(rng);
        for (auto& x : Lc) x = unif(rng);
        const int kind = t % 6;
        if (kind == 0) Lr[rng() % Lr.size()] = 1e17;                  // one outlier
        if (kind == 1) Lr[rng() % Lr.size()] = 1e300;                 // one outlier at the top of the range
        if (kind == 2) for (auto& x : Lc) x *= 1e-300;                // tiny column costs
        if (kind == 3) {  // a huge word: solved scaled by a power of two
            const int w0 = rng() % V;
            for (int i = 0; i < R; ++i) Lr[w0 * R + i] = kMax / 4 * (1.0 - 0.1 * unif(rng));
        }
        if (kind == 4) for (int w = 0; w < V; ++w) Lc[w * C + 1] = 1e15 * (1 + w % 3);  // an outlying column
        if (kind == 5) {  // near-degenerate: count x shared marginal + small deviations
            std::vector<double> mr(R), mc(C);
            for (auto& x : mr) x = unif(rng);
            for (auto& x : mc) x = unif(rng);
            for (int w = 0; w < V; ++w) {
                const double count = std::max(1.0, std::floor(1e4 / (w + 1)));
                for (int i = 0; i < R; ++i) Lr[w * R + i] = count * (mr[i] + 1e-3 * unif(rng));
                for (int j = 0; j < C; ++j) Lc[w * C + j] = count * (mc[j] + 1e-3 * unif(rng));
            }
        }
        std::vector<int32_t> cur_rows, cur_cols;
        random_table(rng, V, R, C, cur_rows, cur_cols);
        const double ref = full_table_optimum(Lr, Lc, V, R, C);
        for (int warm = 0; warm < 2; ++warm) {
            TableOptions opt;
            opt.k = 1 + rng() % 2;
            opt.method = TableMethod(rng() % 3);
            TableResult res = solve_table<double>(Lr.data(), Lc.data(), V, R, C, warm ? cur_rows.data() : nullptr,
                                                  warm ? cur_cols.data() : nullptr, opt, nullptr);
            ++cases;
            double abs_terms = 0.0;
            for (int w = 0; w < V; ++w) abs_terms += std::abs(Lr[w * R + res.rows[w]]) + std::abs(Lc[w * C + res.cols[w]]);
            const double slack = 1e-12 * abs_terms;  // the reference's own rounding
            if (res.lower_bound > ref + slack || (res.certified && res.objective > ref + 1e-9 * abs_terms + slack) ||
                !res.certified) {
                std::printf("FAIL range kind=%d warm=%d V=%d R=%d C=%d got=%.17g lb=%.17g ref=%.17g cert=%d\n", kind, warm, V,
                            R, C, res.objective, res.lower_bound, ref, int(res.certified));
                ++failures;
            }
        }
    }
    {
        // Refused, not crashed on: sums that overflow, non-finite costs, bad options; float32 at
        // the top of its range is solved.
        const int V = 12, R = 4, C = 4;
        std::vector<double> Lr(V * R, 1e308), Lc(V * C, 1e308);
        auto refused = [&](const std::vector<double>& a, const std::vector<double>& b, TableOptions opt,
                           const int32_t* cr = nullptr, const int32_t* cc = nullptr) {
            try {
                solve_table<double>(a.data(), b.data(), V, R, C, cr, cc, opt, nullptr);
            } catch (const std::invalid_argument&) {
                return true;
            }
            return false;
        };
        std::vector<double> ok_r(V * R, 0.5), ok_c(V * C, 0.25), nan_r(ok_r);
        nan_r[5] = std::nan("");
        TableOptions bad_rounds, bad_threads, bad_tol;
        bad_rounds.max_rounds = 0;
        bad_threads.threads = -1;
        bad_tol.rel_tol = std::nan("");
        std::vector<int32_t> out_rows(V, 0), out_cols(V, 0);
        out_rows[3] = R;  // outside the table
        const bool all = refused(Lr, Lc, {}) && refused(nan_r, ok_c, {}) && refused(ok_r, ok_c, bad_rounds) &&
                         refused(ok_r, ok_c, bad_threads) && refused(ok_r, ok_c, bad_tol) &&
                         refused(ok_r, ok_c, {}, out_rows.data(), out_cols.data());
        ++cases;
        if (!all) { std::printf("FAIL bad input not refused\n"); ++failures; }
        std::vector<float> fr(V * R), fc(V * C);
        for (size_t a = 0; a < fr.size(); ++a) fr[a] = (a % 5 == 0) ? 3e38f : float(rng() % 100);
        for (size_t a = 0; a < fc.size(); ++a) fc[a] = float(rng() % 100) * 1e-30f;
        TableResult res = solve_table<float>(fr.data(), fc.data(), V, R, C, nullptr, nullptr, TableOptions{}, nullptr);
        ++cases;
        if (!std::isfinite(res.objective) || !std::isfinite(res.lower_bound) || res.lower_bound > res.objective) {
            std::printf("FAIL float32 extremes obj=%g lb=%g\n", res.objective, res.lower_bound);
            ++failures;
        }
        // Sparse: costs near the largest double are solved scaled; a sum that overflows is refused.
        std::vector<int64_t> ip{0, 2, 4};
        std::vector<int32_t> ix{0, 1, 0, 1};
        std::vector<double> cs{kMax / 2, 1.0, 1.0, kMax / 2};
        CsrGraph g{2, 2, ip.data(), ix.data(), cs.data()};
        LapState st = solve_checked(g, true, nullptr);
        std::vector<double> cs2{kMax, kMax, kMax, kMax};
        CsrGraph g2{2, 2, ip.data(), ix.data(), cs2.data()};
        bool threw2 = false;
        try { solve_checked(g2, false, nullptr); } catch (const std::invalid_argument&) { threw2 = true; }
        ++cases;
        if (st.row_to_col[0] != 1 || st.row_to_col[1] != 0 || !threw2) {
            std::printf("FAIL sparse extremes\n");
            ++failures;
        }
    }
    // Infeasible input is reported, not crashed on.
    std::vector<int64_t> ip{0, 1, 2};
    std::vector<int32_t> ix{0, 0};
    std::vector<double> cs{1.0, 2.0};
    CsrGraph g{2, 2, ip.data(), ix.data(), cs.data()};
    bool threw = false;
    try { solve_ssp(g, nullptr); } catch (const Infeasible&) { threw = true; }
    ++cases;
    if (!threw) { std::printf("FAIL infeasible not reported\n"); ++failures; }
    std::printf("%d passed, %d failed\n", cases - failures, failures);
    return failures ? 1 : 0;
}
