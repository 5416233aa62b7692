// C++ test driver for the assignment core, meant to run under -fsanitize=address,undefined:
//   cmake -S . -B build/asan -DLIGHTRNN_CPP_TESTS=ON -DCMAKE_BUILD_TYPE=Debug \
//         -DCMAKE_CXX_FLAGS="-fsanitize=address,undefined -fno-omit-frame-pointer"
//   cmake --build build/asan && ./build/asan/cpp/test_assign
// Compares both sparse algorithms and the structured mode with brute force on small cases.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include "assign/sparse_lap.hpp"
#include "assign/structured.hpp"

using namespace lightrnn;

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

int main() {
    std::mt19937_64 rng(42);
    int failures = 0, cases = 0;
    for (int t = 0; t < 400; ++t) {
        int n = 1 + rng() % 6, m = n + rng() % 3;
        std::vector<double> c(n * m);
        std::vector<int64_t> indptr(n + 1);
        std::vector<int32_t> idx;
        std::vector<double> cost;
        for (int i = 0; i < n; ++i) {
            for (int j = 0; j < m; ++j) {
                c[i * m + j] = (t % 2) ? double(rng() % 4) : std::ldexp(double(rng() % 1000), int(rng() % 40) - 20);
                idx.push_back(j);
                cost.push_back(c[i * m + j]);
            }
            indptr[i + 1] = idx.size();
        }
        CsrGraph g{n, m, indptr.data(), idx.data(), cost.data()};
        double ref = brute(c, n, m);
        for (int method = 0; method < 2; ++method) {
            LapState st = method ? solve_auction(g, {}, nullptr) : solve_ssp(g, nullptr);
            double got = matching_cost(g, st);
            ++cases;
            if (std::abs(got - ref) > 1e-9 * (1 + std::abs(ref)) || certificate_violation(g, st) > 1e-9 * (1 + std::abs(ref))) {
                std::printf("FAIL sparse n=%d m=%d method=%d got=%g ref=%g\n", n, m, method, got, ref);
                ++failures;
            }
        }
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
        std::vector<int32_t> perm(R * C), cur_rows(V), cur_cols(V);
        std::iota(perm.begin(), perm.end(), 0);
        std::shuffle(perm.begin(), perm.end(), rng);
        for (int w = 0; w < V; ++w) {
            cur_rows[w] = perm[w] / C;
            cur_cols[w] = perm[w] % C;
        }
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
        const double ref = matching_cost(g, solve_ssp(g, nullptr));
        TableOptions opt;
        opt.k = 1;
        TableResult res = solve_table<double>(Lr.data(), Lc.data(), V, R, C, cur_rows.data(), cur_cols.data(), opt, nullptr);
        ++cases;
        if (!res.certified || res.pricing_rounds < 2 || std::abs(res.objective - ref) > 1e-9 * (1 + ref)) {
            std::printf("FAIL empty-cell table V=%d got=%g ref=%g rounds=%d\n", V, res.objective, ref, res.pricing_rounds);
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
